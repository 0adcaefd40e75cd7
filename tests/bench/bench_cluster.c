/* Benchmark: the replicated global map on a simulated cluster.
 *
 *   tests/bench/bench_cluster [--sizes N,N,...] [--changes K] [--window MS]
 *                             [--failover-sizes N,...] [--seeds S]
 *                             [--delay-us US] [--verbose]
 *
 * Everything runs on the loop transport with a virtual clock, so the
 * figures are deterministic and do not depend on the machine: every link
 * delays every packet by exactly --delay-us (default 1000 us one way; no
 * jitter, no loss), so a round trip (RTT) is exactly twice that.  The nodes
 * in the three lowest slots are the manager-eligible voters (they are the
 * initial_voters; two of them in a 2-node cluster), every other node is a
 * non-voting copy of the map.  The cluster timers are the library defaults,
 * set explicitly: hello 1000 ms, member timeout 3500 ms, election timeout
 * 1000 ms, heartbeat 100 ms.  Node 1 below means the node in the lowest
 * slot, the preferred manager.
 *
 * Converged: every node names node 1 as manager, node 1 knows every node as
 * alive, node 1's map version has not moved for 3 s, and then one change (a
 * resource registered on the last node) has reached every node's map.
 *
 * 1. Map change propagation.  For each size, two series of K changes, each
 *    change one resource registered (rshare_resource_register) at an
 *    instant k/K into the heartbeat period: on non-voting nodes (the other
 *    voter in a 2-node cluster), and on the manager itself.  Per change:
 *    - registration -> commit: until the manager applies the change (its
 *      RSHARE_EVENT_MAP after which rshare_resource_list() shows it; the
 *      manager, libraft's leader, applies an entry when it commits it);
 *    - commit -> all voters / all nodes: until the last of them holds it;
 *    - map versions: how much the manager's map version grew;
 *    - packets and messages per change: the loop net's `sent` counter and
 *      the sum of every node's `msgs_sent`, over --window ms (default 500)
 *      from the registration, minus the same counters over the same window
 *      one hello period later, when nothing changes (without jitter the
 *      background traffic, hellos and heartbeats, repeats with that
 *      period), so the figure is what the change adds.
 * 2. Manager failover.  For each seed s a fresh cluster with node ids from
 *    1 + 1000 s (the ids seed each node's election timer draws) converges,
 *    runs on for an s-dependent 0..999 ms (so that the crash falls at every
 *    phase of the timers) and then node 1 is destroyed.  Measured from the
 *    crash: until a remaining node reports itself manager, and until every
 *    remaining node names the same live manager; in election timeouts.
 *
 * Prints markdown tables on stdout, progress on stderr.  --verbose prints
 * every change and every seed; BENCH_CLUSTER_LOG=0..3 prints the nodes' own
 * log at that level (LIBRAFT_TRACE=1 adds libraft's). */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rshare/rshare.h"
#include "../sim/memory_store.h"

#define MAX_NODES 256
#define MAX_CHANGES 16
#define MAX_SEEDS 64
#define MAX_SIZES 16
#define MAX_RESOURCES (2 * MAX_CHANGES + 1) /* both series and the warm-up */

/* Library defaults, set explicitly so that the report names them. */
#define HELLO_MS 1000u
#define MEMBER_TIMEOUT_MS 3500u
#define ELECTION_MS 1000u
#define HEARTBEAT_MS 100u

struct options {
    size_t sizes[MAX_SIZES];
    size_t size_count;
    size_t failover_sizes[MAX_SIZES];
    size_t failover_size_count;
    size_t changes;
    size_t seeds;
    uint32_t delay_us;
    uint32_t window_ms;
    int verbose;
};

/* --- the simulated cluster -------------------------------------------------- */

struct world;

struct slot {
    struct world *w;
    size_t index;
};

