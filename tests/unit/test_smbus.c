/* Unit tests of the SMBus binding: the PEC against its check value and an
 * independent long division, DSP0237 frames byte by byte, every rejection
 * of the decoder, and the transport over a simulated bus (tests/sim): its
 * frames and timing on the wire, counters for bad frames, the retry budget
 * for transient errors, 27-byte blocks, arbitration against another
 * master, configuration errors, and the real device's open errors. */
#include "config.h"

#include "testutil.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus_sim.h"
#include "core/core.h"
#include "core/endian.h"
#include "i2c_device.h"
#include "mctp.h"
#include "rshare/smbus.h"
#include "smbus_frame.h"

#define A_ADDR 0x20
#define B_ADDR 0x21
#define A_EID 8
#define B_EID 9

struct capture {
    int count;
    struct rshare_link_addr src;
    size_t len;
    uint8_t data[4096];
};

struct log_capture {
    int warnings;
    char last[256];
};

static int capture_push(rshare_node *node, int index, const struct rshare_link_addr *src,
                        const uint8_t *packet, size_t len, void *user_data)
{
    (void)node;
    (void)index;
    struct capture *c = user_data;
    c->count++;
    c->src = *src;
    c->len = len;
    memcpy(c->data, packet, len < sizeof(c->data) ? len : sizeof(c->data));
    return 0;
}

static void log_sink(void *user_data, enum rshare_log_level level, const char *message)
{
    struct log_capture *l = user_data;
    if (l && level <= RSHARE_LOG_WARNING) {
        l->warnings++;
        snprintf(l->last, sizeof(l->last), "%s", message);
    }
}

static rshare_node *make_node(struct bus_sim *sim, uint32_t id, struct log_capture *log)
{
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = id;
    cfg.clock = bus_sim_clock(sim);
    cfg.request_retry_ms = 3000; /* a link window takes about 1.2 s at 100 kHz */
    cfg.link_window = 8;
    cfg.log = (struct rshare_log){log_sink, log, RSHARE_LOG_WARNING};
    rshare_node *node = NULL;
    ck_assert_int_eq(rshare_node_create(&cfg, &node), 0);
    return node;
}

static int attach(rshare_node *node, void *dev, uint8_t addr, uint8_t eid, uint8_t block_mode,
                  uint16_t retries)
{
    struct rshare_mctp_config mc;
    rshare_mctp_config_init(&mc, sizeof(mc));
    mc.eid = eid;
    struct rshare_smbus_config sc;
    rshare_smbus_config_init(&sc, sizeof(sc));
    sc.address = addr;
    sc.block_mode = block_mode;
    sc.retries = retries;
    sc.mctp = &mc;
    int index = rs_smbus_attach(node, &sc, &sim_i2c_ops, dev);
    ck_assert_msg(index >= 0, "attach: %s", rshare_node_errmsg(node));
    return index;
}

static struct rshare_mctp_stats mstats(rshare_node *node, int index)
{
    struct rshare_mctp_stats st;
    ck_assert_int_eq(rshare_mctp_stats(node, index, &st, sizeof(st)), 0);
    return st;
}

static void send_to(rshare_node *node, int index, const char *to, const void *data, size_t len,
                    unsigned flags)
{
    struct rs_transport *t = rs_transport_get(node, index);
    struct rshare_link_addr addr;
    ck_assert_int_eq(t->ops.addr_parse(t->impl, to, &addr), 0);
    ck_assert_int_eq(rs_transport_send(node, index, &addr, data, len, flags), 0);
}

struct until_count {
    struct capture *cap;
    int want;
};

static int captured_enough(void *user_data)
{
    struct until_count *u = user_data;
    return u->cap->count >= u->want;
}

/* --- PEC and frames ----------------------------------------------------- */

/* CRC-8 as polynomial long division, bit by bit, with x^8 + x^2 + x + 1:
 * a different formulation from the library's, to catch a shared mistake. */
