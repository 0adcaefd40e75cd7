/* rshare block — volume requests: a read, write, flush or discard is split at chunk
 * and member boundaries (layout.c) and each piece goes to its member(s):
 * one member for linear and RAID-0, the mirrors for RAID-1 and RAID-10,
 * the row's data member for RAID-5 reads (rows being written are stripe.c's
 * work).  A striped read's chunks that follow each other on a remote
 * member go as one request (a run), and so do a remote member's writes of
 * one loop turn that follow each other (a plug).  Member I/O is retried
 * here within the volume's budget; what still fails fails the member, and
 * the piece goes on with the others. */
#include "config.h"

#include <string.h>

#include "backend.h"
#include "blockwire.h"
#include "cluster/cluster.h"
#include "engine.h"

/* --- member I/O -------------------------------------------------------------- */

static void mb_put(rshare_volume *vol, struct rs_member_block *mb);

/* Completions that must not run inside the call that started them. */
static void mio_finish(struct rs_mio *mio, int status)
{
    rshare_volume *vol = mio->vol;
    struct rs_member_block *mb = mio->mb;
    mio->mb = NULL;
    if (mb) {
        mb->inflight--;
        mb_put(vol, mb);
    }
    mio->done(mio, status);
}

static bool transient(int status)
{
    return status != RSHARE_EIO && status != RSHARE_EINVAL && status != RSHARE_ENOTSUP &&
           status != RSHARE_ECANCELED && status != RSHARE_ESHUTDOWN && status != RSHARE_EACCES;
}

/* Is the member's host alive as far as the cluster can tell? */
static bool host_alive(rshare_volume *vol, uint32_t member)
{
    uint32_t host = (uint32_t)(vol->m[member].resource >> 32);
    if (host == rshare_node_id(vol->node))
        return true;
    const struct rs_member *m = rs_member_find(vol->node, host);
    return !m || m->alive;
}

static uint64_t piece_length(const struct rs_mio *mio)
{
    uint64_t left = mio->total - mio->moved;
    uint32_t max = mio->mb->max_io_bytes;
    return max && left > max ? max : left;
}

#define RETRY_FIRST_US 50000u /* then 100, 200, 400, 800 ms */

/* To the backend: as one buffer, or from a plug's segments. */
static int backend_submit(struct rs_mio *mio)
{
    return mio->seg ? rs_block_submit_vec(mio->mb->block, &mio->io, mio->seg, mio->nseg)
                    : rs_block_submit(mio->mb->block, &mio->io);
}

static void mio_retry(rshare_node *node, struct rs_timer *timer)
{
    (void)node;
    struct rs_mio *mio = (struct rs_mio *)((char *)timer - offsetof(struct rs_mio, retry));
    int rc = backend_submit(mio);
    if (rc < 0)
        mio->io.done(&mio->io, rc); /* counts as another try */
}

static void mio_io_done(struct rshare_block_io *io, int status)
{
    struct rs_mio *mio = (struct rs_mio *)io; /* io is the first field */
    rshare_volume *vol = mio->vol;
    if (io->op == RSHARE_BLOCK_DISCARD && status == RSHARE_ENOTSUP)
        status = 0; /* advisory: a member that cannot discard keeps its data */
    if (status == 0 && mio->moved + io->length < mio->total) {
        /* The next piece of an I/O above the backend's limit. */
        mio->moved += io->length;
        io->offset += io->length;
        if (io->buf)
            io->buf = (uint8_t *)io->buf + io->length;
        io->length = piece_length(mio);
        mio->tries = 0;
        status = backend_submit(mio);
        if (status == 0)
            return;
    }
    if (status == 0) {
        mio_finish(mio, 0);
        return;
    }
    if (transient(status) && !vol->closing && ++mio->tries < vol->cfg.retry_budget &&
        host_alive(vol, mio->member) && mio->mb == vol->m[mio->member].mb &&
        !vol->m[mio->member].failed_here) {
        /* Again after a pause that doubles: a peer whose address is not
         * known yet, a link being re-established, a host catching up. */
        vol->stats.member_retries++;
        uint64_t delay = (uint64_t)RETRY_FIRST_US << (mio->tries < 5 ? mio->tries - 1 : 4);
        rs_timer_schedule(vol->node, &mio->retry, rs_now_us(vol->node) + delay);
        return;
    }
    /* Only if the slot still holds the backend this I/O went to: a member
     * replaced meanwhile (a spare took the slot) is not the one that failed.
     * A host refusing the request (no grant, an old fencing token, a map
     * version this node did not catch up with) says nothing about its disk:
     * the request fails, the member stays. */
    if (status != RSHARE_ECANCELED && !rs_vol_refusal(status) &&
        (mio->io.op != RSHARE_BLOCK_READ || status != RSHARE_EIO) &&
        mio->io.op != RSHARE_BLOCK_DISCARD && mio->mb == vol->m[mio->member].mb)
        rs_vol_member_failed(vol, mio->member, status);
    mio_finish(mio, status);
}

