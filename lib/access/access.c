/* rshare access — grants, delegation, revocation, leases and fencing on a
 * node (doc/ACCESS.md):
 *
 *  - the public API: requests go to the manager (RS_MSG_ACCESS), or are
 *    executed in place on the manager; the caller is told once its own copy
 *    of the map holds the change;
 *  - the manager's side: it fills in who asks from the authenticated
 *    sender, proposes the map command, signs cookies, and expires grants
 *    and leases on its own clock (the only clock expiry ever uses);
 *  - the host's check of block requests (rs_access_check_block).
 *
 * The per-node state hangs on the RS_MSG_ACCESS handler's user_data, so
 * that no layer below needs to know about it (see rs_access()). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "access.h"
#include "block/blockwire.h"
#include "cluster/cluster.h"
#include "link/link.h"
#include "msg/msg.h"

#define TICK_US 100000u   /* expiry check period on the manager */
#define WAIT_TICK_US 2000u /* while a caller waits for its map to catch up */

/* A block this node serves with a policy, and the last cookie it verified
 * for it (a byte-identical cookie skips the signature, never the map). */
struct policy {
    uint64_t resource; /* 0: free */
    uint32_t flags;
    uint8_t cookie[RS_TOKEN_MAX];
    size_t cookie_len;
    struct rs_token token; /* what it said */
};

/* The manager's view of one grant or lease with a lifetime: when it first
 * saw it (or its last renewal).  A new manager starts every clock afresh,
 * so a failover may lengthen a lifetime, never shorten it. */
struct seen {
    uint64_t id;
    uint64_t since_us;
    uint32_t seq;
    bool lease;
    bool present;   /* still in the map at this tick */
    bool proposing; /* an expiry is on its way */
};

/* A request of this node's API: waiting for the manager's answer, then for
 * this node's map to hold the change. */
struct job {
    struct job *next;
    rshare_node *node;
    rshare_access_fn done;
    void *user_data;
    int status;
    uint64_t id, fence, index;
    uint8_t cookie[RS_TOKEN_MAX];
    size_t cookie_len;
    bool answered;
};

struct rs_access {
    rshare_node *node;
    struct rs_token_key key; /* valid only with a cluster key */
    struct policy policies[RSHARE_RESOURCES_PER_NODE];
    struct rshare_access_stats stats;
    struct rs_timer timer;     /* runs only on a node that joined a cluster */
    struct rs_member_observer observer; /* members coming and going start it */
    struct seen *seen;
    size_t seen_count;
    struct job *jobs; /* answered or local, waiting to be delivered */
};

static struct rs_access *rs_access(rshare_node *node)
{
    struct rs_msg *msg = rs_msg(node);
    for (size_t i = 0; i < msg->handler_count; i++)
        if (msg->handlers[i].type == RS_MSG_ACCESS)
            return msg->handlers[i].user_data;
    return NULL;
}

/* --- checks (pure) ------------------------------------------------------------ */

const char *rs_access_verdict_text(enum rs_access_verdict v)
{
    switch (v) {
    case RS_ACCESS_OK: return "allowed";
    case RS_ACCESS_NO_COOKIE: return "a grant is required: no cookie";
    case RS_ACCESS_BAD_COOKIE: return "malformed cookie";
    case RS_ACCESS_BAD_SIGNATURE: return "cookie not signed by this cluster's manager";
    case RS_ACCESS_WRONG_NODE: return "cookie granted to another node";
    case RS_ACCESS_WRONG_RESOURCE: return "cookie for another resource";
    case RS_ACCESS_REVOKED: return "grant revoked or expired";
    case RS_ACCESS_NO_RIGHT: return "the grant lacks the right";
    case RS_ACCESS_FENCED: return "no current exclusive lease with this fencing token";
    default: return "refused";
    }
}

/* Everything but the signature: a verified token against the map. */
static enum rs_access_verdict check_token(const struct rs_map *map, const struct rs_token *tok,
                                          uint32_t sender, uint64_t resource, uint32_t need)
{
    struct rs_token t = *tok;
    /* Bound to its grantee: whoever else presents it (a captured cookie
     * replayed by another node) is refused.  `sender` is what the link
     * layer authenticated with the cluster key, not a claim in the body. */
    if (t.grantee != sender)
        return RS_ACCESS_WRONG_NODE;
    /* The block itself, or a volume it is a member or spare of now (the
     * volume engine carries a volume's cookie to every member host). */
    if (!rs_map_covers(map, t.resource, resource))
        return RS_ACCESS_WRONG_RESOURCE;
    /* The map is the authority: the grant must still be there, exactly as
     * signed, and so must every link above it. */
    const struct rs_map_grant *g = rs_map_grant(map, t.id);
    if (!g || g->grantee != t.grantee || g->resource != t.resource || g->rights != t.rights ||
        g->parent != t.parent)
        return RS_ACCESS_REVOKED;
    const struct rs_map_grant *link = g;
    for (unsigned depth = 1; link->parent; depth++) {
        const struct rs_map_grant *up = rs_map_grant(map, link->parent);
        if (!up || depth >= RS_MAP_MAX_CHAIN || up->resource != link->resource ||
            up->grantee != link->grantor || (link->rights & ~up->rights))
            return RS_ACCESS_REVOKED;
        link = up;
    }
    if (need & ~t.rights)
        return RS_ACCESS_NO_RIGHT;
    return RS_ACCESS_OK;
}

