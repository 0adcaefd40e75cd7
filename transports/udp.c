/* rshare transport — UDP over IPv4 and IPv6: one non-blocking datagram socket
 * per instance, its compact binary link address and text form, and discovery
 * by IPv4 broadcast or IPv4/IPv6 multicast.  Urgent packets (KVM input) are
 * marked low-delay per packet, so that the kernel's queues put them ahead of
 * bulk fragments. */
#define _GNU_SOURCE /* recvmmsg */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/core.h"
#include "rshare/udp.h"

#define UDP_DEFAULT_BIND_HOST "0.0.0.0"
#define UDP_DEFAULT_BUFFER_BYTES (16u * 1024u * 1024u)
/* Datagrams read by one recvmmsg() call, and recvmmsg() calls per poll():
 * one system call usually brings everything that arrived, and the bound
 * keeps a flooded socket from starving the node's other links. */
#define UDP_RX_BATCH 16
#define UDP_POLL_CALLS 4
/* "[" IPv6 "%" interface "]:" port, NUL: 1 + 45 + 1 + 15 + 2 + 5 + 1. */
#define UDP_TEXT_MAX 80

/* The binary link address: a family tag, the port (big-endian), the IPv4 or
 * IPv6 address, and for IPv6 the scope id (big-endian).  An IPv4 peer seen
 * through a dual-stack IPv6 socket is stored as IPv4, so one peer has one
 * address whichever socket it reached. */
#define LINK_TAG_V4 4
#define LINK_TAG_V6 6
#define LINK_LEN_V4 7
#define LINK_LEN_V6 23

union udp_sockaddr {
    struct sockaddr sa;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
    struct sockaddr_storage storage;
};

struct udp_transport {
    rshare_node *node;
    int fd;
    int family;       /* of the socket: AF_INET or AF_INET6 */
    bool dual_stack;  /* IPv6 socket bound to [::] that also carries IPv4 */
    size_t mtu;
    struct rshare_link_addr discovery;
    bool lane;        /* an urgent lane: urgent packets only, no discovery */
    /* UDP_RX_BATCH receive buffers of mtu + 1 bytes: a datagram longer than
     * the MTU is pushed with mtu + 1 bytes, so the node counts it as
     * oversized instead of processing a silently truncated packet. */
    uint8_t *rx;
    bool urgent_plain; /* the kernel refused the per-packet class: send urgent as bulk */
    struct mmsghdr rx_msgs[UDP_RX_BATCH];
    struct iovec rx_iov[UDP_RX_BATCH];
    union udp_sockaddr rx_src[UDP_RX_BATCH];
};

static uint32_t udp_caps(void *impl);
static size_t udp_mtu(void *impl);
static int udp_send(void *impl, const struct rshare_link_addr *dst, const void *packet,
                    size_t len, unsigned flags);
static int udp_sendv(void *impl, const struct rshare_link_addr *dst,
                     const struct rshare_iovec *pieces, size_t count, unsigned flags);
static int udp_poll(void *impl, rshare_node *node, int transport_index);
static int udp_fd(void *impl);
static int udp_addr_format(void *impl, const struct rshare_link_addr *addr, char *buf,
                           size_t buf_len);
static int udp_addr_parse(void *impl, const char *text, struct rshare_link_addr *addr);
static int udp_broadcast_addr(void *impl, struct rshare_link_addr *addr);
static int udp_control(void *impl, int op, void *arg);
static void udp_close(void *impl);

static int resolve_config(rshare_node *node, const struct rshare_udp_config *given,
                          struct rshare_udp_config *cfg);
static int open_socket(struct udp_transport *u, const struct rshare_udp_config *cfg);
static int setup_discovery(struct udp_transport *u, const struct rshare_udp_config *cfg);
static int parse_text(const char *text, union udp_sockaddr *sa, const char **why);
static int format_sockaddr(const union udp_sockaddr *sa, char *buf, size_t buf_len);
static int link_from_sockaddr(const union udp_sockaddr *sa, struct rshare_link_addr *addr);
static int sockaddr_from_link(const struct rshare_link_addr *addr, union udp_sockaddr *sa);
static int fail_errno(rshare_node *node, int code, const char *fmt, ...) RSHARE_PRINTF(3, 4);

static const struct rshare_transport_ops udp_ops = {
    .struct_size = sizeof(struct rshare_transport_ops),
    .version = RSHARE_TRANSPORT_OPS_VERSION,
    .name = "udp",
    .caps = udp_caps,
    .mtu = udp_mtu,
    .send = udp_send,
    .poll = udp_poll,
    .fd = udp_fd,
    .next_timeout_us = NULL,
    .addr_format = udp_addr_format,
    .addr_parse = udp_addr_parse,
    .broadcast_addr = udp_broadcast_addr,
    .control = udp_control,
    .close = udp_close,
    .sendv = udp_sendv,
};

