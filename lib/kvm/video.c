/* rshare kvm — video: display sources on nodes and display sinks on the
 * host that drives the monitor (include/rshare/kvm.h, doc/KVM.md "Video").
 *
 * Flow control is the request itself.  A sink keeps at most
 * frames_in_flight VIDEO_GET requests outstanding; the source answers each
 * with the next PART of its picture when something changed (or empty after
 * idle_ms, so that the request never times out), and holds it otherwise.
 * A source therefore never sends what was not asked for: while the sink is
 * busy nothing is grabbed and nothing queues, and the next frame carries
 * every change made meanwhile.  Answers travel as ordinary responses: the
 * message layer retries lost requests and replays the cached answer, so a
 * part is never lost silently; the link layer fragments large ones.
 *
 * Parts are deltas against the picture the sink holds.  Both sides follow
 * one stream, named by the sink's session and an epoch; a sink that misses
 * or refuses anything (a failed request, a corrupt tile, a part out of
 * order beyond its window) starts a new epoch, and the source answers the
 * first request of a new stream with a key frame (the sink clears its
 * image, only non-zero tiles travel). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "rshare/kvm.h"
#include "link/link.h"
#include "msg/msg.h"

#include "video.h"

#define DEFAULT_TILE 64
#define DEFAULT_FPS 60
#define DEFAULT_IDLE_MS 1000
#define DEFAULT_RETRY_MS 1000
#define MAX_HELD 8 /* requests a source keeps waiting (at most one sink's window) */
/* Largest rectangle a sink accepts, in units: a 256x256 tile, a text row
 * of 8192 cells (the source never sends more). */
#define MAX_RECT_UNITS 65536u
/* Largest answer: frames above it go in several parts. */
#define PART_BUDGET_MAX (1u << 20)
#define FPS_RING 256

/* The node's video handler: one per node, shared by its sources. */
struct video_reg {
    rshare_node *node;
    struct rshare_video_source *graphics, *text;
};

struct fps_ring {
    uint64_t at[FPS_RING];
    unsigned next, count;
};

struct rshare_video_source {
    rshare_node *node;
    struct video_reg *reg;
    bool text;
    uint32_t input, format, width, height, stride, unit, sink;
    uint32_t tile_w, tile_h, tiles_x, tiles_y;
    size_t line; /* packed bytes per line */
    const uint8_t *memory;
    int fd;
    uint64_t offset;
    uint64_t frame_us, idle_us;

    uint8_t *cur;  /* the picture to send, packed */
    uint8_t *sent; /* what the sink holds, packed */
    bool pushed;   /* PUSH: a frame arrived since the last frame started */
    /* Tiles whose `cur` changed since the last frame started (found while
     * copying the picture in).  A tile not marked holds in `cur` what it
     * held then, and so what was sent, unless `all_dirty` (a file source,
     * or a key frame) says to look at every tile. */
    uint8_t *dirty;
    bool all_dirty;

    /* the stream */
    uint64_t sink_session;
    uint32_t epoch;
    uint64_t seq;
    bool need_key;

    /* the frame being sent */
    bool in_frame, frame_key;
    bool key_part; /* the next part is the first of a key frame */
    uint32_t *damage;
    uint32_t damage_count, damage_pos;
    uint64_t last_start_us, next_poll_us;

    /* waiting requests, oldest first */
    rshare_request *held[MAX_HELD];
    uint64_t held_at[MAX_HELD];
    struct rs_video_get held_get[MAX_HELD];
    unsigned held_count;
    struct rs_timer timer;

    size_t part_budget, tile_bytes;
    uint8_t *tile_cur, *tile_prev, *scratch, *arena, *body;
    size_t arena_cap, body_cap;
    struct rs_video_rect_data *rects;

    uint64_t session;
    struct rshare_video_stats stats;
    struct fps_ring fps;
};

/* One outstanding request of a sink; outlives the sink if need be (the
 * message layer calls back later, or with RSHARE_ESHUTDOWN). */
struct sink_call {
    struct rshare_video_sink *sink; /* NULL once the sink is gone */
    uint32_t epoch;
    struct sink_call *next;
};

struct held_part {
    uint8_t *body;
    size_t len;
    uint64_t seq;
};

struct rshare_video_sink {
    rshare_node *node;
    uint32_t source, want, window, max_w, max_h;
    bool manual;
    rshare_video_frame_fn on_frame;
    void *frame_data;
    uint64_t retry_us;

    uint64_t session;
    uint32_t epoch;
    uint64_t next_seq;
    uint32_t outstanding;
    struct sink_call *calls;
    struct held_part parts[RSHARE_VIDEO_MAX_IN_FLIGHT];
    unsigned part_count;
    bool waiting;  /* manual: the last frame is not consumed yet */
    bool applying; /* inside apply/on_frame: next() only clears `waiting` */
    bool retry_pending;
    struct rs_timer timer;

    uint8_t *image;
    uint32_t format, width, height, unit;
    bool frame_key;
    struct rshare_video_rect *damage;
    size_t damage_count, damage_cap;
    uint8_t *tile; /* decoded rectangle, grown to the largest seen */
    size_t tile_cap;
    struct rs_video_rect_data *rects;

    struct rshare_video_stats stats;
    struct fps_ring fps;
};

static void on_get(rshare_node *node, rshare_request *req, void *user_data);
static void source_timer(rshare_node *node, struct rs_timer *timer);
static void source_serve(struct rshare_video_source *src);
static void sink_timer(rshare_node *node, struct rs_timer *timer);
static void sink_fill(struct rshare_video_sink *sink);

