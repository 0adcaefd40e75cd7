/* Unit tests of the MCTP core (transports/mctp.c, mctp_control.c) through a
 * capturing binding: how a message is cut into packets (SOM, EOM, sequence,
 * tag owner, tag), reassembly with its checks and limits (sequence, sizes,
 * sources, timeout), the neighbour table, other message types reaching the
 * application, and the control requests rshare answers itself. */
#include "config.h"

#include "testutil.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/endian.h"
#include "mctp.h"
#include "rshare/mctp.h"

#define PAYLOAD 250
#define MAX_CAPTURE 64

/* A binding that records every packet instead of framing it. */
struct captured {
    uint8_t phys;
    size_t len;
    uint8_t data[RS_MCTP_HDR_LEN + PAYLOAD];
};

struct test_transport {
    struct rs_mctp mctp; /* first, as in the real bindings */
    bool manual;         /* packets leave only when the test drains them */
    int count;
    struct captured packets[MAX_CAPTURE];
};

/* What the node pushed up (in place of the link layer). */
struct pushed {
    int count;
    struct rshare_link_addr src;
    size_t len;
    uint8_t data[2048];
};

struct app {
    int count;
    struct rshare_mctp_message msg;
    uint8_t data[512];
    int transport_index;
};

static uint64_t now_us = 1000000;
static uint64_t test_clock(void *u)
{
    (void)u;
    return now_us;
}

static bool drain_one(struct test_transport *t)
{
    struct rs_mctp_out *o = rs_mctp_tx_head(&t->mctp);
    if (!o)
        return false;
    ck_assert_int_lt(t->count, MAX_CAPTURE);
    struct captured *c = &t->packets[t->count++];
    c->phys = o->phys;
    c->len = rs_mctp_tx_build(&t->mctp, o, o->sent, c->data);
    rs_mctp_tx_confirm(&t->mctp, o, 1);
    return true;
}

static void test_kick(struct rs_mctp *m)
{
    struct test_transport *t = (struct test_transport *)m;
    if (!t->manual)
        while (drain_one(t))
            ;
}

static int test_phys_format(const struct rs_mctp *m, uint8_t phys, char *buf, size_t len)
{
    (void)m;
    int n = snprintf(buf, len, "%u", phys);
    return n < 0 || (size_t)n >= len ? RSHARE_EINVAL : n;
}

static int test_phys_parse(const struct rs_mctp *m, const char *text, uint8_t *phys)
{
    (void)m;
    char *end;
    unsigned long v = strtoul(text, &end, 10);
    if (!*text || *end || v > 254)
        return RSHARE_EINVAL;
    *phys = (uint8_t)v;
    return 0;
}

static const struct rs_mctp_binding test_binding = {
    .name = "test",
    .has_phys = true,
    .phys_broadcast = -1,
    .kick = test_kick,
    .phys_format = test_phys_format,
    .phys_parse = test_phys_parse,
};

static size_t t_mtu(void *impl)
{
    return rs_mctp_mtu(impl);
}

static int t_send(void *impl, const struct rshare_link_addr *dst, const void *p, size_t n,
                  unsigned flags)
{
    return rs_mctp_send_packet(impl, dst, p, n, flags);
}

static int t_parse(void *impl, const char *text, struct rshare_link_addr *a)
{
    return rs_mctp_addr_parse(impl, text, a);
}

static int t_format(void *impl, const struct rshare_link_addr *a, char *buf, size_t len)
{
    return rs_mctp_addr_format(impl, a, buf, len);
}

static void t_close(void *impl)
{
    struct test_transport *t = impl;
    rshare_node *node = t->mctp.node;
    rs_mctp_fini(&t->mctp);
    rs_free(node, t);
}

static const struct rshare_transport_ops test_ops = {
    .struct_size = sizeof(struct rshare_transport_ops),
    .version = RSHARE_TRANSPORT_OPS_VERSION,
    .name = "test-mctp",
    .mtu = t_mtu,
    .send = t_send,
    .addr_parse = t_parse,
    .addr_format = t_format,
    .control = rs_mctp_control,
    .close = t_close,
};

static int capture_push(rshare_node *node, int index, const struct rshare_link_addr *src,
                        const uint8_t *packet, size_t len, void *user_data)
{
    (void)node;
    (void)index;
    struct pushed *p = user_data;
    p->count++;
    p->src = *src;
    p->len = len;
    ck_assert_uint_le(len, sizeof(p->data));
    memcpy(p->data, packet, len);
    return 0;
}

static void on_message(rshare_node *node, int index, const struct rshare_mctp_message *msg,
                       void *user_data)
{
    (void)node;
    struct app *a = user_data;
    a->count++;
    a->transport_index = index;
    a->msg = *msg;
    ck_assert_uint_le(msg->len, sizeof(a->data));
    memcpy(a->data, msg->data, msg->len);
    a->msg.data = a->data;
}

struct endpoint {
    rshare_node *node;
    struct test_transport *t;
    int index;
    struct pushed pushed;
};

static void endpoint_open(struct endpoint *e, uint32_t node_id, const struct rshare_mctp_config *mc)
{
    memset(e, 0, sizeof(*e));
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = node_id;
    cfg.clock = (struct rshare_clock){test_clock, NULL};
    cfg.log = (struct rshare_log){rs_test_quiet_log, NULL, RSHARE_LOG_ERROR};
    ck_assert_int_eq(rshare_node_create(&cfg, &e->node), 0);
    e->t = rs_calloc(e->node, 1, sizeof(*e->t));
    ck_assert_ptr_nonnull(e->t);
    ck_assert_int_eq(rs_mctp_init(&e->t->mctp, e->node, &test_binding, mc, PAYLOAD), 0);
    e->index = rshare_node_add_transport(e->node, &test_ops, e->t);
    ck_assert_int_ge(e->index, 0);
    e->t->mctp.transport_index = e->index;
    rs_core(e->node)->on_packet = capture_push;
    rs_core(e->node)->on_packet_data = &e->pushed;
}

