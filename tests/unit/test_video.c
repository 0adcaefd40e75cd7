/* Unit tests of the video tile codec and messages (lib/kvm/video.h): RLE
 * and tile round trips over random and structured content, the choice of
 * encoding, and every kind of corrupt, truncated or inconsistent data
 * refused by the decoders. */
#include "config.h"

#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "rshare/rshare.h"
#include "kvm/video.h"

static uint32_t rng = 12345;
static uint32_t next_rand(void)
{
    /* xorshift32: its low bytes are as random as its high ones. */
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

/* Content with runs, noise and repeats, the way screens look. */
static void fill(uint8_t *buf, size_t units, unsigned unit, int kind)
{
    for (size_t i = 0; i < units; i++) {
        for (unsigned b = 0; b < unit; b++) {
            uint8_t v;
            switch (kind) {
            case 0:
                v = (uint8_t)next_rand();
                break;
            case 1:
                v = (uint8_t)(i / 37);
                break;
            default:
                v = next_rand() % 8 == 0 ? (uint8_t)next_rand() : 0x20;
                break;
            }
            buf[i * unit + b] = v;
        }
    }
}

START_TEST(test_rle_round_trip)
{
    static uint8_t src[4096 * 8], enc[4096 * 8 * 2 + 64], dec[4096 * 8];
    for (unsigned unit = 1; unit <= 8; unit++) {
        for (int kind = 0; kind < 3; kind++) {
            size_t units = 1 + next_rand() % 4096;
            fill(src, units, unit, kind);
            size_t n = rs_video_rle_encode(src, units, unit, enc, sizeof(enc));
            ck_assert_uint_gt(n, 0);
            ck_assert_int_eq(rs_video_rle_decode(enc, n, unit, dec, units), 0);
            ck_assert_mem_eq(dec, src, units * unit);
            /* Too small a budget is refused, never overrun. */
            ck_assert_uint_eq(rs_video_rle_encode(src, units, unit, enc, n - 1), 0);
        }
    }
    /* A flat tile of 64x64 XRGB pixels is a handful of bytes. */
    memset(src, 0x55, 4096 * 4);
    size_t n = rs_video_rle_encode(src, 4096, 4, enc, sizeof(enc));
    ck_assert_uint_le(n, 8);
}
END_TEST

START_TEST(test_tile_choice)
{
    enum { UNITS = 64 * 64, UNIT = 4 };
    static uint8_t prev[UNITS * UNIT], cur[UNITS * UNIT], scratch[UNITS * UNIT];
    static uint8_t out[1 + 2 * UNITS * UNIT], tile[UNITS * UNIT];
    /* Noise: raw, one byte over the tile. */
    fill(prev, UNITS, UNIT, 0);
    fill(cur, UNITS, UNIT, 0);
    size_t n = rs_video_tile_encode(cur, prev, UNITS, UNIT, scratch, out, sizeof(out));
    ck_assert_uint_eq(n, 1 + UNITS * UNIT);
    ck_assert_uint_eq(out[0], RS_VIDEO_ENC_RAW);
    memcpy(tile, prev, sizeof(tile));
    ck_assert_int_eq(rs_video_tile_decode(out, n, UNITS, UNIT, tile), 0);
    ck_assert_mem_eq(tile, cur, sizeof(cur));
    /* Noise with three pixels changed: XOR+RLE, a few dozen bytes. */
    memcpy(cur, prev, sizeof(cur));
    cur[100] ^= 1;
    cur[2000] ^= 0x80;
    cur[9999] = (uint8_t)~cur[9999];
    n = rs_video_tile_encode(cur, prev, UNITS, UNIT, scratch, out, sizeof(out));
    ck_assert_uint_eq(out[0], RS_VIDEO_ENC_XOR_RLE);
    ck_assert_uint_lt(n, 64);
    memcpy(tile, prev, sizeof(tile));
    ck_assert_int_eq(rs_video_tile_decode(out, n, UNITS, UNIT, tile), 0);
    ck_assert_mem_eq(tile, cur, sizeof(cur));
    /* Flat colour with no previous content (key frame): RLE. */
    memset(cur, 0x33, sizeof(cur));
    n = rs_video_tile_encode(cur, NULL, UNITS, UNIT, scratch, out, sizeof(out));
    ck_assert_uint_eq(out[0], RS_VIDEO_ENC_RLE);
    ck_assert_int_eq(rs_video_tile_decode(out, n, UNITS, UNIT, tile), 0);
    ck_assert_mem_eq(tile, cur, sizeof(cur));
    /* A photo beside a flat window (rows of 64 pixels: 20 of noise, 44
     * flat): the sampled pairs find the flat part, RLE is tried and wins. */
    for (size_t i = 0; i < UNITS; i++) {
        uint32_t v = i % 64 < 20 ? next_rand() : 0x00404040u;
        memcpy(cur + i * UNIT, &v, UNIT);
    }
    n = rs_video_tile_encode(cur, NULL, UNITS, UNIT, scratch, out, sizeof(out));
    ck_assert_uint_eq(out[0], RS_VIDEO_ENC_RLE);
    ck_assert_uint_lt(n, UNITS * UNIT * 2 / 5);
    ck_assert_int_eq(rs_video_tile_decode(out, n, UNITS, UNIT, tile), 0);
    ck_assert_mem_eq(tile, cur, sizeof(cur));
    /* Noise whose neighbours are never equal is not even tried: raw. */
    for (size_t i = 0; i < UNITS; i++) {
        uint32_t v = (uint32_t)i * 2654435761u;
        memcpy(cur + i * UNIT, &v, UNIT);
    }
    n = rs_video_tile_encode(cur, prev, UNITS, UNIT, scratch, out, sizeof(out));
    ck_assert_uint_eq(out[0], RS_VIDEO_ENC_RAW);
    ck_assert_uint_eq(n, 1 + UNITS * UNIT);
}
END_TEST

START_TEST(test_tile_corrupt)
{
    enum { UNITS = 16 * 16, UNIT = 4 };
    static uint8_t prev[UNITS * UNIT], cur[UNITS * UNIT], scratch[UNITS * UNIT];
    static uint8_t out[1 + 2 * UNITS * UNIT], tile[UNITS * UNIT];
    fill(prev, UNITS, UNIT, 2);
    memcpy(cur, prev, sizeof(cur));
    for (int i = 0; i < 20; i++)
        cur[next_rand() % sizeof(cur)] ^= 0xff;
    size_t n = rs_video_tile_encode(cur, prev, UNITS, UNIT, scratch, out, sizeof(out));
    ck_assert_uint_gt(n, 2);
    /* Every truncation is refused. */
    for (size_t cut = 0; cut < n; cut++)
        ck_assert_int_eq(rs_video_tile_decode(out, cut, UNITS, UNIT, tile), RSHARE_EPROTO);
    /* Trailing bytes are refused. */
    uint8_t longer[sizeof(out) + 1];
    memcpy(longer, out, n);
    longer[n] = 0;
    ck_assert_int_eq(rs_video_tile_decode(longer, n + 1, UNITS, UNIT, tile), RSHARE_EPROTO);
    /* Unknown encoding. */
    uint8_t bad[2] = {7, 0};
    ck_assert_int_eq(rs_video_tile_decode(bad, 2, UNITS, UNIT, tile), RSHARE_EPROTO);
    /* A run longer than the tile. */
    uint8_t run[] = {RS_VIDEO_ENC_RLE, 0xff, 0x7f, 1, 2, 3, 4}; /* 8192 repeats */
    ck_assert_int_eq(rs_video_tile_decode(run, sizeof(run), UNITS, UNIT, tile), RSHARE_EPROTO);
    /* A varint that never ends. */
    uint8_t endless[] = {RS_VIDEO_ENC_XOR_RLE, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    ck_assert_int_eq(rs_video_tile_decode(endless, sizeof(endless), UNITS, UNIT, tile),
                     RSHARE_EPROTO);
    /* Raw of the wrong size. */
    uint8_t raw[1 + 8] = {RS_VIDEO_ENC_RAW};
    ck_assert_int_eq(rs_video_tile_decode(raw, sizeof(raw), 4, 4, tile), RSHARE_EPROTO);
    ck_assert_int_eq(rs_video_tile_decode(raw, 0, 4, 4, tile), RSHARE_EPROTO);
}
END_TEST

static size_t make_part(uint8_t *buf, size_t cap, uint32_t x, uint32_t y, uint32_t w,
                        uint32_t h, uint32_t flags, uint32_t format)
{
    static struct rs_video_rect_data rects[1];
    static const uint8_t data[] = {RS_VIDEO_ENC_RLE, 0x01, 0, 0, 0, 0};
    rects[0] = (struct rs_video_rect_data){x, y, w, h, data, sizeof(data)};
    struct rs_video_part p = {.session = 9, .epoch = 1, .seq = 1, .flags = flags,
                              .format = format, .width = 640, .height = 480, .count = 1,
                              .rects = rects};
    return rs_video_part_encode(&p, buf, cap);
}

START_TEST(test_part_wire)
{
    static struct rs_video_rect_data rects[RS_VIDEO_MAX_RECTS];
    uint8_t buf[256];
    struct rs_video_part p = {.rects = rects};
    size_t n = make_part(buf, sizeof(buf), 600, 400, 40, 80, RS_VIDEO_F_LAST,
                         RSHARE_VIDEO_FORMAT_XRGB8888);
    ck_assert_uint_gt(n, 0);
    ck_assert_int_eq(rs_video_part_decode(buf, n, &p), 0);
    ck_assert_uint_eq(p.count, 1);
    ck_assert_uint_eq(p.unit, 4);
    ck_assert_uint_eq(rects[0].x, 600);
    ck_assert_uint_eq(rects[0].len, 6);
    /* Every truncation is refused. */
    for (size_t cut = 0; cut < n; cut++)
        ck_assert_int_lt(rs_video_part_decode(buf, cut, &p), 0);
    /* A rectangle leaving the frame, empty, unknown flags or format. */
    n = make_part(buf, sizeof(buf), 601, 400, 40, 80, 0, RSHARE_VIDEO_FORMAT_XRGB8888);
    ck_assert_int_eq(rs_video_part_decode(buf, n, &p), RSHARE_EINVAL);
    n = make_part(buf, sizeof(buf), 0, 0xffffffffu, 1, 2, 0, RSHARE_VIDEO_FORMAT_XRGB8888);
    ck_assert_int_eq(rs_video_part_decode(buf, n, &p), RSHARE_EINVAL);
    n = make_part(buf, sizeof(buf), 0, 0, 0, 2, 0, RSHARE_VIDEO_FORMAT_XRGB8888);
    ck_assert_int_eq(rs_video_part_decode(buf, n, &p), RSHARE_EINVAL);
    n = make_part(buf, sizeof(buf), 0, 0, 1, 2, 0x80, RSHARE_VIDEO_FORMAT_XRGB8888);
    ck_assert_int_eq(rs_video_part_decode(buf, n, &p), RSHARE_EINVAL);
    n = make_part(buf, sizeof(buf), 0, 0, 1, 2, 0, 77);
    ck_assert_int_eq(rs_video_part_decode(buf, n, &p), RSHARE_EINVAL);

    struct rs_video_get g = {.session = 5, .epoch = 2, .want = RS_VIDEO_WANT_TEXT, .have = 7}, h;
    n = rs_video_get_encode(&g, buf, sizeof(buf));
    ck_assert_int_eq(rs_video_get_decode(buf, n, &h), 0);
    ck_assert_uint_eq(h.epoch, 2);
    ck_assert_uint_eq(h.want, RS_VIDEO_WANT_TEXT);
    for (size_t cut = 0; cut < n; cut++)
        ck_assert_int_lt(rs_video_get_decode(buf, cut, &h), 0);
    buf[1] = 2; /* version */
    ck_assert_int_eq(rs_video_get_decode(buf, n, &h), RSHARE_EVERSION);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("video");
    TCase *tc = tcase_create("codec");
    tcase_add_test(tc, test_rle_round_trip);
    tcase_add_test(tc, test_tile_choice);
    tcase_add_test(tc, test_tile_corrupt);
    tcase_add_test(tc, test_part_wire);
    suite_add_tcase(s, tc);
    return rs_test_run(s);
}
