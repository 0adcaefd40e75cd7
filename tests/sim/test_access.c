/* Simulation: access management end to end.  Five nodes with a cluster key
 * on the loop transport; node 1 serves a disk that requires grants and
 * leases and one that requires grants only.  Grants issued by the host are
 * fetched as cookies by their grantees, delegated, revoked (the delegation
 * falls with its parent) and expire on the manager's clock; a cookie shown
 * by another node is refused.  Two writers contend for the exclusive lease:
 * the holder is partitioned away, its lease expires, the other writer gets
 * it with a newer fencing token, and every write the old holder sends
 * afterwards is refused by the host; the disk holds only the new holder's
 * data.  No log line carries key material or a cookie. */
#include "config.h"

#include "testutil.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "access/token.h"
#include "log_capture.h"
#include "memory_store.h"
#include "rshare/rshare.h"

#define NODES 5
#define DISK_BYTES (1u << 20)

static rshare_loop_net *net;
static rshare_node *nodes[NODES];
static struct memory_store stores[NODES];
static rshare_block *disk, *open_disk; /* on node 1 */
static uint64_t disk_id, open_id;
static uint8_t cluster_key[32];

static void node_up(size_t i)
{
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = (uint32_t)(i + 1);
    cfg.slot = (uint16_t)i;
    cfg.persist = memory_store_hook(&stores[i]);
    cfg.clock = rshare_loop_net_clock(net);
    cfg.cluster_key = cluster_key;
    cfg.request_timeout_ms = 20000;
    cfg.log = (struct rshare_log){capture_log, NULL, RSHARE_LOG_DEBUG};
    ck_assert_int_eq(rshare_node_create(&cfg, &nodes[i]), 0);
    ck_assert_int_ge(rshare_node_add_loop(nodes[i], net, (uint32_t)(i + 1)), 0);
    static const uint32_t voters[] = {1, 2, 3};
    struct rshare_cluster_config cc;
    rshare_cluster_config_init(&cc, sizeof(cc));
    cc.manager_eligible = i < 3;
    cc.initial_voters = voters;
    cc.initial_voter_count = 3;
    cc.capabilities = RSHARE_CAP_BLOCK;
    ck_assert_int_eq(rshare_cluster_join(nodes[i], &cc), 0);
}

static int run(int (*done)(void *), void *ud, uint64_t max_us)
{
    return rshare_loop_net_run(net, nodes, NODES, done, ud, max_us);
}

static int resources_everywhere(void *ud)
{
    (void)ud;
    for (size_t i = 0; i < NODES; i++) {
        size_t n;
        rshare_resource_list(nodes[i], 0, NULL, 0, sizeof(struct rshare_resource_desc), &n);
        /* The preferred manager (slot 0) in place: expiry clocks restart
         * when the role moves. */
        if (n != 2 || rshare_cluster_manager(nodes[i]) != 1)
            return 0;
    }
    return 1;
}

static uint64_t share(rshare_block *block, const char *path, uint32_t policy)
{
    struct rshare_resource_desc d;
    rshare_resource_desc_init(&d, sizeof(d));
    d.kind = RSHARE_RESOURCE_BLOCK;
    d.rights = RSHARE_RIGHT_READ | RSHARE_RIGHT_WRITE;
    snprintf(d.path, sizeof(d.path), "%s", path);
    uint64_t id;
    ck_assert_int_eq(rshare_resource_register_block(nodes[0], &d, block, &id), 0);
    ck_assert_int_eq(rshare_access_set_policy(nodes[0], id, policy), 0);
    return id;
}

static void setup(void)
{
    memset(stores, 0, sizeof(stores));
    log_len = 0;
    randombytes_buf(cluster_key, sizeof(cluster_key));
    ck_assert_int_eq(rshare_loop_net_create(5, &net), 0);
    struct rshare_loop_link link;
    rshare_loop_link_init(&link, sizeof(link));
    link.mtu = 9000;
    ck_assert_int_eq(rshare_loop_net_set_default(net, &link), 0);
    for (size_t i = 0; i < NODES; i++)
        node_up(i);
    ck_assert_int_eq(rshare_block_open_memory(nodes[0], DISK_BYTES, 512, &disk), 0);
    ck_assert_int_eq(rshare_block_open_memory(nodes[0], DISK_BYTES, 512, &open_disk), 0);
    disk_id = share(disk, "leased", RSHARE_ACCESS_REQUIRE_GRANT | RSHARE_ACCESS_REQUIRE_LEASE);
    open_id = share(open_disk, "granted", RSHARE_ACCESS_REQUIRE_GRANT);
    ck_assert_int_eq(run(resources_everywhere, NULL, 60000000u), 0);
}

static void teardown(void)
{
    for (size_t i = 0; i < NODES; i++) {
        rshare_node_destroy(nodes[i]);
        nodes[i] = NULL;
    }
    rshare_loop_net_destroy(net);
    for (size_t i = 0; i < NODES; i++)
        memory_store_free(&stores[i]);
}

/* --- helpers ------------------------------------------------------------------- */

