/* rshare transport — MCTP over a serial line (DSP0253): the binding between
 * the MCTP core and a line.  Point to point it streams frames, keeping no
 * more than about two frames in the line's buffer so that urgent packets
 * overtake bulk ones.  On an RS-485 bus it takes turns (rs485.c), switches
 * the transceiver around, and with echo confirms every frame of a turn by
 * hearing it come back intact; a collision restarts the message. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mctp.h"
#include "rs485.h"
#include "serial_frame.h"
#include "serial_line.h"

#define DEFAULT_NODES 16u
#define DEFAULT_BURST 8u
#define MAX_BURST 64u
#define DEFAULT_COLLISION_RETRIES 8u
#define MAX_COLLISION_RETRIES 1000u
#define DEFAULT_PACKET_PAYLOAD 251u
#define MIN_PACKET_PAYLOAD 64u /* the MCTP baseline every endpoint accepts */
#define MAX_PACKET_PAYLOAD (RS_SERIAL_PACKET_MAX - RS_MCTP_HDR_LEN)
#define MAX_BAUD 4000000u
#define BITS_PER_CHAR 10u /* start, 8 data, stop */
/* Default silence and slot: characters plus what a Linux receive path
 * needs to notice a byte (FIFO threshold, interrupt, tty layer). */
#define DEFAULT_GUARD_CHARS 4u
#define DEFAULT_GUARD_MARGIN_US 2000u
#define DEFAULT_SLOT_CHARS 2u
#define DEFAULT_SLOT_MARGIN_US 1000u
/* Point to point: start a new frame only while the line holds less than
 * this, so an urgent packet waits behind at most about two frames. */
#define LOW_WATER RS_SERIAL_FRAME_MAX
#define RX_CHUNK 512
#define RX_ROUNDS 32
/* After a line error, the next message is tried this much later. */
#define LINE_RETRY_US 100000u

#define CONFIG_MIN_SIZE (offsetof(struct rshare_serial_config, mctp) + sizeof(void *))

enum serial_state {
    STATE_IDLE,     /* nothing on its way out */
    STATE_WAIT,     /* multi-drop: waiting for our slot */
    STATE_SENDING,  /* handing frames to the line */
    STATE_DRAINING, /* multi-drop: all handed over, waiting for the last stop bit */
    STATE_ECHO,     /* multi-drop with echo: waiting for our frames to come back */
};

struct serial_transport {
    struct rs_mctp mctp; /* first: the MCTP core finds its instance here */
    rshare_node *node;
    const struct rs_serial_line_ops *line_ops;
    void *line;
    bool multidrop, echo;
    uint8_t address;
    uint8_t turnaround;
    uint16_t burst, collision_retries;
    uint64_t char_ns;
    enum serial_state state;
    struct rs_timer timer;
    struct rs_serial_deframer rx;
    struct rs_rs485_arbiter arb;
    uint64_t ready_us;
    uint64_t rx_last_us; /* multi-drop: when bytes last arrived */
    int frames_seen;

    /* the frame being handed to the line */
    size_t tx_len, tx_off;
    /* multi-drop: the turn, packets of one message not yet confirmed */
    struct rs_mctp_out *turn_msg;
    unsigned turn_packets;
    unsigned echo_seen;
    bool echo_bad;
    uint16_t echo_fcs[MAX_BURST];

    uint8_t tx_buf[RS_SERIAL_FRAME_MAX];
    uint8_t rx_buf[RX_CHUNK];
};

static uint32_t serial_caps(void *impl);
static size_t serial_mtu(void *impl);
static int serial_send(void *impl, const struct rshare_link_addr *dst, const void *packet,
                       size_t len, unsigned flags);
static int serial_poll(void *impl, rshare_node *node, int transport_index);
static int serial_fd(void *impl);
static int serial_addr_format(void *impl, const struct rshare_link_addr *addr, char *buf,
                              size_t buf_len);
