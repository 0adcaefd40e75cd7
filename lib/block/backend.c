/* rshare block — the block core: the rshare_block handle that binds a
 * backend vtable to a node, the checks every I/O passes before a backend
 * sees it, completion delivery from the node's loop, the synchronous
 * helpers, closing with I/O in flight, and the per-node set-up.
 *
 * Each submitted I/O gets a small record (struct rs_block_op) whose copy of
 * the I/O is what the backend sees: its `done` lands here, never in the
 * caller's callback directly.  That is how rshare keeps its promise that
 * `done` never runs inside rshare_block_submit() (a backend may complete
 * synchronously) nor inside a backend's own call stack (the caller may
 * close the block from `done`), and how close can complete the caller's
 * I/O with RSHARE_ECANCELED while the backend still holds its copy. */
#include "config.h"

#include <string.h>

#include "backend.h"
#include "blockwire.h"
#include "cluster/cluster.h"

struct rs_block_op {
    struct rshare_block_io io;    /* the backend's copy; io.user_data is this record */
    struct rshare_block_io *user; /* the caller's I/O; NULL once it was completed early */
    rshare_block *block;          /* the block whose backend runs it */
    rshare_block *via;            /* the handle it was submitted through */
    struct rs_block_op *prev, *next;
    int status;
    bool completed; /* the backend called done */
    const struct rs_seg *seg; /* a vectored I/O's segments (rs_block_submit_vec) */
    uint32_t nseg;
};

struct op_list {
    struct rs_block_op *head, *tail;
};

#define OP_CACHE_MAX 16 /* records kept for reuse per block */

struct rshare_block {
    rshare_node *node;
    rshare_block *open_prev, *open_next; /* rs_blocks(node)->open */
    struct rshare_block_ops ops;
    void *backend;
    void (*abandon)(void *backend);
    struct rshare_block_info info;

    /* A local shortcut (rshare_block_open_resource on the host) owns no
     * backend: it forwards to the block registered for `alias_of`. */
    uint64_t alias_of;
    rshare_block *target; /* where its I/O went; valid while `inflight` */

    uint64_t registered; /* the resource this block serves, 0 if none */
    unsigned inflight;   /* caller I/Os submitted through this handle, not yet done */
    struct op_list held;  /* submitted: the backend holds them */
    struct op_list ready; /* completed by the backend, waiting for delivery */
    struct rs_block_op *cache;
    unsigned cached;
    struct rs_timer timer; /* delivers `ready` from the node's loop */
    unsigned delivering;   /* nesting of deliver(): the handle must not go away under it */
    bool closed;
    bool backend_closed;
    bool vectors; /* the backend takes vectored I/O (rs_block_submit_vec) */
};

/* --- lists and records ------------------------------------------------------- */

static void list_push(struct op_list *l, struct rs_block_op *op)
{
    op->next = NULL;
    op->prev = l->tail;
    if (l->tail)
        l->tail->next = op;
    else
        l->head = op;
    l->tail = op;
}

static void list_remove(struct op_list *l, struct rs_block_op *op)
{
    if (op->prev)
        op->prev->next = op->next;
    else
        l->head = op->next;
    if (op->next)
        op->next->prev = op->prev;
    else
        l->tail = op->prev;
    op->prev = op->next = NULL;
}

static struct rs_block_op *op_get(rshare_block *b)
{
    struct rs_block_op *op = b->cache;
    if (op) {
        b->cache = op->next;
        b->cached--;
    } else {
        op = rs_malloc(b->node, sizeof(*op));
        if (!op)
            return NULL;
    }
    memset(op, 0, sizeof(*op));
    return op;
}

static void op_put(rshare_block *b, struct rs_block_op *op)
{
    if (b->cached < OP_CACHE_MAX && !b->closed) {
        op->next = b->cache;
        b->cache = op;
        b->cached++;
    } else {
        rs_free(b->node, op);
    }
}

/* --- the handle's life ------------------------------------------------------ */

static void deliver(rshare_node *node, struct rs_timer *timer);

static rshare_block *block_new(rshare_node *node)
{
    rshare_block *b = rs_calloc(node, 1, sizeof(*b));
    if (!b)
        return NULL;
    b->node = node;
    rs_timer_init(&b->timer, deliver);
    struct rs_blocks *blocks = rs_blocks(node);
    b->open_next = blocks->open;
    if (blocks->open)
        blocks->open->open_prev = b;
    blocks->open = b;
    return b;
}

