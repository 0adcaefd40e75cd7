/* rshare block — a volume's life: opening it from the global map, its
 * members and their states, telling the map about failures and finished
 * rebuilds, background work, and the public request API (the requests
 * themselves are volume_io.c's and stripe.c's work).
 *
 * The map is the authority on member states; this node adds what it saw
 * itself (a member that failed here, a rebuild that finished here) and
 * proposes those changes through the manager, one at a time, against the
 * generation it last saw, until the map agrees.  A member failed in the
 * map is replaced by the first spare in the same change. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "backend.h"
#include "cluster/cluster.h"
#include "engine.h"

#define TICK_US 100000u

#define DEFAULT_RETRY_BUDGET 3
#define DEFAULT_STEP_SECTORS 1024
#define DEFAULT_REGION_SECTORS 65536
#define DEFAULT_MAX_INFLIGHT 256
#define DEFAULT_CLEAN_DELAY_MS 2000

/* A map change in flight; outlives a volume closed meanwhile. */
struct rs_proposal {
    rshare_volume *vol;
};

static bool redundant(const rshare_volume *vol)
{
    return vol->parity || vol->mirrored;
}

/* --- member states ------------------------------------------------------------- */

static bool in_sync(const rshare_volume *vol, uint32_t i)
{
    const struct rs_vmember *m = &vol->m[i];
    if (!m->mb || m->failed_here || vol->closing)
        return false;
    return m->map_state == RSHARE_VOLUME_MEMBER_ACTIVE || m->rebuilt_here;
}

bool rs_vol_readable(const rshare_volume *vol, uint32_t member, uint64_t key)
{
    if (in_sync(vol, member))
        return true;
    const struct rs_vmember *m = &vol->m[member];
    return m->mb && !m->failed_here && !vol->closing &&
           m->map_state == RSHARE_VOLUME_MEMBER_REBUILDING && vol->rebuild_member == member &&
           key < vol->rebuild_checkpoint;
}

bool rs_vol_writable(const rshare_volume *vol, uint32_t member)
{
    const struct rs_vmember *m = &vol->m[member];
    return m->mb && !m->failed_here && m->map_state != RSHARE_VOLUME_MEMBER_FAILED;
}

uint32_t rs_vol_state(const rshare_volume *vol)
{
    if (vol->gone)
        return RSHARE_VOLUME_FAILED;
    uint32_t n = vol->desc.member_count, missing = 0;
    for (uint32_t i = 0; i < n; i++)
        missing += !in_sync(vol, i);
    if (missing == 0)
        return RSHARE_VOLUME_OPTIMAL;
    switch (vol->desc.layout) {
    case RSHARE_LAYOUT_RAID1:
        return missing < n ? RSHARE_VOLUME_DEGRADED : RSHARE_VOLUME_FAILED;
    case RSHARE_LAYOUT_RAID5:
        return missing == 1 ? RSHARE_VOLUME_DEGRADED : RSHARE_VOLUME_FAILED;
    case RSHARE_LAYOUT_RAID10: {
        /* md's near layout keeps a chunk's copies on consecutive members
         * (groups of `copies` when they divide the member count). */
        uint32_t c = vol->layout.desc.copies;
        uint32_t stride = n % c == 0 ? c : 1;
        for (uint32_t start = 0; start < n; start += stride) {
            uint32_t lost = 0;
            for (uint32_t k = 0; k < c; k++)
                lost += !in_sync(vol, (start + k) % n);
            if (lost == c)
                return RSHARE_VOLUME_FAILED;
        }
        return RSHARE_VOLUME_DEGRADED;
    }
    default:
        return RSHARE_VOLUME_FAILED;
    }
}

static void start_background(rshare_volume *vol);

void rs_vol_member_failed(rshare_volume *vol, uint32_t member, int status)
{
    struct rs_vmember *m = &vol->m[member];
    if (m->failed_here || vol->closing)
        return;
    m->failed_here = true;
    m->rebuilt_here = false;
    rs_log_warn(vol->node, "volume %s: member %u (resource %016llx) failed: %s", vol->desc.name,
                member, (unsigned long long)m->resource, rshare_strerror(status));
    if (vol->rebuild_member == member)
        rs_sweep_stop(vol);
    rs_vol_sync_map(vol);
}

/* --- member backends -------------------------------------------------------------- */

static void member_close(rshare_volume *vol, uint32_t i)
{
    struct rs_member_block *mb = vol->m[i].mb;
    vol->m[i].mb = NULL;
    if (mb && --mb->refs == 0) {
        rshare_block_close(mb->block);
        rs_free(vol->node, mb);
    }
}

/* Open member `i`'s backend (its resource, wherever it lives). */
static int member_attach(rshare_volume *vol, uint32_t i)
{
    struct rs_vmember *m = &vol->m[i];
    struct rs_member_block *mb = rs_calloc(vol->node, 1, sizeof(*mb));
    if (!mb)
        return RSHARE_ENOMEM;
    int rc = vol->has_cred
                 ? rshare_block_open_resource_granted(vol->node, m->resource, &vol->cred, &mb->block)
                 : rshare_block_open_resource(vol->node, m->resource, &mb->block);
    if (rc < 0) {
        rs_free(vol->node, mb);
        return rc;
    }
    mb->refs = 1;
    struct rshare_block_info info;
    rshare_block_info_init(&info, sizeof(info));
    if (rshare_block_get_info(mb->block, &info) == 0)
        mb->max_io_bytes = info.max_io_bytes;
    m->mb = mb;
    return 0;
}

