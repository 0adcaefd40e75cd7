/* Node identities: enrolment certificates (every altered byte refused, a
 * foreign authority refused), key files (loose permissions refused, never
 * overwritten), the node's identity configuration, and the HELLO (bound
 * to its sender's id, key, session and receiver: a node that copies
 * another's certificate, claims another id or replays a HELLO into another
 * session is refused).  Then two nodes on the loop network that shake
 * hands and talk, with a 64-byte MTU too (the HELLO in fragments). */
#include "config.h"

#include "testutil.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "link/link.h"
#include "rshare/rshare.h"

static uint8_t auth_pk[32], auth_sk[64];
static uint8_t pk[4][32], sk[4][64], cert[4][RSHARE_IDENTITY_CERT_BYTES];

static void make_keys(void)
{
    ck_assert_int_eq(rshare_identity_keygen(auth_pk, auth_sk), 0);
    for (unsigned i = 1; i < 4; i++) {
        ck_assert_int_eq(rshare_identity_keygen(pk[i], sk[i]), 0);
        ck_assert_int_eq(rshare_identity_certify(auth_sk, i, pk[i], cert[i]), 0);
    }
}

START_TEST(test_cert)
{
    make_keys();
    uint32_t id = 0;
    uint8_t got[32];
    ck_assert_int_eq(rshare_identity_cert_verify(cert[2], auth_pk, &id, got), 0);
    ck_assert_uint_eq(id, 2);
    ck_assert_mem_eq(got, pk[2], 32);
    uint8_t again[32];
    ck_assert_int_eq(rshare_identity_public_key(sk[2], again), 0);
    ck_assert_mem_eq(again, pk[2], 32);
    /* Every single-bit change is refused. */
    for (size_t i = 0; i < RSHARE_IDENTITY_CERT_BYTES; i++)
        for (unsigned bit = 0; bit < 8; bit++) {
            uint8_t bad[RSHARE_IDENTITY_CERT_BYTES];
            memcpy(bad, cert[2], sizeof(bad));
            bad[i] ^= (uint8_t)(1u << bit);
            int rc = rshare_identity_cert_verify(bad, auth_pk, NULL, NULL);
            ck_assert_msg(rc == RSHARE_EAUTH || rc == RSHARE_EPROTO, "byte %zu bit %u: %d", i,
                          bit, rc);
        }
    /* Another authority's certificate, and a node signing its own. */
    uint8_t other_pk[32], other_sk[64], foreign[RSHARE_IDENTITY_CERT_BYTES];
    rshare_identity_keygen(other_pk, other_sk);
    rshare_identity_certify(other_sk, 2, pk[2], foreign);
    ck_assert_int_eq(rshare_identity_cert_verify(foreign, auth_pk, NULL, NULL), RSHARE_EAUTH);
    rshare_identity_certify(sk[2], 2, pk[2], foreign);
    ck_assert_int_eq(rshare_identity_cert_verify(foreign, auth_pk, NULL, NULL), RSHARE_EAUTH);
    ck_assert_int_eq(rshare_identity_certify(auth_sk, 0, pk[2], foreign), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_identity_certify(auth_sk, 0xFFFFFFFFu, pk[2], foreign),
                     RSHARE_EINVAL);
    ck_assert_int_eq(rshare_identity_certify(NULL, 2, pk[2], foreign), RSHARE_EINVAL);
}
END_TEST