/* Free a closed handle once nothing refers to it any more: no delivery
 * running, and no I/O left with its backend (which may still call done). */
static void try_release(rshare_block *b)
{
    if (!b->closed || b->delivering || b->held.head)
        return;
    if (!b->backend_closed) {
        b->backend_closed = true;
        if (b->ops.close)
            b->ops.close(b->backend);
    }
    rshare_node *node = b->node;
    rs_timer_cancel(node, &b->timer);
    while (b->ready.head) { /* only when forced by node teardown */
        struct rs_block_op *op = b->ready.head;
        list_remove(&b->ready, op);
        rs_free(node, op);
    }
    while (b->cache) {
        struct rs_block_op *op = b->cache;
        b->cache = op->next;
        rs_free(node, op);
    }
    struct rs_blocks *blocks = rs_blocks(node);
    if (b->open_prev)
        b->open_prev->open_next = b->open_next;
    else
        blocks->open = b->open_next;
    if (b->open_next)
        b->open_next->open_prev = b->open_prev;
    rs_free(node, b);
}

/* Hand a finished I/O to its caller.  The record is released first: `done`
 * may submit again, or close this block or the handle it came through. */
static void finish(rshare_block *b, struct rs_block_op *op, int status)
{
    struct rshare_block_io *user = op->user;
    if (user)
        op->via->inflight--;
    op_put(b, op);
    if (user)
        user->done(user, status);
}

static void deliver(rshare_node *node, struct rs_timer *timer)
{
    (void)node;
    rshare_block *b = (rshare_block *)((char *)timer - offsetof(rshare_block, timer));
    b->delivering++;
    while (!b->closed && b->ready.head) {
        struct rs_block_op *op = b->ready.head;
        list_remove(&b->ready, op);
        finish(b, op, op->status);
    }
    b->delivering--;
    try_release(b);
}

/* The backend's completion of our copy of an I/O. */
static void op_done(struct rshare_block_io *io, int status)
{
    struct rs_block_op *op = io->user_data;
    rshare_block *b = op->block;
    if (op->completed) {
        rs_log_error(b->node, "block backend completed one I/O twice (ignored)");
        return;
    }
    op->completed = true;
    op->status = status > 0 ? 0 : status;
    list_remove(&b->held, op);
    if (!op->user) {
        /* Its caller was told RSHARE_ECANCELED already. */
        op_put(b, op);
        try_release(b);
        return;
    }
    list_push(&b->ready, op);
    if (!rs_timer_pending(&b->timer))
        rs_timer_schedule(b->node, &b->timer, rs_now_us(b->node));
}

/* Complete early every caller I/O of `b` submitted through `via` (all of
 * them when NULL): those the backend finished keep their status, those it
 * still holds get RSHARE_ECANCELED (the record stays until the backend
 * returns it).  Each pass starts again from the head: a `done` may close
 * other handles and so change these lists. */
static void cancel_via(rshare_block *b, const rshare_block *via)
{
    b->delivering++; /* a `done` may close `b`: the caller releases it after */
    for (;;) {
        struct rs_block_op *op = b->ready.head;
        while (op && via && op->via != via)
            op = op->next;
        if (!op)
            break;
        list_remove(&b->ready, op);
        finish(b, op, op->status);
    }
    for (;;) {
        struct rs_block_op *op = b->held.head;
        while (op && (!op->user || (via && op->via != via)))
            op = op->next;
        if (!op)
            break;
        struct rshare_block_io *user = op->user;
        op->user = NULL;
        op->via->inflight--;
        user->done(user, RSHARE_ECANCELED);
    }
    b->delivering--;
}

/* --- creating ---------------------------------------------------------------- */

RSHARE_API void rshare_block_info_init(struct rshare_block_info *info, size_t struct_size)
{
    if (!info || struct_size < sizeof(uint32_t))
        return;
    memset(info, 0, struct_size);
    info->struct_size = (uint32_t)struct_size;
}

RSHARE_API void rshare_block_io_init(struct rshare_block_io *io, size_t struct_size)
{
    if (!io || struct_size < sizeof(uint32_t))
        return;
    memset(io, 0, struct_size);
    io->struct_size = (uint32_t)struct_size;
}