static void member_open(rshare_volume *vol, uint32_t i)
{
    struct rs_vmember *m = &vol->m[i];
    if (m->mb || m->map_state == RSHARE_VOLUME_MEMBER_FAILED)
        return;
    int rc = member_attach(vol, i);
    if (rc < 0) {
        rs_log_warn(vol->node, "volume %s: member %u (resource %016llx) cannot be opened: %s",
                    vol->desc.name, i, (unsigned long long)m->resource, rshare_strerror(rc));
        m->failed_here = true;
    }
}

/* Take what the map says now. */
static void refresh(rshare_volume *vol)
{
    const struct rshare_volume_desc *d = rs_map_volume(&rs_cluster(vol->node)->map, vol->desc.id);
    if (!d || d->member_count != vol->desc.member_count || d->layout != vol->desc.layout) {
        if (!vol->gone)
            rs_log_error(vol->node, "volume %s: undefined or redefined incompatibly",
                         vol->desc.name);
        vol->gone = true;
        return;
    }
    if (d->generation == vol->desc.generation)
        return;
    for (uint32_t i = 0; i < d->member_count; i++) {
        struct rs_vmember *m = &vol->m[i];
        if (d->members[i] != m->resource) {
            /* A spare took the slot: a new member. */
            if (vol->rebuild_member == i)
                rs_sweep_stop(vol);
            member_close(vol, i);
            memset(m, 0, sizeof(*m));
            m->resource = d->members[i];
        }
        m->map_state = d->member_state[i];
        if (m->map_state == RSHARE_VOLUME_MEMBER_REBUILDING)
            m->incomplete = true;
        else if (m->map_state == RSHARE_VOLUME_MEMBER_ACTIVE)
            m->incomplete = false;
        /* Re-added before the map recorded its failure: the map's older
         * view (active) does not make it in sync; it waits for its rebuild. */
        if (m->readd_wanted && m->map_state == RSHARE_VOLUME_MEMBER_ACTIVE && redundant(vol))
            m->map_state = RSHARE_VOLUME_MEMBER_FAILED;
        if (m->map_state == RSHARE_VOLUME_MEMBER_ACTIVE)
            m->rebuilt_here = false;
        if (m->map_state != RSHARE_VOLUME_MEMBER_FAILED)
            m->readd_wanted = false;
        if (m->map_state != RSHARE_VOLUME_MEMBER_REBUILDING && vol->rebuild_member == i)
            rs_sweep_stop(vol);
        member_open(vol, i);
    }
    vol->desc = *d;
    start_background(vol); /* a spare just assigned is rebuilt now, not at the next tick */
}

/* --- telling the map ----------------------------------------------------------------- */

static void proposal_done(rshare_node *node, int status, void *user_data)
{
    struct rs_proposal *p = user_data;
    rshare_volume *vol = p->vol;
    rs_free(node, p);
    if (!vol)
        return; /* closed meanwhile */
    vol->proposal = NULL;
    if (status < 0)
        rs_log_info(node, "volume %s: map change not made (%s); trying again", vol->desc.name,
                    rshare_strerror(status));
    refresh(vol);
    /* More to tell (or a retry) on the next tick. */
}

void rs_vol_sync_map(rshare_volume *vol)
{
    if (vol->proposal || vol->closing || vol->gone)
        return;
    struct rshare_volume_desc d = vol->desc;
    bool change = false;
    for (uint32_t i = 0; i < d.member_count; i++) {
        struct rs_vmember *m = &vol->m[i];
        if (m->failed_here && d.member_state[i] != RSHARE_VOLUME_MEMBER_FAILED) {
            d.member_state[i] = RSHARE_VOLUME_MEMBER_FAILED;
            if (d.spare_count && redundant(vol)) {
                d.members[i] = d.spares[0];
                d.member_state[i] = RSHARE_VOLUME_MEMBER_REBUILDING;
                memmove(&d.spares[0], &d.spares[1], (d.spare_count - 1) * sizeof(d.spares[0]));
                d.spares[--d.spare_count] = 0;
            }
            change = true;
        } else if (m->rebuilt_here && d.member_state[i] == RSHARE_VOLUME_MEMBER_REBUILDING) {
            d.member_state[i] = RSHARE_VOLUME_MEMBER_ACTIVE;
            change = true;
        } else if (m->readd_wanted && d.member_state[i] != RSHARE_VOLUME_MEMBER_REBUILDING) {
            /* Without redundancy there is nothing to rebuild it from: it
             * comes back as it is (writes that failed while it was away
             * were not acknowledged). */
            d.member_state[i] = redundant(vol) ? RSHARE_VOLUME_MEMBER_REBUILDING
                                               : RSHARE_VOLUME_MEMBER_ACTIVE;
            change = true;
        }
    }
    if (!change)
        return;
    struct rs_proposal *p = rs_calloc(vol->node, 1, sizeof(*p));
    if (!p)
        return;
    p->vol = vol;
    d.struct_size = sizeof(d);
    if (rshare_volume_define(vol->node, &d, proposal_done, p) < 0) {
        rs_free(vol->node, p);
        return; /* the next tick tries again */
    }
    vol->proposal = p;
}

/* --- background work ------------------------------------------------------------------ */

