/* rshared — the node's identity (doc/AGENT.md, "Identities"): the three
 * files of identity mode, read at start through the library's key file
 * functions and checked against each other before the node is made (so
 * that a wrong file is named), and the `identity revoke` command. */
#include "config.h"

#include "agent.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* One file: 0, or -1 with a message naming it. */
static int load(const char *what, const char *path, uint8_t *data, size_t len, int secret,
                char *err, size_t err_len)
{
    int rc = rshare_identity_file_load(path, data, len, secret);
    struct stat st;
    if (rc == 0)
        return 0;
    if (rc == RSHARE_EACCES && stat(path, &st) == 0)
        snprintf(err, err_len,
                 "%s %s: readable or writable by others (mode %03o): refused; chmod 600 it",
                 what, path, (unsigned)(st.st_mode & 0777));
    else if (rc == RSHARE_EPROTO)
        snprintf(err, err_len, "%s %s: not a regular file of %zu bytes", what, path, len);
    else if (rc == RSHARE_ENOENT)
        snprintf(err, err_len, "%s %s: no such file", what, path);
    else
        snprintf(err, err_len, "%s %s: %s", what, path, strerror(errno));
    return -1;
}

int identity_load(const struct agent_config *cfg, struct agent_identity *id, char *err,
                  size_t err_len)
{
    memset(id, 0, sizeof(*id));
    if (!cfg->identity_key_file[0])
        return 0; /* the settings allow all three or none */
    if (load("identity_key_file", cfg->identity_key_file, id->secret_key,
             sizeof(id->secret_key), 1, err, err_len) < 0 ||
        load("identity_cert_file", cfg->identity_cert_file, id->cert, sizeof(id->cert), 0, err,
             err_len) < 0 ||
        load("authority_public_key_file", cfg->authority_public_key_file, id->authority,
             sizeof(id->authority), 0, err, err_len) < 0) {
        identity_wipe(id);
        return -1;
    }
    uint32_t cert_node;
    uint8_t cert_pk[RSHARE_IDENTITY_PUBLIC_KEY_BYTES], own_pk[RSHARE_IDENTITY_PUBLIC_KEY_BYTES];
    int rc = rshare_identity_cert_verify(id->cert, id->authority, &cert_node, cert_pk);
    rshare_identity_public_key(id->secret_key, own_pk);
    if (rc < 0)
        snprintf(err, err_len, "identity_cert_file %s: %s", cfg->identity_cert_file,
                 rc == RSHARE_EAUTH ? "not signed by the authority of authority_public_key_file"
                                    : "not an rshare certificate");
    else if (cert_node != cfg->id)
        snprintf(err, err_len, "identity_cert_file %s: enrols node %u, this is node %u",
                 cfg->identity_cert_file, cert_node, cfg->id);
    else if (memcmp(cert_pk, own_pk, sizeof(own_pk)) != 0)
        snprintf(err, err_len,
                 "identity_cert_file %s: certifies another key than identity_key_file's",
                 cfg->identity_cert_file);
    if (rc < 0 || cert_node != cfg->id || memcmp(cert_pk, own_pk, sizeof(own_pk)) != 0) {
        identity_wipe(id);
        return -1;
    }
    id->on = true;
    return 0;
}

void identity_wipe(struct agent_identity *id)
{
    /* volatile: the library has its own copy, and this wipe must not be
     * dropped as a dead store. */
    volatile uint8_t *p = id->secret_key;
    for (size_t i = 0; i < sizeof(id->secret_key); i++)
        p[i] = 0;
}

/* --- identity revoke NODE [HEX] ----------------------------------------------------- */

/* Why a revocation was refused, in the user's words. */
static const char *refusal(struct agent *a, int status, uint32_t id, char *why, size_t len)
{
    if (status == RSHARE_EACCES)
        snprintf(why, len, "node %u is neither the manager nor manager-eligible: revoke on the "
                           "manager",
                 rshare_node_id(a->node));
    else if (status == RSHARE_ENOENT)
        snprintf(why, len, "the manager knows no key of node %u (it never shook hands with it): "
                           "give --public NODE.pub",
                 id);
    else
        snprintf(why, len, "revoking node %u's key failed: %s", id, rshare_strerror(status));
    return why;
}

static void revoked(rshare_node *node, const struct rshare_access_result *result, void *user_data)
{
    (void)node;
    struct client *c = user_data;
    uint32_t id = (uint32_t)result->id;
    if (result->status < 0) {
        char why[200];
        client_finish(c, NULL, result->status,
                      refusal(c->agent, result->status, id, why, sizeof(why)));
        return;
    }
    struct reply r;
    reply_init(&r, c->json);
    reply_line(&r, "node %u's key revoked: every node refuses it once its map has the change", id);
    reply_open(&r, NULL, '{');
    reply_u64(&r, "revoked", id);
    reply_close(&r, '{');
    client_finish(c, &r, 0, NULL);
}

static int hex_value(char ch)
{
    return ch >= '0' && ch <= '9'   ? ch - '0'
           : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
           : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                    : -1;
}

int identity_command(struct client *c, char **w, int n, const char **why)
{
    static const char usage[] = "usage: identity revoke NODE_ID [PUBLIC_KEY_HEX]";
    *why = usage;
    if (n < 3 || n > 4 || strcmp(w[1], "revoke"))
        return RSHARE_EINVAL;
    char *end;
    errno = 0;
    unsigned long long id = strtoull(w[2], &end, 10);
    if (errno || *end || w[2][0] == '-' || id == 0 || id > 0xFFFFFFFEull)
        return RSHARE_EINVAL;
    uint8_t pk[RSHARE_IDENTITY_PUBLIC_KEY_BYTES];
    if (n == 4) {
        if (strlen(w[3]) != 2 * sizeof(pk))
            return RSHARE_EINVAL;
        for (size_t i = 0; i < sizeof(pk); i++) {
            int hi = hex_value(w[3][2 * i]), lo = hex_value(w[3][2 * i + 1]);
            if (hi < 0 || lo < 0)
                return RSHARE_EINVAL;
            pk[i] = (uint8_t)(hi << 4 | lo);
        }
    }
    /* Refusals the manager (this node, or a peer) gives at once come back
     * here, later ones through revoked(). */
    int rc = rshare_access_revoke_identity(c->agent->node, (uint32_t)id, n == 4 ? pk : NULL,
                                           revoked, c);
    static char why_text[200];
    *why = rc == RSHARE_EACCES || rc == RSHARE_ENOENT
               ? refusal(c->agent, rc, (uint32_t)id, why_text, sizeof(why_text))
               : NULL;
    return rc;
}
