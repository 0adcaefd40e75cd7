/* rshare kvm — the pointer on each target's display: where it is (in that
 * display's pixels) and how the host's motion becomes the target's.
 *
 *  - Relative motion (REL_X, REL_Y) is multiplied by num/den per axis; the
 *    part below one unit is kept and added to the next event, so that any
 *    number of small moves adds up exactly (no drift).  The position moves
 *    by the scaled amount and stays on the display (clamped).
 *    On an `absolute` display the event leaves as the new position
 *    (ABS_X, ABS_Y), and not at all when the position did not change.
 *  - Absolute motion (ABS_X, ABS_Y, 0..32767) already says "this far across
 *    the display": it travels unchanged and sets the position.
 *  - Wheels and every other axis travel unchanged (wheels stay in their
 *    1/120-detent units).
 *
 * A motion that would take the pointer past a side of its display (or an
 * absolute one that puts it on the border) is a push on that side; the
 * frame's pushes are what edge.h judges.  A target without a display is
 * passed through untouched and never pushes.  Pure arithmetic: no time, no
 * I/O. */
#ifndef RSHARE_KVM_POINTER_H
#define RSHARE_KVM_POINTER_H

#include <stdbool.h>
#include <stdint.h>

#include "event.h"
#include "keystate.h"

#define RS_KVM_ABS_MAX 32767
/* Bounds of a layout: sums of positions and sizes never overflow. */
#define RS_KVM_DISPLAY_MAX_SIDE 32768
#define RS_KVM_LAYOUT_MAX_COORD (1 << 24)
#define RS_KVM_SCALE_MAX 1000000u

/* Sides of a display, as bits (a frame may push two at a corner). */
#define RS_KVM_SIDE_LEFT 0x1u
#define RS_KVM_SIDE_RIGHT 0x2u
#define RS_KVM_SIDE_TOP 0x4u
#define RS_KVM_SIDE_BOTTOM 0x8u

/* One target's display: a rectangle of the layout, in pixels (y grows
 * downwards), and its relative-motion factors.  width 0: no display. */
struct rs_kvm_display {
    int32_t x, y;
    uint32_t width, height;
    uint32_t num_x, den_x, num_y, den_y; /* > 0 when width > 0 */
    bool absolute; /* relative motion leaves as the new absolute position */
};

struct rs_kvm_pointer_pos {
    int32_t x, y;         /* pixels, inside the display */
    int64_t rem_x, rem_y; /* scaled motion not yet sent, in 1/den units */
};

struct rs_kvm_pointers {
    struct rs_kvm_display displays[RS_KVM_MAX_TARGETS];
    struct rs_kvm_pointer_pos pos[RS_KVM_MAX_TARGETS];
    uint32_t pushed; /* RS_KVM_SIDE_* pushed by the focused pointer in this frame */
};

/* No display anywhere: everything passes through. */
void rs_kvm_pointer_init(struct rs_kvm_pointers *p);

/* Installs `count` displays (by target index; width 0 for a target
 * without one) and puts each pointer in the middle of its display.
 * RSHARE_EINVAL for a size, position or factor out of bounds or for two
 * displays that overlap; nothing changes then. */
int rs_kvm_pointer_set_layout(struct rs_kvm_pointers *p, const struct rs_kvm_display *displays,
                              uint32_t count);

bool rs_kvm_pointer_has(const struct rs_kvm_pointers *p, uint32_t target);

/* One motion event going to `target` (the focused one): scales it in place
 * and moves the pointer.  False when nothing is left to send (motion
 * scaled below one unit, kept for later). */
bool rs_kvm_pointer_event(struct rs_kvm_pointers *p, uint32_t target, struct rs_kvm_event *ev);

/* The sides pushed since the last call (the frame just ended). */
uint32_t rs_kvm_pointer_take_pushed(struct rs_kvm_pointers *p);

/* Whether the pointer of `target` touches `side` (one RS_KVM_SIDE_*). */
bool rs_kvm_pointer_at_side(const struct rs_kvm_pointers *p, uint32_t target, uint32_t side);

/* Places the pointer of `target` at a pixel of its display (clamped) and
 * forgets its remainders: it was warped there. */
void rs_kvm_pointer_place(struct rs_kvm_pointers *p, uint32_t target, int32_t x, int32_t y);

/* Pixel <-> absolute coordinate on a side of `len` pixels: 0 is the first
 * pixel, 32767 the last, rounded to the nearest. */
int32_t rs_kvm_pointer_to_abs(int32_t px, uint32_t len);
int32_t rs_kvm_pointer_from_abs(int32_t abs, uint32_t len);

#endif
