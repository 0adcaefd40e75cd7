/* Simulation: KVM input between nodes over the loop transport.  A host
 * (node 1) drives targets (nodes 2 and 3); every target records what its
 * sink received and the key state that results.  The stuck-key scenarios
 * (switching while holding keys, hotkey modifiers, a link cut in the middle
 * of a key press, a lost release, host and target restarts, a member going
 * down in the cluster, random input with partitions) must all end with no
 * key down on any target; input must not wait behind an 8 MiB message. */
#include "config.h"

#include "testutil.h"

#include <linux/input-event-codes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rshare/rshare.h"

#define NODES 3
#define HOST 0

static rshare_loop_net *net;
static rshare_node *nodes[NODES];
static rshare_kvm *kvm[NODES];
static char dirs[NODES][64];

/* What a target's sink saw. */
struct record {
    size_t frames, events;
    int down[KEY_CNT];     /* key state from the events alone */
    int presses[KEY_CNT];  /* how many presses of each code arrived */
    struct rshare_kvm_event log[4096];
    size_t log_len;
    uint64_t last_at_us;   /* virtual time of the last frame */
};
static struct record rec[NODES];

static void sink(void *user_data, uint32_t host, const struct rshare_kvm_event *events,
                 size_t count)
{
    struct record *r = user_data;
    ck_assert_uint_eq(host, 1);
    ck_assert_uint_gt(count, 0);
    ck_assert_uint_eq(events[count - 1].type, EV_SYN);
    r->frames++;
    r->last_at_us = rshare_loop_net_now_us(net);
    for (size_t i = 0; i < count; i++) {
        r->events++;
        if (r->log_len < sizeof(r->log) / sizeof(r->log[0]))
            r->log[r->log_len++] = events[i];
        if (events[i].type != EV_KEY)
            continue;
        ck_assert_uint_lt(events[i].code, KEY_CNT);
        ck_assert(events[i].value == 0 || events[i].value == 1);
        r->down[events[i].code] = events[i].value;
        if (events[i].value)
            r->presses[events[i].code]++;
    }
}

static size_t rec_down(size_t t)
{
    size_t n = 0;
    for (size_t c = 0; c < KEY_CNT; c++)
        n += rec[t].down[c] != 0;
    return n;
}

static const uint32_t target_ids[] = {2, 3};
static uint32_t opt_release_timeout_ms, opt_target_timeout_ms;

static void make_host(void)
{
    static const struct rshare_kvm_hotkey hotkeys[] = {
        {RSHARE_KVM_HOTKEY_COMBO, RSHARE_KVM_MOD_CTRL | RSHARE_KVM_MOD_ALT, KEY_2, 300,
         RSHARE_KVM_ACTION_JUMP, 2},
        {RSHARE_KVM_HOTKEY_COMBO, RSHARE_KVM_MOD_CTRL | RSHARE_KVM_MOD_ALT, KEY_3, 300,
         RSHARE_KVM_ACTION_JUMP, 3},
        {RSHARE_KVM_HOTKEY_DOUBLE_TAP, 0, KEY_SCROLLLOCK, 300, RSHARE_KVM_ACTION_NEXT, 0},
    };
    struct rshare_kvm_config c;
    rshare_kvm_config_init(&c, sizeof(c));
    c.roles = RSHARE_KVM_ROLE_HOST;
    c.targets = target_ids;
    c.target_count = 2;
    c.hotkeys = hotkeys;
    c.hotkey_count = 3;
    c.target_timeout_ms = opt_target_timeout_ms;
    ck_assert_int_eq(rshare_kvm_create(nodes[HOST], &c, &kvm[HOST]), 0);
}

static void make_target(size_t i)
{
    memset(&rec[i], 0, sizeof(rec[i]));
    struct rshare_kvm_config c;
    rshare_kvm_config_init(&c, sizeof(c));
    c.roles = RSHARE_KVM_ROLE_TARGET;
    c.host = 1;
    c.sink = sink;
    c.sink_data = &rec[i];
    c.release_timeout_ms = opt_release_timeout_ms;
    ck_assert_int_eq(rshare_kvm_create(nodes[i], &c, &kvm[i]), 0);
}

