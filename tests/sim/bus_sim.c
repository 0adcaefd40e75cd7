/* Simulated SMBus segments and serial lines on one virtual clock (see
 * bus_sim.h).  They sit behind the transports' device vtables, so the
 * transports run their real code paths and only the wire is simulated:
 * byte and transaction timing, bus-free time, I2C arbitration (wired-AND,
 * lowest bit wins), RS-485 collisions and undriven bytes, receive latency,
 * bounded receive queues, and seeded noise. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bus_sim.h"
#include "serial_frame.h"

#define START_NS UINT64_C(1000000000)
#define MAX_BUSES 8
#define MAX_DEVICES 32
#define MAX_MASTERS 8
#define MAX_PORTS 16
#define WIRE_MAX 300
#define MQ_DEPTH_DEFAULT 32
#define MQ_MSG_DEFAULT 260
#define MQ_MSG_MAX 512
#define SERIAL_TX_FIFO 4096
#define SERIAL_RX_BUF 65536
#define SERIAL_INFLIGHT 8192
#define PPM 1000000u
/* Steps at one instant before time is nudged on (a node spinning on
 * immediate work would otherwise stop the clock). */
#define STALL_STEPS 10000u

/* --- the simulation ------------------------------------------------------ */

struct bus_sim {
    uint64_t now_ns;
    uint64_t rng;
    struct sim_smbus *smbus[MAX_BUSES];
    size_t smbus_count;
    struct sim_serial *serial[MAX_BUSES];
    size_t serial_count;
};

struct sim_i2c {
    struct sim_smbus *bus;
    uint8_t address;
    unsigned depth, msg_size;
    int evfd;
    bool signalled, closed;
    struct {
        uint16_t len;
        uint8_t data[MQ_MSG_MAX];
    } * queue;
    unsigned head, count;
    int fail_err;
    unsigned fail_count;
    uint64_t delivered, intact; /* frames put in the queue, and undamaged ones */
};

struct sim_master {
    uint8_t wire[WIRE_MAX]; /* address byte first */
    size_t len;
    uint32_t period_us, jitter_us;
    uint64_t next_ns;
};

struct sim_smbus {
    struct bus_sim *sim;
    uint64_t bit_ns, start_ns, stop_ns, buf_ns;
    uint64_t free_at_ns;
    struct sim_i2c *devices[MAX_DEVICES];
    size_t device_count;
    struct sim_master masters[MAX_MASTERS];
    size_t master_count;
    struct bus_sim_noise noise;
    struct sim_smbus_stats stats;
};

struct inflight {
    uint64_t at_ns;
    uint8_t byte;
};

struct sim_port {
    struct sim_serial *bus;
    bool echo, rts, driver_on, closed, want_write;
    int evfd;
    bool signalled;
    uint8_t tx[SERIAL_TX_FIFO];
    size_t tx_head, tx_count;
    bool busy;
    uint64_t cur_start, cur_end;   /* the byte in the shift register */
    uint64_t last_start, last_end; /* the byte before it */
    uint8_t *rx;
    size_t rx_head, rx_count;
    struct inflight *inflight;
    size_t in_head, in_count;
    bool in_frame, frame_damaged; /* what this port sends */
    unsigned dropout;
};

struct sim_serial {
    struct bus_sim *sim;
    uint64_t char_ns;
    bool shared;
    uint64_t latency_ns;
    struct sim_port *ports[MAX_PORTS];
    size_t port_count;
    struct bus_sim_noise noise;
    struct sim_serial_stats stats;
};

static uint64_t next_random(struct bus_sim *sim);
static bool chance(struct bus_sim *sim, uint32_t ppm);
static uint64_t sim_clock_now(void *user_data);
static void smbus_advance(struct sim_smbus *bus, uint64_t now);
static uint64_t smbus_next_event(const struct sim_smbus *bus);
static void serial_advance(struct sim_serial *bus, uint64_t now);
static uint64_t serial_next_event(const struct sim_serial *bus);
static void signal_fd(int fd, bool *signalled, bool on);