static bool power_of_two(uint32_t v)
{
    return v && !(v & (v - 1));
}

#define KNOWN_CAPS (RSHARE_BLOCK_CAP_FLUSH | RSHARE_BLOCK_CAP_DISCARD | RSHARE_BLOCK_CAP_READONLY)

int rs_block_create(rshare_node *node, const struct rshare_block_ops *ops, void *backend,
                    const struct rshare_block_info *info, void (*abandon)(void *backend),
                    rshare_block **out)
{
    if (!node || !ops || !info || !out)
        return RSHARE_EINVAL;
    *out = NULL;
    if (ops->struct_size < offsetof(struct rshare_block_ops, close) + sizeof(ops->close) ||
        info->struct_size < offsetof(struct rshare_block_info, max_io_bytes) +
                                sizeof(info->max_io_bytes))
        return rs_errorf(node, RSHARE_EVERSION, "block ops or info: struct_size too small");
    if (!ops->submit)
        return rs_errorf(node, RSHARE_EINVAL, "block ops without submit");
    if (!power_of_two(info->block_size) || info->block_size < 512 || info->block_size > 65536)
        return rs_errorf(node, RSHARE_EINVAL, "block size %u: a power of two, 512 to 65536",
                         info->block_size);
    if (info->block_count == 0 || info->block_count > UINT64_MAX / info->block_size)
        return rs_errorf(node, RSHARE_EINVAL, "block count %llu out of range",
                         (unsigned long long)info->block_count);
    if (info->caps & ~KNOWN_CAPS)
        return rs_errorf(node, RSHARE_EINVAL, "unknown block capabilities 0x%x", info->caps);
    if (info->max_io_bytes && info->max_io_bytes < info->block_size)
        return rs_errorf(node, RSHARE_EINVAL, "max_io_bytes below the block size");
    rshare_block *b = block_new(node);
    if (!b)
        return rs_errorf(node, RSHARE_ENOMEM, "no memory for a block handle");
    memset(&b->ops, 0, sizeof(b->ops));
    memcpy(&b->ops, ops, sizeof(b->ops)); /* the fields this version knows */
    b->ops.struct_size = sizeof(b->ops);
    b->backend = backend;
    b->abandon = abandon;
    b->info.struct_size = sizeof(b->info);
    b->info.block_size = info->block_size;
    b->info.block_count = info->block_count;
    b->info.caps = info->caps;
    b->info.max_io_bytes = info->max_io_bytes;
    *out = b;
    return 0;
}

RSHARE_API int rshare_block_create(rshare_node *node, const struct rshare_block_ops *ops,
                                   void *backend, const struct rshare_block_info *info,
                                   rshare_block **out)
{
    return rs_block_create(node, ops, backend, info, NULL, out);
}

/* A handle for a resource this node serves itself: no copies, no
 * messages, just the registered block's backend. */
static int open_alias(rshare_node *node, uint64_t id, rshare_block **out)
{
    struct rs_block_reg *reg = rs_block_reg_find(node, id);
    if (!reg)
        return rs_errorf(node, RSHARE_ENOENT,
                         "resource %llx is hosted here but served by no block backend",
                         (unsigned long long)id);
    rshare_block *b = block_new(node);
    if (!b)
        return rs_errorf(node, RSHARE_ENOMEM, "no memory for a block handle");
    b->alias_of = id;
    b->info = reg->block->info;
    b->backend_closed = true; /* it owns no backend */
    *out = b;
    return 0;
}

RSHARE_API int rshare_block_open_resource(rshare_node *node, uint64_t resource_id,
                                          rshare_block **out)
{
    if (!node || !out)
        return RSHARE_EINVAL;
    *out = NULL;
    if ((uint32_t)(resource_id >> 32) == rshare_node_id(node))
        return open_alias(node, resource_id, out);
    const struct rshare_resource_desc *d = rs_map_resource(&rs_cluster(node)->map, resource_id);
    if (!d)
        return rs_errorf(node, RSHARE_ENOENT, "resource %llx is not in this node's map",
                         (unsigned long long)resource_id);
    if (d->kind != RSHARE_RESOURCE_BLOCK)
        return rs_errorf(node, RSHARE_EINVAL, "resource %llx is not a block device",
                         (unsigned long long)resource_id);
    return rs_block_open_remote(node, d, out);
}

