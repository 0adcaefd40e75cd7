/* rshare core — the transports attached to a node: attaching a plug-in
 * (copying its versioned vtable), sending through it, and accepting pushed
 * packets, which go up to the link layer through the core's packet hook. */
#include "config.h"

#include <string.h>

#include "core.h"
#include "event.h"

RSHARE_API int rshare_node_add_transport(rshare_node *node,
                                         const struct rshare_transport_ops *ops, void *impl)
{
    if (!node || !ops) {
        if (ops && ops->close && ops->struct_size >= offsetof(struct rshare_transport_ops, close) + sizeof(ops->close))
            ops->close(impl);
        return RSHARE_EINVAL;
    }
    struct rs_core *core = rs_core(node);
    struct rs_transport t;
    memset(&t, 0, sizeof(t));
    size_t n = ops->struct_size < sizeof(t.ops) ? ops->struct_size : sizeof(t.ops);
    memcpy(&t.ops, ops, n);
    t.impl = impl;
    int rc = 0;
    if (n < offsetof(struct rshare_transport_ops, caps) || ops->version < 1)
        rc = rs_errorf(node, RSHARE_EVERSION, "transport ops version %u / size %u not supported",
                       ops->version, ops->struct_size);
    else if (!t.ops.send || !t.ops.mtu)
        rc = rs_errorf(node, RSHARE_EINVAL, "transport '%s' lacks send or mtu",
                       t.ops.name ? t.ops.name : "?");
    else if (core->transport_count == RS_MAX_TRANSPORTS)
        rc = rs_errorf(node, RSHARE_EBUSY, "at most %d transports per node", RS_MAX_TRANSPORTS);
    if (rc == 0) {
        t.mtu = t.ops.mtu(impl);
        if (t.mtu < RSHARE_TRANSPORT_MTU_MIN || t.mtu > RSHARE_TRANSPORT_MTU_MAX)
            rc = rs_errorf(node, RSHARE_EINVAL, "transport MTU %zu out of range", t.mtu);
    }
    if (rc < 0) {
        if (t.ops.close)
            t.ops.close(impl);
        return rc;
    }
    t.caps = t.ops.caps ? t.ops.caps(impl) : 0;
    t.fd = (t.ops.fd && (t.caps & RSHARE_TRANSPORT_CAP_FD)) ? t.ops.fd(impl) : -1;
    int index = core->transport_count;
    core->transports[index] = t;
    core->transport_count++;
    rc = rs_event_watch(node, index);
    if (rc < 0) {
        core->transport_count--;
        if (t.ops.close)
            t.ops.close(impl);
        return rc;
    }
    if (t.caps & RSHARE_TRANSPORT_CAP_URGENT_LANE)
        core->has_lanes = true;
    return index;
}

struct rs_transport *rs_transport_get(rshare_node *node, int index)
{
    struct rs_core *core = rs_core(node);
    if (index < 0 || index >= core->transport_count)
        return NULL;
    return &core->transports[index];
}

static int sent(rshare_node *node, int rc, size_t len)
{
    if (rc < 0) {
        RS_STAT_INC(node, tx_errors);
        return rc;
    }
    RS_STAT_INC(node, tx_packets);
    RS_STAT_ADD(node, tx_bytes, len);
    return 0;
}

int rs_transport_send(rshare_node *node, int index, const struct rshare_link_addr *dst,
                      const void *packet, size_t len, unsigned flags)
{
    struct rs_transport *t = rs_transport_get(node, index);
    if (!t)
        return rs_errorf(node, RSHARE_EINVAL, "no transport %d", index);
    if (len > t->mtu)
        return rs_errorf(node, RSHARE_EMSGSIZE, "packet of %zu bytes above MTU %zu", len, t->mtu);
    return sent(node, t->ops.send(t->impl, dst, packet, len, flags), len);
}

bool rs_transport_can_sendv(rshare_node *node, int index)
{
    struct rs_transport *t = rs_transport_get(node, index);
    return t && t->ops.sendv;
}

