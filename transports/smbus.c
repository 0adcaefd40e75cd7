/* rshare transport — MCTP over SMBus (DSP0237): the binding between the
 * MCTP core and an I2C device.  It frames each MCTP packet as one block
 * write with a PEC, writes a bounded number per turn of the node's loop
 * (reading received frames in between, so the slave-mqueue never
 * overflows while we hold the bus), retries transient bus errors with a
 * backed-off budget, and checks and counts every received frame. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "i2c_device.h"
#include "mctp.h"
#include "smbus_frame.h"

#define SMBUS_ADDRESS_FIRST 0x08 /* 0x00-0x07 and 0x78-0x7F are reserved */
#define SMBUS_ADDRESS_LAST 0x77
#define DEFAULT_RETRIES 8u
#define MAX_RETRIES 1000u
#define DEFAULT_RETRY_DELAY_US 500u
#define MAX_RETRY_DELAY_US 100000u
#define DEFAULT_PACKETS_PER_TURN 8u
#define MAX_PACKETS_PER_TURN 1024u
#define DEFAULT_BUS_HZ 100000u
/* Frames read per poll call; the node polls again while we report work. */
#define RX_BATCH 64
/* Clocks per byte (8 data bits and the acknowledge bit). */
#define CLOCKS_PER_BYTE 9u

#define CONFIG_MIN_SIZE (offsetof(struct rshare_smbus_config, mctp) + sizeof(void *))

struct smbus_transport {
    struct rs_mctp mctp; /* first: the MCTP core finds its instance here */
    rshare_node *node;
    const struct rs_i2c_device_ops *dev_ops;
    void *dev;
    uint8_t address;
    uint16_t retries;
    uint32_t retry_delay_us;
    uint32_t packets_per_turn;
    int epoll_fd;  /* the transport's descriptor: the device's and kick_fd */
    int kick_fd;   /* eventfd: set while there is something to transmit */
    bool kicked;
    unsigned attempts;       /* failed attempts of the packet at the head */
    uint32_t backoff_us;
    struct rs_timer retry_timer;
    uint8_t tx_frame[RS_SMBUS_FRAME_MAX];
    uint8_t rx_frame[RS_SMBUS_FRAME_MAX + 1]; /* + 1: an overlong frame shows as one */
};

static uint32_t smbus_caps(void *impl);
static size_t smbus_mtu(void *impl);
static int smbus_send(void *impl, const struct rshare_link_addr *dst, const void *packet,
                      size_t len, unsigned flags);
static int smbus_poll(void *impl, rshare_node *node, int transport_index);
static int smbus_fd(void *impl);
static int smbus_addr_format(void *impl, const struct rshare_link_addr *addr, char *buf,
                             size_t buf_len);
static int smbus_addr_parse(void *impl, const char *text, struct rshare_link_addr *addr);
static int smbus_broadcast_addr(void *impl, struct rshare_link_addr *addr);
static void smbus_close(void *impl);

static void kick(struct rs_mctp *mctp);
static int phys_format(const struct rs_mctp *mctp, uint8_t phys, char *buf, size_t len);
static int phys_parse(const struct rs_mctp *mctp, const char *text, uint8_t *phys);
static int resolve_config(rshare_node *node, const struct rshare_smbus_config *given,
                          struct rshare_smbus_config *cfg);
static int open_events(struct smbus_transport *t);
static bool transmit_turn(struct smbus_transport *t);
static void receive_frame(struct smbus_transport *t, size_t len);
static void retry_fire(rshare_node *node, struct rs_timer *timer);
static void set_kick(struct smbus_transport *t, bool on);
static void warn_about_timers(struct smbus_transport *t, uint32_t bus_hz);

static const struct rshare_transport_ops smbus_ops = {
    .struct_size = sizeof(struct rshare_transport_ops),
    .version = RSHARE_TRANSPORT_OPS_VERSION,
    .name = "smbus",
    .caps = smbus_caps,
    .mtu = smbus_mtu,
    .send = smbus_send,
    .poll = smbus_poll,
    .fd = smbus_fd,
    .next_timeout_us = NULL,
    .addr_format = smbus_addr_format,
    .addr_parse = smbus_addr_parse,
    .broadcast_addr = smbus_broadcast_addr,
    .control = rs_mctp_control,
    .close = smbus_close,
};

