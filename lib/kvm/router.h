/* rshare kvm — input routing on the host that owns the keyboard and mouse:
 * takes the host's evdev events, frame by frame (SYN_REPORT), and decides
 * what each target node receives, so that no target is ever left with a key
 * or button down (see doc/KVM.md for the invariants and policies).  Pure
 * logic: frames to send leave through a callback, time is passed in, links
 * are reported by the caller.  Targets are numbered 0..target_count-1; the
 * mapping to nodes belongs to the caller.
 *
 * Every frame handed to `send` ends with EV_SYN/SYN_REPORT.  `send` must not
 * call back into the router. */
#ifndef RSHARE_KVM_ROUTER_H
#define RSHARE_KVM_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge.h"
#include "event.h"
#include "hotkey.h"
#include "keystate.h"
#include "pointer.h"

/* Longest frame passed on in one piece; a longer host frame is split. */
#define RS_KVM_FRAME_MAX 64

/* LED bits, as in EV_LED codes: 1 << LED_NUML, ... */
#define RS_KVM_LED_NUM (1u << LED_NUML)
#define RS_KVM_LED_CAPS (1u << LED_CAPSL)
#define RS_KVM_LED_SCROLL (1u << LED_SCROLLL)
#define RS_KVM_LED_LOCKS (RS_KVM_LED_NUM | RS_KVM_LED_CAPS | RS_KVM_LED_SCROLL)

typedef void (*rs_kvm_send_fn)(void *user_data, uint32_t target, const struct rs_kvm_event *events,
                               size_t count);

struct rs_kvm_router_config {
    uint32_t target_count; /* 1..RS_KVM_MAX_TARGETS */
    const struct rs_kvm_chord *chords;
    uint32_t chord_count;
    rs_kvm_send_fn send;
    void *user_data;
};

struct rs_kvm_router_stats {
    uint64_t refused;          /* unknown types, out-of-range codes or values */
    uint64_t repeats_dropped;  /* autorepeat events */
    uint64_t ignored;          /* EV_MSC, EV_LED, SYN_DROPPED: host-local */
    uint64_t hotkeys;          /* chords that fired */
    uint64_t switches;         /* focus changes */
    uint64_t edge_switches;    /* of which by screen edge */
};

struct rs_kvm_target {
    bool up;         /* the link to it works */
    bool leds_known; /* it has reported its LEDs since it came up */
    bool synced;     /* its lock state was brought in line since focus entered */
    uint8_t leds;    /* last reported (or since implied) RS_KVM_LED_* */
};

struct rs_kvm_router {
    struct rs_kvm_keystate keys;
    struct rs_kvm_hotkey hotkey;
    struct rs_kvm_target targets[RS_KVM_MAX_TARGETS];
    uint32_t target_count;
    uint32_t focus;
    bool locked;
    uint8_t host_leds; /* the lock state that follows focus, RS_KVM_LED_* */
    rs_kvm_send_fn send;
    void *user_data;
    uint32_t frame_count; /* events of the focused target's frame being built */
    struct rs_kvm_event frame[RS_KVM_FRAME_MAX + 1];
    struct rs_kvm_event scratch[RS_KVM_KEY_COUNT + 1]; /* release-all frames */
    struct rs_kvm_pointers pointer; /* displays, positions, motion scaling */
    struct rs_kvm_edge edge;        /* switching by screen edge */
    uint64_t now_us;                /* of the event being routed */
    struct rs_kvm_router_stats stats;
};

/* Focus starts on target 0, unlocked; every link starts down. */
int rs_kvm_router_init(struct rs_kvm_router *r, const struct rs_kvm_router_config *cfg);

/* One host event.  RSHARE_EINVAL (and stats.refused) for what may not
 * travel; autorepeat, EV_MSC and EV_LED are dropped quietly. */
int rs_kvm_router_feed(struct rs_kvm_router *r, uint16_t type, uint16_t code, int32_t value,
                       uint64_t now_us);

/* Passes on keys held back for a possible hotkey once their time is up;
 * call it at least every few hundred milliseconds while input is idle. */
void rs_kvm_router_tick(struct rs_kvm_router *r, uint64_t now_us);

/* Focus by API: RSHARE_EINVAL out of range, RSHARE_EBUSY while locked. */
int rs_kvm_router_set_focus(struct rs_kvm_router *r, uint32_t target);
/* Focus the next target whose link is up: RSHARE_EBUSY while locked,
 * RSHARE_ENOENT when no other target is up. */
int rs_kvm_router_focus_next(struct rs_kvm_router *r);
uint32_t rs_kvm_router_focus(const struct rs_kvm_router *r);
bool rs_kvm_router_locked(const struct rs_kvm_router *r);
void rs_kvm_router_set_locked(struct rs_kvm_router *r, bool locked);

/* The screen layout: `count` displays by target index (at most
 * target_count; width 0 for a target without one) and the guards of
 * switching by edge (NULL: no switching, motion is still scaled).  Pointers
 * start in the middle of their displays.  RSHARE_EINVAL for a bad layout
 * (nothing changes then).  count 0: no layout at all. */
int rs_kvm_router_set_layout(struct rs_kvm_router *r, const struct rs_kvm_display *displays,
                             uint32_t count, const struct rs_kvm_edge_guards *guards);
/* The pointer on the focused display, in its pixels; false without one. */
bool rs_kvm_router_pointer(const struct rs_kvm_router *r, int32_t *x, int32_t *y);

/* Links.  `up` on a target already up means it restarted: it is treated
 * as lost and back.  `lost` sends its release-all (the transport may drop
 * it; the target releases by itself on link loss too). */
void rs_kvm_router_target_up(struct rs_kvm_router *r, uint32_t target);
void rs_kvm_router_target_lost(struct rs_kvm_router *r, uint32_t target);

/* The LED state a target reported (RS_KVM_LED_*). */
void rs_kvm_router_target_leds(struct rs_kvm_router *r, uint32_t target, uint8_t leds);
/* The host's lock state at start (its keyboard's LEDs); the adapter should
 * show rs_kvm_router_host_leds() on the physical keyboard afterwards. */
void rs_kvm_router_set_host_leds(struct rs_kvm_router *r, uint8_t leds);
uint8_t rs_kvm_router_host_leds(const struct rs_kvm_router *r);

/* The host's devices report which keys are held (EVIOCGKEY after
 * SYN_DROPPED): keys let go during the drop are released on the focused
 * target, and the host record becomes `held`. */
void rs_kvm_router_sync_host(struct rs_kvm_router *r, const struct rs_kvm_keyset *held);

/* Release everything on every target and stop forwarding (all links down). */
void rs_kvm_router_shutdown(struct rs_kvm_router *r);

#endif
