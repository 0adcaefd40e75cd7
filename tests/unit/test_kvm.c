/* Unit tests: KVM input routing (lib/kvm).  Golden sequences for each
 * stuck-key scenario of doc/KVM.md, then a randomized property test: a fake
 * target replays everything sent to it, and after every step its idea of
 * what is pressed must equal the router's record. */
#include "config.h"

#include "testutil.h"

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kvm/hotkey.h"
#include "kvm/keystate.h"
#include "kvm/pointer.h"
#include "kvm/router.h"
#include "rshare/error.h"

#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond))                                                                               \
            ck_abort_msg("line %d: %s", __LINE__, #cond);                                          \
    } while (0)

#define LOG_MAX 4096

/* One event as a target received it. */
struct sent {
    uint32_t target;
    uint16_t type, code;
    int32_t value;
};

/* The fake targets: a log of everything sent, and each target's own view. */
struct fake {
    struct sent log[LOG_MAX];
    size_t count;
    struct rs_kvm_keyset pressed[RS_KVM_MAX_TARGETS];
    uint8_t leds[RS_KVM_MAX_TARGETS];
    struct rs_kvm_keyset forbidden; /* hotkey keys: must never arrive */
    bool bad;                       /* autorepeat, forbidden key or a frame without SYN */
};

static void fake_send(void *user_data, uint32_t target, const struct rs_kvm_event *ev, size_t n)
{
    struct fake *f = user_data;
    if (n == 0 || ev[n - 1].type != EV_SYN || ev[n - 1].code != SYN_REPORT)
        f->bad = true;
    for (size_t i = 0; i < n; i++) {
        if (f->count < LOG_MAX)
            f->log[f->count++] = (struct sent){target, ev[i].type, ev[i].code, ev[i].value};
        if (ev[i].type != EV_KEY)
            continue;
        if (ev[i].value == 2 || rs_kvm_keyset_has(&f->forbidden, ev[i].code))
            f->bad = true;
        if (ev[i].value == 1 && ev[i].code == KEY_CAPSLOCK)
            f->leds[target] ^= RS_KVM_LED_CAPS;
        if (ev[i].value == 1 && ev[i].code == KEY_NUMLOCK)
            f->leds[target] ^= RS_KVM_LED_NUM;
        if (ev[i].value == 1 && ev[i].code == KEY_SCROLLLOCK)
            f->leds[target] ^= RS_KVM_LED_SCROLL;
        rs_kvm_keyset_put(&f->pressed[target], ev[i].code, ev[i].value == 1);
    }
}

#define K(code, value) {0, EV_KEY, code, value}
#define SYN {0, EV_SYN, SYN_REPORT, 0}
#define TK(t, code, value) {t, EV_KEY, code, value}
#define TSYN(t) {t, EV_SYN, SYN_REPORT, 0}

static const struct rs_kvm_chord chords[] = {
    {RS_KVM_CHORD_DOUBLE_TAP, 0, KEY_SCROLLLOCK, 500000, RS_KVM_ACTION_NEXT, 0},
    {RS_KVM_CHORD_COMBO, RS_KVM_MOD_CTRL | RS_KVM_MOD_ALT, KEY_1, 1000000, RS_KVM_ACTION_JUMP, 0},
    {RS_KVM_CHORD_COMBO, RS_KVM_MOD_CTRL | RS_KVM_MOD_ALT, KEY_2, 1000000, RS_KVM_ACTION_JUMP, 1},
    {RS_KVM_CHORD_COMBO, RS_KVM_MOD_CTRL | RS_KVM_MOD_ALT, KEY_3, 1000000, RS_KVM_ACTION_JUMP, 2},
    {RS_KVM_CHORD_COMBO, RS_KVM_MOD_CTRL | RS_KVM_MOD_ALT, KEY_L, 1000000,
     RS_KVM_ACTION_LOCK_TOGGLE, 0},
};

/* A router with three targets, all up, focus on 0, plus its fake. */
static struct rs_kvm_router *setup(struct fake **fp)
{
    struct fake *f = calloc(1, sizeof(*f));
    struct rs_kvm_router *r = calloc(1, sizeof(*r));
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(r);
    struct rs_kvm_router_config cfg = {3, chords, sizeof(chords) / sizeof(chords[0]), fake_send,
                                       f};
    ck_assert_int_eq(rs_kvm_router_init(r, &cfg), 0);
    for (uint32_t t = 0; t < 3; t++)
        rs_kvm_router_target_up(r, t);
    *fp = f;
    return r;
}

/* Feeds host events (SYN included) 1 ms apart from `*now`. */
static void feed(struct rs_kvm_router *r, const struct sent *in, size_t n, uint64_t *now)
{
    for (size_t i = 0; i < n; i++) {
        *now += 1000;
        ck_assert_int_eq(rs_kvm_router_feed(r, in[i].type, in[i].code, in[i].value, *now), 0);
    }
}

