/* rshare link — internal interface of the packet layer: messages in,
 * packets out (fragmented to each transport's MTU, protected, retransmitted
 * selectively), and reassembled messages up through a callback. */
#ifndef RSHARE_LINK_H
#define RSHARE_LINK_H

#include <stdbool.h>

#include "core/core.h"
#include "identity.h"
#include "peer.h"
#include "protect.h"

/* A message handed up.  When `owned` is true the upper layer may take the
 * buffer, a shared one (set `owned` to false and release it later with
 * rs_shared_unref()).  When `placed` is true its data went straight to the
 * sink the placement hook claimed it for, and those bytes of `data` are
 * not filled in. */
struct rs_link_msg {
    uint8_t *data;
    size_t len;
    bool owned;
    bool placed;
};

/* Receiving a message's data straight to where its reader wants it (a
 * block read's reply into the reader's buffers) instead of into the
 * reassembly buffer first.  `claim` is asked when the first fragment of a
 * multi-packet message from `src` arrives (`first`: its bytes): true when
 * message bytes [*data_off, total) go to the sink named `*key`.  `place`
 * copies `len` bytes that belong at byte `at` of that data (message byte
 * data_off + at) to the sink; false when the sink has gone (its request is
 * over, so the message is of no use any more). */
struct rs_link_placement {
    bool (*claim)(rshare_node *node, uint32_t src, const uint8_t *first, size_t first_len,
                  size_t total, uint32_t *key, size_t *data_off);
    bool (*place)(rshare_node *node, uint32_t src, uint32_t key, size_t at,
                  const uint8_t *bytes, size_t len);
};

typedef void (*rs_link_deliver_fn)(rshare_node *node, uint32_t src, struct rs_link_msg *msg);
/* A peer restarted (new boot session) or is being forgotten. */
typedef void (*rs_link_peer_fn)(rshare_node *node, struct rs_peer *peer);

struct rs_link {
    struct rs_peer_table peers;
    uint8_t key[RS_PROTECT_KEY_LEN];      /* packet key, from the cluster key */
    uint8_t tx_key[RS_PROTECT_KEY_LEN];   /* this node's session key */
    uint64_t next_seq;
    uint32_t next_xfer;
    size_t reassembly_bytes;
    uint8_t *rx_buf, *tx_buf; /* scratch, sized to the largest MTU */
    size_t rx_len, tx_len;
    struct rs_identity id; /* identity mode */

    rs_link_deliver_fn deliver;
    rs_link_peer_fn peer_reset;
    rs_link_peer_fn peer_free;
    struct rs_link_placement placement; /* both NULL: everything is reassembled */
    uint64_t placed_bytes;              /* received straight to a sink (tests read it) */
};

struct rs_link *rs_link(rshare_node *node);
int rs_link_init(rshare_node *node);
void rs_link_fini(rshare_node *node);

void rs_link_set_upper(rshare_node *node, rs_link_deliver_fn deliver,
                       rs_link_peer_fn peer_reset, rs_link_peer_fn peer_free);
void rs_link_set_placement(rshare_node *node, const struct rs_link_placement *placement);

/* Send one message to `dst` (or RSHARE_NODE_ID_BROADCAST, single packet
 * only).  `*xfer_out` receives the transfer id when the message needed
 * several packets (0 otherwise).  `msg` is a shared buffer
 * (core/shared.h): a transfer keeps a reference to it instead of a copy,
 * so the caller must not change it while the transfer lasts (the message
 * layer changes a request's header only to resend it, once its previous
 * transfer is over). */
int rs_link_send(rshare_node *node, uint32_t dst, uint8_t *msg, size_t len, unsigned flags,
                 uint32_t *xfer_out);
/* True while a multi-packet transfer is still being delivered. */
bool rs_link_transfer_active(rshare_node *node, uint32_t dst, uint32_t xfer);

/* True while a multi-packet message from `src` is being reassembled. */
bool rs_link_receiving_from(rshare_node *node, uint32_t src);

/* Call `fn` for every peer configured with rshare_node_add_peer(). */
void rs_link_for_each_seed(rshare_node *node, void (*fn)(rshare_node *node, uint32_t id, void *arg),
                           void *arg);

/* Largest message the node accepts or sends. */
size_t rs_link_max_message(rshare_node *node);

/* Identity mode: the map's verdict on a peer's key (set by the layer that
 * holds the map), and forgetting every peer that uses a key the map now
 * revokes: their packets are refused until a handshake with another key. */
void rs_link_set_identity_check(rshare_node *node, rs_identity_allowed_fn allowed);
void rs_link_identity_revoked(rshare_node *node, const uint8_t pk[RSHARE_IDENTITY_PUBLIC_KEY_BYTES]);
/* The public key a peer showed in its handshake (false: none yet). */
bool rs_link_peer_identity(rshare_node *node, uint32_t id,
                           uint8_t pk[RSHARE_IDENTITY_PUBLIC_KEY_BYTES]);

/* Packet-building helpers shared by the link files.  RS_LINK_F_NETWORK
 * (internal, beside RSHARE_SEND_*): seal with the network key, not the
 * pair key. */
#define RS_LINK_F_NETWORK 0x80000000u
int rs_link_send_packet(rshare_node *node, struct rs_peer *peer, uint8_t type, unsigned flags,
                        const uint8_t *part, size_t part_len, const void *payload,
                        size_t payload_len);
uint8_t *rs_link_scratch(rshare_node *node, size_t need, bool rx);

#endif
