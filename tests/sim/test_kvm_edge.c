/* Simulation: the host's screen layout over the loop transport.  Host
 * node 1 drives node 2 (a 1920x1080 display at 0,0) and node 3 (3840x2160
 * at 1920,-540: to the right, centred).  Golden event sequences show what
 * each target receives when the pointer is pushed past a screen edge with
 * every guard (delay, double tap, dead corners, a modifier), when a guard
 * is not met, and the key-state invariants of an edge switch; absolute
 * coordinates crossing between the two sizes; relative motion scaled
 * without drift. */
#include "config.h"

#include "testutil.h"

#include <linux/input-event-codes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rshare/rshare.h"

#define NODES 3
#define HOST 0

static rshare_loop_net *net;
static rshare_node *nodes[NODES];
static rshare_kvm *kvm[NODES];

/* What a target's sink saw, in order. */
struct log {
    struct rshare_kvm_event ev[16384];
    size_t len;
};
static struct log logs[NODES];
static uint32_t focus_seen, focus_calls;

static void sink(void *user_data, uint32_t host, const struct rshare_kvm_event *events,
                 size_t count)
{
    struct log *l = user_data;
    ck_assert_uint_eq(host, 1);
    ck_assert_uint_eq(events[count - 1].type, EV_SYN);
    for (size_t i = 0; i < count && l->len < sizeof(l->ev) / sizeof(l->ev[0]); i++)
        l->ev[l->len++] = events[i];
}

static void on_focus(void *user_data, uint32_t target, int locked)
{
    (void)user_data;
    (void)locked;
    focus_seen = target;
    focus_calls++;
}

static void run_us(uint64_t us)
{
    int rc = rshare_loop_net_run(net, nodes, NODES, NULL, NULL, us);
    ck_assert(rc == 0 || rc == RSHARE_ETIMEDOUT);
}

static int targets_up(void *ud)
{
    (void)ud;
    return rshare_kvm_target_up(kvm[HOST], 2) && rshare_kvm_target_up(kvm[HOST], 3);
}

static void setup(void)
{
    static const uint32_t targets[] = {2, 3};
    memset(logs, 0, sizeof(logs));
    focus_seen = focus_calls = 0;
    ck_assert_int_eq(rshare_loop_net_create(7, &net), 0);
    for (uint32_t i = 0; i < NODES; i++) {
        struct rshare_node_config cfg;
        rshare_node_config_init(&cfg, sizeof(cfg));
        cfg.node_id = i + 1;
        cfg.slot = (uint16_t)i;
        cfg.clock = rshare_loop_net_clock(net);
        cfg.log = (struct rshare_log){rs_test_quiet_log, NULL, RSHARE_LOG_ERROR};
        ck_assert_int_eq(rshare_node_create(&cfg, &nodes[i]), 0);
        ck_assert_int_ge(rshare_node_add_loop(nodes[i], net, i + 1), 0);
        for (uint32_t j = 0; j < NODES; j++) {
            char addr[16];
            snprintf(addr, sizeof(addr), "%u", j + 1);
            if (j != i)
                ck_assert_int_eq(rshare_node_add_peer(nodes[i], j + 1, 0, addr), 0);
        }
        struct rshare_kvm_config c;
        rshare_kvm_config_init(&c, sizeof(c));
        if (i == HOST) {
            c.roles = RSHARE_KVM_ROLE_HOST;
            c.targets = targets;
            c.target_count = 2;
            c.on_focus = on_focus;
        } else {
            c.roles = RSHARE_KVM_ROLE_TARGET;
            c.host = 1;
            c.sink = sink;
            c.sink_data = &logs[i];
        }
        ck_assert_int_eq(rshare_kvm_create(nodes[i], &c, &kvm[i]), 0);
    }
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, targets_up, NULL, 5000000u), 0);
}

static void teardown(void)
{
    for (size_t i = 0; i < NODES; i++) {
        rshare_kvm_destroy(kvm[i]);
        kvm[i] = NULL;
    }
    for (size_t i = 0; i < NODES; i++)
        rshare_node_destroy(nodes[i]);
    rshare_loop_net_destroy(net);
}

