/* rshare kvm — focus hotkeys.  The held-back events form a candidate
 * sequence; after each new event every chord judges it dead, still possible
 * or complete.  Complete: the chord's keys are consumed.  Dead: the held
 * events go on in order and the new event is judged again on its own, since
 * it may start a chord itself.  See hotkey.h. */
#include "config.h"

#include <string.h>

#include "rshare/error.h"

#include "hotkey.h"

enum verdict { DEAD = 0, POSSIBLE = 1, COMPLETE = 2 };

static int mod_slot(uint16_t code);
static uint32_t mods_of_slots(uint32_t slots);
static enum verdict judge(const struct rs_kvm_hotkey *hk, const struct rs_kvm_chord *c,
                          const struct rs_kvm_event *seq, uint32_t n, uint64_t since,
                          uint64_t now);
static bool try_start(struct rs_kvm_hotkey *hk, const struct rs_kvm_event *ev, uint64_t now,
                      struct rs_kvm_hotkey_out *out);
static void fire(struct rs_kvm_hotkey *hk, const struct rs_kvm_chord *c,
                 const struct rs_kvm_event *ev, struct rs_kvm_hotkey_out *out);
static void emit(struct rs_kvm_hotkey_out *out, const struct rs_kvm_event *ev);

static const uint16_t modifier_keys[8] = {KEY_LEFTCTRL, KEY_RIGHTCTRL, KEY_LEFTSHIFT,
                                          KEY_RIGHTSHIFT, KEY_LEFTALT, KEY_RIGHTALT,
                                          KEY_LEFTMETA, KEY_RIGHTMETA};
static const uint32_t modifier_kinds[8] = {RS_KVM_MOD_CTRL, RS_KVM_MOD_CTRL, RS_KVM_MOD_SHIFT,
                                           RS_KVM_MOD_SHIFT, RS_KVM_MOD_ALT, RS_KVM_MOD_ALT,
                                           RS_KVM_MOD_META, RS_KVM_MOD_META};

int rs_kvm_hotkey_init(struct rs_kvm_hotkey *hk, const struct rs_kvm_chord *chords,
                       uint32_t count)
{
    if (!hk || (count && !chords) || count > RS_KVM_HOTKEY_MAX_CHORDS)
        return RSHARE_EINVAL;
    memset(hk, 0, sizeof(*hk));
    for (uint32_t i = 0; i < count; i++) {
        const struct rs_kvm_chord *c = &chords[i];
        if (c->key >= RS_KVM_KEY_COUNT || c->window_us == 0)
            return RSHARE_EINVAL;
        if (c->action < RS_KVM_ACTION_NEXT || c->action > RS_KVM_ACTION_LOCK_TOGGLE)
            return RSHARE_EINVAL;
        if (c->action == RS_KVM_ACTION_JUMP && c->target >= RS_KVM_MAX_TARGETS)
            return RSHARE_EINVAL;
        if (c->kind == RS_KVM_CHORD_COMBO) {
            /* A modifier as trigger would make "Ctrl+Alt" ambiguous with
             * the start of every other Ctrl+Alt chord. */
            if (rs_kvm_hotkey_mod_of(c->key) || (c->mods & ~0xfu))
                return RSHARE_EINVAL;
        } else if (c->kind == RS_KVM_CHORD_DOUBLE_TAP) {
            if (c->mods)
                return RSHARE_EINVAL;
        } else {
            return RSHARE_EINVAL;
        }
        hk->chords[i] = *c;
    }
    hk->chord_count = count;
    return 0;
}

void rs_kvm_hotkey_feed(struct rs_kvm_hotkey *hk, const struct rs_kvm_event *ev, uint64_t now_us,
                        struct rs_kvm_hotkey_out *out)
{
    memset(out, 0, sizeof(*out));
    if (hk->pending_count && now_us > hk->deadline)
        rs_kvm_hotkey_flush(hk, out);
    if (ev->type != EV_KEY || (ev->value != 0 && ev->value != 1) ||
        ev->code >= RS_KVM_KEY_COUNT) {
        /* Anything else between the keys of a chord (a click, motion, a
         * wheel turn) means the user is not typing a hotkey; passing the
         * held keys first keeps e.g. Ctrl+click intact. */
        rs_kvm_hotkey_flush(hk, out);
        emit(out, ev);
        return;
    }
    int slot = mod_slot(ev->code);
    if (slot >= 0) {
        if (ev->value)
            hk->mods_held |= 1u << slot;
        else
            hk->mods_held &= ~(1u << slot);
    }
    if (ev->value == 0 && rs_kvm_keyset_has(&hk->swallow, ev->code)) {
        rs_kvm_keyset_put(&hk->swallow, ev->code, false);
        return; /* the release of a chord key: it was never pressed anywhere */
    }
    if (hk->pending_count) {
        struct rs_kvm_event seq[RS_KVM_HOTKEY_MAX_PENDING + 1];
        uint32_t n = hk->pending_count;
        memcpy(seq, hk->pending, n * sizeof(seq[0]));
        seq[n++] = *ev;
        uint64_t deadline = 0;
        bool possible = false;
        for (uint32_t i = 0; i < hk->chord_count; i++) {
            const struct rs_kvm_chord *c = &hk->chords[i];
            enum verdict v = judge(hk, c, seq, n, hk->pending_since, now_us);
            if (v == COMPLETE) {
                fire(hk, c, ev, out);
                return;
            }
            if (v == POSSIBLE) {
                possible = true;
                if (hk->pending_since + c->window_us > deadline)
                    deadline = hk->pending_since + c->window_us;
            }
        }
        if (possible && n <= RS_KVM_HOTKEY_MAX_PENDING) {
            hk->pending[hk->pending_count++] = *ev;
            hk->deadline = deadline;
            return;
        }
        rs_kvm_hotkey_flush(hk, out);
    }
    if (!try_start(hk, ev, now_us, out))
        emit(out, ev);
}

