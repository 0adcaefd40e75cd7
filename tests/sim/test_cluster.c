/* Simulation: clusters on the loop transport discover each other, choose a
 * manager, and every node ends with the same global map (members and every
 * node's resources).  The manager is crashed and restarted from its
 * persisted state; a history checker compares, for every map version, what
 * each node held: two different maps at one version fail the test. */
#include "config.h"

#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster.h"
#include "msg/msg.h"
#include "rshare/rshare.h"
#include "memory_store.h"

#define MAX_NODES 64
#define MAX_HISTORY 4096

/* The history: (node, map version, digest of the map) at every change. */
struct history_entry {
    uint32_t node;
    uint64_t version;
    uint64_t digest;
};

struct world {
    rshare_loop_net *net;
    rshare_node *nodes[MAX_NODES];
    struct memory_store stores[MAX_NODES];
    size_t count;
    size_t eligible;
    struct history_entry history[MAX_HISTORY];
    size_t history_len;
    int expect_resources;
    uint32_t expect_manager; /* 0: any live one */
    bool by_install_order;   /* install orders reverse the slots; nominate by them */
};

static struct world w;

static uint64_t map_digest(rshare_node *node)
{
    const struct rs_map *map = &rs_cluster(node)->map;
    uint64_t h = 1469598103934665603u;
    const uint8_t *p = (const uint8_t *)map->members;
    for (size_t i = 0; i < map->member_count * sizeof(*map->members); i++)
        h = (h ^ p[i]) * 1099511628211u;
    p = (const uint8_t *)map->resources;
    for (size_t i = 0; i < map->resource_count * sizeof(*map->resources); i++)
        h = (h ^ p[i]) * 1099511628211u;
    return h;
}

static void on_event(rshare_node *node, enum rshare_cluster_event event, uint32_t id, void *ud)
{
    (void)id;
    (void)ud;
    if (event != RSHARE_EVENT_MAP || w.history_len == MAX_HISTORY)
        return;
    uint64_t version;
    rshare_cluster_map_version(node, NULL, &version);
    w.history[w.history_len++] = (struct history_entry){rshare_node_id(node), version,
                                                        map_digest(node)};
}

/* No two nodes may ever have held different maps at the same version. */
static void check_history(void)
{
    for (size_t i = 0; i < w.history_len; i++)
        for (size_t k = i + 1; k < w.history_len; k++)
            if (w.history[i].version == w.history[k].version)
                ck_assert_msg(w.history[i].digest == w.history[k].digest,
                              "nodes %u and %u differ at map version %llu", w.history[i].node,
                              w.history[k].node, (unsigned long long)w.history[i].version);
}

static rshare_node *start_node(size_t i)
{
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = (uint32_t)(i + 1);
    cfg.slot = (uint16_t)i;
    if (w.by_install_order)
        cfg.install_order = (uint16_t)(w.count - i);
    cfg.clock = rshare_loop_net_clock(w.net);
    cfg.log = (struct rshare_log){rs_test_quiet_log, NULL, RSHARE_LOG_ERROR};
    cfg.persist = memory_store_hook(&w.stores[i]);
    rshare_node *node;
    ck_assert_int_eq(rshare_node_create(&cfg, &node), 0);
    ck_assert_int_ge(rshare_node_add_loop(node, w.net, (uint32_t)(i + 1)), 0);
    struct rshare_cluster_config cc;
    rshare_cluster_config_init(&cc, sizeof(cc));
    static const uint32_t voters[] = {1, 2, 3};
    cc.manager_eligible = i < w.eligible;
    cc.initial_voters = voters;
    cc.initial_voter_count = (uint32_t)(w.eligible < 3 ? w.eligible : 3);
    cc.voters = 3;
    cc.prefer_install_order = w.by_install_order;
    ck_assert_int_eq(rshare_cluster_join(node, &cc), 0);
    rshare_cluster_set_callback(node, on_event, NULL);
    return node;
}

static void share_disk(rshare_node *node, int n)
{
    struct rshare_resource_desc d;
    rshare_resource_desc_init(&d, sizeof(d));
    d.kind = RSHARE_RESOURCE_BLOCK;
    d.block_size = 512;
    d.block_count = 2048u * (unsigned)(n + 1);
    snprintf(d.path, sizeof(d.path), "disk%d", n);
    snprintf(d.model, sizeof(d.model), "sim");
    uint64_t id;
    ck_assert_int_eq(rshare_resource_register(node, &d, &id), 0);
    ck_assert_uint_eq(id >> 32, rshare_node_id(node));
}