static uint8_t crc8_by_division(const uint8_t *data, size_t len)
{
    uint32_t reg = 0;
    for (size_t i = 0; i < len + 1; i++) {
        uint8_t byte = i < len ? data[i] : 0; /* 8 appended zero bits */
        for (int b = 7; b >= 0; b--) {
            reg = reg << 1 | (uint32_t)(byte >> b & 1);
            if (reg & 0x100)
                reg ^= 0x107;
        }
    }
    return (uint8_t)reg;
}

START_TEST(test_crc8_smbus)
{
    ck_assert_uint_eq(rs_crc8_smbus(0, (const uint8_t *)"123456789", 9), 0xF4);
    ck_assert_uint_eq(crc8_by_division((const uint8_t *)"123456789", 9), 0xF4);
    ck_assert_uint_eq(rs_crc8_smbus(0, NULL, 0), 0);
    uint8_t data[300];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 97 + 13);
    for (size_t n = 1; n < sizeof(data); n += 37) {
        ck_assert_uint_eq(rs_crc8_smbus(0, data, n), crc8_by_division(data, n));
        /* Incremental over two pieces equals one pass. */
        ck_assert_uint_eq(rs_crc8_smbus(rs_crc8_smbus(0, data, n / 2), data + n / 2, n - n / 2),
                          rs_crc8_smbus(0, data, n));
    }
}
END_TEST

START_TEST(test_frame_layout)
{
    static const uint8_t packet[] = {0x01, 0x09, 0x08, 0xC8, 0x7F, 0x00, 0x00, 0x7E, 0xD9};
    uint8_t frame[RS_SMBUS_FRAME_MAX];
    size_t n = rs_smbus_frame_encode(frame, 0x1D, 0x20, packet, sizeof(packet));
    ck_assert_uint_eq(n, sizeof(packet) + 5);
    ck_assert_uint_eq(frame[0], 0x3A);     /* 0x1D << 1, write */
    ck_assert_uint_eq(frame[1], 0x0F);     /* MCTP */
    ck_assert_uint_eq(frame[2], 1 + 9);    /* source byte + packet, PEC not counted */
    ck_assert_uint_eq(frame[3], 0x41);     /* 0x20 << 1 | 1 */
    ck_assert_mem_eq(frame + 4, packet, sizeof(packet));
    ck_assert_uint_eq(frame[n - 1], crc8_by_division(frame, n - 1));

    struct rs_smbus_frame f;
    ck_assert_int_eq(rs_smbus_frame_decode(frame, n, 0x1D, &f), RS_SMBUS_OK);
    ck_assert_uint_eq(f.source, 0x20);
    ck_assert_uint_eq(f.packet_len, sizeof(packet));
    ck_assert_ptr_eq(f.packet, frame + 4);

    /* The largest frame: 250 bytes of payload, byte count 255. */
    uint8_t big[4 + 250] = {0x01, 0x09, 0x08, 0xC8};
    n = rs_smbus_frame_encode(frame, 0x1D, 0x20, big, sizeof(big));
    ck_assert_uint_eq(n, RS_SMBUS_FRAME_MAX);
    ck_assert_uint_eq(frame[2], 255);
    ck_assert_int_eq(rs_smbus_frame_decode(frame, n, 0x1D, &f), RS_SMBUS_OK);
}
END_TEST

static void reseal(uint8_t *frame, size_t len)
{
    frame[len - 1] = rs_crc8_smbus(0, frame, len - 1);
}