struct result {
    int calls;
    int status;
    uint64_t id, fence;
    uint8_t cookie[RSHARE_ACCESS_COOKIE_MAX];
    size_t cookie_len;
};

static void result_done(rshare_node *node, const struct rshare_access_result *r, void *ud)
{
    (void)node;
    struct result *res = ud;
    res->calls++;
    res->status = r->status;
    res->id = r->id;
    res->fence = r->fence;
    res->cookie_len = r->cookie_len;
    if (r->cookie_len)
        memcpy(res->cookie, r->cookie, r->cookie_len);
}

static int result_finished(void *ud)
{
    return ((struct result *)ud)->calls > 0;
}

/* Wait for an access request started with `rc`; its status. */
static int wait_result(int rc, struct result *res)
{
    if (rc < 0)
        return rc;
    ck_assert_int_eq(run(result_finished, res, 30000000u), 0);
    ck_assert_int_eq(res->calls, 1);
    return res->status;
}

#define ACCESS(call, res) (memset(&(res), 0, sizeof(res)), wait_result((call), &(res)))

static uint64_t grant(size_t from, uint64_t resource, uint32_t grantee, uint32_t rights,
                      uint32_t ttl_ms)
{
    struct result r;
    ck_assert_int_eq(ACCESS(rshare_access_grant(nodes[from], resource, grantee, rights, ttl_ms,
                                                result_done, &r),
                            r),
                     0);
    ck_assert_uint_ne(r.id, 0);
    return r.id;
}

static void cookie(size_t who, uint64_t grant_id, struct result *r)
{
    ck_assert_int_eq(
        ACCESS(rshare_access_cookie(nodes[who], grant_id, result_done, r), *r), 0);
    ck_assert_uint_gt(r->cookie_len, 0);
}

static rshare_block *open_with(size_t who, uint64_t resource, const struct result *c,
                               uint64_t fence)
{
    struct rshare_access_credentials cred = {sizeof(cred), 0, c ? c->cookie : NULL,
                                             c ? c->cookie_len : 0, fence};
    rshare_block *b;
    ck_assert_int_eq(rshare_block_open_resource_granted(nodes[who], resource, &cred, &b), 0);
    return b;
}

/* Credentials every setter refuses: too short to hold their fence
 * (RSHARE_EVERSION), a cookie above the limit (RSHARE_EINVAL).  Neither
 * carries a token: applied, the holder's next write would be fenced. */
static uint8_t long_cookie[RSHARE_ACCESS_COOKIE_MAX + 1];
static const struct rshare_access_credentials cred_too_short = {
    offsetof(struct rshare_access_credentials, fence), 0, NULL, 0, 0};
static const struct rshare_access_credentials cred_too_long = {
    sizeof(struct rshare_access_credentials), 0, long_cookie, sizeof(long_cookie), 0};

struct waiter {
    struct rshare_block_io io;
    int calls, status;
};

static void waiter_done(struct rshare_block_io *io, int status)
{
    struct waiter *w = io->user_data;
    w->calls++;
    w->status = status;
}

static int waiter_finished(void *ud)
{
    return ((struct waiter *)ud)->calls > 0;
}

static void submit(rshare_block *b, struct waiter *w, uint32_t op, uint64_t off, void *buf,
                   size_t len)
{
    memset(w, 0, sizeof(*w));
    rshare_block_io_init(&w->io, sizeof(w->io));
    w->io.op = op;
    w->io.offset = off;
    w->io.length = len;
    w->io.buf = buf;
    w->io.done = waiter_done;
    w->io.user_data = w;
    ck_assert_int_eq(rshare_block_submit(b, &w->io), 0);
}

static int io(rshare_block *b, uint32_t op, uint64_t off, void *buf, size_t len)
{
    struct waiter w;
    submit(b, &w, op, off, buf, len);
    ck_assert_int_eq(run(waiter_finished, &w, 60000000u), 0);
    return w.status;
}

static struct rshare_access_stats host_stats(void)
{
    struct rshare_access_stats s;
    ck_assert_int_eq(rshare_access_stats(nodes[0], &s, sizeof(s)), 0);
    return s;
}

static size_t grants_in_map(size_t who)
{
    size_t n;
    ck_assert_int_eq(rshare_access_grant_list(nodes[who], NULL, 0, 0, &n), 0);
    return n;
}

static int no_grants(void *ud)
{
    (void)ud;
    return grants_in_map(0) == 0;
}

/* --- grants ---------------------------------------------------------------------- */

