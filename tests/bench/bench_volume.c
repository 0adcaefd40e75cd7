/* bench_volume — a RAID-5 volume over UDP loopback against NBD tools on the
 * same machine, in the same run (issue 4, "Benchmarks").
 *
 *   bench_volume [--member-mib N] [--chunk-kib K] [--mtu BYTES] [--rounds R]
 *                [--seq-depth D] [--rand-seconds S] [--dir DIR] [--unix]
 *                [--only LIST] [--socket-buffer-mib N] [--no-floor]
 *   (tests/bench/run_volume.sh BUILDDIR runs it and writes doc/PERFORMANCE.md;
 *    or `make bench-volume` from a build directory)
 *
 * Set-up.  Five member processes are forked, each an rshare node (ids 1..5)
 * on its own UDP socket on 127.0.0.1 serving one file-backed disk
 * (rshare_block_open_file on a file of --member-mib MiB in DIR, by default
 * a fresh directory in /dev/shm); nodes 1..4 hold the volume's members, node
 * 5 the spare.  This process is node 10, the only voter (so the manager),
 * defines a RAID-5 volume (md's left-symmetric layout, --chunk-kib chunks)
 * over the four members with the fifth as spare, opens it and drives it with
 * the asynchronous API (--socket-buffer-mib sets every node's UDP socket
 * buffers; 0, the default, keeps the transport's 4 MiB).  nbdkit serves a
 * memory disk of the volume's size
 * (`nbdkit memory`, on TCP 127.0.0.1 or with --unix on a Unix socket).
 *
 * Each round measures, interleaved so that noise hits both sides alike:
 *   seq write  rshare: the volume written from start to end in 1 MiB
 *              requests, --seq-depth (16) in flight, from a file of random
 *              bytes mapped in memory.  Anchor: `nbdcopy --request-size=1M`
 *              of the same file to nbdkit (its defaults: multi-conn, threads).
 *   seq read   the same, reading (rshare: into --seq-depth buffers that are
 *              thrown away; anchor: `nbdcopy ... null:`).
 *   rand read  4 KiB reads at random 4 KiB-aligned offsets, 32 in flight,
 *              for --rand-seconds.  Anchor: `fio --ioengine=nbd --rw=randread
 *              --bs=4k --iodepth=32` against the same nbdkit.
 *   rebuild    rshare_volume_fail_member(slot 0): the spare takes the slot
 *              and is rebuilt from the other three over the network; timed
 *              from the call until the progress callback reports done ==
 *              total.  The failed disk is then made the spare again
 *              (rshare_volume_define) for the next round.  Anchor: one
 *              member file copied to another file in DIR with 1 MiB
 *              pread/pwrite, in this process.
 * Each round also measures the UDP floor of write, read and rebuild
 * (udp_floor.h, unless --no-floor): five more processes move the same bytes
 * over UDP loopback with no protocol at all, which no implementation over
 * UDP can beat; it tells how much of a gap to the anchor is the transport's
 * and how much is rshare's.
 * Before the rounds, one untimed pass writes the volume and nbdkit's disk
 * (first writes allocate memory on both sides) and reads the volume back
 * to check it holds exactly the file's bytes; after the first rebuild the
 * rebuilt disk is compared with the one it replaced.
 *
 * Output: one line per figure, `figure | rshare | anchor | ratio | target |
 * spread` (medians over the rounds; the ratio is rshare / anchor of the same
 * round, its median and min-max), as a markdown table; the floor's table
 * (floor / anchor, rshare / floor, CPU seconds per GB); then details: CPU
 * use of this process and of the member processes during each rshare
 * phase, and the volume's counters.  An anchor whose tool is missing is
 * skipped with a message.  Exit status 0, 1 on an error, 2 on bad options. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rshare/rshare.h>

#include "bench_util.h"
#include "udp_floor.h"

extern char **environ;

#define MEMBERS 4
#define DISKS 5 /* members + the spare */
#define BENCH_NODE 10u
#define SEQ_IO (1u << 20)
#define RAND_IO 4096u
#define RAND_DEPTH 32u
#define MAX_DEPTH 256u
#define MAX_ROUNDS BENCH_MAX_ROUNDS

struct options {
    uint64_t member_bytes;
    uint32_t chunk_kib, mtu, rounds, seq_depth, socket_buffer_mib;
    double rand_seconds;
    const char *dir, *only;
    int unix_socket, no_floor;
};

/* --- small helpers ----------------------------------------------------------------- */

static bool wanted(const struct options *o, const char *figure)
{
    return in_list(o->only, figure);
}

/* --- the member processes ----------------------------------------------------------- */

static volatile sig_atomic_t member_stop;

static void on_term(int sig)
{
    (void)sig;
    member_stop = 1;
}

/* One member: node `id`, serving `file`; reports its UDP address on `up`,
 * reads the benchmark node's address from `down`.  Never returns. */
