/* rshare core — timers: a binary min-heap of deadlines owned by the node.
 * A timer is embedded in its owner; scheduling never allocates except to
 * grow the heap array. */
#ifndef RSHARE_TIMER_H
#define RSHARE_TIMER_H

#include <stddef.h>
#include <stdint.h>

typedef struct rshare_node rshare_node;
struct rs_timer;
typedef void (*rs_timer_fn)(rshare_node *node, struct rs_timer *timer);

struct rs_timer {
    uint64_t at_us;
    size_t heap_index; /* position + 1 in the heap, 0 when not scheduled */
    uint64_t order;    /* insertion order: equal deadlines fire FIFO */
    rs_timer_fn fire;
};

struct rs_timer_heap {
    struct rs_timer **items;
    size_t count, capacity;
    uint64_t next_order;
};

static inline void rs_timer_init(struct rs_timer *timer, rs_timer_fn fire)
{
    timer->at_us = 0;
    timer->heap_index = 0;
    timer->order = 0;
    timer->fire = fire;
}

static inline int rs_timer_pending(const struct rs_timer *timer)
{
    return timer->heap_index != 0;
}

/* Heap operations; `grow` reallocates the item array (returns NULL on failure). */
typedef void *(*rs_heap_realloc_fn)(void *ctx, void *ptr, size_t size);
int rs_timer_heap_push(struct rs_timer_heap *heap, struct rs_timer *timer,
                       rs_heap_realloc_fn grow, void *ctx);
void rs_timer_heap_remove(struct rs_timer_heap *heap, struct rs_timer *timer);
struct rs_timer *rs_timer_heap_top(const struct rs_timer_heap *heap);

#endif
