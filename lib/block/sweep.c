/* rshare block — background sweeps over a volume: rebuild a member from
 * the others, resync regions a crash left dirty, scrub (check or repair).
 *
 * A sweep walks the key space in order, in units of at most
 * rebuild_step_sectors: a window of one RAID-5 row (under the row's lock),
 * or one mirrored extent (under its logical range's lock), so foreground
 * writes and the sweep never interleave on the same blocks.  A RAID-5
 * rebuild or check of an idle volume takes several whole rows per unit (as
 * many as rebuild_step_sectors holds): a member's chunks of consecutive
 * rows are consecutive on the member, and the lost member is the XOR of
 * all the others whichever of them holds parity (a row is consistent when
 * the XOR of all its members is zero), so each member is read with one
 * request and a rebuild's target written with one.  Up to four
 * units are in flight while the volume is idle, one at a time with a pause
 * between them while it is busy.  A rebuild's progress is the lowest key
 * not yet done; it is stored every second so a restart resumes there. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "core/endian.h"
#include "core/shared.h"
#include "engine.h"
#include "xor.h"

#define SWEEP_DEPTH_IDLE 4
#define SWEEP_PAUSE_BUSY_US 2000
#define SWEEP_STORE_EVERY_US 1000000
#define COMPARE_BLOCK 4096u

struct unit {
    struct rs_sweep *sw;
    uint64_t key;          /* row, or first logical sector */
    struct rs_extent ext;  /* mirrors: the extent */
    uint64_t lo, hi;       /* RAID-5: window in the chunk */
    uint64_t rows;         /* RAID-5: rows from key on (more than 1: whole chunks) */
    struct rs_range_lock lock;
    uint8_t *mem, *buf[RS_LAYOUT_MAX_MEMBERS + 1];
    uint32_t outstanding;
    int status;
    bool writing;
    struct unit *prev, *next;
    struct rs_mio mio[RS_LAYOUT_MAX_MEMBERS];
};

struct rs_sweep {
    rshare_volume *vol;
    enum rs_sweep_kind kind;
    uint32_t target;
    uint64_t pos, sub;     /* next key to hand out (and window start in it) */
    uint64_t failed_key;   /* lowest key of a unit that failed (UINT64_MAX: none) */
    bool forgotten;        /* its target was re-added: its checkpoint is stored no more */
    uint8_t *regions;      /* only regions whose bit is set, or NULL: all */
    struct unit *units;    /* in flight, in key order */
    uint32_t unit_count;
    uint64_t mismatches;
    uint64_t last_store_us;
    bool stopping;
    bool filling; /* inside sweep_fill() */
    int status;
    rs_sweep_done_fn done;
    void *user_data;
    struct rs_timer pace;
};

static bool region_selected(const struct rs_sweep *sw, uint64_t key)
{
    if (!sw->regions)
        return true;
    uint64_t r = rs_bitmap_region(&sw->vol->bitmap, key);
    return rs_region_set_has(sw->regions, r);
}

/* The first key after `key`'s bitmap region. */
static uint64_t region_end(const rshare_volume *vol, uint64_t key)
{
    return (rs_bitmap_region(&vol->bitmap, key) + 1) * vol->bitmap.keys_per_region;
}

static uint64_t unit_span(const rshare_volume *vol)
{
    return vol->parity ? (uint64_t)vol->layout.desc.chunk_sectors : 1;
}

/* Lowest key not completely done: a unit that failed is not done. */
static uint64_t checkpoint(const struct rs_sweep *sw)
{
    uint64_t at = sw->units && sw->units->key < sw->pos ? sw->units->key : sw->pos;
    return sw->failed_key < at ? sw->failed_key : at;
}

