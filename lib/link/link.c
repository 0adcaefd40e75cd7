/* rshare link — the packet layer's entry points: sending a message (one
 * packet, or a transfer of fragments), the receive path that validates,
 * authenticates and de-duplicates every packet before anything trusts it,
 * and peer addresses. */
#include "config.h"

#include <string.h>

#include <sodium.h>

#include "link.h"
#include "reassembly.h"
#include "transfer.h"

#define SESSION_PERSISTED (UINT64_C(1) << 63)

static int on_packet(rshare_node *node, int transport_index, const struct rshare_link_addr *src,
                     const uint8_t *packet, size_t len, void *user_data);

int rs_link_init(rshare_node *node)
{
    struct rs_core *core = rs_core(node);
    struct rs_link *link = rs_link(node);
    if (core->protected_mode) {
        rs_protect_derive(link->key, core->cluster_key);
        rs_protect_session_key(link->tx_key, link->key, core->config.node_id, core->session);
    }
    link->next_seq = 1;
    link->next_xfer = 1;
    core->on_packet = on_packet;
    core->on_packet_data = NULL;
    return 0;
}

void rs_link_fini(rshare_node *node)
{
    struct rs_link *link = rs_link(node);
    rs_peer_table_clear(node);
    rs_free(node, link->rx_buf);
    rs_free(node, link->tx_buf);
    link->rx_buf = link->tx_buf = NULL;
    sodium_memzero(link->key, sizeof(link->key));
    sodium_memzero(link->tx_key, sizeof(link->tx_key));
}

void rs_link_set_upper(rshare_node *node, rs_link_deliver_fn deliver, rs_link_peer_fn peer_reset,
                       rs_link_peer_fn peer_free)
{
    struct rs_link *link = rs_link(node);
    link->deliver = deliver;
    link->peer_reset = peer_reset;
    link->peer_free = peer_free;
}

uint8_t *rs_link_scratch(rshare_node *node, size_t need, bool rx)
{
    /* Two buffers that grow independently: a message delivered from the
     * receive buffer may be answered at once through the send buffer. */
    struct rs_link *link = rs_link(node);
    uint8_t **buf = rx ? &link->rx_buf : &link->tx_buf;
    size_t *cap = rx ? &link->rx_len : &link->tx_len;
    if (need > *cap) {
        uint8_t *grown = rs_realloc(node, *buf, need);
        if (!grown)
            return NULL;
        *buf = grown;
        *cap = need;
    }
    return *buf;
}

static size_t overhead(rshare_node *node)
{
    return RS_PKT_HDR_LEN + RS_PKT_DATA_LEN + (rs_core(node)->protected_mode ? RS_PKT_TAG_LEN : 0);
}

size_t rs_link_max_message(rshare_node *node)
{
    return rs_core(node)->config.max_message_bytes;
}

/* An urgent packet of `len` bytes to `peer`: from our urgent lane of the
 * peer's transport kind when we have one (so that the peer learns it), to
 * the peer's lane once we know it. */
static void urgent_route(rshare_node *node, const struct rs_peer *peer, size_t len, int *via,
                         const struct rshare_link_addr **dst)
{
    int lane = rs_transport_lane_for(node, peer->transport);
    if (lane >= 0 && len <= rs_transport_get(node, lane)->mtu)
        *via = lane;
    if (peer->has_urgent && rs_transport_same_kind(node, peer->urgent_transport, *via))
        *dst = &peer->urgent_addr;
}

