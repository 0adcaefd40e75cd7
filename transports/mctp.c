/* rshare transports — the MCTP core shared by the serial and SMBus bindings:
 * one rshare packet becomes one vendor-defined MCTP message (type 0x7F, IANA
 * number, then the packet) cut into packets of the binding's size; received
 * packets are reassembled per (source, tag) with size, count and time
 * limits; messages of other types go to the application.  The binding only
 * frames packets and moves them over its wire. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "core/endian.h"
#include "mctp.h"

/* The default MTU: at least this many bytes, rounded up so that a full
 * rshare packet and its 5-byte prefix fill whole MCTP packets (no short
 * last packet paying a whole frame's overhead). */
#define DEFAULT_MESSAGE_MIN 1200u
#define DEFAULT_MAX_ASSEMBLIES 8u
#define MAX_ASSEMBLIES 64u
#define DEFAULT_REASSEMBLY_TIMEOUT_MS 1000u
#define MAX_REASSEMBLY_TIMEOUT_MS 3600000u
#define DEFAULT_MAX_OTHER 4096u
#define DEFAULT_TX_QUEUE_BYTES (256u * 1024u)
#define ASSEMBLY_MIN_CAP 256u

/* The first published layout of struct rshare_mctp_config. */
#define CONFIG_MIN_SIZE (offsetof(struct rshare_mctp_config, tx_queue_bytes) + sizeof(uint32_t))
#define MESSAGE_MIN_SIZE (offsetof(struct rshare_mctp_message, len) + sizeof(size_t))

static int resolve_config(struct rs_mctp *m, const struct rshare_mctp_config *given);
static void timer_fire(rshare_node *node, struct rs_timer *timer);
static void arm_timer(struct rs_mctp *m);
static struct rs_mctp_assembly *assembly_find(struct rs_mctp *m, uint8_t src, uint8_t phys,
                                              uint8_t key);
static struct rs_mctp_assembly *assembly_claim(struct rs_mctp *m);
static void assembly_drop(struct rs_mctp_assembly *a);
static int assembly_append(struct rs_mctp *m, struct rs_mctp_assembly *a, const uint8_t *data,
                           size_t len);
static void deliver(struct rs_mctp *m, uint8_t src, uint8_t dst, uint8_t phys, uint8_t key,
                    const uint8_t *msg, size_t len);
static void learn(struct rs_mctp *m, uint8_t eid, uint8_t phys);
static void dequeue(struct rs_mctp *m, struct rs_mctp_out *o);
static int pick_free_tag(const struct rs_mctp *m, uint8_t dst_eid);
static int parse_eid(const char *text, size_t len, uint8_t *eid);
static uint32_t assembly_limit(const struct rs_mctp *m);

/* --- public entry points -------------------------------------------------- */

RSHARE_API void rshare_mctp_config_init(struct rshare_mctp_config *config, size_t struct_size)
{
    if (!config || struct_size < sizeof(uint32_t))
        return;
    memset(config, 0, struct_size);
    config->struct_size = struct_size > UINT32_MAX ? UINT32_MAX : (uint32_t)struct_size;
    /* Every field zero = default, resolved when the transport is added;
     * `eid` has no default and must be set. */
}

RSHARE_API int rshare_mctp_set_handler(rshare_node *node, int transport_index,
                                       rshare_mctp_message_fn handler, void *user_data)
{
    if (!node)
        return RSHARE_EINVAL;
    struct rs_mctp *m = rs_mctp_of(node, transport_index);
    if (!m)
        return rs_errorf(node, RSHARE_EINVAL, "transport %d is not an MCTP transport",
                         transport_index);
    m->handler = handler;
    m->handler_data = handler ? user_data : NULL;
    return 0;
}