struct world {
    rshare_loop_net *net;
    size_t count;
    rshare_node *nodes[MAX_NODES];
    struct memory_store stores[MAX_NODES];
    struct slot slots[MAX_NODES];
    uint32_t voters[3];
    uint32_t voter_count;
    uint32_t id_base; /* node ids: id_base .. id_base + count - 1, slots 0 .. */

    /* Convergence: the manager's map version and when it last moved. */
    uint64_t last_version;
    uint64_t version_since_us;
    uint64_t quiet_us;

    /* The change being watched: when each node's map first held it. */
    uint64_t watch_id;
    uint64_t seen_us[MAX_NODES];
    size_t seen_count;

    /* Failover: the node that was destroyed. */
    uint32_t dead;
    uint64_t first_leader_us;
};

static uint64_t splitmix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15u;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9u;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBu;
    return x ^ (x >> 31);
}

static void run_for(struct world *w, uint64_t us);

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_cluster: %s: %s\n", what, rc ? rshare_strerror(rc) : "failed");
    exit(1);
}

static uint64_t now_us(const struct world *w)
{
    return rshare_loop_net_now_us(w->net);
}

static int map_holds(rshare_node *node, uint64_t id)
{
    struct rshare_resource_desc descs[MAX_RESOURCES];
    size_t n;
    if (rshare_resource_list(node, 0, descs, MAX_RESOURCES, sizeof(descs[0]), &n) < 0)
        return 0;
    for (size_t i = 0; i < n && i < MAX_RESOURCES; i++)
        if (descs[i].id == id)
            return 1;
    return 0;
}

static void on_event(rshare_node *node, enum rshare_cluster_event event, uint32_t id, void *ud)
{
    (void)id;
    struct slot *s = ud;
    struct world *w = s->w;
    if (event != RSHARE_EVENT_MAP || !w->watch_id || w->seen_us[s->index])
        return;
    if (map_holds(node, w->watch_id)) {
        w->seen_us[s->index] = now_us(w);
        w->seen_count++;
    }
}

/* BENCH_CLUSTER_LOG=0..3 shows the nodes' log (stderr) at that level. */
static void log_line(void *user_data, enum rshare_log_level level, const char *message)
{
    struct slot *s = user_data;
    fprintf(stderr, "[%.6f node %zu %d] %s\n", (double)now_us(s->w) / 1e6, s->index + 1,
            (int)level, message);
}

static void start_node(struct world *w, size_t i)
{
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = w->id_base + (uint32_t)i;
    cfg.slot = (uint16_t)i;
    cfg.install_order = (uint16_t)i;
    cfg.clock = rshare_loop_net_clock(w->net);
    /* No cluster key (the protocol is measured, not AEAD); errors only, so
     * the nodes' warning about running unprotected stays out of the way. */
    cfg.log = (struct rshare_log){log_line, &w->slots[i], RSHARE_LOG_ERROR};
    const char *level = getenv("BENCH_CLUSTER_LOG");
    if (level && *level >= '0' && *level <= '3')
        cfg.log.max_level = (enum rshare_log_level)(*level - '0');
    w->slots[i] = (struct slot){w, i};
    cfg.persist = memory_store_hook(&w->stores[i]);
    rshare_node *node;
    int rc = rshare_node_create(&cfg, &node);
    if (rc < 0)
        die("rshare_node_create", rc);
    if ((rc = rshare_node_add_loop(node, w->net, w->id_base + (uint32_t)i)) < 0)
        die("rshare_node_add_loop", rc);
    struct rshare_cluster_config cc;
    rshare_cluster_config_init(&cc, sizeof(cc));
    cc.manager_eligible = i < w->voter_count;
    cc.initial_voters = w->voters;
    cc.initial_voter_count = w->voter_count;
    cc.voters = 3;
    cc.hello_interval_ms = HELLO_MS;
    cc.member_timeout_ms = MEMBER_TIMEOUT_MS;
    cc.election_timeout_ms = ELECTION_MS;
    cc.heartbeat_ms = HEARTBEAT_MS;
    if ((rc = rshare_cluster_join(node, &cc)) < 0)
        die(rshare_node_errmsg(node), rc);
    rshare_cluster_set_callback(node, on_event, &w->slots[i]);
    w->nodes[i] = node;
}

