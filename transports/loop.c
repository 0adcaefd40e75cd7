/* rshare — the loop transport: a simulated network inside one process.  It
 * owns the virtual clock, the endpoints attached to nodes, the directed links
 * between them with their injected faults, and the packets in flight. */
#include "config.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "rshare/loop.h"

#define LOOP_BROADCAST 0xFFFFFFFFu
#define LOOP_ADDR_LEN 4
#define LOOP_START_US UINT64_C(1000000)
#define LOOP_PPM 1000000u

#define LOOP_DEFAULT_DELAY_US 50u
#define LOOP_DEFAULT_MTU 1400u
#define LOOP_DEFAULT_QUEUE_LIMIT 4096u

/* The first published layout of struct rshare_loop_link: callers must know
 * at least these fields; fields appended later take their defaults. */
#define LOOP_LINK_MIN_SIZE (offsetof(struct rshare_loop_link, queue_limit) + sizeof(uint32_t))

/* Steps of rshare_loop_net_run() at one instant before virtual time is
 * nudged forward by a microsecond.  A node that keeps asking for immediate
 * work (a timer re-armed at "now") would otherwise freeze the simulation,
 * whereas on real hardware the clock moves on while it spins. */
#define LOOP_STALL_STEPS 1000u

/* Catching up on a link's flapping after a long quiet period stops after
 * this many transitions and restarts the cycle from its stationary state. */
#define LOOP_FLAP_CATCH_UP 1024

/* xoshiro256**: small, fast and fully specified, so a seed means the same
 * run on every platform (rand() would not). */
struct loop_rng {
    uint64_t s[4];
};

struct loop_link {
    uint32_t from, to;
    bool has_config; /* else the net's default applies */
    struct rshare_loop_link config;
    bool cut;        /* rshare_loop_net_partition() */

    /* Random partitions: the parameters the cycle was started with (a
     * changed configuration restarts it), the state and the next change. */
    uint32_t flap_up_ms, flap_down_ms;
    bool flap_down;
    uint64_t flap_next_us;

    /* Each link draws from its own streams, so traffic on one link never
     * changes the faults another link sees; flapping has a stream of its own
     * so that its schedule does not depend on the traffic either. */
    struct loop_rng rng, flap_rng;

    uint64_t busy_until_us;        /* bandwidth: end of queued serialisation */
    uint64_t urgent_busy_until_us; /* the same, for urgent packets only */
    uint64_t last_arrival_us[2];   /* FIFO per class: bulk, urgent */
    uint32_t in_flight;
};

struct loop_packet {
    uint64_t at_us;
    uint64_t seq; /* ties on at_us are delivered in insertion order */
    struct loop_link *link;
    size_t len;
    uint8_t data[];
};

/* One endpoint = one transport instance attached to one node.  Packets on
 * their way to it wait in a binary min-heap ordered by (at_us, seq). */
struct loop_endpoint {
    rshare_loop_net *net; /* NULL once the net is destroyed */
    uint32_t address;
    struct loop_packet **heap;
    size_t count, capacity;
};

struct rshare_loop_net {
    uint64_t seed;
    uint64_t now_us;
    uint64_t next_seq;
    struct rshare_loop_link defaults;
    struct rshare_loop_stats stats;

    /* Sorted by address: binary search for unicast, a stable order for
     * broadcast copies. */
    struct loop_endpoint **endpoints;
    size_t endpoint_count, endpoint_capacity;

    /* Directed links, created on first use; open addressing keyed by
     * (from, to).  Links live as long as the net, so packets may point to
     * them. */
    struct loop_link **links;
    size_t link_count, link_capacity;
};

static uint64_t loop_clock_now(void *user_data);
static int validate_link(const struct rshare_loop_link *given, struct rshare_loop_link *out);
static void link_defaults(struct rshare_loop_link *link);
static bool valid_endpoint(uint32_t address);
static struct loop_link *link_get(rshare_loop_net *net, uint32_t from, uint32_t to);
static const struct rshare_loop_link *link_config(const rshare_loop_net *net,
                                                  const struct loop_link *link);
static struct loop_endpoint *endpoint_find(const rshare_loop_net *net, uint32_t address,
                                           size_t *index_out);
static int endpoint_insert(rshare_loop_net *net, struct loop_endpoint *ep);
static void endpoint_detach(struct loop_endpoint *ep);
static void endpoint_drop_packets(struct loop_endpoint *ep);
static uint64_t net_next_delivery_after(const rshare_loop_net *net, uint64_t after);
static int transmit(rshare_loop_net *net, struct loop_link *link, const void *data, size_t len,
                    bool urgent);
static bool link_is_down(struct loop_link *link, const struct rshare_loop_link *cfg,
                         uint64_t now);
