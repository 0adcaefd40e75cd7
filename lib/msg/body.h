/* rshare msg — CBOR bodies.  A writer over a caller's buffer and a pull
 * reader that yields one data item at a time, both built on libcbor's
 * allocation-free encoders and streaming decoder (its global allocator is
 * never used or replaced).  Byte strings are read in place, without copies. */
#ifndef RSHARE_MSG_BODY_H
#define RSHARE_MSG_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rs_cbor_writer {
    uint8_t *buf;
    size_t cap, len;
    bool overflow;
};

void rs_cbor_writer_init(struct rs_cbor_writer *w, uint8_t *buf, size_t cap);
void rs_cbor_put_uint(struct rs_cbor_writer *w, uint64_t v);
void rs_cbor_put_int(struct rs_cbor_writer *w, int64_t v);
void rs_cbor_put_bytes(struct rs_cbor_writer *w, const void *data, size_t len);
void rs_cbor_put_text(struct rs_cbor_writer *w, const char *text, size_t len);
void rs_cbor_put_array(struct rs_cbor_writer *w, size_t count);
void rs_cbor_put_map(struct rs_cbor_writer *w, size_t count);
/* Bytes a byte/text string header needs for `len` bytes. */
size_t rs_cbor_string_head_len(size_t len);

enum rs_cbor_kind {
    RS_CBOR_NONE = 0,
    RS_CBOR_UINT,
    RS_CBOR_NEGINT, /* value holds -1 - n as in CBOR: the integer is -1 - value */
    RS_CBOR_BYTES,
    RS_CBOR_TEXT,
    RS_CBOR_ARRAY,
    RS_CBOR_MAP,
    RS_CBOR_BOOL,
    RS_CBOR_NULL,
    RS_CBOR_OTHER /* tags, floats, undefined: valid CBOR rshare does not use */
};

struct rs_cbor_item {
    enum rs_cbor_kind kind;
    uint64_t value;     /* integers, bool, collection sizes */
    const uint8_t *ptr; /* strings: in place in the body */
    size_t len;
};

struct rs_cbor_reader {
    const uint8_t *buf;
    size_t len, pos;
};

void rs_cbor_reader_init(struct rs_cbor_reader *r, const void *buf, size_t len);
/* Next item: 0, or RSHARE_EPROTO for malformed, truncated or
 * indefinite-length input. */
int rs_cbor_next(struct rs_cbor_reader *r, struct rs_cbor_item *item);
/* Typed helpers: RSHARE_EPROTO unless the next item has that type. */
int rs_cbor_get_uint(struct rs_cbor_reader *r, uint64_t *v);
int rs_cbor_get_int(struct rs_cbor_reader *r, int64_t *v);
int rs_cbor_get_bytes(struct rs_cbor_reader *r, const uint8_t **ptr, size_t *len);
int rs_cbor_get_text(struct rs_cbor_reader *r, const char **ptr, size_t *len);
int rs_cbor_get_array(struct rs_cbor_reader *r, size_t *count);
bool rs_cbor_at_end(const struct rs_cbor_reader *r);
int rs_cbor_get_map(struct rs_cbor_reader *r, size_t *count);
int rs_cbor_get_bool(struct rs_cbor_reader *r, bool *v);
/* Skip one complete item (arrays and maps with their contents, nested at
 * most RS_CBOR_MAX_DEPTH deep): how readers ignore fields they do not know. */
#define RS_CBOR_MAX_DEPTH 8
int rs_cbor_skip(struct rs_cbor_reader *r);
void rs_cbor_put_bool(struct rs_cbor_writer *w, bool v);

#endif