static void rebuild_store(struct rs_sweep *sw, bool force)
{
    rshare_volume *vol = sw->vol;
    if (sw->kind != RS_SWEEP_REBUILD || sw->forgotten || !rs_persist_available(vol->node))
        return;
    uint64_t now = rs_now_us(vol->node);
    if (!force && now - sw->last_store_us < SWEEP_STORE_EVERY_US)
        return;
    sw->last_store_us = now;
    uint8_t rec[20];
    char key[40];
    memcpy(rec, "RSRB", 4);
    rs_put64(rec + 4, vol->m[sw->target].resource);
    rs_put64(rec + 12, checkpoint(sw));
    snprintf(key, sizeof(key), "volume-%u-rebuild", (unsigned)vol->desc.id);
    if (rs_persist_store(vol->node, key, rec, sizeof(rec)) < 0)
        rs_log_warn(vol->node, "volume %s: rebuild progress not stored: %s", vol->desc.name,
                    rshare_node_errmsg(vol->node));
}

uint64_t rs_sweep_resume_point(rshare_volume *vol, uint32_t target)
{
    uint8_t rec[20];
    char key[40];
    snprintf(key, sizeof(key), "volume-%u-rebuild", (unsigned)vol->desc.id);
    if (!rs_persist_available(vol->node) ||
        rs_persist_load(vol->node, key, rec, sizeof(rec)) != (int)sizeof(rec) ||
        memcmp(rec, "RSRB", 4) != 0 || rs_get64(rec + 4) != vol->m[target].resource)
        return 0;
    uint64_t at = rs_get64(rec + 12);
    return at <= vol->keys ? at : 0;
}

void rs_sweep_forget(rshare_volume *vol, uint32_t target)
{
    /* A rebuild of it still winding down must not store its place later. */
    if (vol->sweep && vol->sweep->kind == RS_SWEEP_REBUILD && vol->sweep->target == target)
        vol->sweep->forgotten = true;
    if (rs_sweep_resume_point(vol, target) == 0)
        return;
    uint8_t rec[20];
    char key[40];
    memcpy(rec, "RSRB", 4);
    rs_put64(rec + 4, vol->m[target].resource);
    rs_put64(rec + 12, 0);
    snprintf(key, sizeof(key), "volume-%u-rebuild", (unsigned)vol->desc.id);
    if (rs_persist_store(vol->node, key, rec, sizeof(rec)) < 0)
        rs_log_warn(vol->node, "volume %s: rebuild progress not reset: %s", vol->desc.name,
                    rshare_node_errmsg(vol->node));
}

static void sweep_fill(struct rs_sweep *sw);

static void sweep_finish(struct rs_sweep *sw)
{
    rshare_volume *vol = sw->vol;
    int status = sw->stopping && sw->status == 0 ? RSHARE_ECANCELED : sw->status;
    if (sw->kind == RS_SWEEP_REBUILD)
        rebuild_store(sw, true);
    rs_timer_cancel(vol->node, &sw->pace);
    vol->sweep = NULL;
    rs_free(vol->node, sw->regions);
    rs_sweep_done_fn done = sw->done;
    void *user_data = sw->user_data;
    uint64_t mismatches = sw->mismatches;
    rs_free(vol->node, sw);
    done(vol, status, mismatches, user_data);
}

static void progress(struct rs_sweep *sw)
{
    rshare_volume *vol = sw->vol;
    uint64_t at = checkpoint(sw);
    if (sw->kind == RS_SWEEP_REBUILD) {
        vol->rebuild_checkpoint = at;
        vol->rebuild_done = at * unit_span(vol);
        rebuild_store(sw, false);
    } else if (sw->kind == RS_SWEEP_RESYNC) {
        vol->resync_cursor = at;
    }
    if (vol->cfg.progress && sw->kind != RS_SWEEP_CHECK && sw->kind != RS_SWEEP_REPAIR)
        vol->cfg.progress(vol, 0, at * unit_span(vol), vol->keys * unit_span(vol),
                          vol->cfg.progress_data);
}

