/* Unit tests of the UDP transport (transports/udp.c) on loopback only:
 * binding, raw datagrams between nodes over IPv4, IPv6 and dual stack, MTU
 * limits, the link address text forms, event-loop readiness and discovery.
 * Nothing here sends outside 127.0.0.0/8 and ::1. */
#include "config.h"

#include "testutil.h"

#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/core.h"
#include "rshare/rshare.h"

#define WAIT_MS 2000

/* Packets captured in place of the link layer, so that tests can check the
 * bytes and the source address the transport pushed, not only counters. */
struct capture {
    int count;
    int transport_index;
    size_t len;
    struct rshare_link_addr src;
    uint8_t data[65536];
};

static int capture_packet(rshare_node *node, int transport_index,
                          const struct rshare_link_addr *src, const uint8_t *packet, size_t len,
                          void *user_data)
{
    (void)node;
    struct capture *cap = user_data;
    cap->count++;
    cap->transport_index = transport_index;
    cap->len = len;
    cap->src = *src;
    memcpy(cap->data, packet, len);
    return 0;
}

/* Errors only: every node here runs unprotected and without persistence on
 * purpose, and the warnings saying so would drown the test output. */
static void errors_to_stderr(void *user_data, enum rshare_log_level level, const char *message)
{
    (void)user_data;
    if (level == RSHARE_LOG_ERROR)
        fprintf(stderr, "rshare: %s\n", message);
}

static rshare_node *make_node(uint32_t id)
{
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof cfg);
    cfg.node_id = id;
    cfg.log.write = errors_to_stderr;
    cfg.log.max_level = RSHARE_LOG_ERROR;
    rshare_node *node = NULL;
    ck_assert_int_eq(rshare_node_create(&cfg, &node), 0);
    ck_assert_ptr_nonnull(node);
    return node;
}

static struct capture *capture_on(rshare_node *node)
{
    struct capture *cap = calloc(1, sizeof(*cap));
    ck_assert_ptr_nonnull(cap);
    rs_core(node)->on_packet = capture_packet;
    rs_core(node)->on_packet_data = cap;
    return cap;
}

static int add_udp(rshare_node *node, const char *bind, uint32_t mtu, const char *discovery)
{
    struct rshare_udp_config cfg;
    rshare_udp_config_init(&cfg, sizeof cfg);
    cfg.bind_address = bind;
    cfg.mtu = mtu;
    cfg.discovery_address = discovery;
    return rshare_node_add_udp(node, &cfg);
}

static int add_udp_ok(rshare_node *node, const char *bind)
{
    int index = add_udp(node, bind, 0, NULL);
    ck_assert_msg(index >= 0, "add_udp %s: %s (%s)", bind, rshare_err_name(index),
                  rshare_node_errmsg(node));
    return index;
}

static void local_address(rshare_node *node, int index, char *buf, size_t len)
{
    int n = rshare_udp_local_address(node, index, buf, len);
    ck_assert_msg(n > 0, "local address: %s", rshare_err_name(n));
    ck_assert_uint_eq((size_t)n, strlen(buf));
}

static unsigned local_port(rshare_node *node, int index)
{
    char text[80];
    local_address(node, index, text, sizeof text);
    const char *colon = strrchr(text, ':');
    ck_assert_ptr_nonnull(colon);
    return (unsigned)strtoul(colon + 1, NULL, 10);
}

static int parse(rshare_node *node, int index, const char *text, struct rshare_link_addr *addr)
{
    struct rs_transport *t = rs_transport_get(node, index);
    ck_assert_ptr_nonnull(t);
    return t->ops.addr_parse(t->impl, text, addr);
}

static int format(rshare_node *node, int index, const struct rshare_link_addr *addr, char *buf,
                  size_t len)
{
    struct rs_transport *t = rs_transport_get(node, index);
    ck_assert_ptr_nonnull(t);
    return t->ops.addr_format(t->impl, addr, buf, len);
}

static struct rshare_node_stats stats_of(rshare_node *node)
{
    struct rshare_node_stats st;
    ck_assert_int_eq(rshare_node_stats(node, &st, sizeof st), 0);
    return st;
}

/* Run the node until it has received `want` packets or WAIT_MS passed. */
static uint64_t pump_until_rx(rshare_node *node, uint64_t want)
{
    for (int waited = 0; waited < WAIT_MS; waited += 20) {
        if (stats_of(node).rx_packets >= want)
            break;
        ck_assert_int_eq(rshare_node_run(node, 20), 0);
    }
    return stats_of(node).rx_packets;
}

