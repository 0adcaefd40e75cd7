/* rshare access — grant cookies: encoding, Ed25519 signing (libsodium
 * crypto_sign_detached) and the bounded parser.
 *
 * A cookie is  [1, body: bstr, signature: bstr .size 64]  with
 * body = [id, parent, resource, grantee, rights, epoch, version, ttl_ms].
 * The signature covers a fixed context string followed by the body's exact
 * bytes, so there is no canonical-form question: what was signed is what is
 * parsed.  The context keeps a cookie signature from ever being valid as a
 * signature over anything else a future rshare key signs. */
#include "config.h"

#include <string.h>

#include <sodium.h>

#include "msg/body.h"
#include "rshare/error.h"
#include "rshare/resource.h"
#include "token.h"

#define BODY_FIELDS 8
#define BODY_MAX 128
static const char sign_context[] = "rshare grant cookie v1"; /* NUL included: 23 bytes */

void rs_token_key_derive(const uint8_t cluster_key[32], struct rs_token_key *key)
{
    uint8_t seed[crypto_sign_SEEDBYTES];
    /* A sub-key of its own: the packet key is id 1 of context "rshpkt01". */
    crypto_kdf_derive_from_key(seed, sizeof(seed), 2, "rshgrant", cluster_key);
    crypto_sign_seed_keypair(key->pk, key->sk, seed);
    sodium_memzero(seed, sizeof(seed));
    key->valid = true;
}

void rs_token_key_wipe(struct rs_token_key *key)
{
    sodium_memzero(key, sizeof(*key));
}

static bool token_in_range(const struct rs_token *t)
{
    return t->id != 0 && t->id != t->parent && t->grantee != 0 && t->grantee != UINT32_MAX &&
           t->rights != 0 && (t->rights & ~(RSHARE_RIGHT_READ | RSHARE_RIGHT_WRITE)) == 0 &&
           t->resource != 0; /* a block (host << 32 | n) or a volume (its id) */
}

static size_t body_encode(const struct rs_token *t, uint8_t *buf, size_t cap)
{
    struct rs_cbor_writer w;
    rs_cbor_writer_init(&w, buf, cap);
    rs_cbor_put_array(&w, BODY_FIELDS);
    rs_cbor_put_uint(&w, t->id);
    rs_cbor_put_uint(&w, t->parent);
    rs_cbor_put_uint(&w, t->resource);
    rs_cbor_put_uint(&w, t->grantee);
    rs_cbor_put_uint(&w, t->rights);
    rs_cbor_put_uint(&w, t->epoch);
    rs_cbor_put_uint(&w, t->version);
    rs_cbor_put_uint(&w, t->ttl_ms);
    return w.overflow ? 0 : w.len;
}

/* context ‖ body, the bytes the signature covers. */
static size_t signed_bytes(const uint8_t *body, size_t len, uint8_t *out)
{
    memcpy(out, sign_context, sizeof(sign_context));
    memcpy(out + sizeof(sign_context), body, len);
    return sizeof(sign_context) + len;
}

size_t rs_token_seal(const struct rs_token_key *key, const struct rs_token *t, uint8_t *out,
                     size_t cap)
{
    if (!key->valid || !token_in_range(t))
        return 0;
    uint8_t body[BODY_MAX];
    size_t body_len = body_encode(t, body, sizeof(body));
    if (!body_len)
        return 0;
    uint8_t msg[sizeof(sign_context) + BODY_MAX];
    size_t msg_len = signed_bytes(body, body_len, msg);
    uint8_t sig[crypto_sign_BYTES];
    if (crypto_sign_detached(sig, NULL, msg, msg_len, key->sk) != 0)
        return 0;
    struct rs_cbor_writer w;
    rs_cbor_writer_init(&w, out, cap < RS_TOKEN_MAX ? cap : RS_TOKEN_MAX);
    rs_cbor_put_array(&w, 3);
    rs_cbor_put_uint(&w, RS_TOKEN_VERSION);
    rs_cbor_put_bytes(&w, body, body_len);
    rs_cbor_put_bytes(&w, sig, sizeof(sig));
    return w.overflow ? 0 : w.len;
}