/* --- queries ------------------------------------------------------------------ */

rshare_node *rs_block_node(const rshare_block *block)
{
    return block->node;
}

void *rs_block_backend_of(const rshare_block *block, const struct rshare_block_ops *ops)
{
    return block && !block->closed && block->ops.submit == ops->submit ? block->backend : NULL;
}

const struct rshare_block_info *rs_block_info(const rshare_block *block)
{
    return &block->info;
}

RSHARE_API int rshare_block_get_info(const rshare_block *block, struct rshare_block_info *info)
{
    if (!block || !info || info->struct_size < sizeof(uint32_t))
        return RSHARE_EINVAL;
    size_t n = info->struct_size < sizeof(block->info) ? info->struct_size : sizeof(block->info);
    uint32_t size = info->struct_size;
    memcpy(info, &block->info, n);
    info->struct_size = size < sizeof(block->info) ? size : (uint32_t)sizeof(block->info);
    return 0;
}

/* --- submitting --------------------------------------------------------------- */

int rs_block_check_range(const rshare_block *block, uint64_t offset, uint64_t length)
{
    const struct rshare_block_info *info = &block->info;
    if (length == 0)
        return rs_errorf(block->node, RSHARE_EINVAL,
                         "block I/O of length 0 (only a flush has none)");
    if (offset % info->block_size || length % info->block_size)
        return rs_errorf(block->node, RSHARE_EINVAL,
                         "block I/O at %llu for %llu bytes: not aligned to %u-byte blocks",
                         (unsigned long long)offset, (unsigned long long)length,
                         info->block_size);
    uint64_t size = info->block_count * info->block_size;
    if (offset > size || length > size - offset)
        return rs_errorf(block->node, RSHARE_EINVAL,
                         "block I/O at %llu for %llu bytes: past the end (%llu bytes)",
                         (unsigned long long)offset, (unsigned long long)length,
                         (unsigned long long)size);
    return 0;
}

static int check_io(rshare_block *b, const struct rshare_block_io *io)
{
    rshare_node *node = b->node;
    const struct rshare_block_info *info = &b->info;
    if (io->struct_size < offsetof(struct rshare_block_io, user_data) + sizeof(io->user_data))
        return rs_errorf(node, RSHARE_EVERSION, "block I/O: struct_size %u too small",
                         io->struct_size);
    if (!io->done)
        return rs_errorf(node, RSHARE_EINVAL, "block I/O without a done callback");
    switch (io->op) {
    case RSHARE_BLOCK_READ:
    case RSHARE_BLOCK_WRITE:
        if (!io->buf)
            return rs_errorf(node, RSHARE_EINVAL, "block read or write without a buffer");
        break;
    case RSHARE_BLOCK_FLUSH:
        if (io->offset || io->length)
            return rs_errorf(node, RSHARE_EINVAL, "a flush has offset and length 0");
        return 0;
    case RSHARE_BLOCK_DISCARD:
        if (!(info->caps & RSHARE_BLOCK_CAP_DISCARD))
            return rs_errorf(node, RSHARE_ENOTSUP, "this block backend cannot discard");
        break;
    default:
        return rs_errorf(node, RSHARE_EINVAL, "unknown block operation %u", io->op);
    }
    if ((io->op == RSHARE_BLOCK_WRITE || io->op == RSHARE_BLOCK_DISCARD) &&
        (info->caps & RSHARE_BLOCK_CAP_READONLY))
        return rs_errorf(node, RSHARE_ENOTSUP, "the block is read-only");
    int rc = rs_block_check_range(b, io->offset, io->length);
    if (rc < 0)
        return rc;
    if (info->max_io_bytes && io->length > info->max_io_bytes && io->op != RSHARE_BLOCK_DISCARD)
        return rs_errorf(node, RSHARE_EINVAL, "block I/O of %llu bytes above the backend's %u",
                         (unsigned long long)io->length, info->max_io_bytes);
    return 0;
}