static int serial_addr_parse(void *impl, const char *text, struct rshare_link_addr *addr);
static int serial_broadcast_addr(void *impl, struct rshare_link_addr *addr);
static void serial_close(void *impl);

static void kick(struct rs_mctp *mctp);
static int phys_format(const struct rs_mctp *mctp, uint8_t phys, char *buf, size_t len);
static int phys_parse(const struct rs_mctp *mctp, const char *text, uint8_t *phys);
static void pump(struct serial_transport *t);
static bool next_frame(struct serial_transport *t);
static void schedule_start(struct serial_transport *t);
static void begin_turn(struct serial_transport *t);
static void finish_turn(struct serial_transport *t, bool intact);
static void timer_fire(rshare_node *node, struct rs_timer *timer);
static void on_frame(void *ctx, enum rs_serial_status status, const struct rs_serial_frame *f);
static void line_failed(struct serial_transport *t, int err, const char *what);
static void arm(struct serial_transport *t, uint64_t chars, uint64_t extra_us);

static const struct rshare_transport_ops serial_ops = {
    .struct_size = sizeof(struct rshare_transport_ops),
    .version = RSHARE_TRANSPORT_OPS_VERSION,
    .name = "serial",
    .caps = serial_caps,
    .mtu = serial_mtu,
    .send = serial_send,
    .poll = serial_poll,
    .fd = serial_fd,
    .next_timeout_us = NULL,
    .addr_format = serial_addr_format,
    .addr_parse = serial_addr_parse,
    .broadcast_addr = serial_broadcast_addr,
    .control = rs_mctp_control,
    .close = serial_close,
};

static const struct rs_mctp_binding p2p_binding = {
    .name = "serial",
    .has_phys = false,
    .phys_broadcast = 0,
    .kick = kick,
    .phys_format = phys_format,
    .phys_parse = phys_parse,
};

static const struct rs_mctp_binding multidrop_binding = {
    .name = "rs485",
    .has_phys = true,
    .phys_broadcast = RS_SERIAL_ADDR_BROADCAST,
    .kick = kick,
    .phys_format = phys_format,
    .phys_parse = phys_parse,
};

/* --- public entry points -------------------------------------------------- */

RSHARE_API void rshare_serial_config_init(struct rshare_serial_config *config, size_t struct_size)
{
    if (!config || struct_size < sizeof(uint32_t))
        return;
    memset(config, 0, struct_size);
    config->struct_size = struct_size > UINT32_MAX ? UINT32_MAX : (uint32_t)struct_size;
    if (struct_size >= offsetof(struct rshare_serial_config, fd) + sizeof(int))
        config->fd = -1;
    /* Every other field zero = default, resolved by rshare_node_add_serial(). */
}

RSHARE_API int rshare_node_add_serial(rshare_node *node, const struct rshare_serial_config *config)
{
    if (!node)
        return RSHARE_EINVAL;
    struct rshare_serial_config cfg;
    int rc = rs_serial_resolve_config(node, config, &cfg);
    if (rc < 0)
        return rc;
    uint8_t turnaround;
    void *line;
    rc = rs_serial_tty_open(node, &cfg, &turnaround, &line);
    if (rc < 0)
        return rc;
    return rs_serial_attach(node, &cfg, turnaround, &rs_serial_tty_ops, line);
}

