/* volume_demo — blades on loopback UDP building a RAID-5 volume from their
 * disks.  Every blade is a process of its own: a cluster node that serves a
 * file-backed disk (blade 1 also serves a spare).  A fifth process, the
 * management controller, defines the volume in the global map and uses it.
 *
 *   volume_demo [--dir DIR] [--disk-mib N]
 *       The demo: write the volume, read it back, lose a blade (SIGKILL),
 *       read degraded, rebuild onto the spare with a progress bar, scrub.
 *
 *   volume_demo --crash-test ROUNDS [--seed S] [--dir DIR] [--disk-mib N]
 *       Crash consistency: the controller writes with many requests in
 *       flight and is killed (SIGKILL) at a random moment, ROUNDS times.
 *       Each new controller reopens the volume (the write-intent bitmap
 *       says which stripes to resync), waits for the resync, and checks
 *       that every acknowledged write is there, that no block holds data
 *       that was never written, and that a scrub finds 0 inconsistent
 *       stripes.
 *
 * Exit status: 0 when everything went as described, 1 otherwise, 2 for bad
 * options.  Prints what it does, one step per line ("== ..."). */
#include <rshare/rshare.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BLADES 4
#define CONTROLLER_ID 9
#define CHUNK_SECTORS 128 /* 64 KiB */
#define BLOCK 4096u
#define WAIT_US (60u * 1000000u)

static char work_dir[256];
static unsigned disk_mib = 16;
static uint16_t ports[BLADES + 1]; /* blades 1..4, controller 0 */
static pid_t blade_pid[BLADES + 1];

static void die(const char *what, int rc)
{
    fprintf(stderr, "volume demo FAILED: %s%s%s\n", what, rc ? ": " : "",
            rc ? rshare_strerror(rc) : "");
    for (int i = 1; i <= BLADES; i++)
        if (blade_pid[i] > 0)
            kill(blade_pid[i], SIGKILL);
    exit(1);
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Free UDP ports on 127.0.0.1, chosen up front so every node can be told
 * where the others are. */
static void pick_ports(void)
{
    srand((unsigned)getpid() ^ (unsigned)now_us());
    for (int i = 0; i <= BLADES;) {
        uint16_t p = (uint16_t)(20000 + rand() % 12000);
        int fd = socket(AF_INET, SOCK_DGRAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(p)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
        if (fd >= 0)
            close(fd);
        for (int k = 0; k < i; k++)
            ok = ok && ports[k] != p;
        if (ok)
            ports[i++] = p;
    }
}

/* A node on 127.0.0.1 that knows every other node's address. */
static rshare_node *make_node(uint32_t id, uint16_t port, const char *state, bool eligible,
                              uint32_t request_timeout_ms)
{
    mkdir(state, 0700);
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = id;
    cfg.slot = (uint16_t)id;
    cfg.state_dir = state;
    cfg.request_timeout_ms = request_timeout_ms;
    /* Every node of the demo shares one cluster key: packets are encrypted
     * and authenticated (a real cluster reads it from a protected file). */
    static const uint8_t key[RSHARE_CLUSTER_KEY_BYTES] = "rshare volume demo cluster key!";
    cfg.cluster_key = key;
    rshare_node *node;
    int rc = rshare_node_create(&cfg, &node);
    if (rc < 0)
        die("node", rc);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
    struct rshare_udp_config udp;
    rshare_udp_config_init(&udp, sizeof(udp));
    udp.bind_address = addr;
    udp.mtu = 65000; /* loopback */
    int t = rshare_node_add_udp(node, &udp);
    if (t < 0)
        die(rshare_node_errmsg(node), t);
    for (uint32_t b = 0; b <= BLADES; b++) {
        uint32_t peer = b ? b : CONTROLLER_ID;
        if (peer == id)
            continue;
        snprintf(addr, sizeof(addr), "127.0.0.1:%u", ports[b]);
        rshare_node_add_peer(node, peer, t, addr);
    }
    static const uint32_t voters[] = {1, 2, 3};
    struct rshare_cluster_config cc;
    rshare_cluster_config_init(&cc, sizeof(cc));
    cc.manager_eligible = eligible;
    cc.initial_voters = voters;
    cc.initial_voter_count = 3;
    cc.hello_interval_ms = 200;
    cc.member_timeout_ms = 1000;
    cc.election_timeout_ms = 500;
    cc.heartbeat_ms = 50;
    cc.capabilities = RSHARE_CAP_BLOCK;
    if ((rc = rshare_cluster_join(node, &cc)) < 0)
        die(rshare_node_errmsg(node), rc);
    return node;
}

/* --- a blade ------------------------------------------------------------------ */

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static void share_disk(rshare_node *node, const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT, 0600);
    if (fd < 0 || ftruncate(fd, (off_t)disk_mib << 20) < 0)
        die("disk file", RSHARE_ESYS);
    close(fd);
    rshare_block *block;
    int rc = rshare_block_open_file(node, path, 0, 512, &block);
    if (rc < 0)
        die(rshare_node_errmsg(node), rc);
    struct rshare_resource_desc d;
    rshare_resource_desc_init(&d, sizeof(d));
    d.kind = RSHARE_RESOURCE_BLOCK;
    snprintf(d.path, sizeof(d.path), "%s", path);
    uint64_t id;
    if ((rc = rshare_resource_register_block(node, &d, block, &id)) < 0)
        die(rshare_node_errmsg(node), rc);
}

static void blade_main(uint32_t id)
{
    signal(SIGTERM, on_term);
    char path[300];
    snprintf(path, sizeof(path), "%s/blade%u", work_dir, id);
    rshare_node *node = make_node(id, ports[id], path, id <= 3, 0);
    snprintf(path, sizeof(path), "%s/blade%u/disk.img", work_dir, id);
    share_disk(node, path);
    if (id == 1) {
        snprintf(path, sizeof(path), "%s/blade%u/spare.img", work_dir, id);
        share_disk(node, path);
    }
    while (!stop)
        rshare_node_run(node, 100);
    rshare_node_destroy(node);
    _exit(0);
}

static void start_blades(void)
{
    for (uint32_t i = 1; i <= BLADES; i++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0)
            die("fork", RSHARE_ESYS);
        if (pid == 0)
            blade_main(i);
        blade_pid[i] = pid;
    }
}

