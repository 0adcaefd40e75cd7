/* rshare — the loop transport: many nodes in one process on a simulated
 * network with a virtual clock and reproducible faults (loss, duplication,
 * reordering, delay, bandwidth, partitions), all drawn from one seed. */
#ifndef RSHARE_LOOP_H
#define RSHARE_LOOP_H

#include <rshare/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rshare_loop_net rshare_loop_net;

/* Faults of one directed link (or the default for all).  Probabilities are
 * in parts per million.  rshare_loop_link_init() sets no faults, a delay of
 * 50 us (so that time advances), MTU 1400 and a queue of 4096 packets.
 * Packets to an address nobody holds, or to an endpoint closed while they
 * were in flight, count as lost. */
struct rshare_loop_link {
    uint32_t struct_size;
    uint32_t loss_ppm;          /* packet dropped */
    uint32_t duplicate_ppm;     /* packet delivered twice */
    uint32_t reorder_ppm;       /* packet held back by up to reorder_us */
    uint32_t reorder_us;
    uint32_t delay_us;          /* base one-way latency */
    uint32_t jitter_us;         /* uniform extra latency */
    uint32_t bandwidth_bps;     /* bytes per second, 0 = unlimited */
    uint32_t mtu;               /* packet limit, default 1400 */
    /* Flapping partitions: mean up and down times (exponential), 0 = off. */
    uint32_t flap_up_ms;
    uint32_t flap_down_ms;
    uint32_t queue_limit;       /* packets in flight before tail drop, default 4096 */
};

/* Zero `link` and set its struct_size (pass sizeof(*link)): every field
 * not set afterwards takes its default. */
RSHARE_API void rshare_loop_link_init(struct rshare_loop_link *link, size_t struct_size);

/* A simulated network with a virtual clock; `seed` makes its losses,
 * duplicates and delays reproducible. */
RSHARE_API int rshare_loop_net_create(uint64_t seed, rshare_loop_net **net_out);
/* Destroy after every node using it. Accepts NULL. */
RSHARE_API void rshare_loop_net_destroy(rshare_loop_net *net);

/* A clock reading the network's virtual time (starts at 1 s). */
RSHARE_API struct rshare_clock rshare_loop_net_clock(rshare_loop_net *net);
RSHARE_API uint64_t rshare_loop_net_now_us(const rshare_loop_net *net);

/* Set faults for every link, or for the link from endpoint `from` to `to`. */
RSHARE_API int rshare_loop_net_set_default(rshare_loop_net *net, const struct rshare_loop_link *link);
RSHARE_API int rshare_loop_net_set_link(rshare_loop_net *net, uint32_t from, uint32_t to,
                                        const struct rshare_loop_link *link);
/* Cut (1) or heal (0) both directions between two endpoints. */
RSHARE_API int rshare_loop_net_partition(rshare_loop_net *net, uint32_t a, uint32_t b, int cut);

/* Attach endpoint `address` (1 .. 0xFFFFFFFE, unique in the net) to a node.
 * Its text form is the decimal number; broadcast is "*".  Returns the
 * transport index. */
RSHARE_API int rshare_node_add_loop(rshare_node *node, rshare_loop_net *net, uint32_t address);

/* Run the simulation: advance virtual time event by event, processing every
 * node, until `done(user_data)` returns non-zero or `max_us` of virtual time
 * have passed (`done` may be NULL: run for `max_us`).  Returns 0 when done,
 * RSHARE_ETIMEDOUT when the time ran out, or a negative code from argument
 * checks or rshare_node_process(). */
RSHARE_API int rshare_loop_net_run(rshare_loop_net *net, rshare_node *const *nodes, size_t count,
                                   int (*done)(void *user_data), void *user_data,
                                   uint64_t max_us);

struct rshare_loop_stats {
    uint32_t struct_size;
    uint32_t reserved_;
    uint64_t sent, delivered, lost, duplicated, reordered, partitioned, queue_dropped;
};
/* What the network did with the packets it was given (counters only grow). */
RSHARE_API int rshare_loop_net_stats(const rshare_loop_net *net, struct rshare_loop_stats *stats,
                                     size_t struct_size);

#ifdef __cplusplus
}
#endif
#endif
