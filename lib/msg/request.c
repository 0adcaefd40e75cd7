/* rshare msg — outgoing requests.  Each request takes one of the node's
 * slots for its peer (or waits in the peer's queue for one), is resent with
 * exponential backoff until an answer arrives or request_timeout_ms passes,
 * and completes exactly once.  While the link layer is still carrying the
 * request or an answer from that peer, the retry waits instead of sending a
 * second copy. */
#include "config.h"

#include <string.h>

#include "body.h"
#include "msg.h"

struct rs_pending {
    struct rs_pending *next;   /* hash chain */
    struct rs_pending *queued; /* the peer's wait queue */
    struct rs_timer timer;
    uint32_t id;
    uint32_t peer;
    uint16_t type;
    int slot;                  /* -1 while waiting for one */
    uint64_t wait_version;     /* refused as stale: resend once our map reaches it */
    bool refused_stale;        /* the peer's last word: our maps differ */
    bool orphaned;             /* its peer restarted while it was out */
    uint32_t xfer;
    uint32_t interval_ms;
    uint64_t deadline_us;
    uint8_t *wire;
    size_t wire_len;
    struct rs_reply_sink *sink; /* NULL: the reply is reassembled, then handed over */
    rshare_reply_fn done;
    void *user_data;
};

static void pending_timer(rshare_node *node, struct rs_timer *timer);

static struct rs_pending **bucket(struct rs_msg *msg, uint32_t id)
{
    return &msg->pending[id % RS_PENDING_BUCKETS];
}

static struct rs_pending *pending_find(struct rs_msg *msg, uint32_t id)
{
    struct rs_pending *p = *bucket(msg, id);
    while (p && p->id != id)
        p = p->next;
    return p;
}

static struct rs_msg_peer *peer_state(rshare_node *node, uint32_t peer_id)
{
    struct rs_peer *peer = rs_peer_find(node, peer_id);
    return peer ? rs_msg_peer(node, peer) : NULL;
}

static void transmit(rshare_node *node, struct rs_pending *p)
{
    struct rs_msg *msg = rs_msg(node);
    rs_msg_hdr_set_map(p->wire, msg->map_epoch, msg->map_version);
    int rc = rs_link_send(node, p->peer, p->wire, p->wire_len, 0, &p->xfer);
    if (rc < 0)
        rs_log_debug(node, "request %u to node %u: send failed (%s), will retry", p->id, p->peer,
                     rshare_err_name(rc));
}

/* Give `p` a free slot of its peer and send it; false when none is free. */
static bool start(rshare_node *node, struct rs_msg_peer *mp, struct rs_pending *p)
{
    uint32_t slots = rs_core(node)->config.peer_slots;
    if (mp->slots_used == slots)
        return false;
    uint32_t s = 0;
    while (mp->slot_busy[s])
        s++;
    mp->slot_busy[s] = 1;
    mp->slots_used++;
    p->slot = (int)s;
    rs_msg_hdr_set_slot(p->wire, (uint16_t)s);
    transmit(node, p);
    return true;
}

static void schedule(rshare_node *node, struct rs_pending *p)
{
    uint64_t at = rs_now_us(node) + (uint64_t)p->interval_ms * 1000u;
    rs_timer_schedule(node, &p->timer, at < p->deadline_us ? at : p->deadline_us);
}

/* Remove from the hash, the timer heap, and the slot or the queue; a freed
 * slot goes to the next request waiting for this peer. */
static void pending_unlink(rshare_node *node, struct rs_pending *p)
{
    struct rs_msg *msg = rs_msg(node);
    struct rs_pending **pp = bucket(msg, p->id);
    while (*pp && *pp != p)
        pp = &(*pp)->next;
    if (*pp)
        *pp = p->next;
    msg->pending_count--;
    rs_timer_cancel(node, &p->timer);
    struct rs_msg_peer *mp = peer_state(node, p->peer);
    if (!mp)
        return;
    if (p->slot < 0) {
        struct rs_pending **q = &mp->queue_head, *prev = NULL;
        while (*q && *q != p) {
            prev = *q;
            q = &(*q)->queued;
        }
        if (*q)
            *q = p->queued;
        if (mp->queue_tail == p)
            mp->queue_tail = prev;
        return;
    }
    mp->slot_busy[p->slot] = 0;
    mp->slots_used--;
    struct rs_pending *next = mp->queue_head;
    if (next && !msg->closing) {
        mp->queue_head = next->queued;
        if (!mp->queue_head)
            mp->queue_tail = NULL;
        start(node, mp, next);
    }
}

/* Unlink first, then call back: the callback may start new requests. */
static void complete(rshare_node *node, struct rs_pending *p, const struct rshare_reply *reply)
{
    pending_unlink(node, p);
    rshare_reply_fn done = p->done;
    void *user_data = p->user_data;
    rs_msg_discard(node, p->wire);
    rs_free(node, p);
    done(node, reply, user_data);
}