/* `stagger`: start the nodes one after the other, 0..99 ms apart (drawn
 * from the seed), as blades that power up at different moments; else all
 * at the same instant (their timers then tick in phase). */
static void world_up(struct world *w, size_t count, uint64_t seed, uint32_t delay_us,
                     uint32_t id_base, int stagger)
{
    memset(w, 0, sizeof(*w));
    w->count = count;
    w->id_base = id_base;
    w->voter_count = count < 3 ? (uint32_t)count : 3;
    for (uint32_t i = 0; i < w->voter_count; i++)
        w->voters[i] = id_base + i;
    int rc = rshare_loop_net_create(seed, &w->net);
    if (rc < 0)
        die("rshare_loop_net_create", rc);
    struct rshare_loop_link link;
    rshare_loop_link_init(&link, sizeof(link));
    link.delay_us = delay_us;
    link.jitter_us = 0;
    link.loss_ppm = 0;
    if ((rc = rshare_loop_net_set_default(w->net, &link)) < 0)
        die("rshare_loop_net_set_default", rc);
    for (size_t i = 0; i < count; i++) {
        start_node(w, i);
        if (stagger && i + 1 < count)
            run_for(w, splitmix(seed * 1000003u + i) % 100000u);
    }
}

static void world_down(struct world *w)
{
    for (size_t i = 0; i < w->count; i++)
        rshare_node_destroy(w->nodes[i]);
    rshare_loop_net_destroy(w->net);
    for (size_t i = 0; i < w->count; i++)
        memory_store_free(&w->stores[i]);
}

static int run(struct world *w, int (*done)(void *), uint64_t max_us)
{
    rshare_node *live[MAX_NODES];
    size_t n = 0;
    for (size_t i = 0; i < w->count; i++)
        if (w->nodes[i])
            live[n++] = w->nodes[i];
    int rc = rshare_loop_net_run(w->net, live, n, done, w, max_us);
    if (rc < 0 && rc != RSHARE_ETIMEDOUT)
        die("rshare_loop_net_run", rc);
    return rc;
}

/* Settled: every node names node 1 as manager, the manager knows every
 * node as alive, and the manager's map version has not moved for quiet_us
 * (so no membership change is still on its way). */
static int settled(void *user_data)
{
    struct world *w = user_data;
    rshare_node *manager = w->nodes[0];
    uint64_t version;
    rshare_cluster_map_version(manager, NULL, &version);
    if (version != w->last_version) {
        w->last_version = version;
        w->version_since_us = now_us(w);
    }
    if (!version || now_us(w) - w->version_since_us < w->quiet_us)
        return 0;
    for (size_t i = 0; i < w->count; i++)
        if (rshare_cluster_manager(w->nodes[i]) != w->id_base)
            return 0;
    struct rshare_member members[MAX_NODES];
    size_t n;
    if (rshare_cluster_members(manager, members, MAX_NODES, sizeof(members[0]), &n) < 0 ||
        n != w->count)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(members[i].flags & RSHARE_MEMBER_ALIVE))
            return 0;
    return 1;
}

static void dump(const struct world *w, const char *what)
{
    fprintf(stderr, "bench_cluster: %zu nodes: %s at %.3f s of virtual time\n", w->count, what,
            (double)now_us(w) / 1e6);
    for (size_t i = 0; i < w->count; i++) {
        if (!w->nodes[i])
            continue;
        uint64_t v;
        rshare_cluster_map_version(w->nodes[i], NULL, &v);
        fprintf(stderr, "  node %zu: manager %u, map version %" PRIu64 "%s\n", i + 1,
                rshare_cluster_manager(w->nodes[i]), v,
                w->watch_id && !w->seen_us[i] ? ", change not seen" : "");
    }
    exit(1);
}