int rs_serial_attach(rshare_node *node, const struct rshare_serial_config *config,
                     uint8_t turnaround, const struct rs_serial_line_ops *ops, void *line)
{
    struct rshare_serial_config cfg;
    int rc = rs_serial_resolve_config(node, config, &cfg);
    if (rc < 0) {
        ops->close(line);
        return rc;
    }
    struct serial_transport *t = rs_malloc(node, sizeof(*t));
    if (!t) {
        ops->close(line);
        return rs_errorf(node, RSHARE_ENOMEM, "no memory for a serial transport");
    }
    memset(t, 0, offsetof(struct serial_transport, tx_buf));
    t->node = node;
    t->line_ops = ops;
    t->line = line;
    t->multidrop = cfg.multidrop != 0;
    t->echo = t->multidrop && cfg.echo;
    t->address = cfg.address;
    t->turnaround = turnaround;
    t->burst = cfg.burst;
    t->collision_retries = cfg.collision_retries;
    t->char_ns = (uint64_t)BITS_PER_CHAR * 1000000000u / cfg.baud;
    t->state = STATE_IDLE;
    rs_timer_init(&t->timer, timer_fire);
    rs_serial_deframer_init(&t->rx, t->multidrop);
    rs_rs485_init(&t->arb, cfg.nodes, cfg.address, cfg.guard_us, cfg.slot_us);
    rc = rs_mctp_init(&t->mctp, node, t->multidrop ? &multidrop_binding : &p2p_binding, cfg.mctp,
                      cfg.packet_payload);
    if (rc < 0) {
        serial_close(t);
        return rc;
    }
    /* From here the node owns `t` and closes it if attaching fails. */
    int index = rshare_node_add_transport(node, &serial_ops, t);
    if (index >= 0)
        t->mctp.transport_index = index;
    return index;
}

int rs_serial_resolve_config(rshare_node *node, const struct rshare_serial_config *given,
                             struct rshare_serial_config *cfg)
{
    if (!given)
        return rs_errorf(node, RSHARE_EINVAL, "serial config is NULL");
    if (given->struct_size < CONFIG_MIN_SIZE)
        return rs_errorf(node, RSHARE_EVERSION, "serial config struct_size %u too small",
                         given->struct_size);
    memset(cfg, 0, sizeof(*cfg));
    memcpy(cfg, given, given->struct_size < sizeof(*cfg) ? given->struct_size : sizeof(*cfg));
    cfg->struct_size = sizeof(*cfg);
    if (cfg->baud == 0)
        cfg->baud = RSHARE_SERIAL_DEFAULT_BAUD;
    if (cfg->baud > MAX_BAUD)
        return rs_errorf(node, RSHARE_EINVAL, "serial: %u baud above %u", cfg->baud, MAX_BAUD);
    if (cfg->turnaround > RSHARE_SERIAL_TURNAROUND_RTS)
        return rs_errorf(node, RSHARE_EINVAL, "serial: turnaround mode %u unknown",
                         cfg->turnaround);
    if (!cfg->multidrop && (cfg->turnaround == RSHARE_SERIAL_TURNAROUND_KERNEL ||
                            cfg->turnaround == RSHARE_SERIAL_TURNAROUND_RTS))
        return rs_errorf(node, RSHARE_EINVAL,
                         "serial: a half-duplex turnaround needs multidrop (taking turns)");
    if (!cfg->mctp)
        return rs_errorf(node, RSHARE_EINVAL, "serial config needs an MCTP config (the EID)");
    if (cfg->packet_payload == 0)
        cfg->packet_payload = DEFAULT_PACKET_PAYLOAD;
    if (cfg->packet_payload < MIN_PACKET_PAYLOAD || cfg->packet_payload > MAX_PACKET_PAYLOAD)
        return rs_errorf(node, RSHARE_EINVAL, "serial: packet_payload %u outside %u..%u",
                         cfg->packet_payload, MIN_PACKET_PAYLOAD, MAX_PACKET_PAYLOAD);
    uint64_t char_us = ((uint64_t)BITS_PER_CHAR * 1000000u + cfg->baud - 1) / cfg->baud;
    if (cfg->nodes == 0)
        cfg->nodes = DEFAULT_NODES;
    if (cfg->burst == 0)
        cfg->burst = DEFAULT_BURST;
    if (cfg->collision_retries == 0)
        cfg->collision_retries = DEFAULT_COLLISION_RETRIES;
    if (cfg->guard_us == 0)
        cfg->guard_us = (uint32_t)(DEFAULT_GUARD_CHARS * char_us + DEFAULT_GUARD_MARGIN_US);
    if (cfg->slot_us == 0)
        cfg->slot_us = (uint32_t)(DEFAULT_SLOT_CHARS * char_us + DEFAULT_SLOT_MARGIN_US);
    if (!cfg->multidrop)
        return 0;
    if (cfg->nodes < 2 || cfg->nodes > RS_SERIAL_ADDR_BROADCAST)
        return rs_errorf(node, RSHARE_EINVAL, "serial: nodes %u outside 2..255", cfg->nodes);
    if (cfg->address >= cfg->nodes)
        return rs_errorf(node, RSHARE_EINVAL,
                         "serial: drop address %u must be below nodes (%u): each address owns "
                         "one slot",
                         cfg->address, cfg->nodes);
    if (cfg->burst > MAX_BURST)
        return rs_errorf(node, RSHARE_EINVAL, "serial: burst %u above %u", cfg->burst, MAX_BURST);
    if (cfg->collision_retries > MAX_COLLISION_RETRIES)
        return rs_errorf(node, RSHARE_EINVAL, "serial: collision_retries %u above %u",
                         cfg->collision_retries, MAX_COLLISION_RETRIES);
    if (cfg->slot_us < char_us)
        return rs_errorf(node, RSHARE_EINVAL,
                         "serial: slot_us %u shorter than one character (%llu us)", cfg->slot_us,
                         (unsigned long long)char_us);
    if (cfg->guard_us < 2 * char_us)
        return rs_errorf(node, RSHARE_EINVAL,
                         "serial: guard_us %u shorter than two characters (%llu us)",
                         cfg->guard_us, (unsigned long long)(2 * char_us));
    return 0;
}

