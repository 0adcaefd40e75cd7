/* bench_mctp — what the MCTP transports get out of their wires, measured on
 * the simulated buses (tests/sim) against the physical floor of each wire:
 *
 *   throughput  one 64 KiB rshare request (answered with 4 bytes), payload
 *               bytes per second of virtual time, against the SMBus ceiling
 *               table of ../shared/reference/transports.md and against the
 *               serial line rate (10 bits per byte);
 *   latency     one keyboard-event-sized notification (8 bytes of
 *               application data) on an idle link, from rshare_node_notify()
 *               to the receiver's handler, against the wire time of the
 *               frames it took.  The simulated clock stands still while code
 *               runs, so the CPU time the two nodes spent on the event is
 *               measured with the thread CPU clock and added.
 *   KVM input   (--kvm) the same for a key press or release from the KVM
 *               host's capture call (rshare_kvm_input) to the target's
 *               injection callback: router, input frame, the urgent send;
 *               beside the plain notification on the same link.  Between
 *               events the link goes idle (the host's key-state syncs, 20 ms
 *               apart, are over).
 *
 * Everything between the two applications is the real code: message layer,
 * link layer, MCTP core, framing and the transports' timing; only the wire
 * is simulated.  Prints markdown tables (tests/bench/run_mctp.sh puts them
 * into doc/PERFORMANCE.md).
 *
 *   bench_mctp [--events N] [--size BYTES] [--kvm] */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bus_sim.h"
#include "core/core.h"
#include "mctp.h"
#include "rshare/kvm.h"
#include "rshare/serial.h"
#include "rshare/smbus.h"
#include "smbus_frame.h"

#define BULK_TYPE 0x8001u
#define KEY_TYPE 0x8002u
#define KEY_BYTES 8 /* a Linux input_event's type, code and value */
#define WINDOW 8

enum link_kind { LINK_SMBUS, LINK_SERIAL, LINK_RS485 };

struct link {
    enum link_kind kind;
    uint32_t rate;      /* bus clock (SMBus) or baud (serial) */
    uint8_t block_mode; /* SMBus */
    double ceiling;     /* payload bytes/s: the reference's table or the line rate */
    const char *label, *floor_label;
};

struct bench {
    struct bus_sim *sim;
    struct sim_smbus *smbus;
    struct sim_serial *serial;
    rshare_node *nodes[2];
    int index[2];
    /* results of the current run */
    int replied, reply_status;
    int keys;
    uint64_t key_at_ns;
};

static void fail(const char *what, rshare_node *node)
{
    fprintf(stderr, "bench_mctp: %s: %s\n", what, node ? rshare_node_errmsg(node) : "");
    exit(1);
}

static void quiet(void *u, enum rshare_log_level l, const char *m)
{
    (void)u;
    if (l == RSHARE_LOG_ERROR)
        fprintf(stderr, "rshare: %s\n", m);
}

static void answer_small(rshare_node *node, rshare_request *req, void *user_data)
{
    (void)node;
    (void)user_data;
    uint32_t len = (uint32_t)rshare_request_len(req);
    rshare_request_reply(req, &len, sizeof(len));
}

static void on_reply(rshare_node *node, const struct rshare_reply *reply, void *user_data)
{
    (void)node;
    struct bench *b = user_data;
    b->replied = 1;
    b->reply_status = reply->status;
}

static void on_key(rshare_node *node, rshare_request *req, void *user_data)
{
    (void)node;
    (void)req;
    struct bench *b = user_data;
    b->keys++;
    b->key_at_ns = bus_sim_now_ns(b->sim);
}

static void on_inject(void *user_data, uint32_t host, const struct rshare_kvm_event *ev,
                      size_t count)
{
    (void)host;
    struct bench *b = user_data;
    for (size_t i = 0; i < count; i++)
        if (ev[i].type == 1 /* EV_KEY */) {
            b->keys++;
            b->key_at_ns = bus_sim_now_ns(b->sim);
        }
}

