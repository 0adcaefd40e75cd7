/* rshare cluster — consensus for the global map with libraft: its I/O
 * interface implemented over rshare's own messages, timers and persistence
 * hook (no libuv), the map as its state machine, and the manager's duties
 * (bootstrap, adding members, preferring the lowest slot or install order
 * as leader) and the operator's override that lets a voter continue alone.
 *
 * libraft calls back into the I/O object only from rshare_node_process():
 * completions that libraft expects to arrive later (send, append, snapshot)
 * are queued and delivered by a zero-delay timer, never from inside the
 * call that started them. */
#include "config.h"

#include <raft.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "descriptor.h"
#include "msg/msg.h"
#include "raftwire.h"

#define SNAPSHOT_THRESHOLD 64
#define SNAPSHOT_TRAILING 16
#define RS_MAX_VOTERS 7

enum completion_kind { DONE_SEND, DONE_APPEND, DONE_SNAPSHOT_PUT, DONE_SNAPSHOT_GET };

struct completion {
    struct completion *next;
    enum completion_kind kind;
    void *req;
    int status;
    struct raft_snapshot *snapshot; /* DONE_SNAPSHOT_GET */
};

struct stored_entry {
    raft_term term;
    unsigned short type;
    uint8_t *buf;
    size_t len;
};

struct proposal {
    struct raft_apply req; /* first: libraft hands it back */
    rshare_node *node;
    rs_raft_done_fn done;
    void *user_data;
};

struct change {
    struct raft_change req;
    rshare_node *node;
};

struct rs_raft {
    struct raft raft;
    struct raft_io io;
    struct raft_fsm fsm;
    rshare_node *node;
    bool started, closing;
    char address[16];      /* this node's id in text: libraft wants an address */
    char peer_address[16]; /* the sender of the message being received */

    raft_io_tick_cb tick;
    raft_io_recv_cb recv;
    unsigned tick_ms;
    struct rs_timer tick_timer;

    struct completion *done_head, *done_tail;
    struct rs_timer done_timer;

    /* The persistent state, mirrored in memory and stored through the
     * node's persistence hook after every change. */
    raft_term term;
    raft_id vote;
    raft_index start_index; /* index of entries[0] */
    struct stored_entry *entries;
    size_t n_entries, cap_entries;
    bool has_snapshot;
    raft_index snap_index, snap_term, snap_conf_index;
    struct rs_raft_conf snap_conf;
    uint8_t *snap_data;
    size_t snap_len;

    uint64_t rng;
    bool change_pending;
    struct change change;
    bool transferring;
    struct raft_transfer transfer;
    bool push_commit;      /* a change committed: tell the followers now */
    bool barrier_pending;
    struct raft_barrier barrier;
    bool in_fsm;           /* inside fsm_apply/fsm_restore (application events run) */
    /* After a forced recovery the instance is restarted over the same map:
     * commands up to this index are already applied to it. */
    raft_index replay_until;
};

static struct rs_raft *self(struct raft_io *io)
{
    return io->impl;
}

/* --- deferred completions ------------------------------------------------ */

static void flush_completions(rshare_node *node, struct rs_timer *timer);

static void complete_later(struct rs_raft *rr, enum completion_kind kind, void *req, int status,
                           struct raft_snapshot *snapshot)
{
    struct completion *c = rs_calloc(rr->node, 1, sizeof(*c));
    if (!c) {
        /* Without memory for the queue entry, complete now: libraft copes
         * with a synchronous callback better than with a lost one. */
        struct completion local = {.kind = kind, .req = req, .status = status, .snapshot = snapshot};
        c = &local;
        switch (kind) {
        case DONE_SEND: ((struct raft_io_send *)req)->cb(req, status); break;
        case DONE_APPEND: ((struct raft_io_append *)req)->cb(req, status); break;
        case DONE_SNAPSHOT_PUT: ((struct raft_io_snapshot_put *)req)->cb(req, status); break;
        case DONE_SNAPSHOT_GET: ((struct raft_io_snapshot_get *)req)->cb(req, snapshot, status); break;
        }
        return;
    }
    c->kind = kind;
    c->req = req;
    c->status = status;
    c->snapshot = snapshot;
    if (rr->done_tail)
        rr->done_tail->next = c;
    else
        rr->done_head = c;
    rr->done_tail = c;
    if (!rs_timer_pending(&rr->done_timer))
        rs_timer_schedule(rr->node, &rr->done_timer, rs_now_us(rr->node));
}

static void run_completion(struct completion *c)
{
    switch (c->kind) {
    case DONE_SEND: {
        struct raft_io_send *req = c->req;
        if (req->cb)
            req->cb(req, c->status);
        break;
    }
    case DONE_APPEND: {
        struct raft_io_append *req = c->req;
        if (req->cb)
            req->cb(req, c->status);
        break;
    }
    case DONE_SNAPSHOT_PUT: {
        struct raft_io_snapshot_put *req = c->req;
        if (req->cb)
            req->cb(req, c->status);
        break;
    }
    case DONE_SNAPSHOT_GET: {
        struct raft_io_snapshot_get *req = c->req;
        req->cb(req, c->snapshot, c->status);
        break;
    }
    }
}

static void flush_completions(rshare_node *node, struct rs_timer *timer)
{
    struct rs_raft *rr = (struct rs_raft *)((char *)timer - offsetof(struct rs_raft, done_timer));
    /* Callbacks may queue more: take the list as it is now. */
    struct completion *c = rr->done_head;
    rr->done_head = rr->done_tail = NULL;
    while (c) {
        struct completion *next = c->next;
        run_completion(c);
        rs_free(node, c);
        c = next;
    }
}

/* --- persistence ------------------------------------------------------------ */

static bool durable(struct rs_raft *rr)
{
    return rs_persist_available(rr->node);
}

static int store_meta(struct rs_raft *rr)
{
    if (!durable(rr))
        return 0;
    uint8_t buf[32];
    struct rs_cbor_writer w;
    rs_cbor_writer_init(&w, buf, sizeof(buf));
    rs_cbor_put_array(&w, 2);
    rs_cbor_put_uint(&w, rr->term);
    rs_cbor_put_uint(&w, rr->vote);
    return rs_persist_store(rr->node, "raft-meta", buf, w.len) < 0 ? RAFT_IOERR : 0;
}

