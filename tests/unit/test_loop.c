/* Unit tests of the loop transport: its operations, the virtual clock, every
 * injected fault with statistical or exact timing checks, and reproducibility
 * from the seed.  Nodes' packet hook is replaced by a recorder, so the tests
 * see exactly what the transport delivers and when. */
#include "config.h"

#include "testutil.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "rshare/rshare.h"

#define MAX_NODES 8
#define RUN_FOREVER_US (UINT64_C(3600) * 1000000u)

struct record {
    uint32_t src;
    uint32_t id;
    uint64_t at_us;
    size_t len;
    bool intact; /* the payload pattern survived */
};

struct recorder {
    rshare_loop_net *net;
    struct record *items;
    size_t count, capacity;
};

struct sim {
    rshare_loop_net *net;
    size_t count;
    rshare_node *nodes[MAX_NODES];
    int index[MAX_NODES];
    struct recorder rec[MAX_NODES];
};

static int record_packet(rshare_node *node, int transport_index,
                         const struct rshare_link_addr *src, const uint8_t *packet, size_t len,
                         void *user_data)
{
    (void)node;
    (void)transport_index;
    struct recorder *r = user_data;
    if (r->count == r->capacity) {
        r->capacity = r->capacity ? r->capacity * 2 : 64;
        r->items = realloc(r->items, r->capacity * sizeof(*r->items));
        ck_assert_ptr_nonnull(r->items);
    }
    struct record *rec = &r->items[r->count++];
    ck_assert_int_eq(src->len, 4);
    rec->src = (uint32_t)src->bytes[0] << 24 | (uint32_t)src->bytes[1] << 16 |
               (uint32_t)src->bytes[2] << 8 | src->bytes[3];
    rec->id = len >= 4 ? ((uint32_t)packet[0] << 24 | (uint32_t)packet[1] << 16 |
                          (uint32_t)packet[2] << 8 | packet[3])
                       : 0;
    rec->at_us = rshare_loop_net_now_us(r->net);
    rec->len = len;
    rec->intact = true;
    for (size_t i = 4; i < len; i++)
        if (packet[i] != (uint8_t)(rec->id + i))
            rec->intact = false;
    return 0;
}

static rshare_node *make_node(rshare_loop_net *net, uint32_t id)
{
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = id;
    if (net)
        cfg.clock = rshare_loop_net_clock(net);
    cfg.log.write = rs_test_quiet_log;
    cfg.log.max_level = RSHARE_LOG_ERROR;
    rshare_node *node = NULL;
    ck_assert_int_eq(rshare_node_create(&cfg, &node), 0);
    return node;
}

/* Nodes 1..count on endpoints 1..count; `defaults` (may be NULL) is applied
 * before the nodes attach so that it also sets their MTU. */
static void sim_start(struct sim *s, uint64_t seed, size_t count,
                      const struct rshare_loop_link *defaults)
{
    memset(s, 0, sizeof(*s));
    ck_assert_int_eq(rshare_loop_net_create(seed, &s->net), 0);
    if (defaults)
        ck_assert_int_eq(rshare_loop_net_set_default(s->net, defaults), 0);
    s->count = count;
    for (size_t i = 0; i < count; i++) {
        s->nodes[i] = make_node(s->net, (uint32_t)i + 1);
        s->index[i] = rshare_node_add_loop(s->nodes[i], s->net, (uint32_t)i + 1);
        ck_assert_int_ge(s->index[i], 0);
        s->rec[i].net = s->net;
        struct rs_core *core = rs_core(s->nodes[i]);
        core->on_packet = record_packet;
        core->on_packet_data = &s->rec[i];
    }
}

static void sim_stop(struct sim *s)
{
    for (size_t i = 0; i < s->count; i++) {
        rshare_node_destroy(s->nodes[i]);
        free(s->rec[i].items);
    }
    rshare_loop_net_destroy(s->net);
}

static struct rs_transport *sim_transport(struct sim *s, size_t node)
{
    struct rs_transport *t = rs_transport_get(s->nodes[node], s->index[node]);
    ck_assert_ptr_nonnull(t);
    return t;
}

static struct rshare_link_addr sim_addr(struct sim *s, const char *text)
{
    struct rs_transport *t = sim_transport(s, 0);
    struct rshare_link_addr addr;
    ck_assert_int_eq(t->ops.addr_parse(t->impl, text, &addr), 0);
    return addr;
}

/* Sends packet `id` of `len` bytes (>= 4) from node index `from`. */
static int sim_send(struct sim *s, size_t from, const char *to, uint32_t id, size_t len,
                    unsigned flags)
{
    uint8_t buf[2048];
    ck_assert_uint_ge(len, 4);
    ck_assert_uint_le(len, sizeof(buf));
    buf[0] = (uint8_t)(id >> 24);
    buf[1] = (uint8_t)(id >> 16);
    buf[2] = (uint8_t)(id >> 8);
    buf[3] = (uint8_t)id;
    for (size_t i = 4; i < len; i++)
        buf[i] = (uint8_t)(id + i);
    struct rshare_link_addr dst = sim_addr(s, to);
    return rs_transport_send(s->nodes[from], s->index[from], &dst, buf, len, flags);
}

static struct rshare_loop_stats net_stats(rshare_loop_net *net)
{
    struct rshare_loop_stats st;
    ck_assert_int_eq(rshare_loop_net_stats(net, &st, sizeof(st)), 0);
    return st;
}

