/* Integration test: two processes running rshare nodes over the serial
 * transport on real pseudo-terminals, through the public API only.  The
 * server child answers rshare requests and PLDM messages (an MCTP type of
 * its own handled by the application); the parent opens the terminal by
 * path, as on real hardware, and calls it.  A second test puts a relay
 * process between two pty pairs that damages bytes on the way: frames are
 * lost, the receivers resynchronise, rshare retransmits, and every answer
 * arrives intact.  Children die with the parent and after a deadline. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <rshare/rshare.h>
#include <rshare/mctp.h>
#include <rshare/serial.h>

#define CLIENT_ID 1u
#define SERVER_ID 2u
#define CLIENT_EID 8
#define SERVER_EID 9
#define ECHO_TYPE 0x8001u
#define PLDM 0x01
#define CHILD_DEADLINE_S 60
#define BIG 8192
#define SMALL 20

static const uint8_t key[RSHARE_CLUSTER_KEY_BYTES] = {
    0x70, 0x74, 0x79, 0x2d, 0x74, 0x65, 0x73, 0x74, 0x11, 0x2f, 0x93, 0x5e, 0x07, 0xc4, 0x68, 0xab,
    0xd0, 0x31, 0x4e, 0x7e, 0x7d, 0x02, 0xfa, 0x19, 0x85, 0x66, 0x3b, 0xe7, 0x40, 0x9c, 0x21, 0x58};

struct report {
    uint64_t rx_frames, rx_rejected, pldm_answered;
};

static void quiet_log(void *user_data, enum rshare_log_level level, const char *message)
{
    (void)user_data;
    if (level == RSHARE_LOG_ERROR)
        fprintf(stderr, "rshare: %s\n", message);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static rshare_node *make_node(uint32_t id, uint8_t eid, const char *device, int fd, int *index)
{
    struct rshare_node_config config;
    rshare_node_config_init(&config, sizeof(config));
    config.node_id = id;
    config.cluster_key = key;
    config.log.write = quiet_log;
    config.log.max_level = RSHARE_LOG_ERROR;
    rshare_node *node = NULL;
    if (rshare_node_create(&config, &node) < 0)
        return NULL;
    struct rshare_mctp_config mctp;
    rshare_mctp_config_init(&mctp, sizeof(mctp));
    mctp.eid = eid;
    struct rshare_serial_config serial;
    rshare_serial_config_init(&serial, sizeof(serial));
    serial.device = device;
    serial.fd = fd;
    serial.baud = 115200;
    serial.mctp = &mctp;
    *index = rshare_node_add_serial(node, &serial);
    if (*index < 0) {
        fprintf(stderr, "add_serial: %s\n", rshare_node_errmsg(node));
        rshare_node_destroy(node);
        return NULL;
    }
    return node;
}

static void die_with_parent(void)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    alarm(CHILD_DEADLINE_S);
}

/* --- the server child ------------------------------------------------------- */

static void echo(rshare_node *node, rshare_request *req, void *user_data)
{
    (void)node;
    (void)user_data;
    rshare_request_reply(req, rshare_request_data(req), rshare_request_len(req));
}

struct server_state {
    struct report report;
};

/* A PLDM request is answered with the same body reversed (type byte kept),
 * tag owner 0 and the request's tag: the application side of MCTP. */
static void on_pldm(rshare_node *node, int index, const struct rshare_mctp_message *m, void *u)
{
    struct server_state *s = u;
    const uint8_t *in = m->data;
    if (m->len < 2 || in[0] != PLDM || !m->tag_owner)
        return;
    uint8_t out[256];
    size_t n = m->len < sizeof(out) ? m->len : sizeof(out);
    out[0] = PLDM;
    for (size_t i = 1; i < n; i++)
        out[i] = in[n - i];
    struct rshare_mctp_message reply = {.struct_size = sizeof(reply), .dst_eid = m->src_eid,
                                        .tag_owner = 0, .tag = m->tag, .data = out, .len = n};
    if (rshare_mctp_send(node, index, &reply) >= 0)
        s->report.pldm_answered++;
}