static void fps_note(struct fps_ring *f, uint64_t now)
{
    f->at[f->next] = now;
    f->next = (f->next + 1) % FPS_RING;
    if (f->count < FPS_RING)
        f->count++;
}

static uint64_t fps_milli(const struct fps_ring *f, uint64_t now)
{
    unsigned n = 0;
    for (unsigned i = 0; i < f->count; i++)
        if (now - f->at[i] < 1000000u)
            n++;
    return (uint64_t)n * 1000u;
}

static int copy_stats(const struct rshare_video_stats *s, const struct fps_ring *f,
                      rshare_node *node, uint64_t frames, uint64_t bytes,
                      struct rshare_video_stats *out, size_t struct_size)
{
    if (!out || struct_size < sizeof(uint32_t) * 2)
        return RSHARE_EINVAL;
    struct rshare_video_stats copy = *s;
    copy.fps_milli = fps_milli(f, rs_now_us(node));
    copy.bytes_per_frame = frames ? bytes / frames : 0;
    size_t n = struct_size < sizeof(copy) ? struct_size : sizeof(copy);
    copy.struct_size = (uint32_t)n;
    memcpy(out, &copy, n);
    return 0;
}

static uint64_t random_session(void)
{
    uint64_t s;
    do
        randombytes_buf(&s, sizeof(s));
    while (!s);
    return s;
}

/* --- the node's registry --------------------------------------------------- */

static struct video_reg *reg_find(rshare_node *node)
{
    const struct rs_msg *msg = rs_msg(node);
    for (size_t i = 0; i < msg->handler_count; i++)
        if (msg->handlers[i].type == RS_MSG_VIDEO_GET)
            return msg->handlers[i].user_data;
    return NULL;
}

static struct video_reg *reg_get(rshare_node *node)
{
    struct video_reg *reg = reg_find(node);
    if (reg)
        return reg;
    reg = rs_calloc(node, 1, sizeof(*reg));
    if (!reg)
        return NULL;
    reg->node = node;
    if (rs_msg_set_handler(node, RS_MSG_VIDEO_GET, on_get, reg) < 0) {
        rs_free(node, reg);
        return NULL;
    }
    return reg;
}

static void reg_put(struct video_reg *reg)
{
    if (reg->graphics || reg->text)
        return;
    rs_msg_set_handler(reg->node, RS_MSG_VIDEO_GET, NULL, NULL);
    rs_free(reg->node, reg);
}

/* --- source ------------------------------------------------------------------ */

static void source_free(struct rshare_video_source *src)
{
    rshare_node *node = src->node;
    if (src->fd >= 0)
        close(src->fd);
    rs_free(node, src->cur);
    rs_free(node, src->sent);
    rs_free(node, src->damage);
    rs_free(node, src->dirty);
    rs_free(node, src->tile_cur);
    rs_free(node, src->tile_prev);
    rs_free(node, src->scratch);
    rs_free(node, src->arena);
    rs_free(node, src->body);
    rs_free(node, src->rects);
    rs_free(node, src);
}

static int source_check(rshare_node *node, const struct rshare_video_source_config *c,
                        unsigned unit)
{
    if (!unit)
        return rs_errorf(node, RSHARE_EINVAL, "video format %u unknown", c->format);
    if (c->width < 1 || c->height < 1 || c->width > RS_VIDEO_MAX_DIM ||
        c->height > RS_VIDEO_MAX_DIM)
        return rs_errorf(node, RSHARE_EINVAL, "video size %ux%u outside 1..%u", c->width,
                         c->height, RS_VIDEO_MAX_DIM);
    if (c->stride && c->stride < (uint64_t)c->width * unit)
        return rs_errorf(node, RSHARE_EINVAL, "video stride %u below a line", c->stride);
    if (c->tile && (c->tile < 8 || c->tile > 256))
        return rs_errorf(node, RSHARE_EINVAL, "video tile %u outside 8..256", c->tile);
    if (c->sink == RSHARE_NODE_ID_NONE || c->sink == RSHARE_NODE_ID_BROADCAST ||
        c->sink == rshare_node_id(node))
        return rs_errorf(node, RSHARE_EINVAL, "video sink %u: not another node", c->sink);
    switch (c->input) {
    case RSHARE_VIDEO_INPUT_MEMORY:
        return c->memory ? 0 : rs_errorf(node, RSHARE_EINVAL, "memory video source: no memory");
    case RSHARE_VIDEO_INPUT_FILE:
        return c->path ? 0 : rs_errorf(node, RSHARE_EINVAL, "file video source: no path");
    case RSHARE_VIDEO_INPUT_PUSH:
        return 0;
    default:
        return rs_errorf(node, RSHARE_EINVAL, "video input %u unknown", c->input);
    }
}