/* Every copy put on a link has ended somewhere: nothing is in flight. */
static int net_idle(void *user_data)
{
    struct rshare_loop_stats st = net_stats(user_data);
    return st.sent + st.duplicated ==
           st.delivered + st.lost + st.partitioned + st.queue_dropped;
}

static void sim_run_idle(struct sim *s)
{
    ck_assert_int_eq(rshare_loop_net_run(s->net, s->nodes, s->count, net_idle, s->net,
                                         RUN_FOREVER_US), 0);
}

static void sim_advance(struct sim *s, uint64_t us)
{
    ck_assert_int_eq(rshare_loop_net_run(s->net, s->nodes, s->count, NULL, NULL, us),
                     RSHARE_ETIMEDOUT);
}

static struct rshare_loop_link link_cfg(void)
{
    struct rshare_loop_link l;
    rshare_loop_link_init(&l, sizeof(l));
    return l;
}

/* --- operations and arguments ---------------------------------------------- */

START_TEST(test_ops_and_addresses)
{
    struct sim s;
    sim_start(&s, 1, 1, NULL);
    struct rs_transport *t = sim_transport(&s, 0);
    ck_assert_str_eq(t->ops.name, "loop");
    ck_assert_uint_eq(t->ops.version, RSHARE_TRANSPORT_OPS_VERSION);
    ck_assert_uint_eq(t->caps, RSHARE_TRANSPORT_CAP_BROADCAST | RSHARE_TRANSPORT_CAP_BULK |
                                   RSHARE_TRANSPORT_CAP_PRIORITY);
    ck_assert_int_eq(t->fd, -1);
    ck_assert_uint_eq(t->mtu, 1400);
    ck_assert_int_eq(t->ops.next_timeout_us(t->impl), -1);
    ck_assert_int_eq(t->ops.control(t->impl, 1, NULL), RSHARE_ENOTSUP);

    static const char *const good[] = {"1", "42", "4294967294", "*", "65536"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct rshare_link_addr a;
        char text[32];
        ck_assert_int_eq(t->ops.addr_parse(t->impl, good[i], &a), 0);
        ck_assert_uint_eq(a.len, 4);
        int n = t->ops.addr_format(t->impl, &a, text, sizeof(text));
        ck_assert_int_eq(n, (int)strlen(good[i]));
        ck_assert_str_eq(text, good[i]);
    }
    struct rshare_link_addr a;
    ck_assert_int_eq(t->ops.addr_parse(t->impl, "258", &a), 0);
    ck_assert_uint_eq(a.bytes[0], 0);
    ck_assert_uint_eq(a.bytes[1], 0);
    ck_assert_uint_eq(a.bytes[2], 1);
    ck_assert_uint_eq(a.bytes[3], 2);

    static const char *const bad[] = {"",   "0",          "-1",          "+1",  " 1",
                                      "1 ", "abc",        "12x",         "0x10", "**",
                                      "1.", "4294967295", "4294967296", "99999999999",
                                      "18446744073709551617"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(t->ops.addr_parse(t->impl, bad[i], &a) == RSHARE_EINVAL,
                      "'%s' accepted", bad[i]);
    ck_assert_int_eq(t->ops.addr_parse(t->impl, NULL, &a), RSHARE_EINVAL);
    ck_assert_int_eq(t->ops.addr_parse(t->impl, "1", NULL), RSHARE_EINVAL);

    char text[16];
    ck_assert_int_eq(t->ops.broadcast_addr(t->impl, &a), 0);
    ck_assert_int_eq(t->ops.addr_format(t->impl, &a, text, sizeof(text)), 1);
    ck_assert_str_eq(text, "*");
    ck_assert_int_eq(t->ops.broadcast_addr(t->impl, NULL), RSHARE_EINVAL);

    ck_assert_int_eq(t->ops.addr_parse(t->impl, "123456", &a), 0);
    ck_assert_int_eq(t->ops.addr_format(t->impl, &a, text, 4), RSHARE_EINVAL);
    ck_assert_int_eq(t->ops.addr_format(t->impl, &a, text, 0), RSHARE_EINVAL);
    ck_assert_int_eq(t->ops.addr_format(t->impl, &a, NULL, 8), RSHARE_EINVAL);
    ck_assert_int_eq(t->ops.addr_format(t->impl, NULL, text, 8), RSHARE_EINVAL);
    a.len = 3;
    ck_assert_int_eq(t->ops.addr_format(t->impl, &a, text, sizeof(text)), RSHARE_EINVAL);
    memset(&a, 0, sizeof(a));
    a.len = 4; /* endpoint 0 does not exist */
    ck_assert_int_eq(t->ops.addr_format(t->impl, &a, text, sizeof(text)), RSHARE_EINVAL);

    /* Bad destinations are refused by send itself. */
    uint8_t pkt[8] = {0};
    ck_assert_int_eq(t->ops.send(t->impl, &a, pkt, sizeof(pkt), 0), RSHARE_EINVAL);
    a.len = 2;
    ck_assert_int_eq(t->ops.send(t->impl, &a, pkt, sizeof(pkt), 0), RSHARE_EINVAL);
    ck_assert_int_eq(t->ops.send(t->impl, NULL, pkt, sizeof(pkt), 0), RSHARE_EINVAL);
    struct rshare_link_addr two = sim_addr(&s, "2");
    ck_assert_int_eq(t->ops.send(t->impl, &two, NULL, 8, 0), RSHARE_EINVAL);
    ck_assert_int_eq(t->ops.send(NULL, &two, pkt, 8, 0), RSHARE_EINVAL);
    ck_assert_int_eq(t->ops.poll(NULL, s.nodes[0], 0), RSHARE_EINVAL);
    ck_assert_int_eq(t->ops.poll(t->impl, NULL, 0), RSHARE_EINVAL);
    sim_stop(&s);
}
END_TEST

START_TEST(test_bad_arguments)
{
    rshare_loop_net *net = NULL;
    ck_assert_int_eq(rshare_loop_net_create(1, NULL), RSHARE_EINVAL);
    rshare_loop_net_destroy(NULL);
    ck_assert_ptr_null(rshare_loop_net_clock(NULL).now_us);
    ck_assert_uint_eq(rshare_loop_net_now_us(NULL), 0);
    ck_assert_int_eq(rshare_loop_net_create(1, &net), 0);

    struct rshare_clock clock = rshare_loop_net_clock(net);
    ck_assert_ptr_eq(clock.user_data, net);
    ck_assert_uint_eq(clock.now_us(clock.user_data), 1000000);
    ck_assert_uint_eq(rshare_loop_net_now_us(net), 1000000);

    struct rshare_loop_link l = link_cfg();
    ck_assert_uint_eq(l.struct_size, sizeof(l));
    ck_assert_uint_eq(l.delay_us, 50);
    ck_assert_uint_eq(l.mtu, 1400);
    ck_assert_uint_eq(l.queue_limit, 4096);
    ck_assert_uint_eq(l.loss_ppm + l.duplicate_ppm + l.reorder_ppm + l.jitter_us +
                          l.bandwidth_bps + l.flap_up_ms + l.flap_down_ms, 0);
    rshare_loop_link_init(NULL, sizeof(l));
    rshare_loop_link_init(&l, 2); /* too small to hold anything: untouched */
    ck_assert_uint_eq(l.struct_size, sizeof(l));

    ck_assert_int_eq(rshare_loop_net_set_default(NULL, &l), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_loop_net_set_default(net, NULL), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_loop_net_set_link(net, 1, 2, NULL), RSHARE_EINVAL);
    struct rshare_loop_link b;
    b = link_cfg(); b.mtu = 63;
    ck_assert_int_eq(rshare_loop_net_set_default(net, &b), RSHARE_EINVAL);
    b = link_cfg(); b.mtu = 65508;
    ck_assert_int_eq(rshare_loop_net_set_default(net, &b), RSHARE_EINVAL);
    b = link_cfg(); b.loss_ppm = 1000001;
    ck_assert_int_eq(rshare_loop_net_set_default(net, &b), RSHARE_EINVAL);
    b = link_cfg(); b.duplicate_ppm = 2000000;
    ck_assert_int_eq(rshare_loop_net_set_link(net, 1, 2, &b), RSHARE_EINVAL);
    b = link_cfg(); b.reorder_ppm = UINT32_MAX;
    ck_assert_int_eq(rshare_loop_net_set_link(net, 1, 2, &b), RSHARE_EINVAL);
    b = link_cfg(); b.queue_limit = 0;
    ck_assert_int_eq(rshare_loop_net_set_default(net, &b), RSHARE_EINVAL);
    b = link_cfg(); b.flap_up_ms = 10;
    ck_assert_int_eq(rshare_loop_net_set_default(net, &b), RSHARE_EINVAL);
    b = link_cfg(); b.struct_size = 8;
    ck_assert_int_eq(rshare_loop_net_set_default(net, &b), RSHARE_EVERSION);
    b = link_cfg();
    ck_assert_int_eq(rshare_loop_net_set_link(net, 0, 2, &b), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_loop_net_set_link(net, 1, 0xFFFFFFFFu, &b), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_loop_net_set_link(NULL, 1, 2, &b), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_loop_net_set_link(net, 1, 2, &b), 0);
    ck_assert_int_eq(rshare_loop_net_set_default(net, &b), 0);

    ck_assert_int_eq(rshare_loop_net_partition(NULL, 1, 2, 1), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_loop_net_partition(net, 0, 2, 1), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_loop_net_partition(net, 1, 0xFFFFFFFFu, 1), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_loop_net_partition(net, 3, 3, 1), RSHARE_EINVAL);

    struct rshare_loop_stats st;
    ck_assert_int_eq(rshare_loop_net_stats(NULL, &st, sizeof(st)), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_loop_net_stats(net, NULL, sizeof(st)), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_loop_net_stats(net, &st, 4), RSHARE_EINVAL);
    /* An older, shorter struct gets only the fields it knows. */
    memset(&st, 0xAB, sizeof(st));
    size_t old_size = offsetof(struct rshare_loop_stats, delivered);
    ck_assert_int_eq(rshare_loop_net_stats(net, &st, old_size), 0);
    ck_assert_uint_eq(st.struct_size, old_size);
    ck_assert_uint_eq(st.sent, 0);
    ck_assert_uint_eq(st.delivered, UINT64_C(0xABABABABABABABAB));

    rshare_node *node = make_node(net, 1);
    ck_assert_int_eq(rshare_node_add_loop(NULL, net, 1), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_node_add_loop(node, NULL, 1), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_node_add_loop(node, net, 0), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_node_add_loop(node, net, 0xFFFFFFFFu), RSHARE_EINVAL);
    ck_assert_int_ge(rshare_node_add_loop(node, net, 1), 0);
    ck_assert_int_eq(rshare_node_add_loop(node, net, 1), RSHARE_EEXIST);
    ck_assert_str_ne(rshare_node_errmsg(node), "");

    rshare_node *nodes[2] = {node, NULL};
    ck_assert_int_eq(rshare_loop_net_run(NULL, nodes, 1, NULL, NULL, 10), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_loop_net_run(net, NULL, 1, NULL, NULL, 10), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, 2, NULL, NULL, 10), RSHARE_EINVAL);
    rshare_node_destroy(node);
    rshare_loop_net_destroy(net);
}
END_TEST

