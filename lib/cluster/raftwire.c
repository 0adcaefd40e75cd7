/* rshare cluster — libraft messages in CBOR.  Every message is an array
 * whose first element is libraft's RPC type; DESIGN and doc/PROTOCOL.md
 * give the layouts. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "raftwire.h"

void rs_raft_entry_zero_unwritten(unsigned short type, uint8_t *bytes, size_t len)
{
    if (type == RAFT_BARRIER) {
        memset(bytes, 0, len);
        return;
    }
    if (type != RAFT_CHANGE || len < 9)
        return;
    /* libraft's configuration format 1: version byte, server count (64-bit
     * little endian), per server a 64-bit id, the address with its NUL and
     * a role byte; then padding to 8 bytes. */
    uint64_t n = 0;
    for (int i = 8; i >= 1; i--)
        n = n << 8 | bytes[i];
    size_t at = 9;
    for (uint64_t i = 0; i < n; i++) {
        if (len - at < 8)
            return; /* not the expected format: leave it */
        at += 8;
        const uint8_t *nul = memchr(bytes + at, 0, len - at);
        if (!nul || (size_t)(nul - bytes) + 2 > len)
            return;
        at = (size_t)(nul - bytes) + 2;
    }
    memset(bytes + at, 0, len - at);
}

int rs_raft_conf_from(struct rs_raft_conf *out, const struct raft_configuration *c)
{
    if (c->n > RS_RAFT_CONF_MAX)
        return RSHARE_EINVAL;
    out->n = c->n;
    for (unsigned i = 0; i < c->n; i++) {
        if (c->servers[i].id > UINT32_MAX)
            return RSHARE_EINVAL;
        out->servers[i].id = (uint32_t)c->servers[i].id;
        out->servers[i].role = (uint8_t)c->servers[i].role;
    }
    return 0;
}

void rs_raft_conf_encode(struct rs_cbor_writer *w, const struct rs_raft_conf *c)
{
    rs_cbor_put_array(w, c->n);
    for (unsigned i = 0; i < c->n; i++) {
        rs_cbor_put_array(w, 2);
        rs_cbor_put_uint(w, c->servers[i].id);
        rs_cbor_put_uint(w, c->servers[i].role);
    }
}

size_t rs_raft_conf_encoded_max(const struct rs_raft_conf *c)
{
    return 9 + (size_t)c->n * 12;
}

int rs_raft_conf_decode(struct rs_cbor_reader *r, struct rs_raft_conf *c)
{
    size_t n, pair;
    uint64_t id, role;
    if (rs_cbor_get_array(r, &n) < 0 || n > RS_RAFT_CONF_MAX)
        return RSHARE_EPROTO;
    c->n = (unsigned)n;
    for (size_t i = 0; i < n; i++) {
        if (rs_cbor_get_array(r, &pair) < 0 || pair != 2 || rs_cbor_get_uint(r, &id) < 0 ||
            rs_cbor_get_uint(r, &role) < 0 || id == 0 || id > UINT32_MAX || role > RAFT_SPARE)
            return RSHARE_EPROTO;
        for (size_t k = 0; k < i; k++)
            if (c->servers[k].id == id)
                return RSHARE_EPROTO;
        c->servers[i].id = (uint32_t)id;
        c->servers[i].role = (uint8_t)role;
    }
    return 0;
}

int rs_raft_conf_to(const struct rs_raft_conf *c, struct raft_configuration *out)
{
    raft_configuration_init(out);
    for (unsigned i = 0; i < c->n; i++) {
        char address[16];
        snprintf(address, sizeof(address), "%u", c->servers[i].id);
        if (raft_configuration_add(out, c->servers[i].id, address, c->servers[i].role) != 0) {
            raft_configuration_close(out);
            return RSHARE_ENOMEM;
        }
    }
    return 0;
}

