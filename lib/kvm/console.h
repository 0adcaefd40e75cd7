/* rshare kvm — focus as a lease (doc/KVM.md, "Focus as a lease").  A
 * target's console (its display resource) is leased exclusively to the host
 * that has focus on it: the host takes the lease when focus arrives, renews
 * it while focus stays, and gives it back when focus leaves; the target
 * accepts input only from the holder its copy of the map names.  Several
 * hosts can then share targets without two of them typing into one. */
#ifndef RSHARE_KVM_CONSOLE_H
#define RSHARE_KVM_CONSOLE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"
#include "keystate.h"

struct rs_kvm_console_ticket; /* an access request in flight */

/* What the host holds of one target's console. */
struct rs_kvm_console_slot {
    uint64_t resource; /* 0: the target is not leased */
    uint64_t lease;    /* id while held */
    bool wanted;       /* focus is on this target */
    bool asking;       /* an acquire, renewal or release is in flight */
    uint64_t next_us;  /* next renewal, or next try after a refusal */
};

struct rs_kvm_console {
    rshare_node *node;
    uint64_t lease_us;
    uint32_t count;
    struct rs_kvm_console_slot slot[RS_KVM_MAX_TARGETS];
    struct rs_kvm_console_ticket *tickets; /* orphaned at fini */
    uint64_t refused;  /* acquisitions refused (another host holds it) */
    void (*changed)(void *user_data); /* a lease came or went: re-plan timers */
    void *user_data;
};

/* Host side.  `resources` (NULL: none) is parallel to the targets. */
void rs_kvm_console_init(struct rs_kvm_console *c, rshare_node *node, const uint64_t *resources,
                         uint32_t count, uint32_t lease_ms);
/* Focus is now on target `index`: take its lease, give back the others. */
void rs_kvm_console_focus(struct rs_kvm_console *c, uint32_t index);
/* Renewals and retries due at `now`; the next deadline (UINT64_MAX: none). */
uint64_t rs_kvm_console_tick(struct rs_kvm_console *c, uint64_t now);
/* Give back what is held; requests in flight finish without it. */
void rs_kvm_console_fini(struct rs_kvm_console *c);

/* Target side: the node holding the exclusive lease on `resource` in this
 * node's map, 0 when nobody does. */
uint32_t rs_kvm_console_holder(rshare_node *node, uint64_t resource);

#endif