/* Every live node agrees on the manager, and its map holds every node and
 * the expected resources. */
static int converged(void *user_data)
{
    (void)user_data;
    uint32_t manager = 0;
    for (size_t i = 0; i < w.count; i++) {
        rshare_node *node = w.nodes[i];
        if (!node)
            continue;
        uint32_t m = rshare_cluster_manager(node);
        if (!m || (manager && m != manager) || !w.nodes[m - 1] ||
            (w.expect_manager && m != w.expect_manager))
            return 0; /* none, disagreement, a dead one still believed in */
        manager = m;
        const struct rs_map *map = &rs_cluster(node)->map;
        if (map->member_count != w.count || (int)map->resource_count != w.expect_resources)
            return 0;
    }
    return 1;
}

static void run_until_converged(uint64_t max_s)
{
    rshare_node *live[MAX_NODES];
    size_t n = 0;
    for (size_t i = 0; i < w.count; i++)
        if (w.nodes[i])
            live[n++] = w.nodes[i];
    int rc = rshare_loop_net_run(w.net, live, n, converged, NULL, max_s * 1000000u);
    if (rc != 0) {
        for (size_t i = 0; i < w.count; i++)
            if (w.nodes[i])
                fprintf(stderr, "node %zu: manager %u members %zu resources %zu version %llu\n",
                        i + 1, rshare_cluster_manager(w.nodes[i]),
                        rs_cluster(w.nodes[i])->map.member_count,
                        rs_cluster(w.nodes[i])->map.resource_count,
                        (unsigned long long)rs_cluster(w.nodes[i])->map.version);
    }
    ck_assert_int_eq(rc, 0);
}

static void world_up_with(uint64_t seed, size_t count, size_t eligible, bool by_install_order)
{
    memset(&w, 0, sizeof(w));
    w.count = count;
    w.eligible = eligible;
    w.by_install_order = by_install_order;
    ck_assert_int_eq(rshare_loop_net_create(seed, &w.net), 0);
    struct rshare_loop_link link;
    rshare_loop_link_init(&link, sizeof(link));
    link.delay_us = 500;
    link.jitter_us = 500;
    link.loss_ppm = 20000;
    ck_assert_int_eq(rshare_loop_net_set_default(w.net, &link), 0);
    for (size_t i = 0; i < count; i++)
        w.nodes[i] = start_node(i);
}

static void world_up(uint64_t seed, size_t count, size_t eligible)
{
    world_up_with(seed, count, eligible, false);
}

static void world_down(void)
{
    for (size_t i = 0; i < w.count; i++)
        rshare_node_destroy(w.nodes[i]);
    rshare_loop_net_destroy(w.net);
    for (size_t i = 0; i < w.count; i++)
        memory_store_free(&w.stores[i]);
}

static void cluster_case(uint64_t seed, size_t count, size_t eligible)
{
    world_up(seed, count, eligible);
    /* The preferred manager is the lowest slot among the voters. */
    w.expect_manager = 1;
    run_until_converged(60);
    ck_assert_uint_eq(rshare_cluster_manager(w.nodes[0]), 1);
    for (size_t i = 0; i < count; i++)
        share_disk(w.nodes[i], (int)i);
    w.expect_resources = (int)count;
    run_until_converged(60);
    for (size_t i = 0; i < count; i++) {
        struct rshare_resource_desc all[MAX_NODES];
        size_t n;
        ck_assert_int_eq(rshare_resource_list(w.nodes[i], 0, all, MAX_NODES, sizeof(all[0]), &n), 0);
        ck_assert_uint_eq(n, count);
        for (size_t k = 0; k < n; k++) {
            ck_assert_uint_eq(all[k].host, k + 1);
            ck_assert_uint_eq(all[k].block_count, 2048u * (k + 1));
        }
    }
    /* Every message a node sends carries the map version it holds. */
    for (size_t i = 0; i < count; i++)
        ck_assert_uint_eq(rs_msg(w.nodes[i])->map_version, rs_cluster(w.nodes[i])->map.version);
    check_history();
    world_down();
}

