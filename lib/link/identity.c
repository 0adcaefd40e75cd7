/* rshare link — node identities: key pairs, enrolment certificates, key
 * files, the HELLO and the pair keys (identity.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "core/endian.h"
#include "link.h"

static const uint8_t cert_magic[4] = {'R', 'S', 'C', '1'};
static const char cert_context[] = "rshare-enrol-v1"; /* signed with its NUL */
#define CERT_BODY_LEN 40                             /* magic, id, public key */

RSHARE_API int rshare_identity_keygen(uint8_t public_key[RSHARE_IDENTITY_PUBLIC_KEY_BYTES],
                                      uint8_t secret_key[RSHARE_IDENTITY_SECRET_KEY_BYTES])
{
    if (!public_key || !secret_key)
        return RSHARE_EINVAL;
    if (sodium_init() < 0)
        return RSHARE_EIO;
    crypto_sign_keypair(public_key, secret_key);
    return 0;
}

RSHARE_API int rshare_identity_public_key(const uint8_t secret_key[RSHARE_IDENTITY_SECRET_KEY_BYTES],
                                          uint8_t public_key[RSHARE_IDENTITY_PUBLIC_KEY_BYTES])
{
    if (!secret_key || !public_key)
        return RSHARE_EINVAL;
    crypto_sign_ed25519_sk_to_pk(public_key, secret_key);
    return 0;
}

/* The signed message of a certificate: the context, then its first bytes. */
static void cert_message(const uint8_t *cert, uint8_t msg[sizeof(cert_context) + CERT_BODY_LEN])
{
    memcpy(msg, cert_context, sizeof(cert_context));
    memcpy(msg + sizeof(cert_context), cert, CERT_BODY_LEN);
}

RSHARE_API int rshare_identity_certify(const uint8_t authority_secret_key[RSHARE_IDENTITY_SECRET_KEY_BYTES],
                                       uint32_t node_id,
                                       const uint8_t node_public_key[RSHARE_IDENTITY_PUBLIC_KEY_BYTES],
                                       uint8_t cert[RSHARE_IDENTITY_CERT_BYTES])
{
    if (!authority_secret_key || !node_public_key || !cert || node_id == 0 ||
        node_id == UINT32_MAX)
        return RSHARE_EINVAL;
    if (sodium_init() < 0)
        return RSHARE_EIO;
    memcpy(cert, cert_magic, 4);
    rs_put32(cert + 4, node_id);
    memcpy(cert + 8, node_public_key, RSHARE_IDENTITY_PUBLIC_KEY_BYTES);
    uint8_t msg[sizeof(cert_context) + CERT_BODY_LEN];
    cert_message(cert, msg);
    crypto_sign_detached(cert + CERT_BODY_LEN, NULL, msg, sizeof(msg), authority_secret_key);
    return 0;
}

RSHARE_API int rshare_identity_cert_verify(const uint8_t cert[RSHARE_IDENTITY_CERT_BYTES],
                                           const uint8_t authority_public_key[RSHARE_IDENTITY_PUBLIC_KEY_BYTES],
                                           uint32_t *node_id,
                                           uint8_t node_public_key[RSHARE_IDENTITY_PUBLIC_KEY_BYTES])
{
    if (!cert || !authority_public_key)
        return RSHARE_EINVAL;
    uint32_t id = rs_get32(cert + 4);
    if (memcmp(cert, cert_magic, 4) != 0 || id == 0 || id == UINT32_MAX)
        return RSHARE_EPROTO;
    if (sodium_init() < 0)
        return RSHARE_EIO;
    uint8_t msg[sizeof(cert_context) + CERT_BODY_LEN];
    cert_message(cert, msg);
    if (crypto_sign_verify_detached(cert + CERT_BODY_LEN, msg, sizeof(msg),
                                    authority_public_key) != 0)
        return RSHARE_EAUTH;
    if (node_id)
        *node_id = id;
    if (node_public_key)
        memcpy(node_public_key, cert + 8, RSHARE_IDENTITY_PUBLIC_KEY_BYTES);
    return 0;
}

