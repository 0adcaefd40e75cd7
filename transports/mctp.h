/* rshare transports — the MCTP core shared by the serial and SMBus bindings
 * (internal): the 4-byte base header, cutting a message into packets of the
 * binding's size and reassembling them per sender, the neighbour table
 * (endpoint id -> physical address), the transmit queue the binding drains,
 * and the hand-off of other message types to the application. */
#ifndef RSHARE_TRANSPORTS_MCTP_H
#define RSHARE_TRANSPORTS_MCTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "rshare/mctp.h"

/* The base header (DSP0236): version, destination EID, source EID, then
 * SOM | EOM | sequence (2 bits) | tag owner | tag (3 bits). */
#define RS_MCTP_HDR_LEN 4
#define RS_MCTP_HDR_VERSION 0x01
#define RS_MCTP_SOM 0x80
#define RS_MCTP_EOM 0x40
#define RS_MCTP_SEQ_SHIFT 4
#define RS_MCTP_SEQ_MASK 0x03
#define RS_MCTP_TO 0x08
#define RS_MCTP_TAG_MASK 0x07

/* rshare's message prefix: type 0x7F, then the IANA number (big-endian). */
#define RS_MCTP_VENDOR_PREFIX_LEN 5

/* An MCTP transport's binary link address: endpoint id, physical address
 * (SMBus 7-bit address, RS-485 drop address, 0 on a point-to-point line). */
#define RS_MCTP_LINK_ADDR_LEN 2

/* Upper bound of any one MCTP message this code builds or accepts. */
#define RS_MCTP_MESSAGE_MAX 65536u

struct rs_mctp;

/* What a binding tells the core about itself. */
struct rs_mctp_binding {
    const char *name;
    /* The link has physical addresses (SMBus, RS-485); false on a
     * point-to-point serial line, where the physical address is always 0. */
    bool has_phys;
    /* Physical broadcast address, or -1 when the link has none (SMBus):
     * broadcasts then go as one copy to every endpoint of the table. */
    int phys_broadcast;
    /* The core queued a message: start transmitting if idle.  Called from
     * send() and from inside the binding's own poll(). */
    void (*kick)(struct rs_mctp *mctp);
    /* Physical address text forms ("0x1d", "3"). */
    int (*phys_format)(const struct rs_mctp *mctp, uint8_t phys, char *buf, size_t len);
    int (*phys_parse)(const struct rs_mctp *mctp, const char *text, uint8_t *phys);
};

/* One queued outgoing message.  `sent` counts packets confirmed on the
 * wire; a binding may rewind it to 0 (RS-485 collision) and the message
 * starts again with a new start packet. */
struct rs_mctp_out {
    struct rs_mctp_out *next;
    uint32_t len;        /* message bytes, type byte first */
    uint16_t packets;    /* packets in all */
    uint16_t sent;
    uint8_t dst_eid, phys;
    uint8_t tag_owner, tag;
    bool auto_tag;       /* the tag is chosen when transmission starts */
    bool started;
    bool urgent;
    uint8_t restarts;
    uint8_t data[];
};

struct rs_mctp_assembly {
    bool active;
    uint8_t src_eid, dst_eid, phys;
    uint8_t tag_key;      /* TO | tag of the message */
    uint8_t next_seq;
    uint32_t packet_len;  /* payload of the start packet: all but the last match it */
    uint32_t len, cap;
    uint8_t *buf;
    uint64_t deadline_us;
};

#define RS_MCTP_NEIGHBOUR_NONE 0
#define RS_MCTP_NEIGHBOUR_LEARNT 1
#define RS_MCTP_NEIGHBOUR_STATIC 2

struct rs_mctp {
    rshare_node *node;
    int transport_index;
    const struct rs_mctp_binding *binding;

    /* resolved configuration */
    uint8_t eid;
    bool allow_set_eid;
    bool eid_assigned;      /* set by a bus owner rather than configured */
    uint32_t iana;
    uint32_t message_size;  /* the MTU: rshare packet bytes per message */
    uint32_t max_assemblies;
    uint64_t reassembly_timeout_us;
    uint32_t max_other;
    uint32_t tx_queue_bytes;
    size_t packet_payload;  /* bytes after the header in one MCTP packet */

    struct rshare_mctp_stats stats;

    /* transmit: [0] urgent messages, [1] the rest; each a FIFO */
    struct rs_mctp_out *queue[2];
    struct rs_mctp_out **queue_tail[2];
    size_t queued_bytes;
    uint8_t next_tag;