static uint64_t register_resource(struct world *w, size_t host, const char *name)
{
    struct rshare_resource_desc d;
    rshare_resource_desc_init(&d, sizeof(d));
    d.kind = RSHARE_RESOURCE_BLOCK;
    d.block_size = 512;
    d.block_count = 2048;
    snprintf(d.path, sizeof(d.path), "%s", name);
    snprintf(d.model, sizeof(d.model), "sim");
    uint64_t id;
    int rc = rshare_resource_register(w->nodes[host], &d, &id);
    if (rc < 0)
        die("rshare_resource_register", rc);
    memset(w->seen_us, 0, sizeof(w->seen_us));
    w->seen_count = 0;
    w->watch_id = id;
    return id;
}

static int all_seen(void *user_data)
{
    struct world *w = user_data;
    return w->seen_count == w->count;
}

static void run_for(struct world *w, uint64_t us)
{
    if (us)
        run(w, NULL, us);
}

/* Converged: settled, and then one change (a resource on the last node)
 * has reached every node's map, which proves that every node receives the
 * map log.  (Map versions alone cannot say so: a node that caught up from
 * a snapshot reports version 0 until it applies a change after it.) */
static void converge(struct world *w)
{
    w->quiet_us = 3ull * HELLO_MS * 1000u;
    w->last_version = 0;
    w->version_since_us = now_us(w);
    if (run(w, settled, 300ull * 1000000u) != 0)
        dump(w, "no settled membership after 300 s");
    register_resource(w, w->count - 1, "bench-warm-up");
    if (run(w, all_seen, 30ull * 1000000u) != 0)
        dump(w, "the warm-up change did not reach every node in 30 s");
    w->watch_id = 0;
    run_for(w, 1000000u);
}

static uint64_t packets_sent(const struct world *w)
{
    struct rshare_loop_stats st;
    rshare_loop_net_stats(w->net, &st, sizeof(st));
    return st.sent;
}

static uint64_t messages_sent(const struct world *w)
{
    uint64_t total = 0;
    for (size_t i = 0; i < w->count; i++) {
        struct rshare_node_stats st;
        if (w->nodes[i] && rshare_node_stats(w->nodes[i], &st, sizeof(st)) == 0)
            total += st.msgs_sent;
    }
    return total;
}

static uint64_t manager_version(const struct world *w)
{
    uint64_t v;
    rshare_cluster_map_version(w->nodes[0], NULL, &v);
    return v;
}

