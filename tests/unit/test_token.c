/* Unit tests of grant cookies (lib/access/token.c), the host's cookie and
 * fencing checks (lib/access/access.c) and the access commands of the map
 * (lib/cluster/map.c): forged, expired, revoked, replayed and foreign
 * cookies are refused; a delegation chain works and is cut when any link is
 * revoked; leases conflict, renew and expire by the rules every node
 * applies alike; snapshots keep it all; 10,000 mutated valid cookies are
 * all refused and every refusal is counted. */
#include "config.h"

#include "testutil.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "access/access.h"
#include "access/token.h"
#include "cluster/descriptor.h"
#include "cluster/map.h"
#include "rshare/rshare.h"

static rshare_node *node; /* only for the map's allocations */
static struct rs_map map;
static struct rs_token_key key, foreign_key;
static const uint64_t disk = (uint64_t)1 << 32 | 1; /* on node 1, read-write */
static const uint64_t rodisk = (uint64_t)1 << 32 | 2; /* on node 1, read-only */

static int apply(void (*build)(struct rs_cbor_writer *, const void *), const void *arg)
{
    uint8_t buf[4096];
    struct rs_cbor_writer w;
    rs_cbor_writer_init(&w, buf, sizeof(buf));
    build(&w, arg);
    ck_assert(!w.overflow);
    uint32_t subject;
    return rs_map_apply(node, &map, buf, w.len, &subject);
}

static void b_member(struct rs_cbor_writer *w, const void *arg)
{
    rs_map_cmd_member_set(w, arg);
}
static void b_grant(struct rs_cbor_writer *w, const void *arg)
{
    rs_map_cmd_grant_set(w, arg);
}
static void b_lease(struct rs_cbor_writer *w, const void *arg)
{
    rs_map_cmd_lease_set(w, arg);
}

static int grant(uint64_t id, uint64_t parent, uint64_t resource, uint32_t grantee,
                 uint32_t grantor, uint32_t rights)
{
    struct rs_map_grant g = {id, parent, resource, grantee, grantor, rights, 0};
    return apply(b_grant, &g);
}

static int revoke(uint64_t id, uint32_t by)
{
    uint8_t buf[64];
    struct rs_cbor_writer w;
    rs_cbor_writer_init(&w, buf, sizeof(buf));
    rs_map_cmd_grant_revoke(&w, id, by);
    uint32_t subject;
    return rs_map_apply(node, &map, buf, w.len, &subject);
}

static void setup(void)
{
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = 9;
    cfg.log = (struct rshare_log){rs_test_quiet_log, NULL, RSHARE_LOG_ERROR};
    ck_assert_int_eq(rshare_node_create(&cfg, &node), 0);
    rs_map_init(&map);
    for (uint32_t id = 1; id <= 5; id++) {
        struct rs_map_member m = {id, (uint16_t)id, 0, RS_MAP_MEMBER_ELIGIBLE};
        ck_assert_int_eq(apply(b_member, &m), 0);
    }
    struct rshare_resource_desc d[2];
    for (int i = 0; i < 2; i++) {
        rshare_resource_desc_init(&d[i], sizeof(d[i]));
        d[i].kind = RSHARE_RESOURCE_BLOCK;
        d[i].id = i ? rodisk : disk;
        d[i].host = 1;
        d[i].rights = i ? RSHARE_RIGHT_READ : RSHARE_RIGHT_READ | RSHARE_RIGHT_WRITE;
        d[i].block_size = 512;
        d[i].block_count = 128;
        snprintf(d[i].path, sizeof(d[i].path), "disk%d", i);
    }
    uint8_t buf[2048];
    struct rs_cbor_writer w;
    rs_cbor_writer_init(&w, buf, sizeof(buf));
    rs_map_cmd_resources_set(&w, 1, d, 2);
    uint32_t subject;
    ck_assert_int_eq(rs_map_apply(node, &map, buf, w.len, &subject), 0);
    uint8_t ck[32];
    memset(ck, 0x42, sizeof(ck));
    rs_token_key_derive(ck, &key);
    memset(ck, 0x43, sizeof(ck));
    rs_token_key_derive(ck, &foreign_key);
}

