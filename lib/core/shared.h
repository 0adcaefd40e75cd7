/* rshare core — shared buffers: bytes with a reference count.  A message
 * that its owner keeps (a request for its retries, the reply cache for
 * duplicates) is lent to the link layer's transfer by taking a reference
 * instead of copying it; the last holder frees it.  One thread, like the
 * rest of a node: the count is a plain integer. */
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
/* Drop one reference; the last one frees the buffer.  NULL is ignored. */
void rs_shared_unref(rshare_node *node, uint8_t *buf);

#endif
