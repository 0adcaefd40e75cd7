/* Urgent lanes (RSHARE_TRANSPORT_CAP_URGENT_LANE): two nodes in one
 * process, each with a main UDP socket and a lane on 127.0.0.1, each told
 * only the other's main address.  Urgent messages go out from the sender's
 * lane; the receiver learns the lane from their source and answers to it;
 * from then on urgent packets arrive on the lanes (counted by
 * rx_urgent_lane) while ordinary and bulk messages keep to the main
 * sockets.  A node without a lane still reaches a node with one. */
#include "config.h"

#include "testutil.h"

#include <string.h>

#include "core/core.h"
#include "msg/msg.h"
#include "rshare/rshare.h"

#define TYPE 0x8123

static unsigned received[3];

static void on_msg(rshare_node *node, rshare_request *req, void *user_data)
{
    (void)req;
    (void)user_data;
    received[rshare_node_id(node)]++;
}

static int add_udp(rshare_node *node, int lane, char *addr, size_t len)
{
    struct rshare_udp_config u;
    rshare_udp_config_init(&u, sizeof(u));
    u.bind_address = "127.0.0.1:0";
    u.mtu = 65507;
    u.urgent_lane = (uint32_t)lane;
    int index = rshare_node_add_udp(node, &u);
    ck_assert_int_ge(index, 0);
    if (addr)
        ck_assert_int_gt(rshare_udp_local_address(node, index, addr, len), 0);
    return index;
}

static rshare_node *make(uint32_t id, bool lane, char *addr, size_t len)
{
    struct rshare_node_config c;
    rshare_node_config_init(&c, sizeof(c));
    c.node_id = id;
    c.log.max_level = RSHARE_LOG_ERROR;
    rshare_node *node;
    ck_assert_int_eq(rshare_node_create(&c, &node), 0);
    add_udp(node, 0, addr, len);
    if (lane)
        add_udp(node, 1, NULL, 0);
    ck_assert_int_eq(rshare_node_set_handler(node, TYPE, on_msg, NULL), 0);
    return node;
}

static uint64_t on_lane(rshare_node *node)
{
    struct rshare_node_stats s;
    ck_assert_int_eq(rshare_node_stats(node, &s, sizeof(s)), 0);
    return s.rx_urgent_lane;
}

/* Send from `from` to node `to` and run both until it arrives. */
static void deliver(rshare_node *from, rshare_node *to, const void *body, size_t len, bool urgent)
{
    unsigned before = received[rshare_node_id(to)];
    ck_assert_int_eq(rs_msg_notify(from, rshare_node_id(to), TYPE, body, len,
                                   urgent ? RSHARE_SEND_URGENT : 0),
                     0);
    for (int i = 0; i < 2000 && received[rshare_node_id(to)] == before; i++) {
        rshare_node_run(from, 1);
        rshare_node_run(to, 1);
    }
    ck_assert_uint_eq(received[rshare_node_id(to)], before + 1);
}

START_TEST(test_lanes_learned)
{
    memset(received, 0, sizeof(received));
    char a_addr[64], b_addr[64];
    rshare_node *a = make(1, true, a_addr, sizeof(a_addr));
    rshare_node *b = make(2, true, b_addr, sizeof(b_addr));
    ck_assert_int_eq(rshare_node_add_peer(a, 2, 0, b_addr), 0);
    ck_assert_int_eq(rshare_node_add_peer(b, 1, 0, a_addr), 0);
    static uint8_t bulk[200000];
    deliver(a, b, "hello", 5, false);
    deliver(b, a, "hello", 5, false);
    ck_assert_uint_eq(on_lane(a) + on_lane(b), 0);

    /* A's first urgent message leaves from A's lane to B's main socket:
     * B learns A's lane. */
    deliver(a, b, "key", 3, true);
    ck_assert_uint_eq(on_lane(b), 0);
    /* B answers urgently to A's lane: A learns B's. */
    deliver(b, a, "report", 6, true);
    ck_assert_uint_eq(on_lane(a), 1);
    /* From now on urgent packets arrive on the lanes, both ways. */
    deliver(a, b, "key", 3, true);
    deliver(a, b, "key", 3, true);
    ck_assert_uint_eq(on_lane(b), 2);
    deliver(b, a, "report", 6, true);
    ck_assert_uint_eq(on_lane(a), 2);
    /* Ordinary and bulk messages keep to the main sockets. */
    deliver(a, b, bulk, sizeof(bulk), false);
    deliver(b, a, "plain", 5, false);
    ck_assert_uint_eq(on_lane(a), 2);
    ck_assert_uint_eq(on_lane(b), 2);
    rshare_node_destroy(a);
    rshare_node_destroy(b);
}
END_TEST