/* The layout of the file comment, with the given guards. */
static struct rshare_kvm_layout_config layout(uint32_t delay_ms, uint32_t tap_ms,
                                              uint32_t corner_px, uint32_t mods)
{
    static const struct rshare_kvm_display displays[] = {
        {.node = 2, .x = 0, .y = 0, .width = 1920, .height = 1080},
        {.node = 3, .x = 1920, .y = -540, .width = 3840, .height = 2160},
    };
    struct rshare_kvm_layout_config l;
    rshare_kvm_layout_config_init(&l, sizeof(l));
    l.displays = displays;
    l.display_count = 2;
    l.host_width = 1920; /* node 2 moves 1:1, node 3 twice as far */
    l.host_height = 1080;
    l.edges = 1;
    l.delay_ms = delay_ms;
    l.double_tap_ms = tap_ms;
    l.corner_px = corner_px;
    l.mods = mods;
    return l;
}

static void use_layout(uint32_t delay_ms, uint32_t tap_ms, uint32_t corner_px, uint32_t mods)
{
    struct rshare_kvm_layout_config l = layout(delay_ms, tap_ms, corner_px, mods);
    ck_assert_int_eq(rshare_kvm_set_layout(kvm[HOST], &l), 0);
}

static void input(uint16_t type, uint16_t code, int32_t value)
{
    ck_assert_int_eq(rshare_kvm_input(kvm[HOST], type, code, value), 0);
}

/* One frame of relative motion (zero components left out). */
static void move(int32_t dx, int32_t dy)
{
    if (dx)
        input(EV_REL, REL_X, dx);
    if (dy)
        input(EV_REL, REL_Y, dy);
    input(EV_SYN, SYN_REPORT, 0);
}

static void key(uint16_t code, int32_t value)
{
    input(EV_KEY, code, value);
    input(EV_SYN, SYN_REPORT, 0);
}

static void pointer_is(uint32_t x, uint32_t y)
{
    uint32_t px, py;
    ck_assert_int_eq(rshare_kvm_pointer(kvm[HOST], &px, &py), 0);
    ck_assert_uint_eq(px, x);
    ck_assert_uint_eq(py, y);
}

static uint64_t edge_switches(void)
{
    struct rshare_kvm_stats s;
    ck_assert_int_eq(rshare_kvm_stats(kvm[HOST], &s, sizeof(s)), 0);
    return s.edge_switches;
}

#define GOLDEN(node, ...)                                                                       \
    do {                                                                                        \
        static const struct rshare_kvm_event g_[] = {__VA_ARGS__};                              \
        ck_assert_uint_eq(logs[node].len, sizeof(g_) / sizeof(g_[0]));                          \
        ck_assert_mem_eq(logs[node].ev, g_, sizeof(g_));                                        \
    } while (0)
#define SYN {EV_SYN, SYN_REPORT, 0}

/* No guard: the first push switches, the pointer enters node 3 at the same
 * point of the layout (as an absolute warp), motion there is doubled and
 * wheels are not; the way back works the same; a side with no display
 * beyond it is a wall. */
