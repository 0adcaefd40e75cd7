/* The UDP transport honours RSHARE_SEND_URGENT: an urgent message (KVM
 * input) leaves with the low-delay class IPTOS_LOWDELAY, which the kernel's
 * queues and the network use to put it ahead of bulk traffic, while other
 * messages keep the default class.  A plain socket plays the peer and reads
 * the class of each datagram (IP_RECVTOS / IPV6_RECVTCLASS). */
#include "config.h"

#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rshare/rshare.h"
#include "msg/msg.h"

/* A datagram's class, or -1 when it carried none. */
static int recv_class(int fd, int level, int type)
{
    char buf[2048];
    union {
        char b[CMSG_SPACE(sizeof(int)) * 2];
        struct cmsghdr align;
    } control;
    struct iovec iov = {buf, sizeof(buf)};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.b,
                         .msg_controllen = sizeof(control.b)};
    ck_assert_int_gt(recvmsg(fd, &msg, 0), 0);
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
        if (cm->cmsg_level == level && cm->cmsg_type == type) {
            /* IP_TOS arrives as one byte, IPV6_TCLASS as an int. */
            if (level == IPPROTO_IP)
                return *(unsigned char *)CMSG_DATA(cm);
            int v;
            memcpy(&v, CMSG_DATA(cm), sizeof(v));
            return v;
        }
    }
    return -1;
}

static void check_family(bool v6)
{
    int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    int on = 1;
    char addr[64];
    if (v6) {
        struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
            close(fd); /* no IPv6 here */
            return;
        }
        ck_assert_int_eq(setsockopt(fd, IPPROTO_IPV6, IPV6_RECVTCLASS, &on, sizeof(on)), 0);
        socklen_t len = sizeof(sa);
        getsockname(fd, (struct sockaddr *)&sa, &len);
        snprintf(addr, sizeof(addr), "[::1]:%u", ntohs(sa.sin6_port));
    } else {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        ck_assert_int_eq(setsockopt(fd, IPPROTO_IP, IP_RECVTOS, &on, sizeof(on)), 0);
        socklen_t len = sizeof(sa);
        getsockname(fd, (struct sockaddr *)&sa, &len);
        snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(sa.sin_port));
    }
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = 1;
    cfg.log = (struct rshare_log){rs_test_quiet_log, NULL, RSHARE_LOG_ERROR};
    rshare_node *node;
    ck_assert_int_eq(rshare_node_create(&cfg, &node), 0);
    struct rshare_udp_config uc;
    rshare_udp_config_init(&uc, sizeof(uc));
    uc.bind_address = v6 ? "[::1]:0" : "127.0.0.1:0";
    int t = rshare_node_add_udp(node, &uc);
    ck_assert_int_ge(t, 0);
    ck_assert_int_eq(rshare_node_add_peer(node, 2, t, addr), 0);
    static const uint8_t body[] = {0x80}; /* an empty CBOR array */
    int level = v6 ? IPPROTO_IPV6 : IPPROTO_IP, type = v6 ? IPV6_TCLASS : IP_TOS;
    for (int round = 0; round < 3; round++) {
        ck_assert_int_eq(rs_msg_notify(node, 2, 0x0020, body, sizeof(body), RSHARE_SEND_URGENT),
                         0);
        ck_assert_int_eq(recv_class(fd, level, type), IPTOS_LOWDELAY);
        ck_assert_int_eq(rs_msg_notify(node, 2, 0x0020, body, sizeof(body), 0), 0);
        ck_assert_int_eq(recv_class(fd, level, type), 0);
    }
    rshare_node_destroy(node);
    close(fd);
}

START_TEST(test_urgent_class_v4)
{
    check_family(false);
}
END_TEST

START_TEST(test_urgent_class_v6)
{
    check_family(true);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kvm-udp");
    TCase *tc = tcase_create("urgent");
    tcase_add_test(tc, test_urgent_class_v4);
    tcase_add_test(tc, test_urgent_class_v6);
    suite_add_tcase(s, tc);
    return rs_test_run(s);
}
