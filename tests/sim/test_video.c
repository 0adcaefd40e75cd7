/* Simulation: video from a display source on node 2 to the display sink on
 * node 1.  Over the loop transport: a framebuffer in memory where a few
 * tiles change arrives pixel-exact after each frame with only those tiles
 * on the wire; a file source with padded lines; a slow (manual) sink gets
 * one merged frame, never a queue, with at most the configured number of
 * requests in flight; a restarted source and corrupt answers are recovered
 * from.  Over a simulated 115200-baud serial line: graphics are refused and
 * the text console travels instead, only changed cells. */
#include "config.h"

#include "testutil.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rshare/rshare.h"
#include "bus_sim.h"
#include "msg/msg.h"
#include "kvm/video.h"
#include "serial_line.h"

#define W 640
#define H 480
#define UNIT 4

static rshare_loop_net *net;
static struct bus_sim *sim;
static rshare_node *nodes[2];
static rshare_video_source *src, *text_src;
static rshare_video_sink *sink;

/* What the sink's callback saw. */
struct shown {
    size_t frames;
    uint32_t format, width, height;
    uint8_t image[W * H * UNIT];
    size_t damage;
    int key;
};
static struct shown shown;

static void on_frame(void *user_data, uint32_t source, const struct rshare_video_frame *f)
{
    struct shown *s = user_data;
    ck_assert_uint_eq(source, 2);
    ck_assert_uint_le((size_t)f->stride * f->height, sizeof(s->image));
    s->frames++;
    s->format = f->format;
    s->width = f->width;
    s->height = f->height;
    s->damage = f->damage_count;
    s->key = f->key;
    memcpy(s->image, f->pixels, (size_t)f->stride * f->height);
}

static int frames_at_least(void *ud)
{
    return shown.frames >= *(size_t *)ud;
}

static uint32_t max_message; /* the nodes' message limit; 0 = default */

static void make_loop_nodes(void)
{
    memset(&shown, 0, sizeof(shown));
    ck_assert_int_eq(rshare_loop_net_create(7, &net), 0);
    for (uint32_t i = 0; i < 2; i++) {
        struct rshare_node_config cfg;
        rshare_node_config_init(&cfg, sizeof(cfg));
        cfg.node_id = i + 1;
        cfg.clock = rshare_loop_net_clock(net);
        cfg.log = (struct rshare_log){rs_test_quiet_log, NULL, RSHARE_LOG_ERROR};
        cfg.max_message_bytes = max_message;
        ck_assert_int_eq(rshare_node_create(&cfg, &nodes[i]), 0);
        ck_assert_int_ge(rshare_node_add_loop(nodes[i], net, i + 1), 0);
        ck_assert_int_eq(rshare_node_add_peer(nodes[i], 2 - i, 0, i ? "1" : "2"), 0);
    }
}

static void make_sink(uint32_t want, uint32_t in_flight, int manual)
{
    struct rshare_video_sink_config c;
    rshare_video_sink_config_init(&c, sizeof(c));
    c.source = 2;
    c.want = want;
    c.frames_in_flight = in_flight;
    c.manual = manual;
    c.on_frame = on_frame;
    c.frame_data = &shown;
    ck_assert_int_eq(rshare_video_sink_create(nodes[0], &c, &sink), 0);
}

static void teardown(void)
{
    rshare_video_sink_destroy(sink);
    rshare_video_source_destroy(src);
    rshare_video_source_destroy(text_src);
    sink = NULL;
    src = text_src = NULL;
    for (int i = 0; i < 2; i++) {
        rshare_node_destroy(nodes[i]);
        nodes[i] = NULL;
    }
    rshare_loop_net_destroy(net);
    net = NULL;
    if (sim)
        bus_sim_destroy(sim);
    sim = NULL;
}

static void run_until_frames(size_t n)
{
    int rc = rshare_loop_net_run(net, nodes, 2, frames_at_least, &n, 5000000u);
    ck_assert_msg(rc == 0, "frame %zu never arrived", n);
}

static void run_us(uint64_t us)
{
    int rc = rshare_loop_net_run(net, nodes, 2, NULL, NULL, us);
    ck_assert(rc == 0 || rc == RSHARE_ETIMEDOUT);
}

static struct rshare_video_stats vstats(bool source)
{
    struct rshare_video_stats s;
    if (source)
        ck_assert_int_eq(rshare_video_source_stats(src, &s, sizeof(s)), 0);
    else
        ck_assert_int_eq(rshare_video_sink_stats(sink, &s, sizeof(s)), 0);
    return s;
}