static void member_main(uint32_t id, const char *file, uint32_t mtu, uint32_t socket_buffer_mib,
                        int up, int down)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = id;
    cfg.slot = (uint16_t)id;
    cfg.log.max_level = RSHARE_LOG_ERROR;
    rshare_node *node = NULL;
    char addr[64] = "";
    struct rshare_udp_config udp;
    rshare_udp_config_init(&udp, sizeof(udp));
    udp.bind_address = "127.0.0.1:0";
    udp.mtu = mtu;
    udp.socket_buffer_bytes = socket_buffer_mib << 20;
    int t = -1;
    if (rshare_node_create(&cfg, &node) < 0 || (t = rshare_node_add_udp(node, &udp)) < 0 ||
        rshare_udp_local_address(node, t, addr, sizeof(addr)) < 0) {
        fprintf(stderr, "member %u: %s\n", id, node ? rshare_node_errmsg(node) : "no node");
        _exit(1);
    }
    if (write(up, addr, sizeof(addr)) != (ssize_t)sizeof(addr))
        _exit(1);
    char bench_addr[64];
    if (read(down, bench_addr, sizeof(bench_addr)) != (ssize_t)sizeof(bench_addr))
        _exit(1);
    bench_addr[sizeof(bench_addr) - 1] = '\0';
    static const uint32_t voters[] = {BENCH_NODE};
    struct rshare_cluster_config cc;
    rshare_cluster_config_init(&cc, sizeof(cc));
    cc.initial_voters = voters;
    cc.initial_voter_count = 1;
    cc.capabilities = RSHARE_CAP_BLOCK;
    rshare_block *block = NULL;
    struct rshare_resource_desc d;
    rshare_resource_desc_init(&d, sizeof(d));
    d.kind = RSHARE_RESOURCE_BLOCK;
    d.rights = RSHARE_RIGHT_READ | RSHARE_RIGHT_WRITE;
    snprintf(d.path, sizeof(d.path), "bench-disk-%u", id);
    uint64_t res;
    if (rshare_node_add_peer(node, BENCH_NODE, t, bench_addr) < 0 ||
        rshare_cluster_join(node, &cc) < 0 ||
        rshare_block_open_file(node, file, 0, 0, &block) < 0 ||
        rshare_resource_register_block(node, &d, block, &res) < 0) {
        fprintf(stderr, "member %u: %s\n", id, rshare_node_errmsg(node));
        _exit(1);
    }
    while (!member_stop)
        rshare_node_run(node, 100);
    rshare_node_destroy(node);
    _exit(0);
}

/* --- the benchmark node ------------------------------------------------------------------ */

struct bench {
    const struct options *o;
    rshare_node *node;
    rshare_volume *vol;
    uint32_t vol_id;
    uint64_t res[DISKS]; /* resource of the disk of node i + 1 */
    pid_t pids[DISKS];
    char files[DISKS][512];
    char src_file[512], copy_file[512], state_dir[512], sock_path[512], uri[640];
    const uint8_t *src; /* the source file, mapped */
    uint64_t vol_bytes;
    pid_t nbdkit;
    int nbd_port;
    struct udp_floor *floor; /* NULL: --no-floor, or no figure that has one */
    /* rebuild state */
    bool rebuilt;
    int rebuild_status;
    double rebuild_seen_at; /* first progress callback */
};

struct change_wait {
    int calls, status;
};

static void change_done(rshare_node *node, int status, void *ud)
{
    (void)node;
    struct change_wait *w = ud;
    w->calls++;
    w->status = status;
}

static void run_until(struct bench *b, bool (*cond)(struct bench *, void *), void *arg,
                      double seconds, const char *what)
{
    double end = now_s() + seconds;
    while (!cond(b, arg)) {
        if (now_s() > end)
            die("timed out waiting for %s", what);
        rshare_node_run(b->node, 50);
    }
}

static bool cluster_ready(struct bench *b, void *arg)
{
    (void)arg;
    struct rshare_resource_desc r[16];
    size_t n = 0;
    if (rshare_resource_list(b->node, 0, r, 16, sizeof(r[0]), &n) < 0 || n < DISKS ||
        rshare_cluster_manager(b->node) != BENCH_NODE)
        return false;
    for (size_t i = 0; i < n && i < 16; i++)
        if (r[i].host >= 1 && r[i].host <= DISKS)
            b->res[r[i].host - 1] = r[i].id;
    for (size_t i = 0; i < DISKS; i++)
        if (!b->res[i])
            return false;
    return true;
}

static bool change_finished(struct bench *b, void *arg)
{
    (void)b;
    return ((struct change_wait *)arg)->calls > 0;
}

static void define_and_wait(struct bench *b, const struct rshare_volume_desc *v)
{
    struct change_wait w = {0};
    if (rshare_volume_define(b->node, v, change_done, &w) < 0)
        die("rshare_volume_define: %s", rshare_node_errmsg(b->node));
    run_until(b, change_finished, &w, 30, "the volume definition");
    if (w.status < 0)
        die("volume definition refused: %s (%s)", rshare_strerror(w.status),
            rshare_node_errmsg(b->node));
}

static int find_volume(struct bench *b, struct rshare_volume_desc *out)
{
    struct rshare_volume_desc v[8];
    size_t n = 0;
    if (rshare_volume_list(b->node, v, 8, sizeof(v[0]), &n) < 0)
        return -1;
    for (size_t i = 0; i < n && i < 8; i++)
        if (v[i].id == b->vol_id || (!b->vol_id && strcmp(v[i].name, "bench") == 0)) {
            *out = v[i];
            return 0;
        }
    return -1;
}

static void on_progress(rshare_volume *vol, int status, uint64_t done, uint64_t total, void *ud)
{
    (void)vol;
    struct bench *b = ud;
    if (b->rebuild_seen_at == 0)
        b->rebuild_seen_at = now_s();
    if (status < 0) {
        b->rebuild_status = status;
        b->rebuilt = true;
    } else if (total && done == total) {
        b->rebuilt = true;
    }
}

