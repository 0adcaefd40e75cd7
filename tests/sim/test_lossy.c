/* Simulation: two nodes on the loop transport with 20% loss, duplication
 * and reordering.  A 1 MiB message and 10,000 small requests all arrive
 * intact and are executed exactly once, with and without protection, and
 * the same seed gives the same run twice. */
#include "config.h"

#include "testutil.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "rshare/rshare.h"

#define ECHO 0x8001
#define COUNT 0x8002
#define SMALL_REQUESTS 10000
#define IN_FLIGHT 200
#define BIG (1u << 20)

struct world {
    rshare_loop_net *net;
    rshare_node *nodes[2];
    uint16_t executed[SMALL_REQUESTS];
    uint32_t issued, completed, failed, big_done;
    uint64_t order_hash; /* completion order, to compare runs */
    uint8_t *big;
    int big_status;
};

static void on_request(rshare_node *node, rshare_request *req, void *user_data)
{
    (void)node;
    struct world *w = user_data;
    if (rshare_request_type(req) == COUNT) {
        uint32_t id;
        ck_assert_uint_eq(rshare_request_len(req), sizeof(id));
        memcpy(&id, rshare_request_data(req), sizeof(id));
        ck_assert_uint_lt(id, SMALL_REQUESTS);
        w->executed[id]++;
    }
    rshare_request_reply(req, rshare_request_data(req), rshare_request_len(req));
}

static void issue_small(struct world *w);

static void on_small_reply(rshare_node *node, const struct rshare_reply *reply, void *user_data)
{
    (void)node;
    struct world *w = user_data;
    w->completed++;
    if (reply->status != 0 || reply->len != sizeof(uint32_t)) {
        w->failed++;
    } else {
        uint32_t id;
        memcpy(&id, reply->data, sizeof(id));
        w->order_hash = (w->order_hash ^ id) * UINT64_C(0x100000001b3);
    }
    issue_small(w);
}

static void issue_small(struct world *w)
{
    while (w->issued < SMALL_REQUESTS && w->issued - w->completed < IN_FLIGHT) {
        uint32_t id = w->issued++;
        ck_assert_int_eq(rshare_node_call(w->nodes[0], 2, COUNT, &id, sizeof(id), on_small_reply, w), 0);
    }
}

static void on_big_reply(rshare_node *node, const struct rshare_reply *reply, void *user_data)
{
    (void)node;
    struct world *w = user_data;
    w->big_done++;
    w->big_status = reply->status == RSHARE_EREMOTE ? reply->remote_code * 100 : reply->status;
    if (reply->status == 0 && (reply->len != BIG || memcmp(reply->data, w->big, BIG) != 0))
        w->big_status = -1000;
}

static int all_done(void *user_data)
{
    struct world *w = user_data;
    return w->completed == SMALL_REQUESTS && w->big_done == 1;
}

static void world_run(struct world *w, uint64_t seed, const uint8_t *key)
{
    memset(w, 0, sizeof(*w));
    ck_assert_int_eq(rshare_loop_net_create(seed, &w->net), 0);
    struct rshare_loop_link link;
    rshare_loop_link_init(&link, sizeof(link));
    link.loss_ppm = 200000;
    link.duplicate_ppm = 50000;
    link.reorder_ppm = 100000;
    link.reorder_us = 5000;
    link.delay_us = 200;
    link.jitter_us = 100;
    ck_assert_int_eq(rshare_loop_net_set_default(w->net, &link), 0);
    for (int i = 0; i < 2; i++) {
        struct rshare_node_config cfg;
        rshare_node_config_init(&cfg, sizeof(cfg));
        cfg.node_id = (uint32_t)(i + 1);
        cfg.cluster_key = key;
        cfg.clock = rshare_loop_net_clock(w->net);
        cfg.request_timeout_ms = 120000;
        cfg.log = (struct rshare_log){rs_test_quiet_log, NULL, RSHARE_LOG_ERROR};
        ck_assert_int_eq(rshare_node_create(&cfg, &w->nodes[i]), 0);
        ck_assert_int_ge(rshare_node_add_loop(w->nodes[i], w->net, (uint32_t)(i + 1)), 0);
        ck_assert_int_eq(rshare_node_set_handler(w->nodes[i], ECHO, on_request, w), 0);
        ck_assert_int_eq(rshare_node_set_handler(w->nodes[i], COUNT, on_request, w), 0);
    }
    ck_assert_int_eq(rshare_node_add_peer(w->nodes[0], 2, 0, "2"), 0);

    w->big = malloc(BIG);
    for (uint32_t i = 0; i < BIG; i++)
        w->big[i] = (uint8_t)(i * 2654435761u >> 13);
    ck_assert_int_eq(rshare_node_call(w->nodes[0], 2, ECHO, w->big, BIG, on_big_reply, w), 0);
    issue_small(w);
    ck_assert_int_eq(rshare_loop_net_run(w->net, w->nodes, 2, all_done, w, 3600ull * 1000000u), 0);
}

