/* rshare link — packet protection: XChaCha20-Poly1305 (libsodium) over
 * everything after the common header, with the header as associated data.
 * The nonce is built from the header (sender, boot session, sequence), so it
 * never repeats while sequence numbers and sessions do not. */
#ifndef RSHARE_PROTECT_H
#define RSHARE_PROTECT_H

#include <stddef.h>
#include <stdint.h>

#define RS_PROTECT_KEY_LEN 32

/* Derive the packet key from the cluster key (a sub-key, so that the cluster
 * key can serve other purposes later without key reuse). */
void rs_protect_derive(uint8_t packet_key[RS_PROTECT_KEY_LEN],
                       const uint8_t cluster_key[RS_PROTECT_KEY_LEN]);

/* Encrypt pkt[hdr_len .. hdr_len + body_len) in place and append the tag;
 * `pkt` must have room for it.  Returns the sealed packet length. */
size_t rs_protect_seal(const uint8_t key[RS_PROTECT_KEY_LEN], uint8_t *pkt,
                       size_t hdr_len, size_t body_len);

/* Verify and decrypt the body of a sealed packet into `out` (room for
 * len - hdr_len - tag bytes).  Returns 0, or -1 when the tag is wrong. */
int rs_protect_open(const uint8_t key[RS_PROTECT_KEY_LEN], const uint8_t *pkt, size_t len,
                    size_t hdr_len, uint8_t *out, size_t *out_len);

#endif