static int enqueue(rshare_loop_net *net, struct loop_endpoint *dst, struct loop_link *link,
                   uint64_t at_us, const void *data, size_t len);
static int heap_push(struct loop_endpoint *ep, struct loop_packet *pkt);
static struct loop_packet *heap_pop(struct loop_endpoint *ep);
static void rng_seed(struct loop_rng *rng, uint64_t seed);
static uint64_t rng_next(struct loop_rng *rng);
static uint64_t rng_exponential_us(struct loop_rng *rng, uint32_t mean_ms);
static uint64_t mix64(uint64_t x);
static uint64_t add_sat(uint64_t a, uint64_t b);
static void addr_encode(struct rshare_link_addr *addr, uint32_t value);
static int addr_decode(const struct rshare_link_addr *addr, uint32_t *value);

static const struct rshare_transport_ops loop_ops;

/* --- public entry points ------------------------------------------------- */

RSHARE_API void rshare_loop_link_init(struct rshare_loop_link *link, size_t struct_size)
{
    if (!link || struct_size < sizeof(uint32_t))
        return;
    struct rshare_loop_link full;
    link_defaults(&full);
    memset(link, 0, struct_size);
    memcpy(link, &full, struct_size < sizeof(full) ? struct_size : sizeof(full));
    link->struct_size = struct_size > UINT32_MAX ? UINT32_MAX : (uint32_t)struct_size;
}

RSHARE_API int rshare_loop_net_create(uint64_t seed, rshare_loop_net **net_out)
{
    if (!net_out)
        return RSHARE_EINVAL;
    *net_out = NULL;
    rshare_loop_net *net = calloc(1, sizeof(*net));
    if (!net)
        return RSHARE_ENOMEM;
    net->seed = seed;
    net->now_us = LOOP_START_US;
    link_defaults(&net->defaults);
    net->stats.struct_size = sizeof(net->stats);
    *net_out = net;
    return 0;
}

RSHARE_API void rshare_loop_net_destroy(rshare_loop_net *net)
{
    if (!net)
        return;
    /* Endpoints still attached belong to nodes that will close them later:
     * cut them loose so that close() does not reach the freed net. */
    for (size_t i = 0; i < net->endpoint_count; i++) {
        struct loop_endpoint *ep = net->endpoints[i];
        endpoint_drop_packets(ep);
        ep->net = NULL;
    }
    free(net->endpoints);
    for (size_t i = 0; i < net->link_capacity; i++)
        free(net->links[i]);
    free(net->links);
    free(net);
}

/* A NULL net yields an absent clock (the node then keeps its default)
 * rather than one that crashes when read. */
RSHARE_API struct rshare_clock rshare_loop_net_clock(rshare_loop_net *net)
{
    struct rshare_clock clock = {NULL, NULL};
    if (net) {
        clock.now_us = loop_clock_now;
        clock.user_data = net;
    }
    return clock;
}

RSHARE_API uint64_t rshare_loop_net_now_us(const rshare_loop_net *net)
{
    return net ? net->now_us : 0;
}

RSHARE_API int rshare_loop_net_set_default(rshare_loop_net *net,
                                           const struct rshare_loop_link *link)
{
    if (!net)
        return RSHARE_EINVAL;
    struct rshare_loop_link cfg;
    int rc = validate_link(link, &cfg);
    if (rc < 0)
        return rc;
    net->defaults = cfg;
    return 0;
}

RSHARE_API int rshare_loop_net_set_link(rshare_loop_net *net, uint32_t from, uint32_t to,
                                        const struct rshare_loop_link *link)
{
    if (!net || !valid_endpoint(from) || !valid_endpoint(to))
        return RSHARE_EINVAL;
    struct rshare_loop_link cfg;
    int rc = validate_link(link, &cfg);
    if (rc < 0)
        return rc;
    struct loop_link *l = link_get(net, from, to);
    if (!l)
        return RSHARE_ENOMEM;
    l->config = cfg;
    l->has_config = true;
    return 0;
}

RSHARE_API int rshare_loop_net_partition(rshare_loop_net *net, uint32_t a, uint32_t b, int cut)
{
    if (!net || !valid_endpoint(a) || !valid_endpoint(b) || a == b)
        return RSHARE_EINVAL;
    struct loop_link *ab = link_get(net, a, b);
    struct loop_link *ba = ab ? link_get(net, b, a) : NULL;
    if (!ba)
        return RSHARE_ENOMEM;
    ab->cut = ba->cut = cut != 0;
    return 0;
}

