/* bench_rtt — request/response round trip over UDP loopback between two
 * processes, and the physical floor for the same path: a plain blocking UDP
 * ping-pong.  One run measures one case; tests/bench/run.sh interleaves the
 * cases and turns them into the table in doc/PERFORMANCE.md.
 *
 *   bench_rtt bare   [--size BYTES] [--chunk BYTES] [common options]
 *   bench_rtt rshare [--key] [--identity] [--mtu BYTES] [--size BYTES] [common options]
 *   common options:  [--iterations N] [--warmup N] [--samples FILE] [--cpus C:S]
 *
 * --identity runs both nodes in identity mode (keys from fixed seeds, one
 * authority): a handshake, then every packet under the pair's key.
 * bare sends the message as one datagram, or with --chunk as datagrams of
 * that size (a floor for rshare's fragmented path); the server echoes each
 * datagram as it comes.  --cpus pins the client to CPU C and the server
 * to CPU S: where the two processes run changes the round trip more than
 * anything measured here (a wake-up across CPUs costs an IPI).
 *
 * Prints one line: mode, size, median and p99 round trip in microseconds and
 * the payload rate (size x iterations / total round-trip time, in MB/s).
 * --samples appends every round trip, in nanoseconds, one per line. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rshare/rshare.h>
#include <sodium.h>

#define ECHO_TYPE 0x8001u
#define QUIT_TYPE 0x8002u
#define SOCKET_BUFFER (4 << 20) /* what rshare's UDP transport asks for */

struct options {
    int rshare, key, identity;
    size_t size, chunk;
    uint32_t mtu;
    long iterations, warmup;
    const char *samples;
    int client_cpu, server_cpu; /* -1: wherever the scheduler likes */
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void pin(int cpu);
static void parse_options(int argc, char **argv, struct options *o);
static void bare_server(int sock, int key) __attribute__((noreturn));
static int64_t *bare_client(const struct options *o, int sock, const struct sockaddr_in *server);
static void rshare_server(const struct options *o, int report_fd) __attribute__((noreturn));
static int64_t *rshare_client(const struct options *o, const char *server_addr);
static void report(const struct options *o, int64_t *ns);

static const uint8_t bench_key[RSHARE_CLUSTER_KEY_BYTES] = {
    0x62, 0x65, 0x6e, 0x63, 0x68, 0x2d, 0x72, 0x74, 0x74, 0x2d, 0x6b, 0x65, 0x79, 0x2d, 0x30, 0x31,
    0x9e, 0x1f, 0x44, 0xa7, 0x03, 0x5b, 0xc8, 0x71, 0x2d, 0xe0, 0x96, 0x38, 0x4f, 0xb2, 0x15, 0x6a};

int main(int argc, char **argv)
{
    struct options o;
    parse_options(argc, argv, &o);
    if (sodium_init() < 0) /* picks the fast implementations, as rshare_node_create() does */
        die("libsodium failed to initialise");
    signal(SIGPIPE, SIG_IGN);
    int pipefd[2];
    if (pipe(pipefd) < 0)
        die("pipe: %s", strerror(errno));
    int sock = -1;
    struct sockaddr_in server = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (!o.rshare) {
        /* Bind before forking: the client learns the port from the same socket. */
        socklen_t len = sizeof(server);
        int buf = SOCKET_BUFFER;
        if ((sock = socket(AF_INET, SOCK_DGRAM, 0)) < 0 ||
            setsockopt(sock, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf)) < 0 ||
            setsockopt(sock, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf)) < 0 ||
            bind(sock, (struct sockaddr *)&server, sizeof(server)) < 0 ||
            getsockname(sock, (struct sockaddr *)&server, &len) < 0)
            die("server socket: %s", strerror(errno));
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the client */
        if (getppid() != parent)
            _exit(1);
        pin(o.server_cpu);
        close(pipefd[0]);
        if (o.rshare)
            rshare_server(&o, pipefd[1]);
        bare_server(sock, o.key);
    }
    pin(o.client_cpu);
    close(pipefd[1]);
    int64_t *ns;
    if (o.rshare) {
        char addr[64];
        ssize_t n = read(pipefd[0], addr, sizeof(addr));
        if (n != (ssize_t)sizeof(addr))
            die("the rshare server did not start");
        addr[sizeof(addr) - 1] = '\0';
        ns = rshare_client(&o, addr);
    } else {
        close(sock);
        if ((sock = socket(AF_INET, SOCK_DGRAM, 0)) < 0)
            die("client socket: %s", strerror(errno));
        ns = bare_client(&o, sock, &server);
    }
    /* The server got its quit message; make sure it is gone either way. */
    for (int i = 0; i < 500 && waitpid(pid, NULL, WNOHANG) == 0; i++)
        usleep(2000);
    if (kill(pid, SIGKILL) == 0)
        waitpid(pid, NULL, 0);
    report(&o, ns);
    free(ns);
    return 0;
}

