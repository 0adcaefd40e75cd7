/* Bad input: truncated, oversized, garbage, wrong-version, misaddressed,
 * forged, tampered, replayed and spoofed packets and messages are refused
 * and counted, and never disturb the node: after each kind, a good request
 * still goes through. */
#include "config.h"

#include "testutil.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "link/packet.h"
#include "link/protect.h"
#include "msg/body.h"
#include "msg/header.h"
#include "rshare/rshare.h"

/* A capture transport: send() records packets for the test to replay. */
#define MAX_CAPTURE 4096
struct capture {
    uint8_t *pkt[MAX_CAPTURE];
    size_t len[MAX_CAPTURE];
    int count;
};

static size_t cap_mtu(void *impl) { (void)impl; return 1400; }
static int cap_send(void *impl, const struct rshare_link_addr *dst, const void *p, size_t n,
                    unsigned flags)
{
    (void)dst;
    (void)flags;
    struct capture *c = impl;
    if (c->count == MAX_CAPTURE)
        return RSHARE_EAGAIN;
    c->pkt[c->count] = malloc(n);
    memcpy(c->pkt[c->count], p, n);
    c->len[c->count++] = n;
    return 0;
}
static int cap_parse(void *impl, const char *text, struct rshare_link_addr *a)
{
    (void)impl;
    a->len = 1;
    a->bytes[0] = (uint8_t)atoi(text);
    return 0;
}
static void cap_clear(struct capture *c)
{
    for (int i = 0; i < c->count; i++)
        free(c->pkt[i]);
    c->count = 0;
}

static const struct rshare_transport_ops cap_ops = {
    .struct_size = sizeof(struct rshare_transport_ops), .version = 1, .name = "capture",
    .mtu = cap_mtu, .send = cap_send, .addr_parse = cap_parse};

static uint64_t now_us = 1000000;
static uint64_t test_clock(void *u) { (void)u; return now_us; }

static const uint8_t key[32] = {0xA5, 1, 2, 3};
static const uint8_t other_key[32] = {0x5A, 1, 2, 3};
static struct capture cap_a, cap_b;
static rshare_node *a, *b;
static int executed;

static void echo(rshare_node *node, rshare_request *req, void *u)
{
    (void)node;
    (void)u;
    executed++;
    rshare_request_reply(req, rshare_request_data(req), rshare_request_len(req));
}

static rshare_node *make_node(uint32_t id, const uint8_t *k, struct capture *c)
{
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = id;
    cfg.cluster_key = k;
    cfg.clock = (struct rshare_clock){test_clock, &now_us};
    cfg.log = (struct rshare_log){rs_test_quiet_log, NULL, RSHARE_LOG_ERROR};
    cfg.reassembly_timeout_ms = 500;
    cfg.max_reassembly_bytes = 1u << 20;
    rshare_node *n;
    ck_assert_int_eq(rshare_node_create(&cfg, &n), 0);
    ck_assert_int_eq(rshare_node_add_transport(n, &cap_ops, c), 0);
    ck_assert_int_eq(rshare_node_set_handler(n, 0x8001, echo, NULL), 0);
    return n;
}

static void setup_pair(const uint8_t *k)
{
    cap_clear(&cap_a);
    cap_clear(&cap_b);
    a = make_node(1, k, &cap_a);
    b = make_node(2, k, &cap_b);
    ck_assert_int_eq(rshare_node_add_peer(a, 2, 0, "2"), 0);
    ck_assert_int_eq(rshare_node_add_peer(b, 1, 0, "1"), 0);
    executed = 0;
}

static void teardown_pair(void)
{
    rshare_node_destroy(a);
    rshare_node_destroy(b);
    cap_clear(&cap_a);
    cap_clear(&cap_b);
}

static struct rshare_node_stats stats(rshare_node *n)
{
    struct rshare_node_stats s;
    rshare_node_stats(n, &s, sizeof(s));
    return s;
}

static int push(rshare_node *n, const void *p, size_t len)
{
    struct rshare_link_addr src = {.len = 1, .bytes = {9}};
    return rshare_node_push(n, 0, &src, p, len);
}

static int replied, reply_status;
static void on_reply(rshare_node *n, const struct rshare_reply *r, void *u)
{
    (void)n;
    (void)u;
    reply_status = r->status;
    replied++;
}

