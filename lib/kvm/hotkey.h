/* rshare kvm — focus hotkeys: recognises configured key chords in the host's
 * input stream.  The keys of a chord that fires never reach any target, not
 * even their releases; a key that might start a chord is held back until
 * the chord fires or turns out not to be one, and is then passed on in its
 * original order.  Time is passed in by the caller (microseconds, any
 * monotonic origin); nothing here reads a clock.
 *
 * Two kinds of chord:
 *  - COMBO: modifiers (the exact set of Ctrl/Shift/Alt/Meta kinds, either
 *    side) held while `key` is pressed, e.g. Ctrl+Alt+1.  Modifier presses
 *    of a possible combo are held back at most `window_us`.
 *  - DOUBLE_TAP: `key` pressed, released and pressed again within
 *    `window_us` of the first press, e.g. Scroll Lock twice in 500 ms. */
#ifndef RSHARE_KVM_HOTKEY_H
#define RSHARE_KVM_HOTKEY_H

#include <stdbool.h>
#include <stdint.h>

#include "event.h"
#include "keystate.h"

#define RS_KVM_HOTKEY_MAX_CHORDS 16
#define RS_KVM_HOTKEY_MAX_PENDING 8
/* A feed flushes at most a full pending buffer and passes on one event. */
#define RS_KVM_HOTKEY_MAX_OUT (RS_KVM_HOTKEY_MAX_PENDING + 1)

enum rs_kvm_mod {
    RS_KVM_MOD_CTRL = 1,
    RS_KVM_MOD_SHIFT = 2,
    RS_KVM_MOD_ALT = 4,
    RS_KVM_MOD_META = 8
};

enum rs_kvm_chord_kind {
    RS_KVM_CHORD_COMBO = 1,
    RS_KVM_CHORD_DOUBLE_TAP = 2
};

enum rs_kvm_action {
    RS_KVM_ACTION_NONE = 0,
    RS_KVM_ACTION_NEXT = 1,       /* focus the next target whose link is up */
    RS_KVM_ACTION_JUMP = 2,       /* focus `target` */
    RS_KVM_ACTION_LOCK = 3,       /* keep focus where it is */
    RS_KVM_ACTION_UNLOCK = 4,
    RS_KVM_ACTION_LOCK_TOGGLE = 5
};

struct rs_kvm_chord {
    enum rs_kvm_chord_kind kind;
    uint32_t mods;      /* COMBO: enum rs_kvm_mod bits that must be held, exactly */
    uint16_t key;       /* COMBO: the trigger (not a modifier); DOUBLE_TAP: the tapped key */
    uint64_t window_us; /* > 0, see above */
    enum rs_kvm_action action;
    uint32_t target; /* JUMP */
};

/* What one call produced: `events` to pass on, in order, then at most one
 * action (after all of them). */
struct rs_kvm_hotkey_out {
    uint32_t count;
    struct rs_kvm_event events[RS_KVM_HOTKEY_MAX_OUT];
    enum rs_kvm_action action;
    uint32_t target;
};

struct rs_kvm_hotkey {
    struct rs_kvm_chord chords[RS_KVM_HOTKEY_MAX_CHORDS];
    uint32_t chord_count;
    struct rs_kvm_event pending[RS_KVM_HOTKEY_MAX_PENDING]; /* held back, in order */
    uint32_t pending_count;
    uint64_t pending_since; /* time of pending[0] */
    uint64_t deadline;      /* flush the pending events after this */
    uint32_t mods_held;     /* bit per modifier key (mod_slot) held on the host */
    struct rs_kvm_keyset swallow; /* keys of a fired chord still held: drop their release */
};

/* Checks and copies the chords.  RSHARE_EINVAL for a bad chord. */
int rs_kvm_hotkey_init(struct rs_kvm_hotkey *hk, const struct rs_kvm_chord *chords,
                       uint32_t count);

/* One host event (EV_KEY values 0/1 only — the caller drops autorepeat —
 * or any other type, which ends a pending chord). */
void rs_kvm_hotkey_feed(struct rs_kvm_hotkey *hk, const struct rs_kvm_event *ev, uint64_t now_us,
                        struct rs_kvm_hotkey_out *out);

/* Passes on what has waited past its deadline. */
void rs_kvm_hotkey_tick(struct rs_kvm_hotkey *hk, uint64_t now_us, struct rs_kvm_hotkey_out *out);

/* Abandons a pending chord (e.g. focus moves by API): appends it all to
 * `out`, which the caller has initialised. */
void rs_kvm_hotkey_flush(struct rs_kvm_hotkey *hk, struct rs_kvm_hotkey_out *out);

/* Whether the release of `code` will be swallowed (tests, diagnostics). */
bool rs_kvm_hotkey_swallowing(const struct rs_kvm_hotkey *hk, uint16_t code);

/* A modifier key's enum rs_kvm_mod bit, or 0. */
uint32_t rs_kvm_hotkey_mod_of(uint16_t code);

/* The enum rs_kvm_mod kinds of the modifier keys in `keys`. */
uint32_t rs_kvm_hotkey_mods_in(const struct rs_kvm_keyset *keys);

#endif
