/* rshare block — the remote backend: a block resource hosted by another
 * node, reached with block requests (blockwire.h) through lib/msg.  Each
 * read or write is cut into pieces that fit the message limit (at most
 * RS_BLOCK_PIECE_MAX of data each), all sent at once; the I/O completes
 * when every piece has, with the first failure's code.  Retries, deadlines
 * and at-most-once execution are the message layer's; requests are
 * map-versioned, so a host never serves one against another map.
 *
 * Copies: a read's data goes from the reply, in the message layer's
 * buffer, straight into the caller's buffer (or buffers, for a vectored
 * read: rs_block_submit_vec).  A write's data is copied once, into the
 * message that goes out, from its buffer or buffers. */
#include "config.h"

#include <string.h>

#include "backend.h"
#include "blockwire.h"
#include "cluster/cluster.h"
#include "msg/msg.h"
#include "rshare/access.h"

struct remote_io;

struct remote_backend {
    rshare_node *node;
    uint64_t resource;
    uint32_t host;
    uint32_t block_size;
    struct remote_io *ios; /* outstanding, for abandon */
    /* Credentials sent with every request (rshare_block_open_resource_granted). */
    bool has_cred;
    uint64_t fence;
    size_t cookie_len;
    uint8_t cookie[RS_BLOCK_COOKIE_MAX];
};

struct remote_piece {
    struct remote_io *parent;
    uint64_t offset; /* within the I/O's buffer */
    uint64_t length;
    /* A read's reply data goes straight into the caller's buffers. */
    struct rs_reply_sink sink;
    struct rs_seg flat; /* the sink's one segment for a plain I/O */
};

struct remote_io {
    struct remote_io *prev, *next;
    struct remote_backend *rb; /* NULL once abandoned: nobody waits for it */
    rshare_node *node;
    struct rshare_block_io *io;
    uint32_t host;
    unsigned count; /* pieces */
    unsigned left;  /* pieces still out */
    int status;
    const struct rs_seg *seg; /* a vectored I/O's buffers (rs_block_submit_vec) */
    uint32_t nseg;
    struct remote_piece piece[];
};

static void unlink_io(struct remote_io *rio)
{
    struct remote_backend *rb = rio->rb;
    if (rio->prev)
        rio->prev->next = rio->next;
    else
        rb->ios = rio->next;
    if (rio->next)
        rio->next->prev = rio->prev;
    rio->prev = rio->next = NULL;
}

/* A piece's answer (or the message layer's verdict on it). */
static void piece_done(rshare_node *node, const struct rshare_reply *reply, void *user_data)
{
    struct remote_piece *piece = user_data;
    struct remote_io *rio = piece->parent;
    int status = reply->status;
    if (status == RSHARE_EREMOTE) {
        /* The host's own code, when it is one of ours. */
        if (reply->remote_code < 0 && reply->remote_code > RSHARE_ERROR_MIN_)
            status = reply->remote_code;
        rs_errorf(node, status, "node %u refused a block request: %.*s", rio->host,
                  (int)(reply->len < 200 ? reply->len : 200),
                  reply->data ? (const char *)reply->data : "");
    } else if (status < 0) {
        rs_errorf(node, status, "block request to node %u: %s", rio->host,
                  rshare_strerror(status));
    } else if (rio->rb && rio->io->op == RSHARE_BLOCK_READ) {
        const uint8_t *data;
        size_t len;
        if (rs_block_reply_decode(reply->data, reply->len, &data, &len) < 0 ||
            len != piece->length) {
            status = rs_errorf(node, RSHARE_EPROTO, "node %u sent a malformed block read reply",
                               rio->host);
        } else if (!piece->sink.filled) {
            /* Not received in place (a one-packet reply, or its first
             * fragment came when the sink could not take it): copied to
             * where the sink says. */
            rs_seg_copy(piece->sink.seg, piece->sink.nseg, piece->sink.skip, NULL, data, len);
        }
    }
    if (status < 0 && rio->status == 0)
        rio->status = status;
    if (--rio->left)
        return;
    if (rio->rb) {
        unlink_io(rio);
        rio->io->done(rio->io, rio->status);
    }
    rs_free(node, rio);
}

/* Data per piece: the message limit less the header and the body's own
 * bytes (and some room to spare), at most RS_BLOCK_PIECE_MAX, whole blocks. */
static uint64_t piece_bytes(struct remote_backend *rb)
{
    size_t limit = rs_link_max_message(rb->node);
    size_t spare = RS_MSG_HDR_LEN + RS_BLOCK_REQ_OVERHEAD + 64 +
                   (rb->has_cred ? RS_BLOCK_CRED_OVERHEAD : 0);
    uint64_t n = limit > spare ? limit - spare : 0;
    if (n > RS_BLOCK_PIECE_MAX)
        n = RS_BLOCK_PIECE_MAX;
    return n - n % rb->block_size;
}