/* Fork the member processes and bring the cluster up, define and open. */
static void setup_cluster(struct bench *b)
{
    const struct options *o = b->o;
    int up[DISKS][2], down[DISKS][2];
    for (uint32_t i = 0; i < DISKS; i++) {
        if (pipe(up[i]) < 0 || pipe(down[i]) < 0)
            die("pipe: %s", strerror(errno));
        pid_t pid = fork_child();
        if (pid == 0) {
            close(up[i][0]);
            close(down[i][1]);
            member_main(i + 1, b->files[i], o->mtu, o->socket_buffer_mib, up[i][1], down[i][0]);
        }
        b->pids[i] = pid;
        close(up[i][1]);
        close(down[i][0]);
    }
    char addrs[DISKS][64];
    for (uint32_t i = 0; i < DISKS; i++) {
        if (read(up[i][0], addrs[i], sizeof(addrs[i])) != (ssize_t)sizeof(addrs[i]))
            die("member %u did not start", i + 1);
        addrs[i][63] = '\0';
        close(up[i][0]);
    }

    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = BENCH_NODE;
    cfg.slot = 0;
    cfg.state_dir = b->state_dir;
    cfg.log.max_level = RSHARE_LOG_ERROR;
    if (rshare_node_create(&cfg, &b->node) < 0)
        die("rshare_node_create failed");
    struct rshare_udp_config udp;
    rshare_udp_config_init(&udp, sizeof(udp));
    udp.bind_address = "127.0.0.1:0";
    udp.mtu = o->mtu;
    udp.socket_buffer_bytes = o->socket_buffer_mib << 20;
    int t = rshare_node_add_udp(b->node, &udp);
    char mine[64] = "";
    if (t < 0 || rshare_udp_local_address(b->node, t, mine, sizeof(mine)) < 0)
        die("UDP: %s", rshare_node_errmsg(b->node));
    for (uint32_t i = 0; i < DISKS; i++) {
        if (rshare_node_add_peer(b->node, i + 1, t, addrs[i]) < 0)
            die("add_peer: %s", rshare_node_errmsg(b->node));
        if (write(down[i][1], mine, sizeof(mine)) != (ssize_t)sizeof(mine))
            die("member %u: pipe", i + 1);
        close(down[i][1]);
    }
    join_alone(b->node, BENCH_NODE, RSHARE_CAP_VOLUMES);
    run_until(b, cluster_ready, NULL, 60, "the member disks in the map");

    struct rshare_volume_desc v;
    rshare_volume_desc_init(&v, sizeof(v));
    snprintf(v.name, sizeof(v.name), "bench");
    v.layout = RSHARE_LAYOUT_RAID5;
    v.algorithm = RSHARE_RAID5_LEFT_SYMMETRIC;
    v.chunk_sectors = o->chunk_kib * 2u;
    v.member_count = MEMBERS;
    for (uint32_t i = 0; i < MEMBERS; i++)
        v.members[i] = b->res[i];
    v.spare_count = 1;
    v.spares[0] = b->res[MEMBERS];
    define_and_wait(b, &v);
    struct rshare_volume_desc got;
    if (find_volume(b, &got) < 0)
        die("the volume is not in the map");
    b->vol_id = got.id;

    struct rshare_volume_config vc;
    rshare_volume_config_init(&vc, sizeof(vc));
    vc.progress = on_progress;
    vc.progress_data = b;
    if (rshare_volume_open(b->node, "bench", &vc, &b->vol) < 0)
        die("rshare_volume_open: %s", rshare_node_errmsg(b->node));
    b->vol_bytes = rshare_volume_size(b->vol);
}

/* --- rshare measurements --------------------------------------------------------------------- */

struct io_run {
    struct bench *b;
    bool write, random;
    uint64_t next, end, seed;
    double deadline;
    uint32_t inflight;
    uint64_t completed, bytes;
    int status;
    uint8_t *bufs;
    size_t io;
    struct slot {
        struct io_run *run;
        uint64_t offset;
    } slots[MAX_DEPTH];
};

static void io_submit(struct io_run *r, struct slot *s);

static void io_done(rshare_volume *vol, int status, void *ud)
{
    (void)vol;
    struct slot *s = ud;
    struct io_run *r = s->run;
    r->inflight--;
    if (status < 0 && r->status == 0)
        r->status = status;
    r->completed++;
    r->bytes += r->io;
    if (r->status == 0)
        io_submit(r, s);
}

static void io_submit(struct io_run *r, struct slot *s)
{
    uint64_t off;
    if (r->random) {
        if (now_s() >= r->deadline)
            return;
        off = xorshift(&r->seed) % (r->b->vol_bytes / r->io) * r->io;
    } else {
        if (r->next >= r->end)
            return;
        off = r->next;
        r->next += r->io;
    }
    s->offset = off;
    size_t len = r->end && off + r->io > r->end ? (size_t)(r->end - off) : r->io;
    uint8_t *buf = r->bufs + (size_t)(s - r->slots) * r->io;
    int rc = r->write ? rshare_volume_write(r->b->vol, off, r->b->src + off, len, io_done, s)
                      : rshare_volume_read(r->b->vol, off, buf, len, io_done, s);
    if (rc < 0) {
        r->status = rc;
        return;
    }
    r->inflight++;
}

/* UDP datagrams the kernel dropped for want of receive-buffer room, on
 * the whole machine (/proc/net/snmp, Udp: RcvbufErrors). */
static uint64_t udp_rcvbuf_errors(void)
{
    FILE *f = fopen("/proc/net/snmp", "r");
    if (!f)
        return 0;
    char head[1024], vals[1024];
    uint64_t v = 0;
    while (fgets(head, sizeof(head), f) && fgets(vals, sizeof(vals), f)) {
        if (strncmp(head, "Udp:", 4) != 0)
            continue;
        int col = 0;
        for (char *h = strtok(head, " \n"); h; h = strtok(NULL, " \n"), col++)
            if (strcmp(h, "RcvbufErrors") == 0)
                break;
        char *x = strtok(vals, " \n");
        for (int i = 0; x && i < col; i++)
            x = strtok(NULL, " \n");
        v = x ? strtoull(x, NULL, 10) : 0;
        break;
    }
    fclose(f);
    return v;
}

struct cpu_mark {
    double t, self, members;
    uint64_t drops;
};

static void cpu_mark(struct bench *b, struct cpu_mark *m)
{
    m->t = now_s();
    m->drops = udp_rcvbuf_errors();
    m->self = self_cpu_s();
    m->members = 0;
    for (uint32_t i = 0; i < DISKS; i++)
        m->members += proc_cpu_s(b->pids[i]);
}

/* Between two marks: CPU use in % of one CPU (this process, the members),
 * UDP datagrams dropped, and the CPU seconds this process and the members
 * used. */
static void cpu_use(const struct cpu_mark *a, const struct cpu_mark *z, double out[5])
{
    double t = z->t - a->t;
    out[0] = t > 0 ? 100 * (z->self - a->self) / t : 0;
    out[1] = t > 0 ? 100 * (z->members - a->members) / t : 0;
    out[2] = (double)(z->drops - a->drops);
    out[3] = z->self - a->self;
    out[4] = z->members - a->members;
}