static uint32_t rng = 99;
static uint32_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static uint8_t fb[W * H * UNIT];

/* Paint a w x h rectangle at x, y: a colour, with noise in one row. */
static void paint(uint8_t *img, size_t stride, uint32_t x, uint32_t y, uint32_t w, uint32_t h)
{
    uint32_t colour = next_rand();
    for (uint32_t r = 0; r < h; r++)
        for (uint32_t c = 0; c < w; c++) {
            uint32_t v = r == h / 2 ? next_rand() : colour;
            memcpy(img + (size_t)(y + r) * stride + (size_t)(x + c) * UNIT, &v, UNIT);
        }
}

static void memory_source(uint32_t input)
{
    struct rshare_video_source_config c;
    rshare_video_source_config_init(&c, sizeof(c));
    c.input = input;
    c.format = RSHARE_VIDEO_FORMAT_XRGB8888;
    c.width = W;
    c.height = H;
    c.memory = fb;
    c.sink = 1;
    ck_assert_int_eq(rshare_video_source_create(nodes[1], &c, &src), 0);
}

START_TEST(test_memory_tiles)
{
    make_loop_nodes();
    memset(fb, 0, sizeof(fb));
    paint(fb, W * UNIT, 0, 0, W, H); /* a full first picture */
    memory_source(RSHARE_VIDEO_INPUT_MEMORY);
    make_sink(RSHARE_VIDEO_WANT_ANY, 1, 0);
    run_until_frames(1);
    ck_assert_int_eq(shown.key, 1);
    ck_assert_uint_eq(shown.width, W);
    ck_assert_uint_eq(shown.format, RSHARE_VIDEO_FORMAT_XRGB8888);
    ck_assert_mem_eq(shown.image, fb, sizeof(fb));
    for (int round = 0; round < 20; round++) {
        /* A few small changes, each inside one 64x64 tile. */
        unsigned changes = 1 + next_rand() % 4;
        for (unsigned k = 0; k < changes; k++) {
            uint32_t tx = next_rand() % (W / 64), ty = next_rand() % (H / 64);
            paint(fb, W * UNIT, tx * 64 + 3, ty * 64 + 5, 20, 9);
        }
        struct rshare_video_stats before = vstats(true);
        run_until_frames(shown.frames + 1);
        ck_assert_mem_eq(shown.image, fb, sizeof(fb));
        struct rshare_video_stats after = vstats(true);
        /* Only the damaged tiles travel, and only their changed rows. */
        ck_assert_uint_le(after.tiles_sent - before.tiles_sent, changes);
        ck_assert_uint_le(after.raw_bytes - before.raw_bytes, (uint64_t)changes * 20 * 9 * UNIT);
        ck_assert_uint_eq(shown.damage, after.tiles_sent - before.tiles_sent);
        ck_assert_uint_eq(after.frames_sent, before.frames_sent + 1);
    }
    /* Nothing changes: no frame is shown, requests are answered empty. */
    size_t frames = shown.frames;
    run_us(3000000);
    ck_assert_uint_eq(shown.frames, frames);
    struct rshare_video_stats s = vstats(true);
    ck_assert_uint_ge(s.idle_answers, 2);
    ck_assert_uint_eq(s.key_frames, 1);
    ck_assert_uint_eq(vstats(false).bad_parts, 0);
    ck_assert_uint_eq(vstats(false).resets, 0);
    ck_assert_uint_gt(s.bytes_per_frame, 0);
    teardown();
}
END_TEST

/* Every tile changes, at 60 fps: several frames per second arrive and the
 * statistics say so. */
START_TEST(test_full_changes_fps)
{
    make_loop_nodes();
    memory_source(RSHARE_VIDEO_INPUT_MEMORY);
    make_sink(RSHARE_VIDEO_WANT_GRAPHICS, 2, 0);
    run_until_frames(1);
    for (int i = 0; i < 30; i++) {
        paint(fb, W * UNIT, 0, 0, W, H);
        run_until_frames(shown.frames + 1);
        ck_assert_mem_eq(shown.image, fb, sizeof(fb));
    }
    struct rshare_video_stats s = vstats(false);
    ck_assert_uint_ge(s.fps_milli, 20000);
    ck_assert_uint_le(s.max_in_flight, 2);
    teardown();
}
END_TEST