static void make_node(size_t i, bool cluster, uint32_t max_message)
{
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = (uint32_t)(i + 1);
    cfg.slot = (uint16_t)i;
    cfg.clock = rshare_loop_net_clock(net);
    cfg.log = (struct rshare_log){rs_test_quiet_log, NULL, RSHARE_LOG_ERROR};
    cfg.max_message_bytes = max_message;
    cfg.max_reassembly_bytes = max_message ? 2 * max_message : 0;
    if (cluster) {
        snprintf(dirs[i], sizeof(dirs[i]), "/tmp/rshare-kvm-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(dirs[i]));
        cfg.state_dir = dirs[i];
    }
    ck_assert_int_eq(rshare_node_create(&cfg, &nodes[i]), 0);
    ck_assert_int_ge(rshare_node_add_loop(nodes[i], net, (uint32_t)(i + 1)), 0);
    if (cluster) {
        static const uint32_t voters[] = {1, 2, 3};
        struct rshare_cluster_config cc;
        rshare_cluster_config_init(&cc, sizeof(cc));
        cc.manager_eligible = 1;
        cc.initial_voters = voters;
        cc.initial_voter_count = 3;
        ck_assert_int_eq(rshare_cluster_join(nodes[i], &cc), 0);
    } else {
        for (size_t j = 0; j < NODES; j++) {
            char addr[16];
            snprintf(addr, sizeof(addr), "%zu", j + 1);
            if (j != i)
                ck_assert_int_eq(rshare_node_add_peer(nodes[i], (uint32_t)(j + 1), 0, addr), 0);
        }
    }
}

static int targets_up(void *ud)
{
    (void)ud;
    return rshare_kvm_target_up(kvm[HOST], 2) && rshare_kvm_target_up(kvm[HOST], 3);
}

static void run_us(uint64_t us)
{
    int rc = rshare_loop_net_run(net, nodes, NODES, NULL, NULL, us);
    ck_assert(rc == 0 || rc == RSHARE_ETIMEDOUT);
}

static void start(bool cluster, uint32_t max_message)
{
    memset(rec, 0, sizeof(rec));
    memset(dirs, 0, sizeof(dirs));
    ck_assert_int_eq(rshare_loop_net_create(42, &net), 0);
    for (size_t i = 0; i < NODES; i++)
        make_node(i, cluster, max_message);
    make_host();
    make_target(1);
    make_target(2);
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, targets_up, NULL, 5000000u), 0);
    ck_assert_uint_eq(rshare_kvm_focus(kvm[HOST]), 2);
}

static void setup(void)
{
    opt_release_timeout_ms = opt_target_timeout_ms = 0;
    start(false, 0);
}

static void teardown(void)
{
    for (size_t i = 0; i < NODES; i++) {
        rshare_kvm_destroy(kvm[i]);
        kvm[i] = NULL;
    }
    for (size_t i = 0; i < NODES; i++) {
        rshare_node_destroy(nodes[i]);
        if (dirs[i][0]) {
            char cmd[320];
            snprintf(cmd, sizeof(cmd), "rm -rf %s", dirs[i]);
            ck_assert_int_eq(system(cmd), 0);
        }
    }
    rshare_loop_net_destroy(net);
}

/* One host event followed by SYN_REPORT. */
static void key(uint16_t code, int32_t value)
{
    ck_assert_int_eq(rshare_kvm_input(kvm[HOST], EV_KEY, code, value), 0);
    ck_assert_int_eq(rshare_kvm_input(kvm[HOST], EV_SYN, SYN_REPORT, 0), 0);
}

static void tap(uint16_t code)
{
    key(code, 1);
    key(code, 0);
}

static void stats(size_t i, struct rshare_kvm_stats *s)
{
    ck_assert_int_eq(rshare_kvm_stats(kvm[i], s, sizeof(*s)), 0);
}