START_TEST(test_grants_delegation_revocation)
{
    uint8_t buf[4096], back[4096];
    memset(buf, 0x11, sizeof(buf));
    /* Without a cookie: refused with the clear code. */
    rshare_block *bare;
    ck_assert_int_eq(rshare_block_open_resource(nodes[3], open_id, &bare), 0);
    ck_assert_int_eq(io(bare, RSHARE_BLOCK_READ, 0, back, 512), RSHARE_EACCES);
    ck_assert_uint_eq(host_stats().no_cookie, 1);
    rshare_block_close(bare);

    /* The host lends node 4 read and write; node 4 fetches its cookie. */
    uint64_t g4 = grant(0, open_id, 4, RSHARE_RIGHT_READ | RSHARE_RIGHT_WRITE, 0);
    /* Nobody but the host (or the manager) lends it. */
    struct result r;
    int rc = ACCESS(rshare_access_grant(nodes[4], open_id, 5, RSHARE_RIGHT_READ, 0,
                                        result_done, &r), r);
    ck_assert(rc == RSHARE_EACCES || (rc == 0 && rshare_cluster_manager(nodes[4]) == 5));
    struct result c4, c5, stolen;
    cookie(3, g4, &c4);
    /* Another node cannot fetch node 4's cookie. */
    ck_assert_int_eq(ACCESS(rshare_access_cookie(nodes[4], g4, result_done, &stolen), stolen),
                     RSHARE_EACCES);
    rshare_block *b4 = open_with(3, open_id, &c4, 0);
    ck_assert_int_eq(io(b4, RSHARE_BLOCK_WRITE, 4096, buf, sizeof(buf)), 0);
    ck_assert_int_eq(io(b4, RSHARE_BLOCK_READ, 4096, back, sizeof(back)), 0);
    ck_assert_mem_eq(back, buf, sizeof(buf));

    /* Node 4's cookie replayed by node 5: refused and counted. */
    rshare_block *replay = open_with(4, open_id, &c4, 0);
    ck_assert_int_eq(io(replay, RSHARE_BLOCK_READ, 0, back, 512), RSHARE_EACCES);
    ck_assert_uint_eq(host_stats().wrong_node, 1);
    rshare_block_close(replay);

    /* Node 4 delegates reading to node 5. */
    struct result d;
    ck_assert_int_eq(ACCESS(rshare_access_delegate(nodes[3], g4, 5, RSHARE_RIGHT_READ, 0,
                                                   result_done, &d), d),
                     0);
    cookie(4, d.id, &c5);
    rshare_block *b5 = open_with(4, open_id, &c5, 0);
    ck_assert_int_eq(io(b5, RSHARE_BLOCK_READ, 4096, back, sizeof(back)), 0);
    ck_assert_mem_eq(back, buf, sizeof(buf));
    ck_assert_int_eq(io(b5, RSHARE_BLOCK_WRITE, 0, buf, 512), RSHARE_EACCES);
    ck_assert_uint_eq(host_stats().no_right, 1);
    /* More than node 4 holds cannot be delegated. */
    ck_assert_int_ne(ACCESS(rshare_access_delegate(nodes[4], d.id, 2,
                                                   RSHARE_RIGHT_READ | RSHARE_RIGHT_WRITE, 0,
                                                   result_done, &r), r),
                     0);

    /* The host revokes node 4's grant: node 5's delegation falls with it,
     * from the first request after the change is in the map. */
    ck_assert_int_eq(ACCESS(rshare_access_revoke(nodes[0], g4, result_done, &r), r), 0);
    ck_assert_uint_eq(grants_in_map(0), 0);
    ck_assert_int_eq(io(b4, RSHARE_BLOCK_READ, 4096, back, 512), RSHARE_EACCES);
    ck_assert_int_eq(io(b5, RSHARE_BLOCK_READ, 4096, back, 512), RSHARE_EACCES);
    ck_assert_uint_eq(host_stats().revoked, 2);
    /* A revoked grant's cookie is not issued again. */
    ck_assert_int_eq(ACCESS(rshare_access_cookie(nodes[3], g4, result_done, &r), r),
                     RSHARE_ENOENT);
    rshare_block_close(b4);
    rshare_block_close(b5);

    /* A grant with a lifetime expires on the manager's clock. */
    uint64_t g3 = grant(0, open_id, 3, RSHARE_RIGHT_READ, 1000);
    struct result c3;
    cookie(2, g3, &c3);
    rshare_block *b3 = open_with(2, open_id, &c3, 0);
    ck_assert_int_eq(io(b3, RSHARE_BLOCK_READ, 0, back, 512), 0);
    uint64_t granted_at = rshare_loop_net_now_us(net);
    ck_assert_int_eq(run(no_grants, NULL, 5000000u), 0);
    uint64_t lived = rshare_loop_net_now_us(net) - granted_at;
    ck_assert_uint_ge(lived, 800000u); /* not before its time (less the round trips) */
    ck_assert_uint_le(lived, 1500000u);
    run(NULL, NULL, 100000u);
    ck_assert_uint_eq(grants_in_map(2), 0);
    ck_assert_int_eq(io(b3, RSHARE_BLOCK_READ, 0, back, 512), RSHARE_EACCES);
    rshare_block_close(b3);

    /* No log line carries the cluster key, the signing key or a cookie. */
    struct rs_token_key key;
    rs_token_key_derive(cluster_key, &key);
    char hex[2 * RSHARE_ACCESS_COOKIE_MAX + 1];
    const struct {
        const uint8_t *bytes;
        size_t len;
    } secrets[] = {{cluster_key, 32}, {key.sk, 32}, {key.sk + 32, 32}, {c4.cookie, 16},
                   {c4.cookie + c4.cookie_len - 16, 16}, {c3.cookie + c3.cookie_len - 16, 16}};
    ck_assert_uint_gt(log_len, 0);
    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
        sodium_bin2hex(hex, sizeof(hex), secrets[i].bytes, secrets[i].len);
        ck_assert_msg(!strstr(logbuf, hex), "secret %zu in the logs (hex)", i);
        for (char *p = hex; *p; p++)
            *p = (char)(*p >= 'a' ? *p - 'a' + 'A' : *p);
        ck_assert_msg(!strstr(logbuf, hex), "secret %zu in the logs (HEX)", i);
        for (size_t k = 0; k + 8 <= log_len; k++)
            ck_assert_msg(memcmp(logbuf + k, secrets[i].bytes, 8) != 0, "secret %zu raw", i);
    }
    rs_token_key_wipe(&key);
}
END_TEST

