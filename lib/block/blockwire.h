/* rshare block — block requests on the wire: the message type, the CBOR
 * bodies of the four requests and their limits (doc/PROTOCOL.md, "Block
 * requests").  Pure encoding and decoding; serve.c and remote.c use it. */
#ifndef RSHARE_BLOCKWIRE_H
#define RSHARE_BLOCKWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* A decoded request.  `data` points into the body (writes only). */
struct rs_block_req {
    uint32_t op;       /* enum rshare_block_op */
    uint64_t resource;
    uint64_t offset;   /* reads, writes, discards */
    uint64_t length;   /* reads and discards: as sent; writes: the data's length */
    const uint8_t *data;
};

/* Encode a request into `buf` (with a write's data, copied in); returns the
 * body's length, or 0 when `cap` is too small. */
size_t rs_block_req_encode(const struct rs_block_req *req, uint8_t *buf, size_t cap);
/* Decode a body: 0, RSHARE_EPROTO (malformed, unknown op, trailing bytes),
 * or RSHARE_EMSGSIZE (a read or write above RS_BLOCK_PIECE_MAX).  Nothing
 * is checked against a backend here. */
int rs_block_req_decode(const void *body, size_t len, struct rs_block_req *req);

/* The head of a CBOR byte string of `len` bytes (at most 9 bytes): how a
 * read's reply is framed around data that was read in place. */
size_t rs_block_bstr_head(uint8_t out[9], uint64_t len);
/* Decode a read's reply: its data, in place. */
int rs_block_reply_decode(const void *body, size_t len, const uint8_t **data, size_t *data_len);

#endif