static void expect(const struct fake *f, const struct sent *want, size_t n)
{
    for (size_t i = 0; i < n && i < f->count; i++) {
        const struct sent *g = &f->log[i];
        ck_assert_msg(g->target == want[i].target && g->type == want[i].type &&
                          g->code == want[i].code && g->value == want[i].value,
                      "event %zu: got t%u %u/%u/%d, want t%u %u/%u/%d", i, g->target, g->type,
                      g->code, g->value, want[i].target, want[i].type, want[i].code,
                      want[i].value);
    }
    ck_assert_uint_eq(f->count, n);
    ck_assert(!f->bad);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* --- key state --------------------------------------------------------------- */

START_TEST(test_keystate_rules)
{
    struct rs_kvm_keystate ks;
    rs_kvm_keystate_init(&ks);
    /* code, value, target, forwarded? */
    static const struct {
        uint16_t code;
        int32_t value;
        uint32_t target;
        bool fwd;
    } steps[] = {
        {KEY_A, 1, 0, true},     {KEY_A, 2, 0, false},         {KEY_A, 1, 0, false},
        {KEY_A, 0, 0, true},     {KEY_A, 0, 0, false},         {KEY_B, 1, 0, true},
        {BTN_LEFT, 1, 0, true},  {KEY_B, 0, 1, false},         /* focus moved: suppressed */
        {KEY_C, 1, RS_KVM_NO_TARGET, false},                   {KEY_C, 0, 0, false},
        {KEY_MAX + 1, 1, 0, false}, {KEY_D, 1, RS_KVM_MAX_TARGETS, false},
    };
    for (size_t i = 0; i < N(steps); i++)
        ck_assert_msg(rs_kvm_keystate_key(&ks, steps[i].target, steps[i].code, steps[i].value) ==
                          steps[i].fwd,
                      "step %zu", i);
    /* KEY_B's release went to target 1, which never saw it: target 0 keeps
     * it until its release-all (the router's job at the switch). */
    ck_assert_uint_eq(rs_kvm_keystate_count(&ks, 0), 2);
    ck_assert(rs_kvm_keystate_pressed(&ks, 0, KEY_B));
    ck_assert(rs_kvm_keystate_suppressed(&ks, 1, BTN_LEFT));
    ck_assert(rs_kvm_keystate_suppressed(&ks, 1, KEY_D));
}
END_TEST

START_TEST(test_keystate_release_all)
{
    struct rs_kvm_keystate ks;
    rs_kvm_keystate_init(&ks);
    static const uint16_t keys[] = {BTN_RIGHT, KEY_LEFTSHIFT, KEY_Z, KEY_MAX, 0};
    for (size_t i = 0; i < N(keys); i++)
        ck_assert(rs_kvm_keystate_key(&ks, 2, keys[i], 1));
    struct rs_kvm_event out[RS_KVM_KEY_COUNT];
    size_t n = rs_kvm_keystate_release_all(&ks, 2, out);
    static const uint16_t sorted[] = {0, KEY_LEFTSHIFT, KEY_Z, BTN_RIGHT, KEY_MAX};
    ck_assert_uint_eq(n, N(sorted));
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_eq(out[i].type, EV_KEY);
        ck_assert_uint_eq(out[i].code, sorted[i]);
        ck_assert_int_eq(out[i].value, 0);
    }
    ck_assert_uint_eq(rs_kvm_keystate_release_all(&ks, 2, out), 0); /* idempotent */
    /* Still held on the host: suppressed until released, release not sent. */
    ck_assert(rs_kvm_keystate_suppressed(&ks, 2, KEY_Z));
    ck_assert(!rs_kvm_keystate_key(&ks, 2, KEY_Z, 1));
    ck_assert(!rs_kvm_keystate_key(&ks, 2, KEY_Z, 0));
    ck_assert(rs_kvm_keystate_key(&ks, 2, KEY_Z, 1)); /* a new press goes */
    /* Every code at once: the bound. */
    for (uint16_t c = 0; c <= KEY_MAX; c++)
        rs_kvm_keystate_key(&ks, 0, c, 1);
    /* Five are still held on the host since their release-all: suppressed. */
    ck_assert_uint_eq(rs_kvm_keystate_count(&ks, 0), RS_KVM_KEY_COUNT - 5u);
    ck_assert_uint_eq(rs_kvm_keystate_release_all(&ks, 0, out), RS_KVM_KEY_COUNT - 5u);
}
END_TEST

/* --- hotkeys -------------------------------------------------------------------- */