/* --- leases and fencing ----------------------------------------------------------- */

static int lease_gone(void *ud)
{
    (void)ud;
    size_t n;
    rshare_access_lease_list(nodes[0], NULL, 0, 0, &n);
    return n == 0;
}

START_TEST(test_two_writers_fencing)
{
    const uint32_t rw = RSHARE_RIGHT_READ | RSHARE_RIGHT_WRITE;
    /* Writers A (node 4) and B (node 5), both granted. */
    struct result ca, cb, la, lb, r;
    cookie(3, grant(0, disk_id, 4, rw, 0), &ca);
    cookie(4, grant(0, disk_id, 5, rw, 0), &cb);

    /* A takes the exclusive lease; B is refused it. */
    ck_assert_int_eq(ACCESS(rshare_access_lease_acquire(nodes[3], disk_id, RSHARE_LEASE_EXCLUSIVE,
                                                        1500, result_done, &la), la),
                     0);
    ck_assert_uint_gt(la.fence, 0);
    ck_assert_int_eq(ACCESS(rshare_access_lease_acquire(nodes[4], disk_id, RSHARE_LEASE_EXCLUSIVE,
                                                        1500, result_done, &lb), lb),
                     RSHARE_EBUSY);
    ck_assert_int_eq(ACCESS(rshare_access_lease_acquire(nodes[4], disk_id, RSHARE_LEASE_SHARED,
                                                        1500, result_done, &lb), lb),
                     RSHARE_EBUSY);

    static uint8_t a_data[8192], a_late[8192], b_data[8192], back[8192];
    memset(a_data, 0xAA, sizeof(a_data));
    memset(a_late, 0xA2, sizeof(a_late));
    memset(b_data, 0xBB, sizeof(b_data));
    rshare_block *a = open_with(3, disk_id, &ca, la.fence);
    ck_assert_int_eq(io(a, RSHARE_BLOCK_WRITE, 0, a_data, sizeof(a_data)), 0);
    /* Bad credentials are refused and A's stay in effect. */
    ck_assert_int_eq(rshare_block_set_credentials(a, &cred_too_short), RSHARE_EVERSION);
    ck_assert_int_eq(rshare_block_set_credentials(a, &cred_too_long), RSHARE_EINVAL);
    ck_assert_int_eq(io(a, RSHARE_BLOCK_WRITE, 0, a_data, sizeof(a_data)), 0);
    /* B writes without the lease, or with A's token: refused. */
    rshare_block *b_bare = open_with(4, disk_id, &cb, 0);
    rshare_block *b_thief = open_with(4, disk_id, &cb, la.fence);
    ck_assert_int_eq(io(b_bare, RSHARE_BLOCK_WRITE, 0, b_data, 512), RSHARE_EACCES);
    ck_assert_int_eq(io(b_thief, RSHARE_BLOCK_WRITE, 0, b_data, 512), RSHARE_EACCES);
    ck_assert_int_eq(io(b_bare, RSHARE_BLOCK_READ, 0, back, 512), 0); /* reads need no lease */
    ck_assert_uint_eq(host_stats().fenced, 2);
    rshare_block_close(b_bare);
    rshare_block_close(b_thief);
    /* A renews and keeps writing. */
    ck_assert_int_eq(ACCESS(rshare_access_lease_renew(nodes[3], la.id, result_done, &r), r), 0);
    ck_assert_int_eq(io(a, RSHARE_BLOCK_WRITE, 0, a_data, sizeof(a_data)), 0);

    /* A is cut off from everyone, with a write on its way. */
    for (uint32_t peer = 1; peer <= NODES; peer++)
        if (peer != 4)
            ck_assert_int_eq(rshare_loop_net_partition(net, 4, peer, 1), 0);
    struct waiter late;
    submit(a, &late, RSHARE_BLOCK_WRITE, 0, a_late, sizeof(a_late));
    /* Its lease expires on the manager's clock. */
    ck_assert_int_eq(run(lease_gone, NULL, 10000000u), 0);
    ck_assert_int_eq(late.calls, 0);

    /* B gets the lease with a newer token and writes. */
    ck_assert_int_eq(ACCESS(rshare_access_lease_acquire(nodes[4], disk_id, RSHARE_LEASE_EXCLUSIVE,
                                                        60000, result_done, &lb), lb),
                     0);
    ck_assert_uint_gt(lb.fence, la.fence);
    rshare_block *b = open_with(4, disk_id, &cb, lb.fence);
    ck_assert_int_eq(io(b, RSHARE_BLOCK_WRITE, 0, b_data, sizeof(b_data)), 0);

    /* A comes back: the write it sent during the partition and every one it
     * sends now are refused by the host. */
    for (uint32_t peer = 1; peer <= NODES; peer++)
        if (peer != 4)
            ck_assert_int_eq(rshare_loop_net_partition(net, 4, peer, 0), 0);
    ck_assert_int_eq(run(waiter_finished, &late, 60000000u), 0);
    ck_assert_int_eq(late.status, RSHARE_EACCES);
    uint64_t fenced_before = host_stats().fenced;
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(io(a, RSHARE_BLOCK_WRITE, (uint64_t)(i % 16) * 512, a_late, 512),
                         RSHARE_EACCES);
    ck_assert_uint_eq(host_stats().fenced, fenced_before + 10);
    /* Its lease is gone for good: renewing it fails. */
    ck_assert_int_eq(ACCESS(rshare_access_lease_renew(nodes[3], la.id, result_done, &r), r),
                     RSHARE_ENOENT);

    /* The disk holds only B's data where both wrote. */
    rshare_block *local;
    ck_assert_int_eq(rshare_block_open_resource(nodes[0], disk_id, &local), 0);
    ck_assert_int_eq(io(local, RSHARE_BLOCK_READ, 0, back, sizeof(back)), 0);
    ck_assert_mem_eq(back, b_data, sizeof(back));
    rshare_block_close(local);

    /* B releases; the next lease gets a newer token still. */
    ck_assert_int_eq(ACCESS(rshare_access_lease_release(nodes[4], lb.id, result_done, &r), r), 0);
    ck_assert_int_eq(io(b, RSHARE_BLOCK_WRITE, 0, b_data, 512), RSHARE_EACCES);
    ck_assert_int_eq(ACCESS(rshare_access_lease_acquire(nodes[3], disk_id, RSHARE_LEASE_EXCLUSIVE,
                                                        60000, result_done, &la), la),
                     0);
    ck_assert_uint_gt(la.fence, lb.fence);
    rshare_block_close(a);
    rshare_block_close(b);
}
END_TEST