static void rebuild_done(rshare_volume *vol, int status, uint64_t mismatches, void *user_data)
{
    (void)mismatches;
    uint32_t i = (uint32_t)(uintptr_t)user_data;
    vol->rebuild_member = UINT32_MAX;
    if (status == 0 && i < vol->desc.member_count && !vol->m[i].failed_here) {
        rs_log_info(vol->node, "volume %s: member %u rebuilt", vol->desc.name, i);
        vol->m[i].rebuilt_here = true;
        vol->m[i].partial = false;
        vol->rebuild_done = vol->rebuild_total;
        rs_vol_sync_map(vol);
    }
    if (vol->cfg.progress)
        vol->cfg.progress(vol, status, vol->rebuild_done, vol->rebuild_total,
                          vol->cfg.progress_data);
}

/* A resync that failed (a member host refused it) or that regions were
 * added to while it ran is owed still: the next tick starts it again, and
 * until then reads of its regions keep to the first copy. */
static void resync_done(rshare_volume *vol, int status, uint64_t mismatches, void *user_data)
{
    (void)user_data;
    if (status == 0 && !vol->resync_again) {
        rs_log_info(vol->node, "volume %s: resync done, %llu regions fixed", vol->desc.name,
                    (unsigned long long)mismatches);
        vol->resync_pending = false;
        rs_free(vol->node, vol->resync_regions);
        vol->resync_regions = NULL;
    }
    vol->resync_again = false;
    vol->resync_cursor = 0;
}

static uint8_t *bitmap_copy(rshare_volume *vol)
{
    size_t bytes = rs_region_set_bytes(vol->bitmap.regions);
    uint8_t *copy = rs_malloc(vol->node, bytes);
    if (copy)
        memcpy(copy, vol->bitmap.bits, bytes);
    return copy;
}

void rs_vol_unsynced(rshare_volume *vol, uint64_t start, uint64_t end)
{
    /* The regions' write-intent bits are set (the write that left them
     * unsynced set them) and stay set while a resync is pending: the tick
     * does not clean them, and close does not store the bitmap clean. */
    if (!vol->resync_regions)
        vol->resync_regions = rs_calloc(vol->node, rs_region_set_bytes(vol->bitmap.regions), 1);
    if (!vol->resync_regions) {
        /* No memory to say which: every region counts (rs_vol_key_unsynced). */
        rs_log_warn(vol->node, "volume %s: out of memory; resyncing every dirty region",
                    vol->desc.name);
    } else {
        uint64_t first = rs_bitmap_region(&vol->bitmap, start);
        uint64_t last = rs_bitmap_region(&vol->bitmap, end - 1);
        for (uint64_t r = first; r <= last && r < vol->bitmap.regions; r++)
            rs_region_set_add(vol->resync_regions, r);
    }
    rs_log_info(vol->node, "volume %s: keys %llu-%llu may differ between copies: resync owed",
                vol->desc.name, (unsigned long long)start, (unsigned long long)end - 1);
    vol->resync_pending = true;
    if (rs_sweep_kind(vol) == RS_SWEEP_RESYNC)
        vol->resync_again = true;
}

bool rs_vol_key_unsynced(const rshare_volume *vol, uint64_t key)
{
    if (!vol->resync_pending)
        return false;
    if (!vol->resync_regions)
        return true; /* not known which: all of them */
    /* Keys below the cursor of a running resync are done, unless regions
     * were added behind it. */
    if (key < vol->resync_cursor && !vol->resync_again)
        return false;
    return rs_region_set_has(vol->resync_regions, rs_bitmap_region(&vol->bitmap, key));
}

static void start_background(rshare_volume *vol)
{
    if (vol->sweep || vol->closing || vol->gone || !redundant(vol))
        return;
    if (vol->resync_pending && rs_vol_state(vol) == RSHARE_VOLUME_OPTIMAL) {
        /* Every region a resync may owe has its write-intent bit set. */
        uint8_t *regions = bitmap_copy(vol), *reads = bitmap_copy(vol);
        if (!regions || !reads) {
            rs_free(vol->node, regions);
            rs_free(vol->node, reads);
            return;
        }
        rs_free(vol->node, vol->resync_regions);
        vol->resync_regions = reads;
        vol->resync_cursor = 0;
        vol->resync_again = false;
        rs_sweep_start(vol, RS_SWEEP_RESYNC, 0, 0, regions, resync_done, NULL);
        return;
    }
    for (uint32_t i = 0; i < vol->desc.member_count; i++) {
        struct rs_vmember *m = &vol->m[i];
        if (m->map_state != RSHARE_VOLUME_MEMBER_REBUILDING || m->failed_here || !m->mb ||
            m->rebuilt_here)
            continue;
        uint64_t from = rs_sweep_resume_point(vol, i);
        uint8_t *regions = m->partial ? bitmap_copy(vol) : NULL;
        vol->rebuild_member = i;
        vol->rebuild_checkpoint = from;
        vol->rebuild_total = vol->keys * (vol->parity ? vol->layout.desc.chunk_sectors : 1);
        vol->rebuild_done = 0;
        rs_log_info(vol->node, "volume %s: rebuilding member %u (resource %016llx)%s",
                    vol->desc.name, i, (unsigned long long)m->resource,
                    regions ? ", regions written while it was away" : "");
        if (rs_sweep_start(vol, RS_SWEEP_REBUILD, i, from, regions, rebuild_done,
                           (void *)(uintptr_t)i) < 0)
            vol->rebuild_member = UINT32_MAX;
        return;
    }
}