/* A well-formed request from a to b still works: shuttle packets by hand. */
static void assert_still_works(void)
{
    cap_clear(&cap_a);
    cap_clear(&cap_b);
    replied = 0;
    int before = executed;
    ck_assert_int_eq(rshare_node_call(a, 2, 0x8001, "ok", 2, on_reply, NULL), 0);
    for (int round = 0; round < 4 && !replied; round++) {
        for (int i = 0; i < cap_a.count; i++)
            push(b, cap_a.pkt[i], cap_a.len[i]);
        cap_clear(&cap_a);
        for (int i = 0; i < cap_b.count; i++)
            push(a, cap_b.pkt[i], cap_b.len[i]);
        cap_clear(&cap_b);
    }
    ck_assert_int_eq(replied, 1);
    ck_assert_int_eq(reply_status, 0);
    ck_assert_int_eq(executed, before + 1);
}

/* Capture one valid request packet from a to b. */
static void capture_request(uint8_t **pkt, size_t *len)
{
    cap_clear(&cap_a);
    ck_assert_int_eq(rshare_node_call(a, 2, 0x8001, "hello", 5, on_reply, NULL), 0);
    ck_assert_int_eq(cap_a.count, 1);
    *pkt = malloc(cap_a.len[0]);
    memcpy(*pkt, cap_a.pkt[0], cap_a.len[0]);
    *len = cap_a.len[0];
    cap_clear(&cap_a);
}

static size_t plain_packet(uint8_t *buf, uint32_t src, uint32_t dst, uint64_t seq,
                           const void *msg, size_t msg_len)
{
    struct rs_pkt_hdr h = {.type = RS_PKT_DATA, .src = src, .dst = dst, .session = 77, .seq = seq};
    rs_pkt_hdr_encode(&h, buf);
    struct rs_pkt_data d = {.xfer = (uint32_t)seq, .total = (uint32_t)msg_len, .index = 0, .count = 1};
    rs_pkt_data_encode(&d, buf + RS_PKT_HDR_LEN);
    memcpy(buf + RS_PKT_HDR_LEN + RS_PKT_DATA_LEN, msg, msg_len);
    return RS_PKT_HDR_LEN + RS_PKT_DATA_LEN + msg_len;
}

START_TEST(test_packet_level)
{
    setup_pair(NULL);
    uint8_t buf[2048];
    struct rshare_node_stats s0 = stats(b), s;

    /* truncated */
    memset(buf, 0, sizeof(buf));
    buf[0] = 0x11;
    ck_assert_int_lt(push(b, buf, 10), 0);
    s = stats(b);
    ck_assert_uint_eq(s.rx_truncated, s0.rx_truncated + 1);

    /* wrong version and garbage */
    for (int i = 0; i < 100; i++) {
        for (size_t j = 0; j < 100; j++)
            buf[j] = (uint8_t)(rand() & 0xFF);
        buf[0] = (uint8_t)(0x20 | (buf[0] & 0x0F)); /* version 2 */
        ck_assert_int_lt(push(b, buf, 100), 0);
    }
    s = stats(b);
    ck_assert_uint_eq(s.rx_bad_version, s0.rx_bad_version + 100);

    /* malformed fields: unknown type, unknown flag, fragment beyond count */
    size_t n = plain_packet(buf, 1, 2, 1000, "x", 1);
    buf[0] = 0x1F;
    ck_assert_int_lt(push(b, buf, n), 0);
    n = plain_packet(buf, 1, 2, 1001, "x", 1);
    buf[1] = 0x40;
    ck_assert_int_lt(push(b, buf, n), 0);
    n = plain_packet(buf, 1, 2, 1002, "x", 1);
    buf[RS_PKT_HDR_LEN + 9] = 5; /* index 5 of count 1 */
    ck_assert_int_lt(push(b, buf, n), 0);
    s = stats(b);
    ck_assert_uint_eq(s.rx_malformed, s0.rx_malformed + 3);

    /* a fragment whose payload is shorter than its header says */
    n = plain_packet(buf, 1, 2, 1003, "xyz", 3);
    ck_assert_int_lt(push(b, buf, n - 1), 0);
    s = stats(b);
    ck_assert_uint_eq(s.rx_truncated, s0.rx_truncated + 2);

    /* oversized: longer than the transport MTU */
    ck_assert_int_eq(push(b, buf, 1401), RSHARE_EMSGSIZE);
    s = stats(b);
    ck_assert_uint_eq(s.rx_oversized, s0.rx_oversized + 1);

    /* misaddressed: for node 3; and "from" ourselves */
    n = plain_packet(buf, 1, 3, 1004, "x", 1);
    ck_assert_int_lt(push(b, buf, n), 0);
    n = plain_packet(buf, 2, 2, 1005, "x", 1);
    ck_assert_int_lt(push(b, buf, n), 0);
    s = stats(b);
    ck_assert_uint_eq(s.rx_misaddressed, s0.rx_misaddressed + 2);

    /* a protected packet to an unprotected node */
    n = plain_packet(buf, 1, 2, 1006, "x", 1);
    buf[1] = RS_PKT_F_PROTECTED;
    ck_assert_int_eq(push(b, buf, n + 16), RSHARE_EAUTH);
    s = stats(b);
    ck_assert_uint_eq(s.rx_unprotected, s0.rx_unprotected + 1);

    assert_still_works();
    teardown_pair();
}
END_TEST