static void stop_blades(void)
{
    for (int i = 1; i <= BLADES; i++) {
        if (blade_pid[i] <= 0)
            continue;
        kill(blade_pid[i], SIGTERM);
        waitpid(blade_pid[i], NULL, 0);
        blade_pid[i] = 0;
    }
}

/* --- the controller's helpers -------------------------------------------------------- */

static void run_until(rshare_node *node, bool (*cond)(rshare_node *, void *), void *ud,
                      const char *what)
{
    uint64_t end = now_us() + WAIT_US;
    while (!cond(node, ud)) {
        if (now_us() > end)
            die(what, RSHARE_ETIMEDOUT);
        rshare_node_run(node, 20);
    }
}

static bool resources_in_map(rshare_node *node, void *ud)
{
    size_t n = 0;
    rshare_resource_list(node, 0, NULL, 0, sizeof(struct rshare_resource_desc), &n);
    return n >= *(size_t *)ud && rshare_cluster_manager(node) != 0;
}

static bool volume_in_map(rshare_node *node, void *ud)
{
    (void)ud;
    size_t n = 0;
    rshare_volume_list(node, NULL, 0, sizeof(struct rshare_volume_desc), &n);
    return n > 0;
}

struct change {
    bool done;
    int status;
};

static void changed(rshare_node *node, int status, void *ud)
{
    (void)node;
    struct change *c = ud;
    c->done = true;
    c->status = status;
}

static bool change_done(rshare_node *node, void *ud)
{
    (void)node;
    return ((struct change *)ud)->done;
}

