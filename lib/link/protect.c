/* rshare link — packet protection with libsodium's AEAD. */
#include "config.h"

#include <string.h>

#include <sodium.h>

#include "packet.h"
#include "protect.h"

static const char kdf_context[crypto_kdf_CONTEXTBYTES] = {'r', 's', 'h', 'p', 'k', 't', '0', '1'};

void rs_protect_derive(uint8_t packet_key[RS_PROTECT_KEY_LEN],
                       const uint8_t cluster_key[RS_PROTECT_KEY_LEN])
{
    crypto_kdf_derive_from_key(packet_key, RS_PROTECT_KEY_LEN, 1, kdf_context, cluster_key);
}

/* 24-byte nonce: source node (4) | boot session (8) | sequence (8) | 0 (4). */
static void make_nonce(uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES],
                       const uint8_t *hdr)
{
    memset(nonce, 0, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    memcpy(nonce, hdr + 2, 4);
    memcpy(nonce + 4, hdr + 10, 16);
}

size_t rs_protect_seal(const uint8_t key[RS_PROTECT_KEY_LEN], uint8_t *pkt, size_t hdr_len,
                       size_t body_len)
{
    uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
    make_nonce(nonce, pkt);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(pkt + hdr_len, &clen, pkt + hdr_len, body_len,
                                               pkt, hdr_len, NULL, nonce, key);
    return hdr_len + (size_t)clen;
}

int rs_protect_open(const uint8_t key[RS_PROTECT_KEY_LEN], const uint8_t *pkt, size_t len,
                    size_t hdr_len, uint8_t *out, size_t *out_len)
{
    if (len < hdr_len + RS_PKT_TAG_LEN)
        return -1;
    uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
    make_nonce(nonce, pkt);
    unsigned long long mlen = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, &mlen, NULL, pkt + hdr_len, len - hdr_len,
                                                   pkt, hdr_len, nonce, key) != 0)
        return -1;
    *out_len = (size_t)mlen;
    return 0;
}