static void tick(rshare_node *node, struct rs_timer *timer)
{
    rshare_volume *vol = (rshare_volume *)((char *)timer - offsetof(rshare_volume, tick));
    refresh(vol);
    rs_vol_sync_map(vol);
    start_background(vol);
    if (rs_vol_state(vol) == RSHARE_VOLUME_OPTIMAL && !vol->resync_pending)
        rs_bitmap_clean(node, &vol->bitmap, (uint64_t)vol->cfg.clean_delay_ms * 1000u);
    rs_timer_schedule(node, &vol->tick, rs_now_us(node) + TICK_US);
}

/* --- deferred completions ---------------------------------------------------------------- */

static void complete_request(struct rs_vreq *req);

static void run_deferred(rshare_node *node, struct rs_timer *timer)
{
    (void)node;
    rshare_volume *vol = (rshare_volume *)((char *)timer - offsetof(rshare_volume, defer_timer));
    rs_ppl_commit(vol); /* rows logged in the last turn: durable, then written */
    rs_stripe_flush_pending(vol);
    rs_vol_unplug(vol);
    while (vol->deferred || vol->completed) {
        struct rs_mio *mio = vol->deferred;
        if (mio) {
            vol->deferred = mio->defer_next;
            mio->io.done(&mio->io, mio->defer_status);
            continue;
        }
        struct rs_vreq *req = vol->completed;
        vol->completed = req->next;
        complete_request(req);
    }
    rs_vol_unplug(vol); /* writes the completions started */
}

static void arm_deferred(rshare_volume *vol)
{
    if (!rs_timer_pending(&vol->defer_timer))
        rs_timer_schedule(vol->node, &vol->defer_timer, rs_now_us(vol->node));
}

void rs_vol_defer_rows(rshare_volume *vol)
{
    arm_deferred(vol);
}

void rs_vol_defer(rshare_volume *vol, struct rs_mio *mio, int status)
{
    mio->defer_status = status < 0 ? status : RSHARE_EIO;
    mio->defer_next = NULL;
    struct rs_mio **at = &vol->deferred;
    while (*at)
        at = &(*at)->defer_next;
    *at = mio;
    arm_deferred(vol);
}

/* --- requests ---------------------------------------------------------------------------- */

static void start_queued(rshare_volume *vol)
{
    while (vol->queue_head && vol->inflight < vol->cfg.max_inflight) {
        struct rs_vreq *req = vol->queue_head;
        vol->queue_head = req->next;
        if (!vol->queue_head)
            vol->queue_tail = NULL;
        vol->inflight++;
        rs_vreq_start(req);
    }
}

static void complete_request(struct rs_vreq *req)
{
    rshare_volume *vol = req->vol;
    vol->inflight--;
    rshare_volume_done_fn done = req->done;
    void *user_data = req->user_data;
    int status = req->status;
    rs_free(vol->node, req);
    done(vol, status, user_data);
    start_queued(vol);
    rs_sweep_kick(vol);
}

void rs_vol_request_done(struct rs_vreq *req)
{
    rshare_volume *vol = req->vol;
    if (vol->submitting) {
        /* Finished inside rshare_volume_*(): the caller hears it later. */
        req->next = NULL;
        struct rs_vreq **at = &vol->completed;
        while (*at)
            at = &(*at)->next;
        *at = req;
        arm_deferred(vol);
        return;
    }
    complete_request(req);
}

static int submit(rshare_volume *vol, enum rs_vreq_op op, uint64_t offset, void *buf,
                  size_t length, rshare_volume_done_fn done, void *user_data)
{
    if (!vol || !done || ((op == RS_VREQ_READ || op == RS_VREQ_WRITE) && !buf))
        return RSHARE_EINVAL;
    rshare_node *node = vol->node;
    if (vol->closing)
        return rs_errorf(node, RSHARE_ESHUTDOWN, "volume %s is closing", vol->desc.name);
    if (op == RS_VREQ_DISCARD && (vol->mirrored || vol->parity))
        return rs_errorf(node, RSHARE_ENOTSUP,
                         "volume %s: discard is offered for linear and RAID-0 volumes only",
                         vol->desc.name);
    if (op != RS_VREQ_FLUSH) {
        uint64_t size = vol->sectors * 512u;
        if (length == 0 || length > RS_VOLUME_MAX_REQUEST)
            return rs_errorf(node, RSHARE_EINVAL, "volume %s: length %zu not in 1..%u",
                             vol->desc.name, length, RS_VOLUME_MAX_REQUEST);
        if (offset % vol->block_size || length % vol->block_size)
            return rs_errorf(node, RSHARE_EINVAL,
                             "volume %s: offset %llu or length %zu not a multiple of %u",
                             vol->desc.name, (unsigned long long)offset, length,
                             vol->block_size);
        if (offset > size || length > size - offset)
            return rs_errorf(node, RSHARE_EINVAL,
                             "volume %s: %zu bytes at %llu pass the end (%llu bytes)",
                             vol->desc.name, length, (unsigned long long)offset,
                             (unsigned long long)size);
    }
    refresh(vol);
    if (rs_vol_state(vol) == RSHARE_VOLUME_FAILED)
        return rs_errorf(node, RSHARE_EIO, "volume %s has failed: too many members lost",
                         vol->desc.name);
    struct rs_vreq *req = rs_calloc(node, 1, sizeof(*req));
    if (!req)
        return RSHARE_ENOMEM;
    req->vol = vol;
    req->op = op;
    req->sector = offset / 512u;
    req->count = length / 512u;
    req->buf = buf;
    req->done = done;
    req->user_data = user_data;
    if (op == RS_VREQ_READ)
        vol->stats.reads++;
    else if (op == RS_VREQ_WRITE)
        vol->stats.writes++;
    else if (op == RS_VREQ_DISCARD)
        vol->stats.discards++;
    else
        vol->stats.flushes++;
    if (vol->queue_tail)
        vol->queue_tail->next = req;
    else
        vol->queue_head = req;
    vol->queue_tail = req;
    vol->submitting = true;
    start_queued(vol);
    vol->submitting = false;
    return 0;
}

