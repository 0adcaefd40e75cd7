/* Integration test: real processes exchanging rshare requests over UDP on
 * 127.0.0.1, through the public API only.  A forked child runs a server node
 * (echo and failing handlers, driven by a poll() loop on rshare_node_fd) and
 * reports its bound address and, when told to stop, its counters; the last
 * test execs the built examples/ping_node instead.  Every child is killed
 * and reaped, also when an assertion fails (parent-death signal, and the
 * child stops by itself when its control pipe closes or after a deadline). */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rshare/rshare.h>

#define SERVER_ID 1u
#define CLIENT_ID 2u
#define ECHO_TYPE 0x8001u
#define FAIL_TYPE 0x8002u     /* the server answers RSHARE_EBUSY */
#define UNKNOWN_TYPE 0x8003u  /* no handler on the server */
#define CHILD_DEADLINE_S 60   /* a server child never outlives this */
#define WAIT_MS 5000          /* for a child's report or exit */
#define FAST_TIMEOUT_MS 1000  /* request timeout where failure is expected */

static const uint8_t key_a[RSHARE_CLUSTER_KEY_BYTES] = {
    0x3a, 0x91, 0x5c, 0x07, 0xee, 0x42, 0x18, 0xd6, 0x70, 0x2b, 0x9f, 0x64, 0xc1, 0x0d, 0x85, 0x33,
    0x5e, 0xa8, 0x11, 0xf0, 0x27, 0x9c, 0x46, 0xbb, 0x02, 0x7d, 0xe9, 0x58, 0x14, 0xca, 0x63, 0x8f};
static const uint8_t key_b[RSHARE_CLUSTER_KEY_BYTES] = {
    0x3a, 0x91, 0x5c, 0x07, 0xee, 0x42, 0x18, 0xd6, 0x70, 0x2b, 0x9f, 0x64, 0xc1, 0x0d, 0x85, 0x33,
    0x5e, 0xa8, 0x11, 0xf0, 0x27, 0x9c, 0x46, 0xbb, 0x02, 0x7d, 0xe9, 0x58, 0x14, 0xca, 0x63, 0x8e};

struct server {
    pid_t pid;
    int ctl_fd;    /* parent's end: closing it tells the child to stop */
    int report_fd; /* child -> parent: the bound address, then the stats */
    char addr[64];
};

/* Warnings (unprotected node, no persistence) are expected here. */
static void quiet_log(void *user_data, enum rshare_log_level level, const char *message)
{
    (void)user_data;
    if (level == RSHARE_LOG_ERROR)
        fprintf(stderr, "rshare: %s\n", message);
}

