/* rsharectl — offline volume images: opens the member files, derives the
 * volume from their sizes and the layout options, and moves data between
 * stdin/stdout and the members with pread/pwrite, reconstructing a missing
 * member from parity or another copy. */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block/xor.h"
#include "image.h"

#define SECTOR 512u
#define STREAM_BYTES (1u << 20)    /* buffer of the unstriped paths */
#define MIRROR_REGION (64u * 1024) /* raid1 check granularity */

struct image {
    const struct image_options *o;
    const char *prog;
    struct rs_layout layout;
    int fd[RS_LAYOUT_MAX_MEMBERS]; /* -1: missing (or not opened for map) */
    uint32_t missing;
    size_t chunk_bytes;
};

static int open_members(struct image *im);
static int build_layout(struct image *im);
static int check_missing(struct image *im);
static int do_write(struct image *im);
static int do_read(struct image *im);
static int do_check(struct image *im);
static int do_map(struct image *im);
static int raid5_write(struct image *im);
static int raid5_read(struct image *im);
static int raid5_read_row(struct image *im, uint64_t row, uint8_t *data, uint8_t *scratch);
static int raid5_check(struct image *im);
static int stream_write(struct image *im);
static int stream_read(struct image *im);
static int read_extent(struct image *im, const struct rs_extent *e, uint8_t *dst);
static int mirror_check(struct image *im);
static int raid10_check(struct image *im);
static int input_left_over(struct image *im);
static int flush_members(struct image *im);
static int report(struct image *im, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static const char *member_name(const struct image *im, uint32_t member);
static ssize_t read_full(int fd, void *buf, size_t len);
static int write_full(int fd, const void *buf, size_t len);
static int pread_full(int fd, void *buf, size_t len, uint64_t offset);
static int pwrite_full(int fd, const void *buf, size_t len, uint64_t offset);
static void *alloc_buffer(size_t size);

int image_run(const struct image_options *options, const char *prog)
{
    struct image *im = calloc(1, sizeof(*im));
    if (!im) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return IMAGE_EXIT_IO;
    }
    im->o = options;
    im->prog = prog;
    for (uint32_t i = 0; i < RS_LAYOUT_MAX_MEMBERS; i++)
        im->fd[i] = -1;
    int rc = open_members(im);
    if (rc == 0)
        rc = build_layout(im);
    if (rc == 0)
        rc = check_missing(im);
    if (rc == 0) {
        switch (options->command) {
        case IMAGE_WRITE:
            rc = do_write(im);
            break;
        case IMAGE_READ:
            rc = do_read(im);
            break;
        case IMAGE_CHECK:
            rc = do_check(im);
            break;
        default:
            rc = do_map(im);
            break;
        }
    }
    for (uint32_t i = 0; i < RS_LAYOUT_MAX_MEMBERS; i++)
        if (im->fd[i] >= 0)
            close(im->fd[i]);
    free(im);
    return rc;
}

/* --- members and the volume ------------------------------------------------ */

/* Opens each member and records its size in layout.desc (still a plain
 * description: build_layout() checks it).  map with --member-size opens
 * nothing, so it works without any image at hand. */