static void unit_end(struct unit *u)
{
    struct rs_sweep *sw = u->sw;
    rshare_volume *vol = sw->vol;
    if (u->status < 0 && sw->status == 0)
        sw->status = u->status;
    if (u->status < 0 && u->key < sw->failed_key)
        sw->failed_key = u->key;
    rs_range_unlock(&vol->locks, &u->lock);
    if (u->prev)
        u->prev->next = u->next;
    else
        sw->units = u->next;
    if (u->next)
        u->next->prev = u->prev;
    sw->unit_count--;
    rs_shared_unref(vol->node, u->mem);
    rs_free(vol->node, u);
    progress(sw);
    if (sw->status < 0)
        sw->stopping = true;
    if (sw->filling)
        return; /* ended inside sweep_fill(), which goes on from here */
    if (sw->stopping || sw->pos >= vol->keys) {
        if (sw->unit_count == 0)
            sweep_finish(sw);
        return;
    }
    if (vol->inflight) {
        /* Foreground I/O: give it the members for a moment. */
        if (!rs_timer_pending(&sw->pace))
            rs_timer_schedule(vol->node, &sw->pace, rs_now_us(vol->node) + SWEEP_PAUSE_BUSY_US);
        return;
    }
    sweep_fill(sw);
}

/* The status a unit keeps from a member I/O that failed.  A scrub skips
 * what it cannot read or write; a rebuild cannot go on; a resync that a
 * member host refused (access, or a map version this node has not caught
 * up with) has not made the copies agree, and stays owed. */
static int unit_error(const struct rs_sweep *sw, int status)
{
    if (sw->kind == RS_SWEEP_REBUILD || (sw->kind == RS_SWEEP_RESYNC && rs_vol_refusal(status)))
        return status;
    return 0;
}

/* A read of the unit failed: keep the first failure, or a refusal over it
 * (unit_error() lets a resync skip neither). */
static void unit_read_status(struct unit *u, int status)
{
    if (status < 0 && (u->status == 0 || rs_vol_refusal(status)))
        u->status = status;
}

static void unit_io(struct unit *u, uint32_t member, uint32_t op, uint64_t sector,
                    uint64_t sectors, void *buf, rs_mio_done_fn done)
{
    u->outstanding++;
    rs_mio_start(u->sw->vol, &u->mio[member], member, op, sector, sectors, buf, done, u);
}

static void unit_put(struct unit *u)
{
    if (--u->outstanding == 0)
        unit_end(u);
}

static void unit_written(struct rs_mio *mio, int status)
{
    struct unit *u = mio->owner;
    /* A member that fails to take the write is failed by then: a rebuild
     * onto it stops (the volume sees to that), a repair just counts. */
    if (status < 0 && u->status == 0)
        u->status = unit_error(u->sw, status);
    unit_put(u);
}

/* --- RAID-5 rows ---------------------------------------------------------------------- */

static void row_unit_compute(struct unit *u);

static void row_unit_read(struct rs_mio *mio, int status)
{
    struct unit *u = mio->owner;
    unit_read_status(u, status);
    if (--u->outstanding == 0)
        row_unit_compute(u);
}

