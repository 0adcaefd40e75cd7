/* rshare block — RAID-5 rows: writes and reconstructing reads.
 *
 * A write to one row works on the window [lo, hi) of the chunk that the
 * write touches in any data chunk, under the row's lock:
 *   full  every data chunk is written over the whole window: parity is
 *         computed from the new data, nothing is read;
 *   RMW   read the old data being replaced and the old parity, fold the
 *         change into the parity (chosen when it reads less);
 *   RCW   read the data not being replaced, compute parity from all data;
 *   recon a data member that cannot be read (failed, or not rebuilt yet)
 *         holds data outside the write: read every other member, rebuild
 *         it, then as RCW (and write all of it if it is being rebuilt).
 * A member that fails while the row is read makes the row plan again with
 * what is left.  The row's bit in the write-intent bitmap is set before
 * anything is written.  A row that some chunks reached while hosts whose
 * map differs from ours refused the others is finished by writing those
 * again, not left torn (rs_vol_settle_refused). */
#include "config.h"

#include <string.h>

#include "core/shared.h"
#include "engine.h"
#include "xor.h"

enum row_kind { ROW_FULL, ROW_RMW, ROW_RCW, ROW_RECON, ROW_READ };

#define ROW_MERGE_MAX 8 /* requests one row write may serve */
#define ROW_REWRITE_MAX 8 /* rounds of writing refused chunks again */
#define ROW_HOLD_US 1000  /* how long a row a stream's next write may fill waits */

struct rs_rowop {
    struct rs_vreq *req;
    struct rs_vreq *more[ROW_MERGE_MAX - 1]; /* requests merged into this row write */
    uint32_t merged;
    struct rs_rowop *next_pending;              /* gathering, or waiting for its log */
    uint64_t hold_until;                        /* gathering: start no sooner (0: at once) */
    struct rs_ppl_batch *batch;                 /* the log record that covers it */
    uint8_t *partial;                           /* its partial parity (logged rows) */
    uint64_t log_ws[RS_LAYOUT_MAX_MEMBERS];     /* what it changes, as logged */
    uint64_t log_we[RS_LAYOUT_MAX_MEMBERS];
    rshare_volume *vol;
    struct rs_stripe st;
    enum row_kind kind;
    uint64_t lo, hi;                            /* window, sectors within the chunk */
    uint64_t ws[RS_LAYOUT_MAX_MEMBERS];         /* per data chunk: written range */
    uint64_t we[RS_LAYOUT_MAX_MEMBERS];
    uint8_t *src[RS_LAYOUT_MAX_MEMBERS];        /* new data at ws (user buffer) */
    uint32_t missing;                           /* ROW_RECON / ROW_READ: data chunk rebuilt */
    bool repair;                                /* ROW_READ: write the rebuilt data back */
    uint32_t bad;                               /* members with a medium error here (bit) */
    uint8_t *mem, *buf[RS_LAYOUT_MAX_MEMBERS];  /* window buffers by member number */
    struct rs_range_lock lock;
    bool locked, dirtied;
    uint32_t outstanding, replans, rewrites;
    int status;
    int refusal;                                /* a member host refused (rs_vol_refusal) */
    bool stale;                                 /* one refusal was RSHARE_ESTALE */
    uint64_t refused_members;                   /* which (bit per member) */
    uint32_t landed;                            /* member writes that succeeded */
    struct rs_mio mio[RS_LAYOUT_MAX_MEMBERS];
};

static uint64_t window(const struct rs_rowop *op)
{
    return op->hi - op->lo;
}

static bool full_chunk(const struct rs_rowop *op, uint32_t k)
{
    return op->ws[k] == op->lo && op->we[k] == op->hi;
}

static bool touched(const struct rs_rowop *op, uint32_t k)
{
    return op->ws[k] < op->we[k];
}

static bool readable(const struct rs_rowop *op, uint32_t member)
{
    return !(op->bad & (1u << member)) && rs_vol_readable(op->vol, member, op->st.row);
}