/* One pass or timed random run; returns MB/s (sequential) or IOPS (random). */
static double rshare_io(struct bench *b, bool write, bool random, double cpu[5], double *work)
{
    struct io_run *r = calloc(1, sizeof(*r));
    if (!r)
        die("out of memory");
    r->b = b;
    r->write = write;
    r->random = random;
    r->io = random ? RAND_IO : SEQ_IO;
    r->end = random ? 0 : b->vol_bytes;
    r->seed = 0x9e3779b97f4a7c15ull ^ (uint64_t)(now_s() * 1e6);
    uint32_t depth = random ? RAND_DEPTH : b->o->seq_depth;
    if (posix_memalign((void **)&r->bufs, 4096, (size_t)depth * r->io) != 0)
        die("out of memory");
    struct cpu_mark m0, m1;
    cpu_mark(b, &m0);
    double t0 = now_s();
    r->deadline = t0 + b->o->rand_seconds;
    for (uint32_t i = 0; i < depth; i++) {
        r->slots[i].run = r;
        io_submit(r, &r->slots[i]);
    }
    while (r->inflight)
        rshare_node_run(b->node, 100);
    double t = now_s() - t0;
    cpu_mark(b, &m1);
    cpu_use(&m0, &m1, cpu);
    if (r->status < 0)
        die("volume %s failed: %s (%s)", write ? "write" : "read", rshare_strerror(r->status),
            rshare_node_errmsg(b->node));
    double v = random ? (double)r->completed / t : (double)r->bytes / t / 1e6;
    *work = random ? (double)r->completed / 1e6 : (double)r->bytes / 1e9;
    free(r->bufs);
    free(r);
    return v;
}

/* Read the whole volume back and compare it with the source file. */
static void verify_volume(struct bench *b)
{
    uint8_t *buf = malloc(SEQ_IO);
    if (!buf)
        die("out of memory");
    for (uint64_t off = 0; off < b->vol_bytes; off += SEQ_IO) {
        size_t len = b->vol_bytes - off < SEQ_IO ? (size_t)(b->vol_bytes - off) : SEQ_IO;
        int rc = rshare_volume_read_sync(b->vol, off, buf, len);
        if (rc < 0)
            die("verify read: %s", rshare_strerror(rc));
        if (memcmp(buf, b->src + off, len) != 0)
            die("the volume differs from the source at byte %llu", (unsigned long long)off);
    }
    free(buf);
}

static bool volume_settled(struct bench *b, void *arg)
{
    (void)arg;
    struct rshare_volume_status st;
    memset(&st, 0, sizeof(st));
    st.struct_size = sizeof(st);
    struct rshare_volume_desc d;
    if (rshare_volume_get_status(b->vol, &st) < 0 || st.state != RSHARE_VOLUME_OPTIMAL ||
        find_volume(b, &d) < 0)
        return false;
    for (uint32_t i = 0; i < d.member_count; i++)
        if (d.member_state[i] != RSHARE_VOLUME_MEMBER_ACTIVE)
            return false;
    return true;
}

static int disk_of(struct bench *b, uint64_t res)
{
    for (int i = 0; i < DISKS; i++)
        if (b->res[i] == res)
            return i;
    return -1;
}

static bool files_equal(const char *a, const char *z, uint64_t bytes)
{
    int fa = open(a, O_RDONLY), fz = open(z, O_RDONLY);
    bool same = fa >= 0 && fz >= 0;
    uint8_t *ma = same ? mmap(NULL, bytes, PROT_READ, MAP_SHARED, fa, 0) : MAP_FAILED;
    uint8_t *mz = same ? mmap(NULL, bytes, PROT_READ, MAP_SHARED, fz, 0) : MAP_FAILED;
    same = ma != MAP_FAILED && mz != MAP_FAILED && memcmp(ma, mz, bytes) == 0;
    if (ma != MAP_FAILED)
        munmap(ma, bytes);
    if (mz != MAP_FAILED)
        munmap(mz, bytes);
    if (fa >= 0)
        close(fa);
    if (fz >= 0)
        close(fz);
    return same;
}

/* Fail slot 0, time the rebuild onto the spare; then make the failed disk
 * the spare again.  Returns MB/s of the member rebuilt. */
static double rshare_rebuild(struct bench *b, bool check, double cpu[5], double *start_delay)
{
    struct rshare_volume_desc d;
    if (find_volume(b, &d) < 0 || d.spare_count != 1)
        die("the volume has no spare");
    int old_disk = disk_of(b, d.members[0]), new_disk = disk_of(b, d.spares[0]);
    b->rebuilt = false;
    b->rebuild_status = 0;
    b->rebuild_seen_at = 0;
    struct cpu_mark m0, m1;
    cpu_mark(b, &m0);
    double t0 = now_s();
    if (rshare_volume_fail_member(b->vol, 0) < 0)
        die("fail_member: %s", rshare_node_errmsg(b->node));
    while (!b->rebuilt)
        rshare_node_run(b->node, 100);
    double t = now_s() - t0;
    cpu_mark(b, &m1);
    cpu_use(&m0, &m1, cpu);
    *start_delay = b->rebuild_seen_at - t0;
    if (b->rebuild_status < 0)
        die("rebuild stopped: %s", rshare_strerror(b->rebuild_status));
    run_until(b, volume_settled, NULL, 30, "the rebuilt member to be active in the map");
    if (check && old_disk >= 0 && new_disk >= 0 &&
        !files_equal(b->files[old_disk], b->files[new_disk], b->o->member_bytes))
        die("the rebuilt disk %d differs from the disk %d it replaced", new_disk + 1,
            old_disk + 1);
    /* The failed disk becomes the spare for the next round. */
    if (find_volume(b, &d) < 0)
        die("the volume left the map");
    d.spare_count = 1;
    d.spares[0] = b->res[old_disk];
    define_and_wait(b, &d);
    return (double)b->o->member_bytes / t / 1e6;
}

/* --- anchors ------------------------------------------------------------------------------ */

static int free_tcp_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        getsockname(s, (struct sockaddr *)&a, &len) < 0)
        die("no free TCP port: %s", strerror(errno));
    close(s);
    return ntohs(a.sin_port);
}

