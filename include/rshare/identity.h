/* rshare — node identities: an Ed25519 key pair per node, enrolment
 * certificates signed by the cluster authority, and key files
 * (doc/SECURITY.md, doc/ACCESS.md).
 *
 * A node configured with an identity (rshare_node_config's
 * identity_secret_key, identity_cert and authority_public_key) runs in
 * identity mode: it talks to a peer only after a handshake in which both
 * show a certificate of the same authority and prove they hold its secret
 * key; every unicast packet is then protected with a key only that pair of
 * nodes can compute.  A node that claims another's id fails the handshake,
 * and a revoked key (rshare_access_revoke_identity) is refused everywhere
 * once the map holds the revocation. */
#ifndef RSHARE_IDENTITY_H
#define RSHARE_IDENTITY_H

#include <rshare/common.h>
#include <rshare/access.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RSHARE_IDENTITY_PUBLIC_KEY_BYTES 32
#define RSHARE_IDENTITY_SECRET_KEY_BYTES 64
/* "RSC1", node id (4, big-endian), public key (32), authority signature (64). */
#define RSHARE_IDENTITY_CERT_BYTES 104

/* A new key pair (libsodium's crypto_sign_keypair).  Returns 0. */
RSHARE_API int rshare_identity_keygen(uint8_t public_key[RSHARE_IDENTITY_PUBLIC_KEY_BYTES],
                                      uint8_t secret_key[RSHARE_IDENTITY_SECRET_KEY_BYTES]);

/* The public half of `secret_key`. */
RSHARE_API int rshare_identity_public_key(const uint8_t secret_key[RSHARE_IDENTITY_SECRET_KEY_BYTES],
                                          uint8_t public_key[RSHARE_IDENTITY_PUBLIC_KEY_BYTES]);

/* Enrol a node: the certificate that binds `node_id` to `node_public_key`,
 * signed with the authority's secret key (kept by the administrator, or by
 * the nodes allowed to enrol others). */
RSHARE_API int rshare_identity_certify(const uint8_t authority_secret_key[RSHARE_IDENTITY_SECRET_KEY_BYTES],
                                       uint32_t node_id,
                                       const uint8_t node_public_key[RSHARE_IDENTITY_PUBLIC_KEY_BYTES],
                                       uint8_t cert[RSHARE_IDENTITY_CERT_BYTES]);

/* Check `cert` against the authority's public key.  Returns 0 and fills
 * the node id and public key it names (either may be NULL), or
 * RSHARE_EPROTO (not a certificate) or RSHARE_EAUTH (bad signature). */
RSHARE_API int rshare_identity_cert_verify(const uint8_t cert[RSHARE_IDENTITY_CERT_BYTES],
                                           const uint8_t authority_public_key[RSHARE_IDENTITY_PUBLIC_KEY_BYTES],
                                           uint32_t *node_id,
                                           uint8_t node_public_key[RSHARE_IDENTITY_PUBLIC_KEY_BYTES]);

/* Write `len` bytes of key material to a new file readable and writable by
 * its owner only (mode 0600).  An existing file is never overwritten:
 * RSHARE_EEXIST.  Used for secret keys, public keys and certificates. */
RSHARE_API int rshare_identity_file_save(const char *path, const uint8_t *data, size_t len);

/* Read a key file of exactly `len` bytes.  `secret` files (secret keys)
 * are refused with RSHARE_EACCES when their group or others may read or
 * write them, as ssh does.  RSHARE_EPROTO when the size is wrong. */
RSHARE_API int rshare_identity_file_load(const char *path, uint8_t *data, size_t len, int secret);

/* Revoke node `node_id`'s key through the map: `public_key`, or NULL for
 * the key the manager saw that node use in its handshake.  Every node
 * forgets the pair keys it shares with that key once its map holds the
 * change and refuses its handshakes from then on; the node must be
 * enrolled again, with a new key, to come back.  Asked on the manager or
 * by a manager-eligible member (others: RSHARE_EACCES).  The result's id
 * is `node_id`. */
RSHARE_API int rshare_access_revoke_identity(rshare_node *node, uint32_t node_id,
                                             const uint8_t *public_key, rshare_access_fn done,
                                             void *user_data);

#ifdef __cplusplus
}
#endif
#endif