/* Hand `io` (already checked) to `b`'s backend on behalf of handle `via`. */
static int submit_to(rshare_block *b, rshare_block *via, struct rshare_block_io *io,
                     const struct rs_seg *seg, uint32_t nseg)
{
    rshare_node *node = b->node;
    if (io->op == RSHARE_BLOCK_FLUSH && !(b->info.caps & RSHARE_BLOCK_CAP_FLUSH)) {
        /* Nothing volatile to flush: complete it here, still from the loop. */
        struct rs_block_op *op = op_get(b);
        if (!op)
            return rs_errorf(node, RSHARE_ENOMEM, "no memory for a block I/O");
        op->block = b;
        op->via = via;
        op->user = io;
        op->completed = true;
        via->inflight++;
        list_push(&b->ready, op);
        if (!rs_timer_pending(&b->timer))
            rs_timer_schedule(node, &b->timer, rs_now_us(node));
        return 0;
    }
    struct rs_block_op *op = op_get(b);
    if (!op)
        return rs_errorf(node, RSHARE_ENOMEM, "no memory for a block I/O");
    op->io.struct_size = sizeof(op->io);
    op->io.op = io->op;
    op->io.offset = io->offset;
    op->io.length = io->length;
    op->io.buf = io->op == RSHARE_BLOCK_READ || io->op == RSHARE_BLOCK_WRITE ? io->buf : NULL;
    op->io.done = op_done;
    op->io.user_data = op;
    op->user = io;
    op->block = b;
    op->via = via;
    op->seg = seg;
    op->nseg = nseg;
    via->inflight++;
    list_push(&b->held, op);
    int rc = b->ops.submit(b->backend, &op->io);
    if (rc < 0) {
        /* The contract says done is not called then; if it was, undo it. */
        list_remove(op->completed ? &b->ready : &b->held, op);
        via->inflight--;
        op_put(b, op);
        if (rc <= RSHARE_ERROR_MIN_)
            rc = RSHARE_EIO;
        if (!rshare_node_errmsg(node)[0])
            rs_errorf(node, rc, "block backend refused the I/O");
        return rc;
    }
    return 0;
}

static int submit(rshare_block *block, struct rshare_block_io *io, const struct rs_seg *seg,
                  uint32_t nseg)
{
    if (!block || !io)
        return RSHARE_EINVAL;
    if (block->closed)
        return rs_errorf(block->node, RSHARE_ECANCELED, "the block is being closed");
    int rc = check_io(block, io);
    if (rc < 0)
        return rc;
    if (!block->alias_of)
        return submit_to(block, block, io, seg, nseg);
    struct rs_block_reg *reg = rs_block_reg_find(block->node, block->alias_of);
    if (!reg)
        return rs_errorf(block->node, RSHARE_ENOENT, "resource %llx is no longer served here",
                         (unsigned long long)block->alias_of);
    if (block->inflight && block->target != reg->block)
        return rs_errorf(block->node, RSHARE_EBUSY, "resource %llx changed backend under I/O",
                         (unsigned long long)block->alias_of);
    block->target = reg->block;
    return submit_to(reg->block, block, io, NULL, 0);
}

int rs_block_submit(rshare_block *block, struct rshare_block_io *io)
{
    return submit(block, io, NULL, 0);
}

int rs_block_submit_vec(rshare_block *block, struct rshare_block_io *io,
                        const struct rs_seg *seg, uint32_t nseg)
{
    if (!block || !io || !seg || !nseg)
        return RSHARE_EINVAL;
    if (!block->vectors || block->alias_of)
        return RSHARE_ENOTSUP;
    uint64_t sum = 0;
    for (uint32_t i = 0; i < nseg; i++)
        sum += seg[i].length;
    if ((io->op != RSHARE_BLOCK_READ && io->op != RSHARE_BLOCK_WRITE) || sum != io->length ||
        io->buf != seg[0].buf)
        return rs_errorf(block->node, RSHARE_EINVAL, "a vectored I/O's segments do not add up");
    return submit(block, io, seg, nseg);
}

void rs_block_takes_vectors(rshare_block *block)
{
    block->vectors = true;
}

bool rs_block_io_segments(const struct rshare_block_io *io, const struct rs_seg **seg,
                        uint32_t *nseg)
{
    const struct rs_block_op *op = io->user_data;
    if (!op || &op->io != io || !op->seg)
        return false;
    *seg = op->seg;
    *nseg = op->nseg;
    return true;
}

RSHARE_API int rshare_block_submit(rshare_block *block, struct rshare_block_io *io)
{
    return rs_block_submit(block, io);
}