/* --- volumes: one grant and one lease for every member ------------------------- */

struct changed {
    int calls, status;
};

static void map_changed(rshare_node *node, int status, void *ud)
{
    (void)node;
    struct changed *c = ud;
    c->calls++;
    c->status = status;
}

static int change_finished(void *ud)
{
    return ((struct changed *)ud)->calls > 0;
}

static int resources_at_least(size_t want)
{
    for (size_t i = 0; i < NODES; i++) {
        size_t n;
        rshare_resource_list(nodes[i], 0, NULL, 0, sizeof(struct rshare_resource_desc), &n);
        if (n < want)
            return 0;
    }
    return 1;
}

static int three_resources(void *ud)
{
    (void)ud;
    return resources_at_least(3);
}

static int four_resources(void *ud)
{
    (void)ud;
    return resources_at_least(4);
}

struct vwait {
    int calls, status;
};

static void vdone(rshare_volume *volume, int status, void *ud)
{
    (void)volume;
    struct vwait *w = ud;
    w->calls++;
    w->status = status;
}

static int vwait_finished(void *ud)
{
    return ((struct vwait *)ud)->calls > 0;
}

static int vol_io(rshare_volume *vol, bool write, uint64_t off, void *buf, size_t len)
{
    struct vwait w = {0};
    int rc = write ? rshare_volume_write(vol, off, buf, len, vdone, &w)
                   : rshare_volume_read(vol, off, buf, len, vdone, &w);
    if (rc < 0)
        return rc;
    ck_assert_int_eq(run(vwait_finished, &w, 60000000u), 0);
    return w.status;
}

/* The one volume in `who`'s map. */
static struct rshare_volume_desc the_volume(size_t who)
{
    struct rshare_volume_desc d;
    rshare_volume_desc_init(&d, sizeof(d));
    size_t n;
    ck_assert_int_eq(rshare_volume_list(nodes[who], &d, 1, sizeof(d), &n), 0);
    ck_assert_uint_eq(n, 1);
    return d;
}

static int volume_everywhere(void *ud)
{
    (void)ud;
    for (size_t i = 0; i < NODES; i++) {
        size_t n;
        rshare_volume_list(nodes[i], NULL, 0, sizeof(struct rshare_volume_desc), &n);
        if (n != 1)
            return 0;
    }
    return 1;
}

