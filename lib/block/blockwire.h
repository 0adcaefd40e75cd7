/* rshare block — block requests on the wire: the message type, the CBOR
 * bodies of the four requests and their limits (doc/PROTOCOL.md, "Block
 * requests").  Pure encoding and decoding; serve.c and remote.c use it. */
#ifndef RSHARE_BLOCKWIRE_H
#define RSHARE_BLOCKWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/seg.h"

/* lib/msg carries rshare's own types (below 0x8000) with raw CBOR bodies;
 * the cluster layer uses 0x0001-0x0004. */
#define RS_MSG_BLOCK 0x0010

/* The most data one read or write request moves.  A host refuses larger
 * ones with RSHARE_EMSGSIZE; requesters split into pieces of at most this
 * (less when their message limit is smaller). */
#define RS_BLOCK_PIECE_MAX (1u << 20)

/* What a request body costs beyond its data: array head (1), op (1),
 * resource (9), offset (9), bstr or length head (9). */
#define RS_BLOCK_REQ_OVERHEAD 29

/* Optional credentials after a request's fields (doc/ACCESS.md): a grant
 * cookie (RS_BLOCK_COOKIE_MAX bytes at most, may be empty) and a lease's
 * fencing token (0: none).  Room they take beyond RS_BLOCK_REQ_OVERHEAD:
 * array head (1), bstr head (2), the cookie, the fence (9). */
#define RS_BLOCK_COOKIE_MAX 256
#define RS_BLOCK_CRED_OVERHEAD (12 + RS_BLOCK_COOKIE_MAX)

/* A decoded request.  `data` and `cookie` point into the body. */

struct rs_block_req {
    uint32_t op;       /* enum rshare_block_op */
    uint64_t resource;
    uint64_t offset;   /* reads, writes, discards */
    uint64_t length;   /* reads and discards: as sent; writes: the data's length */
    const uint8_t *data;
    /* Encoding a write from several buffers instead (core/seg.h): its
     * data is `length` bytes from byte `seg_skip` of their concatenation. */
    const struct rs_seg *seg;
    uint32_t nseg;
    uint64_t seg_skip;
    bool has_cred;     /* the credentials item is present */
    const uint8_t *cookie;
    size_t cookie_len;
    uint64_t fence;
};

/* Encode a request into `buf` (with a write's data, copied in); returns the
 * body's length, or 0 when `cap` is too small. */
size_t rs_block_req_encode(const struct rs_block_req *req, uint8_t *buf, size_t cap);
/* Decode a body: 0, RSHARE_EPROTO (malformed, unknown op, trailing bytes,
 * a cookie above RS_BLOCK_COOKIE_MAX),
 * or RSHARE_EMSGSIZE (a read or write above RS_BLOCK_PIECE_MAX).  Nothing
 * is checked against a backend here. */
int rs_block_req_decode(const void *body, size_t len, struct rs_block_req *req);

/* The head of a CBOR byte string of `len` bytes (at most 9 bytes): how a
 * read's reply is framed around data that was read in place. */
size_t rs_block_bstr_head(uint8_t out[9], uint64_t len);
/* Decode a read's reply: its data, in place. */
int rs_block_reply_decode(const void *body, size_t len, const uint8_t **data, size_t *data_len);

#endif