RSHARE_API int rshare_mctp_send(rshare_node *node, int transport_index,
                                const struct rshare_mctp_message *message)
{
    if (!node)
        return RSHARE_EINVAL;
    struct rs_mctp *m = rs_mctp_of(node, transport_index);
    if (!m)
        return rs_errorf(node, RSHARE_EINVAL, "transport %d is not an MCTP transport",
                         transport_index);
    if (!message || message->struct_size < MESSAGE_MIN_SIZE)
        return rs_errorf(node, message ? RSHARE_EVERSION : RSHARE_EINVAL,
                         "MCTP message struct missing or too small");
    const uint8_t *data = message->data;
    if (!data || message->len == 0)
        return rs_errorf(node, RSHARE_EINVAL, "MCTP message without a type byte");
    if (message->len > m->max_other)
        return rs_errorf(node, RSHARE_EMSGSIZE, "MCTP message of %zu bytes above %u",
                         message->len, m->max_other);
    if (message->len >= RS_MCTP_VENDOR_PREFIX_LEN && data[0] == RSHARE_MCTP_TYPE_VENDOR_IANA &&
        rs_get32(data + 1) == m->iana)
        return rs_errorf(node, RSHARE_EINVAL,
                         "rshare's own vendor messages are sent by the node, not by the application");
    if (message->tag_owner > 1 ||
        (message->tag > RS_MCTP_TAG_MASK && message->tag != RSHARE_MCTP_TAG_AUTO) ||
        (message->tag == RSHARE_MCTP_TAG_AUTO && !message->tag_owner))
        return rs_errorf(node, RSHARE_EINVAL, "MCTP tag %u / tag owner %u invalid", message->tag,
                         message->tag_owner);

    uint8_t dst = message->dst_eid;
    bool urgent = (message->flags & RSHARE_SEND_URGENT) != 0;
    int tag = message->tag;
    if (tag == RSHARE_MCTP_TAG_AUTO && (tag = pick_free_tag(m, dst)) < 0)
        return rs_errorf(node, RSHARE_EBUSY, "all 8 MCTP tags to EID %u are in use", dst);

    if (dst == RSHARE_MCTP_EID_BROADCAST && m->binding->phys_broadcast < 0) {
        int copies = 0;
        for (unsigned eid = 0; eid < 256; eid++) {
            if (m->neighbour_state[eid] == RS_MCTP_NEIGHBOUR_NONE)
                continue;
            int rc = rs_mctp_queue(m, dst, m->neighbour_phys[eid], message->tag_owner,
                                   (uint8_t)tag, NULL, 0, data, message->len, urgent);
            if (rc < 0)
                return rs_errorf(node, rc, "MCTP broadcast: queue full after %d copies", copies);
            copies++;
        }
        if (!copies)
            return rs_errorf(node, RSHARE_EUNREACH,
                             "MCTP broadcast on %s: no endpoint in the neighbour table",
                             m->binding->name);
        return tag;
    }
    uint8_t phys = 0;
    if (dst == RSHARE_MCTP_EID_BROADCAST)
        phys = (uint8_t)m->binding->phys_broadcast;
    else if (m->binding->has_phys) {
        if (m->neighbour_state[dst] == RS_MCTP_NEIGHBOUR_NONE)
            return rs_errorf(node, RSHARE_EUNREACH, "no %s address known for EID %u",
                             m->binding->name, dst);
        phys = m->neighbour_phys[dst];
    }
    int rc = rs_mctp_queue(m, dst, phys, message->tag_owner, (uint8_t)tag, NULL, 0, data,
                           message->len, urgent);
    if (rc < 0)
        return rc == RSHARE_EAGAIN ? rc : rs_errorf(node, rc, "cannot queue an MCTP message");
    return tag;
}

RSHARE_API int rshare_mctp_set_neighbour(rshare_node *node, int transport_index, uint8_t eid,
                                         const char *address)
{
    if (!node)
        return RSHARE_EINVAL;
    struct rs_mctp *m = rs_mctp_of(node, transport_index);
    if (!m)
        return rs_errorf(node, RSHARE_EINVAL, "transport %d is not an MCTP transport",
                         transport_index);
    if (eid < RSHARE_MCTP_EID_FIRST || eid > RSHARE_MCTP_EID_LAST)
        return rs_errorf(node, RSHARE_EINVAL, "neighbour EID %u outside %u..%u", eid,
                         RSHARE_MCTP_EID_FIRST, RSHARE_MCTP_EID_LAST);
    uint8_t phys = 0;
    if (m->binding->has_phys) {
        if (!address || m->binding->phys_parse(m, address, &phys) < 0)
            return rs_errorf(node, RSHARE_EINVAL, "bad %s address '%.32s' for EID %u",
                             m->binding->name, address ? address : "(null)", eid);
    } else if (address && address[0]) {
        return rs_errorf(node, RSHARE_EINVAL,
                         "a point-to-point %s line has no physical addresses ('%.32s')",
                         m->binding->name, address);
    }
    m->neighbour_phys[eid] = phys;
    m->neighbour_state[eid] = RS_MCTP_NEIGHBOUR_STATIC;
    return 0;
}

RSHARE_API int rshare_mctp_eid(rshare_node *node, int transport_index)
{
    if (!node)
        return RSHARE_EINVAL;
    struct rs_mctp *m = rs_mctp_of(node, transport_index);
    return m ? m->eid : RSHARE_EINVAL;
}