START_TEST(test_edge_plain)
{
    ck_assert_int_eq(rshare_kvm_pointer(kvm[HOST], &(uint32_t){0}, &(uint32_t){0}),
                     RSHARE_ENOENT); /* no layout yet */
    use_layout(0, 0, 0, 0);
    pointer_is(960, 540);
    move(0, -600); /* to the top: layout y = -1 above node 2 is empty */
    move(0, -5);
    pointer_is(960, 0);
    ck_assert_uint_eq(rshare_kvm_focus(kvm[HOST]), 2);
    move(0, 540);
    move(2000, 0); /* past the right side at y = 540 */
    ck_assert_uint_eq(rshare_kvm_focus(kvm[HOST]), 3);
    ck_assert_uint_eq(focus_seen, 3);
    pointer_is(0, 1080); /* layout (1920, 540) */
    move(10, 0);
    input(EV_REL, REL_WHEEL_HI_RES, -240);
    input(EV_REL, REL_WHEEL, -2);
    input(EV_SYN, SYN_REPORT, 0);
    pointer_is(20, 1080);
    move(-30, 0); /* doubled: past the left side, back to node 2 at y = 540 */
    ck_assert_uint_eq(rshare_kvm_focus(kvm[HOST]), 2);
    pointer_is(1919, 540);
    run_us(50000);
    GOLDEN(1, {EV_REL, REL_Y, -600}, SYN, {EV_REL, REL_Y, -5}, SYN, {EV_REL, REL_Y, 540}, SYN,
           {EV_REL, REL_X, 2000}, SYN, {EV_ABS, ABS_X, 32767}, {EV_ABS, ABS_Y, 16399}, SYN);
    GOLDEN(2, {EV_ABS, ABS_X, 0}, {EV_ABS, ABS_Y, 16391}, SYN, {EV_REL, REL_X, 20}, SYN,
           {EV_REL, REL_WHEEL_HI_RES, -240}, {EV_REL, REL_WHEEL, -2}, SYN,
           {EV_REL, REL_X, -60}, SYN);
    ck_assert_uint_eq(edge_switches(), 2);
    /* Locked focus makes every side a wall. */
    ck_assert_int_eq(rshare_kvm_lock(kvm[HOST], 1), 0);
    move(5, 0);
    ck_assert_uint_eq(rshare_kvm_focus(kvm[HOST]), 2);
    ck_assert_int_eq(rshare_kvm_lock(kvm[HOST], 0), 0);
    /* So does a held mouse button (dragging to the edge). */
    key(BTN_LEFT, 1);
    move(5, 0);
    ck_assert_uint_eq(rshare_kvm_focus(kvm[HOST]), 2);
    key(BTN_LEFT, 0);
    move(5, 0);
    ck_assert_uint_eq(rshare_kvm_focus(kvm[HOST]), 3);
    ck_assert_uint_eq(edge_switches(), 3);
}
END_TEST

/* Delay: the pointer must be pushed against the side for 100 ms; a pause
 * longer than the gap, or leaving the side, starts again. */
START_TEST(test_edge_delay)
{
    use_layout(100, 0, 0, 0);
    move(959, 0);
    pointer_is(1919, 540);
    for (int i = 0; i < 5; i++) { /* pushes at 0, 20, .. 80 ms */
        move(3, 0);
        ck_assert_uint_eq(rshare_kvm_focus(kvm[HOST]), 2);
        run_us(20000);
    }
    move(-1, 0); /* off the side */
    move(1, 0);  /* back on it: not a push yet */
    for (int i = 0; i < 5; i++) {
        move(3, 0);
        ck_assert_uint_eq(rshare_kvm_focus(kvm[HOST]), 2);
        run_us(20000);
    }
    run_us(300000); /* a pause: the press is over */
    move(3, 0);
    ck_assert_uint_eq(rshare_kvm_focus(kvm[HOST]), 2);
    for (int i = 0; i < 4; i++) {
        run_us(25000);
        move(3, 0);
        ck_assert_uint_eq(rshare_kvm_focus(kvm[HOST]), i < 3 ? 2 : 3);
    }
    ck_assert_uint_eq(edge_switches(), 1);
    pointer_is(0, 1080);
}
END_TEST

/* Double tap: hit the side, leave it, hit it again within 300 ms.  Two
 * hits without leaving, or too far apart, do not switch. */
START_TEST(test_edge_double_tap)
{
    use_layout(0, 300, 0, 0);
    move(970, 0); /* hit 1 */
    run_us(250000);
    move(4, 0); /* a second hit after a pause, but the pointer never left */
    ck_assert_uint_eq(rshare_kvm_focus(kvm[HOST]), 2);
    for (int i = 0; i < 5; i++) {
        run_us(30000);
        move(4, 0); /* keeps pushing: one long hit */
    }
    ck_assert_uint_eq(rshare_kvm_focus(kvm[HOST]), 2);
    move(-40, 0);
    run_us(400000);
    move(50, 0); /* left, but too late: this is a new first hit */
    ck_assert_uint_eq(rshare_kvm_focus(kvm[HOST]), 2);
    run_us(100000);
    move(-40, 0);
    run_us(100000);
    move(50, 0); /* within 300 ms of the last hit, having left */
    ck_assert_uint_eq(rshare_kvm_focus(kvm[HOST]), 3);
    ck_assert_uint_eq(edge_switches(), 1);
    run_us(50000);
    /* node 3 got nothing but the warp */
    GOLDEN(2, {EV_ABS, ABS_X, 0}, {EV_ABS, ABS_Y, 16391}, SYN);
}
END_TEST

