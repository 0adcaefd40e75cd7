/* rshare block — volume layouts: checks a layout description once, then maps
 * logical sectors to member sectors and back with md's formulas (md's
 * raid0.c strip zones, raid5_compute_sector, raid10's near copies), so that
 * member images are interchangeable with Linux md at data offset 0. */
#include "config.h"

#include <stdbool.h>
#include <string.h>

#include "rshare/error.h"

#include "layout.h"

static int init_linear(struct rs_layout *l);
static int init_raid0(struct rs_layout *l);
static int init_raid1(struct rs_layout *l);
static int init_raid5(struct rs_layout *l);
static int init_raid10(struct rs_layout *l);
static int check_chunk(uint32_t chunk_sectors, uint32_t *shift);
static uint64_t min_member(const struct rs_layout *l);
static void map_linear(const struct rs_layout *l, uint64_t s, uint64_t count, struct rs_extent *e);
static void map_raid0(const struct rs_layout *l, uint64_t s, uint64_t count, struct rs_extent *e);
static void map_raid5(const struct rs_layout *l, uint64_t s, uint64_t count, struct rs_extent *e);
static void map_raid10(const struct rs_layout *l, uint64_t s, uint64_t count, struct rs_extent *e);
static void unmap_raid0(const struct rs_layout *l, uint32_t m, uint64_t ms,
                        struct rs_member_use *u);
static void unmap_raid5(const struct rs_layout *l, uint32_t m, uint64_t ms,
                        struct rs_member_use *u);
static void unmap_raid10(const struct rs_layout *l, uint32_t m, uint64_t ms,
                         struct rs_member_use *u);
static uint32_t raid5_parity_member(const struct rs_layout *l, uint64_t row);
static uint32_t raid5_data_member(const struct rs_layout *l, uint32_t parity, uint32_t k);
static uint32_t nth_member(uint64_t members, uint32_t index);
static uint32_t popcount64(uint64_t x);

int rs_layout_init(struct rs_layout *layout, const struct rs_layout_desc *desc)
{
    if (!layout || !desc)
        return RSHARE_EINVAL;
    memset(layout, 0, sizeof(*layout));
    layout->desc = *desc;
    const struct rs_layout_desc *d = &layout->desc;
    if (d->member_count < 1 || d->member_count > RS_LAYOUT_MAX_MEMBERS)
        return RSHARE_EINVAL;
    for (uint32_t i = 0; i < RS_LAYOUT_MAX_MEMBERS; i++) {
        if (i < d->member_count ? d->member_sectors[i] > RS_LAYOUT_MAX_SECTORS
                                : d->member_sectors[i] != 0)
            return RSHARE_EINVAL;
    }
    /* A field the level ignores must be zero: a description that says
     * something the layout does not do is a mistake, not a no-op. */
    if (d->level != RS_LAYOUT_RAID5 && d->algorithm != 0)
        return RSHARE_EINVAL;
    if (d->level != RS_LAYOUT_RAID0 && d->raid0_zones != 0)
        return RSHARE_EINVAL;
    if (d->level != RS_LAYOUT_RAID10 && d->copies != 0)
        return RSHARE_EINVAL;
    int rc;
    switch (d->level) {
    case RS_LAYOUT_LINEAR:
        rc = init_linear(layout);
        break;
    case RS_LAYOUT_RAID0:
        rc = init_raid0(layout);
        break;
    case RS_LAYOUT_RAID1:
        rc = init_raid1(layout);
        break;
    case RS_LAYOUT_RAID5:
        rc = init_raid5(layout);
        break;
    case RS_LAYOUT_RAID10:
        rc = init_raid10(layout);
        break;
    default:
        rc = RSHARE_EINVAL;
        break;
    }
    if (rc == 0 && (layout->sectors == 0 || layout->sectors > RS_LAYOUT_MAX_SECTORS))
        rc = RSHARE_EINVAL;
    if (rc < 0)
        memset(layout, 0, sizeof(*layout));
    return rc;
}

