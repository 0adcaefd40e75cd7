/* rsharectl — parsing `rsharectl image` arguments into a layout description
 * and a member list.  Every error names the argument at fault; nothing here
 * touches a file. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "image_options.h"

/* What was given explicitly: defaults depend on the level, and an option
 * that the level does not use is an error rather than silently ignored. */
struct given {
    bool chunk, algorithm, zones, copies;
    uint32_t sizes; /* values in --member-size */
};

static int parse_option(struct image_options *o, struct given *g, const char *name,
                        const char *value, char *err, size_t err_len);
static int parse_member_sizes(struct image_options *o, struct given *g, const char *value,
                              char *err, size_t err_len);
static int parse_decimal(const char *text, uint64_t *value);
static int finish(struct image_options *o, const struct given *g, char *err, size_t err_len);
static int fail(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static const char usage_text[] =
    "usage: rsharectl image COMMAND [OPTIONS] [SECTOR] MEMBER...\n"
    "\n"
    "Works on the member images of a volume without a cluster: raw files or\n"
    "block devices laid out as Linux md lays out its members at data offset 0\n"
    "(as `mdadm --build` would).\n"
    "\n"
    "commands:\n"
    "  write        write the logical data read from stdin to the members\n"
    "  read         write the volume's logical data to stdout\n"
    "  check        print the number of inconsistent stripes (raid1, raid5, raid10)\n"
    "  map SECTOR   print the member and member sector holding logical SECTOR\n"
    "               (512-byte sectors), then where its parity or copies are\n"
    "\n"
    "MEMBER is a file or block device, in member order, or \"missing\" for a lost\n"
    "member: read and write then go on from parity (raid5) or another copy\n"
    "(raid1, raid10).  write changes the first N bytes of the volume, N being the\n"
    "length of its input, and keeps parity and copies consistent.\n"
    "\n"
    "options:\n"
    "  --layout linear|raid0|raid1|raid5|raid10     (required)\n"
    "  --chunk SIZE      chunk size, a power of two from 4K to 1G (default 64K);\n"
    "                    linear: member sizes are rounded down to it; not raid1\n"
    "  --algorithm NAME  raid5: left-symmetric (default), left-asymmetric,\n"
    "                    right-symmetric, right-asymmetric, parity-first, parity-last\n"
    "  --zones original|alternate\n"
    "                    raid0 whose members differ in size: md's placement of the\n"
    "                    second and later zones before Linux 3.14 (original) or\n"
    "                    since (alternate); required when it matters\n"
    "  --copies N        raid10: copies of each chunk (default 2)\n"
    "  --member-size SIZE[,SIZE...]\n"
    "                    member sizes instead of the files' sizes, one for all or\n"
    "                    one per member; write creates or extends the files\n"
    "  -h, --help        this text\n"
    "\n"
    "SIZE is a byte count with an optional K, M, G or T suffix (K = 1024).  A\n"
    "stripe is a row of chunks across the members (raid5), a chunk and its copies\n"
    "(raid10), or 64 KiB of every mirror (raid1).\n"
    "\n"
    "exit codes:\n"
    "  0  success; check: every stripe consistent\n"
    "  1  check: inconsistent stripes found (their number is printed)\n"
    "  2  bad command line\n"
    "  3  the members do not make the volume asked for (sizes, members missing\n"
    "     beyond what the layout survives), or input or a sector outside the volume\n"
    "  4  I/O error on a member, stdin or stdout, or out of memory\n";

const char *image_usage(void)
{
    return usage_text;
}

int image_options_parse(struct image_options *o, int argc, char *const *argv, char *err,
                        size_t err_len)
{
    memset(o, 0, sizeof(*o));
    if (err_len)
        err[0] = '\0';
    if (argc < 1 || !argv || !argv[0])
        return fail(err, err_len, "missing command: write, read, check or map");
    static const struct {
        const char *name;
        enum image_command command;
    } commands[] = {
        {"write", IMAGE_WRITE}, {"read", IMAGE_READ}, {"check", IMAGE_CHECK}, {"map", IMAGE_MAP}};
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[0], commands[i].name) == 0)
            o->command = commands[i].command;
    if (strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "--help") == 0) {
        o->help = true;
        return 0;
    }
    if (!o->command)
        return fail(err, err_len, "unknown command '%s': write, read, check or map", argv[0]);

    struct given g = {0};
    bool positional_only = false, sector_seen = false;
    uint32_t members = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!arg)
            return fail(err, err_len, "missing argument");
        if (!positional_only && strcmp(arg, "--") == 0) {
            positional_only = true;
            continue;
        }
        if (!positional_only && (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0)) {
            o->help = true;
            return 0;
        }
        if (!positional_only && arg[0] == '-' && arg[1] != '\0') {
            /* --name=value or --name value */
            char name[32];
            const char *eq = strchr(arg, '='), *value;
            size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
            if (arg[1] != '-' || len >= sizeof(name))
                return fail(err, err_len, "unknown option '%s'", arg);
            memcpy(name, arg, len);
            name[len] = '\0';
            if (eq) {
                value = eq + 1;
            } else {
                if (i + 1 >= argc || !argv[i + 1])
                    return fail(err, err_len, "option %s needs a value", name);
                value = argv[++i];
            }
            if (parse_option(o, &g, name, value, err, err_len) < 0)
                return -1;
            continue;
        }
        if (o->command == IMAGE_MAP && !sector_seen) {
            if (parse_decimal(arg, &o->sector) < 0)
                return fail(err, err_len, "bad sector '%s': a decimal sector number", arg);
            sector_seen = true;
            continue;
        }
        if (members == RS_LAYOUT_MAX_MEMBERS)
            return fail(err, err_len, "too many members: at most %d", RS_LAYOUT_MAX_MEMBERS);
        if (arg[0] == '\0')
            return fail(err, err_len, "empty member name");
        o->members[members++] = strcmp(arg, "missing") == 0 ? NULL : arg;
    }
    if (o->command == IMAGE_MAP && !sector_seen)
        return fail(err, err_len, "map needs a logical sector");
    o->layout.member_count = members;
    return finish(o, &g, err, err_len);
}