static void endpoint_default(struct endpoint *e, uint32_t node_id, uint8_t eid)
{
    struct rshare_mctp_config mc;
    rshare_mctp_config_init(&mc, sizeof(mc));
    mc.eid = eid;
    endpoint_open(e, node_id, &mc);
}

static struct rshare_mctp_stats stats_of(struct endpoint *e)
{
    struct rshare_mctp_stats st;
    ck_assert_int_eq(rshare_mctp_stats(e->node, e->index, &st, sizeof(st)), 0);
    return st;
}

static void fill(uint8_t *buf, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(i * 31u + seed);
}

/* Build a packet by hand: the test's own view of the header layout. */
static size_t packet(uint8_t *out, uint8_t dst, uint8_t src, bool som, bool eom, unsigned seq,
                     bool to, unsigned tag, const uint8_t *payload, size_t len)
{
    out[0] = 0x01;
    out[1] = dst;
    out[2] = src;
    out[3] = (uint8_t)((som ? 0x80 : 0) | (eom ? 0x40 : 0) | (seq & 3) << 4 | (to ? 0x08 : 0) |
                       (tag & 7));
    memcpy(out + 4, payload, len);
    return len + 4;
}

static void rx(struct endpoint *e, uint8_t phys, const uint8_t *p, size_t len)
{
    rs_mctp_rx(&e->t->mctp, phys, p, len);
}

/* --- assembly: one rshare packet into MCTP packets ------------------------ */

START_TEST(test_message_split_into_packets)
{
    struct endpoint a;
    endpoint_default(&a, 1, 8);
    ck_assert_uint_eq(rs_transport_get(a.node, a.index)->mtu, 1245); /* 5 x 250 - 5 */
    uint8_t data[1000];
    fill(data, sizeof(data), 7);
    struct rshare_link_addr to;
    ck_assert_int_eq(t_parse(a.t, "9@32", &to), 0);
    ck_assert_int_eq(rs_transport_send(a.node, a.index, &to, data, sizeof(data), 0), 0);

    /* 5 + 1000 bytes: four full packets and one of 5 bytes. */
    ck_assert_int_eq(a.t->count, 5);
    uint8_t joined[1005];
    size_t off = 0;
    unsigned tag = a.t->packets[0].data[3] & 7;
    for (int i = 0; i < 5; i++) {
        const struct captured *c = &a.t->packets[i];
        ck_assert_uint_eq(c->phys, 32);
        ck_assert_uint_eq(c->data[0], 0x01);
        ck_assert_uint_eq(c->data[1], 9);
        ck_assert_uint_eq(c->data[2], 8);
        uint8_t f = c->data[3];
        ck_assert_int_eq(!!(f & 0x80), i == 0);     /* SOM */
        ck_assert_int_eq(!!(f & 0x40), i == 4);     /* EOM */
        ck_assert_uint_eq((f >> 4) & 3, (unsigned)i & 3); /* sequence wraps */
        ck_assert_uint_eq(f & 0x08, 0x08);          /* rshare owns the tag */
        ck_assert_uint_eq(f & 7, tag);
        ck_assert_uint_eq(c->len, 4 + (i < 4 ? 250u : 5u));
        memcpy(joined + off, c->data + 4, c->len - 4);
        off += c->len - 4;
    }
    ck_assert_uint_eq(off, 1005);
    ck_assert_uint_eq(joined[0], 0x7F);
    ck_assert_uint_eq(rs_get32(joined + 1), RSHARE_MCTP_IANA_DEFAULT);
    ck_assert_mem_eq(joined + 5, data, sizeof(data));

    /* The next message gets another tag: interleaved messages stay apart. */
    ck_assert_int_eq(rs_transport_send(a.node, a.index, &to, data, 10, 0), 0);
    ck_assert_int_eq(a.t->count, 6);
    ck_assert_uint_ne(a.t->packets[5].data[3] & 7, tag);
    ck_assert_uint_eq(a.t->packets[5].data[3] & 0xC0, 0xC0); /* SOM and EOM */

    /* Above the MTU: refused by the core, nothing queued. */
    uint8_t big[1246] = {0};
    ck_assert_int_eq(rs_transport_send(a.node, a.index, &to, big, sizeof(big), 0),
                     RSHARE_EMSGSIZE);
    ck_assert_int_eq(a.t->count, 6);
    rshare_node_destroy(a.node);
}
END_TEST