RSHARE_API int rshare_mctp_stats(rshare_node *node, int transport_index,
                                 struct rshare_mctp_stats *stats, size_t struct_size)
{
    if (!node || !stats || struct_size < 2 * sizeof(uint32_t))
        return RSHARE_EINVAL;
    struct rs_mctp *m = rs_mctp_of(node, transport_index);
    if (!m)
        return RSHARE_EINVAL;
    struct rshare_mctp_stats copy = m->stats;
    size_t n = struct_size < sizeof(copy) ? struct_size : sizeof(copy);
    copy.struct_size = (uint32_t)n;
    memcpy(stats, &copy, n);
    return 0;
}

/* --- set-up ------------------------------------------------------------------ */

int rs_mctp_init(struct rs_mctp *m, rshare_node *node, const struct rs_mctp_binding *binding,
                 const struct rshare_mctp_config *config, size_t packet_payload)
{
    memset(m, 0, sizeof(*m));
    m->node = node;
    m->transport_index = -1;
    m->binding = binding;
    m->packet_payload = packet_payload;
    m->stats.struct_size = sizeof(m->stats);
    for (int c = 0; c < 2; c++)
        m->queue_tail[c] = &m->queue[c];
    rs_timer_init(&m->timer, timer_fire);
    int rc = resolve_config(m, config);
    if (rc < 0)
        return rc;
    m->assemblies = rs_calloc(node, m->max_assemblies, sizeof(*m->assemblies));
    m->scratch = rs_malloc(node, RS_MCTP_HDR_LEN + packet_payload);
    if (!m->assemblies || !m->scratch)
        return rs_errorf(node, RSHARE_ENOMEM, "no memory for the MCTP endpoint");
    return 0;
}

void rs_mctp_fini(struct rs_mctp *m)
{
    if (!m->node)
        return;
    rs_timer_cancel(m->node, &m->timer);
    for (int c = 0; c < 2; c++) {
        while (m->queue[c]) {
            struct rs_mctp_out *o = m->queue[c];
            m->queue[c] = o->next;
            rs_free(m->node, o);
        }
    }
    if (m->assemblies)
        for (uint32_t i = 0; i < m->max_assemblies; i++)
            rs_free(m->node, m->assemblies[i].buf);
    rs_free(m->node, m->assemblies);
    rs_free(m->node, m->scratch);
    m->assemblies = NULL;
    m->scratch = NULL;
    m->node = NULL;
}

static int resolve_config(struct rs_mctp *m, const struct rshare_mctp_config *given)
{
    rshare_node *node = m->node;
    if (!given)
        return rs_errorf(node, RSHARE_EINVAL,
                         "%s transport needs an MCTP config with this node's EID",
                         m->binding->name);
    if (given->struct_size < CONFIG_MIN_SIZE)
        return rs_errorf(node, RSHARE_EVERSION, "MCTP config struct_size %u too small",
                         given->struct_size);
    struct rshare_mctp_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    memcpy(&cfg, given, given->struct_size < sizeof(cfg) ? given->struct_size : sizeof(cfg));

    if (cfg.eid < RSHARE_MCTP_EID_FIRST || cfg.eid > RSHARE_MCTP_EID_LAST)
        return rs_errorf(node, RSHARE_EINVAL, "MCTP EID %u outside %u..%u", cfg.eid,
                         RSHARE_MCTP_EID_FIRST, RSHARE_MCTP_EID_LAST);
    m->eid = cfg.eid;
    m->allow_set_eid = cfg.allow_set_eid != 0;
    m->iana = cfg.iana ? cfg.iana : RSHARE_MCTP_IANA_DEFAULT;

    if (cfg.message_size == 0) {
        size_t k = (DEFAULT_MESSAGE_MIN + RS_MCTP_VENDOR_PREFIX_LEN + m->packet_payload - 1) /
                   m->packet_payload;
        cfg.message_size = (uint32_t)(k * m->packet_payload - RS_MCTP_VENDOR_PREFIX_LEN);
    }
    if (cfg.message_size < RSHARE_TRANSPORT_MTU_MIN || cfg.message_size > RSHARE_TRANSPORT_MTU_MAX)
        return rs_errorf(node, RSHARE_EINVAL, "MCTP message_size %u outside %u..%u",
                         cfg.message_size, RSHARE_TRANSPORT_MTU_MIN, RSHARE_TRANSPORT_MTU_MAX);
    m->message_size = cfg.message_size;

    m->max_assemblies = cfg.max_assemblies ? cfg.max_assemblies : DEFAULT_MAX_ASSEMBLIES;
    if (m->max_assemblies > MAX_ASSEMBLIES)
        return rs_errorf(node, RSHARE_EINVAL, "MCTP max_assemblies %u above %u",
                         m->max_assemblies, MAX_ASSEMBLIES);
    uint32_t timeout_ms = cfg.reassembly_timeout_ms ? cfg.reassembly_timeout_ms
                                                    : DEFAULT_REASSEMBLY_TIMEOUT_MS;
    if (timeout_ms > MAX_REASSEMBLY_TIMEOUT_MS)
        return rs_errorf(node, RSHARE_EINVAL, "MCTP reassembly_timeout_ms %u above %u",
                         timeout_ms, MAX_REASSEMBLY_TIMEOUT_MS);
    m->reassembly_timeout_us = (uint64_t)timeout_ms * 1000u;
    m->max_other = cfg.max_other_message ? cfg.max_other_message : DEFAULT_MAX_OTHER;
    if (m->max_other > RS_MCTP_MESSAGE_MAX)
        return rs_errorf(node, RSHARE_EINVAL, "MCTP max_other_message %u above %u",
                         m->max_other, RS_MCTP_MESSAGE_MAX);
    m->tx_queue_bytes = cfg.tx_queue_bytes ? cfg.tx_queue_bytes : DEFAULT_TX_QUEUE_BYTES;
    if (m->tx_queue_bytes < m->message_size + RS_MCTP_VENDOR_PREFIX_LEN)
        return rs_errorf(node, RSHARE_EINVAL,
                         "MCTP tx_queue_bytes %u cannot hold one message of %u bytes",
                         m->tx_queue_bytes, m->message_size + RS_MCTP_VENDOR_PREFIX_LEN);
    return 0;
}