/* Dead corners: within 50 pixels of either end of the side nothing
 * switches (node 3 is beside all of node 2's right side, so only the
 * guard stops it). */
START_TEST(test_edge_dead_corner)
{
    use_layout(0, 0, 50, 0);
    move(959, -530); /* (1919, 10) */
    pointer_is(1919, 10);
    move(5, 0);
    ck_assert_uint_eq(rshare_kvm_focus(kvm[HOST]), 2);
    move(0, 1060); /* (1919, 1070): the bottom corner */
    move(5, 0);
    ck_assert_uint_eq(rshare_kvm_focus(kvm[HOST]), 2);
    move(0, -1021); /* y = 49: still inside */
    move(5, 0);
    ck_assert_uint_eq(rshare_kvm_focus(kvm[HOST]), 2);
    move(0, 51); /* y = 100 */
    move(5, 0);
    ck_assert_uint_eq(rshare_kvm_focus(kvm[HOST]), 3);
    pointer_is(0, 640);
    run_us(50000);
    GOLDEN(2, {EV_ABS, ABS_X, 0}, {EV_ABS, ABS_Y, 9713}, SYN);
}
END_TEST

/* A required modifier (Ctrl): without it no switch.  With it (and A held
 * too), the switch releases both on node 2, in one frame, and node 3
 * never sees them, not even their releases. */
START_TEST(test_edge_modifier_keys_held)
{
    use_layout(0, 0, 0, RSHARE_KVM_MOD_CTRL);
    move(959, 0);
    move(5, 0);
    key(KEY_LEFTSHIFT, 1); /* another modifier is not enough */
    move(5, 0);
    key(KEY_LEFTSHIFT, 0);
    ck_assert_uint_eq(rshare_kvm_focus(kvm[HOST]), 2);
    key(KEY_RIGHTCTRL, 1);
    key(KEY_A, 1);
    move(5, 0);
    ck_assert_uint_eq(rshare_kvm_focus(kvm[HOST]), 3);
    run_us(50000);
    ck_assert_uint_eq(rshare_kvm_pressed_count(kvm[1]), 0);
    key(KEY_A, 0);
    key(KEY_RIGHTCTRL, 0);
    key(KEY_B, 1);
    key(KEY_B, 0);
    run_us(50000);
    GOLDEN(1, {EV_REL, REL_X, 959}, SYN, {EV_REL, REL_X, 5}, SYN, {EV_KEY, KEY_LEFTSHIFT, 1}, SYN,
           {EV_REL, REL_X, 5}, SYN, {EV_KEY, KEY_LEFTSHIFT, 0}, SYN, {EV_KEY, KEY_RIGHTCTRL, 1},
           SYN, {EV_KEY, KEY_A, 1}, SYN, {EV_REL, REL_X, 5}, SYN,
           /* release-all, ascending codes: KEY_A (30) before KEY_RIGHTCTRL (97) */
           {EV_KEY, KEY_A, 0}, {EV_KEY, KEY_RIGHTCTRL, 0}, SYN);
    GOLDEN(2, {EV_ABS, ABS_X, 0}, {EV_ABS, ABS_Y, 16391}, SYN, {EV_KEY, KEY_B, 1}, SYN,
           {EV_KEY, KEY_B, 0}, SYN);
    ck_assert_uint_eq(rshare_kvm_pressed_count(kvm[2]), 0);
}
END_TEST

/* Absolute coordinates: they travel unchanged (0..32767 is already "this
 * far across the display") and place the pointer, which crosses into the
 * larger display at the same point of the layout; node 3 below node 2's
 * bottom is a wall on the way back. */