static void teardown(void)
{
    rs_map_clear(node, &map);
    rshare_node_destroy(node);
    rs_token_key_wipe(&key);
    rs_token_key_wipe(&foreign_key);
}

/* The cookie the manager would sign for grant `id` as the map holds it. */
static size_t cookie_for(const struct rs_token_key *k, uint64_t id, uint8_t *out)
{
    const struct rs_map_grant *g = rs_map_grant(&map, id);
    ck_assert_ptr_nonnull(g);
    struct rs_token t = {.id = g->id, .parent = g->parent, .resource = g->resource,
                         .grantee = g->grantee, .rights = g->rights, .epoch = 3,
                         .version = 77, .ttl_ms = g->ttl_ms};
    size_t n = rs_token_seal(k, &t, out, RS_TOKEN_MAX);
    ck_assert_uint_gt(n, 0);
    ck_assert_uint_le(n, RS_TOKEN_MAX);
    return n;
}

static enum rs_access_verdict check(const uint8_t *c, size_t n, uint32_t sender, uint64_t res,
                                    uint32_t need)
{
    return rs_access_check_cookie(&map, key.pk, c, n, sender, res, need);
}

START_TEST(test_round_trip)
{
    struct rs_token t, back;
    memset(&t, 0, sizeof(t)); /* the padding too: t is compared whole below */
    t.id = 0x1122334455667788u;
    t.parent = 5;
    t.resource = disk;
    t.grantee = 4;
    t.rights = 3;
    t.epoch = 9;
    t.version = (uint64_t)1 << 40;
    t.ttl_ms = 60000;
    uint8_t c[RS_TOKEN_MAX];
    size_t n = rs_token_seal(&key, &t, c, sizeof(c));
    ck_assert_uint_gt(n, 0);
    ck_assert_int_eq(rs_token_open(key.pk, c, n, &back), RS_TOKEN_OK);
    ck_assert_mem_eq(&back, &t, sizeof(t));
    /* Out-of-range tokens are never signed. */
    struct rs_token bad = t;
    bad.grantee = 0;
    ck_assert_uint_eq(rs_token_seal(&key, &bad, c, sizeof(c)), 0);
    bad = t;
    bad.rights = 4;
    ck_assert_uint_eq(rs_token_seal(&key, &bad, c, sizeof(c)), 0);
    ck_assert_uint_eq(rs_token_seal(&key, &t, c, 40), 0); /* too small a buffer */
    /* A key that cannot sign does not. */
    struct rs_token_key none = {0};
    ck_assert_uint_eq(rs_token_seal(&none, &t, c, sizeof(c)), 0);
}
END_TEST

