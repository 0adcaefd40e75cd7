/* rshare msg — internal interface of the message layer: request/response
 * with retries and backoff, at-most-once execution through a per-peer
 * dedupe cache, handlers per message type. */
#ifndef RSHARE_MSG_H
#define RSHARE_MSG_H

#include "core/seg.h"
#include "core/core.h"
#include "header.h"
#include "link/link.h"

#define RS_PENDING_BUCKETS 256

struct rs_handler {
    uint16_t type;
    rshare_handler_fn fn;
    void *user_data;
    unsigned flags; /* RS_HANDLER_* */
};

/* Requests of this type depend on the global map: one whose sender holds
 * another map version than the receiver is refused with RSHARE_ESTALE
 * (uncached, nothing executed), and the sender's message layer retries it
 * once its own copy has caught up (or the receiver's has). */
#define RS_HANDLER_MAP_VERSIONED 0x1u

struct rs_pending; /* an outgoing request (request.c) */
struct rs_dedupe_entry;

/* What the message layer keeps per peer (hung on the link's peer). */
struct rs_msg_peer {
    /* as requester: our slots for this peer, and requests waiting for one */
    uint8_t *slot_busy;
    uint32_t slots_used;
    struct rs_pending *queue_head, *queue_tail;
    /* as responder: the reply cache, indexed by the peer's slots */
    struct rs_dedupe_entry *cache;
    uint32_t cache_len;
};

struct rs_msg {
    struct rs_handler *handlers;
    size_t handler_count;

    struct rs_pending *pending[RS_PENDING_BUCKETS];
    uint32_t pending_count;
    uint32_t next_request_id;

    struct rshare_request *incoming; /* requests not answered yet */
    bool closing;                    /* the node is being destroyed */

    uint32_t map_epoch;   /* carried in every header; set by the cluster layer */
    uint64_t map_version;
};

struct rs_msg *rs_msg(rshare_node *node);
int rs_msg_init(rshare_node *node);
void rs_msg_fini(rshare_node *node);

/* Messages are shared buffers (core/shared.h): whoever keeps one (a
 * request for its retries, the reply cache) holds a reference, and a
 * multi-packet transfer of it takes another instead of a copy.  Release
 * them with rs_msg_discard().
 *
 * Encode header + CBOR byte-string body into a fresh buffer. */
int rs_msg_build(rshare_node *node, const struct rs_msg_hdr *hdr, const void *body,
                 size_t body_len, uint8_t **out, size_t *out_len);
/* The same with a raw CBOR body (already encoded). */
int rs_msg_build_raw(rshare_node *node, const struct rs_msg_hdr *hdr, const void *cbor,
                     size_t cbor_len, uint8_t **out, size_t *out_len);
void rs_msg_fill_hdr(rshare_node *node, struct rs_msg_hdr *hdr, uint8_t kind, uint16_t type,
                     uint32_t request_id);

/* A message whose raw CBOR body (up to `body_cap` bytes) the caller writes
 * in place at RS_MSG_BODY(wire) — a block request's data is read from the
 * disk or copied straight into the message that goes out — and then hands
 * to rs_msg_call_prepared() or rs_request_reply_prepared(), which take it
 * over.  NULL (and the node's error detail set) when the body is above the
 * message limit or memory is short. */
uint8_t *rs_msg_prepare(rshare_node *node, size_t body_cap);
#define RS_MSG_BODY(wire) ((wire) + RS_MSG_HDR_LEN)
/* Drop the holder's reference to a message (NULL is ignored). */
void rs_msg_discard(rshare_node *node, uint8_t *wire);

/* For the layers above: their own message types (below
 * RSHARE_MSG_TYPE_APP_FIRST) carry raw CBOR bodies, not byte strings. */
int rs_msg_set_handler(rshare_node *node, uint16_t type, rshare_handler_fn handler,
                       void *user_data);
int rs_msg_set_handler_flags(rshare_node *node, uint16_t type, rshare_handler_fn handler,
                             void *user_data, unsigned flags);
int rs_msg_call(rshare_node *node, uint32_t peer_id, uint16_t type, const void *body, size_t len,
                rshare_reply_fn done, void *user_data);
/* rs_msg_call() with a prepared message of a raw-CBOR type; `wire` is
 * taken over whatever the outcome. */
int rs_msg_call_prepared(rshare_node *node, uint32_t peer_id, uint16_t type, uint8_t *wire,
                         size_t body_len, rshare_reply_fn done, void *user_data);
/* Where a request's reply data is received straight to (rs_msg_call_into):
 * a reply whose body is `head` followed by exactly `length` bytes has those
 * bytes written into the segments from their byte `skip` on, fragment by
 * fragment as they arrive, instead of into a reassembly buffer and then
 * copied.  `filled` is set before the reply's callback when they were: the
 * reply's body then holds its head but not its data.  The owner clears
 * `armed` when its buffers go away before the reply comes (a reply already
 * going there then ends the request with RSHARE_ECANCELED); the sink itself
 * must live until the request completes. */
struct rs_reply_sink {
    const struct rs_seg *seg;
    uint32_t nseg;
    uint64_t skip;
    uint64_t length;
    uint8_t head[9];
    uint8_t head_len;
    bool armed;
    bool filled;
};
/* rs_msg_call_prepared() whose reply data may go straight to `sink`. */
int rs_msg_call_into(rshare_node *node, uint32_t peer_id, uint16_t type, uint8_t *wire,
                     size_t body_len, struct rs_reply_sink *sink, rshare_reply_fn done,
                     void *user_data);
/* The link's placement hooks (rs_link_placement) for reply sinks. */
extern const struct rs_link_placement rs_msg_placement;
/* rshare_request_reply() with a prepared message; `wire` is taken over. */
int rs_request_reply_prepared(rshare_request *request, uint8_t *wire, size_t body_len);
int rs_msg_notify(rshare_node *node, uint32_t peer_id, uint16_t type, const void *body,
                  size_t len, unsigned flags);

/* The map version every outgoing header carries (set by the cluster
 * layer whenever its copy of the map changes). */
void rs_msg_set_map_version(rshare_node *node, uint32_t epoch, uint64_t version);

/* request.c */
void rs_request_on_answer(rshare_node *node, uint32_t src, const struct rs_msg_hdr *hdr,
                          const uint8_t *body, size_t body_len, bool placed);
void rs_requests_fail_all(rshare_node *node, int status);
/* The map version changed: resend requests that waited for it. */
void rs_requests_map_advanced(rshare_node *node);
/* The peer restarted: requests it may have seen complete with an error. */
void rs_requests_peer_restarted(rshare_node *node, uint32_t peer_id);

/* Per-peer state, created on first use (NULL when memory is short). */
struct rs_msg_peer *rs_msg_peer(rshare_node *node, struct rs_peer *peer);

/* dispatch.c */
void rs_msg_deliver(rshare_node *node, uint32_t src, struct rs_link_msg *msg);
void rs_incoming_free_all(rshare_node *node);
/* The peer restarted: answers to its earlier requests must not reach its
 * new boot, whose request ids start again at 1. */
void rs_incoming_orphan(rshare_node *node, uint32_t peer_id);

#endif