static bool nbd_connectable(struct bench *b)
{
    int s;
    int rc;
    if (b->o->unix_socket) {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        if (strlen(b->sock_path) >= sizeof(a.sun_path))
            die("%s: too long for a Unix socket", b->sock_path);
        memcpy(a.sun_path, b->sock_path, strlen(b->sock_path) + 1);
        s = socket(AF_UNIX, SOCK_STREAM, 0);
        rc = s < 0 ? -1 : connect(s, (struct sockaddr *)&a, sizeof(a));
    } else {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                                .sin_port = htons((uint16_t)b->nbd_port)};
        s = socket(AF_INET, SOCK_STREAM, 0);
        rc = s < 0 ? -1 : connect(s, (struct sockaddr *)&a, sizeof(a));
    }
    if (s >= 0)
        close(s);
    return rc == 0;
}

/* nbdkit's memory plugin, the size of the volume; false if nbdkit is missing. */
static bool start_nbdkit(struct bench *b)
{
    if (!have_tool("nbdkit")) {
        note("nbdkit not found: the NBD anchors are skipped (Debian: nbdkit)");
        return false;
    }
    char size[32], port[16];
    snprintf(size, sizeof(size), "size=%llu", (unsigned long long)b->vol_bytes);
    char *argv[12];
    int n = 0;
    argv[n++] = "nbdkit";
    argv[n++] = "-f";
    argv[n++] = "--exit-with-parent";
    if (b->o->unix_socket) {
        snprintf(b->sock_path, sizeof(b->sock_path), "%.400s/nbd.sock", b->o->dir);
        argv[n++] = "-U";
        argv[n++] = b->sock_path;
        snprintf(b->uri, sizeof(b->uri), "nbd+unix:///?socket=%s", b->sock_path);
    } else {
        b->nbd_port = free_tcp_port();
        snprintf(port, sizeof(port), "%d", b->nbd_port);
        argv[n++] = "-i";
        argv[n++] = "127.0.0.1";
        argv[n++] = "-p";
        argv[n++] = port;
        snprintf(b->uri, sizeof(b->uri), "nbd://127.0.0.1:%d", b->nbd_port);
    }
    argv[n++] = "memory";
    argv[n++] = size;
    argv[n] = NULL;
    if (posix_spawnp(&b->nbdkit, "nbdkit", NULL, NULL, argv, environ) != 0) {
        note("nbdkit could not be started: the NBD anchors are skipped");
        return false;
    }
    for (int i = 0; i < 500; i++) {
        if (nbd_connectable(b))
            return true;
        if (waitpid(b->nbdkit, NULL, WNOHANG) == b->nbdkit)
            break;
        usleep(10000);
    }
    note("nbdkit did not come up: the NBD anchors are skipped");
    kill(b->nbdkit, SIGTERM);
    b->nbdkit = 0;
    return false;
}

/* nbdkit's CPU seconds so far. */
static double nbdkit_cpu_s(struct bench *b)
{
    return b->nbdkit ? proc_cpu_s(b->nbdkit) : 0;
}

/* nbdcopy one way; returns MB/s or a negative value on failure.  `cpu`:
 * CPU seconds of the tool and of nbdkit. */
static double nbdcopy(struct bench *b, bool write, double cpu[2])
{
    char *argv[] = {"nbdcopy", "--request-size=1048576", write ? b->src_file : b->uri,
                    write ? b->uri : "null:", NULL};
    double k0 = nbdkit_cpu_s(b), t0 = now_s();
    int rc = run_cmd(argv, NULL, 0, &cpu[0]);
    double t = now_s() - t0;
    cpu[1] = nbdkit_cpu_s(b) - k0;
    if (rc != 0) {
        note("nbdcopy failed (exit %d)", rc);
        return -1;
    }
    return (double)b->vol_bytes / t / 1e6;
}

/* fio 4 KiB random reads, queue depth 32; IOPS or negative.  `cpu` and
 * `ios` as for nbdcopy, and the reads done. */
static double fio_randread(struct bench *b, double cpu[2], double *ios)
{
    char uri[700], runtime[32], depth[32];
    snprintf(uri, sizeof(uri), "--uri=%s", b->uri);
    snprintf(runtime, sizeof(runtime), "--runtime=%.0fms", b->o->rand_seconds * 1000);
    snprintf(depth, sizeof(depth), "--iodepth=%u", RAND_DEPTH);
    char *argv[] = {"fio", "--name=randread", "--ioengine=nbd", uri, "--rw=randread", "--bs=4k",
                    depth, "--time_based=1", runtime, "--output-format=terse",
                    "--terse-version=3", NULL};
    static char out[65536];
    double k0 = nbdkit_cpu_s(b);
    int rc = run_cmd(argv, out, sizeof(out), &cpu[0]);
    cpu[1] = nbdkit_cpu_s(b) - k0;
    if (rc != 0) {
        note("fio failed (exit %d)", rc);
        return -1;
    }
    /* terse v3: version;fio;jobname;group;error;read_kb;read_bw;read_iops;
     * read_runtime_ms;... */
    const char *p = out;
    double f[10] = {0};
    for (int field = 1; field <= 9 && p; field++) {
        f[field] = strtod(p, NULL);
        p = strchr(p, ';');
        if (p)
            p++;
    }
    *ios = f[8] * f[9] / 1000;
    return p ? f[8] : -1;
}

/* Copy one member file to another with 1 MiB pread/pwrite; MB/s, and the
 * CPU seconds it took. */
static double copy_member(struct bench *b, const char *from, double cpu[2])
{
    int in = open(from, O_RDONLY), out = open(b->copy_file, O_WRONLY);
    uint8_t *buf = malloc(SEQ_IO);
    if (in < 0 || out < 0 || !buf)
        die("copy: %s", strerror(errno));
    double c0 = self_cpu_s(), t0 = now_s();
    for (uint64_t off = 0; off < b->o->member_bytes; off += SEQ_IO) {
        if (pread(in, buf, SEQ_IO, (off_t)off) != (ssize_t)SEQ_IO ||
            pwrite(out, buf, SEQ_IO, (off_t)off) != (ssize_t)SEQ_IO)
            die("copy: %s", strerror(errno));
    }
    double t = now_s() - t0;
    cpu[0] = self_cpu_s() - c0;
    cpu[1] = 0;
    close(in);
    close(out);
    free(buf);
    return (double)b->o->member_bytes / t / 1e6;
}

