/* bench_kvm — KVM input latency over UDP loopback between two processes:
 * from the host's capture call (rshare_kvm_input) in one process to the
 * target's injection callback (the sink) in the other, against bare UDP
 * datagrams of the same size between the same two processes, measured in
 * the same run; with and without a concurrent bulk transfer (8 MiB
 * messages, back to back, on the same two nodes and the same link), and
 * with bulk when both nodes have an urgent lane (a second UDP socket for
 * urgent packets, RSHARE_TRANSPORT_CAP_URGENT_LANE).
 *
 *   bench_kvm [--events N] [--interval-us U] [--rounds R] [--bare-size B]
 *             [--cpus C:S]
 *
 * Latency is one-way: both processes read CLOCK_MONOTONIC (one clock on
 * one machine) and the sender's timestamps live in shared memory, indexed
 * by the event number the event carries (REL_X's value, or the datagram's
 * first bytes).  Events are sent open-loop every U microseconds (a 1 kHz
 * mouse by default), never waiting for the previous one.  Cases are
 * interleaved round by round and the samples pooled; the output is a
 * markdown table (tests/bench/run_kvm.sh writes it into
 * doc/PERFORMANCE.md). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/input-event-codes.h>
#include <rshare/rshare.h>

#include "bench_proc.h"

#define BULK_TYPE 0x8001u
#define BULK_BYTES (8u << 20)
#define MAX_EVENTS 100000

struct options {
    long events, interval_us, rounds;
    size_t bare_size;
    int host_cpu, target_cpu;
};

/* Shared between the two processes of one case. */
struct shared {
    volatile int ready;             /* the receiver is listening */
    volatile int done;              /* the sender has finished */
    int64_t sent_ns[MAX_EVENTS];    /* by the sender, before the send */
    int64_t lat_ns[MAX_EVENTS];     /* by the receiver; 0 = never arrived */
    volatile uint64_t bulk_bytes;   /* bulk received while measuring */
    volatile int64_t bulk_ns;
    volatile uint64_t rx_packets, rx_bytes; /* the target node's, for the packet size */
};

static struct shared *sh;

/* --- bare UDP: the anchor ---------------------------------------------------- */

static void bare_receiver(int sock, size_t size) __attribute__((noreturn));
static void bare_receiver(int sock, size_t size)
{
    uint8_t buf[2048];
    sh->ready = 1;
    for (;;) {
        ssize_t n = recv(sock, buf, sizeof(buf), 0);
        int64_t t = now_ns();
        if (n < (ssize_t)sizeof(uint32_t) || (size_t)n != size)
            continue;
        uint32_t i;
        memcpy(&i, buf, sizeof(i));
        if (i == UINT32_MAX)
            _exit(0);
        if (i < MAX_EVENTS)
            sh->lat_ns[i] = t - sh->sent_ns[i];
    }
}