RSHARE_API int rshare_video_source_create(rshare_node *node,
                                          const struct rshare_video_source_config *config,
                                          rshare_video_source **out)
{
    if (!node || !config || !out)
        return RSHARE_EINVAL;
    *out = NULL;
    if (config->struct_size < offsetof(struct rshare_video_source_config, idle_ms) +
                                  sizeof(uint32_t))
        return rs_errorf(node, RSHARE_EVERSION, "video source config struct_size %u too small",
                         config->struct_size);
    struct rshare_video_source_config c;
    memset(&c, 0, sizeof(c));
    memcpy(&c, config, config->struct_size < sizeof(c) ? config->struct_size : sizeof(c));
    unsigned unit = rs_video_format_unit(c.format);
    int rc = source_check(node, &c, unit);
    if (rc < 0)
        return rc;
    bool text = c.format == RSHARE_VIDEO_FORMAT_TEXT;
    struct video_reg *reg = reg_find(node);
    if (reg && (text ? reg->text : reg->graphics))
        return rs_errorf(node, RSHARE_EBUSY, "this node already has a %s video source",
                         text ? "text" : "graphics");

    struct rshare_video_source *src = rs_calloc(node, 1, sizeof(*src));
    if (!src)
        return RSHARE_ENOMEM;
    src->node = node;
    src->fd = -1;
    src->text = text;
    src->input = c.input;
    src->format = c.format;
    src->width = c.width;
    src->height = c.height;
    src->unit = unit;
    src->line = (size_t)c.width * unit;
    src->stride = c.stride ? c.stride : (uint32_t)src->line;
    src->sink = c.sink;
    src->memory = c.memory;
    src->offset = c.offset;
    /* A text console changes by cells along rows: its tiles are rows, and
     * only the changed span of a row travels. */
    src->tile_w = text ? c.width : (c.tile ? c.tile : DEFAULT_TILE);
    src->tile_h = text ? 1 : (c.tile ? c.tile : DEFAULT_TILE);
    if (src->tile_w > c.width)
        src->tile_w = c.width;
    if (src->tile_h > c.height)
        src->tile_h = c.height;
    src->tiles_x = (c.width + src->tile_w - 1) / src->tile_w;
    src->tiles_y = (c.height + src->tile_h - 1) / src->tile_h;
    src->frame_us = 1000000u / (c.max_fps ? c.max_fps : DEFAULT_FPS);
    uint64_t idle = (uint64_t)(c.idle_ms ? c.idle_ms : DEFAULT_IDLE_MS) * 1000u;
    uint64_t timeout = (uint64_t)rs_core(node)->config.request_timeout_ms * 1000u;
    src->idle_us = idle < timeout / 2 ? idle : timeout / 2;
    src->session = random_session();
    rs_timer_init(&src->timer, source_timer);

    src->tile_bytes = (size_t)src->tile_w * src->tile_h * unit;
    size_t frame = src->line * c.height;
    size_t limit = rs_link_max_message(node);
    src->part_budget = limit / 2 < PART_BUDGET_MAX ? limit / 2 : PART_BUDGET_MAX;
    if (src->part_budget < 1 + src->tile_bytes) {
        source_free(src);
        return rs_errorf(node, RSHARE_EINVAL, "a video tile of %zu bytes does not fit the "
                         "node's message limit", src->tile_bytes);
    }
    /* No part need hold more than the whole frame sent raw, tile by tile:
     * a small source (a text console) keeps small buffers. */
    size_t whole = (size_t)src->tiles_x * src->tiles_y * (1 + src->tile_bytes);
    if (src->part_budget > whole)
        src->part_budget = whole;
    src->arena_cap = src->part_budget + 1 + 2 * src->tile_bytes;
    src->body_cap = rs_video_part_bound(RS_VIDEO_MAX_RECTS, src->arena_cap);
    src->cur = rs_calloc(node, 1, frame);
    src->sent = rs_calloc(node, 1, frame);
    src->damage = rs_calloc(node, (size_t)src->tiles_x * src->tiles_y, sizeof(uint32_t));
    src->dirty = rs_calloc(node, (size_t)src->tiles_x * src->tiles_y, 1);
    src->tile_cur = rs_malloc(node, src->tile_bytes);
    src->tile_prev = rs_malloc(node, src->tile_bytes);
    src->scratch = rs_malloc(node, src->tile_bytes);
    src->arena = rs_malloc(node, src->arena_cap);
    src->body = rs_malloc(node, src->body_cap);
    src->rects = rs_calloc(node, RS_VIDEO_MAX_RECTS, sizeof(*src->rects));
    if (!src->cur || !src->sent || !src->damage || !src->dirty || !src->tile_cur ||
        !src->tile_prev || !src->scratch || !src->arena || !src->body || !src->rects) {
        source_free(src);
        return RSHARE_ENOMEM;
    }
    if (c.input == RSHARE_VIDEO_INPUT_FILE) {
        src->fd = open(c.path, O_RDONLY | O_CLOEXEC);
        if (src->fd < 0) {
            int err = errno;
            source_free(src);
            if (err == ENOENT)
                return rs_errorf(node, RSHARE_ENOENT, "video source %.200s does not exist",
                                 c.path);
            errno = err;
            return rs_syserr(node, "video source %.200s", c.path);
        }
    }
    reg = reg_get(node);
    if (!reg) {
        source_free(src);
        return RSHARE_ENOMEM;
    }
    src->reg = reg;
    if (text)
        reg->text = src;
    else
        reg->graphics = src;
    *out = src;
    return 0;
}

RSHARE_API void rshare_video_source_destroy(rshare_video_source *src)
{
    if (!src)
        return;
    rshare_node *node = src->node;
    for (unsigned i = 0; i < src->held_count; i++)
        rshare_request_fail(src->held[i], RSHARE_ESHUTDOWN, "video source closed");
    rs_timer_cancel(node, &src->timer);
    if (src->text)
        src->reg->text = NULL;
    else
        src->reg->graphics = NULL;
    reg_put(src->reg);
    source_free(src);
}

/* Copy a picture into `cur`, marking the tiles that change.  Comparing
 * costs what copying would, and it spares the frame's start a comparison of
 * the whole picture with what was sent: only marked tiles are looked at. */