static rshare_node *make_node(uint32_t id, const uint8_t *key, uint32_t mtu,
                              uint32_t request_timeout_ms, int *transport)
{
    struct rshare_node_config config;
    rshare_node_config_init(&config, sizeof(config));
    config.node_id = id;
    config.cluster_key = key;
    config.request_timeout_ms = request_timeout_ms;
    config.log.write = quiet_log;
    config.log.max_level = RSHARE_LOG_ERROR;
    rshare_node *node = NULL;
    int rc = rshare_node_create(&config, &node);
    if (rc < 0)
        return NULL;
    struct rshare_udp_config udp;
    rshare_udp_config_init(&udp, sizeof(udp));
    udp.bind_address = "127.0.0.1:0";
    udp.mtu = mtu;
    *transport = rshare_node_add_udp(node, &udp);
    if (*transport < 0) {
        fprintf(stderr, "add_udp: %s\n", rshare_node_errmsg(node));
        rshare_node_destroy(node);
        return NULL;
    }
    return node;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Read exactly `len` bytes within `timeout_ms`; 0 or -1. */
static int read_full(int fd, void *buf, size_t len, int timeout_ms)
{
    uint64_t end = now_ms() + (uint64_t)timeout_ms;
    size_t got = 0;
    while (got < len) {
        uint64_t now = now_ms();
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (now >= end || poll(&pfd, 1, (int)(end - now)) <= 0)
            return -1;
        ssize_t n = read(fd, (char *)buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    return 0;
}

/* Wait for a child to exit; kill it if it does not.  Returns its status. */
static int reap(pid_t pid, int timeout_ms)
{
    int status = 0;
    uint64_t end = now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        if (r < 0)
            return -1;
        if (now_ms() >= end) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        usleep(2000);
    }
}

/* --- the server child ------------------------------------------------------ */

static void echo(rshare_node *node, rshare_request *request, void *user_data)
{
    (void)node;
    (void)user_data;
    rshare_request_reply(request, rshare_request_data(request), rshare_request_len(request));
}

static void refuse(rshare_node *node, rshare_request *request, void *user_data)
{
    (void)node;
    (void)user_data;
    rshare_request_fail(request, RSHARE_EBUSY, "server says busy");
}

/* Serve until the control pipe closes, then report the counters. */
static void server_main(const uint8_t *key, uint32_t mtu, int ctl_fd, int report_fd)
{
    int transport;
    rshare_node *node = make_node(SERVER_ID, key, mtu, 0, &transport);
    char addr[64] = "";
    if (!node || rshare_udp_local_address(node, transport, addr, sizeof(addr)) < 0 ||
        rshare_node_set_handler(node, ECHO_TYPE, echo, NULL) < 0 ||
        rshare_node_set_handler(node, FAIL_TYPE, refuse, NULL) < 0)
        _exit(3);
    if (write(report_fd, addr, sizeof(addr)) != (ssize_t)sizeof(addr))
        _exit(4);
    uint64_t deadline = now_ms() + CHILD_DEADLINE_S * 1000u;
    for (;;) {
        struct pollfd pfds[2] = {{.fd = rshare_node_fd(node), .events = POLLIN},
                                 {.fd = ctl_fd, .events = POLLIN}};
        int wait = rshare_node_timeout_ms(node);
        if (wait < 0 || wait > 100)
            wait = 100;
        if (poll(pfds, 2, wait) < 0 && errno != EINTR)
            _exit(5);
        if (pfds[1].revents || now_ms() > deadline)
            break;
        if (rshare_node_process(node) < 0)
            _exit(6);
    }
    struct rshare_node_stats stats;
    if (rshare_node_stats(node, &stats, sizeof(stats)) < 0 ||
        write(report_fd, &stats, sizeof(stats)) != (ssize_t)sizeof(stats))
        _exit(7);
    rshare_node_destroy(node);
    _exit(0);
}

static void server_start(struct server *s, const uint8_t *key, uint32_t mtu)
{
    int ctl[2], report[2];
    ck_assert_int_eq(pipe2(ctl, O_CLOEXEC), 0);
    ck_assert_int_eq(pipe2(report, O_CLOEXEC), 0);
    pid_t parent = getpid();
    s->pid = fork();
    ck_assert_int_ge(s->pid, 0);
    if (s->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(8);
        close(ctl[1]);
        close(report[0]);
        server_main(key, mtu, ctl[0], report[1]);
    }
    close(ctl[0]);
    close(report[1]);
    s->ctl_fd = ctl[1];
    s->report_fd = report[0];
    if (read_full(s->report_fd, s->addr, sizeof(s->addr), WAIT_MS) < 0) {
        int status = reap(s->pid, 0);
        ck_abort_msg("the server child did not report its address (status 0x%x)", status);
    }
    s->addr[sizeof(s->addr) - 1] = '\0';
    ck_assert_msg(strncmp(s->addr, "127.0.0.1:", 10) == 0, "server bound to '%s'", s->addr);
}

/* Stop the child, collect its counters, check that it exited cleanly. */
static void server_stop(struct server *s, struct rshare_node_stats *stats)
{
    close(s->ctl_fd);
    int got = read_full(s->report_fd, stats, sizeof(*stats), WAIT_MS);
    close(s->report_fd);
    int status = reap(s->pid, WAIT_MS);
    ck_assert_msg(got == 0, "no counters from the server child");
    ck_assert_msg(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "server child ended with status 0x%x", status);
}

/* --- the client ---------------------------------------------------------- */

static rshare_node *client_for(const struct server *s, const uint8_t *key, uint32_t mtu,
                               uint32_t request_timeout_ms)
{
    int transport;
    rshare_node *node = make_node(CLIENT_ID, key, mtu, request_timeout_ms, &transport);
    ck_assert_ptr_nonnull(node);
    ck_assert_int_eq(rshare_node_add_peer(node, SERVER_ID, transport, s->addr), 0);
    return node;
}

/* Bytes that differ per request and per position, so that a reply from
 * the wrong request or with fragments out of place cannot match. */
static void fill(uint8_t *buf, size_t len, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1u;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        buf[i] = (uint8_t)x;
    }
}

static void echo_ok(rshare_node *client, size_t size, uint32_t seed)
{
    uint8_t *body = malloc(size ? size : 1);
    ck_assert_ptr_nonnull(body);
    fill(body, size, seed);
    void *reply = NULL;
    size_t reply_len = 0;
    int rc = rshare_node_call_sync(client, SERVER_ID, ECHO_TYPE, body, size, &reply, &reply_len);
    ck_assert_msg(rc == 0, "echo of %zu bytes: %s (%s)", size, rshare_err_name(rc),
                  rshare_node_errmsg(client));
    ck_assert_uint_eq(reply_len, size);
    ck_assert_msg(memcmp(reply, body, size) == 0, "echo of %zu bytes came back different", size);
    rshare_free(client, reply);
    free(body);
}

/* Sizes around the 1400-byte packet boundary and well past it: 200 KiB
 * is about 150 packets at the default MTU, over two link windows. */
static const size_t sizes[] = {0, 1, 64, 1300, 1400, 1500, 4096, 65536, 200 * 1024};
#define N_SIZES (sizeof(sizes) / sizeof(sizes[0]))

static void exchange_all_sizes(const uint8_t *key, uint32_t mtu)
{
    struct server s;
    server_start(&s, key, mtu);
    rshare_node *client = client_for(&s, key, mtu, 0);
    for (unsigned round = 0; round < 2; round++)
        for (unsigned i = 0; i < N_SIZES; i++)
            echo_ok(client, sizes[i], round * 100 + i);
    struct rshare_node_stats cs, ss;
    ck_assert_int_eq(rshare_node_stats(client, &cs, sizeof(cs)), 0);
    rshare_node_destroy(client);
    server_stop(&s, &ss);
    /* Every request arrived (retries may add duplicates, never fewer). */
    ck_assert_uint_ge(ss.msgs_received, 2 * N_SIZES);
    ck_assert_uint_ge(cs.msgs_received, 2 * N_SIZES);
    ck_assert_uint_eq(ss.rx_auth_failed + ss.rx_unprotected + ss.rx_malformed, 0);
    ck_assert_uint_eq(cs.rx_auth_failed + cs.rx_unprotected + cs.rx_malformed, 0);
    /* The 200 KiB request really was cut into many packets. */
    ck_assert_uint_gt(ss.rx_packets, (200 * 1024) / (mtu ? mtu : RSHARE_UDP_DEFAULT_MTU));
}

START_TEST(test_keyed_exchange)
{
    exchange_all_sizes(key_a, 0);
}
END_TEST

START_TEST(test_unkeyed_exchange)
{
    exchange_all_sizes(NULL, 0);
}
END_TEST

START_TEST(test_keyed_exchange_loopback_mtu)
{
    exchange_all_sizes(key_a, RSHARE_TRANSPORT_MTU_MAX);
}
END_TEST

/* A request the server must never execute: the call times out after about
 * request_timeout_ms, and the server's counters say why. */
static void expect_refused(const uint8_t *server_key, const uint8_t *client_key,
                           struct rshare_node_stats *ss)
{
    struct server s;
    server_start(&s, server_key, 0);
    rshare_node *client = client_for(&s, client_key, 0, FAST_TIMEOUT_MS);
    uint8_t body[300];
    fill(body, sizeof(body), 7);
    void *reply = NULL;
    size_t reply_len = 0;
    uint64_t start = now_ms();
    int rc = rshare_node_call_sync(client, SERVER_ID, ECHO_TYPE, body, sizeof(body), &reply,
                                   &reply_len);
    uint64_t elapsed = now_ms() - start;
    ck_assert_msg(rc == RSHARE_ETIMEDOUT, "expected RSHARE_ETIMEDOUT, got %s", rshare_err_name(rc));
    ck_assert_ptr_null(reply);
    ck_assert_uint_ge(elapsed, FAST_TIMEOUT_MS - 50);
    ck_assert_uint_lt(elapsed, 4 * FAST_TIMEOUT_MS);
    struct rshare_node_stats cs;
    ck_assert_int_eq(rshare_node_stats(client, &cs, sizeof(cs)), 0);
    ck_assert_uint_eq(cs.requests_timed_out, 1);
    ck_assert_uint_eq(cs.msgs_received, 0);
    rshare_node_destroy(client);
    server_stop(&s, ss);
    ck_assert_uint_eq(ss->msgs_received, 0);
    ck_assert_uint_ge(ss->rx_packets, 2); /* the request and at least one retry */
}

START_TEST(test_wrong_key_rejected)
{
    struct rshare_node_stats ss;
    expect_refused(key_a, key_b, &ss);
    ck_assert_uint_ge(ss.rx_auth_failed, 2);
    ck_assert_uint_eq(ss.rx_auth_failed, ss.rx_packets);
}
END_TEST

START_TEST(test_keyed_client_unkeyed_server)
{
    struct rshare_node_stats ss;
    expect_refused(NULL, key_a, &ss);
    ck_assert_uint_ge(ss.rx_unprotected, 2);
    ck_assert_uint_eq(ss.rx_auth_failed, 0);
}
END_TEST

START_TEST(test_unkeyed_client_keyed_server)
{
    struct rshare_node_stats ss;
    expect_refused(key_a, NULL, &ss);
    ck_assert_uint_ge(ss.rx_unprotected, 2);
    ck_assert_uint_eq(ss.rx_auth_failed, 0);
}
END_TEST

/* --- many requests in flight, errors from the far side ---------------------- */

#define IN_FLIGHT 40

struct call_check {
    uint8_t *body;
    size_t len;
    int done, status, remote_code;
    int same;
};

static void check_reply(rshare_node *node, const struct rshare_reply *reply, void *user_data)
{
    (void)node;
    struct call_check *c = user_data;
    c->done++;
    c->status = reply->status;
    c->remote_code = reply->remote_code;
    c->same = reply->status == 0 && reply->len == c->len &&
              (c->len == 0 || memcmp(reply->data, c->body, c->len) == 0);
}

static void run_until(rshare_node *node, const struct call_check *calls, int n)
{
    uint64_t end = now_ms() + 20000;
    for (int i = 0; i < n; i++)
        while (!calls[i].done) {
            ck_assert_msg(now_ms() < end, "call %d never completed", i);
            ck_assert_int_eq(rshare_node_run(node, 100), 0);
        }
}

START_TEST(test_many_in_flight)
{
    struct server s;
    server_start(&s, key_a, 0);
    rshare_node *client = client_for(&s, key_a, 0, 0);
    static struct call_check calls[IN_FLIGHT];
    memset(calls, 0, sizeof(calls));
    for (int i = 0; i < IN_FLIGHT; i++) {
        calls[i].len = i % 5 == 4 ? 50000 + (size_t)i : 10 + (size_t)i * 37;
        calls[i].body = malloc(calls[i].len);
        ck_assert_ptr_nonnull(calls[i].body);
        fill(calls[i].body, calls[i].len, 1000 + (uint32_t)i);
        ck_assert_int_eq(rshare_node_call(client, SERVER_ID, ECHO_TYPE, calls[i].body,
                                          calls[i].len, check_reply, &calls[i]), 0);
    }
    run_until(client, calls, IN_FLIGHT);
    for (int i = 0; i < IN_FLIGHT; i++) {
        ck_assert_int_eq(calls[i].done, 1);
        ck_assert_msg(calls[i].same, "call %d (%zu bytes): status %s, reply differs", i,
                      calls[i].len, rshare_err_name(calls[i].status));
        free(calls[i].body);
    }
    /* Replies keep arriving only once: run a little longer, nothing changes. */
    for (int k = 0; k < 5; k++)
        rshare_node_run(client, 20);
    for (int i = 0; i < IN_FLIGHT; i++)
        ck_assert_int_eq(calls[i].done, 1);
    rshare_node_destroy(client);
    struct rshare_node_stats ss;
    server_stop(&s, &ss);
    ck_assert_uint_ge(ss.msgs_received, IN_FLIGHT);
}
END_TEST

START_TEST(test_remote_errors)
{
    struct server s;
    server_start(&s, key_a, 0);
    rshare_node *client = client_for(&s, key_a, 0, 0);
    struct call_check calls[2];
    memset(calls, 0, sizeof(calls));
    uint8_t body[16] = "are you there?";
    ck_assert_int_eq(rshare_node_call(client, SERVER_ID, FAIL_TYPE, body, sizeof(body),
                                      check_reply, &calls[0]), 0);
    ck_assert_int_eq(rshare_node_call(client, SERVER_ID, UNKNOWN_TYPE, body, sizeof(body),
                                      check_reply, &calls[1]), 0);
    run_until(client, calls, 2);
    ck_assert_int_eq(calls[0].status, RSHARE_EREMOTE);
    ck_assert_int_eq(calls[0].remote_code, RSHARE_EBUSY);
    ck_assert_int_eq(calls[1].status, RSHARE_EREMOTE);
    ck_assert_int_eq(calls[1].remote_code, RSHARE_ENOHANDLER);
    rshare_node_destroy(client);
    struct rshare_node_stats ss;
    server_stop(&s, &ss);
    ck_assert_uint_ge(ss.unhandled, 1);
}
END_TEST

/* --- the example program as the server ---------------------------------------- */

/* One line from `fd` within `timeout_ms` (without the newline). */
static int read_line(int fd, char *buf, size_t len, int timeout_ms)
{
    size_t n = 0;
    while (n + 1 < len) {
        if (read_full(fd, buf + n, 1, timeout_ms) < 0)
            return -1;
        if (buf[n] == '\n')
            break;
        n++;
    }
    buf[n] = '\0';
    return 0;
}

START_TEST(test_ping_node_example)
{
    const char *top = getenv("top_builddir");
    char path[4096];
    snprintf(path, sizeof(path), "%s/examples/ping_node", top && *top ? top : ".");
    ck_assert_msg(access(path, X_OK) == 0, "%s is not built (set top_builddir)", path);
    static const char key_hex[] =
        "3a915c07ee4218d6702b9f64c10d85335ea811f0279c46bb027de95814ca638f"; /* key_a */
    int out[2];
    ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
    pid_t parent = getpid();
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent || dup2(out[1], STDOUT_FILENO) < 0)
            _exit(8);
        execl(path, path, "--id", "1", "--listen", "127.0.0.1:0", "--key-hex", key_hex,
              "--serve-seconds", "30", (char *)NULL);
        _exit(9);
    }
    close(out[1]);
    char line[256];
    int got = read_line(out[0], line, sizeof(line), WAIT_MS);
    char *at = got == 0 ? strstr(line, "listening on ") : NULL;
    if (!at) {
        reap(pid, 0);
        ck_abort_msg("ping_node did not say where it listens ('%s')", got == 0 ? line : "");
    }
    struct server s = {.pid = pid};
    sscanf(at + strlen("listening on "), "%63s", s.addr);
    rshare_node *client = client_for(&s, key_a, 0, 0);
    echo_ok(client, 64, 1);
    echo_ok(client, 150 * 1024, 2);
    rshare_node_destroy(client);
    kill(pid, SIGTERM);
    got = read_line(out[0], line, sizeof(line), WAIT_MS);
    close(out[0]);
    int status = reap(pid, WAIT_MS);
    ck_assert_msg(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "ping_node ended with status 0x%x", status);
    ck_assert_int_eq(got, 0);
    /* "stats: N messages received; packets rejected: A with a bad ..." */
    unsigned long received = 0, bad_tag = 99;
    ck_assert_msg(sscanf(line, "stats: %lu messages received; packets rejected: %lu", &received,
                         &bad_tag) == 2, "unexpected line '%s'", line);
    ck_assert_uint_ge(received, 2); /* a retry may add a duplicate */
    ck_assert_uint_eq(bad_tag, 0);
}
END_TEST

static Suite *udp_processes_suite(void)
{
    Suite *s = suite_create("udp_processes");
    TCase *ok = tcase_create("exchange");
    tcase_set_timeout(ok, 60);
    tcase_add_test(ok, test_keyed_exchange);
    tcase_add_test(ok, test_unkeyed_exchange);
    tcase_add_test(ok, test_keyed_exchange_loopback_mtu);
    tcase_add_test(ok, test_many_in_flight);
    tcase_add_test(ok, test_remote_errors);
    tcase_add_test(ok, test_ping_node_example);
    suite_add_tcase(s, ok);
    TCase *refused = tcase_create("refused");
    tcase_set_timeout(refused, 60);
    tcase_add_test(refused, test_wrong_key_rejected);
    tcase_add_test(refused, test_keyed_client_unkeyed_server);
    tcase_add_test(refused, test_unkeyed_client_keyed_server);
    suite_add_tcase(s, refused);
    return s;
}

int main(void)
{
    SRunner *runner = srunner_create(udp_processes_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