static void world_free(struct world *w)
{
    for (int i = 0; i < 2; i++)
        rshare_node_destroy(w->nodes[i]);
    rshare_loop_net_destroy(w->net);
    free(w->big);
}

static void check_exactly_once(struct world *w)
{
    ck_assert_int_eq(w->big_status, 0);
    ck_assert_uint_eq(w->failed, 0);
    for (uint32_t i = 0; i < SMALL_REQUESTS; i++)
        ck_assert_msg(w->executed[i] == 1, "request %u executed %u times", i, w->executed[i]);
    struct rshare_loop_stats ls;
    ck_assert_int_eq(rshare_loop_net_stats(w->net, &ls, sizeof(ls)), 0);
    /* The faults really happened. */
    ck_assert_uint_gt(ls.lost, ls.sent / 8);
    ck_assert_uint_gt(ls.duplicated, 0);
    ck_assert_uint_gt(ls.reordered, 0);
    struct rshare_node_stats a, b;
    rshare_node_stats(w->nodes[0], &a, sizeof(a));
    rshare_node_stats(w->nodes[1], &b, sizeof(b));
    ck_assert_uint_gt(a.retransmits + b.retransmits, 0);
    ck_assert_uint_gt(a.requests_retried, 0);
    ck_assert_uint_gt(b.duplicates_replayed, 0);
    ck_assert_uint_gt(a.rx_replayed + b.rx_replayed, 0); /* duplicated packets dropped */
    ck_assert_uint_eq(b.requests_stale, 0);
}

static struct world w1, w2;

START_TEST(test_lossy_unprotected)
{
    world_run(&w1, 42, NULL);
    check_exactly_once(&w1);
    world_free(&w1);
}
END_TEST

START_TEST(test_lossy_protected)
{
    static const uint8_t key[32] = {9, 8, 7, 6, 5, 4, 3, 2, 1};
    world_run(&w1, 43, key);
    check_exactly_once(&w1);
    struct rshare_node_stats b;
    rshare_node_stats(w1.nodes[1], &b, sizeof(b));
    ck_assert_uint_eq(b.rx_auth_failed, 0);
    world_free(&w1);
}
END_TEST

START_TEST(test_same_seed_same_run)
{
    world_run(&w1, 7, NULL);
    world_run(&w2, 7, NULL);
    ck_assert(w1.order_hash == w2.order_hash);
    ck_assert(rshare_loop_net_now_us(w1.net) == rshare_loop_net_now_us(w2.net));
    struct rshare_loop_stats s1, s2;
    rshare_loop_net_stats(w1.net, &s1, sizeof(s1));
    rshare_loop_net_stats(w2.net, &s2, sizeof(s2));
    ck_assert_mem_eq(&s1, &s2, sizeof(s1));
    struct rshare_node_stats n1, n2;
    rshare_node_stats(w1.nodes[0], &n1, sizeof(n1));
    rshare_node_stats(w2.nodes[0], &n2, sizeof(n2));
    ck_assert_mem_eq(&n1, &n2, sizeof(n1));
    world_free(&w2);
    /* A different seed takes a different course. */
    world_run(&w2, 8, NULL);
    check_exactly_once(&w2);
    ck_assert(w1.order_hash != w2.order_hash ||
              rshare_loop_net_now_us(w1.net) != rshare_loop_net_now_us(w2.net));
    world_free(&w1);
    world_free(&w2);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("lossy");
    TCase *tc = tcase_create("lossy");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_lossy_unprotected);
    tcase_add_test(tc, test_lossy_protected);
    tcase_add_test(tc, test_same_seed_same_run);
    suite_add_tcase(s, tc);
    return rs_test_run(s);
}