START_TEST(test_protected)
{
    setup_pair(key);
    struct rshare_node_stats s0 = stats(b), s;
    uint8_t *pkt;
    size_t len;
    capture_request(&pkt, &len);

    /* tampered: every byte flipped in turn is caught */
    for (size_t i = 0; i < len; i++) {
        pkt[i] ^= 0x01;
        ck_assert_int_lt(push(b, pkt, len), 0);
        pkt[i] ^= 0x01;
    }
    s = stats(b);
    ck_assert_uint_ge(s.rx_auth_failed, s0.rx_auth_failed + len - RS_PKT_HDR_LEN);
    ck_assert_int_eq(executed, 0);
    s0 = s;

    /* the genuine packet once, then replayed */
    ck_assert_int_eq(push(b, pkt, len), 0);
    ck_assert_int_eq(executed, 1);
    ck_assert_int_eq(push(b, pkt, len), RSHARE_EREPLAY);
    ck_assert_int_eq(push(b, pkt, len), RSHARE_EREPLAY);
    s = stats(b);
    ck_assert_uint_eq(s.rx_replayed, s0.rx_replayed + 2);
    ck_assert_int_eq(executed, 1);

    /* forged: a packet sealed with another key */
    uint8_t forged[256], other[32];
    rs_protect_derive(other, other_key);
    size_t n = plain_packet(forged, 1, 2, 5000, "x", 1);
    forged[1] = RS_PKT_F_PROTECTED;
    n = rs_protect_seal(other, forged, RS_PKT_HDR_LEN, n - RS_PKT_HDR_LEN);
    ck_assert_int_eq(push(b, forged, n), RSHARE_EAUTH);

    /* an unprotected packet to a protected node */
    n = plain_packet(forged, 1, 2, 5001, "x", 1);
    ck_assert_int_eq(push(b, forged, n), RSHARE_EAUTH);
    s = stats(b);
    ck_assert_uint_eq(s.rx_unprotected, s0.rx_unprotected + 1);

    free(pkt);
    assert_still_works();
    teardown_pair();
}
END_TEST

/* Message-level input inside valid packets (unprotected, so the test can
 * build packets directly). */