RSHARE_API void rshare_udp_config_init(struct rshare_udp_config *config, size_t struct_size)
{
    if (!config || struct_size < sizeof(uint32_t))
        return;
    memset(config, 0, struct_size);
    config->struct_size = (uint32_t)struct_size;
    /* Every field is zero = default, resolved by rshare_node_add_udp(). */
}

RSHARE_API int rshare_node_add_udp(rshare_node *node, const struct rshare_udp_config *config)
{
    if (!node)
        return RSHARE_EINVAL;
    struct rshare_udp_config cfg;
    int rc = resolve_config(node, config, &cfg);
    if (rc < 0)
        return rc;

    struct udp_transport *u = rs_malloc(node, sizeof(*u));
    if (!u)
        return rs_errorf(node, RSHARE_ENOMEM, "no memory for a UDP transport");
    memset(u, 0, sizeof(*u));
    u->node = node;
    u->fd = -1;
    u->mtu = cfg.mtu;
    u->rx = rs_malloc(node, UDP_RX_BATCH * (u->mtu + 1));
    if (!u->rx) {
        rs_free(node, u);
        return rs_errorf(node, RSHARE_ENOMEM, "no memory for UDP receive buffers");
    }

    u->lane = cfg.urgent_lane != 0;
    rc = open_socket(u, &cfg);
    if (rc == 0 && !u->lane)
        rc = setup_discovery(u, &cfg);
    if (rc < 0) {
        udp_close(u);
        return rc;
    }
    /* From here the node owns `u` and closes it if attaching fails. */
    return rshare_node_add_transport(node, &udp_ops, u);
}

RSHARE_API int rshare_udp_local_address(rshare_node *node, int transport_index, char *buf,
                                        size_t buf_len)
{
    if (!node || !buf || buf_len == 0)
        return RSHARE_EINVAL;
    struct rs_transport *t = rs_transport_get(node, transport_index);
    /* The send entry identifies our instances: it is unique to this file. */
    if (!t || t->ops.send != udp_send)
        return rs_errorf(node, RSHARE_EINVAL, "transport %d is not a UDP transport",
                         transport_index);
    struct udp_transport *u = t->impl;
    union udp_sockaddr sa;
    socklen_t sa_len = sizeof(sa);
    memset(&sa, 0, sizeof(sa));
    if (getsockname(u->fd, &sa.sa, &sa_len) < 0)
        return rs_syserr(node, "getsockname on UDP transport %d", transport_index);
    int n = format_sockaddr(&sa, buf, buf_len);
    if (n < 0)
        return rs_errorf(node, n, "UDP local address does not fit in %zu bytes", buf_len);
    return n;
}

/* --- the transport operations ------------------------------------------- */

static uint32_t udp_caps(void *impl)
{
    const struct udp_transport *u = impl;
    /* Urgent packets carry a low-delay class (udp_send_urgent), but the
     * transport has no queue of its own to reorder, so it does not claim
     * RSHARE_TRANSPORT_CAP_PRIORITY (nothing reads that bit today). */
    if (u->lane)
        return RSHARE_TRANSPORT_CAP_FD | RSHARE_TRANSPORT_CAP_URGENT_LANE;
    return RSHARE_TRANSPORT_CAP_FD | RSHARE_TRANSPORT_CAP_BULK |
           (u->discovery.len ? RSHARE_TRANSPORT_CAP_BROADCAST : 0);
}

static size_t udp_mtu(void *impl)
{
    return ((struct udp_transport *)impl)->mtu;
}

/* Send one urgent packet with a per-packet traffic class: IP_TOS
 * IPTOS_LOWDELAY on IPv4 (the kernel also derives the packet's queueing
 * priority from it, the interactive band of pfifo_fast and prio qdiscs, and
 * switches see the DSCP), IPV6_TCLASS on IPv6.  Per packet, through a
 * control message, so that bulk packets on the same socket keep the default
 * class and peers keep seeing one source address.  A kernel that refuses
 * the control message (EINVAL, EPERM) makes the transport send urgent
 * packets plainly from then on; the return is -1 with errno otherwise. */
