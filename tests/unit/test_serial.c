/* Unit tests of the serial binding: the FCS against its check value and an
 * independent formulation, hand-checked DSP0253 frames (escapes in the body
 * and FCS bytes equal to 0x7E and 0x7D), a receiver that resynchronises
 * after every kind of damage, the termios set-up and an exchange over a
 * real pseudo-terminal pair, configuration errors, and RS-485 turn-taking
 * on the simulated bus: no collisions when configured, detection and
 * recovery when slots are too short for the receive latency. */
#include "config.h"

#include "testutil.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "bus_sim.h"
#include "core/core.h"
#include "rshare/serial.h"
#include "serial_frame.h"
#include "serial_line.h"

#define ECHO_TYPE 0x8001

/* --- FCS and frames ------------------------------------------------------- */

/* MCRF4XX is CRC-16/CCITT with reflected input and output: compute it the
 * unreflected way on bit-reversed bytes and reverse the result. */
static uint8_t reverse8(uint8_t b)
{
    uint8_t r = 0;
    for (int i = 0; i < 8; i++)
        r = (uint8_t)(r << 1 | (b >> i & 1));
    return r;
}

static uint16_t crc16_unreflected(const uint8_t *data, size_t len)
{
    uint16_t crc = 0xFFFF;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)(reverse8(data[i]) << 8);
        for (int b = 0; b < 8; b++)
            crc = (uint16_t)(crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1);
    }
    return (uint16_t)(reverse8((uint8_t)crc) << 8 | reverse8((uint8_t)(crc >> 8)));
}

START_TEST(test_crc16_mcrf4xx)
{
    ck_assert_uint_eq(rs_crc16_mcrf4xx(0xFFFF, (const uint8_t *)"123456789", 9), 0x6F91);
    ck_assert_uint_eq(crc16_unreflected((const uint8_t *)"123456789", 9), 0x6F91);
    uint8_t data[300];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 151 + 7);
    for (size_t n = 0; n < sizeof(data); n += 29)
        ck_assert_uint_eq(rs_crc16_mcrf4xx(0xFFFF, data, n), crc16_unreflected(data, n));
}
END_TEST

static void check_encoding(const uint8_t *packet, size_t len, const uint8_t *expected,
                           size_t expected_len, uint16_t fcs)
{
    uint8_t out[RS_SERIAL_FRAME_MAX];
    uint16_t got_fcs = 0;
    size_t n = rs_serial_frame_encode(out, sizeof(out), false, 0, 0, packet, len, &got_fcs);
    ck_assert_uint_eq(n, expected_len);
    ck_assert_mem_eq(out, expected, n);
    ck_assert_uint_eq(got_fcs, fcs);
}

/* Frames worked out by hand (and cross-checked by a separate script): every
 * 0x7E and 0x7D between the flags is escaped, the FCS too. */
