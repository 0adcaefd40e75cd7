/* rsharectl — node identities offline (see identity_cmd.h and doc/AGENT.md,
 * "Identities").  Key files are written and read only through the
 * library: rshare_identity_file_save creates a file of mode 0600 and never
 * replaces one, rshare_identity_file_load refuses a secret key file that
 * group or others may read or write.  Public keys and certificates are
 * made readable by all (0644) after they are written: they are not
 * secret.  No secret byte is ever printed. */
#include "config.h"

#include "identity_cmd.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rshare/rshare.h>

enum { PK = RSHARE_IDENTITY_PUBLIC_KEY_BYTES, SK = RSHARE_IDENTITY_SECRET_KEY_BYTES,
       CERT = RSHARE_IDENTITY_CERT_BYTES };

const char *identity_usage(void)
{
    return "usage: rsharectl [--json] identity COMMAND ...\n"
           "\n"
           "  keygen FILE          a new key pair: FILE (secret, mode 600) and FILE.pub\n"
           "                       (public, 644); never overwrites; prints the public key\n"
           "  certify --authority AUTH_KEY --node ID --public NODE.pub --out CERT\n"
           "                       enrol node ID: the certificate binding its public key,\n"
           "                       signed with the authority's secret key file\n"
           "  show CERT [--authority AUTH.pub]\n"
           "                       the node id and public key a certificate names; with\n"
           "                       the authority's public key, whether it is valid\n"
           "  revoke NODE_ID [--public NODE.pub]\n"
           "                       through the local agent: revoke the node's key in the\n"
           "                       map (the key the manager saw it use, or NODE.pub's)\n"
           "\n"
           "exit status: 0 done, 1 invalid certificate (show) or refused by the agent\n"
           "(revoke), 2 bad usage, 3 no agent (revoke), 4 a file missing, of the wrong\n"
           "size, readable by others (secret keys) or already existing\n";
}

bool identity_is_offline(const char *subcommand)
{
    return !strcmp(subcommand, "keygen") || !strcmp(subcommand, "certify") ||
           !strcmp(subcommand, "show") || !strcmp(subcommand, "--help") ||
           !strcmp(subcommand, "-h");
}

static void to_hex(const uint8_t *data, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 15];
    }
    out[2 * len] = 0;
}

/* A path as a JSON string. */
static void json_path(const char *key, const char *path)
{
    printf("\"%s\":\"", key);
    for (const unsigned char *c = (const unsigned char *)path; *c; c++)
        if (*c == '"' || *c == '\\')
            printf("\\%c", *c);
        else if (*c < 0x20)
            printf("\\u%04x", *c);
        else
            putchar(*c);
    putchar('"');
}

/* A key file through the library, with a message naming the file. */
static int load(const char *prog, const char *what, const char *path, uint8_t *data, size_t len,
                int secret)
{
    int rc = rshare_identity_file_load(path, data, len, secret);
    if (rc == 0)
        return 0;
    struct stat st;
    if (rc == RSHARE_EACCES && stat(path, &st) == 0)
        fprintf(stderr, "%s: %s %s: readable or writable by others (mode %03o): refused; "
                        "chmod 600 it\n",
                prog, what, path, (unsigned)(st.st_mode & 0777));
    else if (rc == RSHARE_EPROTO)
        fprintf(stderr, "%s: %s %s: not %zu bytes\n", prog, what, path, len);
    else if (rc == RSHARE_ENOENT)
        fprintf(stderr, "%s: %s %s: no such file\n", prog, what, path);
    else
        fprintf(stderr, "%s: %s %s: %s\n", prog, what, path, strerror(errno));
    return -1;
}

/* Write a new file; public material is then made readable by all. */
static int save(const char *prog, const char *path, const uint8_t *data, size_t len,
                bool public_file)
{
    int rc = rshare_identity_file_save(path, data, len);
    if (rc == RSHARE_EEXIST) {
        fprintf(stderr, "%s: %s exists: refused (never overwritten; remove it first)\n", prog,
                path);
        return -1;
    }
    if (rc < 0) {
        fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
        return -1;
    }
    if (public_file && chmod(path, 0644) < 0) {
        fprintf(stderr, "%s: chmod %s: %s\n", prog, path, strerror(errno));
        return -1;
    }
    return 0;
}