static int open_members(struct image *im)
{
    const struct image_options *o = im->o;
    struct rs_layout_desc *d = &im->layout.desc;
    *d = o->layout;
    bool open_files = !(o->command == IMAGE_MAP && o->member_size_given);
    uint64_t smallest = UINT64_MAX;
    for (uint32_t i = 0; i < d->member_count; i++) {
        const char *path = o->members[i];
        uint64_t bytes = o->member_bytes[i];
        if (!path) {
            im->missing++;
        } else if (open_files) {
            int flags = O_CLOEXEC;
            if (o->command == IMAGE_WRITE)
                flags |= O_RDWR | (o->member_size_given ? O_CREAT : 0);
            else
                flags |= O_RDONLY;
            int fd = open(path, flags, 0666);
            if (fd < 0)
                return report(im, IMAGE_EXIT_IO, "cannot open member %u (%s): %s%s", i, path,
                              strerror(errno),
                              errno == ENOENT && o->command == IMAGE_WRITE
                                  ? " (give --member-size to create it)"
                                  : "");
            im->fd[i] = fd;
            off_t end = lseek(fd, 0, SEEK_END);
            if (end < 0)
                return report(im, IMAGE_EXIT_IO, "cannot size member %u (%s): %s", i, path,
                              strerror(errno));
            if (!o->member_size_given) {
                bytes = (uint64_t)end;
            } else if ((uint64_t)end < bytes) {
                struct stat st;
                if (o->command != IMAGE_WRITE || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                    return report(im, IMAGE_EXIT_VOLUME,
                                  "member %u (%s) holds %" PRIu64 " bytes, less than its "
                                  "--member-size %" PRIu64,
                                  i, path, (uint64_t)end, bytes);
                if (ftruncate(fd, (off_t)bytes) < 0)
                    return report(im, IMAGE_EXIT_IO, "cannot extend member %u (%s): %s", i, path,
                                  strerror(errno));
            }
        }
        d->member_sectors[i] = bytes / SECTOR;
        if (path && d->member_sectors[i] < smallest)
            smallest = d->member_sectors[i];
    }
    if (im->missing == d->member_count && !o->member_size_given)
        return report(im, IMAGE_EXIT_VOLUME, "every member is missing");
    /* A lost member of a redundant layout is taken to be as large as the
     * smallest present one (only the smallest size counts for raid1, raid5
     * and raid10); if it was smaller, --member-size must say so. */
    for (uint32_t i = 0; i < d->member_count; i++) {
        if (o->members[i] || o->member_size_given)
            continue;
        if ((d->level == RS_LAYOUT_LINEAR || d->level == RS_LAYOUT_RAID0) &&
            o->command != IMAGE_MAP)
            return report(im, IMAGE_EXIT_VOLUME,
                          "%s keeps no redundancy: member %u cannot be missing",
                          rs_layout_level_name(d->level), i);
        if (d->level == RS_LAYOUT_LINEAR || d->level == RS_LAYOUT_RAID0)
            return report(im, IMAGE_EXIT_VOLUME,
                          "member %u is missing, so its size is unknown: give --member-size", i);
        d->member_sectors[i] = smallest;
    }
    return 0;
}

static int build_layout(struct image *im)
{
    struct rs_layout_desc d = im->layout.desc;
    const char *level = rs_layout_level_name(d.level);
    for (uint32_t i = 0; i < d.member_count; i++)
        if (d.member_sectors[i] == 0)
            return report(im, IMAGE_EXIT_VOLUME, "member %u (%s) is smaller than one sector", i,
                          member_name(im, i));
    if (d.level != RS_LAYOUT_RAID1) {
        for (uint32_t i = 0; i < d.member_count; i++)
            if (d.member_sectors[i] < d.chunk_sectors)
                return report(im, IMAGE_EXIT_VOLUME,
                              "member %u (%s) holds %" PRIu64 " bytes, less than one chunk (%u)", i,
                              member_name(im, i), d.member_sectors[i] * SECTOR,
                              d.chunk_sectors * SECTOR);
    }
    if (rs_layout_init(&im->layout, &d) == 0) {
        im->chunk_bytes = (size_t)d.chunk_sectors * SECTOR;
        return 0;
    }
    if (d.level == RS_LAYOUT_RAID0 && d.raid0_zones == RS_RAID0_ZONES_UNSPECIFIED) {
        /* Valid with a placement: the sizes make zones whose placement md
         * cannot tell from the data, so neither can we. */
        struct rs_layout_desc probe = d;
        probe.raid0_zones = RS_RAID0_ZONES_ALTERNATE;
        if (rs_layout_init(&im->layout, &probe) == 0)
            return report(im, IMAGE_EXIT_VOLUME,
                          "the members differ in size, so this raid0 has %u zones whose "
                          "placement depends on the md version that wrote them: give --zones "
                          "original (Linux before 3.14) or --zones alternate (3.14 and later)",
                          im->layout.zone_count);
    }
    return report(im, IMAGE_EXIT_VOLUME,
                  "these members do not make a %s volume (sizes up to %" PRIu64 " sectors in all)",
                  level, (uint64_t)RS_LAYOUT_MAX_SECTORS);
}

/* Missing members: read and write need the layout to survive their loss;
 * check compares every copy, so it needs them all; map needs none. */
static int check_missing(struct image *im)
{
    const struct rs_layout_desc *d = &im->layout.desc;
    if (im->missing == 0 || im->o->command == IMAGE_MAP)
        return 0;
    uint32_t first = 0;
    while (im->o->members[first])
        first++;
    if (im->o->command == IMAGE_CHECK)
        return report(im, IMAGE_EXIT_VOLUME, "check compares every member; member %u is missing",
                      first);
    switch (d->level) {
    case RS_LAYOUT_LINEAR:
    case RS_LAYOUT_RAID0:
        return report(im, IMAGE_EXIT_VOLUME, "%s keeps no redundancy: member %u cannot be missing",
                      rs_layout_level_name(d->level), first);
    case RS_LAYOUT_RAID5:
        if (im->missing > 1)
            return report(im, IMAGE_EXIT_VOLUME,
                          "raid5 survives the loss of one member, %u are missing", im->missing);
        return 0;
    case RS_LAYOUT_RAID1:
        return 0; /* at least one mirror is present (open_members) */
    default:
        break;
    }
    /* raid10: the copies of chunk c are on members c*copies .. c*copies +
     * copies - 1 (mod members); the pattern repeats every `members` chunks. */
    uint64_t chunks = im->layout.sectors >> im->layout.chunk_shift;
    for (uint64_t c = 0; c < d->member_count && c < chunks; c++) {
        bool present = false;
        for (uint32_t j = 0; j < d->copies; j++)
            present |= im->fd[(c * d->copies + j) % d->member_count] >= 0;
        if (!present)
            return report(im, IMAGE_EXIT_VOLUME,
                          "raid10: every copy of chunk %" PRIu64 " is on a missing member", c);
    }
    return 0;
}

/* --- commands -------------------------------------------------------------- */

static int do_write(struct image *im)
{
    struct stat st;
    uint64_t volume_bytes = im->layout.sectors * SECTOR;
    if (fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size > volume_bytes)
        return report(im, IMAGE_EXIT_VOLUME,
                      "the input (%" PRIu64 " bytes) is larger than the volume (%" PRIu64 " bytes)",
                      (uint64_t)st.st_size, volume_bytes);
    int rc = im->layout.desc.level == RS_LAYOUT_RAID5 ? raid5_write(im) : stream_write(im);
    if (rc == 0)
        rc = flush_members(im);
    if (rc == 0)
        rc = input_left_over(im);
    return rc;
}

static int do_read(struct image *im)
{
    return im->layout.desc.level == RS_LAYOUT_RAID5 ? raid5_read(im) : stream_read(im);
}

static int do_check(struct image *im)
{
    switch (im->layout.desc.level) {
    case RS_LAYOUT_RAID5:
        return raid5_check(im);
    case RS_LAYOUT_RAID1:
        return mirror_check(im);
    case RS_LAYOUT_RAID10:
        return raid10_check(im);
    default:
        return report(im, IMAGE_EXIT_USAGE,
                      "check needs a redundant layout: raid1, raid5 or raid10");
    }
}

static int do_map(struct image *im)
{
    uint64_t sector = im->o->sector;
    struct rs_extent e;
    if (sector >= im->layout.sectors)
        return report(im, IMAGE_EXIT_VOLUME,
                      "sector %" PRIu64 " is past the end of the volume (%" PRIu64 " sectors)",
                      sector, im->layout.sectors);
    if (rs_layout_map(&im->layout, sector, 1, &e) < 0)
        return report(im, IMAGE_EXIT_VOLUME, "cannot map sector %" PRIu64, sector);
    printf("member %u sector %" PRIu64 "\n", e.member, e.member_sector);
    if (e.parity_member != RS_LAYOUT_NO_MEMBER)
        printf("parity member %u sector %" PRIu64 " row %" PRIu64 "\n", e.parity_member,
               e.member_sector, e.row);
    for (uint32_t j = 1; j < e.copies; j++) {
        uint32_t member;
        uint64_t member_sector;
        if (rs_layout_copy(&im->layout, &e, j, &member, &member_sector) == 0)
            printf("member %u sector %" PRIu64 " copy %u\n", member, member_sector, j);
    }
    if (fflush(stdout) != 0)
        return report(im, IMAGE_EXIT_IO, "cannot write to stdout: %s", strerror(errno));
    return IMAGE_EXIT_OK;
}

/* --- RAID-5: a row at a time ----------------------------------------------- */

/* Each row's data comes from stdin; a short last row is completed with what
 * the volume already holds there so that its parity stays right. */
static int raid5_write(struct image *im)
{
    const struct rs_layout *l = &im->layout;
    size_t chunk = im->chunk_bytes, row_bytes = chunk * l->data_members;
    uint8_t *data = alloc_buffer(row_bytes), *old = alloc_buffer(row_bytes);
    uint8_t *parity = alloc_buffer(chunk);
    const void *sources[RS_LAYOUT_MAX_MEMBERS];
    int rc = IMAGE_EXIT_OK;
    if (!data || !old || !parity) {
        rc = report(im, IMAGE_EXIT_IO, "out of memory for a row of %zu bytes", row_bytes);
        goto out;
    }
    for (uint64_t row = 0; row < rs_layout_rows(l); row++) {
        ssize_t got = read_full(STDIN_FILENO, data, row_bytes);
        if (got < 0) {
            rc = report(im, IMAGE_EXIT_IO, "cannot read stdin: %s", strerror(errno));
            goto out;
        }
        if (got == 0)
            break;
        if ((size_t)got < row_bytes) {
            if ((rc = raid5_read_row(im, row, old, parity)) != 0)
                goto out;
            memcpy(data + got, old + got, row_bytes - (size_t)got);
        }
        struct rs_stripe s;
        rs_layout_stripe(l, row, &s);
        for (uint32_t k = 0; k < s.data_count; k++)
            sources[k] = data + k * chunk;
        rs_xor_gen(parity, sources, s.data_count, chunk);
        uint64_t offset = s.member_sector * SECTOR;
        for (uint32_t k = 0; k <= s.data_count; k++) {
            uint32_t m = k < s.data_count ? s.data_member[k] : s.parity_member;
            const uint8_t *src = k < s.data_count ? data + k * chunk : parity;
            if (im->fd[m] >= 0 && pwrite_full(im->fd[m], src, chunk, offset) < 0) {
                rc = report(im, IMAGE_EXIT_IO,
                            "cannot write member %u (%s) at sector %" PRIu64 ": %s", m,
                            member_name(im, m), s.member_sector, strerror(errno));
                goto out;
            }
        }
        if ((size_t)got < row_bytes)
            break;
    }
out:
    free(data);
    free(old);
    free(parity);
    return rc;
}

static int raid5_read(struct image *im)
{
    size_t row_bytes = im->chunk_bytes * im->layout.data_members;
    uint8_t *data = alloc_buffer(row_bytes), *scratch = alloc_buffer(im->chunk_bytes);
    int rc = IMAGE_EXIT_OK;
    if (!data || !scratch)
        rc = report(im, IMAGE_EXIT_IO, "out of memory for a row of %zu bytes", row_bytes);
    for (uint64_t row = 0; rc == 0 && row < rs_layout_rows(&im->layout); row++) {
        rc = raid5_read_row(im, row, data, scratch);
        if (rc == 0 && write_full(STDOUT_FILENO, data, row_bytes) < 0)
            rc = report(im, IMAGE_EXIT_IO, "cannot write to stdout: %s", strerror(errno));
    }
    free(data);
    free(scratch);
    return rc;
}

/* The row's data chunks in logical order into `data`.  A chunk that cannot
 * be had (missing member or read error) is rebuilt as the XOR of the rest
 * of the row, parity included, read into `scratch`. */
static int raid5_read_row(struct image *im, uint64_t row, uint8_t *data, uint8_t *scratch)
{
    const struct rs_layout *l = &im->layout;
    size_t chunk = im->chunk_bytes;
    struct rs_stripe s;
    rs_layout_stripe(l, row, &s);
    uint64_t offset = s.member_sector * SECTOR;
    uint32_t lost = RS_LAYOUT_NO_MEMBER;
    for (uint32_t k = 0; k < s.data_count; k++) {
        uint32_t m = s.data_member[k];
        if (im->fd[m] >= 0 && pread_full(im->fd[m], data + k * chunk, chunk, offset) == 0)
            continue;
        if (im->fd[m] >= 0)
            fprintf(stderr,
                    "%s: read error on member %u (%s) at sector %" PRIu64
                    ": %s; rebuilding it from parity\n",
                    im->prog, m, member_name(im, m), s.member_sector, strerror(errno));
        if (lost != RS_LAYOUT_NO_MEMBER)
            return report(im, IMAGE_EXIT_IO, "row %" PRIu64 " lost two chunks (members %u and %u)",
                          row, s.data_member[lost], m);
        lost = k;
    }
    if (lost == RS_LAYOUT_NO_MEMBER)
        return 0;
    uint32_t p = s.parity_member;
    if (im->fd[p] < 0 || pread_full(im->fd[p], scratch, chunk, offset) < 0)
        return report(im, IMAGE_EXIT_IO,
                      "row %" PRIu64 ": cannot read parity on member %u (%s) "
                      "to rebuild member %u",
                      row, p, member_name(im, p), s.data_member[lost]);
    const void *sources[RS_LAYOUT_MAX_MEMBERS];
    uint32_t n = 0;
    for (uint32_t k = 0; k < s.data_count; k++)
        if (k != lost)
            sources[n++] = data + k * chunk;
    sources[n++] = scratch;
    rs_xor_gen(data + lost * chunk, sources, n, chunk);
    return 0;
}

static int raid5_check(struct image *im)
{
    const struct rs_layout *l = &im->layout;
    size_t chunk = im->chunk_bytes;
    uint8_t *data = alloc_buffer(chunk * l->data_members), *parity = alloc_buffer(chunk);
    uint8_t *want = alloc_buffer(chunk);
    const void *sources[RS_LAYOUT_MAX_MEMBERS];
    uint64_t bad = 0;
    int rc = IMAGE_EXIT_OK;
    if (!data || !parity || !want)
        rc = report(im, IMAGE_EXIT_IO, "out of memory");
    for (uint64_t row = 0; rc == 0 && row < rs_layout_rows(l); row++) {
        struct rs_stripe s;
        rs_layout_stripe(l, row, &s);
        uint64_t offset = s.member_sector * SECTOR;
        for (uint32_t k = 0; k <= s.data_count && rc == 0; k++) {
            uint32_t m = k < s.data_count ? s.data_member[k] : s.parity_member;
            uint8_t *dst = k < s.data_count ? data + k * chunk : parity;
            if (pread_full(im->fd[m], dst, chunk, offset) < 0)
                rc = report(im, IMAGE_EXIT_IO,
                            "cannot read member %u (%s) at sector %" PRIu64 ": %s", m,
                            member_name(im, m), s.member_sector, strerror(errno));
            if (k < s.data_count)
                sources[k] = dst;
        }
        if (rc)
            break;
        rs_xor_gen(want, sources, s.data_count, chunk);
        if (memcmp(want, parity, chunk) != 0)
            bad++;
    }
    free(data);
    free(parity);
    free(want);
    if (rc)
        return rc;
    printf("%" PRIu64 "\n", bad);
    if (fflush(stdout) != 0)
        return report(im, IMAGE_EXIT_IO, "cannot write to stdout: %s", strerror(errno));
    return bad ? IMAGE_EXIT_INCONSISTENT : IMAGE_EXIT_OK;
}

/* --- the other layouts: extents of a 1 MiB window -------------------------- */

static int stream_write(struct image *im)
{
    const struct rs_layout *l = &im->layout;
    uint64_t window = STREAM_BYTES / SECTOR;
    size_t capacity = (size_t)rs_layout_max_extents(l, window);
    uint8_t *buf = alloc_buffer(STREAM_BYTES);
    struct rs_extent *ext = calloc(capacity, sizeof(*ext));
    int rc = IMAGE_EXIT_OK;
    if (!buf || !ext)
        rc = report(im, IMAGE_EXIT_IO, "out of memory");
    for (uint64_t pos = 0; rc == 0 && pos < l->sectors;) {
        uint64_t want = l->sectors - pos < window ? l->sectors - pos : window;
        ssize_t got = read_full(STDIN_FILENO, buf, want * SECTOR);
        if (got < 0) {
            rc = report(im, IMAGE_EXIT_IO, "cannot read stdin: %s", strerror(errno));
            break;
        }
        if (got == 0)
            break;
        uint64_t sectors = ((uint64_t)got + SECTOR - 1) / SECTOR;
        int n = rs_layout_map_range(l, pos, sectors, ext, capacity);
        if (n < 0) {
            rc = report(im, IMAGE_EXIT_VOLUME, "cannot map sectors %" PRIu64 "+%" PRIu64, pos,
                        sectors);
            break;
        }
        for (int i = 0; i < n && rc == 0; i++) {
            uint64_t start = (ext[i].logical - pos) * SECTOR;
            uint64_t bytes = ext[i].sectors * SECTOR;
            if (bytes > (uint64_t)got - start)
                bytes = (uint64_t)got - start; /* the input ends inside this sector */
            for (uint32_t j = 0; j < ext[i].copies && rc == 0; j++) {
                uint32_t m;
                uint64_t ms;
                rs_layout_copy(l, &ext[i], j, &m, &ms);
                if (im->fd[m] >= 0 && pwrite_full(im->fd[m], buf + start, bytes, ms * SECTOR) < 0)
                    rc = report(im, IMAGE_EXIT_IO,
                                "cannot write member %u (%s) at sector %" PRIu64 ": %s", m,
                                member_name(im, m), ms, strerror(errno));
            }
        }
        pos += sectors;
        if ((uint64_t)got < want * SECTOR)
            break;
    }
    free(buf);
    free(ext);
    return rc;
}

static int stream_read(struct image *im)
{
    const struct rs_layout *l = &im->layout;
    uint64_t window = STREAM_BYTES / SECTOR;
    size_t capacity = (size_t)rs_layout_max_extents(l, window);
    uint8_t *buf = alloc_buffer(STREAM_BYTES);
    struct rs_extent *ext = calloc(capacity, sizeof(*ext));
    int rc = IMAGE_EXIT_OK;
    if (!buf || !ext)
        rc = report(im, IMAGE_EXIT_IO, "out of memory");
    for (uint64_t pos = 0; rc == 0 && pos < l->sectors;) {
        uint64_t sectors = l->sectors - pos < window ? l->sectors - pos : window;
        int n = rs_layout_map_range(l, pos, sectors, ext, capacity);
        if (n < 0) {
            rc = report(im, IMAGE_EXIT_VOLUME, "cannot map sectors %" PRIu64 "+%" PRIu64, pos,
                        sectors);
            break;
        }
        for (int i = 0; i < n && rc == 0; i++)
            rc = read_extent(im, &ext[i], buf + (ext[i].logical - pos) * SECTOR);
        if (rc == 0 && write_full(STDOUT_FILENO, buf, sectors * SECTOR) < 0)
            rc = report(im, IMAGE_EXIT_IO, "cannot write to stdout: %s", strerror(errno));
        pos += sectors;
    }
    free(buf);
    free(ext);
    return rc;
}

/* From the first copy that is present and reads without error. */
static int read_extent(struct image *im, const struct rs_extent *e, uint8_t *dst)
{
    for (uint32_t j = 0; j < e->copies; j++) {
        uint32_t m;
        uint64_t ms;
        rs_layout_copy(&im->layout, e, j, &m, &ms);
        if (im->fd[m] < 0)
            continue;
        if (pread_full(im->fd[m], dst, e->sectors * SECTOR, ms * SECTOR) == 0)
            return 0;
        fprintf(stderr, "%s: read error on member %u (%s) at sector %" PRIu64 ": %s%s\n", im->prog,
                m, member_name(im, m), ms, strerror(errno),
                j + 1 < e->copies ? "; trying another copy" : "");
    }
    return report(im, IMAGE_EXIT_IO, "no readable copy of logical sectors %" PRIu64 "+%" PRIu64,
                  e->logical, e->sectors);
}

/* raid1: 64 KiB regions where some mirror differs from the first. */
static int mirror_check(struct image *im)
{
    const struct rs_layout *l = &im->layout;
    uint8_t *first = alloc_buffer(MIRROR_REGION), *other = alloc_buffer(MIRROR_REGION);
    uint64_t bad = 0, region = MIRROR_REGION / SECTOR;
    int rc = IMAGE_EXIT_OK;
    if (!first || !other)
        rc = report(im, IMAGE_EXIT_IO, "out of memory");
    for (uint64_t pos = 0; rc == 0 && pos < l->sectors; pos += region) {
        size_t bytes = (size_t)((l->sectors - pos < region ? l->sectors - pos : region) * SECTOR);
        bool differs = false;
        for (uint32_t m = 0; m < l->desc.member_count && rc == 0; m++) {
            if (pread_full(im->fd[m], m ? other : first, bytes, pos * SECTOR) < 0)
                rc = report(im, IMAGE_EXIT_IO,
                            "cannot read member %u (%s) at sector %" PRIu64 ": %s", m,
                            member_name(im, m), pos, strerror(errno));
            else if (m && memcmp(first, other, bytes) != 0)
                differs = true;
        }
        bad += differs;
    }
    free(first);
    free(other);
    if (rc)
        return rc;
    printf("%" PRIu64 "\n", bad);
    if (fflush(stdout) != 0)
        return report(im, IMAGE_EXIT_IO, "cannot write to stdout: %s", strerror(errno));
    return bad ? IMAGE_EXIT_INCONSISTENT : IMAGE_EXIT_OK;
}

/* raid10: logical chunks whose copies differ. */
static int raid10_check(struct image *im)
{
    const struct rs_layout *l = &im->layout;
    size_t chunk = im->chunk_bytes;
    uint8_t *first = alloc_buffer(chunk), *other = alloc_buffer(chunk);
    uint64_t bad = 0;
    int rc = IMAGE_EXIT_OK;
    if (!first || !other)
        rc = report(im, IMAGE_EXIT_IO, "out of memory");
    for (uint64_t pos = 0; rc == 0 && pos < l->sectors; pos += l->desc.chunk_sectors) {
        struct rs_extent e;
        rs_layout_map(l, pos, l->desc.chunk_sectors, &e);
        bool differs = false;
        for (uint32_t j = 0; j < e.copies && rc == 0; j++) {
            uint32_t m;
            uint64_t ms;
            rs_layout_copy(l, &e, j, &m, &ms);
            if (pread_full(im->fd[m], j ? other : first, chunk, ms * SECTOR) < 0)
                rc = report(im, IMAGE_EXIT_IO,
                            "cannot read member %u (%s) at sector %" PRIu64 ": %s", m,
                            member_name(im, m), ms, strerror(errno));
            else if (j && memcmp(first, other, chunk) != 0)
                differs = true;
        }
        bad += differs;
    }
    free(first);
    free(other);
    if (rc)
        return rc;
    printf("%" PRIu64 "\n", bad);
    if (fflush(stdout) != 0)
        return report(im, IMAGE_EXIT_IO, "cannot write to stdout: %s", strerror(errno));
    return bad ? IMAGE_EXIT_INCONSISTENT : IMAGE_EXIT_OK;
}

/* After the volume is full, any more input is an error, not silently cut. */
static int input_left_over(struct image *im)
{
    uint8_t byte;
    ssize_t got = read_full(STDIN_FILENO, &byte, 1);
    if (got < 0)
        return report(im, IMAGE_EXIT_IO, "cannot read stdin: %s", strerror(errno));
    if (got > 0)
        return report(im, IMAGE_EXIT_VOLUME,
                      "the input is larger than the volume (%" PRIu64 " bytes); the volume holds "
                      "its first %" PRIu64 " bytes",
                      im->layout.sectors * SECTOR, im->layout.sectors * SECTOR);
    return 0;
}

/* A write is done when it is on the members' media, not in the page cache. */
static int flush_members(struct image *im)
{
    for (uint32_t i = 0; i < im->layout.desc.member_count; i++)
        if (im->fd[i] >= 0 && fdatasync(im->fd[i]) < 0 && errno != EINVAL)
            return report(im, IMAGE_EXIT_IO, "cannot flush member %u (%s): %s", i,
                          member_name(im, i), strerror(errno));
    return 0;
}

/* --- helpers ---------------------------------------------------------------- */

static int report(struct image *im, int code, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", im->prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

static const char *member_name(const struct image *im, uint32_t member)
{
    const char *path = im->o->members[member];
    return path ? path : "missing";
}

/* Reads until `len` bytes or end of file: returns the count, -1 on error. */
static ssize_t read_full(int fd, void *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = read(fd, (uint8_t *)buf + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

static int write_full(int fd, const void *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, (const uint8_t *)buf + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

/* A member that ends early is an I/O error (EIO): its size was known. */
static int pread_full(int fd, void *buf, size_t len, uint64_t offset)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, (uint8_t *)buf + done, len - done, (off_t)(offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            errno = EIO;
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

static int pwrite_full(int fd, const void *buf, size_t len, uint64_t offset)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pwrite(fd, (const uint8_t *)buf + done, len - done, (off_t)(offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            errno = EIO;
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

/* Page-aligned, so the XOR kernel takes its aligned path. */
static void *alloc_buffer(size_t size)
{
    void *p = NULL;
    if (size == 0 || posix_memalign(&p, 4096, size) != 0)
        return NULL;
    return p;
}