START_TEST(test_hand_checked_frames)
{
    static const uint8_t body_escapes[] = {0x01, 0x08, 0x09, 0xC8, 0x7E, 0x7D, 0x11};
    static const uint8_t body_frame[] = {0x7E, 0x01, 0x07, 0x01, 0x08, 0x09, 0xC8, 0x7D,
                                         0x5E, 0x7D, 0x5D, 0x11, 0x7F, 0x74, 0x7E};
    check_encoding(body_escapes, sizeof(body_escapes), body_frame, sizeof(body_frame), 0x7F74);

    static const uint8_t fcs_high[] = {0x01, 0x08, 0x09, 0xC8, 0x00, 0xE5}; /* FCS 0x7E6D */
    static const uint8_t fcs_high_frame[] = {0x7E, 0x01, 0x06, 0x01, 0x08, 0x09, 0xC8,
                                             0x00, 0xE5, 0x7D, 0x5E, 0x6D, 0x7E};
    check_encoding(fcs_high, sizeof(fcs_high), fcs_high_frame, sizeof(fcs_high_frame), 0x7E6D);

    static const uint8_t fcs_low[] = {0x01, 0x08, 0x09, 0xC8, 0x00, 0x56}; /* FCS 0xF97D */
    static const uint8_t fcs_low_frame[] = {0x7E, 0x01, 0x06, 0x01, 0x08, 0x09, 0xC8,
                                            0x00, 0x56, 0xF9, 0x7D, 0x5D, 0x7E};
    check_encoding(fcs_low, sizeof(fcs_low), fcs_low_frame, sizeof(fcs_low_frame), 0xF97D);

    static const uint8_t fcs_both[] = {0x01, 0x08, 0x09, 0xC8, 0x10, 0x64}; /* FCS 0x7E7D */
    static const uint8_t fcs_both_frame[] = {0x7E, 0x01, 0x06, 0x01, 0x08, 0x09, 0xC8, 0x10,
                                             0x64, 0x7D, 0x5E, 0x7D, 0x5D, 0x7E};
    check_encoding(fcs_both, sizeof(fcs_both), fcs_both_frame, sizeof(fcs_both_frame), 0x7E7D);

    /* Multi-drop: destination and source after the length, inside the FCS. */
    static const uint8_t md_packet[] = {0x01, 0x08, 0x09, 0xC8, 0xAA};
    static const uint8_t md_frame[] = {0x7E, 0x01, 0x05, 0x03, 0x01, 0x01, 0x08,
                                       0x09, 0xC8, 0xAA, 0x44, 0x79, 0x7E};
    uint8_t out[RS_SERIAL_FRAME_MAX];
    size_t n = rs_serial_frame_encode(out, sizeof(out), true, 3, 1, md_packet, sizeof(md_packet),
                                      NULL);
    ck_assert_uint_eq(n, sizeof(md_frame));
    ck_assert_mem_eq(out, md_frame, n);

    /* Limits: a packet of 256 bytes, or too small a buffer, encode nothing. */
    static uint8_t big[256];
    ck_assert_uint_eq(rs_serial_frame_encode(out, sizeof(out), false, 0, 0, big, 256, NULL), 0);
    ck_assert_uint_eq(rs_serial_frame_encode(out, 12, false, 0, 0, body_escapes, 7, NULL), 0);
    ck_assert_uint_gt(rs_serial_frame_encode(out, sizeof(out), false, 0, 0, big, 255, NULL), 0);
    memset(big, 0x7E, sizeof(big));
    ck_assert_uint_le(rs_serial_frame_encode(out, sizeof(out), true, 0x7E, 0x7D, big, 255, NULL),
                      RS_SERIAL_FRAME_MAX);
}
END_TEST

/* --- the receiver ------------------------------------------------------------ */

struct events {
    int count;
    enum rs_serial_status status[32];
    size_t len[32];
    uint8_t dst[32], src[32];
    uint8_t first[32];
};

static void record(void *ctx, enum rs_serial_status status, const struct rs_serial_frame *f)
{
    struct events *e = ctx;
    ck_assert_int_lt(e->count, 32);
    e->status[e->count] = status;
    ck_assert_int_eq(status == RS_SERIAL_OK, f != NULL);
    if (f) {
        e->len[e->count] = f->packet_len;
        e->dst[e->count] = f->dst;
        e->src[e->count] = f->src;
        e->first[e->count] = f->packet_len ? f->packet[0] : 0;
    }
    e->count++;
}

struct stream {
    uint8_t bytes[4096];
    size_t len;
};

static void add_bytes(struct stream *s, const uint8_t *b, size_t n)
{
    ck_assert_uint_le(s->len + n, sizeof(s->bytes));
    memcpy(s->bytes + s->len, b, n);
    s->len += n;
}

static size_t add_frame(struct stream *s, bool multidrop, uint8_t first, size_t len)
{
    uint8_t packet[255], f[RS_SERIAL_FRAME_MAX];
    for (size_t i = 0; i < len; i++)
        packet[i] = (uint8_t)(first + i * 7); /* 0x7E and 0x7D turn up often */
    size_t n = rs_serial_frame_encode(f, sizeof(f), multidrop, 2, 5, packet, len, NULL);
    ck_assert_uint_gt(n, 0);
    add_bytes(s, f, n);
    return n;
}

/* Feed in one piece and byte by byte: the result must not depend on how the
 * line chops the stream. */