RSHARE_API int rshare_volume_read(rshare_volume *volume, uint64_t offset, void *buf,
                                  size_t length, rshare_volume_done_fn done, void *user_data)
{
    return submit(volume, RS_VREQ_READ, offset, buf, length, done, user_data);
}

RSHARE_API int rshare_volume_write(rshare_volume *volume, uint64_t offset, const void *buf,
                                   size_t length, rshare_volume_done_fn done, void *user_data)
{
    /* Never written to: the engine only reads the caller's data. */
    return submit(volume, RS_VREQ_WRITE, offset, (void *)(uintptr_t)buf, length, done,
                  user_data);
}

RSHARE_API int rshare_volume_flush(rshare_volume *volume, rshare_volume_done_fn done,
                                   void *user_data)
{
    return submit(volume, RS_VREQ_FLUSH, 0, NULL, 0, done, user_data);
}

RSHARE_API int rshare_volume_discard(rshare_volume *volume, uint64_t offset, size_t length,
                                     rshare_volume_done_fn done, void *user_data)
{
    return submit(volume, RS_VREQ_DISCARD, offset, NULL, length, done, user_data);
}

/* --- synchronous helpers --------------------------------------------------------------- */

struct sync_wait {
    bool done;
    int status;
    uint64_t count;
};

static void sync_done(rshare_volume *vol, int status, void *user_data)
{
    (void)vol;
    struct sync_wait *w = user_data;
    w->done = true;
    w->status = status;
}

static int sync_run(rshare_volume *vol, struct sync_wait *w, int rc)
{
    while (rc == 0 && !w->done)
        rc = rshare_node_run(vol->node, 100);
    return rc < 0 ? rc : w->status;
}

RSHARE_API int rshare_volume_read_sync(rshare_volume *volume, uint64_t offset, void *buf,
                                       size_t length)
{
    struct sync_wait w = {0};
    return sync_run(volume, &w, rshare_volume_read(volume, offset, buf, length, sync_done, &w));
}

RSHARE_API int rshare_volume_write_sync(rshare_volume *volume, uint64_t offset,
                                        const void *buf, size_t length)
{
    struct sync_wait w = {0};
    return sync_run(volume, &w, rshare_volume_write(volume, offset, buf, length, sync_done, &w));
}

RSHARE_API int rshare_volume_flush_sync(rshare_volume *volume)
{
    struct sync_wait w = {0};
    return sync_run(volume, &w, rshare_volume_flush(volume, sync_done, &w));
}

RSHARE_API int rshare_volume_discard_sync(rshare_volume *volume, uint64_t offset, size_t length)
{
    struct sync_wait w = {0};
    return sync_run(volume, &w,
                    rshare_volume_discard(volume, offset, length, sync_done, &w));
}

/* --- scrub ------------------------------------------------------------------------------ */

struct scrub_call {
    rshare_volume_scrub_fn done;
    void *user_data;
};

static void scrub_done(rshare_volume *vol, int status, uint64_t mismatches, void *user_data)
{
    struct scrub_call call = *(struct scrub_call *)user_data;
    rs_free(vol->node, user_data);
    call.done(vol, status, mismatches, call.user_data);
}

RSHARE_API int rshare_volume_scrub(rshare_volume *volume, int repair,
                                   rshare_volume_scrub_fn done, void *user_data)
{
    if (!volume || !done)
        return RSHARE_EINVAL;
    rshare_volume *vol = volume;
    if (!redundant(vol))
        return rs_errorf(vol->node, RSHARE_ENOTSUP, "volume %s has no redundancy to check",
                         vol->desc.name);
    if (rs_vol_state(vol) != RSHARE_VOLUME_OPTIMAL || vol->sweep)
        return rs_errorf(vol->node, RSHARE_EBUSY,
                         "volume %s: scrub needs every member in sync and no rebuild running",
                         vol->desc.name);
    struct scrub_call *call = rs_malloc(vol->node, sizeof(*call));
    if (!call)
        return RSHARE_ENOMEM;
    call->done = done;
    call->user_data = user_data;
    return rs_sweep_start(vol, repair ? RS_SWEEP_REPAIR : RS_SWEEP_CHECK, 0, 0, NULL, scrub_done,
                          call);
}

static void scrub_sync_done(rshare_volume *vol, int status, uint64_t mismatches, void *user_data)
{
    struct sync_wait *w = user_data;
    (void)vol;
    w->done = true;
    w->status = status;
    w->count = mismatches;
}