static void copy_in(struct rshare_video_source *src, const uint8_t *pixels, size_t stride)
{
    size_t seg = (size_t)src->tile_w * src->unit;
    for (uint32_t y = 0; y < src->height; y++) {
        const uint8_t *from = pixels + (size_t)y * stride;
        uint8_t *to = src->cur + (size_t)y * src->line;
        uint8_t *mark = src->dirty + (size_t)(y / src->tile_h) * src->tiles_x;
        for (uint32_t t = 0; t < src->tiles_x; t++) {
            size_t off = (size_t)t * seg, n = src->line - off < seg ? src->line - off : seg;
            if (memcmp(to + off, from + off, n)) {
                memcpy(to + off, from + off, n);
                mark[t] = 1;
            }
        }
    }
}

RSHARE_API int rshare_video_source_push(rshare_video_source *src, const void *pixels,
                                        size_t stride)
{
    if (!src || !pixels || src->input != RSHARE_VIDEO_INPUT_PUSH)
        return RSHARE_EINVAL;
    if (!stride)
        stride = src->line;
    if (stride < src->line)
        return rs_errorf(src->node, RSHARE_EINVAL, "video stride %zu below a line", stride);
    /* Replaced before it was sent: its changes travel with this one. */
    if (src->pushed)
        src->stats.frames_merged++;
    copy_in(src, pixels, stride);
    src->pushed = true;
    source_serve(src);
    return 0;
}

/* Read the picture into `cur` (MEMORY and FILE; PUSH has it already). */
static void source_grab(struct rshare_video_source *src)
{
    if (src->input == RSHARE_VIDEO_INPUT_MEMORY) {
        copy_in(src, src->memory, src->stride);
        return;
    }
    if (src->input != RSHARE_VIDEO_INPUT_FILE)
        return;
    src->all_dirty = true;
    for (uint32_t y = 0; y < src->height; y++) {
        /* One pread for the whole picture when lines are packed. */
        bool whole = src->stride == src->line;
        size_t want = whole ? src->line * src->height : src->line;
        uint8_t *dst = src->cur + y * src->line;
        off_t at = (off_t)(src->offset + (uint64_t)y * src->stride);
        size_t got = 0;
        while (got < want) {
            ssize_t n = pread(src->fd, dst + got, want - got, at + (off_t)got);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            got += (size_t)n;
        }
        /* A file shorter than the picture: the rest is black. */
        if (got < want)
            memset(dst + got, 0, want - got);
        if (whole)
            return;
    }
}

/* The bounding box of what differs in tile `t` between cur and sent. */
static bool tile_changed(const struct rshare_video_source *src, uint32_t t, uint32_t *x,
                         uint32_t *y, uint32_t *w, uint32_t *h)
{
    uint32_t tx = (t % src->tiles_x) * src->tile_w, ty = (t / src->tiles_x) * src->tile_h;
    uint32_t tw = src->width - tx < src->tile_w ? src->width - tx : src->tile_w;
    uint32_t th = src->height - ty < src->tile_h ? src->height - ty : src->tile_h;
    size_t bytes = (size_t)tw * src->unit;
    uint32_t y0 = UINT32_MAX, y1 = 0, x0 = UINT32_MAX, x1 = 0;
    for (uint32_t r = 0; r < th; r++) {
        size_t off = (size_t)(ty + r) * src->line + (size_t)tx * src->unit;
        const uint8_t *a = src->cur + off, *b = src->sent + off;
        if (!memcmp(a, b, bytes))
            continue;
        size_t lo = 0, hi = bytes;
        while (a[lo] == b[lo])
            lo++;
        while (a[hi - 1] == b[hi - 1])
            hi--;
        uint32_t ulo = (uint32_t)(lo / src->unit), uhi = (uint32_t)((hi - 1) / src->unit);
        if (y0 == UINT32_MAX)
            y0 = r;
        y1 = r;
        x0 = ulo < x0 ? ulo : x0;
        x1 = uhi > x1 ? uhi : x1;
    }
    if (y0 == UINT32_MAX)
        return false;
    *x = tx + x0;
    *y = ty + y0;
    *w = x1 - x0 + 1;
    *h = y1 - y0 + 1;
    return true;
}

/* Start a frame: grab, and list the tiles that differ from what the sink
 * holds.  False when nothing changed. */
static bool source_start(struct rshare_video_source *src, uint64_t now)
{
    if (src->need_key) {
        memset(src->sent, 0, src->line * src->height);
        src->frame_key = true;
        src->need_key = false;
    } else {
        src->frame_key = false;
    }
    source_grab(src);
    src->pushed = false;
    src->damage_count = src->damage_pos = 0;
    uint32_t x, y, w, h;
    bool all = src->all_dirty || src->frame_key;
    for (uint32_t t = 0; t < src->tiles_x * src->tiles_y; t++) {
        if ((all || src->dirty[t]) && tile_changed(src, t, &x, &y, &w, &h))
            src->damage[src->damage_count++] = t;
    }
    memset(src->dirty, 0, (size_t)src->tiles_x * src->tiles_y);
    src->all_dirty = false;
    /* A key frame goes out even when the picture is black: the sink must
     * learn the geometry and clear what it shows. */
    if (!src->damage_count && !src->frame_key)
        return false;
    src->in_frame = true;
    /* Frame starts keep to a grid of frame_us: a start that came late (a
     * busy machine, a timer served late) does not push back the next one,
     * so max_fps is kept on average and never exceeded.  After a pause the
     * grid starts again from now. */
    if (src->last_start_us && now - src->last_start_us < 2 * src->frame_us)
        src->last_start_us += src->frame_us;
    else
        src->last_start_us = now;
    src->key_part = src->frame_key;
    if (src->frame_key)
        src->stats.key_frames++;
    return true;
}