int rs_layout_map(const struct rs_layout *layout, uint64_t sector, uint64_t count,
                  struct rs_extent *out)
{
    if (!layout || !out || layout->sectors == 0)
        return RSHARE_EINVAL;
    /* Written so that it cannot overflow: sector + count may not fit. */
    if (count == 0 || sector >= layout->sectors || count > layout->sectors - sector)
        return RSHARE_EINVAL;
    out->logical = sector;
    out->copies = 1;
    out->parity_member = RS_LAYOUT_NO_MEMBER;
    out->data_index = 0;
    switch (layout->desc.level) {
    case RS_LAYOUT_LINEAR:
        map_linear(layout, sector, count, out);
        break;
    case RS_LAYOUT_RAID0:
        map_raid0(layout, sector, count, out);
        break;
    case RS_LAYOUT_RAID1:
        /* Every mirror holds sector s at s: one piece, any length. */
        out->member = 0;
        out->member_sector = sector;
        out->sectors = count;
        out->copies = layout->desc.member_count;
        out->row = 0;
        break;
    case RS_LAYOUT_RAID5:
        map_raid5(layout, sector, count, out);
        break;
    case RS_LAYOUT_RAID10:
        map_raid10(layout, sector, count, out);
        break;
    default:
        return RSHARE_EINVAL;
    }
    return 0;
}

int rs_layout_map_range(const struct rs_layout *layout, uint64_t sector, uint64_t count,
                        struct rs_extent *out, size_t capacity)
{
    if (!out && capacity)
        return RSHARE_EINVAL;
    size_t n = 0;
    struct rs_extent e;
    do {
        int rc = rs_layout_map(layout, sector, count, &e);
        if (rc < 0)
            return rc;
        if (n == capacity || n >= INT32_MAX)
            return RSHARE_EMSGSIZE;
        out[n++] = e;
        sector += e.sectors;
        count -= e.sectors;
    } while (count);
    return (int)n;
}

uint64_t rs_layout_max_extents(const struct rs_layout *layout, uint64_t count)
{
    if (!layout || count == 0)
        return 0;
    switch (layout->desc.level) {
    case RS_LAYOUT_LINEAR:
        return layout->desc.member_count;
    case RS_LAYOUT_RAID1:
        return 1;
    default:
        /* A range touches at most one partial chunk at each end. */
        return (count >> layout->chunk_shift) + 2;
    }
}

int rs_layout_copy(const struct rs_layout *layout, const struct rs_extent *extent, uint32_t copy,
                   uint32_t *member, uint64_t *member_sector)
{
    if (!layout || !extent || !member || !member_sector || copy >= extent->copies)
        return RSHARE_EINVAL;
    const struct rs_layout_desc *d = &layout->desc;
    if (copy == 0) {
        *member = extent->member;
        *member_sector = extent->member_sector;
        return 0;
    }
    if (d->level == RS_LAYOUT_RAID1) {
        *member = copy;
        *member_sector = extent->member_sector;
        return 0;
    }
    if (d->level != RS_LAYOUT_RAID10 || extent->logical >= layout->sectors)
        return RSHARE_EINVAL;
    /* md raid10 "near": copy j of chunk c sits at position c * copies + j
     * of the member grid read row by row. */
    uint64_t chunk = extent->logical >> layout->chunk_shift;
    uint64_t offset = extent->logical & (d->chunk_sectors - 1);
    uint64_t position = chunk * d->copies + copy;
    *member = (uint32_t)(position % d->member_count);
    *member_sector = ((position / d->member_count) << layout->chunk_shift) + offset;
    return 0;
}

int rs_layout_unmap(const struct rs_layout *layout, uint32_t member, uint64_t member_sector,
                    struct rs_member_use *out)
{
    if (!layout || !out || layout->sectors == 0 || member >= layout->desc.member_count ||
        member_sector >= layout->member_usable[member])
        return RSHARE_EINVAL;
    memset(out, 0, sizeof(*out));
    out->role = RS_MEMBER_DATA;
    switch (layout->desc.level) {
    case RS_LAYOUT_LINEAR:
        out->logical = layout->member_start[member] + member_sector;
        break;
    case RS_LAYOUT_RAID0:
        unmap_raid0(layout, member, member_sector, out);
        break;
    case RS_LAYOUT_RAID1:
        out->logical = member_sector;
        out->copy = member;
        break;
    case RS_LAYOUT_RAID5:
        unmap_raid5(layout, member, member_sector, out);
        break;
    case RS_LAYOUT_RAID10:
        unmap_raid10(layout, member, member_sector, out);
        break;
    default:
        return RSHARE_EINVAL;
    }
    return 0;
}