static void mb_put(rshare_volume *vol, struct rs_member_block *mb)
{
    (void)vol;
    if (--mb->refs == 0) {
        rshare_block_close(mb->block);
        rs_free(vol->node, mb);
    }
}

/* Writes from this size on go at once: their message already outweighs its
 * overhead, and merging them would only make each wait for the other
 * (a rebuild's units, a large RAID-1 write). */
#define PLUG_BELOW_BYTES (256u << 10)

static bool remote_member(const rshare_volume *vol, uint32_t member)
{
    return (uint32_t)(vol->m[member].resource >> 32) != rshare_node_id(vol->node);
}

static void mio_init(rshare_volume *vol, struct rs_mio *mio, uint32_t member, uint32_t op,
                     uint64_t sector, uint64_t sectors, void *buf, rs_mio_done_fn done,
                     void *owner)
{
    memset(mio, 0, sizeof(*mio));
    rshare_block_io_init(&mio->io, sizeof(mio->io));
    mio->vol = vol;
    mio->member = member;
    mio->done = done;
    mio->owner = owner;
    mio->io.op = op;
    mio->io.offset = sector * 512u;
    mio->io.length = sectors * 512u;
    mio->io.buf = buf;
    mio->io.done = mio_io_done;
    rs_timer_init(&mio->retry, mio_retry);
}

static void mio_attach(struct rs_mio *mio, struct rs_member_block *mb)
{
    mb->refs++;
    mb->inflight++;
    mio->mb = mb;
    mio->total = mio->io.length;
    mio->io.length = piece_length(mio);
}

static void mio_submit(struct rs_mio *mio)
{
    int rc = backend_submit(mio);
    if (rc < 0)
        rs_vol_defer(mio->vol, mio, rc); /* complete from the loop like any other failure */
}

/* Take the member's backend for `mio`, or complete it with RSHARE_EIO from
 * the loop when the member cannot be used (false). */
static bool mio_begin(struct rs_mio *mio)
{
    rshare_volume *vol = mio->vol;
    struct rs_member_block *mb = vol->m[mio->member].mb;
    if (!mb || vol->m[mio->member].failed_here) {
        rs_vol_defer(vol, mio, RSHARE_EIO); /* not started */
        return false;
    }
    mio_attach(mio, mb);
    return true;
}

void rs_mio_start(rshare_volume *vol, struct rs_mio *mio, uint32_t member, uint32_t op,
                  uint64_t sector, uint64_t sectors, void *buf, rs_mio_done_fn done, void *owner)
{
    mio_init(vol, mio, member, op, sector, sectors, buf, done, owner);
    if (!mio_begin(mio))
        return;
    if (op == RSHARE_BLOCK_WRITE && remote_member(vol, member) && mio->io.length == mio->total &&
        mio->total < PLUG_BELOW_BYTES) {
        struct rs_vmember *m = &vol->m[member];
        if (!m->plug)
            m->plug_tail = &m->plug;
        *m->plug_tail = mio;
        m->plug_tail = &mio->plug_next;
        vol->plugged++;
        rs_vol_defer_rows(vol); /* the deferred work runs rs_vol_unplug() */
        return;
    }
    mio_submit(mio);
}

/* A member I/O into or from several buffers (rs_block_submit_vec): only for
 * members on other nodes, never plugged. */
static void mio_start_vec(rshare_volume *vol, struct rs_mio *mio, uint32_t member, uint32_t op,
                          uint64_t sector, const struct rs_seg *seg, uint32_t nseg,
                          rs_mio_done_fn done, void *owner)
{
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < nseg; i++)
        bytes += seg[i].length;
    mio_init(vol, mio, member, op, sector, bytes / 512u, seg[0].buf, done, owner);
    mio->seg = seg;
    mio->nseg = nseg;
    if (mio_begin(mio))
        mio_submit(mio);
}

