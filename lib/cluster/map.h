/* rshare cluster — the global resource map as data: members and the
 * resources each hosts, the commands that change it, and its snapshot
 * form.  Pure: the same commands applied in the same order give the same
 * map on every node (the consensus layer delivers that order). */
#ifndef RSHARE_MAP_H
#define RSHARE_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg/body.h"
#include "rshare/global.h"
#include "rshare/resource.h"

typedef struct rshare_node rshare_node;

#define RS_MAP_MAX_MEMBERS 1024

enum rs_map_op {
    RS_MAP_MEMBER_SET = 1,    /* [1, id, slot, install_order, flags] */
    RS_MAP_RESOURCES_SET = 2, /* [2, host, [descriptor...]] (replaces) */
    RS_MAP_MEMBER_REMOVE = 3, /* [3, id] (and its resources) */
    /* [4, id (0: new), name, layout, algorithm, chunk, flags, [member...], [spare...]] */
    RS_MAP_VOLUME_SET = 4,
    RS_MAP_VOLUME_REMOVE = 5, /* [5, id] */
    RS_MAP_ROUTE_SET = 6,     /* [6, resource, target (0: remove)] */
    /* Access management (lib/access, doc/ACCESS.md). */
    RS_MAP_GRANT_SET = 7,    /* [7, id, parent, resource, grantee, grantor, rights, ttl_ms] */
    RS_MAP_GRANT_REVOKE = 8, /* [8, id, by (0: the manager)]: and every delegation below it */
    RS_MAP_LEASE_SET = 9,    /* [9, id, resource, holder, mode, ttl_ms]: fence + 1 */
    RS_MAP_LEASE_RENEW = 10, /* [10, id, holder] */
    RS_MAP_LEASE_DROP = 11,  /* [11, id, by (0: the manager's expiry), seq] */
    /* Node identities (lib/link/identity.h). */
    RS_MAP_IDENTITY_REVOKE = 12 /* [12, node id, public key (32 bytes)] */
};

#define RS_MAP_MAX_VOLUMES 256
#define RS_MAP_MAX_ROUTES 256

#define RS_MAP_MEMBER_ELIGIBLE 0x1u

#define RS_MAP_MAX_GRANTS 256
#define RS_MAP_MAX_LEASES 128
#define RS_MAP_MAX_FENCES 256
#define RS_MAP_MAX_REVOKED 256
/* Links in a delegation chain: a host's grant and up to three delegations. */
#define RS_MAP_MAX_CHAIN 4

/* A grant: `grantee` may use `resource` with `rights`, lent by `grantor`
 * (the resource's host, or 0 for the manager) or, for a delegation, by the
 * grantee of `parent`.  Expiry is the manager's: it revokes the grant
 * `ttl_ms` after it first saw it (0: until revoked). */
struct rs_map_grant {
    uint64_t id; /* random, chosen by the manager; never 0 */
    uint64_t parent;
    uint64_t resource;
    uint32_t grantee;
    uint32_t grantor;
    uint32_t rights;
    uint32_t ttl_ms;
};

enum rs_lease_mode { RS_LEASE_SHARED = 1, RS_LEASE_EXCLUSIVE = 2 };

/* A lease on a block resource.  `fence` is the resource's fencing counter
 * after this lease was granted; `seq` counts renewals (an expiry names the
 * seq it saw, so a renewal that won the race keeps the lease). */
struct rs_map_lease {
    uint64_t id;
    uint64_t resource;
    uint64_t fence;
    uint32_t holder;
    uint32_t mode; /* enum rs_lease_mode */
    uint32_t ttl_ms;
    uint32_t seq;
};

/* A resource's fencing counter: grows by one with every lease granted on
 * it and outlives the leases, so a token is never reused. */
struct rs_map_fence {
    uint64_t resource;
    uint64_t fence;
};

/* A node key the map revokes: refused in every handshake from now on. */
struct rs_map_revoked {
    uint32_t id; /* the node it was enrolled for (informative) */
    uint8_t pk[32];
};

struct rs_map_member {
    uint32_t id;
    uint16_t slot;
    uint16_t install_order;
    uint32_t flags;
};

struct rs_map {
    struct rs_map_member *members; /* sorted by id */
    size_t member_count;
    struct rshare_resource_desc *resources; /* grouped by host, sorted by id */
    size_t resource_count;
    struct rshare_volume_desc *volumes; /* sorted by id */
    size_t volume_count;
    uint32_t next_volume_id;
    struct rshare_kvm_route *routes; /* sorted by resource */
    size_t route_count;
    struct rs_map_grant *grants; /* sorted by id */
    size_t grant_count;
    struct rs_map_lease *leases; /* sorted by id */
    size_t lease_count;
    struct rs_map_fence *fences; /* sorted by resource */
    size_t fence_count;
    struct rs_map_revoked *revoked; /* in the order of revocation */
    size_t revoked_count;
    uint64_t version; /* index of the last change applied */
    uint32_t epoch;   /* consensus term of the last change applied */
};