static int count_open_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    ck_assert_ptr_nonnull(dir);
    int n = 0;
    while (readdir(dir))
        n++;
    closedir(dir);
    return n;
}

/* Send raw bytes to `node`'s UDP transport from a plain socket. */
static void send_plain_v4(unsigned port, const void *data, size_t len)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(sendto(fd, data, len, 0, (struct sockaddr *)&to, sizeof to), (ssize_t)len);
    close(fd);
}

/* --- binding -------------------------------------------------------------- */

START_TEST(test_bind_ipv4_ephemeral)
{
    rshare_node *node = make_node(1);
    int index = add_udp_ok(node, "127.0.0.1:0");
    char text[80];
    local_address(node, index, text, sizeof text);
    ck_assert_msg(strncmp(text, "127.0.0.1:", 10) == 0, "bound to %s", text);
    unsigned port = local_port(node, index);
    ck_assert_uint_gt(port, 0);

    struct rs_transport *t = rs_transport_get(node, index);
    ck_assert_uint_eq(t->mtu, RSHARE_UDP_DEFAULT_MTU);
    ck_assert_uint_eq(t->caps, RSHARE_TRANSPORT_CAP_FD | RSHARE_TRANSPORT_CAP_BROADCAST |
                                   RSHARE_TRANSPORT_CAP_BULK);
    ck_assert_int_ge(t->fd, 0);
    ck_assert_str_eq(t->ops.name, "udp");
    /* The socket must not block the node's loop. */
    char byte;
    ck_assert_int_eq(recv(t->fd, &byte, 1, 0), -1);
    ck_assert_int_eq(errno, EAGAIN);
    ck_assert_int_eq(t->ops.control(t->impl, 1, NULL), RSHARE_ENOTSUP);

    /* Too small a buffer is an error, not a truncated address. */
    char tiny[8];
    ck_assert_int_lt(rshare_udp_local_address(node, index, tiny, sizeof tiny), 0);
    rshare_node_destroy(node);
}
END_TEST

START_TEST(test_bind_ipv6_ephemeral)
{
    rshare_node *node = make_node(1);
    int index = add_udp_ok(node, "[::1]:0");
    char text[80];
    local_address(node, index, text, sizeof text);
    ck_assert_msg(strncmp(text, "[::1]:", 6) == 0, "bound to %s", text);
    ck_assert_uint_gt(local_port(node, index), 0);
    rshare_node_destroy(node);
}
END_TEST

static int fake_send(void *impl, const struct rshare_link_addr *dst, const void *packet,
                     size_t len, unsigned flags)
{
    (void)impl, (void)dst, (void)packet, (void)len, (void)flags;
    return 0;
}

static size_t fake_mtu(void *impl)
{
    (void)impl;
    return 1000;
}

START_TEST(test_local_address_rejects_other_transports)
{
    rshare_node *node = make_node(1);
    static const struct rshare_transport_ops fake = {
        .struct_size = sizeof(struct rshare_transport_ops),
        .version = RSHARE_TRANSPORT_OPS_VERSION,
        .name = "udp", /* same name: the check must not trust names */
        .mtu = fake_mtu,
        .send = fake_send,
    };
    int fake_index = rshare_node_add_transport(node, &fake, NULL);
    ck_assert_int_ge(fake_index, 0);
    char text[80];
    ck_assert_int_eq(rshare_udp_local_address(node, fake_index, text, sizeof text),
                     RSHARE_EINVAL);
    ck_assert_str_ne(rshare_node_errmsg(node), "");
    ck_assert_int_eq(rshare_udp_local_address(node, 7, text, sizeof text), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_udp_local_address(node, -1, text, sizeof text), RSHARE_EINVAL);
    rshare_node_destroy(node);
}
END_TEST

/* --- raw datagrams between nodes ------------------------------------------ */