static int replied(void *user_data)
{
    return ((struct bench *)user_data)->replied;
}

static int key_arrived(void *user_data)
{
    return ((struct bench *)user_data)->keys > 0;
}

/* Time for one fragment's MCTP packets on the wire: the link layer's
 * retransmission timer must outlast a window of them. */
static uint32_t retry_ms_for(const struct link *l)
{
    double bytes_per_s = l->ceiling;
    double window_s = WINDOW * 1300.0 / bytes_per_s;
    uint32_t ms = (uint32_t)(2500.0 * window_s);
    return ms < 200 ? 200 : ms;
}

static void open_bench(struct bench *b, const struct link *l)
{
    memset(b, 0, sizeof(*b));
    b->sim = bus_sim_create(2026);
    if (l->kind == LINK_SMBUS)
        b->smbus = sim_smbus_create(b->sim, l->rate);
    else
        b->serial = sim_serial_create(b->sim, l->rate, l->kind == LINK_RS485);
    for (int i = 0; i < 2; i++) {
        struct rshare_node_config cfg;
        rshare_node_config_init(&cfg, sizeof(cfg));
        cfg.node_id = (uint32_t)i + 1;
        cfg.clock = bus_sim_clock(b->sim);
        cfg.link_window = WINDOW;
        cfg.request_retry_ms = retry_ms_for(l);
        cfg.request_timeout_ms = 3600000;
        cfg.log = (struct rshare_log){quiet, NULL, RSHARE_LOG_ERROR};
        if (rshare_node_create(&cfg, &b->nodes[i]) != 0)
            fail("node", NULL);
        struct rshare_mctp_config mc;
        rshare_mctp_config_init(&mc, sizeof(mc));
        mc.eid = (uint8_t)(8 + i);
        if (l->kind == LINK_SMBUS) {
            struct rshare_smbus_config sc;
            rshare_smbus_config_init(&sc, sizeof(sc));
            sc.address = (uint8_t)(0x20 + i);
            sc.block_mode = l->block_mode;
            sc.bus_hz = l->rate;
            sc.mctp = &mc;
            void *dev = sim_smbus_device(b->smbus, sc.address, 0, 0);
            b->index[i] = rs_smbus_attach(b->nodes[i], &sc, &sim_i2c_ops, dev);
        } else {
            bool rs485 = l->kind == LINK_RS485;
            struct rshare_serial_config sc;
            rshare_serial_config_init(&sc, sizeof(sc));
            sc.baud = l->rate;
            sc.multidrop = rs485;
            sc.address = (uint8_t)i;
            sc.nodes = 2;
            sc.echo = rs485;
            sc.mctp = &mc;
            void *port = sim_serial_port(b->serial, rs485, false);
            b->index[i] = rs_serial_attach(b->nodes[i], &sc,
                                           rs485 ? RSHARE_SERIAL_TURNAROUND_KERNEL
                                                 : RSHARE_SERIAL_TURNAROUND_NONE,
                                           &sim_line_ops, port);
        }
        if (b->index[i] < 0)
            fail("attach", b->nodes[i]);
    }
    const char *peer = l->kind == LINK_SMBUS ? "9@0x21" : l->kind == LINK_RS485 ? "9@1" : "9";
    const char *back = l->kind == LINK_SMBUS ? "8@0x20" : l->kind == LINK_RS485 ? "8@0" : "8";
    if (rshare_node_add_peer(b->nodes[0], 2, b->index[0], peer) < 0 ||
        rshare_node_add_peer(b->nodes[1], 1, b->index[1], back) < 0)
        fail("peer", b->nodes[0]);
    rshare_node_set_handler(b->nodes[1], BULK_TYPE, answer_small, b);
    rshare_node_set_handler(b->nodes[1], KEY_TYPE, on_key, b);
}

static void close_bench(struct bench *b)
{
    for (int i = 0; i < 2; i++)
        rshare_node_destroy(b->nodes[i]);
    bus_sim_destroy(b->sim);
}