/* --- delivery and the clock ------------------------------------------------- */

START_TEST(test_unicast_delivery)
{
    struct sim s;
    sim_start(&s, 7, 2, NULL);
    ck_assert_int_eq(sim_send(&s, 0, "2", 77, 100, 0), 0);
    struct rs_transport *tb = sim_transport(&s, 1);
    ck_assert_int_eq(tb->ops.next_timeout_us(tb->impl), 50);
    sim_run_idle(&s);
    ck_assert_uint_eq(s.rec[1].count, 1);
    ck_assert_uint_eq(s.rec[0].count, 0);
    struct record *r = &s.rec[1].items[0];
    ck_assert_uint_eq(r->src, 1);
    ck_assert_uint_eq(r->id, 77);
    ck_assert_uint_eq(r->len, 100);
    ck_assert(r->intact);
    ck_assert_uint_eq(r->at_us, 1000050);
    ck_assert_int_eq(tb->ops.next_timeout_us(tb->impl), -1);

    /* To ourselves, and to an endpoint nobody attached (lost). */
    ck_assert_int_eq(sim_send(&s, 0, "1", 78, 4, 0), 0);
    ck_assert_int_eq(sim_send(&s, 0, "9", 79, 4, 0), 0);
    sim_run_idle(&s);
    ck_assert_uint_eq(s.rec[0].count, 1);
    ck_assert_uint_eq(s.rec[0].items[0].id, 78);

    struct rshare_node_stats ns;
    ck_assert_int_eq(rshare_node_stats(s.nodes[1], &ns, sizeof(ns)), 0);
    ck_assert_uint_eq(ns.rx_packets, 1);
    ck_assert_uint_eq(ns.rx_bytes, 100);
    struct rshare_loop_stats st = net_stats(s.net);
    ck_assert_uint_eq(st.sent, 3);
    ck_assert_uint_eq(st.delivered, 2);
    ck_assert_uint_eq(st.lost, 1);
    sim_stop(&s);
}
END_TEST

