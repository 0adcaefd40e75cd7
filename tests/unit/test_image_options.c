/* Unit tests: the `rsharectl image` command line — defaults per level,
 * both option spellings, sizes with suffixes, and a clear refusal of every
 * malformed or contradictory line. */
#include "config.h"

#include "testutil.h"

#include <check.h>
#include <string.h>

#include "../../examples/image_options.h"

/* A command line split at spaces (no quoting needed in these tests); the
 * parsed options point into it, so it lives as long as they do. */
struct line {
    char text[1024];
    char *argv[80];
    int argc;
};

static int parse_line(struct image_options *o, struct line *l, const char *text, char *err,
                      size_t err_len)
{
    ck_assert_uint_lt(strlen(text), sizeof(l->text));
    strcpy(l->text, text);
    l->argc = 0;
    char *save = NULL;
    for (char *tok = strtok_r(l->text, " ", &save); tok && l->argc < 80;
         tok = strtok_r(NULL, " ", &save))
        l->argv[l->argc++] = tok;
    return image_options_parse(o, l->argc, l->argv, err, err_len);
}

#define parse(o, text, err, err_len) parse_line((o), &line_store, (text), (err), (err_len))

START_TEST(test_defaults)
{
    struct line line_store;
    struct image_options o;
    char err[256];
    ck_assert_int_eq(parse(&o, "write --layout raid5 a b missing d", err, sizeof(err)), 0);
    ck_assert_int_eq(o.command, IMAGE_WRITE);
    ck_assert_int_eq(o.layout.level, RS_LAYOUT_RAID5);
    ck_assert_uint_eq(o.layout.chunk_sectors, 128); /* 64 KiB */
    ck_assert_uint_eq(o.layout.algorithm, RS_RAID5_LEFT_SYMMETRIC);
    ck_assert_uint_eq(o.layout.member_count, 4);
    ck_assert_str_eq(o.members[0], "a");
    ck_assert_ptr_null(o.members[2]);
    ck_assert_str_eq(o.members[3], "d");
    ck_assert(!o.member_size_given);

    ck_assert_int_eq(parse(&o, "read --layout raid1 a b", err, sizeof(err)), 0);
    ck_assert_uint_eq(o.layout.chunk_sectors, 0); /* mirrors have no chunk */
    ck_assert_uint_eq(o.layout.algorithm, 0);
    ck_assert_int_eq(parse(&o, "read --layout raid10 a b c", err, sizeof(err)), 0);
    ck_assert_uint_eq(o.layout.copies, 2);
    ck_assert_int_eq(parse(&o, "read --layout linear a", err, sizeof(err)), 0);
    ck_assert_uint_eq(o.layout.chunk_sectors, 128); /* md's rounding for --build */
}
END_TEST

START_TEST(test_explicit_options)
{
    struct line line_store;
    struct image_options o;
    char err[256];
    ck_assert_int_eq(parse(&o,
                           "map --layout=raid5 --chunk 512K --algorithm=left-asymmetric "
                           "--member-size 200M 1000000 a b c",
                           err, sizeof(err)),
                     0);
    ck_assert_int_eq(o.command, IMAGE_MAP);
    ck_assert_uint_eq(o.sector, 1000000);
    ck_assert_uint_eq(o.layout.chunk_sectors, 1024);
    ck_assert_uint_eq(o.layout.algorithm, RS_RAID5_LEFT_ASYMMETRIC);
    ck_assert(o.member_size_given);
    for (int i = 0; i < 3; i++)
        ck_assert_uint_eq(o.member_bytes[i], 200u << 20);
    ck_assert_int_eq(parse(&o, "read --layout raid0 --zones original --member-size 1M,2M,3m a b c",
                           err, sizeof(err)),
                     0);
    ck_assert_uint_eq(o.layout.raid0_zones, RS_RAID0_ZONES_ORIGINAL);
    ck_assert_uint_eq(o.member_bytes[1], 2u << 20);
    ck_assert_uint_eq(o.member_bytes[2], 3u << 20);
    ck_assert_int_eq(parse(&o, "check --layout raid10 --copies 3 a b c", err, sizeof(err)), 0);
    ck_assert_uint_eq(o.layout.copies, 3);
    /* After --, a member may start with a dash. */
    ck_assert_int_eq(parse(&o, "read --layout raid1 -- -a b", err, sizeof(err)), 0);
    ck_assert_str_eq(o.members[0], "-a");
    ck_assert_int_eq(parse(&o, "write --help", err, sizeof(err)), 0);
    ck_assert(o.help);
    ck_assert_int_eq(parse(&o, "--help", err, sizeof(err)), 0);
    ck_assert(o.help);
}
END_TEST