static void row_unit_compute(struct unit *u)
{
    struct rs_sweep *sw = u->sw;
    rshare_volume *vol = sw->vol;
    if (u->status < 0) {
        u->status = unit_error(sw, u->status);
        unit_end(u);
        return;
    }
    struct rs_stripe st;
    rs_layout_stripe(&vol->layout, u->key, &st);
    uint64_t sectors = u->rows * (u->hi - u->lo);
    size_t bytes = (size_t)sectors * 512u;
    const void *srcs[RS_LAYOUT_MAX_MEMBERS];
    size_t n = 0;
    uint32_t write_to;
    uint8_t *from;
    if (sw->kind == RS_SWEEP_REBUILD) {
        for (uint32_t j = 0; j < vol->desc.member_count; j++)
            if (j != sw->target)
                srcs[n++] = u->buf[j];
        rs_xor_gen(u->buf[sw->target], srcs, n, bytes);
        write_to = sw->target;
        from = u->buf[sw->target];
    } else if (u->rows > 1) {
        /* A check of several rows: a row is consistent when the XOR of all
         * its members (data and parity) is zero. */
        uint8_t *sum = u->buf[vol->desc.member_count];
        for (uint32_t j = 0; j < vol->desc.member_count; j++)
            srcs[n++] = u->buf[j];
        rs_xor_gen(sum, srcs, n, bytes);
        size_t row_bytes = (size_t)(u->hi - u->lo) * 512u;
        for (uint64_t r = 0; r < u->rows; r++) {
            const uint8_t *x = sum + r * row_bytes;
            struct rs_stripe sr;
            rs_layout_stripe(&vol->layout, u->key + r, &sr);
            if ((x[0] || memcmp(x, x + 1, row_bytes - 1)) && rs_vol_writable(vol, sr.parity_member))
                sw->mismatches++;
        }
        unit_end(u);
        return;
    } else {
        uint8_t *computed = u->buf[vol->desc.member_count];
        for (uint32_t k = 0; k < st.data_count; k++)
            srcs[n++] = u->buf[st.data_member[k]];
        rs_xor_gen(computed, srcs, n, bytes);
        if (memcmp(computed, u->buf[st.parity_member], bytes) == 0 ||
            !rs_vol_writable(vol, st.parity_member)) {
            unit_end(u);
            return;
        }
        sw->mismatches++;
        if (sw->kind == RS_SWEEP_CHECK) {
            unit_end(u);
            return;
        }
        write_to = st.parity_member;
        from = computed;
    }
    u->outstanding = 1;
    unit_io(u, write_to, RSHARE_BLOCK_WRITE, st.member_sector + u->lo, sectors, from,
            unit_written);
    unit_put(u); /* drop the guard */
}

static void row_unit_start(struct unit *u)
{
    struct rs_sweep *sw = u->sw;
    rshare_volume *vol = sw->vol;
    struct rs_stripe st;
    rs_layout_stripe(&vol->layout, u->key, &st);
    uint32_t n = vol->desc.member_count;
    for (uint32_t j = 0; j < n; j++)
        if ((sw->kind != RS_SWEEP_REBUILD || j != sw->target) &&
            !rs_vol_readable(vol, j, u->key + u->rows - 1)) {
            /* Not every member can be read: a rebuild cannot go on, a
             * scrub or resync of a degraded volume has nothing to compare.
             * (A member readable at the unit's last row is at the others:
             * a rebuild makes rows readable in order.) */
            u->status = sw->kind == RS_SWEEP_REBUILD ? RSHARE_EIO : 0;
            unit_end(u);
            return;
        }
    u->outstanding = 1;
    for (uint32_t j = 0; j < n; j++)
        if (sw->kind != RS_SWEEP_REBUILD || j != sw->target)
            unit_io(u, j, RSHARE_BLOCK_READ, st.member_sector + u->lo, u->rows * (u->hi - u->lo),
                    u->buf[j], row_unit_read);
    if (--u->outstanding == 0) /* drop the guard */
        row_unit_compute(u);
}

/* --- mirrors ------------------------------------------------------------------------------ */

static uint32_t copy_at(const rshare_volume *vol, const struct rs_extent *e, uint32_t c,
                        uint64_t *sector)
{
    uint32_t member;
    return rs_layout_copy(&vol->layout, e, c, &member, sector) < 0 ? RS_LAYOUT_NO_MEMBER : member;
}