RSHARE_API int rshare_identity_file_save(const char *path, const uint8_t *data, size_t len)
{
    if (!path || !data || !len)
        return RSHARE_EINVAL;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno == EEXIST ? RSHARE_EEXIST : RSHARE_ESYS;
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    int rc = done == len && fsync(fd) == 0 ? 0 : RSHARE_ESYS;
    if (close(fd) < 0)
        rc = RSHARE_ESYS;
    if (rc < 0)
        unlink(path);
    return rc;
}

RSHARE_API int rshare_identity_file_load(const char *path, uint8_t *data, size_t len, int secret)
{
    if (!path || !data || !len)
        return RSHARE_EINVAL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? RSHARE_ENOENT : RSHARE_ESYS;
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) < 0)
        rc = RSHARE_ESYS;
    else if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != len)
        rc = RSHARE_EPROTO;
    else if (secret && (st.st_mode & 077))
        rc = RSHARE_EACCES;
    size_t done = 0;
    while (rc == 0 && done < len) {
        ssize_t n = read(fd, data + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            rc = n < 0 ? RSHARE_ESYS : RSHARE_EPROTO;
        else
            done += (size_t)n;
    }
    close(fd);
    if (rc < 0)
        sodium_memzero(data, len);
    return rc;
}

/* --- this node's identity ------------------------------------------------------------ */

int rs_identity_init(rshare_node *node)
{
    struct rs_core *core = rs_core(node);
    struct rs_identity *id = &rs_link(node)->id;
    struct rshare_node_config *cfg = &core->config;
    const uint8_t *sk = cfg->identity_secret_key, *cert = cfg->identity_cert,
                  *authority = cfg->authority_public_key;
    cfg->identity_secret_key = cfg->identity_cert = cfg->authority_public_key = NULL;
    if (!authority) {
        if (sk || cert)
            return rs_errorf(node, RSHARE_EINVAL,
                             "an identity needs the authority's public key to check peers");
        return 0;
    }
    if (!sk || !cert)
        return rs_errorf(node, RSHARE_EINVAL,
                         "identity mode needs this node's secret key and certificate");
    uint32_t cert_id;
    uint8_t cert_pk[RSHARE_IDENTITY_PUBLIC_KEY_BYTES];
    int rc = rshare_identity_cert_verify(cert, authority, &cert_id, cert_pk);
    if (rc < 0)
        return rs_errorf(node, RSHARE_EINVAL, "the node's certificate is %s",
                         rc == RSHARE_EAUTH ? "not signed by the authority" : "malformed");
    memcpy(id->sk, sk, sizeof(id->sk));
    crypto_sign_ed25519_sk_to_pk(id->pk, id->sk);
    if (cert_id != cfg->node_id || memcmp(cert_pk, id->pk, sizeof(cert_pk)) != 0) {
        sodium_memzero(id->sk, sizeof(id->sk));
        return rs_errorf(node, RSHARE_EINVAL,
                         "the certificate is for node %u and another key, not this node %u's",
                         cert_id, cfg->node_id);
    }
    if (crypto_sign_ed25519_sk_to_curve25519(id->curve_sk, id->sk) != 0) {
        sodium_memzero(id->sk, sizeof(id->sk));
        return rs_errorf(node, RSHARE_EINVAL, "the identity key cannot be converted");
    }
    memcpy(id->cert, cert, sizeof(id->cert));
    memcpy(id->authority, authority, sizeof(id->authority));
    id->enabled = true;
    return 0;
}

void rs_identity_fini(rshare_node *node)
{
    struct rs_identity *id = &rs_link(node)->id;
    sodium_memzero(id->sk, sizeof(id->sk));
    sodium_memzero(id->curve_sk, sizeof(id->curve_sk));
}

/* --- HELLO ------------------------------------------------------------------------------ */