START_TEST(test_edge_absolute)
{
    use_layout(0, 0, 0, 0);
    input(EV_ABS, ABS_X, 16384);
    input(EV_ABS, ABS_Y, 8192);
    input(EV_SYN, SYN_REPORT, 0);
    pointer_is(960, 270);
    input(EV_ABS, ABS_X, 32767); /* on the right border: the push */
    input(EV_SYN, SYN_REPORT, 0);
    ck_assert_uint_eq(rshare_kvm_focus(kvm[HOST]), 3);
    pointer_is(0, 810); /* layout y 270 = 540 + 270 on node 3 */
    input(EV_ABS, ABS_X, 0);
    input(EV_ABS, ABS_Y, 30339); /* y 1999: layout 1459, below node 2 */
    input(EV_SYN, SYN_REPORT, 0);
    pointer_is(0, 1999);
    ck_assert_uint_eq(rshare_kvm_focus(kvm[HOST]), 3);
    input(EV_ABS, ABS_Y, 15177); /* y 1000: layout 460 */
    input(EV_SYN, SYN_REPORT, 0);
    input(EV_ABS, ABS_X, 0);
    input(EV_SYN, SYN_REPORT, 0);
    ck_assert_uint_eq(rshare_kvm_focus(kvm[HOST]), 2);
    pointer_is(1919, 460);
    run_us(50000);
    GOLDEN(1, {EV_ABS, ABS_X, 16384}, {EV_ABS, ABS_Y, 8192}, SYN, {EV_ABS, ABS_X, 32767}, SYN,
           {EV_ABS, ABS_X, 32767}, {EV_ABS, ABS_Y, 13969}, SYN);
    GOLDEN(2, {EV_ABS, ABS_X, 0}, {EV_ABS, ABS_Y, 12293}, SYN, {EV_ABS, ABS_X, 0},
           {EV_ABS, ABS_Y, 30339}, SYN, {EV_ABS, ABS_Y, 15177}, SYN, {EV_ABS, ABS_X, 0}, SYN);
}
END_TEST

/* Relative scaling keeps the remainder: at a third of the speed 999 moves
 * of one unit arrive as exactly 333, not 0 (rounding each) or 999; random
 * small moves never drift by a unit from the exact scaled sum; wheels are
 * never scaled. */
START_TEST(test_relative_scaling_no_drift)
{
    static const struct rshare_kvm_display displays[] = {
        {.node = 2, .width = 1920, .height = 1080, .scale_milli = 333},
        {.node = 3, .x = 1920, .width = 1920, .height = 1080}, /* 1440x900 host: 4/3, 6/5 */
    };
    struct rshare_kvm_layout_config l;
    rshare_kvm_layout_config_init(&l, sizeof(l));
    l.displays = displays;
    l.display_count = 2;
    l.host_width = 1440;
    l.host_height = 900;
    ck_assert_int_eq(rshare_kvm_set_layout(kvm[HOST], &l), 0); /* edges off */
    for (int i = 0; i < 999; i++)
        move(1, 0);
    pointer_is(960 + 332, 540); /* 999 * 0.333 = 332.667 */
    input(EV_REL, REL_WHEEL, 1);
    input(EV_REL, REL_HWHEEL_HI_RES, 60);
    input(EV_SYN, SYN_REPORT, 0);
    run_us(100000);
    int64_t sum = 0;
    for (size_t i = 0; i < logs[1].len; i++) {
        const struct rshare_kvm_event *e = &logs[1].ev[i];
        if (e->type == EV_REL && e->code == REL_X) {
            ck_assert_int_eq(e->value, 1);
            sum += e->value;
        }
    }
    ck_assert_int_eq(sum, 332);
    ck_assert_int_eq(logs[1].ev[logs[1].len - 3].code, REL_WHEEL);
    ck_assert_int_eq(logs[1].ev[logs[1].len - 3].value, 1);
    ck_assert_int_eq(logs[1].ev[logs[1].len - 2].code, REL_HWHEEL_HI_RES);
    ck_assert_int_eq(logs[1].ev[logs[1].len - 2].value, 60);
    /* Node 3, factors derived from the sizes (4/3 and 6/5). */
    ck_assert_int_eq(rshare_kvm_focus_set(kvm[HOST], 3), 0);
    pointer_is(960, 540);
    srand(11);
    int64_t in_x = 0, in_y = 0;
    for (int i = 0; i < 3000; i++) {
        int32_t dx = rand() % 7 - 3, dy = rand() % 7 - 3;
        if (!dx && !dy)
            continue;
        move(dx, dy);
        in_x += dx;
        in_y += dy;
        if (i % 500 == 0)
            run_us(10000);
    }
    run_us(100000);
    int64_t out_x = 0, out_y = 0;
    for (size_t i = 0; i < logs[2].len; i++) {
        const struct rshare_kvm_event *e = &logs[2].ev[i];
        ck_assert(e->type == EV_SYN || e->type == EV_REL);
        if (e->type == EV_REL && e->code == REL_X)
            out_x += e->value;
        if (e->type == EV_REL && e->code == REL_Y)
            out_y += e->value;
    }
    ck_assert_int_lt(llabs(out_x * 3 - in_x * 4), 3);
    ck_assert_int_lt(llabs(out_y * 5 - in_y * 6), 5);
    ck_assert_int_ne(in_x, 0);
}
END_TEST

