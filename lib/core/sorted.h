/* rshare core — binary search in arrays kept sorted by a 32-bit id that
 * is the first member of each element (members, peers, ...). */
#ifndef RSHARE_SORTED_H
#define RSHARE_SORTED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Position of `id` in `base` (`count` elements of `stride` bytes), or where
 * it would be inserted; `*found` tells which. */
static inline size_t rs_sorted_find(const void *base, size_t count, size_t stride, uint32_t id,
                                    bool *found)
{
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint32_t key;
        memcpy(&key, (const char *)base + mid * stride, sizeof(key));
        if (key < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    uint32_t key = 0;
    if (lo < count)
        memcpy(&key, (const char *)base + lo * stride, sizeof(key));
    *found = lo < count && key == id;
    return lo;
}

#endif