static void mirror_unit_read(struct rs_mio *mio, int status)
{
    struct unit *u = mio->owner;
    struct rs_sweep *sw = u->sw;
    rshare_volume *vol = sw->vol;
    unit_read_status(u, status);
    if (--u->outstanding)
        return;
    if (u->status < 0) {
        u->status = unit_error(sw, u->status);
        unit_end(u);
        return;
    }
    size_t bytes = (size_t)u->ext.sectors * 512u;
    u->outstanding = 1;
    uint32_t primary = UINT32_MAX;
    for (uint32_t c = 0; c < u->ext.copies; c++) {
        uint64_t sector;
        uint32_t m = copy_at(vol, &u->ext, c, &sector);
        if (m == RS_LAYOUT_NO_MEMBER || !u->buf[c])
            continue;
        if (sw->kind == RS_SWEEP_REBUILD) {
            if (m != sw->target)
                primary = c; /* the copy that was read */
            continue;
        }
        if (primary == UINT32_MAX) {
            primary = c;
            continue;
        }
        /* Count differing 4 KiB blocks; repair copies that differ. */
        bool differs = false;
        for (size_t off = 0; off < bytes; off += COMPARE_BLOCK) {
            size_t len = bytes - off < COMPARE_BLOCK ? bytes - off : COMPARE_BLOCK;
            if (memcmp(u->buf[c] + off, u->buf[primary] + off, len) != 0) {
                sw->mismatches++;
                differs = true;
            }
        }
        if (differs && sw->kind != RS_SWEEP_CHECK && rs_vol_writable(vol, m))
            unit_io(u, m, RSHARE_BLOCK_WRITE, sector, u->ext.sectors, u->buf[primary],
                    unit_written);
    }
    if (sw->kind == RS_SWEEP_REBUILD && primary != UINT32_MAX) {
        for (uint32_t c = 0; c < u->ext.copies; c++) {
            uint64_t sector;
            if (copy_at(vol, &u->ext, c, &sector) == sw->target)
                unit_io(u, sw->target, RSHARE_BLOCK_WRITE, sector, u->ext.sectors,
                        u->buf[primary], unit_written);
        }
    }
    if (--u->outstanding == 0)
        unit_end(u);
}

static void mirror_unit_start(struct unit *u)
{
    struct rs_sweep *sw = u->sw;
    rshare_volume *vol = sw->vol;
    size_t bytes = (size_t)u->ext.sectors * 512u;
    bool has_target = false;
    uint32_t readable = 0;
    for (uint32_t c = 0; c < u->ext.copies; c++) {
        uint64_t sector;
        uint32_t m = copy_at(vol, &u->ext, c, &sector);
        if (m == sw->target && sw->kind == RS_SWEEP_REBUILD)
            has_target = true;
        else if (m != RS_LAYOUT_NO_MEMBER && rs_vol_readable(vol, m, u->key))
            readable++;
    }
    if ((sw->kind == RS_SWEEP_REBUILD && !has_target) ||
        (sw->kind != RS_SWEEP_REBUILD && readable < 2)) {
        unit_end(u); /* nothing to do here */
        return;
    }
    if (readable == 0) {
        u->status = RSHARE_EIO;
        unit_end(u);
        return;
    }
    u->outstanding = 1;
    for (uint32_t c = 0; c < u->ext.copies; c++) {
        uint64_t sector;
        uint32_t m = copy_at(vol, &u->ext, c, &sector);
        if (m == RS_LAYOUT_NO_MEMBER || (sw->kind == RS_SWEEP_REBUILD && m == sw->target) ||
            !rs_vol_readable(vol, m, u->key))
            continue;
        u->buf[c] = u->mem + c * bytes;
        unit_io(u, m, RSHARE_BLOCK_READ, sector, u->ext.sectors, u->buf[c], mirror_unit_read);
        if (sw->kind == RS_SWEEP_REBUILD)
            break; /* one good copy is enough */
    }
    u->outstanding--;
    if (u->outstanding == 0)
        unit_end(u);
}

/* --- handing out units --------------------------------------------------------------------- */

