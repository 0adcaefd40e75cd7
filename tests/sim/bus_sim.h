/* Simulated management buses for tests and benchmarks: SMBus segments and
 * serial lines (point to point or RS-485) on one virtual clock.  They carry
 * exactly the bytes the transports put on the wire, through the same device
 * vtables the real hardware code uses (transports/i2c_device.h,
 * transports/serial_line.h), and model the wire's timing, multi-master
 * arbitration, collisions and noise, all drawn from one seed.
 *
 * Destroy the nodes (which close their devices) before the simulation. */
#ifndef RSHARE_TESTS_BUS_SIM_H
#define RSHARE_TESTS_BUS_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rshare/rshare.h>

#include "i2c_device.h"
#include "serial_line.h"

struct bus_sim;
struct sim_smbus;
struct sim_serial;

struct bus_sim *bus_sim_create(uint64_t seed);
void bus_sim_destroy(struct bus_sim *sim);
/* The virtual clock for the nodes' config (starts at 1 s). */
struct rshare_clock bus_sim_clock(struct bus_sim *sim);
uint64_t bus_sim_now_ns(const struct bus_sim *sim);

/* Run every node and the buses, advancing virtual time from event to event,
 * until `done(user_data)` is true (0) or `max_us` passed (RSHARE_ETIMEDOUT). */
int bus_sim_run(struct bus_sim *sim, rshare_node *const *nodes, size_t count,
                int (*done)(void *user_data), void *user_data, uint64_t max_us);

/* Noise, in parts per million.  SMBus: per transaction; serial: per byte. */
struct bus_sim_noise {
    /* SMBus: one or three bits flipped; serial: one bit of one byte.  An
     * odd count: the PEC and the FCS (both with the factor x + 1) catch
     * every such error, so tests can count exactly which frames were lost.
     * Two flips 127 bits apart would pass the PEC: see doc/TRANSPORTS.md. */
    uint32_t flip_ppm;
    uint32_t truncate_ppm; /* SMBus: frame cut short; serial: 1..32 bytes lost */
    uint32_t garbage_ppm;  /* SMBus: a random frame to a random target;
                              serial: 1..8 random bytes after this one */
};

/* --- SMBus ----------------------------------------------------------------
 * Timing per transaction: START hold, 9 clocks per byte (address byte
 * included), STOP set-up, then the bus-free time before the next START
 * (SMBus/I2C figures for 100 kHz, 400 kHz and 1 MHz).  A write blocks its
 * caller in virtual time, as the I2C_RDWR ioctl blocks a real one. */
struct sim_smbus *sim_smbus_create(struct bus_sim *sim, uint32_t hz);
void sim_smbus_set_noise(struct sim_smbus *bus, const struct bus_sim_noise *noise);
/* A node's controller: master for writes and target at `address` with a
 * slave-mqueue of `depth` frames of at most `msg_size` bytes (0: 32 and
 * 260; larger frames are dropped as the driver drops them). */
void *sim_smbus_device(struct sim_smbus *bus, uint8_t address, unsigned depth,
                       unsigned msg_size);
extern const struct rs_i2c_device_ops sim_i2c_ops;
/* Make the next `count` writes of `dev` fail with `-err` before touching
 * the bus (EINVAL, ENODEV ... to test the error paths). */
void sim_smbus_fail_writes(void *dev, int err, unsigned count);
/* Frames queued for this device so far, and those that arrived undamaged
 * (injected ones count as damaged). */
void sim_smbus_device_stats(const void *dev, uint64_t *delivered, uint64_t *intact);
/* Put `frame` (as the slave-mqueue delivers it, address byte first) into
 * the device's queue, as if something on the bus had sent it. */
void sim_smbus_inject(void *dev, const uint8_t *frame, size_t len);
/* Another master on the bus sending `frame` (the bytes after the address
 * byte) to `dest` every `period_us` with up to `jitter_us` of extra delay. */
void sim_smbus_add_master(struct sim_smbus *bus, uint8_t dest, const uint8_t *frame, size_t len,
                          uint32_t period_us, uint32_t jitter_us);
/* The wire time of one transaction of `bytes` bytes (address included),
 * bus-free time included: the physical floor. */
uint64_t sim_smbus_transaction_ns(const struct sim_smbus *bus, size_t bytes);

/* The bus's clock period and START hold, STOP set-up and bus-free times. */
void sim_smbus_timing(const struct sim_smbus *bus, uint64_t *bit_ns, uint64_t *start_ns,
                      uint64_t *stop_ns, uint64_t *buf_ns);

struct sim_smbus_stats {
    uint64_t transactions;  /* completed by anyone */
    uint64_t node_frames;   /* completed writes of the nodes */
    uint64_t damaged;       /* flipped or truncated on the wire */
    uint64_t garbage;       /* random frames injected */
    uint64_t arbitration_lost;     /* by a node */
    uint64_t foreign_arbitration_lost;
    uint64_t nacks;         /* writes to an address nobody holds */
    uint64_t queue_dropped; /* slave-mqueue full (oldest dropped) or frame too long */
    uint64_t busy_ns;       /* time the bus carried transactions */
};
void sim_smbus_stats(const struct sim_smbus *bus, struct sim_smbus_stats *stats);

/* --- serial ------------------------------------------------------------------
 * Each byte takes 10 bit times.  `shared`: an RS-485 pair where every port
 * hears every byte (its own too when `echo`), and overlapping bytes collide;
 * otherwise a full-duplex point-to-point line of two ports. */
struct sim_serial *sim_serial_create(struct bus_sim *sim, uint32_t baud, bool shared);
void sim_serial_set_noise(struct sim_serial *bus, const struct bus_sim_noise *noise);
/* Receive latency: bytes reach the reader this long after their stop bit. */
void sim_serial_set_latency(struct sim_serial *bus, uint32_t latency_us);
/* A port; `rts` means the transceiver drives the bus only while RTS is set
 * (RSHARE_SERIAL_TURNAROUND_RTS), otherwise exactly while sending. */
void *sim_serial_port(struct sim_serial *bus, bool echo, bool rts);
extern const struct rs_serial_line_ops sim_line_ops;

struct sim_serial_stats {
    uint64_t bytes;          /* bytes sent on the wire */
    uint64_t collided_bytes; /* overlapping with another driver */
    uint64_t noisy_bytes;    /* flipped, lost or followed by garbage */
    uint64_t undriven_bytes; /* sent with the RS-485 driver off: nobody hears */
    uint64_t frames, intact_frames; /* flag-delimited frames as sent, and those
                                       that crossed without any damage */
    uint64_t rx_overflow;    /* bytes lost at a full receive buffer */
    uint64_t driver_switches;
    uint64_t busy_ns;
};
void sim_serial_stats(const struct sim_serial *bus, struct sim_serial_stats *stats);
/* The wire time of `bytes` bytes: the physical floor. */
uint64_t sim_serial_bytes_ns(const struct sim_serial *bus, size_t bytes);

#endif