int rs_layout_stripe(const struct rs_layout *layout, uint64_t row, struct rs_stripe *out)
{
    if (!layout || !out || layout->desc.level != RS_LAYOUT_RAID5 || row >= rs_layout_rows(layout))
        return RSHARE_EINVAL;
    memset(out, 0, sizeof(*out));
    out->row = row;
    out->member_sector = row << layout->chunk_shift;
    out->logical = (row * layout->data_members) << layout->chunk_shift;
    out->parity_member = raid5_parity_member(layout, row);
    out->data_count = layout->data_members;
    for (uint32_t k = 0; k < layout->data_members; k++)
        out->data_member[k] = (uint8_t)raid5_data_member(layout, out->parity_member, k);
    return 0;
}

uint64_t rs_layout_rows(const struct rs_layout *layout)
{
    if (!layout || layout->desc.level != RS_LAYOUT_RAID5)
        return 0;
    return layout->member_usable[0] >> layout->chunk_shift;
}

/* --- set-up ------------------------------------------------------------- */

/* md's linear personality rounds each member down to the chunk ("rounding")
 * when one is set; mdadm --build sets 64 KiB by default. */
static int init_linear(struct rs_layout *l)
{
    const struct rs_layout_desc *d = &l->desc;
    uint64_t mask = 0;
    if (d->chunk_sectors) {
        if (check_chunk(d->chunk_sectors, &l->chunk_shift) < 0)
            return RSHARE_EINVAL;
        mask = d->chunk_sectors - 1;
    }
    uint64_t start = 0;
    for (uint32_t i = 0; i < d->member_count; i++) {
        uint64_t size = d->member_sectors[i] & ~mask;
        if (size == 0)
            return RSHARE_EINVAL;
        l->member_start[i] = start;
        l->member_usable[i] = size;
        if (size > RS_LAYOUT_MAX_SECTORS - start)
            return RSHARE_EINVAL;
        start += size;
    }
    l->sectors = start;
    return 0;
}

/* md raid0.c: sizes rounded down to the chunk; zone 0 stripes over every
 * member up to the smallest size, each next zone over the members still
 * larger, up to the next smallest size; members keep their order. */
static int init_raid0(struct rs_layout *l)
{
    const struct rs_layout_desc *d = &l->desc;
    if (check_chunk(d->chunk_sectors, &l->chunk_shift) < 0)
        return RSHARE_EINVAL;
    if (d->raid0_zones > RS_RAID0_ZONES_ALTERNATE)
        return RSHARE_EINVAL;
    uint64_t mask = d->chunk_sectors - 1, total = 0;
    for (uint32_t i = 0; i < d->member_count; i++) {
        l->member_usable[i] = d->member_sectors[i] & ~mask;
        if (l->member_usable[i] == 0)
            return RSHARE_EINVAL;
        if (l->member_usable[i] > RS_LAYOUT_MAX_SECTORS - total)
            return RSHARE_EINVAL;
        total += l->member_usable[i];
    }
    uint64_t below = 0, logical = 0; /* member sectors already used by earlier zones */
    while (logical < total) {
        struct rs_layout_zone *z = &l->zones[l->zone_count];
        uint64_t next = UINT64_MAX;
        for (uint32_t i = 0; i < d->member_count; i++) {
            if (l->member_usable[i] <= below)
                continue;
            z->members |= UINT64_C(1) << i;
            z->member_count++;
            if (l->member_usable[i] < next)
                next = l->member_usable[i];
        }
        z->start = logical;
        z->start_chunk = logical >> l->chunk_shift;
        z->member_start = below;
        z->end = logical + (next - below) * z->member_count; /* <= total: no overflow */
        logical = z->end;
        below = next;
        l->zone_count++;
    }
    /* With one zone, or a second zone of a single member, both variants
     * place every chunk alike (md then ignores the setting too). */
    bool ambiguous = l->zone_count > 1 && l->zones[1].member_count > 1;
    if (ambiguous && d->raid0_zones == RS_RAID0_ZONES_UNSPECIFIED)
        return RSHARE_EINVAL;
    l->sectors = total;
    return 0;
}

/* md raid1: every mirror holds the array at the same offsets; the array is
 * as large as the smallest mirror. */
static int init_raid1(struct rs_layout *l)
{
    if (l->desc.chunk_sectors != 0)
        return RSHARE_EINVAL;
    uint64_t size = min_member(l);
    for (uint32_t i = 0; i < l->desc.member_count; i++)
        l->member_usable[i] = size;
    l->sectors = size;
    return 0;
}

/* md raid5: every member used up to the smallest size rounded down to the
 * chunk; n - 1 data chunks per row. */