START_TEST(test_valid_and_forged)
{
    ck_assert_int_eq(grant(100, 0, disk, 2, 1, RSHARE_RIGHT_READ | RSHARE_RIGHT_WRITE), 0);
    uint8_t c[RS_TOKEN_MAX];
    size_t n = cookie_for(&key, 100, c);
    ck_assert_int_eq(check(c, n, 2, disk, RSHARE_RIGHT_WRITE), RS_ACCESS_OK);
    ck_assert_int_eq(check(c, n, 2, disk, RSHARE_RIGHT_READ), RS_ACCESS_OK);
    /* No cookie at all. */
    ck_assert_int_eq(check(NULL, 0, 2, disk, RSHARE_RIGHT_READ), RS_ACCESS_NO_COOKIE);
    /* Forged: a signature of random bytes, or altered rights in the body
     * (the byte holding rights = 3 made 7, and back to a valid 1). */
    uint8_t f[RS_TOKEN_MAX];
    memcpy(f, c, n);
    randombytes_buf(f + n - 64, 64);
    ck_assert_int_eq(check(f, n, 2, disk, RSHARE_RIGHT_READ), RS_ACCESS_BAD_SIGNATURE);
    struct rs_token t;
    ck_assert_int_eq(rs_token_open(key.pk, f, n, &t), RS_TOKEN_BAD_SIGNATURE);
    /* A token for more rights than the grant, signed with the right key but
     * not matching the map (as if the manager had been fooled): refused. */
    struct rs_token big = {.id = 100, .resource = disk, .grantee = 2, .rights = 3};
    ck_assert_int_eq(grant(101, 0, disk, 3, 1, RSHARE_RIGHT_READ), 0);
    big.id = 101;
    big.grantee = 3;
    n = rs_token_seal(&key, &big, f, sizeof(f));
    ck_assert_int_eq(check(f, n, 3, disk, RSHARE_RIGHT_WRITE), RS_ACCESS_REVOKED);
    /* Too long, wrong version, trailing bytes. */
    uint8_t huge[RS_TOKEN_MAX + 1] = {0};
    ck_assert_int_eq(rs_token_open(key.pk, huge, sizeof(huge), &t), RS_TOKEN_TOO_LONG);
    n = cookie_for(&key, 100, c);
    c[1] = 0x02; /* [2, ...] */
    ck_assert_int_eq(rs_token_open(key.pk, c, n, &t), RS_TOKEN_BAD_VERSION);
    c[1] = 0x01;
    c[n] = 0x00;
    ck_assert_int_eq(rs_token_open(key.pk, c, n + 1, &t), RS_TOKEN_MALFORMED);
    ck_assert_int_eq(rs_token_open(key.pk, c, n, &t), RS_TOKEN_OK);
}
END_TEST

START_TEST(test_foreign)
{
    ck_assert_int_eq(grant(100, 0, disk, 2, 1, RSHARE_RIGHT_READ), 0);
    uint8_t c[RS_TOKEN_MAX];
    /* Another cluster's manager signed a cookie for the same ids. */
    size_t n = cookie_for(&foreign_key, 100, c);
    ck_assert_int_eq(check(c, n, 2, disk, RSHARE_RIGHT_READ), RS_ACCESS_BAD_SIGNATURE);
    ck_assert_int_eq(rs_access_check_cookie(&map, foreign_key.pk, c, n, 2, disk,
                                            RSHARE_RIGHT_READ),
                     RS_ACCESS_OK); /* the foreign cluster's hosts would take it */
}
END_TEST

START_TEST(test_replayed)
{
    ck_assert_int_eq(grant(100, 0, disk, 2, 1, RSHARE_RIGHT_READ | RSHARE_RIGHT_WRITE), 0);
    uint8_t c[RS_TOKEN_MAX];
    size_t n = cookie_for(&key, 100, c);
    /* Captured and presented by another node: bound to node 2. */
    ck_assert_int_eq(check(c, n, 3, disk, RSHARE_RIGHT_READ), RS_ACCESS_WRONG_NODE);
    ck_assert_int_eq(check(c, n, 1, disk, RSHARE_RIGHT_READ), RS_ACCESS_WRONG_NODE);
    /* Replayed against another resource of the same host. */
    ck_assert_int_eq(check(c, n, 2, rodisk, RSHARE_RIGHT_READ), RS_ACCESS_WRONG_RESOURCE);
    /* Replayed by its own grantee after the grant is gone. */
    ck_assert_int_eq(revoke(100, 1), 0);
    ck_assert_int_eq(check(c, n, 2, disk, RSHARE_RIGHT_READ), RS_ACCESS_REVOKED);
    /* The same grant id issued again later is another grant: an old cookie
     * naming other rights does not match it. */
    ck_assert_int_eq(grant(100, 0, disk, 2, 1, RSHARE_RIGHT_READ), 0);
    ck_assert_int_eq(check(c, n, 2, disk, RSHARE_RIGHT_READ), RS_ACCESS_REVOKED);
}
END_TEST

