/* rshare transports — the Linux I2C device of the SMBus binding: writes are
 * one I2C_RDWR ioctl with a single write message (the I2C_SMBUS ioctls stop
 * at 32-byte blocks); frames addressed to us are read from the slave-mqueue
 * file of BMC kernels, one whole frame per read after seeking to 0. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/i2c-dev.h>
#include <linux/i2c.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "core/core.h"
#include "i2c_device.h"

struct linux_i2c {
    rshare_node *node;
    int adapter_fd;
    int mqueue_fd;
};

static int linux_write(void *dev, uint8_t addr, const uint8_t *data, size_t len);
static int linux_read(void *dev, uint8_t *buf, size_t cap);
static int linux_fd(void *dev);
static uint32_t linux_events(void *dev);
static void linux_close(void *dev);

const struct rs_i2c_device_ops rs_i2c_linux_ops = {
    .write = linux_write,
    .read = linux_read,
    .fd = linux_fd,
    .events = linux_events,
    .close = linux_close,
};

int rs_i2c_linux_open(rshare_node *node, const char *i2c_path, const char *mqueue_path,
                      void **dev_out)
{
    *dev_out = NULL;
    if (!i2c_path || !mqueue_path)
        return rs_errorf(node, RSHARE_EINVAL, "SMBus needs i2c_device and mqueue_path");
    struct linux_i2c *d = rs_malloc(node, sizeof(*d));
    if (!d)
        return rs_errorf(node, RSHARE_ENOMEM, "no memory for an I2C device");
    d->node = node;
    d->mqueue_fd = -1;
    d->adapter_fd = open(i2c_path, O_RDWR | O_CLOEXEC);
    if (d->adapter_fd < 0) {
        int rc = rs_syserr(node, "open %.64s", i2c_path);
        linux_close(d);
        return rc;
    }
    /* Refuse anything that is not an adapter able to do raw transfers now,
     * rather than failing on every packet later. */
    unsigned long funcs = 0;
    if (ioctl(d->adapter_fd, I2C_FUNCS, &funcs) < 0) {
        int rc = rs_syserr(node, "%.64s is not an i2c-dev adapter (I2C_FUNCS)", i2c_path);
        linux_close(d);
        return rc;
    }
    if (!(funcs & I2C_FUNC_I2C)) {
        linux_close(d);
        return rs_errorf(node, RSHARE_ENOTSUP,
                         "%.64s cannot do raw I2C transfers (no I2C_FUNC_I2C)", i2c_path);
    }
    d->mqueue_fd = open(mqueue_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (d->mqueue_fd < 0) {
        int rc = rs_syserr(node, "open %.64s", mqueue_path);
        linux_close(d);
        return rc;
    }
    *dev_out = d;
    return 0;
}

static int linux_write(void *dev, uint8_t addr, const uint8_t *data, size_t len)
{
    struct linux_i2c *d = dev;
    if (len > UINT16_MAX)
        return -EINVAL;
    struct i2c_msg msg = {
        .addr = addr,
        .flags = 0,
        .len = (uint16_t)len,
        .buf = (uint8_t *)(uintptr_t)data, /* the kernel only reads a write message */
    };
    struct i2c_rdwr_ioctl_data xfer = {.msgs = &msg, .nmsgs = 1};
    if (ioctl(d->adapter_fd, I2C_RDWR, &xfer) < 0)
        return -errno;
    return 0;
}

/* The mqueue is a sysfs binary attribute: every read at offset 0 takes the
 * oldest frame off the queue; an empty queue reads 0 bytes. */
static int linux_read(void *dev, uint8_t *buf, size_t cap)
{
    struct linux_i2c *d = dev;
    if (lseek(d->mqueue_fd, 0, SEEK_SET) < 0)
        return -errno;
    ssize_t n;
    do
        n = read(d->mqueue_fd, buf, cap);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EAGAIN ? 0 : -errno;
    return (int)n;
}

static int linux_fd(void *dev)
{
    return ((struct linux_i2c *)dev)->mqueue_fd;
}

/* sysfs files always poll readable; a new frame raises POLLPRI.  Edge
 * triggering turns each notification into one wake-up. */
static uint32_t linux_events(void *dev)
{
    (void)dev;
    return EPOLLPRI | EPOLLET;
}

static void linux_close(void *dev)
{
    struct linux_i2c *d = dev;
    if (!d)
        return;
    if (d->adapter_fd >= 0)
        close(d->adapter_fd);
    if (d->mqueue_fd >= 0)
        close(d->mqueue_fd);
    rs_free(d->node, d);
}
