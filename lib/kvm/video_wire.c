/* rshare kvm — encoding and bounded decoding of the video messages
 * (video.h, doc/KVM.md "Video on the wire").  Both are CBOR arrays starting
 * with the version; elements a newer peer appends are skipped.  A PART's
 * rectangles are a flat array of x, y, w, h, data (byte string, in place). */
#include "config.h"

#include <string.h>

#include "rshare/error.h"
#include "msg/body.h"

#include "video.h"

#define GET_ELEMENTS 5
#define PART_ELEMENTS 9

size_t rs_video_get_encode(const struct rs_video_get *g, uint8_t *buf, size_t cap)
{
    if (!g->session)
        return 0;
    struct rs_cbor_writer w;
    rs_cbor_writer_init(&w, buf, cap);
    rs_cbor_put_array(&w, GET_ELEMENTS);
    rs_cbor_put_uint(&w, RS_VIDEO_WIRE_VERSION);
    rs_cbor_put_uint(&w, g->session);
    rs_cbor_put_uint(&w, g->epoch);
    rs_cbor_put_uint(&w, g->want);
    rs_cbor_put_uint(&w, g->have);
    return w.overflow ? 0 : w.len;
}

/* Array head and version; `*extra` elements beyond `known` to skip. */
static int get_head(struct rs_cbor_reader *r, size_t known, size_t *extra)
{
    size_t n;
    uint64_t version;
    if (rs_cbor_get_array(r, &n) < 0 || n < known || n > RS_VIDEO_ELEMENTS_MAX ||
        rs_cbor_get_uint(r, &version) < 0)
        return RSHARE_EPROTO;
    if (version != RS_VIDEO_WIRE_VERSION)
        return RSHARE_EVERSION;
    *extra = n - known;
    return 0;
}

static int get_tail(struct rs_cbor_reader *r, size_t extra)
{
    for (size_t i = 0; i < extra; i++)
        if (rs_cbor_skip(r) < 0)
            return RSHARE_EPROTO;
    return rs_cbor_at_end(r) ? 0 : RSHARE_EPROTO;
}

static int get_u32(struct rs_cbor_reader *r, uint32_t *v)
{
    uint64_t x;
    if (rs_cbor_get_uint(r, &x) < 0 || x > UINT32_MAX)
        return RSHARE_EPROTO;
    *v = (uint32_t)x;
    return 0;
}

int rs_video_get_decode(const uint8_t *buf, size_t len, struct rs_video_get *out)
{
    struct rs_cbor_reader r;
    rs_cbor_reader_init(&r, buf, len);
    size_t extra;
    int rc = get_head(&r, GET_ELEMENTS, &extra);
    if (rc < 0)
        return rc;
    if (rs_cbor_get_uint(&r, &out->session) < 0 || out->session == 0 ||
        get_u32(&r, &out->epoch) < 0 || get_u32(&r, &out->want) < 0 ||
        out->want > RS_VIDEO_WANT_TEXT || rs_cbor_get_uint(&r, &out->have) < 0)
        return RSHARE_EPROTO;
    return get_tail(&r, extra);
}

size_t rs_video_part_bound(size_t count, size_t data_bytes)
{
    /* Array heads of 9 bytes, 9 bytes per integer, a string head each. */
    return 2 * 9 + PART_ELEMENTS * 9 + count * (4 * 9 + 9) + data_bytes;
}

size_t rs_video_part_encode(const struct rs_video_part *p, uint8_t *buf, size_t cap)
{
    if (!p->session || p->count > RS_VIDEO_MAX_RECTS)
        return 0;
    struct rs_cbor_writer w;
    rs_cbor_writer_init(&w, buf, cap);
    rs_cbor_put_array(&w, PART_ELEMENTS);
    rs_cbor_put_uint(&w, RS_VIDEO_WIRE_VERSION);
    rs_cbor_put_uint(&w, p->session);
    rs_cbor_put_uint(&w, p->epoch);
    rs_cbor_put_uint(&w, p->seq);
    rs_cbor_put_uint(&w, p->flags);
    rs_cbor_put_uint(&w, p->format);
    rs_cbor_put_uint(&w, p->width);
    rs_cbor_put_uint(&w, p->height);
    rs_cbor_put_array(&w, (size_t)p->count * 5);
    for (uint32_t i = 0; i < p->count; i++) {
        const struct rs_video_rect_data *d = &p->rects[i];
        rs_cbor_put_uint(&w, d->x);
        rs_cbor_put_uint(&w, d->y);
        rs_cbor_put_uint(&w, d->w);
        rs_cbor_put_uint(&w, d->h);
        rs_cbor_put_bytes(&w, d->data, d->len);
    }
    return w.overflow ? 0 : w.len;
}

int rs_video_part_decode(const uint8_t *buf, size_t len, struct rs_video_part *out)
{
    struct rs_cbor_reader r;
    rs_cbor_reader_init(&r, buf, len);
    size_t extra, n;
    int rc = get_head(&r, PART_ELEMENTS, &extra);
    if (rc < 0)
        return rc;
    if (rs_cbor_get_uint(&r, &out->session) < 0 || out->session == 0 ||
        get_u32(&r, &out->epoch) < 0 || rs_cbor_get_uint(&r, &out->seq) < 0 || out->seq == 0 ||
        get_u32(&r, &out->flags) < 0 || get_u32(&r, &out->format) < 0 ||
        get_u32(&r, &out->width) < 0 || get_u32(&r, &out->height) < 0 ||
        rs_cbor_get_array(&r, &n) < 0 || n % 5)
        return RSHARE_EPROTO;
    if (n / 5 > RS_VIDEO_MAX_RECTS)
        return RSHARE_EINVAL;
    out->count = (uint32_t)(n / 5);
    out->unit = rs_video_format_unit(out->format);
    bool bad = !out->unit || out->flags & ~RS_VIDEO_F_KNOWN || out->width == 0 ||
               out->height == 0 || out->width > RS_VIDEO_MAX_DIM ||
               out->height > RS_VIDEO_MAX_DIM;
    for (uint32_t i = 0; i < out->count; i++) {
        struct rs_video_rect_data *d = &out->rects[i];
        if (get_u32(&r, &d->x) < 0 || get_u32(&r, &d->y) < 0 || get_u32(&r, &d->w) < 0 ||
            get_u32(&r, &d->h) < 0 || rs_cbor_get_bytes(&r, &d->data, &d->len) < 0)
            return RSHARE_EPROTO;
        /* 64-bit sums: no wrap-around lets a rectangle out of the frame. */
        bad |= d->w == 0 || d->h == 0 || (uint64_t)d->x + d->w > out->width ||
               (uint64_t)d->y + d->h > out->height;
    }
    if ((rc = get_tail(&r, extra)) < 0)
        return rc;
    return bad ? RSHARE_EINVAL : 0;
}