RSHARE_API int rshare_volume_scrub_sync(rshare_volume *volume, int repair, uint64_t *mismatches)
{
    struct sync_wait w = {0};
    int rc = sync_run(volume, &w, rshare_volume_scrub(volume, repair, scrub_sync_done, &w));
    if (rc == 0 && mismatches)
        *mismatches = w.count;
    return rc;
}

/* --- operator actions ------------------------------------------------------------------- */

RSHARE_API int rshare_volume_fail_member(rshare_volume *volume, uint32_t index)
{
    if (!volume || index >= volume->desc.member_count)
        return RSHARE_EINVAL;
    rs_vol_member_failed(volume, index, RSHARE_ECANCELED);
    return 0;
}

RSHARE_API int rshare_volume_readd_member(rshare_volume *volume, uint32_t index)
{
    if (!volume || index >= volume->desc.member_count)
        return RSHARE_EINVAL;
    rshare_volume *vol = volume;
    struct rs_vmember *m = &vol->m[index];
    if (m->map_state != RSHARE_VOLUME_MEMBER_FAILED && !m->failed_here)
        return rs_errorf(vol->node, RSHARE_EINVAL, "volume %s: member %u is not failed",
                         vol->desc.name, index);
    if (!rs_map_resource(&rs_cluster(vol->node)->map, m->resource))
        return rs_errorf(vol->node, RSHARE_ENOENT,
                         "volume %s: member %u's resource is not in the map", vol->desc.name,
                         index);
    /* Reopen it; the bitmap has kept every region written since it left. */
    member_close(vol, index);
    m->failed_here = false;
    m->readd_wanted = true;
    /* Only a member that was in sync when it left can catch up on the
     * regions written meanwhile; one that failed in the middle of its
     * rebuild (here, or before a restart: its checkpoint short of the end)
     * is rebuilt whole. */
    uint64_t at = rs_sweep_resume_point(vol, index);
    bool incomplete = m->incomplete || (at > 0 && at < vol->keys);
    m->partial = !incomplete && (vol->bitmap.durable || vol->bitmap.dirty);
    m->map_state = RSHARE_VOLUME_MEMBER_FAILED; /* until the map says otherwise */
    rs_sweep_forget(vol, index); /* an earlier rebuild's checkpoint no longer holds */
    int rc = member_attach(vol, index);
    if (rc < 0)
        return rc;
    rs_vol_sync_map(vol);
    return 0;
}

/* --- status -------------------------------------------------------------------------------- */

RSHARE_API int rshare_volume_get_status(rshare_volume *volume,
                                        struct rshare_volume_status *status)
{
    if (!volume || !status || status->struct_size < offsetof(struct rshare_volume_status, size))
        return RSHARE_EINVAL;
    rshare_volume *vol = volume;
    refresh(vol);
    struct rshare_volume_status s = vol->stats;
    s.struct_size = sizeof(s);
    s.state = rs_vol_state(vol);
    s.id = vol->desc.id;
    s.member_count = vol->desc.member_count;
    for (uint32_t i = 0; i < vol->desc.member_count; i++) {
        const struct rs_vmember *m = &vol->m[i];
        s.member[i] = m->resource;
        s.member_state[i] = m->failed_here      ? RSHARE_VOLUME_MEMBER_FAILED
                            : m->rebuilt_here ? RSHARE_VOLUME_MEMBER_ACTIVE
                                              : m->map_state;
    }
    s.size = vol->sectors * 512u;
    if (vol->rebuild_member != UINT32_MAX) {
        s.rebuild_done = vol->rebuild_done;
        s.rebuild_total = vol->rebuild_total;
    }
    s.dirty_regions = vol->bitmap.dirty;
    size_t n = status->struct_size < sizeof(s) ? status->struct_size : sizeof(s);
    uint32_t caller_size = status->struct_size;
    memcpy(status, &s, n);
    status->struct_size = caller_size < sizeof(s) ? caller_size : (uint32_t)sizeof(s);
    return 0;
}

RSHARE_API uint64_t rshare_volume_size(const rshare_volume *volume)
{
    return volume ? volume->sectors * 512u : 0;
}

RSHARE_API uint32_t rshare_volume_block_size(const rshare_volume *volume)
{
    return volume ? volume->block_size : 0;
}

/* --- open and close ------------------------------------------------------------------------ */

RSHARE_API void rshare_volume_config_init(struct rshare_volume_config *config,
                                          size_t struct_size)
{
    if (!config || struct_size < sizeof(uint32_t))
        return;
    memset(config, 0, struct_size);
    config->struct_size = (uint32_t)struct_size;
}

/* Keep a copy of the credentials member requests carry (NULL: none). */
static int take_cred(rshare_volume *vol, const struct rshare_access_credentials *cred)
{
    int rc = cred ? rs_block_check_credentials(vol->node, cred) : 0;
    if (rc < 0)
        return rc;
    sodium_memzero(vol->cookie, sizeof(vol->cookie));
    memset(&vol->cred, 0, sizeof(vol->cred));
    vol->has_cred = cred != NULL;
    if (!cred)
        return 0;
    vol->cred.struct_size = sizeof(vol->cred);
    vol->cred.fence = cred->fence;
    vol->cred.cookie_len = cred->cookie_len;
    vol->cred.cookie = vol->cookie;
    if (cred->cookie_len)
        memcpy(vol->cookie, cred->cookie, cred->cookie_len);
    return 0;
}