START_TEST(test_typing_reaches_focus_only)
{
    key(KEY_LEFTSHIFT, 1);
    tap(KEY_A);
    key(KEY_A, 2); /* autorepeat stays on the host */
    key(KEY_LEFTSHIFT, 0);
    ck_assert_int_eq(rshare_kvm_input(kvm[HOST], EV_REL, REL_X, 5), 0);
    ck_assert_int_eq(rshare_kvm_input(kvm[HOST], EV_REL, REL_WHEEL_HI_RES, 120), 0);
    ck_assert_int_eq(rshare_kvm_input(kvm[HOST], EV_SYN, SYN_REPORT, 0), 0);
    run_us(100000);
    /* Golden sequence on node 2, nothing on node 3. */
    static const struct rshare_kvm_event golden[] = {
        {EV_KEY, KEY_LEFTSHIFT, 1}, {EV_SYN, SYN_REPORT, 0}, {EV_KEY, KEY_A, 1},
        {EV_SYN, SYN_REPORT, 0},    {EV_KEY, KEY_A, 0},      {EV_SYN, SYN_REPORT, 0},
        {EV_KEY, KEY_LEFTSHIFT, 0}, {EV_SYN, SYN_REPORT, 0}, {EV_REL, REL_X, 5},
        {EV_REL, REL_WHEEL_HI_RES, 120}, {EV_SYN, SYN_REPORT, 0},
    };
    ck_assert_uint_eq(rec[1].log_len, sizeof(golden) / sizeof(golden[0]));
    ck_assert_mem_eq(rec[1].log, golden, sizeof(golden));
    ck_assert_uint_eq(rec[2].events, 0);
    ck_assert_uint_eq(rshare_kvm_pressed_count(kvm[1]), 0);
    struct rshare_kvm_stats s;
    stats(HOST, &s);
    ck_assert_uint_eq(s.repeats_dropped, 1);
    ck_assert_uint_eq(s.frames_sent, 5);
    ck_assert_uint_gt(s.syncs_sent, 0);
    stats(1, &s);
    ck_assert_uint_eq(s.frames_received, 5);
    ck_assert_uint_eq(s.bad_messages, 0);
    ck_assert_uint_eq(s.frames_stale + s.frames_gap + s.sync_releases, 0);
    /* Bad input is refused and counted. */
    ck_assert_int_eq(rshare_kvm_input(kvm[HOST], EV_KEY, KEY_MAX + 1, 1), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_kvm_input(kvm[HOST], 0x1F, 0, 0), RSHARE_EINVAL);
    stats(HOST, &s);
    ck_assert_uint_eq(s.refused, 2);
}
END_TEST

START_TEST(test_switch_while_holding)
{
    key(KEY_LEFTCTRL, 1);
    key(KEY_B, 1);
    ck_assert_int_eq(rshare_kvm_input(kvm[HOST], EV_KEY, BTN_LEFT, 1), 0);
    ck_assert_int_eq(rshare_kvm_input(kvm[HOST], EV_SYN, SYN_REPORT, 0), 0);
    run_us(50000);
    ck_assert(rec[1].down[KEY_LEFTCTRL] && rec[1].down[KEY_B] && rec[1].down[BTN_LEFT]);
    ck_assert_int_eq(rshare_kvm_pressed(kvm[1], BTN_LEFT), 1);
    ck_assert_int_eq(rshare_kvm_focus_set(kvm[HOST], 3), 0);
    ck_assert_uint_eq(rshare_kvm_focus(kvm[HOST]), 3);
    run_us(50000);
    /* Everything node 2 saw pressed is released there, in one frame. */
    ck_assert_uint_eq(rec_down(1), 0);
    ck_assert_uint_eq(rshare_kvm_pressed_count(kvm[1]), 0);
    /* Keys still held on the host never reach node 3, nor their releases. */
    key(KEY_B, 0);
    key(KEY_LEFTCTRL, 0);
    ck_assert_int_eq(rshare_kvm_input(kvm[HOST], EV_KEY, BTN_LEFT, 0), 0);
    tap(KEY_C);
    run_us(50000);
    static const struct rshare_kvm_event golden[] = {
        {EV_KEY, KEY_C, 1}, {EV_SYN, SYN_REPORT, 0}, {EV_KEY, KEY_C, 0}, {EV_SYN, SYN_REPORT, 0},
    };
    ck_assert_uint_eq(rec[2].log_len, 4);
    ck_assert_mem_eq(rec[2].log, golden, sizeof(golden));
    ck_assert_uint_eq(rec_down(2), 0);
}
END_TEST

