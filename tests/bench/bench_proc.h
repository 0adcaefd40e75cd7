/* bench_proc — what the two-process UDP benchmarks (bench_kvm, bench_video)
 * share: dying with a message, the monotonic clock, pinning to a CPU, a node
 * on a UDP socket bound to loopback, and running a node's event loop until a
 * deadline.  Header only (static inline), public API only. */
#ifndef RSHARE_BENCH_PROC_H
#define RSHARE_BENCH_PROC_H

#ifndef _GNU_SOURCE
#error "define _GNU_SOURCE before any include (sched_setaffinity, ppoll)"
#endif

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <rshare/rshare.h>

/* Set by main() before anything can fail: the prefix of die()'s messages. */
static const char *bench_name = "bench";

static inline void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static inline void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", bench_name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static inline int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Pin the calling process to `cpu` (negative: leave it alone). */
static inline void pin(int cpu)
{
    if (cpu < 0)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) < 0)
        die("pin to CPU %d: %s", cpu, strerror(errno));
}

/* fork(): the child dies with its parent, and each side is pinned to its
 * CPU (negative: not pinned).  Returns what fork() returns. */
static inline pid_t fork_pinned(int parent_cpu, int child_cpu)
{
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0)
        prctl(PR_SET_PDEATHSIG, SIGKILL);
    pin(pid == 0 ? child_cpu : parent_cpu);
    return pid;
}

/* A node made from `cfg` with a UDP transport on 127.0.0.1 (any port); its
 * address ("127.0.0.1:port") goes into `addr`. */
static inline rshare_node *udp_node(const struct rshare_node_config *cfg, char *addr,
                                    size_t addr_len)
{
    rshare_node *node;
    if (rshare_node_create(cfg, &node) != 0)
        die("node %u", cfg->node_id);
    struct rshare_udp_config uc;
    rshare_udp_config_init(&uc, sizeof(uc));
    uc.bind_address = "127.0.0.1:0";
    int t = rshare_node_add_udp(node, &uc);
    if (t < 0 || rshare_udp_local_address(node, t, addr, addr_len) < 0)
        die("udp: %s", rshare_node_errmsg(node));
    return node;
}

/* Wait until `deadline` (ns) while running `node` (NULL: just sleep). */
static inline void run_until(rshare_node *node, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - now_ns();
        if (left <= 0)
            return;
        if (!node) {
            struct timespec ts = {left / 1000000000, left % 1000000000};
            nanosleep(&ts, NULL);
            continue;
        }
        int64_t t = rshare_node_timeout_us(node);
        int64_t wait_ns = t >= 0 && t * 1000 < left ? t * 1000 : left;
        struct pollfd p = {rshare_node_fd(node), POLLIN, 0};
        struct timespec ts = {wait_ns / 1000000000, wait_ns % 1000000000};
        ppoll(&p, 1, &ts, NULL);
        if (rshare_node_process(node) < 0)
            die("process: %s", rshare_node_errmsg(node));
    }
}

#endif