static void gather(uint8_t *dst, const uint8_t *img, size_t line, unsigned unit, uint32_t x,
                   uint32_t y, uint32_t w, uint32_t h)
{
    for (uint32_t r = 0; r < h; r++)
        memcpy(dst + (size_t)r * w * unit, img + (size_t)(y + r) * line + (size_t)x * unit,
               (size_t)w * unit);
}

static void scatter(uint8_t *img, const uint8_t *src, size_t line, unsigned unit, uint32_t x,
                    uint32_t y, uint32_t w, uint32_t h)
{
    for (uint32_t r = 0; r < h; r++)
        memcpy(img + (size_t)(y + r) * line + (size_t)x * unit, src + (size_t)r * w * unit,
               (size_t)w * unit);
}

/* Answer `req` with the next part of the frame in progress (or an empty
 * part when `empty`). */
static void source_answer(struct rshare_video_source *src, rshare_request *req,
                          const struct rs_video_get *g, bool empty)
{
    struct rs_video_part p = {
        .session = src->session,
        .epoch = g->epoch,
        .seq = ++src->seq,
        .format = src->format,
        .width = src->width,
        .height = src->height,
        .rects = src->rects,
    };
    size_t used = 0;
    while (!empty && src->damage_pos < src->damage_count && p.count < RS_VIDEO_MAX_RECTS &&
           used + 1 + src->tile_bytes <= src->part_budget) {
        uint32_t x, y, w, h;
        uint32_t t = src->damage[src->damage_pos++];
        /* Looked at again: PUSH may have changed the tile since the start. */
        if (!tile_changed(src, t, &x, &y, &w, &h))
            continue;
        size_t units = (size_t)w * h;
        gather(src->tile_cur, src->cur, src->line, src->unit, x, y, w, h);
        const uint8_t *prev = NULL;
        if (!src->frame_key) {
            gather(src->tile_prev, src->sent, src->line, src->unit, x, y, w, h);
            prev = src->tile_prev;
        }
        size_t n = rs_video_tile_encode(src->tile_cur, prev, units, src->unit, src->scratch,
                                        src->arena + used, src->arena_cap - used);
        if (!n)
            break; /* cannot happen: the arena has room for the worst case */
        scatter(src->sent, src->tile_cur, src->line, src->unit, x, y, w, h);
        p.rects[p.count++] = (struct rs_video_rect_data){x, y, w, h, src->arena + used, n};
        used += n;
        src->stats.tiles_sent++;
        src->stats.raw_bytes += units * src->unit;
    }
    if (src->key_part && !empty) {
        p.flags |= RS_VIDEO_F_KEY; /* the first part of a key frame */
        src->key_part = false;
    }
    bool last = empty || src->damage_pos >= src->damage_count;
    if (last) {
        p.flags |= RS_VIDEO_F_LAST;
        if (!empty) {
            src->in_frame = false;
            src->stats.frames_sent++;
            fps_note(&src->fps, rs_now_us(src->node));
        }
    }
    size_t len = rs_video_part_encode(&p, src->body, src->body_cap);
    src->stats.parts_sent++;
    if (empty)
        src->stats.idle_answers++;
    src->stats.bytes_sent += len;
    if (!len || rshare_request_reply(req, src->body, len) < 0)
        rs_log_warn(src->node, "video part %llu not sent", (unsigned long long)p.seq);
}

static void held_pop(struct rshare_video_source *src)
{
    src->held_count--;
    memmove(src->held, src->held + 1, src->held_count * sizeof(src->held[0]));
    memmove(src->held_at, src->held_at + 1, src->held_count * sizeof(src->held_at[0]));
    memmove(src->held_get, src->held_get + 1, src->held_count * sizeof(src->held_get[0]));
}

/* Answer what can be answered; hold the rest and arm the timer. */
static void source_serve(struct rshare_video_source *src)
{
    rshare_node *node = src->node;
    uint64_t now = rs_now_us(node);
    src->next_poll_us = 0;
    while (src->held_count) {
        const struct rs_video_get *g = &src->held_get[0];
        if (g->session != src->sink_session || g->epoch != src->epoch) {
            /* Of a stream the sink has left: it ignores the answer. */
            rshare_request_fail(src->held[0], RSHARE_ECANCELED, "video stream restarted");
            held_pop(src);
            continue;
        }
        if (!src->in_frame) {
            bool due = now >= src->last_start_us + src->frame_us || src->need_key;
            bool worth = src->need_key || src->input != RSHARE_VIDEO_INPUT_PUSH || src->pushed;
            if (!due && worth)
                src->next_poll_us = src->last_start_us + src->frame_us;
            if (!due || !worth || !source_start(src, now)) {
                if (due && worth && src->input != RSHARE_VIDEO_INPUT_PUSH)
                    src->next_poll_us = now + src->frame_us; /* poll again */
                if (now - src->held_at[0] < src->idle_us)
                    break;
                source_answer(src, src->held[0], g, true);
                held_pop(src);
                continue;
            }
        }
        source_answer(src, src->held[0], g, false);
        held_pop(src);
    }
    uint64_t at = src->next_poll_us;
    if (src->held_count && (!at || src->held_at[0] + src->idle_us < at))
        at = src->held_at[0] + src->idle_us;
    if (src->held_count && at)
        rs_timer_schedule(node, &src->timer, at);
    else
        rs_timer_cancel(node, &src->timer);
}

static void source_timer(rshare_node *node, struct rs_timer *timer)
{
    (void)node;
    source_serve((struct rshare_video_source *)((char *)timer -
                                                 offsetof(struct rshare_video_source, timer)));
}