static const struct rs_mctp_binding smbus_binding = {
    .name = "smbus",
    .has_phys = true,
    .phys_broadcast = -1, /* no broadcast on SMBus: one copy per neighbour */
    .kick = kick,
    .phys_format = phys_format,
    .phys_parse = phys_parse,
};

/* --- public entry points -------------------------------------------------- */

RSHARE_API void rshare_smbus_config_init(struct rshare_smbus_config *config, size_t struct_size)
{
    if (!config || struct_size < sizeof(uint32_t))
        return;
    memset(config, 0, struct_size);
    config->struct_size = struct_size > UINT32_MAX ? UINT32_MAX : (uint32_t)struct_size;
    /* Every field zero = default, resolved by rshare_node_add_smbus(). */
}

RSHARE_API int rshare_node_add_smbus(rshare_node *node, const struct rshare_smbus_config *config)
{
    if (!node)
        return RSHARE_EINVAL;
    struct rshare_smbus_config cfg;
    int rc = resolve_config(node, config, &cfg);
    if (rc < 0)
        return rc;
    void *dev;
    rc = rs_i2c_linux_open(node, cfg.i2c_device, cfg.mqueue_path, &dev);
    if (rc < 0)
        return rc;
    return rs_smbus_attach(node, &cfg, &rs_i2c_linux_ops, dev);
}

int rs_smbus_attach(rshare_node *node, const struct rshare_smbus_config *config,
                    const struct rs_i2c_device_ops *ops, void *dev)
{
    struct rshare_smbus_config cfg;
    int rc = resolve_config(node, config, &cfg);
    if (rc < 0) {
        ops->close(dev);
        return rc;
    }
    struct smbus_transport *t = rs_malloc(node, sizeof(*t));
    if (!t) {
        ops->close(dev);
        return rs_errorf(node, RSHARE_ENOMEM, "no memory for an SMBus transport");
    }
    memset(t, 0, offsetof(struct smbus_transport, tx_frame));
    t->node = node;
    t->dev_ops = ops;
    t->dev = dev;
    t->address = cfg.address;
    t->retries = cfg.retries;
    t->retry_delay_us = cfg.retry_delay_us;
    t->packets_per_turn = cfg.packets_per_turn;
    t->epoll_fd = t->kick_fd = -1;
    rs_timer_init(&t->retry_timer, retry_fire);
    size_t payload = cfg.block_mode == RSHARE_SMBUS_BLOCK_32 ? RS_SMBUS_PAYLOAD_BLOCK32
                                                              : RS_SMBUS_PAYLOAD_BLOCK255;
    rc = rs_mctp_init(&t->mctp, node, &smbus_binding, cfg.mctp, payload);
    if (rc == 0)
        rc = open_events(t);
    if (rc < 0) {
        smbus_close(t);
        return rc;
    }
    /* From here the node owns `t` and closes it if attaching fails. */
    int index = rshare_node_add_transport(node, &smbus_ops, t);
    if (index < 0)
        return index;
    t->mctp.transport_index = index;
    /* Frames may be queued from before we opened the device: read them. */
    set_kick(t, true);
    warn_about_timers(t, cfg.bus_hz);
    return index;
}

/* --- the transport operations ------------------------------------------- */

static uint32_t smbus_caps(void *impl)
{
    (void)impl;
    /* Broadcast is a copy per known endpoint; too slow for block data. */
    return RSHARE_TRANSPORT_CAP_FD | RSHARE_TRANSPORT_CAP_BROADCAST |
           RSHARE_TRANSPORT_CAP_PRIORITY;
}

static size_t smbus_mtu(void *impl)
{
    return rs_mctp_mtu(&((struct smbus_transport *)impl)->mctp);
}

static int smbus_send(void *impl, const struct rshare_link_addr *dst, const void *packet,
                      size_t len, unsigned flags)
{
    return rs_mctp_send_packet(&((struct smbus_transport *)impl)->mctp, dst, packet, len, flags);
}

/* Read what arrived, then take one turn on the bus.  After a turn that
 * wrote something we report no work, so the node's loop runs its timers
 * and other transports before our next turn (the kick descriptor stays
 * set while packets wait). */