RSHARE_API int rshare_node_call(rshare_node *node, uint32_t peer_id, uint16_t type,
                                const void *body, size_t len, rshare_reply_fn done,
                                void *user_data)
{
    if (!node || !done || (!body && len))
        return RSHARE_EINVAL;
    if (type < RSHARE_MSG_TYPE_APP_FIRST)
        return rs_errorf(node, RSHARE_EINVAL, "message type 0x%04x is reserved for rshare", type);
    return rs_msg_call(node, peer_id, type, body, len, done, user_data);
}

/* Queue a request whose message is built (`wire`, taken over) and send it
 * when a slot is free. */
static int submit(rshare_node *node, uint32_t peer_id, uint16_t type, uint8_t *wire,
                  size_t wire_len, struct rs_reply_sink *sink, rshare_reply_fn done,
                  void *user_data)
{
    struct rs_msg *msg = rs_msg(node);
    struct rs_core *core = rs_core(node);
    int rc = 0;
    struct rs_msg_peer *mp = NULL;
    struct rs_pending *p = NULL;
    if (peer_id == RSHARE_NODE_ID_NONE || peer_id == RSHARE_NODE_ID_BROADCAST)
        rc = rs_errorf(node, RSHARE_EINVAL, "requests go to one node");
    else if (msg->pending_count >= core->config.max_pending_requests)
        rc = rs_errorf(node, RSHARE_EBUSY, "%u requests pending (limit)", msg->pending_count);
    else if (!rs_peer_find(node, peer_id))
        rc = rs_errorf(node, RSHARE_EUNREACH, "node %u is unknown", peer_id);
    else if (!(mp = peer_state(node, peer_id)) || !(p = rs_calloc(node, 1, sizeof(*p))))
        rc = RSHARE_ENOMEM;
    if (rc < 0) {
        rs_msg_discard(node, wire);
        return rc;
    }
    uint32_t id = msg->next_request_id++;
    if (msg->next_request_id == 0)
        msg->next_request_id = 1;
    struct rs_msg_hdr hdr;
    rs_msg_fill_hdr(node, &hdr, RS_MSG_REQUEST, type, id);
    rs_msg_hdr_encode(&hdr, wire);
    p->wire = wire;
    p->wire_len = wire_len;
    p->id = id;
    p->peer = peer_id;
    p->type = type;
    p->slot = -1;
    p->interval_ms = core->config.request_retry_ms;
    p->deadline_us = rs_now_us(node) + (uint64_t)core->config.request_timeout_ms * 1000u;
    p->sink = sink;
    p->done = done;
    p->user_data = user_data;
    rs_timer_init(&p->timer, pending_timer);
    p->next = *bucket(msg, id);
    *bucket(msg, id) = p;
    msg->pending_count++;
    RS_STAT_INC(node, msgs_sent);
    if (!start(node, mp, p)) {
        if (mp->queue_tail)
            mp->queue_tail->queued = p;
        else
            mp->queue_head = p;
        mp->queue_tail = p;
    }
    schedule(node, p);
    return 0;
}

int rs_msg_call(rshare_node *node, uint32_t peer_id, uint16_t type, const void *body, size_t len,
                rshare_reply_fn done, void *user_data)
{
    struct rs_msg_hdr hdr;
    rs_msg_fill_hdr(node, &hdr, RS_MSG_REQUEST, type, 0); /* the id comes in submit() */
    uint8_t *wire;
    size_t wire_len;
    int rc = rs_msg_build(node, &hdr, body, len, &wire, &wire_len);
    return rc < 0 ? rc : submit(node, peer_id, type, wire, wire_len, NULL, done, user_data);
}

int rs_msg_call_prepared(rshare_node *node, uint32_t peer_id, uint16_t type, uint8_t *wire,
                         size_t body_len, rshare_reply_fn done, void *user_data)
{
    return rs_msg_call_into(node, peer_id, type, wire, body_len, NULL, done, user_data);
}

int rs_msg_call_into(rshare_node *node, uint32_t peer_id, uint16_t type, uint8_t *wire,
                     size_t body_len, struct rs_reply_sink *sink, rshare_reply_fn done,
                     void *user_data)
{
    if (!wire)
        return RSHARE_ENOMEM;
    if (sink)
        sink->filled = false;
    return submit(node, peer_id, type, wire, RS_MSG_HDR_LEN + body_len, sink, done, user_data);
}

/* The request a reply from `src` answers, when its data may go to its
 * sink. */
