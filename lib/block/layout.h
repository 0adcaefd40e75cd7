/* rshare block — volume layouts: where each logical sector of a volume lives
 * on its members (forward map) and what each member sector holds (inverse
 * map).  Pure arithmetic, bit-compatible with Linux md at data offset 0;
 * addresses are 512-byte sectors.  See doc/VOLUMES.md for the formulas. */
#ifndef RSHARE_BLOCK_LAYOUT_H
#define RSHARE_BLOCK_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

/* Limits.  Sizes are capped so that byte offsets (sectors * 512) always fit
 * an off_t; chunks are powers of two so that md's arithmetic is exact. */
#define RS_LAYOUT_MAX_MEMBERS 64
#define RS_LAYOUT_MAX_SECTORS ((uint64_t)INT64_MAX / 512)
#define RS_LAYOUT_MIN_CHUNK_SECTORS 8          /* 4 KiB */
#define RS_LAYOUT_MAX_CHUNK_SECTORS (1u << 21) /* 1 GiB */
#define RS_LAYOUT_NO_MEMBER 0xffffu

enum rs_layout_level {
    RS_LAYOUT_LINEAR = 1,
    RS_LAYOUT_RAID0 = 2,
    RS_LAYOUT_RAID1 = 3,
    RS_LAYOUT_RAID5 = 4,
    RS_LAYOUT_RAID10 = 5 /* md "near" layout */
};

/* md's RAID-5 layout numbers, kept identical so that a description can be
 * handed to mdadm (--layout) unchanged. */
enum rs_raid5_algorithm {
    RS_RAID5_LEFT_ASYMMETRIC = 0,
    RS_RAID5_RIGHT_ASYMMETRIC = 1,
    RS_RAID5_LEFT_SYMMETRIC = 2, /* md's default */
    RS_RAID5_RIGHT_SYMMETRIC = 3,
    RS_RAID5_PARITY_FIRST = 4,
    RS_RAID5_PARITY_LAST = 5
};

/* md's two incompatible placements of chunks in the second and later strip
 * zones of a RAID-0 whose members differ in size (md's raid0 layout numbers).
 * Which one a set of members was written with cannot be detected from the
 * data, so a multi-zone RAID-0 refuses to map without one. */
enum rs_raid0_zones {
    RS_RAID0_ZONES_UNSPECIFIED = 0, /* only valid while there is one zone */
    RS_RAID0_ZONES_ORIGINAL = 1,    /* Linux before 3.14: chunk order by array sector */
    RS_RAID0_ZONES_ALTERNATE = 2    /* Linux 3.14 and later: by sector within the zone */
};

/* What a volume's descriptor records about its layout: everything needed to
 * recompute every address.  Fields not used by a level must be 0. */
struct rs_layout_desc {
    enum rs_layout_level level;
    uint32_t member_count;  /* 1..RS_LAYOUT_MAX_MEMBERS (RAID-5: 2.., RAID-10: copies..) */
    uint32_t chunk_sectors; /* power of two, 8..2^21; linear: rounding, 0 = none; RAID-1: 0 */
    uint32_t algorithm;     /* RAID-5: enum rs_raid5_algorithm */
    uint32_t raid0_zones;   /* RAID-0: enum rs_raid0_zones */
    uint32_t copies;        /* RAID-10: near copies, 1..member_count */
    uint64_t member_sectors[RS_LAYOUT_MAX_MEMBERS]; /* raw size of each member */
};

/* A RAID-0 strip zone: the logical range [start, end) striped over the
 * members in `members` (a bit per member, in member order) from member
 * sector `member_start` on. */
struct rs_layout_zone {
    uint64_t start, end;
    uint64_t member_start;
    uint64_t start_chunk; /* start in chunks */
    uint64_t members;
    uint32_t member_count;
};

/* A checked, ready-to-map layout: built once by rs_layout_init(), then only
 * read; mapping never allocates. */
struct rs_layout {
    struct rs_layout_desc desc;
    uint64_t sectors;                                   /* logical size */
    uint64_t member_usable[RS_LAYOUT_MAX_MEMBERS];      /* sectors the layout uses */
    uint64_t member_start[RS_LAYOUT_MAX_MEMBERS];       /* linear: logical start */
    uint32_t chunk_shift;                               /* log2(chunk_sectors), 0 if none */
    uint32_t data_members;                              /* RAID-5: members - 1 */
    uint32_t zone_count;                                /* RAID-0 */
    struct rs_layout_zone zones[RS_LAYOUT_MAX_MEMBERS]; /* RAID-0 */
};