START_TEST(test_key_files)
{
    make_keys();
    char dir[] = "/tmp/rshare-identity-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[128], pub[128];
    snprintf(path, sizeof(path), "%s/node.key", dir);
    snprintf(pub, sizeof(pub), "%s/node.pub", dir);
    ck_assert_int_eq(rshare_identity_file_save(path, sk[1], 64), 0);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0600);
    uint8_t back[64];
    ck_assert_int_eq(rshare_identity_file_load(path, back, 64, 1), 0);
    ck_assert_mem_eq(back, sk[1], 64);
    /* Never overwritten. */
    ck_assert_int_eq(rshare_identity_file_save(path, sk[2], 64), RSHARE_EEXIST);
    ck_assert_int_eq(rshare_identity_file_load(path, back, 64, 1), 0);
    ck_assert_mem_eq(back, sk[1], 64);
    /* Loose permissions: refused for a secret, and nothing is returned. */
    static const mode_t loose[] = {0640, 0604, 0620, 0602, 0660};
    for (size_t i = 0; i < sizeof(loose) / sizeof(loose[0]); i++) {
        ck_assert_int_eq(chmod(path, loose[i]), 0);
        memset(back, 0xAA, sizeof(back));
        ck_assert_int_eq(rshare_identity_file_load(path, back, 64, 1), RSHARE_EACCES);
        static const uint8_t zero[64];
        ck_assert_mem_eq(back, zero, 64);
    }
    /* A public file may be world-readable; sizes must match. */
    ck_assert_int_eq(rshare_identity_file_save(pub, pk[1], 32), 0);
    ck_assert_int_eq(chmod(pub, 0644), 0);
    uint8_t pub_back[32];
    ck_assert_int_eq(rshare_identity_file_load(pub, pub_back, 32, 0), 0);
    ck_assert_mem_eq(pub_back, pk[1], 32);
    ck_assert_int_eq(rshare_identity_file_load(pub, back, 64, 0), RSHARE_EPROTO);
    ck_assert_int_eq(rshare_identity_file_load(path, pub_back, 32, 0), RSHARE_EPROTO);
    snprintf(path, sizeof(path), "%s/missing.key", dir);
    ck_assert_int_eq(rshare_identity_file_load(path, back, 64, 1), RSHARE_ENOENT);
    /* Not a regular file; a directory that does not exist. */
    ck_assert_int_eq(rshare_identity_file_load(dir, back, 64, 0), RSHARE_EPROTO);
    snprintf(path, sizeof(path), "%s/no-such-dir/node.key", dir);
    ck_assert_int_eq(rshare_identity_file_save(path, sk[1], 64), RSHARE_ESYS);
    snprintf(path, sizeof(path), "%s/node.key", dir);
    unlink(path);
    unlink(pub);
    rmdir(dir);
}
END_TEST

static int create(uint32_t id, const uint8_t *secret, const uint8_t *certificate,
                  const uint8_t *authority, rshare_node **out)
{
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = id;
    cfg.identity_secret_key = secret;
    cfg.identity_cert = certificate;
    cfg.authority_public_key = authority;
    cfg.log = (struct rshare_log){rs_test_quiet_log, NULL, RSHARE_LOG_ERROR};
    return rshare_node_create(&cfg, out);
}

START_TEST(test_node_config)
{
    make_keys();
    rshare_node *node = NULL;
    ck_assert_int_eq(create(1, sk[1], cert[1], NULL, &node), RSHARE_EINVAL);
    ck_assert_int_eq(create(1, NULL, cert[1], auth_pk, &node), RSHARE_EINVAL);
    ck_assert_int_eq(create(1, sk[1], NULL, auth_pk, &node), RSHARE_EINVAL);
    ck_assert_int_eq(create(2, sk[1], cert[1], auth_pk, &node), RSHARE_EINVAL); /* other id */
    ck_assert_int_eq(create(1, sk[2], cert[1], auth_pk, &node), RSHARE_EINVAL); /* other key */
    ck_assert_int_eq(create(1, sk[1], cert[1], pk[3], &node), RSHARE_EINVAL);   /* other CA */
    ck_assert_ptr_null(node);
    ck_assert_int_eq(create(1, sk[1], cert[1], auth_pk, &node), 0);
    ck_assert_ptr_nonnull(node);
    ck_assert(rs_link(node)->id.enabled);
    rshare_node_destroy(node);
}
END_TEST

/* Pair keys from a peer's identity key: the two directions differ, both
 * sides derive the same pair, and a key of small order (which an authority
 * should never have certified) is refused, not turned into a weak key. */