static bool link_is_bulk(rshare_node *node, uint32_t peer_id)
{
    struct rs_peer *peer = rs_peer_find(node, peer_id);
    if (!peer || !peer->has_addr)
        return false;
    struct rs_transport *t = rs_transport_get(node, peer->transport);
    return t && (t->caps & RSHARE_TRANSPORT_CAP_BULK);
}

static void on_get(rshare_node *node, rshare_request *req, void *user_data)
{
    struct video_reg *reg = user_data;
    struct rs_video_get g;
    uint32_t peer = rshare_request_peer(req);
    int rc = rs_video_get_decode(rshare_request_data(req), rshare_request_len(req), &g);
    /* Which source: graphics only where the link is fast enough for them
     * (RSHARE_TRANSPORT_CAP_BULK), text anywhere. */
    bool bulk = link_is_bulk(node, peer);
    struct rshare_video_source *src = NULL;
    if (rc == 0) {
        if (g.want != RS_VIDEO_WANT_TEXT && reg->graphics && bulk)
            src = reg->graphics;
        else if (g.want != RS_VIDEO_WANT_GRAPHICS)
            src = reg->text;
    }
    struct rshare_video_source *any = reg->graphics ? reg->graphics : reg->text;
    if (!src || src->sink != peer || !rshare_request_expects_reply(req)) {
        if (any)
            any->stats.refused++;
        const char *why = rc < 0              ? "malformed video request"
                          : !src && !bulk      ? "video needs a bulk transport; no text source"
                          : !src               ? "no such video source"
                                               : "not this source's sink";
        if (rshare_request_expects_reply(req))
            rshare_request_fail(req, rc < 0 ? RSHARE_EPROTO : src ? RSHARE_EACCES : RSHARE_ENOTSUP,
                                why);
        return;
    }
    if (src->held_count == MAX_HELD) {
        src->stats.refused++;
        rshare_request_fail(req, RSHARE_EBUSY, "too many video requests waiting");
        return;
    }
    if (g.session != src->sink_session || g.epoch != src->epoch) {
        /* A new stream: everything the sink held is gone. */
        src->sink_session = g.session;
        src->epoch = g.epoch;
        src->seq = 0;
        src->need_key = true;
        src->in_frame = false;
    }
    src->held[src->held_count] = req;
    src->held_at[src->held_count] = rs_now_us(node);
    src->held_get[src->held_count] = g;
    src->held_count++;
    source_serve(src);
}

RSHARE_API int rshare_video_source_stats(const rshare_video_source *src,
                                         struct rshare_video_stats *stats, size_t struct_size)
{
    if (!src)
        return RSHARE_EINVAL;
    return copy_stats(&src->stats, &src->fps, src->node, src->stats.frames_sent,
                      src->stats.bytes_sent, stats, struct_size);
}

/* --- sink --------------------------------------------------------------------- */

static void parts_clear(struct rshare_video_sink *sink)
{
    for (unsigned i = 0; i < sink->part_count; i++)
        rs_free(sink->node, sink->parts[i].body);
    sink->part_count = 0;
}

/* Leave the stream: the next request asks for a key frame. */
static void sink_reset(struct rshare_video_sink *sink)
{
    sink->epoch++;
    sink->next_seq = 1;
    sink->damage_count = 0;
    sink->stats.resets++;
    parts_clear(sink);
}

static void sink_done(rshare_node *node, const struct rshare_reply *reply, void *user_data);

static int sink_ask(struct rshare_video_sink *sink)
{
    rshare_node *node = sink->node;
    struct sink_call *call = rs_calloc(node, 1, sizeof(*call));
    if (!call)
        return RSHARE_ENOMEM;
    struct rs_video_get g = {sink->session, sink->epoch, sink->want, sink->next_seq - 1};
    uint8_t buf[64];
    size_t len = rs_video_get_encode(&g, buf, sizeof(buf));
    call->sink = sink;
    call->epoch = sink->epoch;
    int rc = len ? rs_msg_call(node, sink->source, RS_MSG_VIDEO_GET, buf, len, sink_done, call)
                 : RSHARE_EINVAL;
    if (rc < 0) {
        rs_free(node, call);
        return rc;
    }
    call->next = sink->calls;
    sink->calls = call;
    sink->outstanding++;
    if (sink->outstanding > sink->stats.max_in_flight)
        sink->stats.max_in_flight = sink->outstanding;
    return 0;
}

static void sink_retry_later(struct rshare_video_sink *sink)
{
    sink->retry_pending = true;
    rs_timer_schedule(sink->node, &sink->timer, rs_now_us(sink->node) + sink->retry_us);
}

/* Keep `window` requests outstanding (answers held count too), unless a
 * manual sink has not consumed its frame yet. */
static void sink_fill(struct rshare_video_sink *sink)
{
    while (!sink->waiting && !sink->retry_pending &&
           sink->outstanding + sink->part_count < sink->window) {
        if (sink_ask(sink) < 0) {
            sink->stats.failed++;
            sink_retry_later(sink);
            return;
        }
    }
}

static void sink_timer(rshare_node *node, struct rs_timer *timer)
{
    (void)node;
    struct rshare_video_sink *sink =
        (struct rshare_video_sink *)((char *)timer - offsetof(struct rshare_video_sink, timer));
    sink->retry_pending = false;
    sink_fill(sink);
}