START_TEST(test_sizes)
{
    static const size_t sizes[][2] = {{2, 2}, {3, 3}, {5, 3}, {16, 3}, {64, 3}};
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
        cluster_case(1000 + s, sizes[s][0], sizes[s][1]);
}
END_TEST

/* RSHARE_SIM_SEEDS sets how many (make soak runs thousands). */
START_TEST(test_seeds)
{
    const char *env = getenv("RSHARE_SIM_SEEDS");
    uint64_t seeds = env ? strtoull(env, NULL, 10) : 200;
    for (uint64_t seed = 1; seed <= seeds; seed++)
        cluster_case(seed, 5, 3);
}
END_TEST

START_TEST(test_manager_crash_and_restart)
{
    world_up(77, 5, 3);
    for (size_t i = 0; i < 5; i++)
        share_disk(w.nodes[i], (int)i);
    w.expect_resources = 5;
    w.expect_manager = 1;
    run_until_converged(60);
    ck_assert_uint_eq(rshare_cluster_manager(w.nodes[1]), 1);
    w.expect_manager = 0;
    uint64_t before;
    rshare_cluster_map_version(w.nodes[1], NULL, &before);

    /* The manager crashes: a backup takes over, the map survives. */
    rshare_node_destroy(w.nodes[0]);
    w.nodes[0] = NULL;
    run_until_converged(60);
    uint32_t backup = rshare_cluster_manager(w.nodes[1]);
    ck_assert(backup == 2 || backup == 3);
    size_t n;
    ck_assert_int_eq(rshare_resource_list(w.nodes[4], 0, NULL, 0, sizeof(struct rshare_resource_desc), &n), 0);
    ck_assert_uint_eq(n, 5);

    /* It restarts from its persisted state, catches up, and as the lowest
     * slot gets the manager role back. */
    w.nodes[0] = start_node(0);
    share_disk(w.nodes[0], 0);
    w.expect_manager = 1;
    run_until_converged(60);
    rshare_node *all[MAX_NODES];
    for (size_t i = 0; i < 5; i++)
        all[i] = w.nodes[i];
    rshare_loop_net_run(w.net, all, 5, NULL, NULL, 10000000u);
    ck_assert_uint_eq(rshare_cluster_manager(w.nodes[3]), 1);
    /* It caught up: the same map version as the others, none older. */
    uint64_t after, others;
    uint32_t epoch0, epoch1;
    rshare_cluster_map_version(w.nodes[0], &epoch0, &after);
    rshare_cluster_map_version(w.nodes[1], &epoch1, &others);
    ck_assert_uint_ge(after, before);
    ck_assert_uint_eq(after, others);
    ck_assert_uint_eq(epoch0, epoch1);
    check_history();
    world_down();
}
END_TEST

/* Nodes plugged in later join; a node pulled out is reported down within
 * the member timeout and the rest carry on. */
static int downs;
static void count_downs(rshare_node *node, enum rshare_cluster_event event, uint32_t id, void *ud)
{
    on_event(node, event, id, ud);
    if (event == RSHARE_EVENT_MEMBER_DOWN && id == 4)
        downs++;
}

START_TEST(test_hotplug)
{
    world_up(31, 5, 3);
    w.count = 4; /* node 5 is not plugged in yet */
    rshare_node_destroy(w.nodes[4]);
    w.nodes[4] = NULL;
    memory_store_free(&w.stores[4]);
    run_until_converged(60);
    w.count = 5;
    w.nodes[4] = start_node(4);
    run_until_converged(60);
    ck_assert_uint_eq(rs_cluster(w.nodes[0])->map.member_count, 5);

    downs = 0;
    for (size_t i = 0; i < 5; i++)
        if (i != 3)
            rshare_cluster_set_callback(w.nodes[i], count_downs, NULL);
    uint64_t pulled = rshare_loop_net_now_us(w.net);
    rshare_node_destroy(w.nodes[3]);
    w.nodes[3] = NULL;
    rshare_node *rest[] = {w.nodes[0], w.nodes[1], w.nodes[2], w.nodes[4]};
    rshare_loop_net_run(w.net, rest, 4, NULL, NULL, 5000000u);
    ck_assert_int_eq(downs, 4); /* every other node noticed */
    size_t n;
    struct rshare_member members[8];
    ck_assert_int_eq(rshare_cluster_members(w.nodes[0], members, 8, sizeof(members[0]), &n), 0);
    ck_assert_uint_eq(n, 5);
    ck_assert(!(members[3].flags & RSHARE_MEMBER_ALIVE));
    ck_assert(members[0].flags & RSHARE_MEMBER_MANAGER);
    ck_assert(members[0].flags & RSHARE_MEMBER_SELF);
    ck_assert(members[1].flags & RSHARE_MEMBER_VOTER);
    ck_assert_uint_le(rshare_loop_net_now_us(w.net) - pulled, 5000000u);
    check_history();
    world_down();
}
END_TEST