static ssize_t udp_send_urgent(struct udp_transport *u, struct iovec *iov, size_t iov_count,
                               union udp_sockaddr *sa, socklen_t sa_len)
{
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof(control));
    struct msghdr msg = {.msg_name = &sa->sa,
                         .msg_namelen = sa_len,
                         .msg_iov = iov,
                         .msg_iovlen = iov_count,
                         .msg_control = control.buf,
                         .msg_controllen = sizeof(control.buf)};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    int tos = IPTOS_LOWDELAY;
    if (u->family == AF_INET) {
        cm->cmsg_level = IPPROTO_IP;
        cm->cmsg_type = IP_TOS;
    } else {
        cm->cmsg_level = IPPROTO_IPV6;
        cm->cmsg_type = IPV6_TCLASS;
    }
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &tos, sizeof(tos));
    ssize_t n;
    do
        n = sendmsg(u->fd, &msg, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EINVAL || errno == EPERM || errno == ENOPROTOOPT)) {
        rs_log_info(u->node, "UDP: no per-packet class for urgent packets (%s)",
                    strerror(errno));
        u->urgent_plain = true;
    }
    return n;
}

/* One datagram from up to RSHARE_SENDV_MAX pieces: sendmsg() gathers
 * them, so a fragment of a message is never copied in user space. */
static int udp_sendv(void *impl, const struct rshare_link_addr *dst,
                     const struct rshare_iovec *pieces, size_t count, unsigned flags)
{
    struct udp_transport *u = impl;
    struct iovec iov[RSHARE_SENDV_MAX];
    size_t len = 0;
    if (count > RSHARE_SENDV_MAX)
        return rs_errorf(u->node, RSHARE_EINVAL, "%zu pieces in one UDP datagram", count);
    for (size_t i = 0; i < count; i++) {
        iov[i].iov_base = (void *)(uintptr_t)pieces[i].base;
        iov[i].iov_len = pieces[i].len;
        len += pieces[i].len;
    }
    union udp_sockaddr sa;
    if (!dst || sockaddr_from_link(dst, &sa) < 0)
        return rs_errorf(u->node, RSHARE_EINVAL, "not a UDP link address");
    if (sa.sa.sa_family == AF_INET && u->family == AF_INET6) {
        if (!u->dual_stack)
            return rs_errorf(u->node, RSHARE_EUNREACH,
                             "IPv4 peer unreachable from an IPv6-only UDP socket "
                             "(bind to [::] for dual stack)");
        /* Dual stack: the IPv4 peer as an IPv4-mapped IPv6 address. */
        struct sockaddr_in v4 = sa.in4;
        memset(&sa, 0, sizeof(sa));
        sa.in6.sin6_family = AF_INET6;
        sa.in6.sin6_port = v4.sin_port;
        sa.in6.sin6_addr.s6_addr[10] = 0xff;
        sa.in6.sin6_addr.s6_addr[11] = 0xff;
        memcpy(&sa.in6.sin6_addr.s6_addr[12], &v4.sin_addr, 4);
    } else if (sa.sa.sa_family == AF_INET6 && u->family == AF_INET) {
        return rs_errorf(u->node, RSHARE_EUNREACH,
                         "IPv6 peer unreachable from an IPv4 UDP socket");
    }
    socklen_t sa_len = sa.sa.sa_family == AF_INET ? sizeof(sa.in4) : sizeof(sa.in6);

    ssize_t n = -1;
    if (flags & RSHARE_SEND_URGENT && !u->urgent_plain)
        n = udp_send_urgent(u, iov, count, &sa, sa_len);
    if (n < 0 && (!(flags & RSHARE_SEND_URGENT) || u->urgent_plain)) {
        struct msghdr msg = {.msg_name = &sa.sa, .msg_namelen = sa_len, .msg_iov = iov,
                             .msg_iovlen = count};
        do
            n = sendmsg(u->fd, &msg, 0);
        while (n < 0 && errno == EINTR);
    }
    if (n >= 0) {
        if ((size_t)n != len)
            return rs_errorf(u->node, RSHARE_EIO, "UDP sent %zd of %zu bytes", n, len);
        return 0;
    }
    switch (errno) {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
    case ENOBUFS:
        /* Momentarily full: rshare retransmits later, no message needed. */
        return RSHARE_EAGAIN;
    case ECONNREFUSED:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EHOSTDOWN:
    case ENETDOWN:
        return fail_errno(u->node, RSHARE_EUNREACH, "UDP send");
    case EMSGSIZE:
        return fail_errno(u->node, RSHARE_EMSGSIZE, "UDP send");
    default:
        return fail_errno(u->node, RSHARE_EIO, "UDP send");
    }
}

static int udp_send(void *impl, const struct rshare_link_addr *dst, const void *packet,
                    size_t len, unsigned flags)
{
    struct rshare_iovec piece = {packet, len};
    return udp_sendv(impl, dst, &piece, 1, flags);
}