static int parts_at_least(void *ud)
{
    struct rshare_video_stats s;
    rshare_video_sink_stats(sink, &s, sizeof(s));
    return s.parts_received >= *(uint64_t *)ud;
}

/* A frame in many parts (64 KiB messages: 32 KiB parts, two 16 KiB tiles
 * each) with a push in the middle: a tile changed after it was sent, one
 * changed before its turn, and one the frame did not list all arrive with
 * the next frame (the source looks again only at the tiles a push
 * changed). */
START_TEST(test_push_during_parts)
{
    max_message = 64 * 1024;
    make_loop_nodes();
    max_message = 0;
    memory_source(RSHARE_VIDEO_INPUT_PUSH);
    for (size_t i = 0; i < sizeof(fb); i++)
        fb[i] = (uint8_t)next_rand();
    ck_assert_int_eq(rshare_video_source_push(src, fb, 0), 0);
    make_sink(RSHARE_VIDEO_WANT_GRAPHICS, 1, 0);
    uint64_t parts = 4;
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, 2, parts_at_least, &parts, 5000000u), 0);
    ck_assert_uint_eq(shown.frames, 0); /* the key frame is still on its way */
    static uint8_t next[W * H * UNIT];
    memcpy(next, fb, sizeof(fb));
    paint(next, W * UNIT, 3, 5, 20, 20);       /* tile 0: already sent */
    paint(next, W * UNIT, W - 30, H - 30, 20, 20); /* the last tile: not sent yet */
    ck_assert_int_eq(rshare_video_source_push(src, next, 0), 0);
    run_us(2000000);
    ck_assert_uint_ge(shown.frames, 1);
    ck_assert_mem_eq(shown.image, next, sizeof(next));
    /* And a tile the last frame did not touch, changed on its own. */
    paint(next, W * UNIT, 300, 200, 8, 8);
    ck_assert_int_eq(rshare_video_source_push(src, next, 0), 0);
    size_t before = shown.frames;
    run_until_frames(before + 1);
    ck_assert_mem_eq(shown.image, next, sizeof(next));
    ck_assert_uint_eq(shown.damage, 1);
    ck_assert_uint_gt(vstats(true).parts_sent, 40);
    teardown();
}
END_TEST

/* A picture that changes every millisecond: frames start on a 60 fps grid,
 * never more, and no fewer either. */
START_TEST(test_fps_cap)
{
    make_loop_nodes();
    memory_source(RSHARE_VIDEO_INPUT_MEMORY);
    make_sink(RSHARE_VIDEO_WANT_GRAPHICS, 2, 0);
    run_until_frames(1);
    size_t first = shown.frames;
    for (int ms = 0; ms < 2000; ms++) {
        paint(fb, W * UNIT, (uint32_t)(ms % 600), 100, 8, 8);
        run_us(1000);
    }
    size_t frames = shown.frames - first;
    ck_assert_uint_le(frames, 121);
    ck_assert_uint_ge(frames, 115);
    teardown();
}
END_TEST

START_TEST(test_slow_sink_merges)
{
    make_loop_nodes();
    memory_source(RSHARE_VIDEO_INPUT_PUSH);
    make_sink(RSHARE_VIDEO_WANT_ANY, 1, 1);
    run_until_frames(1); /* the key frame: black */
    ck_assert_int_eq(shown.key, 1);
    /* The display is busy: ten frames are pushed meanwhile. */
    static uint8_t frames[10][W * H * UNIT];
    for (int i = 0; i < 10; i++) {
        memcpy(frames[i], i ? frames[i - 1] : fb, sizeof(fb));
        paint(frames[i], W * UNIT, (uint32_t)(i * 50), (uint32_t)(i * 40), 30, 30);
        ck_assert_int_eq(rshare_video_source_push(src, frames[i], 0), 0);
        run_us(20000);
    }
    ck_assert_uint_eq(shown.frames, 1);
    struct rshare_video_stats s = vstats(true);
    ck_assert_uint_eq(s.frames_merged, 9);
    ck_assert_uint_eq(s.frames_sent, 1);
    /* Consumed: the next frame is all ten at once. */
    ck_assert_int_eq(rshare_video_sink_next(sink), 0);
    run_until_frames(2);
    ck_assert_mem_eq(shown.image, frames[9], sizeof(fb));
    ck_assert_uint_ge(shown.damage, 10); /* a change may cross tiles */
    run_us(100000);
    ck_assert_uint_eq(shown.frames, 2);
    ck_assert_uint_eq(vstats(true).frames_sent, 2);
    ck_assert_uint_eq(vstats(false).max_in_flight, 1);
    teardown();
}
END_TEST