START_TEST(test_reassembly_delivers_to_node)
{
    struct endpoint a, b;
    endpoint_default(&a, 1, 8);
    endpoint_default(&b, 2, 9);
    uint8_t data[1240];
    fill(data, sizeof(data), 3);
    struct rshare_link_addr to;
    ck_assert_int_eq(t_parse(a.t, "9@21", &to), 0);
    ck_assert_int_eq(rs_transport_send(a.node, a.index, &to, data, sizeof(data), 0), 0);
    for (int i = 0; i < a.t->count; i++)
        rx(&b, 20, a.t->packets[i].data, a.t->packets[i].len);
    ck_assert_int_eq(b.pushed.count, 1);
    ck_assert_uint_eq(b.pushed.len, sizeof(data));
    ck_assert_mem_eq(b.pushed.data, data, sizeof(data));
    /* The source link address is the sender's EID and physical address. */
    ck_assert_uint_eq(b.pushed.src.len, 2);
    ck_assert_uint_eq(b.pushed.src.bytes[0], 8);
    ck_assert_uint_eq(b.pushed.src.bytes[1], 20);
    char text[32];
    ck_assert_int_gt(t_format(b.t, &b.pushed.src, text, sizeof(text)), 0);
    ck_assert_str_eq(text, "8@20");
    struct rshare_mctp_stats st = stats_of(&b);
    ck_assert_uint_eq(st.rx_messages, 1);
    ck_assert_uint_eq(st.rx_other_messages + st.rx_other_dropped, 0);
    /* Learnt: EID 8 now resolves without a physical address. */
    ck_assert_int_eq(t_parse(b.t, "8", &to), 0);
    ck_assert_uint_eq(to.bytes[1], 20);
    rshare_node_destroy(a.node);
    rshare_node_destroy(b.node);
}
END_TEST

/* Packets of two messages from one sender with different tags interleave
 * (an urgent one overtaking bulk); both arrive whole. */
START_TEST(test_interleaved_tags)
{
    struct endpoint a, b;
    endpoint_default(&a, 1, 8);
    endpoint_default(&b, 2, 9);
    a.t->manual = true;
    uint8_t bulk[700], urgent[30];
    fill(bulk, sizeof(bulk), 1);
    fill(urgent, sizeof(urgent), 2);
    struct rshare_link_addr to;
    ck_assert_int_eq(t_parse(a.t, "9@21", &to), 0);
    ck_assert_int_eq(rs_transport_send(a.node, a.index, &to, bulk, sizeof(bulk), 0), 0);
    ck_assert(drain_one(a.t)); /* first bulk packet on the wire */
    ck_assert_int_eq(rs_transport_send(a.node, a.index, &to, urgent, sizeof(urgent),
                                       RSHARE_SEND_URGENT),
                     0);
    while (drain_one(a.t))
        ;
    ck_assert_int_eq(a.t->count, 4);
    /* The urgent message went second, between bulk packets, on another tag. */
    ck_assert_uint_eq(a.t->packets[1].data[3] & 0xC0, 0xC0);
    ck_assert_uint_ne(a.t->packets[1].data[3] & 7, a.t->packets[0].data[3] & 7);
    for (int i = 0; i < a.t->count; i++)
        rx(&b, 20, a.t->packets[i].data, a.t->packets[i].len);
    ck_assert_int_eq(b.pushed.count, 2);
    ck_assert_uint_eq(b.pushed.len, sizeof(bulk)); /* the last one delivered */
    ck_assert_mem_eq(b.pushed.data, bulk, sizeof(bulk));
    ck_assert_uint_eq(stats_of(&b).rx_sequence_errors, 0);
    rshare_node_destroy(a.node);
    rshare_node_destroy(b.node);
}
END_TEST

/* --- reassembly: sequence, orphans, restarts, sizes ------------------------ */

static void rshare_prefixed(uint8_t *buf, size_t len)
{
    fill(buf, len, 9);
    buf[0] = 0x7F;
    rs_put32(buf + 1, RSHARE_MCTP_IANA_DEFAULT);
}

START_TEST(test_out_of_sequence_dropped)
{
    struct endpoint b;
    endpoint_default(&b, 2, 9);
    uint8_t body[250], p[260];
    rshare_prefixed(body, sizeof(body));
    rx(&b, 20, p, packet(p, 9, 8, true, false, 1, true, 3, body, 250));
    rx(&b, 20, p, packet(p, 9, 8, false, false, 2, true, 3, body, 250));
    rx(&b, 20, p, packet(p, 9, 8, false, false, 0, true, 3, body, 250)); /* 3 expected */
    struct rshare_mctp_stats st = stats_of(&b);
    ck_assert_uint_eq(st.rx_sequence_errors, 1);
    /* The rest of that message has nothing to join. */
    rx(&b, 20, p, packet(p, 9, 8, false, true, 1, true, 3, body, 10));
    st = stats_of(&b);
    ck_assert_uint_eq(st.rx_orphans, 1);
    ck_assert_int_eq(b.pushed.count, 0);

    /* A sequence starting anywhere is fine, and wraps after 3. */
    rx(&b, 20, p, packet(p, 9, 8, true, false, 3, true, 4, body, 250));
    rx(&b, 20, p, packet(p, 9, 8, false, true, 0, true, 4, body, 100));
    ck_assert_int_eq(b.pushed.count, 1);
    ck_assert_uint_eq(b.pushed.len, 345);
    rshare_node_destroy(b.node);
}
END_TEST

