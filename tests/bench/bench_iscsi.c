/* bench_iscsi — an iSCSI LUN read through rshare against libiscsi's own
 * iscsi-perf, against the same tgtd LUN in the same run (issue 8,
 * "Benchmarks").
 *
 *   bench_iscsi [--rounds R] [--seconds S] [--lun-mib N] [--depth D]
 *               [--dir DIR] [--only LIST]
 *   (tests/bench/run_iscsi.sh BUILDDIR runs it and writes doc/PERFORMANCE.md;
 *    or `make bench-iscsi` from a build directory)
 *
 * Set-up.  tgtd is started on 127.0.0.1 on a port of its own
 * (tests/integration/tgtd.c, as test_iscsi does) exporting one LUN backed
 * by a file of --lun-mib MiB (256) of random bytes in a fresh directory
 * under DIR (/dev/shm, so the page cache is the disk and the target's reads
 * cost no device time).  This process is an rshare node (the only voter,
 * so the manager of its own one-node cluster) that opens the LUN with
 * rshare_block_open_iscsi(), registers it as a block resource and defines
 * a linear volume over it alone.
 *
 * Each round runs every case three ways, one after the other, so that
 * noise hits all of them alike:
 *   anchor  `iscsi-perf -t S -m D -b B [-r] iscsi://127.0.0.1:PORT/IQN/1`
 *           (libiscsi's benchmark: READ(16) of B blocks, D in flight, its
 *           own "iops average" after S seconds);
 *   block   the same reads through the public block API: rshare_block_submit
 *           of B*512 bytes, D in flight, for S seconds (completions counted);
 *   volume  the same through rshare_volume_read on the linear volume whose
 *           only member is that block.
 * Cases, as iscsi-perf walks the LUN: sequential (wrapping at the end) and
 * random (a random start block, the last I/O cut at the end of the LUN);
 *   seq4k   sequential, B = 8 (4 KiB), iscsi-perf's defaults (D = 32);
 *   rand4k  random, B = 8;
 *   seq128k sequential, B = 256 (128 KiB): throughput.
 * CPU: this process (rshare's initiator), iscsi-perf (wait4) and tgtd
 * (/proc) during each run, as CPU microseconds per I/O.
 *
 * Before the rounds one untimed check reads the first 4 MiB through the
 * block and through the volume and compares them with the file.
 *
 * Output: a markdown table, `figure | rshare | anchor | ratio | target |
 * spread` (medians over the rounds; the ratio is rshare / anchor of the same
 * round), then the CPU details.  Exit status 0; 1 on an error; 2 on bad
 * options; 77 when tgtd, tgtadm or iscsi-perf is missing. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rshare/rshare.h>

#include "../integration/tgtd.h"
#include "bench_util.h"

#define BENCH_NODE 1u
#define TARGET_IQN "iqn.2024-01.org.rshare:bench-target"
#define MAX_DEPTH 256u
#define SECTOR 512u

struct options {
    uint32_t rounds, depth, lun_mib;
    double seconds;
    const char *dir, *only;
};

enum way { W_ANCHOR, W_BLOCK, W_VOLUME, W_COUNT };
static const char *const way_name[W_COUNT] = {"iscsi-perf", "block", "volume"};

static const struct {
    const char *key, *label;
    uint32_t blocks;
    bool random;
} cases[] = {
    {"seq4k", "sequential read, 4 KiB", 8, false},
    {"rand4k", "random read, 4 KiB", 8, true},
    {"seq128k", "sequential read, 128 KiB", 256, false},
};
#define CASES (sizeof(cases) / sizeof(cases[0]))

struct bench {
    const struct options *o;
    struct tgtd tgt;
    char state_dir[200], url[256];
    rshare_node *node;
    rshare_block *blk;
    rshare_volume *vol;
    uint64_t lun_blocks;
};

/* --- set-up -------------------------------------------------------------------------------- */

struct change_wait {
    bool done;
    int status;
};

static void change_done(rshare_node *node, int status, void *ud)
{
    (void)node;
    struct change_wait *w = ud;
    w->done = true;
    w->status = status;
}