static int init_raid5(struct rs_layout *l)
{
    const struct rs_layout_desc *d = &l->desc;
    if (d->member_count < 2 || d->algorithm > RS_RAID5_PARITY_LAST)
        return RSHARE_EINVAL;
    if (check_chunk(d->chunk_sectors, &l->chunk_shift) < 0)
        return RSHARE_EINVAL;
    uint64_t size = min_member(l) & ~(uint64_t)(d->chunk_sectors - 1);
    if (size == 0)
        return RSHARE_EINVAL;
    l->data_members = d->member_count - 1;
    if (size > RS_LAYOUT_MAX_SECTORS / l->data_members)
        return RSHARE_EINVAL;
    for (uint32_t i = 0; i < d->member_count; i++)
        l->member_usable[i] = size;
    l->sectors = size * l->data_members;
    return 0;
}

/* md raid10 near layout (far copies 1, md layout 0x100 + copies): the array
 * holds floor(rows * members / copies) chunks. */
static int init_raid10(struct rs_layout *l)
{
    const struct rs_layout_desc *d = &l->desc;
    if (d->copies < 1 || d->copies > d->member_count)
        return RSHARE_EINVAL;
    if (check_chunk(d->chunk_sectors, &l->chunk_shift) < 0)
        return RSHARE_EINVAL;
    uint64_t rows = min_member(l) >> l->chunk_shift;
    /* rows < 2^51 and members <= 64: the product fits. */
    uint64_t chunks = rows * d->member_count / d->copies;
    if (chunks == 0 || chunks > RS_LAYOUT_MAX_SECTORS >> l->chunk_shift)
        return RSHARE_EINVAL;
    for (uint32_t i = 0; i < d->member_count; i++)
        l->member_usable[i] = rows << l->chunk_shift;
    l->sectors = chunks << l->chunk_shift;
    return 0;
}

static int check_chunk(uint32_t chunk_sectors, uint32_t *shift)
{
    if (chunk_sectors < RS_LAYOUT_MIN_CHUNK_SECTORS ||
        chunk_sectors > RS_LAYOUT_MAX_CHUNK_SECTORS || (chunk_sectors & (chunk_sectors - 1)) != 0)
        return RSHARE_EINVAL;
    *shift = (uint32_t)__builtin_ctz(chunk_sectors);
    return 0;
}

static uint64_t min_member(const struct rs_layout *l)
{
    uint64_t size = UINT64_MAX;
    for (uint32_t i = 0; i < l->desc.member_count; i++)
        if (l->desc.member_sectors[i] < size)
            size = l->desc.member_sectors[i];
    return size;
}

/* --- forward map ---------------------------------------------------------- */

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static void map_linear(const struct rs_layout *l, uint64_t s, uint64_t count, struct rs_extent *e)
{
    /* Binary search for the last member starting at or before s. */
    uint32_t lo = 0, hi = l->desc.member_count - 1;
    while (lo < hi) {
        uint32_t mid = (lo + hi + 1) / 2;
        if (l->member_start[mid] <= s)
            lo = mid;
        else
            hi = mid - 1;
    }
    e->member = lo;
    e->member_sector = s - l->member_start[lo];
    e->sectors = min_u64(count, l->member_usable[lo] - e->member_sector);
    e->row = l->chunk_shift ? e->member_sector >> l->chunk_shift : 0;
}

static void map_raid0(const struct rs_layout *l, uint64_t s, uint64_t count, struct rs_extent *e)
{
    const struct rs_layout_zone *z = l->zones;
    while (s >= z->end)
        z++;
    uint64_t chunk = s >> l->chunk_shift, offset = s & (l->desc.chunk_sectors - 1);
    uint64_t zone_chunk = chunk - z->start_chunk;
    /* The two md variants agree on the row within the zone and differ only
     * in which member of the zone takes a chunk: before 3.14 md counted
     * chunks from the start of the array, since then from the zone. */
    uint64_t order = l->desc.raid0_zones == RS_RAID0_ZONES_ORIGINAL ? chunk : zone_chunk;
    uint64_t row = zone_chunk / z->member_count;
    e->member = nth_member(z->members, (uint32_t)(order % z->member_count));
    e->member_sector = z->member_start + (row << l->chunk_shift) + offset;
    e->sectors = min_u64(count, l->desc.chunk_sectors - offset);
    e->row = e->member_sector >> l->chunk_shift;
}