START_TEST(test_hotkey_init_refuses)
{
    struct rs_kvm_hotkey hk;
    static const struct rs_kvm_chord bad[] = {
        {RS_KVM_CHORD_COMBO, RS_KVM_MOD_CTRL, KEY_LEFTALT, 1000, RS_KVM_ACTION_NEXT, 0},
        {RS_KVM_CHORD_COMBO, 0x10, KEY_A, 1000, RS_KVM_ACTION_NEXT, 0},
        {RS_KVM_CHORD_DOUBLE_TAP, 0, KEY_A, 0, RS_KVM_ACTION_NEXT, 0},
        {RS_KVM_CHORD_DOUBLE_TAP, 0, KEY_MAX + 1, 10, RS_KVM_ACTION_NEXT, 0},
        {RS_KVM_CHORD_COMBO, 0, KEY_A, 10, RS_KVM_ACTION_NONE, 0},
        {RS_KVM_CHORD_COMBO, 0, KEY_A, 10, RS_KVM_ACTION_JUMP, RS_KVM_MAX_TARGETS},
        {(enum rs_kvm_chord_kind)9, 0, KEY_A, 10, RS_KVM_ACTION_NEXT, 0},
    };
    for (size_t i = 0; i < N(bad); i++)
        ck_assert_msg(rs_kvm_hotkey_init(&hk, &bad[i], 1) == RSHARE_EINVAL, "chord %zu", i);
    ck_assert_int_eq(rs_kvm_hotkey_init(&hk, chords, N(chords)), 0);
}
END_TEST

/* Golden sequences through the router: host input, what the targets get. */
struct golden {
    const char *name;
    struct sent in[16];
    size_t in_count;
    struct sent want[16];
    size_t want_count;
    uint32_t focus_after;
};

static const struct golden goldens[] = {
    {"ctrl+alt+2 jumps; its keys and releases never leak",
     {K(KEY_LEFTCTRL, 1), SYN, K(KEY_LEFTALT, 1), SYN, K(KEY_2, 1), SYN, K(KEY_2, 0), SYN,
      K(KEY_LEFTALT, 0), SYN, K(KEY_LEFTCTRL, 0), SYN, K(KEY_A, 1), SYN},
     14,
     {TK(1, KEY_A, 1), TSYN(1)},
     2,
     1},
    {"ctrl+c is passed on in order",
     {K(KEY_LEFTCTRL, 1), SYN, K(KEY_C, 1), SYN, K(KEY_C, 0), SYN, K(KEY_LEFTCTRL, 0), SYN},
     8,
     {TK(0, KEY_LEFTCTRL, 1), TK(0, KEY_C, 1), TSYN(0), TK(0, KEY_C, 0), TSYN(0),
      TK(0, KEY_LEFTCTRL, 0), TSYN(0)},
     7,
     0},
    {"ctrl+click keeps ctrl before the click",
     {K(KEY_RIGHTCTRL, 1), SYN, K(BTN_LEFT, 1), SYN, K(BTN_LEFT, 0), K(KEY_RIGHTCTRL, 0), SYN},
     7,
     {TK(0, KEY_RIGHTCTRL, 1), TK(0, BTN_LEFT, 1), TSYN(0), TK(0, BTN_LEFT, 0),
      TK(0, KEY_RIGHTCTRL, 0), TSYN(0)},
     6,
     0},
    {"ctrl+alt+shift+1 is not ctrl+alt+1",
     {K(KEY_LEFTCTRL, 1), K(KEY_LEFTALT, 1), K(KEY_LEFTSHIFT, 1), K(KEY_1, 1), SYN},
     5,
     {TK(0, KEY_LEFTCTRL, 1), TK(0, KEY_LEFTALT, 1), TK(0, KEY_LEFTSHIFT, 1), TK(0, KEY_1, 1),
      TSYN(0)},
     5,
     0},
    {"scroll lock twice: next target, no scroll lock anywhere",
     {K(KEY_SCROLLLOCK, 1), SYN, K(KEY_SCROLLLOCK, 0), SYN, K(KEY_SCROLLLOCK, 1), SYN,
      K(KEY_SCROLLLOCK, 2), SYN, K(KEY_SCROLLLOCK, 0), SYN},
     10,
     {{0}},
     0,
     1},
    {"held keys and buttons: released on the old target, suppressed on the new",
     {K(KEY_W, 1), K(BTN_LEFT, 1), SYN, K(KEY_LEFTCTRL, 1), K(KEY_LEFTALT, 1), K(KEY_3, 1), SYN,
      K(KEY_W, 2), SYN, K(KEY_W, 0), K(BTN_LEFT, 0), SYN, K(KEY_W, 1), SYN},
     14,
     {TK(0, KEY_W, 1), TK(0, BTN_LEFT, 1), TSYN(0), TK(0, KEY_W, 0), TK(0, BTN_LEFT, 0), TSYN(0),
      TK(2, KEY_W, 1), TSYN(2)},
     8,
     2},
    {"autorepeat never travels",
     {K(KEY_A, 1), SYN, K(KEY_A, 2), SYN, K(KEY_A, 2), SYN, K(KEY_A, 0), SYN},
     8,
     {TK(0, KEY_A, 1), TSYN(0), TK(0, KEY_A, 0), TSYN(0)},
     4,
     0},
    {"mouse motion and wheel go to the focus",
     {{0, EV_REL, REL_X, 5}, {0, EV_REL, REL_WHEEL_HI_RES, 120}, {0, EV_MSC, MSC_SCAN, 4}, SYN},
     4,
     {{0, EV_REL, REL_X, 5}, {0, EV_REL, REL_WHEEL_HI_RES, 120}, TSYN(0)},
     3,
     0},
};