static void row_end(struct rs_rowop *op, int status)
{
    rshare_volume *vol = op->vol;
    if (op->dirtied)
        rs_bitmap_write_end(vol->node, &vol->bitmap, op->st.row, op->st.row + 1);
    if (op->locked)
        rs_range_unlock(&vol->locks, &op->lock);
    struct rs_vreq *req = op->req, *more[ROW_MERGE_MAX - 1];
    uint32_t merged = op->merged;
    memcpy(more, op->more, merged * sizeof(more[0]));
    struct rs_ppl_batch *batch = op->batch;
    rs_free(vol->node, op->partial);
    rs_shared_unref(vol->node, op->mem);
    rs_free(vol->node, op);
    if (batch)
        rs_ppl_row_done(vol, batch);
    rs_vreq_piece_done(req, status);
    for (uint32_t i = 0; i < merged; i++)
        rs_vreq_piece_done(more[i], status);
}

static int alloc_windows(struct rs_rowop *op)
{
    rshare_volume *vol = op->vol;
    size_t bytes = (size_t)window(op) * 512u;
    size_t n = vol->desc.member_count;
    op->mem = rs_shared_alloc(vol->node, n * bytes + RS_XOR_ALIGN);
    if (!op->mem)
        return RSHARE_ENOMEM;
    uint8_t *p = op->mem + (RS_XOR_ALIGN - ((uintptr_t)op->mem & (RS_XOR_ALIGN - 1)));
    for (size_t j = 0; j < n; j++)
        op->buf[j] = p + j * bytes;
    return 0;
}

static void row_plan(struct rs_rowop *op);
static void row_issue(struct rs_rowop *op);
static void row_log(struct rs_rowop *op);
static void row_written(struct rs_mio *mio, int status);

/* Start one member I/O of the row's current phase. */
static void row_io(struct rs_rowop *op, uint32_t member, uint32_t io_op, uint64_t from, uint64_t to,
                   void *buf, rs_mio_done_fn done)
{
    op->outstanding++;
    rs_mio_start(op->vol, &op->mio[member], member, io_op, op->st.member_sector + from,
                 to - from, buf, done, op);
}

/* --- writing ---------------------------------------------------------------------- */

/* Write what the row's plan gives member `member` (nothing if the plan
 * leaves it alone). */
static void row_member_write(struct rs_rowop *op, uint32_t member)
{
    const struct rs_stripe *st = &op->st;
    if (member == st->parity_member) {
        row_io(op, member, RSHARE_BLOCK_WRITE, op->lo, op->hi, op->buf[member], row_written);
        return;
    }
    for (uint32_t k = 0; k < st->data_count; k++) {
        if (st->data_member[k] != member)
            continue;
        if (op->kind == ROW_RECON && k == op->missing)
            row_io(op, member, RSHARE_BLOCK_WRITE, op->lo, op->hi, op->buf[member], row_written);
        else if (touched(op, k))
            row_io(op, member, RSHARE_BLOCK_WRITE, op->ws[k], op->we[k], op->src[k],
                   row_written);
        return;
    }
}

