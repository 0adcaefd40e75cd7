/* rshare block — the host side of block resources: registering a block as
 * a shared resource (through the cluster's registration API), the table of
 * what this node serves, and the handler of block requests from other
 * nodes: decode, check (resource, rights, range, alignment), submit to the
 * registered backend, answer when it completes.
 *
 * Requests are map-versioned (RS_HANDLER_MAP_VERSIONED): a host never
 * serves a request issued against another version of the map; lib/msg
 * refuses it and the requester resends once the two copies agree. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "access/access.h"
#include "backend.h"
#include "blockwire.h"
#include "cluster/cluster.h"
#include "msg/msg.h"

/* One request being served: one backend I/O, or several when the request
 * is larger than the backend's max_io_bytes (an iSCSI LUN's transfer limit
 * is often below the 1 MiB a requester may send). */
struct serve_io {
    rshare_request *req;
    rshare_node *node;
    uint8_t *buf; /* reads: the reply message, its body a bstr head then the data read in place */
    size_t head;
    uint32_t op;
    uint64_t length;
    unsigned left; /* parts not completed yet */
    int status;    /* the first failure of a part */
    unsigned count;
    struct rshare_block_io part[];
};

/* --- the registration table ---------------------------------------------- */

static bool hosted_here(rshare_node *node, uint64_t id)
{
    const struct rs_cluster *cl = rs_cluster(node);
    for (size_t i = 0; i < cl->local_count; i++)
        if (cl->local[i].id == id)
            return true;
    return false;
}

struct rs_block_reg *rs_block_reg_find(rshare_node *node, uint64_t id)
{
    if (!id)
        return NULL;
    struct rs_blocks *blocks = rs_blocks(node);
    for (size_t i = 0; i < RSHARE_RESOURCES_PER_NODE; i++) {
        struct rs_block_reg *reg = &blocks->regs[i];
        if (reg->id != id)
            continue;
        if (hosted_here(node, id))
            return reg;
        /* The application withdrew it with rshare_resource_withdraw():
         * forget it here too, so that the block may be shared again. */
        rs_block_set_registered(reg->block, 0);
        memset(reg, 0, sizeof(*reg));
        return NULL;
    }
    return NULL;
}

RSHARE_API int rshare_resource_register_block(rshare_node *node,
                                              const struct rshare_resource_desc *desc,
                                              rshare_block *block, uint64_t *id_out)
{
    if (!node || !desc || !block)
        return RSHARE_EINVAL;
    if (rs_block_node(block) != node)
        return rs_errorf(node, RSHARE_EINVAL, "the block belongs to another node");
    if (desc->struct_size < offsetof(struct rshare_resource_desc, serial) + sizeof(desc->serial))
        return rs_errorf(node, RSHARE_EVERSION, "resource descriptor: struct_size %u",
                         desc->struct_size);
    if (desc->kind != 0 && desc->kind != RSHARE_RESOURCE_BLOCK)
        return rs_errorf(node, RSHARE_EINVAL, "a block backend serves a block resource only");
    if (!rs_block_can_serve(block))
        return rs_errorf(node, RSHARE_EEXIST,
                         "the block already serves a resource, is closed or is a shortcut");
    const struct rshare_block_info *info = rs_block_info(block);
    struct rshare_resource_desc d;
    memcpy(&d, desc, sizeof(d));
    d.struct_size = sizeof(d);
    d.kind = RSHARE_RESOURCE_BLOCK;
    if (d.block_size == 0)
        d.block_size = info->block_size;
    if (d.block_count == 0)
        d.block_count = info->block_count;
    if (d.block_size != info->block_size || d.block_count != info->block_count)
        return rs_errorf(node, RSHARE_EINVAL,
                         "descriptor geometry %u x %llu differs from the backend's %u x %llu",
                         d.block_size, (unsigned long long)d.block_count, info->block_size,
                         (unsigned long long)info->block_count);
    if (info->caps & RSHARE_BLOCK_CAP_READONLY)
        d.rights &= ~RSHARE_RIGHT_WRITE; /* what the map tells others */
    struct rs_blocks *blocks = rs_blocks(node);
    struct rs_block_reg *free_reg = NULL;
    for (size_t i = 0; i < RSHARE_RESOURCES_PER_NODE && !free_reg; i++)
        if (!blocks->regs[i].id || !rs_block_reg_find(node, blocks->regs[i].id))
            free_reg = &blocks->regs[i];
    if (!free_reg)
        return rs_errorf(node, RSHARE_EBUSY, "at most %d resources per node",
                         RSHARE_RESOURCES_PER_NODE);
    uint64_t id;
    int rc = rshare_resource_register(node, &d, &id);
    if (rc < 0)
        return rc;
    free_reg->id = id;
    free_reg->block = block;
    free_reg->rights = d.rights;
    rs_block_set_registered(block, id);
    if (id_out)
        *id_out = id;
    return 0;
}