/* A 2-node chassis: both vote.  While one is away the other keeps its last
 * committed map (and so keeps serving), but map changes wait for the peer. */
START_TEST(test_two_node_chassis)
{
    world_up(41, 2, 2);
    share_disk(w.nodes[0], 0);
    w.expect_resources = 1;
    run_until_converged(60);
    rshare_node_destroy(w.nodes[1]);
    w.nodes[1] = NULL;
    share_disk(w.nodes[0], 1);
    rshare_loop_net_run(w.net, w.nodes, 1, NULL, NULL, 20000000u);
    size_t n;
    ck_assert_int_eq(rshare_resource_list(w.nodes[0], 0, NULL, 0, sizeof(struct rshare_resource_desc), &n), 0);
    ck_assert_uint_eq(n, 1); /* the last committed map, unchanged */
    ck_assert_int_eq(rshare_resource_list(w.nodes[0], 1, NULL, 0, sizeof(struct rshare_resource_desc), &n), 0);
    ck_assert_uint_eq(n, 2); /* the change waits */
    w.nodes[1] = start_node(1);
    w.expect_resources = 2;
    run_until_converged(60);
    check_history();
    world_down();
}
END_TEST

/* Nomination by install order: slots and install orders run in opposite
 * directions, and every node is configured to prefer the first-installed
 * voter.  Of the voters (slots 0-2, install orders 5-3) that is node 3; once
 * it crashes, node 2 (install order 4) rather than node 1 (slot 0). */
START_TEST(test_install_order)
{
    for (uint64_t seed = 1; seed <= 5; seed++) {
        world_up_with(700 + seed, 5, 3, true);
        w.expect_manager = 3;
        run_until_converged(60);
        for (size_t i = 0; i < 5; i++)
            share_disk(w.nodes[i], (int)i);
        w.expect_resources = 5;
        run_until_converged(60);
        struct rshare_member members[8];
        size_t n;
        ck_assert_int_eq(rshare_cluster_members(w.nodes[0], members, 8, sizeof(members[0]), &n), 0);
        ck_assert_uint_eq(n, 5);
        for (size_t i = 0; i < 5; i++) {
            ck_assert_uint_eq(members[i].slot, i);
            ck_assert_uint_eq(members[i].install_order, 5 - i);
        }
        ck_assert(members[2].flags & RSHARE_MEMBER_MANAGER);

        rshare_node_destroy(w.nodes[2]);
        w.nodes[2] = NULL;
        w.expect_manager = 2;
        run_until_converged(60);
        /* It stays there: nobody hands the role back to the lower slot. */
        rshare_node *rest[] = {w.nodes[0], w.nodes[1], w.nodes[3], w.nodes[4]};
        rshare_loop_net_run(w.net, rest, 4, NULL, NULL, 10000000u);
        for (size_t i = 0; i < 5; i++)
            if (w.nodes[i])
                ck_assert_uint_eq(rshare_cluster_manager(w.nodes[i]), 2);
        check_history();
        world_down();
    }
}
END_TEST

/* The operator's override on a 2-node chassis: the peer is gone and a
 * change waits; the survivor is told to continue alone and the change
 * commits.  The peer comes back from its persisted state, is added back as
 * a voter, and both end with the same map. */
static size_t committed_resources(rshare_node *node)
{
    size_t n;
    ck_assert_int_eq(rshare_resource_list(node, 0, NULL, 0, sizeof(struct rshare_resource_desc), &n), 0);
    return n;
}

static int alone_committed(void *user_data)
{
    size_t want = *(const size_t *)user_data;
    return rshare_cluster_manager(w.nodes[0]) == 1 && committed_resources(w.nodes[0]) == want;
}

static int peer_voting(void *user_data)
{
    (void)user_data;
    return converged(NULL) && rs_raft_is_voter(w.nodes[0], 2) && rs_raft_is_voter(w.nodes[1], 2) &&
           rs_cluster(w.nodes[0])->map.version == rs_cluster(w.nodes[1])->map.version;
}