static int remote_submit(void *backend, struct rshare_block_io *io)
{
    struct remote_backend *rb = backend;
    rshare_node *node = rb->node;
    bool data = io->op == RSHARE_BLOCK_READ || io->op == RSHARE_BLOCK_WRITE;
    uint64_t step = piece_bytes(rb);
    if (data && step == 0)
        return rs_errorf(node, RSHARE_EMSGSIZE, "messages too small for one %u-byte block",
                         rb->block_size);
    uint64_t count = data ? (io->length + step - 1) / step : 1;
    if (count > UINT32_MAX / 2)
        return rs_errorf(node, RSHARE_EINVAL, "block I/O too large");
    struct remote_io *rio =
        rs_calloc(node, 1, sizeof(*rio) + (size_t)count * sizeof(struct remote_piece));
    if (!rio)
        return rs_errorf(node, RSHARE_ENOMEM, "no memory for a remote block I/O");
    rio->rb = rb;
    rio->node = node;
    rio->io = io;
    rio->host = rb->host;
    rio->count = rio->left = (unsigned)count;
    rs_block_io_segments(io, &rio->seg, &rio->nseg);
    int rc = 0;
    unsigned sent = 0;
    for (uint64_t i = 0; i < count; i++) {
        struct remote_piece *p = &rio->piece[i];
        p->parent = rio;
        p->offset = i * step;
        p->length = data ? (io->length - p->offset < step ? io->length - p->offset : step)
                         : io->length;
        struct rs_block_req req = {.op = io->op, .resource = rb->resource,
                                   .offset = io->offset + p->offset, .length = p->length,
                                   .has_cred = rb->has_cred, .cookie = rb->cookie,
                                   .cookie_len = rb->cookie_len, .fence = rb->fence};
        if (io->op == RSHARE_BLOCK_WRITE && rio->seg) {
            req.seg = rio->seg;
            req.nseg = rio->nseg;
            req.seg_skip = p->offset;
        } else if (io->op == RSHARE_BLOCK_WRITE) {
            req.data = (const uint8_t *)io->buf + p->offset;
        }
        /* Each piece's body is encoded (a write's data copied) straight
         * into the message that goes out. */
        size_t cap = RS_BLOCK_REQ_OVERHEAD +
                     (io->op == RSHARE_BLOCK_WRITE ? (size_t)p->length : 0) +
                     (rb->has_cred ? RS_BLOCK_CRED_OVERHEAD : 0);
        uint8_t *wire = rs_msg_prepare(node, cap);
        size_t len = wire ? rs_block_req_encode(&req, RS_MSG_BODY(wire), cap) : 0;
        if (!len) {
            rc = wire ? RSHARE_EINVAL : RSHARE_ENOMEM;
            rs_msg_discard(node, wire);
            break;
        }
        if (io->op == RSHARE_BLOCK_READ) {
            p->flat = (struct rs_seg){rio->seg ? NULL : (uint8_t *)io->buf + p->offset, p->length};
            p->sink = (struct rs_reply_sink){.seg = rio->seg ? rio->seg : &p->flat,
                                             .nseg = rio->seg ? rio->nseg : 1,
                                             .skip = rio->seg ? p->offset : 0,
                                             .length = p->length,
                                             .armed = true};
            p->sink.head_len = (uint8_t)rs_block_bstr_head(p->sink.head, p->length);
            rc = rs_msg_call_into(node, rb->host, RS_MSG_BLOCK, wire, len, &p->sink, piece_done,
                                  p);
        } else {
            rc = rs_msg_call_prepared(node, rb->host, RS_MSG_BLOCK, wire, len, piece_done, p);
        }
        if (rc < 0)
            break;
        sent++;
    }
    if (sent == 0) {
        rs_free(node, rio);
        return rc;
    }
    if (rc < 0) {
        /* The pieces already out finish on their own; the I/O fails. */
        rio->status = rc;
        rio->left = sent;
    }
    rio->next = rb->ios;
    if (rb->ios)
        rb->ios->prev = rio;
    rb->ios = rio;
    return 0;
}

/* The handle closes with requests still out: their answers will find no
 * one waiting (and write into no caller's buffer: their sinks are
 * disarmed). */
static void remote_abandon(void *backend)
{
    struct remote_backend *rb = backend;
    while (rb->ios) {
        struct remote_io *rio = rb->ios;
        unlink_io(rio);
        rio->rb = NULL;
        for (unsigned i = 0; i < rio->count; i++)
            rio->piece[i].sink.armed = false;
    }
}