/* --- throughput ------------------------------------------------------------ */

struct throughput {
    double seconds, rate;
    uint64_t frames;
};

static struct throughput measure_throughput(const struct link *l, size_t size)
{
    struct bench b;
    open_bench(&b, l);
    uint8_t *data = malloc(size);
    uint64_t x = 0x9E3779B97F4A7C15u;
    for (size_t i = 0; i < size; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* incompressible: escapes as in life */
        data[i] = (uint8_t)x;
    }
    uint64_t t0 = bus_sim_now_ns(b.sim);
    if (rshare_node_call(b.nodes[0], 2, BULK_TYPE, data, size, on_reply, &b) != 0)
        fail("call", b.nodes[0]);
    if (bus_sim_run(b.sim, b.nodes, 2, replied, &b, 3600u * 1000000u) != 0 || b.reply_status)
        fail("bulk transfer did not complete", b.nodes[0]);
    struct throughput t;
    t.seconds = (double)(bus_sim_now_ns(b.sim) - t0) / 1e9;
    t.rate = (double)size / t.seconds;
    struct rshare_mctp_stats st;
    rshare_mctp_stats(b.nodes[0], b.index[0], &st, sizeof(st));
    t.frames = st.tx_frames;
    free(data);
    close_bench(&b);
    return t;
}

/* --- latency ----------------------------------------------------------------- */

struct latency {
    uint64_t frames, bytes;
    double wire_us, virtual_us, cpu_us;
    double ratio_median, ratio_p99;
};

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double cpu_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* The wire time of what the sender put on the wire for one event: on SMBus
 * each frame's START, 9 clocks per byte and STOP, and the bus-free time
 * between frames; on a serial line 10 bit times per byte. */
static double wire_us(const struct bench *b, uint64_t frames, uint64_t bytes)
{
    if (b->smbus) {
        uint64_t bit, start, stop, buf;
        sim_smbus_timing(b->smbus, &bit, &start, &stop, &buf);
        uint64_t ns = frames * (start + stop) + 9u * bytes * bit + (frames - 1) * buf;
        return (double)ns / 1e3;
    }
    return (double)sim_serial_bytes_ns(b->serial, (size_t)bytes) / 1e3;
}

static int target_heard(void *user_data)
{
    return rshare_kvm_target_up(user_data, 2) > 0;
}

/* A KVM host on node 1 and its target on node 2, the target heard. */
static void open_kvm(struct bench *b, rshare_kvm *kvm[2])
{
    static const uint32_t targets[] = {2};
    for (int i = 0; i < 2; i++) {
        struct rshare_kvm_config c;
        rshare_kvm_config_init(&c, sizeof(c));
        c.roles = i == 0 ? RSHARE_KVM_ROLE_HOST : RSHARE_KVM_ROLE_TARGET;
        c.targets = targets;
        c.target_count = 1;
        c.host = 1;
        c.sink = on_inject;
        c.sink_data = b;
        if (rshare_kvm_create(b->nodes[i], &c, &kvm[i]) != 0)
            fail("kvm", b->nodes[i]);
    }
    if (bus_sim_run(b->sim, b->nodes, 2, target_heard, kvm[0], 10000000) != 0)
        fail("the KVM target was never heard", b->nodes[0]);
}

/* Key events alternate press and release (value `v`) of KEY_A. */
static void send_event(struct bench *b, rshare_kvm *host, int v)
{
    uint8_t ev[KEY_BYTES] = {1, 0, 30, 0, (uint8_t)v, 0, 0, 0}; /* EV_KEY, KEY_A */
    if (host ? rshare_kvm_input(host, 1, 30, v) != 0 || rshare_kvm_input(host, 0, 0, 0) != 0
             : rshare_node_notify(b->nodes[0], 2, KEY_TYPE, ev, sizeof(ev)) != 0)
        fail("send", b->nodes[0]);
}