/* --- transport operations ------------------------------------------------------ */

int rs_mctp_control(void *impl, int op, void *arg)
{
    (void)impl;
    (void)op;
    (void)arg;
    return RSHARE_ENOTSUP;
}

struct rs_mctp *rs_mctp_of(rshare_node *node, int transport_index)
{
    struct rs_transport *t = rs_transport_get(node, transport_index);
    /* The shared control entry marks MCTP transports: names can lie. */
    if (!t || t->ops.control != rs_mctp_control)
        return NULL;
    return t->impl;
}

size_t rs_mctp_mtu(const struct rs_mctp *m)
{
    return m->message_size;
}

static int decode_link(const struct rs_mctp *m, const struct rshare_link_addr *addr, uint8_t *eid,
                       uint8_t *phys)
{
    if (!addr || addr->len != RS_MCTP_LINK_ADDR_LEN)
        return RSHARE_EINVAL;
    *eid = addr->bytes[0];
    *phys = m->binding->has_phys ? addr->bytes[1] : 0;
    return 0;
}

int rs_mctp_send_packet(struct rs_mctp *m, const struct rshare_link_addr *dst, const void *packet,
                        size_t len, unsigned flags)
{
    uint8_t eid, phys;
    if (decode_link(m, dst, &eid, &phys) < 0)
        return rs_errorf(m->node, RSHARE_EINVAL, "not an MCTP link address");
    if (len == 0 || len > m->message_size)
        return rs_errorf(m->node, RSHARE_EMSGSIZE, "packet of %zu bytes for an MCTP MTU of %u",
                         len, m->message_size);
    uint8_t prefix[RS_MCTP_VENDOR_PREFIX_LEN] = {RSHARE_MCTP_TYPE_VENDOR_IANA};
    rs_put32(prefix + 1, m->iana);
    bool urgent = (flags & RSHARE_SEND_URGENT) != 0;
    if (eid == RSHARE_MCTP_EID_BROADCAST && m->binding->phys_broadcast < 0) {
        int copies = 0;
        for (unsigned e = 0; e < 256; e++) {
            if (m->neighbour_state[e] == RS_MCTP_NEIGHBOUR_NONE)
                continue;
            int rc = rs_mctp_queue(m, eid, m->neighbour_phys[e], 1, RSHARE_MCTP_TAG_AUTO, prefix,
                                   sizeof(prefix), packet, len, urgent);
            if (rc < 0)
                return rc;
            copies++;
        }
        return copies ? 0
                      : rs_errorf(m->node, RSHARE_EUNREACH,
                                  "%s broadcast: no endpoint in the neighbour table",
                                  m->binding->name);
    }
    if (eid == RSHARE_MCTP_EID_BROADCAST)
        phys = (uint8_t)m->binding->phys_broadcast;
    return rs_mctp_queue(m, eid, phys, 1, RSHARE_MCTP_TAG_AUTO, prefix, sizeof(prefix), packet,
                         len, urgent);
}