struct bus_sim *bus_sim_create(uint64_t seed)
{
    struct bus_sim *sim = calloc(1, sizeof(*sim));
    if (!sim)
        return NULL;
    sim->now_ns = START_NS;
    sim->rng = seed ^ UINT64_C(0x6275732d73696d21);
    return sim;
}

static void i2c_free(struct sim_i2c *d)
{
    if (!d->closed)
        close(d->evfd);
    free(d->queue);
    free(d);
}

static void port_free(struct sim_port *p)
{
    if (!p->closed)
        close(p->evfd);
    free(p->rx);
    free(p->inflight);
    free(p);
}

void bus_sim_destroy(struct bus_sim *sim)
{
    if (!sim)
        return;
    for (size_t i = 0; i < sim->smbus_count; i++) {
        for (size_t d = 0; d < sim->smbus[i]->device_count; d++)
            i2c_free(sim->smbus[i]->devices[d]);
        free(sim->smbus[i]);
    }
    for (size_t i = 0; i < sim->serial_count; i++) {
        for (size_t p = 0; p < sim->serial[i]->port_count; p++)
            port_free(sim->serial[i]->ports[p]);
        free(sim->serial[i]);
    }
    free(sim);
}

struct rshare_clock bus_sim_clock(struct bus_sim *sim)
{
    struct rshare_clock clock = {sim_clock_now, sim};
    return clock;
}

uint64_t bus_sim_now_ns(const struct bus_sim *sim)
{
    return sim->now_ns;
}

static uint64_t sim_clock_now(void *user_data)
{
    return ((struct bus_sim *)user_data)->now_ns / 1000u;
}

static void advance_buses(struct bus_sim *sim)
{
    for (size_t i = 0; i < sim->smbus_count; i++)
        smbus_advance(sim->smbus[i], sim->now_ns);
    for (size_t i = 0; i < sim->serial_count; i++)
        serial_advance(sim->serial[i], sim->now_ns);
}

static uint64_t next_bus_event(const struct bus_sim *sim)
{
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; i < sim->smbus_count; i++) {
        uint64_t t = smbus_next_event(sim->smbus[i]);
        if (t < next)
            next = t;
    }
    for (size_t i = 0; i < sim->serial_count; i++) {
        uint64_t t = serial_next_event(sim->serial[i]);
        if (t < next)
            next = t;
    }
    return next;
}

static bool any_fd_ready(rshare_node *const *nodes, size_t count)
{
    struct pollfd fds[64];
    size_t n = 0;
    for (size_t i = 0; i < count && n < 64; i++) {
        int fd = rshare_node_fd(nodes[i]);
        if (fd >= 0) {
            fds[n].fd = fd;
            fds[n].events = POLLIN;
            fds[n].revents = 0;
            n++;
        }
    }
    return n && poll(fds, n, 0) > 0;
}

int bus_sim_run(struct bus_sim *sim, rshare_node *const *nodes, size_t count,
                int (*done)(void *user_data), void *user_data, uint64_t max_us)
{
    uint64_t limit = sim->now_ns + max_us * 1000u;
    unsigned stalled = 0;
    for (;;) {
        if (done && done(user_data))
            return 0;
        advance_buses(sim);
        for (size_t i = 0; i < count; i++) {
            int rc = rshare_node_process(nodes[i]);
            if (rc < 0)
                return rc;
        }
        if (done && done(user_data))
            return 0;
        uint64_t now = sim->now_ns;
        uint64_t next = next_bus_event(sim);
        for (size_t i = 0; i < count; i++) {
            int64_t t = rshare_node_timeout_us(nodes[i]);
            if (t < 0)
                continue;
            uint64_t at = (now / 1000u + (uint64_t)t) * 1000u;
            if (at < next)
                next = at;
        }
        if (next <= now || any_fd_ready(nodes, count)) {
            if (++stalled < STALL_STEPS)
                continue;
            next = now + 1000u;
        }
        stalled = 0;
        if (next == UINT64_MAX || next > limit) {
            if (limit > sim->now_ns)
                sim->now_ns = limit;
            return RSHARE_ETIMEDOUT;
        }
        sim->now_ns = next;
    }
}