RSHARE_API int rshare_node_add_loop(rshare_node *node, rshare_loop_net *net, uint32_t address)
{
    if (!node)
        return RSHARE_EINVAL;
    if (!net)
        return rs_errorf(node, RSHARE_EINVAL, "loop transport needs a network");
    if (!valid_endpoint(address))
        return rs_errorf(node, RSHARE_EINVAL, "loop address %u is reserved", address);
    if (endpoint_find(net, address, NULL))
        return rs_errorf(node, RSHARE_EEXIST, "loop address %u is already attached", address);
    struct loop_endpoint *ep = calloc(1, sizeof(*ep));
    if (!ep)
        return rs_errorf(node, RSHARE_ENOMEM, "cannot allocate a loop endpoint");
    ep->net = net;
    ep->address = address;
    if (endpoint_insert(net, ep) < 0) {
        free(ep);
        return rs_errorf(node, RSHARE_ENOMEM, "cannot grow the loop endpoint table");
    }
    /* On failure the node calls loop_close(), which detaches the endpoint. */
    return rshare_node_add_transport(node, &loop_ops, ep);
}

RSHARE_API int rshare_loop_net_run(rshare_loop_net *net, rshare_node *const *nodes, size_t count,
                                   int (*done)(void *user_data), void *user_data,
                                   uint64_t max_us)
{
    if (!net || (count && !nodes))
        return RSHARE_EINVAL;
    for (size_t i = 0; i < count; i++)
        if (!nodes[i])
            return RSHARE_EINVAL;
    uint64_t limit = add_sat(net->now_us, max_us);
    unsigned stalled = 0;
    for (;;) {
        if (done && done(user_data))
            return 0;
        uint64_t now = net->now_us;
        uint64_t next = UINT64_MAX;
        for (size_t i = 0; i < count; i++) {
            int64_t t = rshare_node_timeout_us(nodes[i]);
            if (t >= 0 && add_sat(now, (uint64_t)t) < next)
                next = add_sat(now, (uint64_t)t);
        }
        /* Deliveries already due wait for their node, which reports them
         * through its own timeout; counting them here would spin on
         * endpoints whose node is not in `nodes`. */
        uint64_t delivery = net_next_delivery_after(net, now);
        if (delivery < next)
            next = delivery;
        if (next == UINT64_MAX || next > limit) {
            if (limit > net->now_us)
                net->now_us = limit;
            return RSHARE_ETIMEDOUT;
        }
        if (next > now) {
            net->now_us = next;
            stalled = 0;
        } else if (++stalled >= LOOP_STALL_STEPS) {
            if (now >= limit)
                return RSHARE_ETIMEDOUT;
            net->now_us = now + 1;
            stalled = 0;
        }
        for (size_t i = 0; i < count; i++) {
            int rc = rshare_node_process(nodes[i]);
            if (rc < 0)
                return rc;
        }
    }
}

RSHARE_API int rshare_loop_net_stats(const rshare_loop_net *net, struct rshare_loop_stats *stats,
                                     size_t struct_size)
{
    if (!net || !stats || struct_size < 2 * sizeof(uint32_t))
        return RSHARE_EINVAL;
    struct rshare_loop_stats copy = net->stats;
    copy.struct_size = sizeof(copy);
    size_t n = struct_size < sizeof(copy) ? struct_size : sizeof(copy);
    memcpy(stats, &copy, n);
    stats->struct_size = (uint32_t)n;
    return 0;
}

/* --- the transport operations --------------------------------------------- */

static uint32_t loop_caps(void *impl)
{
    (void)impl;
    return RSHARE_TRANSPORT_CAP_BROADCAST | RSHARE_TRANSPORT_CAP_BULK |
           RSHARE_TRANSPORT_CAP_PRIORITY;
}

/* The node reads this once, at attach time: the default link MTU then.
 * Links configured with a smaller MTU refuse larger packets in send(). */
static size_t loop_mtu(void *impl)
{
    struct loop_endpoint *ep = impl;
    return ep && ep->net ? ep->net->defaults.mtu : LOOP_DEFAULT_MTU;
}

/* RSHARE_SEND_URGENT: an urgent packet only waits for earlier urgent
 * packets on a bandwidth-limited link, so it overtakes queued bulk data the
 * way a priority queue in front of a slow bus would.  The bulk queue is then
 * pushed back by the urgent packet's transmission time (packets already
 * scheduled keep their times: a small, bounded overshoot). */