/* --- the transport operations ------------------------------------------- */

static uint32_t serial_caps(void *impl)
{
    (void)impl;
    return RSHARE_TRANSPORT_CAP_FD | RSHARE_TRANSPORT_CAP_BROADCAST |
           RSHARE_TRANSPORT_CAP_PRIORITY;
}

static size_t serial_mtu(void *impl)
{
    return rs_mctp_mtu(&((struct serial_transport *)impl)->mctp);
}

static int serial_send(void *impl, const struct rshare_link_addr *dst, const void *packet,
                       size_t len, unsigned flags)
{
    return rs_mctp_send_packet(&((struct serial_transport *)impl)->mctp, dst, packet, len,
                               flags);
}

static int serial_poll(void *impl, rshare_node *node, int transport_index)
{
    struct serial_transport *t = impl;
    (void)node;
    t->mctp.transport_index = transport_index;
    t->frames_seen = 0;
    for (int round = 0; round < RX_ROUNDS; round++) {
        int n = t->line_ops->read(t->line, t->rx_buf, sizeof(t->rx_buf));
        if (n < 0) {
            rs_log_warn(t->node, "serial: read: %s", strerror(-n));
            break;
        }
        if (n == 0)
            break;
        t->mctp.stats.rx_bytes += (uint64_t)n;
        if (t->multidrop) {
            /* No frame pauses for a whole guard time: what the receiver
             * holds from before such a silence is dead (collision debris)
             * and must not be joined to what comes now. */
            uint64_t now = rs_now_us(t->node);
            if (now - t->rx_last_us > t->arb.guard_us)
                rs_serial_deframer_flush(&t->rx, on_frame, t);
            t->rx_last_us = now;
            rs_rs485_activity(&t->arb, now);
        }
        rs_serial_deframe(&t->rx, t->rx_buf, (size_t)n, on_frame, t);
    }
    if (t->tx_off < t->tx_len)
        pump(t);
    return t->frames_seen;
}

static int serial_fd(void *impl)
{
    struct serial_transport *t = impl;
    return t->line_ops->fd(t->line);
}

static int serial_addr_format(void *impl, const struct rshare_link_addr *addr, char *buf,
                              size_t buf_len)
{
    return rs_mctp_addr_format(&((struct serial_transport *)impl)->mctp, addr, buf, buf_len);
}