/* --- plugs: a remote member's writes of one loop turn ------------------------------ */

/* Writes that follow each other on a member on another node (the chunks of
 * consecutive RAID-5 rows written as full stripes, the pieces of a large
 * RAID-0 write) cost a message each way apiece, more than their data
 * (doc/PERFORMANCE.md): held until the turn ends, they go as one write of
 * at most PLUG_MAX_BYTES whose message is filled straight from their
 * buffers (rs_block_submit_vec), and each ends with its status.  A
 * write waits for nothing but the end of the turn. */
#define PLUG_MAX_BYTES (1u << 20)
#define PLUG_MAX_WRITES 64

struct batch {
    rshare_volume *vol;
    uint32_t count;
    struct rs_mio leader;
    struct rs_mio *mio[PLUG_MAX_WRITES];
    struct rs_seg seg[PLUG_MAX_WRITES];
};

static void batch_done(struct rs_mio *leader, int status)
{
    struct batch *b = leader->owner;
    for (uint32_t i = 0; i < b->count; i++)
        mio_finish(b->mio[i], status);
    rs_free(b->vol->node, b);
}

/* `n` plugged writes, one after the other on the same member backend. */
static void submit_group(rshare_volume *vol, struct rs_mio **group, uint32_t n, uint64_t bytes)
{
    struct batch *b = n > 1 ? rs_calloc(vol->node, 1, sizeof(*b)) : NULL;
    if (!b) {
        for (uint32_t i = 0; i < n; i++)
            mio_submit(group[i]);
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        b->seg[i] = (struct rs_seg){.buf = group[i]->io.buf, .length = group[i]->io.length};
        b->mio[i] = group[i];
    }
    b->vol = vol;
    b->count = n;
    /* The group's backend, even if a spare took the slot meanwhile: the
     * writes were meant for it, and fail or land as they would have. */
    mio_init(vol, &b->leader, group[0]->member, RSHARE_BLOCK_WRITE, group[0]->io.offset / 512u,
             bytes / 512u, group[0]->io.buf, batch_done, b);
    b->leader.seg = b->seg;
    b->leader.nseg = n;
    mio_attach(&b->leader, group[0]->mb);
    mio_submit(&b->leader);
}

void rs_vol_unplug(rshare_volume *vol)
{
    for (uint32_t i = 0; vol->plugged && i < vol->desc.member_count; i++) {
        struct rs_mio *mio = vol->m[i].plug, *group[PLUG_MAX_WRITES];
        vol->m[i].plug = NULL;
        while (mio) {
            uint32_t n = 0;
            uint64_t bytes = 0;
            do {
                group[n++] = mio;
                bytes += mio->io.length;
                mio = mio->plug_next;
                vol->plugged--;
            } while (mio && n < PLUG_MAX_WRITES && mio->mb == group[0]->mb &&
                     mio->io.offset == group[n - 1]->io.offset + group[n - 1]->io.length &&
                     bytes + mio->io.length <= PLUG_MAX_BYTES &&
                     (!mio->mb->max_io_bytes || bytes + mio->io.length <= mio->mb->max_io_bytes));
            submit_group(vol, group, n, bytes);
        }
    }
}

void rs_vol_unplug_drop(rshare_volume *vol)
{
    for (uint32_t i = 0; i < vol->desc.member_count; i++)
        while (vol->m[i].plug) {
            struct rs_mio *mio = vol->m[i].plug;
            vol->m[i].plug = mio->plug_next;
            mio->mb->inflight--;
            mb_put(vol, mio->mb);
            vol->plugged--;
        }
}

/* --- the request --------------------------------------------------------------- */

/* One piece of a request on mirrors or one member. */
struct piece {
    struct rs_vreq *req;
    struct rs_extent ext;
    uint8_t *buf;
    struct rs_range_lock lock;
    bool locked, dirtied;
    uint32_t outstanding;
    uint32_t written;   /* mirror copies written */
    uint32_t tried;     /* mirror copies tried (bit per copy) */
    uint32_t bad;       /* mirror copies that had a medium error */
    int refusal;        /* a member host refused it (rs_vol_refusal): not acknowledged */
    bool stale;         /* one refusal was RSHARE_ESTALE: that copy may have run */
    uint64_t refused_members; /* which (bit per member) */
    int status;
    uint32_t nmio;
    struct rs_mio mio[];
};