static int smbus_poll(void *impl, rshare_node *node, int transport_index)
{
    struct smbus_transport *t = impl;
    (void)node;
    t->mctp.transport_index = transport_index;
    struct epoll_event events[2];
    (void)epoll_wait(t->epoll_fd, events, 2, 0); /* consumes edge-triggered events */
    set_kick(t, false);

    int received = 0;
    while (received < RX_BATCH) {
        int n = t->dev_ops->read(t->dev, t->rx_frame, sizeof(t->rx_frame));
        if (n == 0 || n == -EAGAIN)
            break;
        if (n < 0) {
            rs_log_warn(t->node, "smbus: reading received frames: %s", strerror(-n));
            break;
        }
        receive_frame(t, (size_t)n);
        received++;
    }
    bool wrote = false;
    if (!rs_timer_pending(&t->retry_timer))
        wrote = transmit_turn(t);
    if (received == RX_BATCH || (rs_mctp_tx_pending(&t->mctp) && !rs_timer_pending(&t->retry_timer)))
        set_kick(t, true);
    return wrote ? 0 : received;
}

static int smbus_fd(void *impl)
{
    return ((struct smbus_transport *)impl)->epoll_fd;
}

static int smbus_addr_format(void *impl, const struct rshare_link_addr *addr, char *buf,
                             size_t buf_len)
{
    return rs_mctp_addr_format(&((struct smbus_transport *)impl)->mctp, addr, buf, buf_len);
}

static int smbus_addr_parse(void *impl, const char *text, struct rshare_link_addr *addr)
{
    return rs_mctp_addr_parse(&((struct smbus_transport *)impl)->mctp, text, addr);
}

static int smbus_broadcast_addr(void *impl, struct rshare_link_addr *addr)
{
    return rs_mctp_broadcast_addr(&((struct smbus_transport *)impl)->mctp, addr);
}

static void smbus_close(void *impl)
{
    struct smbus_transport *t = impl;
    if (!t)
        return;
    rs_timer_cancel(t->node, &t->retry_timer);
    rs_mctp_fini(&t->mctp);
    if (t->dev)
        t->dev_ops->close(t->dev);
    if (t->epoll_fd >= 0)
        close(t->epoll_fd);
    if (t->kick_fd >= 0)
        close(t->kick_fd);
    rs_free(t->node, t);
}

/* --- transmit ------------------------------------------------------------ */

static bool transient(int err)
{
    switch (err) {
    case EAGAIN: /* arbitration lost */
    case EPROTO:
    case ETIMEDOUT:
    case ENXIO:  /* address not acknowledged: the target is busy */
    case EIO:
    case EBUSY:
    case EINTR:
        return true;
    default:
        return false;
    }
}

/* Write up to packets_per_turn packets.  A transient error keeps the packet
 * at the head and waits (the retry timer); a packet out of attempts, or a
 * hard error, costs its whole message, which is counted and logged.
 * Returns true when the bus was used. */
static bool transmit_turn(struct smbus_transport *t)
{
    struct rs_mctp *m = &t->mctp;
    bool used = false;
    for (uint32_t k = 0; k < t->packets_per_turn; k++) {
        struct rs_mctp_out *o = rs_mctp_tx_head(m);
        if (!o)
            break;
        size_t len = rs_mctp_tx_build(m, o, o->sent, m->scratch);
        size_t flen = rs_smbus_frame_encode(t->tx_frame, o->phys, t->address, m->scratch, len);
        int rc = t->dev_ops->write(t->dev, o->phys, t->tx_frame + 1, flen - 1);
        used = true;
        if (rc == 0) {
            m->stats.tx_frames++;
            m->stats.tx_bytes += flen;
            t->attempts = 0;
            t->backoff_us = 0;
            rs_mctp_tx_confirm(m, o, 1);
            continue;
        }
        int err = -rc;
        if (transient(err) && t->attempts < t->retries) {
            t->attempts++;
            m->stats.tx_retries++;
            t->backoff_us = t->backoff_us ? t->backoff_us * 2 : t->retry_delay_us;
            if (t->backoff_us > MAX_RETRY_DELAY_US)
                t->backoff_us = MAX_RETRY_DELAY_US;
            rs_timer_schedule(t->node, &t->retry_timer, rs_now_us(t->node) + t->backoff_us);
            return used;
        }
        char why[96];
        snprintf(why, sizeof(why), "write to 0x%02x failed%s: %s", o->phys,
                 transient(err) ? " after every retry" : "", strerror(err));
        t->attempts = 0;
        t->backoff_us = 0;
        rs_mctp_tx_fail(m, o, why);
    }
    return used;
}

