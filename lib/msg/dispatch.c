/* rshare msg — incoming messages: header checks, the sender check against
 * the authenticated packet source, dedupe for requests, handler dispatch,
 * and the request handle through which a handler answers (now or later). */
#include "config.h"

#include <string.h>

#include "body.h"
#include "core/shared.h"
#include "dedupe.h"
#include "msg.h"

/* Where an answer goes: the requester, its request and slot. */
struct answer_to {
    uint32_t peer;
    uint16_t type;
    uint16_t slot;
    uint32_t request_id;
};

struct rshare_request {
    struct rshare_request *next, *prev; /* unanswered requests of the node */
    rshare_node *node;
    struct answer_to to; /* request_id 0 for notifications */
    const uint8_t *data;
    size_t len;
    uint8_t *owned; /* the message buffer, when the handle keeps it */
    bool orphaned;  /* the requester restarted: the answer goes nowhere */
};

static const struct rs_handler *handler_for(rshare_node *node, uint16_t type)
{
    struct rs_msg *msg = rs_msg(node);
    for (size_t i = 0; i < msg->handler_count; i++)
        if (msg->handlers[i].type == type)
            return &msg->handlers[i];
    return NULL;
}

static void send_answer(rshare_node *node, const struct answer_to *to, uint8_t *wire, size_t len)
{
    if (rs_link_send(node, to->peer, wire, len, 0, NULL) == 0)
        RS_STAT_INC(node, msgs_sent);
    rs_dedupe_answer(node, to->peer, to->slot, to->request_id, wire, len);
}

static int build_error(rshare_node *node, const struct answer_to *to, int code, const char *text,
                       uint8_t **wire, size_t *len)
{
    size_t text_len = text ? strnlen(text, 200) : 0;
    uint8_t cbor[256];
    struct rs_cbor_writer w;
    rs_cbor_writer_init(&w, cbor, sizeof(cbor));
    rs_cbor_put_array(&w, 2);
    rs_cbor_put_int(&w, code);
    rs_cbor_put_text(&w, text ? text : "", text_len);
    struct rs_msg_hdr hdr;
    rs_msg_fill_hdr(node, &hdr, RS_MSG_ERROR, to->type, to->request_id);
    return rs_msg_build_raw(node, &hdr, cbor, w.len, wire, len);
}

static int answer_error(rshare_node *node, const struct answer_to *to, int code, const char *text)
{
    uint8_t *wire;
    size_t len;
    int rc = build_error(node, to, code, text, &wire, &len);
    if (rc < 0)
        return rc;
    send_answer(node, to, wire, len);
    return 0;
}

/* An error that is not an outcome of the request (it was not executed):
 * sent, not kept in the reply cache. */
static void answer_uncached_error(rshare_node *node, const struct answer_to *to, int code,
                                  const char *text)
{
    uint8_t *wire;
    size_t len;
    if (build_error(node, to, code, text, &wire, &len) < 0)
        return;
    if (rs_link_send(node, to->peer, wire, len, 0, NULL) == 0)
        RS_STAT_INC(node, msgs_sent);
    rs_msg_discard(node, wire);
}

static void incoming_link(rshare_node *node, struct rshare_request *req)
{
    struct rs_msg *msg = rs_msg(node);
    req->prev = NULL;
    req->next = msg->incoming;
    if (msg->incoming)
        msg->incoming->prev = req;
    msg->incoming = req;
}

static void incoming_release(rshare_node *node, struct rshare_request *req)
{
    struct rs_msg *msg = rs_msg(node);
    if (req->prev)
        req->prev->next = req->next;
    else
        msg->incoming = req->next;
    if (req->next)
        req->next->prev = req->prev;
    rs_shared_unref(node, req->owned);
    rs_free(node, req);
}