static int keygen(int argc, char **argv, bool json, const char *prog)
{
    if (argc != 2) {
        fprintf(stderr, "%s: usage: identity keygen FILE\n", prog);
        return IDENTITY_EXIT_USAGE;
    }
    const char *path = argv[1];
    char pub_path[4096];
    struct stat st;
    if (snprintf(pub_path, sizeof(pub_path), "%s.pub", path) >= (int)sizeof(pub_path)) {
        fprintf(stderr, "%s: %s: path too long\n", prog, path);
        return IDENTITY_EXIT_USAGE;
    }
    /* Both files are checked first: no secret key without its public half. */
    for (int i = 0; i < 2; i++) {
        const char *p = i ? pub_path : path;
        if (lstat(p, &st) == 0) {
            fprintf(stderr, "%s: %s exists: refused (never overwritten; remove it first)\n",
                    prog, p);
            return IDENTITY_EXIT_FILE;
        }
    }
    uint8_t pk[PK], sk[SK];
    rshare_identity_keygen(pk, sk);
    int rc = save(prog, path, sk, SK, false);
    memset(sk, 0, sizeof(sk));
    if (rc < 0)
        return IDENTITY_EXIT_FILE;
    if (save(prog, pub_path, pk, PK, true) < 0) {
        unlink(path);
        return IDENTITY_EXIT_FILE;
    }
    char hex[2 * PK + 1];
    to_hex(pk, PK, hex);
    if (json) {
        putchar('{');
        json_path("secret_key_file", path);
        putchar(',');
        json_path("public_key_file", pub_path);
        printf(",\"public_key\":\"%s\"}\n", hex);
    } else
        printf("secret key %s (mode 600), public key %s\npublic key %s\n", path, pub_path, hex);
    return IDENTITY_EXIT_OK;
}

/* "--name VALUE" options; `names` and `values` in the same order. */
static int options(int argc, char **argv, int first, const char *const *names, const char **values,
                   size_t count, const char **positional, const char *prog)
{
    for (int i = first; i < argc; i++) {
        size_t k = 0;
        while (k < count && strcmp(argv[i], names[k]))
            k++;
        if (k < count && i + 1 < argc) {
            values[k] = argv[++i];
        } else if (argv[i][0] != '-' && positional && !*positional) {
            *positional = argv[i];
        } else {
            fprintf(stderr, "%s: identity %s: unexpected '%s'\n", prog, argv[0], argv[i]);
            return -1;
        }
    }
    return 0;
}

static int parse_id(const char *text, uint32_t *id)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || v == 0 || v > 0xFFFFFFFEull)
        return -1;
    *id = (uint32_t)v;
    return 0;
}

static int certify(int argc, char **argv, bool json, const char *prog)
{
    static const char *const names[] = {"--authority", "--node", "--public", "--out"};
    const char *v[4] = {NULL, NULL, NULL, NULL};
    uint32_t id;
    if (options(argc, argv, 1, names, v, 4, NULL, prog) < 0 || !v[0] || !v[1] || !v[2] || !v[3]) {
        fprintf(stderr, "%s: usage: identity certify --authority AUTH_KEY --node ID "
                        "--public NODE.pub --out CERT\n",
                prog);
        return IDENTITY_EXIT_USAGE;
    }
    if (parse_id(v[1], &id) < 0) {
        fprintf(stderr, "%s: --node '%s' is not a node id (1..4294967294)\n", prog, v[1]);
        return IDENTITY_EXIT_USAGE;
    }
    uint8_t auth_sk[SK], pk[PK], cert[CERT];
    if (load(prog, "public key", v[2], pk, PK, 0) < 0 ||
        load(prog, "authority key", v[0], auth_sk, SK, 1) < 0)
        return IDENTITY_EXIT_FILE;
    rshare_identity_certify(auth_sk, id, pk, cert);
    memset(auth_sk, 0, sizeof(auth_sk));
    if (save(prog, v[3], cert, CERT, true) < 0)
        return IDENTITY_EXIT_FILE;
    if (json) {
        printf("{\"node\":%u,", id);
        json_path("certificate_file", v[3]);
        printf("}\n");
    } else
        printf("node %u enrolled: certificate %s\n", id, v[3]);
    return IDENTITY_EXIT_OK;
}

