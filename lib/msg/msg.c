/* rshare msg — the message layer's set-up, handler registry and message
 * building; wires the link layer's upward callbacks. */
#include "config.h"

#include <string.h>

#include "body.h"
#include "core/shared.h"
#include "dedupe.h"
#include "msg.h"

struct rs_msg_peer *rs_msg_peer(rshare_node *node, struct rs_peer *peer)
{
    if (peer->upper)
        return peer->upper;
    struct rs_msg_peer *mp = rs_calloc(node, 1, sizeof(*mp));
    if (!mp)
        return NULL;
    mp->slot_busy = rs_calloc(node, rs_core(node)->config.peer_slots, 1);
    if (!mp->slot_busy) {
        rs_free(node, mp);
        return NULL;
    }
    peer->upper = mp;
    return mp;
}

static void peer_reset(rshare_node *node, struct rs_peer *peer)
{
    if (peer->upper)
        rs_dedupe_clear(node, peer->upper);
    rs_requests_peer_restarted(node, peer->id);
    rs_incoming_orphan(node, peer->id);
}

/* The node is going away: pending requests were completed before. */
static void peer_free(rshare_node *node, struct rs_peer *peer)
{
    struct rs_msg_peer *mp = peer->upper;
    if (!mp)
        return;
    rs_dedupe_clear(node, mp);
    rs_free(node, mp->slot_busy);
    rs_free(node, mp);
    peer->upper = NULL;
}

int rs_msg_init(rshare_node *node)
{
    struct rs_msg *msg = rs_msg(node);
    if (rs_core(node)->config.peer_slots > RS_MSG_SLOTS_MAX)
        return rs_errorf(node, RSHARE_EINVAL, "peer_slots above %u", RS_MSG_SLOTS_MAX);
    msg->next_request_id = 1;
    rs_link_set_upper(node, rs_msg_deliver, peer_reset, peer_free);
    rs_link_set_placement(node, &rs_msg_placement);
    return 0;
}

void rs_msg_fini(rshare_node *node)
{
    struct rs_msg *msg = rs_msg(node);
    rs_requests_fail_all(node, RSHARE_ESHUTDOWN);
    rs_incoming_free_all(node);
    rs_free(node, msg->handlers);
    msg->handlers = NULL;
    msg->handler_count = 0;
}

RSHARE_API int rshare_node_set_handler(rshare_node *node, uint16_t type, rshare_handler_fn handler,
                                       void *user_data)
{
    if (!node)
        return RSHARE_EINVAL;
    if (type < RSHARE_MSG_TYPE_APP_FIRST)
        return rs_errorf(node, RSHARE_EINVAL, "message type 0x%04x is reserved for rshare", type);
    return rs_msg_set_handler(node, type, handler, user_data);
}

int rs_msg_set_handler(rshare_node *node, uint16_t type, rshare_handler_fn handler,
                       void *user_data)
{
    return rs_msg_set_handler_flags(node, type, handler, user_data, 0);
}

int rs_msg_set_handler_flags(rshare_node *node, uint16_t type, rshare_handler_fn handler,
                             void *user_data, unsigned flags)
{
    struct rs_msg *msg = rs_msg(node);
    for (size_t i = 0; i < msg->handler_count; i++) {
        if (msg->handlers[i].type != type)
            continue;
        if (handler) {
            msg->handlers[i].fn = handler;
            msg->handlers[i].user_data = user_data;
            msg->handlers[i].flags = flags;
        } else {
            msg->handlers[i] = msg->handlers[--msg->handler_count];
        }
        return 0;
    }
    if (!handler)
        return 0;
    struct rs_handler *grown =
        rs_realloc(node, msg->handlers, (msg->handler_count + 1) * sizeof(*grown));
    if (!grown)
        return RSHARE_ENOMEM;
    msg->handlers = grown;
    msg->handlers[msg->handler_count++] = (struct rs_handler){type, handler, user_data, flags};
    return 0;
}

RSHARE_API void rshare_free(rshare_node *node, void *ptr)
{
    if (node)
        rs_free(node, ptr);
}

void rs_msg_fill_hdr(rshare_node *node, struct rs_msg_hdr *hdr, uint8_t kind, uint16_t type,
                     uint32_t request_id)
{
    struct rs_msg *msg = rs_msg(node);
    hdr->kind = kind;
    hdr->type = type;
    hdr->request_id = request_id;
    hdr->sender = rs_core(node)->config.node_id;
    hdr->map_epoch = msg->map_epoch;
    hdr->map_version = msg->map_version;
    hdr->slot = 0;
}