static void bare_case(const struct options *o)
{
    int rx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int tx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    if (rx < 0 || tx < 0 || bind(rx, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        getsockname(rx, (struct sockaddr *)&sa, &len) < 0)
        die("bare sockets: %s", strerror(errno));
    sh->ready = 0;
    pid_t pid = fork_pinned(o->host_cpu, o->target_cpu);
    if (pid == 0)
        bare_receiver(rx, o->bare_size);
    while (!sh->ready)
        usleep(1000);
    usleep(20000);
    uint8_t buf[2048];
    memset(buf, 0xa5, sizeof(buf));
    int64_t next = now_ns();
    for (uint32_t i = 0; i < (uint32_t)o->events; i++) {
        next += o->interval_us * 1000;
        run_until(NULL, next);
        memcpy(buf, &i, sizeof(i));
        sh->sent_ns[i] = now_ns();
        if (sendto(tx, buf, o->bare_size, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
            die("bare send: %s", strerror(errno));
    }
    usleep(50000);
    uint32_t quit = UINT32_MAX;
    memcpy(buf, &quit, sizeof(quit));
    sendto(tx, buf, o->bare_size, 0, (struct sockaddr *)&sa, sizeof(sa));
    waitpid(pid, NULL, 0);
    close(rx);
    close(tx);
}

/* --- rshare KVM ---------------------------------------------------------------- */

/* The case being run has urgent lanes (set before the target forks). */
static int with_lanes;

static rshare_node *make_node(uint32_t id, char *addr, size_t addr_len)
{
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = id;
    cfg.max_message_bytes = 2 * BULK_BYTES;
    cfg.max_reassembly_bytes = 4 * BULK_BYTES;
    cfg.log.max_level = RSHARE_LOG_ERROR; /* unprotected on purpose: no AEAD in either case */
    rshare_node *node = udp_node(&cfg, addr, addr_len);
    if (with_lanes) {
        /* A second socket for urgent packets (doc/KVM.md, "Urgency"). */
        struct rshare_udp_config lane;
        rshare_udp_config_init(&lane, sizeof(lane));
        lane.bind_address = "127.0.0.1:0";
        lane.urgent_lane = 1;
        if (rshare_node_add_udp(node, &lane) < 0)
            die("urgent lane: %s", rshare_node_errmsg(node));
    }
    return node;
}

static void target_sink(void *user_data, uint32_t host, const struct rshare_kvm_event *ev,
                        size_t count)
{
    (void)user_data;
    (void)host;
    int64_t t = now_ns();
    for (size_t k = 0; k < count; k++)
        if (ev[k].type == EV_REL && ev[k].code == REL_X && ev[k].value >= 0 &&
            ev[k].value < MAX_EVENTS)
            sh->lat_ns[ev[k].value] = t - sh->sent_ns[ev[k].value];
}

static void on_bulk(rshare_node *node, rshare_request *req, void *user_data)
{
    (void)user_data;
    (void)node;
    if (sh->ready == 2) {
        sh->bulk_bytes += rshare_request_len(req);
        sh->bulk_ns = now_ns();
    }
    rshare_request_reply(req, NULL, 0);
}

static void rshare_target(int to_parent, int from_parent) __attribute__((noreturn));
static void rshare_target(int to_parent, int from_parent)
{
    char addr[64], host_addr[64] = "";
    rshare_node *node = make_node(2, addr, sizeof(addr));
    if (write(to_parent, addr, sizeof(addr)) != (ssize_t)sizeof(addr) ||
        read(from_parent, host_addr, sizeof(host_addr)) != (ssize_t)sizeof(host_addr))
        die("pipe");
    rshare_node_add_peer(node, 1, 0, host_addr);
    rshare_node_set_handler(node, BULK_TYPE, on_bulk, NULL);
    struct rshare_kvm_config c;
    rshare_kvm_config_init(&c, sizeof(c));
    c.roles = RSHARE_KVM_ROLE_TARGET;
    c.host = 1;
    c.sink = target_sink;
    rshare_kvm *kvm;
    if (rshare_kvm_create(node, &c, &kvm) != 0)
        die("kvm target: %s", rshare_node_errmsg(node));
    sh->ready = 1;
    struct rshare_node_stats before, after;
    rshare_node_stats(node, &before, sizeof(before));
    while (!sh->done)
        run_until(node, now_ns() + 20000000);
    rshare_node_stats(node, &after, sizeof(after));
    sh->rx_packets = after.rx_packets - before.rx_packets;
    sh->rx_bytes = after.rx_bytes - before.rx_bytes;
    rshare_kvm_destroy(kvm);
    rshare_node_destroy(node);
    _exit(0);
}

struct bulk {
    rshare_node *node;
    uint8_t *data;
    int outstanding;
    int on;
};

static void bulk_done(rshare_node *node, const struct rshare_reply *reply, void *user_data);

static void bulk_send(struct bulk *b)
{
    while (b->on && b->outstanding < 2) {
        if (rshare_node_call(b->node, 2, BULK_TYPE, b->data, BULK_BYTES, bulk_done, b) != 0)
            die("bulk call: %s", rshare_node_errmsg(b->node));
        b->outstanding++;
    }
}

static void bulk_done(rshare_node *node, const struct rshare_reply *reply, void *user_data)
{
    (void)node;
    (void)reply;
    struct bulk *b = user_data;
    b->outstanding--;
    bulk_send(b);
}

static void rshare_case(const struct options *o, int with_bulk, int lanes)
{
    with_lanes = lanes;
    int up[2], down[2];
    if (pipe(up) < 0 || pipe(down) < 0)
        die("pipe: %s", strerror(errno));
    sh->ready = 0;
    sh->done = 0;
    sh->bulk_bytes = 0;
    pid_t pid = fork_pinned(o->host_cpu, o->target_cpu);
    if (pid == 0)
        rshare_target(up[1], down[0]);
    char addr[64], target_addr[64];
    rshare_node *node = make_node(1, addr, sizeof(addr));
    if (read(up[0], target_addr, sizeof(target_addr)) != (ssize_t)sizeof(target_addr) ||
        write(down[1], addr, sizeof(addr)) != (ssize_t)sizeof(addr))
        die("pipe");
    rshare_node_add_peer(node, 2, 0, target_addr);
    static const uint32_t targets[] = {2};
    struct rshare_kvm_config c;
    rshare_kvm_config_init(&c, sizeof(c));
    c.roles = RSHARE_KVM_ROLE_HOST;
    c.targets = targets;
    c.target_count = 1;
    rshare_kvm *kvm;
    if (rshare_kvm_create(node, &c, &kvm) != 0)
        die("kvm host: %s", rshare_node_errmsg(node));
    int64_t give_up = now_ns() + 5000000000;
    while (!rshare_kvm_target_up(kvm, 2)) {
        if (now_ns() > give_up)
            die("the target never reported");
        run_until(node, now_ns() + 1000000);
    }
    static struct bulk b;
    b.node = node;
    if (!b.data && !(b.data = calloc(1, BULK_BYTES)))
        die("memory");
    b.on = with_bulk;
    bulk_send(&b);
    run_until(node, now_ns() + 200000000); /* the bulk stream is flowing */
    sh->ready = 2;
    int64_t start = now_ns();
    int64_t next = start;
    for (int32_t i = 0; i < (int32_t)o->events; i++) {
        next += o->interval_us * 1000;
        run_until(node, next);
        sh->sent_ns[i] = now_ns();
        if (rshare_kvm_input(kvm, EV_REL, REL_X, i) < 0 ||
            rshare_kvm_input(kvm, EV_SYN, SYN_REPORT, 0) < 0)
            die("input: %s", rshare_node_errmsg(node));
    }
    run_until(node, now_ns() + 50000000);
    sh->ready = 3;
    if (with_bulk && sh->bulk_bytes)
        sh->bulk_ns -= start;
    b.on = 0;
    sh->done = 1;
    waitpid(pid, NULL, 0);
    rshare_kvm_destroy(kvm);
    rshare_node_destroy(node);
    close(up[0]);
    close(up[1]);
    close(down[0]);
    close(down[1]);
}

/* --- statistics ------------------------------------------------------------------ */

struct pool {
    int64_t *ns;
    size_t n, lost;
    double bulk_mb_s;
    int bulk_rounds;
    double packet_bytes;
    int packet_rounds;
};

static void collect(struct pool *p, long events)
{
    for (long i = 0; i < events; i++) {
        if (sh->lat_ns[i] > 0)
            p->ns[p->n++] = sh->lat_ns[i];
        else
            p->lost++;
    }
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest rank. */
static double pct_us(struct pool *p, double q)
{
    if (!p->n)
        return 0;
    size_t k = (size_t)(q * (double)p->n + 0.999999);
    if (k < 1)
        k = 1;
    if (k > p->n)
        k = p->n;
    return (double)p->ns[k - 1] / 1000.0;
}

static void parse(int argc, char **argv, struct options *o)
{
    *o = (struct options){.events = 2000, .interval_us = 1000, .rounds = 5, .bare_size = 0,
                          .host_cpu = -1, .target_cpu = -1};
    static const struct option longs[] = {{"events", 1, 0, 'e'},     {"interval-us", 1, 0, 'i'},
                                          {"rounds", 1, 0, 'r'},     {"bare-size", 1, 0, 'b'},
                                          {"cpus", 1, 0, 'c'},       {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (ch) {
        case 'e':
            o->events = atol(optarg);
            break;
        case 'i':
            o->interval_us = atol(optarg);
            break;
        case 'r':
            o->rounds = atol(optarg);
            break;
        case 'b':
            o->bare_size = (size_t)atol(optarg);
            break;
        case 'c':
            if (sscanf(optarg, "%d:%d", &o->host_cpu, &o->target_cpu) != 2)
                die("--cpus HOST:TARGET");
            break;
        default:
            die("usage: bench_kvm [--events N] [--interval-us U] [--rounds R] [--bare-size B] "
                "[--cpus C:S]");
        }
    }
    if (o->events < 10 || o->events > MAX_EVENTS || o->interval_us < 10 || o->rounds < 1 ||
        o->bare_size > 1400)
        die("options out of range");
}

int main(int argc, char **argv)
{
    struct options o;
    bench_name = "bench_kvm";
    parse(argc, argv, &o);
    sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED)
        die("mmap: %s", strerror(errno));
    enum { BARE, KVM, KVM_BULK, KVM_BULK_LANE, CASES };
    static const char *names[CASES] = {"bare UDP datagram (the anchor)", "rshare KVM input",
                                       "rshare KVM input + 8 MiB bulk",
                                       "rshare KVM input + 8 MiB bulk, urgent lanes"};
    struct pool pools[CASES];
    for (int c = 0; c < CASES; c++) {
        memset(&pools[c], 0, sizeof(pools[c]));
        pools[c].ns = calloc((size_t)(o.events * o.rounds), sizeof(int64_t));
        if (!pools[c].ns)
            die("memory");
    }
    /* The anchor's size: one rshare input packet, measured by a first
     * rshare round unless given. */
    for (long r = 0; r < o.rounds; r++) {
        for (int c = o.bare_size ? 0 : KVM; c < CASES; c++) {
            memset(sh->lat_ns, 0, sizeof(sh->lat_ns));
            if (c == BARE)
                bare_case(&o);
            else
                rshare_case(&o, c == KVM_BULK || c == KVM_BULK_LANE, c == KVM_BULK_LANE);
            collect(&pools[c], o.events);
            if (c == KVM && sh->rx_packets) {
                pools[c].packet_bytes += (double)sh->rx_bytes / (double)sh->rx_packets;
                pools[c].packet_rounds++;
                if (!o.bare_size)
                    o.bare_size = (size_t)((double)sh->rx_bytes / (double)sh->rx_packets + 0.5);
            }
            if ((c == KVM_BULK || c == KVM_BULK_LANE) && sh->bulk_ns > 0) {
                pools[c].bulk_mb_s += (double)sh->bulk_bytes / ((double)sh->bulk_ns / 1e3);
                pools[c].bulk_rounds++;
            }
        }
        /* The first round measured the packet size: now run its anchor. */
        if (r == 0 && !pools[BARE].n) {
            memset(sh->lat_ns, 0, sizeof(sh->lat_ns));
            bare_case(&o);
            collect(&pools[BARE], o.events);
        }
    }
    for (int c = 0; c < CASES; c++)
        qsort(pools[c].ns, pools[c].n, sizeof(int64_t), cmp64);
    double b50 = pct_us(&pools[BARE], 0.5), b99 = pct_us(&pools[BARE], 0.99);
    printf("| case | events | lost | p50 µs | p99 µs | max µs | p50 ratio | p99 ratio | bulk MB/s "
           "|\n|---|---|---|---|---|---|---|---|---|\n");
    for (int c = 0; c < CASES; c++) {
        struct pool *p = &pools[c];
        double p50 = pct_us(p, 0.5), p99 = pct_us(p, 0.99);
        char bulk[32] = "–";
        if (p->bulk_rounds)
            snprintf(bulk, sizeof(bulk), "%.0f", p->bulk_mb_s / p->bulk_rounds);
        printf("| %s | %zu | %zu | %.1f | %.1f | %.1f | %.2f | %.2f | %s |\n", names[c], p->n,
               p->lost, p50, p99, p->n ? (double)p->ns[p->n - 1] / 1000.0 : 0.0,
               b50 > 0 ? p50 / b50 : 0.0, b99 > 0 ? p99 / b99 : 0.0, bulk);
    }
    printf("\nDatagram size %zu bytes (rshare's input packets averaged %.0f bytes, syncs "
           "included); %ld events per case per round, one every %ld µs, %ld rounds "
           "interleaved.\n",
           o.bare_size,
           pools[KVM].packet_rounds ? pools[KVM].packet_bytes / pools[KVM].packet_rounds : 0.0,
           o.events, o.interval_us, o.rounds);
    return 0;
}