static void define_volume(rshare_node *node)
{
    struct rshare_volume_desc v;
    rshare_volume_desc_init(&v, sizeof(v));
    snprintf(v.name, sizeof(v.name), "demo");
    v.layout = RSHARE_LAYOUT_RAID5;
    v.algorithm = RSHARE_RAID5_LEFT_SYMMETRIC;
    v.chunk_sectors = CHUNK_SECTORS;
    v.member_count = BLADES;
    for (uint32_t i = 0; i < BLADES; i++)
        v.members[i] = ((uint64_t)(i + 1) << 32) | 1; /* blade i+1's first disk */
    v.spare_count = 1;
    v.spares[0] = ((uint64_t)1 << 32) | 2; /* blade 1's spare */
    struct change c = {0};
    int rc = rshare_volume_define(node, &v, changed, &c);
    if (rc < 0)
        die(rshare_node_errmsg(node), rc);
    run_until(node, change_done, &c, "defining the volume");
    if (c.status < 0)
        die("defining the volume", c.status);
}

/* Deterministic contents: block `blk` as written by write number `seq`. */
static void pattern(uint8_t *buf, uint64_t seq, uint64_t blk)
{
    for (size_t i = 0; i < BLOCK; i += 16) {
        memcpy(buf + i, &seq, 8);
        memcpy(buf + i + 8, &blk, 8);
    }
}

/* --- many requests in flight ---------------------------------------------------------- */

#define DEPTH 16
#define IO_BLOCKS 64 /* 256 KiB per request */

struct slot {
    bool busy;
    int status;
    uint64_t seq, blk, count;
    uint8_t *buf;
    struct engine *e;
};

struct engine {
    rshare_volume *vol;
    struct slot slot[DEPTH];
    uint32_t busy;
    uint64_t errors;
    void (*complete)(struct slot *s);
};

static void slot_done(rshare_volume *vol, int status, void *ud)
{
    (void)vol;
    struct slot *s = ud;
    s->status = status;
    s->busy = false;
    s->e->busy--;
    if (status < 0)
        s->e->errors++;
    if (s->e->complete)
        s->e->complete(s);
}

static struct slot *free_slot(rshare_node *node, struct engine *e)
{
    for (;;) {
        for (int i = 0; i < DEPTH; i++)
            if (!e->slot[i].busy)
                return &e->slot[i];
        rshare_node_run(node, 20);
    }
}

static void drain(rshare_node *node, struct engine *e)
{
    while (e->busy)
        rshare_node_run(node, 20);
}

static void engine_init(struct engine *e, rshare_volume *vol)
{
    memset(e, 0, sizeof(*e));
    e->vol = vol;
    for (int i = 0; i < DEPTH; i++) {
        e->slot[i].e = e;
        e->slot[i].buf = malloc((size_t)IO_BLOCKS * BLOCK);
        if (!e->slot[i].buf)
            die("memory", RSHARE_ENOMEM);
    }
}

static void engine_fini(struct engine *e)
{
    for (int i = 0; i < DEPTH; i++)
        free(e->slot[i].buf);
}

/* Write (seq = 1 for every block) or read and check the whole volume. */
static uint64_t whole_volume(rshare_node *node, struct engine *e, bool write)
{
    uint64_t blocks = rshare_volume_size(e->vol) / BLOCK, bad = 0;
    uint8_t expect[BLOCK];
    for (uint64_t b = 0; b < blocks || e->busy;) {
        if (b < blocks) {
            struct slot *s = free_slot(node, e);
            if (!write && s->count) { /* check what this slot read before */
                for (uint64_t k = 0; k < s->count; k++) {
                    pattern(expect, 1, s->blk + k);
                    bad += memcmp(expect, s->buf + k * BLOCK, BLOCK) != 0;
                }
            }
            s->blk = b;
            s->count = blocks - b < IO_BLOCKS ? blocks - b : IO_BLOCKS;
            s->busy = true;
            e->busy++;
            int rc;
            if (write) {
                for (uint64_t k = 0; k < s->count; k++)
                    pattern(s->buf + k * BLOCK, 1, b + k);
                rc = rshare_volume_write(e->vol, b * BLOCK, s->buf, s->count * BLOCK, slot_done,
                                         s);
            } else {
                rc = rshare_volume_read(e->vol, b * BLOCK, s->buf, s->count * BLOCK, slot_done,
                                        s);
            }
            if (rc < 0)
                die("volume request", rc);
            b += s->count;
        } else {
            rshare_node_run(node, 20);
        }
    }
    for (int i = 0; i < DEPTH && !write; i++) {
        struct slot *s = &e->slot[i];
        for (uint64_t k = 0; k < s->count; k++) {
            pattern(expect, 1, s->blk + k);
            bad += memcmp(expect, s->buf + k * BLOCK, BLOCK) != 0;
        }
        s->count = 0;
    }
    return bad;
}

