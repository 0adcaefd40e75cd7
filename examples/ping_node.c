/* ping_node — the smallest complete rshare program: one node on UDP that
 * answers echo requests and, when given a peer, pings it with requests of
 * chosen sizes, checking that every reply comes back byte for byte.
 *
 *   ping_node --id 1 --listen 127.0.0.1:7219 --key KEYFILE
 *   ping_node --id 2 --listen 127.0.0.1:0 --peer 1@127.0.0.1:7219 --key KEYFILE
 */
#include <rshare/rshare.h>

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ECHO_TYPE 0x8001u /* application message types start at 0x8000 */
#define MAX_SIZES 16

struct options {
    uint32_t id, peer_id;
    const char *listen, *peer_addr, *key_file, *key_hex, *state_dir;
    unsigned count, serve_seconds, timeout_ms, size_count;
    size_t sizes[MAX_SIZES];
};

static volatile sig_atomic_t stop_requested;

static void parse_options(int argc, char **argv, struct options *o);
static int load_key(const struct options *o, uint8_t key[RSHARE_CLUSTER_KEY_BYTES]);
static void echo_handler(rshare_node *node, rshare_request *request, void *user_data);
static int ping_peer(rshare_node *node, const struct options *o);
static void serve(rshare_node *node, unsigned seconds);
static int fail(rshare_node *node, const char *what, int rc);

int main(int argc, char **argv)
{
    struct options o;
    parse_options(argc, argv, &o);
    setvbuf(stdout, NULL, _IOLBF, 0); /* scripts read our lines as they come */

    /* 1. The node: its id, the cluster key (or none); other limits default. */
    uint8_t key[RSHARE_CLUSTER_KEY_BYTES];
    struct rshare_node_config config;
    rshare_node_config_init(&config, sizeof(config));
    config.node_id = o.id;
    config.state_dir = o.state_dir;           /* NULL: no persistent state */
    config.request_timeout_ms = o.timeout_ms; /* 0: the default */
    if (o.key_file || o.key_hex) {
        if (load_key(&o, key) < 0)
            return 2;
        config.cluster_key = key; /* the node keeps a copy */
    }
    rshare_node *node = NULL;
    int rc = rshare_node_create(&config, &node);
    memset(key, 0, sizeof(key));
    if (rc < 0)
        return fail(NULL, "cannot create the node", rc);

    /* 2. A UDP transport bound to --listen (port 0: any free port). */
    struct rshare_udp_config udp;
    rshare_udp_config_init(&udp, sizeof(udp));
    udp.bind_address = o.listen;
    char bound[96];
    int transport = rc = rshare_node_add_udp(node, &udp);
    if (rc >= 0)
        rc = rshare_udp_local_address(node, transport, bound, sizeof(bound));
    if (rc < 0) {
        rc = fail(node, "cannot open the UDP transport", rc);
        goto out;
    }
    printf("node %u listening on %s (%s)\n", o.id, bound,
           config.cluster_key ? "cluster key set: authenticated and encrypted" : "no cluster key");

    /* 3. Answer echo requests.  Unknown types get an error reply. */
    if ((rc = rshare_node_set_handler(node, ECHO_TYPE, echo_handler, NULL)) < 0) {
        rc = fail(node, "cannot register the echo handler", rc);
        goto out;
    }

    /* 4. Ping the peer, if one was named; then serve, if asked to.  A node
     * learns its peers' addresses from their packets, but to speak first it
     * must be told one. */
    if (o.peer_addr) {
        if ((rc = rshare_node_add_peer(node, o.peer_id, transport, o.peer_addr)) < 0) {
            rc = fail(node, "bad --peer", rc);
            goto out;
        }
        if ((rc = ping_peer(node, &o)) != 0)
            goto out;
    }
    if (!o.peer_addr || o.serve_seconds)
        serve(node, o.serve_seconds);
    rc = 0;
out:
    rshare_node_destroy(node);
    return rc;
}

