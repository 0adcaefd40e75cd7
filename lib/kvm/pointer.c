/* rshare kvm — the pointer on each target's display: scaling with the
 * remainder kept, clamping, pushes on the sides.  See pointer.h. */
#include "config.h"

#include <string.h>

#include "rshare/error.h"

#include "pointer.h"

static int32_t rel_move(int32_t *pos, int64_t *rem, int32_t value, uint32_t num, uint32_t den,
                        uint32_t len, uint32_t lo_side, uint32_t hi_side, uint32_t *pushed);
static bool overlap(const struct rs_kvm_display *a, const struct rs_kvm_display *b);

void rs_kvm_pointer_init(struct rs_kvm_pointers *p)
{
    memset(p, 0, sizeof(*p));
}

static bool display_ok(const struct rs_kvm_display *d)
{
    if (!d->width)
        return true;
    return d->width <= RS_KVM_DISPLAY_MAX_SIDE && d->height >= 1 &&
           d->height <= RS_KVM_DISPLAY_MAX_SIDE && d->x >= -RS_KVM_LAYOUT_MAX_COORD &&
           d->x <= RS_KVM_LAYOUT_MAX_COORD && d->y >= -RS_KVM_LAYOUT_MAX_COORD &&
           d->y <= RS_KVM_LAYOUT_MAX_COORD && d->num_x >= 1 && d->num_x <= RS_KVM_SCALE_MAX &&
           d->den_x >= 1 && d->den_x <= RS_KVM_SCALE_MAX && d->num_y >= 1 &&
           d->num_y <= RS_KVM_SCALE_MAX && d->den_y >= 1 && d->den_y <= RS_KVM_SCALE_MAX;
}

int rs_kvm_pointer_set_layout(struct rs_kvm_pointers *p, const struct rs_kvm_display *displays,
                              uint32_t count)
{
    if (count > RS_KVM_MAX_TARGETS || (count && !displays))
        return RSHARE_EINVAL;
    for (uint32_t i = 0; i < count; i++) {
        if (!display_ok(&displays[i]))
            return RSHARE_EINVAL;
        for (uint32_t j = 0; j < i; j++)
            if (overlap(&displays[i], &displays[j]))
                return RSHARE_EINVAL;
    }
    rs_kvm_pointer_init(p);
    for (uint32_t i = 0; i < count; i++) {
        p->displays[i] = displays[i];
        p->pos[i].x = (int32_t)(displays[i].width / 2);
        p->pos[i].y = (int32_t)(displays[i].height / 2);
    }
    return 0;
}

bool rs_kvm_pointer_has(const struct rs_kvm_pointers *p, uint32_t target)
{
    return target < RS_KVM_MAX_TARGETS && p->displays[target].width > 0;
}

bool rs_kvm_pointer_event(struct rs_kvm_pointers *p, uint32_t target, struct rs_kvm_event *ev)
{
    if (!rs_kvm_pointer_has(p, target))
        return true;
    const struct rs_kvm_display *d = &p->displays[target];
    struct rs_kvm_pointer_pos *pos = &p->pos[target];
    if (ev->type == EV_REL && (ev->code == REL_X || ev->code == REL_Y)) {
        bool horizontal = ev->code == REL_X;
        int32_t *at = horizontal ? &pos->x : &pos->y;
        int32_t was = *at;
        uint32_t len = horizontal ? d->width : d->height;
        if (horizontal)
            ev->value = rel_move(at, &pos->rem_x, ev->value, d->num_x, d->den_x, len,
                                 RS_KVM_SIDE_LEFT, RS_KVM_SIDE_RIGHT, &p->pushed);
        else
            ev->value = rel_move(at, &pos->rem_y, ev->value, d->num_y, d->den_y, len,
                                 RS_KVM_SIDE_TOP, RS_KVM_SIDE_BOTTOM, &p->pushed);
        if (!d->absolute)
            return ev->value != 0;
        *ev = (struct rs_kvm_event){.type = EV_ABS, .code = horizontal ? ABS_X : ABS_Y,
                                    .value = rs_kvm_pointer_to_abs(*at, len)};
        return *at != was;
    }
    if (ev->type == EV_ABS && (ev->code == ABS_X || ev->code == ABS_Y)) {
        bool horizontal = ev->code == ABS_X;
        uint32_t len = horizontal ? d->width : d->height;
        int32_t *at = horizontal ? &pos->x : &pos->y;
        *at = rs_kvm_pointer_from_abs(ev->value, len);
        /* An absolute pointer cannot go past the border: reaching it is
         * the push. */
        if (ev->value <= 0)
            p->pushed |= horizontal ? RS_KVM_SIDE_LEFT : RS_KVM_SIDE_TOP;
        else if (ev->value >= RS_KVM_ABS_MAX)
            p->pushed |= horizontal ? RS_KVM_SIDE_RIGHT : RS_KVM_SIDE_BOTTOM;
        if (horizontal)
            pos->rem_x = 0;
        else
            pos->rem_y = 0;
    }
    return true; /* wheels (1/120-detent units) and other axes as they are */
}

