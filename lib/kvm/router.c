/* rshare kvm — input routing: host events pass the hotkey filter, then the
 * key state decides what the focused target gets; focus changes, link
 * losses and shutdown release everything the target saw pressed.  See
 * router.h and doc/KVM.md. */
#include "config.h"

#include <string.h>

#include "rshare/error.h"

#include "router.h"

static void route(struct rs_kvm_router *r, const struct rs_kvm_hotkey_out *out);
static void route_event(struct rs_kvm_router *r, const struct rs_kvm_event *ev);
static void act(struct rs_kvm_router *r, enum rs_kvm_action action, uint32_t target);
static void edge_check(struct rs_kvm_router *r);
static void switch_to(struct rs_kvm_router *r, uint32_t target);
static void release_target(struct rs_kvm_router *r, uint32_t target);
static void sync_locks(struct rs_kvm_router *r);
static void frame_push(struct rs_kvm_router *r, const struct rs_kvm_event *ev);
static void frame_flush(struct rs_kvm_router *r);
static uint32_t lock_led(uint16_t code);
static uint32_t next_up(const struct rs_kvm_router *r);
static int refuse(struct rs_kvm_router *r);

/* Lock keys and their LEDs, in the order a sync presses them. */
static const uint16_t lock_keys[3] = {KEY_NUMLOCK, KEY_CAPSLOCK, KEY_SCROLLLOCK};
static const uint8_t lock_leds[3] = {RS_KVM_LED_NUM, RS_KVM_LED_CAPS, RS_KVM_LED_SCROLL};

int rs_kvm_router_init(struct rs_kvm_router *r, const struct rs_kvm_router_config *cfg)
{
    if (!r || !cfg || !cfg->send || cfg->target_count < 1 ||
        cfg->target_count > RS_KVM_MAX_TARGETS)
        return RSHARE_EINVAL;
    memset(r, 0, sizeof(*r));
    for (uint32_t i = 0; i < cfg->chord_count && cfg->chords; i++) {
        if (cfg->chords[i].action == RS_KVM_ACTION_JUMP &&
            cfg->chords[i].target >= cfg->target_count)
            return RSHARE_EINVAL;
    }
    int rc = rs_kvm_hotkey_init(&r->hotkey, cfg->chords, cfg->chord_count);
    if (rc)
        return rc;
    rs_kvm_keystate_init(&r->keys);
    rs_kvm_pointer_init(&r->pointer);
    rs_kvm_edge_init(&r->edge);
    r->target_count = cfg->target_count;
    r->send = cfg->send;
    r->user_data = cfg->user_data;
    return 0;
}

int rs_kvm_router_feed(struct rs_kvm_router *r, uint16_t type, uint16_t code, int32_t value,
                       uint64_t now_us)
{
    r->now_us = now_us;
    switch (type) {
    case EV_SYN:
        if (code == SYN_REPORT) {
            frame_flush(r);
            edge_check(r);
        } else
            r->stats.ignored++; /* SYN_DROPPED: the adapter resyncs with EVIOCGKEY */
        return 0;
    case EV_KEY:
        if (code >= RS_KVM_KEY_COUNT || value < 0 || value > 2)
            return refuse(r);
        if (value == 2) {
            r->stats.repeats_dropped++;
            return 0;
        }
        break;
    case EV_REL:
        if (code > REL_MAX)
            return refuse(r);
        break;
    case EV_ABS:
        if (code > ABS_MAX)
            return refuse(r);
        break;
    case EV_MSC: /* scan codes describe the host's keyboard, not the key */
    case EV_LED: /* the host's own LEDs are ours to set, see host_leds */
        r->stats.ignored++;
        return 0;
    default:
        return refuse(r);
    }
    struct rs_kvm_event ev = {.type = type, .code = code, .value = value};
    struct rs_kvm_hotkey_out out;
    rs_kvm_hotkey_feed(&r->hotkey, &ev, now_us, &out);
    route(r, &out);
    return 0;
}