/* The handler may answer at once, as here, or later from any callback. */
static void echo_handler(rshare_node *node, rshare_request *request, void *user_data)
{
    (void)node;
    (void)user_data;
    if (rshare_request_expects_reply(request)) /* notifications take no reply */
        rshare_request_reply(request, rshare_request_data(request), rshare_request_len(request));
}

/* Send --count requests, sizes from the --size list in turn, and check each
 * reply.  rshare_node_call_sync runs the node until the answer arrives or
 * request_timeout_ms passes; retries and fragmentation into packets happen
 * inside the library. */
static int ping_peer(rshare_node *node, const struct options *o)
{
    size_t largest = 1;
    for (unsigned i = 0; i < o->size_count; i++)
        largest = o->sizes[i] > largest ? o->sizes[i] : largest;
    uint8_t *body = malloc(largest);
    if (!body)
        return fail(NULL, "out of memory", RSHARE_ENOMEM);
    double total_us = 0;
    int rc = 0;
    for (unsigned i = 0; i < o->count && rc == 0; i++) {
        size_t size = o->sizes[i % o->size_count];
        uint32_t x = 2463534242u + i; /* a different byte pattern every time */
        for (size_t j = 0; j < size; j++) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            body[j] = (uint8_t)x;
        }
        void *reply;
        size_t reply_len;
        uint64_t start = rshare_node_now_us(node);
        rc = rshare_node_call_sync(node, o->peer_id, ECHO_TYPE, body, size, &reply, &reply_len);
        double us = (double)(rshare_node_now_us(node) - start);
        if (rc < 0) {
            printf("ping %u/%u: %zu bytes to node %u: no reply\n", i + 1, o->count, size, o->peer_id);
            rc = fail(node, "echo request failed", rc);
            break;
        }
        int same = reply_len == size && memcmp(reply, body, size) == 0;
        rshare_free(node, reply); /* replies come from the node's allocator */
        printf("ping %u/%u: %zu bytes to node %u, round trip %.0f us, reply %s\n", i + 1,
               o->count, size, o->peer_id, us, same ? "identical" : "DIFFERENT");
        if (!same)
            rc = fail(NULL, "the reply differs from the request", RSHARE_EPROTO);
        total_us += us;
    }
    free(body);
    if (rc == 0 && o->count)
        printf("%u of %u exchanges ok, mean round trip %.0f us\n", o->count, o->count,
               total_us / o->count);
    return rc;
}

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* The simplest event loop: rshare_node_run waits for packets or timers and
 * handles them.  Ends after `seconds` (0: never) or on SIGTERM/SIGINT, then
 * shows the counters: rejected packets are counted, never silently lost. */
static void serve(rshare_node *node, unsigned seconds)
{
    signal(SIGTERM, on_signal); /* interrupts the wait in rshare_node_run */
    signal(SIGINT, on_signal);
    uint64_t end = rshare_node_now_us(node) + (uint64_t)seconds * 1000000u;
    while (!stop_requested && (!seconds || rshare_node_now_us(node) < end)) {
        int rc = rshare_node_run(node, 100);
        if (rc < 0)
            fail(node, "event loop", rc);
    }
    struct rshare_node_stats s;
    if (rshare_node_stats(node, &s, sizeof(s)) == 0)
        printf("stats: %llu messages received; packets rejected: %llu with a bad "
               "authentication tag, %llu with the wrong protection mode\n",
               (unsigned long long)s.msgs_received, (unsigned long long)s.rx_auth_failed,
               (unsigned long long)s.rx_unprotected);
}