START_TEST(test_frame_rejections)
{
    static const uint8_t packet[] = {0x01, 0x09, 0x08, 0xC8, 0x00, 0x81, 0x02};
    uint8_t good[32], f[40];
    size_t n = rs_smbus_frame_encode(good, 0x1D, 0x20, packet, sizeof(packet));
    struct rs_smbus_frame out;

    memcpy(f, good, n);
    ck_assert_int_eq(rs_smbus_frame_decode(f, 9, 0x1D, &out), RS_SMBUS_TRUNCATED);
    ck_assert_int_eq(rs_smbus_frame_decode(f, 0, 0x1D, &out), RS_SMBUS_TRUNCATED);
    ck_assert_int_eq(rs_smbus_frame_decode(f, n - 1, 0x1D, &out), RS_SMBUS_BAD_COUNT);
    f[n] = 0;
    ck_assert_int_eq(rs_smbus_frame_decode(f, n + 1, 0x1D, &out), RS_SMBUS_BAD_COUNT);
    f[2]++;
    ck_assert_int_eq(rs_smbus_frame_decode(f, n, 0x1D, &out), RS_SMBUS_BAD_COUNT);

    memcpy(f, good, n);
    f[6] ^= 0x10;
    ck_assert_int_eq(rs_smbus_frame_decode(f, n, 0x1D, &out), RS_SMBUS_BAD_PEC);
    memcpy(f, good, n);
    f[n - 1] ^= 0x01;
    ck_assert_int_eq(rs_smbus_frame_decode(f, n, 0x1D, &out), RS_SMBUS_BAD_PEC);

    /* Intact frames that are not for us or not MCTP. */
    memcpy(f, good, n);
    ck_assert_int_eq(rs_smbus_frame_decode(f, n, 0x1E, &out), RS_SMBUS_MISADDRESSED);
    f[0] |= 1; /* a read */
    reseal(f, n);
    ck_assert_int_eq(rs_smbus_frame_decode(f, n, 0x1D, &out), RS_SMBUS_MISADDRESSED);
    memcpy(f, good, n);
    f[1] = 0x0E;
    reseal(f, n);
    ck_assert_int_eq(rs_smbus_frame_decode(f, n, 0x1D, &out), RS_SMBUS_BAD_COMMAND);
    memcpy(f, good, n);
    f[3] &= 0xFE;
    reseal(f, n);
    ck_assert_int_eq(rs_smbus_frame_decode(f, n, 0x1D, &out), RS_SMBUS_BAD_SOURCE);
}
END_TEST

/* --- the transport on a simulated bus ------------------------------------ */

struct pair {
    struct bus_sim *sim;
    struct sim_smbus *bus;
    rshare_node *a, *b;
    void *dev_a, *dev_b;
    int ia, ib;
    struct capture cap;
    struct log_capture log;
};

static void pair_open(struct pair *p, uint32_t hz, uint8_t block_mode, uint16_t retries)
{
    memset(p, 0, sizeof(*p));
    p->sim = bus_sim_create(7);
    p->bus = sim_smbus_create(p->sim, hz);
    p->a = make_node(p->sim, 1, &p->log);
    p->b = make_node(p->sim, 2, NULL);
    p->dev_a = sim_smbus_device(p->bus, A_ADDR, 0, 0);
    p->dev_b = sim_smbus_device(p->bus, B_ADDR, 0, 0);
    p->ia = attach(p->a, p->dev_a, A_ADDR, A_EID, block_mode, retries);
    p->ib = attach(p->b, p->dev_b, B_ADDR, B_EID, block_mode, retries);
    rs_core(p->b)->on_packet = capture_push;
    rs_core(p->b)->on_packet_data = &p->cap;
}

static void pair_close(struct pair *p)
{
    rshare_node_destroy(p->a);
    rshare_node_destroy(p->b);
    bus_sim_destroy(p->sim);
}

static void pair_run(struct pair *p, int want, uint64_t max_us)
{
    rshare_node *nodes[] = {p->a, p->b};
    struct until_count u = {&p->cap, want};
    ck_assert_int_eq(bus_sim_run(p->sim, nodes, 2, captured_enough, &u, max_us), 0);
}