/* The log is small (snapshots every SNAPSHOT_THRESHOLD entries), so it is
 * stored whole: [start_index, [[term, type, bytes]...]]. */
static int store_log(struct rs_raft *rr)
{
    if (!durable(rr))
        return 0;
    size_t cap = 32;
    for (size_t i = 0; i < rr->n_entries; i++)
        cap += 32 + rr->entries[i].len;
    uint8_t *buf = rs_malloc(rr->node, cap);
    if (!buf)
        return RAFT_NOMEM;
    struct rs_cbor_writer w;
    rs_cbor_writer_init(&w, buf, cap);
    rs_cbor_put_array(&w, 2);
    rs_cbor_put_uint(&w, rr->start_index);
    rs_cbor_put_array(&w, rr->n_entries);
    for (size_t i = 0; i < rr->n_entries; i++) {
        rs_cbor_put_array(&w, 3);
        rs_cbor_put_uint(&w, rr->entries[i].term);
        rs_cbor_put_uint(&w, rr->entries[i].type);
        rs_cbor_put_bytes(&w, rr->entries[i].buf, rr->entries[i].len);
    }
    int rc = w.overflow ? RAFT_IOERR : rs_persist_store(rr->node, "raft-log", buf, w.len);
    rs_free(rr->node, buf);
    return rc < 0 ? RAFT_IOERR : 0;
}

static int store_snapshot(struct rs_raft *rr)
{
    if (!durable(rr))
        return 0;
    size_t cap = 64 + rr->snap_len + rs_raft_conf_encoded_max(&rr->snap_conf);
    uint8_t *buf = rs_malloc(rr->node, cap);
    if (!buf)
        return RAFT_NOMEM;
    struct rs_cbor_writer w;
    rs_cbor_writer_init(&w, buf, cap);
    rs_cbor_put_array(&w, 5);
    rs_cbor_put_uint(&w, rr->snap_index);
    rs_cbor_put_uint(&w, rr->snap_term);
    rs_raft_conf_encode(&w, &rr->snap_conf);
    rs_cbor_put_uint(&w, rr->snap_conf_index);
    rs_cbor_put_bytes(&w, rr->snap_data, rr->snap_len);
    int rc = w.overflow ? RAFT_IOERR : rs_persist_store(rr->node, "raft-snapshot", buf, w.len);
    rs_free(rr->node, buf);
    return rc < 0 ? RAFT_IOERR : 0;
}

static void drop_entries(struct rs_raft *rr, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        rs_free(rr->node, rr->entries[i].buf);
}

static int push_entry(struct rs_raft *rr, raft_term term, unsigned short type, const void *data,
                      size_t len)
{
    if (rr->n_entries == rr->cap_entries) {
        size_t cap = rr->cap_entries ? rr->cap_entries * 2 : 16;
        struct stored_entry *grown = rs_realloc(rr->node, rr->entries, cap * sizeof(*grown));
        if (!grown)
            return RAFT_NOMEM;
        rr->entries = grown;
        rr->cap_entries = cap;
    }
    uint8_t *copy = rs_malloc(rr->node, len ? len : 1);
    if (!copy)
        return RAFT_NOMEM;
    if (len)
        memcpy(copy, data, len);
    rs_raft_entry_zero_unwritten(type, copy, len);
    rr->entries[rr->n_entries++] = (struct stored_entry){term, type, copy, len};
    return 0;
}

/* Read back what store_*() wrote (at start-up). */
static int load_persisted(struct rs_raft *rr)
{
    if (!durable(rr))
        return 0;
    size_t cap = 4u << 20;
    uint8_t *buf = rs_malloc(rr->node, cap);
    if (!buf)
        return RSHARE_ENOMEM;
    struct rs_cbor_reader r;
    size_t n;
    uint64_t a, b, c;
    int rc = 0;
    int len = rs_persist_load(rr->node, "raft-meta", buf, cap);
    if (len >= 0) {
        rs_cbor_reader_init(&r, buf, (size_t)len);
        if (rs_cbor_get_array(&r, &n) < 0 || n != 2 || rs_cbor_get_uint(&r, &a) < 0 ||
            rs_cbor_get_uint(&r, &b) < 0)
            rc = RSHARE_EPROTO;
        rr->term = a;
        rr->vote = b;
    } else if (len != RSHARE_ENOENT) {
        rc = len;
    }
    len = rc == 0 ? rs_persist_load(rr->node, "raft-log", buf, cap) : rc;
    if (len >= 0) {
        rs_cbor_reader_init(&r, buf, (size_t)len);
        size_t count;
        if (rs_cbor_get_array(&r, &n) < 0 || n != 2 || rs_cbor_get_uint(&r, &a) < 0 ||
            rs_cbor_get_array(&r, &count) < 0 || count > (size_t)len)
            rc = RSHARE_EPROTO;
        rr->start_index = a;
        for (size_t i = 0; rc == 0 && i < count; i++) {
            const uint8_t *data;
            size_t dlen;
            if (rs_cbor_get_array(&r, &n) < 0 || n != 3 || rs_cbor_get_uint(&r, &b) < 0 ||
                rs_cbor_get_uint(&r, &c) < 0 || c > RAFT_CHANGE ||
                rs_cbor_get_bytes(&r, &data, &dlen) < 0)
                rc = RSHARE_EPROTO;
            else
                rc = push_entry(rr, b, (unsigned short)c, data, dlen) ? RSHARE_ENOMEM : 0;
        }
    } else if (len != RSHARE_ENOENT) {
        rc = len;
    }
    len = rc == 0 ? rs_persist_load(rr->node, "raft-snapshot", buf, cap) : rc;
    if (len >= 0) {
        rs_cbor_reader_init(&r, buf, (size_t)len);
        const uint8_t *data;
        size_t dlen;
        if (rs_cbor_get_array(&r, &n) < 0 || n != 5 || rs_cbor_get_uint(&r, &a) < 0 ||
            rs_cbor_get_uint(&r, &b) < 0 || rs_raft_conf_decode(&r, &rr->snap_conf) < 0 ||
            rs_cbor_get_uint(&r, &c) < 0 || rs_cbor_get_bytes(&r, &data, &dlen) < 0) {
            rc = RSHARE_EPROTO;
        } else {
            rr->snap_data = rs_malloc(rr->node, dlen ? dlen : 1);
            if (!rr->snap_data) {
                rc = RSHARE_ENOMEM;
            } else {
                memcpy(rr->snap_data, data, dlen);
                rr->snap_len = dlen;
                rr->snap_index = a;
                rr->snap_term = b;
                rr->snap_conf_index = c;
                rr->has_snapshot = true;
            }
        }
    } else if (len != RSHARE_ENOENT) {
        rc = len;
    }
    rs_free(rr->node, buf);
    if (rc < 0)
        return rs_errorf(rr->node, rc, "persisted map state is unreadable");
    return 0;
}

