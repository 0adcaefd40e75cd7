/* rshare kvm — video internals: the tile codec and the two video messages
 * (doc/KVM.md, "Video").  A display sink asks a display source for the next
 * part of its picture with a VIDEO_GET request; the answer is a PART that
 * carries only the rectangles that changed since the previous part, each
 * encoded raw, run-length, or run-length of the XOR with what the sink
 * already shows.  The decoders here are the only code that reads those
 * bytes and bound everything (rectangles, counts, lengths) before any of it
 * touches an image. */
#ifndef RSHARE_KVM_VIDEO_H
#define RSHARE_KVM_VIDEO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum rs_video_msg {
    /* request, sink -> source; the response is a PART */
    RS_MSG_VIDEO_GET = 0x0023
    /* 0x0024 .. 0x002F stay reserved for video */
};

#define RS_VIDEO_WIRE_VERSION 1
#define RS_VIDEO_MAX_DIM 8192u  /* width and height */
#define RS_VIDEO_MAX_UNIT 8u    /* bytes per pixel (text cells are 8) */
/* Rectangles in one PART; a frame with more goes in several parts. */
#define RS_VIDEO_MAX_RECTS 4096u
#define RS_VIDEO_ELEMENTS_MAX 32u /* array elements a newer peer may append */

/* PART flags. */
#define RS_VIDEO_F_KEY 0x1u  /* the sink clears its image (to zeros) first */
#define RS_VIDEO_F_LAST 0x2u /* the frame is complete: show it */
#define RS_VIDEO_F_KNOWN (RS_VIDEO_F_KEY | RS_VIDEO_F_LAST)

/* What a GET wants (rshare_video_sink_config.want). */
enum rs_video_want { RS_VIDEO_WANT_ANY = 0, RS_VIDEO_WANT_GRAPHICS = 1, RS_VIDEO_WANT_TEXT = 2 };

/* Tile data encodings: the first byte of a rectangle's data. */
enum rs_video_enc {
    RS_VIDEO_ENC_RAW = 0,     /* w * h units as they are */
    RS_VIDEO_ENC_RLE = 1,     /* run-length coded units */
    RS_VIDEO_ENC_XOR_RLE = 2  /* run-length coded (unit XOR the sink's unit) */
};

struct rs_video_get {
    uint64_t session; /* the sink handle's, random, never 0 */
    uint32_t epoch;   /* the sink's stream: a new one asks for a key frame */
    uint32_t want;    /* enum rs_video_want */
    uint64_t have;    /* last part applied (informative) */
};

struct rs_video_rect_data {
    uint32_t x, y, w, h;
    const uint8_t *data; /* encoding byte, then the payload; in the body */
    size_t len;
};

struct rs_video_part {
    uint64_t session; /* the source handle's */
    uint32_t epoch;   /* of the GET it answers */
    uint64_t seq;     /* per epoch, from 1 */
    uint32_t flags;   /* RS_VIDEO_F_* */
    uint32_t format, width, height, unit;
    uint32_t count;
    struct rs_video_rect_data *rects; /* caller's array of RS_VIDEO_MAX_RECTS */
};

/* --- codec ---------------------------------------------------------------- */

/* Run-length coding of `units` units of `unit` bytes.  A sequence of ops,
 * each a LEB128 varint n: count = (n >> 1) + 1 units; n & 1 set: one unit
 * follows, repeated count times; clear: count literal units follow.
 * Returns the encoded length, or 0 when it would exceed `cap`. */
size_t rs_video_rle_encode(const uint8_t *src, size_t units, unsigned unit, uint8_t *out,
                           size_t cap);
/* Decodes exactly `units` units into `dst`: RSHARE_EPROTO for truncated,
 * overlong or trailing data. */
int rs_video_rle_decode(const uint8_t *in, size_t len, unsigned unit, uint8_t *dst, size_t units);

/* Encodes the tile `cur` (w*h units, packed) knowing the sink holds `prev`
 * there: the smallest of raw, RLE and XOR+RLE, with its encoding byte.
 * `scratch` holds w*h units, `cap` must be at least 1 + 2*w*h*unit (room
 * to try two encodings).  Returns the length (at most 1 + w*h*unit). */
size_t rs_video_tile_encode(const uint8_t *cur, const uint8_t *prev, size_t units, unsigned unit,
                            uint8_t *scratch, uint8_t *out, size_t cap);
/* Decodes into `tile` (w*h units, packed), which holds the sink's current
 * content on entry (for XOR).  RSHARE_EPROTO when the data is corrupt. */
int rs_video_tile_decode(const uint8_t *data, size_t len, size_t units, unsigned unit,
                         uint8_t *tile);

/* Bytes per unit of a format (RSHARE_VIDEO_FORMAT_*), 0 when unknown. */
unsigned rs_video_format_unit(uint32_t format);

/* --- wire ----------------------------------------------------------------- */

size_t rs_video_get_encode(const struct rs_video_get *g, uint8_t *buf, size_t cap);
int rs_video_get_decode(const uint8_t *buf, size_t len, struct rs_video_get *out);

/* Upper bound of a PART body's size for `count` rectangles whose data
 * lengths add up to `data_bytes`. */
size_t rs_video_part_bound(size_t count, size_t data_bytes);
size_t rs_video_part_encode(const struct rs_video_part *p, uint8_t *buf, size_t cap);
/* Bounded decoding: RSHARE_EPROTO for malformed CBOR or shapes,
 * RSHARE_EVERSION for another version, RSHARE_EINVAL for a geometry or a
 * rectangle that does not fit (outside the frame, empty, unknown format or
 * flags, more than RS_VIDEO_MAX_RECTS).  Rectangle data is checked only by
 * rs_video_tile_decode. */
int rs_video_part_decode(const uint8_t *buf, size_t len, struct rs_video_part *out);

#endif