START_TEST(test_run_done_and_timeout)
{
    struct sim s;
    sim_start(&s, 7, 2, NULL);
    uint64_t t0 = rshare_loop_net_now_us(s.net);
    /* Nothing to do: time jumps to the limit. */
    ck_assert_int_eq(rshare_loop_net_run(s.net, s.nodes, 2, NULL, NULL, 5000), RSHARE_ETIMEDOUT);
    ck_assert_uint_eq(rshare_loop_net_now_us(s.net), t0 + 5000);
    ck_assert_uint_eq(rshare_node_now_us(s.nodes[0]), t0 + 5000);
    /* Done at once: time stands still. */
    ck_assert_int_eq(rshare_loop_net_run(s.net, s.nodes, 2, net_idle, s.net, 5000), 0);
    ck_assert_uint_eq(rshare_loop_net_now_us(s.net), t0 + 5000);
    /* A delivery beyond the limit is not reached. */
    struct rshare_loop_link slow = link_cfg();
    slow.delay_us = 10000;
    ck_assert_int_eq(rshare_loop_net_set_link(s.net, 1, 2, &slow), 0);
    ck_assert_int_eq(sim_send(&s, 0, "2", 1, 8, 0), 0);
    ck_assert_int_eq(rshare_loop_net_run(s.net, s.nodes, 2, net_idle, s.net, 9999),
                     RSHARE_ETIMEDOUT);
    ck_assert_uint_eq(s.rec[1].count, 0);
    ck_assert_uint_eq(rshare_loop_net_now_us(s.net), t0 + 5000 + 9999);
    ck_assert_int_eq(rshare_loop_net_run(s.net, s.nodes, 2, net_idle, s.net, 1), 0);
    ck_assert_uint_eq(s.rec[1].count, 1);
    ck_assert_uint_eq(s.rec[1].items[0].at_us, t0 + 5000 + 10000);
    /* Without nodes the net still advances its deliveries' clock. */
    ck_assert_int_eq(rshare_loop_net_run(s.net, NULL, 0, NULL, NULL, 100), RSHARE_ETIMEDOUT);
    sim_stop(&s);
}
END_TEST

static void rearm_now(rshare_node *node, struct rs_timer *timer)
{
    rs_timer_schedule(node, timer, rs_now_us(node));
}

/* A node that always wants work "now" must not freeze virtual time. */
START_TEST(test_run_survives_busy_node)
{
    struct sim s;
    sim_start(&s, 7, 1, NULL);
    struct rs_timer timer;
    rs_timer_init(&timer, rearm_now);
    ck_assert_int_eq(rs_timer_schedule(s.nodes[0], &timer, rs_now_us(s.nodes[0])), 0);
    uint64_t t0 = rshare_loop_net_now_us(s.net);
    ck_assert_int_eq(rshare_loop_net_run(s.net, s.nodes, 1, NULL, NULL, 3), RSHARE_ETIMEDOUT);
    ck_assert_uint_eq(rshare_loop_net_now_us(s.net), t0 + 3);
    rs_timer_cancel(s.nodes[0], &timer);
    sim_stop(&s);
}
END_TEST

