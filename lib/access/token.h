/* rshare access — grant cookies: the signed token a host checks before it
 * serves a request (doc/ACCESS.md, "Cookies").  Pure encoding, signing and
 * a bounded parser; what a cookie is worth against the map (revoked,
 * expired, delegated) is access.c's business. */
#ifndef RSHARE_ACCESS_TOKEN_H
#define RSHARE_ACCESS_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A whole cookie is never longer than this: a longer one is refused before
 * any byte of it is parsed.  (The largest one we sign is about 150 bytes.) */
#define RS_TOKEN_MAX 256
#define RS_TOKEN_VERSION 1
#define RS_TOKEN_SIG_BYTES 64
#define RS_TOKEN_PK_BYTES 32
#define RS_TOKEN_SK_BYTES 64

/* What a cookie says.  Every field is covered by the signature. */
struct rs_token {
    uint64_t id;       /* the grant's id in the map (random, never 0) */
    uint64_t parent;   /* the delegating grant's id, 0 for a grant by the host */
    uint64_t resource; /* resource id (host << 32 | number) */
    uint32_t grantee;  /* the only node that may present it */
    uint32_t rights;   /* RSHARE_RIGHT_READ | RSHARE_RIGHT_WRITE */
    uint32_t epoch;    /* the map's epoch and version when it was signed */
    uint64_t version;
    uint32_t ttl_ms;   /* the grant's lifetime as the map holds it (0: none) */
};

/* The cluster's grant-signing key pair, derived from the cluster key
 * (crypto_kdf, context "rshgrant", id 2, then crypto_sign_seed_keypair):
 * every manager-eligible node can sign after a failover, and every host can
 * verify without asking anyone. */
struct rs_token_key {
    uint8_t pk[RS_TOKEN_PK_BYTES];
    uint8_t sk[RS_TOKEN_SK_BYTES];
    bool valid;
};

void rs_token_key_derive(const uint8_t cluster_key[32], struct rs_token_key *key);
/* Wipe the secret half (sodium_memzero). */
void rs_token_key_wipe(struct rs_token_key *key);

/* Why a cookie was refused by rs_token_open().  Counted by the callers. */
enum rs_token_verdict {
    RS_TOKEN_OK = 0,
    RS_TOKEN_TOO_LONG,      /* above RS_TOKEN_MAX: not even parsed */
    RS_TOKEN_MALFORMED,     /* not [1, bstr, bstr .size 64], or trailing bytes */
    RS_TOKEN_BAD_VERSION,   /* another cookie version */
    RS_TOKEN_BAD_SIGNATURE, /* forged, altered, or another cluster's key */
    RS_TOKEN_BAD_BODY,      /* signed by us but not a body we would sign: a bug */
    RS_TOKEN_VERDICTS
};

/* Sign `t` into `out`; returns the cookie's length, or 0 when `cap` is too
 * small, `t` is out of range or the key cannot sign. */
size_t rs_token_seal(const struct rs_token_key *key, const struct rs_token *t, uint8_t *out,
                     size_t cap);
/* Check and decode a cookie: the outer form first (bounded), then the
 * signature over the body's exact bytes, and only then the body itself, so
 * nothing unauthenticated is ever interpreted. */
enum rs_token_verdict rs_token_open(const uint8_t pk[RS_TOKEN_PK_BYTES], const uint8_t *cookie,
                                    size_t len, struct rs_token *t);
/* The body parser alone (for the fuzz target: it is only reached with a
 * valid signature otherwise). */
int rs_token_body_decode(const uint8_t *body, size_t len, struct rs_token *t);
const char *rs_token_verdict_text(enum rs_token_verdict v);

#endif
