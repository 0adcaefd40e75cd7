/* rshare — the serial transport: MCTP over a serial line (DMTF DSP0253),
 * point to point (RS-232, RS-422, a pseudo-terminal) or on an RS-485
 * multi-drop bus shared by many nodes.  rshare packets travel as
 * vendor-defined MCTP messages (see rshare/mctp.h). */
#ifndef RSHARE_SERIAL_H
#define RSHARE_SERIAL_H

#include <rshare/common.h>
#include <rshare/mctp.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RSHARE_SERIAL_DEFAULT_BAUD 115200u

/* How an RS-485 transceiver is switched between sending and receiving. */
#define RSHARE_SERIAL_TURNAROUND_AUTO 0   /* multi-drop: the kernel's RS-485 mode
                                             (TIOCSRS485) if the driver has it, else
                                             RTS toggling; point to point: none */
#define RSHARE_SERIAL_TURNAROUND_NONE 1   /* full duplex, or a transceiver that
                                             switches by itself */
#define RSHARE_SERIAL_TURNAROUND_KERNEL 2 /* TIOCSRS485, or fail */
#define RSHARE_SERIAL_TURNAROUND_RTS 3    /* RTS asserted while sending, or fail */

struct rshare_serial_config {
    uint32_t struct_size;
    /* The terminal device ("/dev/ttyS1", "/dev/pts/3"), or NULL to use `fd`. */
    const char *device;
    /* An open terminal (a pty master, ...), used when `device` is NULL.  The
     * transport keeps a duplicate; the open file is switched to
     * non-blocking mode.  rshare_serial_config_init() sets -1. */
    int fd;
    /* Line speed, 8 data bits, no parity, 1 stop bit; default 115200. */
    uint32_t baud;
    uint8_t rtscts;             /* non-zero: RTS/CTS hardware flow control */
    /* Non-zero: an RS-485 bus with many nodes.  Frames carry destination
     * and source drop addresses and nodes take turns (doc/TRANSPORTS.md). */
    uint8_t multidrop;
    uint8_t address;            /* multi-drop: this node's drop address, < nodes */
    uint8_t turnaround;         /* RSHARE_SERIAL_TURNAROUND_* */
    /* Multi-drop: the transceiver receives while sending, so a node hears
     * its own frames and detects collisions (SER_RS485_RX_DURING_TX). */
    uint8_t echo;
    uint8_t reserved_;
    uint16_t nodes;             /* multi-drop: drop addresses in the rotation, default 16 */
    uint32_t guard_us;          /* multi-drop: silence that ends a turn, default 4 characters + 2 ms */
    uint32_t slot_us;           /* multi-drop: one node's slot, default 2 characters + 1 ms */
    uint16_t burst;             /* multi-drop: MCTP packets per turn, default 8 */
    uint16_t collision_retries; /* multi-drop with echo: restarts of a message, default 8 */
    /* MCTP payload per packet, 64..251, default 251 (Linux mctp-serial
     * peers accept 64). */
    uint32_t packet_payload;
    /* This endpoint's MCTP settings (EID required). */
    const struct rshare_mctp_config *mctp;
};

/* Zero `config` and set its struct_size (pass sizeof(*config)): every field
 * not set afterwards takes its default. */
RSHARE_API void rshare_serial_config_init(struct rshare_serial_config *config,
                                          size_t struct_size);

/* Open and configure the line (termios: raw, 8N1, the speed, flow control;
 * RS-485 mode) and attach the transport to `node`.  Returns the transport
 * index or a negative code (details in rshare_node_errmsg()).  Peer
 * addresses: "EID" on a point-to-point line, "EID@DROP" on a multi-drop
 * bus, "*" for broadcast. */
RSHARE_API int rshare_node_add_serial(rshare_node *node, const struct rshare_serial_config *config);

#ifdef __cplusplus
}
#endif
#endif
