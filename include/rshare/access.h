/* rshare — access management: grants (signed cookies), delegation,
 * revocation, shared/exclusive leases with fencing tokens, and the rights
 * policy of a shared block (doc/ACCESS.md).
 *
 * The global map holds every grant and lease; only the manager changes
 * them, so a revocation or an expiry reaches every host with one map
 * change.  A host whose block requires grants serves a request only with a
 * cookie that the manager signed, that names the sender, and whose grant
 * (and every link of its delegation chain) is still in the host's copy of
 * the map.  A host whose block requires leases serves a write only from
 * the holder of the current exclusive lease, carrying that lease's fencing
 * token; an older token is refused.  Access management needs a cluster
 * key: the signing key is derived from it. */
#ifndef RSHARE_ACCESS_H
#define RSHARE_ACCESS_H

#include <rshare/common.h>
#include <rshare/block.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The longest cookie rshare produces or accepts. */
#define RSHARE_ACCESS_COOKIE_MAX 256

enum rshare_lease_mode {
    RSHARE_LEASE_SHARED = 1,   /* shared read: any number, no exclusive one */
    RSHARE_LEASE_EXCLUSIVE = 2 /* exclusive write: alone on the resource */
};

/* Rights policy of a block this node serves (rshare_access_set_policy). */
#define RSHARE_ACCESS_OPEN 0x0u           /* as before access management: rights only */
#define RSHARE_ACCESS_REQUIRE_GRANT 0x1u  /* every request needs a valid cookie */
#define RSHARE_ACCESS_REQUIRE_LEASE 0x2u  /* writes and discards need the exclusive
                                             lease's current fencing token */

/* What a grant, cookie or lease request produced.  The pointers are valid
 * during the callback only. */
struct rshare_access_result {
    uint32_t struct_size;
    int32_t status;            /* 0 or a negative RSHARE_E* code */
    uint64_t id;               /* the grant's or the lease's id */
    uint64_t fence;            /* leases: the fencing token */
    const uint8_t *cookie;     /* rshare_access_cookie: the cookie */
    size_t cookie_len;
};
typedef void (*rshare_access_fn)(rshare_node *node, const struct rshare_access_result *result,
                                 void *user_data);

/* Grants and leases name a block resource, or a whole volume by this id:
 * a volume's grant or lease covers every block that is a member or spare
 * of the volume in the map at the time of each request (the volume engine
 * carries its credentials to every member host, see
 * rshare_volume_config.credentials).  Volume grants are lent by the
 * manager only. */
#define RSHARE_ACCESS_VOLUME(volume_id) ((uint64_t)(uint32_t)(volume_id))

/* Lend `grantee` access to `resource` (`rights`: RSHARE_RIGHT_*), for
 * `ttl_ms` (0: until revoked).  Called on the resource's host; on the
 * manager it may name any resource (the manager authorises).  The result
 * carries the grant's id once it is in this node's map. */
RSHARE_API int rshare_access_grant(rshare_node *node, uint64_t resource, uint32_t grantee,
                                   uint32_t rights, uint32_t ttl_ms, rshare_access_fn done,
                                   void *user_data);
/* Delegate part of grant `parent` (held by this node) to `grantee`: a
 * further link of the chain, cut when any link above it is revoked. */
RSHARE_API int rshare_access_delegate(rshare_node *node, uint64_t parent, uint32_t grantee,
                                      uint32_t rights, uint32_t ttl_ms, rshare_access_fn done,
                                      void *user_data);
/* Revoke a grant and every delegation below it: by the resource's host,
 * by whoever lent a link of its chain, or on the manager. */
RSHARE_API int rshare_access_revoke(rshare_node *node, uint64_t grant, rshare_access_fn done,
                                    void *user_data);
/* Ask the manager for the cookie of grant `grant`, held by this node. */
RSHARE_API int rshare_access_cookie(rshare_node *node, uint64_t grant, rshare_access_fn done,
                                    void *user_data);

