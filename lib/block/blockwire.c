/* rshare block — encoding and decoding of block request bodies.  Decoding
 * is the first thing a host does with bytes from another node: every field
 * is type-checked and every length bounded before anything else sees it. */
#include "config.h"

#include <string.h>

#include "blockwire.h"
#include "core/endian.h"
#include "msg/body.h"
#include "rshare/block.h"
#include "rshare/error.h"

size_t rs_block_bstr_head(uint8_t out[9], uint64_t len)
{
    const uint8_t major = 2u << 5; /* byte string */
    if (len < 24) {
        out[0] = (uint8_t)(major | len);
        return 1;
    }
    if (len <= UINT8_MAX) {
        out[0] = major | 24;
        out[1] = (uint8_t)len;
        return 2;
    }
    if (len <= UINT16_MAX) {
        out[0] = major | 25;
        rs_put16(out + 1, (uint16_t)len);
        return 3;
    }
    if (len <= UINT32_MAX) {
        out[0] = major | 26;
        rs_put32(out + 1, (uint32_t)len);
        return 5;
    }
    out[0] = major | 27;
    rs_put64(out + 1, len);
    return 9;
}

/* A write's data as a byte string, copied straight from its segments. */
static void put_gathered(struct rs_cbor_writer *w, const struct rs_block_req *req)
{
    uint8_t head[9];
    size_t n = rs_block_bstr_head(head, req->length);
    if (w->overflow || req->length > w->cap - w->len || n > w->cap - w->len - req->length) {
        w->overflow = true;
        return;
    }
    memcpy(w->buf + w->len, head, n);
    w->len += n;
    size_t len = (size_t)req->length;
    if (rs_seg_copy(req->seg, req->nseg, req->seg_skip, w->buf + w->len, NULL, len) < len)
        w->overflow = true; /* the segments hold less than `length` */
    w->len += len;
}

size_t rs_block_req_encode(const struct rs_block_req *req, uint8_t *buf, size_t cap)
{
    struct rs_cbor_writer w;
    rs_cbor_writer_init(&w, buf, cap);
    size_t extra = req->has_cred ? 1 : 0;
    if (req->has_cred && req->cookie_len > RS_BLOCK_COOKIE_MAX)
        return 0;
    switch (req->op) {
    case RSHARE_BLOCK_READ:
    case RSHARE_BLOCK_DISCARD:
        rs_cbor_put_array(&w, 4 + extra);
        rs_cbor_put_uint(&w, req->op);
        rs_cbor_put_uint(&w, req->resource);
        rs_cbor_put_uint(&w, req->offset);
        rs_cbor_put_uint(&w, req->length);
        break;
    case RSHARE_BLOCK_WRITE:
        rs_cbor_put_array(&w, 4 + extra);
        rs_cbor_put_uint(&w, req->op);
        rs_cbor_put_uint(&w, req->resource);
        rs_cbor_put_uint(&w, req->offset);
        if (req->seg)
            put_gathered(&w, req);
        else
            rs_cbor_put_bytes(&w, req->data, (size_t)req->length);
        break;
    case RSHARE_BLOCK_FLUSH:
        rs_cbor_put_array(&w, 2 + extra);
        rs_cbor_put_uint(&w, req->op);
        rs_cbor_put_uint(&w, req->resource);
        break;
    default:
        return 0;
    }
    if (req->has_cred) {
        rs_cbor_put_array(&w, 2);
        rs_cbor_put_bytes(&w, req->cookie, req->cookie_len);
        rs_cbor_put_uint(&w, req->fence);
    }
    return w.overflow ? 0 : w.len;
}

int rs_block_req_decode(const void *body, size_t len, struct rs_block_req *req)
{
    memset(req, 0, sizeof(*req));
    struct rs_cbor_reader r;
    rs_cbor_reader_init(&r, body, len);
    size_t count;
    uint64_t op;
    if (rs_cbor_get_array(&r, &count) < 0 || count < 2 || rs_cbor_get_uint(&r, &op) < 0 ||
        rs_cbor_get_uint(&r, &req->resource) < 0)
        return RSHARE_EPROTO;
    /* One more item than the operation's fields: the credentials. */
    size_t fields = op == RSHARE_BLOCK_FLUSH ? 2 : 4;
    if (count == fields + 1) {
        req->has_cred = true;
        count--;
    }
    switch (op) {
    case RSHARE_BLOCK_READ:
    case RSHARE_BLOCK_DISCARD:
        if (count != 4 || rs_cbor_get_uint(&r, &req->offset) < 0 ||
            rs_cbor_get_uint(&r, &req->length) < 0)
            return RSHARE_EPROTO;
        break;
    case RSHARE_BLOCK_WRITE: {
        size_t n;
        if (count != 4 || rs_cbor_get_uint(&r, &req->offset) < 0 ||
            rs_cbor_get_bytes(&r, &req->data, &n) < 0)
            return RSHARE_EPROTO;
        req->length = n;
        break;
    }
    case RSHARE_BLOCK_FLUSH:
        if (count != 2)
            return RSHARE_EPROTO;
        break;
    default:
        return RSHARE_EPROTO;
    }
    if (req->has_cred) {
        size_t n;
        if (rs_cbor_get_array(&r, &n) < 0 || n != 2 ||
            rs_cbor_get_bytes(&r, &req->cookie, &req->cookie_len) < 0 ||
            req->cookie_len > RS_BLOCK_COOKIE_MAX || rs_cbor_get_uint(&r, &req->fence) < 0)
            return RSHARE_EPROTO;
    }
    if (!rs_cbor_at_end(&r))
        return RSHARE_EPROTO;
    req->op = (uint32_t)op;
    if ((op == RSHARE_BLOCK_READ || op == RSHARE_BLOCK_WRITE) && req->length > RS_BLOCK_PIECE_MAX)
        return RSHARE_EMSGSIZE;
    return 0;
}

int rs_block_reply_decode(const void *body, size_t len, const uint8_t **data, size_t *data_len)
{
    struct rs_cbor_reader r;
    rs_cbor_reader_init(&r, body, len);
    if (rs_cbor_get_bytes(&r, data, data_len) < 0 || !rs_cbor_at_end(&r))
        return RSHARE_EPROTO;
    return 0;
}