/* --- randomness ------------------------------------------------------------ */

/* splitmix64: tiny, and the same sequence everywhere for one seed. */
static uint64_t next_random(struct bus_sim *sim)
{
    uint64_t z = (sim->rng += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static bool chance(struct bus_sim *sim, uint32_t ppm)
{
    return ppm && next_random(sim) % PPM < ppm;
}

static void signal_fd(int fd, bool *signalled, bool on)
{
    if (on == *signalled)
        return;
    uint64_t v = 1;
    ssize_t n = on ? write(fd, &v, sizeof(v)) : read(fd, &v, sizeof(v));
    (void)n;
    *signalled = on;
}

/* --- SMBus ------------------------------------------------------------------ */

struct sim_smbus *sim_smbus_create(struct bus_sim *sim, uint32_t hz)
{
    if (sim->smbus_count == MAX_BUSES)
        return NULL;
    struct sim_smbus *bus = calloc(1, sizeof(*bus));
    if (!bus)
        return NULL;
    bus->sim = sim;
    bus->bit_ns = 1000000000u / hz;
    /* START hold, STOP set-up and bus-free times of the SMBus/I2C specs. */
    if (hz <= 100000) {
        bus->start_ns = 4000;
        bus->stop_ns = 4000;
        bus->buf_ns = 4700;
    } else if (hz <= 400000) {
        bus->start_ns = 600;
        bus->stop_ns = 600;
        bus->buf_ns = 1300;
    } else {
        bus->start_ns = 260;
        bus->stop_ns = 260;
        bus->buf_ns = 500;
    }
    sim->smbus[sim->smbus_count++] = bus;
    return bus;
}

void sim_smbus_set_noise(struct sim_smbus *bus, const struct bus_sim_noise *noise)
{
    bus->noise = *noise;
}

void *sim_smbus_device(struct sim_smbus *bus, uint8_t address, unsigned depth, unsigned msg_size)
{
    if (bus->device_count == MAX_DEVICES)
        return NULL;
    struct sim_i2c *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->bus = bus;
    d->address = address;
    d->depth = depth ? depth : MQ_DEPTH_DEFAULT;
    d->msg_size = msg_size ? msg_size : MQ_MSG_DEFAULT;
    if (d->msg_size > MQ_MSG_MAX)
        d->msg_size = MQ_MSG_MAX;
    d->queue = calloc(d->depth, sizeof(*d->queue));
    d->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!d->queue || d->evfd < 0) {
        free(d->queue);
        free(d);
        return NULL;
    }
    bus->devices[bus->device_count++] = d;
    return d;
}

void sim_smbus_device_stats(const void *dev, uint64_t *delivered, uint64_t *intact)
{
    const struct sim_i2c *d = dev;
    *delivered = d->delivered;
    *intact = d->intact;
}

void sim_smbus_fail_writes(void *dev, int err, unsigned count)
{
    struct sim_i2c *d = dev;
    d->fail_err = err;
    d->fail_count = count;
}

void sim_smbus_add_master(struct sim_smbus *bus, uint8_t dest, const uint8_t *frame, size_t len,
                          uint32_t period_us, uint32_t jitter_us)
{
    if (bus->master_count == MAX_MASTERS || len + 1 > WIRE_MAX)
        return;
    struct sim_master *m = &bus->masters[bus->master_count++];
    m->wire[0] = (uint8_t)(dest << 1);
    memcpy(m->wire + 1, frame, len);
    m->len = len + 1;
    m->period_us = period_us;
    m->jitter_us = jitter_us;
    m->next_ns = bus->sim->now_ns + (uint64_t)period_us * 1000u;
}

uint64_t sim_smbus_transaction_ns(const struct sim_smbus *bus, size_t bytes)
{
    return bus->start_ns + 9u * bytes * bus->bit_ns + bus->stop_ns + bus->buf_ns;
}

void sim_smbus_timing(const struct sim_smbus *bus, uint64_t *bit_ns, uint64_t *start_ns,
                      uint64_t *stop_ns, uint64_t *buf_ns)
{
    *bit_ns = bus->bit_ns;
    *start_ns = bus->start_ns;
    *stop_ns = bus->stop_ns;
    *buf_ns = bus->buf_ns;
}

void sim_smbus_stats(const struct sim_smbus *bus, struct sim_smbus_stats *stats)
{
    *stats = bus->stats;
}

static uint64_t wire_ns(const struct sim_smbus *bus, size_t bytes)
{
    return bus->start_ns + 9u * bytes * bus->bit_ns + bus->stop_ns;
}

static struct sim_i2c *device_at(struct sim_smbus *bus, uint8_t addr_byte)
{
    if (addr_byte & 1)
        return NULL; /* a read: no target of ours answers it */
    for (size_t i = 0; i < bus->device_count; i++)
        if (!bus->devices[i]->closed && bus->devices[i]->address == addr_byte >> 1)
            return bus->devices[i];
    return NULL;
}

/* The slave-mqueue: frames too long for its buffers are dropped, a full
 * queue drops its oldest frame. */
static void mqueue_push(struct sim_i2c *d, const uint8_t *frame, size_t len, bool intact)
{
    if (len > d->msg_size) {
        d->bus->stats.queue_dropped++;
        return;
    }
    if (d->count == d->depth) {
        d->head = (d->head + 1) % d->depth;
        d->count--;
        d->bus->stats.queue_dropped++;
    }
    d->delivered++;
    d->intact += intact;
    unsigned slot = (d->head + d->count) % d->depth;
    d->queue[slot].len = (uint16_t)len;
    memcpy(d->queue[slot].data, frame, len);
    d->count++;
    signal_fd(d->evfd, &d->signalled, true);
}

static void inject_garbage(struct sim_smbus *bus)
{
    if (!bus->device_count)
        return;
    struct sim_i2c *d = bus->devices[next_random(bus->sim) % bus->device_count];
    if (d->closed)
        return;
    uint8_t junk[40];
    size_t len = 1 + next_random(bus->sim) % sizeof(junk);
    junk[0] = (uint8_t)(d->address << 1);
    for (size_t i = 1; i < len; i++)
        junk[i] = (uint8_t)next_random(bus->sim);
    bus->stats.garbage++;
    mqueue_push(d, junk, len, false);
}

/* Occupy the bus with another master's transaction from `start`. */
static void run_master(struct sim_smbus *bus, struct sim_master *m, uint64_t start)
{
    uint64_t end = start + wire_ns(bus, m->len);
    bus->free_at_ns = end + bus->buf_ns;
    bus->stats.transactions++;
    bus->stats.busy_ns += end - start;
    struct sim_i2c *d = device_at(bus, m->wire[0]);
    if (d)
        mqueue_push(d, m->wire, m->len, true);
    else
        bus->stats.nacks++;
    uint64_t jitter = m->jitter_us ? next_random(bus->sim) % ((uint64_t)m->jitter_us * 1000u) : 0;
    m->next_ns = end + (uint64_t)m->period_us * 1000u + jitter;
}

static struct sim_master *earliest_master(struct sim_smbus *bus)
{
    struct sim_master *best = NULL;
    for (size_t i = 0; i < bus->master_count; i++)
        if (!best || bus->masters[i].next_ns < best->next_ns)
            best = &bus->masters[i];
    return best;
}

/* Wired-AND arbitration: both masters drive their bits MSB first and the
 * first one to send a 1 where the other sends 0 loses.  Returns -1 when
 * `a` loses, 1 when `b` loses, 0 for identical streams; `*bit` is where. */
static int arbitrate(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, size_t *bit)
{
    size_t n = alen < blen ? alen : blen;
    for (size_t i = 0; i < n; i++) {
        uint8_t diff = a[i] ^ b[i];
        if (!diff)
            continue;
        for (int k = 7; k >= 0; k--) {
            if (diff >> k & 1) {
                *bit = i * 9 + (size_t)(7 - k);
                return a[i] >> k & 1 ? -1 : 1;
            }
        }
    }
    *bit = n * 9;
    return 0;
}

void sim_smbus_inject(void *dev, const uint8_t *frame, size_t len)
{
    mqueue_push(dev, frame, len, false);
}

static int sim_i2c_write(void *dev, uint8_t addr, const uint8_t *data, size_t len)
{
    struct sim_i2c *d = dev;
    struct sim_smbus *bus = d->bus;
    struct bus_sim *sim = bus->sim;
    if (d->closed)
        return -EBADF;
    if (d->fail_count) {
        d->fail_count--;
        return -d->fail_err;
    }
    if (len + 1 > WIRE_MAX)
        return -EINVAL;
    uint8_t wire[WIRE_MAX];
    wire[0] = (uint8_t)(addr << 1);
    memcpy(wire + 1, data, len);
    size_t n = len + 1;

    uint64_t start;
    for (;;) {
        start = sim->now_ns > bus->free_at_ns ? sim->now_ns : bus->free_at_ns;
        struct sim_master *m = earliest_master(bus);
        if (!m)
            break;
        uint64_t m_start = m->next_ns > bus->free_at_ns ? m->next_ns : bus->free_at_ns;
        if (m_start < start) {
            run_master(bus, m, m_start); /* it had the bus first: we wait */
            continue;
        }
        if (m_start < start + bus->start_ns) {
            size_t bit;
            int r = arbitrate(wire, n, m->wire, m->len, &bit);
            if (r < 0) {
                bus->stats.arbitration_lost++;
                run_master(bus, m, start);
                sim->now_ns = start + bus->start_ns + bit * bus->bit_ns;
                return -EAGAIN;
            }
            if (r > 0)
                bus->stats.foreign_arbitration_lost++;
            /* It retries once we are done (identical streams: done already). */
            m->next_ns = start + wire_ns(bus, n) + bus->buf_ns;
        }
        break;
    }

    /* Noise on the wire: flipped bits (the address byte too: then nobody
     * or somebody else answers), or a frame cut short. */
    bool damaged = false, sender_error = false;
    size_t delivered = n;
    if (chance(sim, bus->noise.flip_ppm)) {
        int flips = next_random(sim) & 1 ? 3 : 1;
        for (int i = 0; i < flips; i++) {
            size_t pos = next_random(sim) % n;
            wire[pos] ^= (uint8_t)(1u << (next_random(sim) % 8));
        }
        damaged = true;
    }
    if (n > 1 && chance(sim, bus->noise.truncate_ppm)) {
        delivered = 1 + next_random(sim) % (n - 1);
        damaged = true;
        sender_error = next_random(sim) & 1; /* the master noticed, or not */
    }
    struct sim_i2c *target = device_at(bus, wire[0]);
    if (!target) {
        uint64_t end = start + wire_ns(bus, 1);
        bus->free_at_ns = end + bus->buf_ns;
        bus->stats.busy_ns += end - start;
        bus->stats.nacks++;
        sim->now_ns = end;
        return -ENXIO;
    }
    uint64_t end = start + wire_ns(bus, delivered);
    bus->free_at_ns = end + bus->buf_ns;
    bus->stats.busy_ns += end - start;
    bus->stats.transactions++;
    bus->stats.node_frames++;
    if (damaged)
        bus->stats.damaged++;
    sim->now_ns = end; /* the ioctl returns when the STOP is out */
    mqueue_push(target, wire, delivered, !damaged);
    if (chance(sim, bus->noise.garbage_ppm))
        inject_garbage(bus);
    return sender_error ? -EIO : 0;
}

static int sim_i2c_read(void *dev, uint8_t *buf, size_t cap)
{
    struct sim_i2c *d = dev;
    if (d->closed)
        return -EBADF;
    if (!d->count) {
        signal_fd(d->evfd, &d->signalled, false);
        return 0;
    }
    size_t len = d->queue[d->head].len < cap ? d->queue[d->head].len : cap;
    memcpy(buf, d->queue[d->head].data, len);
    d->head = (d->head + 1) % d->depth;
    d->count--;
    if (!d->count)
        signal_fd(d->evfd, &d->signalled, false);
    return (int)len;
}

static int sim_i2c_fd(void *dev)
{
    return ((struct sim_i2c *)dev)->evfd;
}

static uint32_t sim_i2c_events(void *dev)
{
    (void)dev;
    return EPOLLIN;
}

/* The simulation keeps the device (and its statistics) until it ends. */
static void sim_i2c_close(void *dev)
{
    struct sim_i2c *d = dev;
    if (d->closed)
        return;
    close(d->evfd);
    d->closed = true;
}

const struct rs_i2c_device_ops sim_i2c_ops = {
    .write = sim_i2c_write,
    .read = sim_i2c_read,
    .fd = sim_i2c_fd,
    .events = sim_i2c_events,
    .close = sim_i2c_close,
};

static uint64_t smbus_next_event(const struct sim_smbus *bus)
{
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; i < bus->master_count; i++) {
        const struct sim_master *m = &bus->masters[i];
        uint64_t start = m->next_ns > bus->free_at_ns ? m->next_ns : bus->free_at_ns;
        uint64_t end = start + wire_ns(bus, m->len);
        if (end < next)
            next = end;
    }
    return next;
}

