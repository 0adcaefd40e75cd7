/* bench_video — video over UDP loopback between two processes: a display
 * source (node 2, 1920x1080 XRGB8888, frames pushed by the application) and
 * a display sink (node 1, the display host), against bare UDP moving the
 * same raw tile bytes between the same two processes, in the same run.
 *
 *   bench_video [--seconds S] [--rounds R] [--window W] [--cpus SINK:SOURCE]
 *               [--only ROW] [--link-window N]
 *
 * The source application draws the next frame as soon as the previous one
 * was sent (so no frame is merged and each carries exactly one frame's
 * damage): a fixed fraction of the 64x64 tiles, picked at random each frame,
 * gets new content.  Content is noise (incompressible: every changed tile
 * travels raw, the codec's worst case and the most bytes on the wire) or
 * "desktop" (flat fills with a few lines of text-like detail, what the
 * run-length coding is for).  Each case runs with the source's default cap
 * of 60 frames per second (what a deployment uses: is the target met, and at
 * what CPU) and uncapped (how far it goes).
 *
 * CPU is getrusage(RUSAGE_SELF) of each process over the measured window
 * divided by that window: 1.00 is one core busy.  The source's CPU includes
 * the application's drawing (given separately).
 *
 * The anchor is the floor of any video protocol over this transport: a
 * frame request datagram, answered by the frame's raw changed tiles in
 * 1400-byte datagrams (rshare's fragment size) sent straight from the
 * framebuffer and received straight into the image, with the same 16 MiB
 * socket buffers rshare uses and no tile comparison, coding, copies or
 * acknowledgements.  At the end of each rshare case the sink's image is
 * compared with the source's framebuffer: they must be equal.
 * Output is markdown (tests/bench/run_video.sh puts it into
 * doc/PERFORMANCE.md). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rshare/rshare.h>

#include "bench_proc.h"

#define WIDTH 1920
#define HEIGHT 1080
#define UNIT 4
#define LINE (WIDTH * UNIT)
#define FRAME_BYTES ((size_t)LINE * HEIGHT)
#define TILE 64
#define TILES_X ((WIDTH + TILE - 1) / TILE)
#define TILES_Y ((HEIGHT + TILE - 1) / TILE)
#define TILES (TILES_X * TILES_Y)
#define DATAGRAM 1400
#define SOCKET_BUFFER (16u << 20)

enum content { NOISE, DESKTOP };

struct options {
    double seconds;
    long rounds;
    uint32_t window;
    uint32_t link_window; /* the nodes' link_window; 0 = the default */
    int only; /* run only this row (1-based), 0 = all */
    int sink_cpu, source_cpu;
};

struct cpu_sample {
    int64_t wall_ns, cpu_ns;
};

/* Shared between the two processes of one case. */
struct shared {
    volatile int phase; /* 0 warming up, 1 measuring, 2 stop drawing, 3 quit */
    volatile int source_ready;
    struct cpu_sample source_at[2]; /* the source's samples at phases 1 and 2 */
    volatile int64_t draw_ns;       /* the application's drawing while measured */
    volatile uint64_t frames_drawn; /* frames drawn (source), total */
    struct rshare_video_stats source_st[2]; /* the source's counters at phases 1 and 2 */
    uint8_t fb[FRAME_BYTES]; /* the source's framebuffer */
};

static struct shared *sh;

static struct cpu_sample sample(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    int64_t cpu = ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
                  ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
    return (struct cpu_sample){now_ns(), cpu};
}

static double core_use(struct cpu_sample a, struct cpu_sample b)
{
    return b.wall_ns > a.wall_ns ? (double)(b.cpu_ns - a.cpu_ns) / (double)(b.wall_ns - a.wall_ns)
                                 : 0.0;
}

/* --- the picture ---------------------------------------------------------------- */

static uint64_t rng = 0x9E3779B97F4A7C15u;

static uint64_t next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Pre-drawn tiles, copied into the framebuffer: drawing stays cheap and out
 * of the way of what is measured. */
