/* rshare kvm — switching focus by screen edge: the neighbour across a
 * pushed side, the vetoes and the confirmations.  See edge.h. */
#include "config.h"

#include <string.h>

#include "edge.h"

static bool neighbour(const struct rs_kvm_pointers *p, uint32_t focus, uint32_t side,
                      uint32_t up, struct rs_kvm_edge_entry *entry);
static bool vetoed(const struct rs_kvm_edge *e, const struct rs_kvm_pointers *p, uint32_t focus,
                   uint32_t side, const struct rs_kvm_edge_host *host);

/* Sides in the order a push on two of them (a corner) is tried. */
static const uint32_t sides[4] = {RS_KVM_SIDE_LEFT, RS_KVM_SIDE_RIGHT, RS_KVM_SIDE_TOP,
                                  RS_KVM_SIDE_BOTTOM};

void rs_kvm_edge_init(struct rs_kvm_edge *e)
{
    memset(e, 0, sizeof(*e));
}

void rs_kvm_edge_set(struct rs_kvm_edge *e, const struct rs_kvm_edge_guards *guards)
{
    rs_kvm_edge_init(e);
    if (!guards)
        return;
    e->guards = *guards;
    e->enabled = true;
}

void rs_kvm_edge_reset(struct rs_kvm_edge *e)
{
    e->press = 0;
    e->tap = 0;
    e->tap_left = false;
}

bool rs_kvm_edge_frame(struct rs_kvm_edge *e, struct rs_kvm_pointers *p, uint32_t focus,
                       uint32_t pushed, const struct rs_kvm_edge_host *host, uint64_t now_us,
                       struct rs_kvm_edge_entry *entry)
{
    if (!e->enabled || !rs_kvm_pointer_has(p, focus))
        return false;
    /* Moving off a side ends its press and makes a second tap possible. */
    if (e->press && !rs_kvm_pointer_at_side(p, focus, e->press))
        e->press = 0;
    if (e->tap && !rs_kvm_pointer_at_side(p, focus, e->tap))
        e->tap_left = true;
    if (!pushed)
        return false;
    uint32_t side = 0;
    for (int i = 0; i < 4 && !side; i++) {
        if (pushed & sides[i] && neighbour(p, focus, sides[i], host->up, entry))
            side = sides[i];
    }
    if (!side || vetoed(e, p, focus, side, host)) {
        e->press = 0; /* a wall, or not allowed: the delay starts again */
        return false;
    }
    bool hit = e->press != side || now_us - e->press_last > RS_KVM_EDGE_GAP_US;
    if (hit) {
        e->press = side;
        e->press_since = now_us;
    }
    e->press_last = now_us;
    const struct rs_kvm_edge_guards *g = &e->guards;
    bool go = !g->delay_us && !g->tap_us;
    if (g->delay_us && now_us - e->press_since >= g->delay_us)
        go = true;
    if (g->tap_us && hit) {
        if (e->tap == side && e->tap_left && now_us - e->tap_at <= g->tap_us) {
            go = true;
        } else {
            e->tap = side;
            e->tap_at = now_us;
            e->tap_left = false;
        }
    }
    if (!go)
        return false;
    rs_kvm_edge_reset(e);
    rs_kvm_pointer_place(p, entry->target, entry->x, entry->y);
    return true;
}

/* The display (up, other than `focus`) holding the layout pixel just past
 * `side` of the focused pointer, and the pointer's place in it. */
static bool neighbour(const struct rs_kvm_pointers *p, uint32_t focus, uint32_t side,
                      uint32_t up, struct rs_kvm_edge_entry *entry)
{
    const struct rs_kvm_display *d = &p->displays[focus];
    const struct rs_kvm_pointer_pos *pos = &p->pos[focus];
    int64_t lx = (int64_t)d->x + pos->x, ly = (int64_t)d->y + pos->y;
    switch (side) {
    case RS_KVM_SIDE_LEFT:
        lx = (int64_t)d->x - 1;
        break;
    case RS_KVM_SIDE_RIGHT:
        lx = (int64_t)d->x + d->width;
        break;
    case RS_KVM_SIDE_TOP:
        ly = (int64_t)d->y - 1;
        break;
    default:
        ly = (int64_t)d->y + d->height;
        break;
    }
    for (uint32_t i = 0; i < RS_KVM_MAX_TARGETS; i++) {
        const struct rs_kvm_display *n = &p->displays[i];
        if (i == focus || !n->width || !(up & (1u << i)))
            continue;
        if (lx < n->x || lx >= (int64_t)n->x + n->width || ly < n->y ||
            ly >= (int64_t)n->y + n->height)
            continue;
        entry->target = i;
        entry->x = (int32_t)(lx - n->x);
        entry->y = (int32_t)(ly - n->y);
        entry->abs_x = rs_kvm_pointer_to_abs(entry->x, n->width);
        entry->abs_y = rs_kvm_pointer_to_abs(entry->y, n->height);
        return true;
    }
    return false;
}

static bool vetoed(const struct rs_kvm_edge *e, const struct rs_kvm_pointers *p, uint32_t focus,
                   uint32_t side, const struct rs_kvm_edge_host *host)
{
    const struct rs_kvm_edge_guards *g = &e->guards;
    if (host->locked || host->buttons || (host->mods & g->mods) != g->mods)
        return true;
    /* Dead corners: the position along the side, from either end. */
    const struct rs_kvm_display *d = &p->displays[focus];
    bool vertical_side = side == RS_KVM_SIDE_LEFT || side == RS_KVM_SIDE_RIGHT;
    int64_t along = vertical_side ? p->pos[focus].y : p->pos[focus].x;
    int64_t len = vertical_side ? d->height : d->width;
    return along < (int64_t)g->corner || along > len - 1 - (int64_t)g->corner;
}