static void map_raid5(const struct rs_layout *l, uint64_t s, uint64_t count, struct rs_extent *e)
{
    uint64_t chunk = s >> l->chunk_shift, offset = s & (l->desc.chunk_sectors - 1);
    uint64_t row = chunk / l->data_members;
    uint32_t k = (uint32_t)(chunk % l->data_members);
    uint32_t parity = raid5_parity_member(l, row);
    e->member = raid5_data_member(l, parity, k);
    e->member_sector = (row << l->chunk_shift) + offset;
    e->sectors = min_u64(count, l->desc.chunk_sectors - offset);
    e->row = row;
    e->parity_member = parity;
    e->data_index = k;
}

static void map_raid10(const struct rs_layout *l, uint64_t s, uint64_t count, struct rs_extent *e)
{
    uint64_t chunk = s >> l->chunk_shift, offset = s & (l->desc.chunk_sectors - 1);
    uint64_t position = chunk * l->desc.copies;
    e->member = (uint32_t)(position % l->desc.member_count);
    e->member_sector = ((position / l->desc.member_count) << l->chunk_shift) + offset;
    e->sectors = min_u64(count, l->desc.chunk_sectors - offset);
    e->copies = l->desc.copies;
    e->row = e->member_sector >> l->chunk_shift;
}

/* md raid5_compute_sector: the parity member of row r. */
static uint32_t raid5_parity_member(const struct rs_layout *l, uint64_t row)
{
    uint32_t n = l->desc.member_count, r = (uint32_t)(row % n);
    switch (l->desc.algorithm) {
    case RS_RAID5_LEFT_ASYMMETRIC:
    case RS_RAID5_LEFT_SYMMETRIC:
        return l->data_members - r;
    case RS_RAID5_RIGHT_ASYMMETRIC:
    case RS_RAID5_RIGHT_SYMMETRIC:
        return r;
    case RS_RAID5_PARITY_FIRST:
        return 0;
    default: /* RS_RAID5_PARITY_LAST */
        return l->data_members;
    }
}

/* The member of data chunk k in a row whose parity is on `parity`: the
 * asymmetric layouts skip the parity member, the symmetric ones start just
 * after it and wrap around. */
static uint32_t raid5_data_member(const struct rs_layout *l, uint32_t parity, uint32_t k)
{
    switch (l->desc.algorithm) {
    case RS_RAID5_LEFT_SYMMETRIC:
    case RS_RAID5_RIGHT_SYMMETRIC:
        return (parity + 1 + k) % l->desc.member_count;
    default:
        return k >= parity ? k + 1 : k;
    }
}

/* --- inverse map ---------------------------------------------------------- */

static void unmap_raid0(const struct rs_layout *l, uint32_t m, uint64_t ms, struct rs_member_use *u)
{
    /* ms is below the member's usable size, so some zone from the member's
     * point of view holds it, and the member belongs to that zone. */
    uint32_t zi = 0;
    while (zi + 1 < l->zone_count && ms >= l->zones[zi + 1].member_start)
        zi++;
    const struct rs_layout_zone *z = &l->zones[zi];
    uint64_t in_zone = ms - z->member_start;
    uint64_t row = in_zone >> l->chunk_shift, offset = in_zone & (l->desc.chunk_sectors - 1);
    uint32_t n = z->member_count;
    uint32_t index = popcount64(z->members & ((UINT64_C(1) << m) - 1));
    uint64_t zone_chunk;
    if (l->desc.raid0_zones == RS_RAID0_ZONES_ORIGINAL) {
        /* The row's chunks are n consecutive array chunks; ours is the one
         * whose array chunk number is `index` modulo n. */
        uint64_t first = z->start_chunk + row * n;
        uint32_t first_index = (uint32_t)(first % n);
        zone_chunk = row * n + (index + n - first_index) % n;
    } else {
        zone_chunk = row * n + index;
    }
    u->logical = ((z->start_chunk + zone_chunk) << l->chunk_shift) + offset;
}

static void unmap_raid5(const struct rs_layout *l, uint32_t m, uint64_t ms, struct rs_member_use *u)
{
    uint64_t row = ms >> l->chunk_shift, offset = ms & (l->desc.chunk_sectors - 1);
    uint32_t n = l->desc.member_count;
    uint32_t parity = raid5_parity_member(l, row);
    u->row = row;
    if (m == parity) {
        u->role = RS_MEMBER_PARITY;
        return;
    }
    uint32_t k;
    switch (l->desc.algorithm) {
    case RS_RAID5_LEFT_SYMMETRIC:
    case RS_RAID5_RIGHT_SYMMETRIC:
        k = (m + n - parity - 1) % n;
        break;
    default:
        k = m > parity ? m - 1 : m;
        break;
    }
    u->logical = ((row * l->data_members + k) << l->chunk_shift) + offset;
}