int image_parse_size(const char *text, uint64_t *bytes)
{
    if (!text || !bytes || text[0] < '0' || text[0] > '9')
        return -1;
    uint64_t value = 0;
    const char *p = text;
    for (; *p >= '0' && *p <= '9'; p++) {
        uint64_t digit = (uint64_t)(*p - '0');
        if (value > (UINT64_MAX - digit) / 10)
            return -1;
        value = value * 10 + digit;
    }
    unsigned shift = 0;
    switch (*p) {
    case '\0':
        break;
    case 'k':
    case 'K':
        shift = 10;
        break;
    case 'm':
    case 'M':
        shift = 20;
        break;
    case 'g':
    case 'G':
        shift = 30;
        break;
    case 't':
    case 'T':
        shift = 40;
        break;
    default:
        return -1;
    }
    if (shift && *++p != '\0')
        return -1;
    if (value > UINT64_MAX >> shift)
        return -1;
    *bytes = value << shift;
    return 0;
}

/* --- helpers --------------------------------------------------------------- */

static int parse_option(struct image_options *o, struct given *g, const char *name,
                        const char *value, char *err, size_t err_len)
{
    struct rs_layout_desc *d = &o->layout;
    if (strcmp(name, "--layout") == 0) {
        int level = rs_layout_level_parse(value);
        if (level < 0)
            return fail(err, err_len, "unknown layout '%s': linear, raid0, raid1, raid5 or raid10",
                        value);
        d->level = (enum rs_layout_level)level;
    } else if (strcmp(name, "--chunk") == 0) {
        uint64_t bytes;
        if (image_parse_size(value, &bytes) < 0 ||
            bytes < (uint64_t)RS_LAYOUT_MIN_CHUNK_SECTORS * 512 ||
            bytes > (uint64_t)RS_LAYOUT_MAX_CHUNK_SECTORS * 512 || (bytes & (bytes - 1)) != 0)
            return fail(err, err_len, "bad chunk size '%s': a power of two from 4K to 1G", value);
        d->chunk_sectors = (uint32_t)(bytes / 512);
        g->chunk = true;
    } else if (strcmp(name, "--algorithm") == 0) {
        int algorithm = rs_raid5_algorithm_parse(value);
        if (algorithm < 0)
            return fail(err, err_len,
                        "unknown algorithm '%s': left-symmetric, left-asymmetric, "
                        "right-symmetric, right-asymmetric, parity-first or parity-last",
                        value);
        d->algorithm = (uint32_t)algorithm;
        g->algorithm = true;
    } else if (strcmp(name, "--zones") == 0) {
        int zones = rs_raid0_zones_parse(value);
        if (zones <= 0)
            return fail(err, err_len, "unknown zone placement '%s': original or alternate", value);
        d->raid0_zones = (uint32_t)zones;
        g->zones = true;
    } else if (strcmp(name, "--copies") == 0) {
        uint64_t copies;
        if (parse_decimal(value, &copies) < 0 || copies < 1 || copies > RS_LAYOUT_MAX_MEMBERS)
            return fail(err, err_len, "bad number of copies '%s': 1 to %d", value,
                        RS_LAYOUT_MAX_MEMBERS);
        d->copies = (uint32_t)copies;
        g->copies = true;
    } else if (strcmp(name, "--member-size") == 0) {
        return parse_member_sizes(o, g, value, err, err_len);
    } else {
        return fail(err, err_len, "unknown option '%s'", name);
    }
    return 0;
}

