/* rshare kvm — key state on the host that owns the physical devices: which
 * keys and buttons (evdev KEY_* and BTN_* codes, all EV_KEY) are held on the
 * host, and which each target has been sent as pressed and not yet released.
 * From that record alone the host can always bring a target back to
 * "nothing pressed", which is what makes stuck keys impossible.
 *
 * Policy encoded here (see doc/KVM.md):
 *  - a press reaches the focused target only if the key was up on the host
 *    before, so a key held while focus moved never reaches the new target;
 *  - a release reaches a target only if that target saw the press, so the
 *    release of such a suppressed key reaches nobody;
 *  - autorepeat (value 2) never reaches a target: targets repeat themselves.
 * Memory is fixed: one bitmap of KEY_MAX + 1 bits per target. */
#ifndef RSHARE_KVM_KEYSTATE_H
#define RSHARE_KVM_KEYSTATE_H

#include <linux/input-event-codes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"

#define RS_KVM_MAX_TARGETS 16
#define RS_KVM_NO_TARGET UINT32_MAX
#define RS_KVM_KEY_COUNT (KEY_MAX + 1)
#define RS_KVM_KEY_WORDS ((RS_KVM_KEY_COUNT + 63) / 64)

/* A set of EV_KEY codes. */
struct rs_kvm_keyset {
    uint64_t bits[RS_KVM_KEY_WORDS];
};

struct rs_kvm_keystate {
    struct rs_kvm_keyset host;                       /* held on the physical devices */
    struct rs_kvm_keyset target[RS_KVM_MAX_TARGETS]; /* sent pressed, not yet released */
};

static inline bool rs_kvm_keyset_has(const struct rs_kvm_keyset *s, uint16_t code)
{
    return code < RS_KVM_KEY_COUNT && (s->bits[code / 64] >> (code % 64)) & 1u;
}

static inline void rs_kvm_keyset_put(struct rs_kvm_keyset *s, uint16_t code, bool on)
{
    if (code >= RS_KVM_KEY_COUNT)
        return;
    uint64_t bit = (uint64_t)1 << (code % 64);
    if (on)
        s->bits[code / 64] |= bit;
    else
        s->bits[code / 64] &= ~bit;
}

void rs_kvm_keystate_init(struct rs_kvm_keystate *ks);

/* A host key event (value 0, 1 or 2) while `target` has focus
 * (RS_KVM_NO_TARGET when input goes nowhere, e.g. the focused link is down).
 * Updates both records and returns whether the event goes to `target`.
 * Codes above KEY_MAX and targets out of range are never forwarded. */
bool rs_kvm_keystate_key(struct rs_kvm_keystate *ks, uint32_t target, uint16_t code,
                         int32_t value);

/* The release events (value 0, ascending code, no SYN) that bring `target`
 * back to nothing pressed; `out` must hold RS_KVM_KEY_COUNT events.  Clears
 * the target's record, so a second call returns 0.  Keys still held on the
 * host stay held there, hence suppressed on every target until released. */
size_t rs_kvm_keystate_release_all(struct rs_kvm_keystate *ks, uint32_t target,
                                   struct rs_kvm_event *out);

/* Replaces the host record with what the devices report (EVIOCGKEY, e.g.
 * after SYN_DROPPED) and returns, like release_all, the releases `target`
 * needs for keys it holds that the host no longer does (their release event
 * was lost). */
size_t rs_kvm_keystate_sync_host(struct rs_kvm_keystate *ks, uint32_t target,
                                 const struct rs_kvm_keyset *held, struct rs_kvm_event *out);

bool rs_kvm_keystate_pressed(const struct rs_kvm_keystate *ks, uint32_t target, uint16_t code);
bool rs_kvm_keystate_host_held(const struct rs_kvm_keystate *ks, uint16_t code);
/* Held on the host but not pressed on `target`: its release will not go there. */
bool rs_kvm_keystate_suppressed(const struct rs_kvm_keystate *ks, uint32_t target,
                                uint16_t code);
size_t rs_kvm_keystate_count(const struct rs_kvm_keystate *ks, uint32_t target);

#endif