START_TEST(test_router_golden)
{
    const struct golden *g = &goldens[_i];
    struct fake *f;
    struct rs_kvm_router *r = setup(&f);
    uint64_t now = 0;
    feed(r, g->in, g->in_count, &now);
    rs_kvm_router_tick(r, now + 10000000);
    ck_assert_msg(f->count == g->want_count, "%s: %zu events", g->name, f->count);
    expect(f, g->want, g->want_count);
    ck_assert_uint_eq(rs_kvm_router_focus(r), g->focus_after);
    free(r);
    free(f);
}
END_TEST

START_TEST(test_router_single_scroll_lock_passes_after_window)
{
    struct fake *f;
    struct rs_kvm_router *r = setup(&f);
    uint64_t now = 0;
    static const struct sent in[] = {K(KEY_SCROLLLOCK, 1), SYN, K(KEY_SCROLLLOCK, 0), SYN};
    feed(r, in, N(in), &now);
    ck_assert_uint_eq(f->count, 0); /* held back: might be a double tap */
    rs_kvm_router_tick(r, now + 100000);
    ck_assert_uint_eq(f->count, 0);
    rs_kvm_router_tick(r, now + 600000);
    static const struct sent want[] = {TK(0, KEY_SCROLLLOCK, 1), TK(0, KEY_SCROLLLOCK, 0),
                                       TSYN(0)};
    expect(f, want, N(want));
    ck_assert_uint_eq(rs_kvm_router_host_leds(r), RS_KVM_LED_SCROLL);
    /* Two taps too far apart are two taps. */
    f->count = 0;
    static const struct sent tap[] = {K(KEY_SCROLLLOCK, 1), K(KEY_SCROLLLOCK, 0), SYN};
    feed(r, tap, N(tap), &now);
    now += 700000;
    feed(r, tap, N(tap), &now);
    rs_kvm_router_tick(r, now + 700000);
    ck_assert_uint_eq(rs_kvm_router_focus(r), 0);
    ck_assert_uint_eq(f->count, 6);
    free(r);
    free(f);
}
END_TEST

START_TEST(test_router_link_loss_and_restart)
{
    struct fake *f;
    struct rs_kvm_router *r = setup(&f);
    uint64_t now = 0;
    static const struct sent press[] = {K(KEY_LEFTSHIFT, 1), K(KEY_A, 1)};
    feed(r, press, N(press), &now);
    rs_kvm_router_target_lost(r, 0); /* cut in the middle of a frame */
    rs_kvm_router_target_lost(r, 0); /* idempotent */
    static const struct sent rest[] = {SYN, K(KEY_A, 0), K(KEY_B, 1), SYN};
    feed(r, rest, N(rest), &now);
    rs_kvm_router_target_up(r, 0);
    static const struct sent after[] = {K(KEY_LEFTSHIFT, 0), K(KEY_B, 0), K(KEY_C, 1), SYN};
    feed(r, after, N(after), &now);
    rs_kvm_router_target_up(r, 0); /* peer restart while C is down */
    static const struct sent want[] = {
        TK(0, KEY_LEFTSHIFT, 1), TK(0, KEY_A, 1), TSYN(0),           /* the partial frame */
        TK(0, KEY_A, 0),         TK(0, KEY_LEFTSHIFT, 0), TSYN(0),   /* release-all */
        TK(0, KEY_C, 1),         TSYN(0),                            /* B was suppressed */
        TK(0, KEY_C, 0),         TSYN(0),                            /* restart */
    };
    expect(f, want, N(want));
    free(r);
    free(f);
}
END_TEST

