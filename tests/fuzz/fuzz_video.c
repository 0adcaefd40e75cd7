/* Fuzz target: the video messages and the tile codec.  The first byte
 * picks what the rest is:
 *   0: a PART body, decoded directly (a decoded part must encode back to
 *      an equivalent one) and then delivered to a real sink as the answer
 *      to its first request, so the sink's checks and tile decoding run;
 *   1: a VIDEO_GET body delivered to a node with a graphics and a text
 *      source, which answers it;
 *   2: tile data: unit (1..8), unit count (2 bytes), then the encoded tile,
 *      decoded over a tile of known content; what decodes must re-encode
 *      and decode to the same tile. */
#include <stdint.h>
#include <string.h>

#include "link/link.h"
#include "msg/msg.h"
#include "kvm/video.h"

#include "null_transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t frames;

static void on_frame(void *user_data, uint32_t source, const struct rshare_video_frame *f)
{
    (void)user_data;
    (void)source;
    /* Whatever arrives, the sink shows only a whole, consistent image. */
    if (!f->pixels || !f->width || !f->height || f->width > RSHARE_VIDEO_MAX_WIDTH ||
        f->stride < f->width)
        __builtin_trap();
    frames++;
}

static rshare_node *make_node(uint32_t id)
{
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = id;
    cfg.log = (struct rshare_log){null_log, NULL, RSHARE_LOG_ERROR};
    rshare_node *node;
    if (rshare_node_create(&cfg, &node) != 0)
        return NULL;
    rshare_node_add_transport(node, &null_transport_ops, NULL);
    rshare_node_add_peer(node, 1, 0, "1");
    return node;
}

static void part_round_trip(const uint8_t *body, size_t len)
{
    static struct rs_video_rect_data rects[RS_VIDEO_MAX_RECTS], again_rects[RS_VIDEO_MAX_RECTS];
    static uint8_t buf[1 << 20];
    struct rs_video_part p = {.rects = rects}, again = {.rects = again_rects};
    if (rs_video_part_decode(body, len, &p) < 0)
        return;
    size_t n = rs_video_part_encode(&p, buf, sizeof(buf));
    if (!n || rs_video_part_decode(buf, n, &again) < 0 || again.count != p.count ||
        again.seq != p.seq || again.flags != p.flags)
        __builtin_trap();
    for (uint32_t i = 0; i < p.count; i++)
        if (again.rects[i].len != p.rects[i].len ||
            memcmp(again.rects[i].data, p.rects[i].data, p.rects[i].len) ||
            (uint64_t)p.rects[i].x + p.rects[i].w > p.width)
            __builtin_trap();
}

static void to_sink(const uint8_t *body, size_t len)
{
    rshare_node *node = make_node(2);
    if (!node)
        return;
    uint32_t id = rs_msg(node)->next_request_id;
    struct rshare_video_sink_config c;
    rshare_video_sink_config_init(&c, sizeof(c));
    c.source = 1;
    c.on_frame = on_frame;
    c.max_width = 1024;
    c.max_height = 1024;
    rshare_video_sink *sink = NULL;
    if (rshare_video_sink_create(node, &c, &sink) == 0) {
        struct rs_msg_hdr hdr;
        rs_msg_fill_hdr(node, &hdr, RS_MSG_RESPONSE, RS_MSG_VIDEO_GET, id);
        hdr.sender = 1;
        uint8_t *wire;
        size_t wire_len;
        if (rs_msg_build_raw(node, &hdr, body, len, &wire, &wire_len) == 0) {
            struct rs_link_msg msg = {.data = wire, .len = wire_len, .owned = false};
            rs_msg_deliver(node, 1, &msg);
            rs_msg_discard(node, wire); /* a shared buffer: the caller keeps it */
        }
        rshare_video_sink_destroy(sink);
    }
    rshare_node_destroy(node);
}

static void to_source(const uint8_t *body, size_t len)
{
    rshare_node *node = make_node(2);
    if (!node)
        return;
    static uint8_t pixels[64 * 48 * 4];
    static struct rshare_video_cell cells[10 * 4];
    struct rshare_video_source_config c;
    rshare_video_source_config_init(&c, sizeof(c));
    c.input = RSHARE_VIDEO_INPUT_MEMORY;
    c.format = RSHARE_VIDEO_FORMAT_XRGB8888;
    c.width = 64;
    c.height = 48;
    c.memory = pixels;
    c.sink = 1;
    c.tile = 16;
    rshare_video_source *gfx = NULL, *text = NULL;
    rshare_video_source_create(node, &c, &gfx);
    c.format = RSHARE_VIDEO_FORMAT_TEXT;
    c.width = 10;
    c.height = 4;
    c.memory = cells;
    rshare_video_source_create(node, &c, &text);
    struct rs_msg_hdr hdr;
    rs_msg_fill_hdr(node, &hdr, RS_MSG_REQUEST, RS_MSG_VIDEO_GET, 1);
    hdr.sender = 1;
    uint8_t *wire;
    size_t wire_len;
    if (rs_msg_build_raw(node, &hdr, body, len, &wire, &wire_len) == 0) {
        struct rs_link_msg msg = {.data = wire, .len = wire_len, .owned = false};
        rs_msg_deliver(node, 1, &msg);
        rs_msg_discard(node, wire); /* a shared buffer: the caller keeps it */
    }
    rshare_video_source_destroy(gfx);
    rshare_video_source_destroy(text);
    rshare_node_destroy(node);
}

static void tile(const uint8_t *data, size_t size)
{
    if (size < 3)
        return;
    unsigned unit = 1 + data[0] % RS_VIDEO_MAX_UNIT;
    size_t units = 1 + ((size_t)data[1] << 8 | data[2]) % 4096;
    static uint8_t t[4096 * 8], orig[4096 * 8], scratch[4096 * 8], enc[1 + 2 * 4096 * 8],
        back[4096 * 8];
    for (size_t i = 0; i < units * unit; i++)
        orig[i] = (uint8_t)(i * 7 / 5);
    memcpy(t, orig, units * unit);
    if (rs_video_tile_decode(data + 3, size - 3, units, unit, t) < 0)
        return;
    size_t n = rs_video_tile_encode(t, orig, units, unit, scratch, enc, sizeof(enc));
    memcpy(back, orig, units * unit);
    if (!n || n > 1 + units * unit || rs_video_tile_decode(enc, n, units, unit, back) < 0 ||
        memcmp(back, t, units * unit))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 3) {
    case 0:
        part_round_trip(data + 1, size - 1);
        to_sink(data + 1, size - 1);
        break;
    case 1:
        to_source(data + 1, size - 1);
        break;
    default:
        tile(data + 1, size - 1);
        break;
    }
    return 0;
}