void rs_kvm_router_tick(struct rs_kvm_router *r, uint64_t now_us)
{
    struct rs_kvm_hotkey_out out;
    rs_kvm_hotkey_tick(&r->hotkey, now_us, &out);
    route(r, &out);
    /* No SYN_REPORT will come for keys released by time alone. */
    frame_flush(r);
}

int rs_kvm_router_set_focus(struct rs_kvm_router *r, uint32_t target)
{
    if (target >= r->target_count)
        return RSHARE_EINVAL;
    if (r->locked)
        return RSHARE_EBUSY;
    switch_to(r, target);
    return 0;
}

int rs_kvm_router_focus_next(struct rs_kvm_router *r)
{
    if (r->locked)
        return RSHARE_EBUSY;
    uint32_t next = next_up(r);
    if (next == r->focus)
        return RSHARE_ENOENT;
    switch_to(r, next);
    return 0;
}

int rs_kvm_router_set_layout(struct rs_kvm_router *r, const struct rs_kvm_display *displays,
                             uint32_t count, const struct rs_kvm_edge_guards *guards)
{
    if (count > r->target_count)
        return RSHARE_EINVAL;
    int rc = rs_kvm_pointer_set_layout(&r->pointer, displays, count);
    if (rc < 0)
        return rc;
    rs_kvm_edge_set(&r->edge, count ? guards : NULL);
    return 0;
}

bool rs_kvm_router_pointer(const struct rs_kvm_router *r, int32_t *x, int32_t *y)
{
    if (!rs_kvm_pointer_has(&r->pointer, r->focus))
        return false;
    *x = r->pointer.pos[r->focus].x;
    *y = r->pointer.pos[r->focus].y;
    return true;
}

uint32_t rs_kvm_router_focus(const struct rs_kvm_router *r)
{
    return r->focus;
}

bool rs_kvm_router_locked(const struct rs_kvm_router *r)
{
    return r->locked;
}

void rs_kvm_router_set_locked(struct rs_kvm_router *r, bool locked)
{
    r->locked = locked;
}

void rs_kvm_router_target_up(struct rs_kvm_router *r, uint32_t target)
{
    if (target >= r->target_count)
        return;
    struct rs_kvm_target *t = &r->targets[target];
    if (t->up)
        rs_kvm_router_target_lost(r, target); /* a restart: its state is gone */
    t->up = true;
    t->leds_known = false;
    t->synced = false;
}

void rs_kvm_router_target_lost(struct rs_kvm_router *r, uint32_t target)
{
    if (target >= r->target_count)
        return;
    if (target == r->focus)
        frame_flush(r); /* what it was sent so far is part of its record */
    release_target(r, target);
    struct rs_kvm_target *t = &r->targets[target];
    t->up = false;
    t->leds_known = false;
    t->synced = false;
}

void rs_kvm_router_target_leds(struct rs_kvm_router *r, uint32_t target, uint8_t leds)
{
    if (target >= r->target_count || !r->targets[target].up)
        return;
    struct rs_kvm_target *t = &r->targets[target];
    t->leds = leds & RS_KVM_LED_LOCKS;
    t->leds_known = true;
    /* The host is authoritative: a report only corrects our record (and
     * lets a newly entered target be brought in line); a program that
     * changes a lock on a node is undone when focus next enters it. */
    if (target == r->focus && !t->synced)
        sync_locks(r);
}

void rs_kvm_router_set_host_leds(struct rs_kvm_router *r, uint8_t leds)
{
    r->host_leds = leds & RS_KVM_LED_LOCKS;
}

uint8_t rs_kvm_router_host_leds(const struct rs_kvm_router *r)
{
    return r->host_leds;
}

void rs_kvm_router_sync_host(struct rs_kvm_router *r, const struct rs_kvm_keyset *held)
{
    frame_flush(r);
    uint32_t dest = r->targets[r->focus].up ? r->focus : RS_KVM_NO_TARGET;
    size_t n = rs_kvm_keystate_sync_host(&r->keys, dest, held, r->scratch);
    if (!n)
        return;
    r->scratch[n] = (struct rs_kvm_event){.type = EV_SYN, .code = SYN_REPORT, .value = 0};
    r->send(r->user_data, r->focus, r->scratch, n + 1);
}