START_TEST(test_restart_and_size_rules)
{
    struct endpoint b;
    endpoint_default(&b, 2, 9);
    uint8_t body[250], p[260];
    rshare_prefixed(body, sizeof(body));
    /* A new start packet replaces an unfinished message. */
    rx(&b, 20, p, packet(p, 9, 8, true, false, 0, true, 1, body, 250));
    rx(&b, 20, p, packet(p, 9, 8, true, false, 0, true, 1, body, 250));
    rx(&b, 20, p, packet(p, 9, 8, false, true, 1, true, 1, body, 20));
    ck_assert_uint_eq(stats_of(&b).rx_incomplete, 1);
    ck_assert_int_eq(b.pushed.count, 1);
    ck_assert_uint_eq(b.pushed.len, 265);

    /* Middle packets must be as long as the first; the last no longer. */
    rx(&b, 20, p, packet(p, 9, 8, true, false, 0, true, 2, body, 200));
    rx(&b, 20, p, packet(p, 9, 8, false, false, 1, true, 2, body, 199));
    ck_assert_uint_eq(stats_of(&b).rx_bad_header, 1);
    rx(&b, 20, p, packet(p, 9, 8, true, false, 0, true, 2, body, 200));
    rx(&b, 20, p, packet(p, 9, 8, false, true, 1, true, 2, body, 201));
    ck_assert_uint_eq(stats_of(&b).rx_bad_header, 2);
    ck_assert_int_eq(b.pushed.count, 1);

    /* Keys are (source EID, physical address, tag owner, tag): the same tag
     * from another endpoint is another message. */
    rx(&b, 20, p, packet(p, 9, 8, true, false, 0, true, 5, body, 250));
    rx(&b, 21, p, packet(p, 9, 10, true, false, 0, true, 5, body, 250));
    rx(&b, 20, p, packet(p, 9, 8, false, true, 1, true, 5, body, 5));
    rx(&b, 21, p, packet(p, 9, 10, false, true, 1, true, 5, body, 6));
    ck_assert_int_eq(b.pushed.count, 3);
    ck_assert_uint_eq(b.pushed.src.bytes[0], 10);
    ck_assert_uint_eq(b.pushed.len, 251);
    rshare_node_destroy(b.node);
}
END_TEST

START_TEST(test_bounds)
{
    struct rshare_mctp_config mc;
    rshare_mctp_config_init(&mc, sizeof(mc));
    mc.eid = 9;
    mc.max_assemblies = 2;
    mc.message_size = 495; /* 2 packets with the prefix */
    mc.max_other_message = 400;
    struct endpoint b;
    endpoint_open(&b, 2, &mc);
    uint8_t body[250], p[260];
    rshare_prefixed(body, sizeof(body));

    /* Too large: the third packet crosses max(495 + 5, 400). */
    rx(&b, 20, p, packet(p, 9, 8, true, false, 0, true, 0, body, 250));
    rx(&b, 20, p, packet(p, 9, 8, false, false, 1, true, 0, body, 250));
    rx(&b, 20, p, packet(p, 9, 8, false, true, 2, true, 0, body, 1));
    ck_assert_uint_eq(stats_of(&b).rx_assembly_overflows, 1);
    /* Too many at once: the third sender finds no slot. */
    rx(&b, 20, p, packet(p, 9, 8, true, false, 0, true, 1, body, 250));
    rx(&b, 21, p, packet(p, 9, 10, true, false, 0, true, 1, body, 250));
    rx(&b, 22, p, packet(p, 9, 11, true, false, 0, true, 1, body, 250));
    ck_assert_uint_eq(stats_of(&b).rx_assembly_overflows, 2);
    rx(&b, 22, p, packet(p, 9, 11, false, true, 1, true, 1, body, 10));
    ck_assert_uint_eq(stats_of(&b).rx_orphans, 1);

    /* Header checks. */
    size_t n = packet(p, 9, 8, true, true, 0, true, 6, body, 20);
    p[0] = 0x02;
    rx(&b, 20, p, n);
    ck_assert_uint_eq(stats_of(&b).rx_bad_header, 1);
    rx(&b, 20, p, packet(p, 9, 0xFF, true, true, 0, true, 6, body, 20)); /* source broadcast */
    ck_assert_uint_eq(stats_of(&b).rx_bad_header, 2);
    rx(&b, 20, p, packet(p, 9, 8, true, true, 0, true, 6, body, 0));   /* no payload */
    ck_assert_uint_eq(stats_of(&b).rx_bad_header, 3);
    rx(&b, 20, p, 3);
    ck_assert_uint_eq(stats_of(&b).rx_bad_header, 4);
    rx(&b, 20, p, packet(p, 12, 8, true, true, 0, true, 6, body, 20)); /* for EID 12 */
    ck_assert_uint_eq(stats_of(&b).rx_misaddressed, 1);
    /* Broadcast and null destinations are accepted. */
    rx(&b, 20, p, packet(p, 0xFF, 8, true, true, 0, true, 6, body, 20));
    rx(&b, 20, p, packet(p, 0x00, 8, true, true, 0, true, 6, body, 20));
    ck_assert_int_eq(b.pushed.count, 2);
    rshare_node_destroy(b.node);
}
END_TEST

START_TEST(test_reassembly_timeout)
{
    struct endpoint b;
    endpoint_default(&b, 2, 9); /* 1000 ms */
    uint8_t body[250], p[260];
    rshare_prefixed(body, sizeof(body));
    rx(&b, 20, p, packet(p, 9, 8, true, false, 0, true, 0, body, 250));
    now_us += 900000;
    rshare_node_process(b.node);
    rx(&b, 20, p, packet(p, 9, 8, false, false, 1, true, 0, body, 250));
    /* The deadline counts from the last packet, not the first. */
    now_us += 900000;
    rshare_node_process(b.node);
    ck_assert_uint_eq(stats_of(&b).rx_assembly_timeouts, 0);
    rx(&b, 20, p, packet(p, 9, 8, false, true, 2, true, 0, body, 1));
    ck_assert_int_eq(b.pushed.count, 1);

    rx(&b, 20, p, packet(p, 9, 8, true, false, 0, true, 1, body, 250));
    ck_assert_int_ge(rshare_node_timeout_us(b.node), 0);
    now_us += 1000001;
    rshare_node_process(b.node);
    ck_assert_uint_eq(stats_of(&b).rx_assembly_timeouts, 1);
    /* Nothing left to time out: no timer stays armed for it. */
    ck_assert_int_eq(rshare_node_timeout_us(b.node), -1);
    rx(&b, 20, p, packet(p, 9, 8, false, true, 1, true, 1, body, 1));
    ck_assert_uint_eq(stats_of(&b).rx_orphans, 1);
    ck_assert_int_eq(b.pushed.count, 1);
    rshare_node_destroy(b.node);
}
END_TEST