/* Say what failed: the code's meaning and the node's detail message. */
static int fail(rshare_node *node, const char *what, int rc)
{
    const char *detail = node ? rshare_node_errmsg(node) : "";
    fprintf(stderr, "ping_node: %s: %s (%s)%s%s\n", what, rshare_strerror(rc),
            rshare_err_name(rc), *detail ? ": " : "", detail);
    return 1;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20; /* lower case */
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* 64 hex digits, from --key-hex or the first word of --key FILE. */
static int load_key(const struct options *o, uint8_t key[RSHARE_CLUSTER_KEY_BYTES])
{
    char text[2 * RSHARE_CLUSTER_KEY_BYTES + 2] = "";
    const char *hex = o->key_hex;
    if (o->key_file) {
        FILE *f = fopen(o->key_file, "r");
        int got = f && fscanf(f, "%65s", text) == 1;
        if (f)
            fclose(f);
        if (!got) {
            fprintf(stderr, "ping_node: cannot read the key file %s\n", o->key_file);
            return -1;
        }
        hex = text;
    }
    int ok = strlen(hex) == 2 * RSHARE_CLUSTER_KEY_BYTES;
    for (int i = 0; ok && i < RSHARE_CLUSTER_KEY_BYTES; i++) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if ((ok = hi >= 0 && lo >= 0))
            key[i] = (uint8_t)(hi << 4 | lo);
    }
    if (!ok)
        fprintf(stderr, "ping_node: the key must be %d hex digits\n", 2 * RSHARE_CLUSTER_KEY_BYTES);
    return ok ? 0 : -1;
}

static void usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: ping_node --id N --listen ADDR [--peer ID@ADDR] [--key HEXFILE | --key-hex HEX]\n"
            "         [--count K] [--size BYTES[,BYTES...]] [--serve-seconds S] [--timeout-ms MS]\n"
            "         [--state DIR]\n"
            "Without --peer: serve echo requests for S seconds (absent or 0: until SIGTERM).\n"
            "With --peer: send K echo requests (sizes from the list in turn), then serve if S is given.\n");
    exit(status);
}

static unsigned long number(const char *text, unsigned long max)
{
    char *end;
    unsigned long v = strtoul(text, &end, 10);
    if (!*text || *end || v > max) {
        fprintf(stderr, "ping_node: bad number '%s'\n", text);
        exit(2);
    }
    return v;
}

static void parse_options(int argc, char **argv, struct options *o)
{
    static const struct option opts[] = {
        {"id", 1, NULL, 'i'},    {"listen", 1, NULL, 'l'},        {"peer", 1, NULL, 'p'},
        {"key", 1, NULL, 'k'},   {"key-hex", 1, NULL, 'K'},       {"count", 1, NULL, 'c'},
        {"size", 1, NULL, 's'},  {"serve-seconds", 1, NULL, 'S'}, {"timeout-ms", 1, NULL, 't'},
        {"state", 1, NULL, 'd'}, {"help", 0, NULL, 'h'},          {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof(*o));
    o->count = 10;
    o->sizes[o->size_count++] = 64;
    char *at;
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (c) {
        case 'i': o->id = (uint32_t)number(optarg, 0xFFFFFFFEu); break;
        case 'l': o->listen = optarg; break;
        case 'k': o->key_file = optarg; break;
        case 'K': o->key_hex = optarg; break;
        case 'c': o->count = (unsigned)number(optarg, 1000000); break;
        case 'S': o->serve_seconds = (unsigned)number(optarg, 86400); break;
        case 't': o->timeout_ms = (unsigned)number(optarg, 3600000); break;
        case 'd': o->state_dir = optarg; break;
        case 'h': usage(0); break;
        case 'p': /* ID@ADDR */
            if (!(at = strchr(optarg, '@')))
                usage(2);
            *at = '\0';
            o->peer_id = (uint32_t)number(optarg, 0xFFFFFFFEu);
            o->peer_addr = at + 1;
            break;
        case 's': /* BYTES[,BYTES...] */
            o->size_count = 0;
            for (char *t = strtok(optarg, ","); t && o->size_count < MAX_SIZES; t = strtok(NULL, ","))
                o->sizes[o->size_count++] = number(t, 64u << 20);
            if (!o->size_count)
                usage(2);
            break;
        default: usage(2);
        }
    }
    if (optind != argc || !o->id || !o->listen || (o->key_file && o->key_hex))
        usage(2);
}