int rs_mctp_addr_format(const struct rs_mctp *m, const struct rshare_link_addr *addr, char *buf,
                        size_t buf_len)
{
    uint8_t eid, phys;
    if (!buf || buf_len == 0)
        return RSHARE_EINVAL;
    buf[0] = '\0';
    if (decode_link(m, addr, &eid, &phys) < 0)
        return RSHARE_EINVAL;
    int n;
    if (eid == RSHARE_MCTP_EID_BROADCAST &&
        (!m->binding->has_phys || m->binding->phys_broadcast < 0 ||
         phys == (uint8_t)m->binding->phys_broadcast)) {
        n = snprintf(buf, buf_len, "*");
    } else if (m->binding->has_phys) {
        char text[16];
        if (m->binding->phys_format(m, phys, text, sizeof(text)) < 0)
            return RSHARE_EINVAL;
        n = snprintf(buf, buf_len, "%u@%s", eid, text);
    } else {
        n = snprintf(buf, buf_len, "%u", eid);
    }
    if (n < 0 || (size_t)n >= buf_len) {
        buf[0] = '\0';
        return RSHARE_EINVAL;
    }
    return n;
}

/* "EID@PHYS", "EID" (point-to-point, or an endpoint of the neighbour table)
 * or "*" (broadcast). */
int rs_mctp_addr_parse(const struct rs_mctp *m, const char *text, struct rshare_link_addr *addr)
{
    if (!text || !addr)
        return RSHARE_EINVAL;
    memset(addr, 0, sizeof(*addr));
    if (strcmp(text, "*") == 0)
        return rs_mctp_broadcast_addr(m, addr);
    const char *at = strchr(text, '@');
    uint8_t eid, phys = 0;
    if (parse_eid(text, at ? (size_t)(at - text) : strlen(text), &eid) < 0)
        return rs_errorf(m->node, RSHARE_EINVAL, "bad MCTP EID in '%.32s' (0..255)", text);
    if (at) {
        if (!m->binding->has_phys)
            return rs_errorf(m->node, RSHARE_EINVAL,
                             "'%.32s': a point-to-point %s line has no physical addresses", text,
                             m->binding->name);
        if (m->binding->phys_parse(m, at + 1, &phys) < 0)
            return rs_errorf(m->node, RSHARE_EINVAL, "bad %s address in '%.32s'",
                             m->binding->name, text);
    } else if (m->binding->has_phys && eid != RSHARE_MCTP_EID_BROADCAST) {
        if (m->neighbour_state[eid] == RS_MCTP_NEIGHBOUR_NONE)
            return rs_errorf(m->node, RSHARE_EINVAL,
                             "EID %u has no known %s address: write EID@ADDRESS or call "
                             "rshare_mctp_set_neighbour",
                             eid, m->binding->name);
        phys = m->neighbour_phys[eid];
    } else if (eid == RSHARE_MCTP_EID_BROADCAST) {
        return rs_mctp_broadcast_addr(m, addr);
    }
    rs_mctp_link_addr(addr, eid, phys);
    return 0;
}

int rs_mctp_broadcast_addr(const struct rs_mctp *m, struct rshare_link_addr *addr)
{
    if (!addr)
        return RSHARE_EINVAL;
    int phys = m->binding->phys_broadcast;
    rs_mctp_link_addr(addr, RSHARE_MCTP_EID_BROADCAST, phys < 0 ? 0 : (uint8_t)phys);
    return 0;
}

/* --- transmit ------------------------------------------------------------------ */

int rs_mctp_queue(struct rs_mctp *m, uint8_t dst_eid, uint8_t phys, uint8_t tag_owner,
                  uint8_t tag, const uint8_t *prefix, size_t prefix_len, const void *data,
                  size_t len, bool urgent)
{
    size_t total = prefix_len + len;
    if (total == 0 || total > RS_MCTP_MESSAGE_MAX)
        return RSHARE_EMSGSIZE;
    if (m->queued_bytes + total > m->tx_queue_bytes) {
        m->stats.tx_queue_full++;
        return RSHARE_EAGAIN;
    }
    struct rs_mctp_out *o = rs_malloc(m->node, sizeof(*o) + total);
    if (!o)
        return RSHARE_ENOMEM;
    memset(o, 0, sizeof(*o));
    o->len = (uint32_t)total;
    o->packets = (uint16_t)((total + m->packet_payload - 1) / m->packet_payload);
    o->dst_eid = dst_eid;
    o->phys = phys;
    o->tag_owner = tag_owner ? 1 : 0;
    o->auto_tag = tag == RSHARE_MCTP_TAG_AUTO;
    o->tag = o->auto_tag ? 0 : (uint8_t)(tag & RS_MCTP_TAG_MASK);
    o->urgent = urgent;
    if (prefix_len)
        memcpy(o->data, prefix, prefix_len);
    memcpy(o->data + prefix_len, data, len);
    int c = urgent ? 0 : 1;
    *m->queue_tail[c] = o;
    m->queue_tail[c] = &o->next;
    m->queued_bytes += total;
    m->binding->kick(m);
    return 0;
}

/* Two messages to the same endpoint with the same tag owner and tag would
 * be reassembled as one if their packets interleaved. */