static int udp_poll(void *impl, rshare_node *node, int transport_index)
{
    struct udp_transport *u = impl;
    int pushed = 0;
    for (int call = 0; call < UDP_POLL_CALLS; call++) {
        for (int i = 0; i < UDP_RX_BATCH; i++) {
            u->rx_iov[i].iov_base = u->rx + (size_t)i * (u->mtu + 1);
            u->rx_iov[i].iov_len = u->mtu + 1;
            memset(&u->rx_msgs[i].msg_hdr, 0, sizeof(u->rx_msgs[i].msg_hdr));
            u->rx_msgs[i].msg_hdr.msg_iov = &u->rx_iov[i];
            u->rx_msgs[i].msg_hdr.msg_iovlen = 1;
            u->rx_msgs[i].msg_hdr.msg_name = &u->rx_src[i];
            u->rx_msgs[i].msg_hdr.msg_namelen = sizeof(u->rx_src[i]);
        }
        /* MSG_TRUNC reports a datagram's true length even when it was longer
         * than the buffer; the cap below keeps the push inside what was
         * stored while the length still exceeds the MTU. */
        int n = recvmmsg(u->fd, u->rx_msgs, UDP_RX_BATCH, MSG_TRUNC | MSG_DONTWAIT, NULL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK || pushed > 0)
                break;
            return fail_errno(node, RSHARE_EIO, "UDP receive");
        }
        for (int i = 0; i < n; i++) {
            struct rshare_link_addr from;
            if (link_from_sockaddr(&u->rx_src[i], &from) < 0)
                continue; /* not IPv4/IPv6: there is no way to answer it */
            size_t len = u->rx_msgs[i].msg_len;
            if (len > u->mtu + 1)
                len = u->mtu + 1;
            /* A rejected packet is counted by the node; keep reading. */
            (void)rshare_node_push(node, transport_index, &from, u->rx_iov[i].iov_base, len);
            pushed++;
        }
        if (n < UDP_RX_BATCH)
            break; /* the socket is drained */
    }
    return pushed;
}

static int udp_fd(void *impl)
{
    return ((struct udp_transport *)impl)->fd;
}

static int udp_addr_format(void *impl, const struct rshare_link_addr *addr, char *buf,
                           size_t buf_len)
{
    (void)impl;
    union udp_sockaddr sa;
    if (!addr || !buf || sockaddr_from_link(addr, &sa) < 0)
        return RSHARE_EINVAL;
    return format_sockaddr(&sa, buf, buf_len);
}

static int udp_addr_parse(void *impl, const char *text, struct rshare_link_addr *addr)
{
    struct udp_transport *u = impl;
    union udp_sockaddr sa;
    const char *why = NULL;
    if (!text || !addr)
        return RSHARE_EINVAL;
    if (parse_text(text, &sa, &why) < 0)
        return rs_errorf(u->node, RSHARE_EINVAL, "bad UDP address '%.64s': %s", text, why);
    /* A peer is always on a real port; port 0 is only meaningful for bind. */
    if ((sa.sa.sa_family == AF_INET ? sa.in4.sin_port : sa.in6.sin6_port) == 0)
        return rs_errorf(u->node, RSHARE_EINVAL, "bad UDP address '%.64s': port 0", text);
    return link_from_sockaddr(&sa, addr);
}

static int udp_broadcast_addr(void *impl, struct rshare_link_addr *addr)
{
    struct udp_transport *u = impl;
    if (!addr)
        return RSHARE_EINVAL;
    if (!u->discovery.len)
        return RSHARE_ENOTSUP; /* bound to IPv6 loopback: seeds only */
    *addr = u->discovery;
    return 0;
}

static int udp_control(void *impl, int op, void *arg)
{
    (void)impl;
    (void)op;
    (void)arg;
    return RSHARE_ENOTSUP;
}

static void udp_close(void *impl)
{
    struct udp_transport *u = impl;
    if (!u)
        return;
    if (u->fd >= 0)
        close(u->fd);
    rs_free(u->node, u->rx);
    rs_free(u->node, u);
}

/* --- set-up ------------------------------------------------------------- */

/* Copy what the caller's struct holds, fill defaults, check ranges. */
static int resolve_config(rshare_node *node, const struct rshare_udp_config *given,
                          struct rshare_udp_config *cfg)
{
    const size_t min_size = offsetof(struct rshare_udp_config, socket_buffer_bytes) +
                            sizeof(given->socket_buffer_bytes);
    if (!given)
        return rs_errorf(node, RSHARE_EINVAL, "UDP config is NULL");
    if (given->struct_size < min_size)
        return rs_errorf(node, RSHARE_EVERSION, "UDP config struct_size %u too small",
                         given->struct_size);
    memset(cfg, 0, sizeof(*cfg));
    memcpy(cfg, given, given->struct_size < sizeof(*cfg) ? given->struct_size : sizeof(*cfg));
    cfg->struct_size = sizeof(*cfg);