/* Run the node's loop until `cond` or `limit_s`. */
static bool run_until(struct bench *b, bool (*cond)(struct bench *, void *), void *arg,
                      double limit_s)
{
    double end = now_s() + limit_s;
    while (!cond(b, arg)) {
        if (now_s() > end)
            return false;
        rshare_node_run(b->node, 20);
    }
    return true;
}

static bool cluster_ready(struct bench *b, void *arg)
{
    (void)arg;
    size_t n = 0;
    rshare_resource_list(b->node, 0, NULL, 0, sizeof(struct rshare_resource_desc), &n);
    return n == 1 && rshare_cluster_manager(b->node) == BENCH_NODE;
}

static bool change_finished(struct bench *b, void *arg)
{
    (void)b;
    return ((struct change_wait *)arg)->done;
}

static void setup(struct bench *b)
{
    const struct options *o = b->o;
    if (!tgtd_prepare(&b->tgt, o->dir, TARGET_IQN))
        die("cannot make a directory in %s: %s", o->dir, strerror(errno));
    make_file(b->tgt.lun_path, (uint64_t)o->lun_mib << 20, true);
    if (!tgtd_start(&b->tgt, NULL, NULL))
        die("tgtd did not start (log: %s)", b->tgt.log_path);
    snprintf(b->url, sizeof(b->url), "iscsi://127.0.0.1:%d/%s/1", b->tgt.port, TARGET_IQN);
    snprintf(b->state_dir, sizeof(b->state_dir), "%s/state", b->tgt.dir);
    if (mkdir(b->state_dir, 0700) < 0)
        die("%s: %s", b->state_dir, strerror(errno));

    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = BENCH_NODE;
    cfg.state_dir = b->state_dir;
    cfg.log.max_level = RSHARE_LOG_ERROR;
    int rc = rshare_node_create(&cfg, &b->node);
    if (rc < 0)
        die("rshare_node_create: %s", rshare_strerror(rc));
    join_alone(b->node, BENCH_NODE, RSHARE_CAP_BLOCK | RSHARE_CAP_VOLUMES);

    char portal[64];
    snprintf(portal, sizeof(portal), "127.0.0.1:%d", b->tgt.port);
    struct rshare_iscsi_config ic;
    rshare_iscsi_config_init(&ic, sizeof(ic));
    ic.portal = portal;
    ic.target_iqn = TARGET_IQN;
    ic.lun = 1;
    if (rshare_block_open_iscsi(b->node, &ic, &b->blk) < 0)
        die("rshare_block_open_iscsi: %s", rshare_node_errmsg(b->node));
    struct rshare_block_info info;
    rshare_block_info_init(&info, sizeof(info));
    if (rshare_block_get_info(b->blk, &info) < 0 || info.block_size != SECTOR)
        die("the LUN does not have 512-byte blocks");
    b->lun_blocks = info.block_count;

    struct rshare_resource_desc rd;
    rshare_resource_desc_init(&rd, sizeof(rd));
    rd.kind = RSHARE_RESOURCE_BLOCK;
    rd.rights = RSHARE_RIGHT_READ | RSHARE_RIGHT_WRITE;
    snprintf(rd.path, sizeof(rd.path), "iscsi");
    uint64_t res;
    if (rshare_resource_register_block(b->node, &rd, b->blk, &res) < 0)
        die("register: %s", rshare_node_errmsg(b->node));
    if (!run_until(b, cluster_ready, NULL, 30))
        die("the node did not become manager with its LUN in the map");

    struct rshare_volume_desc v;
    rshare_volume_desc_init(&v, sizeof(v));
    snprintf(v.name, sizeof(v.name), "bench");
    v.layout = RSHARE_LAYOUT_LINEAR;
    v.member_count = 1;
    v.members[0] = res;
    struct change_wait w = {false, 0};
    if (rshare_volume_define(b->node, &v, change_done, &w) < 0 ||
        !run_until(b, change_finished, &w, 30) || w.status < 0)
        die("rshare_volume_define: %s", rshare_node_errmsg(b->node));
    if (rshare_volume_open(b->node, "bench", NULL, &b->vol) < 0)
        die("rshare_volume_open: %s", rshare_node_errmsg(b->node));
    if (rshare_volume_size(b->vol) != b->lun_blocks * SECTOR)
        die("the volume is not the LUN's size");
}