void rs_map_init(struct rs_map *map);
void rs_map_clear(rshare_node *node, struct rs_map *map);

/* Apply one command.  A command that is malformed or breaks a rule (a
 * descriptor for another host, too many resources) leaves the map as it
 * was and returns RSHARE_EPROTO or RSHARE_EINVAL; every node decides the
 * same way.  `*subject` is the node the change is about. */
int rs_map_apply(rshare_node *node, struct rs_map *map, const uint8_t *cmd, size_t len,
                 uint32_t *subject);

/* Command builders (into a writer). */
void rs_map_cmd_member_set(struct rs_cbor_writer *w, const struct rs_map_member *m);
void rs_map_cmd_resources_set(struct rs_cbor_writer *w, uint32_t host,
                              const struct rshare_resource_desc *descs, size_t count);
void rs_map_cmd_member_remove(struct rs_cbor_writer *w, uint32_t id);
void rs_map_cmd_volume_set(struct rs_cbor_writer *w, const struct rshare_volume_desc *v);
void rs_map_cmd_volume_remove(struct rs_cbor_writer *w, uint32_t id);
void rs_map_cmd_route_set(struct rs_cbor_writer *w, uint64_t resource, uint32_t target);

void rs_map_cmd_grant_set(struct rs_cbor_writer *w, const struct rs_map_grant *g);
void rs_map_cmd_grant_revoke(struct rs_cbor_writer *w, uint64_t id, uint32_t by);
void rs_map_cmd_lease_set(struct rs_cbor_writer *w, const struct rs_map_lease *l);
void rs_map_cmd_lease_renew(struct rs_cbor_writer *w, uint64_t id, uint32_t holder);
void rs_map_cmd_lease_drop(struct rs_cbor_writer *w, uint64_t id, uint32_t by, uint32_t seq);

void rs_map_cmd_identity_revoke(struct rs_cbor_writer *w, uint32_t id, const uint8_t pk[32]);
/* True when the map revokes this node key. */
bool rs_map_identity_revoked(const struct rs_map *map, const uint8_t pk[32]);

const struct rs_map_grant *rs_map_grant(const struct rs_map *map, uint64_t id);
const struct rs_map_lease *rs_map_lease(const struct rs_map *map, uint64_t id);
/* The exclusive lease naming `resource` (a block, a display or a volume),
 * NULL when nobody holds one; there is at most one. */
const struct rs_map_lease *rs_map_exclusive_lease(const struct rs_map *map, uint64_t resource);
/* The resource's fencing counter (0: no lease was ever granted on it). */
uint64_t rs_map_fence(const struct rs_map *map, uint64_t resource);

/* A deep copy (for checking a command without changing the map). */
int rs_map_copy(rshare_node *node, struct rs_map *dst, const struct rs_map *src);
/* The error `cmd` would meet if applied to `map` now (0 if none); the map
 * is not changed.  How a bad change gets a clear error before it is
 * committed and then refused by every node. */
int rs_map_check(rshare_node *node, const struct rs_map *map, const uint8_t *cmd, size_t len);
const struct rshare_volume_desc *rs_map_volume(const struct rs_map *map, uint32_t id);
/* Grants and leases name a block resource (host << 32 | n) or a volume
 * (its id, the upper half 0: RSHARE_ACCESS_VOLUME). */
#define RS_MAP_IS_VOLUME(named) (((named) >> 32) == 0)
/* Is `resource` a member or spare of volume `v`? */
bool rs_map_volume_has(const struct rshare_volume_desc *v, uint64_t resource);
/* Does a grant or lease naming `named` cover block resource `resource`:
 * the same resource, or a volume of which it is now a member or spare? */
bool rs_map_covers(const struct rs_map *map, uint64_t named, uint64_t resource);
const struct rshare_resource_desc *rs_map_resource(const struct rs_map *map, uint64_t id);

/* Snapshot: encode into a fresh buffer from `alloc` (libraft's), decode. */
int rs_map_snapshot(rshare_node *node, const struct rs_map *map, void *(*alloc)(size_t),
                    uint8_t **out, size_t *len);
int rs_map_restore(rshare_node *node, struct rs_map *map, const uint8_t *buf, size_t len);

const struct rs_map_member *rs_map_member(const struct rs_map *map, uint32_t id);
/* Resources of `host` in the map: first index and count. */
size_t rs_map_host_resources(const struct rs_map *map, uint32_t host, size_t *first);

#endif