#define PALETTE 64
static uint32_t palette[PALETTE][TILE * TILE];

static void make_palette(enum content c)
{
    for (int p = 0; p < PALETTE; p++) {
        uint32_t *t = palette[p];
        if (c == NOISE) {
            for (int i = 0; i < TILE * TILE; i++)
                t[i] = (uint32_t)next_random() & 0x00ffffffu;
            continue;
        }
        /* A window's piece: a flat fill and three rows of "glyphs". */
        uint32_t bg = 0x00202020u + (uint32_t)p * 0x00030201u, fg = 0x00e0e0e0u - bg;
        for (int i = 0; i < TILE * TILE; i++)
            t[i] = bg;
        for (int row = 0; row < 3; row++)
            for (int y = 8 + row * 18; y < 8 + row * 18 + 10; y++)
                for (int x = 4; x < TILE - 4; x++)
                    if ((x * 7 + y * 3 + p) % 5 < 2)
                        t[y * TILE + x] = fg;
    }
}

static void put_tile(uint8_t *fb, int tile, const uint32_t *pixels)
{
    int tx = (tile % TILES_X) * TILE, ty = (tile / TILES_X) * TILE;
    int w = WIDTH - tx < TILE ? WIDTH - tx : TILE, h = HEIGHT - ty < TILE ? HEIGHT - ty : TILE;
    for (int r = 0; r < h; r++)
        memcpy(fb + (size_t)(ty + r) * LINE + (size_t)tx * UNIT, pixels + r * TILE,
               (size_t)w * UNIT);
}

/* Change `count` distinct tiles (all of them when count >= TILES). */
static void draw(uint8_t *fb, int count)
{
    static int order[TILES];
    for (int i = 0; i < TILES; i++)
        order[i] = i;
    for (int i = 0; i < count && i < TILES; i++) {
        int j = i + (int)(next_random() % (uint64_t)(TILES - i));
        int t = order[j];
        order[j] = order[i];
        order[i] = t;
        /* Never the palette tile it already shows: the tile really changes. */
        static uint8_t shown[TILES];
        uint8_t p = (uint8_t)((shown[t] + 1 + next_random() % (PALETTE - 1)) % PALETTE);
        shown[t] = p;
        put_tile(fb, t, palette[p]);
    }
}

/* Raw bytes of `count` tiles: whole ones (a few at the bottom edge are
 * smaller, so the anchor moves slightly more than rshare's raw bytes). */
static size_t tile_bytes(int count)
{
    return count >= TILES ? FRAME_BYTES : (size_t)count * TILE * TILE * UNIT;
}

/* --- rshare ------------------------------------------------------------------------ */

static uint32_t link_window;

static rshare_node *make_node(uint32_t id, char *addr, size_t len)
{
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = id;
    cfg.link_window = link_window;
    cfg.log.max_level = RSHARE_LOG_ERROR; /* unprotected, like the anchor */
    return udp_node(&cfg, addr, len);
}

struct source_case {
    int changed;
    uint32_t max_fps;
};

static void source_process(const struct source_case *sc, int to_parent, int from_parent)
    __attribute__((noreturn));