START_TEST(test_refusals)
{
    struct line line_store;
    static const struct {
        const char *line;
        const char *message; /* a piece of the expected message */
    } cases[] = {
        {"", "missing command"},
        {"erase --layout raid5 a b", "unknown command"},
        {"read a b", "--layout is required"},
        {"read --layout raid6 a b", "unknown layout"},
        {"read --layout raid5", "no member"},
        {"read --layout raid5 a", "at least 2 members"},
        {"read --layout raid5 --chunk 3K a b c", "bad chunk size"},
        {"read --layout raid5 --chunk 2K a b c", "bad chunk size"},
        {"read --layout raid5 --chunk 2G a b c", "bad chunk size"},
        {"read --layout raid5 --chunk 64X a b c", "bad chunk size"},
        {"read --layout raid5 --chunk -64K a b c", "bad chunk size"},
        {"read --layout raid5 --chunk", "needs a value"},
        {"read --layout raid5 --algorithm left a b c", "unknown algorithm"},
        {"read --layout raid0 --algorithm left-symmetric a b", "raid5 only"},
        {"read --layout raid5 --zones original a b c", "raid0 only"},
        {"read --layout raid0 --zones sideways a b", "unknown zone placement"},
        {"read --layout raid5 --copies 2 a b c", "raid10 only"},
        {"read --layout raid10 --copies 3 a b", "at least 3 members"},
        {"read --layout raid10 --copies 0 a b", "bad number of copies"},
        {"read --layout raid1 --chunk 64K a b", "does not apply to raid1"},
        {"read --layout raid1 --member-size 1M,1M,1M a b", "3 sizes for 2 members"},
        {"read --layout raid1 --member-size 1000 a b", "multiple of 512"},
        {"read --layout raid1 --member-size 0 a b", "positive multiple"},
        {"read --layout raid1 --member-size 1M,,1M a b c", "bad member size list"},
        {"read --layout raid1 --member-size 1M --member-size 1M a", "given twice"},
        {"check --layout raid0 a b", "redundant layout"},
        {"check --layout linear a b", "redundant layout"},
        {"map --layout raid5 a b c", "bad sector"},
        {"map --layout raid5", "needs a logical sector"},
        {"map --layout raid5 99999999999999999999 a b c", "bad sector"},
        {"map --layout raid5 12a a b c", "bad sector"},
        {"read --layout raid5 --frobnicate a b c", "unknown option"},
        {"read --layout raid5 -x a b c", "unknown option"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct image_options o;
        char err[256];
        ck_assert_msg(parse(&o, cases[i].line, err, sizeof(err)) == -1, "accepted: %s",
                      cases[i].line);
        ck_assert_msg(strstr(err, cases[i].message), "'%s': message '%s' lacks '%s'", cases[i].line,
                      err, cases[i].message);
    }
    /* 65 members. */
    char line[1024] = "read --layout raid1";
    for (int i = 0; i < 65; i++)
        strcat(line, " m");
    struct image_options o;
    char err[256];
    ck_assert_int_eq(parse(&o, line, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "too many members"));
    /* A message that does not fit is cut, not overflowed. */
    char tiny[8];
    ck_assert_int_eq(parse(&o, "read --layout raid6 a", tiny, sizeof(tiny)), -1);
    ck_assert_uint_eq(strlen(tiny), sizeof(tiny) - 1);
}
END_TEST

START_TEST(test_sizes)
{
    static const struct {
        const char *text;
        int ok;
        uint64_t bytes;
    } cases[] = {
        {"0", 1, 0},
        {"512", 1, 512},
        {"64K", 1, 65536},
        {"64k", 1, 65536},
        {"1M", 1, 1048576},
        {"3G", 1, UINT64_C(3) << 30},
        {"16T", 1, UINT64_C(16) << 40},
        {"16777215T", 1, UINT64_C(16777215) << 40},
        {"16777216T", 0, 0}, /* 2^64 */
        {"18446744073709551615", 1, UINT64_MAX},
        {"18446744073709551616", 0, 0},
        {"99999999999999999999999", 0, 0},
        {"", 0, 0},
        {"K", 0, 0},
        {"1KB", 0, 0},
        {"1.5M", 0, 0},
        {" 1", 0, 0},
        {"+1", 0, 0},
        {"-1", 0, 0},
        {"1P", 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t bytes = 12345;
        int rc = image_parse_size(cases[i].text, &bytes);
        ck_assert_msg(rc == (cases[i].ok ? 0 : -1), "'%s': %d", cases[i].text, rc);
        if (cases[i].ok)
            ck_assert_uint_eq(bytes, cases[i].bytes);
    }
    uint64_t bytes;
    ck_assert_int_eq(image_parse_size(NULL, &bytes), -1);
    ck_assert_int_eq(image_parse_size("1", NULL), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("image_options");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_explicit_options);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_sizes);
    suite_add_tcase(s, tc);
    return rs_test_run(s);
}