static struct rs_pending *sink_owner(rshare_node *node, uint32_t src, uint32_t id)
{
    struct rs_pending *p = pending_find(rs_msg(node), id);
    return p && p->peer == src && p->slot >= 0 && p->sink && p->sink->armed ? p : NULL;
}

static bool claim_reply(rshare_node *node, uint32_t src, const uint8_t *first, size_t first_len,
                        size_t total, uint32_t *key, size_t *data_off)
{
    struct rs_msg_hdr hdr;
    if (first_len < RS_MSG_HDR_LEN || rs_msg_hdr_decode(first, RS_MSG_HDR_LEN, &hdr) < 0 ||
        hdr.kind != RS_MSG_RESPONSE || hdr.sender != src)
        return false;
    struct rs_pending *p = sink_owner(node, src, hdr.request_id);
    if (!p || p->type != hdr.type)
        return false;
    const struct rs_reply_sink *s = p->sink;
    size_t off = RS_MSG_HDR_LEN + s->head_len;
    if (total != off + s->length || first_len < off ||
        memcmp(first + RS_MSG_HDR_LEN, s->head, s->head_len) != 0)
        return false;
    *key = hdr.request_id;
    *data_off = off;
    return true;
}

static bool place_reply(rshare_node *node, uint32_t src, uint32_t key, size_t at,
                        const uint8_t *bytes, size_t len)
{
    struct rs_pending *p = sink_owner(node, src, key);
    if (!p || at > p->sink->length || len > p->sink->length - at)
        return false;
    rs_seg_copy(p->sink->seg, p->sink->nseg, p->sink->skip + at, NULL, bytes, len);
    return true;
}

const struct rs_link_placement rs_msg_placement = {claim_reply, place_reply};

static void pending_timer(rshare_node *node, struct rs_timer *timer)
{
    struct rs_pending *p = (struct rs_pending *)((char *)timer - offsetof(struct rs_pending, timer));
    uint64_t now = rs_now_us(node);
    if (now >= p->deadline_us) {
        RS_STAT_INC(node, requests_timed_out);
        struct rshare_reply reply = {.status = RSHARE_ETIMEDOUT};
        if (p->refused_stale) {
            /* The peer answered, every time, that our maps differ: say so,
             * not "no answer" (a slow or dead peer). */
            static const char why[] = "map versions differ";
            reply = (struct rshare_reply){.status = RSHARE_EREMOTE,
                                          .remote_code = RSHARE_ESTALE,
                                          .data = why,
                                          .len = sizeof(why) - 1};
            rs_errorf(node, RSHARE_ESTALE,
                      "node %u refused the request for %u ms: map versions differ", p->peer,
                      rs_core(node)->config.request_timeout_ms);
        } else {
            rs_errorf(node, RSHARE_ETIMEDOUT, "no answer from node %u within %u ms", p->peer,
                      rs_core(node)->config.request_timeout_ms);
        }
        complete(node, p, &reply);
        return;
    }
    bool busy = rs_link_transfer_active(node, p->peer, p->xfer) ||
                rs_link_receiving_from(node, p->peer) ||
                p->wait_version > rs_msg(node)->map_version;
    if (p->slot >= 0 && !busy) {
        RS_STAT_INC(node, requests_retried);
        transmit(node, p);
        uint32_t cap = rs_core(node)->config.request_timeout_ms / 4;
        p->interval_ms = p->interval_ms * 2 < cap ? p->interval_ms * 2 : (cap ? cap : 1);
    }
    schedule(node, p);
}

void rs_request_on_answer(rshare_node *node, uint32_t src, const struct rs_msg_hdr *hdr,
                          const uint8_t *body, size_t body_len, bool placed)
{
    struct rs_pending *p = pending_find(rs_msg(node), hdr->request_id);
    if (!p || p->peer != src || p->type != hdr->type || p->slot < 0)
        return; /* late duplicate of an answer already taken */
    if (placed) {
        /* Its data went to the sink, and the body has holes where the data
         * would be.  A sink disarmed meanwhile: its owner has gone, and the
         * request ends here rather than being sent again. */
        if (!p->sink)
            return;
        if (!p->sink->armed) {
            struct rshare_reply gone = {.status = RSHARE_ECANCELED};
            complete(node, p, &gone);
            return;
        }
        p->sink->filled = true;
    }
    struct rs_cbor_reader r;
    rs_cbor_reader_init(&r, body, body_len);
    struct rshare_reply reply = {0};
    if (hdr->kind == RS_MSG_RESPONSE && hdr->type < RSHARE_MSG_TYPE_APP_FIRST) {
        reply.data = body; /* rshare's own types: raw CBOR, checked by their layer */
        reply.len = body_len;
    } else if (hdr->kind == RS_MSG_RESPONSE) {
        const uint8_t *data;
        if (rs_cbor_get_bytes(&r, &data, &reply.len) < 0 || !rs_cbor_at_end(&r)) {
            RS_STAT_INC(node, msgs_malformed);
            return;
        }
        reply.data = data;
    } else {
        size_t n;
        int64_t code;
        const char *text;
        if (rs_cbor_get_array(&r, &n) < 0 || n != 2 || rs_cbor_get_int(&r, &code) < 0 ||
            rs_cbor_get_text(&r, &text, &reply.len) < 0 || !rs_cbor_at_end(&r) ||
            code >= 0 || code < INT32_MIN) {
            RS_STAT_INC(node, msgs_malformed);
            return;
        }
        reply.status = RSHARE_EREMOTE;
        reply.remote_code = (int)code;
        reply.data = text;
        if (code == RSHARE_ESTALE && rs_now_us(node) < p->deadline_us) {
            /* The maps differ.  If ours is the older, resend once it has
             * caught up; if theirs is, the retry timer resends later. */
            if (hdr->map_version > rs_msg(node)->map_version)
                p->wait_version = hdr->map_version;
            p->refused_stale = true;
            return;
        }
    }
    complete(node, p, &reply);
}