static void source_process(const struct source_case *sc, int to_parent, int from_parent)
{
    char addr[64], sink_addr[64];
    rshare_node *node = make_node(2, addr, sizeof(addr));
    if (write(to_parent, addr, sizeof(addr)) != (ssize_t)sizeof(addr) ||
        read(from_parent, sink_addr, sizeof(sink_addr)) != (ssize_t)sizeof(sink_addr))
        die("pipe");
    rshare_node_add_peer(node, 1, 0, sink_addr);
    struct rshare_video_source_config c;
    rshare_video_source_config_init(&c, sizeof(c));
    c.input = RSHARE_VIDEO_INPUT_PUSH;
    c.format = RSHARE_VIDEO_FORMAT_XRGB8888;
    c.width = WIDTH;
    c.height = HEIGHT;
    c.sink = 1;
    c.tile = TILE;
    c.max_fps = sc->max_fps;
    rshare_video_source *src;
    if (rshare_video_source_create(node, &c, &src) != 0)
        die("video source: %s", rshare_node_errmsg(node));
    draw(sh->fb, TILES);
    if (rshare_video_source_push(src, sh->fb, 0) != 0)
        die("push: %s", rshare_node_errmsg(node));
    sh->source_ready = 1;
    uint64_t drawn_for = 0;
    int seen = 0;
    int64_t draw_ns = 0;
    struct rshare_video_stats st;
    while (sh->phase < 3) {
        run_until(node, now_ns() + 1000000); /* the application looks every ms */
        int phase = sh->phase;
        if (phase != seen && phase <= 2) {
            if (phase == 1)
                draw_ns = 0;
            sh->source_at[phase - 1] = sample();
            rshare_video_source_stats(src, &sh->source_st[phase - 1], sizeof(st));
            if (phase == 2)
                sh->draw_ns = draw_ns;
            seen = phase;
        }
        rshare_video_source_stats(src, &st, sizeof(st));
        /* The next frame as soon as the last one is on its way. */
        if (phase < 2 && st.frames_sent > drawn_for) {
            int64_t t0 = now_ns();
            draw(sh->fb, sc->changed);
            draw_ns += now_ns() - t0;
            if (rshare_video_source_push(src, sh->fb, 0) != 0)
                die("push: %s", rshare_node_errmsg(node));
            drawn_for = st.frames_sent;
            sh->frames_drawn++;
        }
    }
    rshare_video_source_destroy(src);
    rshare_node_destroy(node);
    _exit(0);
}

struct sink_state {
    uint64_t frames;
    const uint8_t *pixels;
};

static void on_frame(void *user_data, uint32_t source, const struct rshare_video_frame *f)
{
    (void)source;
    struct sink_state *s = user_data;
    if (f->width != WIDTH || f->height != HEIGHT || f->stride != LINE)
        die("frame of %ux%u stride %u", f->width, f->height, f->stride);
    s->frames++;
    s->pixels = f->pixels;
}

struct result {
    double fps, sink_cpu, source_cpu, draw_cpu;
    double wire_per_frame, raw_per_frame;
    uint64_t merged;
    int exact;
};

static struct result rshare_case(const struct options *o, const struct source_case *sc)
{
    int up[2], down[2];
    if (pipe(up) < 0 || pipe(down) < 0)
        die("pipe: %s", strerror(errno));
    sh->phase = 0;
    sh->source_ready = 0;
    sh->frames_drawn = 0;
    pid_t pid = fork_pinned(o->sink_cpu, o->source_cpu);
    if (pid == 0)
        source_process(sc, up[1], down[0]);
    char addr[64], source_addr[64];
    rshare_node *node = make_node(1, addr, sizeof(addr));
    if (read(up[0], source_addr, sizeof(source_addr)) != (ssize_t)sizeof(source_addr) ||
        write(down[1], addr, sizeof(addr)) != (ssize_t)sizeof(addr))
        die("pipe");
    rshare_node_add_peer(node, 2, 0, source_addr);
    while (!sh->source_ready)
        usleep(1000);
    struct sink_state state = {0, NULL};
    struct rshare_video_sink_config c;
    rshare_video_sink_config_init(&c, sizeof(c));
    c.source = 2;
    c.want = RSHARE_VIDEO_WANT_GRAPHICS;
    c.frames_in_flight = o->window;
    c.on_frame = on_frame;
    c.frame_data = &state;
    rshare_video_sink *sink;
    if (rshare_video_sink_create(node, &c, &sink) != 0)
        die("video sink: %s", rshare_node_errmsg(node));
    /* Warm up: the key frame and a few deltas. */
    int64_t give_up = now_ns() + 10000000000;
    while (state.frames < 5) {
        if (now_ns() > give_up)
            die("no frames arrive");
        run_until(node, now_ns() + 1000000);
    }
    struct rshare_video_stats before, after;
    rshare_video_sink_stats(sink, &before, sizeof(before));
    sh->phase = 1;
    struct cpu_sample s0 = sample();
    run_until(node, s0.wall_ns + (int64_t)(o->seconds * 1e9));
    sh->phase = 2;
    struct cpu_sample s1 = sample();
    rshare_video_sink_stats(sink, &after, sizeof(after));
    /* The source stops drawing: its last frame must arrive as it is. */
    uint64_t drawn = 0;
    int exact = 0;
    give_up = now_ns() + 5000000000;
    while (!exact && now_ns() < give_up) {
        run_until(node, now_ns() + 2000000);
        if (sh->frames_drawn == drawn && state.pixels)
            exact = !memcmp(state.pixels, sh->fb, FRAME_BYTES);
        drawn = sh->frames_drawn;
    }
    sh->phase = 3;
    waitpid(pid, NULL, 0);
    rshare_video_sink_destroy(sink);
    rshare_node_destroy(node);
    close(up[0]);
    close(up[1]);
    close(down[0]);
    close(down[1]);