static struct latency measure_latency(const struct link *l, int events, bool kvm)
{
    struct bench b;
    open_bench(&b, l);
    rshare_kvm *handles[2] = {NULL, NULL};
    if (kvm)
        open_kvm(&b, handles);
    /* Warm up: the first packets learn the peer's session. */
    uint8_t ev[KEY_BYTES] = {1, 0, 30, 0, 1, 0, 0, 0}; /* EV_KEY, KEY_A, pressed */
    rshare_node_notify(b.nodes[1], 1, KEY_TYPE, ev, sizeof(ev));
    send_event(&b, handles[0], 1);
    bus_sim_run(b.sim, b.nodes, 2, key_arrived, &b, 10000000);
    send_event(&b, handles[0], 0);
    bus_sim_run(b.sim, b.nodes, 2, NULL, NULL, 200000);

    double *ratios = malloc((size_t)events * sizeof(double));
    struct latency out = {0};
    for (int i = 0; i < events; i++) {
        struct rshare_mctp_stats before, after;
        rshare_mctp_stats(b.nodes[0], b.index[0], &before, sizeof(before));
        b.keys = 0;
        uint64_t t0 = bus_sim_now_ns(b.sim);
        double c0 = cpu_now_us();
        send_event(&b, handles[0], !(i & 1));
        if (bus_sim_run(b.sim, b.nodes, 2, key_arrived, &b, 10000000) != 0)
            fail("key event lost", b.nodes[0]);
        double cpu = cpu_now_us() - c0;
        rshare_mctp_stats(b.nodes[0], b.index[0], &after, sizeof(after));
        uint64_t frames = after.tx_frames - before.tx_frames;
        uint64_t bytes = after.tx_bytes - before.tx_bytes;
        double wire = wire_us(&b, frames, bytes);
        double virt = (double)(b.key_at_ns - t0) / 1e3;
        ratios[i] = virt + cpu;
        /* The floor is the event's own frames: the event that took the
         * least wire (others also carried a sync or a report sent first). */
        if (i == 0 || wire < out.wire_us) {
            out.frames = frames;
            out.bytes = bytes;
            out.wire_us = wire;
        }
        out.virtual_us += virt / events;
        out.cpu_us += cpu / events;
        /* Let the link go idle before the next key (a typist's pace).  The
         * KVM host's syncs (every 20 ms while a key is held, and for 80 ms
         * after a frame) and the target's reports (every 200 ms) go on:
         * the gap varies so that a key meets them at any phase. */
        bus_sim_run(b.sim, b.nodes, 2, NULL, NULL,
                    kvm ? 200000 + (uint64_t)i * 7919 % 20000 : 50000);
    }
    qsort(ratios, (size_t)events, sizeof(double), compare_double);
    out.ratio_median = ratios[events / 2] / out.wire_us;
    out.ratio_p99 = ratios[events * 99 / 100] / out.wire_us;
    free(ratios);
    for (int i = 0; i < 2; i++)
        rshare_kvm_destroy(handles[i]);
    close_bench(&b);
    return out;
}