static enum rs_access_verdict open_cookie(const uint8_t pk[RS_TOKEN_PK_BYTES],
                                          const uint8_t *cookie, size_t len, struct rs_token *t)
{
    if (!cookie || len == 0)
        return RS_ACCESS_NO_COOKIE;
    enum rs_token_verdict tv = rs_token_open(pk, cookie, len, t);
    if (tv == RS_TOKEN_BAD_SIGNATURE)
        return RS_ACCESS_BAD_SIGNATURE;
    return tv == RS_TOKEN_OK ? RS_ACCESS_OK : RS_ACCESS_BAD_COOKIE;
}

enum rs_access_verdict rs_access_check_cookie(const struct rs_map *map,
                                              const uint8_t pk[RS_TOKEN_PK_BYTES],
                                              const uint8_t *cookie, size_t len, uint32_t sender,
                                              uint64_t resource, uint32_t need)
{
    struct rs_token t;
    enum rs_access_verdict v = open_cookie(pk, cookie, len, &t);
    return v == RS_ACCESS_OK ? check_token(map, &t, sender, resource, need) : v;
}

enum rs_access_verdict rs_access_check_fence(const struct rs_map *map, uint64_t resource,
                                             uint32_t sender, uint64_t fence)
{
    /* The exclusive lease on the block itself decides; without one, an
     * exclusive lease on a volume the block is in (whose token the volume
     * engine sends with every member write). */
    const struct rs_map_lease *l = rs_map_exclusive_lease(map, resource);
    for (size_t i = 0; !l && i < map->volume_count; i++)
        if (rs_map_volume_has(&map->volumes[i], resource))
            l = rs_map_exclusive_lease(map, map->volumes[i].id);
    /* An older token is refused whoever sends it; the current one only
     * from its holder; nobody holding one (expired, released): refused. */
    return l && l->fence == fence && l->holder == sender ? RS_ACCESS_OK : RS_ACCESS_FENCED;
}

/* --- the host ------------------------------------------------------------------ */

static struct policy *policy_find(struct rs_access *a, uint64_t resource)
{
    for (size_t i = 0; i < RSHARE_RESOURCES_PER_NODE; i++)
        if (a->policies[i].resource == resource)
            return &a->policies[i];
    return NULL;
}

static void count(struct rs_access *a, enum rs_access_verdict v)
{
    uint64_t *field[] = {
        [RS_ACCESS_OK] = &a->stats.accepted,
        [RS_ACCESS_NO_COOKIE] = &a->stats.no_cookie,
        [RS_ACCESS_BAD_COOKIE] = &a->stats.bad_cookie,
        [RS_ACCESS_BAD_SIGNATURE] = &a->stats.bad_signature,
        [RS_ACCESS_WRONG_NODE] = &a->stats.wrong_node,
        [RS_ACCESS_WRONG_RESOURCE] = &a->stats.wrong_resource,
        [RS_ACCESS_REVOKED] = &a->stats.revoked,
        [RS_ACCESS_NO_RIGHT] = &a->stats.no_right,
        [RS_ACCESS_FENCED] = &a->stats.fenced,
    };
    (*field[v])++;
}

enum rs_access_verdict rs_access_check_block(rshare_node *node, uint64_t resource,
                                             uint32_t sender, const struct rs_block_req *req)
{
    struct rs_access *a = rs_access(node);
    struct policy *p = a ? policy_find(a, resource) : NULL;
    if (!p || p->flags == RSHARE_ACCESS_OPEN)
        return RS_ACCESS_OK; /* as before access management: not counted */
    const struct rs_map *map = &rs_cluster(node)->map;
    enum rs_access_verdict v = RS_ACCESS_OK;
    bool writes = req->op == RSHARE_BLOCK_WRITE || req->op == RSHARE_BLOCK_DISCARD;
    if (p->flags & RSHARE_ACCESS_REQUIRE_GRANT) {
        uint32_t need = writes ? RSHARE_RIGHT_WRITE : RSHARE_RIGHT_READ;
        const uint8_t *cookie = req->has_cred ? req->cookie : NULL;
        size_t len = req->has_cred ? req->cookie_len : 0;
        if (!a->key.valid) {
            v = RS_ACCESS_BAD_SIGNATURE; /* no cluster key: nothing can be verified */
        } else if (cookie && len && len == p->cookie_len &&
                   sodium_memcmp(cookie, p->cookie, len) == 0) {
            /* Verified before: the same bytes carry the same valid
             * signature; everything else (sender, map) is checked again. */
            v = check_token(map, &p->token, sender, resource, need);
        } else {
            struct rs_token t;
            v = open_cookie(a->key.pk, cookie, len, &t);
            if (v == RS_ACCESS_OK) {
                /* A valid signature is worth remembering even when the map
                 * refuses the grant now: the signature will not change. */
                memcpy(p->cookie, cookie, len);
                p->cookie_len = len;
                p->token = t;
                v = check_token(map, &t, sender, resource, need);
            }
        }
    }
    if (v == RS_ACCESS_OK && writes && (p->flags & RSHARE_ACCESS_REQUIRE_LEASE))
        v = rs_access_check_fence(map, resource, sender, req->has_cred ? req->fence : 0);
    count(a, v);
    if (v != RS_ACCESS_OK)
        rs_log_debug(node, "access: refused a block request from node %u: %s", sender,
                     rs_access_verdict_text(v));
    return v;
}