static int loop_send(void *impl, const struct rshare_link_addr *dst, const void *packet,
                     size_t len, unsigned flags)
{
    struct loop_endpoint *ep = impl;
    uint32_t to;
    if (!ep || !dst || (!packet && len) || addr_decode(dst, &to) < 0)
        return RSHARE_EINVAL;
    rshare_loop_net *net = ep->net;
    if (!net)
        return RSHARE_ESHUTDOWN;
    bool urgent = (flags & RSHARE_SEND_URGENT) != 0;
    if (to != LOOP_BROADCAST) {
        struct loop_link *link = link_get(net, ep->address, to);
        if (!link)
            return RSHARE_ENOMEM;
        if (len > link_config(net, link)->mtu)
            return RSHARE_EMSGSIZE;
        return transmit(net, link, packet, len, urgent);
    }
    /* Broadcast: one independent copy per other endpoint.  Check every
     * link's MTU first so that a refused broadcast sends nothing at all. */
    for (size_t i = 0; i < net->endpoint_count; i++) {
        uint32_t peer = net->endpoints[i]->address;
        if (peer == ep->address)
            continue;
        struct loop_link *link = link_get(net, ep->address, peer);
        if (!link)
            return RSHARE_ENOMEM;
        if (len > link_config(net, link)->mtu)
            return RSHARE_EMSGSIZE;
    }
    for (size_t i = 0; i < net->endpoint_count; i++) {
        uint32_t peer = net->endpoints[i]->address;
        if (peer == ep->address)
            continue;
        int rc = transmit(net, link_get(net, ep->address, peer), packet, len, urgent);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Vectored sends gather the pieces and go the same way as send(): the
 * simulation keeps its own copy of every packet anyway, and the link
 * layer's vectored path is exercised by every simulated cluster. */
static int loop_sendv(void *impl, const struct rshare_link_addr *dst,
                      const struct rshare_iovec *pieces, size_t count, unsigned flags)
{
    size_t len = 0;
    for (size_t i = 0; i < count; i++) {
        if (!pieces[i].base && pieces[i].len)
            return RSHARE_EINVAL;
        len += pieces[i].len;
    }
    uint8_t *packet = malloc(len ? len : 1);
    if (!packet)
        return RSHARE_ENOMEM;
    size_t at = 0;
    for (size_t i = 0; i < count; i++) {
        if (pieces[i].len)
            memcpy(packet + at, pieces[i].base, pieces[i].len);
        at += pieces[i].len;
    }
    int rc = loop_send(impl, dst, packet, len, flags);
    free(packet);
    return rc;
}

/* Hands every packet due now to the node.  Packets queued while doing so
 * (a reply to ourselves with zero delay) wait for the next call, so one
 * call always ends. */
static int loop_poll(void *impl, rshare_node *node, int transport_index)
{
    struct loop_endpoint *ep = impl;
    if (!ep || !node)
        return RSHARE_EINVAL;
    rshare_loop_net *net = ep->net;
    if (!net)
        return 0;
    uint64_t now = net->now_us;
    uint64_t seq_limit = net->next_seq;
    int pushed = 0;
    while (ep->count && pushed < INT_MAX) {
        struct loop_packet *top = ep->heap[0];
        if (top->at_us > now || top->seq >= seq_limit)
            break;
        heap_pop(ep);
        top->link->in_flight--;
        net->stats.delivered++;
        struct rshare_link_addr src;
        addr_encode(&src, top->link->from);
        /* A rejected packet is counted by the node; the net delivered it. */
        (void)rshare_node_push(node, transport_index, &src, top->data, top->len);
        free(top);
        pushed++;
    }
    return pushed;
}

static int64_t loop_next_timeout_us(void *impl)
{
    struct loop_endpoint *ep = impl;
    if (!ep || !ep->net || !ep->count)
        return -1;
    uint64_t at = ep->heap[0]->at_us, now = ep->net->now_us;
    if (at <= now)
        return 0;
    return at - now > INT64_MAX ? INT64_MAX : (int64_t)(at - now);
}

static int loop_addr_format(void *impl, const struct rshare_link_addr *addr, char *buf,
                            size_t buf_len)
{
    (void)impl;
    uint32_t value;
    if (!addr || !buf || !buf_len || addr_decode(addr, &value) < 0)
        return RSHARE_EINVAL;
    int n = value == LOOP_BROADCAST ? snprintf(buf, buf_len, "*")
                                    : snprintf(buf, buf_len, "%lu", (unsigned long)value);
    if (n < 0 || (size_t)n >= buf_len) {
        buf[0] = '\0';
        return RSHARE_EINVAL;
    }
    return n;
}

/* Accepts "*" or a plain decimal endpoint number: no sign, no spaces, no
 * trailing characters, nothing outside 1 .. 0xFFFFFFFE. */
static int loop_addr_parse(void *impl, const char *text, struct rshare_link_addr *addr)
{
    (void)impl;
    if (!text || !addr)
        return RSHARE_EINVAL;
    if (strcmp(text, "*") == 0) {
        addr_encode(addr, LOOP_BROADCAST);
        return 0;
    }
    uint64_t value = 0;
    size_t digits = 0;
    for (const char *p = text; *p; p++, digits++) {
        if (*p < '0' || *p > '9' || digits >= 10)
            return RSHARE_EINVAL;
        value = value * 10 + (uint64_t)(*p - '0');
    }
    if (!digits || value > UINT32_MAX || !valid_endpoint((uint32_t)value))
        return RSHARE_EINVAL;
    addr_encode(addr, (uint32_t)value);
    return 0;
}

static int loop_broadcast_addr(void *impl, struct rshare_link_addr *addr)
{
    (void)impl;
    if (!addr)
        return RSHARE_EINVAL;
    addr_encode(addr, LOOP_BROADCAST);
    return 0;
}

static int loop_control(void *impl, int op, void *arg)
{
    (void)impl;
    (void)op;
    (void)arg;
    return RSHARE_ENOTSUP;
}

static void loop_close(void *impl)
{
    struct loop_endpoint *ep = impl;
    if (!ep)
        return;
    endpoint_detach(ep);
    free(ep);
}

/* No fd: the loop is driven by next_timeout_us() and the virtual clock. */
static const struct rshare_transport_ops loop_ops = {
    .struct_size = sizeof(struct rshare_transport_ops),
    .version = RSHARE_TRANSPORT_OPS_VERSION,
    .name = "loop",
    .caps = loop_caps,
    .mtu = loop_mtu,
    .send = loop_send,
    .poll = loop_poll,
    .fd = NULL,
    .next_timeout_us = loop_next_timeout_us,
    .addr_format = loop_addr_format,
    .addr_parse = loop_addr_parse,
    .broadcast_addr = loop_broadcast_addr,
    .control = loop_control,
    .close = loop_close,
    .sendv = loop_sendv,
};

/* --- the simulated link ---------------------------------------------------- */

/* Puts one copy of a packet on a link.  Every copy counts as sent and ends
 * as exactly one of: partitioned, lost, queue_dropped or in flight (later
 * delivered, or lost when its endpoint closes); duplicates add copies. */
static int transmit(rshare_loop_net *net, struct loop_link *link, const void *data, size_t len,
                    bool urgent)
{
    const struct rshare_loop_link *cfg = link_config(net, link);
    uint64_t now = net->now_us;
    net->stats.sent++;
    if (link_is_down(link, cfg, now)) {
        net->stats.partitioned++;
        return 0;
    }
    struct loop_endpoint *dst = endpoint_find(net, link->to, NULL);
    if (!dst) {
        net->stats.lost++; /* nobody listens at that address */
        return 0;
    }
    if (link->in_flight >= cfg->queue_limit) {
        net->stats.queue_dropped++;
        return 0;
    }

    /* Always the same draws per packet, whatever the outcome, so each
     * packet's fate depends only on its position in the link's traffic. */
    uint64_t r_loss = rng_next(&link->rng);
    uint64_t r_jitter = rng_next(&link->rng);
    uint64_t r_reorder = rng_next(&link->rng);
    uint64_t r_hold = rng_next(&link->rng);
    uint64_t r_dup = rng_next(&link->rng);
    uint64_t r_dup_jitter = rng_next(&link->rng);

    /* Serialisation: the link carries one packet at a time at its
     * bandwidth; the packet arrives once its last byte has crossed. */
    uint64_t tx_us = 0;
    if (cfg->bandwidth_bps)
        tx_us = ((uint64_t)len * 1000000u + cfg->bandwidth_bps - 1) / cfg->bandwidth_bps;
    uint64_t start;
    if (urgent) {
        start = now > link->urgent_busy_until_us ? now : link->urgent_busy_until_us;
        link->urgent_busy_until_us = start + tx_us;
        link->busy_until_us = (now > link->busy_until_us ? now : link->busy_until_us) + tx_us;
    } else {
        start = now > link->busy_until_us ? now : link->busy_until_us;
        link->busy_until_us = start + tx_us;
    }
    uint64_t jitter_span = (uint64_t)cfg->jitter_us + 1;
    uint64_t at = start + tx_us + cfg->delay_us + r_jitter % jitter_span;

    /* Lost on the wire: the packet still used its share of the bandwidth. */
    if (r_loss % LOOP_PPM < cfg->loss_ppm) {
        net->stats.lost++;
        return 0;
    }
    /* Jitter alone keeps a link in order, as real links do; only packets
     * picked for reordering are held back past their successors. */
    int cls = urgent ? 1 : 0;
    if (cfg->reorder_us && r_reorder % LOOP_PPM < cfg->reorder_ppm) {
        at += 1 + r_hold % cfg->reorder_us;
        net->stats.reordered++;
    } else {
        if (at < link->last_arrival_us[cls])
            at = link->last_arrival_us[cls];
        link->last_arrival_us[cls] = at;
    }
    int rc = enqueue(net, dst, link, at, data, len);
    if (rc < 0) {
        net->stats.sent--;
        return rc;
    }
    if (r_dup % LOOP_PPM < cfg->duplicate_ppm &&
        enqueue(net, dst, link, at + r_dup_jitter % jitter_span, data, len) == 0)
        net->stats.duplicated++;
    return 0;
}

/* Flapping is evaluated lazily, when the link is used: the state changes
 * at exponentially distributed instants drawn from the link's own stream. */
static bool link_is_down(struct loop_link *link, const struct rshare_loop_link *cfg,
                         uint64_t now)
{
    if (!cfg->flap_up_ms || !cfg->flap_down_ms) {
        link->flap_up_ms = link->flap_down_ms = 0;
        link->flap_down = false;
        return link->cut;
    }
    if (link->flap_up_ms != cfg->flap_up_ms || link->flap_down_ms != cfg->flap_down_ms) {
        link->flap_up_ms = cfg->flap_up_ms;
        link->flap_down_ms = cfg->flap_down_ms;
        link->flap_down = false;
        link->flap_next_us = add_sat(now, rng_exponential_us(&link->flap_rng, cfg->flap_up_ms));
    }
    int steps = 0;
    while (link->flap_next_us <= now && steps++ < LOOP_FLAP_CATCH_UP) {
        link->flap_down = !link->flap_down;
        uint32_t mean = link->flap_down ? cfg->flap_down_ms : cfg->flap_up_ms;
        link->flap_next_us = add_sat(link->flap_next_us, rng_exponential_us(&link->flap_rng, mean));
    }
    if (link->flap_next_us <= now) {
        /* Long idle: the exponential has no memory, so restarting from the
         * stationary distribution at `now` is statistically exact. */
        uint64_t total = (uint64_t)cfg->flap_up_ms + cfg->flap_down_ms;
        link->flap_down = rng_next(&link->flap_rng) % total < cfg->flap_down_ms;
        uint32_t mean = link->flap_down ? cfg->flap_down_ms : cfg->flap_up_ms;
        link->flap_next_us = add_sat(now, rng_exponential_us(&link->flap_rng, mean));
    }
    return link->cut || link->flap_down;
}

static int enqueue(rshare_loop_net *net, struct loop_endpoint *dst, struct loop_link *link,
                   uint64_t at_us, const void *data, size_t len)
{
    struct loop_packet *pkt = malloc(sizeof(*pkt) + len);
    if (!pkt)
        return RSHARE_ENOMEM;
    pkt->at_us = at_us;
    pkt->seq = net->next_seq;
    pkt->link = link;
    pkt->len = len;
    if (len)
        memcpy(pkt->data, data, len);
    if (heap_push(dst, pkt) < 0) {
        free(pkt);
        return RSHARE_ENOMEM;
    }
    net->next_seq++;
    link->in_flight++;
    return 0;
}

/* --- links and endpoints ----------------------------------------------------- */

static uint64_t loop_clock_now(void *user_data)
{
    const rshare_loop_net *net = user_data;
    return net ? net->now_us : 0;
}

static void link_defaults(struct rshare_loop_link *link)
{
    memset(link, 0, sizeof(*link));
    link->struct_size = sizeof(*link);
    link->delay_us = LOOP_DEFAULT_DELAY_US; /* zero would let time stand still */
    link->mtu = LOOP_DEFAULT_MTU;
    link->queue_limit = LOOP_DEFAULT_QUEUE_LIMIT;
}

static int validate_link(const struct rshare_loop_link *given, struct rshare_loop_link *out)
{
    if (!given)
        return RSHARE_EINVAL;
    if (given->struct_size < LOOP_LINK_MIN_SIZE)
        return RSHARE_EVERSION;
    link_defaults(out);
    memcpy(out, given, given->struct_size < sizeof(*out) ? given->struct_size : sizeof(*out));
    out->struct_size = sizeof(*out);
    if (out->loss_ppm > LOOP_PPM || out->duplicate_ppm > LOOP_PPM || out->reorder_ppm > LOOP_PPM)
        return RSHARE_EINVAL;
    if (out->mtu < RSHARE_TRANSPORT_MTU_MIN || out->mtu > RSHARE_TRANSPORT_MTU_MAX)
        return RSHARE_EINVAL;
    if (!out->queue_limit)
        return RSHARE_EINVAL;
    /* A flapping cycle needs both halves; one alone is a mistake. */
    if (!out->flap_up_ms != !out->flap_down_ms)
        return RSHARE_EINVAL;
    return 0;
}

static bool valid_endpoint(uint32_t address)
{
    return address != 0 && address != LOOP_BROADCAST;
}

static const struct rshare_loop_link *link_config(const rshare_loop_net *net,
                                                  const struct loop_link *link)
{
    return link->has_config ? &link->config : &net->defaults;
}

static size_t link_slot(const rshare_loop_net *net, uint64_t key)
{
    size_t mask = net->link_capacity - 1;
    size_t i = (size_t)mix64(key) & mask;
    while (net->links[i] && (((uint64_t)net->links[i]->from << 32) | net->links[i]->to) != key)
        i = (i + 1) & mask;
    return i;
}

static int link_table_grow(rshare_loop_net *net)
{
    size_t old_capacity = net->link_capacity;
    struct loop_link **old = net->links;
    size_t capacity = old_capacity ? old_capacity * 2 : 64;
    if (capacity > SIZE_MAX / sizeof(*old))
        return RSHARE_ENOMEM;
    struct loop_link **links = calloc(capacity, sizeof(*links));
    if (!links)
        return RSHARE_ENOMEM;
    net->links = links;
    net->link_capacity = capacity;
    for (size_t i = 0; i < old_capacity; i++) {
        if (!old[i])
            continue;
        uint64_t key = ((uint64_t)old[i]->from << 32) | old[i]->to;
        links[link_slot(net, key)] = old[i];
    }
    free(old);
    return 0;
}

/* Finds or creates the directed link from -> to (NULL: out of memory). */
static struct loop_link *link_get(rshare_loop_net *net, uint32_t from, uint32_t to)
{
    uint64_t key = ((uint64_t)from << 32) | to;
    if (net->link_capacity) {
        struct loop_link *found = net->links[link_slot(net, key)];
        if (found)
            return found;
    }
    if ((net->link_count + 1) * 2 > net->link_capacity && link_table_grow(net) < 0)
        return NULL;
    struct loop_link *link = calloc(1, sizeof(*link));
    if (!link)
        return NULL;
    link->from = from;
    link->to = to;
    rng_seed(&link->rng, net->seed ^ mix64(key));
    rng_seed(&link->flap_rng, net->seed ^ mix64(key ^ UINT64_C(0x666c61702d726e67)));
    net->links[link_slot(net, key)] = link;
    net->link_count++;
    return link;
}

static struct loop_endpoint *endpoint_find(const rshare_loop_net *net, uint32_t address,
                                           size_t *index_out)
{
    size_t lo = 0, hi = net->endpoint_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint32_t a = net->endpoints[mid]->address;
        if (a == address) {
            if (index_out)
                *index_out = mid;
            return net->endpoints[mid];
        }
        if (a < address)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (index_out)
        *index_out = lo;
    return NULL;
}

static int endpoint_insert(rshare_loop_net *net, struct loop_endpoint *ep)
{
    if (net->endpoint_count == net->endpoint_capacity) {
        size_t capacity = net->endpoint_capacity ? net->endpoint_capacity * 2 : 8;
        if (capacity > SIZE_MAX / sizeof(*net->endpoints))
            return RSHARE_ENOMEM;
        struct loop_endpoint **grown = realloc(net->endpoints, capacity * sizeof(*grown));
        if (!grown)
            return RSHARE_ENOMEM;
        net->endpoints = grown;
        net->endpoint_capacity = capacity;
    }
    size_t index;
    endpoint_find(net, ep->address, &index);
    memmove(&net->endpoints[index + 1], &net->endpoints[index],
            (net->endpoint_count - index) * sizeof(*net->endpoints));
    net->endpoints[index] = ep;
    net->endpoint_count++;
    return 0;
}

/* Packets still on their way to a closing endpoint are lost with it. */
static void endpoint_detach(struct loop_endpoint *ep)
{
    rshare_loop_net *net = ep->net;
    if (!net) {
        free(ep->heap);
        ep->heap = NULL;
        return;
    }
    size_t index;
    if (endpoint_find(net, ep->address, &index) == ep) {
        memmove(&net->endpoints[index], &net->endpoints[index + 1],
                (net->endpoint_count - index - 1) * sizeof(*net->endpoints));
        net->endpoint_count--;
    }
    net->stats.lost += ep->count;
    endpoint_drop_packets(ep);
    ep->net = NULL;
}

static void endpoint_drop_packets(struct loop_endpoint *ep)
{
    for (size_t i = 0; i < ep->count; i++) {
        ep->heap[i]->link->in_flight--;
        free(ep->heap[i]);
    }
    free(ep->heap);
    ep->heap = NULL;
    ep->count = ep->capacity = 0;
}

static uint64_t net_next_delivery_after(const rshare_loop_net *net, uint64_t after)
{
    uint64_t best = UINT64_MAX;
    for (size_t i = 0; i < net->endpoint_count; i++) {
        const struct loop_endpoint *ep = net->endpoints[i];
        if (ep->count && ep->heap[0]->at_us > after && ep->heap[0]->at_us < best)
            best = ep->heap[0]->at_us;
    }
    return best;
}

/* --- the delivery heap --------------------------------------------------------- */

static bool packet_before(const struct loop_packet *a, const struct loop_packet *b)
{
    return a->at_us < b->at_us || (a->at_us == b->at_us && a->seq < b->seq);
}

static int heap_push(struct loop_endpoint *ep, struct loop_packet *pkt)
{
    if (ep->count == ep->capacity) {
        size_t capacity = ep->capacity ? ep->capacity * 2 : 16;
        if (capacity > SIZE_MAX / sizeof(*ep->heap))
            return RSHARE_ENOMEM;
        struct loop_packet **grown = realloc(ep->heap, capacity * sizeof(*grown));
        if (!grown)
            return RSHARE_ENOMEM;
        ep->heap = grown;
        ep->capacity = capacity;
    }
    size_t i = ep->count++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!packet_before(pkt, ep->heap[parent]))
            break;
        ep->heap[i] = ep->heap[parent];
        i = parent;
    }
    ep->heap[i] = pkt;
    return 0;
}