static int serial_addr_parse(void *impl, const char *text, struct rshare_link_addr *addr)
{
    return rs_mctp_addr_parse(&((struct serial_transport *)impl)->mctp, text, addr);
}

static int serial_broadcast_addr(void *impl, struct rshare_link_addr *addr)
{
    return rs_mctp_broadcast_addr(&((struct serial_transport *)impl)->mctp, addr);
}

static void serial_close(void *impl)
{
    struct serial_transport *t = impl;
    if (!t)
        return;
    rs_timer_cancel(t->node, &t->timer);
    /* Never leave the bus driven: that would jam every other node. */
    if (t->turnaround == RSHARE_SERIAL_TURNAROUND_RTS && t->state != STATE_IDLE)
        (void)t->line_ops->set_driver(t->line, false);
    rs_mctp_fini(&t->mctp);
    if (t->line)
        t->line_ops->close(t->line);
    rs_free(t->node, t);
}

/* --- transmit ------------------------------------------------------------ */

static void kick(struct rs_mctp *mctp)
{
    struct serial_transport *t = (struct serial_transport *)mctp;
    if (t->state != STATE_IDLE)
        return; /* the running turn or stream picks the message up */
    if (!t->multidrop) {
        t->state = STATE_SENDING;
        pump(t);
        return;
    }
    t->ready_us = rs_now_us(t->node);
    schedule_start(t);
}

/* Hand frames to the line until it is full, the turn is complete, or (point
 * to point) the line holds enough for now. */
static void pump(struct serial_transport *t)
{
    for (;;) {
        if (t->tx_off < t->tx_len) {
            int n = t->line_ops->write(t->line, t->tx_buf + t->tx_off, t->tx_len - t->tx_off);
            if (n < 0) {
                line_failed(t, -n, "write");
                return;
            }
            t->tx_off += (size_t)n;
            if (t->tx_off < t->tx_len) {
                t->line_ops->want_write(t->line, true);
                return;
            }
            t->mctp.stats.tx_frames++;
            t->mctp.stats.tx_bytes += t->tx_len;
            t->tx_off = t->tx_len = 0;
            if (!t->multidrop) {
                rs_mctp_tx_confirm(&t->mctp, t->turn_msg, 1);
                t->turn_msg = NULL; /* freed with its last packet */
            }
        }
        t->line_ops->want_write(t->line, false);
        if (!next_frame(t))
            return;
    }
}

/* Encode the next frame into tx_buf.  False when there is none for now;
 * then the state says what happens next. */
static bool next_frame(struct serial_transport *t)
{
    struct rs_mctp *m = &t->mctp;
    struct rs_mctp_out *o;
    unsigned index;
    if (!t->multidrop) {
        int pending = t->line_ops->tx_pending(t->line);
        if (pending > LOW_WATER) {
            arm(t, (uint64_t)(pending - LOW_WATER), 0);
            return false;
        }
        if (!(o = rs_mctp_tx_head(m))) {
            t->state = STATE_IDLE;
            return false;
        }
        index = o->sent;
    } else {
        o = t->turn_msg;
        if (t->turn_packets == t->burst || o->sent + t->turn_packets == o->packets) {
            /* Everything of this turn is in the line: wait for it to leave. */
            t->state = STATE_DRAINING;
            int pending = t->line_ops->tx_pending(t->line);
            arm(t, pending > 0 ? (uint64_t)pending : 0, 0);
            return false;
        }
        index = o->sent + t->turn_packets;
    }
    size_t len = rs_mctp_tx_build(m, o, index, m->scratch);
    uint16_t fcs = 0;
    t->tx_len = rs_serial_frame_encode(t->tx_buf, sizeof(t->tx_buf), t->multidrop, o->phys,
                                       t->address, m->scratch, len, &fcs);
    t->tx_off = 0;
    t->turn_msg = o;
    if (t->multidrop)
        t->echo_fcs[t->turn_packets++] = fcs;
    return true;
}