/* --- the raft_io methods ---------------------------------------------------- */

static int io_random(struct raft_io *io, int min, int max);

static void tick_timer(rshare_node *node, struct rs_timer *timer)
{
    struct rs_raft *rr = (struct rs_raft *)((char *)timer - offsetof(struct rs_raft, tick_timer));
    rs_timer_schedule(node, &rr->tick_timer, rs_now_us(node) + (uint64_t)rr->tick_ms * 1000u);
    if (rr->tick)
        rr->tick(&rr->io);
}

static int io_init(struct raft_io *io, raft_id id, const char *address)
{
    (void)io;
    (void)id;
    (void)address;
    return 0;
}

static void io_close(struct raft_io *io, raft_io_close_cb cb)
{
    struct rs_raft *rr = self(io);
    rs_timer_cancel(rr->node, &rr->tick_timer);
    rs_timer_cancel(rr->node, &rr->done_timer);
    rr->tick = NULL;
    rr->recv = NULL;
    /* Pending requests complete as canceled, as a closing libuv I/O does. */
    struct completion *c = rr->done_head;
    rr->done_head = rr->done_tail = NULL;
    while (c) {
        struct completion *next = c->next;
        c->status = c->status ? c->status : RAFT_CANCELED;
        run_completion(c);
        rs_free(rr->node, c);
        c = next;
    }
    if (cb)
        cb(io);
}

static int io_load(struct raft_io *io, raft_term *term, raft_id *voted_for,
                   struct raft_snapshot **snapshot, raft_index *start_index,
                   struct raft_entry *entries[], size_t *n_entries)
{
    struct rs_raft *rr = self(io);
    *term = rr->term;
    *voted_for = rr->vote;
    *snapshot = NULL;
    *entries = NULL;
    *n_entries = 0;
    *start_index = rr->start_index ? rr->start_index : 1;
    if (rr->has_snapshot) {
        struct raft_snapshot *s = raft_calloc(1, sizeof(*s));
        if (!s || rs_raft_snapshot_fill(rr->node, s, rr->snap_index, rr->snap_term, &rr->snap_conf,
                                        rr->snap_conf_index, rr->snap_data, rr->snap_len) != 0) {
            raft_free(s);
            return RAFT_NOMEM;
        }
        *snapshot = s;
        if (!rr->n_entries)
            *start_index = rr->snap_index + 1;
    }
    if (!rr->n_entries)
        return 0;
    size_t total = 0;
    for (size_t i = 0; i < rr->n_entries; i++)
        total += rr->entries[i].len;
    struct raft_entry *out = raft_calloc(rr->n_entries, sizeof(*out));
    uint8_t *batch = raft_malloc(total ? total : 1);
    if (!out || !batch) {
        raft_free(out);
        raft_free(batch);
        return RAFT_NOMEM;
    }
    uint8_t *cursor = batch;
    for (size_t i = 0; i < rr->n_entries; i++) {
        memcpy(cursor, rr->entries[i].buf, rr->entries[i].len);
        out[i] = (struct raft_entry){.term = rr->entries[i].term, .type = rr->entries[i].type,
                                     .buf = {cursor, rr->entries[i].len}, .batch = batch};
        cursor += rr->entries[i].len;
    }
    *entries = out;
    *n_entries = rr->n_entries;
    return 0;
}

static int io_start(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick, raft_io_recv_cb recv)
{
    struct rs_raft *rr = self(io);
    rr->tick_ms = msecs ? msecs : 1;
    rr->tick = tick;
    rr->recv = recv;
    /* Nodes started together would tick in phase and time out together,
     * splitting the vote: the first tick comes after a random part of the
     * interval. */
    uint64_t first_us = 1000u + (uint64_t)io_random(io, 0, (int)rr->tick_ms) * 1000u;
    return rs_timer_schedule(rr->node, &rr->tick_timer, rs_now_us(rr->node) + first_us) < 0
               ? RAFT_NOMEM
               : 0;
}

static int io_bootstrap(struct raft_io *io, const struct raft_configuration *conf)
{
    struct rs_raft *rr = self(io);
    if (rr->term != 0 || rr->n_entries || rr->has_snapshot)
        return RAFT_CANTBOOTSTRAP;
    struct raft_buffer buf;
    int rc = raft_configuration_encode(conf, &buf);
    if (rc != 0)
        return rc;
    rr->start_index = 1;
    rc = push_entry(rr, 1, RAFT_CHANGE, buf.base, buf.len);
    raft_free(buf.base);
    if (rc != 0)
        return rc;
    rr->term = 1;
    if ((rc = store_meta(rr)) != 0 || (rc = store_log(rr)) != 0)
        return rc;
    return 0;
}

/* A forced configuration (rs_raft_force_alone): the new configuration is
 * appended to the stored log, as libraft's own disk I/O does.  Its entry
 * gets a term of its own, one above the current one, in which no leader can
 * have been elected without this node's vote (a 2-voter map needs both), so
 * no other node can hold a different entry with that index and term: a
 * returning peer that appended entries this node never saw has them
 * replaced, not mistaken for matching ones. */
