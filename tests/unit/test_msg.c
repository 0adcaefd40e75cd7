/* Unit tests: the message layer — header and CBOR codecs, and requests,
 * replies, errors, notifications, timeouts and shutdown between nodes on
 * the loop transport. */
#include "config.h"

#include "testutil.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "msg/body.h"
#include "msg/header.h"
#include "link/link.h"
#include "msg/msg.h"
#include "rshare/rshare.h"

#define ECHO 0x8001
#define FAIL 0x8002
#define LATER 0x8003
#define NOTE 0x8004

/* --- codecs ------------------------------------------------------------------ */

START_TEST(test_header_codec)
{
    struct rs_msg_hdr h = {.kind = RS_MSG_REQUEST, .type = 0x8001, .request_id = 77, .sender = 5,
                           .map_epoch = 3, .map_version = UINT64_C(1) << 40}, out;
    uint8_t buf[RS_MSG_HDR_LEN];
    rs_msg_hdr_encode(&h, buf);
    ck_assert_int_eq(rs_msg_hdr_decode(buf, sizeof(buf), &out), 0);
    ck_assert_uint_eq(out.type, 0x8001);
    ck_assert_uint_eq(out.request_id, 77);
    ck_assert_uint_eq(out.sender, 5);
    ck_assert_uint_eq(out.map_epoch, 3);
    ck_assert(out.map_version == UINT64_C(1) << 40);
    ck_assert_int_eq(rs_msg_hdr_decode(buf, sizeof(buf) - 1, &out), RSHARE_EPROTO);
    buf[0] = 9;
    ck_assert_int_eq(rs_msg_hdr_decode(buf, sizeof(buf), &out), RSHARE_EVERSION);
    buf[0] = RS_MSG_VERSION;
    buf[1] = 0;
    ck_assert_int_eq(rs_msg_hdr_decode(buf, sizeof(buf), &out), RSHARE_EPROTO);
    /* A notification carries no request id; a request must. */
    h.kind = RS_MSG_NOTIFY;
    rs_msg_hdr_encode(&h, buf);
    ck_assert_int_eq(rs_msg_hdr_decode(buf, sizeof(buf), &out), RSHARE_EPROTO);
    h.kind = RS_MSG_REQUEST;
    h.request_id = 0;
    rs_msg_hdr_encode(&h, buf);
    ck_assert_int_eq(rs_msg_hdr_decode(buf, sizeof(buf), &out), RSHARE_EPROTO);
}
END_TEST

START_TEST(test_cbor_round_trip)
{
    uint8_t buf[512];
    struct rs_cbor_writer w;
    rs_cbor_writer_init(&w, buf, sizeof(buf));
    rs_cbor_put_array(&w, 6);
    rs_cbor_put_uint(&w, 0);
    rs_cbor_put_uint(&w, UINT64_MAX);
    rs_cbor_put_int(&w, -1);
    rs_cbor_put_int(&w, INT64_MIN);
    rs_cbor_put_bytes(&w, "\x00\x01\x02", 3);
    rs_cbor_put_text(&w, "hello", 5);
    ck_assert(!w.overflow);
    struct rs_cbor_reader r;
    rs_cbor_reader_init(&r, buf, w.len);
    size_t n;
    uint64_t u;
    int64_t i;
    const uint8_t *p;
    const char *t;
    size_t len;
    ck_assert_int_eq(rs_cbor_get_array(&r, &n), 0);
    ck_assert_uint_eq(n, 6);
    ck_assert_int_eq(rs_cbor_get_uint(&r, &u), 0);
    ck_assert(u == 0);
    ck_assert_int_eq(rs_cbor_get_uint(&r, &u), 0);
    ck_assert(u == UINT64_MAX);
    ck_assert_int_eq(rs_cbor_get_int(&r, &i), 0);
    ck_assert(i == -1);
    ck_assert_int_eq(rs_cbor_get_int(&r, &i), 0);
    ck_assert(i == INT64_MIN);
    ck_assert_int_eq(rs_cbor_get_bytes(&r, &p, &len), 0);
    ck_assert_uint_eq(len, 3);
    ck_assert_mem_eq(p, "\x00\x01\x02", 3);
    ck_assert(p >= buf && p < buf + w.len); /* read in place */
    ck_assert_int_eq(rs_cbor_get_text(&r, &t, &len), 0);
    ck_assert_uint_eq(len, 5);
    ck_assert(rs_cbor_at_end(&r));
    ck_assert_int_eq(rs_cbor_get_uint(&r, &u), RSHARE_EPROTO); /* nothing left */
}
END_TEST