static void row_write_put(struct rs_rowop *op)
{
    if (--op->outstanding)
        return;
    if (op->refusal && op->stale && op->landed && op->req->op == RS_VREQ_WRITE &&
        op->rewrites < ROW_REWRITE_MAX && !op->vol->closing) {
        /* Some chunks landed, and hosts whose map differs from ours refused
         * the others: the row is torn until they take theirs.  Still under
         * the row's lock and with every buffer at hand, write those again
         * (each member I/O retries within the volume's budget meanwhile,
         * so this waits for our map to catch up) rather than fail them. */
        uint64_t members = op->refused_members;
        op->rewrites++;
        op->refusal = 0;
        op->stale = false;
        op->refused_members = 0;
        op->outstanding = 1; /* guard while starting */
        for (uint32_t j = 0; j < op->vol->desc.member_count; j++)
            if ((members & (UINT64_C(1) << j)) && rs_vol_writable(op->vol, j))
                row_member_write(op, j);
        row_write_put(op); /* drop the guard */
        return;
    }
    /* The write stands if the volume still holds every row (one missing
     * member at most) and no member host refused it.  A refused write is
     * not acknowledged; if some of its chunks landed, the members that
     * refused theirs no longer match the row and are failed; if none did
     * but a refusal was stale, the row is resynced (rs_vol_settle_refused). */
    if (op->refusal)
        row_end(op, rs_vol_settle_refused(op->vol, op->refused_members, op->landed > 0,
                                          op->stale, op->st.row, op->st.row + 1));
    else
        row_end(op, rs_vol_state(op->vol) == RSHARE_VOLUME_FAILED ? RSHARE_EIO : 0);
}

static void row_written(struct rs_mio *mio, int status)
{
    /* A failed write has failed its member, so the row stays consistent;
     * a refusal is settled in row_write_put(). */
    struct rs_rowop *op = mio->owner;
    if (status == 0)
        op->landed++;
    else if (rs_vol_refusal(status)) {
        op->refusal = status;
        op->stale |= status == RSHARE_ESTALE;
        op->refused_members |= UINT64_C(1) << mio->member;
    }
    row_write_put(op);
}

static void row_write(struct rs_rowop *op)
{
    rshare_volume *vol = op->vol;
    const struct rs_stripe *st = &op->st;
    uint64_t w = window(op);
    size_t bytes = (size_t)w * 512u;
    uint8_t *parity = op->buf[st->parity_member];
    const void *srcs[RS_LAYOUT_MAX_MEMBERS];

    switch (op->kind) {
    case ROW_FULL:
        for (uint32_t k = 0; k < st->data_count; k++)
            srcs[k] = op->src[k];
        rs_xor_gen(parity, srcs, st->data_count, bytes);
        vol->stats.full_stripe_writes++;
        break;
    case ROW_RMW:
        for (uint32_t k = 0; k < st->data_count; k++) {
            if (!touched(op, k))
                continue;
            size_t off = (size_t)(op->ws[k] - op->lo) * 512u;
            const void *change[2] = {op->buf[st->data_member[k]] + off, op->src[k]};
            rs_xor_acc(parity + off, change, 2, (size_t)(op->we[k] - op->ws[k]) * 512u);
        }
        vol->stats.rmw_writes++;
        break;
    case ROW_RECON:
    case ROW_RCW: {
        if (op->kind == ROW_RECON) {
            /* The missing chunk's old contents: parity ^ the other data. */
            uint32_t lost = st->data_member[op->missing];
            size_t n = 0;
            for (uint32_t j = 0; j < vol->desc.member_count; j++)
                if (j != lost)
                    srcs[n++] = op->buf[j];
            rs_xor_gen(op->buf[lost], srcs, n, bytes);
        }
        for (uint32_t k = 0; k < st->data_count; k++) {
            uint8_t *dst = op->buf[st->data_member[k]];
            if (full_chunk(op, k))
                srcs[k] = op->src[k];
            else {
                if (touched(op, k))
                    memcpy(dst + (op->ws[k] - op->lo) * 512u, op->src[k],
                           (size_t)(op->we[k] - op->ws[k]) * 512u);
                srcs[k] = dst;
            }
        }
        rs_xor_gen(parity, srcs, st->data_count, bytes);
        vol->stats.rcw_writes++;
        break;
    }
    default:
        break;
    }

    /* A full-stripe write leaves no old data in its window for a crash to
     * endanger: it needs no log entry (as in md). */
    if (vol->ppl.enabled && op->kind != ROW_FULL)
        row_log(op);
    else
        row_issue(op);
}