START_TEST(test_pair_keys)
{
    make_keys();
    rshare_node *a = NULL, *b = NULL;
    ck_assert_int_eq(create(1, sk[1], cert[1], auth_pk, &a), 0);
    ck_assert_int_eq(create(2, sk[2], cert[2], auth_pk, &b), 0);
    struct rs_peer pa, pb;
    memset(&pa, 0, sizeof(pa));
    memset(&pb, 0, sizeof(pb));
    pa.id = 2; /* a's view of b */
    pa.session = rs_core(b)->session;
    memcpy(pa.identity_pk, pk[2], 32);
    pb.id = 1; /* b's view of a */
    pb.session = rs_core(a)->session;
    memcpy(pb.identity_pk, pk[1], 32);
    ck_assert_int_eq(rs_pair_keys(a, &pa), 0);
    ck_assert_int_eq(rs_pair_keys(b, &pb), 0);
    ck_assert_mem_eq(pa.pair_tx, pb.pair_rx, 32);
    ck_assert_mem_eq(pa.pair_rx, pb.pair_tx, 32);
    ck_assert(memcmp(pa.pair_tx, pa.pair_rx, 32) != 0);
    /* The neutral point (y = 1): small order. */
    memset(pa.identity_pk, 0, 32);
    pa.identity_pk[0] = 1;
    ck_assert_int_eq(rs_pair_keys(a, &pa), RSHARE_EAUTH);
    rshare_node_destroy(a);
    rshare_node_destroy(b);
}
END_TEST

START_TEST(test_hello)
{
    make_keys();
    rshare_node *n[4] = {NULL};
    for (uint32_t i = 1; i < 4; i++)
        ck_assert_int_eq(create(i, sk[i], cert[i], auth_pk, &n[i]), 0);
    uint64_t s1 = rs_core(n[1])->session;
    uint8_t hello[RS_HELLO_LEN];
    rs_hello_build(n[1], 2, 0, hello);
    struct rs_hello h;
    ck_assert_int_eq(rs_hello_verify(n[2], hello, sizeof(hello), 1, s1, &h), 0);
    ck_assert_mem_eq(h.pk, pk[1], 32);
    ck_assert_uint_eq(h.dst_session, 0);
    /* Addressed to node 2: node 3 refuses it. */
    ck_assert_int_eq(rs_hello_verify(n[3], hello, sizeof(hello), 1, s1, &h), RSHARE_EPROTO);
    /* Claimed by another sender id, or moved to another session. */
    ck_assert_int_eq(rs_hello_verify(n[2], hello, sizeof(hello), 3, s1, &h), RSHARE_EAUTH);
    ck_assert_int_eq(rs_hello_verify(n[2], hello, sizeof(hello), 1, s1 + 1, &h), RSHARE_EAUTH);
    ck_assert_int_eq(rs_hello_verify(n[2], hello, sizeof(hello) - 1, 1, s1, &h), RSHARE_EPROTO);
    /* Node 3 shows node 1's (public) certificate with its own signature. */
    uint8_t rogue[RS_HELLO_LEN];
    rs_hello_build(n[3], 2, 0, rogue);
    memcpy(rogue + 14, cert[1], RSHARE_IDENTITY_CERT_BYTES);
    ck_assert_int_eq(rs_hello_verify(n[2], rogue, sizeof(rogue), 1, rs_core(n[3])->session, &h),
                     RSHARE_EAUTH);
    /* Every single-bit change of a good HELLO is refused. */
    for (size_t i = 0; i < RS_HELLO_LEN; i++)
        for (unsigned bit = 0; bit < 8; bit++) {
            uint8_t bad[RS_HELLO_LEN];
            memcpy(bad, hello, sizeof(bad));
            bad[i] ^= (uint8_t)(1u << bit);
            int rc = rs_hello_verify(n[2], bad, sizeof(bad), 1, s1, &h);
            /* The receiver's session field is the only one a HELLO may
             * carry freely (0 = unknown), and it is signed too. */
            ck_assert_msg(rc < 0, "byte %zu bit %u accepted", i, bit);
        }
    for (uint32_t i = 1; i < 4; i++)
        rshare_node_destroy(n[i]);
}
END_TEST

/* --- two nodes on the loop network ----------------------------------------------- */