static void unit_granted(struct rs_range_lock *lock)
{
    struct unit *u = (struct unit *)((char *)lock - offsetof(struct unit, lock));
    if (u->sw->vol->parity)
        row_unit_start(u);
    else
        mirror_unit_start(u);
}

/* How many whole RAID-5 rows the next unit takes: several only for a
 * rebuild or a check (scrub without repair) of an idle volume at a row's
 * start, as many as rebuild_step_sectors holds, within the volume and the
 * region (a resumed rebuild may have regions), and only where the rows'
 * member sectors are consecutive (they are in every md RAID-5 layout). */
static uint64_t unit_rows(const struct rs_sweep *sw)
{
    rshare_volume *vol = sw->vol;
    uint64_t chunk = vol->layout.desc.chunk_sectors;
    bool whole_rows = sw->kind == RS_SWEEP_REBUILD || sw->kind == RS_SWEEP_CHECK;
    if (!whole_rows || sw->sub != 0 || vol->inflight || vol->cfg.rebuild_step_sectors < 2 * chunk)
        return 1;
    uint64_t rows = vol->cfg.rebuild_step_sectors / chunk;
    if (rows > vol->keys - sw->pos)
        rows = vol->keys - sw->pos;
    if (sw->regions && sw->pos + rows > region_end(vol, sw->pos))
        rows = region_end(vol, sw->pos) - sw->pos;
    struct rs_stripe first, last;
    if (rows < 2 || rs_layout_stripe(&vol->layout, sw->pos, &first) < 0 ||
        rs_layout_stripe(&vol->layout, sw->pos + rows - 1, &last) < 0 ||
        last.member_sector != first.member_sector + (rows - 1) * chunk)
        return 1;
    return rows;
}

/* The next unit from sw->pos on, or NULL when the sweep has handed out
 * everything (or memory is short: the sweep then stops with ENOMEM). */
static struct unit *next_unit(struct rs_sweep *sw)
{
    rshare_volume *vol = sw->vol;
    while (sw->pos < vol->keys && !region_selected(sw, sw->pos)) {
        uint64_t next = region_end(vol, sw->pos);
        sw->pos = next < vol->keys ? next : vol->keys;
        sw->sub = 0;
    }
    if (sw->pos >= vol->keys)
        return NULL;
    struct unit *u = rs_calloc(vol->node, 1, sizeof(*u));
    if (!u) {
        sw->status = RSHARE_ENOMEM;
        return NULL;
    }
    u->sw = sw;
    u->key = sw->pos;
    uint32_t n = vol->desc.member_count;
    size_t bytes;
    if (vol->parity) {
        uint64_t chunk = vol->layout.desc.chunk_sectors;
        uint64_t step = vol->cfg.rebuild_step_sectors < chunk ? vol->cfg.rebuild_step_sectors : chunk;
        u->rows = unit_rows(sw);
        u->lo = sw->sub;
        u->hi = u->rows > 1 || sw->sub + step >= chunk ? chunk : sw->sub + step;
        sw->sub = u->hi;
        if (sw->sub >= chunk) {
            sw->sub = 0;
            sw->pos += u->rows;
        }
        bytes = (size_t)(u->rows * (u->hi - u->lo)) * 512u;
        n += 1; /* room for computed parity */
    } else {
        uint64_t left = vol->keys - sw->pos;
        uint64_t step = vol->cfg.rebuild_step_sectors < left ? vol->cfg.rebuild_step_sectors : left;
        if (sw->regions && sw->pos + step > region_end(vol, sw->pos))
            step = region_end(vol, sw->pos) - sw->pos;
        if (rs_layout_map(&vol->layout, sw->pos, step, &u->ext) < 0) {
            rs_free(vol->node, u);
            sw->status = RSHARE_EIO;
            return NULL;
        }
        sw->pos += u->ext.sectors;
        bytes = (size_t)u->ext.sectors * 512u;
        n = u->ext.copies;
    }
    u->mem = rs_shared_alloc(vol->node, n * bytes + RS_XOR_ALIGN);
    if (!u->mem) {
        rs_free(vol->node, u);
        sw->status = RSHARE_ENOMEM;
        return NULL;
    }
    if (vol->parity) {
        uint8_t *p = u->mem + (RS_XOR_ALIGN - ((uintptr_t)u->mem & (RS_XOR_ALIGN - 1)));
        for (uint32_t j = 0; j < n; j++)
            u->buf[j] = p + j * bytes;
    }
    return u;
}