static int no_grants_anywhere(void *ud)
{
    (void)ud;
    for (size_t i = 0; i < NODES; i++)
        if (grants_in_map(i) != 0)
            return 0;
    return 1;
}

/* Every member of the volume still active in `who`'s map. */
static void members_active(size_t who)
{
    struct rshare_volume_desc d = the_volume(who);
    for (uint32_t i = 0; i < d.member_count; i++)
        ck_assert_uint_eq(d.member_state[i], RSHARE_VOLUME_MEMBER_ACTIVE);
}

static int first_member_failed(void *ud)
{
    (void)ud;
    for (size_t i = 0; i < NODES; i++)
        if (the_volume(i).member_state[0] != RSHARE_VOLUME_MEMBER_FAILED)
            return 0;
    return 1;
}

START_TEST(test_volume_grant_and_lease)
{
    const uint32_t rw = RSHARE_RIGHT_READ | RSHARE_RIGHT_WRITE;
    /* A RAID-1 volume over disks of nodes 2 and 3, both requiring grants
     * and leases; node 4 uses it. */
    rshare_block *m[2];
    uint64_t mid[2];
    for (size_t i = 0; i < 2; i++) {
        ck_assert_int_eq(rshare_block_open_memory(nodes[i + 1], DISK_BYTES, 512, &m[i]), 0);
        struct rshare_resource_desc d;
        rshare_resource_desc_init(&d, sizeof(d));
        d.kind = RSHARE_RESOURCE_BLOCK;
        d.rights = rw;
        snprintf(d.path, sizeof(d.path), "member%zu", i);
        ck_assert_int_eq(rshare_resource_register_block(nodes[i + 1], &d, m[i], &mid[i]), 0);
        ck_assert_int_eq(rshare_access_set_policy(nodes[i + 1], mid[i],
                                                  RSHARE_ACCESS_REQUIRE_GRANT |
                                                      RSHARE_ACCESS_REQUIRE_LEASE),
                         0);
    }
    ck_assert_int_eq(run(four_resources, NULL, 60000000u), 0);
    struct rshare_volume_desc v;
    rshare_volume_desc_init(&v, sizeof(v));
    snprintf(v.name, sizeof(v.name), "guarded");
    v.layout = RSHARE_LAYOUT_RAID1;
    v.member_count = 2;
    v.members[0] = mid[0];
    v.members[1] = mid[1];
    struct changed ch = {0};
    ck_assert_int_eq(rshare_volume_define(nodes[0], &v, map_changed, &ch), 0);
    ck_assert_int_eq(run(change_finished, &ch, 30000000u), 0);
    ck_assert_int_eq(ch.status, 0);
    ck_assert_int_eq(run(volume_everywhere, NULL, 30000000u), 0);
    uint64_t vres = RSHARE_ACCESS_VOLUME(the_volume(3).id);

    /* Without credentials: refused by the hosts, and no member is failed
     * for it (a refusal says nothing about a disk). */
    rshare_volume *vol;
    ck_assert_int_eq(rshare_volume_open(nodes[3], "guarded", NULL, &vol), 0);
    uint8_t wbuf[8192], rbuf[8192];
    for (size_t i = 0; i < sizeof(wbuf); i++)
        wbuf[i] = (uint8_t)(i * 7 + 1);
    ck_assert_int_eq(vol_io(vol, true, 4096, wbuf, sizeof(wbuf)), RSHARE_EACCES);
    ck_assert_int_eq(vol_io(vol, false, 4096, rbuf, sizeof(rbuf)), RSHARE_EACCES);
    run(NULL, NULL, 500000u);
    members_active(3);
    members_active(0);

    /* A volume grant is the manager's to give: a member's host cannot. */
    struct result r;
    ck_assert_int_eq(ACCESS(rshare_access_grant(nodes[1], vres, 4, rw, 0, result_done, &r), r),
                     RSHARE_EACCES);

    /* The manager grants the volume to node 4 and node 4 takes the
     * volume's exclusive lease: one cookie and one token for both hosts. */
    uint64_t gid = grant(0, vres, 4, rw, 0);
    struct result c, lease;
    cookie(3, gid, &c);
    ck_assert_int_eq(ACCESS(rshare_access_lease_acquire(nodes[3], vres, RSHARE_LEASE_EXCLUSIVE,
                                                        60000, result_done, &lease),
                            lease),
                     0);
    /* Granted but no token yet: reads pass, writes are fenced. */
    struct rshare_access_credentials cred = {sizeof(cred), 0, c.cookie, c.cookie_len, 0};
    ck_assert_int_eq(rshare_volume_set_credentials(vol, &cred), 0);
    ck_assert_int_eq(vol_io(vol, false, 4096, rbuf, sizeof(rbuf)), 0);
    ck_assert_int_eq(vol_io(vol, true, 4096, wbuf, sizeof(wbuf)), RSHARE_EACCES);
    cred.fence = lease.fence;
    ck_assert_int_eq(rshare_volume_set_credentials(vol, &cred), 0);
    ck_assert_int_eq(vol_io(vol, true, 4096, wbuf, sizeof(wbuf)), 0);
    /* Bad credentials are refused and the volume keeps its own. */
    ck_assert_int_eq(rshare_volume_set_credentials(vol, &cred_too_short), RSHARE_EVERSION);
    ck_assert_int_eq(rshare_volume_set_credentials(vol, &cred_too_long), RSHARE_EINVAL);
    ck_assert_int_eq(vol_io(vol, true, 4096, wbuf, sizeof(wbuf)), 0);
    memset(rbuf, 0, sizeof(rbuf));
    ck_assert_int_eq(vol_io(vol, false, 4096, rbuf, sizeof(rbuf)), 0);
    ck_assert_mem_eq(rbuf, wbuf, sizeof(wbuf));
    /* Both mirrors hold it (read on each host, no access check there). */
    for (size_t i = 0; i < 2; i++) {
        memset(rbuf, 0, sizeof(rbuf));
        ck_assert_int_eq(io(m[i], RSHARE_BLOCK_READ, 4096, rbuf, sizeof(rbuf)), 0);
        ck_assert_mem_eq(rbuf, wbuf, sizeof(wbuf));
    }

    /* The volume's cookie covers its members only: shown for a disk that
     * is in no volume, it is refused. */
    rshare_block *other = open_with(3, open_id, &c, 0);
    ck_assert_int_eq(io(other, RSHARE_BLOCK_READ, 0, rbuf, 4096), RSHARE_EACCES);
    rshare_block_close(other);

    /* Revoked: refused again at once, members untouched. */
    ck_assert_int_eq(ACCESS(rshare_access_revoke(nodes[0], gid, result_done, &r), r), 0);
    ck_assert_int_eq(run(no_grants_anywhere, NULL, 30000000u), 0);
    ck_assert_int_eq(vol_io(vol, false, 4096, rbuf, sizeof(rbuf)), RSHARE_EACCES);
    run(NULL, NULL, 500000u);
    members_active(0);

    /* One mirror's host opens its disk, the other still refuses: the
     * write lands on one copy only.  It is not acknowledged, and the copy
     * that refused it is failed: it no longer holds what the other does,
     * and would otherwise be read as current. */
    ck_assert_int_eq(rshare_access_set_policy(nodes[2], mid[1], RSHARE_ACCESS_OPEN), 0);
    uint8_t other_buf[8192];
    memset(other_buf, 0x5a, sizeof(other_buf));
    ck_assert_int_eq(vol_io(vol, true, 4096, other_buf, sizeof(other_buf)), RSHARE_EACCES);
    ck_assert_int_eq(run(first_member_failed, NULL, 30000000u), 0);
    ck_assert_uint_eq(the_volume(0).member_state[1], RSHARE_VOLUME_MEMBER_ACTIVE);
    for (int i = 0; i < 3; i++) { /* every read from the copy that took it */
        memset(rbuf, 0, sizeof(rbuf));
        ck_assert_int_eq(vol_io(vol, false, 4096, rbuf, sizeof(rbuf)), 0);
        ck_assert_mem_eq(rbuf, other_buf, sizeof(rbuf));
    }
    rshare_volume_close(vol);
}
END_TEST

