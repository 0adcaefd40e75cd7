/* kvm_share — one keyboard and mouse for two machines, and one machine's
 * screen on the desk: host A owns the input devices and drives node B and
 * node C, switching focus by hotkey; B's screen appears on A and is saved as
 * PPM images.  Three processes on loopback UDP:
 *
 *   kvm_share [--out DIR] [--evdev /dev/input/eventN [--seconds S]]
 *
 * Without --evdev, A plays a script that switches focus while keys and a
 * mouse button are held (the cases that leave keys stuck in other KVMs).
 * With --evdev, A grabs that device and forwards what it produces for S
 * seconds (default 30): Ctrl+Alt+1 focuses B, Ctrl+Alt+2 focuses C, Scroll
 * Lock twice goes to the next one.
 *
 * B draws what it receives into its framebuffer (a cursor square where the
 * pointer is, a lit cell for each key held), served as a video source to A.
 * In DIR (default "."): A writes b-on-a.ppm (the last frame of B it shows)
 * and b-on-a-N.ppm at each focus change; B writes b-source.ppm (its own
 * framebuffer at the end); each target writes node-ID-events.log, one
 * injected key or button event a line ("key CODE VALUE").  At the end each
 * target prints how many keys it still holds. */
#include <rshare/rshare.h>

#include <linux/input-event-codes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NODE_A 1
#define NODE_B 2
#define NODE_C 3
#define W 320
#define H 240

static const char *out_dir = ".";
static volatile sig_atomic_t stop;

static void fail(rshare_node *node, const char *what)
{
    fprintf(stderr, "kvm_share: %s: %s\n", what, node ? rshare_node_errmsg(node) : "");
    exit(1);
}

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

/* XRGB8888 (little-endian: B, G, R, X) to a binary PPM. */
static void save_ppm(const char *name, const uint8_t *px, uint32_t w, uint32_t h, size_t stride)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", out_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        return;
    }
    fprintf(f, "P6\n%u %u\n255\n", w, h);
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++) {
            const uint8_t *p = px + y * stride + x * 4;
            uint8_t rgb[3] = {p[2], p[1], p[0]};
            fwrite(rgb, 1, 3, f);
        }
    fclose(f);
}

/* Each process's pipes to the parent: the addresses are exchanged at start
 * (ports chosen by the kernel: several runs, or tests, can share a machine). */
struct pipes {
    int up[2], down[2]; /* child -> A, A -> child */
};

/* A node on 127.0.0.1, any port; its address in `addr`. */
static rshare_node *make_node(uint32_t id, char *addr, size_t len, int *transport)
{
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = id;
    rshare_node *node;
    if (rshare_node_create(&cfg, &node) < 0)
        fail(NULL, "node");
    struct rshare_udp_config udp;
    rshare_udp_config_init(&udp, sizeof(udp));
    udp.bind_address = "127.0.0.1:0";
    *transport = rshare_node_add_udp(node, &udp);
    if (*transport < 0 || rshare_udp_local_address(node, *transport, addr, len) < 0)
        fail(node, "udp");
    return node;
}

/* A target: tell A its address, learn A's. */
static rshare_node *target_node(uint32_t id, const struct pipes *p)
{
    char addr[64], host[64];
    int t;
    rshare_node *node = make_node(id, addr, sizeof(addr), &t);
    if (write(p->up[1], addr, sizeof(addr)) != (ssize_t)sizeof(addr) ||
        read(p->down[0], host, sizeof(host)) != (ssize_t)sizeof(host) ||
        rshare_node_add_peer(node, NODE_A, t, host) < 0)
        fail(node, "peer");
    return node;
}

/* A: learn B's and C's addresses, tell them A's. */
static rshare_node *host_node(const struct pipes p[2])
{
    char addr[64], peer[64];
    int t;
    rshare_node *node = make_node(NODE_A, addr, sizeof(addr), &t);
    for (int i = 0; i < 2; i++)
        if (read(p[i].up[0], peer, sizeof(peer)) != (ssize_t)sizeof(peer) ||
            rshare_node_add_peer(node, NODE_B + (uint32_t)i, t, peer) < 0 ||
            write(p[i].down[1], addr, sizeof(addr)) != (ssize_t)sizeof(addr))
            fail(node, "peer");
    return node;
}