static void server(const char *device, int fd, int ctl_fd, int report_fd) __attribute__((noreturn));
static void server(const char *device, int fd, int ctl_fd, int report_fd)
{
    die_with_parent();
    int index;
    rshare_node *node = make_node(SERVER_ID, SERVER_EID, device, fd, &index);
    if (!node)
        _exit(2);
    struct server_state state;
    memset(&state, 0, sizeof(state));
    rshare_node_set_handler(node, ECHO_TYPE, echo, NULL);
    rshare_mctp_set_handler(node, index, on_pldm, &state);
    if (write(report_fd, "R", 1) != 1) /* ready */
        _exit(3);
    for (;;) {
        struct pollfd fds[2] = {{.fd = rshare_node_fd(node), .events = POLLIN},
                                {.fd = ctl_fd, .events = POLLIN}};
        int timeout = rshare_node_timeout_ms(node);
        if (poll(fds, 2, timeout < 0 || timeout > 100 ? 100 : timeout) < 0 && errno != EINTR)
            _exit(4);
        if (fds[1].revents)
            break; /* the parent closed the control pipe */
        rshare_node_process(node);
    }
    struct rshare_mctp_stats st;
    rshare_mctp_stats(node, index, &st, sizeof(st));
    state.report.rx_frames = st.rx_frames;
    state.report.rx_rejected = st.rx_bad_checksum + st.rx_bad_frame;
    ssize_t n = write(report_fd, &state.report, sizeof(state.report));
    rshare_node_destroy(node);
    _exit(n == (ssize_t)sizeof(state.report) ? 0 : 5);
}

struct child {
    pid_t pid;
    int ctl_fd, report_fd;
};

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

static struct child start_server(const char *device, int fd, int close_in_child)
{
    int ctl[2], report[2];
    ck_assert_int_eq(pipe(ctl), 0);
    ck_assert_int_eq(pipe(report), 0);
    struct child c = {.pid = fork()};
    ck_assert_int_ge(c.pid, 0);
    if (c.pid == 0) {
        close(ctl[1]);
        close(report[0]);
        if (close_in_child >= 0)
            close(close_in_child);
        server(device, fd, ctl[0], report[1]);
    }
    close(ctl[0]);
    close(report[1]);
    c.ctl_fd = ctl[1];
    c.report_fd = report[0];
    char ready;
    ck_assert_int_eq(read_full(c.report_fd, &ready, 1, 5000), 0);
    return c;
}