/* --- KVM focus as a lease ----------------------------------------------------- */

/* What the target injected, per sending host. */
struct injected {
    unsigned frames[NODES + 1];
    int key_down[NODES + 1][256]; /* pressed minus released, per host and key */
};

static void inject(void *user_data, uint32_t host, const struct rshare_kvm_event *ev, size_t n)
{
    struct injected *in = user_data;
    ck_assert_uint_le(host, NODES);
    in->frames[host]++;
    for (size_t i = 0; i < n; i++)
        if (ev[i].type == 1 /* EV_KEY */ && ev[i].code < 256)
            in->key_down[host][ev[i].code] += ev[i].value ? 1 : -1;
}

static uint32_t console_holder(size_t who, uint64_t console)
{
    struct rshare_lease_info l[8];
    size_t n;
    ck_assert_int_eq(rshare_access_lease_list(nodes[who], l, 8, sizeof(l[0]), &n), 0);
    for (size_t i = 0; i < n && i < 8; i++)
        if (l[i].resource == console && l[i].mode == RSHARE_LEASE_EXCLUSIVE)
            return l[i].holder;
    return 0;
}

struct holder_wait {
    uint64_t console;
    uint32_t holder;
};

static int holder_is(void *ud)
{
    struct holder_wait *w = ud;
    return console_holder(1, w->console) == w->holder;
}

static void key(rshare_kvm *kvm, uint16_t code, int32_t value)
{
    ck_assert_int_eq(rshare_kvm_input(kvm, 1 /* EV_KEY */, code, value), 0);
    ck_assert_int_eq(rshare_kvm_input(kvm, 0 /* EV_SYN */, 0, 0), 0);
}