static void sweep_fill(struct rs_sweep *sw)
{
    rshare_volume *vol = sw->vol;
    uint32_t depth = vol->inflight ? 1 : SWEEP_DEPTH_IDLE;
    /* A unit may end inside this loop (nothing to do in it): unit_end()
     * then leaves the rest to this loop. */
    sw->filling = true;
    while (!sw->stopping && sw->status == 0 && sw->unit_count < depth) {
        struct unit *u = next_unit(sw);
        if (!u)
            break;
        /* Append: units are in key order. */
        struct unit **at = &sw->units, *prev = NULL;
        while (*at) {
            prev = *at;
            at = &(*at)->next;
        }
        u->prev = prev;
        *at = u;
        sw->unit_count++;
        uint64_t start = vol->parity ? u->key : u->ext.logical;
        uint64_t end = vol->parity ? u->key + u->rows : u->ext.logical + u->ext.sectors;
        if (rs_range_lock(&vol->locks, &u->lock, start, end, unit_granted))
            unit_granted(&u->lock);
    }
    sw->filling = false;
    if (sw->unit_count == 0)
        sweep_finish(sw);
}

static void sweep_paced(rshare_node *node, struct rs_timer *timer)
{
    (void)node;
    struct rs_sweep *sw = (struct rs_sweep *)((char *)timer - offsetof(struct rs_sweep, pace));
    sweep_fill(sw);
}

int rs_sweep_start(rshare_volume *vol, enum rs_sweep_kind kind, uint32_t target, uint64_t from,
                   uint8_t *regions, rs_sweep_done_fn done, void *user_data)
{
    if (vol->sweep) {
        rs_free(vol->node, regions);
        return RSHARE_EBUSY;
    }
    struct rs_sweep *sw = rs_calloc(vol->node, 1, sizeof(*sw));
    if (!sw) {
        rs_free(vol->node, regions);
        return RSHARE_ENOMEM;
    }
    sw->vol = vol;
    sw->kind = kind;
    sw->target = target;
    sw->pos = from;
    sw->failed_key = UINT64_MAX;
    sw->regions = regions;
    sw->done = done;
    sw->user_data = user_data;
    sw->last_store_us = rs_now_us(vol->node);
    rs_timer_init(&sw->pace, sweep_paced);
    vol->sweep = sw;
    /* Start from the loop, never inside the caller. */
    rs_timer_schedule(vol->node, &sw->pace, rs_now_us(vol->node));
    return 0;
}

enum rs_sweep_kind rs_sweep_kind(const rshare_volume *vol)
{
    return vol->sweep ? vol->sweep->kind : 0;
}

void rs_sweep_stop(rshare_volume *vol)
{
    struct rs_sweep *sw = vol->sweep;
    if (!sw)
        return;
    sw->stopping = true;
    /* Finish from the loop: the caller may be inside the sweep (a progress
     * callback, a member failing under a unit). */
    if (sw->unit_count == 0 && !rs_timer_pending(&sw->pace))
        rs_timer_schedule(vol->node, &sw->pace, rs_now_us(vol->node));
}

void rs_sweep_kick(rshare_volume *vol)
{
    struct rs_sweep *sw = vol->sweep;
    if (sw && !sw->stopping && !rs_timer_pending(&sw->pace) && vol->inflight == 0)
        rs_timer_schedule(vol->node, &sw->pace, rs_now_us(vol->node));
}
