/* rshare cluster — descriptor encoding, decoding and validation. */
#include "config.h"

#include <string.h>

#include "descriptor.h"
#include "rshare/error.h"

enum desc_key {
    KEY_VERSION = 0,
    KEY_KIND = 1,
    KEY_ID = 2,
    KEY_HOST = 3,
    KEY_RIGHTS = 4,
    KEY_FLAGS = 5,
    KEY_PATH = 6,
    KEY_MODEL = 7,
    KEY_SERIAL = 8,
    KEY_BLOCK_SIZE = 9,
    KEY_BLOCK_COUNT = 10,
    KEY_WIDTH = 11,
    KEY_HEIGHT = 12,
    KEY_PIXEL_FORMAT = 13
};

static void put_uint_field(struct rs_cbor_writer *w, unsigned key, uint64_t v)
{
    rs_cbor_put_uint(w, key);
    rs_cbor_put_uint(w, v);
}

static void put_text_field(struct rs_cbor_writer *w, unsigned key, const char *text, size_t cap)
{
    rs_cbor_put_uint(w, key);
    rs_cbor_put_text(w, text, strnlen(text, cap - 1));
}

void rs_desc_encode(struct rs_cbor_writer *w, const struct rshare_resource_desc *d)
{
    bool block = d->kind == RSHARE_RESOURCE_BLOCK, display = d->kind == RSHARE_RESOURCE_DISPLAY;
    rs_cbor_put_map(w, 9 + (block ? 2 : 0) + (display ? 3 : 0));
    put_uint_field(w, KEY_VERSION, RS_DESC_VERSION);
    put_uint_field(w, KEY_KIND, d->kind);
    put_uint_field(w, KEY_ID, d->id);
    put_uint_field(w, KEY_HOST, d->host);
    put_uint_field(w, KEY_RIGHTS, d->rights);
    put_uint_field(w, KEY_FLAGS, d->flags);
    put_text_field(w, KEY_PATH, d->path, sizeof(d->path));
    put_text_field(w, KEY_MODEL, d->model, sizeof(d->model));
    put_text_field(w, KEY_SERIAL, d->serial, sizeof(d->serial));
    if (block) {
        put_uint_field(w, KEY_BLOCK_SIZE, d->block_size);
        put_uint_field(w, KEY_BLOCK_COUNT, d->block_count);
    }
    if (display) {
        put_uint_field(w, KEY_WIDTH, d->width);
        put_uint_field(w, KEY_HEIGHT, d->height);
        put_uint_field(w, KEY_PIXEL_FORMAT, d->pixel_format);
    }
}

static int get_u32(struct rs_cbor_reader *r, uint32_t *out)
{
    uint64_t v;
    int rc = rs_cbor_get_uint(r, &v);
    if (rc == 0 && v > UINT32_MAX)
        rc = RSHARE_EPROTO;
    if (rc == 0)
        *out = (uint32_t)v;
    return rc;
}

static int get_text(struct rs_cbor_reader *r, char *out, size_t cap)
{
    const char *text;
    size_t len;
    int rc = rs_cbor_get_text(r, &text, &len);
    if (rc < 0)
        return rc;
    if (len >= cap || memchr(text, '\0', len))
        return RSHARE_EPROTO;
    memcpy(out, text, len);
    out[len] = '\0';
    return 0;
}

int rs_desc_decode(struct rs_cbor_reader *r, struct rshare_resource_desc *d)
{
    memset(d, 0, sizeof(*d));
    d->struct_size = sizeof(*d);
    size_t pairs;
    int rc = rs_cbor_get_map(r, &pairs);
    if (rc < 0)
        return rc;
    if (pairs > 64)
        return RSHARE_EPROTO;
    uint32_t version = 0;
    uint64_t key;
    for (size_t i = 0; i < pairs && rc == 0; i++) {
        if ((rc = rs_cbor_get_uint(r, &key)) < 0)
            break;
        switch (key) {
        case KEY_VERSION: rc = get_u32(r, &version); break;
        case KEY_KIND: rc = get_u32(r, &d->kind); break;
        case KEY_ID: rc = rs_cbor_get_uint(r, &d->id); break;
        case KEY_HOST: rc = get_u32(r, &d->host); break;
        case KEY_RIGHTS: rc = get_u32(r, &d->rights); break;
        case KEY_FLAGS: rc = get_u32(r, &d->flags); break;
        case KEY_PATH: rc = get_text(r, d->path, sizeof(d->path)); break;
        case KEY_MODEL: rc = get_text(r, d->model, sizeof(d->model)); break;
        case KEY_SERIAL: rc = get_text(r, d->serial, sizeof(d->serial)); break;
        case KEY_BLOCK_SIZE: rc = get_u32(r, &d->block_size); break;
        case KEY_BLOCK_COUNT: rc = rs_cbor_get_uint(r, &d->block_count); break;
        case KEY_WIDTH: rc = get_u32(r, &d->width); break;
        case KEY_HEIGHT: rc = get_u32(r, &d->height); break;
        case KEY_PIXEL_FORMAT: rc = get_u32(r, &d->pixel_format); break;
        default: rc = rs_cbor_skip(r); break; /* a newer node's field */
        }
    }
    if (rc < 0)
        return RSHARE_EPROTO;
    if (version != RS_DESC_VERSION)
        return RSHARE_EPROTO;
    return rs_desc_check(d) == 0 ? 0 : RSHARE_EPROTO;
}

static bool power_of_two(uint32_t v)
{
    return v && !(v & (v - 1));
}

int rs_desc_check(const struct rshare_resource_desc *d)
{
    if (!memchr(d->path, '\0', sizeof(d->path)) || !memchr(d->model, '\0', sizeof(d->model)) ||
        !memchr(d->serial, '\0', sizeof(d->serial)) || d->path[0] == '\0')
        return RSHARE_EINVAL;
    if (d->rights & ~(RSHARE_RIGHT_READ | RSHARE_RIGHT_WRITE) || !d->rights)
        return RSHARE_EINVAL;
    switch (d->kind) {
    case RSHARE_RESOURCE_BLOCK:
        if (!power_of_two(d->block_size) || d->block_size < 512 || d->block_size > 65536 ||
            d->block_count == 0 || d->block_count > UINT64_MAX / d->block_size)
            return RSHARE_EINVAL;
        return 0;
    case RSHARE_RESOURCE_DISPLAY:
        if (!d->width || !d->height || d->width > 16384 || d->height > 16384)
            return RSHARE_EINVAL;
        return 0;
    case RSHARE_RESOURCE_KEYBOARD:
    case RSHARE_RESOURCE_POINTER:
        return 0;
    default:
        return RSHARE_EINVAL;
    }
}