START_TEST(test_hotkey_never_leaks)
{
    key(KEY_LEFTCTRL, 1);
    key(KEY_LEFTALT, 1);
    key(KEY_3, 1);
    key(KEY_3, 0);
    key(KEY_LEFTALT, 0);
    key(KEY_LEFTCTRL, 0);
    run_us(50000);
    ck_assert_uint_eq(rshare_kvm_focus(kvm[HOST]), 3);
    ck_assert_uint_eq(rec[1].events, 0);
    ck_assert_uint_eq(rec[2].events, 0);
    /* Scroll Lock twice cycles back to node 2; a lone tap goes through once
     * its window ran out (the host's timer passes it on). */
    tap(KEY_SCROLLLOCK);
    tap(KEY_SCROLLLOCK);
    ck_assert_uint_eq(rshare_kvm_focus(kvm[HOST]), 2);
    tap(KEY_SCROLLLOCK);
    run_us(500000);
    ck_assert_int_ge(rec[1].presses[KEY_SCROLLLOCK], 1);
    ck_assert_uint_eq(rec[2].events, 0);
    ck_assert_uint_eq(rec_down(1), 0);
    struct rshare_kvm_stats s;
    stats(HOST, &s);
    ck_assert_uint_eq(s.hotkeys, 2);
    ck_assert_uint_eq(s.switches, 2);
    /* Locked focus refuses switching by API. */
    ck_assert_int_eq(rshare_kvm_lock(kvm[HOST], 1), 0);
    ck_assert_int_eq(rshare_kvm_focus_set(kvm[HOST], 3), RSHARE_EBUSY);
    ck_assert_int_eq(rshare_kvm_focus_next(kvm[HOST]), RSHARE_EBUSY);
    ck_assert_int_eq(rshare_kvm_lock(kvm[HOST], 0), 0);
    ck_assert_int_eq(rshare_kvm_focus_next(kvm[HOST]), 0);
    ck_assert_uint_eq(rshare_kvm_focus(kvm[HOST]), 3);
    ck_assert_int_eq(rshare_kvm_focus_set(kvm[HOST], 7), RSHARE_ENOENT);
}
END_TEST

/* The link to the focused target is cut while a key is down: the target
 * releases by itself once the host is silent, the host drops the target
 * once it is silent, and both come back together. */
START_TEST(test_link_cut_mid_press)
{
    key(KEY_D, 1);
    run_us(30000);
    ck_assert_int_eq(rshare_kvm_pressed(kvm[1], KEY_D), 1);
    ck_assert_int_eq(rshare_loop_net_partition(net, 1, 2, 1), 0);
    run_us(400000);
    ck_assert_int_eq(rshare_kvm_pressed(kvm[1], KEY_D), 1); /* not yet: 500 ms */
    run_us(200000);
    ck_assert_int_eq(rshare_kvm_pressed(kvm[1], KEY_D), 0);
    ck_assert_int_eq(rec[1].down[KEY_D], 0);
    ck_assert_int_eq(rshare_kvm_target_up(kvm[HOST], 2), 1);
    run_us(600000);
    ck_assert_int_eq(rshare_kvm_target_up(kvm[HOST], 2), 0); /* silent for 1 s */
    struct rshare_kvm_stats s;
    stats(1, &s);
    ck_assert_uint_eq(s.release_alls, 1);
    stats(HOST, &s);
    ck_assert_uint_eq(s.targets_lost, 1);
    /* The key released on the host now goes nowhere; after the heal a new
     * press reaches node 2 again. */
    key(KEY_D, 0);
    ck_assert_int_eq(rshare_loop_net_partition(net, 1, 2, 0), 0);
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, targets_up, NULL, 2000000u), 0);
    tap(KEY_E);
    run_us(50000);
    ck_assert_int_eq(rec[1].presses[KEY_E], 1);
    ck_assert_int_eq(rec[1].presses[KEY_D], 1);
    ck_assert_uint_eq(rec_down(1), 0);
}
END_TEST

