/* rshare transports — the seam between the serial binding and the
 * operating system (internal): reading and writing bytes, asking how many
 * are still on their way out, and switching an RS-485 driver.  The Linux
 * implementation (serial_line.c) is a terminal set up with termios; tests
 * put a simulated RS-485 bus behind the same vtable. */
#ifndef RSHARE_TRANSPORTS_SERIAL_LINE_H
#define RSHARE_TRANSPORTS_SERIAL_LINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rshare/serial.h"

struct rs_serial_line_ops {
    /* Bytes received so far, without blocking: the count, 0 when there are
     * none, or a negative errno. */
    int (*read)(void *line, uint8_t *buf, size_t cap);
    /* Hand bytes to the transmitter: the count accepted (0 when its buffer
     * is full), or a negative errno. */
    int (*write)(void *line, const uint8_t *buf, size_t len);
    /* Bytes written and not yet completely sent (the last one counts until
     * its stop bit is out), or a negative errno when the line cannot tell. */
    int (*tx_pending)(void *line);
    /* Make fd() readable when write() can accept bytes again. */
    void (*want_write)(void *line, bool on);
    /* RS-485 driver enable by RTS (RSHARE_SERIAL_TURNAROUND_RTS only). */
    int (*set_driver)(void *line, bool on);
    /* Readable when read() has bytes (or a wanted write() has room). */
    int (*fd)(void *line);
    void (*close)(void *line);
};

/* The Linux terminal: open (or duplicate) it, set termios and the RS-485
 * mode.  `*turnaround` comes back resolved: NONE, KERNEL or RTS.  Records
 * the reason on the node when it fails. */
extern const struct rs_serial_line_ops rs_serial_tty_ops;
int rs_serial_tty_open(rshare_node *node, const struct rshare_serial_config *config,
                       uint8_t *turnaround, void **line_out);

/* The serial transport over any line with a resolved turnaround mode; the
 * node owns `line` from here on (closed also when this fails).  Returns the
 * transport index. */
int rs_serial_attach(rshare_node *node, const struct rshare_serial_config *config,
                     uint8_t turnaround, const struct rs_serial_line_ops *ops, void *line);

/* Fill defaults and check ranges (shared by the public entry and tests). */
int rs_serial_resolve_config(rshare_node *node, const struct rshare_serial_config *given,
                             struct rshare_serial_config *cfg);

#endif