START_TEST(test_expired_and_revoked)
{
    struct rs_map_grant g = {100, 0, disk, 2, 1, RSHARE_RIGHT_READ, 5000};
    ck_assert_int_eq(apply(b_grant, &g), 0);
    uint8_t c[RS_TOKEN_MAX];
    size_t n = cookie_for(&key, 100, c);
    ck_assert_int_eq(check(c, n, 2, disk, RSHARE_RIGHT_READ), RS_ACCESS_OK);
    /* Expiry is the manager's revocation (by 0) when its clock says so. */
    ck_assert_int_eq(revoke(100, 0), 0);
    ck_assert_int_eq(check(c, n, 2, disk, RSHARE_RIGHT_READ), RS_ACCESS_REVOKED);
    ck_assert_int_eq(revoke(100, 0), RSHARE_ENOENT);

    /* Who may revoke: the host (1) and the manager (0), not a bystander. */
    ck_assert_int_eq(grant(200, 0, disk, 2, 1, RSHARE_RIGHT_READ), 0);
    ck_assert_int_eq(revoke(200, 3), RSHARE_EACCES);
    ck_assert_int_eq(revoke(200, 2), RSHARE_EACCES); /* nor the grantee itself */
    n = cookie_for(&key, 200, c);
    ck_assert_int_eq(check(c, n, 2, disk, RSHARE_RIGHT_READ), RS_ACCESS_OK);
    ck_assert_int_eq(revoke(200, 1), 0);
    ck_assert_int_eq(check(c, n, 2, disk, RSHARE_RIGHT_READ), RS_ACCESS_REVOKED);

    /* Grant rules: rights within what the host offers, lent by the host or
     * the manager, to a member, a fresh id. */
    ck_assert_int_eq(grant(300, 0, rodisk, 2, 1, RSHARE_RIGHT_WRITE), RSHARE_EACCES);
    ck_assert_int_eq(grant(300, 0, disk, 2, 3, RSHARE_RIGHT_READ), RSHARE_EACCES);
    ck_assert_int_eq(grant(300, 0, disk, 77, 1, RSHARE_RIGHT_READ), RSHARE_ENOENT);
    ck_assert_int_eq(grant(300, 0, disk, 2, 1, 0), RSHARE_EINVAL);
    ck_assert_int_eq(grant(0, 0, disk, 2, 1, RSHARE_RIGHT_READ), RSHARE_EEXIST);
    ck_assert_int_eq(grant(300, 0, disk, 2, 0, RSHARE_RIGHT_READ), 0); /* by the manager */
    ck_assert_int_eq(grant(300, 0, disk, 3, 0, RSHARE_RIGHT_READ), RSHARE_EEXIST);
    /* Not enough rights in the grant for a write. */
    ck_assert_int_eq(grant(301, 0, disk, 4, 1, RSHARE_RIGHT_READ), 0);
    n = cookie_for(&key, 301, c);
    ck_assert_int_eq(check(c, n, 4, disk, RSHARE_RIGHT_WRITE), RS_ACCESS_NO_RIGHT);
}
END_TEST