static int io_recover(struct raft_io *io, const struct raft_configuration *conf)
{
    struct rs_raft *rr = self(io);
    if (rr->term == 0 || (!rr->n_entries && !rr->has_snapshot)) {
        snprintf(io->errmsg, sizeof(io->errmsg), "no map to recover");
        return RAFT_INVALID;
    }
    struct raft_buffer buf;
    int rc = raft_configuration_encode(conf, &buf);
    if (rc != 0)
        return rc;
    if (!rr->n_entries)
        rr->start_index = rr->has_snapshot ? rr->snap_index + 1 : 1;
    raft_term term = rr->term + 1;
    rc = push_entry(rr, term, RAFT_CHANGE, buf.base, buf.len);
    raft_free(buf.base);
    if (rc != 0)
        return rc;
    rr->term = term;
    rr->vote = 0;
    if ((rc = store_meta(rr)) != 0 || (rc = store_log(rr)) != 0)
        return rc;
    return 0;
}

static int io_set_term(struct raft_io *io, raft_term term)
{
    struct rs_raft *rr = self(io);
    rr->term = term;
    rr->vote = 0;
    return store_meta(rr);
}

static int io_set_vote(struct raft_io *io, raft_id server_id)
{
    struct rs_raft *rr = self(io);
    rr->vote = server_id;
    return store_meta(rr);
}

static int io_send(struct raft_io *io, struct raft_io_send *req, const struct raft_message *message,
                   raft_io_send_cb cb)
{
    struct rs_raft *rr = self(io);
    req->cb = cb;
    uint8_t *wire;
    size_t len;
    int status = 0;
    if (rs_raft_message_encode(rr->node, message, &wire, &len) < 0) {
        status = RAFT_NOMEM;
    } else {
        if (rs_msg_notify(rr->node, (uint32_t)message->server_id, RS_MSG_RAFT, wire, len, 0) < 0)
            status = RAFT_NOCONNECTION;
        rs_free(rr->node, wire);
    }
    complete_later(rr, DONE_SEND, req, status, NULL);
    return 0;
}

static int io_append(struct raft_io *io, struct raft_io_append *req,
                     const struct raft_entry entries[], unsigned n, raft_io_append_cb cb)
{
    struct rs_raft *rr = self(io);
    req->cb = cb;
    if (!rr->start_index)
        rr->start_index = 1;
    int rc = 0;
    for (unsigned i = 0; i < n && rc == 0; i++)
        rc = push_entry(rr, entries[i].term, entries[i].type, entries[i].buf.base, entries[i].buf.len);
    if (rc == 0)
        rc = store_log(rr);
    complete_later(rr, DONE_APPEND, req, rc, NULL);
    return 0;
}

static int io_truncate(struct raft_io *io, raft_index index)
{
    struct rs_raft *rr = self(io);
    if (index < rr->start_index)
        return RAFT_INVALID;
    size_t keep = (size_t)(index - rr->start_index);
    if (keep < rr->n_entries) {
        drop_entries(rr, keep, rr->n_entries);
        rr->n_entries = keep;
    }
    return store_log(rr);
}

static int io_snapshot_put(struct raft_io *io, unsigned trailing, struct raft_io_snapshot_put *req,
                           const struct raft_snapshot *snapshot, raft_io_snapshot_put_cb cb)
{
    struct rs_raft *rr = self(io);
    req->cb = cb;
    size_t len = 0;
    for (unsigned i = 0; i < snapshot->n_bufs; i++)
        len += snapshot->bufs[i].len;
    uint8_t *data = rs_malloc(rr->node, len ? len : 1);
    struct rs_raft_conf conf;
    int status = data && rs_raft_conf_from(&conf, &snapshot->configuration) == 0 ? 0 : RAFT_NOMEM;
    if (status == 0) {
        size_t off = 0;
        for (unsigned i = 0; i < snapshot->n_bufs; i++) {
            memcpy(data + off, snapshot->bufs[i].base, snapshot->bufs[i].len);
            off += snapshot->bufs[i].len;
        }
        rs_free(rr->node, rr->snap_data);
        rr->snap_data = data;
        rr->snap_len = len;
        rr->snap_index = snapshot->index;
        rr->snap_term = snapshot->term;
        rr->snap_conf = conf;
        rr->snap_conf_index = snapshot->configuration_index;
        rr->has_snapshot = true;
        /* Keep `trailing` entries before the snapshot; an installed snapshot
         * (trailing 0) replaces the whole log. */
        raft_index keep_from = snapshot->index + 1 > trailing ? snapshot->index + 1 - trailing : 1;
        if (trailing == 0) {
            drop_entries(rr, 0, rr->n_entries);
            rr->n_entries = 0;
            rr->start_index = snapshot->index + 1;
        } else if (keep_from > rr->start_index) {
            size_t drop = (size_t)(keep_from - rr->start_index);
            if (drop > rr->n_entries)
                drop = rr->n_entries;
            drop_entries(rr, 0, drop);
            if (rr->n_entries > drop)
                memmove(rr->entries, rr->entries + drop,
                        (rr->n_entries - drop) * sizeof(*rr->entries));
            rr->n_entries -= drop;
            rr->start_index += drop;
        }
        status = store_snapshot(rr);
        if (status == 0)
            status = store_log(rr);
    } else {
        rs_free(rr->node, data);
    }
    complete_later(rr, DONE_SNAPSHOT_PUT, req, status, NULL);
    return 0;
}

static int io_snapshot_get(struct raft_io *io, struct raft_io_snapshot_get *req,
                           raft_io_snapshot_get_cb cb)
{
    struct rs_raft *rr = self(io);
    req->cb = cb;
    struct raft_snapshot *s = raft_calloc(1, sizeof(*s));
    int status = s && rr->has_snapshot &&
                         rs_raft_snapshot_fill(rr->node, s, rr->snap_index, rr->snap_term,
                                               &rr->snap_conf, rr->snap_conf_index, rr->snap_data,
                                               rr->snap_len) == 0
                     ? 0
                     : RAFT_NOTFOUND;
    if (status) {
        raft_free(s);
        s = NULL;
    }
    complete_later(rr, DONE_SNAPSHOT_GET, req, status, s);
    return 0;
}

static raft_time io_time(struct raft_io *io)
{
    return rs_now_us(self(io)->node) / 1000u;
}

/* Election timeouts are drawn from a generator seeded by the node id, so
 * that simulations replay exactly. */
static int io_random(struct raft_io *io, int min, int max)
{
    struct rs_raft *rr = self(io);
    rr->rng ^= rr->rng << 13;
    rr->rng ^= rr->rng >> 7;
    rr->rng ^= rr->rng << 17;
    if (max <= min)
        return min;
    return min + (int)(rr->rng % (uint64_t)(max - min));
}