void rs_requests_map_advanced(rshare_node *node)
{
    struct rs_msg *msg = rs_msg(node);
    for (unsigned b = 0; b < RS_PENDING_BUCKETS; b++) {
        for (struct rs_pending *p = msg->pending[b]; p; p = p->next) {
            if (!p->wait_version || p->wait_version > msg->map_version || p->slot < 0)
                continue;
            p->wait_version = 0;
            transmit(node, p);
        }
    }
}

void rs_requests_fail_all(rshare_node *node, int status)
{
    struct rs_msg *msg = rs_msg(node);
    msg->closing = true;
    for (unsigned b = 0; b < RS_PENDING_BUCKETS; b++) {
        while (msg->pending[b]) {
            struct rshare_reply reply = {.status = status};
            complete(node, msg->pending[b], &reply);
        }
    }
}

void rs_requests_peer_restarted(rshare_node *node, uint32_t peer_id)
{
    /* Requests the old boot may have executed cannot be retried safely: the
     * new boot has no memory of them.  Queued ones never left: they stay. */
    struct rs_msg *msg = rs_msg(node);
    for (unsigned b = 0; b < RS_PENDING_BUCKETS; b++)
        for (struct rs_pending *p = msg->pending[b]; p; p = p->next)
            p->orphaned = p->peer == peer_id && p->slot >= 0;
    /* Completing one starts a queued request in its slot (not orphaned) and
     * callbacks may add requests: rescan the chain after each completion. */
    for (unsigned b = 0; b < RS_PENDING_BUCKETS; b++) {
        struct rs_pending *p = msg->pending[b];
        while (p) {
            if (p->orphaned) {
                struct rshare_reply reply = {.status = RSHARE_EUNREACH};
                complete(node, p, &reply);
                p = msg->pending[b];
            } else {
                p = p->next;
            }
        }
    }
}

/* --- the synchronous helper ------------------------------------------------ */

struct sync_call {
    bool finished;
    int status;
    void *reply;
    size_t reply_len;
};

static void sync_done(rshare_node *node, const struct rshare_reply *reply, void *user_data)
{
    struct sync_call *call = user_data;
    call->finished = true;
    call->status = reply->status;
    if (reply->status == 0) {
        call->reply = rs_malloc(node, reply->len);
        if (!call->reply) {
            call->status = RSHARE_ENOMEM;
            return;
        }
        if (reply->len)
            memcpy(call->reply, reply->data, reply->len);
        call->reply_len = reply->len;
    } else if (reply->status == RSHARE_EREMOTE) {
        rs_errorf(node, RSHARE_EREMOTE, "node replied with %s: %.*s",
                  rshare_err_name(reply->remote_code), (int)reply->len, (const char *)reply->data);
    }
}

RSHARE_API int rshare_node_call_sync(rshare_node *node, uint32_t peer_id, uint16_t type,
                                     const void *body, size_t len, void **reply, size_t *reply_len)
{
    if (!node || !reply || !reply_len)
        return RSHARE_EINVAL;
    *reply = NULL;
    *reply_len = 0;
    if (rs_core(node)->in_process)
        return rs_errorf(node, RSHARE_EBUSY, "rshare_node_call_sync called from a callback");
    struct sync_call call = {0};
    int rc = rshare_node_call(node, peer_id, type, body, len, sync_done, &call);
    if (rc < 0)
        return rc;
    /* The request's own deadline guarantees that this loop ends. */
    while (!call.finished)
        if (rshare_node_run(node, -1) < 0)
            rshare_node_process(node);
    *reply = call.reply;
    *reply_len = call.reply_len;
    return call.status;
}