static int show(int argc, char **argv, bool json, const char *prog)
{
    static const char *const names[] = {"--authority"};
    const char *authority = NULL, *path = NULL;
    if (options(argc, argv, 1, names, &authority, 1, &path, prog) < 0 || !path) {
        fprintf(stderr, "%s: usage: identity show CERT [--authority AUTH.pub]\n", prog);
        return IDENTITY_EXIT_USAGE;
    }
    uint8_t cert[CERT], auth_pk[PK];
    if (load(prog, "certificate", path, cert, CERT, 0) < 0 ||
        (authority && load(prog, "authority public key", authority, auth_pk, PK, 0) < 0))
        return IDENTITY_EXIT_FILE;
    /* The layout of doc/PROTOCOL.md §3a: "RSC1", node id (big-endian),
     * public key, signature. */
    if (memcmp(cert, "RSC1", 4) != 0) {
        fprintf(stderr, "%s: %s: not an rshare certificate\n", prog, path);
        return IDENTITY_EXIT_INVALID;
    }
    uint32_t id = (uint32_t)cert[4] << 24 | (uint32_t)cert[5] << 16 | (uint32_t)cert[6] << 8 |
                  cert[7];
    char hex[2 * PK + 1];
    to_hex(cert + 8, PK, hex);
    int verdict = authority ? rshare_identity_cert_verify(cert, auth_pk, NULL, NULL) : 0;
    if (json) {
        printf("{\"node\":%u,\"public_key\":\"%s\"", id, hex);
        if (authority)
            printf(",\"valid\":%s", verdict == 0 ? "true" : "false");
        printf("}\n");
    } else {
        printf("node %u\npublic key %s\n", id, hex);
        if (authority)
            printf("%s\n", verdict == 0 ? "valid" : "invalid: not signed by this authority");
    }
    return verdict == 0 ? IDENTITY_EXIT_OK : IDENTITY_EXIT_INVALID;
}

int identity_run(int argc, char **argv, bool json, const char *prog)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--json")) {
            json = true;
            memmove(argv + i, argv + i + 1, (size_t)(argc - i - 1) * sizeof(argv[0]));
            argc--;
            i--;
        }
    if (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
        fputs(identity_usage(), stdout);
        return IDENTITY_EXIT_OK;
    }
    if (!strcmp(argv[0], "keygen"))
        return keygen(argc, argv, json, prog);
    if (!strcmp(argv[0], "certify"))
        return certify(argc, argv, json, prog);
    return show(argc, argv, json, prog);
}

int identity_revoke_request(int argc, char **argv, const char *prog, char **words, char *hex,
                            int *exit_code)
{
    static const char *const names[] = {"--public"};
    const char *pub = NULL, *node = NULL;
    uint32_t id;
    *exit_code = IDENTITY_EXIT_USAGE;
    if (options(argc, argv, 1, names, &pub, 1, &node, prog) < 0 || !node ||
        parse_id(node, &id) < 0) {
        fprintf(stderr, "%s: usage: identity revoke NODE_ID [--public NODE.pub]\n", prog);
        return -1;
    }
    words[0] = "identity";
    words[1] = "revoke";
    words[2] = (char *)node;
    if (!pub)
        return 3;
    uint8_t pk[PK];
    if (load(prog, "public key", pub, pk, PK, 0) < 0) {
        *exit_code = IDENTITY_EXIT_FILE;
        return -1;
    }
    to_hex(pk, PK, hex);
    words[3] = hex;
    return 4;
}