START_TEST(test_broadcast)
{
    struct sim s;
    sim_start(&s, 7, 4, NULL);
    ck_assert_int_eq(sim_send(&s, 0, "*", 5, 40, 0), 0);
    sim_run_idle(&s);
    ck_assert_uint_eq(s.rec[0].count, 0);
    for (size_t i = 1; i < 4; i++) {
        ck_assert_uint_eq(s.rec[i].count, 1);
        ck_assert_uint_eq(s.rec[i].items[0].src, 1);
        ck_assert_uint_eq(s.rec[i].items[0].id, 5);
        ck_assert(s.rec[i].items[0].intact);
    }
    ck_assert_uint_eq(net_stats(s.net).sent, 3);
    ck_assert_uint_eq(net_stats(s.net).delivered, 3);
    sim_stop(&s);
}
END_TEST

/* --- faults ------------------------------------------------------------------ */

static void send_batches(struct sim *s, size_t from, const char *to, uint32_t total, size_t len)
{
    for (uint32_t id = 0; id < total; id++) {
        ck_assert_int_eq(sim_send(s, from, to, id, len, 0), 0);
        if (id % 1000 == 999)
            sim_run_idle(s);
    }
    sim_run_idle(s);
}

START_TEST(test_loss)
{
    struct rshare_loop_link l = link_cfg();
    l.loss_ppm = 200000;
    struct sim s;
    sim_start(&s, 11, 2, &l);
    send_batches(&s, 0, "2", 10000, 64);
    struct rshare_loop_stats st = net_stats(s.net);
    /* Binomial(10000, 0.2): sd 40, so +-300 is 7.5 sd. */
    ck_assert_uint_ge(st.lost, 1700);
    ck_assert_uint_le(st.lost, 2300);
    ck_assert_uint_eq(st.sent, 10000);
    ck_assert_uint_eq(st.delivered + st.lost, 10000);
    ck_assert_uint_eq(s.rec[1].count, st.delivered);
    struct rshare_node_stats ns;
    ck_assert_int_eq(rshare_node_stats(s.nodes[1], &ns, sizeof(ns)), 0);
    ck_assert_uint_eq(ns.rx_packets, st.delivered);
    sim_stop(&s);
}
END_TEST

START_TEST(test_duplication)
{
    struct rshare_loop_link l = link_cfg();
    l.duplicate_ppm = 100000;
    l.jitter_us = 100;
    struct sim s;
    sim_start(&s, 12, 2, &l);
    send_batches(&s, 0, "2", 10000, 32);
    struct rshare_loop_stats st = net_stats(s.net);
    ck_assert_uint_ge(st.duplicated, 800);
    ck_assert_uint_le(st.duplicated, 1200);
    ck_assert_uint_eq(st.delivered, 10000 + st.duplicated);
    ck_assert_uint_eq(s.rec[1].count, st.delivered);
    /* The copies are real duplicates: each id arrives once or twice. */
    uint8_t *seen = calloc(10000, 1);
    ck_assert_ptr_nonnull(seen);
    size_t twice = 0;
    for (size_t i = 0; i < s.rec[1].count; i++) {
        struct record *r = &s.rec[1].items[i];
        ck_assert_uint_lt(r->id, 10000);
        ck_assert(r->intact);
        if (++seen[r->id] == 2)
            twice++;
        ck_assert_uint_le(seen[r->id], 2);
    }
    ck_assert_uint_eq(twice, st.duplicated);
    free(seen);
    sim_stop(&s);
}
END_TEST

static size_t count_inversions(const struct recorder *r)
{
    size_t inversions = 0;
    uint32_t highest = 0;
    for (size_t i = 0; i < r->count; i++) {
        if (i && r->items[i].id < highest)
            inversions++;
        if (r->items[i].id > highest)
            highest = r->items[i].id;
    }
    return inversions;
}

static void send_paced(struct sim *s, uint32_t total, uint64_t gap_us)
{
    for (uint32_t id = 0; id < total; id++) {
        ck_assert_int_eq(sim_send(s, 0, "2", id, 16, 0), 0);
        sim_advance(s, gap_us);
    }
    sim_run_idle(s);
}

START_TEST(test_reordering)
{
    /* Jitter far above the spacing, yet no reordering: links stay FIFO. */
    struct rshare_loop_link l = link_cfg();
    l.jitter_us = 5000;
    struct sim s;
    sim_start(&s, 13, 2, &l);
    send_paced(&s, 2000, 100);
    ck_assert_uint_eq(s.rec[1].count, 2000);
    ck_assert_uint_eq(count_inversions(&s.rec[1]), 0);
    ck_assert_uint_eq(net_stats(s.net).reordered, 0);
    sim_stop(&s);

    l.reorder_ppm = 100000;
    l.reorder_us = 5000;
    sim_start(&s, 13, 2, &l);
    send_paced(&s, 2000, 100);
    struct rshare_loop_stats st = net_stats(s.net);
    /* Binomial(2000, 0.1): mean 200, sd 13.4. */
    ck_assert_uint_ge(st.reordered, 130);
    ck_assert_uint_le(st.reordered, 270);
    ck_assert_uint_eq(s.rec[1].count, 2000);
    ck_assert_uint_ge(count_inversions(&s.rec[1]), 100);
    /* Deliveries never go back in time. */
    for (size_t i = 1; i < s.rec[1].count; i++)
        ck_assert_uint_ge(s.rec[1].items[i].at_us, s.rec[1].items[i - 1].at_us);
    sim_stop(&s);
}
END_TEST