START_TEST(test_message_level)
{
    setup_pair(NULL);
    struct rshare_node_stats s0 = stats(b), s;
    uint8_t msg[128], pkt[256];
    struct rs_msg_hdr h = {.kind = RS_MSG_REQUEST, .type = 0x8001, .request_id = 1, .sender = 1};
    uint64_t seq = 10;

    /* wrong message version */
    rs_msg_hdr_encode(&h, msg);
    msg[0] = 7;
    ck_assert_int_eq(push(b, pkt, plain_packet(pkt, 1, 2, seq++, msg, RS_MSG_HDR_LEN + 1)), 0);
    /* truncated header */
    rs_msg_hdr_encode(&h, msg);
    ck_assert_int_eq(push(b, pkt, plain_packet(pkt, 1, 2, seq++, msg, 10)), 0);
    /* body that is not a byte string, and one with trailing bytes */
    msg[RS_MSG_HDR_LEN] = 0x01;
    ck_assert_int_eq(push(b, pkt, plain_packet(pkt, 1, 2, seq++, msg, RS_MSG_HDR_LEN + 1)), 0);
    msg[RS_MSG_HDR_LEN] = 0x41;
    msg[RS_MSG_HDR_LEN + 1] = 'a';
    msg[RS_MSG_HDR_LEN + 2] = 'b';
    ck_assert_int_eq(push(b, pkt, plain_packet(pkt, 1, 2, seq++, msg, RS_MSG_HDR_LEN + 3)), 0);
    /* a slot out of range */
    h.slot = 5000;
    rs_msg_hdr_encode(&h, msg);
    ck_assert_int_eq(push(b, pkt, plain_packet(pkt, 1, 2, seq++, msg, RS_MSG_HDR_LEN + 2)), 0);
    h.slot = 0;
    s = stats(b);
    ck_assert_uint_eq(s.msgs_malformed, s0.msgs_malformed + 5);
    ck_assert_uint_eq(s.rx_bad_version, s0.rx_bad_version + 1);

    /* spoofed: the message claims node 3 inside a packet from node 1 */
    h.sender = 3;
    rs_msg_hdr_encode(&h, msg);
    msg[RS_MSG_HDR_LEN] = 0x40;
    ck_assert_int_eq(push(b, pkt, plain_packet(pkt, 1, 2, seq++, msg, RS_MSG_HDR_LEN + 1)), 0);
    s = stats(b);
    ck_assert_uint_eq(s.rx_spoofed, s0.rx_spoofed + 1);
    ck_assert_int_eq(executed, 0);
    teardown_pair();
}
END_TEST

/* Reassembly: lies about sizes, too many transfers, abandoned transfers. */
START_TEST(test_reassembly_bounds)
{
    setup_pair(NULL);
    struct rshare_node_stats s0 = stats(b), s;
    uint8_t pkt[1500];
    uint64_t seq = 100;
    struct rs_pkt_hdr h = {.type = RS_PKT_DATA, .src = 1, .dst = 2, .session = 77};

    /* a transfer announcing more than max_message_bytes */
    h.seq = seq++;
    rs_pkt_hdr_encode(&h, pkt);
    struct rs_pkt_data d = {.xfer = 1, .total = 8u << 20, .index = 0, .count = 8192};
    rs_pkt_data_encode(&d, pkt + RS_PKT_HDR_LEN);
    uint32_t f = rs_pkt_fragment_size(d.total, d.count);
    ck_assert_int_eq(push(b, pkt, RS_PKT_HDR_LEN + RS_PKT_DATA_LEN + f), 0);
    s = stats(b);
    ck_assert_uint_eq(s.rx_oversized, s0.rx_oversized + 1);

    /* 1 MiB node limit: the fourth 300 KB transfer is refused */
    for (uint32_t x = 10; x < 14; x++) {
        h.seq = seq++;
        rs_pkt_hdr_encode(&h, pkt);
        d = (struct rs_pkt_data){.xfer = x, .total = 300000, .index = 0, .count = 300};
        rs_pkt_data_encode(&d, pkt + RS_PKT_HDR_LEN);
        push(b, pkt, RS_PKT_HDR_LEN + RS_PKT_DATA_LEN + 1000);
    }
    s = stats(b);
    ck_assert_uint_eq(s.reassembly_overflows, s0.reassembly_overflows + 1);

    /* a fragment that contradicts its transfer's geometry */
    h.seq = seq++;
    rs_pkt_hdr_encode(&h, pkt);
    d = (struct rs_pkt_data){.xfer = 10, .total = 200000, .index = 1, .count = 200};
    rs_pkt_data_encode(&d, pkt + RS_PKT_HDR_LEN);
    push(b, pkt, RS_PKT_HDR_LEN + RS_PKT_DATA_LEN + 1000);
    s = stats(b);
    ck_assert_uint_eq(s.rx_malformed, s0.rx_malformed + 1);

    /* abandoned transfers time out and give their memory back */
    now_us += 600000;
    rshare_node_process(b);
    s = stats(b);
    ck_assert_uint_eq(s.reassembly_timeouts, s0.reassembly_timeouts + 3);
    h.seq = seq++;
    rs_pkt_hdr_encode(&h, pkt);
    d = (struct rs_pkt_data){.xfer = 20, .total = 300000, .index = 0, .count = 300};
    rs_pkt_data_encode(&d, pkt + RS_PKT_HDR_LEN);
    push(b, pkt, RS_PKT_HDR_LEN + RS_PKT_DATA_LEN + 1000);
    s = stats(b);
    ck_assert_uint_eq(s.reassembly_overflows, s0.reassembly_overflows + 1); /* room again */
    teardown_pair();
}
END_TEST