/* --- the demo ---------------------------------------------------------------------------- */

static bool tty;

static void show_progress(rshare_volume *vol, int status, uint64_t done, uint64_t total,
                          void *ud)
{
    (void)vol;
    int *last = ud;
    if (status < 0 || !total)
        return;
    int pct = (int)(done * 100 / total);
    if (tty) {
        char bar[41];
        memset(bar, ' ', 40);
        memset(bar, '#', (size_t)(pct * 40 / 100));
        bar[40] = 0;
        printf("\r   rebuild [%s] %3d%%", bar, pct);
        if (pct == 100)
            printf("\n");
        fflush(stdout);
    } else if (pct != *last && (pct / 10 != *last / 10 || pct == 100)) {
        printf("   rebuild %3d%% (%llu of %llu sectors)\n", pct, (unsigned long long)done,
               (unsigned long long)total);
    }
    *last = pct;
}

static struct rshare_volume_status status_of(rshare_volume *vol)
{
    struct rshare_volume_status s;
    memset(&s, 0, sizeof(s));
    s.struct_size = sizeof(s);
    rshare_volume_get_status(vol, &s);
    return s;
}

static bool optimal_and_agreed(rshare_node *node, void *ud)
{
    rshare_volume *vol = ud;
    struct rshare_volume_status s = status_of(vol);
    struct rshare_volume_desc v;
    size_t n = 0;
    rshare_volume_list(node, &v, 1, sizeof(v), &n);
    if (s.state != RSHARE_VOLUME_OPTIMAL || n != 1)
        return false;
    for (uint32_t i = 0; i < v.member_count; i++)
        if (v.member_state[i] != RSHARE_VOLUME_MEMBER_ACTIVE)
            return false;
    return true;
}

static const char *state_name(uint32_t state)
{
    return state == RSHARE_VOLUME_OPTIMAL    ? "optimal"
           : state == RSHARE_VOLUME_DEGRADED ? "degraded"
                                             : "failed";
}

