/* Unit tests: the timer heap keeps deadline order, FIFO among equal
 * deadlines, and survives removal from any position. */
#include "config.h"

#include "testutil.h"

#include <check.h>
#include <stdlib.h>

#include "core/timer.h"

static void *grow(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    return realloc(ptr, size);
}

static void nop(rshare_node *node, struct rs_timer *t)
{
    (void)node;
    (void)t;
}

START_TEST(test_order_and_fifo)
{
    struct rs_timer_heap heap = {0};
    enum { N = 1000 };
    static struct rs_timer timers[N];
    srand(7);
    for (int i = 0; i < N; i++) {
        rs_timer_init(&timers[i], nop);
        timers[i].at_us = (uint64_t)(rand() % 50); /* many equal deadlines */
        ck_assert_int_eq(rs_timer_heap_push(&heap, &timers[i], grow, NULL), 0);
    }
    uint64_t last_at = 0, last_order = 0;
    for (int i = 0; i < N; i++) {
        struct rs_timer *t = rs_timer_heap_top(&heap);
        ck_assert_ptr_nonnull(t);
        ck_assert_uint_ge(t->at_us, last_at);
        if (i && t->at_us == last_at)
            ck_assert_uint_gt(t->order, last_order);
        last_at = t->at_us;
        last_order = t->order;
        rs_timer_heap_remove(&heap, t);
        ck_assert(!rs_timer_pending(t));
    }
    ck_assert_ptr_null(rs_timer_heap_top(&heap));
    free(heap.items);
}
END_TEST

START_TEST(test_remove_anywhere)
{
    struct rs_timer_heap heap = {0};
    enum { N = 257 };
    static struct rs_timer timers[N];
    for (int i = 0; i < N; i++) {
        rs_timer_init(&timers[i], nop);
        timers[i].at_us = (uint64_t)((i * 7919) % N);
        ck_assert_int_eq(rs_timer_heap_push(&heap, &timers[i], grow, NULL), 0);
    }
    for (int i = 0; i < N; i += 3)
        rs_timer_heap_remove(&heap, &timers[i]);
    rs_timer_heap_remove(&heap, &timers[0]); /* removing twice is harmless */
    size_t left = 0;
    uint64_t last = 0;
    struct rs_timer *t;
    while ((t = rs_timer_heap_top(&heap))) {
        ck_assert_uint_ge(t->at_us, last);
        ck_assert_int_ne((int)(t - timers) % 3, 0);
        last = t->at_us;
        rs_timer_heap_remove(&heap, t);
        left++;
    }
    ck_assert_uint_eq(left, N - (N + 2) / 3);
    free(heap.items);
}
END_TEST

static void *no_memory(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    (void)ptr;
    (void)size;
    return NULL;
}

START_TEST(test_out_of_memory)
{
    struct rs_timer_heap heap = {0};
    struct rs_timer t;
    rs_timer_init(&t, nop);
    ck_assert_int_lt(rs_timer_heap_push(&heap, &t, no_memory, NULL), 0);
    ck_assert(!rs_timer_pending(&t));
    ck_assert_ptr_null(rs_timer_heap_top(&heap));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("timer");
    TCase *tc = tcase_create("heap");
    tcase_add_test(tc, test_order_and_fifo);
    tcase_add_test(tc, test_remove_anywhere);
    tcase_add_test(tc, test_out_of_memory);
    suite_add_tcase(s, tc);
    return rs_test_run(s);
}