/* A window of 3 requests: never more in flight, whatever the source does. */
START_TEST(test_in_flight_bound)
{
    make_loop_nodes();
    memory_source(RSHARE_VIDEO_INPUT_PUSH);
    make_sink(RSHARE_VIDEO_WANT_ANY, 3, 1);
    run_until_frames(1);
    for (int i = 0; i < 40; i++) {
        paint(fb, W * UNIT, (uint32_t)(next_rand() % (W - 8)), (uint32_t)(next_rand() % (H - 8)),
              8, 8);
        ck_assert_int_eq(rshare_video_source_push(src, fb, 0), 0);
        run_us(5000);
        if (i % 7 == 0)
            ck_assert_int_eq(rshare_video_sink_next(sink), 0);
    }
    /* The answers held for the busy display are at most the window. */
    struct rshare_video_stats s = vstats(false);
    ck_assert_uint_le(s.max_in_flight, 3);
    ck_assert_uint_gt(vstats(true).frames_merged, 0);
    for (int i = 0; i < 10; i++) {
        ck_assert_int_eq(rshare_video_sink_next(sink), 0);
        run_us(100000);
    }
    ck_assert_mem_eq(shown.image, fb, sizeof(fb));
    teardown();
}
END_TEST

START_TEST(test_file_source)
{
    make_loop_nodes();
    char path[] = "/tmp/rshare-video-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    const size_t stride = W * UNIT + 256, offset = 4096;
    static uint8_t file[4096 + (W * UNIT + 256) * H];
    memset(file, 0xee, sizeof(file));
    paint(file + offset, stride, 0, 0, W, H);
    ck_assert_int_eq(pwrite(fd, file, sizeof(file), 0), (ssize_t)sizeof(file));
    struct rshare_video_source_config c;
    rshare_video_source_config_init(&c, sizeof(c));
    c.input = RSHARE_VIDEO_INPUT_FILE;
    c.format = RSHARE_VIDEO_FORMAT_XRGB8888;
    c.width = W;
    c.height = H;
    c.stride = (uint32_t)stride;
    c.path = path;
    c.offset = offset;
    c.sink = 1;
    c.tile = 32;
    ck_assert_int_eq(rshare_video_source_create(nodes[1], &c, &src), 0);
    make_sink(RSHARE_VIDEO_WANT_ANY, 1, 0);
    for (int round = 0; round < 5; round++) {
        if (round)
            paint(file + offset, stride, (uint32_t)round * 70, (uint32_t)round * 50, 100, 60);
        ck_assert_int_eq(pwrite(fd, file, sizeof(file), 0), (ssize_t)sizeof(file));
        run_until_frames((size_t)round + 1);
        for (uint32_t y = 0; y < H; y++)
            ck_assert_mem_eq(shown.image + (size_t)y * W * UNIT, file + offset + y * stride,
                             W * UNIT);
    }
    close(fd);
    unlink(path);
    c.path = "/nonexistent/fb0";
    rshare_video_source *none;
    rshare_video_source_destroy(src);
    src = NULL;
    ck_assert_int_eq(rshare_video_source_create(nodes[1], &c, &none), RSHARE_ENOENT);
    teardown();
}
END_TEST

/* The source restarts (destroyed, made again): the sink's stream fails or
 * resets and the picture is rebuilt with a key frame. */
START_TEST(test_source_restart)
{
    make_loop_nodes();
    paint(fb, W * UNIT, 0, 0, W, H);
    memory_source(RSHARE_VIDEO_INPUT_MEMORY);
    make_sink(RSHARE_VIDEO_WANT_ANY, 2, 0);
    run_until_frames(1);
    rshare_video_source_destroy(src);
    src = NULL;
    paint(fb, W * UNIT, 100, 100, 200, 200);
    run_us(200000);
    memory_source(RSHARE_VIDEO_INPUT_MEMORY);
    run_until_frames(2);
    run_us(200000);
    ck_assert_mem_eq(shown.image, fb, sizeof(fb));
    ck_assert_int_ge((int)vstats(false).resets, 1);
    teardown();
}
END_TEST

/* A source that answers with corrupt parts: each is refused and counted,
 * nothing is shown, and the sink asks for a new stream each time. */
