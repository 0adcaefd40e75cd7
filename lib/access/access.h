/* rshare access — internal interface of access management: the per-node
 * state (signing key, block policies, refusal counters, the manager's
 * expiry bookkeeping), the manager's side of RS_MSG_ACCESS requests, and
 * the check a host runs on every block request (doc/ACCESS.md).
 *
 * lib/access sits above lib/cluster (it reads the map and proposes
 * changes through the manager) and below lib/block (serve.c asks it). */
#ifndef RSHARE_ACCESS_INTERNAL_H
#define RSHARE_ACCESS_INTERNAL_H

#include <stdbool.h>

#include "cluster/map.h"
#include "core/core.h"
#include "rshare/access.h"
#include "token.h"

/* Access requests to the manager (raw CBOR bodies, doc/PROTOCOL.md). */
#define RS_MSG_ACCESS 0x0030

enum rs_access_op {
    RS_ACCESS_GRANT = 1,    /* [1, resource, grantee, rights, ttl_ms] */
    RS_ACCESS_DELEGATE = 2, /* [2, parent, grantee, rights, ttl_ms] */
    RS_ACCESS_REVOKE = 3,   /* [3, grant] */
    RS_ACCESS_COOKIE = 4,   /* [4, grant] */
    RS_ACCESS_LEASE = 5,    /* [5, resource, mode, ttl_ms] */
    RS_ACCESS_RENEW = 6,    /* [6, lease] */
    RS_ACCESS_RELEASE = 7,  /* [7, lease] */
    RS_ACCESS_REVOKE_IDENTITY = 8 /* [8, node id, public key (32 bytes, or 0: the one it uses)] */
};

/* The shortest lease: expiry is checked on a 100 ms tick. */
#define RS_ACCESS_MIN_LEASE_MS 100

/* Why a host refused a request (each counted in rshare_access_stats). */
enum rs_access_verdict {
    RS_ACCESS_OK = 0,
    RS_ACCESS_NO_COOKIE,
    RS_ACCESS_BAD_COOKIE,
    RS_ACCESS_BAD_SIGNATURE,
    RS_ACCESS_WRONG_NODE,
    RS_ACCESS_WRONG_RESOURCE,
    RS_ACCESS_REVOKED,
    RS_ACCESS_NO_RIGHT,
    RS_ACCESS_FENCED
};

/* Check a cookie against a map: signature, grantee = `sender` (the link-
 * authenticated source of the request), resource, the grant and every link
 * of its chain present in `map` as the cookie describes them, and `need`
 * (RSHARE_RIGHT_*) within its rights.  Pure: the unit tests call it. */
enum rs_access_verdict rs_access_check_cookie(const struct rs_map *map,
                                              const uint8_t pk[RS_TOKEN_PK_BYTES],
                                              const uint8_t *cookie, size_t len, uint32_t sender,
                                              uint64_t resource, uint32_t need);
/* The fencing rule: a write by `sender` with `fence` is allowed only while
 * `sender` holds the exclusive lease on `resource` and `fence` is its token. */
enum rs_access_verdict rs_access_check_fence(const struct rs_map *map, uint64_t resource,
                                             uint32_t sender, uint64_t fence);
const char *rs_access_verdict_text(enum rs_access_verdict v);

/* Per-node state, created with the block layer (serve.c). */
int rs_access_init(rshare_node *node);
void rs_access_fini(rshare_node *node);

/* The host's check of one block request for `resource` (op, credentials):
 * RS_ACCESS_OK when the block's policy lets it through; counted. */
struct rs_block_req;
enum rs_access_verdict rs_access_check_block(rshare_node *node, uint64_t resource,
                                             uint32_t sender, const struct rs_block_req *req);

#endif