static bool same_key(const struct rs_mctp_out *a, const struct rs_mctp_out *b)
{
    return a->dst_eid == b->dst_eid && a->phys == b->phys && a->tag_owner == b->tag_owner &&
           a->tag == b->tag;
}

static void start(struct rs_mctp *m, struct rs_mctp_out *o, const struct rs_mctp_out *other)
{
    o->started = true;
    if (!o->auto_tag)
        return;
    o->tag = m->next_tag++ & RS_MCTP_TAG_MASK;
    if (other && other->started && same_key(o, other))
        o->tag = m->next_tag++ & RS_MCTP_TAG_MASK;
}

/* Urgent messages go first, between the packets of a bulk message if need
 * be (their tags differ, so the receiver keeps them apart), except when an
 * application chose the very tag of the bulk message in progress. */
struct rs_mctp_out *rs_mctp_tx_head(struct rs_mctp *m)
{
    struct rs_mctp_out *u = m->queue[0], *b = m->queue[1], *pick;
    if (!u)
        pick = b;
    else if (!b || !b->started || u->auto_tag || u->started || !same_key(u, b))
        pick = u;
    else
        pick = b;
    if (pick && !pick->started)
        start(m, pick, pick == u ? b : u);
    return pick;
}

size_t rs_mctp_tx_build(const struct rs_mctp *m, const struct rs_mctp_out *o, unsigned index,
                        uint8_t *buf)
{
    size_t off = (size_t)index * m->packet_payload;
    size_t n = o->len - off < m->packet_payload ? o->len - off : m->packet_payload;
    buf[0] = RS_MCTP_HDR_VERSION;
    buf[1] = o->dst_eid;
    buf[2] = m->eid;
    buf[3] = (uint8_t)((index == 0 ? RS_MCTP_SOM : 0) |
                       (index + 1u == o->packets ? RS_MCTP_EOM : 0) |
                       ((index & RS_MCTP_SEQ_MASK) << RS_MCTP_SEQ_SHIFT) |
                       (o->tag_owner ? RS_MCTP_TO : 0) | (o->tag & RS_MCTP_TAG_MASK));
    memcpy(buf + RS_MCTP_HDR_LEN, o->data + off, n);
    return RS_MCTP_HDR_LEN + n;
}

void rs_mctp_tx_confirm(struct rs_mctp *m, struct rs_mctp_out *o, unsigned packets)
{
    o->sent = (uint16_t)(o->sent + packets > o->packets ? o->packets : o->sent + packets);
    if (o->sent < o->packets)
        return;
    m->stats.tx_messages++;
    dequeue(m, o);
    rs_free(m->node, o);
}

void rs_mctp_tx_rewind(struct rs_mctp *m, struct rs_mctp_out *o)
{
    (void)m;
    o->sent = 0;
    if (o->restarts < UINT8_MAX)
        o->restarts++;
}

/* The caller already told the node nothing: the transport accepted the
 * packet long ago.  So the loss is counted twice over (the transport's
 * tx_failed and the node's tx_errors) and logged; rshare's link layer
 * retransmits what it needs. */
void rs_mctp_tx_fail(struct rs_mctp *m, struct rs_mctp_out *o, const char *why)
{
    uint64_t failed = ++m->stats.tx_failed;
    RS_STAT_INC(m->node, tx_errors);
    /* At the 1st, 2nd, 4th, 8th ... failure: a dead peer must not flood
     * the log, and the count says how bad it is. */
    if ((failed & (failed - 1)) == 0)
        rs_log_warn(m->node, "%s: MCTP message of %u bytes to EID %u dropped: %s (%llu so far)",
                    m->binding->name, o->len, o->dst_eid, why, (unsigned long long)failed);
    dequeue(m, o);
    rs_free(m->node, o);
}

bool rs_mctp_tx_pending(const struct rs_mctp *m)
{
    return m->queue[0] || m->queue[1];
}

static void dequeue(struct rs_mctp *m, struct rs_mctp_out *o)
{
    for (int c = 0; c < 2; c++) {
        if (m->queue[c] != o)
            continue;
        m->queue[c] = o->next;
        if (!m->queue[c])
            m->queue_tail[c] = &m->queue[c];
        m->queued_bytes -= o->len;
        return;
    }
}

/* A tag for an application request: none of those its queued requests to
 * the same endpoint hold, so that replies can be told apart. */