START_TEST(test_router_lock_keys_follow_host)
{
    struct fake *f;
    struct rs_kvm_router *r = setup(&f);
    uint64_t now = 0;
    rs_kvm_router_set_host_leds(r, RS_KVM_LED_NUM);
    rs_kvm_router_target_leds(r, 0, 0); /* focused, first report: brought in line */
    rs_kvm_router_target_leds(r, 1, RS_KVM_LED_CAPS);
    static const struct sent caps[] = {K(KEY_CAPSLOCK, 1), K(KEY_CAPSLOCK, 0), SYN};
    feed(r, caps, N(caps), &now);
    ck_assert_uint_eq(rs_kvm_router_host_leds(r), RS_KVM_LED_NUM | RS_KVM_LED_CAPS);
    ck_assert_int_eq(rs_kvm_router_set_focus(r, 1), 0);
    ck_assert_int_eq(rs_kvm_router_set_focus(r, 1), 0); /* no-op */
    static const struct sent want[] = {
        TK(0, KEY_NUMLOCK, 1),  TSYN(0),  TK(0, KEY_NUMLOCK, 0),  TSYN(0),
        TK(0, KEY_CAPSLOCK, 1), TK(0, KEY_CAPSLOCK, 0), TSYN(0),
        TK(1, KEY_NUMLOCK, 1),  TSYN(1),  TK(1, KEY_NUMLOCK, 0),  TSYN(1),
    };
    expect(f, want, N(want));
    /* A program on the focused node turns Caps off: the host stays
     * authoritative and brings it back on the next entry. */
    rs_kvm_router_target_leds(r, 1, RS_KVM_LED_NUM);
    ck_assert_uint_eq(rs_kvm_router_host_leds(r), RS_KVM_LED_NUM | RS_KVM_LED_CAPS);
    ck_assert_uint_eq(f->count, N(want));
    free(r);
    free(f);
}
END_TEST

START_TEST(test_router_lock_and_api)
{
    struct fake *f;
    struct rs_kvm_router *r = setup(&f);
    uint64_t now = 0;
    static const struct sent lock[] = {K(KEY_LEFTCTRL, 1), K(KEY_LEFTALT, 1), K(KEY_L, 1),
                                       K(KEY_L, 0), SYN, K(KEY_2, 1), K(KEY_2, 0), SYN,
                                       K(KEY_LEFTALT, 0), K(KEY_LEFTCTRL, 0), SYN};
    feed(r, lock, N(lock), &now);
    ck_assert(rs_kvm_router_locked(r));
    ck_assert_uint_eq(rs_kvm_router_focus(r), 0); /* the jump was ignored, and swallowed */
    ck_assert_uint_eq(f->count, 0);
    ck_assert_int_eq(rs_kvm_router_set_focus(r, 2), RSHARE_EBUSY);
    rs_kvm_router_set_locked(r, false);
    ck_assert_int_eq(rs_kvm_router_set_focus(r, 3), RSHARE_EINVAL);
    /* An API switch abandons a chord in progress: its key goes to the old
     * focus and is released there. */
    static const struct sent ctrl[] = {K(KEY_LEFTCTRL, 1), SYN};
    feed(r, ctrl, N(ctrl), &now);
    ck_assert_int_eq(rs_kvm_router_set_focus(r, 2), 0);
    static const struct sent want[] = {TK(0, KEY_LEFTCTRL, 1), TSYN(0), TK(0, KEY_LEFTCTRL, 0),
                                       TSYN(0)};
    expect(f, want, N(want));
    /* NEXT skips targets that are down. */
    rs_kvm_router_target_lost(r, 0);
    static const struct sent up[] = {K(KEY_LEFTCTRL, 0), K(KEY_SCROLLLOCK, 1),
                                     K(KEY_SCROLLLOCK, 0), K(KEY_SCROLLLOCK, 1),
                                     K(KEY_SCROLLLOCK, 0), SYN};
    feed(r, up, N(up), &now);
    ck_assert_uint_eq(rs_kvm_router_focus(r), 1);
    free(r);
    free(f);
}
END_TEST

