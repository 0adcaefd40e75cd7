/* rshare block — the write-intent bitmap of a volume: one bit per region
 * of the volume's key space (RAID-5 rows, mirror sectors), set and made
 * durable before the first write to a clean region, cleared lazily when
 * the region has been idle for a while and every member is in sync.  After
 * a crash the set bits say which regions to resync; while a member is
 * away they say what it missed. */
#ifndef RSHARE_BLOCK_BITMAP_H
#define RSHARE_BLOCK_BITMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rshare_node rshare_node;

struct rs_bitmap {
    uint64_t regions;
    uint64_t keys_per_region;
    uint8_t *bits;            /* the durable image: 1 = region may be out of sync */
    uint32_t *writes;         /* writes in flight per region */
    uint64_t *last_write_us;  /* when the last write to the region ended */
    uint64_t dirty;           /* bits set */
    char key[40];             /* persistence record name */
    bool durable;             /* the node has persistence */
    bool clean;               /* stored as shut down cleanly (bits only track absences) */
};

/* Set up for `keys` keys in regions of `keys_per_region`, loading the bits
 * left by an earlier run of volume `volume_id`.  `*was_dirty` tells whether
 * any was set while the volume was not shut down cleanly.  A record of another
 * geometry counts as all dirty. */
int rs_bitmap_init(rshare_node *node, struct rs_bitmap *bm, uint32_t volume_id, uint64_t keys,
                   uint64_t keys_per_region, bool *was_dirty);
void rs_bitmap_fini(rshare_node *node, struct rs_bitmap *bm);

/* Clean shutdown: clear every bit when `in_sync` (else the bits keep
 * saying what an absent member missed) and store the bitmap as clean. */
int rs_bitmap_shutdown(rshare_node *node, struct rs_bitmap *bm, bool in_sync);

/* A write to keys [start, end) begins: its regions are marked (and the
 * bitmap stored before this returns when a bit was newly set).  A failure
 * to store is returned: the write must not go ahead. */
int rs_bitmap_write_begin(rshare_node *node, struct rs_bitmap *bm, uint64_t start, uint64_t end);
void rs_bitmap_write_end(rshare_node *node, struct rs_bitmap *bm, uint64_t start, uint64_t end);

/* Clear the bits of regions idle for `delay_us` (all of them when
 * `delay_us` is 0 and nothing is in flight); stores the bitmap if a bit
 * changed. */
int rs_bitmap_clean(rshare_node *node, struct rs_bitmap *bm, uint64_t delay_us);

static inline uint64_t rs_bitmap_region(const struct rs_bitmap *bm, uint64_t key)
{
    return key / bm->keys_per_region;
}

/* Region sets: one bit per region, region 0 in the low bit of byte 0 (the
 * bitmap's own bits, and the copies sweeps and resyncs work from). */
static inline size_t rs_region_set_bytes(uint64_t regions)
{
    return (size_t)((regions + 7) / 8);
}

static inline bool rs_region_set_has(const uint8_t *set, uint64_t region)
{
    return (set[region >> 3] >> (region & 7)) & 1;
}

static inline void rs_region_set_add(uint8_t *set, uint64_t region)
{
    set[region >> 3] |= (uint8_t)(1u << (region & 7));
}

static inline bool rs_bitmap_test(const struct rs_bitmap *bm, uint64_t region)
{
    return rs_region_set_has(bm->bits, region);
}

#endif
