/* rshare link — packet protection: ChaCha20-Poly1305 (IETF, libsodium)
 * over everything after the common header, with the header as associated
 * data.  Each sender's boot session has its own key, derived from the
 * cluster key, the sender and the session, so the packet sequence number
 * alone is the nonce: nonces never repeat while sessions and sequence
 * numbers do not, and no per-packet key derivation is needed. */
#ifndef RSHARE_PROTECT_H
#define RSHARE_PROTECT_H

#include <stddef.h>
#include <stdint.h>

#define RS_PROTECT_KEY_LEN 32

/* Derive the packet key from the cluster key (a sub-key, so that the cluster
 * key can serve other purposes later without key reuse). */
void rs_protect_derive(uint8_t packet_key[RS_PROTECT_KEY_LEN],
                       const uint8_t cluster_key[RS_PROTECT_KEY_LEN]);

/* The key of one sender's boot session, from the packet key. */
void rs_protect_session_key(uint8_t session_key[RS_PROTECT_KEY_LEN],
                            const uint8_t packet_key[RS_PROTECT_KEY_LEN], uint32_t sender,
                            uint64_t session);

/* With the sender's session key: encrypt pkt[hdr_len .. hdr_len + body_len)
 * in place and append the tag;
 * `pkt` must have room for it.  Returns the sealed packet length. */
size_t rs_protect_seal(const uint8_t key[RS_PROTECT_KEY_LEN], uint8_t *pkt,
                       size_t hdr_len, size_t body_len);

/* Verify and decrypt the body of a sealed packet into `out` (room for
 * len - hdr_len - tag bytes).  Returns 0, or -1 when the tag is wrong. */
int rs_protect_open(const uint8_t key[RS_PROTECT_KEY_LEN], const uint8_t *pkt, size_t len,
                    size_t hdr_len, uint8_t *out, size_t *out_len);

#endif
