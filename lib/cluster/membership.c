/* rshare cluster — membership: every node says hello (its slot, install
 * order, eligibility and whether it holds a map) every hello_interval_ms,
 * by broadcast on the transports that can and to its configured seeds; a
 * node not heard from for member_timeout_ms is down.  Hot-plug and leaves
 * are noticed within that timeout. */
#include "config.h"

#include <string.h>

#include "cluster.h"
#include "core/sorted.h"
#include "msg/msg.h"

#define HELLO_VERSION 1

static void hello_tick(rshare_node *node, struct rs_timer *timer);

static size_t member_pos(struct rs_cluster *cl, uint32_t id, bool *found)
{
    /* Elements start with their id, as rs_sorted_find() needs. */
    return rs_sorted_find(cl->members, cl->member_count, sizeof(*cl->members), id, found);
}

const struct rs_member *rs_member_find(rshare_node *node, uint32_t id)
{
    struct rs_cluster *cl = rs_cluster(node);
    bool found;
    size_t pos = member_pos(cl, id, &found);
    return found ? &cl->members[pos] : NULL;
}

void rs_member_heard_raft(rshare_node *node, uint32_t id)
{
    struct rs_cluster *cl = rs_cluster(node);
    bool found;
    size_t pos = member_pos(cl, id, &found);
    if (found)
        cl->members[pos].last_raft_us = rs_now_us(node);
}

static struct rs_member *member_get(rshare_node *node, uint32_t id)
{
    struct rs_cluster *cl = rs_cluster(node);
    bool found;
    size_t pos = member_pos(cl, id, &found);
    if (found)
        return &cl->members[pos];
    if (cl->member_count >= RS_MAP_MAX_MEMBERS)
        return NULL;
    if (cl->member_count == cl->member_cap) {
        size_t cap = cl->member_cap ? cl->member_cap * 2 : 16;
        struct rs_member *grown = rs_realloc(node, cl->members, cap * sizeof(*grown));
        if (!grown)
            return NULL;
        cl->members = grown;
        cl->member_cap = cap;
    }
    memmove(&cl->members[pos + 1], &cl->members[pos],
            (cl->member_count - pos) * sizeof(*cl->members));
    cl->member_count++;
    memset(&cl->members[pos], 0, sizeof(cl->members[pos]));
    cl->members[pos].id = id;
    return &cl->members[pos];
}

void rs_membership_observe(rshare_node *node, struct rs_member_observer *obs)
{
    struct rs_cluster *cl = rs_cluster(node);
    obs->next = cl->observers;
    cl->observers = obs;
}

void rs_membership_unobserve(rshare_node *node, struct rs_member_observer *obs)
{
    struct rs_member_observer **pp = &rs_cluster(node)->observers;
    while (*pp && *pp != obs)
        pp = &(*pp)->next;
    if (*pp)
        *pp = obs->next;
}

static void tell_observers(rshare_node *node, uint32_t id, bool up)
{
    for (struct rs_member_observer *o = rs_cluster(node)->observers; o; o = o->next)
        o->fn(node, id, up, o->user_data);
}

static uint32_t my_hello_flags(rshare_node *node)
{
    struct rs_cluster *cl = rs_cluster(node);
    return (cl->config.manager_eligible ? RS_HELLO_ELIGIBLE : 0) |
           (rs_raft_has_state(node) ? RS_HELLO_HAS_MAP : 0);
}

static size_t encode_hello(rshare_node *node, uint8_t *buf, size_t cap, uint32_t extra_flags)
{
    const struct rshare_node_config *cfg = &rs_core(node)->config;
    struct rs_cbor_writer w;
    rs_cbor_writer_init(&w, buf, cap);
    rs_cbor_put_array(&w, 6);
    rs_cbor_put_uint(&w, HELLO_VERSION);
    rs_cbor_put_uint(&w, cfg->slot);
    rs_cbor_put_uint(&w, cfg->install_order);
    rs_cbor_put_uint(&w, my_hello_flags(node) | extra_flags);
    rs_cbor_put_uint(&w, rs_cluster(node)->map.version);
    rs_cbor_put_uint(&w, rs_cluster(node)->config.capabilities);
    return w.len;
}

struct hello_buf {
    uint8_t bytes[64];
    size_t len;
};

static void hello_seed(rshare_node *node, uint32_t id, void *arg)
{
    struct hello_buf *h = arg;
    const struct rs_member *m = member_get(node, id);
    if (!m || !m->hello_back) /* those had theirs already */
        rs_msg_notify(node, id, RS_MSG_HELLO, h->bytes, h->len, 0);
}

/* Hellos go by broadcast, to the configured seeds, and to every member
 * that greets us by unicast (a node that has us as a seed but is not among
 * our seeds, and that our broadcast may not reach, must keep hearing from
 * us or it counts us down).  Unicast hellos carry RS_HELLO_UNICAST; the
 * one-off answer to a newcomer does not, so that nodes which hear each
 * other's broadcasts never start greeting each other one by one. */