START_TEST(test_delegation_chain)
{
    const uint32_t rw = RSHARE_RIGHT_READ | RSHARE_RIGHT_WRITE;
    ck_assert_int_eq(grant(10, 0, disk, 2, 1, rw), 0);             /* host 1 -> 2 */
    ck_assert_int_eq(grant(20, 10, disk, 3, 2, rw), 0);            /* 2 -> 3 */
    ck_assert_int_eq(grant(30, 20, disk, 4, 3, RSHARE_RIGHT_READ), 0); /* 3 -> 4 */
    ck_assert_int_eq(grant(31, 20, disk, 5, 3, rw), 0);            /* 3 -> 5 */
    uint8_t c10[RS_TOKEN_MAX], c20[RS_TOKEN_MAX], c30[RS_TOKEN_MAX], c31[RS_TOKEN_MAX];
    size_t n10 = cookie_for(&key, 10, c10), n20 = cookie_for(&key, 20, c20);
    size_t n30 = cookie_for(&key, 30, c30), n31 = cookie_for(&key, 31, c31);
    ck_assert_int_eq(check(c30, n30, 4, disk, RSHARE_RIGHT_READ), RS_ACCESS_OK);
    ck_assert_int_eq(check(c30, n30, 4, disk, RSHARE_RIGHT_WRITE), RS_ACCESS_NO_RIGHT);
    ck_assert_int_eq(check(c31, n31, 5, disk, RSHARE_RIGHT_WRITE), RS_ACCESS_OK);

    /* Delegation rules: only the parent's grantee, never more rights, the
     * same resource, at most RS_MAP_MAX_CHAIN links. */
    ck_assert_int_eq(grant(40, 10, disk, 5, 3, RSHARE_RIGHT_READ), RSHARE_EACCES);
    ck_assert_int_eq(grant(40, 30, disk, 5, 4, rw), RSHARE_EACCES);
    ck_assert_int_eq(grant(40, 10, rodisk, 5, 2, RSHARE_RIGHT_READ), RSHARE_EACCES);
    ck_assert_int_eq(grant(40, 99, disk, 5, 2, RSHARE_RIGHT_READ), RSHARE_ENOENT);
    ck_assert_int_eq(grant(40, 30, disk, 5, 4, RSHARE_RIGHT_READ), 0); /* link 4 */
    ck_assert_int_eq(grant(50, 40, disk, 1, 5, RSHARE_RIGHT_READ), RSHARE_EBUSY); /* link 5 */

    /* A grantor up the chain may revoke below it; a grantee below may not
     * revoke above. */
    ck_assert_int_eq(revoke(20, 4), RSHARE_EACCES);
    /* Cutting the middle link cuts everything below it, nothing above. */
    ck_assert_int_eq(revoke(20, 2), 0);
    ck_assert_int_eq(check(c30, n30, 4, disk, RSHARE_RIGHT_READ), RS_ACCESS_REVOKED);
    ck_assert_int_eq(check(c31, n31, 5, disk, RSHARE_RIGHT_READ), RS_ACCESS_REVOKED);
    ck_assert_int_eq(check(c20, n20, 3, disk, RSHARE_RIGHT_READ), RS_ACCESS_REVOKED);
    ck_assert_int_eq(check(c10, n10, 2, disk, RSHARE_RIGHT_WRITE), RS_ACCESS_OK);
    ck_assert_ptr_null(rs_map_grant(&map, 40));
    ck_assert_uint_eq(map.grant_count, 1);

    /* Cutting the root link cuts a fresh chain below it. */
    ck_assert_int_eq(grant(21, 10, disk, 3, 2, RSHARE_RIGHT_READ), 0);
    ck_assert_int_eq(grant(32, 21, disk, 4, 3, RSHARE_RIGHT_READ), 0);
    uint8_t c32[RS_TOKEN_MAX];
    size_t n32 = cookie_for(&key, 32, c32);
    ck_assert_int_eq(check(c32, n32, 4, disk, RSHARE_RIGHT_READ), RS_ACCESS_OK);
    ck_assert_int_eq(revoke(10, 1), 0);
    ck_assert_int_eq(check(c32, n32, 4, disk, RSHARE_RIGHT_READ), RS_ACCESS_REVOKED);
    ck_assert_uint_eq(map.grant_count, 0);
}
END_TEST

/* A chain whose upper link vanished without its children (a map restored
 * from a snapshot taken by a buggy node, say) is still refused. */
START_TEST(test_chain_checked_on_use)
{
    ck_assert_int_eq(grant(10, 0, disk, 2, 1, RSHARE_RIGHT_READ), 0);
    ck_assert_int_eq(grant(20, 10, disk, 3, 2, RSHARE_RIGHT_READ), 0);
    uint8_t c[RS_TOKEN_MAX];
    size_t n = cookie_for(&key, 20, c);
    ck_assert_int_eq(check(c, n, 3, disk, RSHARE_RIGHT_READ), RS_ACCESS_OK);
    map.grants[0].grantee = 5; /* the parent now names someone else */
    ck_assert_int_eq(check(c, n, 3, disk, RSHARE_RIGHT_READ), RS_ACCESS_REVOKED);
    map.grants[0].grantee = 2;
    map.grants[0].id = 11; /* the parent is gone */
    ck_assert_int_eq(check(c, n, 3, disk, RSHARE_RIGHT_READ), RS_ACCESS_REVOKED);
}
END_TEST

