/* rshare link — node identities (include/rshare/identity.h): this node's
 * key pair and certificate, the HELLO that shows them to a peer, and the
 * per-pair packet keys that follow.
 *
 * HELLO (182 bytes, carried by RS_PKT_HELLO packets under the network key
 * — the cluster key's, or none):
 *   version (1) | flags, 0: none defined (1) | receiver id (4) | receiver session as the
 *   sender knows it, 0 if unknown (8) | the sender's certificate (104) |
 *   Ed25519 signature by the sender's identity key (64) over
 *   "rshello1" | sender id (4) | sender session (8) | the bytes above.
 *
 * Pair keys: shared = X25519(own secret, peer public) from the Ed25519
 * keys; the key of the packets from S to R is BLAKE2b-256 keyed with
 * `shared` over "rshpair1" | S | R | S's session | R's session | network
 * key.  Only S and R can compute it, and it changes when either restarts,
 * so no packet of an earlier boot of either side is ever accepted. */
#ifndef RSHARE_LINK_IDENTITY_H
#define RSHARE_LINK_IDENTITY_H

#include <stdbool.h>
#include <stdint.h>

#include "rshare/identity.h"

typedef struct rshare_node rshare_node;
struct rs_peer;

#define RS_HELLO_LEN 182
#define RS_HELLO_SIGNED_LEN 118 /* the bytes before the signature */
#define RS_HELLO_VERSION 1
#define RS_HELLO_SLOTS 4       /* HELLOs being reassembled at once */
#define RS_HELLO_MAX_FRAGMENTS 32

/* Is the key of node `id` still allowed (not revoked in the map)?  Set by
 * the layer that holds the map. */
typedef bool (*rs_identity_allowed_fn)(rshare_node *node, uint32_t id,
                                       const uint8_t pk[RSHARE_IDENTITY_PUBLIC_KEY_BYTES]);

struct rs_hello_slot {
    uint32_t src, xfer;
    uint64_t session;
    uint64_t started_us;
    uint32_t have; /* one bit per fragment */
    uint16_t count;
    bool used;
    uint8_t buf[RS_HELLO_LEN];
};

struct rs_identity {
    bool enabled;
    uint8_t sk[RSHARE_IDENTITY_SECRET_KEY_BYTES];
    uint8_t pk[RSHARE_IDENTITY_PUBLIC_KEY_BYTES];
    uint8_t curve_sk[32];
    uint8_t cert[RSHARE_IDENTITY_CERT_BYTES];
    uint8_t authority[RSHARE_IDENTITY_PUBLIC_KEY_BYTES];
    rs_identity_allowed_fn allowed;
    struct rs_hello_slot slots[RS_HELLO_SLOTS];
    uint64_t last_unsolicited_us; /* a HELLO to a source we know nothing of */
};

/* What a verified HELLO said. */
struct rs_hello {
    uint32_t dst;
    uint64_t dst_session;
    uint32_t src;
    uint64_t src_session;
    uint8_t pk[RSHARE_IDENTITY_PUBLIC_KEY_BYTES];
};

/* From the node's configuration: identity mode when an authority key is
 * given, after checking that the certificate names this node and its key.
 * Clears the configuration's pointers (the material is copied). */
int rs_identity_init(rshare_node *node);
void rs_identity_fini(rshare_node *node);

/* This node's HELLO to `dst`, whose session we know as `dst_session`. */
void rs_hello_build(rshare_node *node, uint32_t dst, uint64_t dst_session,
                    uint8_t out[RS_HELLO_LEN]);
/* Check a HELLO received from `src` in session `src_session`: format,
 * certificate (this cluster's authority, naming `src`), addressed to this
 * node, signature.  Returns 0 or RSHARE_EPROTO / RSHARE_EAUTH. */
int rs_hello_verify(rshare_node *node, const uint8_t *buf, size_t len, uint32_t src,
                    uint64_t src_session, struct rs_hello *out);

/* Compute `peer`'s pair keys from its public key and both sessions.
 * Returns 0, or RSHARE_EAUTH for a public key that gives no shared secret. */
int rs_pair_keys(rshare_node *node, struct rs_peer *peer);

#endif