int rs_raft_snapshot_fill(rshare_node *node, struct raft_snapshot *s, raft_index index,
                          raft_term term, const struct rs_raft_conf *conf,
                          raft_index conf_index, const uint8_t *data, size_t len)
{
    (void)node;
    memset(s, 0, sizeof(*s));
    s->index = index;
    s->term = term;
    s->configuration_index = conf_index;
    if (rs_raft_conf_to(conf, &s->configuration) < 0)
        return RSHARE_ENOMEM;
    s->bufs = raft_malloc(sizeof(*s->bufs));
    void *copy = raft_malloc(len ? len : 1);
    if (!s->bufs || !copy) {
        raft_free(s->bufs);
        raft_free(copy);
        raft_configuration_close(&s->configuration);
        return RSHARE_ENOMEM;
    }
    memcpy(copy, data, len);
    s->bufs[0].base = copy;
    s->bufs[0].len = len;
    s->n_bufs = 1;
    return 0;
}

/* --- messages ------------------------------------------------------------- */

static size_t encoded_bound(const struct raft_message *m)
{
    size_t n = 128;
    if (m->type == RAFT_IO_APPEND_ENTRIES)
        for (unsigned i = 0; i < m->append_entries.n_entries; i++)
            n += 32 + m->append_entries.entries[i].buf.len;
    if (m->type == RAFT_IO_INSTALL_SNAPSHOT)
        n += 16 + m->install_snapshot.conf.n * 12 + m->install_snapshot.data.len;
    return n;
}

int rs_raft_message_encode(rshare_node *node, const struct raft_message *m, uint8_t **out,
                           size_t *len)
{
    size_t cap = encoded_bound(m);
    uint8_t *buf = rs_malloc(node, cap);
    if (!buf)
        return RSHARE_ENOMEM;
    struct rs_cbor_writer w;
    rs_cbor_writer_init(&w, buf, cap);
    switch (m->type) {
    case RAFT_IO_REQUEST_VOTE: {
        const struct raft_request_vote *v = &m->request_vote;
        rs_cbor_put_array(&w, 7);
        rs_cbor_put_uint(&w, m->type);
        rs_cbor_put_uint(&w, v->term);
        rs_cbor_put_uint(&w, v->candidate_id);
        rs_cbor_put_uint(&w, v->last_log_index);
        rs_cbor_put_uint(&w, v->last_log_term);
        rs_cbor_put_bool(&w, v->disrupt_leader);
        rs_cbor_put_bool(&w, v->pre_vote);
        break;
    }
    case RAFT_IO_REQUEST_VOTE_RESULT: {
        const struct raft_request_vote_result *v = &m->request_vote_result;
        rs_cbor_put_array(&w, 4);
        rs_cbor_put_uint(&w, m->type);
        rs_cbor_put_uint(&w, v->term);
        rs_cbor_put_bool(&w, v->vote_granted);
        rs_cbor_put_uint(&w, (uint64_t)v->pre_vote);
        break;
    }
    case RAFT_IO_APPEND_ENTRIES: {
        const struct raft_append_entries *a = &m->append_entries;
        rs_cbor_put_array(&w, 6);
        rs_cbor_put_uint(&w, m->type);
        rs_cbor_put_uint(&w, a->term);
        rs_cbor_put_uint(&w, a->prev_log_index);
        rs_cbor_put_uint(&w, a->prev_log_term);
        rs_cbor_put_uint(&w, a->leader_commit);
        rs_cbor_put_array(&w, a->n_entries);
        for (unsigned i = 0; i < a->n_entries; i++) {
            rs_cbor_put_array(&w, 3);
            rs_cbor_put_uint(&w, a->entries[i].term);
            rs_cbor_put_uint(&w, a->entries[i].type);
            rs_cbor_put_bytes(&w, a->entries[i].buf.base, a->entries[i].buf.len);
            if (!w.overflow)
                rs_raft_entry_zero_unwritten(a->entries[i].type,
                                             w.buf + w.len - a->entries[i].buf.len,
                                             a->entries[i].buf.len);
        }
        break;
    }
    case RAFT_IO_APPEND_ENTRIES_RESULT: {
        const struct raft_append_entries_result *a = &m->append_entries_result;
        rs_cbor_put_array(&w, 4);
        rs_cbor_put_uint(&w, m->type);
        rs_cbor_put_uint(&w, a->term);
        rs_cbor_put_uint(&w, a->rejected);
        rs_cbor_put_uint(&w, a->last_log_index);
        break;
    }
    case RAFT_IO_INSTALL_SNAPSHOT: {
        const struct raft_install_snapshot *s = &m->install_snapshot;
        struct rs_raft_conf conf;
        if (rs_raft_conf_from(&conf, &s->conf) < 0) {
            rs_free(node, buf);
            return RSHARE_EINVAL;
        }
        rs_cbor_put_array(&w, 7);
        rs_cbor_put_uint(&w, m->type);
        rs_cbor_put_uint(&w, s->term);
        rs_cbor_put_uint(&w, s->last_index);
        rs_cbor_put_uint(&w, s->last_term);
        rs_raft_conf_encode(&w, &conf);
        rs_cbor_put_uint(&w, s->conf_index);
        rs_cbor_put_bytes(&w, s->data.base, s->data.len);
        break;
    }
    case RAFT_IO_TIMEOUT_NOW: {
        const struct raft_timeout_now *t = &m->timeout_now;
        rs_cbor_put_array(&w, 4);
        rs_cbor_put_uint(&w, m->type);
        rs_cbor_put_uint(&w, t->term);
        rs_cbor_put_uint(&w, t->last_log_index);
        rs_cbor_put_uint(&w, t->last_log_term);
        break;
    }
    default:
        rs_free(node, buf);
        return RSHARE_EINVAL;
    }
    if (w.overflow) {
        rs_free(node, buf);
        return RSHARE_EINVAL;
    }
    *out = buf;
    *len = w.len;
    return 0;
}

