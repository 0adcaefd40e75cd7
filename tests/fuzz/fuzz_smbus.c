/* Fuzz target: arbitrary frames read from the slave-mqueue, through the
 * SMBus transport's whole receive path: the DSP0237 decoder (PEC, byte
 * count, command, addresses), MCTP reassembly, the control responder, the
 * application's handler (which answers) and the node behind them.  Byte 0
 * picks the block size; the rest is a sequence of [length, frame] records,
 * one per read.  Writes succeed except every 7th, which reports a
 * transient error so that the retry path runs too. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <rshare/rshare.h>
#include <rshare/smbus.h>

#include "../../transports/i2c_device.h"
#include "null_transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_dev {
    const uint8_t *data;
    size_t len, pos;
    unsigned writes;
    int evfd;
};

static int dev_write(void *dev, uint8_t addr, const uint8_t *buf, size_t len)
{
    struct fuzz_dev *d = dev;
    (void)addr;
    (void)buf;
    (void)len;
    return ++d->writes % 7 == 0 ? -EAGAIN : 0;
}

static int dev_read(void *dev, uint8_t *buf, size_t cap)
{
    struct fuzz_dev *d = dev;
    if (d->pos >= d->len)
        return 0;
    size_t n = d->data[d->pos++];
    if (n > d->len - d->pos)
        n = d->len - d->pos;
    size_t copy = n < cap ? n : cap;
    memcpy(buf, d->data + d->pos, copy);
    d->pos += n;
    return (int)copy;
}

static int dev_fd(void *dev)
{
    return ((struct fuzz_dev *)dev)->evfd;
}

static uint32_t dev_events(void *dev)
{
    (void)dev;
    return EPOLLIN;
}

static void dev_close(void *dev)
{
    struct fuzz_dev *d = dev;
    close(d->evfd);
    free(d);
}

static const struct rs_i2c_device_ops fuzz_dev_ops = {
    .write = dev_write,
    .read = dev_read,
    .fd = dev_fd,
    .events = dev_events,
    .close = dev_close,
};

static uint64_t now = 1000000;
static uint64_t fuzz_clock(void *u)
{
    (void)u;
    return now;
}

static void echo(rshare_node *node, rshare_request *req, void *u)
{
    (void)node;
    (void)u;
    if (rshare_request_expects_reply(req))
        rshare_request_reply(req, rshare_request_data(req), rshare_request_len(req));
}

static void answer(rshare_node *node, int index, const struct rshare_mctp_message *m, void *u)
{
    (void)u;
    struct rshare_mctp_message reply = *m;
    reply.dst_eid = m->src_eid;
    reply.tag_owner = 0;
    rshare_mctp_send(node, index, &reply);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = 2;
    cfg.clock = (struct rshare_clock){fuzz_clock, NULL};
    cfg.log = (struct rshare_log){null_log, NULL, RSHARE_LOG_ERROR};
    rshare_node *node;
    if (rshare_node_create(&cfg, &node) != 0)
        return 0;
    struct fuzz_dev *dev = calloc(1, sizeof(*dev));
    if (!dev) {
        rshare_node_destroy(node);
        return 0;
    }
    dev->data = data + 1;
    dev->len = size - 1;
    dev->evfd = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC); /* always readable */
    struct rshare_mctp_config mc;
    rshare_mctp_config_init(&mc, sizeof(mc));
    mc.eid = 9;
    mc.allow_set_eid = data[0] & 2;
    struct rshare_smbus_config sc;
    rshare_smbus_config_init(&sc, sizeof(sc));
    sc.address = 0x21;
    sc.block_mode = data[0] & 1 ? RSHARE_SMBUS_BLOCK_32 : RSHARE_SMBUS_BLOCK_255;
    sc.retries = 2;
    sc.mctp = &mc;
    int index = rs_smbus_attach(node, &sc, &fuzz_dev_ops, dev);
    if (index >= 0) {
        rshare_node_set_handler(node, 0x8001, echo, NULL);
        rshare_mctp_set_handler(node, index, answer, NULL);
        rshare_node_add_peer(node, 1, index, "8@0x20");
        while (dev->pos < dev->len) {
            rshare_node_process(node);
            now += 50000;
        }
        for (int i = 0; i < 4; i++) {
            rshare_node_process(node);
            now += 2000000;
        }
    }
    rshare_node_destroy(node);
    return 0;
}
