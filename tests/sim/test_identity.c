/* Simulation: node identities in a cluster.  Four nodes enrolled by one
 * authority (and sharing a cluster key) form a cluster on the loop network
 * and talk over per-pair keys.  Then:
 *  - a member holding the cluster key but not node 2's identity claims to
 *    be node 2 from another address: nothing it sends is delivered, node
 *    2's address does not move, and the refusals are counted — while the
 *    same rogue is believed in a cluster without identities (the control
 *    that shows what identities add);
 *  - a node enrolled by another authority never becomes a member;
 *  - node 4's key is revoked through the map: every node forgets its pair
 *    keys, its requests go unanswered, its handshakes are refused, also
 *    after a restart; the others go on;
 *  - node 2 restarts and shakes hands again;
 *  - no log line of any node carries secret key material. */
#include "config.h"

#include "testutil.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cluster/cluster.h"
#include "core/endian.h"
#include "link/link.h"
#include "link/packet.h"
#include "log_capture.h"
#include "memory_store.h"
#include "rshare/rshare.h"

#define NODES 4
#define APP_ECHO 0x8001

static rshare_loop_net *net;
static rshare_node *nodes[NODES + 2]; /* + a rogue or a stranger */
static size_t node_count;
static struct memory_store stores[NODES + 2];
static uint8_t cluster_key[32];
static uint8_t auth_pk[32], auth_sk[64];
static uint8_t pk[NODES + 2][32], sk[NODES + 2][64], cert[NODES + 2][RSHARE_IDENTITY_CERT_BYTES];

/* What node 1's handler received from whom. */
static unsigned rogue_delivered, genuine_delivered;

static void echo(rshare_node *node, rshare_request *req, void *user_data)
{
    (void)node;
    (void)user_data;
    const char *body = rshare_request_data(req);
    size_t len = rshare_request_len(req);
    if (len == 5 && memcmp(body, "rogue", 5) == 0)
        rogue_delivered++;
    else if (len == 7 && memcmp(body, "genuine", 7) == 0)
        genuine_delivered++;
    if (rshare_request_expects_reply(req))
        rshare_request_reply(req, body, len);
}

/* A node: `identity` selects the identity (index into the key tables) or
 * none (-1); `authority` the authority's public key it trusts. */
static rshare_node *make_node(size_t slot, uint32_t id, uint32_t address, int identity,
                              bool join)
{
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = id;
    cfg.slot = (uint16_t)(id - 1);
    cfg.persist = memory_store_hook(&stores[slot]);
    cfg.clock = rshare_loop_net_clock(net);
    cfg.cluster_key = cluster_key;
    cfg.log = (struct rshare_log){capture_log, NULL, RSHARE_LOG_DEBUG};
    if (identity >= 0) {
        cfg.identity_secret_key = sk[identity];
        cfg.identity_cert = cert[identity];
        cfg.authority_public_key = auth_pk;
    }
    rshare_node *node;
    ck_assert_int_eq(rshare_node_create(&cfg, &node), 0);
    ck_assert_int_ge(rshare_node_add_loop(node, net, address), 0);
    ck_assert_int_eq(rshare_node_set_handler(node, APP_ECHO, echo, NULL), 0);
    if (join) {
        static const uint32_t voters[] = {1, 2, 3};
        struct rshare_cluster_config cc;
        rshare_cluster_config_init(&cc, sizeof(cc));
        cc.manager_eligible = id <= 3;
        cc.initial_voters = voters;
        cc.initial_voter_count = 3;
        ck_assert_int_eq(rshare_cluster_join(node, &cc), 0);
    }
    return node;
}

static int run(int (*done)(void *), void *ud, uint64_t max_us)
{
    return rshare_loop_net_run(net, nodes, node_count, done, ud, max_us);
}

static int cluster_formed(void *ud)
{
    (void)ud;
    for (size_t i = 0; i < NODES; i++) {
        size_t n = 0;
        rshare_cluster_members(nodes[i], NULL, 0, sizeof(struct rshare_member), &n);
        if (n != NODES || rshare_cluster_manager(nodes[i]) != 1)
            return 0;
    }
    return 1;
}