static int get_bool(struct rs_cbor_reader *r, bool *v)
{
    return rs_cbor_get_bool(r, v);
}

static int decode_entries(struct rs_cbor_reader *r, struct raft_append_entries *a, size_t limit)
{
    size_t n;
    if (rs_cbor_get_array(r, &n) < 0 || n > limit)
        return RSHARE_EPROTO;
    a->n_entries = (unsigned)n;
    a->entries = NULL;
    if (n == 0)
        return 0;
    /* First pass: sizes, so that all data goes into one batch as libraft
     * expects of received entries. */
    struct rs_cbor_reader scan = *r;
    size_t total = 0, pair;
    uint64_t term, type;
    const uint8_t *data;
    size_t len;
    for (size_t i = 0; i < n; i++) {
        if (rs_cbor_get_array(&scan, &pair) < 0 || pair != 3 || rs_cbor_get_uint(&scan, &term) < 0 ||
            rs_cbor_get_uint(&scan, &type) < 0 || type < RAFT_COMMAND || type > RAFT_CHANGE ||
            rs_cbor_get_bytes(&scan, &data, &len) < 0)
            return RSHARE_EPROTO;
        total += len;
    }
    struct raft_entry *entries = raft_calloc(n, sizeof(*entries));
    uint8_t *batch = raft_malloc(total ? total : 1);
    if (!entries || !batch) {
        raft_free(entries);
        raft_free(batch);
        return RSHARE_ENOMEM;
    }
    uint8_t *cursor = batch;
    for (size_t i = 0; i < n; i++) {
        rs_cbor_get_array(r, &pair);
        rs_cbor_get_uint(r, &term);
        rs_cbor_get_uint(r, &type);
        rs_cbor_get_bytes(r, &data, &len);
        memcpy(cursor, data, len);
        entries[i] = (struct raft_entry){.term = term, .type = (unsigned short)type,
                                         .buf = {cursor, len}, .batch = batch};
        cursor += len;
    }
    a->entries = entries;
    return 0;
}