static void exchange(const char *bind_a, const char *bind_b)
{
    rshare_node *a = make_node(1), *b = make_node(2);
    int ia = add_udp_ok(a, bind_a);
    int ib = add_udp_ok(b, bind_b);
    struct capture *cap = capture_on(b);

    char b_text[80], a_text[80];
    local_address(b, ib, b_text, sizeof b_text);
    local_address(a, ia, a_text, sizeof a_text);
    struct rshare_link_addr to_b;
    ck_assert_int_eq(parse(a, ia, b_text, &to_b), 0);

    static const size_t sizes[] = {1, 100, 1400};
    uint8_t buf[1400];
    uint64_t bytes = 0;
    for (size_t i = 0; i < 3; i++) {
        memset(buf, (int)(0xA0 + i), sizes[i]);
        ck_assert_int_eq(rs_transport_send(a, ia, &to_b, buf, sizes[i], 0), 0);
        bytes += sizes[i];
    }
    ck_assert_uint_eq(stats_of(a).tx_packets, 3);
    ck_assert_uint_eq(stats_of(a).tx_bytes, bytes);

    ck_assert_uint_eq(pump_until_rx(b, 3), 3);
    struct rshare_node_stats st = stats_of(b);
    ck_assert_uint_eq(st.rx_bytes, bytes);
    ck_assert_uint_eq(st.rx_oversized, 0);
    ck_assert_int_eq(cap->count, 3);
    ck_assert_int_eq(cap->transport_index, ib);
    ck_assert_uint_eq(cap->len, 1400);
    ck_assert_uint_eq(cap->data[0], 0xA2);
    ck_assert_uint_eq(cap->data[1399], 0xA2);

    /* The source address is A's bound address: replies can find A. */
    char src_text[80];
    ck_assert_int_gt(format(b, ib, &cap->src, src_text, sizeof src_text), 0);
    ck_assert_str_eq(src_text, a_text);
    ck_assert_int_eq(rs_transport_send(b, ib, &cap->src, "pong", 4, 0), 0);
    ck_assert_uint_eq(pump_until_rx(a, 1), 1);
    ck_assert_uint_eq(stats_of(a).rx_bytes, 4);

    rshare_node_destroy(a);
    rshare_node_destroy(b);
    free(cap);
}

START_TEST(test_exchange_ipv4)
{
    exchange("127.0.0.1:0", "127.0.0.1:0");
}
END_TEST

START_TEST(test_exchange_ipv6)
{
    exchange("[::1]:0", "[::1]:0");
}
END_TEST

/* A socket bound to [::] is dual stack: an IPv4 peer appears with its IPv4
 * address (not ::ffff:...) and can be answered at that address. */
START_TEST(test_dual_stack)
{
    rshare_node *a = make_node(1), *b = make_node(2);
    int ia = add_udp_ok(a, "127.0.0.1:0");
    int ib = add_udp_ok(b, "[::]:0");
    struct capture *cap = capture_on(b);
    char to_text[80], a_text[80], src_text[80];
    snprintf(to_text, sizeof to_text, "127.0.0.1:%u", local_port(b, ib));
    local_address(a, ia, a_text, sizeof a_text);

    struct rshare_link_addr to_b;
    ck_assert_int_eq(parse(a, ia, to_text, &to_b), 0);
    ck_assert_int_eq(rs_transport_send(a, ia, &to_b, "ping", 4, 0), 0);
    ck_assert_uint_eq(pump_until_rx(b, 1), 1);
    ck_assert_int_gt(format(b, ib, &cap->src, src_text, sizeof src_text), 0);
    ck_assert_str_eq(src_text, a_text);
    ck_assert_int_eq(rs_transport_send(b, ib, &cap->src, "pong", 4, 0), 0);
    ck_assert_uint_eq(pump_until_rx(a, 1), 1);

    rshare_node_destroy(a);
    rshare_node_destroy(b);
    free(cap);
}
END_TEST

/* Bound to a specific IPv6 address the socket is IPv6-only, and an IPv4
 * socket cannot reach IPv6 peers: both say so instead of a vague EIO. */
START_TEST(test_family_mismatch)
{
    rshare_node *node = make_node(1);
    int i6 = add_udp_ok(node, "[::1]:0");
    int i4 = add_udp_ok(node, "127.0.0.1:0");
    struct rshare_link_addr v4, v6;
    ck_assert_int_eq(parse(node, i6, "127.0.0.1:9", &v4), 0);
    ck_assert_int_eq(parse(node, i4, "[::1]:9", &v6), 0);
    ck_assert_int_eq(rs_transport_send(node, i6, &v4, "x", 1, 0), RSHARE_EUNREACH);
    ck_assert_int_eq(rs_transport_send(node, i4, &v6, "x", 1, 0), RSHARE_EUNREACH);
    ck_assert_ptr_nonnull(strstr(rshare_node_errmsg(node), "IPv6"));

    struct rshare_link_addr junk = {.len = 3, .bytes = {4, 0, 1}};
    ck_assert_int_eq(rs_transport_send(node, i4, &junk, "x", 1, 0), RSHARE_EINVAL);
    ck_assert_uint_eq(stats_of(node).tx_errors, 3);
    ck_assert_uint_eq(stats_of(node).tx_packets, 0);
    rshare_node_destroy(node);
}
END_TEST

/* --- MTU -------------------------------------------------------------------- */