static int sink_geometry(struct rshare_video_sink *sink, const struct rs_video_part *p)
{
    if (p->width > sink->max_w || p->height > sink->max_h)
        return RSHARE_EINVAL;
    if (sink->image && p->format == sink->format && p->width == sink->width &&
        p->height == sink->height)
        return 0;
    size_t bytes = (size_t)p->width * p->height * p->unit;
    uint8_t *img = rs_realloc(sink->node, sink->image, bytes);
    if (!img)
        return RSHARE_ENOMEM;
    sink->image = img;
    sink->format = p->format;
    sink->width = p->width;
    sink->height = p->height;
    sink->unit = p->unit;
    return 0;
}

static int damage_add(struct rshare_video_sink *sink, const struct rs_video_rect_data *d)
{
    if (sink->damage_count == sink->damage_cap) {
        size_t cap = sink->damage_cap ? sink->damage_cap * 2 : 64;
        struct rshare_video_rect *grown =
            rs_realloc(sink->node, sink->damage, cap * sizeof(*grown));
        if (!grown)
            return RSHARE_ENOMEM;
        sink->damage = grown;
        sink->damage_cap = cap;
    }
    sink->damage[sink->damage_count++] = (struct rshare_video_rect){d->x, d->y, d->w, d->h};
    return 0;
}

/* Apply one part that is next in order.  Anything wrong refuses it whole
 * (already applied rectangles of it are never shown: the stream restarts
 * with a key frame). */
static int sink_apply(struct rshare_video_sink *sink, const uint8_t *body, size_t len)
{
    struct rs_video_part p;
    p.rects = sink->rects;
    int rc = rs_video_part_decode(body, len, &p);
    if (rc < 0)
        return rc;
    if (p.flags & RS_VIDEO_F_KEY) {
        if ((rc = sink_geometry(sink, &p)) < 0)
            return rc;
        memset(sink->image, 0, (size_t)sink->width * sink->height * sink->unit);
        sink->damage_count = 0;
        sink->frame_key = true;
    } else if (!sink->image || p.format != sink->format || p.width != sink->width ||
               p.height != sink->height) {
        return RSHARE_EINVAL;
    }
    size_t line = (size_t)sink->width * sink->unit;
    for (uint32_t i = 0; i < p.count; i++) {
        const struct rs_video_rect_data *d = &p.rects[i];
        size_t units = (size_t)d->w * d->h;
        if (units > MAX_RECT_UNITS)
            return RSHARE_EINVAL;
        /* Raw data goes straight into the image; only XOR needs what the
         * image holds there. */
        if (d->len == 1 + units * sink->unit && d->data[0] == RS_VIDEO_ENC_RAW) {
            scatter(sink->image, d->data + 1, line, sink->unit, d->x, d->y, d->w, d->h);
        } else {
            size_t need = units * sink->unit;
            if (need > sink->tile_cap) {
                uint8_t *grown = rs_realloc(sink->node, sink->tile, need);
                if (!grown)
                    return RSHARE_ENOMEM;
                sink->tile = grown;
                sink->tile_cap = need;
            }
            if (d->len && d->data[0] == RS_VIDEO_ENC_XOR_RLE)
                gather(sink->tile, sink->image, line, sink->unit, d->x, d->y, d->w, d->h);
            if ((rc = rs_video_tile_decode(d->data, d->len, units, sink->unit, sink->tile)) < 0)
                return rc;
            scatter(sink->image, sink->tile, line, sink->unit, d->x, d->y, d->w, d->h);
        }
        if ((rc = damage_add(sink, d)) < 0)
            return rc;
    }
    sink->stats.parts_received++;
    sink->stats.tiles_received += p.count;
    sink->stats.bytes_received += len;
    sink->next_seq++;
    if (!(p.flags & RS_VIDEO_F_LAST) || (!sink->damage_count && !sink->frame_key))
        return 0; /* more to come, or an idle answer */
    struct rshare_video_frame f = {
        .format = sink->format,
        .width = sink->width,
        .height = sink->height,
        .stride = (uint32_t)line,
        .pixels = sink->image,
        .damage = sink->damage,
        .damage_count = sink->damage_count,
        .key = sink->frame_key,
    };
    sink->stats.frames_shown++;
    fps_note(&sink->fps, rs_now_us(sink->node));
    if (sink->manual)
        sink->waiting = true;
    sink->on_frame(sink->frame_data, sink->source, &f);
    sink->damage_count = 0;
    sink->frame_key = false;
    return 0;
}

/* A part that is malformed or does not fit: a correct source never sends
 * one (the transports check every packet), so something is broken; start a
 * new stream, after retry_ms so that a broken source is not hammered. */
static void sink_refuse(struct rshare_video_sink *sink)
{
    sink->stats.bad_parts++;
    sink_reset(sink);
    sink_retry_later(sink);
}

/* Apply the parts held for later that are now next in order. */
static void sink_drain(struct rshare_video_sink *sink)
{
    bool found = true;
    while (found && !sink->waiting) {
        found = false;
        for (unsigned i = 0; i < sink->part_count; i++) {
            if (sink->parts[i].seq != sink->next_seq)
                continue;
            struct held_part h = sink->parts[i];
            sink->parts[i] = sink->parts[--sink->part_count];
            sink->applying = true;
            int rc = sink_apply(sink, h.body, h.len);
            sink->applying = false;
            rs_free(sink->node, h.body);
            if (rc < 0) {
                sink_refuse(sink);
                return;
            }
            found = true;
            break;
        }
    }
}