/* --- results --------------------------------------------------------------------------------- */

enum figure { F_WRITE, F_READ, F_RAND, F_REBUILD, F_COUNT };

static const struct {
    const char *key, *label, *unit, *anchor;
    double target;
} figures[F_COUNT] = {
    {"write", "sequential write, 1 MiB", "MB/s", "nbdcopy file → nbdkit memory", 1.0},
    {"read", "sequential read, 1 MiB", "MB/s", "nbdcopy nbdkit memory → null:", 1.0},
    {"rand", "random read, 4 KiB, QD 32", "IOPS", "fio --ioengine=nbd, nbdkit memory", 1.0},
    {"rebuild", "rebuild of one member", "MB/s", "1 MiB pread/pwrite copy of a member file", 0.8},
};

struct series {
    double rs[MAX_ROUNDS], anchor[MAX_ROUNDS], ratio[MAX_ROUNDS];
    double cpu_self[MAX_ROUNDS], cpu_members[MAX_ROUNDS], drops[MAX_ROUNDS], extra[MAX_ROUNDS];
    /* CPU seconds per GB (per million I/Os for random reads): rshare's
     * engine and members; the anchor's tool and server (nbdkit). */
    double cpu_rs[2][MAX_ROUNDS], cpu_anchor[2][MAX_ROUNDS];
    uint32_t n, n_anchor;
    /* The UDP floor (udp_floor.h) of the same round: MB/s, floor / anchor,
     * rshare / floor, CPU seconds per GB. */
    double floor[MAX_ROUNDS], floor_anchor[MAX_ROUNDS], rs_floor[MAX_ROUNDS], cpu_floor[MAX_ROUNDS];
    uint32_t n_floor;
};

static void fmt_value(char *out, size_t len, double v, const char *unit)
{
    if (strcmp(unit, "IOPS") == 0)
        snprintf(out, len, "%.0fk IOPS", v / 1000);
    else
        snprintf(out, len, "%.0f MB/s", v);
}

/* The second table: what moving the same bytes over UDP loopback costs at
 * the least, against the anchor and against rshare. */
static void report_floor(const struct series *s)
{
    bool any = false;
    for (int f = 0; f < F_COUNT; f++) {
        const struct series *x = &s[f];
        if (!x->n_floor || x->n_floor != x->n)
            continue;
        if (!any)
            printf("| figure | UDP floor | floor / anchor | rshare / floor | CPU s per GB: "
                   "rshare, floor |\n|---|---:|---:|---:|---|\n");
        any = true;
        double m, lo, hi, fa = 0, falo = 0, fahi = 0, rf, rflo, rfhi, c, e, k;
        char v[32], fa_s[48] = "–";
        stats(x->floor, x->n, &m, &lo, &hi);
        fmt_value(v, sizeof(v), m, figures[f].unit);
        if (x->n_anchor == x->n) {
            stats(x->floor_anchor, x->n, &fa, &falo, &fahi);
            snprintf(fa_s, sizeof(fa_s), "%.2f× (%.2f–%.2f)", fa, falo, fahi);
        }
        stats(x->rs_floor, x->n, &rf, &rflo, &rfhi);
        stats(x->cpu_floor, x->n, &c, &lo, &hi);
        stats(x->cpu_rs[0], x->n, &e, &lo, &hi);
        stats(x->cpu_rs[1], x->n, &k, &lo, &hi);
        printf("| %s | %s | %s | %.2f× (%.2f–%.2f) | %.2f, %.2f |\n", figures[f].label, v, fa_s,
               rf, rflo, rfhi, e + k, c);
    }
    if (any)
        printf("\n");
}