    /* receive */
    struct rs_mctp_assembly *assemblies;
    struct rs_timer timer;
    uint8_t *scratch;       /* one packet (header + payload) for bindings */

    uint8_t neighbour_phys[256];
    uint8_t neighbour_state[256];

    rshare_mctp_message_fn handler;
    void *handler_data;
};

/* Set up `m` inside a transport instance (the instance starts with it).
 * `packet_payload` is the binding's MCTP payload per packet.  Records an
 * error on the node and returns a negative code on a bad configuration. */
int rs_mctp_init(struct rs_mctp *m, rshare_node *node, const struct rs_mctp_binding *binding,
                 const struct rshare_mctp_config *config, size_t packet_payload);
void rs_mctp_fini(struct rs_mctp *m);

/* The transport's `control` operation for every MCTP transport; it also
 * identifies them: rs_mctp_of() accepts only transports that use it. */
int rs_mctp_control(void *impl, int op, void *arg);
struct rs_mctp *rs_mctp_of(rshare_node *node, int transport_index);

/* Transport operations the bindings share. */
size_t rs_mctp_mtu(const struct rs_mctp *m);
int rs_mctp_send_packet(struct rs_mctp *m, const struct rshare_link_addr *dst,
                        const void *packet, size_t len, unsigned flags);
int rs_mctp_addr_format(const struct rs_mctp *m, const struct rshare_link_addr *addr, char *buf,
                        size_t buf_len);
int rs_mctp_addr_parse(const struct rs_mctp *m, const char *text, struct rshare_link_addr *addr);
int rs_mctp_broadcast_addr(const struct rs_mctp *m, struct rshare_link_addr *addr);

/* Queue one message (`data` starts with the type byte; `prefix`, when not
 * NULL, goes before it).  `tag` may be RSHARE_MCTP_TAG_AUTO when
 * `tag_owner` is 1.  Kicks the binding.  Returns 0 or a negative code. */
int rs_mctp_queue(struct rs_mctp *m, uint8_t dst_eid, uint8_t phys, uint8_t tag_owner,
                  uint8_t tag, const uint8_t *prefix, size_t prefix_len, const void *data,
                  size_t len, bool urgent);

/* --- for bindings: the transmit side --------------------------------------
 * rs_mctp_tx_head() picks the message to transmit next (urgent first; a
 * message already started keeps its tag), rs_mctp_tx_build() writes packet
 * `index` of it (header and payload) into `buf` (packet_payload +
 * RS_MCTP_HDR_LEN bytes) and returns its length.  After the binding put
 * packets on the wire it confirms them; the message is freed with its last
 * packet.  rs_mctp_tx_fail() abandons a message, counted and logged. */
struct rs_mctp_out *rs_mctp_tx_head(struct rs_mctp *m);
size_t rs_mctp_tx_build(const struct rs_mctp *m, const struct rs_mctp_out *o, unsigned index,
                        uint8_t *buf);
void rs_mctp_tx_confirm(struct rs_mctp *m, struct rs_mctp_out *o, unsigned packets);
void rs_mctp_tx_rewind(struct rs_mctp *m, struct rs_mctp_out *o);
void rs_mctp_tx_fail(struct rs_mctp *m, struct rs_mctp_out *o, const char *why);
bool rs_mctp_tx_pending(const struct rs_mctp *m);

/* --- for bindings: the receive side ---------------------------------------
 * One MCTP packet (header + payload) from physical address `phys`, already
 * checked by the binding's framing.  May push an rshare packet to the node,
 * call the application's handler or answer a control request. */
void rs_mctp_rx(struct rs_mctp *m, uint8_t phys, const uint8_t *packet, size_t len);

/* --- the control responder (mctp_control.c) -------------------------------
 * Answers the MCTP control requests rshare implements.  Returns true when
 * `msg` (a control message) was answered. */
bool rs_mctp_control_answer(struct rs_mctp *m, const struct rshare_mctp_message *msg,
                            uint8_t phys);

/* Link address helpers. */
static inline void rs_mctp_link_addr(struct rshare_link_addr *addr, uint8_t eid, uint8_t phys)
{
    addr->len = RS_MCTP_LINK_ADDR_LEN;
    addr->bytes[0] = eid;
    addr->bytes[1] = phys;
}

#endif
