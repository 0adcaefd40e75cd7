/* rshare — MCTP endpoints: what the serial (DSP0253) and SMBus (DSP0237)
 * transports have in common.  On those links every rshare packet travels as
 * one MCTP message of the vendor-defined type 0x7F with an IANA enterprise
 * number, so rshare shares a management bus with PLDM, NVMe-MI or SPDM
 * endpoints.  Messages of every other type are handed to the application
 * (rshare_mctp_set_handler) and can be sent through the same transport
 * (rshare_mctp_send); nothing is dropped without being counted. */
#ifndef RSHARE_MCTP_H
#define RSHARE_MCTP_H

#include <rshare/common.h>
#include <rshare/transport.h>

#ifdef __cplusplus
extern "C" {
#endif

/* IANA enterprise number 32473 is reserved for documentation and examples
 * (RFC 5612): a safe default until an integrator sets their own. */
#define RSHARE_MCTP_IANA_DEFAULT 32473u
#define RSHARE_MCTP_TYPE_CONTROL 0x00u
#define RSHARE_MCTP_TYPE_VENDOR_IANA 0x7Fu
#define RSHARE_MCTP_EID_NULL 0x00u
#define RSHARE_MCTP_EID_BROADCAST 0xFFu
#define RSHARE_MCTP_EID_FIRST 8u   /* lowest assignable endpoint id */
#define RSHARE_MCTP_EID_LAST 254u  /* highest assignable endpoint id */
/* rshare_mctp_send(): let the library pick a free tag (tag owner only). */
#define RSHARE_MCTP_TAG_AUTO 0xFFu

/* Settings of the MCTP endpoint inside a serial or SMBus transport.
 * Initialise with rshare_mctp_config_init(); fields are only ever appended.
 * A NULL pointer in the transport's config means all defaults, which is an
 * error only because `eid` has none. */
struct rshare_mctp_config {
    uint32_t struct_size;
    /* This endpoint's id, 8..254.  Required. */
    uint8_t eid;
    /* Non-zero: a bus owner may change `eid` with the MCTP control command
     * Set Endpoint ID.  Zero (default): such requests are answered
     * "assignment rejected" and the configured id stays. */
    uint8_t allow_set_eid;
    uint16_t reserved_;
    /* Enterprise number that marks rshare's vendor-defined messages;
     * 0 = RSHARE_MCTP_IANA_DEFAULT.  Every node of a cluster must agree. */
    uint32_t iana;
    /* Largest rshare packet carried by one MCTP message: the transport's MTU.
     * 0 = the binding's default, about 1.2 KiB rounded so that a full packet
     * fills whole MCTP packets.  64 .. 65507. */
    uint32_t message_size;
    /* Messages being reassembled at once (all senders), default 8, at most 64. */
    uint32_t max_assemblies;
    /* A message whose next packet does not arrive within this time is
     * dropped and counted, default 1000 ms. */
    uint32_t reassembly_timeout_ms;
    /* Largest message of another type accepted for the application, default
     * 4096 bytes, at most 65536. */
    uint32_t max_other_message;
    /* Bytes of MCTP messages waiting for the wire before send() answers
     * RSHARE_EAGAIN, default 256 KiB. */
    uint32_t tx_queue_bytes;
};

/* Zero `config` and set its struct_size (pass sizeof(*config)): every field
 * not set afterwards takes its default. */
RSHARE_API void rshare_mctp_config_init(struct rshare_mctp_config *config, size_t struct_size);

/* One MCTP message of a type other than rshare's.  `data` starts with the
 * message type byte (bit 7 is the integrity-check flag) followed by the
 * body, exactly as on the wire.  Fields are only ever appended. */
struct rshare_mctp_message {
    uint32_t struct_size;
    uint8_t src_eid;   /* received: the sender; ignored by rshare_mctp_send */
    uint8_t dst_eid;   /* received: our id, null or broadcast; send: the target */
    uint8_t tag_owner; /* 1: the sender owns the tag (a request), 0: a response */
    uint8_t tag;       /* 0..7, or RSHARE_MCTP_TAG_AUTO for a request */
    uint32_t flags;    /* send: RSHARE_SEND_URGENT to jump the queue */
    const void *data;
    size_t len;
};

/* Called for each complete MCTP message that is not an rshare packet and
 * not an MCTP control request rshare answers itself (Get/Set Endpoint ID,
 * Get MCTP Version Support, Get Message Type Support, Get Vendor Defined
 * Message Support).  `message` is valid during the call only. */
typedef void (*rshare_mctp_message_fn)(rshare_node *node, int transport_index,
                                       const struct rshare_mctp_message *message,
                                       void *user_data);

/* Register the handler for one MCTP transport (NULL removes it; messages are
 * then counted in rx_other_dropped and logged).  RSHARE_EINVAL when
 * `transport_index` is not an MCTP transport. */
RSHARE_API int rshare_mctp_set_handler(rshare_node *node, int transport_index,
                                       rshare_mctp_message_fn handler, void *user_data);

/* Queue one MCTP message of any type but rshare's own to `dst_eid`, whose
 * link address comes from the neighbour table (a static entry, or the
 * address it last sent from).  Returns the tag used (0..7) or a negative
 * code: RSHARE_EUNREACH (address unknown), RSHARE_EMSGSIZE, RSHARE_EAGAIN
 * (queue full), RSHARE_EINVAL. */
RSHARE_API int rshare_mctp_send(rshare_node *node, int transport_index,
                                const struct rshare_mctp_message *message);

/* Tell the transport where endpoint `eid` lives: `address` is the link's
 * physical address in text ("0x1d" on SMBus, "3" on an RS-485 bus, "" on a
 * point-to-point serial line).  Static entries are never replaced by what
 * arrives on the bus.  On SMBus, which has no broadcast, discovery messages
 * go to every endpoint of this table. */
RSHARE_API int rshare_mctp_set_neighbour(rshare_node *node, int transport_index, uint8_t eid,
                                         const char *address);

/* This endpoint's current id (it changes when a bus owner assigns one and
 * allow_set_eid is set), or a negative code. */
RSHARE_API int rshare_mctp_eid(rshare_node *node, int transport_index);

/* Counters of one MCTP transport.  They only ever grow; fields are only
 * ever appended. */
struct rshare_mctp_stats {
    uint32_t struct_size;
    uint32_t reserved_;
    uint64_t tx_frames, tx_bytes;   /* link frames written, with framing */
    uint64_t tx_messages;           /* MCTP messages completely sent */
    uint64_t tx_retries;            /* transient errors or collisions retried */
    uint64_t tx_failed;             /* messages abandoned after the retry budget
                                       (also counted in the node's tx_errors) */
    uint64_t tx_queue_full;         /* sends refused with RSHARE_EAGAIN */
    uint64_t rx_frames, rx_bytes;   /* link frames read, valid or not */
    uint64_t rx_bad_checksum;       /* FCS (serial) or PEC (SMBus) wrong */
    uint64_t rx_bad_frame;          /* framing: revision, length, byte count,
                                       command code, escapes, overlong */
    uint64_t rx_misaddressed;       /* physical address or EID not ours */
    uint64_t rx_bad_header;         /* MCTP header version or source EID */
    uint64_t rx_sequence_errors;    /* a packet out of sequence: message dropped */
    uint64_t rx_orphans;            /* middle or end packet with no message */
    uint64_t rx_incomplete;         /* message replaced by a new start packet */
    uint64_t rx_assembly_timeouts;
    uint64_t rx_assembly_overflows; /* too large, or too many at once */
    uint64_t rx_messages;           /* complete MCTP messages */
    uint64_t rx_other_messages;     /* handed to the application's handler */
    uint64_t rx_other_dropped;      /* other types while no handler is set */
    uint64_t control_answered;      /* MCTP control requests answered by rshare */
    uint64_t collisions;            /* RS-485: own frame damaged on the bus */
    uint64_t rx_overheard;          /* RS-485: intact frames for other nodes */
};

/* The MCTP counters of the serial or SMBus transport at
 * `transport_index` (RSHARE_EINVAL for another kind of transport). */
RSHARE_API int rshare_mctp_stats(rshare_node *node, int transport_index,
                                 struct rshare_mctp_stats *stats, size_t struct_size);

#ifdef __cplusplus
}
#endif
#endif