START_TEST(test_mtu_default_and_max)
{
    rshare_node *a = make_node(1), *b = make_node(2);
    int ia = add_udp_ok(a, "127.0.0.1:0");
    int ib = add_udp(b, "127.0.0.1:0", RSHARE_TRANSPORT_MTU_MAX, NULL);
    ck_assert_int_ge(ib, 0);
    ck_assert_uint_eq(rs_transport_get(b, ib)->mtu, 65507);
    struct capture *cap = capture_on(b);
    char b_text[80];
    local_address(b, ib, b_text, sizeof b_text);
    struct rshare_link_addr to_b;
    ck_assert_int_eq(parse(a, ia, b_text, &to_b), 0);

    static uint8_t big[60000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 7);
    /* A's default MTU of 1400 refuses what B's 65507 accepts. */
    ck_assert_int_eq(rs_transport_send(a, ia, &to_b, big, 1401, 0), RSHARE_EMSGSIZE);
    ck_assert_int_eq(rs_transport_send(a, ia, &to_b, big, 1400, 0), 0);

    int ia_big = add_udp(a, "127.0.0.1:0", RSHARE_TRANSPORT_MTU_MAX, NULL);
    ck_assert_int_ge(ia_big, 0);
    ck_assert_int_eq(rs_transport_send(a, ia_big, &to_b, big, sizeof big, 0), 0);
    ck_assert_uint_eq(pump_until_rx(b, 2), 2);
    struct rshare_node_stats st = stats_of(b);
    ck_assert_uint_eq(st.rx_bytes, 1400 + sizeof big);
    ck_assert_uint_eq(st.rx_oversized, 0);
    ck_assert_uint_eq(cap->len, sizeof big);
    ck_assert_mem_eq(cap->data, big, sizeof big);

    rshare_node_destroy(a);
    rshare_node_destroy(b);
    free(cap);
}
END_TEST

/* A datagram above the MTU must reach the node longer than the MTU (the
 * transport passes MTU + 1 bytes) so it is counted as oversized, not
 * truncated to the MTU and passed on as if it fitted. */
START_TEST(test_oversized_datagram_counted)
{
    rshare_node *node = make_node(1);
    int index = add_udp_ok(node, "127.0.0.1:0");
    struct capture *cap = capture_on(node);
    unsigned port = local_port(node, index);

    static uint8_t big[65507];
    memset(big, 0x5A, sizeof big);
    send_plain_v4(port, big, 2000);
    send_plain_v4(port, big, sizeof big);
    send_plain_v4(port, big, 1400);
    ck_assert_uint_eq(pump_until_rx(node, 3), 3);
    struct rshare_node_stats st = stats_of(node);
    ck_assert_uint_eq(st.rx_oversized, 2);
    ck_assert_uint_eq(st.rx_bytes, 2 * 1401 + 1400);
    ck_assert_int_eq(cap->count, 1); /* only the one that fits goes up */
    ck_assert_uint_eq(cap->len, 1400);
    rshare_node_destroy(node);
    free(cap);
}
END_TEST

/* --- configuration errors ----------------------------------------------------- */

struct bad_config {
    const char *bind;
    uint32_t mtu;
    const char *discovery;
    const char *interface;
    int code;
    const char *mentions;
};

static const struct bad_config bad_configs[] = {
    {"localhost:0", 0, NULL, NULL, RSHARE_EINVAL, "localhost"},
    {"1.2.3:0", 0, NULL, NULL, RSHARE_EINVAL, "1.2.3"},
    {"127.0.0.1:70000", 0, NULL, NULL, RSHARE_EINVAL, "port"},
    {"::1:0", 0, NULL, NULL, RSHARE_EINVAL, "brackets"},
    {"", 0, NULL, NULL, RSHARE_EINVAL, "empty"},
    {"127.0.0.1:0", 10, NULL, NULL, RSHARE_EINVAL, "MTU 10"},
    {"127.0.0.1:0", RSHARE_TRANSPORT_MTU_MIN - 1, NULL, NULL, RSHARE_EINVAL, "MTU"},
    {"127.0.0.1:0", 70000, NULL, NULL, RSHARE_EINVAL, "MTU 70000"},
    {"127.0.0.1:0", RSHARE_TRANSPORT_MTU_MAX + 1, NULL, NULL, RSHARE_EINVAL, "MTU"},
    {"127.0.0.1:0", 0, "[ff02::1]:7219", NULL, RSHARE_EINVAL, "IPv6 discovery"},
    {"[::1]:0", 0, "127.255.255.255:7219", NULL, RSHARE_EINVAL, "IPv4 discovery"},
    {"127.0.0.1:0", 0, "127.255.255.255:0", NULL, RSHARE_EINVAL, "port"},
    {"127.0.0.1:0", 0, "broadcast", NULL, RSHARE_EINVAL, "discovery"},
    {"127.0.0.1:0", 0, NULL, "nosuchif0", RSHARE_EINVAL, "nosuchif0"},
    /* A TEST-NET-3 address this host does not have: bind fails, no traffic. */
    {"203.0.113.1:0", 0, NULL, NULL, RSHARE_ESYS, "bind"},
};