static int demo(void)
{
    tty = isatty(STDOUT_FILENO);
    printf("== starting %d blades (processes) on 127.0.0.1, each serving a %u MiB disk\n",
           BLADES, disk_mib);
    start_blades();
    char state[300];
    snprintf(state, sizeof(state), "%s/controller", work_dir);
    rshare_node *node = make_node(CONTROLLER_ID, ports[0], state, false, 1500);
    size_t want = BLADES + 1;
    run_until(node, resources_in_map, &want, "blades joining");
    printf("== cluster formed: manager is blade %u, %zu disks in the global map\n",
           rshare_cluster_manager(node), want);

    define_volume(node);
    rshare_volume *vol;
    struct rshare_volume_config cfg;
    int last_pct = -1;
    rshare_volume_config_init(&cfg, sizeof(cfg));
    cfg.retry_budget = 1;
    cfg.progress = show_progress;
    cfg.progress_data = &last_pct;
    int rc = rshare_volume_open(node, "demo", &cfg, &vol);
    if (rc < 0)
        die(rshare_node_errmsg(node), rc);
    uint64_t size = rshare_volume_size(vol);
    printf("== volume \"demo\": RAID-5 over blades 1-4, chunk 64 KiB, left-symmetric, "
           "%llu MiB; spare on blade 1\n",
           (unsigned long long)(size >> 20));

    struct engine e;
    engine_init(&e, vol);
    uint64_t t0 = now_us();
    whole_volume(node, &e, true);
    drain(node, &e);
    if ((rc = rshare_volume_flush_sync(vol)) < 0 || e.errors)
        die("writing the volume", rc ? rc : RSHARE_EIO);
    uint64_t t1 = now_us();
    printf("== wrote %llu MiB in %.2f s (%.0f MiB/s, %u requests of 256 KiB in flight)\n",
           (unsigned long long)(size >> 20), (double)(t1 - t0) / 1e6,
           (double)size / 1048576.0 / ((double)(t1 - t0) / 1e6), DEPTH);
    uint64_t bad = whole_volume(node, &e, false);
    uint64_t t2 = now_us();
    if (bad || e.errors)
        die("reading back", RSHARE_EIO);
    printf("== read back and verified in %.2f s (%.0f MiB/s)\n", (double)(t2 - t1) / 1e6,
           (double)size / 1048576.0 / ((double)(t2 - t1) / 1e6));

    printf("== blade 3 loses power (SIGKILL)\n");
    kill(blade_pid[3], SIGKILL);
    waitpid(blade_pid[3], NULL, 0);
    blade_pid[3] = 0;
    t0 = now_us();
    bad = whole_volume(node, &e, false);
    t1 = now_us();
    struct rshare_volume_status s = status_of(vol);
    if (bad || e.errors)
        die("degraded read", RSHARE_EIO);
    printf("== read the whole volume again without blade 3: every block correct "
           "(%llu pieces rebuilt from parity, %.2f s); volume %s\n",
           (unsigned long long)s.degraded_reads, (double)(t1 - t0) / 1e6,
           state_name(s.state));

    printf("== blade 3's disk is failed in the map; the spare on blade 1 takes its place\n");
    run_until(node, optimal_and_agreed, vol, "rebuild onto the spare");
    s = status_of(vol);
    printf("== rebuilt: member 3 is now resource %016llx; volume %s\n",
           (unsigned long long)s.member[2], state_name(s.state));

    uint64_t mismatches = 0;
    if ((rc = rshare_volume_scrub_sync(vol, 0, &mismatches)) < 0)
        die("scrub", rc);
    printf("== scrub: %llu inconsistent stripes\n", (unsigned long long)mismatches);
    bad = whole_volume(node, &e, false);
    if (bad || e.errors || mismatches)
        die("after the rebuild", RSHARE_EIO);
    printf("== read back after the rebuild: every block correct\n");
    engine_fini(&e);
    rshare_volume_close(vol);
    rshare_node_destroy(node);
    stop_blades();
    printf("== volume demo passed\n");
    return 0;
}

/* --- the crash test ------------------------------------------------------------------------ */

/* The log of writes, shared with the parent so that it survives SIGKILL:
 * an entry is "issued" before the request starts, "acked" when it
 * completed successfully. */
struct log_entry {
    uint64_t blk, count, seq;
    volatile uint32_t acked;
    uint32_t round;
};

struct crash_log {
    volatile uint64_t entries;
    volatile uint32_t ready; /* the writer has opened the volume and checked it */
    uint32_t pad;
    struct log_entry e[];
};

#define LOG_MAX 200000

static struct crash_log *crash_log;

static void log_acked(struct slot *s)
{
    if (s->status == 0)
        crash_log->e[s->seq].acked = 1;
}

/* Was block `blk` written by log entry `i`? */
static bool covers(const struct log_entry *le, uint64_t blk)
{
    return blk >= le->blk && blk < le->blk + le->count;
}

/* What may block `blk` hold?  The last write issued to it if that was
 * acknowledged; if it was not (in flight at a kill), the data of any write
 * issued to it since its last acknowledged one, or that one's (zeros if
 * none): never anything that was not written. */