START_TEST(test_cbor_rejects)
{
    struct rs_cbor_reader r;
    struct rs_cbor_item it;
    const uint8_t *p;
    size_t len;
    uint64_t u;
    /* A byte string that claims more bytes than there are. */
    static const uint8_t short_bytes[] = {0x45, 1, 2};
    rs_cbor_reader_init(&r, short_bytes, sizeof(short_bytes));
    ck_assert_int_eq(rs_cbor_get_bytes(&r, &p, &len), RSHARE_EPROTO);
    /* A length near 2^64. */
    static const uint8_t huge[] = {0x5B, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xF0, 0};
    rs_cbor_reader_init(&r, huge, sizeof(huge));
    ck_assert_int_eq(rs_cbor_get_bytes(&r, &p, &len), RSHARE_EPROTO);
    /* Indefinite-length byte string. */
    static const uint8_t indef[] = {0x5F, 0x41, 0x00, 0xFF};
    rs_cbor_reader_init(&r, indef, sizeof(indef));
    ck_assert_int_eq(rs_cbor_next(&r, &it), RSHARE_EPROTO);
    /* Reserved additional information. */
    static const uint8_t reserved[] = {0x1C};
    rs_cbor_reader_init(&r, reserved, sizeof(reserved));
    ck_assert_int_eq(rs_cbor_next(&r, &it), RSHARE_EPROTO);
    /* Wrong type. */
    static const uint8_t text[] = {0x61, 'a'};
    rs_cbor_reader_init(&r, text, sizeof(text));
    ck_assert_int_eq(rs_cbor_get_uint(&r, &u), RSHARE_EPROTO);
    /* Truncated integer. */
    static const uint8_t trunc[] = {0x1B, 0, 0};
    rs_cbor_reader_init(&r, trunc, sizeof(trunc));
    ck_assert_int_eq(rs_cbor_get_uint(&r, &u), RSHARE_EPROTO);
    /* Writer overflow is reported, not silently truncated. */
    uint8_t small[4];
    struct rs_cbor_writer w;
    rs_cbor_writer_init(&w, small, sizeof(small));
    rs_cbor_put_bytes(&w, "0123456789", 10);
    ck_assert(w.overflow);
}
END_TEST

/* --- a small loop cluster ------------------------------------------------------ */

struct cluster {
    rshare_loop_net *net;
    rshare_node *nodes[2];
};

static void cluster_up(struct cluster *c, const uint8_t *key, uint32_t timeout_ms)
{
    ck_assert_int_eq(rshare_loop_net_create(1, &c->net), 0);
    for (int i = 0; i < 2; i++) {
        struct rshare_node_config cfg;
        rshare_node_config_init(&cfg, sizeof(cfg));
        cfg.node_id = (uint32_t)(i + 1);
        cfg.cluster_key = key;
        cfg.clock = rshare_loop_net_clock(c->net);
        cfg.request_timeout_ms = timeout_ms;
        cfg.log = (struct rshare_log){rs_test_quiet_log, NULL, RSHARE_LOG_ERROR};
        ck_assert_int_eq(rshare_node_create(&cfg, &c->nodes[i]), 0);
        ck_assert_int_eq(rshare_node_add_loop(c->nodes[i], c->net, (uint32_t)(i + 1)), 0);
    }
    ck_assert_int_eq(rshare_node_add_peer(c->nodes[0], 2, 0, "2"), 0);
}

static void cluster_down(struct cluster *c)
{
    for (int i = 0; i < 2; i++)
        rshare_node_destroy(c->nodes[i]);
    rshare_loop_net_destroy(c->net);
}

struct result {
    int calls;
    int status;
    int remote_code;
    uint8_t *data;
    size_t len;
};

static void on_reply(rshare_node *node, const struct rshare_reply *reply, void *user_data)
{
    (void)node;
    struct result *r = user_data;
    r->calls++;
    r->status = reply->status;
    r->remote_code = reply->remote_code;
    free(r->data);
    r->data = malloc(reply->len + 1);
    if (reply->len)
        memcpy(r->data, reply->data, reply->len);
    r->len = reply->len;
}

static int result_done(void *u)
{
    return ((struct result *)u)->calls > 0;
}