static void setup_net(bool identities)
{
    memset(stores, 0, sizeof(stores));
    log_len = 0;
    rogue_delivered = genuine_delivered = 0;
    randombytes_buf(cluster_key, sizeof(cluster_key));
    rshare_identity_keygen(auth_pk, auth_sk);
    for (size_t i = 0; i < NODES + 2; i++) {
        rshare_identity_keygen(pk[i], sk[i]);
        rshare_identity_certify(auth_sk, (uint32_t)(i + 1), pk[i], cert[i]);
    }
    ck_assert_int_eq(rshare_loop_net_create(11, &net), 0);
    struct rshare_loop_link link;
    rshare_loop_link_init(&link, sizeof(link));
    link.mtu = 1500;
    ck_assert_int_eq(rshare_loop_net_set_default(net, &link), 0);
    for (size_t i = 0; i < NODES; i++)
        nodes[i] = make_node(i, (uint32_t)(i + 1), (uint32_t)(i + 1), identities ? (int)i : -1,
                             true);
    node_count = NODES;
    int rc = run(cluster_formed, NULL, 60000000u);
    if (rc != 0) {
        for (size_t i = 0; i < NODES; i++) {
            size_t n = 0;
            rshare_cluster_members(nodes[i], NULL, 0, sizeof(struct rshare_member), &n);
            struct rshare_node_stats st;
            rshare_node_stats(nodes[i], &st, sizeof(st));
            fprintf(stderr, "node %zu: %zu members, manager %u rx %lu nopair %lu refused %lu auth %lu replay %lu shakes %lu msgs %lu malformed %lu unhandled %lu\n", i + 1, n,
                    rshare_cluster_manager(nodes[i]), st.rx_packets, st.rx_no_pair, st.rx_identity_refused, st.rx_auth_failed, st.rx_replayed, st.handshakes, st.msgs_received, st.msgs_malformed, st.unhandled);
        }
        fprintf(stderr, "%.*s\n", (int)(log_len > 4000 ? 4000 : log_len), logbuf);
    }
    ck_assert_int_eq(rc, 0);
}

static void setup(void)
{
    setup_net(true);
}

static void teardown(void)
{
    for (size_t i = 0; i < node_count; i++) {
        rshare_node_destroy(nodes[i]);
        nodes[i] = NULL;
    }
    rshare_loop_net_destroy(net);
    for (size_t i = 0; i < NODES + 2; i++)
        memory_store_free(&stores[i]);
}

/* --- calls ----------------------------------------------------------------------- */

struct call {
    int done, status;
};

static void on_reply(rshare_node *node, const struct rshare_reply *reply, void *user_data)
{
    (void)node;
    struct call *c = user_data;
    c->done = 1;
    c->status = reply->status;
}

static int call_done(void *ud)
{
    return ((struct call *)ud)->done;
}

/* A call from node index `from` to node id `to`; its status. */
static int call(size_t from, uint32_t to, const char *text)
{
    struct call c = {0};
    int rc = rshare_node_call(nodes[from], to, APP_ECHO, text, strlen(text), on_reply, &c);
    if (rc < 0) {
        fprintf(stderr, "call %zu -> %u: %s\n", from, to, rshare_node_errmsg(nodes[from]));
        return rc;
    }
    ck_assert_int_eq(run(call_done, &c, 30000000u), 0);
    return c.status;
}

static struct rshare_node_stats stats_of(size_t i)
{
    struct rshare_node_stats st;
    ck_assert_int_eq(rshare_node_stats(nodes[i], &st, sizeof(st)), 0);
    return st;
}

static void assert_no_secrets(void)
{
    for (size_t i = 0; i < NODES + 2; i++) {
        char hex[129];
        sodium_bin2hex(hex, sizeof(hex), sk[i], 32); /* the seed half */
        ck_assert_ptr_null(strstr(logbuf ? logbuf : "", hex));
    }
    char hex[65];
    sodium_bin2hex(hex, sizeof(hex), cluster_key, 32);
    ck_assert_ptr_null(strstr(logbuf ? logbuf : "", hex));
}

/* --- tests ------------------------------------------------------------------------ */

START_TEST(test_pairs_talk)
{
    for (size_t i = 0; i < NODES; i++)
        for (uint32_t to = 1; to <= NODES; to++)
            if (to != i + 1)
                ck_assert_int_eq(call(i, to, "genuine"), 0);
    for (size_t i = 0; i < NODES; i++) {
        struct rshare_node_stats st = stats_of(i);
        ck_assert_uint_ge(st.handshakes, NODES - 1);
        ck_assert_uint_eq(st.rx_auth_failed, 0);
        ck_assert_uint_eq(st.rx_identity_refused, 0);
    }
    assert_no_secrets();
}
END_TEST

/* A member with the cluster key (and so the network key) claims node 2's
 * id from address 9 and sends a request to node 1.  Returns how many of
 * its requests node 1's handler saw. */