/* --- the state machine ------------------------------------------------------ */

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
    struct rs_raft *rr = fsm->data;
    struct rs_cluster *cl = rs_cluster(rr->node);
    raft_index index = raft_last_applied(&rr->raft) + 1;
    *result = NULL;
    if (index <= rr->replay_until)
        return 0; /* the map already holds it (restarted after a recovery) */
    uint32_t subject = 0;
    rr->in_fsm = true;
    size_t revoked = cl->map.revoked_count;
    int rc = rs_map_apply(rr->node, &cl->map, buf->base, buf->len, &subject);
    if (cl->map.revoked_count != revoked)
        rs_cluster_identity_sync(rr->node);
    /* Version and epoch name the entry itself (its index and the term it was
     * created in), so that every node holding the same map reports the same
     * pair, whenever it applied it. */
    cl->map.version = index;
    if (index >= rr->start_index && index - rr->start_index < rr->n_entries)
        cl->map.epoch = (uint32_t)rr->entries[index - rr->start_index].term;
    rs_msg_set_map_version(rr->node, cl->map.epoch, cl->map.version);
    if (raft_state(&rr->raft) == RAFT_LEADER)
        rr->push_commit = true;
    *result = (void *)(intptr_t)rc;
    if (rc < 0)
        rs_log_warn(rr->node, "map change refused by every node: %s", rshare_strerror(rc));
    else
        rs_cluster_emit(rr->node, RSHARE_EVENT_MAP, subject);
    rr->in_fsm = false;
    rs_cluster_kick(rr->node);
    return 0;
}

static void *raft_alloc(size_t n)
{
    return raft_malloc(n);
}

static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    struct rs_raft *rr = fsm->data;
    struct raft_buffer *b = raft_malloc(sizeof(*b));
    if (!b)
        return RAFT_NOMEM;
    uint8_t *data;
    size_t len;
    if (rs_map_snapshot(rr->node, &rs_cluster(rr->node)->map, raft_alloc, &data, &len) < 0) {
        raft_free(b);
        return RAFT_NOMEM;
    }
    b->base = data;
    b->len = len;
    *bufs = b;
    *n_bufs = 1;
    return 0;
}

static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
    struct rs_raft *rr = fsm->data;
    struct rs_cluster *cl = rs_cluster(rr->node);
    if (rr->has_snapshot && rr->snap_index <= rr->replay_until) {
        raft_free(buf->base); /* the map already holds it */
        return 0;
    }
    /* The snapshot names the map's version and epoch (those of the last
     * map change in it); one in the older format has only the snapshot's
     * index and term, the nearest there is. */
    uint64_t version = cl->map.version;
    uint32_t epoch = cl->map.epoch;
    cl->map.version = 0;
    int rc = rs_map_restore(rr->node, &cl->map, buf->base, buf->len);
    raft_free(buf->base);
    if (rc < 0) {
        cl->map.version = version;
        cl->map.epoch = epoch;
        return RAFT_CORRUPT;
    }
    if (cl->map.version == 0 && rr->has_snapshot) {
        cl->map.version = rr->snap_index;
        cl->map.epoch = (uint32_t)rr->snap_term;
    } else if (cl->map.version == 0) {
        cl->map.version = version;
        cl->map.epoch = epoch;
    }
    rs_msg_set_map_version(rr->node, cl->map.epoch, cl->map.version);
    rs_cluster_identity_sync(rr->node);
    rr->in_fsm = true;
    rs_cluster_emit(rr->node, RSHARE_EVENT_MAP, 0);
    rr->in_fsm = false;
    rs_cluster_kick(rr->node);
    return 0;
}

/* --- receiving ---------------------------------------------------------------- */

static void on_raft_message(rshare_node *node, rshare_request *req, void *user_data)
{
    (void)user_data;
    struct rs_raft *rr = rs_cluster(node)->raft;
    if (!rr || !rr->recv || rr->closing)
        return;
    struct raft_message m;
    memset(&m, 0, sizeof(m));
    if (rs_raft_message_decode(node, rshare_request_data(req), rshare_request_len(req), &m) < 0) {
        RS_STAT_INC(node, msgs_malformed);
        return;
    }
    m.server_id = rshare_request_peer(req);
    rs_member_heard_raft(node, (uint32_t)m.server_id);
    snprintf(rr->peer_address, sizeof(rr->peer_address), "%u", (unsigned)m.server_id);
    m.server_address = rr->peer_address;
    /* A follower whose own snapshot is newer than the one a manager offers
     * (a manager that restarted from an older snapshot): libraft takes the
     * offer as a no-op and answers that it holds the log up to the offer's
     * index, so the manager sends entries from there on -- below this
     * node's log, each refused, for ever (soak seed 304).  Everything up to
     * this node's snapshot is committed, so the manager holds the same
     * entries: present our snapshot's index and term instead, and the
     * answer moves the manager up to where our log starts. */
    if (m.type == RAFT_IO_INSTALL_SNAPSHOT && rr->has_snapshot &&
        rr->snap_index > m.install_snapshot.last_index) {
        m.install_snapshot.last_index = rr->snap_index;
        m.install_snapshot.last_term = rr->snap_term;
    }
    rr->recv(&rr->io, &m); /* libraft owns the message's buffers from here */
}

static int bootstrap(rshare_node *node, struct rs_raft *rr);

/* --- set-up -------------------------------------------------------------------- */

static int recover_alone(rshare_node *node, struct rs_raft *rr);

/* Set up the libraft instance over the persisted state.  `replay_until`
 * non-zero: a restart after rs_raft_stop() over a map that already holds
 * every command up to that index, forced to this node as its only voter. */