/* --- statistics ------------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median (the mean of the middle two for an even count). */
static double median_of(const double *v, size_t n)
{
    double s[MAX_SEEDS > MAX_CHANGES ? MAX_SEEDS : MAX_CHANGES];
    memcpy(s, v, n * sizeof(*v));
    qsort(s, n, sizeof(*s), cmp_double);
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static double max_of(const double *v, size_t n)
{
    double m = v[0];
    for (size_t i = 1; i < n; i++)
        m = v[i] > m ? v[i] : m;
    return m;
}

static double min_of(const double *v, size_t n)
{
    double m = v[0];
    for (size_t i = 1; i < n; i++)
        m = v[i] < m ? v[i] : m;
    return m;
}

/* --- 1. map change propagation ------------------------------------------------------ */

enum origin { FROM_MEMBER, FROM_MANAGER, ORIGINS };

struct series {
    size_t host_example; /* the first host used (a node id) */
    int host_votes;
    double to_commit[MAX_CHANGES], to_voters[MAX_CHANGES], to_all[MAX_CHANGES];
    double versions[MAX_CHANGES], packets[MAX_CHANGES], messages[MAX_CHANGES];
};

struct propagation {
    size_t nodes;
    double converge_s;     /* virtual seconds until converged */
    double idle_packets_s; /* background: packets per second, idle */
    struct series series[ORIGINS];
};

/* One change: a resource registered on `host` at virtual time t0; the
 * counters over [t0, t0 + window) minus those over the same window one
 * hello period later. */
static void measure_change(const struct options *o, struct world *w, size_t host, uint64_t t0,
                           int origin, struct series *s, size_t k)
{
    const double rtt_us = 2.0 * o->delay_us;
    const uint64_t period_us = (uint64_t)HELLO_MS * 1000u;
    const uint64_t window_us = (uint64_t)o->window_ms * 1000u;
    run_for(w, t0 - now_us(w));
    uint64_t p0 = packets_sent(w), m0 = messages_sent(w), v0 = manager_version(w);
    char name[48];
    snprintf(name, sizeof(name), "bench-%d-%zu", origin, k);
    register_resource(w, host, name);
    if (run(w, all_seen, window_us) != 0)
        dump(w, "a change did not reach every node within the window");
    uint64_t commit = w->seen_us[0], last = 0, voters_last = 0;
    for (size_t i = 0; i < w->count; i++) {
        last = w->seen_us[i] > last ? w->seen_us[i] : last;
        if (i < w->voter_count && w->seen_us[i] > voters_last)
            voters_last = w->seen_us[i];
    }
    w->watch_id = 0;
    run_for(w, t0 + window_us - now_us(w));
    uint64_t p1 = packets_sent(w), m1 = messages_sent(w), v1 = manager_version(w);
    run_for(w, t0 + period_us - now_us(w));
    uint64_t q0 = packets_sent(w), n0 = messages_sent(w);
    run_for(w, t0 + period_us + window_us - now_us(w));
    uint64_t q1 = packets_sent(w), n1 = messages_sent(w);
    s->to_commit[k] = (double)(commit - t0) / rtt_us;
    s->to_voters[k] = (double)(voters_last - commit) / rtt_us;
    s->to_all[k] = (double)(last - commit) / rtt_us;
    s->versions[k] = (double)(v1 - v0);
    s->packets[k] = (double)(p1 - p0) - (double)(q1 - q0);
    s->messages[k] = (double)(m1 - m0) - (double)(n1 - n0);
    if (o->verbose)
        fprintf(stderr,
                "  %zu nodes, change %zu on node %zu at +%" PRIu64 " ms in the heartbeat period: "
                "commit %.1f RTT after registration; voters %.1f, all nodes %.1f RTT after "
                "commit; %.0f map versions; window %" PRIu64 " packets / %" PRIu64
                " messages, idle window %" PRIu64 " / %" PRIu64 "\n",
                w->count, k, host + 1, (t0 / 1000u) % HEARTBEAT_MS, s->to_commit[k],
                s->to_voters[k], s->to_all[k], s->versions[k], p1 - p0, m1 - m0, q1 - q0,
                n1 - n0);
}

static void propagation_case(const struct options *o, size_t count, struct propagation *p)
{
    struct world *w = calloc(1, sizeof(*w));
    if (!w)
        die("calloc", RSHARE_ENOMEM);
    const uint64_t period_us = (uint64_t)HELLO_MS * 1000u;
    world_up(w, count, 1, o->delay_us, 1, 0);
    uint64_t start = now_us(w);
    converge(w);
    memset(p, 0, sizeof(*p));
    p->nodes = count;
    p->converge_s = (double)(now_us(w) - start) / 1e6;
    if (o->verbose)
        fprintf(stderr, "  %zu nodes converged after %.1f s of virtual time\n", count,
                p->converge_s);

    /* Background traffic over one whole hello period. */
    uint64_t b0 = packets_sent(w);
    run_for(w, period_us);
    p->idle_packets_s = (double)(packets_sent(w) - b0) * 1e6 / (double)period_us;

    /* Align to the hello period (hellos go out at its start), then place
     * change k of each series at k / K of the heartbeat period, plus 7 ms
     * to stay off the tick grid. */
    uint64_t base = ((now_us(w) - start) / period_us + 1) * period_us + start;
    for (int origin = 0; origin < ORIGINS; origin++) {
        struct series *s = &p->series[origin];
        for (size_t k = 0; k < o->changes; k++) {
            size_t host = 0;
            if (origin == FROM_MEMBER)
                host = count > 3 ? count - 1 - k % (count - 3) : count - 1;
            if (k == 0) {
                s->host_example = host + 1;
                s->host_votes = host < w->voter_count;
            }
            uint64_t t0 = base + 7000u + k * (uint64_t)HEARTBEAT_MS * 1000u / o->changes;
            measure_change(o, w, host, t0, origin, s, k);
            base += 2 * period_us;
        }
    }
    world_down(w);
    free(w);
}

/* --- 2. manager failover ---------------------------------------------------------------- */

/* Every remaining node names the same live manager.  Also notes when a
 * remaining node first reports itself manager (RSHARE_EVENT_MANAGER would
 * say so, but the library does not emit it yet: look at every step). */
static int new_manager_agreed(void *user_data)
{
    struct world *w = user_data;
    uint32_t agreed = 0;
    int disagree = 0;
    for (size_t i = 0; i < w->count; i++) {
        if (!w->nodes[i])
            continue;
        uint32_t m = rshare_cluster_manager(w->nodes[i]);
        if (!w->first_leader_us && m == rshare_node_id(w->nodes[i]))
            w->first_leader_us = now_us(w);
        if (!m || m == w->dead || (agreed && m != agreed) || m < w->id_base ||
            m - w->id_base >= w->count || !w->nodes[m - w->id_base])
            disagree = 1;
        agreed = m;
    }
    return !disagree && agreed != 0;
}

struct failover {
    size_t nodes, seeds;
    int stagger;
    double elected[MAX_SEEDS], agreed[MAX_SEEDS];
    uint32_t winners[3]; /* node 2, node 3, another */
};

static void failover_case(const struct options *o, size_t count, int stagger, struct failover *f)
{
    memset(f, 0, sizeof(*f));
    f->nodes = count;
    f->stagger = stagger;
    f->seeds = o->seeds;
    const double et_us = ELECTION_MS * 1000.0;
    for (size_t s = 0; s < o->seeds; s++) {
        struct world *w = calloc(1, sizeof(*w));
        if (!w)
            die("calloc", RSHARE_ENOMEM);
        /* Seed s: node ids from 1 + 1000 s (they seed each node's election
         * timer draws) and a crash instant drawn from s. */
        uint64_t seed = s + 1;
        world_up(w, count, seed, o->delay_us, 1 + 1000u * (uint32_t)s, stagger);
        converge(w);
        run_for(w, (splitmix(seed) % 1000u) * 1000u + splitmix(seed + 1) % 1000u);
        uint64_t crash = now_us(w);
        w->dead = w->id_base;
        w->first_leader_us = 0;
        rshare_node_destroy(w->nodes[0]);
        w->nodes[0] = NULL;
        if (run(w, new_manager_agreed, 30ull * 1000000u) != 0)
            dump(w, "no agreed manager 30 s after the crash");
        uint64_t agreed = now_us(w);
        uint32_t winner = rshare_cluster_manager(w->nodes[1]);
        winner -= w->id_base - 1; /* its position: 1 is the crashed manager */
        f->winners[winner == 2 ? 0 : winner == 3 ? 1 : 2]++;
        f->elected[s] = (double)((w->first_leader_us ? w->first_leader_us : agreed) - crash) / et_us;
        f->agreed[s] = (double)(agreed - crash) / et_us;
        if (o->verbose)
            fprintf(stderr, "  %zu nodes, %s starts, seed %" PRIu64 ", crash at %.3f s: node %u "
                            "manager after %.3f ET, all agree after %.3f ET\n",
                    count, stagger ? "staggered" : "simultaneous", seed, (double)crash / 1e6,
                    winner, f->elected[s], f->agreed[s]);
        world_down(w);
        free(w);
    }
}

/* --- options and report ------------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_cluster [--sizes N,N,...] [--changes K (1..%d)] [--window MS]\n"
            "                     [--failover-sizes N,...] [--seeds S (1..%d)]\n"
            "                     [--delay-us US] [--verbose]\n"
            "  sizes 2..%d (failover sizes from 3); an empty list skips that part\n",
            MAX_CHANGES, MAX_SEEDS, MAX_NODES);
    exit(2);
}

static unsigned long parse_number(const char *s, unsigned long lo, unsigned long hi)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || v < lo || v > hi)
        usage();
    return v;
}

static size_t parse_sizes(const char *s, size_t *out, unsigned long min)
{
    size_t n = 0;
    char buf[256];
    if (strlen(s) >= sizeof(buf))
        usage();
    snprintf(buf, sizeof(buf), "%s", s);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        if (n == MAX_SIZES)
            usage();
        out[n++] = parse_number(tok, min, MAX_NODES);
    }
    return n;
}

static void parse_options(int argc, char **argv, struct options *o)
{
    static const size_t sizes[] = {2, 4, 8, 16, 32, 64, 128, 256};
    static const size_t failover_sizes[] = {8, 64};
    memset(o, 0, sizeof(*o));
    o->size_count = sizeof(sizes) / sizeof(sizes[0]);
    memcpy(o->sizes, sizes, sizeof(sizes));
    o->failover_size_count = sizeof(failover_sizes) / sizeof(failover_sizes[0]);
    memcpy(o->failover_sizes, failover_sizes, sizeof(failover_sizes));
    o->changes = 5;
    o->seeds = 10;
    o->delay_us = 1000;
    o->window_ms = 500;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--verbose") == 0) {
            o->verbose = 1;
            continue;
        }
        if (!v)
            usage();
        i++;
        if (strcmp(a, "--sizes") == 0)
            o->size_count = parse_sizes(v, o->sizes, 2);
        else if (strcmp(a, "--failover-sizes") == 0)
            o->failover_size_count = parse_sizes(v, o->failover_sizes, 3);
        else if (strcmp(a, "--changes") == 0)
            o->changes = parse_number(v, 1, MAX_CHANGES);
        else if (strcmp(a, "--seeds") == 0)
            o->seeds = parse_number(v, 1, MAX_SEEDS);
        else if (strcmp(a, "--delay-us") == 0)
            o->delay_us = (uint32_t)parse_number(v, 10, 100000);
        else if (strcmp(a, "--window") == 0)
            o->window_ms = (uint32_t)parse_number(v, 10, HELLO_MS - 100);
        else
            usage();
    }
}

static const char *verdict(double worst, double target)
{
    return worst <= target ? "met" : "**missed**";
}

int main(int argc, char **argv)
{
    struct options o;
    parse_options(argc, argv, &o);
    const double rtt_ms = 2.0 * o.delay_us / 1000.0;

    if (o.size_count) {
        struct propagation *results = calloc(o.size_count, sizeof(*results));
        if (!results)
            die("calloc", RSHARE_ENOMEM);
        for (size_t i = 0; i < o.size_count; i++) {
            fprintf(stderr, "bench_cluster: propagation, %zu nodes\n", o.sizes[i]);
            propagation_case(&o, o.sizes[i], &results[i]);
        }
        printf("**Map change propagation**: one-way delay %.3g ms, RTT %.3g ms; heartbeat %u ms "
               "(%.0f RTT); %zu change%s per row, spread over the heartbeat period; times in "
               "RTT\n\n",
               o.delay_us / 1000.0, rtt_ms, HEARTBEAT_MS, HEARTBEAT_MS / rtt_ms, o.changes,
               o.changes == 1 ? "" : "s");
        printf("| nodes | change registered on | registration → commit | commit → all voters | "
               "commit → all nodes, median | commit → all nodes, max | target ≤ 3 RTT | "
               "map versions / change | "
               "packets / change | messages / change | idle packets / s |\n");
        printf("|---:|---|---:|---:|---:|---:|---|---:|---:|---:|---:|\n");
        for (size_t i = 0; i < o.size_count; i++) {
            const struct propagation *p = &results[i];
            size_t k = o.changes;
            for (int origin = 0; origin < ORIGINS; origin++) {
                const struct series *s = &p->series[origin];
                char where[64];
                if (origin == FROM_MANAGER)
                    snprintf(where, sizeof(where), "the manager (node 1)");
                else if (s->host_votes)
                    snprintf(where, sizeof(where), "the other voter (node %zu)", s->host_example);
                else if (k > 1 && p->nodes > 4)
                    snprintf(where, sizeof(where), "non-voting nodes (%zu, %zu, …)",
                             s->host_example, s->host_example - 1);
                else
                    snprintf(where, sizeof(where), "a non-voting node (node %zu)", s->host_example);
                double worst = max_of(s->to_all, k);
                printf("| %zu | %s | %.1f | %.1f | %.1f | %.1f | %s | %.0f | %.0f | %.0f | %.0f |\n",
                       p->nodes, where, median_of(s->to_commit, k), median_of(s->to_voters, k),
                       median_of(s->to_all, k), worst, verdict(worst, 3.0),
                       median_of(s->versions, k), median_of(s->packets, k),
                       median_of(s->messages, k), p->idle_packets_s);
            }
        }
        printf("\n");
        free(results);
    }

    if (o.failover_size_count) {
        size_t rows = 2 * o.failover_size_count;
        struct failover *results = calloc(rows, sizeof(*results));
        if (!results)
            die("calloc", RSHARE_ENOMEM);
        for (size_t i = 0; i < rows; i++) {
            size_t count = o.failover_sizes[i / 2];
            int stagger = (int)(i % 2);
            fprintf(stderr, "bench_cluster: failover, %zu nodes, %zu seeds, %s\n", count, o.seeds,
                    stagger ? "staggered starts" : "simultaneous starts");
            failover_case(&o, count, stagger, &results[i]);
        }
        printf("**Manager failover**: election timeout (ET) %u ms, heartbeat %u ms; %zu seed%s "
               "per row, each with other node ids and another crash instant; times in ET\n\n",
               ELECTION_MS, HEARTBEAT_MS, o.seeds, o.seeds == 1 ? "" : "s");
        printf("| nodes | nodes started | crash → a new manager, median | crash → a new manager, "
               "max | crash → all agree, median | crash → all agree, min | crash → all agree, "
               "max | seeds over 2 ET | target ≤ 2 ET | new manager: node 2 / node 3 |\n");
        printf("|---:|---|---:|---:|---:|---:|---:|---:|---|---|\n");
        for (size_t i = 0; i < rows; i++) {
            const struct failover *f = &results[i];
            double worst = max_of(f->agreed, f->seeds);
            size_t over = 0;
            for (size_t k = 0; k < f->seeds; k++)
                over += f->agreed[k] > 2.0;
            printf("| %zu | %s | %.2f | %.2f | %.2f | %.2f | %.2f | %zu | %s | %u / %u |\n",
                   f->nodes, f->stagger ? "0–99 ms apart" : "at the same instant",
                   median_of(f->elected, f->seeds), max_of(f->elected, f->seeds),
                   median_of(f->agreed, f->seeds), min_of(f->agreed, f->seeds), worst, over,
                   verdict(worst, 2.0), f->winners[0], f->winners[1]);
        }
        printf("\n");
        free(results);
    }
    return 0;
}