/* A replayed older boot session of a persisted peer is refused. */
START_TEST(test_old_session_replay)
{
    char dir[] = "/tmp/rshare-bad-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    cap_clear(&cap_a);
    cap_clear(&cap_b);
    b = make_node(2, key, &cap_b);
    struct rshare_node_config cfg;
    uint8_t *old_pkt = NULL, *new_pkt = NULL;
    size_t old_len = 0, new_len = 0;
    for (int boot = 0; boot < 2; boot++) {
        rshare_node_config_init(&cfg, sizeof(cfg));
        cfg.node_id = 1;
        cfg.cluster_key = key;
        cfg.state_dir = dir;
        cfg.clock = (struct rshare_clock){test_clock, &now_us};
        cfg.log = (struct rshare_log){rs_test_quiet_log, NULL, RSHARE_LOG_ERROR};
        ck_assert_int_eq(rshare_node_create(&cfg, &a), 0);
        ck_assert_int_eq(rshare_node_add_transport(a, &cap_ops, &cap_a), 0);
        ck_assert_int_eq(rshare_node_add_peer(a, 2, 0, "2"), 0);
        capture_request(boot ? &new_pkt : &old_pkt, boot ? &new_len : &old_len);
        rshare_node_destroy(a);
    }
    executed = 0;
    ck_assert_int_eq(push(b, new_pkt, new_len), 0); /* the newer boot */
    ck_assert_int_eq(executed, 1);
    struct rshare_node_stats s0 = stats(b);
    ck_assert_int_eq(push(b, old_pkt, old_len), RSHARE_EREPLAY); /* the older one, replayed */
    ck_assert_uint_eq(stats(b).rx_replayed, s0.rx_replayed + 1);
    ck_assert_int_eq(executed, 1);
    free(old_pkt);
    free(new_pkt);
    rshare_node_destroy(b);
    cap_clear(&cap_a);
    cap_clear(&cap_b);
    char path[256];
    snprintf(path, sizeof(path), "%s/boot-counter", dir);
    unlink(path);
    rmdir(dir);
}
END_TEST

/* Without persistence a new boot session is accepted as a restart; a
 * boot already left behind is never accepted again, so alternating old and
 * current packets cannot reset the replay window and re-run requests. */
START_TEST(test_session_flip_flop)
{
    cap_clear(&cap_a);
    cap_clear(&cap_b);
    b = make_node(2, key, &cap_b);
    uint8_t *boot1 = NULL, *boot2 = NULL;
    size_t len1 = 0, len2 = 0;
    for (int boot = 0; boot < 2; boot++) {
        a = make_node(1, key, &cap_a);
        ck_assert_int_eq(rshare_node_add_peer(a, 2, 0, "2"), 0);
        capture_request(boot ? &boot2 : &boot1, boot ? &len2 : &len1);
        rshare_node_destroy(a);
    }
    executed = 0;
    ck_assert_int_eq(push(b, boot1, len1), 0);
    ck_assert_int_eq(push(b, boot2, len2), 0); /* a restart: accepted */
    ck_assert_int_eq(executed, 2);
    struct rshare_node_stats s0 = stats(b);
    for (int round = 0; round < 5; round++) {
        ck_assert_int_eq(push(b, boot1, len1), RSHARE_EREPLAY);
        ck_assert_int_eq(push(b, boot2, len2), RSHARE_EREPLAY);
    }
    ck_assert_int_eq(executed, 2);
    ck_assert_uint_eq(stats(b).rx_replayed, s0.rx_replayed + 10);
    free(boot1);
    free(boot2);
    rshare_node_destroy(b);
    cap_clear(&cap_a);
    cap_clear(&cap_b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bad_input");
    TCase *tc = tcase_create("bad_input");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_packet_level);
    tcase_add_test(tc, test_protected);
    tcase_add_test(tc, test_message_level);
    tcase_add_test(tc, test_reassembly_bounds);
    tcase_add_test(tc, test_old_session_replay);
    tcase_add_test(tc, test_session_flip_flop);
    suite_add_tcase(s, tc);
    return rs_test_run(s);
}