/* The row's member writes, once its log entry (if any) is durable. */
static void row_issue(struct rs_rowop *op)
{
    rshare_volume *vol = op->vol;
    const struct rs_stripe *st = &op->st;
    int rc = rs_bitmap_write_begin(vol->node, &vol->bitmap, st->row, st->row + 1);
    if (rc < 0) {
        row_end(op, rc);
        return;
    }
    op->dirtied = true;
    op->outstanding = 1; /* guard while starting */
    for (uint32_t j = 0; j < vol->desc.member_count; j++)
        if (rs_vol_writable(vol, j))
            row_member_write(op, j);
    row_write_put(op); /* drop the guard */
}

/* The partial parity: new parity ^ the new data of every chunk the write
 * changes = the XOR of the data it leaves alone.  In a reconstruct plan the
 * missing chunk counts as changed over the whole window. */
static int row_partial(struct rs_rowop *op)
{
    rshare_volume *vol = op->vol;
    const struct rs_stripe *st = &op->st;
    size_t bytes = (size_t)window(op) * 512u;
    op->partial = rs_malloc(vol->node, bytes);
    if (!op->partial)
        return RSHARE_ENOMEM;
    memcpy(op->partial, op->buf[st->parity_member], bytes);
    for (uint32_t k = 0; k < st->data_count; k++) {
        op->log_ws[k] = op->log_we[k] = 0;
        const uint8_t *data;
        if (op->kind == ROW_RECON && k == op->missing) {
            op->log_ws[k] = op->lo;
            op->log_we[k] = op->hi;
            data = op->buf[st->data_member[k]];
        } else if (touched(op, k)) {
            op->log_ws[k] = op->ws[k];
            op->log_we[k] = op->we[k];
            data = op->src[k];
        } else {
            continue;
        }
        size_t off = (size_t)(op->log_ws[k] - op->lo) * 512u;
        const void *src[1] = {data};
        rs_xor_acc(op->partial + off, src, 1, (size_t)(op->log_we[k] - op->log_ws[k]) * 512u);
    }
    return 0;
}

/* Log the row (ppl.h); its writes start when the log is durable. */
static void row_log(struct rs_rowop *op)
{
    if (!op->partial) {
        int rc = row_partial(op);
        if (rc < 0) {
            row_end(op, rc);
            return;
        }
    }
    if (!rs_ppl_log_row(op->vol, op, op->partial, op->st.row, op->lo, op->hi,
                        op->st.data_count, op->log_ws, op->log_we))
        row_issue(op);
}

void rs_stripe_row_wait(rshare_volume *vol, struct rs_rowop *op, struct rs_ppl_batch *batch)
{
    (void)vol;
    op->batch = batch;
    op->next_pending = batch->waiting;
    batch->waiting = op;
}

void rs_stripe_row_block(rshare_volume *vol, struct rs_rowop *op)
{
    op->next_pending = vol->ppl.blocked;
    vol->ppl.blocked = op;
}

void rs_stripe_rows_logged(rshare_volume *vol, struct rs_ppl_batch *batch, int status)
{
    (void)vol;
    struct rs_rowop *op = batch->waiting;
    batch->waiting = NULL;
    while (op) {
        struct rs_rowop *next = op->next_pending;
        if (status < 0)
            row_end(op, status);
        else
            row_issue(op);
        op = next;
    }
}

void rs_stripe_rows_unblocked(rshare_volume *vol, struct rs_rowop *list)
{
    (void)vol;
    while (list) {
        struct rs_rowop *next = list->next_pending;
        row_log(list);
        list = next;
    }
}

void rs_stripe_row_failed(struct rs_rowop *op, int status)
{
    row_end(op, status);
}

/* --- reading what the plan needs ---------------------------------------------------- */