static uint64_t check_volume(rshare_volume *vol, uint64_t *acked_checked)
{
    uint64_t blocks = rshare_volume_size(vol) / BLOCK;
    uint64_t *last = calloc(blocks, sizeof(*last));             /* last issued, index + 1 */
    uint64_t *last_acked = calloc(blocks, sizeof(*last_acked)); /* last acked, index + 1 */
    uint8_t *buf = malloc((size_t)IO_BLOCKS * BLOCK);
    if (!last || !last_acked || !buf)
        die("memory", RSHARE_ENOMEM);
    for (uint64_t i = 0; i < crash_log->entries; i++) {
        const struct log_entry *le = &crash_log->e[i];
        for (uint64_t b = le->blk; b < le->blk + le->count; b++) {
            last[b] = i + 1;
            if (le->acked)
                last_acked[b] = i + 1;
        }
    }
    uint64_t bad = 0;
    uint8_t want[BLOCK], zero[BLOCK];
    memset(zero, 0, sizeof(zero));
    for (uint64_t b = 0; b < blocks; b += IO_BLOCKS) {
        uint64_t n = blocks - b < IO_BLOCKS ? blocks - b : IO_BLOCKS;
        int rc = rshare_volume_read_sync(vol, b * BLOCK, buf, n * BLOCK);
        if (rc < 0)
            die("reading for the check", rc);
        for (uint64_t k = 0; k < n; k++) {
            uint64_t blk = b + k;
            const uint8_t *got = buf + k * BLOCK;
            bool ok = false;
            if (last[blk] && last[blk] == last_acked[blk]) {
                pattern(want, crash_log->e[last[blk] - 1].seq, blk);
                ok = memcmp(got, want, BLOCK) == 0;
                ++*acked_checked;
            } else {
                /* Unacknowledged writes since the last acknowledged one. */
                uint64_t from = last_acked[blk];
                for (uint64_t i = last[blk]; i > from && !ok; i--) {
                    const struct log_entry *le = &crash_log->e[i - 1];
                    if (!covers(le, blk))
                        continue;
                    pattern(want, le->seq, blk);
                    ok = memcmp(got, want, BLOCK) == 0;
                }
                if (!ok && from) {
                    pattern(want, crash_log->e[from - 1].seq, blk);
                    ok = memcmp(got, want, BLOCK) == 0;
                    ++*acked_checked;
                } else if (!ok) {
                    ok = memcmp(got, zero, BLOCK) == 0;
                }
            }
            if (!ok && bad++ < 5)
                fprintf(stderr, "   block %llu holds data that was never written there\n",
                        (unsigned long long)blk);
        }
    }
    free(last);
    free(last_acked);
    free(buf);
    return bad;
}

static bool resynced(rshare_node *node, void *ud)
{
    (void)node;
    struct rshare_volume_status s = status_of(ud);
    return s.state == RSHARE_VOLUME_OPTIMAL && s.dirty_regions == 0;
}

static void writer_main(uint32_t round, unsigned seed)
{
    char state[300];
    snprintf(state, sizeof(state), "%s/controller", work_dir);
    rshare_node *node = make_node(CONTROLLER_ID, ports[0], state, false, 1500);
    size_t want = BLADES + 1;
    run_until(node, resources_in_map, &want, "blades joining");
    if (round == 0) {
        define_volume(node);
    }
    run_until(node, volume_in_map, NULL, "the volume in the map");
    rshare_volume *vol;
    struct rshare_volume_config cfg;
    rshare_volume_config_init(&cfg, sizeof(cfg));
    cfg.bitmap_region_sectors = 2048; /* 1 MiB of each member: small resyncs */
    cfg.clean_delay_ms = 100;
    int rc = rshare_volume_open(node, "demo", &cfg, &vol);
    if (rc < 0)
        die(rshare_node_errmsg(node), rc);
    struct rshare_volume_status s = status_of(vol);
    uint64_t dirty = s.dirty_regions;
    /* The previous writer died: let the resync finish (its dirty regions
     * become clean), then check what is on the volume. */
    run_until(node, resynced, vol, "resync");
    uint64_t checked = 0, bad = round ? check_volume(vol, &checked) : 0;
    uint64_t mismatches = 0;
    if ((rc = rshare_volume_scrub_sync(vol, 0, &mismatches)) < 0)
        die("scrub", rc);
    printf("   round %u: %llu dirty regions resynced, %llu acknowledged blocks checked, "
           "%llu wrong, scrub: %llu inconsistent stripes\n",
           round, (unsigned long long)dirty, (unsigned long long)checked,
           (unsigned long long)bad, (unsigned long long)mismatches);
    fflush(stdout);
    if (bad || mismatches)
        _exit(1);
    crash_log->ready = 1;
    /* Write until killed: random places, a few blocks to 256 KiB each,
     * never two requests on the same blocks at once. */
    struct engine e;
    engine_init(&e, vol);
    e.complete = log_acked;
    uint64_t blocks = rshare_volume_size(vol) / BLOCK;
    for (;;) {
        struct slot *sl = free_slot(node, &e);
        uint64_t count = 1 + (uint64_t)rand_r(&seed) % IO_BLOCKS, blk;
        bool clash;
        do {
            blk = (uint64_t)rand_r(&seed) % (blocks - count + 1);
            clash = false;
            for (int i = 0; i < DEPTH; i++) {
                struct slot *o = &e.slot[i];
                if (o->busy && blk < o->blk + o->count && o->blk < blk + count)
                    clash = true;
            }
        } while (clash);
        uint64_t seq = crash_log->entries;
        if (seq >= LOG_MAX)
            _exit(0);
        crash_log->e[seq] = (struct log_entry){blk, count, seq + 1000000u * (round + 1), 0,
                                              round};
        __sync_synchronize();
        crash_log->entries = seq + 1;
        for (uint64_t k = 0; k < count; k++)
            pattern(sl->buf + k * BLOCK, crash_log->e[seq].seq, blk + k);
        sl->seq = seq;
        sl->blk = blk;
        sl->count = count;
        sl->busy = true;
        e.busy++;
        if ((rc = rshare_volume_write(vol, blk * BLOCK, sl->buf, count * BLOCK, slot_done, sl)) < 0)
            die("write", rc);
    }
}