static void deframe_both_ways(const struct stream *s, bool multidrop, struct events *whole)
{
    struct rs_serial_deframer d;
    struct events single = {0};
    memset(whole, 0, sizeof(*whole));
    rs_serial_deframer_init(&d, multidrop);
    rs_serial_deframe(&d, s->bytes, s->len, record, whole);
    rs_serial_deframer_init(&d, multidrop);
    for (size_t i = 0; i < s->len; i++)
        rs_serial_deframe(&d, s->bytes + i, 1, record, &single);
    ck_assert_int_eq(single.count, whole->count);
    ck_assert_mem_eq(single.status, whole->status, sizeof(single.status[0]) * (size_t)single.count);
}

START_TEST(test_resync_after_damage)
{
    struct stream s = {.len = 0};
    static const uint8_t noise[] = {0x11, 0x7D, 0x22};
    add_bytes(&s, noise, sizeof(noise));                 /* before any flag: line noise */
    add_frame(&s, false, 0x10, 40);                      /* A */
    size_t at = s.len;
    add_frame(&s, false, 0x20, 200);                     /* B, about to be cut */
    s.len = at + 60;                                     /* ... here, without a closing flag */
    add_frame(&s, false, 0x30, 12);                      /* C */
    at = s.len;
    size_t n = add_frame(&s, false, 0x40, 30);           /* D, one bit flipped */
    s.bytes[at + n / 2] ^= 0x08;
    if (s.bytes[at + n / 2] == 0x7E || s.bytes[at + n / 2] == 0x7D)
        s.bytes[at + n / 2] ^= 0x01;
    add_frame(&s, false, 0x50, 8);                       /* E */
    static const uint8_t junk[] = {0x7E, 0x99, 0x98, 0x97, 0x7E};
    add_bytes(&s, junk, sizeof(junk));                   /* garbage between frames */
    static const uint8_t abort_seq[] = {0x7E, 0x01, 0x02, 0x7D, 0x7E};
    add_bytes(&s, abort_seq, sizeof(abort_seq));         /* escape then flag */
    add_frame(&s, false, 0x60, 100);                     /* F */

    struct events e;
    deframe_both_ways(&s, false, &e);
    ck_assert_int_eq(e.count, 8);
    ck_assert_int_eq(e.status[0], RS_SERIAL_OK);
    ck_assert_uint_eq(e.len[0], 40);
    ck_assert_uint_eq(e.first[0], 0x10);
    ck_assert_int_eq(e.status[1], RS_SERIAL_BAD_LENGTH); /* B cost only itself */
    ck_assert_int_eq(e.status[2], RS_SERIAL_OK);
    ck_assert_uint_eq(e.first[2], 0x30);
    ck_assert_int_ne(e.status[3], RS_SERIAL_OK);         /* D */
    ck_assert_int_eq(e.status[4], RS_SERIAL_OK);
    ck_assert_uint_eq(e.first[4], 0x50);
    ck_assert_int_eq(e.status[5], RS_SERIAL_BAD_LENGTH); /* the garbage */
    ck_assert_int_eq(e.status[6], RS_SERIAL_BAD_ESCAPE);
    ck_assert_int_eq(e.status[7], RS_SERIAL_OK);
    ck_assert_uint_eq(e.len[7], 100);
}
END_TEST