START_TEST(test_invalid_config)
{
    const struct bad_config *bad = &bad_configs[_i];
    rshare_node *node = make_node(1);
    int fds = count_open_fds();
    struct rshare_udp_config cfg;
    rshare_udp_config_init(&cfg, sizeof cfg);
    cfg.bind_address = bad->bind;
    cfg.mtu = bad->mtu;
    cfg.discovery_address = bad->discovery;
    cfg.interface = bad->interface;
    int rc = rshare_node_add_udp(node, &cfg);
    ck_assert_msg(rc == bad->code, "config %d: got %s, want %s", _i, rshare_err_name(rc),
                  rshare_err_name(bad->code));
    const char *msg = rshare_node_errmsg(node);
    ck_assert_msg(strstr(msg, bad->mentions), "config %d: message '%s' lacks '%s'", _i, msg,
                  bad->mentions);
    ck_assert_int_eq(rs_core(node)->transport_count, 0);
    ck_assert_int_eq(count_open_fds(), fds); /* the socket did not leak */
    rshare_node_destroy(node);
}
END_TEST

START_TEST(test_config_struct_size)
{
    rshare_node *node = make_node(1);
    struct rshare_udp_config cfg;
    rshare_udp_config_init(&cfg, sizeof cfg);
    ck_assert_uint_eq(cfg.struct_size, sizeof cfg);
    ck_assert_ptr_null(cfg.bind_address);
    ck_assert_uint_eq(cfg.mtu, 0);
    cfg.bind_address = "127.0.0.1:0";
    cfg.struct_size = 4;
    ck_assert_int_eq(rshare_node_add_udp(node, &cfg), RSHARE_EVERSION);
    ck_assert_int_eq(rshare_node_add_udp(node, NULL), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_node_add_udp(NULL, &cfg), RSHARE_EINVAL);
    ck_assert_int_eq(rs_core(node)->transport_count, 0);
    rshare_node_destroy(node);
}
END_TEST

/* When the node refuses the instance (transport table full), the node
 * closes it: the socket must be gone, and so must all of them on destroy. */
START_TEST(test_attach_failure_closes_socket)
{
    int fds_before = count_open_fds();
    rshare_node *node = make_node(1);
    int fds_node = count_open_fds();
    for (int i = 0; i < RS_MAX_TRANSPORTS; i++)
        ck_assert_int_eq(add_udp_ok(node, "127.0.0.1:0"), i);
    ck_assert_int_eq(count_open_fds(), fds_node + RS_MAX_TRANSPORTS);
    ck_assert_int_eq(add_udp(node, "127.0.0.1:0", 0, NULL), RSHARE_EBUSY);
    ck_assert_int_eq(count_open_fds(), fds_node + RS_MAX_TRANSPORTS);
    rshare_node_destroy(node);
    ck_assert_int_eq(count_open_fds(), fds_before);
}
END_TEST

/* --- address text forms --------------------------------------------------------- */

struct round_trip {
    const char *text;
    const char *canonical;
    uint8_t binary_len;
};

static const struct round_trip round_trips[] = {
    {"127.0.0.1:7219", "127.0.0.1:7219", 7},
    {"10.1.2.3:1", "10.1.2.3:1", 7},
    {"255.255.255.255:65535", "255.255.255.255:65535", 7},
    {"192.0.2.9", "192.0.2.9:7219", 7}, /* no port: the default */
    {"[::1]:80", "[::1]:80", 23},
    {"[2001:DB8:0:0::1]:7219", "[2001:db8::1]:7219", 23},
    {"[fe80::1%lo]:9", "[fe80::1%lo]:9", 23},
    {"[fe80::1%1]:9", "[fe80::1%lo]:9", 23},
    {"[ff02::1]", "[ff02::1]:7219", 23},
    /* IPv4-mapped: one peer, one address, whichever socket it came through. */
    {"[::ffff:1.2.3.4]:5", "1.2.3.4:5", 7},
};