/* A release lost on the way (a short cut) is repaired by the next sync. */
START_TEST(test_lost_release_repaired)
{
    key(KEY_F, 1);
    run_us(30000);
    ck_assert_int_eq(rshare_loop_net_partition(net, 1, 2, 1), 0);
    key(KEY_F, 0);
    run_us(10000);
    ck_assert_int_eq(rshare_loop_net_partition(net, 1, 2, 0), 0);
    ck_assert_int_eq(rshare_kvm_pressed(kvm[1], KEY_F), 1);
    run_us(60000);
    ck_assert_int_eq(rshare_kvm_pressed(kvm[1], KEY_F), 0);
    ck_assert_int_eq(rec[1].down[KEY_F], 0);
    struct rshare_kvm_stats s;
    stats(1, &s);
    ck_assert_uint_eq(s.sync_releases, 1);
    ck_assert_uint_eq(s.release_alls, 0);
    /* The next frame shows the gap it follows. */
    tap(KEY_G);
    run_us(30000);
    stats(1, &s);
    ck_assert_uint_eq(s.frames_gap, 0); /* the sync moved past the lost frame */
    ck_assert_int_eq(rec[1].presses[KEY_G], 1);
}
END_TEST

/* The host restarts while a key is down on a target whose own timeout is
 * long: the new host's first message carries a new session and the target
 * releases everything the old one pressed. */
START_TEST(test_host_restart)
{
    teardown();
    opt_release_timeout_ms = 60000;
    start(false, 0);
    key(KEY_H, 1);
    run_us(30000);
    ck_assert_int_eq(rshare_kvm_pressed(kvm[1], KEY_H), 1);
    ck_assert_int_eq(rshare_loop_net_partition(net, 1, 2, 1), 0);
    rshare_kvm_destroy(kvm[HOST]); /* its release-all is cut off */
    kvm[HOST] = NULL;
    run_us(10000);
    ck_assert_int_eq(rshare_loop_net_partition(net, 1, 2, 0), 0);
    ck_assert_int_eq(rshare_kvm_pressed(kvm[1], KEY_H), 1);
    make_host();
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, targets_up, NULL, 2000000u), 0);
    run_us(10000);
    ck_assert_int_eq(rshare_kvm_pressed(kvm[1], KEY_H), 0);
    ck_assert_int_eq(rec[1].down[KEY_H], 0);
    struct rshare_kvm_stats s;
    stats(1, &s);
    ck_assert_uint_eq(s.release_alls, 1);
}
END_TEST

/* A target restarts: its destroy releases locally, the host notices the
 * new session, forgets the old record and keeps routing to the new one. */
START_TEST(test_target_restart)
{
    key(KEY_J, 1);
    run_us(30000);
    rshare_kvm_destroy(kvm[1]);
    ck_assert_int_eq(rec[1].down[KEY_J], 0);
    make_target(1);
    run_us(30000);
    struct rshare_kvm_stats s;
    stats(HOST, &s);
    ck_assert_uint_eq(s.targets_lost, 1);
    /* J is still held on the host: suppressed on the new boot. */
    key(KEY_J, 0);
    tap(KEY_K);
    run_us(30000);
    ck_assert_int_eq(rec[1].presses[KEY_J], 0);
    ck_assert_int_eq(rec[1].presses[KEY_K], 1);
    ck_assert_uint_eq(rec_down(1), 0);
}
END_TEST