    if (cfg->mtu == 0)
        cfg->mtu = RSHARE_UDP_DEFAULT_MTU;
    if (cfg->mtu < RSHARE_TRANSPORT_MTU_MIN || cfg->mtu > RSHARE_TRANSPORT_MTU_MAX)
        return rs_errorf(node, RSHARE_EINVAL, "UDP MTU %u outside %u..%u bytes", cfg->mtu,
                         RSHARE_TRANSPORT_MTU_MIN, RSHARE_TRANSPORT_MTU_MAX);
    if (cfg->socket_buffer_bytes == 0)
        cfg->socket_buffer_bytes = UDP_DEFAULT_BUFFER_BYTES;
    if (cfg->interface && (cfg->interface[0] == '\0' || if_nametoindex(cfg->interface) == 0))
        return rs_errorf(node, RSHARE_EINVAL, "UDP interface '%.32s' does not exist",
                         cfg->interface);
    return 0;
}

/* Set a socket buffer size.  The *FORCE variant passes rmem_max/wmem_max
 * when we have CAP_NET_ADMIN; without it, the plain option (clamped by the
 * kernel) is the best we can do, so its failure is only worth a warning. */
static void set_buffer(struct udp_transport *u, int force_opt, int opt, uint32_t bytes,
                       const char *what)
{
    int value = bytes > INT_MAX / 2 ? INT_MAX / 2 : (int)bytes;
    if (setsockopt(u->fd, SOL_SOCKET, force_opt, &value, sizeof(value)) == 0)
        return;
    if (setsockopt(u->fd, SOL_SOCKET, opt, &value, sizeof(value)) < 0)
        rs_log_warn(u->node, "UDP %s of %d bytes: %s", what, value, strerror(errno));
}

static bool is_unspecified(const union udp_sockaddr *sa)
{
    if (sa->sa.sa_family == AF_INET)
        return sa->in4.sin_addr.s_addr == htonl(INADDR_ANY);
    return IN6_IS_ADDR_UNSPECIFIED(&sa->in6.sin6_addr);
}

/* Create, configure and bind the socket.  An IPv6 socket is dual stack only
 * when bound to [::] (then IPv4 peers arrive as IPv4-mapped addresses);
 * bound to a specific IPv6 address it is IPv6-only. */
