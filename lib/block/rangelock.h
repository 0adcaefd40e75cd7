/* rshare block — range locks: operations that must not overlap in time
 * (a RAID-5 row being rewritten, a range being rebuilt) take a lock on a
 * range of keys; conflicting ones wait and are granted in arrival order.
 * The caller owns the lock structures; nothing is allocated. */
#ifndef RSHARE_BLOCK_RANGELOCK_H
#define RSHARE_BLOCK_RANGELOCK_H

#include <stdbool.h>
#include <stdint.h>

struct rs_range_lock;
typedef void (*rs_range_granted_fn)(struct rs_range_lock *lock);

struct rs_range_lock {
    uint64_t start, end; /* [start, end) */
    bool held;
    rs_range_granted_fn granted; /* called when a waiting lock is granted */
    struct rs_range_lock *prev, *next;
};

/* Every lock, held or waiting, in arrival order. */
struct rs_range_locks {
    struct rs_range_lock *head, *tail;
    uint32_t count;
};

/* Ask for [start, end): returns true when granted at once; otherwise the
 * lock waits until no earlier lock (held or waiting) overlaps it, and
 * `granted` is called from rs_range_unlock(). */
bool rs_range_lock(struct rs_range_locks *locks, struct rs_range_lock *lock, uint64_t start,
                   uint64_t end, rs_range_granted_fn granted);

/* Release a held lock (or withdraw a waiting one); grants what now can be. */
void rs_range_unlock(struct rs_range_locks *locks, struct rs_range_lock *lock);

#endif