/* --- jobs: this node's requests ------------------------------------------------ */

static void schedule(struct rs_access *a, uint64_t delay_us)
{
    uint64_t at = rs_now_us(a->node) + delay_us;
    if (!rs_timer_pending(&a->timer) || a->timer.at_us > at) {
        rs_timer_cancel(a->node, &a->timer);
        rs_timer_schedule(a->node, &a->timer, at);
    }
}

/* The job's outcome is known: deliver it from the timer once this node's
 * map holds the change (never from inside libraft or a reply callback). */
static void job_answered(rshare_node *node, struct job *job)
{
    job->answered = true;
    struct rs_access *a = rs_access(node);
    if (!a) { /* the node is going away */
        struct rshare_access_result res = {sizeof(res), RSHARE_ESHUTDOWN, 0, 0, NULL, 0};
        if (job->done)
            job->done(node, &res, job->user_data);
        rs_free(node, job);
        return;
    }
    job->next = a->jobs;
    a->jobs = job;
    schedule(a, 0);
}

static void deliver_jobs(struct rs_access *a)
{
    rshare_node *node = a->node;
    const struct rs_map *map = &rs_cluster(node)->map;
    struct job **pp = &a->jobs;
    while (*pp) {
        struct job *job = *pp;
        if (job->status == 0 && map->version < job->index) {
            pp = &job->next;
            continue;
        }
        *pp = job->next;
        struct rshare_access_result res = {sizeof(res), job->status, job->id, job->fence,
                                           job->cookie_len ? job->cookie : NULL, job->cookie_len};
        if (job->done)
            job->done(node, &res, job->user_data);
        sodium_memzero(job->cookie, sizeof(job->cookie));
        rs_free(node, job);
        pp = &a->jobs; /* the callback may have changed the list */
    }
}

/* A reply of the manager: [id, fence, index] or a cookie (bstr). */
static void client_reply(rshare_node *node, const struct rshare_reply *reply, void *user_data)
{
    struct job *job = user_data;
    job->status = reply->status;
    if (reply->status == RSHARE_EREMOTE) {
        if (reply->remote_code < 0 && reply->remote_code > RSHARE_ERROR_MIN_)
            job->status = reply->remote_code;
        rs_errorf(node, job->status, "the manager refused the access request: %.*s",
                  (int)(reply->len < 200 ? reply->len : 200),
                  reply->data ? (const char *)reply->data : "");
    } else if (reply->status == 0) {
        struct rs_cbor_reader r;
        rs_cbor_reader_init(&r, reply->data, reply->len);
        const uint8_t *cookie;
        size_t n;
        struct rs_cbor_reader peek = r;
        struct rs_cbor_item item;
        if (rs_cbor_next(&peek, &item) == 0 && item.kind == RS_CBOR_BYTES) {
            if (rs_cbor_get_bytes(&r, &cookie, &n) < 0 || n == 0 || n > RS_TOKEN_MAX ||
                !rs_cbor_at_end(&r)) {
                job->status = RSHARE_EPROTO;
            } else {
                memcpy(job->cookie, cookie, n);
                job->cookie_len = n;
            }
        } else if (rs_cbor_get_array(&r, &n) < 0 || n != 3 || rs_cbor_get_uint(&r, &job->id) < 0 ||
                   rs_cbor_get_uint(&r, &job->fence) < 0 ||
                   rs_cbor_get_uint(&r, &job->index) < 0 || !rs_cbor_at_end(&r)) {
            job->status = RSHARE_EPROTO;
        }
        if (job->status < 0)
            rs_errorf(node, job->status, "malformed answer to an access request");
    }
    job_answered(node, job);
}

/* --- the manager ------------------------------------------------------------------ */

/* A request being executed on the manager: for a peer (`req`) or for this
 * node's own API (`job`). */
struct exec {
    rshare_node *node;
    rshare_request *req;
    struct job *job;
    uint64_t id;
    bool lease;
};

static void exec_finish(struct exec *e, int status, const char *text, uint64_t index)
{
    rshare_node *node = e->node;
    uint64_t fence = 0;
    if (status == 0 && e->lease) {
        const struct rs_map_lease *l = rs_map_lease(&rs_cluster(node)->map, e->id);
        fence = l ? l->fence : 0;
    }
    if (e->req) {
        if (status < 0) {
            rshare_request_fail(e->req, status, text ? text : rshare_strerror(status));
        } else {
            uint8_t buf[40];
            struct rs_cbor_writer w;
            rs_cbor_writer_init(&w, buf, sizeof(buf));
            rs_cbor_put_array(&w, 3);
            rs_cbor_put_uint(&w, e->id);
            rs_cbor_put_uint(&w, fence);
            rs_cbor_put_uint(&w, index);
            rshare_request_reply(e->req, buf, w.len);
        }
    } else {
        e->job->status = status;
        e->job->id = status == 0 ? e->id : 0;
        e->job->fence = fence;
        e->job->index = index;
        job_answered(node, e->job);
    }
    rs_free(node, e);
}

