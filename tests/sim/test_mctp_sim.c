/* Simulation: two rshare nodes talking request/response over the simulated
 * SMBus (100 kHz and 400 kHz, with another MCTP endpoint on the bus) and
 * serial lines (point to point and RS-485), clean and with noise.  Every
 * call completes with the right bytes; on noisy wires exactly the damaged
 * frames are lost (each node accepts every intact frame it was sent and
 * nothing else) and the upper layers retransmit what they cost. */
#include "config.h"

#include "testutil.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus_sim.h"
#include "core/core.h"
#include "rshare/serial.h"
#include "rshare/smbus.h"
#include "smbus_frame.h"

#define ECHO_TYPE 0x8001
#define SMALL_CALLS 40
#define BIG_LEN (16 * 1024)

static const uint8_t cluster_key[RSHARE_CLUSTER_KEY_BYTES] = {
    0x4d, 0x43, 0x54, 0x50, 0x2d, 0x73, 0x69, 0x6d, 0x8a, 0x17, 0xf3, 0x02, 0x5c, 0xe1, 0x9b, 0x44,
    0x21, 0x7e, 0x7d, 0x36, 0xc0, 0x0f, 0xa5, 0x58, 0x93, 0x6b, 0x14, 0xd2, 0x3e, 0x81, 0x47, 0xba};

struct world {
    struct bus_sim *sim;
    rshare_node *nodes[2];
    int index[2];
    int replies, failures, big_ok;
    int pldm_seen;
    uint8_t big[BIG_LEN];
};

static void echo(rshare_node *node, rshare_request *req, void *user_data)
{
    (void)node;
    (void)user_data;
    rshare_request_reply(req, rshare_request_data(req), rshare_request_len(req));
}

static void on_reply(rshare_node *node, const struct rshare_reply *reply, void *user_data)
{
    (void)node;
    struct world *w = user_data;
    if (reply->status != 0) {
        w->failures++;
        return;
    }
    if (reply->len == BIG_LEN)
        w->big_ok += memcmp(reply->data, w->big, BIG_LEN) == 0;
    else if (reply->len != sizeof(uint32_t))
        w->failures++;
    w->replies++;
}

static void on_other(rshare_node *node, int index, const struct rshare_mctp_message *m, void *u)
{
    (void)node;
    (void)index;
    struct world *w = u;
    if (m->len == 12 && ((const uint8_t *)m->data)[0] == 0x01)
        w->pldm_seen++;
}

static int all_done(void *user_data)
{
    struct world *w = user_data;
    return w->replies + w->failures == SMALL_CALLS + 1;
}

static rshare_node *make_node(struct world *w, uint32_t id, uint32_t retry_ms, const uint8_t *key)
{
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = id;
    cfg.cluster_key = key;
    cfg.clock = bus_sim_clock(w->sim);
    cfg.request_retry_ms = retry_ms;
    cfg.request_timeout_ms = 600000;
    cfg.link_window = 8;
    cfg.log = (struct rshare_log){rs_test_quiet_log, NULL, RSHARE_LOG_ERROR};
    rshare_node *node = NULL;
    ck_assert_int_eq(rshare_node_create(&cfg, &node), 0);
    ck_assert_int_eq(rshare_node_set_handler(node, ECHO_TYPE, echo, NULL), 0);
    return node;
}

/* Node 1 calls node 2: forty small requests and a 16 KiB one at once. */
static void exchange(struct world *w, const char *peer_addr, uint64_t max_us)
{
    for (size_t i = 0; i < BIG_LEN; i++)
        w->big[i] = (uint8_t)(i * 2654435761u >> 11);
    ck_assert_int_eq(rshare_node_add_peer(w->nodes[0], 2, w->index[0], peer_addr), 0);
    ck_assert_int_eq(rshare_node_call(w->nodes[0], 2, ECHO_TYPE, w->big, BIG_LEN, on_reply, w),
                     0);
    for (uint32_t i = 0; i < SMALL_CALLS; i++)
        ck_assert_int_eq(rshare_node_call(w->nodes[0], 2, ECHO_TYPE, &i, sizeof(i), on_reply, w),
                         0);
    ck_assert_int_eq(bus_sim_run(w->sim, w->nodes, 2, all_done, w, max_us), 0);
    ck_assert_int_eq(w->failures, 0);
    ck_assert_int_eq(w->big_ok, 1);
}

static struct rshare_mctp_stats mstats(struct world *w, int i)
{
    struct rshare_mctp_stats st;
    ck_assert_int_eq(rshare_mctp_stats(w->nodes[i], w->index[i], &st, sizeof(st)), 0);
    return st;
}

static uint64_t accepted(const struct rshare_mctp_stats *st)
{
    return st->rx_frames - st->rx_bad_checksum - st->rx_bad_frame - st->rx_misaddressed;
}

