/* Benchmark: memory per node.
 *
 *   tests/bench/bench_memory [--nodes N] [--volume-mib M] [--io-mib M]
 *
 * Two scenarios, each in its own child process so that each has its own
 * peak RSS (the kernel's ru_maxrss of the child):
 *
 * 1. Cluster map: N nodes (default 256) on the simulated loop network
 *    (virtual clock, 1 ms one way, no loss), three voters, the library's
 *    default cluster timers, as tests/bench/bench_cluster.c runs them; 20 s
 *    of virtual time to converge, then one resource registered on every
 *    node and 10 s more, so that the map holds N members and N resources.
 * 2. A busy RAID-5 volume: five nodes, nodes 1..4 share a memory disk of
 *    M MiB (default 16) each, node 1 opens a RAID-5 volume over the four
 *    (64 KiB chunks, left-symmetric) and runs random reads and writes of
 *    4 KiB..256 KiB, 16 in flight, half of them writes, until --io-mib MiB
 *    (default 256) have moved.
 *
 * Every node has its own allocator hook (struct rshare_allocator) that
 * counts the bytes the library holds through it: live now and the peak.
 * It counts rshare's own allocations; libraft's (its log and
 * configurations: libraft has its own process-wide heap hook) and libc's
 * inside other libraries are not in it, but are in the RSS.  Prints
 * markdown tables on stdout. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rshare/rshare.h"
#include "../sim/memory_store.h"

#define MAX_NODES 1024

/* --- counting allocator ------------------------------------------------------ */

struct account {
    uint64_t live, peak, calls;
    uint64_t largest; /* the largest single block */
};

/* A header before each block keeps its size, so free() knows it. */
#define HEADER 16u

static void *count_malloc(void *ud, size_t size)
{
    struct account *a = ud;
    uint8_t *p = malloc(size + HEADER);
    if (!p)
        return NULL;
    memcpy(p, &size, sizeof(size));
    a->live += size;
    a->calls++;
    if (size > a->largest)
        a->largest = size;
    if (a->live > a->peak)
        a->peak = a->live;
    return p + HEADER;
}

static void count_free(void *ud, void *ptr)
{
    struct account *a = ud;
    if (!ptr)
        return;
    uint8_t *p = (uint8_t *)ptr - HEADER;
    size_t size;
    memcpy(&size, p, sizeof(size));
    a->live -= size;
    free(p);
}

static void *count_realloc(void *ud, void *ptr, size_t size)
{
    struct account *a = ud;
    if (!ptr)
        return count_malloc(ud, size);
    uint8_t *p = (uint8_t *)ptr - HEADER;
    size_t old;
    memcpy(&old, p, sizeof(old));
    uint8_t *q = realloc(p, size + HEADER);
    if (!q)
        return NULL;
    memcpy(q, &size, sizeof(size));
    a->live = a->live - old + size;
    a->calls++;
    if (size > a->largest)
        a->largest = size;
    if (a->live > a->peak)
        a->peak = a->live;
    return q + HEADER;
}

static struct rshare_allocator counting(struct account *a)
{
    return (struct rshare_allocator){count_malloc, count_realloc, count_free, a};
}

/* --- helpers ------------------------------------------------------------------- */

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_memory: %s: %s\n", what, rc ? rshare_strerror(rc) : "failed");
    exit(1);
}

static int never(void *ud)
{
    (void)ud;
    return 0;
}

static void run_for(rshare_loop_net *net, rshare_node **nodes, size_t n, uint64_t us)
{
    int rc = rshare_loop_net_run(net, nodes, n, never, NULL, us);
    if (rc < 0 && rc != RSHARE_ETIMEDOUT)
        die("rshare_loop_net_run", rc);
}