START_TEST(test_receiver_limits)
{
    struct stream s = {.len = 0};
    uint8_t lots[600];
    memset(lots, 0x33, sizeof(lots));
    static const uint8_t flag = 0x7E;
    add_bytes(&s, &flag, 1);
    add_bytes(&s, lots, sizeof(lots)); /* a lost flag: far too long */
    add_bytes(&s, &flag, 1);
    add_frame(&s, false, 0x01, 255);   /* the largest frame still fits */
    /* A valid FCS over a wrong revision, and over a lying length field. */
    uint8_t body[] = {0x02, 0x05, 0x01, 0x08, 0x09, 0xC8, 0x00, 0, 0};
    uint16_t fcs = rs_crc16_mcrf4xx(0xFFFF, body, 7);
    body[7] = (uint8_t)(fcs >> 8);
    body[8] = (uint8_t)fcs;
    add_bytes(&s, &flag, 1);
    add_bytes(&s, body, sizeof(body));
    add_bytes(&s, &flag, 1);
    body[0] = 0x01;
    body[1] = 0x04;
    fcs = rs_crc16_mcrf4xx(0xFFFF, body, 7);
    body[7] = (uint8_t)(fcs >> 8);
    body[8] = (uint8_t)fcs;
    add_bytes(&s, &flag, 1);
    add_bytes(&s, body, sizeof(body));
    add_bytes(&s, &flag, 1);
    static const uint8_t double_escape[] = {0x7E, 0x01, 0x7D, 0x7D, 0x02, 0x7E};
    add_bytes(&s, double_escape, sizeof(double_escape));
    static const uint8_t tiny[] = {0x7E, 0x01, 0x7E};
    add_bytes(&s, tiny, sizeof(tiny));
    add_frame(&s, false, 0x02, 5);

    struct events e;
    deframe_both_ways(&s, false, &e);
    ck_assert_int_eq(e.count, 7);
    ck_assert_int_eq(e.status[0], RS_SERIAL_TOO_LONG);
    ck_assert_int_eq(e.status[1], RS_SERIAL_OK);
    ck_assert_uint_eq(e.len[1], 255);
    ck_assert_int_eq(e.status[2], RS_SERIAL_BAD_REVISION);
    ck_assert_int_eq(e.status[3], RS_SERIAL_BAD_LENGTH);
    ck_assert_int_eq(e.status[4], RS_SERIAL_BAD_ESCAPE);
    ck_assert_int_eq(e.status[5], RS_SERIAL_BAD_LENGTH);
    ck_assert_int_eq(e.status[6], RS_SERIAL_OK);
}
END_TEST

START_TEST(test_multidrop_frames)
{
    struct stream s = {.len = 0};
    add_frame(&s, true, 0x10, 20);
    struct events e;
    deframe_both_ways(&s, true, &e);
    ck_assert_int_eq(e.count, 1);
    ck_assert_int_eq(e.status[0], RS_SERIAL_OK);
    ck_assert_uint_eq(e.dst[0], 2);
    ck_assert_uint_eq(e.src[0], 5);
    ck_assert_uint_eq(e.len[0], 20);
    /* A point-to-point receiver sees two bytes too many, and the reverse. */
    deframe_both_ways(&s, false, &e);
    ck_assert_int_eq(e.status[0], RS_SERIAL_BAD_LENGTH);
    s.len = 0;
    add_frame(&s, false, 0x10, 20);
    deframe_both_ways(&s, true, &e);
    ck_assert_int_eq(e.status[0], RS_SERIAL_BAD_LENGTH);
}
END_TEST

/* --- a real pseudo-terminal pair ---------------------------------------------- */

static rshare_node *make_node(uint32_t id, struct rshare_clock clock)
{
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = id;
    cfg.clock = clock;
    cfg.request_retry_ms = 3000;
    cfg.request_timeout_ms = 60000;
    cfg.link_window = 8;
    cfg.log = (struct rshare_log){rs_test_quiet_log, NULL, RSHARE_LOG_ERROR};
    rshare_node *node = NULL;
    ck_assert_int_eq(rshare_node_create(&cfg, &node), 0);
    return node;
}

static int add_serial(rshare_node *node, const char *device, int fd, uint8_t eid, uint32_t baud,
                      uint8_t rtscts)
{
    struct rshare_mctp_config mc;
    rshare_mctp_config_init(&mc, sizeof(mc));
    mc.eid = eid;
    struct rshare_serial_config sc;
    rshare_serial_config_init(&sc, sizeof(sc));
    sc.device = device;
    sc.fd = fd;
    sc.baud = baud;
    sc.rtscts = rtscts;
    sc.mctp = &mc;
    return rshare_node_add_serial(node, &sc);
}