static void remote_close(void *backend)
{
    struct remote_backend *rb = backend;
    remote_abandon(rb);
    memset(rb->cookie, 0, sizeof(rb->cookie));
    rs_free(rb->node, rb);
}

static const struct rshare_block_ops remote_ops = {.struct_size = sizeof(remote_ops),
                                                   .submit = remote_submit,
                                                   .close = remote_close};

int rs_block_check_credentials(rshare_node *node, const struct rshare_access_credentials *cred)
{
    if (cred->struct_size < offsetof(struct rshare_access_credentials, fence) + sizeof(cred->fence))
        return rs_errorf(node, RSHARE_EVERSION, "credentials: struct_size %u", cred->struct_size);
    if (cred->cookie_len > RS_BLOCK_COOKIE_MAX || (cred->cookie_len && !cred->cookie))
        return rs_errorf(node, RSHARE_EINVAL, "cookie of %zu bytes (at most %d)",
                         cred->cookie_len, RS_BLOCK_COOKIE_MAX);
    return 0;
}

/* Requests already sent keep the credentials they were sent with. */
static void set_cred(struct remote_backend *rb, const struct rshare_access_credentials *cred)
{
    memset(rb->cookie, 0, sizeof(rb->cookie));
    rb->has_cred = cred != NULL;
    rb->fence = cred ? cred->fence : 0;
    rb->cookie_len = cred ? cred->cookie_len : 0;
    if (rb->cookie_len)
        memcpy(rb->cookie, cred->cookie, rb->cookie_len);
}

RSHARE_API int rshare_block_set_credentials(rshare_block *block,
                                            const struct rshare_access_credentials *cred)
{
    if (!block)
        return RSHARE_EINVAL;
    rshare_node *node = rs_block_node(block);
    int rc = cred ? rs_block_check_credentials(node, cred) : 0;
    if (rc < 0)
        return rc;
    struct remote_backend *rb = rs_block_backend_of(block, &remote_ops);
    if (rb)
        set_cred(rb, cred);
    return 0; /* other handles (the host's own shortcut, local disks) need none */
}

static int open_remote(rshare_node *node, const struct rshare_resource_desc *desc,
                       const struct rshare_access_credentials *cred, rshare_block **out)
{
    struct remote_backend *rb = rs_calloc(node, 1, sizeof(*rb));
    if (!rb)
        return rs_errorf(node, RSHARE_ENOMEM, "no memory for a remote block");
    rb->node = node;
    rb->resource = desc->id;
    rb->host = desc->host;
    rb->block_size = desc->block_size;
    set_cred(rb, cred);
    struct rshare_block_info info;
    rshare_block_info_init(&info, sizeof(info));
    info.block_size = desc->block_size;
    info.block_count = desc->block_count;
    /* The host knows whether flush and discard do anything; ask it. */
    info.caps = RSHARE_BLOCK_CAP_FLUSH | RSHARE_BLOCK_CAP_DISCARD |
                (desc->rights & RSHARE_RIGHT_WRITE ? 0 : RSHARE_BLOCK_CAP_READONLY);
    int rc = rs_block_create(node, &remote_ops, rb, &info, remote_abandon, out);
    if (rc < 0)
        rs_free(node, rb);
    else
        rs_block_takes_vectors(*out);
    return rc;
}

int rs_block_open_remote(rshare_node *node, const struct rshare_resource_desc *desc,
                         rshare_block **out)
{
    return open_remote(node, desc, NULL, out);
}

RSHARE_API int rshare_block_open_resource_granted(rshare_node *node, uint64_t resource_id,
                                                  const struct rshare_access_credentials *cred,
                                                  rshare_block **out)
{
    if (!node || !out || !cred)
        return RSHARE_EINVAL;
    *out = NULL;
    int rc = rs_block_check_credentials(node, cred);
    if (rc < 0)
        return rc;
    /* On the host itself: the shortcut, which needs no credentials. */
    if ((uint32_t)(resource_id >> 32) == rshare_node_id(node))
        return rshare_block_open_resource(node, resource_id, out);
    const struct rshare_resource_desc *d = rs_map_resource(&rs_cluster(node)->map, resource_id);
    if (!d)
        return rs_errorf(node, RSHARE_ENOENT, "resource %llx is not in this node's map",
                         (unsigned long long)resource_id);
    if (d->kind != RSHARE_RESOURCE_BLOCK)
        return rs_errorf(node, RSHARE_EINVAL, "resource %llx is not a block device",
                         (unsigned long long)resource_id);
    return open_remote(node, d, cred, out);
}
