/* Fuzz target: arbitrary bytes pushed into a node as received packets, the
 * whole receive path (header, AEAD, replay window, reassembly, message
 * header, CBOR body, dispatch).  The first input byte picks the node:
 * unprotected or with a cluster key (bit 0), and in identity mode (bit 1:
 * HELLO fragments and their reassembly slots, certificate and HELLO
 * checks, pair-key refusals).  Timers run between packets so that
 * reassembly timeouts and retransmissions are exercised too. */
#include <stdint.h>
#include <string.h>

#include <rshare/rshare.h>
#include <sodium.h>

#include "null_transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t now = 1000000;
static uint64_t fuzz_clock(void *u) { (void)u; return now; }

static void echo(rshare_node *node, rshare_request *req, void *u)
{
    (void)node; (void)u;
    if (rshare_request_expects_reply(req))
        rshare_request_reply(req, rshare_request_data(req), rshare_request_len(req));
}

/* Fixed identities (from fixed seeds): node 2's, its authority's. */
static uint8_t auth_pk[32], node_sk[64], node_cert[RSHARE_IDENTITY_CERT_BYTES];

static void make_identity(void)
{
    static int done;
    if (done)
        return;
    uint8_t seed[32] = {42}, auth_sk[64], node_pk[32];
    if (sodium_init() < 0)
        return;
    crypto_sign_seed_keypair(auth_pk, auth_sk, seed);
    seed[0] = 2;
    crypto_sign_seed_keypair(node_pk, node_sk, seed);
    rshare_identity_certify(auth_sk, 2, node_pk, node_cert);
    done = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t key[32] = {1, 2, 3, 4, 5, 6, 7, 8};
    if (size < 1)
        return 0;
    make_identity();
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = 2;
    cfg.cluster_key = (data[0] & 1) ? key : NULL;
    cfg.clock = (struct rshare_clock){fuzz_clock, &now};
    cfg.log = (struct rshare_log){null_log, NULL, RSHARE_LOG_ERROR};
    cfg.max_reassembly_bytes = 1u << 20;
    if (data[0] & 2) {
        cfg.identity_secret_key = node_sk;
        cfg.identity_cert = node_cert;
        cfg.authority_public_key = auth_pk;
    }
    rshare_node *node;
    if (rshare_node_create(&cfg, &node) != 0)
        return 0;
    rshare_node_add_transport(node, &null_transport_ops, NULL);
    rshare_node_set_handler(node, 0x8001, echo, NULL);
    rshare_node_add_peer(node, 1, 0, "1");
    /* The rest is a sequence of [len_hi len_lo packet...] records. */
    size_t pos = 1;
    while (pos + 2 <= size) {
        size_t len = (size_t)data[pos] << 8 | data[pos + 1];
        pos += 2;
        if (len > size - pos)
            len = size - pos;
        struct rshare_link_addr src = {.len = 1, .bytes = {1}};
        rshare_node_push(node, 0, &src, data + pos, len);
        pos += len;
        now += 300000;
        rshare_node_process(node);
    }
    rshare_node_destroy(node);
    return 0;
}
