/* rshare block — range locks (see rangelock.h).  A lock is granted when no
 * lock ahead of it in arrival order overlaps it, so a stream of small locks
 * cannot starve a large one.  The lists are short (bounded by the requests
 * in flight on one volume), so linear scans are the simple choice. */
#include "config.h"

#include <stddef.h>

#include "rangelock.h"

static bool overlaps(const struct rs_range_lock *a, const struct rs_range_lock *b)
{
    return a->start < b->end && b->start < a->end;
}

static bool blocked(const struct rs_range_lock *lock)
{
    for (const struct rs_range_lock *l = lock->prev; l; l = l->prev)
        if (overlaps(l, lock))
            return true;
    return false;
}

bool rs_range_lock(struct rs_range_locks *locks, struct rs_range_lock *lock, uint64_t start,
                   uint64_t end, rs_range_granted_fn granted)
{
    lock->start = start;
    lock->end = end;
    lock->granted = granted;
    lock->next = NULL;
    lock->prev = locks->tail;
    if (locks->tail)
        locks->tail->next = lock;
    else
        locks->head = lock;
    locks->tail = lock;
    locks->count++;
    lock->held = !blocked(lock);
    return lock->held;
}

void rs_range_unlock(struct rs_range_locks *locks, struct rs_range_lock *lock)
{
    if (lock->prev)
        lock->prev->next = lock->next;
    else
        locks->head = lock->next;
    if (lock->next)
        lock->next->prev = lock->prev;
    else
        locks->tail = lock->prev;
    locks->count--;
    lock->held = false;
    /* Collect first, then call: a granted callback may take or release
     * locks itself. */
    struct rs_range_lock *grant[64];
    for (;;) {
        size_t n = 0;
        for (struct rs_range_lock *l = locks->head; l && n < 64; l = l->next)
            if (!l->held && !blocked(l)) {
                l->held = true;
                grant[n++] = l;
            }
        if (n == 0)
            return;
        for (size_t i = 0; i < n; i++)
            grant[i]->granted(grant[i]);
        if (n < 64)
            return;
    }
}