/* One piece of a logical range that lies on one member (and, for mirrors,
 * at the same offsets of every copy): it never crosses a chunk boundary of a
 * striped layout, nor a member boundary of a linear one. */
struct rs_extent {
    uint64_t logical;       /* first logical sector */
    uint64_t sectors;       /* length */
    uint64_t member_sector; /* where the first copy starts */
    uint64_t row;           /* RAID-5: the stripe row; others: member chunk index */
    uint32_t member;        /* the first copy's member */
    uint32_t copies;        /* 1, or the number of mirrors (rs_layout_copy) */
    uint32_t parity_member; /* RAID-5: the row's parity member, else RS_LAYOUT_NO_MEMBER */
    uint32_t data_index;    /* RAID-5: chunk index within the row, 0..members-2 */
};

/* What one member sector holds. */
enum rs_member_role {
    RS_MEMBER_DATA = 1,   /* a logical sector (one copy of it for mirrors) */
    RS_MEMBER_PARITY = 2, /* RAID-5 parity of row `row` */
    RS_MEMBER_UNUSED = 3  /* RAID-10: the unused tail position of the last row */
};

struct rs_member_use {
    enum rs_member_role role;
    uint64_t logical; /* DATA */
    uint64_t row;     /* PARITY and RAID-5 DATA: the stripe row */
    uint32_t copy;    /* DATA of mirrors: which copy this is (0 = first) */
};

/* A RAID-5 row: which member holds parity and each data chunk. */
struct rs_stripe {
    uint64_t row;
    uint64_t member_sector; /* where the row starts on every member */
    uint64_t logical;       /* first logical sector of the row's data */
    uint32_t parity_member;
    uint32_t data_count;
    uint8_t data_member[RS_LAYOUT_MAX_MEMBERS]; /* data chunk k lives on member data_member[k] */
};

/* Checks a description and prepares it for mapping.  RSHARE_EINVAL for any
 * inconsistency (unknown level or algorithm, bad member count or chunk, a
 * member smaller than one chunk, a size past RS_LAYOUT_MAX_SECTORS, a
 * multi-zone RAID-0 without a zone variant, a field set that the level does
 * not use). */
int rs_layout_init(struct rs_layout *layout, const struct rs_layout_desc *desc);

/* Forward map of the first piece of [sector, sector + count): returns 0 and
 * fills `out` (out->sectors <= count), RSHARE_EINVAL when count is 0 or the
 * range passes the end of the volume. */
int rs_layout_map(const struct rs_layout *layout, uint64_t sector, uint64_t count,
                  struct rs_extent *out);

/* Forward map of a whole range into `out`: returns the number of extents,
 * RSHARE_EINVAL as rs_layout_map(), RSHARE_EMSGSIZE when more than
 * `capacity` are needed (rs_layout_max_extents() says how many may be). */
int rs_layout_map_range(const struct rs_layout *layout, uint64_t sector, uint64_t count,
                        struct rs_extent *out, size_t capacity);

/* An upper bound of the extents a range of `count` sectors maps to. */
uint64_t rs_layout_max_extents(const struct rs_layout *layout, uint64_t count);

/* Where copy `copy` (0..extent->copies-1) of a mirrored extent lives. */
int rs_layout_copy(const struct rs_layout *layout, const struct rs_extent *extent, uint32_t copy,
                   uint32_t *member, uint64_t *member_sector);

/* Inverse map: what sector `member_sector` of member `member` holds.
 * RSHARE_EINVAL for a member out of range or a sector past the part of the
 * member the layout uses. */
int rs_layout_unmap(const struct rs_layout *layout, uint32_t member, uint64_t member_sector,
                    struct rs_member_use *out);

/* RAID-5 row geometry; RSHARE_EINVAL for another level or a row past the end. */
int rs_layout_stripe(const struct rs_layout *layout, uint64_t row, struct rs_stripe *out);

/* Number of RAID-5 rows (the member chunks every member uses); 0 for other levels. */
uint64_t rs_layout_rows(const struct rs_layout *layout);

/* Names used on command lines and in documents ("left-symmetric", "raid5",
 * "original"); NULL for values out of range.  Parsers return the value or
 * RSHARE_EINVAL. */
const char *rs_layout_level_name(enum rs_layout_level level);
int rs_layout_level_parse(const char *name);
const char *rs_raid5_algorithm_name(enum rs_raid5_algorithm algorithm);
int rs_raid5_algorithm_parse(const char *name);
const char *rs_raid0_zones_name(enum rs_raid0_zones zones);
int rs_raid0_zones_parse(const char *name);

#endif
