/* rshare core — internal interface of the bottom layer: the node's hooks
 * (allocator, clock, log, persistence), errors, timers, transports and
 * statistics.  Everything above lib/core reaches the node through this. */
#ifndef RSHARE_CORE_H
#define RSHARE_CORE_H

#include <stdarg.h>
#include <stdbool.h>

#include "rshare/rshare.h"
#include "timer.h"

#define RS_MAX_TRANSPORTS 8
#define RS_ERRMSG_MAX 256

struct rs_transport {
    struct rshare_transport_ops ops; /* copied, missing entries NULL */
    void *impl;
    size_t mtu;
    uint32_t caps;
    int fd;
};

/* Called by the core for every packet pushed by a transport. */
typedef int (*rs_packet_fn)(rshare_node *node, int transport_index,
                            const struct rshare_link_addr *src,
                            const uint8_t *packet, size_t len, void *user_data);

/* An extra descriptor in the node's epoll set, for a component that owns a
 * socket of its own and whose interest changes over time (the iSCSI
 * backend: libiscsi's socket wants POLLOUT only while it has PDUs queued).
 * Embedded in its owner; `fire` runs from rshare_node_process() /
 * rshare_node_run() with the EPOLL* events seen (EPOLLERR and EPOLLHUP may
 * come unasked). */
struct rs_fd_watch;
typedef void (*rs_fd_fn)(rshare_node *node, struct rs_fd_watch *watch, uint32_t events);
struct rs_fd_watch {
    int fd;          /* -1 while not in the set */
    uint32_t events; /* EPOLL* mask registered */
    uint32_t id;     /* epoll key; 0 while not in the set */
    rs_fd_fn fire;
    struct rs_fd_watch *next;
};

struct rs_core {
    struct rshare_node_config config; /* with defaults filled in */
    uint8_t cluster_key[RSHARE_CLUSTER_KEY_BYTES];
    bool protected_mode;
    struct rshare_node_stats stats;
    char errmsg[RS_ERRMSG_MAX];

    struct rs_transport transports[RS_MAX_TRANSPORTS];
    int transport_count;

    struct rs_timer_heap timers;
    int epoll_fd;
    int timer_fd;
    bool in_process;
    bool in_push; /* a pushed packet is being handled */
    bool has_lanes;      /* a transport is an urgent lane */
    bool in_lane_poll;   /* reading the lanes between bulk packets */
    bool monotonic_clock; /* default clock: the timerfd can follow it */
    uint64_t timer_armed_us; /* deadline the timerfd is set to, 0 = none */
    struct rs_fd_watch *fd_watches; /* rs_fd_watch_set() */
    uint32_t next_watch_id;

    rs_packet_fn on_packet;
    void *on_packet_data;

    /* 64-bit boot session: persisted boot counter (high half, 0 when there
     * is no persistence) and random bits (low half). */
    uint64_t session;

    char *state_dir; /* default persistence, NULL when none */

    /* Big shared buffers kept for reuse (shared.c), most recently released
     * first. */
    struct rs_shared_head *spares;
    uint32_t spare_count;
    size_t spare_bytes;
    struct rs_timer spare_timer; /* frees the spares that have waited too long */
};

/* The node handle starts with its core (lib/node.c composes the layers). */
struct rs_core *rs_core(rshare_node *node);
const struct rs_core *rs_core_const(const rshare_node *node);

int rs_core_init(struct rs_core *core, rshare_node *node, const struct rshare_node_config *config);
void rs_core_fini(struct rs_core *core, rshare_node *node);

/* Allocation through the node's allocator. */
void *rs_malloc(rshare_node *node, size_t size);
void *rs_calloc(rshare_node *node, size_t count, size_t size);
void *rs_realloc(rshare_node *node, void *ptr, size_t size);
void rs_free(rshare_node *node, void *ptr);

uint64_t rs_now_us(rshare_node *node);