START_TEST(test_force_alone)
{
    for (uint64_t seed = 1; seed <= 5; seed++) {
        world_up(800 + seed, 2, 2);
        share_disk(w.nodes[0], 0);
        w.expect_resources = 1;
        run_until_converged(60);
        /* Odd seeds first make enough changes for snapshots to be taken
         * (and restored from at the override and the peer's restart). */
        size_t base = 1;
        for (int k = 0; seed % 2 && k < 40; k++) {
            share_disk(w.nodes[0], 100 + k); /* the peer restarts without its own */
            w.expect_resources = (int)++base;
            run_until_converged(60);
        }
        /* Refused while the peer is alive. */
        ck_assert_int_eq(rshare_cluster_force_alone(w.nodes[0]), RSHARE_EBUSY);
        ck_assert_ptr_nonnull(strstr(rshare_node_errmsg(w.nodes[0]), "alive"));
        ck_assert(rs_raft_is_voter(w.nodes[0], 2));

        rshare_node_destroy(w.nodes[1]);
        w.nodes[1] = NULL;
        share_disk(w.nodes[0], 1);
        rshare_loop_net_run(w.net, w.nodes, 1, NULL, NULL, 20000000u);
        ck_assert_uint_eq(committed_resources(w.nodes[0]), base); /* the change waits */
        uint64_t before;
        rshare_cluster_map_version(w.nodes[0], NULL, &before);

        ck_assert_int_eq(rshare_cluster_force_alone(w.nodes[0]), 0);
        size_t want = base + 1;
        ck_assert_int_eq(rshare_loop_net_run(w.net, w.nodes, 1, alone_committed, &want, 10000000u), 0);
        ck_assert(!rs_raft_is_voter(w.nodes[0], 2));
        ck_assert_int_eq(rshare_cluster_force_alone(w.nodes[0]), 0); /* already alone */
        uint64_t after;
        rshare_cluster_map_version(w.nodes[0], NULL, &after);
        ck_assert_uint_gt(after, before);
        /* More changes commit alone. */
        share_disk(w.nodes[0], 2);
        want = base + 2;
        ck_assert_int_eq(rshare_loop_net_run(w.net, w.nodes, 1, alone_committed, &want, 10000000u), 0);

        /* The peer returns from its persisted state and votes again. */
        w.nodes[1] = start_node(1);
        w.expect_resources = (int)base + 2;
        w.expect_manager = 1;
        run_until_converged(60);
        ck_assert_int_eq(rshare_loop_net_run(w.net, w.nodes, 2, peer_voting, NULL, 30000000u), 0);
        /* Changes need it again, and reach both. */
        share_disk(w.nodes[1], 3);
        w.expect_resources = (int)base + 3;
        run_until_converged(60);
        ck_assert_int_eq(rshare_loop_net_run(w.net, w.nodes, 2, peer_voting, NULL, 30000000u), 0);
        ck_assert(map_digest(w.nodes[0]) == map_digest(w.nodes[1]));
        check_history();
        world_down();
    }
}
END_TEST

/* Bad use of the override: a node that has not joined, one that is not
 * manager-eligible, one with no map yet, a call from inside a map event, a
 * voter while the other voter is alive. */
static int inner_rc = 1;
static void force_from_event(rshare_node *node, enum rshare_cluster_event event, uint32_t id,
                             void *ud)
{
    on_event(node, event, id, ud);
    if (event == RSHARE_EVENT_MAP && inner_rc == 1)
        inner_rc = rshare_cluster_force_alone(node);
}