START_TEST(test_termios_setup)
{
    int master, slave;
    char name[64];
    ck_assert_int_eq(openpty(&master, &slave, name, NULL, NULL), 0);
    /* Start from a cooked terminal, as a fresh tty is. */
    struct termios t;
    ck_assert_int_eq(tcgetattr(slave, &t), 0);
    t.c_lflag |= ICANON | ECHO;
    t.c_cflag |= CSTOPB;
    ck_assert_int_eq(tcsetattr(slave, TCSANOW, &t), 0);

    rshare_node *node = make_node(1, (struct rshare_clock){NULL, NULL});
    int index = add_serial(node, name, -1, 8, 57600, 1);
    ck_assert_msg(index >= 0, "%s", rshare_node_errmsg(node));
    ck_assert_int_eq(tcgetattr(slave, &t), 0);
    ck_assert_uint_eq(t.c_cflag & CSIZE, CS8);
    ck_assert_uint_eq(t.c_cflag & (PARENB | CSTOPB), 0);
    ck_assert_uint_eq(t.c_cflag & (CREAD | CLOCAL | CRTSCTS), CREAD | CLOCAL | CRTSCTS);
    ck_assert_uint_eq(t.c_lflag & (ICANON | ECHO | ISIG), 0);
    ck_assert_uint_eq(t.c_iflag & (IXON | IXOFF | ICRNL), 0);
    ck_assert_uint_eq(t.c_oflag & OPOST, 0);
    ck_assert_uint_eq(t.c_cc[VMIN], 0);
    ck_assert_uint_eq(t.c_cc[VTIME], 0);
    ck_assert_uint_eq(cfgetospeed(&t), B57600);
    ck_assert_uint_eq(cfgetispeed(&t), B57600);
    struct rs_transport *tr = rs_transport_get(node, index);
    ck_assert_str_eq(tr->ops.name, "serial");
    ck_assert_uint_eq(tr->mtu, 1250);
    ck_assert_int_ge(tr->fd, 0);
    rshare_node_destroy(node);

    /* A descriptor is duplicated and made non-blocking; ours stays open. */
    node = make_node(1, (struct rshare_clock){NULL, NULL});
    ck_assert_int_ge(add_serial(node, NULL, master, 8, 0, 0), 0);
    ck_assert_int_ne(fcntl(master, F_GETFL) & O_NONBLOCK, 0);
    rshare_node_destroy(node);
    ck_assert_int_ge(fcntl(master, F_GETFD), 0);
    close(master);
    close(slave);
}
END_TEST

struct exchange {
    int replies, failures, mctp_seen;
    size_t big_len;
    uint8_t big[6000];
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
    struct exchange *x = user_data;
    if (reply->status != 0) {
        x->failures++;
        return;
    }
    if (reply->len == sizeof(x->big)) {
        ck_assert_mem_eq(reply->data, x->big, sizeof(x->big));
        x->big_len = reply->len;
    }
    x->replies++;
}

static void on_mctp(rshare_node *node, int index, const struct rshare_mctp_message *m, void *u)
{
    (void)node;
    (void)index;
    struct exchange *x = u;
    ck_assert_uint_eq(m->len, 40);
    ck_assert_uint_eq(((const uint8_t *)m->data)[0], 0x01);
    x->mctp_seen++;
}

/* Two nodes in this process, one on each side of a pty pair: bytes cross
 * the kernel's line discipline for real. */
START_TEST(test_pty_exchange)
{
    int master, slave;
    char name[64];
    ck_assert_int_eq(openpty(&master, &slave, name, NULL, NULL), 0);
    rshare_node *a = make_node(1, (struct rshare_clock){NULL, NULL});
    rshare_node *b = make_node(2, (struct rshare_clock){NULL, NULL});
    int ia = add_serial(a, name, -1, 8, 115200, 0);
    int ib = add_serial(b, NULL, master, 9, 115200, 0);
    ck_assert_int_ge(ia, 0);
    ck_assert_int_ge(ib, 0);
    close(master);
    close(slave);
    ck_assert_int_eq(rshare_node_set_handler(b, ECHO_TYPE, echo, NULL), 0);
    ck_assert_int_eq(rshare_node_add_peer(a, 2, ia, "9"), 0);
    struct exchange x = {0};
    for (size_t i = 0; i < sizeof(x.big); i++)
        x.big[i] = (uint8_t)(i * 13 + (i >> 8));
    ck_assert_int_eq(rshare_mctp_set_handler(b, ib, on_mctp, &x), 0);
    ck_assert_int_eq(rshare_node_call(a, 2, ECHO_TYPE, x.big, sizeof(x.big), on_reply, &x), 0);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(rshare_node_call(a, 2, ECHO_TYPE, "ping", 4, on_reply, &x), 0);
    uint8_t pldm[40] = {0x01, 0x80, 0x02};
    struct rshare_mctp_message m = {.struct_size = sizeof(m), .dst_eid = 9, .tag_owner = 1,
                                    .tag = RSHARE_MCTP_TAG_AUTO, .data = pldm,
                                    .len = sizeof(pldm)};
    ck_assert_int_ge(rshare_mctp_send(a, ia, &m), 0);
    for (int round = 0; round < 2000 && (x.replies + x.failures < 6 || !x.mctp_seen); round++) {
        rshare_node_run(a, 5);
        rshare_node_run(b, 5);
    }
    ck_assert_int_eq(x.failures, 0);
    ck_assert_int_eq(x.replies, 6);
    ck_assert_uint_eq(x.big_len, sizeof(x.big));
    ck_assert_int_eq(x.mctp_seen, 1);
    struct rshare_mctp_stats st;
    ck_assert_int_eq(rshare_mctp_stats(b, ib, &st, sizeof(st)), 0);
    ck_assert_uint_eq(st.rx_bad_checksum + st.rx_bad_frame, 0);
    ck_assert_uint_gt(st.rx_frames, 25); /* 6000 bytes in 251-byte packets */
    rshare_node_destroy(a);
    rshare_node_destroy(b);
}
END_TEST