/* Destroying the host releases on every target it pressed keys on. */
START_TEST(test_host_destroy_releases)
{
    key(KEY_L, 1);
    run_us(30000);
    rshare_kvm_destroy(kvm[HOST]);
    kvm[HOST] = NULL;
    run_us(30000);
    ck_assert_int_eq(rshare_kvm_pressed(kvm[1], KEY_L), 0);
    ck_assert_int_eq(rec[1].down[KEY_L], 0);
    struct rshare_kvm_stats s;
    stats(1, &s);
    ck_assert_uint_eq(s.release_alls, 0); /* the host's own release, not a timeout */
}
END_TEST

/* In a joined cluster, the membership timeout marks the target down and
 * the host releases it, even though the KVM timeouts are far away; the
 * target releases because the host is down in its view too. */
START_TEST(test_member_down_releases)
{
    teardown();
    opt_release_timeout_ms = 60000;
    opt_target_timeout_ms = 60000;
    start(true, 0);
    run_us(5000000); /* let the cluster settle */
    key(KEY_M, 1);
    run_us(30000);
    ck_assert_int_eq(rshare_kvm_pressed(kvm[1], KEY_M), 1);
    ck_assert_int_eq(rshare_loop_net_partition(net, 1, 2, 1), 0);
    run_us(6000000);
    ck_assert_int_eq(rshare_kvm_target_up(kvm[HOST], 2), 0);
    ck_assert_int_eq(rshare_kvm_pressed(kvm[1], KEY_M), 0);
    ck_assert_int_eq(rec[1].down[KEY_M], 0);
    struct rshare_kvm_stats s;
    stats(HOST, &s);
    ck_assert_uint_eq(s.targets_lost, 1);
    stats(1, &s);
    ck_assert_uint_eq(s.release_alls, 1);
    key(KEY_M, 0);
    ck_assert_int_eq(rshare_loop_net_partition(net, 1, 2, 0), 0);
}
END_TEST

/* Random typing, clicking and switching over lossy, reordering links with
 * flapping partitions; at the end every key is let go on the host and the
 * network heals: no target may hold anything. */
START_TEST(test_random_no_stuck_keys)
{
    struct rshare_loop_link l;
    rshare_loop_link_init(&l, sizeof(l));
    l.loss_ppm = 50000;
    l.duplicate_ppm = 20000;
    l.reorder_ppm = 50000;
    l.reorder_us = 3000;
    l.jitter_us = 500;
    ck_assert_int_eq(rshare_loop_net_set_default(net, &l), 0);
    srand(7 + (unsigned)_i);
    static const uint16_t keys[] = {KEY_A, KEY_S, KEY_LEFTSHIFT, KEY_RIGHTCTRL, BTN_LEFT,
                                    BTN_RIGHT, KEY_CAPSLOCK, KEY_SPACE};
    int held[8] = {0};
    for (int step = 0; step < 3000; step++) {
        int k = rand() % 8;
        held[k] = !held[k];
        ck_assert_int_eq(rshare_kvm_input(kvm[HOST], EV_KEY, keys[k], held[k]), 0);
        ck_assert_int_eq(rshare_kvm_input(kvm[HOST], EV_SYN, SYN_REPORT, 0), 0);
        if (rand() % 50 == 0)
            rshare_kvm_focus_next(kvm[HOST]);
        if (rand() % 200 == 0)
            rshare_loop_net_partition(net, 1, 2 + (uint32_t)(rand() % 2), rand() % 2);
        run_us((uint64_t)(rand() % 20000));
    }
    for (int k = 0; k < 8; k++)
        if (held[k])
            key(keys[k], 0);
    rshare_loop_net_partition(net, 1, 2, 0);
    rshare_loop_net_partition(net, 1, 3, 0);
    run_us(2000000);
    for (size_t t = 1; t < NODES; t++) {
        ck_assert_uint_eq(rshare_kvm_pressed_count(kvm[t]), 0);
        ck_assert_uint_eq(rec_down(t), 0);
        ck_assert_uint_gt(rec[t].frames, 10);
    }
}
END_TEST