/* --- the targets: B and C ---------------------------------------------------- */

struct target {
    uint32_t id;
    FILE *log;
    uint32_t fb[W * H]; /* B's screen */
    int x, y;           /* the pointer, in pixels */
    uint8_t held[KEY_MAX + 1];
};

static void paint(struct target *t)
{
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            t->fb[y * W + x] = 0x00101830u + (uint32_t)(x * 0xe0 / W) * 0x10000u;
    /* The keyboard: a cell per code up to 255, lit while held. */
    for (int code = 0; code < 256; code++)
        if (t->held[code])
            for (int y = 0; y < 8; y++)
                for (int x = 0; x < 18; x++)
                    t->fb[(8 + (code / 16) * 10 + y) * W + 8 + (code % 16) * 19 + x] = 0x00ffd040;
    for (int y = 0; y < 6; y++)
        for (int x = 0; x < 6; x++)
            t->fb[((t->y + y) % H) * W + (t->x + x) % W] = 0x00ffffffu;
}

/* The injection callback: an application with /dev/uinput would pass these
 * to rshare_kvm_uinput_sink(); here they are logged and drawn. */
static void inject(void *user_data, uint32_t host, const struct rshare_kvm_event *ev, size_t n)
{
    (void)host;
    struct target *t = user_data;
    for (size_t i = 0; i < n; i++) {
        if (ev[i].type == EV_KEY) {
            fprintf(t->log, "key %u %d\n", ev[i].code, ev[i].value);
            t->held[ev[i].code] = ev[i].value != 0;
        } else if (ev[i].type == EV_REL && ev[i].code == REL_X) {
            t->x = ((t->x + ev[i].value % W) % W + W) % W;
        } else if (ev[i].type == EV_REL && ev[i].code == REL_Y) {
            t->y = ((t->y + ev[i].value % H) % H + H) % H;
        }
    }
    fflush(t->log);
    paint(t);
}

static int run_target(uint32_t id, const struct pipes *p)
{
    rshare_node *node = target_node(id, p);
    signal(SIGTERM, on_term); /* from here on: report, then leave */
    static struct target t;
    t.id = id;
    char name[512];
    snprintf(name, sizeof(name), "%s/node-%u-events.log", out_dir, id);
    if (!(t.log = fopen(name, "w")))
        fail(NULL, name);
    paint(&t);
    struct rshare_kvm_config kc;
    rshare_kvm_config_init(&kc, sizeof(kc));
    kc.roles = RSHARE_KVM_ROLE_TARGET;
    kc.host = NODE_A;
    kc.sink = inject;
    kc.sink_data = &t;
    rshare_kvm *kvm;
    if (rshare_kvm_create(node, &kc, &kvm) < 0)
        fail(node, "kvm");
    rshare_video_source *screen = NULL;
    if (id == NODE_B) { /* B's screen goes to A: the framebuffer, read at each frame */
        struct rshare_video_source_config vc;
        rshare_video_source_config_init(&vc, sizeof(vc));
        vc.input = RSHARE_VIDEO_INPUT_MEMORY;
        vc.format = RSHARE_VIDEO_FORMAT_XRGB8888;
        vc.width = W;
        vc.height = H;
        vc.memory = t.fb;
        vc.sink = NODE_A;
        if (rshare_video_source_create(node, &vc, &screen) < 0)
            fail(node, "video source");
    }
    while (!stop)
        rshare_node_run(node, 50);
    /* What is still held now was left down by the host: the demo's failure. */
    size_t held = rshare_kvm_pressed_count(kvm);
    printf("node %u: %zu key%s held at the end\n", id, held, held == 1 ? "" : "s");
    if (screen)
        save_ppm("b-source.ppm", (const uint8_t *)t.fb, W, H, W * 4);
    rshare_video_source_destroy(screen);
    rshare_kvm_destroy(kvm);
    rshare_node_destroy(node);
    fclose(t.log);
    return 0;
}

/* --- the host: A ------------------------------------------------------------- */

struct host {
    rshare_node *node;
    rshare_kvm *kvm;
    uint8_t last[W * H * 4]; /* the last frame of B shown */
    int have_frame, switches;
};