static unsigned rogue_claims_node_2(void)
{
    /* Its boot counter above node 2's, so that its session looks newer. */
    for (int boot = 0; boot < 2; boot++)
        rshare_node_destroy(make_node(NODES, 2, 9, -1, false));
    nodes[node_count] = make_node(NODES, 2, 9, -1, false);
    size_t rogue = node_count++;
    ck_assert_int_eq(rshare_node_add_peer(nodes[rogue], 1, 0, "1"), 0);
    /* Static: a call still waiting when the test ends completes at teardown. */
    static struct call calls[5];
    for (int i = 0; i < 5; i++) {
        calls[i] = (struct call){0};
        if (rshare_node_call(nodes[rogue], 1, APP_ECHO, "rogue", 5, on_reply, &calls[i]) == 0)
            run(call_done, &calls[i], 2000000u);
    }
    return rogue_delivered;
}

START_TEST(test_rogue_refused)
{
    uint64_t refused = stats_of(0).rx_identity_refused;
    ck_assert_uint_eq(rogue_claims_node_2(), 0);
    ck_assert_uint_gt(stats_of(0).rx_identity_refused, refused);
    /* Node 2's address did not move: node 1 still reaches it. */
    unsigned before = genuine_delivered;
    ck_assert_int_eq(call(0, 2, "genuine"), 0);
    ck_assert_uint_eq(genuine_delivered, before + 1);
    ck_assert_int_eq(call(1, 1, "genuine"), 0);
    assert_no_secrets();
}
END_TEST

/* A cluster-key holder forges a broadcast in node 2's name, in node 2's
 * current session, with a sequence number far ahead.  Broadcasts keep
 * their own replay window: node 2's pair-keyed packets still pass. */
START_TEST(test_forged_broadcast)
{
    ck_assert_int_eq(call(1, 1, "genuine"), 0);
    uint8_t pkt[RS_PKT_HDR_LEN + RS_PKT_DATA_LEN + 8 + RS_PKT_TAG_LEN];
    struct rs_pkt_hdr h = {.type = RS_PKT_DATA, .flags = RS_PKT_F_PROTECTED, .src = 2,
                           .dst = RSHARE_NODE_ID_BROADCAST,
                           .session = rs_core(nodes[1])->session, .seq = UINT64_C(1) << 40};
    rs_pkt_hdr_encode(&h, pkt);
    struct rs_pkt_data d = {.xfer = 1, .total = 8, .index = 0, .count = 1};
    rs_pkt_data_encode(&d, pkt + RS_PKT_HDR_LEN);
    memset(pkt + RS_PKT_HDR_LEN + RS_PKT_DATA_LEN, 0, 8);
    uint8_t packet_key[32], key[32];
    rs_protect_derive(packet_key, cluster_key);
    rs_protect_session_key(key, packet_key, 2, h.session);
    size_t len = rs_protect_seal(key, pkt, RS_PKT_HDR_LEN, RS_PKT_DATA_LEN + 8);
    struct rshare_link_addr from = {.len = 4};
    rs_put32(from.bytes, 9);
    uint64_t rejected = stats_of(0).rx_auth_failed + stats_of(0).rx_replayed;
    rshare_node_push(nodes[0], 0, &from, pkt, len); /* accepted: the network key is right */
    ck_assert_uint_eq(stats_of(0).rx_auth_failed + stats_of(0).rx_replayed, rejected);
    unsigned before = genuine_delivered;
    ck_assert_int_eq(call(1, 1, "genuine"), 0);
    ck_assert_int_eq(call(0, 2, "genuine"), 0);
    ck_assert_uint_eq(genuine_delivered, before + 2);
}
END_TEST

/* The control: the same rogue in a cluster without identities. */
START_TEST(test_rogue_believed_without_identities)
{
    teardown();
    setup_net(false);
    ck_assert_uint_gt(rogue_claims_node_2(), 0);
}
END_TEST

static int stranger_tried(void *ud)
{
    return stats_of(0).rx_identity_refused > *(uint64_t *)ud + 3;
}

START_TEST(test_foreign_authority)
{
    /* Node 5 holds the cluster key and a certificate of another authority. */
    uint8_t other_pk[32], other_sk[64];
    rshare_identity_keygen(other_pk, other_sk);
    rshare_identity_certify(other_sk, 5, pk[4], cert[4]);
    uint8_t saved[32];
    memcpy(saved, auth_pk, 32);
    memcpy(auth_pk, other_pk, 32); /* node 5 trusts its own authority */
    nodes[node_count] = make_node(4, 5, 5, 4, true);
    memcpy(auth_pk, saved, 32);
    size_t stranger = node_count++;
    ck_assert_int_eq(rshare_node_add_peer(nodes[stranger], 1, 0, "1"), 0);
    uint64_t refused = stats_of(0).rx_identity_refused;
    ck_assert_int_eq(run(stranger_tried, &refused, 20000000u), 0);
    run(NULL, NULL, 5000000u);
    struct rshare_member m[8];
    size_t n = 0;
    ck_assert_int_eq(rshare_cluster_members(nodes[0], m, 8, sizeof(m[0]), &n), 0);
    ck_assert_uint_eq(n, NODES);
    for (size_t i = 0; i < n; i++)
        ck_assert_uint_ne(m[i].id, 5);
    ck_assert_int_ne(call(stranger, 1, "rogue"), 0);
    ck_assert_uint_eq(rogue_delivered, 0);
}
END_TEST