static int executed;
static rshare_request *held;

static void handler(rshare_node *node, rshare_request *req, void *user_data)
{
    (void)node;
    (void)user_data;
    executed++;
    switch (rshare_request_type(req)) {
    case ECHO:
        ck_assert(rshare_request_expects_reply(req));
        rshare_request_reply(req, rshare_request_data(req), rshare_request_len(req));
        break;
    case FAIL:
        rshare_request_fail(req, RSHARE_EBUSY, "try again later");
        break;
    case LATER:
        held = req; /* answered after the handler returned */
        break;
    case NOTE:
        ck_assert(!rshare_request_expects_reply(req));
        ck_assert_int_eq(rshare_request_reply(req, "x", 1), RSHARE_EINVAL);
        break;
    }
}

static void run_until(struct cluster *c, struct result *r, uint64_t max_us)
{
    ck_assert_int_eq(rshare_loop_net_run(c->net, c->nodes, 2, result_done, r, max_us), 0);
}

static void request_reply_case(const uint8_t *key)
{
    struct cluster c;
    cluster_up(&c, key, 5000);
    for (uint16_t t = ECHO; t <= NOTE; t++)
        ck_assert_int_eq(rshare_node_set_handler(c.nodes[1], t, handler, NULL), 0);
    executed = 0;

    /* Echo, small and multi-packet. */
    size_t sizes[] = {0, 1, 1000, 5000, 300000};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        uint8_t *body = malloc(sizes[k] + 1);
        for (size_t i = 0; i < sizes[k]; i++)
            body[i] = (uint8_t)(i * 7 + k);
        struct result r = {0};
        ck_assert_int_eq(rshare_node_call(c.nodes[0], 2, ECHO, body, sizes[k], on_reply, &r), 0);
        run_until(&c, &r, 30000000);
        ck_assert_int_eq(r.calls, 1);
        ck_assert_int_eq(r.status, 0);
        ck_assert_uint_eq(r.len, sizes[k]);
        ck_assert(sizes[k] == 0 || memcmp(r.data, body, sizes[k]) == 0);
        free(r.data);
        free(body);
    }

    /* An error answer carries the peer's code and text. */
    struct result r = {0};
    ck_assert_int_eq(rshare_node_call(c.nodes[0], 2, FAIL, "a", 1, on_reply, &r), 0);
    run_until(&c, &r, 10000000);
    ck_assert_int_eq(r.status, RSHARE_EREMOTE);
    ck_assert_int_eq(r.remote_code, RSHARE_EBUSY);
    ck_assert_uint_eq(r.len, strlen("try again later"));
    free(r.data);

    /* No handler on the other side. */
    r = (struct result){0};
    ck_assert_int_eq(rshare_node_call(c.nodes[0], 2, 0x9000, "a", 1, on_reply, &r), 0);
    run_until(&c, &r, 10000000);
    ck_assert_int_eq(r.status, RSHARE_EREMOTE);
    ck_assert_int_eq(r.remote_code, RSHARE_ENOHANDLER);
    free(r.data);

    /* A reply given later, after retries of the request arrived meanwhile:
     * executed once. */
    held = NULL;
    int before = executed;
    r = (struct result){0};
    ck_assert_int_eq(rshare_node_call(c.nodes[0], 2, LATER, "late", 4, on_reply, &r), 0);
    rshare_loop_net_run(c.net, c.nodes, 2, result_done, &r, 1000000); /* 1 s: several retries */
    ck_assert_ptr_nonnull(held);
    ck_assert_int_eq(r.calls, 0);
    ck_assert_int_eq(executed, before + 1);
    ck_assert_int_eq(rshare_request_reply(held, "done", 4), 0);
    run_until(&c, &r, 10000000);
    ck_assert_int_eq(r.status, 0);
    ck_assert_mem_eq(r.data, "done", 4);
    free(r.data);
    struct rshare_node_stats st;
    rshare_node_stats(c.nodes[1], &st, sizeof(st));
    ck_assert_uint_gt(st.duplicates_replayed, 0);
    rshare_node_stats(c.nodes[0], &st, sizeof(st));
    ck_assert_uint_gt(st.requests_retried, 0);

    /* A notification: delivered, no answer. */
    before = executed;
    ck_assert_int_eq(rshare_node_notify(c.nodes[0], 2, NOTE, "n", 1), 0);
    rshare_loop_net_run(c.net, c.nodes, 2, NULL, NULL, 100000);
    ck_assert_int_eq(executed, before + 1);
    cluster_down(&c);
}

