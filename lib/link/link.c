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
    int rc = rs_identity_init(node);
    if (rc < 0)
        return rc;
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
    rs_identity_fini(node);
}

void rs_link_set_upper(rshare_node *node, rs_link_deliver_fn deliver, rs_link_peer_fn peer_reset,
                       rs_link_peer_fn peer_free)
{
    struct rs_link *link = rs_link(node);
    link->deliver = deliver;
    link->peer_reset = peer_reset;
    link->peer_free = peer_free;
}

void rs_link_set_placement(rshare_node *node, const struct rs_link_placement *placement)
{
    rs_link(node)->placement = *placement;
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

/* Packets carry an AEAD tag under a cluster key or a pair key. */
static bool tagged(rshare_node *node)
{
    return rs_core(node)->protected_mode || rs_link(node)->id.enabled;
}

static size_t overhead(rshare_node *node)
{
    return RS_PKT_HDR_LEN + RS_PKT_DATA_LEN + (tagged(node) ? RS_PKT_TAG_LEN : 0);
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

/* Build header + part + payload in the scratch buffer, seal, send.  In
 * identity mode a packet to one peer is sealed with the pair key, unless
 * RS_LINK_F_NETWORK asks for the network key (HELLOs). */
int rs_link_send_packet(rshare_node *node, struct rs_peer *peer, uint8_t type, unsigned flags,
                        const uint8_t *part, size_t part_len, const void *payload,
                        size_t payload_len)
{
    struct rs_core *core = rs_core(node);
    struct rs_link *link = rs_link(node);
    bool pair = peer && link->id.enabled && !(flags & RS_LINK_F_NETWORK);
    bool network = !pair && core->protected_mode;
    flags &= ~RS_LINK_F_NETWORK;
    size_t len = RS_PKT_HDR_LEN + part_len + payload_len;
    int via = peer ? peer->transport : -1;
    const struct rshare_link_addr *dst = peer ? &peer->addr : NULL;
    if (peer && flags & RSHARE_SEND_URGENT)
        urgent_route(node, peer, len + (pair || network ? RS_PKT_TAG_LEN : 0), &via, &dst);
    /* Unprotected packets to one peer over a transport that takes pieces:
     * the header and part are assembled on the stack and the payload (a
     * slice of a message) goes out from where it is, uncopied. */
    uint8_t head[RS_PKT_HDR_LEN + 32];
    bool vectored = peer && !pair && !network && part_len <= sizeof(head) - RS_PKT_HDR_LEN &&
                    rs_transport_can_sendv(node, via);
    uint8_t *pkt = vectored ? head : rs_link_scratch(node, len + RS_PKT_TAG_LEN, false);
    if (!pkt)
        return RSHARE_ENOMEM;
    struct rs_pkt_hdr hdr = {
        .type = type,
        .flags = (uint8_t)((flags & RSHARE_SEND_URGENT ? RS_PKT_F_URGENT : 0) |
                           (network ? RS_PKT_F_PROTECTED : 0) | (pair ? RS_PKT_F_PAIR : 0)),
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
    if (pair || network)
        len = rs_protect_seal(pair ? peer->pair_tx : link->tx_key, pkt, RS_PKT_HDR_LEN,
                              part_len + payload_len);
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

/* Our HELLO to `to` (its id and the address to use), cut into packets of
 * its transport's MTU, under the network key.  `min_gap_us` limits how
 * often: against the peer's last HELLO, or all unsolicited ones. */
static void send_hello(rshare_node *node, const struct rs_peer *to, uint64_t *last_us,
                       uint64_t min_gap_us)
{
    struct rs_link *link = rs_link(node);
    uint64_t now = rs_now_us(node);
    if (*last_us && now - *last_us < min_gap_us)
        return;
    const struct rs_transport *t = rs_transport_get(node, to->transport);
    if (!t)
        return;
    *last_us = now;
    struct rs_peer *known = rs_peer_find(node, to->id);
    uint8_t hello[RS_HELLO_LEN];
    /* 0: we do not know (or no longer trust) its session: it answers with
     * its own HELLO. */
    rs_hello_build(node, to->id, known && known->has_identity ? known->session : 0, hello);
    struct rs_peer via = *to; /* send_packet reads id, transport and address */
    via.has_urgent = false;
    size_t room = t->mtu - overhead(node);
    uint16_t count = (uint16_t)((RS_HELLO_LEN + room - 1) / room);
    struct rs_pkt_data d = {.xfer = link->next_xfer++, .total = RS_HELLO_LEN, .count = count};
    if (link->next_xfer == 0)
        link->next_xfer = 1;
    for (d.index = 0; d.index < count; d.index++) {
        uint8_t part[RS_PKT_DATA_LEN];
        rs_pkt_data_encode(&d, part);
        size_t at = (size_t)d.index * rs_pkt_fragment_size(RS_HELLO_LEN, count);
        rs_link_send_packet(node, &via, RS_PKT_HELLO, RS_LINK_F_NETWORK, part, sizeof(part),
                            hello + at, rs_pkt_fragment_len(RS_HELLO_LEN, count, d.index));
    }
}

#define HELLO_GAP_US 50000u      /* between HELLOs to one peer, unless answering */
#define HELLO_ANSWER_GAP_US 5000u
#define HELLO_UNSOLICITED_GAP_US 10000u

/* A HELLO to whoever sent a packet we cannot accept without one. */
static void hello_to_source(rshare_node *node, uint32_t id, int transport_index,
                            const struct rshare_link_addr *src)
{
    struct rs_peer *peer = rs_peer_find(node, id);
    struct rs_peer to = {.id = id, .has_addr = true, .transport = transport_index, .addr = *src};
    if (peer)
        send_hello(node, &to, &peer->last_hello_us, HELLO_GAP_US);
    else
        send_hello(node, &to, &rs_link(node)->id.last_unsolicited_us, HELLO_UNSOLICITED_GAP_US);
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
        if (link->id.enabled && !peer->has_identity) {
            send_hello(node, peer, &peer->last_hello_us, HELLO_GAP_US);
            return rs_errorf(node, RSHARE_EAGAIN, "handshake with node %u under way", dst);
        }
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

/* The peer's boot session is now `session`: a first contact, or a
 * restart (what was in flight for its previous boot is dropped). */
static void adopt_session(rshare_node *node, struct rs_peer *peer, uint64_t session,
                          const uint8_t *session_key)
{
    struct rs_link *link = rs_link(node);
    bool restarted = peer->has_session;
    if (restarted) {
        peer->old_sessions[peer->old_next] = peer->session;
        peer->old_next = (peer->old_next + 1) % RS_PEER_OLD_SESSIONS;
        rs_transfers_drop(node, peer); /* meant for the boot that is gone */
    }
    peer->has_session = true;
    peer->session = session;
    if (session_key)
        memcpy(peer->session_key, session_key, sizeof(peer->session_key));
    rs_replay_reset(&peer->replay);
    rs_replay_reset(&peer->broadcast_replay);
    rs_reassembly_drop_all(node, peer);
    memset(peer->completed, 0, sizeof(peer->completed));
    if (restarted) {
        rs_log_info(node, "node %u restarted (new boot session)", peer->id);
        if (link->peer_reset)
            link->peer_reset(node, peer);
    }
}

/* A verified HELLO: the peer's key and session; answer with ours when the
 * peer does not know our current session. */
static int on_hello_complete(rshare_node *node, int transport_index,
                             const struct rshare_link_addr *src, const struct rs_pkt_hdr *hdr,
                             const uint8_t *buf, size_t len)
{
    struct rs_core *core = rs_core(node);
    struct rs_link *link = rs_link(node);
    struct rs_hello hello;
    int rc = rs_hello_verify(node, buf, len, hdr->src, hdr->session, &hello);
    if (rc < 0) {
        RS_STAT_INC(node, rx_identity_refused);
        rs_log_debug(node, "HELLO claiming node %u refused: %s", hdr->src,
                     rc == RSHARE_EAUTH ? "certificate or signature does not match"
                                        : "malformed or for another node");
        return rc;
    }
    if (link->id.allowed && !link->id.allowed(node, hdr->src, hello.pk)) {
        RS_STAT_INC(node, rx_identity_refused);
        rs_log_debug(node, "HELLO from node %u refused: its key is revoked", hdr->src);
        return RSHARE_EACCES;
    }
    struct rs_peer *peer = rs_peer_find(node, hdr->src);
    if (peer && peer->has_session && peer->session != hdr->session &&
        !session_acceptable(peer, hdr->session)) {
        RS_STAT_INC(node, rx_replayed);
        return RSHARE_EREPLAY;
    }
    if (!peer && !(peer = rs_peer_get(node, hdr->src)))
        return RSHARE_EBUSY;
    bool changed = !peer->has_identity || memcmp(peer->identity_pk, hello.pk, 32) != 0 ||
                   !peer->has_session || peer->session != hdr->session;
    if (!peer->has_session || peer->session != hdr->session) {
        uint8_t network_key[RS_PROTECT_KEY_LEN];
        if (core->protected_mode)
            rs_protect_session_key(network_key, link->key, hdr->src, hdr->session);
        adopt_session(node, peer, hdr->session, core->protected_mode ? network_key : NULL);
        sodium_memzero(network_key, sizeof(network_key));
    }
    memcpy(peer->identity_pk, hello.pk, sizeof(peer->identity_pk));
    if (rs_pair_keys(node, peer) < 0) {
        peer->has_identity = false;
        RS_STAT_INC(node, rx_identity_refused);
        return RSHARE_EAUTH;
    }
    peer->has_identity = true;
    RS_STAT_INC(node, handshakes);
    if (changed)
        rs_log_debug(node, "handshake with node %u", peer->id);
    if (!peer->has_addr)
        learn_address(node, peer, transport_index, src, false);
    if (hello.dst_session != core->session) {
        struct rs_peer to = *peer;
        to.transport = transport_index;
        to.addr = *src;
        send_hello(node, &to, &peer->last_hello_us, HELLO_ANSWER_GAP_US);
    }
    return 0;
}

/* One packet of a HELLO: whole, or a fragment gathered in a small table
 * of slots (a HELLO is 182 bytes; a 64-byte MTU cuts it in 19). */
static int on_hello_packet(rshare_node *node, int transport_index,
                           const struct rshare_link_addr *src, const struct rs_pkt_hdr *hdr,
                           const uint8_t *body, size_t body_len)
{
    struct rs_identity *id = &rs_link(node)->id;
    struct rs_pkt_data d;
    enum rs_pkt_status st = rs_pkt_data_decode(body, body_len, &d);
    if (st == RS_PKT_OK && (d.total != RS_HELLO_LEN || d.count > RS_HELLO_MAX_FRAGMENTS))
        st = RS_PKT_MALFORMED;
    if (st != RS_PKT_OK) {
        count_status(node, st);
        return RSHARE_EPROTO;
    }
    const uint8_t *payload = body + RS_PKT_DATA_LEN;
    size_t payload_len = body_len - RS_PKT_DATA_LEN;
    if (d.count == 1)
        return on_hello_complete(node, transport_index, src, hdr, payload, payload_len);
    struct rs_hello_slot *slot = NULL, *oldest = &id->slots[0];
    for (unsigned i = 0; i < RS_HELLO_SLOTS && !slot; i++) {
        struct rs_hello_slot *s = &id->slots[i];
        if (s->used && s->src == hdr->src && s->session == hdr->session && s->xfer == d.xfer &&
            s->count == d.count)
            slot = s;
        else if (!s->used || (oldest->used && s->started_us < oldest->started_us))
            oldest = s;
    }
    if (!slot) {
        slot = oldest;
        *slot = (struct rs_hello_slot){.src = hdr->src, .xfer = d.xfer, .session = hdr->session,
                                       .started_us = rs_now_us(node), .count = d.count,
                                       .used = true};
    }
    memcpy(slot->buf + (size_t)d.index * rs_pkt_fragment_size(d.total, d.count), payload,
           payload_len);
    slot->have |= UINT32_C(1) << d.index;
    if (slot->have != (d.count == 32 ? UINT32_MAX : (UINT32_C(1) << d.count) - 1))
        return 0;
    slot->used = false;
    return on_hello_complete(node, transport_index, src, hdr, slot->buf, RS_HELLO_LEN);
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
    bool identity = link->id.enabled;
    bool pair = hdr.flags & RS_PKT_F_PAIR;
    struct rs_peer *known = rs_peer_find(node, hdr.src);
    if (pair ? !identity : !(hdr.flags & RS_PKT_F_PROTECTED) != !core->protected_mode) {
        RS_STAT_INC(node, rx_unprotected);
        return RSHARE_EAUTH;
    }
    if (hdr.type == RS_PKT_HELLO ? !identity || pair
                                 : identity && !pair && hdr.dst != RSHARE_NODE_ID_BROADCAST) {
        /* In identity mode only HELLOs and broadcasts go under the network
         * key; without identities there are no HELLOs. */
        RS_STAT_INC(node, rx_identity_refused);
        return RSHARE_EAUTH;
    }
    if (pair && !(known && known->has_identity && known->session == hdr.session)) {
        /* A pair key we do not have: the sender knows an older boot of ours,
         * or it restarted, or it is not who it claims.  A HELLO sorts it out. */
        RS_STAT_INC(node, rx_no_pair);
        hello_to_source(node, hdr.src, transport_index, src);
        return RSHARE_EAUTH;
    }
    /* Authenticate before any state is touched or created: with the pair
     * key, or the key of the sender's session, cached per peer, derived for
     * a new session. */
    const uint8_t *body = packet + RS_PKT_HDR_LEN;
    size_t body_len = len - RS_PKT_HDR_LEN;
    uint8_t fresh_key[RS_PROTECT_KEY_LEN];
    const uint8_t *session_key = NULL;
    if (pair) {
        session_key = known->pair_rx;
    } else if (core->protected_mode) {
        if (known && known->has_session && known->session == hdr.session) {
            session_key = known->session_key;
        } else {
            rs_protect_session_key(fresh_key, link->key, hdr.src, hdr.session);
            session_key = fresh_key;
        }
    }
    if (session_key) {
        uint8_t *plain = rs_link_scratch(node, len, true);
        if (!plain)
            return RSHARE_ENOMEM;
        if (rs_protect_open(session_key, packet, len, RS_PKT_HDR_LEN, plain, &body_len) < 0) {
            RS_STAT_INC(node, rx_auth_failed);
            /* A pair key that does not open it: the sender may still use our
             * previous boot's (our answer to its HELLO was lost).  Our HELLO
             * tells it; at most every HELLO_GAP_US. */
            if (pair)
                hello_to_source(node, hdr.src, transport_index, src);
            return RSHARE_EAUTH;
        }
        body = plain;
    }
    if (hdr.type == RS_PKT_HELLO)
        return on_hello_packet(node, transport_index, src, &hdr, body, body_len);
    struct rs_pkt_data data;
    struct rs_pkt_ack ack;
    st = hdr.type == RS_PKT_DATA ? rs_pkt_data_decode(body, body_len, &data)
                                 : rs_pkt_ack_decode(body, body_len, &ack);
    if (st != RS_PKT_OK) {
        count_status(node, st);
        return RSHARE_EPROTO;
    }
    if (identity && !pair && !(known && known->has_identity && known->session == hdr.session)) {
        /* A broadcast from a node we have not shaken hands with (in this
         * boot of either): answered with a HELLO, delivered once it is done. */
        RS_STAT_INC(node, rx_no_pair);
        hello_to_source(node, hdr.src, transport_index, src);
        return RSHARE_EAGAIN;
    }
    struct rs_peer *peer = known;
    if (peer && peer->has_session && peer->session != hdr.session &&
        !session_acceptable(peer, hdr.session)) {
        RS_STAT_INC(node, rx_replayed);
        return RSHARE_EREPLAY;
    }
    /* In identity mode broadcasts keep a window of their own (peer.h). */
    bool own_window = identity && !pair;
    if (peer && peer->has_session && peer->session == hdr.session &&
        !rs_replay_check(own_window ? &peer->broadcast_replay : &peer->replay, hdr.seq)) {
        RS_STAT_INC(node, rx_replayed);
        return RSHARE_EREPLAY;
    }
    if (!peer && !(peer = rs_peer_get(node, hdr.src)))
        return RSHARE_EBUSY;
    if (!peer->has_session || peer->session != hdr.session)
        adopt_session(node, peer, hdr.session, session_key);
    rs_replay_mark(own_window ? &peer->broadcast_replay : &peer->replay, hdr.seq);
    /* In identity mode only what the pair key proves moves an address. */
    if (!identity || pair)
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

void rs_link_set_identity_check(rshare_node *node, rs_identity_allowed_fn allowed)
{
    rs_link(node)->id.allowed = allowed;
}

void rs_link_identity_revoked(rshare_node *node, const uint8_t pk[RSHARE_IDENTITY_PUBLIC_KEY_BYTES])
{
    struct rs_link *link = rs_link(node);
    for (unsigned b = 0; b < RS_PEER_BUCKETS; b++)
        for (struct rs_peer *p = link->peers.buckets[b]; p; p = p->hash_next)
            if (p->has_identity && memcmp(p->identity_pk, pk, sizeof(p->identity_pk)) == 0) {
                rs_log_info(node, "node %u: its key is revoked, handshake cancelled", p->id);
                p->has_identity = false;
                rs_transfers_drop(node, p);
                rs_reassembly_drop_all(node, p);
                sodium_memzero(p->pair_tx, sizeof(p->pair_tx));
                sodium_memzero(p->pair_rx, sizeof(p->pair_rx));
            }
}

bool rs_link_peer_identity(rshare_node *node, uint32_t id,
                           uint8_t pk[RSHARE_IDENTITY_PUBLIC_KEY_BYTES])
{
    struct rs_peer *p = rs_peer_find(node, id);
    if (!p || !p->has_identity)
        return false;
    memcpy(pk, p->identity_pk, RSHARE_IDENTITY_PUBLIC_KEY_BYTES);
    return true;
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