static int lease(uint64_t id, uint64_t resource, uint32_t holder, uint32_t mode)
{
    struct rs_map_lease l = {.id = id, .resource = resource, .holder = holder, .mode = mode,
                             .ttl_ms = 1000};
    return apply(b_lease, &l);
}

static int lease_cmd(int op, uint64_t id, uint32_t who, uint32_t seq)
{
    uint8_t buf[64];
    struct rs_cbor_writer w;
    rs_cbor_writer_init(&w, buf, sizeof(buf));
    if (op == RS_MAP_LEASE_RENEW)
        rs_map_cmd_lease_renew(&w, id, who);
    else
        rs_map_cmd_lease_drop(&w, id, who, seq);
    uint32_t subject;
    return rs_map_apply(node, &map, buf, w.len, &subject);
}

START_TEST(test_leases_and_fencing)
{
    ck_assert_int_eq(lease(1, disk, 2, RS_LEASE_SHARED), 0);
    ck_assert_int_eq(lease(2, disk, 3, RS_LEASE_SHARED), 0);
    ck_assert_int_eq(lease(3, disk, 4, RS_LEASE_EXCLUSIVE), RSHARE_EBUSY);
    ck_assert_int_eq(lease(3, rodisk, 4, RS_LEASE_EXCLUSIVE), RSHARE_EACCES); /* read-only */
    ck_assert_int_eq(lease(3, disk, 4, 7), RSHARE_EINVAL);
    ck_assert_int_eq(lease(1, disk, 4, RS_LEASE_SHARED), RSHARE_EEXIST);
    ck_assert_uint_eq(rs_map_fence(&map, disk), 2);
    /* Shared leases fence nobody in: no exclusive lease, no writes. */
    ck_assert_int_eq(rs_access_check_fence(&map, disk, 2, 1), RS_ACCESS_FENCED);
    ck_assert_int_eq(lease_cmd(RS_MAP_LEASE_DROP, 1, 3, 0), RSHARE_EACCES); /* not its holder */
    ck_assert_int_eq(lease_cmd(RS_MAP_LEASE_DROP, 1, 2, 0), 0);
    ck_assert_int_eq(lease_cmd(RS_MAP_LEASE_DROP, 2, 3, 0), 0);

    ck_assert_int_eq(lease(4, disk, 4, RS_LEASE_EXCLUSIVE), 0);
    const struct rs_map_lease *l = rs_map_lease(&map, 4);
    ck_assert_uint_eq(l->fence, 3);
    ck_assert_int_eq(lease(5, disk, 5, RS_LEASE_SHARED), RSHARE_EBUSY);
    ck_assert_int_eq(lease(5, disk, 5, RS_LEASE_EXCLUSIVE), RSHARE_EBUSY);
    ck_assert_int_eq(rs_access_check_fence(&map, disk, 4, 3), RS_ACCESS_OK);
    ck_assert_int_eq(rs_access_check_fence(&map, disk, 4, 2), RS_ACCESS_FENCED);
    ck_assert_int_eq(rs_access_check_fence(&map, disk, 5, 3), RS_ACCESS_FENCED);
    /* Renewals by the holder only; an expiry decided before a renewal is
     * refused (its seq is stale), the one after it goes through. */
    ck_assert_int_eq(lease_cmd(RS_MAP_LEASE_RENEW, 4, 5, 0), RSHARE_EACCES);
    ck_assert_int_eq(lease_cmd(RS_MAP_LEASE_RENEW, 4, 4, 0), 0);
    ck_assert_int_eq(lease_cmd(RS_MAP_LEASE_DROP, 4, 0, 0), RSHARE_ESTALE);
    ck_assert_int_eq(lease_cmd(RS_MAP_LEASE_DROP, 4, 0, 1), 0);
    ck_assert_int_eq(lease_cmd(RS_MAP_LEASE_RENEW, 4, 4, 0), RSHARE_ENOENT);
    /* Expired: the old holder's token is refused, and stays refused when
     * the next holder comes: the counter only grows. */
    ck_assert_int_eq(rs_access_check_fence(&map, disk, 4, 3), RS_ACCESS_FENCED);
    ck_assert_int_eq(lease(6, disk, 5, RS_LEASE_EXCLUSIVE), 0);
    ck_assert_uint_eq(rs_map_lease(&map, 6)->fence, 4);
    ck_assert_int_eq(rs_access_check_fence(&map, disk, 4, 3), RS_ACCESS_FENCED);
    ck_assert_int_eq(rs_access_check_fence(&map, disk, 5, 4), RS_ACCESS_OK);
}
END_TEST