static struct report stop_server(struct child *c)
{
    struct report r;
    close(c->ctl_fd);
    ck_assert_int_eq(read_full(c->report_fd, &r, sizeof(r), 5000), 0);
    close(c->report_fd);
    int status = 0;
    ck_assert_int_eq(waitpid(c->pid, &status, 0), c->pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return r;
}

/* --- the client (this process) -------------------------------------------------- */

struct client {
    int replies, failures, big_ok, pldm_ok;
    uint8_t big[BIG];
};

static void on_reply(rshare_node *node, const struct rshare_reply *reply, void *user_data)
{
    (void)node;
    struct client *c = user_data;
    if (reply->status != 0) {
        c->failures++;
        return;
    }
    if (reply->len == BIG && memcmp(reply->data, c->big, BIG) == 0)
        c->big_ok++;
    c->replies++;
}

static void on_pldm_reply(rshare_node *node, int index, const struct rshare_mctp_message *m,
                          void *u)
{
    (void)node;
    (void)index;
    struct client *c = u;
    static const uint8_t expected[] = {PLDM, 5, 4, 3, 2, 1};
    if (m->src_eid == SERVER_EID && !m->tag_owner && m->tag == 2 && m->len == sizeof(expected) &&
        memcmp(m->data, expected, sizeof(expected)) == 0)
        c->pldm_ok++;
}

static void run_client(const char *device, struct client *c, bool wait_pldm, uint64_t *rejected)
{
    int index;
    rshare_node *node = make_node(CLIENT_ID, CLIENT_EID, device, -1, &index);
    ck_assert_ptr_nonnull(node);
    ck_assert_int_eq(rshare_node_add_peer(node, SERVER_ID, index, "9"), 0);
    ck_assert_int_eq(rshare_mctp_set_handler(node, index, on_pldm_reply, c), 0);
    for (size_t i = 0; i < BIG; i++)
        c->big[i] = (uint8_t)(i * 7 + (i >> 9));
    ck_assert_int_eq(rshare_node_call(node, SERVER_ID, ECHO_TYPE, c->big, BIG, on_reply, c), 0);
    for (uint32_t i = 0; i < SMALL; i++)
        ck_assert_int_eq(rshare_node_call(node, SERVER_ID, ECHO_TYPE, &i, sizeof(i), on_reply, c),
                         0);
    static const uint8_t pldm[] = {PLDM, 1, 2, 3, 4, 5};
    struct rshare_mctp_message m = {.struct_size = sizeof(m), .dst_eid = SERVER_EID,
                                    .tag_owner = 1, .tag = 2, .data = pldm, .len = sizeof(pldm)};
    ck_assert_int_eq(rshare_mctp_send(node, index, &m), 2);
    uint64_t end = now_ms() + 30000;
    while (now_ms() < end && (c->replies + c->failures < SMALL + 1 || (wait_pldm && !c->pldm_ok)))
        ck_assert_int_eq(rshare_node_run(node, 50), 0);
    struct rshare_mctp_stats st;
    ck_assert_int_eq(rshare_mctp_stats(node, index, &st, sizeof(st)), 0);
    *rejected = st.rx_bad_checksum + st.rx_bad_frame;
    rshare_node_destroy(node);
}

START_TEST(test_two_processes)
{
    int master, slave;
    char name[64];
    ck_assert_int_eq(openpty(&master, &slave, name, NULL, NULL), 0);
    close(slave);
    struct child server_child = start_server(NULL, master, -1);
    close(master);
    struct client *c = calloc(1, sizeof(*c));
    uint64_t rejected;
    run_client(name, c, true, &rejected);
    struct report r = stop_server(&server_child);
    ck_assert_int_eq(c->failures, 0);
    ck_assert_int_eq(c->replies, SMALL + 1);
    ck_assert_int_eq(c->big_ok, 1);
    ck_assert_int_eq(c->pldm_ok, 1);
    ck_assert_uint_eq(r.pldm_answered, 1);
    ck_assert_uint_eq(rejected + r.rx_rejected, 0);
    ck_assert_uint_gt(r.rx_frames, BIG / 251);
    free(c);
}
END_TEST

/* The relay copies bytes between the masters of two pty pairs and flips one
 * bit in every 3001st byte (after 200 clean ones, so that the first frames
 * arrive whole), or drops it. */
static void relay(int a, int b) __attribute__((noreturn));
static void relay(int a, int b)
{
    die_with_parent();
    uint64_t count = 0;
    for (;;) {
        struct pollfd fds[2] = {{.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}};
        if (poll(fds, 2, -1) < 0 && errno != EINTR)
            _exit(1);
        for (int i = 0; i < 2; i++) {
            if (!(fds[i].revents & POLLIN))
                continue;
            uint8_t buf[512];
            ssize_t n = read(fds[i].fd, buf, sizeof(buf));
            if (n <= 0)
                _exit(0);
            size_t out = 0;
            for (ssize_t k = 0; k < n; k++) {
                count++;
                if (count > 200 && count % 3001 == 0) {
                    if (count % 2)
                        continue; /* dropped */
                    buf[k] ^= (uint8_t)(1u << (count % 8));
                }
                buf[out++] = buf[k];
            }
            size_t done = 0;
            while (done < out) {
                ssize_t w = write(fds[1 - i].fd, buf + done, out - done);
                if (w < 0 && errno != EINTR && errno != EAGAIN)
                    _exit(2);
                if (w > 0)
                    done += (size_t)w;
            }
        }
    }
}

START_TEST(test_noisy_relay)
{
    int m1, s1, m2, s2;
    char name1[64], name2[64];
    ck_assert_int_eq(openpty(&m1, &s1, name1, NULL, NULL), 0);
    ck_assert_int_eq(openpty(&m2, &s2, name2, NULL, NULL), 0);
    /* The relay's sides are raw too, or the line discipline would mangle. */
    struct termios t;
    for (int i = 0; i < 2; i++) {
        int fd = i ? m2 : m1;
        ck_assert_int_eq(tcgetattr(fd, &t), 0);
        cfmakeraw(&t);
        ck_assert_int_eq(tcsetattr(fd, TCSANOW, &t), 0);
    }
    pid_t relay_pid = fork();
    ck_assert_int_ge(relay_pid, 0);
    if (relay_pid == 0) {
        close(s1);
        close(s2);
        relay(m1, m2);
    }
    close(m1);
    close(m2);
    struct child server_child = start_server(name2, -1, s1);
    close(s2);
    struct client *c = calloc(1, sizeof(*c));
    uint64_t rejected;
    /* An application message has no retransmission: it may be lost here. */
    run_client(name1, c, false, &rejected);
    close(s1);
    struct report r = stop_server(&server_child);
    kill(relay_pid, SIGKILL);
    waitpid(relay_pid, NULL, 0);
    ck_assert_int_eq(c->failures, 0);
    ck_assert_int_eq(c->replies, SMALL + 1);
    ck_assert_int_eq(c->big_ok, 1);
    /* Damage really happened and was caught by the frame checks. */
    ck_assert_uint_gt(rejected + r.rx_rejected, 5);
    free(c);
}
END_TEST

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    Suite *s = suite_create("serial_pty");
    TCase *tc = tcase_create("serial_pty");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_two_processes);
    tcase_add_test(tc, test_noisy_relay);
    suite_add_tcase(s, tc);
    SRunner *runner = srunner_create(s);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