static void retry_fire(rshare_node *node, struct rs_timer *timer)
{
    (void)node;
    struct smbus_transport *t =
        (struct smbus_transport *)((char *)timer - offsetof(struct smbus_transport, retry_timer));
    set_kick(t, true);
}

static void kick(struct rs_mctp *mctp)
{
    struct smbus_transport *t = (struct smbus_transport *)mctp;
    if (!rs_timer_pending(&t->retry_timer))
        set_kick(t, true);
}

/* The eventfd is level-triggered: set, the node's descriptor stays
 * readable and the node keeps calling poll(). */
static void set_kick(struct smbus_transport *t, bool on)
{
    if (on == t->kicked)
        return;
    uint64_t value = 1;
    ssize_t n = on ? write(t->kick_fd, &value, sizeof(value))
                   : read(t->kick_fd, &value, sizeof(value));
    (void)n; /* an eventfd in non-blocking mode cannot fail here otherwise */
    t->kicked = on;
}

/* --- receive ------------------------------------------------------------- */

static void receive_frame(struct smbus_transport *t, size_t len)
{
    struct rs_mctp *m = &t->mctp;
    m->stats.rx_frames++;
    m->stats.rx_bytes += len;
    struct rs_smbus_frame f;
    switch (rs_smbus_frame_decode(t->rx_frame, len, t->address, &f)) {
    case RS_SMBUS_OK:
        rs_mctp_rx(m, f.source, f.packet, f.packet_len);
        break;
    case RS_SMBUS_BAD_PEC:
        m->stats.rx_bad_checksum++;
        break;
    case RS_SMBUS_MISADDRESSED:
        m->stats.rx_misaddressed++;
        break;
    case RS_SMBUS_TRUNCATED:
    case RS_SMBUS_BAD_COUNT:
    case RS_SMBUS_BAD_COMMAND:
    case RS_SMBUS_BAD_SOURCE:
        m->stats.rx_bad_frame++;
        break;
    }
}

/* --- set-up -------------------------------------------------------------- */

static int resolve_config(rshare_node *node, const struct rshare_smbus_config *given,
                          struct rshare_smbus_config *cfg)
{
    if (!given)
        return rs_errorf(node, RSHARE_EINVAL, "SMBus config is NULL");
    if (given->struct_size < CONFIG_MIN_SIZE)
        return rs_errorf(node, RSHARE_EVERSION, "SMBus config struct_size %u too small",
                         given->struct_size);
    memset(cfg, 0, sizeof(*cfg));
    memcpy(cfg, given, given->struct_size < sizeof(*cfg) ? given->struct_size : sizeof(*cfg));
    cfg->struct_size = sizeof(*cfg);
    if (cfg->address < SMBUS_ADDRESS_FIRST || cfg->address > SMBUS_ADDRESS_LAST)
        return rs_errorf(node, RSHARE_EINVAL, "SMBus address 0x%02x outside 0x%02x..0x%02x",
                         cfg->address, SMBUS_ADDRESS_FIRST, SMBUS_ADDRESS_LAST);
    if (cfg->block_mode != RSHARE_SMBUS_BLOCK_255 && cfg->block_mode != RSHARE_SMBUS_BLOCK_32)
        return rs_errorf(node, RSHARE_EINVAL, "SMBus block_mode %u unknown", cfg->block_mode);
    if (cfg->retries == 0)
        cfg->retries = DEFAULT_RETRIES;
    if (cfg->retries > MAX_RETRIES)
        return rs_errorf(node, RSHARE_EINVAL, "SMBus retries %u above %u", cfg->retries,
                         MAX_RETRIES);
    if (cfg->retry_delay_us == 0)
        cfg->retry_delay_us = DEFAULT_RETRY_DELAY_US;
    if (cfg->retry_delay_us > MAX_RETRY_DELAY_US)
        return rs_errorf(node, RSHARE_EINVAL, "SMBus retry_delay_us %u above %u",
                         cfg->retry_delay_us, MAX_RETRY_DELAY_US);
    if (cfg->packets_per_turn == 0)
        cfg->packets_per_turn = DEFAULT_PACKETS_PER_TURN;
    if (cfg->packets_per_turn > MAX_PACKETS_PER_TURN)
        return rs_errorf(node, RSHARE_EINVAL, "SMBus packets_per_turn %u above %u",
                         cfg->packets_per_turn, MAX_PACKETS_PER_TURN);
    if (cfg->bus_hz == 0)
        cfg->bus_hz = DEFAULT_BUS_HZ;
    if (!cfg->mctp)
        return rs_errorf(node, RSHARE_EINVAL, "SMBus config needs an MCTP config (the EID)");
    return 0;
}