/* The first 4 MiB through the block and the volume equal the file's. */
static void verify(struct bench *b)
{
    size_t len = 4u << 20;
    uint8_t *want = malloc(len), *got = malloc(len);
    int fd = open(b->tgt.lun_path, O_RDONLY);
    if (!want || !got || fd < 0 || pread(fd, want, len, 0) != (ssize_t)len)
        die("cannot read %s", b->tgt.lun_path);
    close(fd);
    if (rshare_block_read_sync(b->blk, 0, got, len) < 0 || memcmp(got, want, len) != 0)
        die("the LUN read through the block differs from its file");
    memset(got, 0, len);
    if (rshare_volume_read_sync(b->vol, 0, got, len) < 0 || memcmp(got, want, len) != 0)
        die("the LUN read through the volume differs from its file");
    free(want);
    free(got);
}

/* --- rshare: D reads in flight for S seconds ------------------------------------------------ */

struct run {
    struct bench *b;
    enum way way;
    bool random;
    uint32_t blocks;
    uint64_t pos, seed, completed;
    double deadline;
    uint32_t inflight;
    int status;
    struct slot {
        struct run *run;
        struct rshare_block_io io;
        uint8_t *buf;
    } slots[MAX_DEPTH];
};

static void submit(struct run *r, struct slot *s);

static void completed(struct run *r, struct slot *s, int status)
{
    r->inflight--;
    if (status < 0 && r->status == 0)
        r->status = status;
    r->completed++;
    if (r->status == 0 && now_s() < r->deadline)
        submit(r, s);
}

static void block_done(struct rshare_block_io *io, int status)
{
    struct slot *s = io->user_data;
    completed(s->run, s, status);
}

static void volume_done(rshare_volume *vol, int status, void *ud)
{
    (void)vol;
    struct slot *s = ud;
    completed(s->run, s, status);
}

/* The next I/O, walking the LUN as iscsi-perf does. */
static void submit(struct run *r, struct slot *s)
{
    uint64_t total = r->b->lun_blocks;
    if (r->random)
        r->pos = xorshift(&r->seed) % total;
    else if (r->pos >= total)
        r->pos = 0;
    uint64_t n = total - r->pos < r->blocks ? total - r->pos : r->blocks;
    uint64_t off = r->pos * SECTOR, len = n * SECTOR;
    r->pos += n;
    int rc;
    if (r->way == W_BLOCK) {
        rshare_block_io_init(&s->io, sizeof(s->io));
        s->io.op = RSHARE_BLOCK_READ;
        s->io.offset = off;
        s->io.length = len;
        s->io.buf = s->buf;
        s->io.done = block_done;
        s->io.user_data = s;
        rc = rshare_block_submit(r->b->blk, &s->io);
    } else {
        rc = rshare_volume_read(r->b->vol, off, s->buf, len, volume_done, s);
    }
    if (rc < 0) {
        if (r->status == 0)
            r->status = rc;
        return;
    }
    r->inflight++;
}

/* I/Os per second; the CPU seconds of this process and of tgtd. */
static double rshare_run(struct bench *b, enum way way, size_t c, double cpu[2])
{
    const struct options *o = b->o;
    static struct run r;
    uint8_t *bufs = malloc((size_t)o->depth * cases[c].blocks * SECTOR);
    if (!bufs)
        die("out of memory");
    memset(&r, 0, sizeof(r));
    r.b = b;
    r.way = way;
    r.random = cases[c].random;
    r.blocks = cases[c].blocks;
    r.seed = 0x9e3779b97f4a7c15ull ^ (uint64_t)now_s();
    double c0 = self_cpu_s(), t0 = proc_cpu_s(b->tgt.pid), start = now_s();
    r.deadline = start + o->seconds;
    for (uint32_t i = 0; i < o->depth; i++) {
        r.slots[i].run = &r;
        r.slots[i].buf = bufs + (size_t)i * cases[c].blocks * SECTOR;
        submit(&r, &r.slots[i]);
    }
    while (r.inflight > 0)
        rshare_node_run(b->node, 100);
    double elapsed = now_s() - start;
    cpu[0] = self_cpu_s() - c0;
    cpu[1] = proc_cpu_s(b->tgt.pid) - t0;
    free(bufs);
    if (r.status < 0)
        die("%s %s: %s: %s", way_name[way], cases[c].key, rshare_strerror(r.status),
            rshare_node_errmsg(b->node));
    return (double)r.completed / elapsed;
}