static void exec_applied(rshare_node *node, int status, uint64_t index, void *user_data)
{
    (void)node;
    exec_finish(user_data, status < 0 ? status : 0, status < 0 ? "map change refused" : NULL,
                index);
}

static uint64_t random_id(void)
{
    uint64_t id = 0;
    while (id == 0)
        randombytes_buf(&id, sizeof(id));
    return id;
}

/* Sign the cookie of grant `id` for `requester` (0: this manager's own API,
 * which may fetch any). */
static int sign_cookie(rshare_node *node, uint64_t id, uint32_t requester, uint8_t *out,
                       size_t *len)
{
    struct rs_access *a = rs_access(node);
    const struct rs_map *map = &rs_cluster(node)->map;
    if (!a || !a->key.valid)
        return rs_errorf(node, RSHARE_ENOTSUP, "grants need a cluster key");
    const struct rs_map_grant *g = rs_map_grant(map, id);
    if (!g)
        return rs_errorf(node, RSHARE_ENOENT, "no grant %llx in the map",
                         (unsigned long long)id);
    if (requester && g->grantee != requester)
        return rs_errorf(node, RSHARE_EACCES, "grant %llx belongs to node %u",
                         (unsigned long long)id, g->grantee);
    struct rs_token t = {.id = g->id, .parent = g->parent, .resource = g->resource,
                         .grantee = g->grantee, .rights = g->rights, .epoch = map->epoch,
                         .version = map->version, .ttl_ms = g->ttl_ms};
    *len = rs_token_seal(&a->key, &t, out, RS_TOKEN_MAX);
    return *len ? 0 : rs_errorf(node, RSHARE_EINVAL, "grant %llx cannot be signed",
                                (unsigned long long)id);
}

/* Revoke a node key: asked on the manager itself or by a manager-eligible
 * member (a node that could become manager and do it anyway).  Without a
 * key in the request, the one the manager saw the node use. */
static int execute_revoke_identity(rshare_node *node, uint32_t requester,
                                   struct rs_cbor_reader *r, size_t n, struct exec *e)
{
    const struct rs_map *map = &rs_cluster(node)->map;
    uint64_t id;
    const uint8_t *given;
    size_t given_len;
    if (n != 3 || rs_cbor_get_uint(r, &id) < 0 || id == 0 || id >= UINT32_MAX ||
        rs_cbor_get_bytes(r, &given, &given_len) < 0 || (given_len != 0 && given_len != 32) ||
        !rs_cbor_at_end(r))
        return RSHARE_EPROTO;
    const struct rs_map_member *m = rs_map_member(map, requester);
    if (requester != rshare_node_id(node) && !(m && m->flags & RS_MAP_MEMBER_ELIGIBLE))
        return RSHARE_EACCES;
    uint8_t pk[RSHARE_IDENTITY_PUBLIC_KEY_BYTES];
    if (given_len)
        memcpy(pk, given, sizeof(pk));
    else if (id == rshare_node_id(node) && rs_link(node)->id.enabled)
        memcpy(pk, rs_link(node)->id.pk, sizeof(pk));
    else if (!rs_link_peer_identity(node, (uint32_t)id, pk))
        return RSHARE_ENOENT;
    uint8_t cmd[64];
    struct rs_cbor_writer w;
    rs_cbor_writer_init(&w, cmd, sizeof(cmd));
    rs_map_cmd_identity_revoke(&w, (uint32_t)id, pk);
    e->id = id;
    int rc = rs_map_check(node, map, cmd, w.len);
    if (rc < 0)
        return rc;
    return rs_raft_propose(node, cmd, w.len, exec_applied, e);
}

/* Execute an access request on the manager.  `requester` is the sender a
 * peer's request was authenticated as, or this node for its own API; the
 * manager's own requests act as the manager (grantor and revoker 0). */
