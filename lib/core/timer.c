/* rshare core — the timer heap.  Ordered by deadline, then by insertion so
 * that timers due at the same instant fire in the order they were set (the
 * simulation depends on that for reproducibility). */
#include "config.h"

#include "timer.h"

#include "rshare/error.h"

static int timer_before(const struct rs_timer *a, const struct rs_timer *b)
{
    if (a->at_us != b->at_us)
        return a->at_us < b->at_us;
    return a->order < b->order;
}

static void heap_set(struct rs_timer_heap *heap, size_t i, struct rs_timer *t)
{
    heap->items[i] = t;
    t->heap_index = i + 1;
}

static void sift_up(struct rs_timer_heap *heap, size_t i)
{
    struct rs_timer *t = heap->items[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!timer_before(t, heap->items[parent]))
            break;
        heap_set(heap, i, heap->items[parent]);
        i = parent;
    }
    heap_set(heap, i, t);
}

static void sift_down(struct rs_timer_heap *heap, size_t i)
{
    struct rs_timer *t = heap->items[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= heap->count)
            break;
        if (child + 1 < heap->count && timer_before(heap->items[child + 1], heap->items[child]))
            child++;
        if (!timer_before(heap->items[child], t))
            break;
        heap_set(heap, i, heap->items[child]);
        i = child;
    }
    heap_set(heap, i, t);
}

int rs_timer_heap_push(struct rs_timer_heap *heap, struct rs_timer *timer,
                       rs_heap_realloc_fn grow, void *ctx)
{
    if (heap->count == heap->capacity) {
        size_t capacity = heap->capacity ? heap->capacity * 2 : 64;
        struct rs_timer **items = grow(ctx, heap->items, capacity * sizeof(*items));
        if (!items)
            return RSHARE_ENOMEM;
        heap->items = items;
        heap->capacity = capacity;
    }
    timer->order = heap->next_order++;
    heap->items[heap->count] = timer;
    timer->heap_index = ++heap->count;
    sift_up(heap, heap->count - 1);
    return 0;
}

void rs_timer_heap_remove(struct rs_timer_heap *heap, struct rs_timer *timer)
{
    if (!timer->heap_index)
        return;
    size_t i = timer->heap_index - 1;
    timer->heap_index = 0;
    heap->count--;
    if (i == heap->count)
        return;
    struct rs_timer *last = heap->items[heap->count];
    heap_set(heap, i, last);
    if (i > 0 && timer_before(last, heap->items[(i - 1) / 2]))
        sift_up(heap, i);
    else
        sift_down(heap, i);
}

struct rs_timer *rs_timer_heap_top(const struct rs_timer_heap *heap)
{
    return heap->count ? heap->items[0] : NULL;
}