static void report(struct bench *b, struct series *s)
{
    const struct options *o = b->o;
    printf("| figure | rshare | anchor | ratio | target | spread (min–max over %u rounds) |\n",
           o->rounds);
    printf("|---|---:|---:|---:|---:|---|\n");
    for (int f = 0; f < F_COUNT; f++) {
        struct series *x = &s[f];
        if (!x->n)
            continue;
        double m, lo, hi, am = 0, alo = 0, ahi = 0, rm = 0, rlo = 0, rhi = 0;
        stats(x->rs, x->n, &m, &lo, &hi);
        char v[32], vlo[32], vhi[32], a[64] = "skipped", alo_s[32], ahi_s[32], ratio[48] = "–";
        fmt_value(v, sizeof(v), m, figures[f].unit);
        fmt_value(vlo, sizeof(vlo), lo, figures[f].unit);
        fmt_value(vhi, sizeof(vhi), hi, figures[f].unit);
        char spread[256];
        snprintf(spread, sizeof(spread), "rshare %s–%s", vlo, vhi);
        if (x->n_anchor == x->n) {
            stats(x->anchor, x->n, &am, &alo, &ahi);
            stats(x->ratio, x->n, &rm, &rlo, &rhi);
            fmt_value(a, sizeof(a), am, figures[f].unit);
            fmt_value(alo_s, sizeof(alo_s), alo, figures[f].unit);
            fmt_value(ahi_s, sizeof(ahi_s), ahi, figures[f].unit);
            snprintf(ratio, sizeof(ratio), "%.2f×%s", rm,
                     rm >= figures[f].target ? "" : " (missed)");
            size_t l = strlen(spread);
            snprintf(spread + l, sizeof(spread) - l, "; anchor %s–%s; ratio %.2f–%.2f", alo_s,
                     ahi_s, rlo, rhi);
        }
        printf("| %s | %s | %s (%s) | %s | ≥ %.1f× | %s |\n", figures[f].label, v, a,
               figures[f].anchor, ratio, figures[f].target, spread);
    }
    printf("\n");
    report_floor(s);
    for (int f = 0; f < F_COUNT; f++) {
        struct series *x = &s[f];
        if (!x->n)
            continue;
        double sm, cm, dm, lo, hi;
        stats(x->cpu_self, x->n, &sm, &lo, &hi);
        stats(x->cpu_members, x->n, &cm, &lo, &hi);
        stats(x->drops, x->n, &dm, &lo, &hi);
        printf("- %s: the benchmark process (volume engine) used %.0f %% of a CPU, the five "
               "member processes %.0f %% together; %.0f UDP datagrams dropped for a full "
               "receive buffer (%.0f–%.0f; medians over the rounds)",
               figures[f].label, sm, cm, dm, lo, hi);
        if (f == F_REBUILD) {
            stats(x->extra, x->n, &dm, &lo, &hi);
            printf("; the first progress report came %.0f ms after "
                   "rshare_volume_fail_member()",
                   dm * 1000);
        }
        const char *per = f == F_RAND ? "per million reads" : "per GB";
        double e, m;
        stats(x->cpu_rs[0], x->n, &e, &lo, &hi);
        stats(x->cpu_rs[1], x->n, &m, &lo, &hi);
        printf(". CPU seconds %s: rshare %.2f (engine %.2f, members %.2f)", per, e + m, e, m);
        if (x->n_anchor == x->n) {
            double t, k;
            stats(x->cpu_anchor[0], x->n, &t, &lo, &hi);
            stats(x->cpu_anchor[1], x->n, &k, &lo, &hi);
            if (f == F_REBUILD)
                printf(", the copy %.2f", t);
            else
                printf(", anchor %.2f (%s %.2f, nbdkit %.2f)", t + k,
                       f == F_RAND ? "fio" : "nbdcopy", t, k);
        }
        printf(".\n");
    }
    struct rshare_volume_status st;
    memset(&st, 0, sizeof(st));
    st.struct_size = sizeof(st);
    if (rshare_volume_get_status(b->vol, &st) == 0)
        printf("- Volume counters over the whole run: %llu reads, %llu writes; RAID-5 rows "
               "written as full stripes %llu, read-modify-write %llu, reconstruct-write %llu; "
               "member retries %llu, degraded reads %llu.\n",
               (unsigned long long)st.reads, (unsigned long long)st.writes,
               (unsigned long long)st.full_stripe_writes, (unsigned long long)st.rmw_writes,
               (unsigned long long)st.rcw_writes, (unsigned long long)st.member_retries,
               (unsigned long long)st.degraded_reads);
}

/* --- set-up of files and the whole run -------------------------------------------------------- */

static void parse_options(int argc, char **argv, struct options *o);

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static char dir_buf[512];