RSHARE_API int rshare_volume_set_credentials(rshare_volume *volume,
                                             const struct rshare_access_credentials *cred)
{
    if (!volume)
        return RSHARE_EINVAL;
    int rc = take_cred(volume, cred);
    for (uint32_t i = 0; rc == 0 && i < volume->desc.member_count; i++)
        if (volume->m[i].mb)
            rc = rshare_block_set_credentials(volume->m[i].mb->block,
                                              volume->has_cred ? &volume->cred : NULL);
    return rc;
}

static int take_config(rshare_volume *vol, const struct rshare_volume_config *given)
{
    struct rshare_volume_config *c = &vol->cfg;
    memset(c, 0, sizeof(*c));
    if (given) {
        if (given->struct_size < offsetof(struct rshare_volume_config, progress))
            return rs_errorf(vol->node, RSHARE_EVERSION, "volume config struct_size %u too small",
                             given->struct_size);
        memcpy(c, given, given->struct_size < sizeof(*c) ? given->struct_size : sizeof(*c));
    }
    int rc = take_cred(vol, c->credentials);
    c->credentials = NULL; /* the caller's pointer is not kept */
    if (rc < 0)
        return rc;
    if (!c->retry_budget)
        c->retry_budget = DEFAULT_RETRY_BUDGET;
    if (!c->rebuild_step_sectors)
        c->rebuild_step_sectors = DEFAULT_STEP_SECTORS;
    if (!c->bitmap_region_sectors)
        c->bitmap_region_sectors = DEFAULT_REGION_SECTORS;
    if (!c->max_inflight)
        c->max_inflight = DEFAULT_MAX_INFLIGHT;
    if (!c->clean_delay_ms)
        c->clean_delay_ms = DEFAULT_CLEAN_DELAY_MS;
    if (c->flags & ~RSHARE_VOLUME_OPEN_FORCE)
        return rs_errorf(vol->node, RSHARE_EINVAL, "unknown volume flags %#x", c->flags);
    if (c->rebuild_step_sectors < 8 || c->rebuild_step_sectors > 65536 ||
        (c->rebuild_step_sectors & 7))
        return rs_errorf(vol->node, RSHARE_EINVAL,
                         "rebuild_step_sectors %u: a multiple of 8 in 8..65536",
                         c->rebuild_step_sectors);
    return 0;
}

/* The layout from the definition and the members' sizes. */
static int build_layout(rshare_volume *vol)
{
    const struct rshare_volume_desc *d = &vol->desc;
    const struct rs_map *map = &rs_cluster(vol->node)->map;
    struct rs_layout_desc ld;
    memset(&ld, 0, sizeof(ld));
    ld.level = (enum rs_layout_level)d->layout;
    ld.member_count = d->member_count;
    ld.chunk_sectors = d->layout == RSHARE_LAYOUT_RAID1 || d->layout == RSHARE_LAYOUT_LINEAR
                           ? 0
                           : d->chunk_sectors;
    if (d->layout == RSHARE_LAYOUT_RAID5)
        ld.algorithm = d->algorithm;
    if (d->layout == RSHARE_LAYOUT_RAID10)
        ld.copies = d->member_count < 2 ? d->member_count : 2; /* md's default n2 */
    vol->block_size = 0;
    for (uint32_t i = 0; i < d->member_count; i++) {
        const struct rshare_resource_desc *r = rs_map_resource(map, d->members[i]);
        if (r && !vol->block_size)
            vol->block_size = r->block_size;
        if (d->component_sectors) {
            ld.member_sectors[i] = d->component_sectors;
        } else if (r) {
            ld.member_sectors[i] = r->block_count * (r->block_size / 512u);
        } else {
            return rs_errorf(vol->node, RSHARE_EIO,
                             "volume %s: member %u (resource %016llx) is gone and the layout "
                             "has no redundancy",
                             d->name, i, (unsigned long long)d->members[i]);
        }
    }
    if (!vol->block_size)
        vol->block_size = 512;
    if (d->layout == RSHARE_LAYOUT_RAID0) {
        /* Members of different sizes: md's zone placement since Linux 3.14. */
        bool equal = true;
        for (uint32_t i = 1; i < d->member_count; i++)
            equal = equal && ld.member_sectors[i] == ld.member_sectors[0];
        ld.raid0_zones = equal ? RS_RAID0_ZONES_UNSPECIFIED : RS_RAID0_ZONES_ALTERNATE;
    }
    int rc = rs_layout_init(&vol->layout, &ld);
    if (rc < 0)
        return rs_errorf(vol->node, rc, "volume %s: layout does not fit its members", d->name);
    vol->sectors = vol->layout.sectors;
    vol->parity = d->layout == RSHARE_LAYOUT_RAID5;
    vol->mirrored = d->layout == RSHARE_LAYOUT_RAID1 || d->layout == RSHARE_LAYOUT_RAID10;
    vol->keys = vol->parity ? rs_layout_rows(&vol->layout) : vol->sectors;
    return 0;
}