static void unmap_raid10(const struct rs_layout *l, uint32_t m, uint64_t ms,
                         struct rs_member_use *u)
{
    uint64_t row = ms >> l->chunk_shift, offset = ms & (l->desc.chunk_sectors - 1);
    uint64_t position = row * l->desc.member_count + m;
    uint64_t chunk = position / l->desc.copies;
    if (chunk >= l->sectors >> l->chunk_shift) {
        u->role = RS_MEMBER_UNUSED; /* members * rows not a multiple of copies */
        return;
    }
    u->copy = (uint32_t)(position % l->desc.copies);
    u->logical = (chunk << l->chunk_shift) + offset;
}

static uint32_t nth_member(uint64_t members, uint32_t index)
{
    for (uint32_t i = 0; i < index; i++)
        members &= members - 1; /* drop the lowest member */
    return (uint32_t)__builtin_ctzll(members);
}

static uint32_t popcount64(uint64_t x)
{
    return (uint32_t)__builtin_popcountll(x);
}

/* --- names ---------------------------------------------------------------- */

struct name_value {
    const char *name;
    int value;
};

/* The first name of each value is the canonical one; md's short forms for
 * the RAID-5 algorithms are accepted too. */
static const struct name_value level_names[] = {
    {"linear", RS_LAYOUT_LINEAR}, {"raid0", RS_LAYOUT_RAID0},
    {"raid1", RS_LAYOUT_RAID1},   {"raid5", RS_LAYOUT_RAID5},
    {"raid10", RS_LAYOUT_RAID10}, {"0", RS_LAYOUT_RAID0},
    {"1", RS_LAYOUT_RAID1},       {"5", RS_LAYOUT_RAID5},
    {"10", RS_LAYOUT_RAID10},     {NULL, 0},
};
static const struct name_value algorithm_names[] = {
    {"left-asymmetric", RS_RAID5_LEFT_ASYMMETRIC},
    {"right-asymmetric", RS_RAID5_RIGHT_ASYMMETRIC},
    {"left-symmetric", RS_RAID5_LEFT_SYMMETRIC},
    {"right-symmetric", RS_RAID5_RIGHT_SYMMETRIC},
    {"parity-first", RS_RAID5_PARITY_FIRST},
    {"parity-last", RS_RAID5_PARITY_LAST},
    {"la", RS_RAID5_LEFT_ASYMMETRIC},
    {"ra", RS_RAID5_RIGHT_ASYMMETRIC},
    {"ls", RS_RAID5_LEFT_SYMMETRIC},
    {"rs", RS_RAID5_RIGHT_SYMMETRIC},
    {NULL, 0},
};
static const struct name_value zones_names[] = {
    {"unspecified", RS_RAID0_ZONES_UNSPECIFIED},
    {"original", RS_RAID0_ZONES_ORIGINAL},
    {"alternate", RS_RAID0_ZONES_ALTERNATE},
    {NULL, 0},
};

static const char *name_of(const struct name_value *table, int value)
{
    for (; table->name; table++)
        if (table->value == value)
            return table->name;
    return NULL;
}

static int value_of(const struct name_value *table, const char *name)
{
    if (!name)
        return RSHARE_EINVAL;
    for (; table->name; table++)
        if (strcmp(table->name, name) == 0)
            return table->value;
    return RSHARE_EINVAL;
}

const char *rs_layout_level_name(enum rs_layout_level level)
{
    return name_of(level_names, (int)level);
}

int rs_layout_level_parse(const char *name)
{
    return value_of(level_names, name);
}

const char *rs_raid5_algorithm_name(enum rs_raid5_algorithm algorithm)
{
    return name_of(algorithm_names, (int)algorithm);
}

int rs_raid5_algorithm_parse(const char *name)
{
    return value_of(algorithm_names, name);
}

const char *rs_raid0_zones_name(enum rs_raid0_zones zones)
{
    return name_of(zones_names, (int)zones);
}

int rs_raid0_zones_parse(const char *name)
{
    return value_of(zones_names, name);
}