/* Other masters' transactions that are over by `now`, in order. */
static void smbus_advance(struct sim_smbus *bus, uint64_t now)
{
    for (;;) {
        struct sim_master *m = earliest_master(bus);
        if (!m)
            return;
        uint64_t start = m->next_ns > bus->free_at_ns ? m->next_ns : bus->free_at_ns;
        if (start + wire_ns(bus, m->len) > now)
            return;
        run_master(bus, m, start);
    }
}

/* --- serial ------------------------------------------------------------------ */

struct sim_serial *sim_serial_create(struct bus_sim *sim, uint32_t baud, bool shared)
{
    if (sim->serial_count == MAX_BUSES)
        return NULL;
    struct sim_serial *bus = calloc(1, sizeof(*bus));
    if (!bus)
        return NULL;
    bus->sim = sim;
    bus->char_ns = UINT64_C(10000000000) / baud; /* 10 bits: start, 8 data, stop */
    bus->shared = shared;
    sim->serial[sim->serial_count++] = bus;
    return bus;
}

void sim_serial_set_noise(struct sim_serial *bus, const struct bus_sim_noise *noise)
{
    bus->noise = *noise;
}

void sim_serial_set_latency(struct sim_serial *bus, uint32_t latency_us)
{
    bus->latency_ns = (uint64_t)latency_us * 1000u;
}