/* Build header + part + payload in the scratch buffer, seal, send. */
int rs_link_send_packet(rshare_node *node, struct rs_peer *peer, uint8_t type, unsigned flags,
                        const uint8_t *part, size_t part_len, const void *payload,
                        size_t payload_len)
{
    struct rs_core *core = rs_core(node);
    struct rs_link *link = rs_link(node);
    size_t len = RS_PKT_HDR_LEN + part_len + payload_len;
    int via = peer ? peer->transport : -1;
    const struct rshare_link_addr *dst = peer ? &peer->addr : NULL;
    if (peer && flags & RSHARE_SEND_URGENT)
        urgent_route(node, peer, len + (core->protected_mode ? RS_PKT_TAG_LEN : 0), &via, &dst);
    /* Unprotected packets to one peer over a transport that takes pieces:
     * the header and part are assembled on the stack and the payload (a
     * slice of a message) goes out from where it is, uncopied. */
    uint8_t head[RS_PKT_HDR_LEN + 32];
    bool vectored = peer && !core->protected_mode && part_len <= sizeof(head) - RS_PKT_HDR_LEN &&
                    rs_transport_can_sendv(node, via);
    uint8_t *pkt = vectored ? head : rs_link_scratch(node, len + RS_PKT_TAG_LEN, false);
    if (!pkt)
        return RSHARE_ENOMEM;
    struct rs_pkt_hdr hdr = {
        .type = type,
        .flags = (uint8_t)((flags & RSHARE_SEND_URGENT ? RS_PKT_F_URGENT : 0) |
                           (core->protected_mode ? RS_PKT_F_PROTECTED : 0)),
        .src = core->config.node_id,
        .dst = peer ? peer->id : RSHARE_NODE_ID_BROADCAST,
        .session = core->session,
        .seq = link->next_seq++,
    };
    rs_pkt_hdr_encode(&hdr, pkt);
    memcpy(pkt + RS_PKT_HDR_LEN, part, part_len);
    if (vectored) {
        struct rshare_iovec pieces[2] = {{pkt, RS_PKT_HDR_LEN + part_len}, {payload, payload_len}};
        return rs_transport_sendv(node, via, dst, pieces, payload_len ? 2 : 1, flags);
    }
    if (payload_len)
        memcpy(pkt + RS_PKT_HDR_LEN + part_len, payload, payload_len);
    if (core->protected_mode)
        len = rs_protect_seal(link->tx_key, pkt, RS_PKT_HDR_LEN, part_len + payload_len);
    if (peer)
        return rs_transport_send(node, via, dst, pkt, len, flags);
    /* Broadcast on every transport that can. */
    int sent = 0, rc = RSHARE_EUNREACH;
    for (int i = 0; i < core->transport_count; i++) {
        struct rs_transport *t = &core->transports[i];
        struct rshare_link_addr all;
        if (!(t->caps & RSHARE_TRANSPORT_CAP_BROADCAST) || !t->ops.broadcast_addr ||
            t->ops.broadcast_addr(t->impl, &all) < 0 || len > t->mtu)
            continue;
        rc = rs_transport_send(node, i, &all, pkt, len, flags);
        if (rc == 0)
            sent++;
    }
    return sent ? 0 : rc;
}

int rs_link_send(rshare_node *node, uint32_t dst, uint8_t *msg, size_t len, unsigned flags,
                 uint32_t *xfer_out)
{
    struct rs_link *link = rs_link(node);
    if (xfer_out)
        *xfer_out = 0;
    if (len == 0 || len > rs_link_max_message(node))
        return rs_errorf(node, RSHARE_EMSGSIZE, "message of %zu bytes (limit %u)", len,
                         rs_core(node)->config.max_message_bytes);
    struct rs_peer *peer = NULL;
    size_t mtu = 0;
    if (dst == RSHARE_NODE_ID_BROADCAST) {
        for (int i = 0; i < rs_core(node)->transport_count; i++)
            if (rs_core(node)->transports[i].caps & RSHARE_TRANSPORT_CAP_BROADCAST &&
                (!mtu || rs_core(node)->transports[i].mtu < mtu))
                mtu = rs_core(node)->transports[i].mtu;
        if (!mtu)
            return rs_errorf(node, RSHARE_EUNREACH, "no transport can broadcast");
    } else {
        peer = rs_peer_find(node, dst);
        if (!peer || !peer->has_addr)
            return rs_errorf(node, RSHARE_EUNREACH, "no address known for node %u", dst);
        mtu = rs_transport_get(node, peer->transport)->mtu;
    }
    size_t room = mtu - overhead(node);
    size_t count = (len + room - 1) / room;
    struct rs_pkt_data d = {.xfer = link->next_xfer++, .total = (uint32_t)len, .index = 0,
                            .count = (uint16_t)count};
    if (link->next_xfer == 0)
        link->next_xfer = 1;
    if (count == 1) {
        uint8_t part[RS_PKT_DATA_LEN];
        rs_pkt_data_encode(&d, part);
        return rs_link_send_packet(node, peer, RS_PKT_DATA, flags, part, sizeof(part), msg, len);
    }
    if (!peer)
        return rs_errorf(node, RSHARE_EMSGSIZE, "broadcast messages must fit one packet");
    if (count > UINT16_MAX)
        return rs_errorf(node, RSHARE_EMSGSIZE, "message needs %zu packets", count);
    int rc = rs_transfer_start(node, peer, msg, (uint32_t)len, (uint16_t)count, flags, d.xfer);
    if (rc == 0 && xfer_out)
        *xfer_out = d.xfer;
    return rc;
}

bool rs_link_transfer_active(rshare_node *node, uint32_t dst, uint32_t xfer)
{
    struct rs_peer *peer = rs_peer_find(node, dst);
    return peer && xfer && rs_transfer_find(peer, xfer);
}

bool rs_link_receiving_from(rshare_node *node, uint32_t src)
{
    struct rs_peer *peer = rs_peer_find(node, src);
    return peer && peer->in;
}

