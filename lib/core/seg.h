/* rshare core — segments: one run of bytes held in several buffers (a
 * vectored block I/O's buffers, a reply received straight into them). */
#ifndef RSHARE_SEG_H
#define RSHARE_SEG_H

#include <stddef.h>
#include <stdint.h>

struct rs_seg {
    void *buf;
    size_t length;
};

/* Copy `len` bytes between a flat buffer and the segments' concatenation,
 * from its byte `at` on: out of the segments into `to`, or, with `to`
 * NULL, from `from` into the segments.  Returns the bytes copied (fewer
 * when the segments end first). */
size_t rs_seg_copy(const struct rs_seg *seg, uint32_t nseg, uint64_t at, void *to,
                   const void *from, size_t len);

#endif