START_TEST(test_config_errors)
{
    int master, slave;
    char name[64];
    ck_assert_int_eq(openpty(&master, &slave, name, NULL, NULL), 0);
    rshare_node *node = make_node(1, (struct rshare_clock){NULL, NULL});
    struct rshare_mctp_config mc;
    rshare_mctp_config_init(&mc, sizeof(mc));
    mc.eid = 8;
    struct rshare_serial_config sc;

    rshare_serial_config_init(&sc, sizeof(sc));
    ck_assert_int_eq(sc.fd, -1);
    sc.mctp = &mc;
    ck_assert_int_eq(rshare_node_add_serial(node, &sc), RSHARE_EINVAL); /* neither */
    sc.device = name;
    sc.fd = master;
    ck_assert_int_eq(rshare_node_add_serial(node, &sc), RSHARE_EINVAL); /* both */
    sc.fd = -1;
    sc.baud = 12345;
    ck_assert_int_eq(rshare_node_add_serial(node, &sc), RSHARE_EINVAL);
    ck_assert_ptr_nonnull(strstr(rshare_node_errmsg(node), "12345"));
    sc.baud = 5000000;
    ck_assert_int_eq(rshare_node_add_serial(node, &sc), RSHARE_EINVAL);
    sc.baud = 0;
    sc.packet_payload = 63;
    ck_assert_int_eq(rshare_node_add_serial(node, &sc), RSHARE_EINVAL);
    sc.packet_payload = 252;
    ck_assert_int_eq(rshare_node_add_serial(node, &sc), RSHARE_EINVAL);
    sc.packet_payload = 0;
    sc.turnaround = RSHARE_SERIAL_TURNAROUND_RTS;
    ck_assert_int_eq(rshare_node_add_serial(node, &sc), RSHARE_EINVAL); /* needs multidrop */
    sc.turnaround = 9;
    ck_assert_int_eq(rshare_node_add_serial(node, &sc), RSHARE_EINVAL);
    sc.turnaround = RSHARE_SERIAL_TURNAROUND_AUTO;
    sc.multidrop = 1;
    sc.nodes = 4;
    sc.address = 4;
    ck_assert_int_eq(rshare_node_add_serial(node, &sc), RSHARE_EINVAL);
    sc.address = 3;
    sc.slot_us = 50; /* shorter than one character at 115200 */
    ck_assert_int_eq(rshare_node_add_serial(node, &sc), RSHARE_EINVAL);
    sc.slot_us = 0;
    /* A pty has neither the kernel's RS-485 mode nor RTS. */
    ck_assert_int_eq(rshare_node_add_serial(node, &sc), RSHARE_ESYS);
    ck_assert_ptr_nonnull(strstr(rshare_node_errmsg(node), "RS-485"));
    sc.multidrop = 0;
    sc.mctp = NULL;
    ck_assert_int_eq(rshare_node_add_serial(node, &sc), RSHARE_EINVAL);
    sc.mctp = &mc;
    sc.device = "/dev/null";
    ck_assert_int_eq(rshare_node_add_serial(node, &sc), RSHARE_EINVAL);
    ck_assert_ptr_nonnull(strstr(rshare_node_errmsg(node), "not a terminal"));
    sc.device = "/nonexistent/ttyS9";
    ck_assert_int_eq(rshare_node_add_serial(node, &sc), RSHARE_ESYS);
    ck_assert_ptr_nonnull(strstr(rshare_node_errmsg(node), "/nonexistent/ttyS9"));
    sc.struct_size = 8;
    ck_assert_int_eq(rshare_node_add_serial(node, &sc), RSHARE_EVERSION);
    ck_assert_int_eq(rshare_node_add_serial(node, NULL), RSHARE_EINVAL);
    rshare_node_destroy(node);
    close(master);
    close(slave);
}
END_TEST

