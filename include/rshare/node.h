/* rshare — the node: lifecycle, configuration, event-loop integration,
 * peers and statistics. */
#ifndef RSHARE_NODE_H
#define RSHARE_NODE_H

#include <rshare/common.h>
#include <rshare/transport.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RSHARE_CLUSTER_KEY_BYTES 32
#define RSHARE_NODE_ID_NONE 0u
#define RSHARE_NODE_ID_BROADCAST 0xFFFFFFFFu

/* Node configuration.  Initialise with rshare_node_config_init(), then set
 * fields.  Fields are only ever appended; `struct_size` tells the library
 * which ones the caller knows. */
struct rshare_node_config {
    uint32_t struct_size;
    uint32_t node_id;          /* 1 .. 0xFFFFFFFE, unique in the cluster */
    uint16_t slot;             /* chassis slot (manager preference) */
    uint16_t install_order;    /* first-installed order (alternative rule) */
    /* 32-byte cluster key, or NULL to run unprotected (logged). Copied. */
    const uint8_t *cluster_key;
    /* Directory for persistent state (boot counter, ...), or NULL. */
    const char *state_dir;

    /* Limits (0 = default). */
    uint32_t max_message_bytes;       /* default 4 MiB */
    uint32_t max_peers;               /* default 256 */
    uint32_t max_reassembly_bytes;    /* all peers together, default 16 MiB */
    uint32_t reassembly_timeout_ms;   /* default 10000 */
    uint32_t request_timeout_ms;      /* default 5000 */
    uint32_t request_retry_ms;        /* first retry, doubled each time; default 100 */
    uint32_t max_pending_requests;    /* default 4096 */
    uint32_t peer_slots;              /* requests in flight to one peer (more wait
                                         in a queue), default 128, at most 1024 */
    uint32_t link_window;             /* fragments in flight per transfer, default 64 */

    /* Hooks (zeroed = defaults). */
    struct rshare_clock clock;
    struct rshare_allocator allocator;
    struct rshare_log log;
    struct rshare_persist persist;    /* overrides state_dir when set */

    /* Node identity (include/rshare/identity.h), appended.  With
     * `authority_public_key` set the node runs in identity mode: it speaks
     * to a peer only after both showed a certificate of that authority,
     * and protects every unicast packet with a key of that pair alone.
     * The three are set together and copied. */
    const uint8_t *identity_secret_key;  /* RSHARE_IDENTITY_SECRET_KEY_BYTES */
    const uint8_t *identity_cert;        /* RSHARE_IDENTITY_CERT_BYTES */
    const uint8_t *authority_public_key; /* RSHARE_IDENTITY_PUBLIC_KEY_BYTES */
};

/* Fill `config` with defaults.  `struct_size` must be sizeof(*config). */
RSHARE_API void rshare_node_config_init(struct rshare_node_config *config,
                                        size_t struct_size);

/* Create a node from `config` (copied; see rshare_node_config_init()).
 * Returns 0 and the node in `*node_out`, or RSHARE_EINVAL for a bad
 * configuration, RSHARE_ENOMEM, RSHARE_ESYS. */
RSHARE_API int rshare_node_create(const struct rshare_node_config *config,
                                  rshare_node **node_out);
/* Releases everything; accepts NULL.  Pending calls complete with
 * RSHARE_ESHUTDOWN. */
RSHARE_API void rshare_node_destroy(rshare_node *node);

/* The node's id, as configured. */
RSHARE_API uint32_t rshare_node_id(const rshare_node *node);
/* Details of the last error on this node (never NULL, may be ""). */
RSHARE_API const char *rshare_node_errmsg(const rshare_node *node);
/* The node's clock, in microseconds. */
RSHARE_API uint64_t rshare_node_now_us(rshare_node *node);

