/* rshare kvm — switching focus by screen edge.  The displays of
 * pointer.h are rectangles of one layout; pushing the pointer past a side
 * of the focused display moves focus to the display on the other side of
 * that border, and the pointer enters it at the same point of the layout.
 * No display there (or one whose link is down) is a wall.
 *
 * Guards (doc/KVM.md, "Screen edges"):
 *  - vetoes, all of which must pass on every push: focus not locked, no
 *    mouse button held on the host, the `mods` kinds held, the pointer at
 *    least `corner` pixels away from both ends of the side;
 *  - confirmations, one of which must happen (none configured: the first
 *    push switches): the pointer pushed against the same side for
 *    `delay_us` (pushes no more than RS_KVM_EDGE_GAP_US apart), or hitting
 *    the side twice within `tap_us`, leaving it in between.
 * A vetoed push ends the press, so the delay counts from the first push
 * that passes every veto.  Time is passed in. */
#ifndef RSHARE_KVM_EDGE_H
#define RSHARE_KVM_EDGE_H

#include <stdbool.h>
#include <stdint.h>

#include "pointer.h"

/* Pushes further apart than this are two presses, not one. */
#define RS_KVM_EDGE_GAP_US 200000u

struct rs_kvm_edge_guards {
    uint64_t delay_us; /* 0: no delay confirmation */
    uint64_t tap_us;   /* 0: no double-tap confirmation */
    uint32_t corner;   /* pixels at each end of a side that never switch */
    uint32_t mods;     /* enum rs_kvm_mod kinds that must be held */
};

/* What the host looks like at the end of a frame. */
struct rs_kvm_edge_host {
    uint32_t mods;  /* enum rs_kvm_mod kinds held */
    bool buttons;   /* a mouse button is held */
    bool locked;    /* focus is locked */
    uint32_t up;    /* bit per target whose link is up */
};

/* Where focus goes: `target`, whose pointer is now at (x, y) pixels, the
 * absolute coordinates to warp it there. */
struct rs_kvm_edge_entry {
    uint32_t target;
    int32_t x, y;
    int32_t abs_x, abs_y;
};

struct rs_kvm_edge {
    struct rs_kvm_edge_guards guards;
    bool enabled;
    uint32_t press;      /* RS_KVM_SIDE_* pressed now, 0: none */
    uint64_t press_since, press_last;
    uint32_t tap;        /* side of the first hit of a possible double tap */
    uint64_t tap_at;
    bool tap_left;       /* the pointer left that side since */
};

/* Off until rs_kvm_edge_set(). */
void rs_kvm_edge_init(struct rs_kvm_edge *e);
/* Guards to use (NULL: switching by edge off). */
void rs_kvm_edge_set(struct rs_kvm_edge *e, const struct rs_kvm_edge_guards *guards);

/* The end of a frame on `focus` that pushed `pushed` sides: true when
 * focus must go to `entry->target` (the pointer there is already placed). */
bool rs_kvm_edge_frame(struct rs_kvm_edge *e, struct rs_kvm_pointers *p, uint32_t focus,
                       uint32_t pushed, const struct rs_kvm_edge_host *host, uint64_t now_us,
                       struct rs_kvm_edge_entry *entry);

/* Focus moved (by any means): a press or tap in progress is forgotten. */
void rs_kvm_edge_reset(struct rs_kvm_edge *e);

#endif