START_TEST(test_router_bad_input_and_shutdown)
{
    struct fake *f;
    struct rs_kvm_router *r = setup(&f);
    ck_assert_int_eq(rs_kvm_router_feed(r, EV_KEY, KEY_MAX + 1, 1, 1), RSHARE_EINVAL);
    ck_assert_int_eq(rs_kvm_router_feed(r, EV_KEY, KEY_A, 3, 1), RSHARE_EINVAL);
    ck_assert_int_eq(rs_kvm_router_feed(r, EV_KEY, KEY_A, -1, 1), RSHARE_EINVAL);
    ck_assert_int_eq(rs_kvm_router_feed(r, EV_REL, REL_MAX + 1, 1, 1), RSHARE_EINVAL);
    ck_assert_int_eq(rs_kvm_router_feed(r, EV_ABS, ABS_MAX + 1, 1, 1), RSHARE_EINVAL);
    ck_assert_int_eq(rs_kvm_router_feed(r, EV_FF, 0, 1, 1), RSHARE_EINVAL);
    ck_assert_uint_eq(r->stats.refused, 6);
    ck_assert_int_eq(rs_kvm_router_feed(r, EV_SYN, SYN_DROPPED, 0, 1), 0);
    struct rs_kvm_router_config bad = {0, NULL, 0, fake_send, f};
    struct rs_kvm_router r2;
    ck_assert_int_eq(rs_kvm_router_init(&r2, &bad), RSHARE_EINVAL);
    bad.target_count = 2;
    bad.chords = chords;
    bad.chord_count = N(chords); /* jumps to target 2 of 2 */
    ck_assert_int_eq(rs_kvm_router_init(&r2, &bad), RSHARE_EINVAL);

    uint64_t now = 0;
    static const struct sent in[] = {K(KEY_Q, 1), K(BTN_MIDDLE, 1), K(KEY_LEFTCTRL, 1)};
    feed(r, in, N(in), &now);
    rs_kvm_router_shutdown(r);
    rs_kvm_router_shutdown(r);
    static const struct sent want[] = {TK(0, KEY_Q, 1), TK(0, BTN_MIDDLE, 1), TSYN(0),
                                       TK(0, KEY_Q, 0), TK(0, BTN_MIDDLE, 0), TSYN(0)};
    expect(f, want, N(want));
    free(r);
    free(f);
}
END_TEST

/* --- the property test ------------------------------------------------------ */