/* --- other message types --------------------------------------------------- */

START_TEST(test_other_types_reach_the_application)
{
    struct endpoint b;
    endpoint_default(&b, 2, 9);
    uint8_t pldm[300], p[260];
    fill(pldm, sizeof(pldm), 4);
    pldm[0] = 0x01; /* PLDM */

    /* No handler: counted, never pushed to rshare. */
    rx(&b, 20, p, packet(p, 9, 8, true, true, 0, true, 2, pldm, 30));
    ck_assert_uint_eq(stats_of(&b).rx_other_dropped, 1);
    ck_assert_int_eq(b.pushed.count, 0);

    struct app app = {0};
    ck_assert_int_eq(rshare_mctp_set_handler(b.node, b.index, on_message, &app), 0);
    rx(&b, 20, p, packet(p, 9, 8, true, false, 0, true, 2, pldm, 250));
    rx(&b, 20, p, packet(p, 9, 8, false, true, 1, true, 2, pldm + 250, 50));
    ck_assert_int_eq(app.count, 1);
    ck_assert_int_eq(app.transport_index, b.index);
    ck_assert_uint_eq(app.msg.src_eid, 8);
    ck_assert_uint_eq(app.msg.dst_eid, 9);
    ck_assert_uint_eq(app.msg.tag_owner, 1);
    ck_assert_uint_eq(app.msg.tag, 2);
    ck_assert_uint_eq(app.msg.len, 300);
    ck_assert_mem_eq(app.data, pldm, 300);

    /* Vendor-defined with another enterprise number is not ours. */
    uint8_t vendor[20];
    fill(vendor, sizeof(vendor), 5);
    vendor[0] = 0x7F;
    rs_put32(vendor + 1, 343); /* somebody else's */
    rx(&b, 20, p, packet(p, 9, 8, true, true, 0, false, 6, vendor, sizeof(vendor)));
    ck_assert_int_eq(app.count, 2);
    ck_assert_uint_eq(app.msg.tag_owner, 0);
    ck_assert_int_eq(b.pushed.count, 0);
    /* The integrity-check bit makes it another type too. */
    vendor[0] = 0xFF;
    rs_put32(vendor + 1, RSHARE_MCTP_IANA_DEFAULT);
    rx(&b, 20, p, packet(p, 9, 8, true, true, 0, true, 6, vendor, sizeof(vendor)));
    ck_assert_int_eq(app.count, 3);
    ck_assert_int_eq(b.pushed.count, 0);
    ck_assert_uint_eq(stats_of(&b).rx_other_messages, 3);

    /* Removing the handler goes back to counting. */
    ck_assert_int_eq(rshare_mctp_set_handler(b.node, b.index, NULL, NULL), 0);
    rx(&b, 20, p, packet(p, 9, 8, true, true, 0, true, 2, pldm, 30));
    ck_assert_uint_eq(stats_of(&b).rx_other_dropped, 2);
    rshare_node_destroy(b.node);
}
END_TEST

START_TEST(test_application_send)
{
    struct rshare_mctp_config mc;
    rshare_mctp_config_init(&mc, sizeof(mc));
    mc.eid = 8;
    mc.iana = 4242;
    struct endpoint a;
    endpoint_open(&a, 1, &mc);
    uint8_t pldm[400];
    fill(pldm, sizeof(pldm), 6);
    pldm[0] = 0x01;
    struct rshare_mctp_message m = {.struct_size = sizeof(m), .dst_eid = 30, .tag_owner = 1,
                                    .tag = 5, .data = pldm, .len = sizeof(pldm)};
    /* Unknown endpoint: no physical address to send to. */
    ck_assert_int_eq(rshare_mctp_send(a.node, a.index, &m), RSHARE_EUNREACH);
    ck_assert_int_eq(rshare_mctp_set_neighbour(a.node, a.index, 30, "44"), 0);
    ck_assert_int_eq(rshare_mctp_send(a.node, a.index, &m), 5);
    ck_assert_int_eq(a.t->count, 2);
    ck_assert_uint_eq(a.t->packets[0].phys, 44);
    ck_assert_uint_eq(a.t->packets[0].data[1], 30);
    ck_assert_uint_eq(a.t->packets[0].data[3], 0x80 | 0x08 | 5);
    ck_assert_uint_eq(a.t->packets[1].data[3], 0x40 | 0x10 | 0x08 | 5);
    ck_assert_mem_eq(a.t->packets[0].data + 4, pldm, 250);
    ck_assert_mem_eq(a.t->packets[1].data + 4, pldm + 250, 150);

    /* A response: tag owner 0, the request's tag. */
    m.tag_owner = 0;
    m.tag = 3;
    m.len = 10;
    ck_assert_int_eq(rshare_mctp_send(a.node, a.index, &m), 3);
    ck_assert_uint_eq(a.t->packets[2].data[3], 0xC0 | 3);
    /* Automatic tags: any, but only for requests. */
    m.tag = RSHARE_MCTP_TAG_AUTO;
    ck_assert_int_eq(rshare_mctp_send(a.node, a.index, &m), RSHARE_EINVAL);
    m.tag_owner = 1;
    int tag = rshare_mctp_send(a.node, a.index, &m);
    ck_assert_int_ge(tag, 0);
    ck_assert_int_le(tag, 7);
    ck_assert_uint_eq(a.t->packets[3].data[3] & 7, (unsigned)tag);

    /* rshare's own type (with our enterprise number) belongs to the node. */
    uint8_t own[10] = {0x7F};
    rs_put32(own + 1, 4242);
    m.data = own;
    m.len = sizeof(own);
    ck_assert_int_eq(rshare_mctp_send(a.node, a.index, &m), RSHARE_EINVAL);
    rs_put32(own + 1, 4243);
    ck_assert_int_ge(rshare_mctp_send(a.node, a.index, &m), 0);
    /* Bad arguments. */
    m.len = 0;
    ck_assert_int_eq(rshare_mctp_send(a.node, a.index, &m), RSHARE_EINVAL);
    m.len = 5000; /* above max_other_message (4096) */
    ck_assert_int_eq(rshare_mctp_send(a.node, a.index, &m), RSHARE_EMSGSIZE);
    m.len = 10;
    m.tag = 8;
    ck_assert_int_eq(rshare_mctp_send(a.node, a.index, &m), RSHARE_EINVAL);
    m.struct_size = 8;
    ck_assert_int_eq(rshare_mctp_send(a.node, a.index, &m), RSHARE_EVERSION);
    ck_assert_int_eq(rshare_mctp_send(a.node, a.index + 1, &m), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_mctp_send(a.node, a.index, NULL), RSHARE_EINVAL);
    rshare_node_destroy(a.node);
}
END_TEST