void rs_kvm_router_shutdown(struct rs_kvm_router *r)
{
    /* Keys held back for a hotkey never reached anyone: drop them. */
    struct rs_kvm_hotkey_out dropped;
    memset(&dropped, 0, sizeof(dropped));
    rs_kvm_hotkey_flush(&r->hotkey, &dropped);
    frame_flush(r);
    for (uint32_t i = 0; i < r->target_count; i++) {
        release_target(r, i);
        r->targets[i].up = false;
        r->targets[i].leds_known = false;
    }
}

static void route(struct rs_kvm_router *r, const struct rs_kvm_hotkey_out *out)
{
    for (uint32_t i = 0; i < out->count; i++)
        route_event(r, &out->events[i]);
    if (out->action != RS_KVM_ACTION_NONE)
        act(r, out->action, out->target);
}

static void route_event(struct rs_kvm_router *r, const struct rs_kvm_event *in)
{
    uint32_t dest = r->targets[r->focus].up ? r->focus : RS_KVM_NO_TARGET;
    struct rs_kvm_event scaled = *in;
    const struct rs_kvm_event *ev = &scaled;
    bool forward;
    if (ev->type == EV_REL || ev->type == EV_ABS) {
        /* The pointer is followed on the focused display even while its
         * link is down: the user can still leave it by an edge. */
        forward = rs_kvm_pointer_event(&r->pointer, r->focus, &scaled) &&
                  dest != RS_KVM_NO_TARGET;
    } else if (ev->type == EV_KEY) {
        bool fresh = ev->value == 1 && !rs_kvm_keystate_host_held(&r->keys, ev->code);
        forward = rs_kvm_keystate_key(&r->keys, dest, ev->code, ev->value);
        uint32_t led = lock_led(ev->code);
        if (fresh && led) {
            /* Lock state follows the user, not a machine: a lock key press
             * toggles it even when it reaches no target, and the next
             * target entered is brought in line. */
            r->host_leds ^= (uint8_t)led;
            if (forward && r->targets[dest].leds_known)
                r->targets[dest].leds ^= (uint8_t)led;
        }
    } else {
        forward = dest != RS_KVM_NO_TARGET;
    }
    if (forward)
        frame_push(r, ev);
}

static void act(struct rs_kvm_router *r, enum rs_kvm_action action, uint32_t target)
{
    r->stats.hotkeys++;
    switch (action) {
    case RS_KVM_ACTION_NEXT:
        if (!r->locked)
            switch_to(r, next_up(r));
        break;
    case RS_KVM_ACTION_JUMP:
        if (!r->locked && target < r->target_count)
            switch_to(r, target);
        break;
    case RS_KVM_ACTION_LOCK:
        r->locked = true;
        break;
    case RS_KVM_ACTION_UNLOCK:
        r->locked = false;
        break;
    case RS_KVM_ACTION_LOCK_TOGGLE:
        r->locked = !r->locked;
        break;
    case RS_KVM_ACTION_NONE:
        break;
    }
}

static void switch_to(struct rs_kvm_router *r, uint32_t target)
{
    if (target == r->focus)
        return;
    /* A chord in progress is abandoned by a switch from elsewhere; its keys
     * belong to the old focus, where release-all then takes them back. */
    struct rs_kvm_hotkey_out out;
    memset(&out, 0, sizeof(out));
    rs_kvm_hotkey_flush(&r->hotkey, &out);
    route(r, &out);
    frame_flush(r);
    release_target(r, r->focus);
    r->focus = target;
    r->targets[target].synced = false;
    r->stats.switches++;
    rs_kvm_edge_reset(&r->edge);
    sync_locks(r);
}

/* At the end of a host frame: did its motion push the pointer across a
 * screen edge?  The switch is an ordinary one (release-all on the target
 * left, held keys suppressed), then the pointer is warped to where it
 * enters the new display. */