START_TEST(test_addr_round_trip)
{
    const struct round_trip *rt = &round_trips[_i];
    rshare_node *node = make_node(1);
    int index = add_udp_ok(node, "127.0.0.1:0");
    struct rshare_link_addr addr, again;
    ck_assert_msg(parse(node, index, rt->text, &addr) == 0, "parse %s: %s", rt->text,
                  rshare_node_errmsg(node));
    ck_assert_uint_eq(addr.len, rt->binary_len);
    char text[80];
    int n = format(node, index, &addr, text, sizeof text);
    ck_assert_int_eq(n, (int)strlen(rt->canonical));
    ck_assert_str_eq(text, rt->canonical);
    ck_assert_int_eq(parse(node, index, text, &again), 0);
    ck_assert_uint_eq(again.len, addr.len);
    ck_assert_mem_eq(again.bytes, addr.bytes, addr.len);
    /* One byte short of the text and its NUL: refused, not truncated. */
    ck_assert_int_lt(format(node, index, &addr, text, (size_t)n), 0);
    rshare_node_destroy(node);
}
END_TEST

static const char *const garbage[] = {
    "1.2.3", "[::1", "host:port", "1.2.3.4:99999", "", "1.2.3.4:", "1.2.3.4:-1",
    "1.2.3.4:+80", "1.2.3.4:80x", "1.2.3.4: 80", " 1.2.3.4:80", "256.1.1.1:1", "::1:80",
    "[::1]80", "[::1]:", "[]:80", "[1.2.3.4]:80", "[::1%nosuchif0]:80", "1.2.3.4%lo:80",
    "1.2.3.4:000080", "localhost", "[::1]:0", "1.2.3.4:0",
};

START_TEST(test_addr_parse_rejects_garbage)
{
    rshare_node *node = make_node(1);
    int index = add_udp_ok(node, "127.0.0.1:0");
    struct rshare_link_addr addr;
    ck_assert_msg(parse(node, index, garbage[_i], &addr) == RSHARE_EINVAL, "accepted '%s'",
                  garbage[_i]);
    ck_assert_str_ne(rshare_node_errmsg(node), "");
    rshare_node_destroy(node);
}
END_TEST

START_TEST(test_addr_format_rejects_foreign_bytes)
{
    rshare_node *node = make_node(1);
    int index = add_udp_ok(node, "127.0.0.1:0");
    char text[80];
    struct rshare_link_addr wrong_len = {.len = 8, .bytes = {4, 0, 80, 127, 0, 0, 1, 0}};
    struct rshare_link_addr wrong_tag = {.len = 7, .bytes = {5, 0, 80, 127, 0, 0, 1}};
    struct rshare_link_addr empty = {.len = 0};
    ck_assert_int_eq(format(node, index, &wrong_len, text, sizeof text), RSHARE_EINVAL);
    ck_assert_int_eq(format(node, index, &wrong_tag, text, sizeof text), RSHARE_EINVAL);
    ck_assert_int_eq(format(node, index, &empty, text, sizeof text), RSHARE_EINVAL);
    rshare_node_destroy(node);
}
END_TEST

/* --- event loop -------------------------------------------------------------------- */

START_TEST(test_node_fd_readable)
{
    rshare_node *node = make_node(1);
    int index = add_udp_ok(node, "127.0.0.1:0");
    unsigned port = local_port(node, index);
    struct pollfd pfd = {.fd = rshare_node_fd(node), .events = POLLIN};
    ck_assert_int_ge(pfd.fd, 0);
    ck_assert_int_eq(rshare_node_process(node), 0);
    ck_assert_int_eq(poll(&pfd, 1, 0), 0);

    send_plain_v4(port, "hello", 5);
    ck_assert_int_eq(poll(&pfd, 1, WAIT_MS), 1);
    ck_assert(pfd.revents & POLLIN);
    ck_assert_uint_eq(stats_of(node).rx_packets, 0);
    ck_assert_int_eq(rshare_node_process(node), 0);
    ck_assert_uint_eq(stats_of(node).rx_packets, 1);
    ck_assert_uint_eq(stats_of(node).rx_bytes, 5);
    /* Everything was read: the descriptor is quiet again. */
    ck_assert_int_eq(poll(&pfd, 1, 0), 0);
    rshare_node_destroy(node);
}
END_TEST

/* One poll() call reads a bounded batch, so one flooded socket cannot hold
 * the node; the rest comes on the next calls. */