/* Multi-drop: wait for our slot, or start now when it has come. */
static void schedule_start(struct serial_transport *t)
{
    uint64_t now = rs_now_us(t->node);
    if (!rs_mctp_tx_pending(&t->mctp)) {
        t->state = STATE_IDLE;
        return;
    }
    uint64_t start = rs_rs485_start_time(&t->arb, now, t->ready_us);
    if (start <= now) {
        begin_turn(t);
        return;
    }
    t->state = STATE_WAIT;
    rs_timer_schedule(t->node, &t->timer, start);
}

static void begin_turn(struct serial_transport *t)
{
    /* Debris from before the silence is not part of our echo. */
    rs_serial_deframer_flush(&t->rx, on_frame, t);
    t->turn_msg = rs_mctp_tx_head(&t->mctp);
    t->turn_packets = 0;
    t->echo_seen = 0;
    t->echo_bad = false;
    if (t->turnaround == RSHARE_SERIAL_TURNAROUND_RTS) {
        int rc = t->line_ops->set_driver(t->line, true);
        if (rc < 0) {
            line_failed(t, -rc, "RTS on");
            return;
        }
    }
    rs_rs485_activity(&t->arb, rs_now_us(t->node));
    t->state = STATE_SENDING;
    pump(t);
}

/* The turn is over and, with echo, heard back (or not). */
static void finish_turn(struct serial_transport *t, bool intact)
{
    struct rs_mctp *m = &t->mctp;
    struct rs_mctp_out *o = t->turn_msg;
    /* The bus has been silent since the drain (which marked the activity);
     * the echo wait is not activity, or our slots would drift. */
    /* Who spoke last is what everyone heard last: with echo, our receiver
     * has already noted it frame by frame (our address, or -1 after a
     * damaged one), exactly as the other nodes did. */
    if (!t->echo)
        rs_rs485_frame(&t->arb, t->address);
    if (intact) {
        rs_mctp_tx_confirm(m, o, t->turn_packets);
    } else {
        m->stats.collisions++;
        if (o->restarts < t->collision_retries) {
            m->stats.tx_retries++;
            rs_mctp_tx_rewind(m, o);
        } else {
            char why[64];
            snprintf(why, sizeof(why), "damaged on the bus %u times", o->restarts + 1u);
            rs_mctp_tx_fail(m, o, why);
        }
    }
    t->turn_msg = NULL;
    t->turn_packets = 0;
    t->ready_us = rs_now_us(t->node);
    schedule_start(t);
}

static void timer_fire(rshare_node *node, struct rs_timer *timer)
{
    struct serial_transport *t =
        (struct serial_transport *)((char *)timer - offsetof(struct serial_transport, timer));
    (void)node;
    switch (t->state) {
    case STATE_SENDING: /* point to point: the line has room again */
        pump(t);
        break;
    case STATE_WAIT:
        schedule_start(t);
        break;
    case STATE_DRAINING: {
        int pending = t->line_ops->tx_pending(t->line);
        if (pending > 0) {
            arm(t, (uint64_t)pending, 0);
            break;
        }
        if (t->turnaround == RSHARE_SERIAL_TURNAROUND_RTS) {
            int rc = t->line_ops->set_driver(t->line, false);
            if (rc < 0)
                rs_log_warn(t->node, "serial: RTS off: %s", strerror(-rc));
        }
        rs_rs485_activity(&t->arb, rs_now_us(t->node));
        if (t->echo) {
            /* Our last bytes come back within the receive latency: the
             * silence that ends a turn covers it. */
            t->state = STATE_ECHO;
            arm(t, 0, t->arb.guard_us);
        } else {
            finish_turn(t, true);
        }
        break;
    }
    case STATE_ECHO:
        finish_turn(t, !t->echo_bad && t->echo_seen == t->turn_packets);
        break;
    case STATE_IDLE:
        break;
    }
}

/* A line that refuses bytes loses the frame in hand and its message; the
 * next message is tried a little later, so a broken line costs one message
 * (and one warning) per attempt rather than a busy loop. */