RSHARE_API int rshare_volume_open(rshare_node *node, const char *name,
                                  const struct rshare_volume_config *config,
                                  rshare_volume **out)
{
    if (!node || !name || !out)
        return RSHARE_EINVAL;
    *out = NULL;
    const struct rs_map *map = &rs_cluster(node)->map;
    const struct rshare_volume_desc *d = NULL;
    for (size_t i = 0; i < map->volume_count && !d; i++)
        if (strcmp(map->volumes[i].name, name) == 0)
            d = &map->volumes[i];
    if (!d)
        return rs_errorf(node, RSHARE_ENOENT, "no volume '%s' in the map", name);
    rshare_volume *vol = rs_calloc(node, 1, sizeof(*vol));
    if (!vol)
        return RSHARE_ENOMEM;
    vol->node = node;
    vol->desc = *d;
    vol->rebuild_member = UINT32_MAX;
    rs_timer_init(&vol->tick, tick);
    rs_timer_init(&vol->defer_timer, run_deferred);
    rs_timer_init(&vol->hold_timer, rs_stripe_hold_expired);
    int rc = take_config(vol, config);
    if (rc == 0)
        rc = build_layout(vol);
    if (rc < 0) {
        sodium_memzero(vol->cookie, sizeof(vol->cookie));
        rs_free(node, vol);
        return rc;
    }
    for (uint32_t i = 0; i < d->member_count; i++) {
        vol->m[i].resource = d->members[i];
        vol->m[i].map_state = d->member_state[i];
        member_open(vol, i);
    }
    uint64_t per_region = vol->cfg.bitmap_region_sectors;
    if (vol->parity) {
        per_region >>= vol->layout.chunk_shift;
        if (per_region == 0)
            per_region = 1;
    }
    rc = rs_bitmap_init(node, &vol->bitmap, d->id, vol->keys, per_region, &vol->was_dirty);
    if (rc == 0)
        rc = rs_ppl_init(vol);
    if (rc == 0 && vol->was_dirty && redundant(vol)) {
        uint32_t state = rs_vol_state(vol);
        /* Dirty and degraded: a RAID-5 row torn by the crash cannot give
         * back its missing member's data.  The partial parity log repairs
         * exactly those rows; without a readable log the volume does not
         * start unless forced. */
        if (state != RSHARE_VOLUME_OPTIMAL && vol->parity &&
            (!vol->ppl.enabled || vol->ppl.unrecoverable) &&
            !(vol->cfg.flags & RSHARE_VOLUME_OPEN_FORCE))
            rc = rs_errorf(node, RSHARE_EBUSY,
                           "volume %s was not shut down cleanly and is degraded, and its "
                           "partial parity log is missing or unreadable: the parity of %llu "
                           "dirty regions cannot be trusted (open with "
                           "RSHARE_VOLUME_OPEN_FORCE to accept)",
                           d->name, (unsigned long long)vol->bitmap.dirty);
        else if (state == RSHARE_VOLUME_OPTIMAL) {
            vol->resync_pending = true;
            vol->resync_regions = bitmap_copy(vol);
            if (!vol->resync_regions)
                rc = RSHARE_ENOMEM;
        }
    }
    if (rc == 0 && rs_vol_state(vol) == RSHARE_VOLUME_FAILED)
        rc = rs_errorf(node, RSHARE_EIO, "volume %s: too many members missing", d->name);
    if (rc < 0) {
        for (uint32_t i = 0; i < d->member_count; i++)
            member_close(vol, i);
        rs_bitmap_fini(node, &vol->bitmap);
        rs_ppl_fini(vol);
        rs_free(node, vol->resync_regions);
        rs_free(node, vol);
        return rc;
    }
    /* Rows a crash may have torn are repaired first: they are locked now,
     * so no request reaches them before. */
    rs_ppl_recover(vol);
    rs_timer_schedule(node, &vol->tick, rs_now_us(node));
    *out = vol;
    return 0;
}

static void release(rshare_volume *vol)
{
    rshare_node *node = vol->node;
    vol->closing = true;
    if (vol->proposal)
        vol->proposal->vol = NULL;
    rs_timer_cancel(node, &vol->tick);
    rs_timer_cancel(node, &vol->defer_timer);
    rs_timer_cancel(node, &vol->hold_timer);
    rs_vol_unplug_drop(vol);
    for (uint32_t i = 0; i < vol->desc.member_count; i++)
        member_close(vol, i);
    rs_bitmap_fini(node, &vol->bitmap);
    rs_ppl_fini(vol);
    rs_free(node, vol->resync_regions);
    sodium_memzero(vol->cookie, sizeof(vol->cookie));
    rs_free(node, vol);
}

void rs_vol_abandon(rshare_volume *vol)
{
    release(vol);
}

RSHARE_API void rshare_volume_close(rshare_volume *volume)
{
    if (!volume)
        return;
    rshare_volume *vol = volume;
    rshare_node *node = vol->node;
    rs_sweep_stop(vol);
    /* Let what is in flight finish (bounded: members time out). */
    uint64_t deadline = rs_now_us(node) + 60u * 1000000u;
    while ((vol->inflight || vol->queue_head || vol->sweep || vol->deferred || vol->completed ||
            vol->plugged) &&
           rs_now_us(node) < deadline)
        if (rshare_node_run(node, 10) < 0)
            break;
    if (vol->inflight || vol->sweep)
        rs_log_error(node, "volume %s: closed with I/O still in flight", vol->desc.name);
    /* A resync still owed leaves the bitmap as it is stored, not clean: the
     * next open resyncs its regions. */
    int rc = vol->resync_pending
                 ? 0
                 : rs_bitmap_shutdown(node, &vol->bitmap,
                                      rs_vol_state(vol) == RSHARE_VOLUME_OPTIMAL);
    if (rc < 0)
        rs_log_warn(node, "volume %s: clean state not stored: %s", vol->desc.name,
                    rshare_strerror(rc));
    release(vol);
}
