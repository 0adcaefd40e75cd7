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

void rs_protect_session_key(uint8_t session_key[RS_PROTECT_KEY_LEN],
                            const uint8_t packet_key[RS_PROTECT_KEY_LEN], uint32_t sender,
                            uint64_t session)
{
    uint8_t in[12];
    for (int i = 0; i < 4; i++)
        in[i] = (uint8_t)(sender >> (24 - 8 * i));
    for (int i = 0; i < 8; i++)
        in[4 + i] = (uint8_t)(session >> (56 - 8 * i));
    crypto_generichash(session_key, RS_PROTECT_KEY_LEN, in, sizeof(in), packet_key,
                       RS_PROTECT_KEY_LEN);
}

/* 12-byte nonce: 0 (4) | the packet's sequence number (8, as in the header). */
static void make_nonce(uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES],
                       const uint8_t *hdr)
{
    memset(nonce, 0, 4);
    memcpy(nonce + 4, hdr + 18, 8);
}

size_t rs_protect_seal(const uint8_t key[RS_PROTECT_KEY_LEN], uint8_t *pkt, size_t hdr_len,
                       size_t body_len)
{
    uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
    make_nonce(nonce, pkt);
    unsigned long long clen = 0;
    crypto_aead_chacha20poly1305_ietf_encrypt(pkt + hdr_len, &clen, pkt + hdr_len, body_len, pkt,
                                              hdr_len, NULL, nonce, key);
    return hdr_len + (size_t)clen;
}

int rs_protect_open(const uint8_t key[RS_PROTECT_KEY_LEN], const uint8_t *pkt, size_t len,
                    size_t hdr_len, uint8_t *out, size_t *out_len)
{
    if (len < hdr_len + RS_PKT_TAG_LEN)
        return -1;
    uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
    make_nonce(nonce, pkt);
    unsigned long long mlen = 0;
    if (crypto_aead_chacha20poly1305_ietf_decrypt(out, &mlen, NULL, pkt + hdr_len, len - hdr_len,
                                                  pkt, hdr_len, nonce, key) != 0)
        return -1;
    *out_len = (size_t)mlen;
    return 0;
}