void *sim_serial_port(struct sim_serial *bus, bool echo, bool rts)
{
    if (bus->port_count == MAX_PORTS || (!bus->shared && bus->port_count == 2))
        return NULL;
    struct sim_port *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->bus = bus;
    p->echo = echo && bus->shared;
    p->rts = rts;
    p->rx = malloc(SERIAL_RX_BUF);
    p->inflight = malloc(SERIAL_INFLIGHT * sizeof(*p->inflight));
    p->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!p->rx || !p->inflight || p->evfd < 0) {
        free(p->rx);
        free(p->inflight);
        free(p);
        return NULL;
    }
    bus->ports[bus->port_count++] = p;
    return p;
}

void sim_serial_stats(const struct sim_serial *bus, struct sim_serial_stats *stats)
{
    *stats = bus->stats;
}

uint64_t sim_serial_bytes_ns(const struct sim_serial *bus, size_t bytes)
{
    return bytes * bus->char_ns;
}

static void port_receive(struct sim_port *r, uint64_t at, uint8_t byte)
{
    if (r->closed)
        return;
    if (r->in_count == SERIAL_INFLIGHT) {
        r->bus->stats.rx_overflow++;
        return;
    }
    r->inflight[(r->in_head + r->in_count) % SERIAL_INFLIGHT] = (struct inflight){at, byte};
    r->in_count++;
}