static void *plain_alloc(size_t n)
{
    return malloc(n);
}

START_TEST(test_snapshot)
{
    ck_assert_int_eq(grant(10, 0, disk, 2, 1, RSHARE_RIGHT_READ), 0);
    ck_assert_int_eq(grant(20, 10, disk, 3, 2, RSHARE_RIGHT_READ), 0);
    ck_assert_int_eq(lease(7, disk, 4, RS_LEASE_EXCLUSIVE), 0);
    ck_assert_int_eq(lease_cmd(RS_MAP_LEASE_RENEW, 7, 4, 0), 0);
    ck_assert_int_eq(lease(8, rodisk, 4, RS_LEASE_SHARED), 0);
    uint8_t *snap;
    size_t len;
    ck_assert_int_eq(rs_map_snapshot(node, &map, plain_alloc, &snap, &len), 0);
    struct rs_map back;
    rs_map_init(&back);
    ck_assert_int_eq(rs_map_restore(node, &back, snap, len), 0);
    ck_assert_uint_eq(back.grant_count, 2);
    ck_assert_mem_eq(back.grants, map.grants, 2 * sizeof(*map.grants));
    ck_assert_uint_eq(back.lease_count, 2);
    ck_assert_mem_eq(back.leases, map.leases, 2 * sizeof(*map.leases));
    ck_assert_uint_eq(back.fence_count, 2);
    ck_assert_uint_eq(rs_map_fence(&back, disk), 1);
    /* The copy used to check commands carries them too. */
    struct rs_map copy;
    ck_assert_int_eq(rs_map_copy(node, &copy, &map), 0);
    ck_assert_uint_eq(copy.lease_count, 2);
    ck_assert_ptr_nonnull(rs_map_grant(&copy, 20));
    rs_map_clear(node, &copy);
    rs_map_clear(node, &back);
    /* Truncated snapshots are refused whole. */
    for (size_t cut = 0; cut < len; cut += 7) {
        rs_map_init(&back);
        ck_assert_int_ne(rs_map_restore(node, &back, snap, cut), 0);
        rs_map_clear(node, &back);
    }
    free(snap);
}
END_TEST

/* --- 10,000 mutated cookies ------------------------------------------------------- */