static void pin(int cpu)
{
    if (cpu < 0)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) < 0)
        die("cannot run on CPU %d: %s", cpu, strerror(errno));
}

static int64_t elapsed_ns(const struct timespec *a, const struct timespec *b)
{
    return (int64_t)(b->tv_sec - a->tv_sec) * 1000000000 + (b->tv_nsec - a->tv_nsec);
}

static void fill(uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(i * 31 + (i >> 8));
}

/* --- bare UDP: the floor ---------------------------------------------------- */

/* The floor of the encrypted path (bare --key): the same AEAD rshare uses
 * (ChaCha20-Poly1305, 26 bytes of associated data like rshare's header),
 * one seal before every send and one open after every receive, and
 * nothing else. */
#define BARE_AD 26
static uint64_t bare_nonce;

static size_t bare_seal(uint8_t *out, const uint8_t *in, size_t len)
{
    uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES] = {0};
    bare_nonce++;
    memcpy(nonce + 4, &bare_nonce, sizeof(bare_nonce));
    memset(out, 0, BARE_AD);
    memcpy(out, nonce, sizeof(nonce));
    unsigned long long clen;
    crypto_aead_chacha20poly1305_ietf_encrypt(out + BARE_AD, &clen, in, len, out, BARE_AD, NULL,
                                              nonce, bench_key);
    return BARE_AD + (size_t)clen;
}

static ssize_t bare_open(uint8_t *out, const uint8_t *in, size_t len)
{
    unsigned long long mlen;
    if (len < BARE_AD || crypto_aead_chacha20poly1305_ietf_decrypt(
                             out, &mlen, NULL, in + BARE_AD, len - BARE_AD, in, BARE_AD, in,
                             bench_key) != 0)
        return -1;
    return (ssize_t)mlen;
}

/* Echo every datagram (opening and sealing it again with --key); an empty
 * one means stop. */