/* Does `p`'s byte [start, end) overlap another driver on the pair? */
static bool collides(const struct sim_serial *bus, const struct sim_port *p, uint64_t start,
                     uint64_t end)
{
    for (size_t i = 0; i < bus->port_count; i++) {
        const struct sim_port *q = bus->ports[i];
        if (q == p || q->closed)
            continue;
        if (q->rts && q->driver_on)
            return true; /* its transceiver holds the pair even between bytes */
        if (q->busy && q->cur_start < end && start < q->cur_end)
            return true;
        if (q->last_end && q->last_start < end && start < q->last_end)
            return true;
    }
    return false;
}

/* One byte of `p` leaves the wire at `end`: who hears what.  Noise acts on
 * the bytes inside frames and garbage also lands between frames, so a frame
 * is intact exactly when none of its bytes was touched. */
static void byte_done(struct sim_serial *bus, struct sim_port *p)
{
    struct bus_sim *sim = bus->sim;
    uint8_t sent = p->tx[p->tx_head];
    uint64_t start = p->cur_start, end = p->cur_end;
    p->tx_head = (p->tx_head + 1) % SERIAL_TX_FIFO;
    p->tx_count--;
    bus->stats.bytes++;
    bus->stats.busy_ns += end - start;

    bool flag = sent == RS_SERIAL_FLAG;
    bool closing = flag && p->in_frame;
    bool content = !flag && p->in_frame;
    bool driven = !p->rts || p->driver_on;
    bool collided = bus->shared && driven && collides(bus, p, start, end);
    bool lost = !driven, noisy = false;
    uint8_t wire = sent;
    size_t garbage = 0;
    if (!driven)
        bus->stats.undriven_bytes++;
    if (collided) {
        wire = (uint8_t)next_random(sim);
        bus->stats.collided_bytes++;
    }
    if (content) {
        if (p->dropout) {
            p->dropout--;
            lost = noisy = true;
        } else if (chance(sim, bus->noise.truncate_ppm)) {
            p->dropout = (unsigned)(next_random(sim) % 32);
            lost = noisy = true;
        }
        if (chance(sim, bus->noise.flip_ppm)) {
            wire ^= (uint8_t)(1u << (next_random(sim) % 8));
            noisy = true;
        }
    }
    if ((content || closing) && chance(sim, bus->noise.garbage_ppm)) {
        garbage = 1 + next_random(sim) % 8;
        noisy = noisy || content; /* after a closing flag it lies between frames */
    }
    if (noisy)
        bus->stats.noisy_bytes++;

    bool damaged = lost || collided || noisy;
    if (flag && !p->in_frame) {
        p->in_frame = true;
        p->frame_damaged = damaged;
    } else if (closing) {
        bus->stats.frames++;
        if (!p->frame_damaged && !lost && !collided)
            bus->stats.intact_frames++;
        p->in_frame = false;
        p->dropout = 0;
    } else if (p->in_frame) {
        p->frame_damaged = p->frame_damaged || damaged;
    }

    if (driven && !lost) {
        for (size_t i = 0; i < bus->port_count; i++) {
            struct sim_port *r = bus->ports[i];
            if (r == p && !p->echo)
                continue;
            port_receive(r, end + bus->latency_ns, wire);
        }
    }
    for (size_t g = 0; g < garbage; g++) {
        uint8_t junk = (uint8_t)next_random(sim);
        if (junk == RS_SERIAL_FLAG && !content)
            junk ^= 1; /* a flag between frames would only reframe nothing */
        for (size_t i = 0; i < bus->port_count; i++)
            if (bus->ports[i] != p || p->echo)
                port_receive(bus->ports[i], end + bus->latency_ns, junk);
    }

    p->last_start = start;
    p->last_end = end;
    if (p->tx_count) {
        p->cur_start = end;
        p->cur_end = end + bus->char_ns;
    } else {
        p->busy = false;
    }
    if (p->want_write && !p->closed)
        signal_fd(p->evfd, &p->signalled, true);
}