static bool same_addr(const struct rshare_link_addr *a, const struct rshare_link_addr *b)
{
    return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

/* Where an authenticated packet came from.  Urgent packets from another
 * address than the peer's (or in on one of our lanes) come from its urgent
 * lane: they teach us the lane, never move the peer's address, so bulk
 * keeps going to its main socket.  Everything else updates the address
 * (a peer that moved, a restart on another port). */
static void learn_address(rshare_node *node, struct rs_peer *peer, int transport_index,
                          const struct rshare_link_addr *src, bool urgent)
{
    const struct rs_transport *t = rs_transport_get(node, transport_index);
    bool on_lane = t && (t->caps & RSHARE_TRANSPORT_CAP_URGENT_LANE);
    if (urgent && peer->has_addr &&
        (on_lane || transport_index != peer->transport || !same_addr(src, &peer->addr))) {
        peer->has_urgent = true;
        peer->urgent_transport = transport_index;
        peer->urgent_addr = *src;
        return;
    }
    if (on_lane)
        return; /* only urgent packets belong on a lane */
    peer->has_addr = true;
    peer->transport = transport_index;
    peer->addr = *src;
}

/* A new boot session from a known peer: a restart, or a replay of an older
 * session.  Persisted sessions carry a boot counter and must only grow. */
static bool session_acceptable(const struct rs_peer *peer, uint64_t session)
{
    if (!peer->has_session)
        return true;
    /* A boot this peer has already left behind never comes back: without
     * this, alternating packets of two sessions would reset the replay
     * window at every switch and let captured requests run again. */
    for (unsigned i = 0; i < RS_PEER_OLD_SESSIONS; i++)
        if (peer->old_sessions[i] == session && session != 0)
            return false;
    bool had = peer->session & SESSION_PERSISTED, has = session & SESSION_PERSISTED;
    if (had && has)
        return (session >> 32) > (peer->session >> 32);
    if (had && !has)
        return false; /* a persisted node does not lose its store silently */
    return true;
}

static void count_status(rshare_node *node, enum rs_pkt_status st)
{
    switch (st) {
    case RS_PKT_TRUNCATED:
        RS_STAT_INC(node, rx_truncated);
        break;
    case RS_PKT_BAD_VERSION:
        RS_STAT_INC(node, rx_bad_version);
        break;
    case RS_PKT_MALFORMED:
        RS_STAT_INC(node, rx_malformed);
        break;
    case RS_PKT_OK:
        break;
    }
}

static int on_packet(rshare_node *node, int transport_index, const struct rshare_link_addr *src,
                     const uint8_t *packet, size_t len, void *user_data)
{
    (void)user_data;
    struct rs_core *core = rs_core(node);
    struct rs_link *link = rs_link(node);
    struct rs_pkt_hdr hdr;
    enum rs_pkt_status st = rs_pkt_hdr_decode(packet, len, &hdr);
    if (st != RS_PKT_OK) {
        count_status(node, st);
        return RSHARE_EPROTO;
    }
    if ((hdr.dst != core->config.node_id && hdr.dst != RSHARE_NODE_ID_BROADCAST) ||
        hdr.src == core->config.node_id) {
        RS_STAT_INC(node, rx_misaddressed);
        return RSHARE_EPROTO;
    }
    if (!(hdr.flags & RS_PKT_F_PROTECTED) != !core->protected_mode) {
        RS_STAT_INC(node, rx_unprotected);
        return RSHARE_EAUTH;
    }
    /* Authenticate before any state is touched or created: with the key of
     * the sender's session, cached per peer, derived for a new session. */
    const uint8_t *body = packet + RS_PKT_HDR_LEN;
    size_t body_len = len - RS_PKT_HDR_LEN;
    struct rs_peer *known = rs_peer_find(node, hdr.src);
    uint8_t fresh_key[RS_PROTECT_KEY_LEN];
    const uint8_t *session_key = NULL;
    if (core->protected_mode) {
        if (known && known->has_session && known->session == hdr.session) {
            session_key = known->session_key;
        } else {
            rs_protect_session_key(fresh_key, link->key, hdr.src, hdr.session);
            session_key = fresh_key;
        }
        uint8_t *plain = rs_link_scratch(node, len, true);
        if (!plain)
            return RSHARE_ENOMEM;
        if (rs_protect_open(session_key, packet, len, RS_PKT_HDR_LEN, plain, &body_len) < 0) {
            RS_STAT_INC(node, rx_auth_failed);
            return RSHARE_EAUTH;
        }
        body = plain;
    }
    struct rs_pkt_data data;
    struct rs_pkt_ack ack;
    st = hdr.type == RS_PKT_DATA ? rs_pkt_data_decode(body, body_len, &data)
                                 : rs_pkt_ack_decode(body, body_len, &ack);
    if (st != RS_PKT_OK) {
        count_status(node, st);
        return RSHARE_EPROTO;
    }
    struct rs_peer *peer = known;
    if (peer && peer->has_session && peer->session != hdr.session &&
        !session_acceptable(peer, hdr.session)) {
        RS_STAT_INC(node, rx_replayed);
        return RSHARE_EREPLAY;
    }
    if (peer && peer->has_session && peer->session == hdr.session &&
        !rs_replay_check(&peer->replay, hdr.seq)) {
        RS_STAT_INC(node, rx_replayed);
        return RSHARE_EREPLAY;
    }
    if (!peer && !(peer = rs_peer_get(node, hdr.src)))
        return RSHARE_EBUSY;
    if (!peer->has_session || peer->session != hdr.session) {
        bool restarted = peer->has_session;
        if (restarted) {
            peer->old_sessions[peer->old_next] = peer->session;
            peer->old_next = (peer->old_next + 1) % RS_PEER_OLD_SESSIONS;
            rs_transfers_drop(node, peer); /* meant for the boot that is gone */
        }
        peer->has_session = true;
        peer->session = hdr.session;
        if (session_key)
            memcpy(peer->session_key, session_key, sizeof(peer->session_key));
        rs_replay_reset(&peer->replay);
        rs_reassembly_drop_all(node, peer);
        memset(peer->completed, 0, sizeof(peer->completed));
        if (restarted) {
            rs_log_info(node, "node %u restarted (new boot session)", peer->id);
            if (link->peer_reset)
                link->peer_reset(node, peer);
        }
    }
    rs_replay_mark(&peer->replay, hdr.seq);
    learn_address(node, peer, transport_index, src, hdr.flags & RS_PKT_F_URGENT);

    if (hdr.type == RS_PKT_ACK) {
        rs_transfer_on_ack(node, peer, &ack);
        return 0;
    }
    const uint8_t *payload = body + RS_PKT_DATA_LEN;
    size_t payload_len = body_len - RS_PKT_DATA_LEN;
    unsigned flags = hdr.flags & RS_PKT_F_URGENT ? RSHARE_SEND_URGENT : 0;
    if (data.count == 1) {
        if (data.total > core->config.max_message_bytes) {
            RS_STAT_INC(node, rx_oversized);
            return RSHARE_EMSGSIZE;
        }
        struct rs_link_msg msg = {.data = (uint8_t *)payload, .len = payload_len, .owned = false};
        if (link->deliver)
            link->deliver(node, peer->id, &msg);
        return 0;
    }
    rs_reassembly_on_data(node, peer, &data, payload, payload_len, flags);
    return 0;
}

RSHARE_API int rshare_node_add_peer(rshare_node *node, uint32_t peer_id, int transport_index,
                                    const char *address)
{
    if (!node || !address)
        return RSHARE_EINVAL;
    if (peer_id == RSHARE_NODE_ID_NONE || peer_id == RSHARE_NODE_ID_BROADCAST ||
        peer_id == rs_core(node)->config.node_id)
        return rs_errorf(node, RSHARE_EINVAL, "peer id %u not allowed", peer_id);
    struct rs_transport *t = rs_transport_get(node, transport_index);
    if (!t)
        return rs_errorf(node, RSHARE_EINVAL, "no transport %d", transport_index);
    if (!t->ops.addr_parse)
        return rs_errorf(node, RSHARE_ENOTSUP, "transport '%s' cannot parse addresses",
                         t->ops.name ? t->ops.name : "?");
    struct rshare_link_addr addr;
    memset(&addr, 0, sizeof(addr));
    int rc = t->ops.addr_parse(t->impl, address, &addr);
    if (rc < 0)
        return rs_errorf(node, rc, "bad address '%s' for transport '%s'", address,
                         t->ops.name ? t->ops.name : "?");
    struct rs_peer *peer = rs_peer_get(node, peer_id);
    if (!peer)
        return rs_errorf(node, RSHARE_EBUSY, "peer table full");
    peer->has_addr = true;
    peer->configured = true;
    peer->transport = transport_index;
    peer->addr = addr;
    return 0;
}

void rs_link_for_each_seed(rshare_node *node, void (*fn)(rshare_node *node, uint32_t id, void *arg),
                           void *arg)
{
    struct rs_link *link = rs_link(node);
    for (unsigned b = 0; b < RS_PEER_BUCKETS; b++)
        for (struct rs_peer *p = link->peers.buckets[b]; p; p = p->hash_next)
            if (p->configured && p->has_addr)
                fn(node, p->id, arg);
}
