/* rshare — the transport plug-in interface.  A transport moves opaque
 * packets between link addresses; it knows nothing of messages, maps or
 * volumes.  Third parties implement `struct rshare_transport_ops` and attach
 * an instance to a node with rshare_node_add_transport(). */
#ifndef RSHARE_TRANSPORT_H
#define RSHARE_TRANSPORT_H

#include <rshare/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A link address, in the transport's own binary form (an IPv6 socket
 * address, an SMBus address, a loop endpoint number, ...). */
#define RSHARE_LINK_ADDR_MAX 31
struct rshare_link_addr {
    uint8_t len;
    uint8_t bytes[RSHARE_LINK_ADDR_MAX];
};

/* Capabilities (bit set returned by ops->caps). */
#define RSHARE_TRANSPORT_CAP_BROADCAST 0x0001u /* ops->broadcast_addr works */
#define RSHARE_TRANSPORT_CAP_FD 0x0002u        /* ops->fd returns a pollable fd */
#define RSHARE_TRANSPORT_CAP_BULK 0x0004u      /* fast enough for block data */
#define RSHARE_TRANSPORT_CAP_PRIORITY 0x0008u  /* honours RSHARE_SEND_URGENT */
/* An urgent lane: a second instance of a transport kind that carries only
 * urgent packets (KVM input), polled before every other transport, so that
 * input never waits in a socket queue behind bulk data.  Peers learn each
 * other's lane from the source of the urgent packets they receive
 * (doc/KVM.md, "Urgency"). */
#define RSHARE_TRANSPORT_CAP_URGENT_LANE 0x0010u

/* Flags for ops->send. */
#define RSHARE_SEND_URGENT 0x0001u /* small, latency-critical (input events) */

/* Largest packet any transport may declare (64 KiB loopback UDP). */
#define RSHARE_TRANSPORT_MTU_MAX 65507u
/* Smallest MTU rshare can work with (its packet header plus a few bytes). */
#define RSHARE_TRANSPORT_MTU_MIN 64u

#define RSHARE_TRANSPORT_OPS_VERSION 2

/* One piece of a packet handed to ops->sendv. */
struct rshare_iovec {
    const void *base;
    size_t len;
};
/* The most pieces rshare passes to one ops->sendv call. */
#define RSHARE_SENDV_MAX 4

/* The vtable.  `struct_size` comes first: the node copies
 * min(struct_size, its own size) and treats missing entries as absent.
 * Every function receives the `impl` pointer given at attach time. */
struct rshare_transport_ops {
    uint32_t struct_size;  /* sizeof(struct rshare_transport_ops) */
    uint32_t version;      /* RSHARE_TRANSPORT_OPS_VERSION */
    const char *name;      /* short name: "udp", "loop", "serial", ... */

    uint32_t (*caps)(void *impl);
    /* Largest packet, in bytes, that one send() carries. */
    size_t (*mtu)(void *impl);
    /* Queue one packet.  Returns 0, RSHARE_EAGAIN when the transport is
     * momentarily full (the packet is not sent; rshare retransmits later),
     * or another negative code. */
    int (*send)(void *impl, const struct rshare_link_addr *dst,
                const void *packet, size_t len, unsigned flags);
    /* Read what is pending and hand each packet to the node with
     * rshare_node_push().  Called once per process step while the fd is
     * readable (always, for transports without one); a transport may stop
     * after a bound of its choosing so that one busy link cannot starve the
     * others.  Returns the number of packets pushed or a negative code.
     * NULL for pure push-model transports. */
    int (*poll)(void *impl, rshare_node *node, int transport_index);
    /* A file descriptor that becomes readable when poll() has work, or -1. */
    int (*fd)(void *impl);
    /* Microseconds until the transport next needs poll() without its fd
     * becoming readable (simulated links), or -1 for never.  May be NULL. */
    int64_t (*next_timeout_us)(void *impl);
    /* Text form of an address, NUL-terminated.  Returns the length, or
     * RSHARE_EINVAL (and an empty string) when `buf` is too small. */
    int (*addr_format)(void *impl, const struct rshare_link_addr *addr,
                       char *buf, size_t buf_len);
    int (*addr_parse)(void *impl, const char *text, struct rshare_link_addr *addr);
    /* The address that reaches every peer on the link (discovery). */
    int (*broadcast_addr)(void *impl, struct rshare_link_addr *addr);
    /* Private controls; returns RSHARE_ENOTSUP for unknown ops. */
    int (*control)(void *impl, int op, void *arg);
    /* Release the instance.  Called once, by the node that owns it. */
    void (*close)(void *impl);

    /* --- version 2 --- */
    /* Optional (NULL when absent): queue one packet given as up to
     * RSHARE_SENDV_MAX pieces, sent exactly as if they were concatenated
     * (the total is at most mtu()).  It lets rshare send a fragment of a
     * large message without first copying it next to its header; without
     * it rshare assembles the packet and calls send().  Same returns as
     * send(). */
    int (*sendv)(void *impl, const struct rshare_link_addr *dst,
                 const struct rshare_iovec *pieces, size_t count, unsigned flags);
};

/* Attach a transport instance; the node owns `impl` from here on (it calls
 * ops->close when destroyed, also when this call fails).  Returns the
 * transport index (>= 0) or a negative code. */
RSHARE_API int rshare_node_add_transport(rshare_node *node,
                                         const struct rshare_transport_ops *ops,
                                         void *impl);

/* Hand one received packet to the node (the push model).  Safe to call from
 * a transport's poll() or from a firmware receive path, but not from inside
 * the handling of another packet of the same node (a send() that delivers
 * synchronously to it): that returns RSHARE_EBUSY and the packet counts as
 * lost.  Returns 0 or a negative code (the packet was rejected and
 * counted). */
RSHARE_API int rshare_node_push(rshare_node *node, int transport_index,
                                const struct rshare_link_addr *src,
                                const void *packet, size_t len);

#ifdef __cplusplus
}
#endif
#endif