static struct piece *piece_new(struct rs_vreq *req, const struct rs_extent *ext, uint32_t nmio)
{
    struct piece *p = rs_calloc(req->vol->node, 1, sizeof(*p) + nmio * sizeof(struct rs_mio));
    if (!p)
        return NULL;
    p->req = req;
    if (ext) {
        p->ext = *ext;
        p->buf = req->buf ? req->buf + (ext->logical - req->sector) * 512u : NULL;
    }
    p->nmio = nmio;
    return p;
}

static void piece_end(struct piece *p, int status)
{
    rshare_volume *vol = p->req->vol;
    if (p->dirtied)
        rs_bitmap_write_end(vol->node, &vol->bitmap, p->ext.logical,
                            p->ext.logical + p->ext.sectors);
    if (p->locked)
        rs_range_unlock(&vol->locks, &p->lock);
    struct rs_vreq *req = p->req;
    rs_free(vol->node, p);
    rs_vreq_piece_done(req, status);
}

/* --- mirrors -------------------------------------------------------------------- */

static uint32_t copy_member(const rshare_volume *vol, const struct rs_extent *ext, uint32_t copy,
                            uint64_t *sector)
{
    uint32_t member;
    if (rs_layout_copy(&vol->layout, ext, copy, &member, sector) < 0)
        return RS_LAYOUT_NO_MEMBER;
    return member;
}

static void mirror_read_next(struct piece *p);

static void mirror_repair_done(struct rs_mio *mio, int status)
{
    struct piece *p = mio->owner;
    (void)status; /* a failed rewrite has failed the member: the data is still good */
    if (--p->outstanding == 0)
        piece_end(p, 0);
}

static void mirror_read_done(struct rs_mio *mio, int status)
{
    struct piece *p = mio->owner;
    rshare_volume *vol = p->req->vol;
    uint32_t copy = (uint32_t)(mio - p->mio);
    if (status == 0) {
        vol->m[mio->member].next_sector = (mio->io.offset + mio->io.length) / 512u;
        if (!p->bad) {
            piece_end(p, 0);
            return;
        }
        /* Rewrite the good data over the copies that had a medium error. */
        vol->stats.read_repairs++;
        for (uint32_t c = 0; c < p->ext.copies; c++) {
            uint64_t sector;
            if (!(p->bad & (1u << c)))
                continue;
            uint32_t member = copy_member(vol, &p->ext, c, &sector);
            p->outstanding++;
            rs_mio_start(vol, &p->mio[c], member, RSHARE_BLOCK_WRITE, sector, p->ext.sectors,
                         p->buf, mirror_repair_done, p);
        }
        return;
    }
    if (status == RSHARE_EIO)
        p->bad |= 1u << copy;
    p->status = status;
    mirror_read_next(p);
}

/* Pick the copy to read: in a region a crash left unsynchronised, always
 * the first (so that two reads agree); else one that continues a
 * sequential stream, else the least busy. */
static void mirror_read_next(struct piece *p)
{
    rshare_volume *vol = p->req->vol;
    uint64_t key = p->ext.logical;
    bool unsynced = rs_vol_key_unsynced(vol, key);
    uint32_t best = UINT32_MAX, best_load = UINT32_MAX;
    uint64_t best_sector = 0;
    for (uint32_t c = 0; c < p->ext.copies; c++) {
        uint64_t sector;
        uint32_t member = copy_member(vol, &p->ext, c, &sector);
        /* A member being rebuilt serves the piece only if all of it lies
         * below the checkpoint, not just its first sector. */
        if (member == RS_LAYOUT_NO_MEMBER || (p->tried & (1u << c)) ||
            !rs_vol_readable(vol, member, key + p->ext.sectors - 1))
            continue;
        uint32_t load = vol->m[member].mb->inflight;
        if (vol->m[member].next_sector == sector)
            load = 0; /* sequential: stay on this mirror */
        if (best == UINT32_MAX || (!unsynced && load < best_load)) {
            best = c;
            best_load = load;
            best_sector = sector;
        }
    }
    if (best == UINT32_MAX) {
        piece_end(p, p->status ? p->status : RSHARE_EIO);
        return;
    }
    p->tried |= 1u << best;
    uint32_t member = copy_member(vol, &p->ext, best, &best_sector);
    rs_mio_start(vol, &p->mio[best], member, RSHARE_BLOCK_READ, best_sector, p->ext.sectors,
                 p->buf, mirror_read_done, p);
}