static void on_request(rshare_node *node, uint32_t src, const struct rs_msg_hdr *hdr,
                       struct rs_link_msg *lm, const uint8_t *data, size_t len)
{
    struct rs_peer *peer = rs_peer_find(node, src);
    struct answer_to to = {.peer = src, .type = hdr->type, .slot = hdr->slot,
                           .request_id = hdr->request_id};
    const struct rs_handler *h = handler_for(node, hdr->type);
    struct rs_msg *msg = rs_msg(node);
    if (h && (h->flags & RS_HANDLER_MAP_VERSIONED) &&
        (hdr->map_version != msg->map_version || hdr->map_epoch != msg->map_epoch)) {
        /* Refused before the reply cache sees it: nothing was executed, and
         * the same request may come again once the maps agree.  The answer's
         * header tells the sender which version this node holds. */
        RS_STAT_INC(node, requests_map_stale);
        answer_uncached_error(node, &to, RSHARE_ESTALE, "map versions differ");
        return;
    }
    struct rs_dedupe_entry *entry;
    int state = rs_dedupe_check(node, peer, hdr->slot, hdr->request_id, &entry);
    if (state < 0)
        return; /* no memory for the cache: the sender retries */
    switch (state) {
    case RS_DEDUPE_ANSWERED:
        RS_STAT_INC(node, duplicates_replayed);
        rs_link_send(node, src, entry->answer, entry->answer_len, 0, NULL);
        return;
    case RS_DEDUPE_IN_PROGRESS:
        RS_STAT_INC(node, duplicates_replayed);
        return;
    case RS_DEDUPE_STALE:
        RS_STAT_INC(node, requests_stale); /* a late copy; nobody waits for it */
        return;

    }
    if (!h) {
        RS_STAT_INC(node, unhandled);
        answer_error(node, &to, RSHARE_ENOHANDLER,
                     "no handler for this message type");
        return;
    }
    struct rshare_request *req = rs_calloc(node, 1, sizeof(*req));
    if (!req) {
        answer_error(node, &to, RSHARE_ENOMEM, "out of memory");
        return;
    }
    req->node = node;
    req->to = to;
    /* The handle outlives this call when the handler answers later, so it
     * keeps the message: taken over from the link layer when it can be. */
    if (lm->owned) {
        req->owned = lm->data;
        lm->owned = false;
        req->data = data;
    } else {
        req->owned = rs_shared_alloc(node, len ? len : 1);
        if (!req->owned) {
            rs_free(node, req);
            answer_error(node, &to, RSHARE_ENOMEM, "out of memory");
            return;
        }
        if (len)
            memcpy(req->owned, data, len);
        req->data = req->owned;
    }
    req->len = len;
    incoming_link(node, req);
    h->fn(node, req, h->user_data);
}

static void on_notify(rshare_node *node, uint32_t src, const struct rs_msg_hdr *hdr,
                      const uint8_t *data, size_t len)
{
    const struct rs_handler *h = handler_for(node, hdr->type);
    if (!h) {
        RS_STAT_INC(node, unhandled);
        return;
    }
    struct rshare_request req = {.node = node, .to = {.peer = src, .type = hdr->type},
                                 .data = data, .len = len};
    h->fn(node, &req, h->user_data);
}

void rs_msg_deliver(rshare_node *node, uint32_t src, struct rs_link_msg *lm)
{
    struct rs_msg_hdr hdr;
    int rc = rs_msg_hdr_decode(lm->data, lm->len, &hdr);
    if (rc < 0) {
        RS_STAT_INC(node, msgs_malformed);
        if (rc == RSHARE_EVERSION)
            RS_STAT_INC(node, rx_bad_version);
        return;
    }
    if (hdr.sender != src) {
        RS_STAT_INC(node, rx_spoofed);
        return;
    }
    RS_STAT_INC(node, msgs_received);
    const uint8_t *body = lm->data + RS_MSG_HDR_LEN;
    size_t body_len = lm->len - RS_MSG_HDR_LEN;
    if (hdr.kind == RS_MSG_RESPONSE || hdr.kind == RS_MSG_ERROR) {
        rs_request_on_answer(node, src, &hdr, body, body_len, lm->placed);
        return;
    }
    const uint8_t *data = body;
    size_t len = body_len;
    if (hdr.type >= RSHARE_MSG_TYPE_APP_FIRST) {
        /* Application bodies are one CBOR byte string, read in place;
         * rshare's own types carry raw CBOR that their layer checks. */
        struct rs_cbor_reader r;
        rs_cbor_reader_init(&r, body, body_len);
        if (rs_cbor_get_bytes(&r, &data, &len) < 0 || !rs_cbor_at_end(&r)) {
            RS_STAT_INC(node, msgs_malformed);
            struct answer_to to = {src, hdr.type, hdr.slot, hdr.request_id};
            if (hdr.kind == RS_MSG_REQUEST)
                answer_error(node, &to, RSHARE_EPROTO, "malformed body");
            return;
        }
    }
    if (hdr.kind == RS_MSG_REQUEST)
        on_request(node, src, &hdr, lm, data, len);
    else
        on_notify(node, src, &hdr, data, len);
}