static int open_instance(rshare_node *node, bool alone, raft_index replay_until)
{
    struct rs_cluster *cl = rs_cluster(node);
    struct rs_raft *rr = rs_calloc(node, 1, sizeof(*rr));
    if (!rr)
        return RSHARE_ENOMEM;
    rr->node = node;
    rr->replay_until = replay_until;
    uint32_t id = rshare_node_id(node);
    rr->rng = 0x9E3779B97F4A7C15u ^ ((uint64_t)id * 0xBF58476D1CE4E5B9u);
    if (!rr->rng)
        rr->rng = 1;
    snprintf(rr->address, sizeof(rr->address), "%u", id);
    rs_timer_init(&rr->tick_timer, tick_timer);
    rs_timer_init(&rr->done_timer, flush_completions);
    int rc = load_persisted(rr);
    if (rc < 0) {
        drop_entries(rr, 0, rr->n_entries);
        rs_free(node, rr->entries);
        rs_free(node, rr->snap_data);
        rs_free(node, rr);
        return rc;
    }
    rr->io = (struct raft_io){
        .version = 1, .impl = rr, .init = io_init, .close = io_close, .load = io_load,
        .start = io_start, .bootstrap = io_bootstrap, .recover = io_recover,
        .set_term = io_set_term, .set_vote = io_set_vote, .send = io_send, .append = io_append,
        .truncate = io_truncate, .snapshot_put = io_snapshot_put,
        .snapshot_get = io_snapshot_get, .time = io_time, .random = io_random};
    rr->fsm = (struct raft_fsm){.version = 1, .data = rr, .apply = fsm_apply,
                                .snapshot = fsm_snapshot, .restore = fsm_restore};
    cl->raft = rr;
    rc = raft_init(&rr->raft, &rr->io, &rr->fsm, id, rr->address);
    if (rc != 0) {
        cl->raft = NULL;
        rs_errorf(node, RSHARE_EIO, "consensus set-up failed: %s", raft_strerror(rc));
        drop_entries(rr, 0, rr->n_entries);
        rs_free(node, rr->entries);
        rs_free(node, rr->snap_data);
        rs_free(node, rr);
        return RSHARE_EIO;
    }
    /* libraft draws each election timer from [T, 2T): with T half the
     * configured timeout, a silent manager is replaced within about one
     * configured election timeout. */
    raft_set_election_timeout(&rr->raft, cl->config.election_timeout_ms / 2);
    /* A snapshot whose answer is lost leaves libraft's leader waiting for
     * it, ignoring the follower's rejections, until this timeout: libraft's
     * default of 30 s kept a node's map behind for that long (the soak's
     * seed 2527, doc/RELIABILITY.md).  Ten election timeouts still leave a
     * slow bus time to carry a large map. */
    raft_set_install_snapshot_timeout(&rr->raft, 10u * cl->config.election_timeout_ms);
    raft_set_heartbeat_timeout(&rr->raft, cl->config.heartbeat_ms);
    raft_set_snapshot_threshold(&rr->raft, SNAPSHOT_THRESHOLD);
    raft_set_snapshot_trailing(&rr->raft, SNAPSHOT_TRAILING);
    raft_set_pre_vote(&rr->raft, true);
    rc = rs_msg_set_handler(node, RS_MSG_RAFT, on_raft_message, NULL);
    if (rc == 0)
        rc = alone ? recover_alone(node, rr) : bootstrap(node, rr);
    if (rc == 0 && rs_raft_has_state(node)) {
        /* A node with a persisted map starts at once; a fresh one waits for
         * the bootstrap decision or to be added by the manager. */
        if (raft_start(&rr->raft) != 0)
            rc = rs_errorf(node, RSHARE_EIO, "consensus start failed: %s", raft_errmsg(&rr->raft));
        else
            rr->started = true;
    }
    return rc;
}

int rs_raft_start(rshare_node *node)
{
    return open_instance(node, false, 0);
}

static void raft_closed(struct raft *r)
{
    (void)r;
}

void rs_raft_stop(rshare_node *node)
{
    struct rs_cluster *cl = rs_cluster(node);
    struct rs_raft *rr = cl->raft;
    if (!rr)
        return;
    rr->closing = true;
    raft_close(&rr->raft, raft_closed);
    /* libraft finishes closing from completions; run what is queued. */
    while (rr->done_head) {
        struct rs_timer *t = &rr->done_timer;
        flush_completions(node, t);
    }
    rs_timer_cancel(node, &rr->tick_timer);
    rs_timer_cancel(node, &rr->done_timer);
    drop_entries(rr, 0, rr->n_entries);
    rs_free(node, rr->entries);
    rs_free(node, rr->snap_data);
    rs_free(node, rr);
    cl->raft = NULL;
}

bool rs_raft_has_state(rshare_node *node)
{
    struct rs_raft *rr = rs_cluster(node)->raft;
    return rr && (rr->term || rr->n_entries || rr->has_snapshot);
}

bool rs_raft_is_leader(rshare_node *node)
{
    struct rs_raft *rr = rs_cluster(node)->raft;
    return rr && rr->started && raft_state(&rr->raft) == RAFT_LEADER;
}

static const struct raft_server *config_server(struct rs_raft *rr, raft_id id);

bool rs_raft_is_voter(rshare_node *node, uint32_t id)
{
    struct rs_raft *rr = rs_cluster(node)->raft;
    if (!rr || !rr->started)
        return false;
    const struct raft_server *s = config_server(rr, id);
    return s && s->role == RAFT_VOTER;
}

uint32_t rs_raft_leader(rshare_node *node)
{
    struct rs_raft *rr = rs_cluster(node)->raft;
    if (!rr || !rr->started)
        return 0;
    raft_id id = 0;
    const char *address = NULL;
    raft_leader(&rr->raft, &id, &address);
    return (uint32_t)id;
}

/* --- proposals ------------------------------------------------------------------ */

static void proposal_applied(struct raft_apply *req, int status, void *result)
{
    struct proposal *p = (struct proposal *)req;
    int rc = status ? RSHARE_EAGAIN : (int)(intptr_t)result;
    p->done(p->node, rc, req->index, p->user_data);
    rs_free(p->node, p);
}