/* A grant as this node's copy of the map holds it. */
struct rshare_grant_info {
    uint32_t struct_size;
    uint32_t grantee;
    uint64_t id;
    uint64_t parent;   /* 0: lent by the resource's host or the manager */
    uint64_t resource;
    uint32_t grantor;  /* 0: the manager */
    uint32_t rights;
    uint32_t ttl_ms;
    uint32_t reserved_;
};
RSHARE_API int rshare_access_grant_list(rshare_node *node, struct rshare_grant_info *out,
                                        size_t max, size_t struct_size, size_t *count);

/* Leases on block resources.  The result carries the lease's id and its
 * fencing token.  A lease lives `ttl_ms` (at least 100 ms) from the moment
 * the manager saw it granted or last renewed. */
RSHARE_API int rshare_access_lease_acquire(rshare_node *node, uint64_t resource, uint32_t mode,
                                           uint32_t ttl_ms, rshare_access_fn done,
                                           void *user_data);
RSHARE_API int rshare_access_lease_renew(rshare_node *node, uint64_t lease, rshare_access_fn done,
                                         void *user_data);
RSHARE_API int rshare_access_lease_release(rshare_node *node, uint64_t lease,
                                           rshare_access_fn done, void *user_data);

struct rshare_lease_info {
    uint32_t struct_size;
    uint32_t holder;
    uint64_t id;
    uint64_t resource;
    uint64_t fence;
    uint32_t mode;     /* enum rshare_lease_mode */
    uint32_t ttl_ms;
    uint32_t renewals;
    uint32_t reserved_;
};
/* The leases in this node's copy of the map: fills up to `max` entries
 * and sets `*count` to how many there are. */
RSHARE_API int rshare_access_lease_list(rshare_node *node, struct rshare_lease_info *out,
                                        size_t max, size_t struct_size, size_t *count);

/* The policy of a block resource this node serves (default
 * RSHARE_ACCESS_OPEN).  Kept on this node, not in the map. */
RSHARE_API int rshare_access_set_policy(rshare_node *node, uint64_t resource, uint32_t flags);

/* What a client presents with its block requests. */
struct rshare_access_credentials {
    uint32_t struct_size;
    uint32_t reserved_;
    const uint8_t *cookie; /* copied; NULL with cookie_len 0: none */
    size_t cookie_len;
    uint64_t fence;        /* the exclusive lease's fencing token, 0: none */
};

/* rshare_block_open_resource() with credentials attached to every request
 * (on the resource's own host they are not needed and ignored). */
RSHARE_API int rshare_block_open_resource_granted(rshare_node *node, uint64_t resource_id,
                                                  const struct rshare_access_credentials *cred,
                                                  rshare_block **out);

/* Replace the credentials a remote block handle sends with its requests
 * (a renewed cookie, the token of a lease acquired after opening); NULL
 * sends none.  Requests already sent keep theirs.  On handles that need
 * none (the host's own shortcut, local disks) it does nothing. */
RSHARE_API int rshare_block_set_credentials(rshare_block *block,
                                            const struct rshare_access_credentials *cred);

/* Refusals a host counted, by reason, and the requests it let through. */
struct rshare_access_stats {
    uint32_t struct_size;
    uint32_t reserved_;
    uint64_t accepted;        /* checked requests served */
    uint64_t no_cookie;       /* required and absent */
    uint64_t bad_cookie;      /* too long, malformed, bad version or body */
    uint64_t bad_signature;   /* forged, altered, another cluster's */
    uint64_t wrong_node;      /* presented by a node other than its grantee (replayed) */
    uint64_t wrong_resource;  /* issued for another resource */
    uint64_t revoked;         /* its grant or a link of its chain is not in the map */
    uint64_t no_right;        /* the grant lacks the right the request needs */
    uint64_t fenced;          /* no exclusive lease, or an older fencing token */
};
RSHARE_API int rshare_access_stats(rshare_node *node, struct rshare_access_stats *stats,
                                   size_t struct_size);

#ifdef __cplusplus
}
#endif
#endif
