/* rshare block — the XOR kernel behind RAID-5 parity: generating a parity
 * block from data blocks, and folding blocks into one in place (degraded
 * reads, read-modify-write).  No state, no allocation. */
#ifndef RSHARE_BLOCK_XOR_H
#define RSHARE_BLOCK_XOR_H

#include <stddef.h>

/* dst = src[0] ^ src[1] ^ ... ^ src[count - 1], `len` bytes each; with
 * count 0, dst is zeroed.  dst must not overlap any source.  Any length and
 * alignment; buffers aligned to 64 bytes take the fastest path. */
void rs_xor_gen(void *dst, const void *const *src, size_t count, size_t len);

/* dst ^= src[0] ^ ... ^ src[count - 1] (same rules). */
void rs_xor_acc(void *dst, const void *const *src, size_t count, size_t len);

/* The alignment that selects the fast path. */
#define RS_XOR_ALIGN 64

#endif
