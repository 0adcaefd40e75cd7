/* Fuzz target: the `rsharectl image` command line.  The input is split at
 * NUL bytes into arguments; a line the parser accepts must describe a
 * consistent request, and when it gives member sizes the layout built from
 * it must map its sector there and back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../examples/image_options.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_ARGS = 96, MAX_INPUT = 8192 };

static void check_accepted(const struct image_options *o, char *const *argv, int argc,
                           const char *text, size_t text_len);
static void check_layout(const struct image_options *o);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *argv[MAX_ARGS];
    int argc = 0;
    for (size_t start = 0; start <= size && argc < MAX_ARGS;) {
        argv[argc++] = text + start;
        start += strlen(text + start) + 1;
    }
    uint64_t bytes;
    if (image_parse_size(argv[0], &bytes) == 0 && argv[0][0] == '\0')
        abort(); /* an empty size is never valid */

    struct image_options o;
    char err[128];
    if (image_options_parse(&o, argc, argv, err, sizeof(err)) == 0) {
        if (!o.help)
            check_accepted(&o, argv, argc, text, size + 1);
    } else if (err[0] == '\0' || strlen(err) >= sizeof(err)) {
        abort(); /* a refusal always says why */
    }
    free(text);
    return 0;
}

static void check_accepted(const struct image_options *o, char *const *argv, int argc,
                           const char *text, size_t text_len)
{
    (void)argv;
    (void)argc;
    const struct rs_layout_desc *d = &o->layout;
    if (o->command < IMAGE_WRITE || o->command > IMAGE_MAP)
        abort();
    if (!rs_layout_level_name(d->level))
        abort();
    if (d->member_count < 1 || d->member_count > RS_LAYOUT_MAX_MEMBERS)
        abort();
    if (d->level == RS_LAYOUT_RAID1 ? d->chunk_sectors != 0
                                    : (d->chunk_sectors < RS_LAYOUT_MIN_CHUNK_SECTORS ||
                                       d->chunk_sectors > RS_LAYOUT_MAX_CHUNK_SECTORS ||
                                       (d->chunk_sectors & (d->chunk_sectors - 1))))
        abort();
    if (d->level == RS_LAYOUT_RAID5 && (d->algorithm > RS_RAID5_PARITY_LAST || d->member_count < 2))
        abort();
    if (d->level == RS_LAYOUT_RAID10 && (d->copies < 1 || d->copies > d->member_count))
        abort();
    if (o->command == IMAGE_CHECK && (d->level == RS_LAYOUT_LINEAR || d->level == RS_LAYOUT_RAID0))
        abort();
    for (uint32_t i = 0; i < d->member_count; i++) {
        const char *m = o->members[i];
        if (m && (m < text || m >= text + text_len || m[0] == '\0'))
            abort();
        if (o->member_size_given && (o->member_bytes[i] == 0 || o->member_bytes[i] % 512))
            abort();
    }
    if (o->member_size_given)
        check_layout(o);
}

/* The tool's next step, without files: sizes -> layout -> map -> unmap. */
static void check_layout(const struct image_options *o)
{
    struct rs_layout_desc d = o->layout;
    for (uint32_t i = 0; i < d.member_count; i++)
        d.member_sectors[i] = o->member_bytes[i] / 512;
    struct rs_layout *l = malloc(sizeof(*l));
    if (!l)
        return;
    if (rs_layout_init(l, &d) == 0 && o->sector < l->sectors) {
        struct rs_extent e;
        struct rs_member_use u;
        if (rs_layout_map(l, o->sector, l->sectors - o->sector, &e) != 0)
            abort();
        for (uint32_t j = 0; j < e.copies; j++) {
            uint32_t m;
            uint64_t ms;
            if (rs_layout_copy(l, &e, j, &m, &ms) != 0 || rs_layout_unmap(l, m, ms, &u) != 0 ||
                u.role != RS_MEMBER_DATA || u.logical != o->sector || u.copy != j)
                abort();
        }
    }
    free(l);
}