START_TEST(test_neighbour_table)
{
    struct endpoint b;
    endpoint_default(&b, 2, 9);
    uint8_t body[30], p[60];
    fill(body, sizeof(body), 1);
    body[0] = 0x01;
    ck_assert_int_eq(rshare_mctp_set_neighbour(b.node, b.index, 8, "20"), 0);
    /* A packet claiming EID 8 from elsewhere does not move a static entry. */
    rx(&b, 66, p, packet(p, 9, 8, true, true, 0, true, 0, body, sizeof(body)));
    struct rshare_link_addr a;
    ck_assert_int_eq(t_parse(b.t, "8", &a), 0);
    ck_assert_uint_eq(a.bytes[1], 20);
    /* Learnt entries follow the sender. */
    rx(&b, 66, p, packet(p, 9, 12, true, true, 0, true, 0, body, sizeof(body)));
    ck_assert_int_eq(t_parse(b.t, "12", &a), 0);
    ck_assert_uint_eq(a.bytes[1], 66);
    rx(&b, 67, p, packet(p, 9, 12, true, true, 0, true, 0, body, sizeof(body)));
    ck_assert_int_eq(t_parse(b.t, "12", &a), 0);
    ck_assert_uint_eq(a.bytes[1], 67);
    /* Bad entries and addresses. */
    ck_assert_int_eq(rshare_mctp_set_neighbour(b.node, b.index, 7, "20"), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_mctp_set_neighbour(b.node, b.index, 255, "20"), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_mctp_set_neighbour(b.node, b.index, 30, "x"), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_mctp_set_neighbour(b.node, b.index, 30, NULL), RSHARE_EINVAL);
    ck_assert_int_eq(t_parse(b.t, "13", &a), RSHARE_EINVAL); /* unknown */
    ck_assert_ptr_nonnull(strstr(rshare_node_errmsg(b.node), "13"));
    ck_assert_int_eq(t_parse(b.t, "256@1", &a), RSHARE_EINVAL);
    ck_assert_int_eq(t_parse(b.t, "@1", &a), RSHARE_EINVAL);
    ck_assert_int_eq(t_parse(b.t, "9@", &a), RSHARE_EINVAL);
    ck_assert_int_eq(t_parse(b.t, "-1@1", &a), RSHARE_EINVAL);
    ck_assert_int_eq(t_parse(b.t, "*", &a), 0);
    char text[8];
    ck_assert_int_eq(t_format(b.t, &a, text, sizeof(text)), 1);
    ck_assert_str_eq(text, "*");
    ck_assert_int_eq(t_parse(b.t, "9@200", &a), 0);
    ck_assert_int_eq(t_format(b.t, &a, text, 4), RSHARE_EINVAL); /* "9@200" needs 6 */
    ck_assert_str_eq(text, "");

    /* Broadcast without a physical broadcast: one copy per neighbour. */
    b.t->count = 0;
    uint8_t pkt[40] = {1};
    ck_assert_int_eq(rs_transport_send(b.node, b.index, &a, pkt, sizeof(pkt), 0), 0);
    ck_assert_int_eq(t_parse(b.t, "*", &a), 0);
    ck_assert_int_eq(rs_transport_send(b.node, b.index, &a, pkt, sizeof(pkt), 0), 0);
    ck_assert_int_eq(b.t->count, 3); /* the unicast, then EIDs 8 and 12 */
    ck_assert_uint_eq(b.t->packets[1].data[1], 0xFF);
    ck_assert_uint_eq(b.t->packets[1].phys + b.t->packets[2].phys, 20 + 67);
    rshare_node_destroy(b.node);
}
END_TEST

/* --- control messages ---------------------------------------------------- */