static int pick_free_tag(const struct rs_mctp *m, uint8_t dst_eid)
{
    uint8_t used = 0;
    for (int c = 0; c < 2; c++)
        for (const struct rs_mctp_out *o = m->queue[c]; o; o = o->next)
            if (o->dst_eid == dst_eid && o->tag_owner && (o->started || !o->auto_tag))
                used |= (uint8_t)(1u << o->tag);
    for (unsigned i = 0; i < 8; i++) {
        unsigned tag = (m->next_tag + i) & RS_MCTP_TAG_MASK;
        if (!(used & (1u << tag)))
            return (int)tag;
    }
    return -1;
}

/* --- receive ---------------------------------------------------------------------- */

void rs_mctp_rx(struct rs_mctp *m, uint8_t phys, const uint8_t *p, size_t len)
{
    if (len <= RS_MCTP_HDR_LEN || (p[0] & 0x0F) != RS_MCTP_HDR_VERSION) {
        m->stats.rx_bad_header++;
        return;
    }
    uint8_t dst = p[1], src = p[2], flags = p[3];
    if (dst != m->eid && dst != RSHARE_MCTP_EID_BROADCAST && dst != RSHARE_MCTP_EID_NULL) {
        m->stats.rx_misaddressed++;
        return;
    }
    if (src == RSHARE_MCTP_EID_BROADCAST) {
        m->stats.rx_bad_header++;
        return;
    }
    if (!m->binding->has_phys)
        phys = 0;
    learn(m, src, phys);
    uint8_t key = flags & (RS_MCTP_TO | RS_MCTP_TAG_MASK);
    uint8_t seq = (flags >> RS_MCTP_SEQ_SHIFT) & RS_MCTP_SEQ_MASK;
    const uint8_t *payload = p + RS_MCTP_HDR_LEN;
    size_t n = len - RS_MCTP_HDR_LEN;
    struct rs_mctp_assembly *a = assembly_find(m, src, phys, key);

    if (flags & RS_MCTP_SOM) {
        if (a) {
            m->stats.rx_incomplete++;
            assembly_drop(a);
        }
        if (flags & RS_MCTP_EOM) {
            deliver(m, src, dst, phys, key, payload, n);
            arm_timer(m);
            return;
        }
        if (!(a = assembly_claim(m))) {
            m->stats.rx_assembly_overflows++;
            arm_timer(m);
            return;
        }
        a->active = true;
        a->src_eid = src;
        a->dst_eid = dst;
        a->phys = phys;
        a->tag_key = key;
        a->packet_len = (uint32_t)n;
        a->len = 0;
    } else {
        if (!a) {
            m->stats.rx_orphans++;
            return;
        }
        if (seq != a->next_seq) {
            m->stats.rx_sequence_errors++;
            assembly_drop(a);
            arm_timer(m);
            return;
        }
        /* DSP0236: every packet but the last carries the same payload. */
        if (n > a->packet_len || (!(flags & RS_MCTP_EOM) && n != a->packet_len)) {
            m->stats.rx_bad_header++;
            assembly_drop(a);
            arm_timer(m);
            return;
        }
    }
    if (assembly_append(m, a, payload, n) < 0) {
        m->stats.rx_assembly_overflows++;
        assembly_drop(a);
        arm_timer(m);
        return;
    }
    a->next_seq = (uint8_t)((seq + 1) & RS_MCTP_SEQ_MASK);
    if (flags & RS_MCTP_EOM) {
        /* Inactive before the upcall: nothing below may find it again. */
        a->active = false;
        deliver(m, a->src_eid, a->dst_eid, a->phys, a->tag_key, a->buf, a->len);
    } else {
        a->deadline_us = rs_now_us(m->node) + m->reassembly_timeout_us;
    }
    arm_timer(m);
}

static void deliver(struct rs_mctp *m, uint8_t src, uint8_t dst, uint8_t phys, uint8_t key,
                    const uint8_t *msg, size_t len)
{
    m->stats.rx_messages++;
    if (len >= RS_MCTP_VENDOR_PREFIX_LEN && msg[0] == RSHARE_MCTP_TYPE_VENDOR_IANA &&
        rs_get32(msg + 1) == m->iana) {
        struct rshare_link_addr from;
        rs_mctp_link_addr(&from, src, phys);
        /* The node validates and counts what it rejects. */
        (void)rshare_node_push(m->node, m->transport_index, &from,
                               msg + RS_MCTP_VENDOR_PREFIX_LEN, len - RS_MCTP_VENDOR_PREFIX_LEN);
        return;
    }
    struct rshare_mctp_message view = {
        .struct_size = sizeof(view),
        .src_eid = src,
        .dst_eid = dst,
        .tag_owner = (key & RS_MCTP_TO) ? 1 : 0,
        .tag = key & RS_MCTP_TAG_MASK,
        .flags = 0,
        .data = msg,
        .len = len,
    };
    if (msg[0] == RSHARE_MCTP_TYPE_CONTROL && rs_mctp_control_answer(m, &view, phys)) {
        m->stats.control_answered++;
        return;
    }
    if (m->handler) {
        m->stats.rx_other_messages++;
        m->handler(m->node, m->transport_index, &view, m->handler_data);
        return;
    }
    m->stats.rx_other_dropped++;
    /* Logged at the 1st, 2nd, 4th, 8th ... drop: visible, never a flood. */
    uint64_t d = m->stats.rx_other_dropped;
    if ((d & (d - 1)) == 0)
        rs_log_info(m->node,
                    "%s: MCTP message type 0x%02x from EID %u dropped: no handler set "
                    "(%llu so far)",
                    m->binding->name, msg[0], src, (unsigned long long)d);
}