static int open_events(struct smbus_transport *t)
{
    t->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    t->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (t->kick_fd < 0 || t->epoll_fd < 0)
        return rs_syserr(t->node, "SMBus transport descriptors");
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 0};
    if (epoll_ctl(t->epoll_fd, EPOLL_CTL_ADD, t->kick_fd, &ev) < 0)
        return rs_syserr(t->node, "epoll_ctl SMBus kick descriptor");
    ev.events = t->dev_ops->events(t->dev);
    ev.data.u32 = 1;
    if (epoll_ctl(t->epoll_fd, EPOLL_CTL_ADD, t->dev_ops->fd(t->dev), &ev) < 0)
        return rs_syserr(t->node, "epoll_ctl SMBus receive descriptor");
    return 0;
}

/* The link layer retransmits a fragment RTO after handing it to us; if a
 * whole window takes longer than that to cross the bus, fragments are
 * sent again while the first copies still wait their turn.  Say so once,
 * with the numbers, instead of leaving the user to find out. */
static void warn_about_timers(struct smbus_transport *t, uint32_t bus_hz)
{
    const struct rshare_node_config *nc = &rs_core(t->node)->config;
    size_t payload = t->mctp.packet_payload;
    uint64_t packets = (t->mctp.message_size + RS_MCTP_VENDOR_PREFIX_LEN + payload - 1) / payload;
    uint64_t bytes = packets * (payload + RS_SMBUS_FRAME_OVERHEAD + RS_MCTP_HDR_LEN);
    uint64_t window_us = (uint64_t)nc->link_window * bytes * CLOCKS_PER_BYTE * 1000000u / bus_hz;
    if ((uint64_t)nc->request_retry_ms * 1000u < 2 * window_us)
        rs_log_warn(t->node,
                    "smbus: one link window (%u packets of %u bytes) takes about %llu ms at "
                    "%u Hz but request_retry_ms is %u: raise request_retry_ms to %llu or "
                    "lower link_window, or fragments will be sent twice",
                    nc->link_window, t->mctp.message_size,
                    (unsigned long long)(window_us / 1000), bus_hz, nc->request_retry_ms,
                    (unsigned long long)(2 * window_us / 1000 + 1));
}

/* --- addresses ------------------------------------------------------------ */

static int phys_format(const struct rs_mctp *mctp, uint8_t phys, char *buf, size_t len)
{
    (void)mctp;
    int n = snprintf(buf, len, "0x%02x", phys);
    return n < 0 || (size_t)n >= len ? RSHARE_EINVAL : n;
}

/* "0x1d" or "29": a 7-bit address outside the reserved ranges. */
static int phys_parse(const struct rs_mctp *mctp, const char *text, uint8_t *phys)
{
    (void)mctp;
    unsigned value = 0, base = 10;
    const char *p = text;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
    }
    if (!*p || strlen(p) > 3)
        return RSHARE_EINVAL;
    for (; *p; p++) {
        unsigned digit;
        if (*p >= '0' && *p <= '9')
            digit = (unsigned)(*p - '0');
        else if (base == 16 && *p >= 'a' && *p <= 'f')
            digit = (unsigned)(*p - 'a' + 10);
        else if (base == 16 && *p >= 'A' && *p <= 'F')
            digit = (unsigned)(*p - 'A' + 10);
        else
            return RSHARE_EINVAL;
        value = value * base + digit;
    }
    if (value < SMBUS_ADDRESS_FIRST || value > SMBUS_ADDRESS_LAST)
        return RSHARE_EINVAL;
    *phys = (uint8_t)value;
    return 0;
}