START_TEST(test_bandwidth)
{
    /* 100 kbit/s, an SMBus-like 12 500 bytes/s: 125 bytes take 10 ms. */
    struct sim s;
    sim_start(&s, 14, 2, NULL);
    struct rshare_loop_link l = link_cfg();
    l.bandwidth_bps = 12500;
    ck_assert_int_eq(rshare_loop_net_set_link(s.net, 1, 2, &l), 0);
    uint64_t t0 = rshare_loop_net_now_us(s.net);
    for (uint32_t id = 0; id < 10; id++)
        ck_assert_int_eq(sim_send(&s, 0, "2", id, 125, 0), 0);
    ck_assert_int_eq(sim_send(&s, 1, "1", 99, 125, 0), 0); /* reverse: unlimited */
    sim_run_idle(&s);
    ck_assert_uint_eq(s.rec[1].count, 10);
    for (uint32_t k = 0; k < 10; k++) {
        ck_assert_uint_eq(s.rec[1].items[k].id, k);
        ck_assert_uint_eq(s.rec[1].items[k].at_us, t0 + (k + 1) * 10000u + 50);
    }
    ck_assert_uint_eq(s.rec[0].count, 1);
    ck_assert_uint_eq(s.rec[0].items[0].at_us, t0 + 50);

    /* An idle link starts afresh; 115 200 baud serial: 1152 bytes = 100 ms. */
    l.bandwidth_bps = 11520;
    l.delay_us = 0;
    ck_assert_int_eq(rshare_loop_net_set_link(s.net, 1, 2, &l), 0);
    uint64_t t1 = rshare_loop_net_now_us(s.net);
    ck_assert_int_eq(sim_send(&s, 0, "2", 100, 1152, 0), 0);
    sim_run_idle(&s);
    ck_assert_uint_eq(s.rec[1].count, 11);
    ck_assert_uint_eq(s.rec[1].items[10].at_us, t1 + 100000);
    sim_stop(&s);
}
END_TEST

START_TEST(test_urgent_overtakes_bulk)
{
    struct sim s;
    sim_start(&s, 15, 2, NULL);
    struct rshare_loop_link l = link_cfg();
    l.bandwidth_bps = 12500;
    ck_assert_int_eq(rshare_loop_net_set_link(s.net, 1, 2, &l), 0);
    uint64_t t0 = rshare_loop_net_now_us(s.net);
    for (uint32_t id = 0; id < 10; id++)
        ck_assert_int_eq(sim_send(&s, 0, "2", id, 125, 0), 0);
    ck_assert_int_eq(sim_send(&s, 0, "2", 1000, 16, RSHARE_SEND_URGENT), 0);
    ck_assert_int_eq(sim_send(&s, 0, "2", 10, 125, 0), 0);
    sim_run_idle(&s);
    ck_assert_uint_eq(s.rec[1].count, 12);
    /* 16 bytes at 12 500 B/s = 1280 us, ahead of 100 ms of bulk. */
    ck_assert_uint_eq(s.rec[1].items[0].id, 1000);
    ck_assert_uint_eq(s.rec[1].items[0].at_us, t0 + 1280 + 50);
    /* Bulk queued after it waits for the urgent packet's airtime too. */
    ck_assert_uint_eq(s.rec[1].items[11].id, 10);
    ck_assert_uint_eq(s.rec[1].items[11].at_us, t0 + 110000 + 1280 + 50);
    sim_stop(&s);
}
END_TEST

START_TEST(test_mtu)
{
    struct sim s;
    sim_start(&s, 16, 3, NULL);
    struct rshare_loop_link l = link_cfg();
    l.mtu = 128;
    ck_assert_int_eq(rshare_loop_net_set_link(s.net, 1, 2, &l), 0);
    ck_assert_int_eq(sim_send(&s, 0, "2", 1, 129, 0), RSHARE_EMSGSIZE);
    ck_assert_int_eq(sim_send(&s, 0, "2", 2, 128, 0), 0);
    ck_assert_int_eq(sim_send(&s, 1, "1", 3, 1000, 0), 0);
    ck_assert_int_eq(sim_send(&s, 0, "3", 4, 1000, 0), 0);
    /* A broadcast one link cannot carry is refused as a whole. */
    ck_assert_int_eq(sim_send(&s, 0, "*", 5, 129, 0), RSHARE_EMSGSIZE);
    ck_assert_uint_eq(net_stats(s.net).sent, 3);
    /* Above the endpoint MTU, the node refuses before the transport. */
    ck_assert_int_eq(sim_send(&s, 0, "3", 6, 1401, 0), RSHARE_EMSGSIZE);
    sim_run_idle(&s);
    ck_assert_uint_eq(s.rec[1].count, 1);
    ck_assert_uint_eq(s.rec[1].items[0].len, 128);
    sim_stop(&s);

    /* The default link's MTU is what new endpoints announce. */
    l = link_cfg();
    l.mtu = 72;
    sim_start(&s, 16, 2, &l);
    ck_assert_uint_eq(sim_transport(&s, 0)->mtu, 72);
    ck_assert_int_eq(sim_send(&s, 0, "2", 1, 73, 0), RSHARE_EMSGSIZE);
    ck_assert_int_eq(sim_send(&s, 0, "2", 1, 72, 0), 0);
    sim_stop(&s);
}
END_TEST