/* --- RS-485 on the simulated bus ---------------------------------------------------- */

#define DROPS 3
#define CALLS_EACH 12

struct bus_world {
    struct bus_sim *sim;
    struct sim_serial *bus;
    rshare_node *nodes[DROPS];
    int index[DROPS];
    int done, failed;
    int done_by[DROPS];
    uint64_t last_done_ns[DROPS];
    uint8_t payload[700];
};

static void bus_reply(rshare_node *node, const struct rshare_reply *reply, void *user_data)
{
    struct bus_world *w = user_data;
    if (reply->status != 0 || reply->len != sizeof(w->payload) ||
        memcmp(reply->data, w->payload, sizeof(w->payload)) != 0)
        w->failed++;
    w->done++;
    for (int i = 0; i < DROPS; i++)
        if (w->nodes[i] == node) {
            w->done_by[i]++;
            w->last_done_ns[i] = bus_sim_now_ns(w->sim);
        }
}

static int all_replied(void *user_data)
{
    struct bus_world *w = user_data;
    return w->done == DROPS * (DROPS - 1) * CALLS_EACH;
}

static void run_bus(struct bus_world *w, uint32_t latency_us, uint64_t stagger_us)
{
    memset(w, 0, sizeof(*w));
    w->sim = bus_sim_create(99);
    w->bus = sim_serial_create(w->sim, 115200, true);
    sim_serial_set_latency(w->bus, latency_us);
    for (size_t i = 0; i < sizeof(w->payload); i++)
        w->payload[i] = (uint8_t)(i * 5 + 1);
    for (int i = 0; i < DROPS; i++) {
        w->nodes[i] = make_node((uint32_t)i + 1, bus_sim_clock(w->sim));
        struct rshare_mctp_config mc;
        rshare_mctp_config_init(&mc, sizeof(mc));
        mc.eid = (uint8_t)(10 + i);
        struct rshare_serial_config sc;
        rshare_serial_config_init(&sc, sizeof(sc));
        sc.multidrop = 1;
        sc.address = (uint8_t)i;
        sc.nodes = DROPS;
        sc.echo = 1;
        sc.mctp = &mc;
        void *port = sim_serial_port(w->bus, true, true);
        w->index[i] = rs_serial_attach(w->nodes[i], &sc, RSHARE_SERIAL_TURNAROUND_RTS,
                                       &sim_line_ops, port);
        ck_assert_msg(w->index[i] >= 0, "%s", rshare_node_errmsg(w->nodes[i]));
        ck_assert_int_eq(rshare_node_set_handler(w->nodes[i], ECHO_TYPE, echo, NULL), 0);
    }
    /* Node i gets its work stagger_us after node i - 1. */
    for (int i = 0; i < DROPS; i++) {
        for (int j = 0; j < DROPS; j++) {
            if (i == j)
                continue;
            char addr[16];
            snprintf(addr, sizeof(addr), "%d@%d", 10 + j, j);
            ck_assert_int_eq(rshare_node_add_peer(w->nodes[i], (uint32_t)j + 1, w->index[i], addr),
                             0);
            for (int k = 0; k < CALLS_EACH; k++)
                ck_assert_int_eq(rshare_node_call(w->nodes[i], (uint32_t)j + 1, ECHO_TYPE,
                                                  w->payload, sizeof(w->payload), bus_reply, w),
                                 0);
        }
        if (stagger_us)
            bus_sim_run(w->sim, w->nodes, DROPS, NULL, NULL, stagger_us);
    }
    ck_assert_int_eq(bus_sim_run(w->sim, w->nodes, DROPS, all_replied, w, 600000000), 0);
}

