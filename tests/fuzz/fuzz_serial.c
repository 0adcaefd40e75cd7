/* Fuzz target: arbitrary bytes arriving on a serial line, through the serial
 * transport's whole receive path: the DSP0253 deframer, MCTP reassembly, the
 * control responder, the application's handler (which answers), and the
 * node behind them.  Byte 0 picks point to point or RS-485 with echo and
 * how many bytes each read returns; the rest is the line's input.  Time
 * passes between reads so that reassembly timeouts and turns run too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <rshare/rshare.h>
#include <rshare/serial.h>

#include "../../transports/serial_line.h"
#include "null_transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_line {
    const uint8_t *data;
    size_t len, pos, chunk;
    int evfd;
};

static int line_read(void *line, uint8_t *buf, size_t cap)
{
    struct fuzz_line *l = line;
    size_t n = l->len - l->pos;
    if (n > l->chunk)
        n = l->chunk;
    if (n > cap)
        n = cap;
    memcpy(buf, l->data + l->pos, n);
    l->pos += n;
    return (int)n;
}

static int line_write(void *line, const uint8_t *buf, size_t len)
{
    (void)line;
    (void)buf;
    return (int)len;
}

static int line_pending(void *line)
{
    (void)line;
    return 0;
}

static void line_want_write(void *line, bool on)
{
    (void)line;
    (void)on;
}

static int line_driver(void *line, bool on)
{
    (void)line;
    (void)on;
    return 0;
}

static int line_fd(void *line)
{
    return ((struct fuzz_line *)line)->evfd;
}

static void line_close(void *line)
{
    struct fuzz_line *l = line;
    close(l->evfd);
    free(l);
}

static const struct rs_serial_line_ops fuzz_line_ops = {
    .read = line_read,
    .write = line_write,
    .tx_pending = line_pending,
    .want_write = line_want_write,
    .set_driver = line_driver,
    .fd = line_fd,
    .close = line_close,
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
    struct fuzz_line *line = calloc(1, sizeof(*line));
    if (!line) {
        rshare_node_destroy(node);
        return 0;
    }
    line->data = data + 1;
    line->len = size - 1;
    line->chunk = 1 + (data[0] >> 1) * 8;
    line->evfd = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC); /* always readable */
    struct rshare_mctp_config mc;
    rshare_mctp_config_init(&mc, sizeof(mc));
    mc.eid = 9;
    mc.allow_set_eid = data[0] & 2;
    struct rshare_serial_config sc;
    rshare_serial_config_init(&sc, sizeof(sc));
    sc.multidrop = data[0] & 1;
    sc.address = 1;
    sc.nodes = 4;
    sc.echo = sc.multidrop;
    sc.mctp = &mc;
    int index = rs_serial_attach(node, &sc,
                                 sc.multidrop ? RSHARE_SERIAL_TURNAROUND_RTS
                                              : RSHARE_SERIAL_TURNAROUND_NONE,
                                 &fuzz_line_ops, line);
    if (index >= 0) {
        rshare_node_set_handler(node, 0x8001, echo, NULL);
        rshare_mctp_set_handler(node, index, answer, NULL);
        rshare_node_add_peer(node, 1, index, sc.multidrop ? "8@2" : "8");
        while (line->pos < line->len) {
            rshare_node_process(node);
            now += 50000;
        }
        rshare_node_process(node);
        now += 5000000;
        rshare_node_process(node);
    }
    rshare_node_destroy(node);
    return 0;
}
