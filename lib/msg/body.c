/* rshare msg — CBOR writer and pull reader on top of libcbor's encoders and
 * streaming decoder.  The reader refuses indefinite-length items and checks
 * every length against the bytes that remain before returning it. */
#include "config.h"

#include <string.h>

#include <cbor.h>

#include "body.h"
#include "rshare/error.h"

void rs_cbor_writer_init(struct rs_cbor_writer *w, uint8_t *buf, size_t cap)
{
    w->buf = buf;
    w->cap = cap;
    w->len = 0;
    w->overflow = false;
}

static void advance(struct rs_cbor_writer *w, size_t n)
{
    if (n == 0)
        w->overflow = true;
    else
        w->len += n;
}

void rs_cbor_put_uint(struct rs_cbor_writer *w, uint64_t v)
{
    if (!w->overflow)
        advance(w, cbor_encode_uint(v, w->buf + w->len, w->cap - w->len));
}

void rs_cbor_put_int(struct rs_cbor_writer *w, int64_t v)
{
    if (v >= 0)
        rs_cbor_put_uint(w, (uint64_t)v);
    else if (!w->overflow)
        advance(w, cbor_encode_negint((uint64_t)(-1 - v), w->buf + w->len, w->cap - w->len));
}

static void put_string(struct rs_cbor_writer *w, const void *data, size_t len, bool text)
{
    if (w->overflow)
        return;
    size_t n = text ? cbor_encode_string_start(len, w->buf + w->len, w->cap - w->len)
                    : cbor_encode_bytestring_start(len, w->buf + w->len, w->cap - w->len);
    advance(w, n);
    if (w->overflow)
        return;
    if (len > w->cap - w->len) {
        w->overflow = true;
        return;
    }
    if (len)
        memcpy(w->buf + w->len, data, len);
    w->len += len;
}

void rs_cbor_put_bytes(struct rs_cbor_writer *w, const void *data, size_t len)
{
    put_string(w, data, len, false);
}

void rs_cbor_put_text(struct rs_cbor_writer *w, const char *text, size_t len)
{
    put_string(w, text, len, true);
}

void rs_cbor_put_array(struct rs_cbor_writer *w, size_t count)
{
    if (!w->overflow)
        advance(w, cbor_encode_array_start(count, w->buf + w->len, w->cap - w->len));
}

void rs_cbor_put_map(struct rs_cbor_writer *w, size_t count)
{
    if (!w->overflow)
        advance(w, cbor_encode_map_start(count, w->buf + w->len, w->cap - w->len));
}

size_t rs_cbor_string_head_len(size_t len)
{
    return len < 24 ? 1 : len <= 0xFF ? 2 : len <= 0xFFFF ? 3 : len <= 0xFFFFFFFFu ? 5 : 9;
}

/* --- reader ---------------------------------------------------------------- */

struct capture {
    struct rs_cbor_item *item;
    bool indefinite;
};

#define CAP(ctx) (((struct capture *)(ctx))->item)

static void on_uint8(void *c, uint8_t v) { CAP(c)->kind = RS_CBOR_UINT; CAP(c)->value = v; }
static void on_uint16(void *c, uint16_t v) { CAP(c)->kind = RS_CBOR_UINT; CAP(c)->value = v; }
static void on_uint32(void *c, uint32_t v) { CAP(c)->kind = RS_CBOR_UINT; CAP(c)->value = v; }
static void on_uint64(void *c, uint64_t v) { CAP(c)->kind = RS_CBOR_UINT; CAP(c)->value = v; }
static void on_neg8(void *c, uint8_t v) { CAP(c)->kind = RS_CBOR_NEGINT; CAP(c)->value = v; }
static void on_neg16(void *c, uint16_t v) { CAP(c)->kind = RS_CBOR_NEGINT; CAP(c)->value = v; }
static void on_neg32(void *c, uint32_t v) { CAP(c)->kind = RS_CBOR_NEGINT; CAP(c)->value = v; }
static void on_neg64(void *c, uint64_t v) { CAP(c)->kind = RS_CBOR_NEGINT; CAP(c)->value = v; }

static void on_bytes(void *c, cbor_data data, size_t len)
{
    CAP(c)->kind = RS_CBOR_BYTES;
    CAP(c)->ptr = data;
    CAP(c)->len = len;
}

static void on_text(void *c, cbor_data data, size_t len)
{
    CAP(c)->kind = RS_CBOR_TEXT;
    CAP(c)->ptr = data;
    CAP(c)->len = len;
}

static void on_array(void *c, size_t n) { CAP(c)->kind = RS_CBOR_ARRAY; CAP(c)->value = n; }
static void on_map(void *c, size_t n) { CAP(c)->kind = RS_CBOR_MAP; CAP(c)->value = n; }
static void on_bool(void *c, bool v) { CAP(c)->kind = RS_CBOR_BOOL; CAP(c)->value = v; }
static void on_null(void *c) { CAP(c)->kind = RS_CBOR_NULL; }
static void on_indefinite(void *c) { ((struct capture *)c)->indefinite = true; }
static void on_other(void *c) { CAP(c)->kind = RS_CBOR_OTHER; }
static void on_other_u64(void *c, uint64_t v) { (void)v; CAP(c)->kind = RS_CBOR_OTHER; }
static void on_other_float(void *c, float v) { (void)v; CAP(c)->kind = RS_CBOR_OTHER; }
static void on_other_double(void *c, double v) { (void)v; CAP(c)->kind = RS_CBOR_OTHER; }

