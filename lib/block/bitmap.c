/* rshare block — the write-intent bitmap (see bitmap.h).
 *
 * Record: "RSBM", format 1, flags (1 = clean shutdown), regions, keys per
 * region (big-endian u16, u16, u64, u64), then the bits, region 0 in the
 * low bit of byte 0. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "bitmap.h"
#include "core/core.h"
#include "core/endian.h"

#define RECORD_HEADER 24
#define RECORD_FORMAT 1u

static size_t bit_bytes(const struct rs_bitmap *bm)
{
    return rs_region_set_bytes(bm->regions);
}

static int store(rshare_node *node, struct rs_bitmap *bm)
{
    if (!bm->durable)
        return 0;
    size_t len = RECORD_HEADER + bit_bytes(bm);
    uint8_t *rec = rs_malloc(node, len);
    if (!rec)
        return RSHARE_ENOMEM;
    memcpy(rec, "RSBM", 4);
    rs_put16(rec + 4, RECORD_FORMAT);
    rs_put16(rec + 6, bm->clean ? 1 : 0);
    rs_put64(rec + 8, bm->regions);
    rs_put64(rec + 16, bm->keys_per_region);
    memcpy(rec + RECORD_HEADER, bm->bits, bit_bytes(bm));
    int rc = rs_persist_store(node, bm->key, rec, len);
    rs_free(node, rec);
    return rc;
}

static void set_all(struct rs_bitmap *bm)
{
    memset(bm->bits, 0xff, bit_bytes(bm));
    if (bm->regions & 7)
        bm->bits[bit_bytes(bm) - 1] = (uint8_t)((1u << (bm->regions & 7)) - 1);
    bm->dirty = bm->regions;
}

int rs_bitmap_init(rshare_node *node, struct rs_bitmap *bm, uint32_t volume_id, uint64_t keys,
                   uint64_t keys_per_region, bool *was_dirty)
{
    memset(bm, 0, sizeof(*bm));
    *was_dirty = false;
    if (keys_per_region == 0)
        return RSHARE_EINVAL;
    bm->keys_per_region = keys_per_region;
    bm->regions = keys ? (keys + keys_per_region - 1) / keys_per_region : 1;
    if (bm->regions > (1u << 24))
        return rs_errorf(node, RSHARE_EINVAL, "bitmap of %llu regions: use larger regions",
                         (unsigned long long)bm->regions);
    snprintf(bm->key, sizeof(bm->key), "volume-%u-bitmap", (unsigned)volume_id);
    bm->bits = rs_calloc(node, bit_bytes(bm), 1);
    bm->writes = rs_calloc(node, (size_t)bm->regions, sizeof(*bm->writes));
    bm->last_write_us = rs_calloc(node, (size_t)bm->regions, sizeof(*bm->last_write_us));
    if (!bm->bits || !bm->writes || !bm->last_write_us) {
        rs_bitmap_fini(node, bm);
        return RSHARE_ENOMEM;
    }
    bm->durable = rs_persist_available(node);
    if (!bm->durable)
        return 0;
    size_t len = RECORD_HEADER + bit_bytes(bm);
    uint8_t *rec = rs_malloc(node, len);
    if (!rec) {
        rs_bitmap_fini(node, bm);
        return RSHARE_ENOMEM;
    }
    int got = rs_persist_load(node, bm->key, rec, len);
    if (got == RSHARE_ENOENT) {
        rs_free(node, rec);
        bm->clean = true; /* never written */
        return 0;
    }
    if (got == (int)len && memcmp(rec, "RSBM", 4) == 0 &&
        rs_get16(rec + 4) == RECORD_FORMAT && rs_get64(rec + 8) == bm->regions &&
        rs_get64(rec + 16) == keys_per_region) {
        memcpy(bm->bits, rec + RECORD_HEADER, bit_bytes(bm));
        for (uint64_t r = 0; r < bm->regions; r++)
            bm->dirty += rs_bitmap_test(bm, r);
        bm->clean = rs_get16(rec + 6) & 1;
    } else {
        /* Unreadable or another geometry: resync everything (safe). */
        rs_log_warn(node, "%s: record unusable (%d), treating every region as dirty", bm->key,
                    got);
        set_all(bm);
    }
    rs_free(node, rec);
    *was_dirty = !bm->clean && bm->dirty != 0;
    return 0;
}

void rs_bitmap_fini(rshare_node *node, struct rs_bitmap *bm)
{
    rs_free(node, bm->bits);
    rs_free(node, bm->writes);
    rs_free(node, bm->last_write_us);
    bm->bits = NULL;
    bm->writes = NULL;
    bm->last_write_us = NULL;
}

int rs_bitmap_write_begin(rshare_node *node, struct rs_bitmap *bm, uint64_t start, uint64_t end)
{
    bool changed = false;
    uint64_t first = rs_bitmap_region(bm, start), last = rs_bitmap_region(bm, end - 1);
    for (uint64_t r = first; r <= last && r < bm->regions; r++) {
        bm->writes[r]++;
        if (!rs_bitmap_test(bm, r)) {
            rs_region_set_add(bm->bits, r);
            bm->dirty++;
            changed = true;
        }
    }
    if (bm->clean) {
        bm->clean = false;
        changed = true;
    }
    int rc = changed ? store(node, bm) : 0;
    if (rc < 0)
        rs_bitmap_write_end(node, bm, start, end); /* the bits stay set: harmless */
    return rc;
}

void rs_bitmap_write_end(rshare_node *node, struct rs_bitmap *bm, uint64_t start, uint64_t end)
{
    uint64_t now = rs_now_us(node);
    uint64_t first = rs_bitmap_region(bm, start), last = rs_bitmap_region(bm, end - 1);
    for (uint64_t r = first; r <= last && r < bm->regions; r++) {
        if (bm->writes[r])
            bm->writes[r]--;
        bm->last_write_us[r] = now;
    }
}

int rs_bitmap_clean(rshare_node *node, struct rs_bitmap *bm, uint64_t delay_us)
{
    if (bm->dirty == 0)
        return 0;
    uint64_t now = rs_now_us(node);
    bool changed = false;
    for (uint64_t r = 0; r < bm->regions; r++) {
        if (!rs_bitmap_test(bm, r) || bm->writes[r] ||
            (delay_us && now - bm->last_write_us[r] < delay_us))
            continue;
        bm->bits[r >> 3] &= (uint8_t) ~(1u << (r & 7));
        bm->dirty--;
        changed = true;
    }
    return changed ? store(node, bm) : 0;
}

int rs_bitmap_shutdown(rshare_node *node, struct rs_bitmap *bm, bool in_sync)
{
    if (in_sync && bm->dirty) {
        memset(bm->bits, 0, bit_bytes(bm));
        bm->dirty = 0;
    }
    bm->clean = true;
    return store(node, bm);
}