    double wall = (double)(s1.wall_ns - s0.wall_ns) / 1e9;
    uint64_t frames = after.frames_shown - before.frames_shown;
    struct result r = {0};
    r.fps = (double)frames / wall;
    r.sink_cpu = core_use(s0, s1);
    r.source_cpu = core_use(sh->source_at[0], sh->source_at[1]);
    int64_t source_wall = sh->source_at[1].wall_ns - sh->source_at[0].wall_ns;
    r.draw_cpu = source_wall > 0 ? (double)sh->draw_ns / (double)source_wall : 0.0;
    const struct rshare_video_stats *a = &sh->source_st[0], *b = &sh->source_st[1];
    double sent = (double)(b->frames_sent - a->frames_sent);
    r.wire_per_frame = sent > 0 ? (double)(b->bytes_sent - a->bytes_sent) / sent : 0;
    r.raw_per_frame = sent > 0 ? (double)(b->raw_bytes - a->raw_bytes) / sent : 0;
    r.merged = b->frames_merged - a->frames_merged;
    r.exact = exact;
    return r;
}

/* --- bare UDP: the anchor -------------------------------------------------------- */

static int bound_socket(struct sockaddr_in *sa)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int size = SOCKET_BUFFER;
    socklen_t len = sizeof(*sa);
    *sa = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (s < 0 || bind(s, (struct sockaddr *)sa, sizeof(*sa)) < 0 ||
        getsockname(s, (struct sockaddr *)sa, &len) < 0)
        die("bare socket: %s", strerror(errno));
    if (setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
        setsockopt(s, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    if (setsockopt(s, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0)
        setsockopt(s, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    return s;
}

/* Answers each request (the frame's byte count) with that many bytes of the
 * framebuffer, tile rows in place, in DATAGRAM-byte datagrams. */
static void bare_source(int s, const struct sockaddr_in *to) __attribute__((noreturn));
static void bare_source(int s, const struct sockaddr_in *to)
{
    sh->source_ready = 1;
    int seen = 0;
    for (;;) {
        uint64_t want;
        if (recv(s, &want, sizeof(want), 0) != (ssize_t)sizeof(want))
            continue;
        int phase = sh->phase;
        if (phase != seen && phase <= 2) {
            sh->source_at[phase - 1] = sample();
            seen = phase;
        }
        if (!want)
            _exit(0);
        for (size_t off = 0; off < want; off += DATAGRAM) {
            size_t n = want - off < DATAGRAM ? want - off : DATAGRAM;
            if (sendto(s, sh->fb + off % FRAME_BYTES, n, 0, (const struct sockaddr *)to,
                       sizeof(*to)) < 0)
                die("bare send: %s", strerror(errno));
        }
    }
}

static struct result bare_case(const struct options *o, int changed)
{
    struct sockaddr_in sink_sa, source_sa;
    int sink_s = bound_socket(&sink_sa), source_s = bound_socket(&source_sa);
    sh->phase = 0;
    sh->source_ready = 0;
    pid_t pid = fork_pinned(o->sink_cpu, o->source_cpu);
    if (pid == 0)
        bare_source(source_s, &sink_sa);
    while (!sh->source_ready)
        usleep(1000);
    static uint8_t image[FRAME_BYTES + DATAGRAM];
    uint64_t want = tile_bytes(changed), frames = 0;
    struct cpu_sample s0 = {0, 0}, s1;
    int64_t end = 0;
    for (int64_t warm = 5;; warm--) {
        if (warm == 0) {
            sh->phase = 1;
            s0 = sample();
            end = s0.wall_ns + (int64_t)(o->seconds * 1e9);
        }
        if (warm <= 0 && now_ns() >= end)
            break;
        if (sendto(sink_s, &want, sizeof(want), 0, (struct sockaddr *)&source_sa,
                   sizeof(source_sa)) < 0)
            die("bare request: %s", strerror(errno));
        for (uint64_t got = 0; got < want;) {
            struct pollfd p = {sink_s, POLLIN, 0};
            if (poll(&p, 1, 1000) != 1)
                die("bare UDP lost a datagram (%llu of %llu bytes)", (unsigned long long)got,
                    (unsigned long long)want);
            ssize_t n = recv(sink_s, image + got % FRAME_BYTES, DATAGRAM, 0);
            if (n > 0)
                got += (uint64_t)n;
        }
        if (warm <= 0)
            frames++;
    }
    sh->phase = 2;
    s1 = sample();
    /* One more request so that the source samples the end. */
    sendto(sink_s, &want, sizeof(want), 0, (struct sockaddr *)&source_sa, sizeof(source_sa));
    usleep(100000);
    uint64_t quit = 0;
    sendto(sink_s, &quit, sizeof(quit), 0, (struct sockaddr *)&source_sa, sizeof(source_sa));
    waitpid(pid, NULL, 0);
    close(sink_s);
    close(source_s);
    struct result r = {0};
    r.fps = (double)frames / ((double)(s1.wall_ns - s0.wall_ns) / 1e9);
    r.sink_cpu = core_use(s0, s1);
    r.source_cpu = core_use(sh->source_at[0], sh->source_at[1]);
    r.wire_per_frame = r.raw_per_frame = (double)want;
    r.exact = -1;
    return r;
}

/* --- the table ---------------------------------------------------------------------- */

struct row {
    const char *name;
    int bare;
    enum content content;
    int changed;
    uint32_t max_fps;
};

static void add(struct result *sum, const struct result *r)
{
    sum->fps += r->fps;
    sum->sink_cpu += r->sink_cpu;
    sum->source_cpu += r->source_cpu;
    sum->draw_cpu += r->draw_cpu;
    sum->wire_per_frame += r->wire_per_frame;
    sum->raw_per_frame += r->raw_per_frame;
    sum->merged += r->merged;
    if (sum->exact >= 0)
        sum->exact = r->exact < 0 ? -1 : sum->exact && r->exact;
}

static void parse(int argc, char **argv, struct options *o)
{
    *o = (struct options){.seconds = 3, .rounds = 1, .window = 2, .sink_cpu = -1,
                          .source_cpu = -1};
    static const struct option longs[] = {{"seconds", 1, 0, 's'}, {"rounds", 1, 0, 'r'},
                                          {"window", 1, 0, 'w'},  {"cpus", 1, 0, 'c'},
                                          {"only", 1, 0, 'o'},    {"link-window", 1, 0, 'l'},
                                          {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (ch) {
        case 's':
            o->seconds = atof(optarg);
            break;
        case 'r':
            o->rounds = atol(optarg);
            break;
        case 'w':
            o->window = (uint32_t)atol(optarg);
            break;
        case 'o':
            o->only = atoi(optarg);
            break;
        case 'l':
            o->link_window = (uint32_t)atol(optarg);
            break;
        case 'c':
            if (sscanf(optarg, "%d:%d", &o->sink_cpu, &o->source_cpu) != 2)
                die("--cpus SINK:SOURCE");
            break;
        default:
            die("usage: bench_video [--seconds S] [--rounds R] [--window W] [--cpus SINK:SOURCE] "
                "[--only ROW] [--link-window N]");
        }
    }
    if (o->seconds < 0.5 || o->seconds > 600 || o->rounds < 1 || o->window < 1 ||
        o->window > RSHARE_VIDEO_MAX_IN_FLIGHT)
        die("options out of range");
}

int main(int argc, char **argv)
{
    bench_name = "bench_video";
    struct options o;
    parse(argc, argv, &o);
    link_window = o.link_window;
    sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED)
        die("mmap: %s", strerror(errno));
    int tenth = (TILES + 5) / 10;
    struct row rows[] = {
        {"bare UDP, raw bytes of 10% of the tiles (anchor)", 1, NOISE, tenth, 0},
        {"rshare, 10% of tiles, noise, 60 fps cap", 0, NOISE, tenth, 60},
        {"rshare, 10% of tiles, noise, uncapped", 0, NOISE, tenth, 100000},
        {"rshare, 10% of tiles, desktop, uncapped", 0, DESKTOP, tenth, 100000},
        {"bare UDP, raw bytes of every tile (anchor)", 1, NOISE, TILES, 0},
        {"rshare, every tile, noise, 60 fps cap", 0, NOISE, TILES, 60},
        {"rshare, every tile, noise, uncapped", 0, NOISE, TILES, 100000},
        {"rshare, every tile, desktop, uncapped", 0, DESKTOP, TILES, 100000},
    };
    enum { ROWS = sizeof(rows) / sizeof(rows[0]) };
    size_t n = ROWS;
    struct result sums[ROWS];
    memset(sums, 0, sizeof(sums));
    for (size_t i = 0; i < n; i++)
        sums[i].exact = 1;
    for (long round = 0; round < o.rounds; round++) {
        for (size_t i = 0; i < n; i++) {
            struct row *w = &rows[i];
            if (o.only && (size_t)o.only != i + 1)
                continue;
            make_palette(w->content);
            struct result r;
            if (w->bare) {
                r = bare_case(&o, w->changed);
            } else {
                struct source_case sc = {w->changed, w->max_fps};
                r = rshare_case(&o, &sc);
            }
            add(&sums[i], &r);
            fprintf(stderr, "bench_video: %s: %.1f fps\n", w->name, r.fps);
        }
    }
    printf("| case | frames/s | sink core | source core (drawing) | wire KB/frame | raw KB/frame "
           "| sink ms CPU/frame | source ms CPU/frame | pixel-exact |\n"
           "|---|---:|---:|---:|---:|---:|---:|---:|---|\n");
    double R = (double)o.rounds;
    for (size_t i = 0; i < n; i++) {
        struct result *s = &sums[i];
        if (o.only && (size_t)o.only != i + 1)
            continue;
        double fps = s->fps / R;
        printf("| %s | %.1f | %.2f | %.2f (%.2f) | %.0f | %.0f | %.2f | %.2f | %s |\n",
               rows[i].name, fps, s->sink_cpu / R, s->source_cpu / R, s->draw_cpu / R,
               s->wire_per_frame / R / 1000, s->raw_per_frame / R / 1000,
               fps > 0 ? s->sink_cpu / R / fps * 1000 : 0,
               fps > 0 ? s->source_cpu / R / fps * 1000 : 0,
               s->exact < 0 ? "–" : s->exact ? "yes" : "**no**");
    }
    printf("\n%dx%d XRGB8888, %dx%d-pixel tiles (%d), %d changed per frame for 10%%; "
           "%.1f s per case, %ld round%s, sink window %u; frames merged: ",
           WIDTH, HEIGHT, TILE, TILE, TILES, tenth, o.seconds, o.rounds, o.rounds == 1 ? "" : "s",
           o.window);
    uint64_t merged = 0;
    for (size_t i = 0; i < n; i++)
        merged += sums[i].merged;
    printf("%llu.\n", (unsigned long long)merged);
    return 0;
}