void rs_kvm_hotkey_tick(struct rs_kvm_hotkey *hk, uint64_t now_us, struct rs_kvm_hotkey_out *out)
{
    memset(out, 0, sizeof(*out));
    if (hk->pending_count && now_us > hk->deadline)
        rs_kvm_hotkey_flush(hk, out);
}

void rs_kvm_hotkey_flush(struct rs_kvm_hotkey *hk, struct rs_kvm_hotkey_out *out)
{
    for (uint32_t i = 0; i < hk->pending_count; i++)
        emit(out, &hk->pending[i]);
    hk->pending_count = 0;
}

bool rs_kvm_hotkey_swallowing(const struct rs_kvm_hotkey *hk, uint16_t code)
{
    return rs_kvm_keyset_has(&hk->swallow, code);
}

uint32_t rs_kvm_hotkey_mod_of(uint16_t code)
{
    int slot = mod_slot(code);
    return slot < 0 ? 0 : modifier_kinds[slot];
}

/* With nothing held back: does `ev` alone fire a chord, or start one? */
static bool try_start(struct rs_kvm_hotkey *hk, const struct rs_kvm_event *ev, uint64_t now,
                      struct rs_kvm_hotkey_out *out)
{
    uint64_t deadline = 0;
    bool possible = false;
    for (uint32_t i = 0; i < hk->chord_count; i++) {
        const struct rs_kvm_chord *c = &hk->chords[i];
        enum verdict v = judge(hk, c, ev, 1, now, now);
        if (v == COMPLETE) {
            fire(hk, c, ev, out);
            return true;
        }
        if (v == POSSIBLE) {
            possible = true;
            if (now + c->window_us > deadline)
                deadline = now + c->window_us;
        }
    }
    if (!possible)
        return false;
    hk->pending[0] = *ev;
    hk->pending_count = 1;
    hk->pending_since = now;
    hk->deadline = deadline;
    return true;
}

static enum verdict judge(const struct rs_kvm_hotkey *hk, const struct rs_kvm_chord *c,
                          const struct rs_kvm_event *seq, uint32_t n, uint64_t since,
                          uint64_t now)
{
    if (c->kind == RS_KVM_CHORD_DOUBLE_TAP) {
        static const int32_t pattern[3] = {1, 0, 1};
        if (n > 3 || now - since > c->window_us)
            return DEAD;
        for (uint32_t i = 0; i < n; i++) {
            if (seq[i].code != c->key || seq[i].value != pattern[i])
                return DEAD;
        }
        return n == 3 ? COMPLETE : POSSIBLE;
    }
    /* COMBO: everything held back is a press of one of the chord's
     * modifiers, and no modifier outside the chord is down (Ctrl+Alt+Shift+1
     * is not Ctrl+Alt+1). */
    uint32_t held = mods_of_slots(hk->mods_held);
    if (held & ~c->mods)
        return DEAD;
    for (uint32_t i = 0; i + 1 < n; i++) {
        uint32_t m = rs_kvm_hotkey_mod_of(seq[i].code);
        if (seq[i].value != 1 || !m || (m & ~c->mods))
            return DEAD;
    }
    const struct rs_kvm_event *last = &seq[n - 1];
    if (last->value != 1)
        return DEAD;
    if (last->code == c->key)
        return held == c->mods ? COMPLETE : DEAD;
    uint32_t m = rs_kvm_hotkey_mod_of(last->code);
    if (m && !(m & ~c->mods))
        return POSSIBLE;
    return DEAD;
}

/* The chord's events are consumed: the held-back ones are dropped, and every
 * key among them (and `ev`) that is still down has its release swallowed. */
static void fire(struct rs_kvm_hotkey *hk, const struct rs_kvm_chord *c,
                 const struct rs_kvm_event *ev, struct rs_kvm_hotkey_out *out)
{
    for (uint32_t i = 0; i < hk->pending_count; i++)
        rs_kvm_keyset_put(&hk->swallow, hk->pending[i].code, hk->pending[i].value == 1);
    rs_kvm_keyset_put(&hk->swallow, ev->code, ev->value == 1);
    hk->pending_count = 0;
    out->action = c->action;
    out->target = c->target;
}

static void emit(struct rs_kvm_hotkey_out *out, const struct rs_kvm_event *ev)
{
    out->events[out->count++] = *ev;
}

uint32_t rs_kvm_hotkey_mods_in(const struct rs_kvm_keyset *keys)
{
    uint32_t m = 0;
    for (int i = 0; i < 8; i++) {
        if (rs_kvm_keyset_has(keys, modifier_keys[i]))
            m |= modifier_kinds[i];
    }
    return m;
}

static int mod_slot(uint16_t code)
{
    for (int i = 0; i < 8; i++) {
        if (modifier_keys[i] == code)
            return i;
    }
    return -1;
}

static uint32_t mods_of_slots(uint32_t slots)
{
    uint32_t m = 0;
    for (int i = 0; i < 8; i++) {
        if (slots & (1u << i))
            m |= modifier_kinds[i];
    }
    return m;
}
