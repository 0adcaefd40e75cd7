/* rshare cluster — resource descriptors on the wire: a CBOR map with
 * integer keys (unknown keys are skipped, so newer nodes can add fields),
 * and the checks every descriptor passes before anything stores it. */
#ifndef RSHARE_DESCRIPTOR_H
#define RSHARE_DESCRIPTOR_H

#include "msg/body.h"
#include "rshare/resource.h"

#define RS_DESC_VERSION 1

void rs_desc_encode(struct rs_cbor_writer *w, const struct rshare_resource_desc *desc);
/* Decode one descriptor; RSHARE_EPROTO for malformed CBOR or fields out of
 * range (rs_desc_check). */
int rs_desc_decode(struct rs_cbor_reader *r, struct rshare_resource_desc *desc);
/* Kind known, geometry plausible for the kind, strings terminated and
 * non-empty path: 0 or RSHARE_EINVAL. */
int rs_desc_check(const struct rshare_resource_desc *desc);
/* Upper bound of an encoded descriptor's size. */
#define RS_DESC_MAX_ENCODED 640

#endif