/* A refused write is not acknowledged, so its range may hold the old data
 * or the new; what matters is that every read agrees.
 *
 * An access refusal proves the request never ran (the host checks access
 * after its reply cache): a write every member refused left the copies as
 * they were; members that refused a write that landed elsewhere hold stale
 * data and are failed, so that they are read no more until a re-add copies
 * what they missed (this writer could not bring them back in line: their
 * hosts refuse it).
 *
 * A stale-map refusal proves nothing (the host checks versions first, and
 * an earlier copy of the request may have run before the host's map moved
 * on), and it passes once this node's map catches up.  On mirrors the
 * range is resynced from the first copy, which reads use until then.  On
 * RAID-5 a row that no chunk of the write reached is resynced too (its
 * parity recomputed); a row that some chunks reached, and that stripe.c
 * could not finish by writing the refused chunks again, fails the members
 * that refused, as for access: the row's parity would rebuild a lost
 * member's chunk wrongly. */
int rs_vol_settle_refused(rshare_volume *vol, uint64_t refused_members, bool landed, bool stale,
                          uint64_t start, uint64_t end)
{
    if (stale && (!landed || vol->mirrored)) {
        rs_vol_unsynced(vol, start, end);
    } else if (landed) {
        for (uint32_t m = 0; m < vol->desc.member_count && refused_members; m++)
            if (refused_members & (UINT64_C(1) << m))
                rs_vol_member_failed(vol, m, stale ? RSHARE_ESTALE : RSHARE_EACCES);
    }
    return stale ? RSHARE_ESTALE : RSHARE_EACCES;
}

static void mirror_write_done(struct rs_mio *mio, int status)
{
    struct piece *p = mio->owner;
    if (status == 0)
        p->written++;
    else if (rs_vol_refusal(status)) {
        p->refusal = status;
        p->stale |= status == RSHARE_ESTALE;
        p->refused_members |= UINT64_C(1) << mio->member;
    }
    if (--p->outstanding == 0) {
        if (p->refusal)
            status = rs_vol_settle_refused(p->req->vol, p->refused_members, p->written > 0,
                                           p->stale, p->ext.logical,
                                           p->ext.logical + p->ext.sectors);
        else
            status = p->written ? 0 : (status ? status : RSHARE_EIO);
        piece_end(p, status);
    }
}

static void mirror_write_granted(struct rs_range_lock *lock)
{
    struct piece *p = (struct piece *)((char *)lock - offsetof(struct piece, lock));
    rshare_volume *vol = p->req->vol;
    int rc = rs_bitmap_write_begin(vol->node, &vol->bitmap, p->ext.logical,
                                   p->ext.logical + p->ext.sectors);
    if (rc < 0) {
        piece_end(p, rc);
        return;
    }
    p->dirtied = true;
    p->outstanding = 1; /* guard while starting */
    for (uint32_t c = 0; c < p->ext.copies; c++) {
        uint64_t sector;
        uint32_t member = copy_member(vol, &p->ext, c, &sector);
        if (member == RS_LAYOUT_NO_MEMBER || !rs_vol_writable(vol, member))
            continue;
        p->outstanding++;
        rs_mio_start(vol, &p->mio[c], member, RSHARE_BLOCK_WRITE, sector, p->ext.sectors, p->buf,
                     mirror_write_done, p);
    }
    if (--p->outstanding == 0)
        piece_end(p, p->written ? 0 : RSHARE_EIO);
}

/* --- one member (linear, RAID-0, RAID-5 data reads) ------------------------------ */

static void single_done(struct rs_mio *mio, int status)
{
    struct piece *p = mio->owner;
    rshare_volume *vol = p->req->vol;
    if (status != 0 && !rs_vol_refusal(status) && vol->parity && p->req->op == RS_VREQ_READ) {
        /* A data chunk that cannot be read is rebuilt from its row, and a
         * medium error is repaired by writing the rebuilt data back. */
        struct rs_vreq *req = p->req;
        struct rs_extent ext = p->ext;
        req->pending++;
        piece_end(p, 0);
        rs_stripe_reconstruct_read(req, &ext, status == RSHARE_EIO);
        return;
    }
    if (status == 0 && p->req->op == RS_VREQ_READ)
        vol->m[mio->member].next_sector = (mio->io.offset + mio->io.length) / 512u;
    piece_end(p, status);
}