/* --- the anchor --------------------------------------------------------------------------- */

static double iscsi_perf(struct bench *b, size_t c, double cpu[2])
{
    const struct options *o = b->o;
    char secs[16], depth[16], blocks[16];
    snprintf(secs, sizeof(secs), "%.0f", o->seconds);
    snprintf(depth, sizeof(depth), "%u", o->depth);
    snprintf(blocks, sizeof(blocks), "%u", cases[c].blocks);
    char *argv[12];
    int n = 0;
    argv[n++] = "iscsi-perf";
    argv[n++] = "-t";
    argv[n++] = secs;
    argv[n++] = "-m";
    argv[n++] = depth;
    argv[n++] = "-b";
    argv[n++] = blocks;
    if (cases[c].random)
        argv[n++] = "-r";
    argv[n++] = b->url;
    argv[n] = NULL;
    static char out[1 << 16];
    double t0 = proc_cpu_s(b->tgt.pid);
    int rc = run_cmd(argv, out, sizeof(out), &cpu[0]);
    cpu[1] = proc_cpu_s(b->tgt.pid) - t0;
    /* Its last progress line: "... iops average N (M MB/s)". */
    const char *p = NULL;
    for (const char *q = out; (q = strstr(q, "iops average ")); q++)
        p = q;
    unsigned long long iops;
    if (rc != 0 || !p || sscanf(p, "iops average %llu", &iops) != 1)
        die("iscsi-perf failed (status %d): %.300s", rc, out);
    return (double)iops;
}

/* --- the report ----------------------------------------------------------------------------- */

struct series {
    double iops[W_COUNT][BENCH_MAX_ROUNDS];
    double ratio[W_COUNT][BENCH_MAX_ROUNDS]; /* block and volume against the anchor */
    double cpu_us[W_COUNT][2][BENCH_MAX_ROUNDS]; /* per I/O: initiator, tgtd */
    uint32_t n;
};

static void fmt_rate(char *out, size_t len, double iops, uint32_t blocks)
{
    if (blocks * SECTOR >= 65536)
        snprintf(out, len, "%.0f MB/s", iops * blocks * SECTOR / 1e6);
    else
        snprintf(out, len, "%.1fk IOPS", iops / 1000);
}

static void report(struct bench *b, struct series *s)
{
    const struct options *o = b->o;
    printf("| figure | rshare | anchor (iscsi-perf) | ratio | target | spread (min–max over %u "
           "rounds) |\n",
           o->rounds);
    printf("|---|---:|---:|---:|---:|---|\n");
    for (size_t c = 0; c < CASES; c++) {
        struct series *x = &s[c];
        if (!x->n)
            continue;
        double am, alo, ahi;
        stats(x->iops[W_ANCHOR], x->n, &am, &alo, &ahi);
        char a[32], alo_s[32], ahi_s[32];
        fmt_rate(a, sizeof(a), am, cases[c].blocks);
        fmt_rate(alo_s, sizeof(alo_s), alo, cases[c].blocks);
        fmt_rate(ahi_s, sizeof(ahi_s), ahi, cases[c].blocks);
        for (int w = W_BLOCK; w < W_COUNT; w++) {
            double m, lo, hi, rm, rlo, rhi;
            stats(x->iops[w], x->n, &m, &lo, &hi);
            stats(x->ratio[w], x->n, &rm, &rlo, &rhi);
            char v[32], vlo[32], vhi[32];
            fmt_rate(v, sizeof(v), m, cases[c].blocks);
            fmt_rate(vlo, sizeof(vlo), lo, cases[c].blocks);
            fmt_rate(vhi, sizeof(vhi), hi, cases[c].blocks);
            printf("| %s, QD %u, %s | %s | %s | %.2f×%s | ≥ 0.9× | rshare %s–%s; anchor %s–%s; "
                   "ratio %.2f–%.2f |\n",
                   cases[c].label, o->depth,
                   w == W_BLOCK ? "block API" : "linear volume over the LUN", v, a, rm,
                   rm >= 0.9 ? "" : " (missed)", vlo, vhi, alo_s, ahi_s, rlo, rhi);
        }
    }
    printf("\n");
    for (size_t c = 0; c < CASES; c++) {
        struct series *x = &s[c];
        if (!x->n)
            continue;
        printf("- %s: CPU µs per read, initiator + tgtd:", cases[c].label);
        for (int w = 0; w < W_COUNT; w++) {
            double i, t, lo, hi;
            stats(x->cpu_us[w][0], x->n, &i, &lo, &hi);
            stats(x->cpu_us[w][1], x->n, &t, &lo, &hi);
            printf("%s %s %.1f + %.1f", w ? ";" : "", way_name[w], i, t);
        }
        printf(" (medians).\n");
    }
}