static void row_read_put(struct rs_rowop *op)
{
    if (--op->outstanding)
        return;
    if (rs_vol_refusal(op->status)) {
        /* A member host refused a read: nothing was written yet, and
         * planning again would meet the same refusal. */
        row_end(op, op->status);
        return;
    }
    if (op->status < 0) {
        /* A member dropped out while the row was read: plan again. */
        op->status = 0;
        if (++op->replans > RS_LAYOUT_MAX_MEMBERS) {
            row_end(op, RSHARE_EIO);
            return;
        }
        row_plan(op);
        return;
    }
    if (op->kind == ROW_READ) {
        /* Rebuilt chunk = XOR of every other member of the row. */
        rshare_volume *vol = op->vol;
        uint32_t lost = op->st.data_member[op->missing];
        const void *srcs[RS_LAYOUT_MAX_MEMBERS];
        size_t n = 0;
        for (uint32_t j = 0; j < vol->desc.member_count; j++)
            if (j != lost)
                srcs[n++] = op->buf[j];
        rs_xor_gen(op->src[op->missing], srcs, n, (size_t)window(op) * 512u);
        vol->stats.degraded_reads++;
        if (op->repair && rs_vol_writable(vol, lost)) {
            op->repair = false;
            vol->stats.read_repairs++;
            op->kind = ROW_FULL; /* nothing more to read; row_written ends it */
            op->outstanding = 1;
            row_io(op, lost, RSHARE_BLOCK_WRITE, op->lo, op->hi, op->src[op->missing],
                   row_written);
            row_write_put(op);
            return;
        }
        row_end(op, 0);
        return;
    }
    row_write(op);
}

static void row_read_done(struct rs_mio *mio, int status)
{
    struct rs_rowop *op = mio->owner;
    if (status == RSHARE_EIO)
        op->bad |= 1u << mio->member; /* medium error: plan without it */
    if (status < 0 && (op->status == 0 || rs_vol_refusal(status)))
        op->status = status;
    row_read_put(op);
}

/* Read the window of every member but `lost` (false, nothing started,
 * when one of them cannot be read either).  Ends with the guard dropped. */
static bool read_all_but(struct rs_rowop *op, uint32_t lost)
{
    rshare_volume *vol = op->vol;
    for (uint32_t j = 0; j < vol->desc.member_count; j++)
        if (j != lost && !readable(op, j))
            return false;
    for (uint32_t j = 0; j < vol->desc.member_count; j++)
        if (j != lost)
            row_io(op, j, RSHARE_BLOCK_READ, op->lo, op->hi, op->buf[j], row_read_done);
    row_read_put(op);
    return true;
}

static void row_plan(struct rs_rowop *op)
{
    const struct rs_stripe *st = &op->st;
    uint32_t parity = st->parity_member;
    op->outstanding = 1; /* guard while starting */

    if (op->kind == ROW_READ) {
        if (!read_all_but(op, st->data_member[op->missing]))
            row_end(op, RSHARE_EIO); /* a second member is missing */
        return;
    }

    bool all_full = true, rmw_ok = readable(op, parity), rcw_ok = true;
    uint64_t rmw_cost = window(op), rcw_cost = 0;
    uint32_t unreadable = 0, missing = UINT32_MAX;
    for (uint32_t k = 0; k < st->data_count; k++) {
        bool r = readable(op, st->data_member[k]);
        if (!full_chunk(op, k)) {
            all_full = false;
            rcw_cost += window(op);
            if (!r) {
                rcw_ok = false;
                unreadable++;
                missing = k;
            }
        }
        if (touched(op, k)) {
            rmw_cost += op->we[k] - op->ws[k];
            if (!r)
                rmw_ok = false;
        }
    }
    if (all_full)
        op->kind = ROW_FULL;
    else if (rmw_ok && (!rcw_ok || rmw_cost < rcw_cost))
        op->kind = ROW_RMW;
    else if (rcw_ok)
        op->kind = ROW_RCW;
    else if (unreadable == 1) {
        op->kind = ROW_RECON;
        op->missing = missing;
    } else {
        row_end(op, RSHARE_EIO);
        return;
    }

    switch (op->kind) {
    case ROW_RMW:
        for (uint32_t k = 0; k < st->data_count; k++)
            if (touched(op, k)) {
                uint32_t m = st->data_member[k];
                row_io(op, m, RSHARE_BLOCK_READ, op->ws[k], op->we[k],
                       op->buf[m] + (op->ws[k] - op->lo) * 512u, row_read_done);
            }
        row_io(op, parity, RSHARE_BLOCK_READ, op->lo, op->hi, op->buf[parity], row_read_done);
        break;
    case ROW_RCW:
        for (uint32_t k = 0; k < st->data_count; k++)
            if (!full_chunk(op, k)) {
                uint32_t m = st->data_member[k];
                row_io(op, m, RSHARE_BLOCK_READ, op->lo, op->hi, op->buf[m], row_read_done);
            }
        break;
    case ROW_RECON:
        if (!read_all_but(op, st->data_member[op->missing]))
            row_end(op, RSHARE_EIO);
        return;
    default:
        break;
    }
    /* Drop the guard: with nothing to read this goes straight to writing. */
    row_read_put(op);
}