static int execute(rshare_node *node, uint32_t requester, const uint8_t *body, size_t len,
                   struct exec *e)
{
    bool local = requester == rshare_node_id(node);
    uint32_t as = local ? 0 : requester; /* who the map is told asks */
    struct rs_cbor_reader r;
    rs_cbor_reader_init(&r, body, len);
    size_t n;
    uint64_t op, a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    if (rs_cbor_get_array(&r, &n) < 0 || n < 2 || n > 5 || rs_cbor_get_uint(&r, &op) < 0)
        return RSHARE_EPROTO;
    if (op == RS_ACCESS_REVOKE_IDENTITY)
        return execute_revoke_identity(node, requester, &r, n, e);
    if (rs_cbor_get_uint(&r, &a0) < 0 || (n > 2 && rs_cbor_get_uint(&r, &a1) < 0) ||
        (n > 3 && rs_cbor_get_uint(&r, &a2) < 0) || (n > 4 && rs_cbor_get_uint(&r, &a3) < 0) ||
        !rs_cbor_at_end(&r))
        return RSHARE_EPROTO;
    static const size_t fields[] = {0, 5, 5, 2, 2, 4, 2, 2};
    if (op < 1 || op > 7 || n != fields[op] || a1 > UINT32_MAX || a2 > UINT32_MAX ||
        a3 > UINT32_MAX)
        return RSHARE_EPROTO;
    uint8_t cmd[96];
    struct rs_cbor_writer w;
    rs_cbor_writer_init(&w, cmd, sizeof(cmd));
    const struct rs_map *map = &rs_cluster(node)->map;
    switch (op) {
    case RS_ACCESS_GRANT:
    case RS_ACCESS_DELEGATE: {
        struct rs_map_grant g = {.id = random_id(), .grantee = (uint32_t)a1,
                                 .rights = (uint32_t)a2, .ttl_ms = (uint32_t)a3};
        if (op == RS_ACCESS_GRANT) {
            g.resource = a0;
            /* The host lends its own resource; on the manager, the manager
             * does (grantor 0) unless it is the host itself. */
            const struct rshare_resource_desc *d = rs_map_resource(map, a0);
            g.grantor = local && !(d && d->host == requester) ? 0 : requester;
        } else {
            const struct rs_map_grant *p = rs_map_grant(map, a0);
            if (!p)
                return RSHARE_ENOENT;
            g.parent = a0;
            g.resource = p->resource;
            g.grantor = requester; /* only the parent's grantee may delegate */
        }
        e->id = g.id;
        rs_map_cmd_grant_set(&w, &g);
        break;
    }
    case RS_ACCESS_REVOKE:
        e->id = a0;
        rs_map_cmd_grant_revoke(&w, a0, as);
        break;
    case RS_ACCESS_COOKIE: {
        uint8_t cookie[RS_TOKEN_MAX], out[RS_TOKEN_MAX + 4];
        size_t clen;
        int rc = sign_cookie(node, a0, local ? 0 : requester, cookie, &clen);
        if (rc < 0)
            return rc;
        if (e->req) {
            struct rs_cbor_writer cw;
            rs_cbor_writer_init(&cw, out, sizeof(out));
            rs_cbor_put_bytes(&cw, cookie, clen);
            rshare_request_reply(e->req, out, cw.len);
        } else {
            memcpy(e->job->cookie, cookie, clen);
            e->job->cookie_len = clen;
            e->job->id = a0;
            e->job->status = 0;
            job_answered(node, e->job);
        }
        sodium_memzero(cookie, sizeof(cookie));
        rs_free(node, e);
        return 0;
    }
    case RS_ACCESS_LEASE: {
        if (a2 < RS_ACCESS_MIN_LEASE_MS)
            return RSHARE_EINVAL;
        struct rs_map_lease l = {.id = random_id(), .resource = a0, .holder = requester,
                                 .mode = (uint32_t)a1, .ttl_ms = (uint32_t)a2};
        e->id = l.id;
        e->lease = true;
        rs_map_cmd_lease_set(&w, &l);
        break;
    }
    case RS_ACCESS_RENEW:
        e->id = a0;
        e->lease = true;
        rs_map_cmd_lease_renew(&w, a0, requester);
        break;
    default: /* RS_ACCESS_RELEASE */
        e->id = a0;
        rs_map_cmd_lease_drop(&w, a0, requester, 0);
        break;
    }
    if (w.overflow)
        return RSHARE_EINVAL;
    /* The clear error now; every node would refuse it the same way. */
    int rc = rs_map_check(node, map, cmd, w.len);
    if (rc < 0)
        return rc;
    return rs_raft_propose(node, cmd, w.len, exec_applied, e);
}

static void on_access_request(rshare_node *node, rshare_request *req, void *user_data)
{
    (void)user_data;
    if (!rshare_request_expects_reply(req))
        return;
    if (!rs_raft_is_leader(node)) {
        rshare_request_fail(req, RSHARE_EAGAIN, "not the manager");
        return;
    }
    struct exec *e = rs_calloc(node, 1, sizeof(*e));
    if (!e) {
        rshare_request_fail(req, RSHARE_ENOMEM, "out of memory");
        return;
    }
    e->node = node;
    e->req = req;
    int rc = execute(node, rshare_request_peer(req), rshare_request_data(req),
                     rshare_request_len(req), e);
    if (rc < 0) {
        if (rc == RSHARE_EPROTO)
            RS_STAT_INC(node, msgs_malformed);
        char text[120];
        snprintf(text, sizeof(text), "%s", rc == RSHARE_EPROTO ? "malformed access request"
                                                               : rshare_strerror(rc));
        rshare_request_fail(req, rc, text);
        rs_free(node, e);
    }
}