static int corrupt_kind;
static void bad_source(rshare_node *node, rshare_request *req, void *user_data)
{
    (void)node;
    (void)user_data;
    struct rs_video_get g;
    ck_assert_int_eq(rs_video_get_decode(rshare_request_data(req), rshare_request_len(req), &g),
                     0);
    static uint8_t tile[1 + 64 * 64 * 4];
    static struct rs_video_rect_data rects[1];
    tile[0] = RS_VIDEO_ENC_RAW;
    size_t len = sizeof(tile);
    uint32_t w = 64;
    switch (corrupt_kind++ % 3) {
    case 0:
        len -= 7; /* truncated */
        break;
    case 1:
        tile[0] = RS_VIDEO_ENC_RLE; /* garbage run-length data */
        memset(tile + 1, 0xff, 40);
        len = 41;
        break;
    default:
        w = 65; /* inconsistent with its data */
        break;
    }
    rects[0] = (struct rs_video_rect_data){0, 0, w, 64, tile, len};
    struct rs_video_part p = {.session = 3, .epoch = g.epoch, .seq = 1,
                              .flags = RS_VIDEO_F_KEY | RS_VIDEO_F_LAST,
                              .format = RSHARE_VIDEO_FORMAT_XRGB8888, .width = W, .height = H,
                              .count = 1, .rects = rects};
    static uint8_t body[sizeof(tile) + 256];
    size_t n = rs_video_part_encode(&p, body, sizeof(body));
    ck_assert_uint_gt(n, 0);
    ck_assert_int_eq(rshare_request_reply(req, body, n), 0);
}

START_TEST(test_corrupt_refused)
{
    make_loop_nodes();
    ck_assert_int_eq(rs_msg_set_handler(nodes[1], RS_MSG_VIDEO_GET, bad_source, NULL), 0);
    struct rshare_video_sink_config c;
    rshare_video_sink_config_init(&c, sizeof(c));
    c.source = 2;
    c.on_frame = on_frame;
    c.frame_data = &shown;
    c.retry_ms = 10;
    ck_assert_int_eq(rshare_video_sink_create(nodes[0], &c, &sink), 0);
    run_us(200000);
    struct rshare_video_stats s = vstats(false);
    ck_assert_uint_eq(shown.frames, 0);
    ck_assert_uint_ge(s.bad_parts, 3);
    ck_assert_uint_eq(s.bad_parts, s.resets);
    ck_assert_uint_ge((uint64_t)corrupt_kind, 3);
    teardown();
}
END_TEST

/* --- serial: text instead of graphics ------------------------------------- */

#define COLS 80
#define ROWS 25
static struct rshare_video_cell cells[ROWS][COLS];

static int sim_frames_at_least(void *ud)
{
    return shown.frames >= *(size_t *)ud;
}

static void serial_nodes(void)
{
    memset(&shown, 0, sizeof(shown));
    sim = bus_sim_create(5);
    struct sim_serial *line = sim_serial_create(sim, 115200, false);
    for (uint32_t i = 0; i < 2; i++) {
        struct rshare_node_config cfg;
        rshare_node_config_init(&cfg, sizeof(cfg));
        cfg.node_id = i + 1;
        cfg.clock = bus_sim_clock(sim);
        cfg.request_timeout_ms = 60000;
        cfg.request_retry_ms = 3000;
        cfg.link_window = 8;
        cfg.log = (struct rshare_log){rs_test_quiet_log, NULL, RSHARE_LOG_ERROR};
        ck_assert_int_eq(rshare_node_create(&cfg, &nodes[i]), 0);
        struct rshare_mctp_config mc;
        rshare_mctp_config_init(&mc, sizeof(mc));
        mc.eid = (uint8_t)(8 + i);
        struct rshare_serial_config sc;
        rshare_serial_config_init(&sc, sizeof(sc));
        sc.address = (uint8_t)i;
        sc.nodes = 2;
        sc.mctp = &mc;
        int index = rs_serial_attach(nodes[i], &sc, RSHARE_SERIAL_TURNAROUND_NONE, &sim_line_ops,
                                     sim_serial_port(line, false, false));
        ck_assert_int_ge(index, 0);
        ck_assert_int_eq(rshare_node_add_peer(nodes[i], 2 - i, index, i ? "8" : "9"), 0);
    }
}

static void sim_run_until_frames(size_t n)
{
    int rc = bus_sim_run(sim, nodes, 2, sim_frames_at_least, &n, 60000000u);
    ck_assert_msg(rc == 0, "frame %zu never arrived over serial", n);
}