static int crash_test(unsigned rounds, unsigned seed)
{
    size_t bytes = sizeof(struct crash_log) + LOG_MAX * sizeof(struct log_entry);
    crash_log = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (crash_log == MAP_FAILED)
        die("mmap", RSHARE_ESYS);
    printf("== crash test: %u rounds of killing the writing controller (seed %u)\n", rounds,
           seed);
    start_blades();
    for (unsigned round = 0; round <= rounds; round++) {
        crash_log->ready = 0;
        /* The log's entries are shared by the sequence numbers in it; each
         * round appends. */
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0)
            writer_main(round, seed + round);
        uint64_t end = now_us() + WAIT_US;
        int st;
        while (!crash_log->ready) {
            if (waitpid(pid, &st, WNOHANG) == pid)
                die("the writer stopped before writing", RSHARE_EIO);
            if (now_us() > end)
                die("the writer did not get ready", RSHARE_ETIMEDOUT);
            usleep(10000);
        }
        if (round == rounds) {
            kill(pid, SIGTERM);
            waitpid(pid, &st, 0);
            break;
        }
        usleep(100000 + (useconds_t)(rand_r(&seed) % 900000)); /* write for 0.1 .. 1 s */
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        uint64_t acked = 0;
        for (uint64_t i = 0; i < crash_log->entries; i++)
            acked += crash_log->e[i].acked && crash_log->e[i].round == round;
        printf("   round %u: writer killed after %llu acknowledged writes\n", round,
               (unsigned long long)acked);
    }
    stop_blades();
    printf("== crash test passed: every acknowledged write survived %u kills\n", rounds);
    return 0;
}

int main(int argc, char **argv)
{
    unsigned rounds = 0, seed = (unsigned)time(NULL);
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--crash-test") && i + 1 < argc)
            rounds = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--disk-mib") && i + 1 < argc)
            disk_mib = (unsigned)atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: volume_demo [--crash-test ROUNDS [--seed S]] [--dir DIR] "
                            "[--disk-mib N]\n");
            return 2;
        }
    }
    if (disk_mib < 1 || disk_mib > 4096)
        return 2;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (dir) {
        snprintf(work_dir, sizeof(work_dir), "%s", dir);
        mkdir(work_dir, 0700);
    } else {
        snprintf(work_dir, sizeof(work_dir), "%s/rshare-volume-demo.XXXXXX",
                 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(work_dir))
            die("mkdtemp", RSHARE_ESYS);
    }
    signal(SIGPIPE, SIG_IGN);
    pick_ports();
    int rc = rounds ? crash_test(rounds, seed) : demo();
    if (!dir) {
        char cmd[400];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", work_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "volume demo: could not remove %s\n", work_dir);
    }
    return rc;
}