static void row_granted(struct rs_range_lock *lock)
{
    struct rs_rowop *op = (struct rs_rowop *)((char *)lock - offsetof(struct rs_rowop, lock));
    row_plan(op);
}

static struct rs_rowop *row_new(struct rs_vreq *req, uint64_t row)
{
    rshare_volume *vol = req->vol;
    struct rs_rowop *op = rs_calloc(vol->node, 1, sizeof(*op));
    if (!op)
        return NULL;
    op->req = req;
    op->vol = vol;
    if (rs_layout_stripe(&vol->layout, row, &op->st) < 0) {
        rs_free(vol->node, op);
        return NULL;
    }
    return op;
}

static void row_start(struct rs_rowop *op)
{
    if (alloc_windows(op) < 0) {
        row_end(op, RSHARE_ENOMEM);
        return;
    }
    op->locked = true;
    if (rs_range_lock(&op->vol->locks, &op->lock, op->st.row, op->st.row + 1, row_granted))
        row_plan(op);
}

static bool row_full(const struct rs_rowop *op)
{
    for (uint32_t k = 0; k < op->st.data_count; k++)
        if (op->ws[k] != 0 || op->we[k] != op->vol->layout.desc.chunk_sectors)
            return false;
    return true;
}

/* Fold `from` (not started) into `into` when they touch different data
 * chunks: one row write then serves both requests. */
static bool row_merge(struct rs_rowop *into, struct rs_rowop *from)
{
    if (into->st.row != from->st.row || into->merged + 1 + from->merged >= ROW_MERGE_MAX)
        return false;
    for (uint32_t k = 0; k < into->st.data_count; k++)
        if (touched(into, k) && touched(from, k))
            return false;
    for (uint32_t k = 0; k < into->st.data_count; k++)
        if (touched(from, k)) {
            into->ws[k] = from->ws[k];
            into->we[k] = from->we[k];
            into->src[k] = from->src[k];
        }
    if (from->lo < into->lo)
        into->lo = from->lo;
    if (from->hi > into->hi)
        into->hi = from->hi;
    into->more[into->merged++] = from->req;
    for (uint32_t i = 0; i < from->merged; i++)
        into->more[into->merged++] = from->more[i];
    rs_free(from->vol->node, from);
    return true;
}

/* The partial rows gathered during this turn of the loop start now, but
 * those held for a stream: the earliest of them sets the hold timer. */
void rs_stripe_flush_pending(rshare_volume *vol)
{
    uint64_t now = rs_now_us(vol->node), wake = UINT64_MAX;
    struct rs_rowop *op = vol->pending_rows, *held = NULL;
    vol->pending_rows = NULL;
    while (op) {
        struct rs_rowop *next = op->next_pending;
        if (op->hold_until > now && !vol->closing) {
            if (op->hold_until < wake)
                wake = op->hold_until;
            op->next_pending = held;
            held = op;
        } else {
            row_start(op);
        }
        op = next;
    }
    /* Rows added while starting the others stay at the front. */
    struct rs_rowop **tail = &vol->pending_rows;
    while (*tail)
        tail = &(*tail)->next_pending;
    *tail = held;
    if (held)
        rs_timer_schedule(vol->node, &vol->hold_timer, wake);
}