START_TEST(test_force_alone_misuse)
{
    ck_assert_int_eq(rshare_cluster_force_alone(NULL), RSHARE_EINVAL);
    world_up(901, 3, 2); /* nodes 1 and 2 vote, node 3 is not eligible */
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = 9;
    cfg.clock = rshare_loop_net_clock(w.net);
    cfg.log = (struct rshare_log){rs_test_quiet_log, NULL, RSHARE_LOG_ERROR};
    cfg.persist = memory_store_hook(&w.stores[8]);
    rshare_node *loner;
    ck_assert_int_eq(rshare_node_create(&cfg, &loner), 0);
    ck_assert_int_eq(rshare_cluster_force_alone(loner), RSHARE_EINVAL);
    ck_assert_ptr_nonnull(strstr(rshare_node_errmsg(loner), "not joined"));
    /* Eligible, but no map yet (not an initial voter, nobody heard). */
    struct rshare_cluster_config cc;
    rshare_cluster_config_init(&cc, sizeof(cc));
    cc.manager_eligible = 1;
    ck_assert_int_eq(rshare_cluster_join(loner, &cc), 0);
    ck_assert_int_eq(rshare_cluster_force_alone(loner), RSHARE_EAGAIN);
    ck_assert_ptr_nonnull(strstr(rshare_node_errmsg(loner), "no map"));
    rshare_node_destroy(loner);

    rshare_cluster_set_callback(w.nodes[0], force_from_event, NULL);
    inner_rc = 1;
    w.expect_manager = 1;
    run_until_converged(60);
    ck_assert_int_eq(inner_rc, RSHARE_EBUSY);
    ck_assert_int_eq(rshare_cluster_force_alone(w.nodes[2]), RSHARE_EINVAL);
    ck_assert_ptr_nonnull(strstr(rshare_node_errmsg(w.nodes[2]), "manager-eligible"));
    ck_assert_int_eq(rshare_cluster_force_alone(w.nodes[1]), RSHARE_EBUSY);
    ck_assert_ptr_nonnull(strstr(rshare_node_errmsg(w.nodes[1]), "voter 1 is alive"));
    /* Nothing changed: both still vote, the cluster still works. */
    ck_assert(rs_raft_is_voter(w.nodes[0], 1) && rs_raft_is_voter(w.nodes[0], 2));
    share_disk(w.nodes[2], 2);
    w.expect_resources = 1;
    run_until_converged(60);
    check_history();
    world_down();
    memory_store_free(&w.stores[8]);
}
END_TEST

/* A node that sends the manager a resource list naming another host, or a
 * malformed one, gets a clear error; the map does not change and the
 * manager counts it. */
static int forged_status, forged_code, forged_calls;
static void on_forged_reply(rshare_node *node, const struct rshare_reply *reply, void *ud)
{
    (void)node;
    (void)ud;
    forged_calls++;
    forged_status = reply->status;
    forged_code = reply->remote_code;
}

static int forged_done(void *ud)
{
    (void)ud;
    return forged_calls > 0;
}

START_TEST(test_forged_announcements)
{
    world_up(61, 3, 3);
    w.expect_manager = 1;
    run_until_converged(60);
    uint8_t buf[1024];
    struct rs_cbor_writer wr;
    struct rshare_resource_desc d;
    rshare_resource_desc_init(&d, sizeof(d));
    d.kind = RSHARE_RESOURCE_BLOCK;
    d.block_size = 512;
    d.block_count = 8;
    d.host = 3;
    d.id = (uint64_t)3 << 32 | 1;
    snprintf(d.path, sizeof(d.path), "not-mine");
    /* Node 2 claims to speak for node 3. */
    rs_cbor_writer_init(&wr, buf, sizeof(buf));
    rs_map_cmd_resources_set(&wr, 3, &d, 1);
    struct rshare_node_stats before, after;
    rshare_node_stats(w.nodes[0], &before, sizeof(before));
    ck_assert_int_eq(rs_msg_call(w.nodes[1], 1, RS_MSG_RESOURCES, buf, wr.len, on_forged_reply, NULL), 0);
    ck_assert_int_eq(rshare_loop_net_run(w.net, w.nodes, 3, forged_done, NULL, 5000000u), 0);
    ck_assert_int_eq(forged_status, RSHARE_EREMOTE);
    ck_assert_int_eq(forged_code, RSHARE_EINVAL);
    rshare_node_stats(w.nodes[0], &after, sizeof(after));
    ck_assert_uint_eq(after.rx_spoofed, before.rx_spoofed + 1);

    /* Its own host, but an invalid descriptor (block size 3). */
    d.host = 2;
    d.id = (uint64_t)2 << 32 | 1;
    d.block_size = 3;
    rs_cbor_writer_init(&wr, buf, sizeof(buf));
    rs_map_cmd_resources_set(&wr, 2, &d, 1);
    forged_calls = 0;
    ck_assert_int_eq(rs_msg_call(w.nodes[1], 1, RS_MSG_RESOURCES, buf, wr.len, on_forged_reply, NULL), 0);
    ck_assert_int_eq(rshare_loop_net_run(w.net, w.nodes, 3, forged_done, NULL, 5000000u), 0);
    ck_assert_int_eq(forged_status, RSHARE_EREMOTE);
    ck_assert_int_lt(forged_code, 0);
    rshare_node_stats(w.nodes[0], &before, sizeof(before));
    ck_assert_uint_eq(before.msgs_malformed, after.msgs_malformed + 1);
    for (size_t i = 0; i < 3; i++)
        ck_assert_uint_eq(rs_cluster(w.nodes[i])->map.resource_count, 0);
    world_down();
}
END_TEST