static void edge_check(struct rs_kvm_router *r)
{
    uint32_t pushed = rs_kvm_pointer_take_pushed(&r->pointer);
    if (!r->edge.enabled)
        return;
    struct rs_kvm_edge_host host = {.locked = r->locked};
    if (pushed) { /* the host's state matters only to a push */
        host.mods = rs_kvm_hotkey_mods_in(&r->keys.host);
        for (uint16_t b = BTN_LEFT; b <= BTN_TASK; b++)
            host.buttons |= rs_kvm_keystate_host_held(&r->keys, b);
        for (uint32_t i = 0; i < r->target_count; i++)
            host.up |= r->targets[i].up ? 1u << i : 0;
    }
    struct rs_kvm_edge_entry entry;
    if (!rs_kvm_edge_frame(&r->edge, &r->pointer, r->focus, pushed, &host, r->now_us, &entry))
        return;
    switch_to(r, entry.target);
    r->stats.edge_switches++;
    struct rs_kvm_event warp[3] = {
        {.type = EV_ABS, .code = ABS_X, .value = entry.abs_x},
        {.type = EV_ABS, .code = ABS_Y, .value = entry.abs_y},
        {.type = EV_SYN, .code = SYN_REPORT, .value = 0},
    };
    r->send(r->user_data, r->focus, warp, 3);
}

static void release_target(struct rs_kvm_router *r, uint32_t target)
{
    size_t n = rs_kvm_keystate_release_all(&r->keys, target, r->scratch);
    if (!n)
        return;
    r->scratch[n] = (struct rs_kvm_event){.type = EV_SYN, .code = SYN_REPORT, .value = 0};
    r->send(r->user_data, target, r->scratch, n + 1);
}

/* Presses and releases the lock keys whose state differs between the
 * focused target and the host, once per entry, as soon as the target's LED
 * state is known. */
static void sync_locks(struct rs_kvm_router *r)
{
    struct rs_kvm_target *t = &r->targets[r->focus];
    if (!t->up || !t->leds_known || t->synced)
        return;
    t->synced = true;
    frame_flush(r);
    struct rs_kvm_event press[4], release[4];
    size_t n = 0;
    for (int i = 0; i < 3; i++) {
        if (!((t->leds ^ r->host_leds) & lock_leds[i]))
            continue;
        /* A lock key the target holds right now cannot be pressed again:
         * retry at its next LED report. */
        if (rs_kvm_keystate_pressed(&r->keys, r->focus, lock_keys[i])) {
            t->synced = false;
            continue;
        }
        press[n] = (struct rs_kvm_event){.type = EV_KEY, .code = lock_keys[i], .value = 1};
        release[n] = (struct rs_kvm_event){.type = EV_KEY, .code = lock_keys[i], .value = 0};
        t->leds ^= lock_leds[i];
        n++;
    }
    if (!n)
        return;
    press[n] = release[n] = (struct rs_kvm_event){.type = EV_SYN, .code = SYN_REPORT, .value = 0};
    r->send(r->user_data, r->focus, press, n + 1);
    r->send(r->user_data, r->focus, release, n + 1);
}

static void frame_push(struct rs_kvm_router *r, const struct rs_kvm_event *ev)
{
    if (r->frame_count == RS_KVM_FRAME_MAX)
        frame_flush(r);
    r->frame[r->frame_count++] = *ev;
}

static void frame_flush(struct rs_kvm_router *r)
{
    if (!r->frame_count)
        return;
    r->frame[r->frame_count] = (struct rs_kvm_event){.type = EV_SYN, .code = SYN_REPORT, .value = 0};
    r->send(r->user_data, r->focus, r->frame, r->frame_count + 1);
    r->frame_count = 0;
}

/* The next target after the focused one whose link is up, or the focused
 * one when there is none. */
static uint32_t next_up(const struct rs_kvm_router *r)
{
    for (uint32_t i = 1; i < r->target_count; i++) {
        uint32_t t = (r->focus + i) % r->target_count;
        if (r->targets[t].up)
            return t;
    }
    return r->focus;
}

static uint32_t lock_led(uint16_t code)
{
    for (int i = 0; i < 3; i++) {
        if (lock_keys[i] == code)
            return lock_leds[i];
    }
    return 0;
}

static int refuse(struct rs_kvm_router *r)
{
    r->stats.refused++;
    return RSHARE_EINVAL;
}
