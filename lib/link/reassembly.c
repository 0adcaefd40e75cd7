/* rshare link — reassembly of fragmented messages.  Memory is bounded per
 * peer and per node, every transfer times out after reassembly_timeout_ms
 * without a fragment, and each completed transfer is remembered for a while
 * so that retransmitted fragments get an acknowledgement, not a second
 * delivery. */
#include "config.h"

#include <string.h>

#include "core/shared.h"
#include "link.h"
#include "reassembly.h"

static void reassembly_timeout(rshare_node *node, struct rs_timer *timer);

static void reassembly_free(rshare_node *node, struct rs_reassembly *r)
{
    struct rs_reassembly **pp = &r->peer->in;
    while (*pp && *pp != r)
        pp = &(*pp)->next;
    if (*pp)
        *pp = r->next;
    r->peer->in_count--;
    rs_link(node)->reassembly_bytes -= r->total;
    rs_timer_cancel(node, &r->timer);
    rs_shared_unref(node, r->buf);
    rs_free(node, r->have);
    rs_free(node, r);
}

static void send_ack(rshare_node *node, struct rs_peer *peer, uint32_t xfer, uint16_t next,
                     uint64_t bitmap, unsigned flags)
{
    struct rs_pkt_ack ack = {.xfer = xfer, .next = next, .bitmap = bitmap};
    uint8_t part[RS_PKT_ACK_LEN];
    rs_pkt_ack_encode(&ack, part);
    rs_link_send_packet(node, peer, RS_PKT_ACK, flags, part, sizeof(part), NULL, 0);
}

static void ack_progress(rshare_node *node, struct rs_reassembly *r, unsigned flags)
{
    uint64_t bitmap = 0;
    for (unsigned b = 0; b < RS_PKT_ACK_BITS; b++) {
        uint32_t i = (uint32_t)r->next_missing + 1 + b;
        if (i < r->count && r->have[i])
            bitmap |= UINT64_C(1) << b;
    }
    send_ack(node, r->peer, r->xfer, r->next_missing, bitmap, flags);
    r->since_ack = 0;
}

static struct rs_reassembly *find(struct rs_peer *peer, uint32_t xfer)
{
    struct rs_reassembly *r = peer->in;
    while (r && r->xfer != xfer)
        r = r->next;
    return r;
}

static struct rs_reassembly *start(rshare_node *node, struct rs_peer *peer,
                                   const struct rs_pkt_data *d)
{
    struct rs_core *core = rs_core(node);
    struct rs_link *link = rs_link(node);
    if (d->total > core->config.max_message_bytes) {
        RS_STAT_INC(node, rx_oversized);
        return NULL;
    }
    if (peer->in_count >= RS_REASSEMBLY_PER_PEER ||
        link->reassembly_bytes + d->total > core->config.max_reassembly_bytes) {
        RS_STAT_INC(node, reassembly_overflows);
        return NULL;
    }
    struct rs_reassembly *r = rs_calloc(node, 1, sizeof(*r));
    if (!r)
        return NULL;
    r->buf = rs_shared_alloc(node, d->total);
    r->have = rs_calloc(node, d->count, 1);
    if (!r->buf || !r->have) {
        rs_shared_unref(node, r->buf);
        rs_free(node, r->have);
        rs_free(node, r);
        return NULL;
    }
    r->peer = peer;
    r->xfer = d->xfer;
    r->total = d->total;
    r->count = d->count;
    rs_timer_init(&r->timer, reassembly_timeout);
    r->next = peer->in;
    peer->in = r;
    peer->in_count++;
    link->reassembly_bytes += d->total;
    return r;
}

/* The first fragment is in: ask whether the data has a sink. */
static void decide_place(rshare_node *node, struct rs_reassembly *r, const uint8_t *first,
                         size_t len)
{
    const struct rs_link_placement *pl = &rs_link(node)->placement;
    uint32_t key;
    size_t off;
    r->place = RS_PLACE_BUFFER;
    if (pl->claim && pl->claim(node, r->peer->id, first, len, r->total, &key, &off) &&
        off <= len && off < r->total) {
        r->place = RS_PLACE_SINK;
        r->place_key = key;
        r->data_off = (uint32_t)off;
    }
}

/* A fragment's bytes (message bytes [at, at + len)): what precedes the
 * data into the buffer, the data into the sink while it is there, else
 * into the buffer too.  Returns its enum rs_have. */