/* --- serving ------------------------------------------------------------------- */

static void serve_free(struct serve_io *s)
{
    rs_msg_discard(s->node, s->buf);
    rs_free(s->node, s);
}

/* Every part done: answer. */
static void serve_answer(struct serve_io *s)
{
    if (s->status < 0) {
        char text[96];
        snprintf(text, sizeof(text), "block backend: %s", rshare_strerror(s->status));
        rshare_request_fail(s->req, s->status, text);
    } else if (s->op == RSHARE_BLOCK_READ) {
        uint8_t head[9];
        size_t n = rs_block_bstr_head(head, s->length);
        memcpy(RS_MSG_BODY(s->buf), head, n); /* n == s->head: computed the same way */
        rs_request_reply_prepared(s->req, s->buf, s->head + (size_t)s->length);
        s->buf = NULL; /* the message layer took it */
    } else {
        rshare_request_reply(s->req, NULL, 0);
    }
    serve_free(s);
}

static void serve_done(struct rshare_block_io *io, int status)
{
    struct serve_io *s = io->user_data;
    if (status < 0 && s->status == 0)
        s->status = status;
    if (--s->left == 0)
        serve_answer(s);
}

static void on_block_request(rshare_node *node, rshare_request *req, void *user_data)
{
    (void)user_data;
    if (!rshare_request_expects_reply(req))
        return; /* block requests are never notifications */
    struct rs_block_req r;
    int rc = rs_block_req_decode(rshare_request_data(req), rshare_request_len(req), &r);
    if (rc == RSHARE_EMSGSIZE) {
        rshare_request_fail(req, rc, "block request above 1 MiB of data");
        return;
    }
    if (rc < 0) {
        rshare_request_fail(req, RSHARE_EPROTO, "malformed block request");
        return;
    }
    struct rs_block_reg *reg = rs_block_reg_find(node, r.resource);
    if (!reg) {
        rshare_request_fail(req, RSHARE_ENOENT, "no such block resource on this node");
        return;
    }
    uint32_t need = r.op == RSHARE_BLOCK_WRITE || r.op == RSHARE_BLOCK_DISCARD
                        ? RSHARE_RIGHT_WRITE
                        : RSHARE_RIGHT_READ;
    if (!(reg->rights & need)) {
        rshare_request_fail(req, RSHARE_ENOTSUP,
                            need == RSHARE_RIGHT_WRITE ? "the resource is shared read-only"
                                                       : "the resource is not shared for reading");
        return;
    }
    /* The block's access policy: grants (a valid cookie of the sender's),
     * leases (the current fencing token for writes).  Open by default. */
    enum rs_access_verdict verdict =
        rs_access_check_block(node, reg->id, rshare_request_peer(req), &r);
    if (verdict != RS_ACCESS_OK) {
        rshare_request_fail(req, RSHARE_EACCES, rs_access_verdict_text(verdict));
        return;
    }
    size_t head = 0;
    if (r.op == RSHARE_BLOCK_READ) {
        uint8_t tmp[9];
        head = rs_block_bstr_head(tmp, r.length);
        /* The reply must fit this node's messages (r.length is at most
         * RS_BLOCK_PIECE_MAX here, so the sum cannot overflow). */
        if (RS_MSG_HDR_LEN + head + r.length > rs_link_max_message(node)) {
            rshare_request_fail(req, RSHARE_EMSGSIZE, "read above this host's message limit");
            return;
        }
    }
    /* Parts of at most the backend's max_io_bytes (whole blocks).  The
     * whole range is checked first, so that no part runs when a later one
     * would be refused. */
    const struct rshare_block_info *info = rs_block_info(reg->block);
    uint64_t step = r.length, count = 1;
    if ((r.op == RSHARE_BLOCK_READ || r.op == RSHARE_BLOCK_WRITE) && info->max_io_bytes &&
        r.length > info->max_io_bytes) {
        step = info->max_io_bytes - info->max_io_bytes % info->block_size;
        count = (r.length + step - 1) / step; /* r.length <= RS_BLOCK_PIECE_MAX: small */
        rc = rs_block_check_range(reg->block, r.offset, r.length);
        if (rc < 0) {
            rshare_request_fail(req, rc, rshare_node_errmsg(node));
            return;
        }
    }
    struct serve_io *s =
        rs_calloc(node, 1, sizeof(*s) + (size_t)count * sizeof(struct rshare_block_io));
    if (s && r.op == RSHARE_BLOCK_READ &&
        !(s->buf = rs_msg_prepare(node, head + (size_t)r.length))) {
        rs_free(node, s);
        s = NULL;
    }
    if (!s) {
        rshare_request_fail(req, RSHARE_ENOMEM, "out of memory");
        return;
    }
    s->node = node;
    s->req = req;
    s->head = head;
    s->op = r.op;
    s->length = r.length;
    s->count = (unsigned)count;
    s->left = (unsigned)count;
    /* Reads land straight in the reply; writes come from the request,
     * which is kept until the reply. */
    uint8_t *data = NULL;
    if (r.op == RSHARE_BLOCK_READ)
        data = RS_MSG_BODY(s->buf) + head;
    else if (r.op == RSHARE_BLOCK_WRITE)
        data = (uint8_t *)(uintptr_t)r.data;
    for (unsigned i = 0; i < s->count; i++) {
        struct rshare_block_io *io = &s->part[i];
        rshare_block_io_init(io, sizeof(*io));
        io->op = r.op;
        if (r.op != RSHARE_BLOCK_FLUSH) {
            io->offset = r.offset + i * step;
            io->length = r.length - i * step < step ? r.length - i * step : step;
        }
        if (data)
            io->buf = data + i * step;
        io->done = serve_done;
        io->user_data = s;
        /* rs_block_submit checks alignment, range and capabilities; its
         * refusal goes back with the same code and detail. */
        rc = rs_block_submit(reg->block, io);
        if (rc < 0) {
            if (i == 0) {
                rshare_request_fail(req, rc, rshare_node_errmsg(node));
                serve_free(s);
                return;
            }
            /* Parts already out finish on their own; the request fails. */
            s->status = rc;
            s->left -= s->count - i;
            break;
        }
    }
}

int rs_block_serve_init(rshare_node *node)
{
    /* Access management lives beside the block requests it guards. */
    int rc = rs_access_init(node);
    if (rc < 0)
        return rc;
    rc = rs_msg_set_handler_flags(node, RS_MSG_BLOCK, on_block_request, NULL,
                                      RS_HANDLER_MAP_VERSIONED);
    if (rc < 0) {
        rs_access_fini(node);
        return rs_errorf(node, rc, "cannot register the block request handler");
    }
    rs_blocks(node)->handler_set = true;
    return 0;
}

void rs_block_serve_fini(rshare_node *node)
{
    struct rs_blocks *blocks = rs_blocks(node);
    if (blocks->handler_set)
        rs_msg_set_handler_flags(node, RS_MSG_BLOCK, NULL, NULL, 0);
    blocks->handler_set = false;
    rs_access_fini(node);
}
