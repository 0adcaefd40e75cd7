/* rshare link — the peer table: what the link layer knows of each other
 * node (address, boot session, replay window, transfers both ways), plus
 * one slot the message layer hangs its own per-peer state on. */
#ifndef RSHARE_PEER_H
#define RSHARE_PEER_H

#include <stdbool.h>
#include <stdint.h>

#include "rshare/transport.h"
#include "replay.h"

#define RS_PEER_BUCKETS 64
#define RS_PEER_COMPLETED 64 /* recently completed incoming transfers */
#define RS_PEER_OLD_SESSIONS 8

struct rs_xfer_out;
struct rs_reassembly;
typedef struct rshare_node rshare_node;

struct rs_peer {
    uint32_t id;
    struct rs_peer *hash_next;

    bool has_addr;
    bool configured; /* given by rshare_node_add_peer(): a discovery seed */
    int transport;
    struct rshare_link_addr addr;
    /* Its urgent lane, learned from the source of its urgent packets when
     * that differs from `addr` (RSHARE_TRANSPORT_CAP_URGENT_LANE). */
    bool has_urgent;
    int urgent_transport; /* ours, that the lane's packets came in on */
    struct rshare_link_addr urgent_addr;

    bool has_session;
    uint64_t session;
    struct rs_replay replay;
    uint8_t session_key[32]; /* protected mode: the key of `session` */
    uint64_t old_sessions[RS_PEER_OLD_SESSIONS]; /* superseded: never accepted again */
    unsigned old_next;

    /* Identity mode: its public key, shown in a verified HELLO of
     * `session`, and the keys of this pair (link/identity.h). */
    bool has_identity;
    uint8_t identity_pk[32];
    uint8_t pair_tx[32], pair_rx[32];
    uint64_t last_hello_us; /* our last HELLO to it */
    /* Its broadcasts, which only the network key protects: a window of
     * their own, so that a forged one cannot push the pair window ahead. */
    struct rs_replay broadcast_replay;

    struct rs_xfer_out *out;
    struct rs_reassembly *in;
    uint32_t in_count;
    uint32_t completed[RS_PEER_COMPLETED];
    unsigned completed_next;

    void *upper; /* message-layer state, released through rs_link peer_free */
};

struct rs_peer_table {
    struct rs_peer *buckets[RS_PEER_BUCKETS];
    uint32_t count;
};

struct rs_peer *rs_peer_find(rshare_node *node, uint32_t id);
/* Find or create; NULL (counted) when the table is full or memory is short. */
struct rs_peer *rs_peer_get(rshare_node *node, uint32_t id);
void rs_peer_table_clear(rshare_node *node);

void rs_peer_remember_completed(struct rs_peer *peer, uint32_t xfer);
bool rs_peer_recently_completed(const struct rs_peer *peer, uint32_t xfer);

#endif