static int get_u32(struct rs_cbor_reader *r, uint32_t *v)
{
    uint64_t u;
    if (rs_cbor_get_uint(r, &u) < 0 || u > UINT32_MAX)
        return RSHARE_EPROTO;
    *v = (uint32_t)u;
    return 0;
}

int rs_token_body_decode(const uint8_t *body, size_t len, struct rs_token *t)
{
    memset(t, 0, sizeof(*t));
    if (len > BODY_MAX)
        return RSHARE_EPROTO;
    struct rs_cbor_reader r;
    rs_cbor_reader_init(&r, body, len);
    size_t n;
    if (rs_cbor_get_array(&r, &n) < 0 || n != BODY_FIELDS || rs_cbor_get_uint(&r, &t->id) < 0 ||
        rs_cbor_get_uint(&r, &t->parent) < 0 || rs_cbor_get_uint(&r, &t->resource) < 0 ||
        get_u32(&r, &t->grantee) < 0 || get_u32(&r, &t->rights) < 0 ||
        get_u32(&r, &t->epoch) < 0 || rs_cbor_get_uint(&r, &t->version) < 0 ||
        get_u32(&r, &t->ttl_ms) < 0 || !rs_cbor_at_end(&r) || !token_in_range(t))
        return RSHARE_EPROTO;
    return 0;
}

enum rs_token_verdict rs_token_open(const uint8_t pk[RS_TOKEN_PK_BYTES], const uint8_t *cookie,
                                    size_t len, struct rs_token *t)
{
    memset(t, 0, sizeof(*t));
    if (len > RS_TOKEN_MAX)
        return RS_TOKEN_TOO_LONG;
    struct rs_cbor_reader r;
    rs_cbor_reader_init(&r, cookie, len);
    size_t n, body_len, sig_len;
    uint64_t version;
    const uint8_t *body, *sig;
    if (rs_cbor_get_array(&r, &n) < 0 || n != 3 || rs_cbor_get_uint(&r, &version) < 0)
        return RS_TOKEN_MALFORMED;
    if (version != RS_TOKEN_VERSION)
        return RS_TOKEN_BAD_VERSION;
    if (rs_cbor_get_bytes(&r, &body, &body_len) < 0 || body_len > BODY_MAX ||
        rs_cbor_get_bytes(&r, &sig, &sig_len) < 0 || sig_len != crypto_sign_BYTES ||
        !rs_cbor_at_end(&r))
        return RS_TOKEN_MALFORMED;
    /* The signature covers the body only: the envelope must be encoded as
     * rs_token_seal() encodes it (shortest CBOR heads), so that one grant
     * has exactly one cookie (found by fuzz_token: a version written
     * 0x18 0x01 was accepted). */
    uint8_t canon[RS_TOKEN_MAX];
    struct rs_cbor_writer w;
    rs_cbor_writer_init(&w, canon, sizeof(canon));
    rs_cbor_put_array(&w, 3);
    rs_cbor_put_uint(&w, version);
    rs_cbor_put_bytes(&w, body, body_len);
    rs_cbor_put_bytes(&w, sig, sig_len);
    if (w.overflow || w.len != len || memcmp(canon, cookie, len) != 0)
        return RS_TOKEN_MALFORMED;
    uint8_t msg[sizeof(sign_context) + BODY_MAX];
    size_t msg_len = signed_bytes(body, body_len, msg);
    /* libsodium's verification is constant-time in the secret-dependent
     * parts and rejects non-canonical signatures (no malleability). */
    if (crypto_sign_verify_detached(sig, msg, msg_len, pk) != 0)
        return RS_TOKEN_BAD_SIGNATURE;
    if (rs_token_body_decode(body, body_len, t) < 0)
        return RS_TOKEN_BAD_BODY;
    return RS_TOKEN_OK;
}

const char *rs_token_verdict_text(enum rs_token_verdict v)
{
    switch (v) {
    case RS_TOKEN_OK: return "valid";
    case RS_TOKEN_TOO_LONG: return "cookie too long";
    case RS_TOKEN_MALFORMED: return "malformed cookie";
    case RS_TOKEN_BAD_VERSION: return "unknown cookie version";
    case RS_TOKEN_BAD_SIGNATURE: return "bad signature (forged, altered or another cluster's)";
    case RS_TOKEN_BAD_BODY: return "signed cookie with an invalid body";
    default: return "unknown verdict";
    }
}