static void flush_done(struct rs_mio *mio, int status)
{
    struct piece *p = mio->owner;
    if (status == 0)
        p->written++;
    if (--p->outstanding == 0)
        piece_end(p, p->written ? 0 : RSHARE_EIO);
}

/* --- splitting ------------------------------------------------------------------------ */

static void start_piece(struct rs_vreq *req, const struct rs_extent *ext)
{
    rshare_volume *vol = req->vol;
    struct piece *p = piece_new(req, ext, vol->mirrored ? ext->copies : 1);
    if (!p) {
        req->pending++;
        rs_vreq_piece_done(req, RSHARE_ENOMEM);
        return;
    }
    req->pending++;
    if (vol->mirrored) {
        if (req->op == RS_VREQ_READ) {
            mirror_read_next(p);
            return;
        }
        p->locked = true;
        if (rs_range_lock(&vol->locks, &p->lock, ext->logical, ext->logical + ext->sectors,
                          mirror_write_granted))
            mirror_write_granted(&p->lock);
        return;
    }
    if (vol->parity && !rs_vol_readable(vol, ext->member, ext->row)) {
        rs_free(vol->node, p);
        rs_stripe_reconstruct_read(req, ext, false);
        return;
    }
    static const uint32_t member_op[] = {[RS_VREQ_READ] = RSHARE_BLOCK_READ,
                                         [RS_VREQ_WRITE] = RSHARE_BLOCK_WRITE,
                                         [RS_VREQ_DISCARD] = RSHARE_BLOCK_DISCARD};
    rs_mio_start(vol, &p->mio[0], ext->member, member_op[req->op], ext->member_sector,
                 ext->sectors, p->buf, single_done, p);
}

/* --- reads of one member's consecutive chunks ------------------------------------------ */

/* A striped read (RAID-0, RAID-5) touches each member in chunks that are
 * consecutive on the member but not in the caller's buffer: the other
 * members' chunks lie between them.  For a member on another node, one
 * request per chunk costs a message each way per chunk, which costs
 * more than the data (doc/PERFORMANCE.md): the chunks are read with one
 * vectored request (rs_block_submit_vec), each straight into its place.
 * A run that fails goes back to one piece per chunk, which knows how to
 * reconstruct and repair. */
#define RUN_MAX_BYTES (1u << 20)
#define RUN_MAX_CHUNKS 64

struct run {
    struct rs_vreq *req;
    uint32_t count;
    struct rs_mio mio;
    struct rs_extent ext[RUN_MAX_CHUNKS];
    struct rs_seg seg[RUN_MAX_CHUNKS];
};

static void run_done(struct rs_mio *mio, int status)
{
    struct run *r = mio->owner;
    struct rs_vreq *req = r->req;
    rshare_volume *vol = req->vol;
    if (status == 0)
        vol->m[mio->member].next_sector = (mio->io.offset + mio->io.length) / 512u;
    else
        for (uint32_t i = 0; i < r->count; i++)
            start_piece(req, &r->ext[i]);
    rs_free(vol->node, r);
    rs_vreq_piece_done(req, 0);
}

static bool run_readable(const rshare_volume *vol, const struct rs_extent *e)
{
    return !vol->parity || rs_vol_readable(vol, e->member, e->row);
}

/* Extents [0, n) of a read: those of one member that follow each other on
 * it go out as runs; the rest one piece each.  `taken` has n bytes. */