static uint64_t serial_next_event(const struct sim_serial *bus)
{
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; i < bus->port_count; i++) {
        const struct sim_port *p = bus->ports[i];
        if (p->busy && p->cur_end < next)
            next = p->cur_end;
        if (p->in_count && p->inflight[p->in_head].at_ns < next)
            next = p->inflight[p->in_head].at_ns;
    }
    return next;
}

static void serial_advance(struct sim_serial *bus, uint64_t now)
{
    for (;;) {
        /* The earliest byte to leave the wire, all ports together. */
        struct sim_port *first = NULL;
        for (size_t i = 0; i < bus->port_count; i++) {
            struct sim_port *p = bus->ports[i];
            if (p->busy && p->cur_end <= now && (!first || p->cur_end < first->cur_end))
                first = p;
        }
        if (!first)
            break;
        byte_done(bus, first);
    }
    for (size_t i = 0; i < bus->port_count; i++) {
        struct sim_port *r = bus->ports[i];
        bool got = false;
        while (r->in_count && r->inflight[r->in_head].at_ns <= now) {
            uint8_t byte = r->inflight[r->in_head].byte;
            r->in_head = (r->in_head + 1) % SERIAL_INFLIGHT;
            r->in_count--;
            if (r->rx_count == SERIAL_RX_BUF) {
                bus->stats.rx_overflow++;
                continue;
            }
            r->rx[(r->rx_head + r->rx_count) % SERIAL_RX_BUF] = byte;
            r->rx_count++;
            got = true;
        }
        if (got && !r->closed)
            signal_fd(r->evfd, &r->signalled, true);
    }
}