/* Send a request body to the manager, or execute it here on the manager. */
static int submit(rshare_node *node, const uint8_t *body, size_t len, bool needs_key,
                  rshare_access_fn done, void *user_data)
{
    struct rs_access *a = rs_access(node);
    if (!a || !rs_cluster(node)->joined)
        return rs_errorf(node, RSHARE_EINVAL, "the node has not joined a cluster");
    if (needs_key && !a->key.valid)
        return rs_errorf(node, RSHARE_ENOTSUP, "access management needs a cluster key");
    uint32_t manager = rs_raft_leader(node);
    if (!manager)
        return rs_errorf(node, RSHARE_EAGAIN, "no manager at the moment: try again");
    struct job *job = rs_calloc(node, 1, sizeof(*job));
    if (!job)
        return RSHARE_ENOMEM;
    job->node = node;
    job->done = done;
    job->user_data = user_data;
    int rc;
    if (manager == rshare_node_id(node)) {
        struct exec *e = rs_calloc(node, 1, sizeof(*e));
        if (!e) {
            rs_free(node, job);
            return RSHARE_ENOMEM;
        }
        e->node = node;
        e->job = job;
        rc = execute(node, manager, body, len, e);
        if (rc < 0) {
            rs_free(node, e);
            rs_free(node, job);
            return rs_errorf(node, rc, "access request refused: %s", rshare_strerror(rc));
        }
        return 0;
    }
    rc = rs_msg_call(node, manager, RS_MSG_ACCESS, body, len, client_reply, job);
    if (rc < 0)
        rs_free(node, job);
    return rc;
}

static int submit_args(rshare_node *node, uint64_t op, size_t nargs, const uint64_t *args,
                       rshare_access_fn done, void *user_data)
{
    if (!node)
        return RSHARE_EINVAL;
    uint8_t body[64];
    struct rs_cbor_writer w;
    rs_cbor_writer_init(&w, body, sizeof(body));
    rs_cbor_put_array(&w, 1 + nargs);
    rs_cbor_put_uint(&w, op);
    for (size_t i = 0; i < nargs; i++)
        rs_cbor_put_uint(&w, args[i]);
    return submit(node, body, w.len, true, done, user_data);
}

RSHARE_API int rshare_access_revoke_identity(rshare_node *node, uint32_t node_id,
                                             const uint8_t *public_key, rshare_access_fn done,
                                             void *user_data)
{
    if (!node || node_id == RSHARE_NODE_ID_NONE || node_id == RSHARE_NODE_ID_BROADCAST)
        return RSHARE_EINVAL;
    uint8_t body[64];
    struct rs_cbor_writer w;
    rs_cbor_writer_init(&w, body, sizeof(body));
    rs_cbor_put_array(&w, 3);
    rs_cbor_put_uint(&w, RS_ACCESS_REVOKE_IDENTITY);
    rs_cbor_put_uint(&w, node_id);
    rs_cbor_put_bytes(&w, public_key ? public_key : body, public_key ? RSHARE_IDENTITY_PUBLIC_KEY_BYTES : 0);
    return submit(node, body, w.len, false, done, user_data);
}

/* --- expiry, on the manager -------------------------------------------------------- */

static struct seen *seen_find(struct rs_access *a, uint64_t id, bool lease)
{
    for (size_t i = 0; i < a->seen_count; i++)
        if (a->seen[i].id == id && a->seen[i].lease == lease)
            return &a->seen[i];
    return NULL;
}

struct expiry {
    rshare_node *node;
    uint64_t id;
    bool lease;
};

static void expiry_applied(rshare_node *node, int status, uint64_t index, void *user_data)
{
    (void)index;
    struct expiry *x = user_data;
    struct rs_access *a = rs_access(node);
    struct seen *s = a ? seen_find(a, x->id, x->lease) : NULL;
    if (s)
        s->proposing = false; /* refused (renewed meanwhile): looked at again */
    if (status == 0)
        rs_log_info(node, "access: %s %llx expired", x->lease ? "lease" : "grant",
                    (unsigned long long)x->id);
    rs_free(node, x);
}

/* Note one grant or lease with a lifetime; propose its expiry when due. */
static void expiry_visit(struct rs_access *a, uint64_t id, bool lease, uint32_t seq,
                         uint32_t ttl_ms, uint64_t now)
{
    struct seen *s = seen_find(a, id, lease);
    if (!s) {
        if (a->seen_count >= RS_MAP_MAX_GRANTS + RS_MAP_MAX_LEASES)
            return;
        s = &a->seen[a->seen_count++];
        *s = (struct seen){.id = id, .since_us = now, .seq = seq, .lease = lease};
    }
    s->present = true;
    if (s->seq != seq) { /* renewed: a new lifetime from now */
        s->seq = seq;
        s->since_us = now;
    }
    if (s->proposing || now - s->since_us < (uint64_t)ttl_ms * 1000u)
        return;
    uint8_t cmd[48];
    struct rs_cbor_writer w;
    rs_cbor_writer_init(&w, cmd, sizeof(cmd));
    if (lease)
        rs_map_cmd_lease_drop(&w, id, 0, seq);
    else
        rs_map_cmd_grant_revoke(&w, id, 0);
    struct expiry *x = rs_calloc(a->node, 1, sizeof(*x));
    if (!x)
        return;
    *x = (struct expiry){a->node, id, lease};
    if (rs_raft_propose(a->node, cmd, w.len, expiry_applied, x) < 0) {
        rs_free(a->node, x);
        return;
    }
    s->proposing = true;
}