START_TEST(test_mutations_all_refused)
{
    const uint32_t rw = RSHARE_RIGHT_READ | RSHARE_RIGHT_WRITE;
    ck_assert_int_eq(grant(10, 0, disk, 2, 1, rw), 0);
    ck_assert_int_eq(grant(0xfedcba9876543210u, 10, disk, 3, 2, RSHARE_RIGHT_READ), 0);
    ck_assert_int_eq(grant(30, 0, rodisk, 4, 0, RSHARE_RIGHT_READ), 0);
    struct {
        uint8_t c[RS_TOKEN_MAX];
        size_t n;
        uint32_t grantee;
        uint64_t resource;
    } valid[3] = {{.grantee = 2, .resource = disk}, {.grantee = 3, .resource = disk},
                  {.grantee = 4, .resource = rodisk}};
    valid[0].n = cookie_for(&key, 10, valid[0].c);
    valid[1].n = cookie_for(&key, 0xfedcba9876543210u, valid[1].c);
    valid[2].n = cookie_for(&key, 30, valid[2].c);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(check(valid[i].c, valid[i].n, valid[i].grantee, valid[i].resource,
                               RSHARE_RIGHT_READ),
                         RS_ACCESS_OK);

    uint64_t verdicts[RS_TOKEN_VERDICTS] = {0}, access[RS_ACCESS_FENCED + 1] = {0};
    uint64_t kinds[3] = {0};
    srand(77);
    const int total = 10000;
    for (int k = 0; k < total; k++) {
        int v = rand() % 3, kind = k % 3;
        uint8_t m[2 * RS_TOKEN_MAX];
        size_t n;
        bool same;
        do {
            n = valid[v].n;
            memcpy(m, valid[v].c, n);
            if (kind == 0) { /* 1..8 bit flips */
                int flips = 1 + rand() % 8;
                for (int f = 0; f < flips; f++)
                    m[rand() % n] ^= (uint8_t)(1u << (rand() % 8));
            } else if (kind == 1) { /* truncation */
                n = (size_t)rand() % valid[v].n;
            } else { /* the head of one cookie spliced to the tail of another */
                int o = (v + 1 + rand() % 2) % 3;
                size_t cut = 1 + (size_t)rand() % (valid[v].n - 1);
                size_t from = 1 + (size_t)rand() % (valid[o].n - 1);
                memcpy(m + cut, valid[o].c + from, valid[o].n - from);
                n = cut + valid[o].n - from;
            }
            /* A mutation that gave back a valid cookie is no mutation. */
            same = false;
            for (int i = 0; i < 3; i++)
                same |= n == valid[i].n && memcmp(m, valid[i].c, n) == 0;
        } while (same);
        kinds[kind]++;
        struct rs_token t;
        enum rs_token_verdict tv = rs_token_open(key.pk, m, n, &t);
        ck_assert_msg(tv != RS_TOKEN_OK, "mutation %d (kind %d) accepted", k, kind);
        verdicts[tv]++;
        enum rs_access_verdict av =
            rs_access_check_cookie(&map, key.pk, m, n, valid[v].grantee, valid[v].resource,
                                   RSHARE_RIGHT_READ);
        ck_assert_int_ne(av, RS_ACCESS_OK);
        access[av]++;
    }
    uint64_t sum = 0, asum = 0;
    for (int i = 0; i < RS_TOKEN_VERDICTS; i++) {
        sum += verdicts[i];
        if (verdicts[i])
            printf("  %-50s %llu\n", rs_token_verdict_text((enum rs_token_verdict)i),
                   (unsigned long long)verdicts[i]);
    }
    for (int i = 0; i <= RS_ACCESS_FENCED; i++)
        asum += access[i];
    ck_assert_uint_eq(verdicts[RS_TOKEN_OK], 0);
    ck_assert_uint_eq(sum, (uint64_t)total);
    ck_assert_uint_eq(asum, (uint64_t)total);
    ck_assert_uint_eq(access[RS_ACCESS_OK], 0);
    /* Every kind of mutation ran, and both refusal paths were exercised. */
    ck_assert_uint_gt(kinds[0], 3000);
    ck_assert_uint_gt(kinds[2], 3000);
    ck_assert_uint_gt(verdicts[RS_TOKEN_BAD_SIGNATURE], 1000);
    ck_assert_uint_gt(verdicts[RS_TOKEN_MALFORMED], 1000);
    printf("%d mutated cookies refused: %llu bad signature, %llu malformed, %llu other\n", total,
           (unsigned long long)verdicts[RS_TOKEN_BAD_SIGNATURE],
           (unsigned long long)verdicts[RS_TOKEN_MALFORMED],
           (unsigned long long)(total - verdicts[RS_TOKEN_BAD_SIGNATURE] -
                                verdicts[RS_TOKEN_MALFORMED]));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("token");
    TCase *tc = tcase_create("token");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_valid_and_forged);
    tcase_add_test(tc, test_foreign);
    tcase_add_test(tc, test_replayed);
    tcase_add_test(tc, test_expired_and_revoked);
    tcase_add_test(tc, test_delegation_chain);
    tcase_add_test(tc, test_chain_checked_on_use);
    tcase_add_test(tc, test_leases_and_fencing);
    tcase_add_test(tc, test_snapshot);
    tcase_add_test(tc, test_mutations_all_refused);
    suite_add_tcase(s, tc);
    return rs_test_run(s);
}