START_TEST(test_kvm_focus_lease)
{
    /* Node 2 is the target; its display resource is its console.  Hosts
     * A (node 4) and B (node 5) both have it as their only target. */
    struct rshare_resource_desc d;
    rshare_resource_desc_init(&d, sizeof(d));
    d.kind = RSHARE_RESOURCE_DISPLAY;
    d.rights = RSHARE_RIGHT_READ | RSHARE_RIGHT_WRITE;
    snprintf(d.path, sizeof(d.path), "console");
    d.width = 1920;
    d.height = 1080;
    uint64_t console;
    ck_assert_int_eq(rshare_resource_register(nodes[1], &d, &console), 0);
    ck_assert_int_eq(run(three_resources, NULL, 60000000u), 0);

    struct injected in;
    memset(&in, 0, sizeof(in));
    struct rshare_kvm_config tc;
    rshare_kvm_config_init(&tc, sizeof(tc));
    tc.roles = RSHARE_KVM_ROLE_TARGET;
    tc.console = console;
    tc.sink = inject;
    tc.sink_data = &in;
    rshare_kvm *target, *a, *b;
    ck_assert_int_eq(rshare_kvm_create(nodes[1], &tc, &target), 0);

    const uint32_t targets[] = {2};
    const uint64_t consoles[] = {console};
    struct rshare_kvm_config hc;
    rshare_kvm_config_init(&hc, sizeof(hc));
    hc.roles = RSHARE_KVM_ROLE_HOST;
    hc.targets = targets;
    hc.target_count = 1;
    hc.consoles = consoles;
    hc.lease_ms = 1000;
    ck_assert_int_eq(rshare_kvm_create(nodes[3], &hc, &a), 0);
    struct holder_wait w = {console, 4};
    ck_assert_int_eq(run(holder_is, &w, 10000000u), 0);
    run(NULL, NULL, 300000u); /* the target reports to its new host */

    /* A types and keeps KEY_A down. */
    key(a, 30, 1);
    run(NULL, NULL, 100000u);
    ck_assert_int_eq(in.key_down[4][30], 1);

    /* B wants the same target: its lease is refused, its keys never land. */
    ck_assert_int_eq(rshare_kvm_create(nodes[4], &hc, &b), 0);
    run(NULL, NULL, 1500000u);
    key(b, 48, 1);
    key(b, 48, 0);
    run(NULL, NULL, 300000u);
    ck_assert_uint_eq(in.frames[5], 0);
    ck_assert_int_eq(console_holder(1, console), 4);
    struct rshare_kvm_stats sb, st;
    ck_assert_int_eq(rshare_kvm_stats(b, &sb, sizeof(sb)), 0);
    ck_assert_uint_gt(sb.leases_refused, 0);
    ck_assert_int_eq(in.key_down[4][30], 1); /* A still renews: KEY_A stays down */

    /* A is cut off from the manager with KEY_A down (it still reaches the
     * target): its renewals fail, the lease expires, B's next try gets it,
     * and the target releases A's key when the lease moves. */
    for (uint32_t peer = 1; peer <= NODES; peer++)
        if (peer != 4 && peer != 2)
            ck_assert_int_eq(rshare_loop_net_partition(net, 4, peer, 1), 0);
    w.holder = 5;
    ck_assert_int_eq(run(holder_is, &w, 20000000u), 0);
    /* A still believes it has focus and types: refused by the target. */
    key(a, 31, 1);
    key(a, 31, 0);
    run(NULL, NULL, 300000u);
    ck_assert_int_eq(in.key_down[4][30], 0);
    ck_assert_int_eq(in.key_down[4][31], 0);
    ck_assert_int_eq(rshare_kvm_stats(target, &st, sizeof(st)), 0);
    ck_assert_uint_ge(st.holder_changes, 2); /* none -> A -> B */
    ck_assert_uint_gt(st.not_holder, 0);     /* A's frames after the move */

    /* B types now. */
    key(b, 46, 1);
    key(b, 46, 0);
    run(NULL, NULL, 300000u);
    ck_assert_uint_gt(in.frames[5], 0);
    ck_assert_int_eq(in.key_down[5][46], 0);
    ck_assert_int_eq(in.key_down[5][48], 0);
    ck_assert_uint_eq(rshare_kvm_pressed_count(target), 0);

    /* A back in the cluster: B keeps the console (A's tries are refused). */
    for (uint32_t peer = 1; peer <= NODES; peer++)
        if (peer != 4 && peer != 2)
            ck_assert_int_eq(rshare_loop_net_partition(net, 4, peer, 0), 0);
    run(NULL, NULL, 1500000u);
    ck_assert_int_eq(console_holder(1, console), 5);
    ck_assert_uint_eq(rshare_kvm_pressed_count(target), 0);

    rshare_kvm_destroy(a);
    rshare_kvm_destroy(b);
    rshare_kvm_destroy(target);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("access");
    TCase *tc = tcase_create("access");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_grants_delegation_revocation);
    tcase_add_test(tc, test_two_writers_fencing);
    tcase_add_test(tc, test_volume_grant_and_lease);
    tcase_add_test(tc, test_kvm_focus_lease);
    suite_add_tcase(s, tc);
    int rc = rs_test_run(s);
    free(logbuf);
    return rc;
}