/* At exit (also after die()): the directory this run created, if any. */
static void remove_dir(void)
{
    if (dir_buf[0] && nftw(dir_buf, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        note("could not remove %s", dir_buf);
}

int main(int argc, char **argv)
{
    struct options o;
    parse_options(argc, argv, &o);
    signal(SIGPIPE, SIG_IGN);
    if (!o.dir) {
        struct stat sb;
        const char *base = stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) ? "/dev/shm"
                           : getenv("TMPDIR")                                  ? getenv("TMPDIR")
                                                                               : "/tmp";
        snprintf(dir_buf, sizeof(dir_buf), "%s/rshare-bench-volume.XXXXXX", base);
        if (!mkdtemp(dir_buf)) {
            int e = errno;
            dir_buf[0] = '\0';
            die("mkdtemp: %s", strerror(e));
        }
        o.dir = dir_buf;
        atexit(remove_dir);
    }
    static struct bench b;
    b.o = &o;
    for (int i = 0; i < DISKS; i++) {
        snprintf(b.files[i], sizeof(b.files[i]), "%.400s/disk%d.img", o.dir, i + 1);
        make_file(b.files[i], o.member_bytes, false);
    }
    snprintf(b.state_dir, sizeof(b.state_dir), "%.400s/state", o.dir);
    snprintf(b.src_file, sizeof(b.src_file), "%.400s/source.img", o.dir);
    snprintf(b.copy_file, sizeof(b.copy_file), "%.400s/copy.img", o.dir);
    if (mkdir(b.state_dir, 0700) < 0 && errno != EEXIST)
        die("%s: %s", b.state_dir, strerror(errno));
    make_file(b.copy_file, o.member_bytes, false);
    if (!o.no_floor && (wanted(&o, "write") || wanted(&o, "read") || wanted(&o, "rebuild")))
        b.floor = udp_floor_start(o.dir, o.member_bytes, o.chunk_kib * 1024u);

    note("starting 5 member nodes and the volume (%llu MiB members, %u KiB chunks, MTU %u)",
         (unsigned long long)(o.member_bytes >> 20), o.chunk_kib, o.mtu);
    setup_cluster(&b);
    make_file(b.src_file, b.vol_bytes, true);
    int sfd = open(b.src_file, O_RDONLY);
    b.src = sfd < 0 ? MAP_FAILED : mmap(NULL, b.vol_bytes, PROT_READ, MAP_SHARED | MAP_POPULATE,
                                        sfd, 0);
    if (b.src == MAP_FAILED)
        die("mmap %s: %s", b.src_file, strerror(errno));

    bool nbd = (wanted(&o, "write") || wanted(&o, "read") || wanted(&o, "rand")) &&
               start_nbdkit(&b);
    bool have_nbdcopy = nbd && have_tool("nbdcopy"), have_fio = nbd && have_tool("fio");
    if (nbd && !have_nbdcopy)
        note("nbdcopy not found: the sequential anchors are skipped (Debian: libnbd-bin)");
    if (nbd && !have_fio)
        note("fio not found: the random-read anchor is skipped (Debian: fio)");

    /* Untimed first pass: allocate memory on both sides, then check. */
    double cpu[5], acpu[2], delay, work, awork;
    note("first pass: writing the volume (%llu MiB) and checking it",
         (unsigned long long)(b.vol_bytes >> 20));
    rshare_io(&b, true, false, cpu, &work);
    verify_volume(&b);
    if (have_nbdcopy)
        nbdcopy(&b, true, acpu);
    else if (have_fio)
        note("nbdkit's disk is not written: fio reads zeroes");

    static struct series s[F_COUNT];
    for (uint32_t r = 0; r < o.rounds; r++) {
        for (int f = 0; f < F_COUNT; f++) {
            if (!wanted(&o, figures[f].key))
                continue;
            struct series *x = &s[f];
            double v = 0, a = -1, fl = -1, fcpu[2] = {0, 0};
            awork = (double)b.vol_bytes / 1e9;
            switch (f) {
            case F_WRITE:
                v = rshare_io(&b, true, false, cpu, &work);
                if (have_nbdcopy)
                    a = nbdcopy(&b, true, acpu);
                if (b.floor)
                    fl = udp_floor_write(b.floor, b.src, fcpu);
                break;
            case F_READ:
                v = rshare_io(&b, false, false, cpu, &work);
                if (have_nbdcopy)
                    a = nbdcopy(&b, false, acpu);
                if (b.floor)
                    fl = udp_floor_read(b.floor, fcpu);
                break;
            case F_RAND:
                v = rshare_io(&b, false, true, cpu, &work);
                if (have_fio) {
                    a = fio_randread(&b, acpu, &awork);
                    awork /= 1e6;
                }
                break;
            case F_REBUILD: {
                v = rshare_rebuild(&b, r == 0, cpu, &delay);
                work = awork = (double)o.member_bytes / 1e9;
                struct rshare_volume_desc d;
                find_volume(&b, &d);
                a = copy_member(&b, b.files[disk_of(&b, d.members[1])], acpu);
                x->extra[x->n] = delay;
                if (b.floor) {
                    fl = udp_floor_rebuild(b.floor, fcpu);
                    if (r == 0 && !udp_floor_rebuilt_ok(b.floor))
                        die("UDP floor: the rebuilt file differs from the member it replaces");
                }
                break;
            }
            }
            x->cpu_rs[0][x->n] = cpu[3] / work;
            x->cpu_rs[1][x->n] = cpu[4] / work;
            if (a > 0 && awork > 0) {
                x->cpu_anchor[0][x->n_anchor] = acpu[0] / awork;
                x->cpu_anchor[1][x->n_anchor] = acpu[1] / awork;
            }
            if (fl > 0) {
                x->floor[x->n_floor] = fl;
                x->rs_floor[x->n_floor] = v / fl;
                x->floor_anchor[x->n_floor] = a > 0 ? fl / a : 0;
                x->cpu_floor[x->n_floor] = (fcpu[0] + fcpu[1]) / work;
                x->n_floor++;
            }
            x->rs[x->n] = v;
            x->cpu_self[x->n] = cpu[0];
            x->cpu_members[x->n] = cpu[1];
            x->drops[x->n] = cpu[2];
            if (a > 0) {
                x->anchor[x->n] = a;
                x->ratio[x->n] = v / a;
                x->n_anchor++;
            }
            x->n++;
            note("round %u: %s: rshare %.1f, anchor %s%.1f, UDP floor %s%.1f", r + 1,
                 figures[f].key, v, a > 0 ? "" : "(none) ", a > 0 ? a : 0.0,
                 fl > 0 ? "" : "(none) ", fl > 0 ? fl : 0.0);
        }
    }
    report(&b, s);

    rshare_volume_close(b.vol);
    rshare_node_destroy(b.node);
    for (int i = 0; i < DISKS; i++) {
        kill(b.pids[i], SIGTERM);
        waitpid(b.pids[i], NULL, 0);
    }
    if (b.floor)
        udp_floor_stop(b.floor);
    if (b.nbdkit) {
        kill(b.nbdkit, SIGTERM);
        waitpid(b.nbdkit, NULL, 0);
    }
    munmap((void *)b.src, b.vol_bytes);
    close(sfd);
    return 0; /* remove_dir() runs at exit */
}

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_volume [--member-mib N] [--chunk-kib K] [--mtu BYTES] [--rounds R]\n"
            "                    [--seq-depth D] [--rand-seconds S] [--dir DIR] [--unix]\n"
            "                    [--only write,read,rand,rebuild]"
            " [--socket-buffer-mib N] [--no-floor]\n");
    exit(2);
}

static void parse_options(int argc, char **argv, struct options *o)
{
    static const struct option opts[] = {
        {"member-mib", 1, NULL, 'm'}, {"chunk-kib", 1, NULL, 'c'},    {"mtu", 1, NULL, 'u'},
        {"rounds", 1, NULL, 'r'},     {"seq-depth", 1, NULL, 'd'},
        {"rand-seconds", 1, NULL, 's'},
        {"dir", 1, NULL, 'D'},        {"unix", 0, NULL, 'U'},         {"only", 1, NULL, 'o'},
        {"socket-buffer-mib", 1, NULL, 'b'}, {"no-floor", 0, NULL, 'F'},
        {"help", 0, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof(*o));
    o->member_bytes = 256ull << 20;
    o->chunk_kib = 64;
    o->mtu = 65507;
    o->rounds = 3;
    o->seq_depth = 16;
    o->rand_seconds = 3;
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (c) {
        case 'm': o->member_bytes = strtoull(optarg, NULL, 10) << 20; break;
        case 'c': o->chunk_kib = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'u': o->mtu = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'r': o->rounds = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'd': o->seq_depth = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 's': o->rand_seconds = strtod(optarg, NULL); break;
        case 'D': o->dir = optarg; break;
        case 'U': o->unix_socket = 1; break;
        case 'o': o->only = optarg; break;
        case 'b': o->socket_buffer_mib = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'F': o->no_floor = 1; break;
        default: usage();
        }
    }
    if (optind != argc || o->member_bytes < (4u << 20) || o->member_bytes % SEQ_IO ||
        o->chunk_kib < 4 || (o->chunk_kib & (o->chunk_kib - 1)) || o->rounds < 1 ||
        o->rounds > MAX_ROUNDS || o->seq_depth < 1 || o->seq_depth > MAX_DEPTH ||
        o->rand_seconds <= 0)
        usage();
}