int rs_raft_message_decode(rshare_node *node, const uint8_t *buf, size_t len,
                           struct raft_message *m)
{
    (void)node;
    struct rs_cbor_reader r;
    rs_cbor_reader_init(&r, buf, len);
    size_t n;
    uint64_t type, a, b, c, d;
    memset(m, 0, sizeof(*m));
    if (rs_cbor_get_array(&r, &n) < 0 || rs_cbor_get_uint(&r, &type) < 0)
        return RSHARE_EPROTO;
    m->type = (unsigned short)type;
    int rc = RSHARE_EPROTO;
    switch (type) {
    case RAFT_IO_REQUEST_VOTE: {
        struct raft_request_vote *v = &m->request_vote;
        if (n == 7 && rs_cbor_get_uint(&r, &a) == 0 && rs_cbor_get_uint(&r, &b) == 0 &&
            rs_cbor_get_uint(&r, &c) == 0 && rs_cbor_get_uint(&r, &d) == 0 &&
            get_bool(&r, &v->disrupt_leader) == 0 && get_bool(&r, &v->pre_vote) == 0) {
            v->term = a;
            v->candidate_id = b;
            v->last_log_index = c;
            v->last_log_term = d;
            rc = 0;
        }
        break;
    }
    case RAFT_IO_REQUEST_VOTE_RESULT: {
        struct raft_request_vote_result *v = &m->request_vote_result;
        if (n == 4 && rs_cbor_get_uint(&r, &a) == 0 && get_bool(&r, &v->vote_granted) == 0 &&
            rs_cbor_get_uint(&r, &b) == 0 && b <= raft_tribool_false) {
            v->term = a;
            v->pre_vote = (raft_tribool)b;
            rc = 0;
        }
        break;
    }
    case RAFT_IO_APPEND_ENTRIES: {
        struct raft_append_entries *e = &m->append_entries;
        if (n == 6 && rs_cbor_get_uint(&r, &a) == 0 && rs_cbor_get_uint(&r, &b) == 0 &&
            rs_cbor_get_uint(&r, &c) == 0 && rs_cbor_get_uint(&r, &d) == 0) {
            e->term = a;
            e->prev_log_index = b;
            e->prev_log_term = c;
            e->leader_commit = d;
            rc = decode_entries(&r, e, len);
        }
        break;
    }
    case RAFT_IO_APPEND_ENTRIES_RESULT: {
        struct raft_append_entries_result *e = &m->append_entries_result;
        if (n == 4 && rs_cbor_get_uint(&r, &a) == 0 && rs_cbor_get_uint(&r, &b) == 0 &&
            rs_cbor_get_uint(&r, &c) == 0) {
            e->term = a;
            e->rejected = b;
            e->last_log_index = c;
            rc = 0;
        }
        break;
    }
    case RAFT_IO_INSTALL_SNAPSHOT: {
        struct raft_install_snapshot *s = &m->install_snapshot;
        struct rs_raft_conf conf;
        const uint8_t *data;
        size_t dlen;
        if (n == 7 && rs_cbor_get_uint(&r, &a) == 0 && rs_cbor_get_uint(&r, &b) == 0 &&
            rs_cbor_get_uint(&r, &c) == 0 && rs_raft_conf_decode(&r, &conf) == 0 &&
            rs_cbor_get_uint(&r, &d) == 0 && rs_cbor_get_bytes(&r, &data, &dlen) == 0) {
            s->term = a;
            s->last_index = b;
            s->last_term = c;
            s->conf_index = d;
            s->data.base = raft_malloc(dlen ? dlen : 1);
            if (!s->data.base || rs_raft_conf_to(&conf, &s->conf) < 0) {
                raft_free(s->data.base);
                return RSHARE_ENOMEM;
            }
            memcpy(s->data.base, data, dlen);
            s->data.len = dlen;
            rc = 0;
        }
        break;
    }
    case RAFT_IO_TIMEOUT_NOW: {
        struct raft_timeout_now *t = &m->timeout_now;
        if (n == 4 && rs_cbor_get_uint(&r, &a) == 0 && rs_cbor_get_uint(&r, &b) == 0 &&
            rs_cbor_get_uint(&r, &c) == 0) {
            t->term = a;
            t->last_log_index = b;
            t->last_log_term = c;
            rc = 0;
        }
        break;
    }
    default:
        break;
    }
    if (rc == 0 && !rs_cbor_at_end(&r)) {
        rs_raft_message_release(m);
        rc = RSHARE_EPROTO;
    }
    return rc;
}

void rs_raft_message_release(struct raft_message *m)
{
    if (m->type == RAFT_IO_APPEND_ENTRIES && m->append_entries.entries) {
        raft_free(m->append_entries.entries[0].batch);
        raft_free(m->append_entries.entries);
        m->append_entries.entries = NULL;
    } else if (m->type == RAFT_IO_INSTALL_SNAPSHOT) {
        raft_configuration_close(&m->install_snapshot.conf);
        raft_free(m->install_snapshot.data.base);
        m->install_snapshot.data.base = NULL;
    }
}