static void start_reads(struct rs_vreq *req, const struct rs_extent *ext, int n, uint8_t *taken)
{
    rshare_volume *vol = req->vol;
    for (int i = 0; i < n; i++) {
        if (taken[i])
            continue;
        taken[i] = 1;
        uint32_t member = ext[i].member;
        int idx[RUN_MAX_CHUNKS], count = 1;
        idx[0] = i;
        uint64_t end = ext[i].member_sector + ext[i].sectors, bytes = ext[i].sectors * 512u;
        /* The member's next chunk, if it follows, is within the next row.
         * A run is one I/O: within the backend's limit too. */
        const struct rs_member_block *mb = vol->m[member].mb;
        uint64_t most = mb && mb->max_io_bytes && mb->max_io_bytes < RUN_MAX_BYTES
                            ? mb->max_io_bytes
                            : RUN_MAX_BYTES;
        if (remote_member(vol, member) && run_readable(vol, &ext[i]))
            for (int j = i + 1; j < n && count < RUN_MAX_CHUNKS &&
                                j <= idx[count - 1] + (int)vol->desc.member_count;
                 j++)
                if (!taken[j] && ext[j].member == member && ext[j].member_sector == end &&
                    bytes + ext[j].sectors * 512u <= most && run_readable(vol, &ext[j])) {
                    taken[j] = 1;
                    idx[count++] = j;
                    end += ext[j].sectors;
                    bytes += ext[j].sectors * 512u;
                }
        struct run *r = count > 1 ? rs_malloc(vol->node, sizeof(*r)) : NULL;
        if (!r) {
            for (int k = 0; k < count; k++)
                start_piece(req, &ext[idx[k]]);
            continue;
        }
        r->req = req;
        r->count = (uint32_t)count;
        for (int k = 0; k < count; k++) {
            r->ext[k] = ext[idx[k]];
            r->seg[k] = (struct rs_seg){
                .buf = req->buf + (r->ext[k].logical - req->sector) * 512u,
                .length = r->ext[k].sectors * 512u};
        }
        req->pending++;
        mio_start_vec(vol, &r->mio, member, RSHARE_BLOCK_READ, ext[i].member_sector, r->seg,
                      (uint32_t)count, run_done, r);
    }
}

static void start_flush(struct rs_vreq *req)
{
    rshare_volume *vol = req->vol;
    struct piece *p = piece_new(req, NULL, vol->desc.member_count);
    req->pending++;
    if (!p) {
        rs_vreq_piece_done(req, RSHARE_ENOMEM);
        return;
    }
    p->outstanding = 1;
    for (uint32_t i = 0; i < vol->desc.member_count; i++) {
        if (!rs_vol_writable(vol, i))
            continue;
        p->outstanding++;
        rs_mio_start(vol, &p->mio[i], i, RSHARE_BLOCK_FLUSH, 0, 0, NULL, flush_done, p);
    }
    if (--p->outstanding == 0)
        piece_end(p, p->written ? 0 : RSHARE_EIO);
}

static void start_pieces(struct rs_vreq *req, const struct rs_extent *ext, int n);

void rs_vreq_start(struct rs_vreq *req)
{
    rshare_volume *vol = req->vol;
    req->pending = 1; /* held while splitting */
    if (rs_vol_state(vol) == RSHARE_VOLUME_FAILED) {
        rs_vreq_piece_done(req, RSHARE_EIO);
        return;
    }
    if (req->op == RS_VREQ_FLUSH) {
        start_flush(req);
        rs_vreq_piece_done(req, 0);
        return;
    }
    uint64_t cap = rs_layout_max_extents(&vol->layout, req->count);
    struct rs_extent *ext = rs_malloc(vol->node, (size_t)cap * sizeof(*ext));
    int n = ext ? rs_layout_map_range(&vol->layout, req->sector, req->count, ext, (size_t)cap)
                : RSHARE_ENOMEM;
    if (n < 0) {
        rs_free(vol->node, ext);
        rs_vreq_piece_done(req, n);
        return;
    }
    uint8_t *taken = req->op == RS_VREQ_READ && !vol->mirrored && n > 1
                         ? rs_calloc(vol->node, (size_t)n, 1)
                         : NULL;
    if (taken)
        start_reads(req, ext, n, taken);
    else
        start_pieces(req, ext, n);
    rs_free(vol->node, taken);
    rs_free(vol->node, ext);
    rs_vreq_piece_done(req, 0);
}

/* Extents [0, n) one piece each (RAID-5 writes: one row's at a time). */
static void start_pieces(struct rs_vreq *req, const struct rs_extent *ext, int n)
{
    rshare_volume *vol = req->vol;
    for (int i = 0; i < n;) {
        if (vol->parity && req->op == RS_VREQ_WRITE) {
            int k = i + 1;
            while (k < n && ext[k].row == ext[i].row)
                k++;
            req->pending++;
            rs_stripe_write(req, &ext[i], (size_t)(k - i));
            i = k;
            continue;
        }
        start_piece(req, &ext[i]);
        i++;
    }
}

void rs_vreq_piece_done(struct rs_vreq *req, int status)
{
    if (status < 0 && req->status == 0)
        req->status = status;
    if (--req->pending)
        return;
    rs_vol_request_done(req);
}