START_TEST(test_poll_batch_bounded)
{
    rshare_node *node = make_node(1);
    int index = add_udp_ok(node, "127.0.0.1:0");
    struct capture *cap = capture_on(node);
    unsigned port = local_port(node, index);
    for (int i = 0; i < 100; i++)
        send_plain_v4(port, &i, sizeof i);
    struct pollfd pfd = {.fd = rs_transport_get(node, index)->fd, .events = POLLIN};
    ck_assert_int_eq(poll(&pfd, 1, WAIT_MS), 1);
    usleep(50 * 1000);

    struct rs_transport *t = rs_transport_get(node, index);
    int first = t->ops.poll(t->impl, node, index);
    ck_assert_int_eq(first, 64);
    int total = first;
    for (int round = 0; round < 10 && total < 100; round++) {
        int n = t->ops.poll(t->impl, node, index);
        ck_assert_int_ge(n, 0);
        ck_assert_int_le(n, 64);
        total += n;
    }
    ck_assert_int_eq(total, 100);
    ck_assert_int_eq(t->ops.poll(t->impl, node, index), 0);
    ck_assert_int_eq(cap->count, 100);
    int last;
    memcpy(&last, cap->data, sizeof last);
    ck_assert_int_eq(last, 99); /* in order, none lost or duplicated */
    rshare_node_destroy(node);
    free(cap);
}
END_TEST

/* --- discovery ------------------------------------------------------------------------ */

START_TEST(test_default_discovery_address)
{
    /* Loopback sockets discover on loopback only; the defaults of sockets
     * bound to every address are only read back here, never sent to. */
    rshare_node *node = make_node(1);
    int lo4 = add_udp_ok(node, "127.0.0.1:0");
    int lo6 = add_udp_ok(node, "[::1]:0");
    int any4 = add_udp_ok(node, "0.0.0.0:0");
    int any6 = add_udp_ok(node, "[::]:0");
    struct rshare_link_addr addr;
    char text[80], want[80];
    struct rs_transport *t = rs_transport_get(node, lo4);
    ck_assert_int_eq(t->ops.broadcast_addr(t->impl, &addr), 0);
    ck_assert_int_gt(format(node, lo4, &addr, text, sizeof text), 0);
    snprintf(want, sizeof want, "127.255.255.255:%u", local_port(node, lo4));
    ck_assert_str_eq(text, want);
    ck_assert(t->caps & RSHARE_TRANSPORT_CAP_BROADCAST);

    t = rs_transport_get(node, lo6);
    ck_assert_int_eq(t->ops.broadcast_addr(t->impl, &addr), RSHARE_ENOTSUP);
    ck_assert(!(t->caps & RSHARE_TRANSPORT_CAP_BROADCAST));

    t = rs_transport_get(node, any4);
    ck_assert_int_eq(t->ops.broadcast_addr(t->impl, &addr), 0);
    ck_assert_int_gt(format(node, any4, &addr, text, sizeof text), 0);
    snprintf(want, sizeof want, "255.255.255.255:%u", local_port(node, any4));
    ck_assert_str_eq(text, want);

    t = rs_transport_get(node, any6);
    ck_assert_int_eq(t->ops.broadcast_addr(t->impl, &addr), 0);
    ck_assert_int_gt(format(node, any6, &addr, text, sizeof text), 0);
    snprintf(want, sizeof want, "[ff02::1]:%u", local_port(node, any6));
    ck_assert_str_eq(text, want);
    rshare_node_destroy(node);
}
END_TEST

START_TEST(test_broadcast_loopback)
{
    rshare_node *receiver = make_node(2);
    /* Broadcasts are delivered to sockets bound to the wildcard address. */
    int ir = add_udp_ok(receiver, "0.0.0.0:0");
    struct capture *cap = capture_on(receiver);
    char discovery[80];
    snprintf(discovery, sizeof discovery, "127.255.255.255:%u", local_port(receiver, ir));

    rshare_node *sender = make_node(1);
    int is = add_udp(sender, "127.0.0.1:0", 0, discovery);
    ck_assert_msg(is >= 0, "%s", rshare_node_errmsg(sender));
    struct rs_transport *t = rs_transport_get(sender, is);
    struct rshare_link_addr bcast;
    char text[80];
    ck_assert_int_eq(t->ops.broadcast_addr(t->impl, &bcast), 0);
    ck_assert_int_gt(format(sender, is, &bcast, text, sizeof text), 0);
    ck_assert_str_eq(text, discovery);

    /* Needs SO_BROADCAST: without it the kernel refuses with EACCES. */
    int rc = rs_transport_send(sender, is, &bcast, "hello all", 9, 0);
    ck_assert_msg(rc == 0, "broadcast send: %s (%s)", rshare_err_name(rc),
                  rshare_node_errmsg(sender));
    if (pump_until_rx(receiver, 1) == 0) {
        fprintf(stderr, "SKIP broadcast delivery: kernel did not deliver to 127.255.255.255\n");
    } else {
        ck_assert_int_eq(cap->count, 1);
        ck_assert_uint_eq(cap->len, 9);
        ck_assert_mem_eq(cap->data, "hello all", 9);
    }
    rshare_node_destroy(sender);
    rshare_node_destroy(receiver);
    free(cap);
}
END_TEST