static const struct cbor_callbacks reader_callbacks = {
    .uint8 = on_uint8, .uint16 = on_uint16, .uint32 = on_uint32, .uint64 = on_uint64,
    .negint8 = on_neg8, .negint16 = on_neg16, .negint32 = on_neg32, .negint64 = on_neg64,
    .byte_string = on_bytes, .byte_string_start = on_indefinite,
    .string = on_text, .string_start = on_indefinite,
    .array_start = on_array, .indef_array_start = on_indefinite,
    .map_start = on_map, .indef_map_start = on_indefinite,
    .tag = on_other_u64, .float2 = on_other_float, .float4 = on_other_float,
    .float8 = on_other_double, .undefined = on_other, .null = on_null, .boolean = on_bool,
    .indef_break = on_indefinite,
};

void rs_cbor_reader_init(struct rs_cbor_reader *r, const void *buf, size_t len)
{
    r->buf = buf;
    r->len = len;
    r->pos = 0;
}

int rs_cbor_next(struct rs_cbor_reader *r, struct rs_cbor_item *item)
{
    memset(item, 0, sizeof(*item));
    if (r->pos >= r->len)
        return RSHARE_EPROTO;
    struct capture cap = {.item = item, .indefinite = false};
    struct cbor_decoder_result res =
        cbor_stream_decode(r->buf + r->pos, r->len - r->pos, &reader_callbacks, &cap);
    if (res.status != CBOR_DECODER_FINISHED || cap.indefinite || item->kind == RS_CBOR_NONE ||
        res.read == 0 || res.read > r->len - r->pos)
        return RSHARE_EPROTO;
    r->pos += res.read;
    return 0;
}

static int get_kind(struct rs_cbor_reader *r, struct rs_cbor_item *item, enum rs_cbor_kind kind)
{
    int rc = rs_cbor_next(r, item);
    if (rc < 0)
        return rc;
    return item->kind == kind ? 0 : RSHARE_EPROTO;
}

int rs_cbor_get_uint(struct rs_cbor_reader *r, uint64_t *v)
{
    struct rs_cbor_item it;
    int rc = get_kind(r, &it, RS_CBOR_UINT);
    if (rc == 0)
        *v = it.value;
    return rc;
}

int rs_cbor_get_int(struct rs_cbor_reader *r, int64_t *v)
{
    struct rs_cbor_item it;
    int rc = rs_cbor_next(r, &it);
    if (rc < 0)
        return rc;
    if (it.kind == RS_CBOR_UINT && it.value <= INT64_MAX)
        *v = (int64_t)it.value;
    else if (it.kind == RS_CBOR_NEGINT && it.value <= INT64_MAX)
        *v = -1 - (int64_t)it.value;
    else
        return RSHARE_EPROTO;
    return 0;
}

int rs_cbor_get_bytes(struct rs_cbor_reader *r, const uint8_t **ptr, size_t *len)
{
    struct rs_cbor_item it;
    int rc = get_kind(r, &it, RS_CBOR_BYTES);
    if (rc == 0) {
        *ptr = it.ptr;
        *len = it.len;
    }
    return rc;
}

int rs_cbor_get_text(struct rs_cbor_reader *r, const char **ptr, size_t *len)
{
    struct rs_cbor_item it;
    int rc = get_kind(r, &it, RS_CBOR_TEXT);
    if (rc == 0) {
        *ptr = (const char *)it.ptr;
        *len = it.len;
    }
    return rc;
}

int rs_cbor_get_array(struct rs_cbor_reader *r, size_t *count)
{
    struct rs_cbor_item it;
    int rc = get_kind(r, &it, RS_CBOR_ARRAY);
    if (rc == 0)
        *count = (size_t)it.value;
    return rc;
}

bool rs_cbor_at_end(const struct rs_cbor_reader *r)
{
    return r->pos == r->len;
}

int rs_cbor_get_map(struct rs_cbor_reader *r, size_t *count)
{
    struct rs_cbor_item it;
    int rc = get_kind(r, &it, RS_CBOR_MAP);
    if (rc == 0)
        *count = (size_t)it.value;
    return rc;
}

int rs_cbor_get_bool(struct rs_cbor_reader *r, bool *v)
{
    struct rs_cbor_item it;
    int rc = get_kind(r, &it, RS_CBOR_BOOL);
    if (rc == 0)
        *v = it.value != 0;
    return rc;
}

static int skip_depth(struct rs_cbor_reader *r, int depth)
{
    if (depth > RS_CBOR_MAX_DEPTH)
        return RSHARE_EPROTO;
    struct rs_cbor_item it;
    int rc = rs_cbor_next(r, &it);
    if (rc < 0)
        return rc;
    if (it.kind != RS_CBOR_ARRAY && it.kind != RS_CBOR_MAP)
        return 0;
    /* Every element takes at least one byte: a count above what remains is
     * a lie, refused before looping on it. */
    uint64_t items = it.kind == RS_CBOR_MAP ? it.value * 2 : it.value;
    if (it.value > r->len - r->pos || items > r->len - r->pos)
        return RSHARE_EPROTO;
    for (uint64_t i = 0; i < items; i++)
        if ((rc = skip_depth(r, depth + 1)) < 0)
            return rc;
    return 0;
}

int rs_cbor_skip(struct rs_cbor_reader *r)
{
    return skip_depth(r, 0);
}

void rs_cbor_put_bool(struct rs_cbor_writer *w, bool v)
{
    if (!w->overflow)
        advance(w, cbor_encode_bool(v, w->buf + w->len, w->cap - w->len));
}