START_TEST(test_packet_crosses_the_bus)
{
    struct pair p;
    pair_open(&p, 100000, RSHARE_SMBUS_BLOCK_255, 0);
    uint8_t data[1000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i ^ 0x5A);
    uint64_t t0 = bus_sim_now_ns(p.sim);
    send_to(p.a, p.ia, "9@0x21", data, sizeof(data), 0);
    pair_run(&p, 1, 5000000);
    ck_assert_uint_eq(p.cap.len, sizeof(data));
    ck_assert_mem_eq(p.cap.data, data, sizeof(data));
    ck_assert_uint_eq(p.cap.src.bytes[0], A_EID);
    ck_assert_uint_eq(p.cap.src.bytes[1], A_ADDR);

    /* Five block writes (4 x 250 + 5 bytes of payload), taking at least their
     * wire time and not much more. */
    struct sim_smbus_stats ss;
    sim_smbus_stats(p.bus, &ss);
    ck_assert_uint_eq(ss.node_frames, 5);
    uint64_t wire = 4 * sim_smbus_transaction_ns(p.bus, 4 + 4 + 250 + 1) +
                    sim_smbus_transaction_ns(p.bus, 4 + 4 + 5 + 1);
    uint64_t took = bus_sim_now_ns(p.sim) - t0;
    ck_assert_uint_ge(took, wire - 5000); /* the last bus-free time is not waited for */
    ck_assert_uint_le(took, wire + 1000);
    struct rshare_mctp_stats sa = mstats(p.a, p.ia), sb = mstats(p.b, p.ib);
    ck_assert_uint_eq(sa.tx_frames, 5);
    ck_assert_uint_eq(sa.tx_bytes, 4 * 259 + 14);
    ck_assert_uint_eq(sa.tx_messages, 1);
    ck_assert_uint_eq(sb.rx_frames, 5);
    ck_assert_uint_eq(sb.rx_messages, 1);
    ck_assert_uint_eq(sb.rx_bad_checksum + sb.rx_bad_frame + sb.rx_misaddressed, 0);
    pair_close(&p);
}
END_TEST

START_TEST(test_bad_frames_counted)
{
    struct pair p;
    pair_open(&p, 400000, RSHARE_SMBUS_BLOCK_255, 0);
    uint8_t pkt[4 + 25] = {0x01, B_EID, A_EID, 0xC8, 0x7F};
    rs_put32(pkt + 5, RSHARE_MCTP_IANA_DEFAULT);
    uint8_t good[64], f[64];
    size_t n = rs_smbus_frame_encode(good, B_ADDR, A_ADDR, pkt, sizeof(pkt));

    memcpy(f, good, n);
    f[10] ^= 4;
    sim_smbus_inject(p.dev_b, f, n); /* PEC */
    memcpy(f, good, n);
    f[1] = 0x20;
    reseal(f, n);
    sim_smbus_inject(p.dev_b, f, n); /* IPMB, not MCTP */
    sim_smbus_inject(p.dev_b, good, n - 3); /* cut short */
    memcpy(f, good, n);
    f[0] = (uint8_t)(0x33 << 1);
    reseal(f, n);
    sim_smbus_inject(p.dev_b, f, n); /* for someone else */
    memcpy(f, good, n);
    f[3] = (uint8_t)(A_ADDR << 1);
    reseal(f, n);
    sim_smbus_inject(p.dev_b, f, n); /* source without its bit 0 */
    sim_smbus_inject(p.dev_b, good, 5); /* a stub */
    sim_smbus_inject(p.dev_b, good, n); /* and one good frame after all that */
    pair_run(&p, 1, 1000000);
    ck_assert_uint_eq(p.cap.len, 20); /* 25 bytes of payload less the vendor prefix */
    struct rshare_mctp_stats st = mstats(p.b, p.ib);
    ck_assert_uint_eq(st.rx_frames, 7);
    ck_assert_uint_eq(st.rx_bad_checksum, 1);
    ck_assert_uint_eq(st.rx_bad_frame, 4);
    ck_assert_uint_eq(st.rx_misaddressed, 1);
    ck_assert_uint_eq(st.rx_messages, 1);
    pair_close(&p);
}
END_TEST