/* Endpoints that speak to us are remembered so that the application can
 * answer them by EID; a configured entry always wins over what arrives on
 * the bus, which anyone can forge. */
static void learn(struct rs_mctp *m, uint8_t eid, uint8_t phys)
{
    if (eid < RSHARE_MCTP_EID_FIRST || eid > RSHARE_MCTP_EID_LAST ||
        m->neighbour_state[eid] == RS_MCTP_NEIGHBOUR_STATIC)
        return;
    m->neighbour_phys[eid] = phys;
    m->neighbour_state[eid] = RS_MCTP_NEIGHBOUR_LEARNT;
}

static uint32_t assembly_limit(const struct rs_mctp *m)
{
    uint32_t rshare = m->message_size + RS_MCTP_VENDOR_PREFIX_LEN;
    return rshare > m->max_other ? rshare : m->max_other;
}

static struct rs_mctp_assembly *assembly_find(struct rs_mctp *m, uint8_t src, uint8_t phys,
                                              uint8_t key)
{
    for (uint32_t i = 0; i < m->max_assemblies; i++) {
        struct rs_mctp_assembly *a = &m->assemblies[i];
        if (a->active && a->src_eid == src && a->phys == phys && a->tag_key == key)
            return a;
    }
    return NULL;
}

static struct rs_mctp_assembly *assembly_claim(struct rs_mctp *m)
{
    for (uint32_t i = 0; i < m->max_assemblies; i++)
        if (!m->assemblies[i].active)
            return &m->assemblies[i];
    return NULL;
}

/* The buffer stays with the slot for the next message. */
static void assembly_drop(struct rs_mctp_assembly *a)
{
    a->active = false;
    a->len = 0;
}

static int assembly_append(struct rs_mctp *m, struct rs_mctp_assembly *a, const uint8_t *data,
                           size_t len)
{
    uint32_t limit = assembly_limit(m);
    if (len > limit - a->len)
        return RSHARE_EMSGSIZE;
    size_t need = a->len + len;
    if (need > a->cap) {
        size_t cap = a->cap ? (size_t)a->cap * 2 : ASSEMBLY_MIN_CAP;
        if (cap < need)
            cap = need;
        if (cap > limit)
            cap = limit;
        uint8_t *grown = rs_realloc(m->node, a->buf, cap);
        if (!grown)
            return RSHARE_ENOMEM;
        a->buf = grown;
        a->cap = (uint32_t)cap;
    }
    memcpy(a->buf + a->len, data, len);
    a->len += (uint32_t)len;
    return 0;
}

static void arm_timer(struct rs_mctp *m)
{
    uint64_t earliest = UINT64_MAX;
    for (uint32_t i = 0; i < m->max_assemblies; i++)
        if (m->assemblies[i].active && m->assemblies[i].deadline_us < earliest)
            earliest = m->assemblies[i].deadline_us;
    if (earliest == UINT64_MAX)
        rs_timer_cancel(m->node, &m->timer);
    else if (!rs_timer_pending(&m->timer) || m->timer.at_us != earliest)
        rs_timer_schedule(m->node, &m->timer, earliest);
}

static void timer_fire(rshare_node *node, struct rs_timer *timer)
{
    struct rs_mctp *m = (struct rs_mctp *)((char *)timer - offsetof(struct rs_mctp, timer));
    uint64_t now = rs_now_us(node);
    for (uint32_t i = 0; i < m->max_assemblies; i++) {
        struct rs_mctp_assembly *a = &m->assemblies[i];
        if (a->active && a->deadline_us <= now) {
            m->stats.rx_assembly_timeouts++;
            assembly_drop(a);
        }
    }
    arm_timer(m);
}

/* --- text forms ---------------------------------------------------------------------- */

static int parse_eid(const char *text, size_t len, uint8_t *eid)
{
    unsigned value = 0;
    if (len == 0 || len > 3)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return -1;
        value = value * 10 + (unsigned)(text[i] - '0');
    }
    if (value > 255)
        return -1;
    *eid = (uint8_t)value;
    return 0;
}
