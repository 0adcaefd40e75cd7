/* rshare kvm — the video tile codec (video.h, doc/KVM.md "Tile encoding"):
 * run-length coding of pixel units, and per tile the choice between raw,
 * RLE and RLE of the XOR with what the sink already shows.  No external
 * codec: desktops are mostly flat colour and small changes, which these
 * three cover, and the decoder stays small enough to bound by reading. */
#include "config.h"

#include <string.h>

#include "rshare/error.h"
#include "rshare/kvm.h"

#include "video.h"

unsigned rs_video_format_unit(uint32_t format)
{
    switch (format) {
    case RSHARE_VIDEO_FORMAT_XRGB8888:
        return 4;
    case RSHARE_VIDEO_FORMAT_RGB565:
        return 2;
    case RSHARE_VIDEO_FORMAT_GRAY8:
        return 1;
    case RSHARE_VIDEO_FORMAT_TEXT:
        return 8;
    default:
        return 0;
    }
}

static size_t put_varint(uint8_t *out, size_t pos, size_t cap, uint64_t v)
{
    do {
        if (pos >= cap)
            return 0;
        uint8_t b = v & 0x7f;
        v >>= 7;
        out[pos++] = (uint8_t)(b | (v ? 0x80 : 0));
    } while (v);
    return pos;
}

/* An op: count units, repeated or literal, with its unit bytes. */
static size_t put_op(uint8_t *out, size_t pos, size_t cap, size_t count, bool repeat,
                     const uint8_t *units, size_t bytes)
{
    pos = put_varint(out, pos, cap, ((uint64_t)(count - 1) << 1) | (repeat ? 1 : 0));
    if (!pos || bytes > cap - pos)
        return 0;
    memcpy(out + pos, units, bytes);
    return pos + bytes;
}

/* A unit of 1 to 8 bytes (RS_VIDEO_MAX_UNIT: every format's) as one
 * integer: comparing with a call to memcmp per pixel costs more than the
 * rest of the encoder.  Callers handle wider units themselves. */
static inline uint64_t unit_load(const uint8_t *p, unsigned unit)
{
    switch (unit) {
    case 4: {
        uint32_t v;
        memcpy(&v, p, 4);
        return v;
    }
    case 8: {
        uint64_t v;
        memcpy(&v, p, 8);
        return v;
    }
    case 2: {
        uint16_t v;
        memcpy(&v, p, 2);
        return v;
    }
    case 1:
        return *p;
    default: {
        uint64_t v = 0;
        memcpy(&v, p, unit < 8 ? unit : 8);
        return v;
    }
    }
}

static inline bool unit_eq(const uint8_t *a, const uint8_t *b, unsigned unit)
{
    if (unit > 8)
        return !memcmp(a, b, unit);
    return unit_load(a, unit) == unit_load(b, unit);
}

size_t rs_video_rle_encode(const uint8_t *src, size_t units, unsigned unit, uint8_t *out,
                           size_t cap)
{
    /* A repeat op costs one unit however long it is, so runs of two pay
     * already for units of 2 bytes or more; single bytes need three. */
    size_t min_run = unit >= 2 ? 2 : 3;
    size_t pos = 0, lit = 0; /* literal units pending before index i */
    size_t i = 0;
    while (i < units) {
        size_t run = 1;
        while (i + run < units && unit_eq(src + (i + run) * unit, src + i * unit, unit))
            run++;
        if (run < min_run) {
            lit += run;
            i += run;
            continue;
        }
        if (lit) {
            pos = put_op(out, pos, cap, lit, false, src + (i - lit) * unit, lit * unit);
            if (!pos)
                return 0;
            lit = 0;
        }
        pos = put_op(out, pos, cap, run, true, src + i * unit, unit);
        if (!pos)
            return 0;
        i += run;
    }
    if (lit && !(pos = put_op(out, pos, cap, lit, false, src + (units - lit) * unit, lit * unit)))
        return 0;
    return pos;
}

int rs_video_rle_decode(const uint8_t *in, size_t len, unsigned unit, uint8_t *dst, size_t units)
{
    size_t pos = 0, done = 0;
    while (done < units) {
        uint64_t n = 0;
        for (unsigned shift = 0;; shift += 7) {
            /* At most 5 bytes: no tile holds 2^34 units. */
            if (pos >= len || shift > 28)
                return RSHARE_EPROTO;
            uint8_t b = in[pos++];
            n |= (uint64_t)(b & 0x7f) << shift;
            if (!(b & 0x80))
                break;
        }
        uint64_t count = (n >> 1) + 1;
        if (count > units - done)
            return RSHARE_EPROTO;
        size_t bytes = (n & 1) ? unit : (size_t)count * unit;
        if (bytes > len - pos)
            return RSHARE_EPROTO;
        if (n & 1) {
            for (uint64_t k = 0; k < count; k++)
                memcpy(dst + (done + k) * unit, in + pos, unit);
        } else {
            memcpy(dst + done * unit, in + pos, bytes);
        }
        pos += bytes;
        done += (size_t)count;
    }
    return pos == len ? 0 : RSHARE_EPROTO;
}