START_TEST(test_transient_errors_retried)
{
    struct pair p;
    pair_open(&p, 100000, RSHARE_SMBUS_BLOCK_255, 4);
    uint8_t data[100] = {1, 2, 3};

    /* Three transient errors: the packet waits 0.5 + 1 + 2 ms, then goes. */
    sim_smbus_fail_writes(p.dev_a, EAGAIN, 3);
    uint64_t t0 = bus_sim_now_ns(p.sim);
    send_to(p.a, p.ia, "9@0x21", data, sizeof(data), 0);
    pair_run(&p, 1, 1000000);
    ck_assert_uint_ge(bus_sim_now_ns(p.sim) - t0, 3500000);
    struct rshare_mctp_stats st = mstats(p.a, p.ia);
    ck_assert_uint_eq(st.tx_retries, 3);
    ck_assert_uint_eq(st.tx_failed, 0);

    /* Past the budget (4): abandoned, counted twice over and logged. */
    struct rshare_node_stats ns;
    rshare_node_stats(p.a, &ns, sizeof(ns));
    uint64_t errors = ns.tx_errors;
    sim_smbus_fail_writes(p.dev_a, EBUSY, 5);
    send_to(p.a, p.ia, "9@0x21", data, sizeof(data), 0);
    rshare_node *nodes[] = {p.a, p.b};
    bus_sim_run(p.sim, nodes, 2, NULL, NULL, 500000);
    st = mstats(p.a, p.ia);
    ck_assert_uint_eq(st.tx_retries, 3 + 4);
    ck_assert_uint_eq(st.tx_failed, 1);
    rshare_node_stats(p.a, &ns, sizeof(ns));
    ck_assert_uint_eq(ns.tx_errors, errors + 1);
    ck_assert_int_eq(p.cap.count, 1);
    ck_assert_ptr_nonnull(strstr(p.log.last, "after every retry"));

    /* A hard error is not retried. */
    sim_smbus_fail_writes(p.dev_a, EINVAL, 1);
    send_to(p.a, p.ia, "9@0x21", data, sizeof(data), 0);
    bus_sim_run(p.sim, nodes, 2, NULL, NULL, 500000);
    st = mstats(p.a, p.ia);
    ck_assert_uint_eq(st.tx_retries, 7);
    ck_assert_uint_eq(st.tx_failed, 2);
    ck_assert_ptr_nonnull(strstr(p.log.last, "Invalid argument"));

    /* The transport still works afterwards. */
    send_to(p.a, p.ia, "9@0x21", data, sizeof(data), 0);
    pair_run(&p, 2, 1000000);

    /* Nobody at the address: the NACK is transient, so the budget is used. */
    send_to(p.a, p.ia, "9@0x30", data, sizeof(data), 0);
    bus_sim_run(p.sim, nodes, 2, NULL, NULL, 1000000);
    st = mstats(p.a, p.ia);
    ck_assert_uint_eq(st.tx_failed, 3);
    struct sim_smbus_stats ss;
    sim_smbus_stats(p.bus, &ss);
    ck_assert_uint_eq(ss.nacks, 5);
    pair_close(&p);
}
END_TEST

START_TEST(test_block32_mode)
{
    struct pair p;
    pair_open(&p, 100000, RSHARE_SMBUS_BLOCK_32, 0);
    ck_assert_uint_eq(rs_transport_get(p.a, p.ia)->mtu, 45 * 27 - 5);
    uint8_t data[100];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 3);
    send_to(p.a, p.ia, "9@0x21", data, sizeof(data), 0);
    pair_run(&p, 1, 1000000);
    ck_assert_mem_eq(p.cap.data, data, sizeof(data));
    struct rshare_mctp_stats st = mstats(p.a, p.ia);
    ck_assert_uint_eq(st.tx_frames, 4); /* 105 bytes in blocks of 27 */
    /* Every frame fits a 32-byte SMBus 2.0 block: N <= 32. */
    ck_assert_uint_eq(st.tx_bytes, 3 * (27 + 9) + (105 - 81 + 9));
    pair_close(&p);
}
END_TEST

/* Another master sends PLDM messages to B while A and B talk: arbitration
 * is lost and won, the loser retries, and every message arrives. */