static int open_socket(struct udp_transport *u, const struct rshare_udp_config *cfg)
{
    const char *text = cfg->bind_address ? cfg->bind_address : UDP_DEFAULT_BIND_HOST;
    union udp_sockaddr sa;
    const char *why = NULL;
    if (parse_text(text, &sa, &why) < 0)
        return rs_errorf(u->node, RSHARE_EINVAL, "bad UDP bind address '%.64s': %s", text, why);

    u->family = sa.sa.sa_family;
    u->fd = socket(u->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
    if (u->fd < 0)
        return fail_errno(u->node, RSHARE_ESYS, "UDP socket");

    int on = 1;
    if (u->family == AF_INET6) {
        u->dual_stack = is_unspecified(&sa);
        int v6only = !u->dual_stack;
        if (setsockopt(u->fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) < 0)
            return fail_errno(u->node, RSHARE_ESYS, "UDP IPV6_V6ONLY");
    }
    /* Needed to send to IPv4 broadcast addresses (also through dual stack). */
    if (setsockopt(u->fd, SOL_SOCKET, SO_BROADCAST, &on, sizeof(on)) < 0)
        return fail_errno(u->node, RSHARE_ESYS, "UDP SO_BROADCAST");
    set_buffer(u, SO_RCVBUFFORCE, SO_RCVBUF, cfg->socket_buffer_bytes, "receive buffer");
    set_buffer(u, SO_SNDBUFFORCE, SO_SNDBUF, cfg->socket_buffer_bytes, "send buffer");

    socklen_t sa_len = u->family == AF_INET ? sizeof(sa.in4) : sizeof(sa.in6);
    if (bind(u->fd, &sa.sa, sa_len) < 0)
        return fail_errno(u->node, RSHARE_ESYS, "UDP bind to %.64s", text);
    return 0;
}

static bool is_multicast(const union udp_sockaddr *sa)
{
    if (sa->sa.sa_family == AF_INET)
        return IN_MULTICAST(ntohl(sa->in4.sin_addr.s_addr));
    return IN6_IS_ADDR_MULTICAST(&sa->in6.sin6_addr);
}

/* Join a multicast group, loop our own discovery packets back to other
 * nodes on this host, and pick the outgoing interface when one is named. */
static int join_group(struct udp_transport *u, union udp_sockaddr *group, unsigned ifindex,
                      bool join)
{
    int on = 1;
    if (group->sa.sa_family == AF_INET) {
        struct ip_mreqn mreq;
        memset(&mreq, 0, sizeof(mreq));
        mreq.imr_multiaddr = group->in4.sin_addr;
        mreq.imr_ifindex = (int)ifindex;
        if (join && setsockopt(u->fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof(mreq)) < 0)
            return fail_errno(u->node, RSHARE_ESYS, "UDP join of IPv4 group");
        if (setsockopt(u->fd, IPPROTO_IP, IP_MULTICAST_LOOP, &on, sizeof(on)) < 0)
            return fail_errno(u->node, RSHARE_ESYS, "UDP IP_MULTICAST_LOOP");
        if (ifindex &&
            setsockopt(u->fd, IPPROTO_IP, IP_MULTICAST_IF, &mreq, sizeof(mreq)) < 0)
            return fail_errno(u->node, RSHARE_ESYS, "UDP IP_MULTICAST_IF");
        return 0;
    }
    /* Link-scoped groups need the interface in the destination too. */
    if (ifindex && !group->in6.sin6_scope_id &&
        (IN6_IS_ADDR_MC_LINKLOCAL(&group->in6.sin6_addr) ||
         IN6_IS_ADDR_MC_NODELOCAL(&group->in6.sin6_addr)))
        group->in6.sin6_scope_id = ifindex;
    struct ipv6_mreq mreq6;
    memset(&mreq6, 0, sizeof(mreq6));
    mreq6.ipv6mr_multiaddr = group->in6.sin6_addr;
    mreq6.ipv6mr_interface = ifindex ? ifindex : group->in6.sin6_scope_id;
    if (join && setsockopt(u->fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &mreq6, sizeof(mreq6)) < 0)
        return fail_errno(u->node, RSHARE_ESYS, "UDP join of IPv6 group");
    if (setsockopt(u->fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &on, sizeof(on)) < 0)
        return fail_errno(u->node, RSHARE_ESYS, "UDP IPV6_MULTICAST_LOOP");
    int index = (int)ifindex;
    if (ifindex &&
        setsockopt(u->fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &index, sizeof(index)) < 0)
        return fail_errno(u->node, RSHARE_ESYS, "UDP IPV6_MULTICAST_IF");
    return 0;
}

/* Work out the discovery destination.  A configured multicast group is
 * joined (errors are fatal: discovery would silently fail otherwise).  The
 * default, IPv4 limited broadcast or ff02::1 on the bound port, needs no
 * join: every IPv6 interface is in ff02::1 already. */
static int setup_discovery(struct udp_transport *u, const struct rshare_udp_config *cfg)
{
    unsigned ifindex = cfg->interface ? if_nametoindex(cfg->interface) : 0;
    union udp_sockaddr sa;
    memset(&sa, 0, sizeof(sa));
    bool join = false;

    if (cfg->discovery_address) {
        const char *why = NULL;
        const char *text = cfg->discovery_address;
        if (parse_text(text, &sa, &why) < 0)
            return rs_errorf(u->node, RSHARE_EINVAL, "bad UDP discovery address '%.64s': %s",
                             text, why);
        uint16_t port = sa.sa.sa_family == AF_INET ? sa.in4.sin_port : sa.in6.sin6_port;
        if (port == 0)
            return rs_errorf(u->node, RSHARE_EINVAL,
                             "UDP discovery address '%.64s' needs a port", text);
        if (sa.sa.sa_family == AF_INET6 && u->family == AF_INET)
            return rs_errorf(u->node, RSHARE_EINVAL,
                             "IPv6 discovery address '%.64s' on an IPv4 socket", text);
        if (sa.sa.sa_family == AF_INET && u->family == AF_INET6 &&
            (!u->dual_stack || is_multicast(&sa)))
            return rs_errorf(u->node, RSHARE_EINVAL,
                             "IPv4 discovery address '%.64s' needs an IPv4 bind address%s",
                             text, u->dual_stack ? " (multicast)" : " or [::]");
        join = is_multicast(&sa);
    } else {
        union udp_sockaddr bound;
        socklen_t bound_len = sizeof(bound);
        if (getsockname(u->fd, &bound.sa, &bound_len) < 0)
            return fail_errno(u->node, RSHARE_ESYS, "UDP getsockname");
        /* A socket bound to loopback discovers on loopback only: its hellos
         * must never leave the machine.  127.255.255.255 stays on lo; IPv6
         * loopback has no broadcast or multicast, so such a socket relies on
         * configured peers. */
        if (u->family == AF_INET) {
            bool loopback = (ntohl(bound.in4.sin_addr.s_addr) >> 24) == 127;
            sa.in4.sin_family = AF_INET;
            sa.in4.sin_port = bound.in4.sin_port;
            sa.in4.sin_addr.s_addr = htonl(loopback ? 0x7FFFFFFFu : INADDR_BROADCAST);
        } else if (IN6_IS_ADDR_LOOPBACK(&bound.in6.sin6_addr)) {
            u->discovery.len = 0;
            return 0;
        } else {
            sa.in6.sin6_family = AF_INET6;
            sa.in6.sin6_port = bound.in6.sin6_port;
            inet_pton(AF_INET6, "ff02::1", &sa.in6.sin6_addr);
        }
    }
    if (is_multicast(&sa)) {
        int rc = join_group(u, &sa, ifindex, join);
        if (rc < 0)
            return rc;
    }
    return link_from_sockaddr(&sa, &u->discovery);
}

/* --- addresses ---------------------------------------------------------- */

/* A port: 1 to 5 decimal digits, at most 65535. */
static int parse_port(const char *s, uint16_t *port)
{
    unsigned long value = 0;
    size_t digits = 0;
    for (; s[digits]; digits++) {
        if (s[digits] < '0' || s[digits] > '9' || digits == 5)
            return -1;
        value = value * 10 + (unsigned long)(s[digits] - '0');
    }
    if (digits == 0 || value > 65535)
        return -1;
    *port = (uint16_t)value;
    return 0;
}

/* An IPv6 scope: an interface name or a decimal index. */
static int parse_scope(const char *s, uint32_t *scope)
{
    if (*s >= '0' && *s <= '9') {
        unsigned long value = 0;
        for (const char *p = s; *p; p++) {
            if (*p < '0' || *p > '9' || value > UINT32_MAX / 10)
                return -1;
            value = value * 10 + (unsigned long)(*p - '0');
        }
        if (value > UINT32_MAX)
            return -1;
        *scope = (uint32_t)value;
        return 0;
    }
    *scope = if_nametoindex(s);
    return *scope ? 0 : -1;
}

/* Numeric text only ("1.2.3.4:port", "[v6]:port", "[fe80::1%eth0]:port";
 * the port may be omitted for RSHARE_UDP_DEFAULT_PORT): names are refused,
 * so no lookup ever blocks the node.  On failure `*why` says what is wrong. */
static int parse_text(const char *text, union udp_sockaddr *sa, const char **why)
{
    char host[UDP_TEXT_MAX];
    const char *port_text = NULL;
    memset(sa, 0, sizeof(*sa));
    size_t len = strlen(text);
    if (len == 0 || len >= sizeof(host)) {
        *why = len ? "too long" : "empty";
        return -1;
    }
    bool bracketed = text[0] == '[';
    if (bracketed) {
        const char *close_bracket = strchr(text, ']');
        if (!close_bracket) {
            *why = "missing ']'";
            return -1;
        }
        size_t host_len = (size_t)(close_bracket - text - 1);
        memcpy(host, text + 1, host_len);
        host[host_len] = '\0';
        if (close_bracket[1] == ':')
            port_text = close_bracket + 2;
        else if (close_bracket[1] != '\0') {
            *why = "expected ':' and a port after ']'";
            return -1;
        }
    } else {
        const char *colon = strchr(text, ':');
        if (colon && strchr(colon + 1, ':')) {
            *why = "IPv6 addresses go in brackets: [addr]:port";
            return -1;
        }
        size_t host_len = colon ? (size_t)(colon - text) : len;
        memcpy(host, text, host_len);
        host[host_len] = '\0';
        port_text = colon ? colon + 1 : NULL;
    }

    uint16_t port = RSHARE_UDP_DEFAULT_PORT;
    if (port_text && parse_port(port_text, &port) < 0) {
        *why = "port must be a number from 0 to 65535";
        return -1;
    }
    if (!bracketed) {
        sa->in4.sin_family = AF_INET;
        sa->in4.sin_port = htons(port);
        if (inet_pton(AF_INET, host, &sa->in4.sin_addr) != 1) {
            *why = "not a numeric IPv4 address (names are not resolved)";
            return -1;
        }
        return 0;
    }
    sa->in6.sin6_family = AF_INET6;
    sa->in6.sin6_port = htons(port);
    char *percent = strchr(host, '%');
    if (percent) {
        *percent = '\0';
        if (parse_scope(percent + 1, &sa->in6.sin6_scope_id) < 0) {
            *why = "unknown interface after '%'";
            return -1;
        }
    }
    if (inet_pton(AF_INET6, host, &sa->in6.sin6_addr) != 1) {
        *why = "not a numeric IPv6 address";
        return -1;
    }
    return 0;
}

/* Text form; IPv4-mapped IPv6 addresses are shown as IPv4.  Returns the
 * length, or RSHARE_EINVAL when `buf` is too small. */
static int format_sockaddr(const union udp_sockaddr *sa, char *buf, size_t buf_len)
{
    struct rshare_link_addr link;
    union udp_sockaddr canon;
    if (link_from_sockaddr(sa, &link) < 0 || sockaddr_from_link(&link, &canon) < 0)
        return RSHARE_EINVAL;
    char host[INET6_ADDRSTRLEN];
    char scope[IF_NAMESIZE + 12] = "";
    int n;
    if (canon.sa.sa_family == AF_INET) {
        inet_ntop(AF_INET, &canon.in4.sin_addr, host, sizeof(host));
        n = snprintf(buf, buf_len, "%s:%u", host, (unsigned)ntohs(canon.in4.sin_port));
    } else {
        inet_ntop(AF_INET6, &canon.in6.sin6_addr, host, sizeof(host));
        if (canon.in6.sin6_scope_id) {
            char name[IF_NAMESIZE];
            if (if_indextoname(canon.in6.sin6_scope_id, name))
                snprintf(scope, sizeof(scope), "%%%s", name);
            else
                snprintf(scope, sizeof(scope), "%%%u", (unsigned)canon.in6.sin6_scope_id);
        }
        n = snprintf(buf, buf_len, "[%s%s]:%u", host, scope,
                     (unsigned)ntohs(canon.in6.sin6_port));
    }
    if (n < 0 || (size_t)n >= buf_len) {
        if (buf_len)
            buf[0] = '\0';
        return RSHARE_EINVAL;
    }
    return n;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static int link_from_sockaddr(const union udp_sockaddr *sa, struct rshare_link_addr *addr)
{
    memset(addr, 0, sizeof(*addr));
    if (sa->sa.sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&sa->in6.sin6_addr)) {
        addr->len = LINK_LEN_V4;
        addr->bytes[0] = LINK_TAG_V4;
        memcpy(&addr->bytes[1], &sa->in6.sin6_port, 2); /* both network order */
        memcpy(&addr->bytes[3], &sa->in6.sin6_addr.s6_addr[12], 4);
        return 0;
    }
    if (sa->sa.sa_family == AF_INET) {
        addr->len = LINK_LEN_V4;
        addr->bytes[0] = LINK_TAG_V4;
        memcpy(&addr->bytes[1], &sa->in4.sin_port, 2);
        memcpy(&addr->bytes[3], &sa->in4.sin_addr, 4);
        return 0;
    }
    if (sa->sa.sa_family == AF_INET6) {
        addr->len = LINK_LEN_V6;
        addr->bytes[0] = LINK_TAG_V6;
        memcpy(&addr->bytes[1], &sa->in6.sin6_port, 2);
        memcpy(&addr->bytes[3], &sa->in6.sin6_addr, 16);
        put_be32(&addr->bytes[19], sa->in6.sin6_scope_id);
        return 0;
    }
    return RSHARE_EINVAL;
}

/* Decode a link address, checking its length against its tag: the bytes
 * may come from a peer table filled by anyone. */
static int sockaddr_from_link(const struct rshare_link_addr *addr, union udp_sockaddr *sa)
{
    memset(sa, 0, sizeof(*sa));
    if (addr->len == LINK_LEN_V4 && addr->bytes[0] == LINK_TAG_V4) {
        sa->in4.sin_family = AF_INET;
        memcpy(&sa->in4.sin_port, &addr->bytes[1], 2);
        memcpy(&sa->in4.sin_addr, &addr->bytes[3], 4);
        return 0;
    }
    if (addr->len == LINK_LEN_V6 && addr->bytes[0] == LINK_TAG_V6) {
        const uint8_t *b = addr->bytes;
        sa->in6.sin6_family = AF_INET6;
        memcpy(&sa->in6.sin6_port, &b[1], 2);
        memcpy(&sa->in6.sin6_addr, &b[3], 16);
        sa->in6.sin6_scope_id = (uint32_t)b[19] << 24 | (uint32_t)b[20] << 16 |
                                (uint32_t)b[21] << 8 | b[22];
        return 0;
    }
    return RSHARE_EINVAL;
}

/* Record `code` with strerror(errno) appended (rs_syserr always says ESYS). */
static int fail_errno(rshare_node *node, int code, const char *fmt, ...)
{
    int saved = errno;
    char what[RS_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    rs_errorf(node, code, "%s: %s", what, strerror(saved));
    errno = saved;
    return code;
}