START_TEST(test_queue_limit)
{
    struct sim s;
    sim_start(&s, 17, 2, NULL);
    struct rshare_loop_link l = link_cfg();
    l.queue_limit = 10;
    l.bandwidth_bps = 1000;
    ck_assert_int_eq(rshare_loop_net_set_link(s.net, 1, 2, &l), 0);
    for (uint32_t id = 0; id < 25; id++)
        ck_assert_int_eq(sim_send(&s, 0, "2", id, 100, 0), 0);
    ck_assert_uint_eq(net_stats(s.net).queue_dropped, 15);
    sim_run_idle(&s);
    ck_assert_uint_eq(s.rec[1].count, 10);
    for (uint32_t k = 0; k < 10; k++)
        ck_assert_uint_eq(s.rec[1].items[k].id, k); /* tail drop keeps the head */
    /* Once drained, the queue accepts again. */
    ck_assert_int_eq(sim_send(&s, 0, "2", 50, 100, 0), 0);
    sim_run_idle(&s);
    ck_assert_uint_eq(s.rec[1].count, 11);
    ck_assert_uint_eq(net_stats(s.net).queue_dropped, 15);
    sim_stop(&s);
}
END_TEST

START_TEST(test_partition)
{
    struct sim s;
    sim_start(&s, 18, 3, NULL);
    ck_assert_int_eq(rshare_loop_net_partition(s.net, 1, 2, 1), 0);
    for (uint32_t id = 0; id < 5; id++) {
        ck_assert_int_eq(sim_send(&s, 0, "2", id, 16, 0), 0);
        ck_assert_int_eq(sim_send(&s, 1, "1", id, 16, 0), 0);
        ck_assert_int_eq(sim_send(&s, 0, "3", id, 16, 0), 0);
    }
    sim_run_idle(&s);
    ck_assert_uint_eq(s.rec[0].count, 0);
    ck_assert_uint_eq(s.rec[1].count, 0);
    ck_assert_uint_eq(s.rec[2].count, 5);
    ck_assert_uint_eq(net_stats(s.net).partitioned, 10);

    ck_assert_int_eq(rshare_loop_net_partition(s.net, 2, 1, 0), 0);
    ck_assert_int_eq(sim_send(&s, 0, "2", 10, 16, 0), 0);
    ck_assert_int_eq(sim_send(&s, 1, "1", 11, 16, 0), 0);
    sim_run_idle(&s);
    ck_assert_uint_eq(s.rec[1].count, 1);
    ck_assert_uint_eq(s.rec[0].count, 1);
    ck_assert_uint_eq(net_stats(s.net).partitioned, 10);
    sim_stop(&s);
}
END_TEST

START_TEST(test_flapping)
{
    struct rshare_loop_link l = link_cfg();
    l.flap_up_ms = 20;
    l.flap_down_ms = 20;
    struct sim s;
    sim_start(&s, 19, 2, &l);
    const uint32_t total = 20000;
    send_paced(&s, total, 1000);
    struct rshare_loop_stats st = net_stats(s.net);
    ck_assert_uint_eq(st.delivered + st.partitioned, total);
    ck_assert_uint_ge(st.partitioned, total * 3 / 10);
    ck_assert_uint_le(st.partitioned, total * 7 / 10);
    /* Outages come in runs (about 20 packets each), not as independent
     * losses, which would change state every other packet. */
    uint8_t *got = calloc(total, 1);
    ck_assert_ptr_nonnull(got);
    for (size_t i = 0; i < s.rec[1].count; i++)
        got[s.rec[1].items[i].id] = 1;
    size_t changes = 0;
    for (uint32_t id = 1; id < total; id++)
        changes += got[id] != got[id - 1];
    ck_assert_uint_ge(changes, 200);
    ck_assert_uint_le(changes, 2000);
    free(got);
    sim_stop(&s);
}
END_TEST

START_TEST(test_close_with_packets_in_flight)
{
    struct sim s;
    sim_start(&s, 20, 2, NULL);
    for (uint32_t id = 0; id < 5; id++)
        ck_assert_int_eq(sim_send(&s, 0, "2", id, 16, 0), 0);
    rshare_node_destroy(s.nodes[1]);
    free(s.rec[1].items);
    s.count = 1;
    struct rshare_loop_stats st = net_stats(s.net);
    ck_assert_uint_eq(st.lost, 5);
    ck_assert(net_idle(s.net));
    ck_assert_int_eq(sim_send(&s, 0, "2", 9, 16, 0), 0);
    ck_assert_uint_eq(net_stats(s.net).lost, 6);
    /* The address is free again. */
    rshare_node *again = make_node(s.net, 2);
    ck_assert_int_ge(rshare_node_add_loop(again, s.net, 2), 0);
    rshare_node_destroy(again);
    sim_stop(&s);

    /* A net destroyed before its nodes leaves them with a dead endpoint,
     * not a dangling one (this node keeps its own clock). */
    rshare_loop_net *net;
    ck_assert_int_eq(rshare_loop_net_create(3, &net), 0);
    rshare_node *a = make_node(NULL, 1);
    rshare_node *b = make_node(net, 2);
    int ia = rshare_node_add_loop(a, net, 1);
    ck_assert_int_ge(ia, 0);
    ck_assert_int_ge(rshare_node_add_loop(b, net, 2), 0);
    rshare_node_destroy(b);
    struct rs_transport *t = rs_transport_get(a, ia);
    struct rshare_link_addr dst;
    ck_assert_int_eq(t->ops.addr_parse(t->impl, "2", &dst), 0);
    uint8_t pkt[16] = {0};
    ck_assert_int_eq(t->ops.send(t->impl, &dst, pkt, sizeof(pkt), 0), 0);
    rshare_loop_net_destroy(net);
    ck_assert_int_eq(t->ops.send(t->impl, &dst, pkt, sizeof(pkt), 0), RSHARE_ESHUTDOWN);
    ck_assert_int_eq(t->ops.next_timeout_us(t->impl), -1);
    ck_assert_int_eq(t->ops.poll(t->impl, a, ia), 0);
    ck_assert_int_eq(rshare_node_process(a), 0);
    rshare_node_destroy(a);
}
END_TEST