static void expiry_duty(struct rs_access *a)
{
    rshare_node *node = a->node;
    if (!rs_raft_is_leader(node)) {
        a->seen_count = 0; /* a future manager starts every clock afresh */
        return;
    }
    const struct rs_map *map = &rs_cluster(node)->map;
    uint64_t now = rs_now_us(node);
    for (size_t i = 0; i < a->seen_count; i++)
        a->seen[i].present = false;
    for (size_t i = 0; i < map->grant_count; i++)
        if (map->grants[i].ttl_ms)
            expiry_visit(a, map->grants[i].id, false, 0, map->grants[i].ttl_ms, now);
    for (size_t i = 0; i < map->lease_count; i++)
        expiry_visit(a, map->leases[i].id, true, map->leases[i].seq, map->leases[i].ttl_ms, now);
    size_t kept = 0;
    for (size_t i = 0; i < a->seen_count; i++)
        if (a->seen[i].present || a->seen[i].proposing)
            a->seen[kept++] = a->seen[i];
    a->seen_count = kept;
}

static void on_timer(rshare_node *node, struct rs_timer *timer)
{
    (void)node;
    struct rs_access *a = (struct rs_access *)((char *)timer - offsetof(struct rs_access, timer));
    deliver_jobs(a);
    expiry_duty(a);
    /* A node outside any cluster keeps no timer (an idle node reports no
     * deadline: rshare_node_timeout_ms() is -1). */
    if (a->jobs)
        schedule(a, WAIT_TICK_US);
    else if (rs_cluster(node)->joined)
        schedule(a, TICK_US);
}

/* The expiry tick starts with the first member seen after joining (this
 * node's own arrival included) and then keeps itself going. */
static void on_member(rshare_node *node, uint32_t id, bool up, void *user_data)
{
    (void)id;
    (void)up;
    struct rs_access *a = user_data;
    if (rs_cluster(node)->joined && !rs_timer_pending(&a->timer))
        schedule(a, TICK_US);
}

/* --- set-up -------------------------------------------------------------------------- */

int rs_access_init(rshare_node *node)
{
    struct rs_access *a = rs_calloc(node, 1, sizeof(*a));
    if (a)
        a->seen = rs_calloc(node, RS_MAP_MAX_GRANTS + RS_MAP_MAX_LEASES, sizeof(*a->seen));
    if (!a || !a->seen) {
        if (a)
            rs_free(node, a);
        return rs_errorf(node, RSHARE_ENOMEM, "no memory for access management");
    }
    a->node = node;
    struct rs_core *core = rs_core(node);
    if (core->protected_mode)
        rs_token_key_derive(core->cluster_key, &a->key);
    rs_timer_init(&a->timer, on_timer);
    int rc = rs_msg_set_handler(node, RS_MSG_ACCESS, on_access_request, a);
    if (rc < 0) {
        rs_free(node, a->seen);
        rs_free(node, a);
        return rs_errorf(node, rc, "cannot register the access request handler");
    }
    a->observer = (struct rs_member_observer){on_member, a, NULL};
    rs_membership_observe(node, &a->observer);
    return 0;
}

void rs_access_fini(rshare_node *node)
{
    struct rs_access *a = rs_access(node);
    if (!a)
        return;
    rs_msg_set_handler(node, RS_MSG_ACCESS, NULL, NULL); /* rs_access() is NULL from now on */
    rs_membership_unobserve(node, &a->observer);
    rs_timer_cancel(node, &a->timer);
    while (a->jobs) {
        struct job *job = a->jobs;
        a->jobs = job->next;
        struct rshare_access_result res = {sizeof(res), RSHARE_ESHUTDOWN, job->id, 0, NULL, 0};
        if (job->done)
            job->done(node, &res, job->user_data);
        rs_free(node, job);
    }
    rs_token_key_wipe(&a->key);
    sodium_memzero(a->policies, sizeof(a->policies));
    rs_free(node, a->seen);
    rs_free(node, a);
}

/* --- the public API -------------------------------------------------------------------- */

RSHARE_API int rshare_access_grant(rshare_node *node, uint64_t resource, uint32_t grantee,
                                   uint32_t rights, uint32_t ttl_ms, rshare_access_fn done,
                                   void *user_data)
{
    uint64_t args[] = {resource, grantee, rights, ttl_ms};
    return submit_args(node, RS_ACCESS_GRANT, 4, args, done, user_data);
}

RSHARE_API int rshare_access_delegate(rshare_node *node, uint64_t parent, uint32_t grantee,
                                      uint32_t rights, uint32_t ttl_ms, rshare_access_fn done,
                                      void *user_data)
{
    uint64_t args[] = {parent, grantee, rights, ttl_ms};
    return submit_args(node, RS_ACCESS_DELEGATE, 4, args, done, user_data);
}