int rs_msg_build_raw(rshare_node *node, const struct rs_msg_hdr *hdr, const void *cbor,
                     size_t cbor_len, uint8_t **out, size_t *out_len)
{
    if (cbor_len > rs_link_max_message(node) - RS_MSG_HDR_LEN)
        return rs_errorf(node, RSHARE_EMSGSIZE, "message body of %zu bytes above the limit",
                         cbor_len);
    uint8_t *buf = rs_shared_alloc(node, RS_MSG_HDR_LEN + cbor_len);
    if (!buf)
        return RSHARE_ENOMEM;
    rs_msg_hdr_encode(hdr, buf);
    if (cbor_len)
        memcpy(buf + RS_MSG_HDR_LEN, cbor, cbor_len);
    *out = buf;
    *out_len = RS_MSG_HDR_LEN + cbor_len;
    return 0;
}

uint8_t *rs_msg_prepare(rshare_node *node, size_t body_cap)
{
    if (body_cap > rs_link_max_message(node) - RS_MSG_HDR_LEN) {
        rs_errorf(node, RSHARE_EMSGSIZE, "message body of %zu bytes above the limit", body_cap);
        return NULL;
    }
    uint8_t *buf = rs_shared_alloc(node, RS_MSG_HDR_LEN + body_cap);
    if (!buf)
        rs_errorf(node, RSHARE_ENOMEM, "no memory for a %zu-byte message", body_cap);
    return buf;
}

void rs_msg_discard(rshare_node *node, uint8_t *wire)
{
    rs_shared_unref(node, wire);
}

int rs_msg_build(rshare_node *node, const struct rs_msg_hdr *hdr, const void *body,
                 size_t body_len, uint8_t **out, size_t *out_len)
{
    if (hdr->type < RSHARE_MSG_TYPE_APP_FIRST && hdr->kind != RS_MSG_ERROR)
        return rs_msg_build_raw(node, hdr, body, body_len, out, out_len);
    size_t limit = rs_link_max_message(node);
    size_t cap = RS_MSG_HDR_LEN + rs_cbor_string_head_len(body_len) + body_len;
    if (body_len > limit || cap > limit)
        return rs_errorf(node, RSHARE_EMSGSIZE, "message of %zu bytes above the limit of %zu",
                         cap, limit);
    uint8_t *buf = rs_shared_alloc(node, cap);
    if (!buf)
        return rs_errorf(node, RSHARE_ENOMEM, "no memory for a %zu-byte message", cap);
    rs_msg_hdr_encode(hdr, buf);
    struct rs_cbor_writer w;
    rs_cbor_writer_init(&w, buf + RS_MSG_HDR_LEN, cap - RS_MSG_HDR_LEN);
    rs_cbor_put_bytes(&w, body, body_len);
    *out = buf;
    *out_len = RS_MSG_HDR_LEN + w.len;
    return 0;
}

RSHARE_API int rshare_node_notify(rshare_node *node, uint32_t peer_id, uint16_t type,
                                  const void *body, size_t len)
{
    if (!node || (!body && len))
        return RSHARE_EINVAL;
    if (type < RSHARE_MSG_TYPE_APP_FIRST)
        return rs_errorf(node, RSHARE_EINVAL, "message type 0x%04x is reserved for rshare", type);
    return rs_msg_notify(node, peer_id, type, body, len, 0);
}

int rs_msg_notify(rshare_node *node, uint32_t peer_id, uint16_t type, const void *body,
                  size_t len, unsigned flags)
{
    if (peer_id == RSHARE_NODE_ID_NONE)
        return rs_errorf(node, RSHARE_EINVAL, "no destination");
    struct rs_msg_hdr hdr;
    rs_msg_fill_hdr(node, &hdr, RS_MSG_NOTIFY, type, 0);
    uint8_t *wire;
    size_t wire_len;
    int rc = rs_msg_build(node, &hdr, body, len, &wire, &wire_len);
    if (rc < 0)
        return rc;
    rc = rs_link_send(node, peer_id, wire, wire_len, flags, NULL);
    rs_shared_unref(node, wire);
    if (rc == 0)
        RS_STAT_INC(node, msgs_sent);
    return rc;
}

void rs_msg_set_map_version(rshare_node *node, uint32_t epoch, uint64_t version)
{
    struct rs_msg *msg = rs_msg(node);
    bool advanced = version > msg->map_version;
    msg->map_epoch = epoch;
    msg->map_version = version;
    if (advanced)
        rs_requests_map_advanced(node);
}