/* --- the synchronous helpers ---------------------------------------------- */

struct sync_io {
    struct rshare_block_io io;
    bool finished;
    int status;
};

static void sync_done(struct rshare_block_io *io, int status)
{
    struct sync_io *s = io->user_data;
    s->finished = true;
    s->status = status;
}

static int run_sync(rshare_block *block, uint32_t op, uint64_t offset, void *buf, size_t length)
{
    if (!block)
        return RSHARE_EINVAL;
    rshare_node *node = block->node;
    if (rs_core(node)->in_process)
        return rs_errorf(node, RSHARE_EBUSY, "a synchronous block call from a callback");
    struct sync_io s = {.finished = false};
    rshare_block_io_init(&s.io, sizeof(s.io));
    s.io.op = op;
    s.io.offset = offset;
    s.io.length = length;
    s.io.buf = buf;
    s.io.done = sync_done;
    s.io.user_data = &s;
    int rc = rs_block_submit(block, &s.io);
    if (rc < 0)
        return rc;
    /* Remote backends end with their requests' deadlines; local ones
     * complete from the next turn of the loop. */
    while (!s.finished)
        if (rshare_node_run(node, -1) < 0)
            rshare_node_process(node);
    return s.status;
}

RSHARE_API int rshare_block_read_sync(rshare_block *block, uint64_t offset, void *buf,
                                      size_t length)
{
    return run_sync(block, RSHARE_BLOCK_READ, offset, buf, length);
}

RSHARE_API int rshare_block_write_sync(rshare_block *block, uint64_t offset, const void *buf,
                                       size_t length)
{
    /* The backend only reads a write's buffer; the I/O struct is shared
     * with reads, hence the cast. */
    return run_sync(block, RSHARE_BLOCK_WRITE, offset, (void *)(uintptr_t)buf, length);
}

RSHARE_API int rshare_block_flush_sync(rshare_block *block)
{
    return run_sync(block, RSHARE_BLOCK_FLUSH, 0, NULL, 0);
}

/* --- closing ------------------------------------------------------------------ */

RSHARE_API void rshare_block_close(rshare_block *block)
{
    if (!block || block->closed)
        return;
    rshare_node *node = block->node;
    block->closed = true;
    if (block->alias_of) {
        if (block->inflight) {
            rshare_block *target = block->target;
            cancel_via(target, block);
            try_release(target); /* a `done` may have closed it */
        }
        try_release(block);
        return;
    }
    if (block->registered) {
        /* Withdrawn first, so that no new request reaches the backend. */
        struct rs_block_reg *reg = rs_block_reg_find(node, block->registered);
        if (reg && reg->block == block) {
            memset(reg, 0, sizeof(*reg));
            rshare_resource_withdraw(node, block->registered);
        }
        block->registered = 0;
    }
    cancel_via(block, NULL);
    if (block->held.head && block->abandon) {
        block->abandon(block->backend);
        while (block->held.head) {
            struct rs_block_op *op = block->held.head;
            list_remove(&block->held, op);
            rs_free(node, op);
        }
    }
    try_release(block);
}

/* --- the registration (serve.c keeps the table, this the link) ---------- */

bool rs_block_can_serve(const rshare_block *block)
{
    return !block->alias_of && !block->registered && !block->closed;
}

void rs_block_set_registered(rshare_block *block, uint64_t id)
{
    block->registered = id;
}

/* --- per-node set-up ------------------------------------------------------- */

int rs_blocks_init(rshare_node *node)
{
    memset(rs_blocks(node), 0, sizeof(struct rs_blocks));
    return rs_block_serve_init(node);
}

void rs_blocks_fini(rshare_node *node)
{
    struct rs_blocks *blocks = rs_blocks(node);
    rs_block_serve_fini(node);
    /* Handles the application left open are closed for it; a backend that
     * still holds I/O now will never be heard from again. */
    while (blocks->open) {
        rshare_block *b = blocks->open;
        if (!b->closed) {
            rshare_block_close(b);
            continue;
        }
        rs_log_warn(node, "block backend still holds I/O as the node is destroyed");
        while (b->held.head) {
            struct rs_block_op *op = b->held.head;
            list_remove(&b->held, op);
            rs_free(node, op);
        }
        b->delivering = 0;
        try_release(b);
    }
}