static void send_hello(rshare_node *node)
{
    struct rs_cluster *cl = rs_cluster(node);
    struct hello_buf h;
    h.len = encode_hello(node, h.bytes, sizeof(h.bytes), 0);
    rs_msg_notify(node, RSHARE_NODE_ID_BROADCAST, RS_MSG_HELLO, h.bytes, h.len, 0);
    h.len = encode_hello(node, h.bytes, sizeof(h.bytes), RS_HELLO_UNICAST);
    for (size_t i = 0; i < cl->member_count; i++)
        if (cl->members[i].hello_back && cl->members[i].id != rshare_node_id(node))
            rs_msg_notify(node, cl->members[i].id, RS_MSG_HELLO, h.bytes, h.len, 0);
    rs_link_for_each_seed(node, hello_seed, &h);
}

/* Mark members silent for too long as down. */
static void expire_members(rshare_node *node)
{
    struct rs_cluster *cl = rs_cluster(node);
    uint64_t now = rs_now_us(node);
    uint64_t timeout = (uint64_t)cl->config.member_timeout_ms * 1000u;
    for (size_t i = 0; i < cl->member_count; i++) {
        struct rs_member *m = &cl->members[i];
        if (m->alive && m->id != rshare_node_id(node) && now - m->last_seen_us > timeout) {
            m->alive = false;
            rs_log_info(node, "node %u is silent: down", m->id);
            rs_cluster_emit(node, RSHARE_EVENT_MEMBER_DOWN, m->id);
            tell_observers(node, m->id, false);
        }
    }
}

static void refresh_self(rshare_node *node)
{
    const struct rshare_node_config *cfg = &rs_core(node)->config;
    struct rs_member *me = member_get(node, cfg->node_id);
    if (!me)
        return;
    if (!me->alive)
        me->up_since_us = rs_now_us(node);
    me->slot = cfg->slot;
    me->install_order = cfg->install_order;
    me->hello_flags = my_hello_flags(node);
    me->capabilities = rs_cluster(node)->config.capabilities;
    me->last_seen_us = rs_now_us(node);
    me->alive = true;
}

static void on_hello(rshare_node *node, rshare_request *req, void *user_data)
{
    (void)user_data;
    struct rs_cbor_reader r;
    rs_cbor_reader_init(&r, rshare_request_data(req), rshare_request_len(req));
    size_t n;
    uint64_t version, slot, order, flags, map_version, caps = 0;
    /* Elements after the sixth are a newer node's additions: ignored. */
    if (rs_cbor_get_array(&r, &n) < 0 || n < 5 || n > 16 || rs_cbor_get_uint(&r, &version) < 0 ||
        version != HELLO_VERSION || rs_cbor_get_uint(&r, &slot) < 0 || slot > UINT16_MAX ||
        rs_cbor_get_uint(&r, &order) < 0 || order > UINT16_MAX ||
        rs_cbor_get_uint(&r, &flags) < 0 || rs_cbor_get_uint(&r, &map_version) < 0 ||
        (n >= 6 && (rs_cbor_get_uint(&r, &caps) < 0 || caps > UINT32_MAX))) {
        RS_STAT_INC(node, msgs_malformed);
        return;
    }
    uint32_t id = rshare_request_peer(req);
    struct rs_member *m = member_get(node, id);
    if (!m)
        return;
    if (flags & RS_HELLO_UNICAST)
        m->hello_back = true; /* it greets us directly: greet it back */
    flags &= ~(uint64_t)RS_HELLO_UNICAST;
    bool was_alive = m->alive;
    bool changed = !was_alive || m->slot != slot || m->install_order != order ||
                   m->hello_flags != (uint32_t)flags || m->capabilities != (uint32_t)caps;
    uint64_t now = rs_now_us(node);
    if (!was_alive)
        m->up_since_us = now;
    m->slot = (uint16_t)slot;
    m->install_order = (uint16_t)order;
    m->hello_flags = (uint32_t)flags;
    m->capabilities = (uint32_t)caps;
    m->last_seen_us = now;
    m->alive = true;
    if (!was_alive) {
        rs_log_info(node, "node %u is up (slot %u)", id, (unsigned)slot);
        rs_cluster_emit(node, RSHARE_EVENT_MEMBER_UP, id);
        tell_observers(node, id, true);
        /* Answer at once so the newcomer learns us without waiting. */
        uint8_t buf[64];
        size_t len = encode_hello(node, buf, sizeof(buf), 0);
        rs_msg_notify(node, id, RS_MSG_HELLO, buf, len, 0);
    }
    if (changed)
        rs_cluster_kick(node);
}

static void hello_tick(rshare_node *node, struct rs_timer *timer)
{
    struct rs_cluster *cl = rs_cluster(node);
    rs_timer_schedule(node, timer, rs_now_us(node) + (uint64_t)cl->config.hello_interval_ms * 1000u);
    refresh_self(node);
    send_hello(node);
    expire_members(node);
    rs_cluster_kick(node);
}

int rs_membership_start(rshare_node *node)
{
    struct rs_cluster *cl = rs_cluster(node);
    int rc = rs_msg_set_handler(node, RS_MSG_HELLO, on_hello, NULL);
    if (rc < 0)
        return rc;
    refresh_self(node);
    rs_timer_init(&cl->hello_timer, hello_tick);
    /* The first hello goes out on the next processing step. */
    return rs_timer_schedule(node, &cl->hello_timer, rs_now_us(node));
}

void rs_membership_fini(rshare_node *node)
{
    struct rs_cluster *cl = rs_cluster(node);
    rs_timer_cancel(node, &cl->hello_timer);
    rs_free(node, cl->members);
    cl->members = NULL;
    cl->member_count = cl->member_cap = 0;
}