static void on_frame(void *user_data, uint32_t source, const struct rshare_video_frame *f)
{
    (void)source;
    struct host *h = user_data;
    if (f->format != RSHARE_VIDEO_FORMAT_XRGB8888 || f->width != W || f->height != H)
        return;
    for (uint32_t y = 0; y < H; y++)
        memcpy(h->last + y * W * 4, (const uint8_t *)f->pixels + y * f->stride, W * 4);
    h->have_frame = 1;
}

static void on_focus(void *user_data, uint32_t target, int locked)
{
    struct host *h = user_data;
    printf("host A: focus on node %u%s\n", target, locked ? " (locked)" : "");
    if (h->have_frame) {
        char name[64];
        snprintf(name, sizeof(name), "b-on-a-%d.ppm", ++h->switches);
        save_ppm(name, h->last, W, H, W * 4);
    }
}

static void input(struct host *h, uint16_t type, uint16_t code, int32_t value)
{
    if (rshare_kvm_input(h->kvm, type, code, value) < 0 ||
        rshare_kvm_input(h->kvm, EV_SYN, SYN_REPORT, 0) < 0)
        fail(h->node, "input");
    rshare_node_run(h->node, 30); /* a human's pace, and B redraws */
}

static void tap(struct host *h, uint16_t code)
{
    input(h, EV_KEY, code, 1);
    input(h, EV_KEY, code, 0);
}

static void chord(struct host *h, uint16_t key)
{
    input(h, EV_KEY, KEY_LEFTCTRL, 1);
    input(h, EV_KEY, KEY_LEFTALT, 1);
    tap(h, key);
    input(h, EV_KEY, KEY_LEFTALT, 0);
    input(h, EV_KEY, KEY_LEFTCTRL, 0);
}

/* Switch while keys and a button are held on the host: the node that saw
 * them pressed must see them released, the other must never see them.
 * (A combo fires only with exactly its modifiers held, so Shift held means
 * Ctrl+Alt+2 is not the hotkey: the double tap switches then.) */
static void play_script(struct host *h)
{
    tap(h, KEY_H);
    tap(h, KEY_I);
    for (int i = 0; i < 5; i++) {
        input(h, EV_REL, REL_X, 20);
        input(h, EV_REL, REL_Y, 12);
    }
    input(h, EV_KEY, BTN_LEFT, 1);  /* dragging on B ... */
    input(h, EV_KEY, KEY_LEFTSHIFT, 1);
    input(h, EV_KEY, KEY_A, 1);     /* ... with Shift+A down */
    tap(h, KEY_SCROLLLOCK);         /* to C while all three are held */
    tap(h, KEY_SCROLLLOCK);
    input(h, EV_KEY, KEY_A, 0);     /* released on the host: goes nowhere */
    input(h, EV_KEY, KEY_LEFTSHIFT, 0);
    input(h, EV_KEY, BTN_LEFT, 0);
    tap(h, KEY_O);
    tap(h, KEY_K);
    input(h, EV_REL, REL_WHEEL_HI_RES, 120);
    input(h, EV_KEY, KEY_B, 1);     /* held on C ... */
    chord(h, KEY_1);                /* ... while Ctrl+Alt+1 goes to B */
    input(h, EV_KEY, KEY_B, 0);
    input(h, EV_KEY, KEY_SPACE, 1); /* held on B ... */
    chord(h, KEY_2);                /* ... to C ... */
    chord(h, KEY_1);                /* ... and back to B: not pressed again */
    input(h, EV_KEY, KEY_SPACE, 0);
    tap(h, KEY_X);
    for (int i = 0; i < 5; i++)
        input(h, EV_REL, REL_X, -7);
}

static void forward_evdev(struct host *h, const char *path, int seconds)
{
    rshare_kvm_evdev *ev;
    if (rshare_kvm_evdev_open(path, 1, &ev) < 0)
        fail(NULL, path);
    printf("host A: forwarding %s for %d s (Ctrl+Alt+1: B, Ctrl+Alt+2: C)\n", path, seconds);
    time_t end = time(NULL) + seconds;
    while (time(NULL) < end) {
        struct pollfd p[2] = {{rshare_kvm_evdev_fd(ev), POLLIN, 0},
                              {rshare_node_fd(h->node), POLLIN, 0}};
        poll(p, 2, 20);
        if (rshare_kvm_evdev_pump(ev, h->kvm) < 0)
            break;
        rshare_node_run(h->node, 0);
    }
    rshare_kvm_evdev_close(ev);
}