static void put_text(uint32_t row, uint32_t col, const char *s, uint8_t fg)
{
    for (; *s; s++, col++)
        cells[row][col] = (struct rshare_video_cell){(uint8_t)*s, fg, 0, 0, 0};
}

START_TEST(test_text_over_serial)
{
    serial_nodes();
    /* Node 2 offers both: graphics (memory) and its text console (push). */
    memory_source(RSHARE_VIDEO_INPUT_MEMORY);
    for (uint32_t r = 0; r < ROWS; r++)
        for (uint32_t c = 0; c < COLS; c++)
            cells[r][c] = (struct rshare_video_cell){' ', 7, 0, 0, 0};
    put_text(0, 0, "rshare console on node 2", 15);
    struct rshare_video_source_config c;
    rshare_video_source_config_init(&c, sizeof(c));
    c.input = RSHARE_VIDEO_INPUT_PUSH;
    c.format = RSHARE_VIDEO_FORMAT_TEXT;
    c.width = COLS;
    c.height = ROWS;
    c.sink = 1;
    ck_assert_int_eq(rshare_video_source_create(nodes[1], &c, &text_src), 0);
    ck_assert_int_eq(rshare_video_source_push(text_src, cells, 0), 0);
    /* A second text source on the same node is refused. */
    rshare_video_source *again;
    ck_assert_int_eq(rshare_video_source_create(nodes[1], &c, &again), RSHARE_EBUSY);

    make_sink(RSHARE_VIDEO_WANT_ANY, 1, 0);
    sim_run_until_frames(1);
    ck_assert_uint_eq(shown.format, RSHARE_VIDEO_FORMAT_TEXT);
    ck_assert_uint_eq(shown.width, COLS);
    ck_assert_mem_eq(shown.image, cells, sizeof(cells));
    struct rshare_video_stats first;
    ck_assert_int_eq(rshare_video_sink_stats(sink, &first, sizeof(first)), 0);
    /* A blank screen with one line is cheap even as a key frame (raw: 16000). */
    ck_assert_uint_lt(first.bytes_received, 1000);
    for (int round = 0; round < 5; round++) {
        char msg[32];
        snprintf(msg, sizeof(msg), "login: %d", round);
        put_text((uint32_t)(3 + round), 10, msg, 2);
        cells[24][79].attr = (uint8_t)(round & 1 ? RSHARE_VIDEO_ATTR_CURSOR : 0);
        ck_assert_int_eq(rshare_video_source_push(text_src, cells, 0), 0);
        struct rshare_video_stats before, after;
        ck_assert_int_eq(rshare_video_sink_stats(sink, &before, sizeof(before)), 0);
        sim_run_until_frames(shown.frames + 1);
        ck_assert_mem_eq(shown.image, cells, sizeof(cells));
        ck_assert_int_eq(rshare_video_sink_stats(sink, &after, sizeof(after)), 0);
        /* Only the changed cells: a span of one row, and the cursor cell. */
        ck_assert_uint_le(after.tiles_received - before.tiles_received, 2);
        ck_assert_uint_lt(after.bytes_received - before.bytes_received, 200);
    }
    rshare_video_sink_destroy(sink);
    sink = NULL;

    /* Graphics asked for over serial: refused, nothing shown, retried. */
    size_t frames = shown.frames;
    make_sink(RSHARE_VIDEO_WANT_GRAPHICS, 1, 0);
    ck_assert_int_eq(bus_sim_run(sim, nodes, 2, NULL, NULL, 3000000u), RSHARE_ETIMEDOUT);
    struct rshare_video_stats s;
    ck_assert_int_eq(rshare_video_sink_stats(sink, &s, sizeof(s)), 0);
    ck_assert_uint_eq(shown.frames, frames);
    ck_assert_uint_ge(s.failed, 2);
    ck_assert_uint_gt(vstats(true).refused, 0);
    teardown();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("video-sim");
    TCase *tc = tcase_create("video");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_memory_tiles);
    tcase_add_test(tc, test_full_changes_fps);
    tcase_add_test(tc, test_slow_sink_merges);
    tcase_add_test(tc, test_push_during_parts);
    tcase_add_test(tc, test_fps_cap);
    tcase_add_test(tc, test_in_flight_bound);
    tcase_add_test(tc, test_file_source);
    tcase_add_test(tc, test_source_restart);
    tcase_add_test(tc, test_corrupt_refused);
    tcase_add_test(tc, test_text_over_serial);
    suite_add_tcase(s, tc);
    return rs_test_run(s);
}