static uint8_t take_fragment(rshare_node *node, struct rs_reassembly *r, size_t at,
                             const uint8_t *bytes, size_t len)
{
    struct rs_link *link = rs_link(node);
    if (r->place == RS_PLACE_SINK && at + len > r->data_off) {
        size_t head = at < r->data_off ? r->data_off - at : 0;
        if (link->placement.place(node, r->peer->id, r->place_key, at + head - r->data_off,
                                  bytes + head, len - head)) {
            memcpy(r->buf + at, bytes, head);
            link->placed_bytes += len - head;
            return RS_HAVE_PLACED;
        }
    }
    memcpy(r->buf + at, bytes, len);
    return RS_HAVE_BUFFERED;
}

/* At the end: the data of fragments that came before the first one (or
 * after the sink went) goes to the sink from the buffer. */
static void place_buffered(rshare_node *node, struct rs_reassembly *r)
{
    uint32_t f = rs_pkt_fragment_size(r->total, r->count);
    for (uint32_t i = 0; i < r->count; i++) {
        size_t at = (size_t)i * f, end = i + 1u == r->count ? r->total : at + f;
        if (r->have[i] != RS_HAVE_BUFFERED || end <= r->data_off)
            continue;
        at = at > r->data_off ? at : r->data_off;
        rs_link(node)->placement.place(node, r->peer->id, r->place_key, at - r->data_off,
                                       r->buf + at, end - at);
    }
}

void rs_reassembly_on_data(rshare_node *node, struct rs_peer *peer, const struct rs_pkt_data *d,
                           const uint8_t *payload, size_t len, unsigned flags)
{
    struct rs_reassembly *r = find(peer, d->xfer);
    if (!r) {
        if (rs_peer_recently_completed(peer, d->xfer)) {
            /* Our final acknowledgement was lost: repeat it. */
            send_ack(node, peer, d->xfer, d->count, 0, flags);
            return;
        }
        r = start(node, peer, d);
        if (!r)
            return;
    } else if (r->total != d->total || r->count != d->count) {
        RS_STAT_INC(node, rx_malformed);
        return;
    }
    rs_timer_schedule(node, &r->timer,
                      rs_now_us(node) + (uint64_t)rs_core(node)->config.reassembly_timeout_ms * 1000u);
    bool gap = d->index > r->highest + 1u && r->received;
    if (!r->have[d->index]) {
        uint32_t f = rs_pkt_fragment_size(r->total, r->count);
        if (d->index == 0 && r->place == RS_PLACE_UNDECIDED)
            decide_place(node, r, payload, len);
        r->have[d->index] = take_fragment(node, r, (size_t)d->index * f, payload, len);
        r->received++;
        if (d->index > r->highest)
            r->highest = d->index;
        while (r->next_missing < r->count && r->have[r->next_missing])
            r->next_missing++;
    }
    r->since_ack++;
    if (r->received == r->count) {
        send_ack(node, peer, r->xfer, r->count, 0, flags);
        rs_peer_remember_completed(peer, r->xfer);
        if (r->place == RS_PLACE_SINK)
            place_buffered(node, r);
        struct rs_link_msg msg = {.data = r->buf, .len = r->total, .owned = true,
                                  .placed = r->place == RS_PLACE_SINK};
        uint32_t src = peer->id;
        struct rs_link *link = rs_link(node);
        /* Detach the buffer before delivery: the upper layer may keep it. */
        r->buf = NULL;
        reassembly_free(node, r);
        link->deliver(node, src, &msg);
        if (msg.owned)
            rs_shared_unref(node, msg.data);
        return;
    }
    if (gap || r->since_ack >= RS_ACK_EVERY || d->index + 1u == r->count)
        ack_progress(node, r, flags);
}

static void reassembly_timeout(rshare_node *node, struct rs_timer *timer)
{
    struct rs_reassembly *r =
        (struct rs_reassembly *)((char *)timer - offsetof(struct rs_reassembly, timer));
    RS_STAT_INC(node, reassembly_timeouts);
    rs_log_debug(node, "reassembly of transfer %u from node %u timed out (%u of %u fragments)",
                 r->xfer, r->peer->id, r->received, r->count);
    reassembly_free(node, r);
}

void rs_reassembly_drop_all(rshare_node *node, struct rs_peer *peer)
{
    while (peer->in)
        reassembly_free(node, peer->in);
}