static uint64_t link_recoveries(struct world *w)
{
    uint64_t sum = 0;
    for (int i = 0; i < 2; i++) {
        struct rshare_node_stats ns;
        rshare_node_stats(w->nodes[i], &ns, sizeof(ns));
        sum += ns.retransmits + ns.requests_retried;
    }
    return sum;
}

/* --- SMBus ---------------------------------------------------------------- */

static void smbus_world(struct world *w, uint32_t hz, const struct bus_sim_noise *noise,
                        void *devs[2], struct sim_smbus **bus_out)
{
    memset(w, 0, sizeof(*w));
    w->sim = bus_sim_create(hz + (noise ? 1 : 0));
    struct sim_smbus *bus = sim_smbus_create(w->sim, hz);
    if (noise)
        sim_smbus_set_noise(bus, noise);
    /* A PLDM endpoint at 0x40 (EID 30) polls node 2 now and then. */
    uint8_t pldm[4 + 12] = {0x01, 9, 30, 0xC8, 0x01, 0x80, 0x02, 0x01};
    uint8_t frame[64];
    size_t n = rs_smbus_frame_encode(frame, 0x21, 0x40, pldm, sizeof(pldm));
    sim_smbus_add_master(bus, 0x21, frame + 1, n - 1, 50000, 50000);
    uint32_t retry_ms = hz >= 400000 ? 1000 : 3000;
    for (int i = 0; i < 2; i++) {
        w->nodes[i] = make_node(w, (uint32_t)i + 1, retry_ms, noise ? cluster_key : NULL);
        struct rshare_mctp_config mc;
        rshare_mctp_config_init(&mc, sizeof(mc));
        mc.eid = (uint8_t)(8 + i);
        struct rshare_smbus_config sc;
        rshare_smbus_config_init(&sc, sizeof(sc));
        sc.address = (uint8_t)(0x20 + i);
        sc.bus_hz = hz;
        sc.mctp = &mc;
        devs[i] = sim_smbus_device(bus, sc.address, 0, 0);
        w->index[i] = rs_smbus_attach(w->nodes[i], &sc, &sim_i2c_ops, devs[i]);
        ck_assert_int_ge(w->index[i], 0);
    }
    ck_assert_int_eq(rshare_mctp_set_handler(w->nodes[1], w->index[1], on_other, w), 0);
    *bus_out = bus;
}

static void free_world(struct world *w)
{
    for (int i = 0; i < 2; i++)
        rshare_node_destroy(w->nodes[i]);
    bus_sim_destroy(w->sim);
}

static void smbus_clean(uint32_t hz)
{
    static struct world w;
    void *devs[2];
    struct sim_smbus *bus;
    smbus_world(&w, hz, NULL, devs, &bus);
    exchange(&w, "9@0x21", 600000000);
    struct sim_smbus_stats ss;
    sim_smbus_stats(bus, &ss);
    ck_assert_uint_eq(ss.queue_dropped, 0);
    ck_assert_int_gt(w.pldm_seen, 0);
    for (int i = 0; i < 2; i++) {
        struct rshare_mctp_stats st = mstats(&w, i);
        ck_assert_uint_eq(st.rx_bad_checksum + st.rx_bad_frame + st.tx_failed, 0);
    }
    /* Nothing lost, so nothing sent twice by the link layer. */
    struct rshare_node_stats ns;
    rshare_node_stats(w.nodes[0], &ns, sizeof(ns));
    ck_assert_uint_eq(ns.retransmits, 0);
    free_world(&w);
}

START_TEST(test_smbus_100khz)
{
    smbus_clean(100000);
}
END_TEST

START_TEST(test_smbus_400khz)
{
    smbus_clean(400000);
}
END_TEST

START_TEST(test_smbus_noise)
{
    static struct world w;
    void *devs[2];
    struct sim_smbus *bus;
    struct bus_sim_noise noise = {.flip_ppm = 60000, .truncate_ppm = 40000, .garbage_ppm = 30000};
    smbus_world(&w, 400000, &noise, devs, &bus);
    exchange(&w, "9@0x21", 3600000000u);
    struct sim_smbus_stats ss;
    sim_smbus_stats(bus, &ss);
    ck_assert_uint_gt(ss.damaged, 20);
    ck_assert_uint_gt(ss.garbage, 5);
    ck_assert_uint_eq(ss.queue_dropped, 0);
    uint64_t rejected = 0;
    for (int i = 0; i < 2; i++) {
        uint64_t delivered, intact;
        sim_smbus_device_stats(devs[i], &delivered, &intact);
        struct rshare_mctp_stats st = mstats(&w, i);
        /* Every frame that reached the node was read, and the node accepted
         * exactly the intact ones. */
        ck_assert_uint_eq(st.rx_frames, delivered);
        ck_assert_uint_eq(accepted(&st), intact);
        rejected += st.rx_bad_checksum + st.rx_bad_frame + st.rx_misaddressed;
    }
    ck_assert_uint_gt(rejected, 20);
    ck_assert_uint_gt(link_recoveries(&w), 0);
    ck_assert_int_gt(w.pldm_seen, 0);
    free_world(&w);
}
END_TEST