static bool loopback_has_multicast(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    ck_assert_int_ge(fd, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    bool multicast = ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_MULTICAST);
    close(fd);
    return multicast;
}

/* Multicast is only tried on `lo`, and only if it is multicast-capable:
 * tests never put traffic on a real interface. */
START_TEST(test_multicast_loopback)
{
    if (!loopback_has_multicast()) {
        fprintf(stderr, "SKIP multicast: 'lo' has no MULTICAST flag; no test on real links\n");
        return;
    }
    rshare_node *receiver = make_node(2);
    struct rshare_udp_config cfg;
    rshare_udp_config_init(&cfg, sizeof cfg);
    cfg.bind_address = "0.0.0.0:0";
    cfg.discovery_address = "239.255.72.19:7219";
    cfg.interface = "lo";
    int ir = rshare_node_add_udp(receiver, &cfg);
    ck_assert_msg(ir >= 0, "%s", rshare_node_errmsg(receiver));
    struct capture *cap = capture_on(receiver);
    char discovery[80];
    snprintf(discovery, sizeof discovery, "239.255.72.19:%u", local_port(receiver, ir));

    rshare_node *sender = make_node(1);
    cfg.bind_address = "127.0.0.1:0";
    cfg.discovery_address = discovery;
    int is = rshare_node_add_udp(sender, &cfg);
    ck_assert_msg(is >= 0, "%s", rshare_node_errmsg(sender));
    struct rs_transport *t = rs_transport_get(sender, is);
    struct rshare_link_addr group;
    ck_assert_int_eq(t->ops.broadcast_addr(t->impl, &group), 0);
    ck_assert_int_eq(rs_transport_send(sender, is, &group, "hi group", 8, 0), 0);
    ck_assert_uint_eq(pump_until_rx(receiver, 1), 1);
    ck_assert_mem_eq(cap->data, "hi group", 8);
    rshare_node_destroy(sender);
    rshare_node_destroy(receiver);
    free(cap);
}
END_TEST

static Suite *udp_suite(void)
{
    Suite *s = suite_create("udp");
    TCase *bind = tcase_create("bind");
    tcase_add_test(bind, test_bind_ipv4_ephemeral);
    tcase_add_test(bind, test_bind_ipv6_ephemeral);
    tcase_add_test(bind, test_local_address_rejects_other_transports);
    tcase_add_loop_test(bind, test_invalid_config, 0,
                        (int)(sizeof bad_configs / sizeof bad_configs[0]));
    tcase_add_test(bind, test_config_struct_size);
    tcase_add_test(bind, test_attach_failure_closes_socket);
    suite_add_tcase(s, bind);

    TCase *traffic = tcase_create("traffic");
    tcase_add_test(traffic, test_exchange_ipv4);
    tcase_add_test(traffic, test_exchange_ipv6);
    tcase_add_test(traffic, test_dual_stack);
    tcase_add_test(traffic, test_family_mismatch);
    tcase_add_test(traffic, test_mtu_default_and_max);
    tcase_add_test(traffic, test_oversized_datagram_counted);
    tcase_add_test(traffic, test_node_fd_readable);
    tcase_add_test(traffic, test_poll_batch_bounded);
    suite_add_tcase(s, traffic);

    TCase *addr = tcase_create("address");
    tcase_add_loop_test(addr, test_addr_round_trip, 0,
                        (int)(sizeof round_trips / sizeof round_trips[0]));
    tcase_add_loop_test(addr, test_addr_parse_rejects_garbage, 0,
                        (int)(sizeof garbage / sizeof garbage[0]));
    tcase_add_test(addr, test_addr_format_rejects_foreign_bytes);
    suite_add_tcase(s, addr);

    TCase *discovery = tcase_create("discovery");
    tcase_add_test(discovery, test_default_discovery_address);
    tcase_add_test(discovery, test_broadcast_loopback);
    tcase_add_test(discovery, test_multicast_loopback);
    suite_add_tcase(s, discovery);
    return s;
}

int main(void)
{
    return rs_test_run(udp_suite());
}