static void free_bus(struct bus_world *w)
{
    for (int i = 0; i < DROPS; i++)
        rshare_node_destroy(w->nodes[i]);
    bus_sim_destroy(w->sim);
}

static uint64_t total(struct bus_world *w, size_t offset)
{
    uint64_t sum = 0;
    for (int i = 0; i < DROPS; i++) {
        struct rshare_mctp_stats st;
        ck_assert_int_eq(rshare_mctp_stats(w->nodes[i], w->index[i], &st, sizeof(st)), 0);
        sum += *(const uint64_t *)((const char *)&st + offset);
    }
    return sum;
}

/* Everyone has traffic for everyone: the slots keep the pair free of
 * collisions, and the transceivers are driven only during turns. */
START_TEST(test_rs485_turns_without_collisions)
{
    static struct bus_world w;
    run_bus(&w, 300, 10000);
    ck_assert_int_eq(w.failed, 0);
    struct sim_serial_stats ss;
    sim_serial_stats(w.bus, &ss);
    ck_assert_uint_eq(ss.collided_bytes, 0);
    ck_assert_uint_eq(ss.undriven_bytes, 0);
    ck_assert_uint_eq(ss.frames, ss.intact_frames);
    ck_assert_uint_gt(ss.driver_switches, 100);
    ck_assert_uint_eq(ss.driver_switches % 2, 0); /* every turn ended with RTS off */
    ck_assert_uint_eq(total(&w, offsetof(struct rshare_mctp_stats, collisions)), 0);
    ck_assert_uint_eq(total(&w, offsetof(struct rshare_mctp_stats, rx_bad_checksum)), 0);
    /* Every node overheard the others' traffic for third parties. */
    ck_assert_uint_gt(total(&w, offsetof(struct rshare_mctp_stats, rx_overheard)), 0);
    /* The rotation is fair: with a fixed priority node 0 would be done long
     * before node 2; taking turns, they finish within a few turns of each
     * other. */
    uint64_t first = UINT64_MAX, last = 0;
    for (int i = 0; i < DROPS; i++) {
        ck_assert_int_eq(w.done_by[i], (DROPS - 1) * CALLS_EACH);
        first = w.last_done_ns[i] < first ? w.last_done_ns[i] : first;
        last = w.last_done_ns[i] > last ? w.last_done_ns[i] : last;
    }
    ck_assert_uint_lt(last - first, 500000000u); /* about six turns */
    free_bus(&w);
}
END_TEST

/* All nodes get work at the same instant on a silent bus: they all start at
 * once, hear the damage in their echo, and resume in address order, which
 * never collides again. */
START_TEST(test_rs485_simultaneous_start_recovers)
{
    static struct bus_world w;
    run_bus(&w, 300, 0);
    ck_assert_int_eq(w.failed, 0);
    struct sim_serial_stats ss;
    sim_serial_stats(w.bus, &ss);
    ck_assert_uint_gt(ss.collided_bytes, 0);
    ck_assert_uint_eq(total(&w, offsetof(struct rshare_mctp_stats, collisions)), DROPS);
    ck_assert_uint_eq(total(&w, offsetof(struct rshare_mctp_stats, tx_retries)), DROPS);
    ck_assert_uint_eq(total(&w, offsetof(struct rshare_mctp_stats, tx_failed)), 0);
    ck_assert_uint_eq(ss.frames - ss.intact_frames, DROPS * 4); /* one turn each */
    free_bus(&w);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("serial");
    TCase *tc = tcase_create("serial");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_crc16_mcrf4xx);
    tcase_add_test(tc, test_hand_checked_frames);
    tcase_add_test(tc, test_resync_after_damage);
    tcase_add_test(tc, test_receiver_limits);
    tcase_add_test(tc, test_multidrop_frames);
    tcase_add_test(tc, test_termios_setup);
    tcase_add_test(tc, test_pty_exchange);
    tcase_add_test(tc, test_config_errors);
    tcase_add_test(tc, test_rs485_turns_without_collisions);
    tcase_add_test(tc, test_rs485_simultaneous_start_recovers);
    suite_add_tcase(s, tc);
    return rs_test_run(s);
}