static uint64_t rng_next(uint64_t *s)
{
    /* xorshift64*: fixed seed, same stream on every platform */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

static void check_invariants(const struct rs_kvm_router *r, const struct fake *f, size_t step)
{
    if (f->bad)
        ck_abort_msg("step %zu: a target got autorepeat, a hotkey key or an unframed batch", step);
    for (uint32_t t = 0; t < r->target_count; t++) {
        /* The frame being built is already in the router's record; it
         * reaches the target at the next SYN_REPORT. */
        struct rs_kvm_keyset believed = f->pressed[t];
        for (uint32_t i = 0; t == r->focus && i < r->frame_count; i++) {
            if (r->frame[i].type == EV_KEY)
                rs_kvm_keyset_put(&believed, r->frame[i].code, r->frame[i].value == 1);
        }
        for (uint16_t c = 0; c < RS_KVM_KEY_COUNT; c++) {
            if (rs_kvm_keyset_has(&believed, c) != rs_kvm_keystate_pressed(&r->keys, t, c))
                ck_abort_msg("step %zu: target %u disagrees with the router on key %u", step, t,
                             c);
        }
        if (t != r->focus && rs_kvm_keystate_count(&r->keys, t) != 0)
            ck_abort_msg("step %zu: unfocused target %u holds keys", step, t);
    }
}

START_TEST(test_router_random)
{
    uint64_t seed = 0x6b766d2d726f7574ULL;
    struct fake *f;
    struct rs_kvm_router *r = setup(&f);
    /* The chord keys are used only as whole chords, so none may ever arrive;
     * Scroll Lock state therefore never differs and sync never sends it. */
    static const uint16_t chord_keys[] = {KEY_LEFTCTRL, KEY_LEFTALT, KEY_1, KEY_2, KEY_3,
                                          KEY_SCROLLLOCK};
    for (size_t i = 0; i < N(chord_keys); i++)
        rs_kvm_keyset_put(&f->forbidden, chord_keys[i], true);
    static const uint16_t keys[] = {KEY_A, KEY_B, KEY_Q, KEY_LEFTSHIFT, KEY_RIGHTCTRL,
                                    KEY_CAPSLOCK, KEY_NUMLOCK, BTN_LEFT, BTN_RIGHT, BTN_SIDE,
                                    KEY_F1, KEY_SPACE};
    bool held[N(keys)] = {false};
    uint64_t now = 0;
    for (size_t step = 0; step < 200000; step++) {
        now += 1 + rng_next(&seed) % 30000;
        uint64_t roll = rng_next(&seed) % 100;
        if (roll < 50) {
            size_t k = rng_next(&seed) % N(keys);
            int32_t v = held[k] ? (rng_next(&seed) % 4 ? 0 : 2) : 1;
            held[k] = v != 0;
            REQUIRE(rs_kvm_router_feed(r, EV_KEY, keys[k], v, now) == 0);
        } else if (roll < 62) {
            REQUIRE(rs_kvm_router_feed(r, EV_REL, REL_X, (int32_t)(rng_next(&seed) % 21) - 10,
                                       now) == 0);
        } else if (roll < 80) {
            REQUIRE(rs_kvm_router_feed(r, EV_SYN, SYN_REPORT, 0, now) == 0);
        } else if (roll < 84) {
            /* A whole chord, with autorepeat and SYNs, releases in any order;
             * other modifiers are let go first (Shift would make it another
             * chord), other keys may stay down. */
            for (size_t k = 0; k < N(keys); k++) {
                if (held[k] && rs_kvm_hotkey_mod_of(keys[k])) {
                    REQUIRE(rs_kvm_router_feed(r, EV_KEY, keys[k], 0, now) == 0);
                    held[k] = false;
                }
            }
            if (rng_next(&seed) % 2) {
                uint16_t digit = (uint16_t)(KEY_1 + rng_next(&seed) % 3);
                REQUIRE(rs_kvm_router_feed(r, EV_KEY, KEY_LEFTCTRL, 1, now) == 0);
                REQUIRE(rs_kvm_router_feed(r, EV_SYN, SYN_REPORT, 0, now + 1) == 0);
                REQUIRE(rs_kvm_router_feed(r, EV_KEY, KEY_LEFTALT, 1, now + 2) == 0);
                REQUIRE(rs_kvm_router_feed(r, EV_KEY, digit, 1, now + 3) == 0);
                REQUIRE(rs_kvm_router_feed(r, EV_KEY, digit, 2, now + 4) == 0);
                uint16_t order[3] = {digit, KEY_LEFTALT, KEY_LEFTCTRL};
                size_t a = rng_next(&seed) % 3, b = rng_next(&seed) % 3;
                uint16_t tmp = order[a];
                order[a] = order[b];
                order[b] = tmp;
                for (int i = 0; i < 3; i++)
                    REQUIRE(rs_kvm_router_feed(r, EV_KEY, order[i], 0, now + 5 + (uint64_t)i) ==
                            0);
            } else {
                for (int i = 0; i < 2; i++) {
                    REQUIRE(rs_kvm_router_feed(r, EV_KEY, KEY_SCROLLLOCK, 1, now) == 0);
                    REQUIRE(rs_kvm_router_feed(r, EV_SYN, SYN_REPORT, 0, now) == 0);
                    REQUIRE(rs_kvm_router_feed(r, EV_KEY, KEY_SCROLLLOCK, 0, now + 100) == 0);
                    now += 200000;
                }
            }
            now += 10;
            REQUIRE(rs_kvm_router_feed(r, EV_SYN, SYN_REPORT, 0, now) == 0);
        } else if (roll < 88) {
            rs_kvm_router_set_focus(r, (uint32_t)(rng_next(&seed) % 3));
        } else if (roll < 91) {
            rs_kvm_router_target_lost(r, (uint32_t)(rng_next(&seed) % 3));
        } else if (roll < 95) {
            rs_kvm_router_target_up(r, (uint32_t)(rng_next(&seed) % 3));
        } else if (roll < 96) {
            rs_kvm_router_set_locked(r, !rs_kvm_router_locked(r));
        } else {
            rs_kvm_router_tick(r, now);
        }
        /* Targets report their LEDs, as real ones do after every change
         * (only once what was sent has arrived: see doc/KVM.md on races). */
        for (uint32_t t = 0; t < 3 && r->frame_count == 0; t++) {
            if (r->targets[t].up && rng_next(&seed) % 2)
                rs_kvm_router_target_leds(r, t, f->leds[t]);
        }
        check_invariants(r, f, step);
        uint32_t focus = rs_kvm_router_focus(r);
        if (r->targets[focus].up && r->targets[focus].leds_known && r->targets[focus].synced &&
            r->frame_count == 0 && r->hotkey.pending_count == 0 &&
            f->leds[focus] != rs_kvm_router_host_leds(r))
            ck_abort_msg("step %zu: target %u LEDs %x, host %x", step, focus, f->leds[focus],
                         rs_kvm_router_host_leds(r));
        f->count = 0; /* the log is for golden tests */
    }
    ck_assert_uint_gt(r->stats.hotkeys, 1000);
    ck_assert_uint_gt(r->stats.switches, 1000);
    rs_kvm_router_shutdown(r);
    check_invariants(r, f, 0);
    for (uint32_t t = 0; t < 3; t++)
        ck_assert_uint_eq(rs_kvm_keystate_count(&r->keys, t), 0);
    free(r);
    free(f);
}
END_TEST

/* Pixel -> absolute -> pixel is the identity on every side length, the
 * ends map to 0 and 32767, and the mapping only grows. */
START_TEST(test_pointer_abs_round_trip)
{
    static const uint32_t lens[] = {1, 2, 3, 640, 1079, 1080, 1920, 2160, 3840, 32767, 32768};
    for (size_t i = 0; i < N(lens); i++) {
        uint32_t len = lens[i];
        int32_t prev = -1;
        for (uint32_t px = 0; px < len; px++) {
            int32_t abs = rs_kvm_pointer_to_abs((int32_t)px, len);
            REQUIRE(abs >= 0 && abs <= RS_KVM_ABS_MAX && abs > prev);
            REQUIRE(rs_kvm_pointer_from_abs(abs, len) == (int32_t)px);
            prev = abs;
        }
        REQUIRE(len == 1 || prev == RS_KVM_ABS_MAX);
        REQUIRE(rs_kvm_pointer_from_abs(-5, len) == 0);
        REQUIRE(rs_kvm_pointer_from_abs(INT32_MAX, len) == (int32_t)len - 1);
    }
}
END_TEST

/* Relative scaling: after every event the sum sent is within one unit of
 * the exact scaled sum (both signs, odd factors); extreme values are
 * clamped, never overflow; pushes are seen at both ends. */
START_TEST(test_pointer_scaling)
{
    static const uint32_t fractions[][2] = {
        {1, 3}, {4, 3}, {333, 1000}, {1000000, 1}, {1, 1000000},
    };
    srand(5);
    for (size_t f = 0; f < N(fractions); f++) {
        struct rs_kvm_pointers p;
        struct rs_kvm_display d = {.width = 1920, .height = 1080, .num_x = fractions[f][0],
                                   .den_x = fractions[f][1], .num_y = 1, .den_y = 1};
        REQUIRE(rs_kvm_pointer_set_layout(&p, &d, 1) == 0);
        int64_t in = 0, out = 0;
        for (int i = 0; i < 20000; i++) {
            int32_t v = rand() % 9 - 4;
            struct rs_kvm_event ev = {.type = EV_REL, .code = REL_X, .value = v};
            if (rs_kvm_pointer_event(&p, 0, &ev))
                out += ev.value;
            else
                REQUIRE(ev.value == 0);
            in += v;
            int64_t err = out * d.den_x - in * d.num_x;
            REQUIRE(err > -(int64_t)d.den_x && err < (int64_t)d.den_x);
            REQUIRE(p.pos[0].x >= 0 && p.pos[0].x < 1920);
        }
        struct rs_kvm_event big = {.type = EV_REL, .code = REL_X, .value = INT32_MAX};
        rs_kvm_pointer_event(&p, 0, &big);
        REQUIRE(big.value > 0 && p.pos[0].x == 1919);
        REQUIRE(rs_kvm_pointer_take_pushed(&p) & RS_KVM_SIDE_RIGHT);
        big.value = INT32_MIN;
        rs_kvm_pointer_event(&p, 0, &big);
        REQUIRE(big.value < 0 && p.pos[0].x == 0);
        REQUIRE(rs_kvm_pointer_take_pushed(&p) == RS_KVM_SIDE_LEFT);
    }
    /* Displays may touch but not overlap; a bad one changes nothing. */
    struct rs_kvm_pointers p;
    struct rs_kvm_display two[2] = {
        {.width = 100, .height = 100, .num_x = 1, .den_x = 1, .num_y = 1, .den_y = 1},
        {.x = 100, .width = 100, .height = 100, .num_x = 1, .den_x = 1, .num_y = 1, .den_y = 1},
    };
    REQUIRE(rs_kvm_pointer_set_layout(&p, two, 2) == 0);
    two[1].x = 99;
    REQUIRE(rs_kvm_pointer_set_layout(&p, two, 2) == RSHARE_EINVAL);
    two[1].x = 100;
    two[1].den_x = 0;
    REQUIRE(rs_kvm_pointer_set_layout(&p, two, 2) == RSHARE_EINVAL);
    REQUIRE(p.displays[1].x == 100 && p.displays[1].den_x == 1);
}
END_TEST

static Suite *kvm_suite(void)
{
    Suite *s = suite_create("kvm");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_keystate_rules);
    tcase_add_test(tc, test_keystate_release_all);
    tcase_add_test(tc, test_hotkey_init_refuses);
    tcase_add_loop_test(tc, test_router_golden, 0, (int)N(goldens));
    tcase_add_test(tc, test_router_single_scroll_lock_passes_after_window);
    tcase_add_test(tc, test_router_link_loss_and_restart);
    tcase_add_test(tc, test_router_lock_keys_follow_host);
    tcase_add_test(tc, test_router_lock_and_api);
    tcase_add_test(tc, test_router_bad_input_and_shutdown);
    tcase_add_test(tc, test_router_random);
    tcase_add_test(tc, test_pointer_abs_round_trip);
    tcase_add_test(tc, test_pointer_scaling);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return rs_test_run(kvm_suite());
}