void rs_stripe_hold_expired(rshare_node *node, struct rs_timer *timer)
{
    (void)node;
    rshare_volume *vol = (rshare_volume *)((char *)timer - offsetof(rshare_volume, hold_timer));
    rs_stripe_flush_pending(vol);
}

/* A write that fills its row starts at once.  One that fills only part
 * waits for the end of this turn of the loop: writes submitted together
 * (a large sequential write split into requests, an application's queue)
 * often fill the rest of the row, and one full-stripe write then replaces
 * two reconstruct-writes (the stripe cache's job in md).  The row where a
 * write ends, while other requests are in flight, waits up to ROW_HOLD_US
 * longer: a sequential stream's next write starts there, and usually
 * arrives when one of those in flight completes.  A lone writer (nothing
 * else in flight) never waits: its next write cannot come before this
 * one is done. */
void rs_stripe_write(struct rs_vreq *req, const struct rs_extent *ext, size_t n)
{
    rshare_volume *vol = req->vol;
    struct rs_rowop *op = row_new(req, ext[0].row);
    if (!op) {
        rs_vreq_piece_done(req, RSHARE_ENOMEM);
        return;
    }
    op->kind = ROW_RCW; /* decided once the row is locked */
    op->lo = UINT64_MAX;
    for (size_t i = 0; i < n; i++) {
        uint32_t k = ext[i].data_index;
        uint64_t off = ext[i].member_sector - op->st.member_sector;
        op->ws[k] = off;
        op->we[k] = off + ext[i].sectors;
        op->src[k] = req->buf + (ext[i].logical - req->sector) * 512u;
        if (off < op->lo)
            op->lo = off;
        if (off + ext[i].sectors > op->hi)
            op->hi = off + ext[i].sectors;
    }
    /* Does the request end in this row, before the row's end? */
    const struct rs_extent *last = &ext[n - 1];
    bool tail = last->logical + last->sectors == req->sector + req->count &&
                !(last->data_index == op->st.data_count - 1 &&
                  op->we[last->data_index] == vol->layout.desc.chunk_sectors);
    bool full = row_full(op);
    for (struct rs_rowop **at = &vol->pending_rows; *at;) {
        struct rs_rowop *p = *at;
        if (p->st.row != op->st.row) {
            at = &p->next_pending;
            continue;
        }
        if (!full && row_merge(p, op)) {
            if (row_full(p)) {
                *at = p->next_pending;
                row_start(p);
            }
            return;
        }
        /* The same blocks again, or a full row: the earlier write goes
         * first, as it would have without the wait. */
        *at = p->next_pending;
        row_start(p);
    }
    if (full) {
        row_start(op);
        return;
    }
    if (tail && vol->inflight > 1)
        op->hold_until = rs_now_us(vol->node) + ROW_HOLD_US;
    op->next_pending = vol->pending_rows;
    vol->pending_rows = op;
    rs_vol_defer_rows(vol);
}

void rs_stripe_reconstruct_read(struct rs_vreq *req, const struct rs_extent *ext, bool repair)
{
    struct rs_rowop *op = row_new(req, ext->row);
    if (!op) {
        rs_vreq_piece_done(req, RSHARE_ENOMEM);
        return;
    }
    op->kind = ROW_READ;
    op->missing = ext->data_index;
    op->repair = repair;
    op->lo = ext->member_sector - op->st.member_sector;
    op->hi = op->lo + ext->sectors;
    op->src[ext->data_index] = req->buf + (ext->logical - req->sector) * 512u;
    row_start(op);
}
