/* rshare core — shared buffers: bytes with a reference count.  A message
 * that its owner keeps (a request for its retries, the reply cache for
 * duplicates) is lent to the link layer's transfer by taking a reference
 * instead of copying it; the last holder frees it.  One thread, like the
 * rest of a node: the count is a plain integer.
 *
 * Big buffers (RS_SHARED_KEEP_MIN bytes and more: the messages of block
 * I/O, and the reassembly buffers they arrive in) are kept after their last
 * reference, a few per node (RS_SHARED_KEEP_COUNT, RS_SHARED_KEEP_BYTES,
 * the least recently released dropped first), and given to the next
 * allocation they fit.  A fresh one costs a page fault and a zeroed page
 * per 4 KiB on its first touch, which is as much CPU as the bytes' copy.
 * A spare not taken again within RS_SHARED_KEEP_US is freed, so a node
 * that moved a big message once (a map snapshot) does not keep its memory. */
#ifndef RSHARE_SHARED_H
#define RSHARE_SHARED_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"

/* `len` bytes (uninitialised) with one reference; NULL when memory is
 * short.  The data is aligned like malloc's. */
uint8_t *rs_shared_alloc(rshare_node *node, size_t len);
/* Another reference to `buf`; returns `buf`. */
uint8_t *rs_shared_ref(uint8_t *buf);
/* Drop one reference; the last one frees the buffer (or keeps it as a
 * spare).  NULL is ignored. */
void rs_shared_unref(rshare_node *node, uint8_t *buf);
/* Free the spares (the node's end). */
void rs_shared_drain(rshare_node *node);

#define RS_SHARED_KEEP_MIN (64u * 1024u)
#define RS_SHARED_KEEP_COUNT 16u
#define RS_SHARED_KEEP_BYTES (16u * 1024u * 1024u)
#define RS_SHARED_KEEP_US 1000000u

#endif