static void sink_done(rshare_node *node, const struct rshare_reply *reply, void *user_data)
{
    struct sink_call *call = user_data;
    struct rshare_video_sink *sink = call->sink;
    if (sink) {
        struct sink_call **pp = &sink->calls;
        while (*pp != call)
            pp = &(*pp)->next;
        *pp = call->next;
        sink->outstanding--;
    }
    uint32_t epoch = call->epoch;
    rs_free(node, call);
    if (!sink)
        return;
    if (epoch != sink->epoch) {
        if (reply->status == 0)
            sink->stats.parts_dropped++;
    } else if (reply->status < 0) {
        /* Refused (a slow link without a text source, another sink) or lost
         * to the network: what the source sent since is unknown. */
        sink->stats.failed++;
        sink_reset(sink);
        sink_retry_later(sink);
    } else {
        struct rs_video_part p;
        p.rects = sink->rects;
        int rc = rs_video_part_decode(reply->data, reply->len, &p);
        if (rc < 0 || p.epoch != epoch) {
            sink_refuse(sink);
        } else if (p.seq == sink->next_seq && !sink->waiting) {
            sink->applying = true;
            rc = sink_apply(sink, reply->data, reply->len);
            sink->applying = false;
            if (rc < 0) {
                sink_refuse(sink);
            } else {
                sink_drain(sink);
            }
        } else if (p.seq >= sink->next_seq && p.seq < sink->next_seq + sink->window &&
                   sink->part_count < RSHARE_VIDEO_MAX_IN_FLIGHT) {
            /* Overtook an earlier answer, or arrived while a manual sink
             * still shows its frame: kept until its turn. */
            uint8_t *copy = rs_malloc(node, reply->len);
            if (copy) {
                memcpy(copy, reply->data, reply->len);
                sink->parts[sink->part_count++] = (struct held_part){copy, reply->len, p.seq};
            } else {
                sink->stats.parts_dropped++;
                sink_reset(sink);
            }
        } else {
            sink->stats.parts_dropped++;
            sink_reset(sink);
        }
    }
    sink_fill(sink);
}

RSHARE_API int rshare_video_sink_create(rshare_node *node,
                                        const struct rshare_video_sink_config *config,
                                        rshare_video_sink **out)
{
    if (!node || !config || !out)
        return RSHARE_EINVAL;
    *out = NULL;
    if (config->struct_size < offsetof(struct rshare_video_sink_config, retry_ms) +
                                  sizeof(uint32_t))
        return rs_errorf(node, RSHARE_EVERSION, "video sink config struct_size %u too small",
                         config->struct_size);
    struct rshare_video_sink_config c;
    memset(&c, 0, sizeof(c));
    memcpy(&c, config, config->struct_size < sizeof(c) ? config->struct_size : sizeof(c));
    if (!c.on_frame || c.want > RSHARE_VIDEO_WANT_TEXT ||
        c.frames_in_flight > RSHARE_VIDEO_MAX_IN_FLIGHT || c.max_width > RS_VIDEO_MAX_DIM ||
        c.max_height > RS_VIDEO_MAX_DIM)
        return rs_errorf(node, RSHARE_EINVAL, "bad video sink configuration");
    if (c.source == RSHARE_NODE_ID_NONE || c.source == RSHARE_NODE_ID_BROADCAST ||
        c.source == rshare_node_id(node))
        return rs_errorf(node, RSHARE_EINVAL, "video source %u: not another node", c.source);
    struct rshare_video_sink *sink = rs_calloc(node, 1, sizeof(*sink));
    if (!sink)
        return RSHARE_ENOMEM;
    sink->node = node;
    sink->source = c.source;
    sink->want = c.want;
    sink->window = c.frames_in_flight ? c.frames_in_flight : 1;
    sink->manual = c.manual != 0;
    sink->on_frame = c.on_frame;
    sink->frame_data = c.frame_data;
    sink->max_w = c.max_width ? c.max_width : RS_VIDEO_MAX_DIM;
    sink->max_h = c.max_height ? c.max_height : RS_VIDEO_MAX_DIM;
    sink->retry_us = (uint64_t)(c.retry_ms ? c.retry_ms : DEFAULT_RETRY_MS) * 1000u;
    sink->session = random_session();
    sink->epoch = 1;
    sink->next_seq = 1;
    rs_timer_init(&sink->timer, sink_timer);
    sink->rects = rs_calloc(node, RS_VIDEO_MAX_RECTS, sizeof(*sink->rects));
    if (!sink->rects) {
        rs_free(node, sink->rects);
        rs_free(node, sink);
        return RSHARE_ENOMEM;
    }
    sink_fill(sink);
    *out = sink;
    return 0;
}

RSHARE_API int rshare_video_sink_next(rshare_video_sink *sink)
{
    if (!sink)
        return RSHARE_EINVAL;
    sink->waiting = false;
    if (sink->applying)
        return 0; /* from on_frame: the caller goes on by itself */
    sink_drain(sink);
    sink_fill(sink);
    return 0;
}

RSHARE_API void rshare_video_sink_destroy(rshare_video_sink *sink)
{
    if (!sink)
        return;
    rshare_node *node = sink->node;
    /* Answers still on their way find no sink: their calls free themselves. */
    for (struct sink_call *c = sink->calls; c; c = c->next)
        c->sink = NULL;
    rs_timer_cancel(node, &sink->timer);
    parts_clear(sink);
    rs_free(node, sink->image);
    rs_free(node, sink->damage);
    rs_free(node, sink->tile);
    rs_free(node, sink->rects);
    rs_free(node, sink);
}

RSHARE_API int rshare_video_sink_stats(const rshare_video_sink *sink,
                                       struct rshare_video_stats *stats, size_t struct_size)
{
    if (!sink)
        return RSHARE_EINVAL;
    return copy_stats(&sink->stats, &sink->fps, sink->node, sink->stats.frames_shown,
                      sink->stats.bytes_received, stats, struct_size);
}