/* Whether run-length coding can pay: at least one of the sampled pairs of
 * neighbouring units (up to 256, spread over the tile) is equal; with
 * `prev`, pairs of cur XOR prev.  Without repeats RLE only adds op bytes,
 * and noise (photos, video) would cost two full encoding attempts and an
 * XOR pass per tile to end up raw anyway. */
static bool runs_likely(const uint8_t *cur, const uint8_t *prev, size_t units, unsigned unit)
{
    if (units < 512 || unit > 8)
        return true;
    size_t step = units / 256;
    for (size_t i = 0; i + 1 < units; i += step) {
        uint64_t a = unit_load(cur + i * unit, unit), b = unit_load(cur + (i + 1) * unit, unit);
        if (prev) {
            a ^= unit_load(prev + i * unit, unit);
            b ^= unit_load(prev + (i + 1) * unit, unit);
        }
        if (a == b)
            return true;
    }
    return false;
}

size_t rs_video_tile_encode(const uint8_t *cur, const uint8_t *prev, size_t units, unsigned unit,
                            uint8_t *scratch, uint8_t *out, size_t cap)
{
    size_t raw = units * unit;
    if (cap < 1 + 2 * raw)
        return 0;
    /* The coded forms get a budget below raw: anything longer goes raw, so
     * a tile never costs more than one byte over its size.  RLE is tried
     * in out[1..raw], XOR+RLE after it in out[1+raw..], each smaller than
     * the best so far. */
    size_t best = raw, n;
    enum rs_video_enc enc = RS_VIDEO_ENC_RAW;
    if (raw > 1 && runs_likely(cur, NULL, units, unit) &&
        (n = rs_video_rle_encode(cur, units, unit, out + 1, raw - 1))) {
        best = n;
        enc = RS_VIDEO_ENC_RLE;
    }
    if (prev && best > 1 && runs_likely(cur, prev, units, unit)) {
        for (size_t i = 0; i < raw; i++)
            scratch[i] = cur[i] ^ prev[i];
        if ((n = rs_video_rle_encode(scratch, units, unit, out + 1 + raw, best - 1))) {
            memmove(out + 1, out + 1 + raw, n);
            best = n;
            enc = RS_VIDEO_ENC_XOR_RLE;
        }
    }
    if (enc == RS_VIDEO_ENC_RAW)
        memcpy(out + 1, cur, raw);
    out[0] = (uint8_t)enc;
    return 1 + best;
}

int rs_video_tile_decode(const uint8_t *data, size_t len, size_t units, unsigned unit,
                         uint8_t *tile)
{
    if (len < 1)
        return RSHARE_EPROTO;
    size_t raw = units * unit;
    switch (data[0]) {
    case RS_VIDEO_ENC_RAW:
        if (len - 1 != raw)
            return RSHARE_EPROTO;
        memcpy(tile, data + 1, raw);
        return 0;
    case RS_VIDEO_ENC_RLE:
        return rs_video_rle_decode(data + 1, len - 1, unit, tile, units);
    case RS_VIDEO_ENC_XOR_RLE: {
        /* XOR in place, op by op.  On failure the tile is half changed:
         * the caller works on a copy and writes it back only on success. */
        const uint8_t *in = data + 1;
        size_t in_len = len - 1, pos = 0, done = 0;
        while (done < units) {
            uint64_t n = 0;
            for (unsigned shift = 0;; shift += 7) {
                if (pos >= in_len || shift > 28)
                    return RSHARE_EPROTO;
                uint8_t b = in[pos++];
                n |= (uint64_t)(b & 0x7f) << shift;
                if (!(b & 0x80))
                    break;
            }
            uint64_t count = (n >> 1) + 1;
            if (count > units - done)
                return RSHARE_EPROTO;
            size_t bytes = (n & 1) ? unit : (size_t)count * unit;
            if (bytes > in_len - pos)
                return RSHARE_EPROTO;
            for (uint64_t k = 0; k < count; k++) {
                uint8_t *d = tile + (done + k) * unit;
                const uint8_t *s = in + pos + ((n & 1) ? 0 : k * unit);
                for (unsigned b = 0; b < unit; b++)
                    d[b] ^= s[b];
            }
            pos += bytes;
            done += (size_t)count;
        }
        return pos == in_len ? 0 : RSHARE_EPROTO;
    }
    default:
        return RSHARE_EPROTO;
    }
}