/* Partitions of random shapes come and go while nodes change what they
 * share; afterwards every node holds the same map, and at no version did two
 * nodes ever hold different maps. */
static uint64_t rng_state;
static uint32_t rnd(uint32_t n)
{
    rng_state = rng_state * 6364136223846793005u + 1442695040888963407u;
    return (uint32_t)(rng_state >> 33) % n;
}

START_TEST(test_partitions)
{
    for (uint64_t seed = 1; seed <= 10; seed++) {
        world_up(500 + seed, 5, 3);
        rng_state = seed;
        run_until_converged(60);
        int shared[5] = {0};
        for (int round = 0; round < 12; round++) {
            for (uint32_t a = 1; a <= 5; a++)
                for (uint32_t b = a + 1; b <= 5; b++)
                    rshare_loop_net_partition(w.net, a, b, rnd(100) < 35);
            size_t i = rnd(5);
            if (shared[i] < 3)
                share_disk(w.nodes[i], (int)(i * 10 + shared[i]++));
            rshare_loop_net_run(w.net, w.nodes, 5, NULL, NULL, 1000000u + rnd(3000000u));
        }
        for (uint32_t a = 1; a <= 5; a++)
            for (uint32_t b = a + 1; b <= 5; b++)
                rshare_loop_net_partition(w.net, a, b, 0);
        w.expect_resources = shared[0] + shared[1] + shared[2] + shared[3] + shared[4];
        run_until_converged(120);
        uint64_t digest = map_digest(w.nodes[0]);
        for (size_t k = 1; k < 5; k++)
            ck_assert(map_digest(w.nodes[k]) == digest);
        check_history();
        world_down();
    }
}
END_TEST

/* A node that catches up from a snapshot reports the version and epoch of
 * the map it holds, the same pair as every other node holding that map --
 * not the index of the snapshot, which may be a later configuration entry
 * (the voters settling as nodes join).  Block requests between nodes whose
 * versions differ are refused as stale, so a mismatch that outlived the
 * last map change would stop remote I/O until the next one (found by the
 * soak: tests/soak, seed 5). */
START_TEST(test_snapshot_keeps_map_version)
{
    for (uint64_t seed = 1; seed <= 4; seed++) {
        world_up(seed, 53, 3); /* joining takes more entries than a snapshot interval */
        run_until_converged(120);
        rshare_loop_net_run(w.net, w.nodes, w.count, NULL, NULL, 2000000u);
        uint32_t epoch0, epoch;
        uint64_t version0, version;
        rshare_cluster_map_version(w.nodes[0], &epoch0, &version0);
        for (size_t i = 1; i < w.count; i++) {
            rshare_cluster_map_version(w.nodes[i], &epoch, &version);
            ck_assert_msg(version == version0 && epoch == epoch0,
                          "seed %llu: node %zu holds version %llu epoch %u, node 1 %llu epoch %u",
                          (unsigned long long)seed, i + 1, (unsigned long long)version, epoch,
                          (unsigned long long)version0, epoch0);
        }
        check_history();
        world_down();
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cluster");
    TCase *tc = tcase_create("cluster");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_sizes);
    tcase_add_test(tc, test_seeds);
    tcase_add_test(tc, test_manager_crash_and_restart);
    tcase_add_test(tc, test_partitions);
    tcase_add_test(tc, test_hotplug);
    tcase_add_test(tc, test_two_node_chassis);
    tcase_add_test(tc, test_install_order);
    tcase_add_test(tc, test_force_alone);
    tcase_add_test(tc, test_force_alone_misuse);
    tcase_add_test(tc, test_forged_announcements);
    tcase_add_test(tc, test_snapshot_keeps_map_version);
    suite_add_tcase(s, tc);
    return rs_test_run(s);
}