START_TEST(test_requests_unprotected)
{
    request_reply_case(NULL);
}
END_TEST

START_TEST(test_requests_protected)
{
    static const uint8_t key[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17};
    request_reply_case(key);
}
END_TEST

START_TEST(test_timeout_and_shutdown)
{
    struct cluster c;
    cluster_up(&c, NULL, 800);
    ck_assert_int_eq(rshare_node_set_handler(c.nodes[1], ECHO, handler, NULL), 0);
    ck_assert_int_eq(rshare_loop_net_partition(c.net, 1, 2, 1), 0);
    struct result r = {0};
    uint64_t start = rshare_loop_net_now_us(c.net);
    ck_assert_int_eq(rshare_node_call(c.nodes[0], 2, ECHO, "x", 1, on_reply, &r), 0);
    run_until(&c, &r, 10000000);
    ck_assert_int_eq(r.status, RSHARE_ETIMEDOUT);
    ck_assert_str_eq(rshare_node_errmsg(c.nodes[0]), "no answer from node 2 within 800 ms");
    uint64_t took = rshare_loop_net_now_us(c.net) - start;
    ck_assert_uint_ge(took, 800000);
    ck_assert_uint_le(took, 900000);
    struct rshare_node_stats st;
    rshare_node_stats(c.nodes[0], &st, sizeof(st));
    ck_assert_uint_eq(st.requests_timed_out, 1);
    ck_assert_uint_ge(st.requests_retried, 2); /* backoff: 100, 200, 400 ms */
    ck_assert_uint_le(st.requests_retried, 4);
    free(r.data);
    r.data = NULL;

    /* Unknown peer and reserved types are refused at once. */
    ck_assert_int_eq(rshare_node_call(c.nodes[0], 77, ECHO, "x", 1, on_reply, &r), RSHARE_EUNREACH);
    ck_assert_int_eq(rshare_node_call(c.nodes[0], 2, 0x0001, "x", 1, on_reply, &r), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_node_set_handler(c.nodes[0], 0x0001, handler, NULL), RSHARE_EINVAL);

    /* Destroying a node completes its pending requests with ESHUTDOWN. */
    r = (struct result){0};
    ck_assert_int_eq(rshare_node_call(c.nodes[0], 2, ECHO, "x", 1, on_reply, &r), 0);
    rshare_node_destroy(c.nodes[0]);
    c.nodes[0] = NULL;
    ck_assert_int_eq(r.calls, 1);
    ck_assert_int_eq(r.status, RSHARE_ESHUTDOWN);
    free(r.data);
    cluster_down(&c);
}
END_TEST

/* Requests that depend on the map: refused while the two nodes hold
 * different versions, executed once both agree, whichever side was behind. */
START_TEST(test_map_versioned_requests)
{
    struct cluster c;
    cluster_up(&c, NULL, 5000);
    ck_assert_int_eq(rs_msg_set_handler_flags(c.nodes[1], ECHO, handler, NULL,
                                              RS_HANDLER_MAP_VERSIONED), 0);
    executed = 0;

    /* The requester is behind: it waits until its map catches up. */
    rs_msg_set_map_version(c.nodes[1], 3, 7);
    struct result r = {0};
    ck_assert_int_eq(rshare_node_call(c.nodes[0], 2, ECHO, "a", 1, on_reply, &r), 0);
    rshare_loop_net_run(c.net, c.nodes, 2, result_done, &r, 1000000);
    ck_assert_int_eq(r.calls, 0);
    ck_assert_int_eq(executed, 0);
    struct rshare_node_stats st;
    rshare_node_stats(c.nodes[1], &st, sizeof(st));
    ck_assert_uint_ge(st.requests_map_stale, 1);
    rs_msg_set_map_version(c.nodes[0], 3, 7);
    run_until(&c, &r, 1000000);
    ck_assert_int_eq(r.status, 0);
    ck_assert_int_eq(executed, 1);
    free(r.data);

    /* The responder is behind: retried until it catches up. */
    rs_msg_set_map_version(c.nodes[0], 3, 9);
    r = (struct result){0};
    ck_assert_int_eq(rshare_node_call(c.nodes[0], 2, ECHO, "b", 1, on_reply, &r), 0);
    rshare_loop_net_run(c.net, c.nodes, 2, result_done, &r, 500000);
    ck_assert_int_eq(r.calls, 0);
    ck_assert_int_eq(executed, 1);
    rs_msg_set_map_version(c.nodes[1], 3, 9);
    run_until(&c, &r, 5000000);
    ck_assert_int_eq(r.status, 0);
    ck_assert_int_eq(executed, 2);
    free(r.data);

    /* Never agreeing: at the request's deadline it ends, not run, with the
     * peer's refusal ("maps differ"), not as a peer that never answered. */
    rs_msg_set_map_version(c.nodes[1], 4, 20);
    r = (struct result){0};
    ck_assert_int_eq(rshare_node_call(c.nodes[0], 2, ECHO, "c", 1, on_reply, &r), 0);
    run_until(&c, &r, 10000000);
    ck_assert_int_eq(r.status, RSHARE_EREMOTE);
    ck_assert_int_eq(r.remote_code, RSHARE_ESTALE);
    ck_assert_int_eq(r.calls, 1);
    ck_assert_int_eq(executed, 2);
    free(r.data);

    /* A peer cut off says nothing: that is a timeout. */
    rshare_loop_net_partition(c.net, 1, 2, 1);
    r = (struct result){0};
    ck_assert_int_eq(rshare_node_call(c.nodes[0], 2, ECHO, "d", 1, on_reply, &r), 0);
    run_until(&c, &r, 10000000);
    ck_assert_int_eq(r.status, RSHARE_ETIMEDOUT);
    ck_assert_int_eq(executed, 2);
    free(r.data);
    cluster_down(&c);
}
END_TEST