static struct loop_packet *heap_pop(struct loop_endpoint *ep)
{
    struct loop_packet *top = ep->heap[0];
    struct loop_packet *last = ep->heap[--ep->count];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= ep->count)
            break;
        if (child + 1 < ep->count && packet_before(ep->heap[child + 1], ep->heap[child]))
            child++;
        if (!packet_before(ep->heap[child], last))
            break;
        ep->heap[i] = ep->heap[child];
        i = child;
    }
    if (ep->count)
        ep->heap[i] = last;
    return top;
}

/* --- randomness ------------------------------------------------------------------- */

/* splitmix64's finaliser: spreads seeds and hash keys over all 64 bits. */
static uint64_t mix64(uint64_t x)
{
    x += UINT64_C(0x9E3779B97F4A7C15);
    x = (x ^ (x >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94D049BB133111EB);
    return x ^ (x >> 31);
}

static void rng_seed(struct loop_rng *rng, uint64_t seed)
{
    /* Consecutive splitmix64 outputs never give the all-zero state. */
    for (int i = 0; i < 4; i++) {
        rng->s[i] = mix64(seed);
        seed += UINT64_C(0x9E3779B97F4A7C15);
    }
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct loop_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* -ln(u) for u in (0, 1], computed here so the library needs no libm:
 * scale u into [0.5, 1] and sum the atanh series, which converges fast
 * there (|s| <= 1/3). */
static double neg_log_unit(double u)
{
    static const double ln2 = 0.69314718055994530942;
    int halvings = 0;
    while (u < 0.5) {
        u *= 2.0;
        halvings++;
    }
    double s = (u - 1.0) / (u + 1.0), s2 = s * s, term = s, sum = 0.0;
    for (int k = 1; k < 40; k += 2) {
        sum += term / k;
        term *= s2;
    }
    return halvings * ln2 - 2.0 * sum;
}

/* An exponentially distributed duration with the given mean, at least 1 us. */
static uint64_t rng_exponential_us(struct loop_rng *rng, uint32_t mean_ms)
{
    double u = (double)((rng_next(rng) >> 11) + 1) * (1.0 / 9007199254740992.0);
    double us = neg_log_unit(u) * (double)mean_ms * 1000.0;
    if (us < 1.0)
        return 1;
    if (us > 4.0e18)
        return UINT64_C(4000000000000000000);
    return (uint64_t)us;
}

/* --- small helpers ------------------------------------------------------------------ */

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static void addr_encode(struct rshare_link_addr *addr, uint32_t value)
{
    memset(addr, 0, sizeof(*addr));
    addr->len = LOOP_ADDR_LEN;
    addr->bytes[0] = (uint8_t)(value >> 24);
    addr->bytes[1] = (uint8_t)(value >> 16);
    addr->bytes[2] = (uint8_t)(value >> 8);
    addr->bytes[3] = (uint8_t)value;
}

/* Accepts an endpoint number or the broadcast address; 0 is never valid. */
static int addr_decode(const struct rshare_link_addr *addr, uint32_t *value)
{
    if (addr->len != LOOP_ADDR_LEN)
        return RSHARE_EINVAL;
    uint32_t v = (uint32_t)addr->bytes[0] << 24 | (uint32_t)addr->bytes[1] << 16 |
                 (uint32_t)addr->bytes[2] << 8 | addr->bytes[3];
    if (v == 0)
        return RSHARE_EINVAL;
    *value = v;
    return 0;
}