/* Links: a display whose link is down is a wall; the pointer is still
 * followed on a focused display whose link is down, and the user leaves
 * it by the edge to a target that is up. */
START_TEST(test_edge_links)
{
    use_layout(0, 0, 0, 0);
    ck_assert_int_eq(rshare_loop_net_partition(net, 1, 3, 1), 0);
    run_us(1500000);
    ck_assert_int_eq(rshare_kvm_target_up(kvm[HOST], 3), 0);
    move(2000, 0);
    ck_assert_uint_eq(rshare_kvm_focus(kvm[HOST]), 2);
    ck_assert_int_eq(rshare_loop_net_partition(net, 1, 3, 0), 0);
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, targets_up, NULL, 2000000u), 0);
    ck_assert_int_eq(rshare_loop_net_partition(net, 1, 2, 1), 0);
    run_us(1500000);
    ck_assert_int_eq(rshare_kvm_target_up(kvm[HOST], 2), 0);
    size_t before = logs[1].len;
    move(-100, 0);
    pointer_is(1819, 540);
    move(200, 0);
    ck_assert_uint_eq(rshare_kvm_focus(kvm[HOST]), 3);
    ck_assert_int_eq(rshare_loop_net_partition(net, 1, 2, 0), 0);
    run_us(50000);
    ck_assert_uint_eq(logs[1].len, before); /* node 2 got none of it */
    GOLDEN(2, {EV_ABS, ABS_X, 0}, {EV_ABS, ABS_Y, 16391}, SYN);
}
END_TEST

/* A display that takes the pointer as absolute positions: relative
 * motion (scaled) leaves as the position the host follows, nothing when
 * it did not move; wheels stay relative. */
START_TEST(test_absolute_display)
{
    static const struct rshare_kvm_display displays[] = {
        {.node = 2, .width = 1920, .height = 1080},
        {.node = 3, .x = 1920, .y = -540, .width = 3840, .height = 2160,
         .flags = RSHARE_KVM_DISPLAY_ABSOLUTE},
    };
    struct rshare_kvm_layout_config l = layout(0, 0, 0, 0);
    l.displays = displays;
    ck_assert_int_eq(rshare_kvm_set_layout(kvm[HOST], &l), 0);
    move(1000, 0);
    ck_assert_uint_eq(rshare_kvm_focus(kvm[HOST]), 3);
    move(10, 0);     /* x 20 */
    move(0, -5);     /* y 1070 */
    move(0, -5000);  /* y 0 */
    move(0, -10);    /* still 0, and above is a wall: nothing */
    input(EV_REL, REL_WHEEL_HI_RES, 120);
    input(EV_SYN, SYN_REPORT, 0);
    pointer_is(20, 0);
    run_us(50000);
    GOLDEN(2, {EV_ABS, ABS_X, 0}, {EV_ABS, ABS_Y, 16391}, SYN, {EV_ABS, ABS_X, 171}, SYN,
           {EV_ABS, ABS_Y, 16239}, SYN, {EV_ABS, ABS_Y, 0}, SYN, {EV_REL, REL_WHEEL_HI_RES, 120},
           SYN);
}
END_TEST