/* One size for every member, or one per member, comma-separated. */
static int parse_member_sizes(struct image_options *o, struct given *g, const char *value,
                              char *err, size_t err_len)
{
    if (g->sizes)
        return fail(err, err_len, "--member-size given twice");
    const char *p = value;
    for (;;) {
        char item[32];
        size_t len = strcspn(p, ",");
        uint64_t bytes;
        if (len == 0 || len >= sizeof(item))
            return fail(err, err_len, "bad member size list '%s'", value);
        memcpy(item, p, len);
        item[len] = '\0';
        if (image_parse_size(item, &bytes) < 0 || bytes == 0 || bytes % 512 != 0 ||
            bytes / 512 > RS_LAYOUT_MAX_SECTORS)
            return fail(err, err_len,
                        "bad member size '%s': a positive multiple of 512 bytes below 8 EiB", item);
        if (g->sizes == RS_LAYOUT_MAX_MEMBERS)
            return fail(err, err_len, "too many member sizes: at most %d", RS_LAYOUT_MAX_MEMBERS);
        o->member_bytes[g->sizes++] = bytes;
        if (p[len] == '\0')
            break;
        p += len + 1;
    }
    o->member_size_given = true;
    return 0;
}

static int parse_decimal(const char *text, uint64_t *value)
{
    if (!text || text[0] < '0' || text[0] > '9')
        return -1;
    uint64_t v = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        uint64_t digit = (uint64_t)(*p - '0');
        if (v > (UINT64_MAX - digit) / 10)
            return -1;
        v = v * 10 + digit;
    }
    *value = v;
    return 0;
}

/* Level-dependent defaults and the checks that need the whole line. */
static int finish(struct image_options *o, const struct given *g, char *err, size_t err_len)
{
    struct rs_layout_desc *d = &o->layout;
    if (!d->level)
        return fail(err, err_len, "--layout is required: linear, raid0, raid1, raid5 or raid10");
    const char *level = rs_layout_level_name(d->level);
    if (d->member_count == 0)
        return fail(err, err_len, "no member given");
    if (g->algorithm && d->level != RS_LAYOUT_RAID5)
        return fail(err, err_len, "--algorithm applies to raid5 only, not %s", level);
    if (g->zones && d->level != RS_LAYOUT_RAID0)
        return fail(err, err_len, "--zones applies to raid0 only, not %s", level);
    if (g->copies && d->level != RS_LAYOUT_RAID10)
        return fail(err, err_len, "--copies applies to raid10 only, not %s", level);
    if (g->chunk && d->level == RS_LAYOUT_RAID1)
        return fail(err, err_len, "--chunk does not apply to raid1 (mirrors have no chunks)");
    if (!g->chunk && d->level != RS_LAYOUT_RAID1)
        d->chunk_sectors = IMAGE_DEFAULT_CHUNK_BYTES / 512;
    if (!g->algorithm && d->level == RS_LAYOUT_RAID5)
        d->algorithm = RS_RAID5_LEFT_SYMMETRIC;
    if (!g->copies && d->level == RS_LAYOUT_RAID10)
        d->copies = IMAGE_DEFAULT_COPIES;
    if (o->command == IMAGE_CHECK && (d->level == RS_LAYOUT_LINEAR || d->level == RS_LAYOUT_RAID0))
        return fail(err, err_len, "check needs a redundant layout (raid1, raid5, raid10), not %s",
                    level);
    if (d->level == RS_LAYOUT_RAID5 && d->member_count < 2)
        return fail(err, err_len, "raid5 needs at least 2 members, got %u", d->member_count);
    if (d->level == RS_LAYOUT_RAID10 && d->member_count < d->copies)
        return fail(err, err_len, "raid10 with %u copies needs at least %u members, got %u",
                    d->copies, d->copies, d->member_count);
    if (g->sizes > 1 && g->sizes != d->member_count)
        return fail(err, err_len, "--member-size lists %u sizes for %u members", g->sizes,
                    d->member_count);
    if (g->sizes == 1)
        for (uint32_t i = 1; i < d->member_count; i++)
            o->member_bytes[i] = o->member_bytes[0];
    return 0;
}

static int fail(char *err, size_t err_len, const char *fmt, ...)
{
    if (err_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return -1;
}