static long rss_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t len = strlen(field);
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, field, len) && line[len] == ':')
            v = strtol(line + len + 1, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double kib(uint64_t bytes)
{
    return (double)bytes / 1024.0;
}

enum figure { LIVE, PEAK, LARGEST };

/* min / median / max of one figure over nodes [from, to). */
static void spread(const char *what, const struct account *acc, size_t from, size_t to,
                   enum figure f)
{
    uint64_t v[MAX_NODES];
    size_t n = 0;
    for (size_t i = from; i < to; i++)
        v[n++] = f == LIVE ? acc[i].live : f == PEAK ? acc[i].peak : acc[i].largest;
    qsort(v, n, sizeof(v[0]), cmp_u64);
    printf("| %s | %.1f | %.1f | %.1f |\n", what, kib(v[0]), kib(v[n / 2]), kib(v[n - 1]));
}

static void quiet_log(void *ud, enum rshare_log_level level, const char *message)
{
    (void)ud;
    (void)level;
    (void)message;
}

static rshare_node *make_node(rshare_loop_net *net, uint32_t id, struct account *acc,
                              struct memory_store *store, const uint32_t *voters,
                              uint32_t voter_count, uint64_t caps)
{
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = id;
    cfg.slot = (uint16_t)(id - 1);
    cfg.install_order = (uint16_t)(id - 1);
    cfg.clock = rshare_loop_net_clock(net);
    cfg.allocator = counting(acc);
    cfg.persist = memory_store_hook(store);
    cfg.log = (struct rshare_log){quiet_log, NULL, RSHARE_LOG_ERROR};
    rshare_node *node;
    int rc = rshare_node_create(&cfg, &node);
    if (rc < 0)
        die("rshare_node_create", rc);
    if ((rc = rshare_node_add_loop(node, net, id)) < 0)
        die("rshare_node_add_loop", rc);
    struct rshare_cluster_config cc;
    rshare_cluster_config_init(&cc, sizeof(cc));
    cc.manager_eligible = id <= voter_count;
    cc.initial_voters = voters;
    cc.initial_voter_count = voter_count;
    cc.capabilities = caps;
    if ((rc = rshare_cluster_join(node, &cc)) < 0)
        die(rshare_node_errmsg(node), rc);
    return node;
}

/* --- 1. the cluster map ----------------------------------------------------- */

static void scenario_map(size_t count)
{
    long rss_start = rss_kib("VmRSS");
    static rshare_node *nodes[MAX_NODES];
    static struct account acc[MAX_NODES];
    static struct memory_store stores[MAX_NODES];
    static const uint32_t voters[] = {1, 2, 3};
    rshare_loop_net *net;
    int rc = rshare_loop_net_create(7, &net);
    if (rc < 0)
        die("rshare_loop_net_create", rc);
    struct rshare_loop_link link;
    rshare_loop_link_init(&link, sizeof(link));
    link.delay_us = 1000;
    if ((rc = rshare_loop_net_set_default(net, &link)) < 0)
        die("rshare_loop_net_set_default", rc);
    for (size_t i = 0; i < count; i++)
        nodes[i] = make_node(net, (uint32_t)(i + 1), &acc[i], &stores[i], voters,
                             count < 3 ? (uint32_t)count : 3, 0);
    /* Start-up (node creation, joining) apart from running. */
    static struct account at_start[MAX_NODES];
    memcpy(at_start, acc, sizeof(acc[0]) * count);
    for (size_t i = 0; i < count; i++) {
        acc[i].peak = acc[i].live;
        acc[i].largest = 0;
    }
    run_for(net, nodes, count, 20000000u);
    for (size_t i = 0; i < count; i++) {
        struct rshare_resource_desc d;
        rshare_resource_desc_init(&d, sizeof(d));
        d.kind = RSHARE_RESOURCE_BLOCK;
        d.block_size = 512;
        d.block_count = 2048;
        snprintf(d.path, sizeof(d.path), "disk-of-%zu", i + 1);
        uint64_t id;
        if ((rc = rshare_resource_register(nodes[i], &d, &id)) < 0)
            die("rshare_resource_register", rc);
    }
    run_for(net, nodes, count, 10000000u);

    /* The map as the last node sees it. */
    size_t members = 0, resources = 0;
    rshare_cluster_members(nodes[count - 1], NULL, 0, sizeof(struct rshare_member), &members);
    rshare_resource_list(nodes[count - 1], 0, NULL, 0, sizeof(struct rshare_resource_desc),
                         &resources);
    uint32_t manager = rshare_cluster_manager(nodes[count - 1]);
    long rss_now = rss_kib("VmRSS");
    uint64_t total_live = 0, total_peak = 0;
    for (size_t i = 0; i < count; i++) {
        total_live += acc[i].live;
        total_peak += acc[i].peak;
    }

    printf("### Cluster map: %zu nodes on the loop network\n\n", count);
    printf("After 30 s of virtual time: manager node %u, the last node's map holds %zu "
           "members and %zu resources.\n\n",
           manager, members, resources);
    printf("| library accounting (KiB) | min | median | max |\n|---|---|---|---|\n");
    spread("start-up: peak (create + join)", at_start, 0, count, PEAK);
    spread("start-up: largest block", at_start, 0, count, LARGEST);
    spread("start-up: live after join", at_start, 0, count, LIVE);
    if (count > 3) {
        spread("voter (nodes 1-3): live at the end", acc, 0, 3, LIVE);
        spread("voter (nodes 1-3): peak while running", acc, 0, 3, PEAK);
        spread("voter (nodes 1-3): largest block while running", acc, 0, 3, LARGEST);
        spread("non-voter: live at the end", acc, 3, count, LIVE);
        spread("non-voter: peak while running", acc, 3, count, PEAK);
        spread("non-voter: largest block while running", acc, 3, count, LARGEST);
    } else {
        spread("node: live at the end", acc, 0, count, LIVE);
        spread("node: peak while running", acc, 0, count, PEAK);
        spread("node: largest block while running", acc, 0, count, LARGEST);
    }
    printf("\n| process | value |\n|---|---|\n");
    printf("| live through the hooks, all nodes | %.1f MiB |\n", kib(total_live) / 1024);
    printf("| sum of the nodes' peaks while running | %.1f MiB |\n", kib(total_peak) / 1024);
    printf("| RSS before the nodes | %.1f MiB |\n", rss_start / 1024.0);
    printf("| RSS now | %.1f MiB |\n", rss_now / 1024.0);
    printf("| (RSS now - RSS before) / nodes | %.1f KiB |\n",
           (double)(rss_now - rss_start) / (double)count);
    fflush(stdout);

    for (size_t i = 0; i < count; i++)
        rshare_node_destroy(nodes[i]);
    rshare_loop_net_destroy(net);
    for (size_t i = 0; i < count; i++) {
        memory_store_free(&stores[i]);
        if (acc[i].live)
            fprintf(stderr, "bench_memory: node %zu leaked %" PRIu64 " bytes\n", i + 1,
                    acc[i].live);
    }
}

/* --- 2. a busy RAID-5 volume ---------------------------------------------------- */

#define VNODES 5
#define DEPTH 16
#define MAX_IO (256u << 10)

struct request {
    int busy;
    int status;
};

struct load {
    uint64_t done_bytes, failures, issued;
    struct request req[DEPTH];
};

static void io_done(rshare_volume *vol, int status, void *ud)
{
    (void)vol;
    struct request *r = ud;
    r->status = status;
    r->busy = 0;
}

static int any_free(void *ud)
{
    struct load *l = ud;
    for (int i = 0; i < DEPTH; i++)
        if (!l->req[i].busy)
            return 1;
    return 0;
}

static int all_free(void *ud)
{
    struct load *l = ud;
    for (int i = 0; i < DEPTH; i++)
        if (l->req[i].busy)
            return 0;
    return 1;
}

struct defined {
    int calls, status;
};

static void on_defined(rshare_node *node, int status, void *ud)
{
    (void)node;
    struct defined *d = ud;
    d->calls++;
    d->status = status;
}

static int defined_done(void *ud)
{
    return ((struct defined *)ud)->calls > 0;
}

static int all_resources(void *ud)
{
    rshare_node **nodes = ud;
    for (size_t i = 0; i < VNODES; i++) {
        size_t n = 0;
        rshare_resource_list(nodes[i], 0, NULL, 0, sizeof(struct rshare_resource_desc), &n);
        if (n != VNODES - 1 || rshare_cluster_manager(nodes[i]) == 0)
            return 0;
    }
    return 1;
}

static void scenario_volume(uint64_t disk_mib, uint64_t io_mib)
{
    long rss_start = rss_kib("VmRSS");
    static rshare_node *nodes[VNODES];
    static struct account acc[VNODES];
    static struct memory_store stores[VNODES];
    static rshare_block *blocks[VNODES];
    static const uint32_t voters[] = {1, 2, 3};
    uint64_t res[VNODES];
    rshare_loop_net *net;
    int rc = rshare_loop_net_create(11, &net);
    if (rc < 0)
        die("rshare_loop_net_create", rc);
    struct rshare_loop_link link;
    rshare_loop_link_init(&link, sizeof(link));
    link.mtu = 9000;
    link.delay_us = 50;
    if ((rc = rshare_loop_net_set_default(net, &link)) < 0)
        die("rshare_loop_net_set_default", rc);
    for (size_t i = 0; i < VNODES; i++) {
        nodes[i] = make_node(net, (uint32_t)(i + 1), &acc[i], &stores[i], voters, 3,
                             RSHARE_CAP_BLOCK);
        if (i == VNODES - 1)
            continue; /* node 5: the volume's clients would be here; it has no disk */
        if ((rc = rshare_block_open_memory(nodes[i], disk_mib << 20, 512, &blocks[i])) < 0)
            die("rshare_block_open_memory", rc);
        struct rshare_resource_desc desc;
        rshare_resource_desc_init(&desc, sizeof(desc));
        desc.kind = RSHARE_RESOURCE_BLOCK;
        desc.rights = RSHARE_RIGHT_READ | RSHARE_RIGHT_WRITE;
        snprintf(desc.path, sizeof(desc.path), "disk%zu", i);
        if ((rc = rshare_resource_register_block(nodes[i], &desc, blocks[i], &res[i])) < 0)
            die("rshare_resource_register_block", rc);
    }
    if ((rc = rshare_loop_net_run(net, nodes, VNODES, all_resources, nodes, 60000000u)) < 0)
        die("cluster formation", rc);

    struct rshare_volume_desc v;
    rshare_volume_desc_init(&v, sizeof(v));
    snprintf(v.name, sizeof(v.name), "busy");
    v.layout = RSHARE_LAYOUT_RAID5;
    v.algorithm = RSHARE_RAID5_LEFT_SYMMETRIC;
    v.chunk_sectors = 128;
    v.member_count = 4;
    for (uint32_t i = 0; i < 4; i++)
        v.members[i] = res[i];
    struct defined def = {0};
    if ((rc = rshare_volume_define(nodes[0], &v, on_defined, &def)) < 0)
        die("rshare_volume_define", rc);
    if ((rc = rshare_loop_net_run(net, nodes, VNODES, defined_done, &def, 20000000u)) < 0 ||
        def.status < 0)
        die("volume definition", rc < 0 ? rc : def.status);
    rshare_volume *vol;
    if ((rc = rshare_volume_open(nodes[0], "busy", NULL, &vol)) < 0)
        die("rshare_volume_open", rc);
    uint64_t size = rshare_volume_size(vol);
    static struct account before[VNODES];
    memcpy(before, acc, sizeof(acc));
    for (size_t i = 0; i < VNODES; i++) {
        acc[i].peak = acc[i].live; /* the peak under load, from here */
        acc[i].largest = 0;
    }

    struct load l;
    memset(&l, 0, sizeof(l));
    uint8_t *bufs[DEPTH];
    for (int i = 0; i < DEPTH; i++) {
        bufs[i] = malloc(MAX_IO);
        if (!bufs[i])
            die("malloc", 0);
        memset(bufs[i], i * 17 + 1, MAX_IO);
    }
    unsigned seed = 5;
    uint64_t t0 = rshare_loop_net_now_us(net);
    while (l.done_bytes < (io_mib << 20)) {
        for (int i = 0; i < DEPTH; i++) {
            if (l.req[i].busy)
                continue;
            size_t len = (size_t)(8 + rand_r(&seed) % (MAX_IO / 512 - 7)) * 512u;
            uint64_t off = (uint64_t)(rand_r(&seed) % ((size - len) / 512 + 1)) * 512u;
            int write = rand_r(&seed) & 1;
            l.req[i].busy = 1;
            rc = write ? rshare_volume_write(vol, off, bufs[i], len, io_done, &l.req[i])
                       : rshare_volume_read(vol, off, bufs[i], len, io_done, &l.req[i]);
            if (rc < 0)
                die("rshare_volume_read/write", rc);
            l.done_bytes += len;
            l.issued++;
        }
        if ((rc = rshare_loop_net_run(net, nodes, VNODES, any_free, &l, 60000000u)) < 0)
            die("I/O", rc);
        for (int i = 0; i < DEPTH; i++)
            if (!l.req[i].busy && l.req[i].status < 0) {
                l.failures++;
                l.req[i].status = 0;
            }
    }
    if ((rc = rshare_loop_net_run(net, nodes, VNODES, all_free, &l, 60000000u)) < 0)
        die("I/O", rc);
    double secs = (double)(rshare_loop_net_now_us(net) - t0) / 1e6;
    long rss_now = rss_kib("VmRSS");

    printf("### A busy RAID-5 volume: 4 members of %" PRIu64 " MiB on nodes 1-4, opened on "
           "node 1\n\n",
           disk_mib);
    printf("%" PRIu64 " requests (4-256 KiB, %d in flight, half writes), %.0f MiB, %" PRIu64
           " failed, %.1f ms of virtual time.\n\n",
           l.issued, DEPTH, (double)l.done_bytes / 1048576.0, l.failures, secs * 1000.0);
    printf("| node | before the volume, live KiB | under load, peak KiB | largest block KiB "
           "| after, live KiB |\n");
    printf("|---|---|---|---|---|\n");
    for (size_t i = 0; i < VNODES; i++)
        printf("| %zu%s | %.1f | %.1f | %.1f | %.1f |\n", i + 1,
               i == 0   ? " (volume, member 0)"
               : i < 4  ? " (member)"
                        : " (no disk)",
               kib(before[i].live), kib(acc[i].peak), kib(acc[i].largest), kib(acc[i].live));
    printf("\nThe memory disks (4 x %" PRIu64 " MiB) are allocated through node 1..4's hooks, "
           "so they are in these figures; without them:\n\n",
           disk_mib);
    printf("| node | under load, peak KiB without the disk |\n|---|---|\n");
    for (size_t i = 0; i < 4; i++)
        printf("| %zu | %.1f |\n", i + 1, kib(acc[i].peak) - (double)(disk_mib << 10));
    printf("\n| process | value |\n|---|---|\n");
    printf("| RSS before the nodes | %.1f MiB |\n", rss_start / 1024.0);
    printf("| RSS after the load | %.1f MiB |\n", rss_now / 1024.0);
    printf("| the benchmark's own buffers | %.1f MiB |\n", DEPTH * MAX_IO / 1048576.0);
    fflush(stdout);

    rshare_volume_close(vol);
    run_for(net, nodes, VNODES, 1000000u);
    for (size_t i = 0; i < VNODES; i++)
        if (blocks[i])
            rshare_block_close(blocks[i]);
    for (size_t i = 0; i < VNODES; i++)
        rshare_node_destroy(nodes[i]);
    rshare_loop_net_destroy(net);
    for (int i = 0; i < DEPTH; i++)
        free(bufs[i]);
    for (size_t i = 0; i < VNODES; i++)
        memory_store_free(&stores[i]);
}

/* --- main ------------------------------------------------------------------------ */

static void in_child(void (*fn)(uint64_t, uint64_t), uint64_t a, uint64_t b)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        die("fork", 0);
    if (pid == 0) {
        fn(a, b);
        fflush(stdout);
        _exit(0);
    }
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
        die("scenario", 0);
    printf("| peak RSS (ru_maxrss) | %.1f MiB |\n\n", (double)ru.ru_maxrss / 1024.0);
}

static void map_entry(uint64_t nodes, uint64_t unused)
{
    (void)unused;
    scenario_map((size_t)nodes);
}

int main(int argc, char **argv)
{
    uint64_t nodes = 256, disk_mib = 16, io_mib = 256;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--nodes") && i + 1 < argc)
            nodes = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--volume-mib") && i + 1 < argc)
            disk_mib = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--io-mib") && i + 1 < argc)
            io_mib = strtoull(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: %s [--nodes N] [--volume-mib M] [--io-mib M]\n", argv[0]);
            return 2;
        }
    }
    if (nodes < 1 || nodes > MAX_NODES || disk_mib < 1 || io_mib < 1) {
        fprintf(stderr, "bench_memory: --nodes 1..%d, --volume-mib and --io-mib >= 1\n",
                MAX_NODES);
        return 2;
    }
    in_child(map_entry, nodes, 0);
    in_child(scenario_volume, disk_mib, io_mib);
    return 0;
}