/* Tens of thousands of packets in flight to one endpoint, arriving in
 * random order because of reordering: the heap keeps it fast and exact. */
START_TEST(test_many_in_flight)
{
    struct rshare_loop_link l = link_cfg();
    l.queue_limit = 100000;
    l.reorder_ppm = 500000;
    l.reorder_us = 1000000;
    struct sim s;
    sim_start(&s, 21, 3, &l);
    for (uint32_t id = 0; id < 50000; id++) {
        ck_assert_int_eq(sim_send(&s, 0, "3", id, 8, 0), 0);
        ck_assert_int_eq(sim_send(&s, 1, "3", id, 8, 0), 0);
    }
    sim_run_idle(&s);
    ck_assert_uint_eq(s.rec[2].count, 100000);
    for (size_t i = 1; i < s.rec[2].count; i++)
        ck_assert_uint_ge(s.rec[2].items[i].at_us, s.rec[2].items[i - 1].at_us);
    sim_stop(&s);
}
END_TEST

/* --- reproducibility ---------------------------------------------------------- */

struct outcome {
    struct rshare_loop_stats stats;
    uint64_t trace; /* FNV-1a over every delivery, in order */
    uint64_t end_us;
};

static uint64_t fnv(uint64_t h, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        h ^= (v >> (8 * i)) & 0xFF;
        h *= UINT64_C(0x100000001B3);
    }
    return h;
}

static struct outcome scenario(uint64_t seed)
{
    struct rshare_loop_link l = link_cfg();
    l.loss_ppm = 50000;
    l.duplicate_ppm = 50000;
    l.reorder_ppm = 50000;
    l.reorder_us = 2000;
    l.jitter_us = 300;
    l.bandwidth_bps = 1000000;
    l.flap_up_ms = 50;
    l.flap_down_ms = 10;
    struct sim s;
    sim_start(&s, seed, 4, &l);
    struct rshare_loop_link slow = l;
    slow.bandwidth_bps = 20000;
    ck_assert_int_eq(rshare_loop_net_set_link(s.net, 2, 3, &slow), 0);
    uint32_t pick = 12345; /* the traffic pattern is fixed; only faults vary */
    for (uint32_t id = 0; id < 2000; id++) {
        pick = pick * 1103515245u + 12345u;
        size_t from = (pick >> 16) % 4;
        const char *to = (pick >> 8) % 16 == 0 ? "*" : ((const char *[]){"1", "2", "3", "4"})[(pick >> 20) % 4];
        ck_assert_int_eq(sim_send(&s, from, to, id, 4 + (pick >> 4) % 200,
                                  id % 7 == 0 ? RSHARE_SEND_URGENT : 0), 0);
        if (id % 5 == 4)
            sim_advance(&s, 200);
    }
    sim_run_idle(&s);
    struct outcome o;
    memset(&o, 0, sizeof(o));
    o.stats = net_stats(s.net);
    o.trace = UINT64_C(0xCBF29CE484222325);
    for (size_t n = 0; n < s.count; n++)
        for (size_t i = 0; i < s.rec[n].count; i++) {
            const struct record *r = &s.rec[n].items[i];
            o.trace = fnv(o.trace, n);
            o.trace = fnv(o.trace, r->src);
            o.trace = fnv(o.trace, r->id);
            o.trace = fnv(o.trace, r->at_us);
        }
    o.end_us = rshare_loop_net_now_us(s.net);
    sim_stop(&s);
    return o;
}

START_TEST(test_same_seed_same_run)
{
    struct outcome a = scenario(42), b = scenario(42), c = scenario(43);
    ck_assert_mem_eq(&a.stats, &b.stats, sizeof(a.stats));
    ck_assert_uint_eq(a.trace, b.trace);
    ck_assert_uint_eq(a.end_us, b.end_us);
    /* Every fault did happen in the scenario. */
    ck_assert_uint_gt(a.stats.lost, 0);
    ck_assert_uint_gt(a.stats.duplicated, 0);
    ck_assert_uint_gt(a.stats.reordered, 0);
    ck_assert_uint_gt(a.stats.partitioned, 0);
    ck_assert_uint_ne(a.trace, c.trace);
    ck_assert(memcmp(&a.stats, &c.stats, sizeof(a.stats)) != 0);
}
END_TEST

static Suite *loop_suite(void)
{
    Suite *s = suite_create("loop");
    TCase *tc = tcase_create("loop");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_ops_and_addresses);
    tcase_add_test(tc, test_bad_arguments);
    tcase_add_test(tc, test_unicast_delivery);
    tcase_add_test(tc, test_run_done_and_timeout);
    tcase_add_test(tc, test_run_survives_busy_node);
    tcase_add_test(tc, test_broadcast);
    tcase_add_test(tc, test_loss);
    tcase_add_test(tc, test_duplication);
    tcase_add_test(tc, test_reordering);
    tcase_add_test(tc, test_bandwidth);
    tcase_add_test(tc, test_urgent_overtakes_bulk);
    tcase_add_test(tc, test_mtu);
    tcase_add_test(tc, test_queue_limit);
    tcase_add_test(tc, test_partition);
    tcase_add_test(tc, test_flapping);
    tcase_add_test(tc, test_close_with_packets_in_flight);
    tcase_add_test(tc, test_many_in_flight);
    tcase_add_test(tc, test_same_seed_same_run);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return rs_test_run(loop_suite());
}