static int run_host(const struct pipes p[2], const char *evdev, int seconds,
                    const pid_t *targets_pid)
{
    static struct host h;
    h.node = host_node(p);
    static const uint32_t targets[] = {NODE_B, NODE_C};
    static const struct rshare_kvm_hotkey keys[] = {
        {RSHARE_KVM_HOTKEY_COMBO, RSHARE_KVM_MOD_CTRL | RSHARE_KVM_MOD_ALT, KEY_1, 0,
         RSHARE_KVM_ACTION_JUMP, NODE_B},
        {RSHARE_KVM_HOTKEY_COMBO, RSHARE_KVM_MOD_CTRL | RSHARE_KVM_MOD_ALT, KEY_2, 0,
         RSHARE_KVM_ACTION_JUMP, NODE_C},
        {RSHARE_KVM_HOTKEY_DOUBLE_TAP, 0, KEY_SCROLLLOCK, 500, RSHARE_KVM_ACTION_NEXT, 0},
    };
    struct rshare_kvm_config kc;
    rshare_kvm_config_init(&kc, sizeof(kc));
    kc.roles = RSHARE_KVM_ROLE_HOST;
    kc.targets = targets;
    kc.target_count = 2;
    kc.hotkeys = keys;
    kc.hotkey_count = 3;
    kc.on_focus = on_focus;
    kc.focus_data = &h;
    if (rshare_kvm_create(h.node, &kc, &h.kvm) < 0)
        fail(h.node, "kvm");
    struct rshare_video_sink_config vc;
    rshare_video_sink_config_init(&vc, sizeof(vc));
    vc.source = NODE_B;
    vc.on_frame = on_frame;
    vc.frame_data = &h;
    rshare_video_sink *screen;
    if (rshare_video_sink_create(h.node, &vc, &screen) < 0)
        fail(h.node, "video sink");

    for (int i = 0; !(rshare_kvm_target_up(h.kvm, NODE_B) > 0 &&
                      rshare_kvm_target_up(h.kvm, NODE_C) > 0 && h.have_frame);
         i++) {
        if (i == 200)
            fail(h.node, "B and C did not come up within 10 s");
        rshare_node_run(h.node, 50);
    }
    printf("host A: B and C are up, B's screen is here\n");
    if (evdev)
        forward_evdev(&h, evdev, seconds);
    else
        play_script(&h);
    /* Let the last syncs and frames land: B's picture no longer changes. */
    for (int i = 0; i < 10; i++)
        rshare_node_run(h.node, 50);
    save_ppm("b-on-a.ppm", h.last, W, H, W * 4);
    struct rshare_video_stats st;
    rshare_video_sink_stats(screen, &st, sizeof(st));
    printf("host A: %llu frames of B shown, %llu bytes per frame on average\n",
           (unsigned long long)st.frames_shown, (unsigned long long)st.bytes_per_frame);
    rshare_video_sink_destroy(screen);
    /* The targets report what they hold before the host lets go of
     * anything: the host's own shutdown would release it. */
    for (int i = 0; i < 2; i++) {
        kill(targets_pid[i], SIGTERM);
        waitpid(targets_pid[i], NULL, 0);
    }
    rshare_kvm_destroy(h.kvm);
    rshare_node_destroy(h.node);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *evdev = NULL;
    int seconds = 30;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--out") && i + 1 < argc)
            out_dir = argv[++i];
        else if (!strcmp(argv[i], "--evdev") && i + 1 < argc)
            evdev = argv[++i];
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: kvm_share [--out DIR] [--evdev PATH [--seconds S]]\n");
            return 2;
        }
    }
    struct pipes p[2];
    pid_t targets[2];
    for (int i = 0; i < 2; i++) {
        if (pipe(p[i].up) < 0 || pipe(p[i].down) < 0)
            fail(NULL, "pipe");
        targets[i] = fork();
        if (targets[i] == 0) {
            prctl(PR_SET_PDEATHSIG, SIGTERM); /* A gone: B and C go too */
            return run_target(NODE_B + (uint32_t)i, &p[i]);
        }
    }
    int rc = run_host(p, evdev, seconds, targets);
    printf(rc == 0 ? "kvm share: done\n" : "kvm share: FAILED\n");
    return rc;
}