static const struct captured *control_request(struct endpoint *b, uint8_t src_eid,
                                              const uint8_t *req, size_t len, uint8_t tag)
{
    uint8_t p[64];
    int before = b->t->count;
    rx(b, 20, p, packet(p, b->t->mctp.eid, src_eid, true, true, 0, true, tag, req, len));
    ck_assert_int_eq(b->t->count, before + 1);
    const struct captured *c = &b->t->packets[before];
    ck_assert_uint_eq(c->phys, 20);
    ck_assert_uint_eq(c->data[1], src_eid);
    ck_assert_uint_eq(c->data[3], 0xC0 | tag); /* a response: TO = 0, same tag */
    ck_assert_uint_eq(c->data[4], 0x00);       /* control */
    ck_assert_uint_eq(c->data[5], req[1] & 0x1F);
    ck_assert_uint_eq(c->data[6], req[2]);
    return c;
}

START_TEST(test_control_requests)
{
    struct endpoint b;
    endpoint_default(&b, 2, 9);
    const struct captured *c;

    static const uint8_t get_eid[] = {0x00, 0x80 | 0x05, 0x02};
    c = control_request(&b, 0, get_eid, sizeof(get_eid), 1); /* from the null EID */
    ck_assert_uint_eq(c->len, 4 + 7);
    ck_assert_uint_eq(c->data[7], 0x00); /* completion code */
    ck_assert_uint_eq(c->data[8], 9);
    ck_assert_uint_eq(c->data[9], 0x02); /* static EID, present matches */

    static const uint8_t types[] = {0x00, 0x81, 0x05};
    c = control_request(&b, 10, types, sizeof(types), 2);
    ck_assert_uint_eq(c->len, 4 + 6);
    ck_assert_uint_eq(c->data[8], 1);
    ck_assert_uint_eq(c->data[9], 0x7F);

    static const uint8_t vendor[] = {0x00, 0x82, 0x06, 0x00};
    c = control_request(&b, 10, vendor, sizeof(vendor), 3);
    ck_assert_uint_eq(c->len, 4 + 12);
    ck_assert_uint_eq(c->data[7], 0x00);
    ck_assert_uint_eq(c->data[8], 0xFF); /* no further set */
    ck_assert_uint_eq(c->data[9], 0x01); /* IANA format */
    ck_assert_uint_eq(rs_get32(c->data + 10), RSHARE_MCTP_IANA_DEFAULT);
    static const uint8_t vendor_next[] = {0x00, 0x82, 0x06, 0x01};
    c = control_request(&b, 10, vendor_next, sizeof(vendor_next), 3);
    ck_assert_uint_eq(c->data[7], 0x02); /* invalid data */

    static const uint8_t version[] = {0x00, 0x83, 0x04, 0xFF};
    c = control_request(&b, 10, version, sizeof(version), 4);
    ck_assert_uint_eq(c->len, 4 + 9);
    ck_assert_uint_eq(c->data[8], 1);
    static const uint8_t v131[] = {0xF1, 0xF3, 0xF1, 0x00};
    ck_assert_mem_eq(c->data + 9, v131, 4);
    static const uint8_t version_pldm[] = {0x00, 0x83, 0x04, 0x01};
    c = control_request(&b, 10, version_pldm, sizeof(version_pldm), 4);
    ck_assert_uint_eq(c->data[7], 0x80); /* type not supported */
    static const uint8_t short_version[] = {0x00, 0x83, 0x04};
    c = control_request(&b, 10, short_version, sizeof(short_version), 4);
    ck_assert_uint_eq(c->data[7], 0x03); /* invalid length */

    /* Assignment refused unless allowed. */
    static const uint8_t set_eid[] = {0x00, 0x84, 0x01, 0x00, 42};
    c = control_request(&b, 10, set_eid, sizeof(set_eid), 5);
    ck_assert_uint_eq(c->data[7], 0x00);
    ck_assert_uint_eq(c->data[8], 0x10); /* rejected */
    ck_assert_uint_eq(c->data[9], 9);
    ck_assert_int_eq(rshare_mctp_eid(b.node, b.index), 9);
    static const uint8_t set_bad[] = {0x00, 0x84, 0x01, 0x00, 0xFF};
    c = control_request(&b, 10, set_bad, sizeof(set_bad), 5);
    ck_assert_uint_eq(c->data[7], 0x02);

    /* Unknown command without a handler: unsupported. */
    static const uint8_t unknown[] = {0x00, 0x85, 0x0A};
    c = control_request(&b, 10, unknown, sizeof(unknown), 6);
    ck_assert_uint_eq(c->data[7], 0x05);
    ck_assert_uint_eq(stats_of(&b).control_answered, 10);
    /* With a handler, it is the application's, as are responses. */
    struct app app = {0};
    rshare_mctp_set_handler(b.node, b.index, on_message, &app);
    uint8_t p[64];
    int before = b.t->count;
    rx(&b, 20, p, packet(p, 9, 10, true, true, 0, true, 6, unknown, sizeof(unknown)));
    static const uint8_t response[] = {0x00, 0x05, 0x02, 0x00, 10, 0x02, 0x00};
    rx(&b, 20, p, packet(p, 9, 10, true, true, 0, false, 6, response, sizeof(response)));
    ck_assert_int_eq(b.t->count, before);
    ck_assert_int_eq(app.count, 2);
    ck_assert_mem_eq(app.data, response, sizeof(response));
    rshare_node_destroy(b.node);
}
END_TEST