RSHARE_API int rshare_access_revoke(rshare_node *node, uint64_t grant, rshare_access_fn done,
                                    void *user_data)
{
    return submit_args(node, RS_ACCESS_REVOKE, 1, &grant, done, user_data);
}

RSHARE_API int rshare_access_cookie(rshare_node *node, uint64_t grant, rshare_access_fn done,
                                    void *user_data)
{
    return submit_args(node, RS_ACCESS_COOKIE, 1, &grant, done, user_data);
}

RSHARE_API int rshare_access_lease_acquire(rshare_node *node, uint64_t resource, uint32_t mode,
                                           uint32_t ttl_ms, rshare_access_fn done,
                                           void *user_data)
{
    uint64_t args[] = {resource, mode, ttl_ms};
    return submit_args(node, RS_ACCESS_LEASE, 3, args, done, user_data);
}

RSHARE_API int rshare_access_lease_renew(rshare_node *node, uint64_t lease, rshare_access_fn done,
                                         void *user_data)
{
    return submit_args(node, RS_ACCESS_RENEW, 1, &lease, done, user_data);
}

RSHARE_API int rshare_access_lease_release(rshare_node *node, uint64_t lease,
                                           rshare_access_fn done, void *user_data)
{
    return submit_args(node, RS_ACCESS_RELEASE, 1, &lease, done, user_data);
}

RSHARE_API int rshare_access_grant_list(rshare_node *node, struct rshare_grant_info *out,
                                        size_t max, size_t struct_size, size_t *count)
{
    if (!node || !count || (max && (!out || struct_size < 2 * sizeof(uint32_t))))
        return RSHARE_EINVAL;
    const struct rs_map *map = &rs_cluster(node)->map;
    size_t copy = struct_size < sizeof(struct rshare_grant_info) ? struct_size
                                                                 : sizeof(struct rshare_grant_info);
    for (size_t i = 0; i < map->grant_count && i < max; i++) {
        const struct rs_map_grant *g = &map->grants[i];
        struct rshare_grant_info info = {(uint32_t)copy, g->grantee, g->id, g->parent,
                                         g->resource, g->grantor, g->rights, g->ttl_ms, 0};
        memcpy((char *)out + i * struct_size, &info, copy);
    }
    *count = map->grant_count;
    return 0;
}

RSHARE_API int rshare_access_lease_list(rshare_node *node, struct rshare_lease_info *out,
                                        size_t max, size_t struct_size, size_t *count)
{
    if (!node || !count || (max && (!out || struct_size < 2 * sizeof(uint32_t))))
        return RSHARE_EINVAL;
    const struct rs_map *map = &rs_cluster(node)->map;
    size_t copy = struct_size < sizeof(struct rshare_lease_info) ? struct_size
                                                                 : sizeof(struct rshare_lease_info);
    for (size_t i = 0; i < map->lease_count && i < max; i++) {
        const struct rs_map_lease *l = &map->leases[i];
        struct rshare_lease_info info = {(uint32_t)copy, l->holder, l->id, l->resource, l->fence,
                                         l->mode, l->ttl_ms, l->seq, 0};
        memcpy((char *)out + i * struct_size, &info, copy);
    }
    *count = map->lease_count;
    return 0;
}

RSHARE_API int rshare_access_set_policy(rshare_node *node, uint64_t resource, uint32_t flags)
{
    if (!node || !resource ||
        (flags & ~(RSHARE_ACCESS_REQUIRE_GRANT | RSHARE_ACCESS_REQUIRE_LEASE)))
        return RSHARE_EINVAL;
    struct rs_access *a = rs_access(node);
    if (!a)
        return RSHARE_EINVAL;
    if ((uint32_t)(resource >> 32) != rshare_node_id(node))
        return rs_errorf(node, RSHARE_EINVAL, "resource %llx is not hosted here",
                         (unsigned long long)resource);
    if ((flags & RSHARE_ACCESS_REQUIRE_GRANT) && !a->key.valid)
        return rs_errorf(node, RSHARE_ENOTSUP, "grants need a cluster key");
    struct policy *p = policy_find(a, resource);
    if (!p && flags == RSHARE_ACCESS_OPEN)
        return 0;
    if (!p && !(p = policy_find(a, 0)))
        return rs_errorf(node, RSHARE_EBUSY, "at most %d policies", RSHARE_RESOURCES_PER_NODE);
    memset(p, 0, sizeof(*p));
    if (flags != RSHARE_ACCESS_OPEN) {
        p->resource = resource;
        p->flags = flags;
    }
    return 0;
}

RSHARE_API int rshare_access_stats(rshare_node *node, struct rshare_access_stats *stats,
                                   size_t struct_size)
{
    if (!node || !stats || struct_size < sizeof(uint32_t))
        return RSHARE_EINVAL;
    struct rs_access *a = rs_access(node);
    struct rshare_access_stats s = a ? a->stats : (struct rshare_access_stats){0};
    size_t n = struct_size < sizeof(s) ? struct_size : sizeof(s);
    s.struct_size = (uint32_t)n;
    memcpy(stats, &s, n);
    return 0;
}
