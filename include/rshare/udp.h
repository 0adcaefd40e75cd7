/* rshare — the UDP transport (IPv4 and IPv6). */
#ifndef RSHARE_UDP_H
#define RSHARE_UDP_H

#include <rshare/common.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RSHARE_UDP_DEFAULT_PORT 7219
#define RSHARE_UDP_DEFAULT_MTU 1400

struct rshare_udp_config {
    uint32_t struct_size;
    /* "0.0.0.0:7219", "127.0.0.1:0", "[::1]:7219", ... (port 0: any). */
    const char *bind_address;
    /* Packet payload limit: default 1400, at most 65507 (loopback). */
    uint32_t mtu;
    /* Discovery destination: an IPv4 broadcast address or an IPv4/IPv6
     * multicast group, with port ("255.255.255.255:7219", "[ff02::1]:7219").
     * NULL: on the bound port, 127.255.255.255 for a socket bound to IPv4
     * loopback (discovery never leaves the machine), the limited broadcast
     * address for other IPv4 sockets, none for IPv6 loopback (configured
     * peers only), ff02::1 for other IPv6 sockets. */
    const char *discovery_address;
    /* Interface for multicast (name), NULL for the default. */
    const char *interface;
    /* Socket buffer sizes in bytes (0 = 16 MiB: a volume's replies in flight
     * fit without drops; the kernel allocates only what is used). */
    uint32_t socket_buffer_bytes;
    /* Nonzero: this socket is the node's urgent lane
     * (RSHARE_TRANSPORT_CAP_URGENT_LANE): a node with a lane sends its
     * urgent packets (KVM input and reports) from it, to the peer's lane
     * once the peer's urgent packets have shown where it is, and reads it
     * before its other transports.  No discovery on a lane; any port will
     * do (bind "127.0.0.1:0"), peers learn it. */
    uint32_t urgent_lane;
};

/* Zero `config` and set its struct_size (pass sizeof(*config)): every field
 * not set afterwards takes its default. */
RSHARE_API void rshare_udp_config_init(struct rshare_udp_config *config, size_t struct_size);

/* Open a UDP socket and attach it to `node`.  Returns the transport index or
 * a negative code (details in rshare_node_errmsg()).
 *
 * Address text forms (bind, discovery and peer addresses): "1.2.3.4:port",
 * "[v6addr]:port", "[fe80::1%eth0]:port"; numeric only, never resolved.  A
 * missing port means RSHARE_UDP_DEFAULT_PORT.  An IPv6 socket bound to
 * "[::]" also reaches IPv4 peers; bound to another IPv6 address it is
 * IPv6-only. */
RSHARE_API int rshare_node_add_udp(rshare_node *node, const struct rshare_udp_config *config);

/* The address actually bound (useful with port 0), in text form.  Returns
 * the text length, or a negative code (RSHARE_EINVAL when the transport is
 * not UDP or the buffer is too small). */
RSHARE_API int rshare_udp_local_address(rshare_node *node, int transport_index,
                                        char *buf, size_t buf_len);

#ifdef __cplusplus
}
#endif
#endif