static void line_failed(struct serial_transport *t, int err, const char *what)
{
    char why[64];
    snprintf(why, sizeof(why), "serial line %s: %s", what, strerror(err));
    t->tx_off = t->tx_len = 0;
    t->line_ops->want_write(t->line, false);
    if (t->turnaround == RSHARE_SERIAL_TURNAROUND_RTS)
        (void)t->line_ops->set_driver(t->line, false);
    struct rs_mctp_out *o = t->turn_msg ? t->turn_msg : rs_mctp_tx_head(&t->mctp);
    if (o)
        rs_mctp_tx_fail(&t->mctp, o, why);
    t->turn_msg = NULL;
    t->turn_packets = 0;
    if (!rs_mctp_tx_pending(&t->mctp)) {
        t->state = STATE_IDLE;
        rs_timer_cancel(t->node, &t->timer);
        return;
    }
    /* SENDING resumes the stream, WAIT asks for a slot again. */
    t->state = t->multidrop ? STATE_WAIT : STATE_SENDING;
    arm(t, 0, LINE_RETRY_US);
}

/* Timer in `chars` character times plus `extra_us`. */
static void arm(struct serial_transport *t, uint64_t chars, uint64_t extra_us)
{
    uint64_t us = (chars * t->char_ns + 999) / 1000 + extra_us;
    rs_timer_schedule(t->node, &t->timer, rs_now_us(t->node) + (us ? us : 1));
}

/* --- receive ------------------------------------------------------------- */

static bool in_turn(const struct serial_transport *t)
{
    return t->state == STATE_SENDING || t->state == STATE_DRAINING || t->state == STATE_ECHO;
}

static void on_frame(void *ctx, enum rs_serial_status status, const struct rs_serial_frame *f)
{
    struct serial_transport *t = ctx;
    struct rs_mctp *m = &t->mctp;
    m->stats.rx_frames++;
    t->frames_seen++;
    if (status != RS_SERIAL_OK) {
        if (status == RS_SERIAL_BAD_FCS)
            m->stats.rx_bad_checksum++;
        else
            m->stats.rx_bad_frame++;
        if (t->multidrop) {
            rs_rs485_frame(&t->arb, -1);
            if (in_turn(t))
                t->echo_bad = true;
        }
        return;
    }
    if (!t->multidrop) {
        rs_mctp_rx(m, 0, f->packet, f->packet_len);
        return;
    }
    rs_rs485_frame(&t->arb, f->src);
    if (f->src == t->address) {
        /* Our own frame, heard back through the transceiver. */
        if (in_turn(t) && t->echo_seen < t->turn_packets) {
            if (f->fcs != t->echo_fcs[t->echo_seen])
                t->echo_bad = true;
            t->echo_seen++;
        }
        return;
    }
    if (f->dst != t->address && f->dst != RS_SERIAL_ADDR_BROADCAST) {
        m->stats.rx_overheard++;
        return;
    }
    rs_mctp_rx(m, f->src, f->packet, f->packet_len);
}

/* --- addresses ------------------------------------------------------------ */

static int phys_format(const struct rs_mctp *mctp, uint8_t phys, char *buf, size_t len)
{
    (void)mctp;
    int n = snprintf(buf, len, "%u", phys);
    return n < 0 || (size_t)n >= len ? RSHARE_EINVAL : n;
}

/* A drop address in decimal, 0..254. */
static int phys_parse(const struct rs_mctp *mctp, const char *text, uint8_t *phys)
{
    (void)mctp;
    unsigned value = 0;
    size_t n = strlen(text);
    if (n == 0 || n > 3)
        return RSHARE_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (text[i] < '0' || text[i] > '9')
            return RSHARE_EINVAL;
        value = value * 10 + (unsigned)(text[i] - '0');
    }
    if (value >= RS_SERIAL_ADDR_BROADCAST)
        return RSHARE_EINVAL;
    *phys = (uint8_t)value;
    return 0;
}
