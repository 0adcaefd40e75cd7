/* rshare core — segments (seg.h). */
#include "config.h"

#include <string.h>

#include "seg.h"

size_t rs_seg_copy(const struct rs_seg *seg, uint32_t nseg, uint64_t at, void *to,
                   const void *from, size_t len)
{
    size_t done = 0;
    for (uint32_t i = 0; i < nseg && done < len; i++) {
        if (at >= seg[i].length) {
            at -= seg[i].length;
            continue;
        }
        size_t take = seg[i].length - at < len - done ? (size_t)(seg[i].length - at) : len - done;
        uint8_t *s = (uint8_t *)seg[i].buf + at;
        if (to)
            memcpy((uint8_t *)to + done, s, take);
        else
            memcpy(s, (const uint8_t *)from + done, take);
        done += take;
        at = 0;
    }
    return done;
}