int rs_raft_propose(rshare_node *node, const void *cmd, size_t len, rs_raft_done_fn done,
                    void *user_data)
{
    struct rs_raft *rr = rs_cluster(node)->raft;
    if (!rs_raft_is_leader(node))
        return RSHARE_EAGAIN;
    /* From a map event callback (inside libraft's apply): libraft must not
     * be re-entered; the caller tries again from outside. */
    if (rr->in_fsm)
        return rs_errorf(node, RSHARE_EBUSY, "map changes cannot be made from a map event callback");
    struct proposal *p = rs_calloc(node, 1, sizeof(*p));
    struct raft_buffer buf = {.base = raft_malloc(len ? len : 1), .len = len};
    if (!p || !buf.base) {
        rs_free(node, p);
        raft_free(buf.base);
        return RSHARE_ENOMEM;
    }
    memcpy(buf.base, cmd, len);
    p->node = node;
    p->done = done;
    p->user_data = user_data;
    int rc = raft_apply(&rr->raft, &p->req, &buf, 1, proposal_applied);
    if (rc != 0) {
        raft_free(buf.base);
        rs_free(node, p);
        return RSHARE_EAGAIN;
    }
    return 0;
}

/* --- the manager's duties -------------------------------------------------------- */

static const struct raft_server *config_server(struct rs_raft *rr, raft_id id)
{
    const struct raft_configuration *c = &rr->raft.configuration;
    for (unsigned i = 0; i < c->n; i++)
        if (c->servers[i].id == id)
            return &c->servers[i];
    return NULL;
}

static unsigned voter_count(struct rs_raft *rr)
{
    const struct raft_configuration *c = &rr->raft.configuration;
    unsigned n = 0;
    for (unsigned i = 0; i < c->n; i++)
        n += c->servers[i].role == RAFT_VOTER;
    return n;
}

static void change_done(struct raft_change *req, int status)
{
    struct change *c = (struct change *)req;
    struct rs_raft *rr = rs_cluster(c->node)->raft;
    if (status != 0)
        rs_log_info(c->node, "membership change: %s", raft_strerror(status));
    if (!rr)
        return;
    rr->change_pending = false;
    rs_cluster_kick(c->node); /* continue with the next change */
}

/* One configuration change at a time: add a newly seen member as a
 * non-voting copy, then promote eligible ones until `voters` vote. */
static void next_change(rshare_node *node, struct rs_raft *rr)
{
    struct rs_cluster *cl = rs_cluster(node);
    if (rr->change_pending)
        return;
    for (size_t i = 0; i < cl->member_count; i++) {
        const struct rs_member *m = &cl->members[i];
        if (!m->alive || m->id == rshare_node_id(node))
            continue;
        const struct raft_server *s = config_server(rr, m->id);
        char address[16];
        snprintf(address, sizeof(address), "%u", m->id);
        int rc = -1;
        rr->change.node = node;
        if (!s)
            rc = raft_add(&rr->raft, &rr->change.req, m->id, address, change_done);
        else if (s->role != RAFT_VOTER && (m->hello_flags & RS_HELLO_ELIGIBLE) &&
                 voter_count(rr) < cl->config.voters)
            rc = raft_assign(&rr->raft, &rr->change.req, m->id, RAFT_VOTER, change_done);
        else if (s->role == RAFT_SPARE)
            rc = raft_assign(&rr->raft, &rr->change.req, m->id, RAFT_STANDBY, change_done);
        else
            continue;
        if (rc == 0) {
            rr->change_pending = true;
            return;
        }
    }
}

/* Record every live member in the map (and its eligibility). */
static void member_done(rshare_node *node, int status, uint64_t index, void *user_data)
{
    (void)node;
    (void)status;
    (void)index;
    (void)user_data;
}

static void publish_members(rshare_node *node)
{
    struct rs_cluster *cl = rs_cluster(node);
    for (size_t i = 0; i < cl->member_count; i++) {
        const struct rs_member *m = &cl->members[i];
        struct rs_map_member want = {m->id, m->slot, m->install_order,
                                     (m->hello_flags & RS_HELLO_ELIGIBLE) ? RS_MAP_MEMBER_ELIGIBLE : 0u};
        const struct rs_map_member *have = rs_map_member(&cl->map, m->id);
        if (!m->alive || (have && memcmp(have, &want, sizeof(want)) == 0))
            continue;
        uint8_t buf[64];
        struct rs_cbor_writer w;
        rs_cbor_writer_init(&w, buf, sizeof(buf));
        rs_map_cmd_member_set(&w, &want);
        rs_raft_propose(node, buf, w.len, member_done, NULL);
    }
}

static void barrier_done(struct raft_barrier *req, int status)
{
    (void)status;
    struct rs_raft *rr = req->data;
    rr->barrier_pending = false;
}

/* Followers learn that an entry is committed from the next AppendEntries,
 * which libraft would send only at the next heartbeat.  Appending a barrier
 * sends AppendEntries to every follower at once, carrying the new commit
 * index, so a map change reaches the whole cluster half a round trip after
 * it commits instead of up to two heartbeats later. */
static void push_commit(rshare_node *node, struct rs_raft *rr)
{
    (void)node;
    if (!rr->push_commit || rr->barrier_pending)
        return;
    rr->push_commit = false;
    rr->barrier.data = rr;
    if (raft_barrier(&rr->raft, &rr->barrier, barrier_done) == 0)
        rr->barrier_pending = true;
}

static void transfer_done(struct raft_transfer *req)
{
    struct rs_raft *rr = req->data;
    rr->transferring = false;
    rs_cluster_kick(rr->node);
}

/* The nomination rule: by default the lowest (slot, id); with
 * prefer_install_order the lowest (install_order, id), the first-installed
 * node.  Every node must be configured alike, or two leaders would keep
 * handing the role to each other. */
static bool preferred_over(const struct rs_cluster *cl, const struct rs_member *a,
                           const struct rs_member *b)
{
    uint16_t ka = cl->config.prefer_install_order ? a->install_order : a->slot;
    uint16_t kb = cl->config.prefer_install_order ? b->install_order : b->slot;
    return ka < kb || (ka == kb && a->id < b->id);
}

/* The preferred manager is the live voter that comes first by the
 * nomination rule: a leader that is not it hands leadership over (libraft
 * waits until the target's log has caught up before asking it to take
 * over). */
