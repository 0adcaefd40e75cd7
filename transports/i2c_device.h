/* rshare transports — the seam between the SMBus binding and the operating
 * system (internal): the two calls that touch hardware, one raw I2C write
 * and one read of a received frame, behind a small vtable.  The Linux
 * implementation (i2c_device.c) makes the real system calls; tests put a
 * simulated bus behind the same vtable and nothing else changes. */
#ifndef RSHARE_TRANSPORTS_I2C_DEVICE_H
#define RSHARE_TRANSPORTS_I2C_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "rshare/smbus.h"

struct rs_i2c_device_ops {
    /* One write transaction to 7-bit address `addr`; `data` are the bytes
     * after the address byte.  Blocks until the transaction is over.
     * Returns 0 or a negative errno. */
    int (*write)(void *dev, uint8_t addr, const uint8_t *data, size_t len);
    /* One received frame, as on the wire with our address byte first, into
     * `buf`.  Returns its length, 0 when no frame is waiting, or a negative
     * errno. */
    int (*read)(void *dev, uint8_t *buf, size_t cap);
    /* The descriptor that signals received frames, and the epoll events
     * that mean so (the slave-mqueue: EPOLLPRI, edge-triggered). */
    int (*fd)(void *dev);
    uint32_t (*events)(void *dev);
    void (*close)(void *dev);
};

/* The Linux device: `i2c_path` an i2c-dev adapter, `mqueue_path` a
 * slave-mqueue file.  Records the reason on the node when it fails. */
extern const struct rs_i2c_device_ops rs_i2c_linux_ops;
int rs_i2c_linux_open(rshare_node *node, const char *i2c_path, const char *mqueue_path,
                      void **dev_out);

/* The SMBus transport over any device; the node owns `dev` from here on
 * (it is closed also when this fails).  Returns the transport index. */
int rs_smbus_attach(rshare_node *node, const struct rshare_smbus_config *config,
                    const struct rs_i2c_device_ops *ops, void *dev);

#endif