void rs_incoming_orphan(rshare_node *node, uint32_t peer_id)
{
    for (struct rshare_request *r = rs_msg(node)->incoming; r; r = r->next)
        if (r->to.peer == peer_id)
            r->orphaned = true;
}

void rs_incoming_free_all(rshare_node *node)
{
    while (rs_msg(node)->incoming)
        incoming_release(node, rs_msg(node)->incoming);
}

/* --- the request handle ------------------------------------------------------ */

RSHARE_API uint32_t rshare_request_peer(const rshare_request *request)
{
    return request ? request->to.peer : 0;
}

RSHARE_API uint16_t rshare_request_type(const rshare_request *request)
{
    return request ? request->to.type : 0;
}

RSHARE_API const void *rshare_request_data(const rshare_request *request)
{
    return request ? request->data : NULL;
}

RSHARE_API size_t rshare_request_len(const rshare_request *request)
{
    return request ? request->len : 0;
}

RSHARE_API int rshare_request_expects_reply(const rshare_request *request)
{
    return request && request->to.request_id != 0;
}

/* Send a built reply (or, when building failed with `rc`, an error: the
 * requester still gets an answer) and release the request. */
static int finish_reply(rshare_request *request, int rc, uint8_t *wire, size_t wire_len)
{
    rshare_node *node = request->node;
    if (rc < 0)
        answer_error(node, &request->to, rc, "reply could not be built");
    else
        send_answer(node, &request->to, wire, wire_len);
    incoming_release(node, request);
    return rc;
}

RSHARE_API int rshare_request_reply(rshare_request *request, const void *body, size_t len)
{
    if (!request || (!body && len))
        return RSHARE_EINVAL;
    rshare_node *node = request->node;
    if (!request->to.request_id)
        return rs_errorf(node, RSHARE_EINVAL, "notifications take no reply");
    if (request->orphaned) {
        incoming_release(node, request);
        return rs_errorf(node, RSHARE_EUNREACH, "the requester restarted: answer dropped");
    }
    struct rs_msg_hdr hdr;
    rs_msg_fill_hdr(node, &hdr, RS_MSG_RESPONSE, request->to.type, request->to.request_id);
    uint8_t *wire;
    size_t wire_len;
    int rc = rs_msg_build(node, &hdr, body, len, &wire, &wire_len);
    return finish_reply(request, rc, wire, wire_len);
}

int rs_request_reply_prepared(rshare_request *request, uint8_t *wire, size_t body_len)
{
    rshare_node *node = request->node;
    if (!request->to.request_id || request->orphaned) {
        rs_msg_discard(node, wire);
        return rshare_request_reply(request, NULL, 0); /* the same refusals */
    }
    struct rs_msg_hdr hdr;
    rs_msg_fill_hdr(node, &hdr, RS_MSG_RESPONSE, request->to.type, request->to.request_id);
    if (wire)
        rs_msg_hdr_encode(&hdr, wire);
    return finish_reply(request, wire ? 0 : RSHARE_ENOMEM, wire, RS_MSG_HDR_LEN + body_len);
}

RSHARE_API int rshare_request_fail(rshare_request *request, int code, const char *text)
{
    if (!request)
        return RSHARE_EINVAL;
    rshare_node *node = request->node;
    if (!request->to.request_id)
        return rs_errorf(node, RSHARE_EINVAL, "notifications take no reply");
    if (request->orphaned) {
        incoming_release(node, request);
        return rs_errorf(node, RSHARE_EUNREACH, "the requester restarted: answer dropped");
    }
    if (code >= 0 || code <= RSHARE_ERROR_MIN_)
        code = RSHARE_EREMOTE;
    int rc = answer_error(node, &request->to, code, text);
    incoming_release(node, request);
    return rc;
}
