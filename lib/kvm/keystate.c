/* rshare kvm — key state: the host's and each target's pressed keys as
 * bitmaps; see keystate.h for the forwarding rules. */
#include "config.h"

#include <string.h>

#include "keystate.h"

static size_t release_where(struct rs_kvm_keyset *target, const struct rs_kvm_keyset *keep,
                            struct rs_kvm_event *out);

void rs_kvm_keystate_init(struct rs_kvm_keystate *ks)
{
    memset(ks, 0, sizeof(*ks));
}

bool rs_kvm_keystate_key(struct rs_kvm_keystate *ks, uint32_t target, uint16_t code,
                         int32_t value)
{
    if (code >= RS_KVM_KEY_COUNT)
        return false;
    struct rs_kvm_keyset *t = target < RS_KVM_MAX_TARGETS ? &ks->target[target] : NULL;
    if (value == 1) {
        /* A press of a key already down on the host is a duplicate (or the
         * host record was seeded by sync_host): the target either has it
         * already or must not get it, because its release may go elsewhere. */
        bool fresh = !rs_kvm_keyset_has(&ks->host, code);
        rs_kvm_keyset_put(&ks->host, code, true);
        if (!fresh || !t || rs_kvm_keyset_has(t, code))
            return false;
        rs_kvm_keyset_put(t, code, true);
        return true;
    }
    if (value == 0) {
        rs_kvm_keyset_put(&ks->host, code, false);
        /* Only the target that saw the press gets the release; anyone else
         * would see a release of a key it never had. */
        if (!t || !rs_kvm_keyset_has(t, code))
            return false;
        rs_kvm_keyset_put(t, code, false);
        return true;
    }
    return false; /* autorepeat and nonsense values: targets repeat by themselves */
}

size_t rs_kvm_keystate_release_all(struct rs_kvm_keystate *ks, uint32_t target,
                                   struct rs_kvm_event *out)
{
    if (target >= RS_KVM_MAX_TARGETS)
        return 0;
    return release_where(&ks->target[target], NULL, out);
}

size_t rs_kvm_keystate_sync_host(struct rs_kvm_keystate *ks, uint32_t target,
                                 const struct rs_kvm_keyset *held, struct rs_kvm_event *out)
{
    ks->host = *held;
    if (target >= RS_KVM_MAX_TARGETS)
        return 0;
    return release_where(&ks->target[target], held, out);
}

bool rs_kvm_keystate_pressed(const struct rs_kvm_keystate *ks, uint32_t target, uint16_t code)
{
    return target < RS_KVM_MAX_TARGETS && rs_kvm_keyset_has(&ks->target[target], code);
}

bool rs_kvm_keystate_host_held(const struct rs_kvm_keystate *ks, uint16_t code)
{
    return rs_kvm_keyset_has(&ks->host, code);
}

bool rs_kvm_keystate_suppressed(const struct rs_kvm_keystate *ks, uint32_t target,
                                uint16_t code)
{
    return rs_kvm_keystate_host_held(ks, code) && !rs_kvm_keystate_pressed(ks, target, code);
}

size_t rs_kvm_keystate_count(const struct rs_kvm_keystate *ks, uint32_t target)
{
    if (target >= RS_KVM_MAX_TARGETS)
        return 0;
    size_t n = 0;
    for (size_t w = 0; w < RS_KVM_KEY_WORDS; w++)
        n += (size_t)__builtin_popcountll(ks->target[target].bits[w]);
    return n;
}

/* Releases every key of `target` not in `keep` (NULL: none kept), in
 * ascending code order so that the output is deterministic (golden tests). */
static size_t release_where(struct rs_kvm_keyset *target, const struct rs_kvm_keyset *keep,
                            struct rs_kvm_event *out)
{
    size_t n = 0;
    for (size_t w = 0; w < RS_KVM_KEY_WORDS; w++) {
        uint64_t drop = target->bits[w] & ~(keep ? keep->bits[w] : 0);
        target->bits[w] &= ~drop;
        while (drop) {
            unsigned bit = (unsigned)__builtin_ctzll(drop);
            drop &= drop - 1;
            out[n].type = EV_KEY;
            out[n].code = (uint16_t)(w * 64 + bit);
            out[n].value = 0;
            n++;
        }
    }
    return n;
}