START_TEST(test_set_endpoint_id_allowed)
{
    struct rshare_mctp_config mc;
    rshare_mctp_config_init(&mc, sizeof(mc));
    mc.eid = 9;
    mc.allow_set_eid = 1;
    struct endpoint b;
    endpoint_open(&b, 2, &mc);
    static const uint8_t set_eid[] = {0x00, 0x80, 0x01, 0x00, 42};
    const struct captured *c = control_request(&b, 10, set_eid, sizeof(set_eid), 0);
    ck_assert_uint_eq(c->data[8], 0x00); /* accepted */
    ck_assert_uint_eq(c->data[9], 42);
    ck_assert_uint_eq(c->data[2], 42);   /* the answer already comes from 42 */
    ck_assert_int_eq(rshare_mctp_eid(b.node, b.index), 42);
    static const uint8_t get_eid[] = {0x00, 0x80, 0x02};
    c = control_request(&b, 10, get_eid, sizeof(get_eid), 1);
    ck_assert_uint_eq(c->data[8], 42);
    ck_assert_uint_eq(c->data[9], 0x03); /* static EID, present differs */
    /* The old id is no longer ours. */
    uint8_t body[8] = {0x01}, p[20];
    rx(&b, 20, p, packet(p, 9, 10, true, true, 0, true, 0, body, sizeof(body)));
    ck_assert_uint_eq(stats_of(&b).rx_misaddressed, 1);
    rshare_node_destroy(b.node);
}
END_TEST

/* --- configuration ------------------------------------------------------ */

static int try_config(const struct rshare_mctp_config *mc, rshare_node **node_out)
{
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = 1;
    cfg.log = (struct rshare_log){rs_test_quiet_log, NULL, RSHARE_LOG_ERROR};
    ck_assert_int_eq(rshare_node_create(&cfg, node_out), 0);
    struct rs_mctp m;
    int rc = rs_mctp_init(&m, *node_out, &test_binding, mc, PAYLOAD);
    rs_mctp_fini(&m);
    return rc;
}

START_TEST(test_config_checks)
{
    rshare_node *node;
    struct rshare_mctp_config mc;
    rshare_mctp_config_init(&mc, sizeof(mc));
    ck_assert_uint_eq(mc.struct_size, sizeof(mc));
    ck_assert_int_eq(try_config(NULL, &node), RSHARE_EINVAL);
    ck_assert_ptr_nonnull(strstr(rshare_node_errmsg(node), "EID"));
    rshare_node_destroy(node);
    static const struct {
        uint8_t eid;
        uint32_t message_size, max_assemblies, timeout, other, queue;
        int rc;
    } cases[] = {
        {8, 0, 0, 0, 0, 0, 0},
        {254, 0, 0, 0, 0, 0, 0},
        {0, 0, 0, 0, 0, 0, RSHARE_EINVAL},
        {7, 0, 0, 0, 0, 0, RSHARE_EINVAL},
        {255, 0, 0, 0, 0, 0, RSHARE_EINVAL},
        {9, 63, 0, 0, 0, 0, RSHARE_EINVAL},
        {9, 64, 0, 0, 0, 0, 0},
        {9, 65508, 0, 0, 0, 0, RSHARE_EINVAL},
        {9, 0, 65, 0, 0, 0, RSHARE_EINVAL},
        {9, 0, 0, 3600001, 0, 0, RSHARE_EINVAL},
        {9, 0, 0, 0, 65537, 0, RSHARE_EINVAL},
        {9, 2000, 0, 0, 0, 2004, RSHARE_EINVAL}, /* one message must fit */
        {9, 2000, 0, 0, 0, 2005, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rshare_mctp_config_init(&mc, sizeof(mc));
        mc.eid = cases[i].eid;
        mc.message_size = cases[i].message_size;
        mc.max_assemblies = cases[i].max_assemblies;
        mc.reassembly_timeout_ms = cases[i].timeout;
        mc.max_other_message = cases[i].other;
        mc.tx_queue_bytes = cases[i].queue;
        ck_assert_msg(try_config(&mc, &node) == cases[i].rc, "case %zu: %s", i,
                      rshare_node_errmsg(node));
        rshare_node_destroy(node);
    }
    rshare_mctp_config_init(&mc, sizeof(mc));
    mc.eid = 9;
    mc.struct_size = 8;
    ck_assert_int_eq(try_config(&mc, &node), RSHARE_EVERSION);
    rshare_node_destroy(node);

    /* Public calls on a transport that is not MCTP. */
    struct endpoint a;
    endpoint_default(&a, 1, 8);
    struct rshare_mctp_stats st;
    ck_assert_int_eq(rshare_mctp_stats(a.node, a.index + 1, &st, sizeof(st)), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_mctp_eid(a.node, 5), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_mctp_set_handler(a.node, -1, NULL, NULL), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_mctp_set_neighbour(NULL, 0, 9, "1"), RSHARE_EINVAL);
    /* Statistics copy only what the caller knows. */
    uint8_t small[16];
    memset(small, 0xAA, sizeof(small));
    ck_assert_int_eq(rshare_mctp_stats(a.node, a.index, (struct rshare_mctp_stats *)small, 12),
                     0);
    ck_assert_uint_eq(small[12], 0xAA);
    rshare_node_destroy(a.node);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("mctp");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_message_split_into_packets);
    tcase_add_test(tc, test_reassembly_delivers_to_node);
    tcase_add_test(tc, test_interleaved_tags);
    tcase_add_test(tc, test_out_of_sequence_dropped);
    tcase_add_test(tc, test_restart_and_size_rules);
    tcase_add_test(tc, test_bounds);
    tcase_add_test(tc, test_reassembly_timeout);
    tcase_add_test(tc, test_other_types_reach_the_application);
    tcase_add_test(tc, test_application_send);
    tcase_add_test(tc, test_neighbour_table);
    tcase_add_test(tc, test_control_requests);
    tcase_add_test(tc, test_set_endpoint_id_allowed);
    tcase_add_test(tc, test_config_checks);
    suite_add_tcase(s, tc);
    return rs_test_run(s);
}