static void bare_server(int sock, int key)
{
    static uint8_t buf[65536], plain[65536], sealed[65536];
    for (;;) {
        struct sockaddr_in from;
        socklen_t len = sizeof(from);
        ssize_t n = recvfrom(sock, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            _exit(0);
        if (key) {
            ssize_t m = bare_open(plain, buf, (size_t)n);
            if (m < 0)
                _exit(1);
            n = (ssize_t)bare_seal(sealed, plain, (size_t)m);
            sendto(sock, sealed, (size_t)n, 0, (struct sockaddr *)&from, len);
            continue;
        }
        sendto(sock, buf, (size_t)n, 0, (struct sockaddr *)&from, len);
    }
}

static int64_t *bare_client(const struct options *o, int sock, const struct sockaddr_in *server)
{
    size_t chunk = o->chunk ? o->chunk : o->size;
    if (o->size == 0 || chunk > 65507)
        die("bare UDP carries 1 to 65507 bytes in one datagram");
    int buf = SOCKET_BUFFER;
    setsockopt(sock, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
    setsockopt(sock, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
    struct timeval tv = {.tv_sec = 2};
    setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)); /* a lost datagram is fatal */
    if (o->key && chunk != o->size)
        die("bare --key seals whole messages: no --chunk");
    if (o->key && o->size + BARE_AD + 16 > 65507)
        die("bare --key carries at most %d bytes", 65507 - BARE_AD - 16);
    uint8_t *out = malloc(o->size), *in = malloc(o->size + 65536);
    uint8_t *sealed = malloc(65536), *plain = malloc(65536);
    int64_t *ns = malloc(sizeof(*ns) * (size_t)o->iterations);
    if (!out || !in || !ns)
        die("out of memory");
    fill(out, o->size);
    for (long i = -o->warmup; i < o->iterations; i++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        size_t got = 0;
        if (o->key) {
            size_t len = bare_seal(sealed, out, o->size);
            if (sendto(sock, sealed, len, 0, (const struct sockaddr *)server, sizeof(*server)) !=
                (ssize_t)len)
                die("sendto: %s", strerror(errno));
            ssize_t n = recv(sock, in, 65536, 0);
            ssize_t m = n > 0 ? bare_open(plain, in, (size_t)n) : -1;
            if (m < 0)
                die("bare echo %ld: %s", i, n < 0 ? strerror(errno) : "bad datagram");
            memcpy(in, plain, (size_t)m);
            got = (size_t)m;
        } else {
            for (size_t off = 0; off < o->size; off += chunk) {
                size_t len = o->size - off < chunk ? o->size - off : chunk;
                if (sendto(sock, out + off, len, 0, (const struct sockaddr *)server,
                           sizeof(*server)) != (ssize_t)len)
                    die("sendto: %s", strerror(errno));
            }
            while (got < o->size) { /* loopback keeps the order: datagrams land in place */
                ssize_t n = recv(sock, in + got, 65536, 0);
                if (n <= 0)
                    die("bare echo %ld: %s", i, n < 0 ? strerror(errno) : "empty datagram");
                got += (size_t)n;
            }
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (got != o->size || (i < 0 && memcmp(in, out, o->size) != 0))
            die("bare echo came back different"); /* checked outside the timed runs */
        if (i >= 0)
            ns[i] = elapsed_ns(&t0, &t1);
    }
    sendto(sock, out, 0, 0, (const struct sockaddr *)server, sizeof(*server));
    free(out);
    free(in);
    free(sealed);
    free(plain);
    return ns;
}

/* --- rshare: two nodes, the echo handler ------------------------------------ */

static void errors_only(void *user_data, enum rshare_log_level level, const char *message)
{
    (void)user_data;
    if (level == RSHARE_LOG_ERROR)
        fprintf(stderr, "rshare: %s\n", message);
}

static rshare_node *make_node(const struct options *o, uint32_t id, int *transport)
{
    struct rshare_node_config config;
    rshare_node_config_init(&config, sizeof(config));
    config.node_id = id;
    config.cluster_key = o->key ? bench_key : NULL;
    uint8_t auth_pk[32], auth_sk[64], pk[32], sk[64], cert[RSHARE_IDENTITY_CERT_BYTES];
    if (o->identity) {
        uint8_t seed[32] = {7};
        crypto_sign_seed_keypair(auth_pk, auth_sk, seed);
        seed[0] = (uint8_t)id;
        crypto_sign_seed_keypair(pk, sk, seed);
        rshare_identity_certify(auth_sk, id, pk, cert);
        config.identity_secret_key = sk;
        config.identity_cert = cert;
        config.authority_public_key = auth_pk;
    }
    config.log.write = errors_only; /* no "unprotected" warnings */
    config.log.max_level = RSHARE_LOG_ERROR;
    rshare_node *node;
    int rc = rshare_node_create(&config, &node);
    if (rc < 0)
        die("node: %s", rshare_strerror(rc));
    struct rshare_udp_config udp;
    rshare_udp_config_init(&udp, sizeof(udp));
    udp.bind_address = "127.0.0.1:0";
    udp.mtu = o->mtu;
    if ((*transport = rshare_node_add_udp(node, &udp)) < 0)
        die("udp: %s", rshare_node_errmsg(node));
    return node;
}

static void echo(rshare_node *node, rshare_request *request, void *user_data)
{
    (void)node;
    (void)user_data;
    rshare_request_reply(request, rshare_request_data(request), rshare_request_len(request));
}

static void quit(rshare_node *node, rshare_request *request, void *user_data)
{
    (void)node;
    rshare_request_reply(request, NULL, 0);
    *(int *)user_data = 1;
}

static void rshare_server(const struct options *o, int report_fd)
{
    int transport, done = 0;
    rshare_node *node = make_node(o, 1, &transport);
    char addr[64] = "";
    if (rshare_udp_local_address(node, transport, addr, sizeof(addr)) < 0 ||
        rshare_node_set_handler(node, ECHO_TYPE, echo, NULL) < 0 ||
        rshare_node_set_handler(node, QUIT_TYPE, quit, &done) < 0 ||
        write(report_fd, addr, sizeof(addr)) != (ssize_t)sizeof(addr))
        _exit(1);
    while (!done)
        rshare_node_run(node, 1000);
    rshare_node_destroy(node);
    _exit(0);
}

struct call {
    int done, status;
    size_t len;
};

static void on_reply(rshare_node *node, const struct rshare_reply *reply, void *user_data)
{
    (void)node;
    struct call *c = user_data;
    c->done = 1;
    c->status = reply->status;
    c->len = reply->len;
}

static int64_t *rshare_client(const struct options *o, const char *server_addr)
{
    int transport;
    rshare_node *node = make_node(o, 2, &transport);
    if (rshare_node_add_peer(node, 1, transport, server_addr) < 0)
        die("peer: %s", rshare_node_errmsg(node));
    uint8_t *out = malloc(o->size ? o->size : 1);
    int64_t *ns = malloc(sizeof(*ns) * (size_t)o->iterations);
    if (!out || !ns)
        die("out of memory");
    fill(out, o->size);
    for (long i = -o->warmup; i < o->iterations; i++) {
        struct call c = {0};
        struct timespec t0, t1;
        if (i < 0) { /* check the bytes outside the timed runs */
            void *reply;
            size_t len;
            int rc = rshare_node_call_sync(node, 1, ECHO_TYPE, out, o->size, &reply, &len);
            if (rc < 0 || len != o->size || memcmp(reply, out, len) != 0)
                die("rshare echo came back wrong: %s", rshare_strerror(rc));
            rshare_free(node, reply);
            continue;
        }
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int rc = rshare_node_call(node, 1, ECHO_TYPE, out, o->size, on_reply, &c);
        while (rc == 0 && !c.done)
            rc = rshare_node_run(node, -1);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (rc < 0 || c.status < 0 || c.len != o->size)
            die("rshare echo %ld: %s / %s", i, rshare_strerror(rc < 0 ? rc : c.status),
                rshare_node_errmsg(node));
        ns[i] = elapsed_ns(&t0, &t1);
    }
    void *reply;
    size_t len;
    if (rshare_node_call_sync(node, 1, QUIT_TYPE, NULL, 0, &reply, &len) == 0)
        rshare_free(node, reply);
    rshare_node_destroy(node);
    free(out);
    return ns;
}

/* --- results ------------------------------------------------------------ */

static int cmp_ns(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void report(const struct options *o, int64_t *ns)
{
    if (o->samples) {
        FILE *f = fopen(o->samples, "a");
        if (!f)
            die("%s: %s", o->samples, strerror(errno));
        for (long i = 0; i < o->iterations; i++)
            fprintf(f, "%lld\n", (long long)ns[i]);
        fclose(f);
    }
    double total = 0;
    for (long i = 0; i < o->iterations; i++)
        total += (double)ns[i];
    qsort(ns, (size_t)o->iterations, sizeof(*ns), cmp_ns);
    printf("mode=%s key=%d identity=%d size=%zu packet=%zu iterations=%ld median_us=%.2f "
           "p99_us=%.2f mb_per_s=%.1f\n",
           o->rshare ? "rshare" : "bare", o->key, o->identity, o->size,
           o->rshare ? (o->mtu ? o->mtu : RSHARE_UDP_DEFAULT_MTU) : (o->chunk ? o->chunk : o->size),
           o->iterations, (double)ns[o->iterations / 2] / 1e3,
           (double)ns[o->iterations * 99 / 100] / 1e3,
           (double)o->size * (double)o->iterations / (total / 1e9) / 1e6);
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench_rtt: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void parse_options(int argc, char **argv, struct options *o)
{
    static const struct option opts[] = {
        {"key", 0, NULL, 'k'},        {"size", 1, NULL, 's'},   {"mtu", 1, NULL, 'm'},
        {"identity", 0, NULL, 'i'},
        {"iterations", 1, NULL, 'n'}, {"warmup", 1, NULL, 'w'}, {"samples", 1, NULL, 'o'},
        {"chunk", 1, NULL, 'c'},      {"cpus", 1, NULL, 'p'},   {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof(*o));
    o->size = 64;
    o->iterations = 20000;
    o->warmup = -1;
    o->client_cpu = o->server_cpu = -1;
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (c) {
        case 'k': o->key = 1; break;
        case 'i': o->identity = 1; break;
        case 's': o->size = strtoul(optarg, NULL, 10); break;
        case 'c': o->chunk = strtoul(optarg, NULL, 10); break;
        case 'p':
            if (sscanf(optarg, "%d:%d", &o->client_cpu, &o->server_cpu) != 2)
                die("--cpus takes CLIENT:SERVER, such as 0:1");
            break;
        case 'm': o->mtu = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'n': o->iterations = strtol(optarg, NULL, 10); break;
        case 'w': o->warmup = strtol(optarg, NULL, 10); break;
        case 'o': o->samples = optarg; break;
        default: die("usage: bench_rtt bare|rshare [--key] [--identity] [--size B] [--mtu B] [--chunk B] "
                     "[--iterations N] [--warmup N] [--samples FILE] [--cpus C:S]");
        }
    }
    if (optind + 1 != argc || (strcmp(argv[optind], "bare") && strcmp(argv[optind], "rshare")))
        die("the mode is 'bare' or 'rshare'");
    o->rshare = strcmp(argv[optind], "rshare") == 0;
    if (o->iterations < 1)
        die("--iterations must be at least 1");
    if (o->warmup < 0)
        o->warmup = o->iterations / 10 > 10 ? o->iterations / 10 : 10;
    if (o->mtu && !o->rshare)
        die("--mtu applies to rshare only");
    if (o->chunk && o->rshare)
        die("--chunk applies to bare only (rshare cuts messages at --mtu)");
}