/* Request ids wrap after 2^32 requests: the reply cache compares them in
 * serial-number order, so requests after the wrap still run. */
START_TEST(test_request_id_wrap)
{
    struct cluster c;
    cluster_up(&c, NULL, 2000);
    ck_assert_int_eq(rshare_node_set_handler(c.nodes[1], ECHO, handler, NULL), 0);
    rs_msg(c.nodes[0])->next_request_id = UINT32_MAX - 1;
    executed = 0;
    for (int i = 0; i < 4; i++) {
        struct result r = {0};
        ck_assert_int_eq(rshare_node_call(c.nodes[0], 2, ECHO, "w", 1, on_reply, &r), 0);
        run_until(&c, &r, 5000000);
        ck_assert_int_eq(r.status, 0);
        free(r.data);
    }
    ck_assert_int_eq(executed, 4);
    struct rshare_node_stats st;
    rshare_node_stats(c.nodes[1], &st, sizeof(st));
    ck_assert_uint_eq(st.requests_stale, 0);
    cluster_down(&c);
}
END_TEST

/* The placement hooks a reply sink answers (rs_msg_placement): a reply's
 * first fragment is claimed only when it answers the pending request of
 * that sink, from its peer, with the expected head and length; data is
 * placed only within the sink, and not once the sink is disarmed. */