static void hello_signed(const uint8_t *body, uint32_t src, uint64_t src_session,
                         uint8_t msg[8 + 12 + RS_HELLO_SIGNED_LEN])
{
    memcpy(msg, "rshello1", 8);
    rs_put32(msg + 8, src);
    rs_put64(msg + 12, src_session);
    memcpy(msg + 20, body, RS_HELLO_SIGNED_LEN);
}

void rs_hello_build(rshare_node *node, uint32_t dst, uint64_t dst_session,
                    uint8_t out[RS_HELLO_LEN])
{
    struct rs_core *core = rs_core(node);
    struct rs_identity *id = &rs_link(node)->id;
    out[0] = RS_HELLO_VERSION;
    out[1] = 0;
    rs_put32(out + 2, dst);
    rs_put64(out + 6, dst_session);
    memcpy(out + 14, id->cert, RSHARE_IDENTITY_CERT_BYTES);
    uint8_t msg[8 + 12 + RS_HELLO_SIGNED_LEN];
    hello_signed(out, core->config.node_id, core->session, msg);
    crypto_sign_detached(out + RS_HELLO_SIGNED_LEN, NULL, msg, sizeof(msg), id->sk);
}

int rs_hello_verify(rshare_node *node, const uint8_t *buf, size_t len, uint32_t src,
                    uint64_t src_session, struct rs_hello *out)
{
    struct rs_identity *id = &rs_link(node)->id;
    if (len != RS_HELLO_LEN || buf[0] != RS_HELLO_VERSION || buf[1] != 0)
        return RSHARE_EPROTO;
    out->dst = rs_get32(buf + 2);
    out->dst_session = rs_get64(buf + 6);
    out->src = src;
    out->src_session = src_session;
    if (out->dst != rs_core(node)->config.node_id)
        return RSHARE_EPROTO;
    uint32_t cert_id;
    int rc = rshare_identity_cert_verify(buf + 14, id->authority, &cert_id, out->pk);
    if (rc < 0)
        return rc;
    if (cert_id != src)
        return RSHARE_EAUTH; /* a certificate of another node */
    uint8_t msg[8 + 12 + RS_HELLO_SIGNED_LEN];
    hello_signed(buf, src, src_session, msg);
    if (crypto_sign_verify_detached(buf + RS_HELLO_SIGNED_LEN, msg, sizeof(msg), out->pk) != 0)
        return RSHARE_EAUTH;
    return 0;
}

/* --- pair keys ---------------------------------------------------------------------------- */

static void pair_key(uint8_t key[RS_PROTECT_KEY_LEN], const uint8_t shared[32],
                     const uint8_t network[RS_PROTECT_KEY_LEN], uint32_t from, uint32_t to,
                     uint64_t from_session, uint64_t to_session)
{
    uint8_t in[8 + 4 + 4 + 8 + 8 + RS_PROTECT_KEY_LEN];
    memcpy(in, "rshpair1", 8);
    rs_put32(in + 8, from);
    rs_put32(in + 12, to);
    rs_put64(in + 16, from_session);
    rs_put64(in + 24, to_session);
    memcpy(in + 32, network, RS_PROTECT_KEY_LEN);
    crypto_generichash(key, RS_PROTECT_KEY_LEN, in, sizeof(in), shared, 32);
    sodium_memzero(in, sizeof(in));
}

int rs_pair_keys(rshare_node *node, struct rs_peer *peer)
{
    struct rs_core *core = rs_core(node);
    struct rs_link *link = rs_link(node);
    uint8_t curve_pk[32], shared[32];
    if (crypto_sign_ed25519_pk_to_curve25519(curve_pk, peer->identity_pk) != 0 ||
        crypto_scalarmult(shared, link->id.curve_sk, curve_pk) != 0)
        return RSHARE_EAUTH;
    static const uint8_t none[RS_PROTECT_KEY_LEN];
    const uint8_t *network = core->protected_mode ? link->key : none;
    uint32_t me = core->config.node_id;
    pair_key(peer->pair_tx, shared, network, me, peer->id, core->session, peer->session);
    pair_key(peer->pair_rx, shared, network, peer->id, me, peer->session, core->session);
    sodium_memzero(shared, sizeof(shared));
    return 0;
}