struct foreign {
    int pldm;
};

static void on_pldm(rshare_node *node, int index, const struct rshare_mctp_message *m, void *u)
{
    (void)node;
    (void)index;
    struct foreign *f = u;
    ck_assert_uint_eq(m->len, 12);
    ck_assert_uint_eq(((const uint8_t *)m->data)[0], 0x01);
    ck_assert_uint_eq(m->src_eid, 30);
    f->pldm++;
}

START_TEST(test_arbitration_with_another_master)
{
    struct pair p;
    pair_open(&p, 100000, RSHARE_SMBUS_BLOCK_255, 0);
    uint8_t pldm_packet[4 + 12] = {0x01, B_EID, 30, 0xC8, 0x01, 0x80, 0x02, 0x01};
    uint8_t frame[64];
    size_t n = rs_smbus_frame_encode(frame, B_ADDR, 0x40, pldm_packet, sizeof(pldm_packet));
    sim_smbus_add_master(p.bus, B_ADDR, frame + 1, n - 1, 20000, 10000);
    /* A second master talks to a device at 0x50 (absent here): its address
     * byte is higher than A's, so it is the one that loses to A. */
    sim_smbus_add_master(p.bus, 0x50, frame + 1, n - 1, 20000, 10000);
    struct foreign f = {0};
    ck_assert_int_eq(rshare_mctp_set_handler(p.b, p.ib, on_pldm, &f), 0);
    uint8_t data[1200];
    for (int i = 0; i < 20; i++) {
        memset(data, i, sizeof(data));
        send_to(p.a, p.ia, "9@0x21", data, sizeof(data), 0);
    }
    pair_run(&p, 20, 60000000);
    ck_assert_uint_eq(p.cap.len, sizeof(data));
    ck_assert_uint_eq(p.cap.data[0], 19);
    struct sim_smbus_stats ss;
    sim_smbus_stats(p.bus, &ss);
    ck_assert_uint_gt(ss.arbitration_lost, 0);
    ck_assert_uint_gt(ss.foreign_arbitration_lost, 0);
    struct rshare_mctp_stats sa = mstats(p.a, p.ia), sb = mstats(p.b, p.ib);
    ck_assert_uint_eq(sa.tx_retries, ss.arbitration_lost);
    ck_assert_uint_eq(sa.tx_failed, 0);
    ck_assert_int_gt(f.pldm, 50);
    ck_assert_uint_eq(sb.rx_other_messages, (uint64_t)f.pldm);
    ck_assert_uint_eq(sb.rx_bad_checksum + sb.rx_bad_frame, 0);
    pair_close(&p);
}
END_TEST

/* --- configuration and the real device ------------------------------------ */