uint32_t rs_kvm_pointer_take_pushed(struct rs_kvm_pointers *p)
{
    uint32_t pushed = p->pushed;
    p->pushed = 0;
    return pushed;
}

bool rs_kvm_pointer_at_side(const struct rs_kvm_pointers *p, uint32_t target, uint32_t side)
{
    if (!rs_kvm_pointer_has(p, target))
        return false;
    const struct rs_kvm_display *d = &p->displays[target];
    const struct rs_kvm_pointer_pos *pos = &p->pos[target];
    switch (side) {
    case RS_KVM_SIDE_LEFT:
        return pos->x == 0;
    case RS_KVM_SIDE_RIGHT:
        return pos->x == (int32_t)d->width - 1;
    case RS_KVM_SIDE_TOP:
        return pos->y == 0;
    case RS_KVM_SIDE_BOTTOM:
        return pos->y == (int32_t)d->height - 1;
    default:
        return false;
    }
}

void rs_kvm_pointer_place(struct rs_kvm_pointers *p, uint32_t target, int32_t x, int32_t y)
{
    if (!rs_kvm_pointer_has(p, target))
        return;
    const struct rs_kvm_display *d = &p->displays[target];
    struct rs_kvm_pointer_pos *pos = &p->pos[target];
    pos->x = x < 0 ? 0 : x >= (int32_t)d->width ? (int32_t)d->width - 1 : x;
    pos->y = y < 0 ? 0 : y >= (int32_t)d->height ? (int32_t)d->height - 1 : y;
    pos->rem_x = pos->rem_y = 0;
}

int32_t rs_kvm_pointer_to_abs(int32_t px, uint32_t len)
{
    if (len <= 1 || px <= 0)
        return 0;
    if ((uint32_t)px >= len - 1)
        return RS_KVM_ABS_MAX;
    return (int32_t)(((int64_t)px * RS_KVM_ABS_MAX + (len - 1) / 2) / (len - 1));
}

int32_t rs_kvm_pointer_from_abs(int32_t abs, uint32_t len)
{
    if (len <= 1 || abs <= 0)
        return 0;
    if (abs >= RS_KVM_ABS_MAX)
        return (int32_t)len - 1;
    return (int32_t)(((int64_t)abs * (len - 1) + RS_KVM_ABS_MAX / 2) / RS_KVM_ABS_MAX);
}

/* Scales `value` by num/den with the remainder carried in `rem` (so the
 * sum of what is sent is always the exact scaled sum, truncated, never
 * drifting), moves `pos` on a side of `len` pixels and notes a push when
 * the motion goes past the first or last pixel. */
static int32_t rel_move(int32_t *pos, int64_t *rem, int32_t value, uint32_t num, uint32_t den,
                        uint32_t len, uint32_t lo_side, uint32_t hi_side, uint32_t *pushed)
{
    int64_t acc = *rem + (int64_t)value * num;
    int64_t out = acc / den;
    *rem = acc - out * den;
    int64_t to = (int64_t)*pos + out;
    if (value < 0 && (to < 0 || *pos == 0))
        *pushed |= lo_side;
    if (value > 0 && (to > (int64_t)len - 1 || *pos == (int32_t)len - 1))
        *pushed |= hi_side;
    *pos = (int32_t)(to < 0 ? 0 : to > (int64_t)len - 1 ? (int64_t)len - 1 : to);
    if (out > INT32_MAX)
        return INT32_MAX;
    if (out < INT32_MIN)
        return INT32_MIN;
    return (int32_t)out;
}

static bool overlap(const struct rs_kvm_display *a, const struct rs_kvm_display *b)
{
    if (!a->width || !b->width)
        return false;
    return (int64_t)a->x < (int64_t)b->x + b->width && (int64_t)b->x < (int64_t)a->x + a->width &&
           (int64_t)a->y < (int64_t)b->y + b->height && (int64_t)b->y < (int64_t)a->y + a->height;
}