START_TEST(test_lane_and_no_lane)
{
    memset(received, 0, sizeof(received));
    char a_addr[64], b_addr[64];
    rshare_node *a = make(1, true, a_addr, sizeof(a_addr));
    rshare_node *b = make(2, false, b_addr, sizeof(b_addr)); /* no lane */
    ck_assert_int_eq(rshare_node_add_peer(a, 2, 0, b_addr), 0);
    ck_assert_int_eq(rshare_node_add_peer(b, 1, 0, a_addr), 0);
    deliver(a, b, "hello", 5, false);
    deliver(b, a, "hello", 5, false);
    /* B answers A's urgent messages from its main socket to A's lane. */
    for (int i = 0; i < 3; i++) {
        deliver(a, b, "key", 3, true);
        deliver(b, a, "report", 6, true);
    }
    ck_assert_uint_eq(on_lane(a), 3);
    ck_assert_uint_eq(on_lane(b), 0);
    /* and A's ordinary messages still reach B's only socket. */
    deliver(a, b, "plain", 5, false);
    rshare_node_destroy(a);
    rshare_node_destroy(b);
}
END_TEST

/* A lane serves transports of its own kind only: a node whose main
 * transport is UDP and whose only lane is of another kind (a custom
 * transport) has no lane for UDP, and its urgent messages leave from the
 * UDP socket; the lane is found again once a UDP lane is added. */
static int other_sends;
static size_t other_mtu(void *impl)
{
    (void)impl;
    return 1500;
}
static uint32_t other_caps(void *impl)
{
    (void)impl;
    return RSHARE_TRANSPORT_CAP_URGENT_LANE;
}
static int other_send(void *impl, const struct rshare_link_addr *dst, const void *p, size_t n,
                      unsigned flags)
{
    (void)impl; (void)dst; (void)p; (void)n; (void)flags;
    other_sends++;
    return 0;
}

START_TEST(test_lane_of_another_kind)
{
    memset(received, 0, sizeof(received));
    other_sends = 0;
    char a_addr[64], b_addr[64];
    rshare_node *a = make(1, false, a_addr, sizeof(a_addr));
    rshare_node *b = make(2, false, b_addr, sizeof(b_addr));
    static const struct rshare_transport_ops other = {
        .struct_size = sizeof(other), .version = RSHARE_TRANSPORT_OPS_VERSION, .name = "other",
        .caps = other_caps, .mtu = other_mtu, .send = other_send};
    int lane = rshare_node_add_transport(a, &other, NULL);
    ck_assert_int_eq(lane, 1);
    ck_assert_int_eq(rs_transport_lane_for(a, 0), -1);
    ck_assert_int_eq(rs_transport_lane_for(a, lane), lane); /* its own kind */
    ck_assert_int_eq(rshare_node_add_peer(a, 2, 0, b_addr), 0);
    ck_assert_int_eq(rshare_node_add_peer(b, 1, 0, a_addr), 0);
    for (int i = 0; i < 3; i++) {
        deliver(a, b, "key", 3, true);
        deliver(b, a, "report", 6, true);
    }
    ck_assert_int_eq(other_sends, 0);
    ck_assert_uint_eq(on_lane(a), 0);
    /* A UDP lane is of the main transport's kind. */
    int udp_lane = add_udp(a, 1, NULL, 0);
    ck_assert_int_eq(rs_transport_lane_for(a, 0), udp_lane);
    rshare_node_destroy(a);
    rshare_node_destroy(b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("urgent_lane");
    TCase *tc = tcase_create("lane");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_lanes_learned);
    tcase_add_test(tc, test_lane_and_no_lane);
    tcase_add_test(tc, test_lane_of_another_kind);
    suite_add_tcase(s, tc);
    return rs_test_run(s);
}
