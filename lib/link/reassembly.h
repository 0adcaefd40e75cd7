/* rshare link — incoming multi-packet transfers: bounded reassembly (per
 * peer and node-wide memory limits, an inactivity timeout) and the
 * selective acknowledgements that drive the sender. */
#ifndef RSHARE_REASSEMBLY_H
#define RSHARE_REASSEMBLY_H

#include "core/core.h"
#include "packet.h"
#include "peer.h"

#define RS_REASSEMBLY_PER_PEER 16
#define RS_ACK_EVERY 4

/* Where a message's data goes (rs_link_placement): undecided until its
 * first fragment is in, then to the claimer's sink or the buffer. */
enum rs_place { RS_PLACE_UNDECIDED, RS_PLACE_SINK, RS_PLACE_BUFFER };
/* A fragment that is in: its bytes in the buffer, or its data in the sink
 * (the buffer holds only what comes before data_off). */
enum rs_have { RS_HAVE_BUFFERED = 1, RS_HAVE_PLACED };

struct rs_reassembly {
    struct rs_reassembly *next;
    struct rs_peer *peer;
    struct rs_timer timer;
    uint32_t xfer;
    uint32_t total;
    uint16_t count;
    uint16_t received;
    uint16_t next_missing;
    uint16_t highest;        /* highest index received */
    uint16_t since_ack;
    uint8_t place;           /* enum rs_place: where the data goes */
    uint32_t place_key;      /* the sink's name, when placing */
    uint32_t data_off;       /* message bytes from here on go to the sink */
    uint8_t *have;           /* per fragment: 0, or enum rs_have */
    uint8_t *buf;
};

/* Take one fragment; delivers the message upward when it completes. */
void rs_reassembly_on_data(rshare_node *node, struct rs_peer *peer, const struct rs_pkt_data *d,
                           const uint8_t *payload, size_t len, unsigned flags);
void rs_reassembly_drop_all(rshare_node *node, struct rs_peer *peer);

#endif