static int sim_line_read(void *line, uint8_t *buf, size_t cap)
{
    struct sim_port *p = line;
    size_t n = 0;
    while (n < cap && p->rx_count) {
        buf[n++] = p->rx[p->rx_head];
        p->rx_head = (p->rx_head + 1) % SERIAL_RX_BUF;
        p->rx_count--;
    }
    if (!p->rx_count && !(p->want_write && p->tx_count < SERIAL_TX_FIFO))
        signal_fd(p->evfd, &p->signalled, false);
    return (int)n;
}

static int sim_line_write(void *line, const uint8_t *buf, size_t len)
{
    struct sim_port *p = line;
    size_t room = SERIAL_TX_FIFO - p->tx_count, n = len < room ? len : room;
    for (size_t i = 0; i < n; i++)
        p->tx[(p->tx_head + p->tx_count + i) % SERIAL_TX_FIFO] = buf[i];
    if (n && !p->busy) {
        uint64_t now = p->bus->sim->now_ns;
        p->busy = true;
        p->cur_start = now;
        p->cur_end = now + p->bus->char_ns;
    }
    p->tx_count += n;
    return (int)n;
}

static int sim_line_tx_pending(void *line)
{
    return (int)((struct sim_port *)line)->tx_count;
}

static void sim_line_want_write(void *line, bool on)
{
    struct sim_port *p = line;
    p->want_write = on;
    if (on && p->tx_count < SERIAL_TX_FIFO)
        signal_fd(p->evfd, &p->signalled, true);
}

static int sim_line_set_driver(void *line, bool on)
{
    struct sim_port *p = line;
    if (!p->rts)
        return -ENOTTY;
    if (on != p->driver_on)
        p->bus->stats.driver_switches++;
    p->driver_on = on;
    return 0;
}

static int sim_line_fd(void *line)
{
    return ((struct sim_port *)line)->evfd;
}

static void sim_line_close(void *line)
{
    struct sim_port *p = line;
    if (p->closed)
        return;
    close(p->evfd);
    p->closed = true;
    p->driver_on = false;
}

const struct rs_serial_line_ops sim_line_ops = {
    .read = sim_line_read,
    .write = sim_line_write,
    .tx_pending = sim_line_tx_pending,
    .want_write = sim_line_want_write,
    .set_driver = sim_line_set_driver,
    .fd = sim_line_fd,
    .close = sim_line_close,
};