START_TEST(test_reply_sink_claims)
{
    struct cluster c;
    cluster_up(&c, NULL, 2000);
    rshare_node *n = c.nodes[0];
    uint8_t into[64], tail[64];
    memset(into, 0, sizeof(into));
    memset(tail, 0, sizeof(tail));
    struct rs_seg seg[2] = {{into, sizeof(into)}, {tail, sizeof(tail)}};
    struct rs_reply_sink sink = {.seg = seg, .nseg = 2, .skip = 60, .length = 40,
                                 .head = {0x58, 40}, .head_len = 2, .armed = true};
    uint8_t *wire = rs_msg_prepare(n, 1);
    ck_assert_ptr_nonnull(wire);
    RS_MSG_BODY(wire)[0] = 'x';
    uint32_t id = rs_msg(n)->next_request_id;
    struct result r = {0};
    ck_assert_int_eq(rs_msg_call_into(n, 2, ECHO, wire, 1, &sink, on_reply, &r), 0);

    /* A first fragment of the answer: header, the expected head, data. */
    uint8_t first[RS_MSG_HDR_LEN + 2 + 8];
    struct rs_msg_hdr h = {.kind = RS_MSG_RESPONSE, .type = ECHO, .request_id = id, .sender = 2};
    rs_msg_hdr_encode(&h, first);
    first[RS_MSG_HDR_LEN] = 0x58;
    first[RS_MSG_HDR_LEN + 1] = 40;
    memset(first + RS_MSG_HDR_LEN + 2, 0xC3, 8);
    size_t total = RS_MSG_HDR_LEN + 2 + 40;
    const struct rs_link_placement *pl = &rs_msg_placement;
    uint32_t key = 0;
    size_t off = 0;
    ck_assert(pl->claim(n, 2, first, sizeof(first), total, &key, &off));
    ck_assert_uint_eq(key, id);
    ck_assert_uint_eq(off, RS_MSG_HDR_LEN + 2);
    /* Not claimed: another peer, a length other than expected, a first
     * fragment too short for the head, another head, an error answer,
     * another type, another request. */
    ck_assert(!pl->claim(n, 3, first, sizeof(first), total, &key, &off));
    ck_assert(!pl->claim(n, 2, first, sizeof(first), total + 1, &key, &off));
    ck_assert(!pl->claim(n, 2, first, RS_MSG_HDR_LEN + 1, total, &key, &off));
    first[RS_MSG_HDR_LEN + 1] = 41;
    ck_assert(!pl->claim(n, 2, first, sizeof(first), total, &key, &off));
    first[RS_MSG_HDR_LEN + 1] = 40;
    struct rs_msg_hdr other = h;
    other.kind = RS_MSG_ERROR;
    rs_msg_hdr_encode(&other, first);
    ck_assert(!pl->claim(n, 2, first, sizeof(first), total, &key, &off));
    other = h;
    other.type = NOTE;
    rs_msg_hdr_encode(&other, first);
    ck_assert(!pl->claim(n, 2, first, sizeof(first), total, &key, &off));
    other = h;
    other.request_id = id + 1;
    rs_msg_hdr_encode(&other, first);
    ck_assert(!pl->claim(n, 2, first, sizeof(first), total, &key, &off));

    /* Placing: data byte 2 of the sink is byte 62 of the segments; the
     * bytes cross into the second segment.  Nothing beyond the sink. */
    uint8_t data[8];
    memset(data, 0xC3, sizeof(data));
    ck_assert(pl->place(n, 2, id, 2, data, sizeof(data)));
    ck_assert_uint_eq(into[61], 0);
    ck_assert_uint_eq(into[62], 0xC3);
    ck_assert_uint_eq(into[63], 0xC3);
    ck_assert_uint_eq(tail[5], 0xC3);
    ck_assert_uint_eq(tail[6], 0);
    ck_assert(!pl->place(n, 2, id, 36, data, sizeof(data)));
    ck_assert(!pl->place(n, 3, id, 0, data, 1));
    ck_assert_uint_eq(tail[32], 0);
    /* Disarmed: neither claimed nor placed. */
    sink.armed = false;
    rs_msg_hdr_encode(&h, first);
    ck_assert(!pl->claim(n, 2, first, sizeof(first), total, &key, &off));
    ck_assert(!pl->place(n, 2, id, 0, data, 1));
    ck_assert_uint_eq(into[60], 0);
    ck_assert_int_eq(r.calls, 0);
    cluster_down(&c); /* the request ends with the node */
    ck_assert_int_eq(r.calls, 1);
    free(r.data);
}
END_TEST

START_TEST(test_message_limit)
{
    struct cluster c;
    cluster_up(&c, NULL, 1000);
    struct result r = {0};
    size_t big = (4u << 20) + 1;
    uint8_t *body = calloc(1, big);
    ck_assert_int_eq(rshare_node_call(c.nodes[0], 2, ECHO, body, big, on_reply, &r), RSHARE_EMSGSIZE);
    ck_assert_str_ne(rshare_node_errmsg(c.nodes[0]), "");
    ck_assert_int_eq(r.calls, 0);
    free(body);
    cluster_down(&c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("msg");
    TCase *codec = tcase_create("codec");
    tcase_add_test(codec, test_header_codec);
    tcase_add_test(codec, test_cbor_round_trip);
    tcase_add_test(codec, test_cbor_rejects);
    suite_add_tcase(s, codec);
    TCase *tc = tcase_create("requests");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_requests_unprotected);
    tcase_add_test(tc, test_requests_protected);
    tcase_add_test(tc, test_timeout_and_shutdown);
    tcase_add_test(tc, test_message_limit);
    tcase_add_test(tc, test_map_versioned_requests);
    tcase_add_test(tc, test_request_id_wrap);
    tcase_add_test(tc, test_reply_sink_claims);
    suite_add_tcase(s, tc);
    return rs_test_run(s);
}
