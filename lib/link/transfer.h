/* rshare link — outgoing multi-packet transfers: a window of fragments in
 * flight, selective acknowledgements, fast retransmission of gaps and a
 * backed-off retransmission timer; a transfer without progress for the
 * request timeout is abandoned (the message layer retries). */
#ifndef RSHARE_TRANSFER_H
#define RSHARE_TRANSFER_H

#include "core/core.h"
#include "packet.h"
#include "peer.h"

struct rs_xfer_out {
    struct rs_xfer_out *next;
    struct rs_peer *peer;
    struct rs_timer timer;
    uint32_t xfer;
    uint32_t total;
    uint16_t count;
    uint16_t base;           /* every fragment below is acknowledged */
    unsigned flags;
    uint32_t rto_us;
    uint64_t last_progress_us;
    uint8_t *msg;
    uint8_t *acked;          /* one byte per fragment */
    uint64_t *sent_at;       /* last transmission of each fragment, 0 = never */
};

/* Start sending `msg`, a shared buffer (core/shared.h) of which the
 * transfer keeps a reference until it ends. */
int rs_transfer_start(rshare_node *node, struct rs_peer *peer, uint8_t *msg, uint32_t len,
                      uint16_t count, unsigned flags, uint32_t xfer);
void rs_transfer_on_ack(rshare_node *node, struct rs_peer *peer, const struct rs_pkt_ack *ack);
struct rs_xfer_out *rs_transfer_find(struct rs_peer *peer, uint32_t xfer);
void rs_transfers_drop(rshare_node *node, struct rs_peer *peer);

#endif