/* Record `code` with a formatted detail message; returns `code`. */
int rs_errorf(rshare_node *node, int code, const char *fmt, ...) RSHARE_PRINTF(3, 4);
/* Same, appending strerror(errno) and returning RSHARE_ESYS. */
int rs_syserr(rshare_node *node, const char *fmt, ...) RSHARE_PRINTF(2, 3);

/* Logging; compiled out below RSHARE_LOG_COMPILED_LEVEL with format checks kept. */
#ifndef RSHARE_LOG_COMPILED_LEVEL
#define RSHARE_LOG_COMPILED_LEVEL RSHARE_LOG_DEBUG
#endif
void rs_log_write(rshare_node *node, enum rshare_log_level level, const char *fmt, ...)
    RSHARE_PRINTF(3, 4);
#define rs_log(node, level, ...)                                                \
    do {                                                                        \
        if ((level) <= RSHARE_LOG_COMPILED_LEVEL)                               \
            rs_log_write((node), (level), __VA_ARGS__);                         \
    } while (0)
#define rs_log_error(node, ...) rs_log(node, RSHARE_LOG_ERROR, __VA_ARGS__)
#define rs_log_warn(node, ...) rs_log(node, RSHARE_LOG_WARNING, __VA_ARGS__)
#define rs_log_info(node, ...) rs_log(node, RSHARE_LOG_INFO, __VA_ARGS__)
#define rs_log_debug(node, ...) rs_log(node, RSHARE_LOG_DEBUG, __VA_ARGS__)

/* Timers (see timer.h); `at_us` is on the node's clock. */
int rs_timer_schedule(rshare_node *node, struct rs_timer *timer, uint64_t at_us);
void rs_timer_cancel(rshare_node *node, struct rs_timer *timer);

/* Extra descriptors (struct rs_fd_watch).  `set` adds the watch or changes
 * its descriptor or events (a descriptor closed and reused under the same
 * number is handled); `clear` removes it and is a no-op for a watch not in
 * the set.  rs_fd_watch_init() before the first use. */
static inline void rs_fd_watch_init(struct rs_fd_watch *watch, rs_fd_fn fire)
{
    watch->fd = -1;
    watch->events = 0;
    watch->id = 0;
    watch->fire = fire;
    watch->next = NULL;
}
int rs_fd_watch_set(rshare_node *node, struct rs_fd_watch *watch, int fd, uint32_t events);
void rs_fd_watch_clear(rshare_node *node, struct rs_fd_watch *watch);

/* Transports. */
struct rs_transport *rs_transport_get(rshare_node *node, int index);
int rs_transport_send(rshare_node *node, int index, const struct rshare_link_addr *dst,
                      const void *packet, size_t len, unsigned flags);
/* The urgent lane (RSHARE_TRANSPORT_CAP_URGENT_LANE) of the same kind as
 * transport `index` (by ops name), or -1. */
int rs_transport_lane_for(rshare_node *node, int index);
/* Transports `a` and `b` carry the same kind of address (ops name). */
bool rs_transport_same_kind(rshare_node *node, int a, int b);
/* The transport sends packets given in pieces (ops->sendv). */
bool rs_transport_can_sendv(rshare_node *node, int index);
int rs_transport_sendv(rshare_node *node, int index, const struct rshare_link_addr *dst,
                       const struct rshare_iovec *pieces, size_t count, unsigned flags);

/* Persistence: named records through the node's hook (or state_dir). */
int rs_persist_load(rshare_node *node, const char *key, void *buf, size_t buf_len);
int rs_persist_store(rshare_node *node, const char *key, const void *buf, size_t len);
bool rs_persist_available(rshare_node *node);

#define RS_STAT_INC(node, field) (rs_core(node)->stats.field++)
#define RS_STAT_ADD(node, field, n) (rs_core(node)->stats.field += (n))

#endif

/* Set-up and tear-down of the pieces rs_core_init() assembles. */
int rs_persist_init(rshare_node *node, const struct rshare_node_config *config);
void rs_persist_fini(rshare_node *node);
int rs_event_init(rshare_node *node);
void rs_event_fini(rshare_node *node);
void rs_transports_close(rshare_node *node);