int main(int argc, char **argv)
{
    int events = 200;
    size_t size = 64 * 1024;
    int opt;
    bool kvm = false;
    static const struct option options[] = {{"events", required_argument, NULL, 'e'},
                                            {"size", required_argument, NULL, 's'},
                                            {"kvm", no_argument, NULL, 'k'},
                                            {NULL, 0, NULL, 0}};
    while ((opt = getopt_long(argc, argv, "e:s:", options, NULL)) != -1) {
        if (opt == 'e')
            events = atoi(optarg);
        else if (opt == 's')
            size = (size_t)strtoul(optarg, NULL, 10);
        else if (opt == 'k')
            kvm = true;
        else
            return 2;
    }
    if (events < 1 || size < 1)
        return 2;

    /* Ceilings: the reference's table (250- and 27-byte payloads, kB =
     * 1000 bytes) and 8N1's ten bits per byte. */
    static const struct link links[] = {
        {LINK_SMBUS, 100000, RSHARE_SMBUS_BLOCK_255, 10700, "SMBus 100 kHz, 255-byte blocks",
         "10.7 kB/s (250 B payloads)"},
        {LINK_SMBUS, 400000, RSHARE_SMBUS_BLOCK_255, 42900, "SMBus 400 kHz, 255-byte blocks",
         "42.9 kB/s (250 B payloads)"},
        {LINK_SMBUS, 1000000, RSHARE_SMBUS_BLOCK_255, 107100, "SMBus 1 MHz, 255-byte blocks",
         "107.1 kB/s (250 B payloads)"},
        {LINK_SMBUS, 100000, RSHARE_SMBUS_BLOCK_32, 8300, "SMBus 100 kHz, 32-byte blocks",
         "8.3 kB/s (27 B payloads)"},
        {LINK_SMBUS, 400000, RSHARE_SMBUS_BLOCK_32, 33100, "SMBus 400 kHz, 32-byte blocks",
         "33.1 kB/s (27 B payloads)"},
        {LINK_SERIAL, 115200, 0, 11520, "serial 115200 8N1, point to point",
         "11.52 kB/s (line rate)"},
        {LINK_RS485, 115200, 0, 11520, "RS-485 115200 8N1, two drops",
         "11.52 kB/s (line rate)"},
    };
    size_t n = sizeof(links) / sizeof(links[0]);
    static const size_t latency_links[] = {0, 1, 2, 3, 5, 6};
    size_t nl = sizeof(latency_links) / sizeof(latency_links[0]);
    if (kvm) {
        printf("| link | key event on the wire | wire time µs | latency µs (virtual + CPU) | "
               "ratio median | ratio p99 | plain 8-byte notification µs |\n");
        printf("|---|---|---:|---:|---:|---:|---:|\n");
        for (size_t k = 0; k < nl; k++) {
            const struct link *l = &links[latency_links[k]];
            struct latency r = measure_latency(l, events, true);
            struct latency plain = measure_latency(l, events, false);
            printf("| %s | %llu frame%s, %llu bytes | %.0f | %.0f + %.0f | %.3f | %.3f | %.0f |\n",
                   l->label, (unsigned long long)r.frames, r.frames == 1 ? "" : "s",
                   (unsigned long long)r.bytes, r.wire_us, r.virtual_us, r.cpu_us,
                   r.ratio_median, r.ratio_p99, plain.virtual_us + plain.cpu_us);
            fflush(stdout);
        }
        printf("\n%d key events (press, release) per link, one every 200 to 220 ms of "
               "simulated time.\n", events);
        return 0;
    }

    printf("**Throughput**: one %zu-byte request, answered with 4 bytes\n\n", size);
    printf("| link | time s | payload kB/s | physical ceiling | ratio |\n");
    printf("|---|---:|---:|---|---:|\n");
    for (size_t i = 0; i < n; i++) {
        struct throughput t = measure_throughput(&links[i], size);
        printf("| %s | %.2f | %.2f | %s | %.3f |\n", links[i].label, t.seconds, t.rate / 1000.0,
               links[i].floor_label, t.rate / links[i].ceiling);
        fflush(stdout);
    }
    printf("\n**Latency**: one %d-byte notification on an idle link, %d events\n\n", KEY_BYTES,
           events);
    printf("| link | on the wire | wire time µs | latency µs (virtual + CPU) | ratio median | "
           "ratio p99 |\n");
    printf("|---|---|---:|---:|---:|---:|\n");
    for (size_t k = 0; k < nl; k++) {
        const struct link *l = &links[latency_links[k]];
        struct latency r = measure_latency(l, events, false);
        printf("| %s | %llu frame%s, %llu bytes | %.0f | %.0f + %.0f | %.3f | %.3f |\n", l->label,
               (unsigned long long)r.frames, r.frames == 1 ? "" : "s",
               (unsigned long long)r.bytes, r.wire_us, r.virtual_us, r.cpu_us, r.ratio_median,
               r.ratio_p99);
        fflush(stdout);
    }
    return 0;
}