static void echo(rshare_node *node, rshare_request *req, void *user_data)
{
    (void)node;
    (void)user_data;
    if (rshare_request_expects_reply(req))
        rshare_request_reply(req, rshare_request_data(req), rshare_request_len(req));
}

struct call {
    int done, status;
    size_t len;
};

static void on_reply(rshare_node *node, const struct rshare_reply *reply, void *user_data)
{
    (void)node;
    struct call *c = user_data;
    c->done = 1;
    c->status = reply->status;
    c->len = reply->len;
}

static int call_done(void *ud)
{
    return ((struct call *)ud)->done;
}

static void talk(uint32_t mtu, const uint8_t *cluster_key)
{
    make_keys();
    rshare_loop_net *net;
    ck_assert_int_eq(rshare_loop_net_create(7, &net), 0);
    struct rshare_loop_link link;
    rshare_loop_link_init(&link, sizeof(link));
    link.mtu = mtu;
    ck_assert_int_eq(rshare_loop_net_set_default(net, &link), 0);
    rshare_node *n[2];
    for (uint32_t i = 0; i < 2; i++) {
        struct rshare_node_config cfg;
        rshare_node_config_init(&cfg, sizeof(cfg));
        cfg.node_id = i + 1;
        cfg.cluster_key = cluster_key;
        cfg.clock = rshare_loop_net_clock(net);
        cfg.identity_secret_key = sk[i + 1];
        cfg.identity_cert = cert[i + 1];
        cfg.authority_public_key = auth_pk;
        cfg.log = (struct rshare_log){rs_test_quiet_log, NULL, RSHARE_LOG_ERROR};
        ck_assert_int_eq(rshare_node_create(&cfg, &n[i]), 0);
        ck_assert_int_ge(rshare_node_add_loop(n[i], net, i + 1), 0);
        ck_assert_int_eq(rshare_node_set_handler(n[i], 0x8001, echo, NULL), 0);
    }
    ck_assert_int_eq(rshare_node_add_peer(n[0], 2, 0, "2"), 0);
    uint8_t body[3000];
    for (size_t i = 0; i < sizeof(body); i++)
        body[i] = (uint8_t)(i * 7);
    struct call c = {0};
    ck_assert_int_eq(rshare_node_call(n[0], 2, 0x8001, body, sizeof(body), on_reply, &c), 0);
    ck_assert_int_eq(rshare_loop_net_run(net, n, 2, call_done, &c, 10000000u), 0);
    ck_assert_int_eq(c.status, 0);
    ck_assert_uint_eq(c.len, sizeof(body));
    /* And back the other way, over the pair the first exchange set up. */
    struct call back = {0};
    ck_assert_int_eq(rshare_node_call(n[1], 1, 0x8001, body, 100, on_reply, &back), 0);
    ck_assert_int_eq(rshare_loop_net_run(net, n, 2, call_done, &back, 10000000u), 0);
    ck_assert_int_eq(back.status, 0);
    for (int i = 0; i < 2; i++) {
        struct rshare_node_stats st;
        ck_assert_int_eq(rshare_node_stats(n[i], &st, sizeof(st)), 0);
        ck_assert_uint_ge(st.handshakes, 1);
        ck_assert_uint_eq(st.rx_identity_refused, 0);
        ck_assert_uint_eq(st.rx_auth_failed, 0);
        rshare_node_destroy(n[i]);
    }
    rshare_loop_net_destroy(net);
}

START_TEST(test_talk)
{
    static const uint8_t key[32] = {9, 8, 7};
    talk(1500, key);
    talk(1500, NULL); /* identities alone, no cluster key */
    talk(64, key);    /* every HELLO in 19 fragments */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("identity");
    TCase *tc = tcase_create("identity");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_cert);
    tcase_add_test(tc, test_key_files);
    tcase_add_test(tc, test_node_config);
    tcase_add_test(tc, test_pair_keys);
    tcase_add_test(tc, test_hello);
    tcase_add_test(tc, test_talk);
    suite_add_tcase(s, tc);
    return rs_test_run(s);
}