int rs_transport_sendv(rshare_node *node, int index, const struct rshare_link_addr *dst,
                       const struct rshare_iovec *pieces, size_t count, unsigned flags)
{
    struct rs_transport *t = rs_transport_get(node, index);
    if (!t || !t->ops.sendv)
        return rs_errorf(node, RSHARE_EINVAL, "no vectored send on transport %d", index);
    if (count > RSHARE_SENDV_MAX)
        return rs_errorf(node, RSHARE_EINVAL, "a packet in %zu pieces (at most %d)", count,
                         RSHARE_SENDV_MAX);
    size_t len = 0;
    for (size_t i = 0; i < count; i++)
        len += pieces[i].len;
    if (len > t->mtu)
        return rs_errorf(node, RSHARE_EMSGSIZE, "packet of %zu bytes above MTU %zu", len, t->mtu);
    return sent(node, t->ops.sendv(t->impl, dst, pieces, count, flags), len);
}

bool rs_transport_same_kind(rshare_node *node, int a, int b)
{
    const struct rs_transport *ta = rs_transport_get(node, a), *tb = rs_transport_get(node, b);
    return ta && tb && (a == b || (ta->ops.name && tb->ops.name &&
                                   strcmp(ta->ops.name, tb->ops.name) == 0));
}

int rs_transport_lane_for(rshare_node *node, int index)
{
    struct rs_core *core = rs_core(node);
    for (int i = 0; i < core->transport_count; i++)
        if (core->transports[i].caps & RSHARE_TRANSPORT_CAP_URGENT_LANE &&
            rs_transport_same_kind(node, i, index))
            return i;
    return -1;
}

/* Bulk packets after which the lanes are read (smaller ones cost less than
 * the look). */
#define LANE_CHECK_BYTES 4096

RSHARE_API int rshare_node_push(rshare_node *node, int transport_index,
                                const struct rshare_link_addr *src, const void *packet, size_t len)
{
    if (!node || !src || (!packet && len))
        return RSHARE_EINVAL;
    struct rs_transport *t = rs_transport_get(node, transport_index);
    if (!t || src->len > RSHARE_LINK_ADDR_MAX)
        return RSHARE_EINVAL;
    struct rs_core *core = rs_core(node);
    core->stats.rx_packets++;
    core->stats.rx_bytes += len;
    if (t->caps & RSHARE_TRANSPORT_CAP_URGENT_LANE)
        core->stats.rx_urgent_lane++;
    if (len > t->mtu) {
        core->stats.rx_oversized++;
        return RSHARE_EMSGSIZE;
    }
    if (!core->on_packet)
        return RSHARE_ENOTSUP;
    /* The handlers of one packet may still be reading buffers another
     * packet would overwrite: a push from inside them (a transport whose
     * send() delivers synchronously) is refused, and the sender retries. */
    if (core->in_push)
        return rs_errorf(node, RSHARE_EBUSY, "rshare_node_push called while a packet is handled");
    core->in_push = true;
    int rc = core->on_packet(node, transport_index, src, packet, len, core->on_packet_data);
    core->in_push = false;
    /* Between the packets of a bulk batch (a transport may push dozens of
     * 64 KiB fragments from one poll), a look at the urgent lanes: input
     * that arrived meanwhile is handled now, not after the batch. */
    if (core->has_lanes && !core->in_lane_poll && len >= LANE_CHECK_BYTES &&
        !(t->caps & RSHARE_TRANSPORT_CAP_URGENT_LANE)) {
        core->in_lane_poll = true;
        for (int i = 0; i < core->transport_count; i++) {
            struct rs_transport *lane = &core->transports[i];
            if (lane->caps & RSHARE_TRANSPORT_CAP_URGENT_LANE && lane->ops.poll)
                lane->ops.poll(lane->impl, node, i);
        }
        core->in_lane_poll = false;
    }
    return rc;
}

void rs_transports_close(rshare_node *node)
{
    struct rs_core *core = rs_core(node);
    for (int i = core->transport_count - 1; i >= 0; i--) {
        struct rs_transport *t = &core->transports[i];
        if (t->ops.close)
            t->ops.close(t->impl);
    }
    core->transport_count = 0;
}