/* --- main ------------------------------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr, "usage: bench_iscsi [--rounds R] [--seconds S] [--lun-mib N] [--depth D]\n"
                    "                   [--dir DIR] [--only seq4k,rand4k,seq128k]\n");
    exit(2);
}

static void parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longs[] = {
        {"rounds", required_argument, NULL, 'r'}, {"seconds", required_argument, NULL, 's'},
        {"lun-mib", required_argument, NULL, 'l'}, {"depth", required_argument, NULL, 'd'},
        {"dir", required_argument, NULL, 'D'},     {"only", required_argument, NULL, 'o'},
        {NULL, 0, NULL, 0}};
    *o = (struct options){.rounds = 5, .depth = 32, .lun_mib = 256, .seconds = 3,
                          .dir = "/dev/shm"};
    int c;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'r': o->rounds = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 's': o->seconds = strtod(optarg, NULL); break;
        case 'l': o->lun_mib = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'd': o->depth = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'D': o->dir = optarg; break;
        case 'o': o->only = optarg; break;
        default: usage();
        }
    }
    if (optind != argc || o->rounds < 1 || o->rounds > BENCH_MAX_ROUNDS || o->depth < 1 ||
        o->depth > MAX_DEPTH || o->lun_mib < 4 || o->lun_mib > 65536 || o->seconds < 1 ||
        o->seconds > 600)
        usage();
}

static struct bench *cleanup_bench;

static void cleanup(void)
{
    if (cleanup_bench)
        tgtd_cleanup(&cleanup_bench->tgt);
}

int main(int argc, char **argv)
{
    struct options o;
    parse_options(argc, argv, &o);
    if (!tgtd_installed() || !have_tool("iscsi-perf")) {
        note("tgtd, tgtadm or iscsi-perf is missing: nothing to measure");
        return 77;
    }
    static struct bench b;
    b.o = &o;
    cleanup_bench = &b;
    atexit(cleanup);
    setup(&b);
    verify(&b);

    static struct series s[CASES];
    for (uint32_t round = 0; round < o.rounds; round++) {
        for (size_t c = 0; c < CASES; c++) {
            if (!in_list(o.only, cases[c].key))
                continue;
            struct series *x = &s[c];
            double cpu[2];
            for (int w = 0; w < W_COUNT; w++) {
                double iops = w == W_ANCHOR ? iscsi_perf(&b, c, cpu)
                                            : rshare_run(&b, (enum way)w, c, cpu);
                double ios = iops * o.seconds;
                x->iops[w][x->n] = iops;
                x->cpu_us[w][0][x->n] = cpu[0] / ios * 1e6;
                x->cpu_us[w][1][x->n] = cpu[1] / ios * 1e6;
                note("round %u %s %s: %.0f reads/s", round + 1, cases[c].key, way_name[w],
                     iops);
            }
            for (int w = W_BLOCK; w < W_COUNT; w++)
                x->ratio[w][x->n] = x->iops[w][x->n] / x->iops[W_ANCHOR][x->n];
            x->n++;
        }
    }
    report(&b, s);
    rshare_volume_close(b.vol);
    rshare_block_close(b.blk);
    rshare_node_destroy(b.node);
    return 0;
}