/* --- serial ----------------------------------------------------------------- */

static struct sim_serial *serial_world(struct world *w, bool multidrop,
                                       const struct bus_sim_noise *noise)
{
    memset(w, 0, sizeof(*w));
    w->sim = bus_sim_create(multidrop ? 11 : 12);
    struct sim_serial *line = sim_serial_create(w->sim, 115200, multidrop);
    if (noise)
        sim_serial_set_noise(line, noise);
    sim_serial_set_latency(line, 200);
    for (int i = 0; i < 2; i++) {
        w->nodes[i] = make_node(w, (uint32_t)i + 1, 3000, noise ? cluster_key : NULL);
        struct rshare_mctp_config mc;
        rshare_mctp_config_init(&mc, sizeof(mc));
        mc.eid = (uint8_t)(8 + i);
        struct rshare_serial_config sc;
        rshare_serial_config_init(&sc, sizeof(sc));
        sc.multidrop = multidrop;
        sc.address = (uint8_t)i;
        sc.nodes = 2;
        sc.echo = multidrop;
        sc.mctp = &mc;
        void *port = sim_serial_port(line, multidrop, multidrop);
        w->index[i] = rs_serial_attach(w->nodes[i], &sc,
                                       multidrop ? RSHARE_SERIAL_TURNAROUND_RTS
                                                 : RSHARE_SERIAL_TURNAROUND_NONE,
                                       &sim_line_ops, port);
        ck_assert_int_ge(w->index[i], 0);
    }
    return line;
}

START_TEST(test_serial_clean)
{
    static struct world w;
    struct sim_serial *line = serial_world(&w, false, NULL);
    exchange(&w, "9", 600000000);
    struct sim_serial_stats ss;
    sim_serial_stats(line, &ss);
    ck_assert_uint_eq(ss.frames, ss.intact_frames);
    ck_assert_uint_eq(ss.rx_overflow, 0);
    uint64_t got = 0;
    for (int i = 0; i < 2; i++) {
        struct rshare_mctp_stats st = mstats(&w, i);
        ck_assert_uint_eq(st.rx_bad_checksum + st.rx_bad_frame, 0);
        got += accepted(&st);
    }
    ck_assert_uint_eq(got, ss.frames);
    free_world(&w);
}
END_TEST

START_TEST(test_serial_noise)
{
    static struct world w;
    struct bus_sim_noise noise = {.flip_ppm = 300, .truncate_ppm = 100, .garbage_ppm = 100};
    struct sim_serial *line = serial_world(&w, false, &noise);
    exchange(&w, "9", 3600000000u);
    struct sim_serial_stats ss;
    sim_serial_stats(line, &ss);
    ck_assert_uint_gt(ss.frames - ss.intact_frames, 10);
    ck_assert_uint_eq(ss.rx_overflow, 0);
    /* Point to point: each frame has one receiver, so the two nodes together
     * accepted exactly the frames that crossed intact. */
    uint64_t got = 0, rejected = 0;
    for (int i = 0; i < 2; i++) {
        struct rshare_mctp_stats st = mstats(&w, i);
        got += accepted(&st);
        rejected += st.rx_bad_checksum + st.rx_bad_frame;
    }
    ck_assert_uint_eq(got, ss.intact_frames);
    ck_assert_uint_gt(rejected, 10);
    ck_assert_uint_gt(link_recoveries(&w), 0);
    free_world(&w);
}
END_TEST

/* Two drops of an RS-485 pair with noise: echoes go bad too, so a node may
 * send a message again that already arrived; the link layer's replay
 * window makes that harmless. */
START_TEST(test_rs485_noise)
{
    static struct world w;
    struct bus_sim_noise noise = {.flip_ppm = 200, .truncate_ppm = 50, .garbage_ppm = 50};
    struct sim_serial *line = serial_world(&w, true, &noise);
    exchange(&w, "9@1", 3600000000u);
    struct sim_serial_stats ss;
    sim_serial_stats(line, &ss);
    ck_assert_uint_gt(ss.frames - ss.intact_frames, 5);
    ck_assert_uint_eq(ss.collided_bytes, 0);
    ck_assert_uint_eq(ss.undriven_bytes, 0);
    /* Shared pair with echo: both nodes hear every frame. */
    for (int i = 0; i < 2; i++) {
        struct rshare_mctp_stats st = mstats(&w, i);
        ck_assert_uint_eq(accepted(&st), ss.intact_frames);
    }
    free_world(&w);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("mctp_sim");
    TCase *tc = tcase_create("mctp_sim");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_smbus_100khz);
    tcase_add_test(tc, test_smbus_400khz);
    tcase_add_test(tc, test_smbus_noise);
    tcase_add_test(tc, test_serial_clean);
    tcase_add_test(tc, test_serial_noise);
    tcase_add_test(tc, test_rs485_noise);
    suite_add_tcase(s, tc);
    return rs_test_run(s);
}