START_TEST(test_config_errors)
{
    struct bus_sim *sim = bus_sim_create(1);
    rshare_node *node = make_node(sim, 1, NULL);
    struct rshare_mctp_config mc;
    rshare_mctp_config_init(&mc, sizeof(mc));
    mc.eid = 9;
    struct rshare_smbus_config sc;
    static const struct {
        uint8_t address, mode;
        uint16_t retries;
        uint32_t delay, turn;
        int with_mctp;
        int rc;
    } cases[] = {
        {0x07, 0, 0, 0, 0, 1, RSHARE_EINVAL}, {0x78, 0, 0, 0, 0, 1, RSHARE_EINVAL},
        {0x00, 0, 0, 0, 0, 1, RSHARE_EINVAL}, {0x20, 2, 0, 0, 0, 1, RSHARE_EINVAL},
        {0x20, 0, 1001, 0, 0, 1, RSHARE_EINVAL}, {0x20, 0, 0, 100001, 0, 1, RSHARE_EINVAL},
        {0x20, 0, 0, 0, 1025, 1, RSHARE_EINVAL}, {0x20, 0, 0, 0, 0, 0, RSHARE_EINVAL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rshare_smbus_config_init(&sc, sizeof(sc));
        sc.address = cases[i].address;
        sc.block_mode = cases[i].mode;
        sc.retries = cases[i].retries;
        sc.retry_delay_us = cases[i].delay;
        sc.packets_per_turn = cases[i].turn;
        sc.mctp = cases[i].with_mctp ? &mc : NULL;
        sc.i2c_device = "/dev/null";
        sc.mqueue_path = "/dev/null";
        ck_assert_msg(rshare_node_add_smbus(node, &sc) == cases[i].rc, "case %zu", i);
        ck_assert_str_ne(rshare_node_errmsg(node), "");
    }
    rshare_smbus_config_init(&sc, sizeof(sc));
    sc.struct_size = 12;
    ck_assert_int_eq(rshare_node_add_smbus(node, &sc), RSHARE_EVERSION);
    ck_assert_int_eq(rshare_node_add_smbus(node, NULL), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_node_add_smbus(NULL, &sc), RSHARE_EINVAL);

    /* The real device: each open error says what and where. */
    rshare_smbus_config_init(&sc, sizeof(sc));
    sc.address = 0x20;
    sc.mctp = &mc;
    ck_assert_int_eq(rshare_node_add_smbus(node, &sc), RSHARE_EINVAL); /* no paths */
    sc.i2c_device = "/nonexistent/i2c-7";
    sc.mqueue_path = "/nonexistent/slave-mqueue";
    ck_assert_int_eq(rshare_node_add_smbus(node, &sc), RSHARE_ESYS);
    ck_assert_ptr_nonnull(strstr(rshare_node_errmsg(node), "/nonexistent/i2c-7"));
    sc.i2c_device = "/dev/null";
    ck_assert_int_eq(rshare_node_add_smbus(node, &sc), RSHARE_ESYS);
    ck_assert_ptr_nonnull(strstr(rshare_node_errmsg(node), "not an i2c-dev adapter"));
    rshare_node_destroy(node);
    bus_sim_destroy(sim);
}
END_TEST

/* With the default node timers a link window outlasts the retransmission
 * timer on a 100 kHz bus: the transport says so when attached. */
START_TEST(test_timer_warning)
{
    struct bus_sim *sim = bus_sim_create(1);
    struct sim_smbus *bus = sim_smbus_create(sim, 100000);
    struct log_capture log = {0};
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = 1;
    cfg.clock = bus_sim_clock(sim);
    cfg.log = (struct rshare_log){log_sink, &log, RSHARE_LOG_WARNING};
    rshare_node *node;
    ck_assert_int_eq(rshare_node_create(&cfg, &node), 0);
    int warnings = log.warnings;
    attach(node, sim_smbus_device(bus, A_ADDR, 0, 0), A_ADDR, A_EID, RSHARE_SMBUS_BLOCK_255, 0);
    ck_assert_int_eq(log.warnings, warnings + 1);
    ck_assert_ptr_nonnull(strstr(log.last, "request_retry_ms"));
    rshare_node_destroy(node);

    node = make_node(sim, 2, &log); /* 3000 ms, window 8 */
    warnings = log.warnings;
    attach(node, sim_smbus_device(bus, B_ADDR, 0, 0), B_ADDR, B_EID, RSHARE_SMBUS_BLOCK_255, 0);
    ck_assert_int_eq(log.warnings, warnings);
    rshare_node_destroy(node);
    bus_sim_destroy(sim);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("smbus");
    TCase *tc = tcase_create("smbus");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_crc8_smbus);
    tcase_add_test(tc, test_frame_layout);
    tcase_add_test(tc, test_frame_rejections);
    tcase_add_test(tc, test_packet_crosses_the_bus);
    tcase_add_test(tc, test_bad_frames_counted);
    tcase_add_test(tc, test_transient_errors_retried);
    tcase_add_test(tc, test_block32_mode);
    tcase_add_test(tc, test_arbitration_with_another_master);
    tcase_add_test(tc, test_config_errors);
    tcase_add_test(tc, test_timer_warning);
    suite_add_tcase(s, tc);
    return rs_test_run(s);
}
