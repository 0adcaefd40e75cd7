/* rshare link — outgoing transfers.  The sender keeps at most link_window
 * fragments unacknowledged beyond the first missing one; acknowledgements
 * are selective, so one lost packet costs one retransmission. */
#include "config.h"

#include <string.h>

#include "core/shared.h"
#include "link.h"
#include "transfer.h"

#define RTO_MAX_US 2000000u

static void transfer_timer(rshare_node *node, struct rs_timer *timer);

static uint32_t base_rto_us(rshare_node *node)
{
    return rs_core(node)->config.request_retry_ms * 1000u;
}

static void transfer_free(rshare_node *node, struct rs_xfer_out *t)
{
    struct rs_xfer_out **pp = &t->peer->out;
    while (*pp && *pp != t)
        pp = &(*pp)->next;
    if (*pp)
        *pp = t->next;
    rs_timer_cancel(node, &t->timer);
    rs_shared_unref(node, t->msg);
    rs_free(node, t->acked);
    rs_free(node, t->sent_at);
    rs_free(node, t);
}

static int send_fragment(rshare_node *node, struct rs_xfer_out *t, uint16_t index)
{
    struct rs_pkt_data d = {.xfer = t->xfer, .total = t->total, .index = index, .count = t->count};
    uint8_t part[RS_PKT_DATA_LEN];
    rs_pkt_data_encode(&d, part);
    uint32_t f = rs_pkt_fragment_size(t->total, t->count);
    uint32_t len = rs_pkt_fragment_len(t->total, t->count, index);
    if (t->sent_at[index])
        RS_STAT_INC(node, retransmits);
    t->sent_at[index] = rs_now_us(node);
    return rs_link_send_packet(node, t->peer, RS_PKT_DATA, t->flags, part, sizeof(part),
                               t->msg + (size_t)index * f, len);
}

/* Send every fragment of the window that has never been sent. */
static void fill_window(rshare_node *node, struct rs_xfer_out *t)
{
    uint32_t window = rs_core(node)->config.link_window;
    uint32_t end = t->base + window < t->count ? t->base + window : t->count;
    for (uint32_t i = t->base; i < end; i++)
        if (!t->acked[i] && !t->sent_at[i] && send_fragment(node, t, (uint16_t)i) == RSHARE_EAGAIN)
            break; /* transport full: the timer resends */
}

static void arm(rshare_node *node, struct rs_xfer_out *t)
{
    rs_timer_schedule(node, &t->timer, rs_now_us(node) + t->rto_us);
}

int rs_transfer_start(rshare_node *node, struct rs_peer *peer, uint8_t *msg, uint32_t len,
                      uint16_t count, unsigned flags, uint32_t xfer)
{
    struct rs_xfer_out *t = rs_calloc(node, 1, sizeof(*t));
    if (!t)
        return RSHARE_ENOMEM;
    t->acked = rs_calloc(node, count, 1);
    t->sent_at = rs_calloc(node, count, sizeof(uint64_t));
    t->peer = peer;
    t->next = peer->out;
    peer->out = t;
    if (!t->acked || !t->sent_at) {
        transfer_free(node, t);
        return RSHARE_ENOMEM;
    }
    t->msg = rs_shared_ref(msg); /* lent, not copied: see rs_link_send() */
    t->xfer = xfer;
    t->total = len;
    t->count = count;
    t->flags = flags;
    t->rto_us = base_rto_us(node);
    t->last_progress_us = rs_now_us(node);
    rs_timer_init(&t->timer, transfer_timer);
    fill_window(node, t);
    arm(node, t);
    return 0;
}

struct rs_xfer_out *rs_transfer_find(struct rs_peer *peer, uint32_t xfer)
{
    struct rs_xfer_out *t = peer->out;
    while (t && t->xfer != xfer)
        t = t->next;
    return t;
}

static bool mark_acked(struct rs_xfer_out *t, uint32_t index)
{
    if (index >= t->count || t->acked[index])
        return false;
    t->acked[index] = 1;
    return true;
}

void rs_transfer_on_ack(rshare_node *node, struct rs_peer *peer, const struct rs_pkt_ack *ack)
{
    struct rs_xfer_out *t = rs_transfer_find(peer, ack->xfer);
    if (!t)
        return; /* finished or abandoned already */
    bool progress = false;
    uint32_t next = ack->next < t->count ? ack->next : t->count;
    for (uint32_t i = t->base; i < next; i++)
        progress |= mark_acked(t, i);
    uint32_t highest = next; /* one past the highest fragment known received */
    for (unsigned b = 0; b < RS_PKT_ACK_BITS; b++) {
        if (ack->bitmap >> b & 1u) {
            uint32_t i = next + 1 + b;
            progress |= mark_acked(t, i);
            if (i + 1 > highest && i < t->count)
                highest = i + 1;
        }
    }
    while (t->base < t->count && t->acked[t->base])
        t->base++;
    if (t->base == t->count) {
        transfer_free(node, t);
        return;
    }
    uint64_t now = rs_now_us(node);
    if (progress) {
        t->last_progress_us = now;
        t->rto_us = base_rto_us(node);
    }
    /* A fragment below one that arrived, sent long enough ago, was lost. */
    for (uint32_t i = t->base; i < highest; i++)
        if (!t->acked[i] && t->sent_at[i] && now - t->sent_at[i] >= t->rto_us / 4)
            send_fragment(node, t, (uint16_t)i);
    fill_window(node, t);
    arm(node, t);
}

static void transfer_timer(rshare_node *node, struct rs_timer *timer)
{
    struct rs_xfer_out *t = (struct rs_xfer_out *)((char *)timer - offsetof(struct rs_xfer_out, timer));
    uint64_t now = rs_now_us(node);
    uint64_t give_up = (uint64_t)rs_core(node)->config.request_timeout_ms * 1000u;
    if (now - t->last_progress_us >= give_up) {
        RS_STAT_INC(node, transfers_failed);
        rs_log_debug(node, "transfer %u to node %u abandoned", t->xfer, t->peer->id);
        transfer_free(node, t);
        return;
    }
    uint32_t window = rs_core(node)->config.link_window;
    uint32_t end = t->base + window < t->count ? t->base + window : t->count;
    for (uint32_t i = t->base; i < end; i++)
        if (!t->acked[i] && (!t->sent_at[i] || now - t->sent_at[i] >= t->rto_us))
            send_fragment(node, t, (uint16_t)i);
    t->rto_us = t->rto_us * 2 < RTO_MAX_US ? t->rto_us * 2 : RTO_MAX_US;
    arm(node, t);
}

void rs_transfers_drop(rshare_node *node, struct rs_peer *peer)
{
    while (peer->out)
        transfer_free(node, peer->out);
}