static void prefer_manager(rshare_node *node, struct rs_raft *rr)
{
    struct rs_cluster *cl = rs_cluster(node);
    const struct rs_member *best = NULL;
    uint64_t now = rs_now_us(node);
    uint64_t election_us = 1000ull * cl->config.election_timeout_ms;
    uint64_t settled = now - 2000ull * cl->config.hello_interval_ms;
    /* A new manager first settles for an election timeout, and hands over
     * only to a voter that answered consensus messages that recently: a
     * crashed node's hellos are remembered longer than that, and handing
     * the role to it would leave the cluster without a manager. */
    if (now - cl->leader_since_us < election_us)
        return;
    for (size_t i = 0; i < cl->member_count; i++) {
        const struct rs_member *m = &cl->members[i];
        const struct raft_server *s = config_server(rr, m->id);
        bool self_member = m->id == rshare_node_id(node);
        if (!m->alive || !s || s->role != RAFT_VOTER ||
            (!self_member && now - m->last_raft_us > election_us))
            continue;
        if (!best || preferred_over(cl, m, best))
            best = m;
    }
    if (!best || best->id == rshare_node_id(node) || rr->transferring ||
        best->up_since_us > settled)
        return;
    rr->transfer.data = rr;
    if (raft_transfer(&rr->raft, &rr->transfer, best->id, transfer_done) == 0) {
        rr->transferring = true;
        rs_log_info(node, "handing the manager role to node %u (slot %u, install order %u)",
                    best->id, best->slot, best->install_order);
    }
}

/* A listed initial voter without a map starts it with the listed voters:
 * the same configuration on every one of them, as consensus requires. */
static int bootstrap(rshare_node *node, struct rs_raft *rr)
{
    struct rs_cluster *cl = rs_cluster(node);
    bool listed = false;
    for (uint32_t i = 0; i < cl->config.initial_voter_count; i++)
        listed |= cl->initial_voters[i] == rshare_node_id(node);
    if (!listed || rs_raft_has_state(node))
        return 0;
    struct raft_configuration conf;
    raft_configuration_init(&conf);
    int rc = 0;
    for (uint32_t i = 0; i < cl->config.initial_voter_count && rc == 0; i++) {
        char address[16];
        snprintf(address, sizeof(address), "%u", cl->initial_voters[i]);
        rc = raft_configuration_add(&conf, cl->initial_voters[i], address, RAFT_VOTER);
    }
    if (rc == 0)
        rc = raft_bootstrap(&rr->raft, &conf);
    raft_configuration_close(&conf);
    if (rc != 0)
        return rs_errorf(node, RSHARE_EIO, "map bootstrap failed: %s", raft_strerror(rc));
    rs_log_info(node, "node %u starts the global map with %u voters", rshare_node_id(node),
                cl->config.initial_voter_count);
    return 0;
}

void rs_raft_members_changed(rshare_node *node)
{
    struct rs_raft *rr = rs_cluster(node)->raft;
    if (!rr || rr->closing)
        return;
    if (!rr->started) {
        /* Start once the map exists here, or as soon as someone else leads
         * one (the leader's AppendEntries bring the log). */
        bool map_elsewhere = false;
        struct rs_cluster *cl = rs_cluster(node);
        for (size_t i = 0; i < cl->member_count; i++)
            map_elsewhere |= cl->members[i].alive && (cl->members[i].hello_flags & RS_HELLO_HAS_MAP);
        if (!rs_raft_has_state(node) && !map_elsewhere)
            return;
        if (raft_start(&rr->raft) != 0) {
            rs_log_error(node, "consensus start failed: %s", raft_errmsg(&rr->raft));
            return;
        }
        rr->started = true;
    }
    if (!rs_raft_is_leader(node))
        return;
    push_commit(node, rr);
    next_change(node, rr);
    publish_members(node);
    prefer_manager(node, rr);
}

/* --- the operator's override ------------------------------------------------------ */

/* Called on a stopped instance (libraft's state "unavailable"): append a
 * configuration with this node as the only voter (io_recover). */
static int recover_alone(rshare_node *node, struct rs_raft *rr)
{
    struct raft_configuration conf;
    raft_configuration_init(&conf);
    int rc = raft_configuration_add(&conf, rshare_node_id(node), rr->address, RAFT_VOTER);
    if (rc == 0)
        rc = raft_recover(&rr->raft, &conf);
    raft_configuration_close(&conf);
    if (rc != 0)
        return rs_errorf(node, RSHARE_EIO, "forced recovery failed: %s (%s)", raft_strerror(rc),
                         rr->io.errmsg);
    return 0;
}

int rs_raft_force_alone(rshare_node *node)
{
    struct rs_cluster *cl = rs_cluster(node);
    struct rs_raft *rr = cl->raft;
    uint32_t me = rshare_node_id(node);
    if (!rr || !rr->started || !rs_raft_has_state(node))
        return rs_errorf(node, RSHARE_EAGAIN, "this node holds no map yet");
    if (rr->in_fsm)
        return rs_errorf(node, RSHARE_EBUSY,
                         "not from a map event callback: call it after rshare_node_process returns");
    if (!rs_raft_is_voter(node, me))
        return rs_errorf(node, RSHARE_EINVAL,
                         "node %u is not a voter of the map: only a voter holds every change", me);
    const struct raft_configuration *c = &rr->raft.configuration;
    unsigned others = 0;
    for (unsigned i = 0; i < c->n; i++) {
        if (c->servers[i].id == me || c->servers[i].role != RAFT_VOTER)
            continue;
        others++;
        const struct rs_member *m = rs_member_find(node, (uint32_t)c->servers[i].id);
        if (m && m->alive)
            return rs_errorf(node, RSHARE_EBUSY,
                             "voter %u is alive: map changes need it, it must not be overridden",
                             (unsigned)c->servers[i].id);
    }
    if (!others)
        return 0; /* already the only voter */

    raft_index applied = raft_last_applied(&rr->raft);
    rs_log_warn(node, "operator override: node %u continues the map as its only voter "
                      "(%u other voter%s dropped)", me, others, others == 1 ? "" : "s");
    rs_raft_stop(node);
    int rc = open_instance(node, true, applied);
    if (rc < 0) {
        /* Carry on as before, without the override. */
        char why[128];
        snprintf(why, sizeof(why), "%s", rshare_node_errmsg(node));
        rs_raft_stop(node);
        int again = open_instance(node, false, applied);
        if (again < 0)
            rs_log_error(node, "consensus restart failed: %s", rshare_node_errmsg(node));
        rc = rs_errorf(node, rc, "%s", why);
    }
    rs_cluster_kick(node);
    return rc;
}