struct result {
    int calls, status;
    uint64_t id;
};

static void result_done(rshare_node *node, const struct rshare_access_result *r, void *ud)
{
    (void)node;
    struct result *res = ud;
    res->calls++;
    res->status = r->status;
    res->id = r->id;
}

static int result_finished(void *ud)
{
    return ((struct result *)ud)->calls > 0;
}

static int revoked_everywhere(void *ud)
{
    (void)ud;
    for (size_t i = 0; i < 3; i++) /* node 4 itself is cut off */
        if (rs_cluster(nodes[i])->map.revoked_count != 1)
            return 0;
    return 1;
}

START_TEST(test_revoke)
{
    ck_assert_int_eq(call(3, 1, "genuine"), 0);
    /* Only the manager or an eligible member may revoke. */
    struct result res = {0};
    ck_assert_int_eq(rshare_access_revoke_identity(nodes[3], 2, NULL, result_done, &res), 0);
    ck_assert_int_eq(run(result_finished, &res, 10000000u), 0);
    ck_assert_int_eq(res.status, RSHARE_EACCES);
    /* The manager revokes the key it saw node 4 use. */
    memset(&res, 0, sizeof(res));
    ck_assert_int_eq(rshare_access_revoke_identity(nodes[0], 4, NULL, result_done, &res), 0);
    ck_assert_int_eq(run(result_finished, &res, 10000000u), 0);
    ck_assert_int_eq(res.status, 0);
    ck_assert_uint_eq(res.id, 4);
    ck_assert_int_eq(run(revoked_everywhere, NULL, 10000000u), 0);
    ck_assert_mem_eq(rs_cluster(nodes[1])->map.revoked[0].pk, pk[3], 32);
    uint64_t refused = stats_of(0).rx_identity_refused;
    unsigned before = genuine_delivered;
    ck_assert_int_ne(call(3, 1, "genuine"), 0);
    ck_assert_uint_eq(genuine_delivered, before);
    ck_assert_uint_gt(stats_of(0).rx_identity_refused, refused);
    /* A restart with the same key changes nothing. */
    rshare_node_destroy(nodes[3]);
    nodes[3] = make_node(3, 4, 4, 3, true);
    ck_assert_int_eq(rshare_node_add_peer(nodes[3], 2, 0, "2"), 0);
    refused = stats_of(1).rx_identity_refused;
    ck_assert_int_ne(call(3, 2, "genuine"), 0);
    ck_assert_uint_eq(genuine_delivered, before);
    ck_assert_uint_gt(stats_of(1).rx_identity_refused, refused);
    /* The others go on. */
    ck_assert_int_eq(call(2, 1, "genuine"), 0);
    ck_assert_int_eq(call(0, 3, "genuine"), 0);
}
END_TEST

static int shook_hands_again(void *ud)
{
    return stats_of(0).handshakes > *(uint64_t *)ud;
}

START_TEST(test_restart)
{
    ck_assert_int_eq(call(0, 2, "genuine"), 0);
    uint64_t shakes = stats_of(0).handshakes;
    rshare_node_destroy(nodes[1]);
    nodes[1] = make_node(1, 2, 2, 1, true);
    /* Node 1 learns of the restart from the new boot's HELLO (requests
     * in flight to the old boot fail then, as without identities). */
    ck_assert_int_eq(run(shook_hands_again, &shakes, 30000000u), 0);
    ck_assert_int_eq(call(0, 2, "genuine"), 0);
    ck_assert_int_eq(call(1, 3, "genuine"), 0);
    ck_assert_int_eq(run(cluster_formed, NULL, 30000000u), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("identity");
    TCase *tc = tcase_create("identity");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_pairs_talk);
    tcase_add_test(tc, test_rogue_refused);
    tcase_add_test(tc, test_rogue_believed_without_identities);
    tcase_add_test(tc, test_forged_broadcast);
    tcase_add_test(tc, test_foreign_authority);
    tcase_add_test(tc, test_revoke);
    tcase_add_test(tc, test_restart);
    suite_add_tcase(s, tc);
    return rs_test_run(s);
}
