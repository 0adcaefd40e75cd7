/* rshare core — reference-counted byte buffers, big ones kept for reuse
 * (shared.h). */
#include "config.h"

#include <stdalign.h>
#include <stddef.h>

#include "shared.h"

/* The count and the capacity sit in front of the data, padded to malloc's
 * alignment.  A spare's first bytes of data link it to the next spare. */
struct rs_shared_head {
    alignas(max_align_t) size_t refs;
    size_t cap;
    uint64_t released_us; /* a spare: when its last reference went */
};

static struct rs_shared_head *head_of(uint8_t *buf)
{
    return (struct rs_shared_head *)(void *)(buf - sizeof(struct rs_shared_head));
}

static struct rs_shared_head **next_of(struct rs_shared_head *h)
{
    return (struct rs_shared_head **)(void *)(h + 1);
}

/* Take the spare at `*pp` off the list. */
static struct rs_shared_head *unlink_spare(struct rs_core *core, struct rs_shared_head **pp)
{
    struct rs_shared_head *h = *pp;
    *pp = *next_of(h);
    core->spare_count--;
    core->spare_bytes -= h->cap;
    return h;
}

/* The most recently released spare that holds `len` bytes without wasting
 * more than as much again; taken off the list. */
static struct rs_shared_head *take_spare(struct rs_core *core, size_t len)
{
    for (struct rs_shared_head **pp = &core->spares; *pp; pp = next_of(*pp))
        if ((*pp)->cap >= len && (*pp)->cap / 2 <= len)
            return unlink_spare(core, pp);
    return NULL;
}

uint8_t *rs_shared_alloc(rshare_node *node, size_t len)
{
    struct rs_core *core = rs_core(node);
    size_t cap = len;
    if (len >= RS_SHARED_KEEP_MIN) {
        struct rs_shared_head *h = take_spare(core, len);
        if (h) {
            h->refs = 1;
            return (uint8_t *)(h + 1);
        }
        /* Whole units, so that the next message of about the same size
         * fits this one when it is a spare. */
        if (len <= SIZE_MAX - RS_SHARED_KEEP_MIN)
            cap = (len + RS_SHARED_KEEP_MIN - 1) / RS_SHARED_KEEP_MIN * RS_SHARED_KEEP_MIN;
    }
    if (cap > SIZE_MAX - sizeof(struct rs_shared_head))
        return NULL;
    struct rs_shared_head *h = rs_malloc(node, sizeof(*h) + cap);
    if (!h)
        return NULL;
    h->refs = 1;
    h->cap = cap;
    return (uint8_t *)(h + 1);
}

uint8_t *rs_shared_ref(uint8_t *buf)
{
    head_of(buf)->refs++;
    return buf;
}

static void drop(struct rs_core *core, rshare_node *node, struct rs_shared_head **pp)
{
    rs_free(node, unlink_spare(core, pp));
}

/* Free the spares that waited RS_SHARED_KEEP_US; wake again for the next. */
static void spares_expire(rshare_node *node, struct rs_timer *timer)
{
    (void)timer;
    struct rs_core *core = rs_core(node);
    uint64_t now = rs_now_us(node), oldest = UINT64_MAX;
    for (struct rs_shared_head **pp = &core->spares; *pp;) {
        if ((*pp)->released_us + RS_SHARED_KEEP_US <= now) {
            drop(core, node, pp);
        } else {
            oldest = (*pp)->released_us < oldest ? (*pp)->released_us : oldest;
            pp = next_of(*pp);
        }
    }
    if (core->spares)
        rs_timer_schedule(node, &core->spare_timer, oldest + RS_SHARED_KEEP_US);
}

void rs_shared_unref(rshare_node *node, uint8_t *buf)
{
    if (!buf)
        return;
    struct rs_shared_head *h = head_of(buf);
    if (--h->refs)
        return;
    struct rs_core *core = rs_core(node);
    if (h->cap < RS_SHARED_KEEP_MIN || h->cap > RS_SHARED_KEEP_BYTES) {
        rs_free(node, h);
        return;
    }
    h->released_us = rs_now_us(node);
    *next_of(h) = core->spares;
    core->spares = h;
    core->spare_count++;
    core->spare_bytes += h->cap;
    /* Over the limits: drop the least recently released. */
    while (core->spare_count > RS_SHARED_KEEP_COUNT || core->spare_bytes > RS_SHARED_KEEP_BYTES) {
        struct rs_shared_head **pp = &core->spares;
        while (*next_of(*pp))
            pp = next_of(*pp);
        drop(core, node, pp);
    }
    if (!core->spare_timer.fire)
        rs_timer_init(&core->spare_timer, spares_expire);
    if (!rs_timer_pending(&core->spare_timer))
        rs_timer_schedule(node, &core->spare_timer, h->released_us + RS_SHARED_KEEP_US);
}

void rs_shared_drain(rshare_node *node)
{
    struct rs_core *core = rs_core(node);
    if (rs_timer_pending(&core->spare_timer))
        rs_timer_cancel(node, &core->spare_timer);
    while (core->spares)
        drop(core, node, &core->spares);
}