/* A bad layout is refused with a clear error and the previous one stays;
 * a target handle has no layout. */
START_TEST(test_layout_refused)
{
    use_layout(0, 0, 0, 0);
    struct rshare_kvm_layout_config l = layout(0, 0, 0, 0);
    struct rshare_kvm_display d[2] = {
        {.node = 2, .width = 1920, .height = 1080},
        {.node = 3, .x = 1900, .width = 1920, .height = 1080}, /* overlaps */
    };
    l.displays = d;
    ck_assert_int_eq(rshare_kvm_set_layout(kvm[HOST], &l), RSHARE_EINVAL);
    d[1].x = 1920;
    d[1].node = 7; /* not a target */
    ck_assert_int_eq(rshare_kvm_set_layout(kvm[HOST], &l), RSHARE_EINVAL);
    d[1].node = 2; /* twice */
    ck_assert_int_eq(rshare_kvm_set_layout(kvm[HOST], &l), RSHARE_EINVAL);
    d[1].node = 3;
    d[1].height = 0;
    ck_assert_int_eq(rshare_kvm_set_layout(kvm[HOST], &l), RSHARE_EINVAL);
    d[1].height = 40000;
    ck_assert_int_eq(rshare_kvm_set_layout(kvm[HOST], &l), RSHARE_EINVAL);
    d[1].height = 1080;
    d[1].x = 1 << 30;
    ck_assert_int_eq(rshare_kvm_set_layout(kvm[HOST], &l), RSHARE_EINVAL);
    d[1].x = 1920;
    d[1].flags = 0x2; /* unknown flag */
    ck_assert_int_eq(rshare_kvm_set_layout(kvm[HOST], &l), RSHARE_EINVAL);
    d[1].flags = RSHARE_KVM_DISPLAY_ABSOLUTE;
    d[1].reserved_ = 1;
    ck_assert_int_eq(rshare_kvm_set_layout(kvm[HOST], &l), RSHARE_EINVAL);
    d[1].flags = d[1].reserved_ = 0;
    l.mods = 0x10;
    ck_assert_int_eq(rshare_kvm_set_layout(kvm[HOST], &l), RSHARE_EINVAL);
    l.mods = 0;
    l.struct_size = 8;
    ck_assert_int_eq(rshare_kvm_set_layout(kvm[HOST], &l), RSHARE_EVERSION);
    ck_assert_int_eq(rshare_kvm_set_layout(kvm[1], NULL), RSHARE_EINVAL);
    /* The first layout is still there. */
    pointer_is(960, 540);
    move(1000, 0);
    ck_assert_uint_eq(rshare_kvm_focus(kvm[HOST]), 3);
    pointer_is(0, 1080);
    /* NULL removes it: no pointer, motion unscaled. */
    ck_assert_int_eq(rshare_kvm_set_layout(kvm[HOST], NULL), 0);
    ck_assert_int_eq(rshare_kvm_pointer(kvm[HOST], &(uint32_t){0}, &(uint32_t){0}),
                     RSHARE_ENOENT);
    move(-5000, 0);
    ck_assert_uint_eq(rshare_kvm_focus(kvm[HOST]), 3);
    run_us(50000);
    GOLDEN(2, {EV_ABS, ABS_X, 0}, {EV_ABS, ABS_Y, 16391}, SYN, {EV_REL, REL_X, -5000}, SYN);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("kvm-edge");
    TCase *tc = tcase_create("edge");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_edge_plain);
    tcase_add_test(tc, test_edge_delay);
    tcase_add_test(tc, test_edge_double_tap);
    tcase_add_test(tc, test_edge_dead_corner);
    tcase_add_test(tc, test_edge_modifier_keys_held);
    tcase_add_test(tc, test_edge_absolute);
    tcase_add_test(tc, test_relative_scaling_no_drift);
    tcase_add_test(tc, test_edge_links);
    tcase_add_test(tc, test_absolute_display);
    tcase_add_test(tc, test_layout_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return rs_test_run(suite());
}