/* Input must not wait behind bulk data: an 8 MiB message crosses a link
 * of 4 MB/s (about two seconds) while keys are typed; every frame must
 * arrive within 2 ms.  A plain notification sent next to it shows the
 * queue it jumped. */
static uint64_t app_sent_us, app_arrived_us, bulk_done;

static void on_app(rshare_node *node, rshare_request *req, void *ud)
{
    (void)node;
    (void)ud;
    if (rshare_request_len(req) == 1)
        app_arrived_us = rshare_loop_net_now_us(net);
    else if (rshare_request_expects_reply(req))
        rshare_request_reply(req, "ok", 2);
}

static void on_bulk_reply(rshare_node *node, const struct rshare_reply *reply, void *ud)
{
    (void)node;
    (void)ud;
    ck_assert_int_eq(reply->status, 0);
    bulk_done = rshare_loop_net_now_us(net);
}

static int frame_arrived(void *ud)
{
    return rec[1].frames > *(size_t *)ud;
}

START_TEST(test_input_overtakes_bulk)
{
    teardown();
    start(false, 16u << 20);
    struct rshare_loop_link l;
    rshare_loop_link_init(&l, sizeof(l));
    l.bandwidth_bps = 4000000;
    ck_assert_int_eq(rshare_loop_net_set_link(net, 1, 2, &l), 0);
    ck_assert_int_eq(rshare_node_set_handler(nodes[1], 0x8001, on_app, NULL), 0);
    size_t size = 8u << 20;
    uint8_t *bulk = calloc(1, size);
    ck_assert_ptr_nonnull(bulk);
    bulk_done = 0;
    uint64_t t0 = rshare_loop_net_now_us(net);
    ck_assert_int_eq(rshare_node_call(nodes[HOST], 2, 0x8001, bulk, size, on_bulk_reply, NULL), 0);
    free(bulk);
    run_us(200000); /* the transfer's window is in the link's queue */
    app_sent_us = rshare_loop_net_now_us(net);
    app_arrived_us = 0;
    ck_assert_int_eq(rshare_node_notify(nodes[HOST], 2, 0x8001, "x", 1), 0);
    uint64_t worst = 0;
    for (int i = 0; i < 50; i++) {
        size_t before = rec[1].frames;
        uint64_t sent = rshare_loop_net_now_us(net);
        key(KEY_Q, i % 2 == 0);
        ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, frame_arrived, &before, 1000000u),
                         0);
        uint64_t took = rec[1].last_at_us - sent;
        if (took > worst)
            worst = took;
        run_us(20000);
    }
    ck_assert_uint_eq(bulk_done, 0); /* still in flight while we typed */
    ck_assert_uint_le(worst, 2000);
    ck_assert_uint_gt(app_arrived_us, 0);
    ck_assert_uint_gt(app_arrived_us - app_sent_us, 10 * worst);
    fprintf(stderr, "kvm over bulk: worst input latency %llu us, plain notification %llu us\n",
            (unsigned long long)worst, (unsigned long long)(app_arrived_us - app_sent_us));
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, NULL, NULL, 10000000u),
                     RSHARE_ETIMEDOUT);
    ck_assert_uint_gt(bulk_done, t0 + 2000000);
    ck_assert_uint_eq(rec_down(1), 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("kvm-sim");
    TCase *tc = tcase_create("kvm");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_typing_reaches_focus_only);
    tcase_add_test(tc, test_switch_while_holding);
    tcase_add_test(tc, test_hotkey_never_leaks);
    tcase_add_test(tc, test_link_cut_mid_press);
    tcase_add_test(tc, test_lost_release_repaired);
    tcase_add_test(tc, test_host_restart);
    tcase_add_test(tc, test_target_restart);
    tcase_add_test(tc, test_host_destroy_releases);
    tcase_add_test(tc, test_member_down_releases);
    tcase_add_loop_test(tc, test_random_no_stuck_keys, 0, 3);
    tcase_add_test(tc, test_input_overtakes_bulk);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return rs_test_run(suite());
}