/* --- Event loop integration ---------------------------------------------
 * 1. poll/epoll programs: watch rshare_node_fd() for readability (and wake
 *    up after rshare_node_timeout_ms()), then call rshare_node_process().
 * 2. simple programs: call rshare_node_run() in a loop.
 * 3. firmware without descriptors: push received bytes with
 *    rshare_node_push() and call rshare_node_process() when time passes. */

/* One descriptor covering every transport and the node's timers, or -1 if
 * the node has none (push model). */
RSHARE_API int rshare_node_fd(rshare_node *node);
/* Milliseconds (rounded up) or microseconds until the node next needs
 * rshare_node_process(), or -1 when nothing is scheduled. */
RSHARE_API int rshare_node_timeout_ms(rshare_node *node);
RSHARE_API int64_t rshare_node_timeout_us(rshare_node *node);
/* Do all pending work without blocking: poll transports, run due timers.
 * Returns 0 or a negative code. */
RSHARE_API int rshare_node_process(rshare_node *node);
/* Wait up to `timeout_ms` (-1: until something happens) for work, then do
 * it.  Returns 0 or a negative code. */
RSHARE_API int rshare_node_run(rshare_node *node, int timeout_ms);

/* --- Peers ----------------------------------------------------------------
 * A peer's address is learnt from its packets; to speak first, tell the node
 * where a peer is.  `address` is in the transport's text form. */
RSHARE_API int rshare_node_add_peer(rshare_node *node, uint32_t peer_id,
                                    int transport_index, const char *address);

/* --- Statistics ------------------------------------------------------------
 * Counters only ever grow.  Fields are only ever appended. */
struct rshare_node_stats {
    uint32_t struct_size;
    uint32_t reserved_;
    uint64_t tx_packets, tx_bytes, tx_errors;
    uint64_t rx_packets, rx_bytes;
    /* packets rejected, by reason */
    uint64_t rx_truncated;        /* shorter than their headers say */
    uint64_t rx_bad_version;      /* unknown packet or protocol version */
    uint64_t rx_malformed;        /* header fields out of range, garbage */
    uint64_t rx_oversized;        /* longer than the MTU or the limits */
    uint64_t rx_auth_failed;      /* AEAD tag wrong: forged or tampered */
    uint64_t rx_replayed;         /* duplicate or replayed packets */
    uint64_t rx_unprotected;      /* protection mode does not match ours */
    uint64_t rx_misaddressed;     /* for another node */
    uint64_t rx_spoofed;          /* message sender differs from packet sender */
    uint64_t rx_peer_limit;       /* from a new peer while the peer table is full */
    /* link layer */
    uint64_t retransmits;
    uint64_t transfers_failed;
    uint64_t reassembly_timeouts;
    uint64_t reassembly_overflows;  /* dropped at the memory limit */
    /* message layer */
    uint64_t msgs_sent, msgs_received;
    uint64_t msgs_malformed;        /* bad header or CBOR body */
    uint64_t requests_retried;
    uint64_t requests_timed_out;
    uint64_t duplicates_replayed;   /* duplicate requests answered from cache */
    uint64_t requests_stale;        /* late copies of requests nobody waits for */
    uint64_t unhandled;             /* no handler for the message type */
    uint64_t requests_map_stale;    /* refused: the sender's map version differs */
    /* transports, appended */
    uint64_t rx_urgent_lane;        /* packets read from an urgent lane */
    /* identities, appended */
    uint64_t rx_identity_refused;   /* a HELLO with a bad, foreign, revoked or
                                       another node's certificate, or a unicast
                                       packet without a pair key */
    uint64_t rx_no_pair;            /* from a peer without a completed handshake
                                       (answered with a HELLO) */
    uint64_t handshakes;            /* HELLOs verified */
};

/* Copy the node's counters into `stats` (the caller's struct_size says
 * how many fields it knows). */
RSHARE_API int rshare_node_stats(const rshare_node *node,
                                 struct rshare_node_stats *stats,
                                 size_t struct_size);

#ifdef __cplusplus
}
#endif
#endif
