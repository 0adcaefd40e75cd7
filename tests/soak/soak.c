/* The simulation soak: whole clusters of 16 to 64 nodes on the loop
 * transport, one seed each, under loss, duplication, reordering,
 * partitions, node crashes and restarts and member disk failures, while
 *
 *   - a volume (linear, RAID-0, RAID-1, RAID-10 or RAID-5, by seed) is
 *     written and read by one node, a spare standing by where the layout
 *     has redundancy,
 *   - a KVM host types on three targets and moves its focus, routing its
 *     keyboard in the map as it goes,
 *   - three nodes contend for the exclusive lease of a disk, renew it,
 *     release it or let it lapse, and its host lends and revokes grants.
 *
 * Everything that happened goes to the history checker (history.h); at the
 * end of a seed the faults stop, crashed nodes come back, and the cluster
 * must converge, every pending request finish, the whole volume read back
 * right and no key stay pressed.
 *
 *   soak [--first SEED] [--seeds N] [--seconds WALL] [--sim-seconds T]
 *        [--nodes MIN-MAX] [--identities] [--verbose]
 *        [--trace [--watch SECTOR] [--log-node ID]]
 *
 * --identities runs every node in identity mode (enrolled by one authority,
 * keys derived from the seed): every message goes over per-pair keys, and
 * every crash and restart is a new handshake (environment SOAK_IDENTITIES=1).
 *
 * Runs seeds from SEED until N are done or WALL seconds of wall time have
 * passed (environment: SOAK_FIRST, SOAK_SEEDS, SOAK_SECONDS).  A failing
 * seed is printed with the command that runs it alone; --trace then shows
 * the faults, the volume's member states and its engine's log, --watch
 * the requests that touch one sector, --log-node one node's debug log. */
#include "config.h"

#include <linux/input-event-codes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "block/engine.h"
#include "cluster/cluster.h"
#include "cluster/map.h"
#include "history.h"
#include "memory_store.h"
#include "rshare/rshare.h"
#include "testutil.h"

#define MAX_NODES 64
#define DISK_BYTES (1u << 20)
#define MAX_IO (32u << 10)
#define DEPTH 6
#define STEP_US 10000u /* I/O batches start on this grid; the rest every 10 steps */
#define VOLUME_CLIENT 4 /* node ids */
#define KVM_HOST 5
#define FIRST_DISK 6

/* --- options and figures --------------------------------------------------------- */

static struct {
    uint64_t first, seeds;
    double wall_seconds;
    uint32_t sim_seconds;
    uint32_t min_nodes, max_nodes;
    bool verbose;
    bool identities;
} opt = {1, 3, 60, 8, 16, 18, false, false}; /* make check's short soak */

static struct {
    uint64_t seeds, failed, nodes, sim_us, map_versions, writes, writes_failed, reads,
        reads_failed, sectors, key_events, focus_moves, lease_ops, grant_ops, partitions,
        crashes, disk_failures, rebuilds, packets, lost, duplicated, reordered, cut;
    uint64_t handshakes, identity_refused, auth_failed; /* summed over every node's boots */
    uint64_t by_layout[5];
} fig;

/* --- the seed's random choices ----------------------------------------------------- */

static uint64_t rng;
static uint32_t rnd(uint32_t n)
{
    rng = rng * 6364136223846793005u + 1442695040888963407u;
    return (uint32_t)((rng >> 33) % n);
}

static bool chance(uint32_t per_mille)
{
    return rnd(1000) < per_mille;
}

/* --- a disk that survives its node's crash and can die ------------------------------- */

struct disk {
    uint8_t *bytes;
    bool dead;
};

static int disk_submit(void *backend, struct rshare_block_io *io)
{
    struct disk *d = backend;
    int status = 0;
    if (d->dead)
        status = RSHARE_EIO;
    else if (io->op == RSHARE_BLOCK_READ)
        memcpy(io->buf, d->bytes + io->offset, io->length);
    else if (io->op == RSHARE_BLOCK_WRITE)
        memcpy(d->bytes + io->offset, io->buf, io->length);
    io->done(io, status);
    return 0;
}

static void disk_close(void *backend)
{
    (void)backend;
}

static const struct rshare_block_ops disk_ops = {sizeof(struct rshare_block_ops), 0, disk_submit,
                                                 disk_close};

/* --- the world ----------------------------------------------------------------------- */

struct keys {
    int down[KEY_CNT];
};

enum lease_state { LEASE_IDLE, LEASE_ASKING, LEASE_HELD };

struct snode {
    uint32_t id;
    rshare_node *node; /* NULL while crashed */
    uint64_t restart_at_us;
    struct memory_store store;
    struct disk *disk; /* a volume member or the spare */
    bool lease_disk;
    bool target;
    rshare_kvm *kvm; /* the host's or a target's */
    struct keys keys;
    bool contender;
    enum lease_state lease;
    bool lease_busy; /* a renew or release in flight */
    uint64_t lease_id, lease_until_us, lease_renew_us;
};

static struct {
    uint64_t seed;
    uint8_t cluster_key[32];
    uint8_t authority_pk[32];
    uint8_t identity_sk[MAX_NODES + 1][64];
    uint8_t identity_cert[MAX_NODES + 1][RSHARE_IDENTITY_CERT_BYTES];
    rshare_loop_net *net;
    struct snode n[MAX_NODES + 1]; /* by id */
    uint32_t count;
    struct history *h;
    struct disk disks[6];
    uint32_t layout, members, disk_count;
    uint64_t lease_resource, keyboard;
    uint32_t targets[3];
    int host_down[KEY_CNT];
    uint32_t routed;      /* the keyboard's route as last committed (0: ask again) */
    uint32_t route_asked; /* the one in flight */
    bool route_busy;
    rshare_volume *vol;
    struct {
        bool busy, write, done;
        uint64_t off;
        size_t len;
        uint32_t id;
        int status;
        uint8_t buf[MAX_IO];
    } io[DEPTH];
    uint32_t cuts[64][2];
    size_t cut_count;
    bool disk_failed;
    uint64_t member_fault_us; /* when a member was last taken away */
    uint64_t grant_id;
    bool grant_busy;
} w;

/* --trace: what the driver does and how the volume's members change;
 * --log-node: one node's log at debug level. */
static bool trace;
static uint32_t log_node;
#define TRACE(...)                                                                                \
    do {                                                                                          \
        if (trace) {                                                                              \
            printf("%9.3f ", (double)rshare_loop_net_now_us(w.net) / 1e6);                         \
            printf(__VA_ARGS__);                                                                  \
            printf("\n");                                                                         \
        }                                                                                         \
    } while (0)

static const char *layout_name(uint32_t layout)
{
    static const char *names[] = {"linear", "raid0", "raid1", "raid10", "raid5"};
    return names[layout];
}

static const uint32_t layouts[] = {RSHARE_LAYOUT_LINEAR, RSHARE_LAYOUT_RAID0,
                                   RSHARE_LAYOUT_RAID1, RSHARE_LAYOUT_RAID10,
                                   RSHARE_LAYOUT_RAID5};

static uint64_t now_us(void)
{
    return rshare_loop_net_now_us(w.net);
}

/* Every map a node installs, and the leases in it, go to the history. */
static void on_event(rshare_node *node, enum rshare_cluster_event event, uint32_t id, void *ud)
{
    (void)id;
    (void)ud;
    if (event != RSHARE_EVENT_MAP)
        return;
    const struct rs_map *map = &rs_cluster(node)->map;
    uint8_t *buf;
    size_t len;
    if (rs_map_snapshot(node, map, malloc, &buf, &len) < 0) {
        history_fail(w.h, "node %u: map of version %llu cannot be encoded", rshare_node_id(node),
                     (unsigned long long)map->version);
        return;
    }
    uint64_t digest = 1469598103934665603u;
    for (size_t i = 0; i < len; i++)
        digest = (digest ^ buf[i]) * 1099511628211u;
    free(buf);
    history_map(w.h, rshare_node_id(node), map->version, digest);
    for (size_t i = 0; i < map->lease_count; i++)
        history_lease(w.h, rshare_node_id(node), map->version, map->leases[i].resource,
                      map->leases[i].id, map->leases[i].fence,
                      map->leases[i].mode == RS_LEASE_EXCLUSIVE);
}

/* A target's sink: the keys its operating system would see down. */
static void sink(void *user_data, uint32_t host, const struct rshare_kvm_event *events,
                 size_t count)
{
    struct snode *sn = user_data;
    if (host != KVM_HOST)
        history_fail(w.h, "node %u: input from node %u, not the host", sn->id, host);
    for (size_t i = 0; i < count; i++)
        if (events[i].type == EV_KEY && events[i].code < KEY_CNT)
            sn->keys.down[events[i].code] = events[i].value != 0;
}

/* Set-up that cannot fail unless the driver is wrong. */
static void must(int rc, const char *what)
{
    if (rc < 0) {
        fprintf(stderr, "soak: seed %llu: %s: %s\n", (unsigned long long)w.seed, what,
                rshare_strerror(rc));
        exit(2);
    }
}

static void make_kvm(struct snode *sn)
{
    struct rshare_kvm_config c;
    rshare_kvm_config_init(&c, sizeof(c));
    if (sn->id == KVM_HOST) {
        c.roles = RSHARE_KVM_ROLE_HOST;
        c.targets = w.targets;
        c.target_count = 3;
    } else {
        memset(&sn->keys, 0, sizeof(sn->keys)); /* a fresh input device */
        c.roles = RSHARE_KVM_ROLE_TARGET;
        c.host = KVM_HOST;
        c.sink = sink;
        c.sink_data = sn;
    }
    must(rshare_kvm_create(sn->node, &c, &sn->kvm), "kvm");
}

static void trace_log(void *ud, enum rshare_log_level level, const char *message)
{
    (void)ud;
    (void)level;
    if (!strstr(message, "access") && !strstr(message, "lease"))
        TRACE("log: %s", message);
}

static void node_start(struct snode *sn)
{
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = sn->id;
    cfg.slot = (uint16_t)(sn->id - 1);
    cfg.persist = memory_store_hook(&sn->store);
    cfg.clock = rshare_loop_net_clock(w.net);
    cfg.request_timeout_ms = 2000;
    cfg.cluster_key = w.cluster_key; /* access management needs one */
    if (opt.identities) {
        cfg.identity_secret_key = w.identity_sk[sn->id];
        cfg.identity_cert = w.identity_cert[sn->id];
        cfg.authority_public_key = w.authority_pk;
    }
    cfg.log = (struct rshare_log){rs_test_quiet_log, NULL, RSHARE_LOG_ERROR};
    if (log_node == sn->id)
        cfg.log = (struct rshare_log){trace_log, NULL, RSHARE_LOG_DEBUG};
    else if (trace && sn->id == VOLUME_CLIENT) /* the volume engine's log */
        cfg.log = (struct rshare_log){trace_log, NULL, RSHARE_LOG_INFO};
    must(rshare_node_create(&cfg, &sn->node), "node");
    must(rshare_node_add_loop(sn->node, w.net, sn->id), "loop endpoint");
    static const uint32_t voters[] = {1, 2, 3};
    struct rshare_cluster_config cc;
    rshare_cluster_config_init(&cc, sizeof(cc));
    cc.manager_eligible = sn->id <= 3;
    cc.initial_voters = voters;
    cc.initial_voter_count = 3;
    cc.voters = 3;
    cc.capabilities = sn->disk || sn->lease_disk ? RSHARE_CAP_BLOCK : 0;
    must(rshare_cluster_join(sn->node, &cc), "join");
    rshare_cluster_set_callback(sn->node, on_event, NULL);

    struct rshare_resource_desc desc;
    rshare_resource_desc_init(&desc, sizeof(desc));
    desc.kind = RSHARE_RESOURCE_BLOCK;
    desc.rights = RSHARE_RIGHT_READ | RSHARE_RIGHT_WRITE;
    uint64_t res;
    if (sn->disk) {
        struct rshare_block_info info;
        rshare_block_info_init(&info, sizeof(info));
        info.block_size = 512;
        info.block_count = DISK_BYTES / 512;
        rshare_block *block;
        must(rshare_block_create(sn->node, &disk_ops, sn->disk, &info, &block), "disk");
        snprintf(desc.path, sizeof(desc.path), "member");
        must(rshare_resource_register_block(sn->node, &desc, block, &res), "register");
    }
    if (sn->lease_disk) {
        rshare_block *block;
        must(rshare_block_open_memory(sn->node, 64 << 10, 512, &block), "memory disk");
        snprintf(desc.path, sizeof(desc.path), "leased");
        must(rshare_resource_register_block(sn->node, &desc, block, &res), "register");
        w.lease_resource = res;
    }
    if (sn->id == KVM_HOST) {
        struct rshare_resource_desc kb;
        rshare_resource_desc_init(&kb, sizeof(kb));
        kb.kind = RSHARE_RESOURCE_KEYBOARD;
        snprintf(kb.path, sizeof(kb.path), "keyboard");
        must(rshare_resource_register(sn->node, &kb, &w.keyboard), "keyboard");
    }
    if (sn->id == KVM_HOST || sn->target)
        make_kvm(sn);
}

/* A crash says nothing on its way down: the node is cut off from every
 * other while it is destroyed, then the links are restored (with the
 * partitions that were in place). */
static void isolate(uint32_t id, int cut)
{
    for (uint32_t i = 1; i <= w.count; i++)
        if (i != id)
            rshare_loop_net_partition(w.net, id, i, cut);
    for (size_t k = 0; !cut && k < w.cut_count; k++)
        rshare_loop_net_partition(w.net, w.cuts[k][0], w.cuts[k][1], 1);
}

static void node_crash(struct snode *sn)
{
    isolate(sn->id, 1);
    if (sn->kvm)
        rshare_kvm_destroy(sn->kvm);
    sn->kvm = NULL;
    struct rshare_node_stats st;
    if (rshare_node_stats(sn->node, &st, sizeof(st)) == 0) {
        fig.handshakes += st.handshakes;
        fig.identity_refused += st.rx_identity_refused;
        fig.auth_failed += st.rx_auth_failed;
    }
    rshare_node_destroy(sn->node);
    sn->node = NULL;
    sn->lease = LEASE_IDLE;
    sn->lease_busy = false;
    if (sn->id == KVM_HOST) {
        memset(w.host_down, 0, sizeof(w.host_down)); /* its keyboard went with it */
        w.routed = 0; /* its focus starts over */
        w.route_busy = false;
    }
    if (sn->target)
        memset(&sn->keys, 0, sizeof(sn->keys));
    isolate(sn->id, 0);
}

static size_t live_nodes(rshare_node **out)
{
    size_t k = 0;
    for (uint32_t i = 1; i <= w.count; i++)
        if (w.n[i].node)
            out[k++] = w.n[i].node;
    return k;
}

static int run(int (*done)(void *), void *ud, uint64_t us)
{
    rshare_node *live[MAX_NODES];
    size_t k = live_nodes(live);
    int rc = rshare_loop_net_run(w.net, live, k, done, ud, us);
    if (rc < 0 && rc != RSHARE_ETIMEDOUT)
        must(rc, "run");
    return rc;
}

/* Every live node has the same map, from the same manager, holding every
 * node and `want` resources. */
static size_t want_resources;
static int converged(void *ud)
{
    (void)ud;
    uint32_t manager = 0;
    uint64_t version = 0;
    for (uint32_t i = 1; i <= w.count; i++) {
        rshare_node *node = w.n[i].node;
        if (!node)
            continue;
        uint32_t m = rshare_cluster_manager(node);
        const struct rs_map *map = &rs_cluster(node)->map;
        if (!m || !w.n[m].node || (manager && (m != manager || map->version != version)))
            return 0;
        manager = m;
        version = map->version;
        if (map->member_count != w.count || map->resource_count != want_resources)
            return 0;
    }
    return 1;
}

/* --- the volume ----------------------------------------------------------------------- */

struct change {
    int calls, status;
};

static void changed(rshare_node *node, int status, void *ud)
{
    (void)node;
    struct change *c = ud;
    c->calls++;
    c->status = status;
}

static int change_done(void *ud)
{
    return ((struct change *)ud)->calls > 0;
}

static void rebuild_progress(rshare_volume *vol, int status, uint64_t done, uint64_t total,
                             void *ud)
{
    (void)vol;
    (void)ud;
    TRACE("rebuild %llu/%llu (%d)", (unsigned long long)done, (unsigned long long)total, status);

}

static void volume_define(void)
{
    struct rshare_volume_desc v;
    rshare_volume_desc_init(&v, sizeof(v));
    snprintf(v.name, sizeof(v.name), "soak");
    v.layout = layouts[w.layout];
    v.algorithm = v.layout == RSHARE_LAYOUT_RAID5 ? RSHARE_RAID5_LEFT_SYMMETRIC : 0;
    v.chunk_sectors = v.layout == RSHARE_LAYOUT_RAID1 || v.layout == RSHARE_LAYOUT_LINEAR ? 0 : 16;
    v.member_count = w.members;
    for (uint32_t k = 0; k < w.disk_count; k++) {
        struct rshare_resource_desc r[4];
        size_t n;
        must(rshare_resource_list(w.n[FIRST_DISK + k].node, FIRST_DISK + k, r, 4, sizeof(r[0]),
                                  &n),
             "resource list");
        if (k < w.members)
            v.members[k] = r[0].id;
        else
            v.spares[v.spare_count++] = r[0].id;
    }
    struct change c = {0};
    must(rshare_volume_define(w.n[VOLUME_CLIENT].node, &v, changed, &c), "define");
    if (run(change_done, &c, 30000000u) != 0 || c.status != 0) {
        fprintf(stderr, "soak: seed %llu: the volume could not be defined (%d)\n",
                (unsigned long long)w.seed, c.status);
        exit(2);
    }
    struct rshare_volume_config cfg;
    rshare_volume_config_init(&cfg, sizeof(cfg));
    cfg.retry_budget = 2;
    cfg.rebuild_step_sectors = 256;
    cfg.bitmap_region_sectors = 256;
    cfg.clean_delay_ms = 200;
    cfg.progress = rebuild_progress;
    must(rshare_volume_open(w.n[VOLUME_CLIENT].node, "soak", &cfg, &w.vol), "open");
}

static long long watch = -1; /* --watch: a sector whose requests are traced */

static void io_done(rshare_volume *vol, int status, void *ud)
{
    (void)vol;
    size_t i = (size_t)(uintptr_t)ud;
    if (watch >= 0 && (uint64_t)watch * 512 >= w.io[i].off &&
        (uint64_t)watch * 512 < w.io[i].off + w.io[i].len)
        TRACE("%s %u at %llu+%zu: %d", w.io[i].write ? "write" : "read",
              w.io[i].write ? w.io[i].id : 0, (unsigned long long)w.io[i].off, w.io[i].len,
              status);
    w.io[i].status = status;
    w.io[i].done = true;
    if (w.io[i].write)
        history_write_end(w.h, w.io[i].id, status);
    else if (history_read(w.h, w.io[i].off, w.io[i].buf, w.io[i].len, status))
        TRACE("read at %llu+%zu broke a rule", (unsigned long long)w.io[i].off, w.io[i].len);
}

static bool batch_busy(void)
{
    for (size_t i = 0; i < DEPTH; i++)
        if (w.io[i].busy && !w.io[i].done)
            return true;
    return false;
}

static int batch_done(void *ud)
{
    (void)ud;
    return !batch_busy();
}

static void submit(size_t i, bool write, uint64_t off, size_t len)
{
    w.io[i].busy = true;
    w.io[i].done = false;
    w.io[i].write = write;
    w.io[i].off = off;
    w.io[i].len = len;
    int rc;
    if (write) {
        w.io[i].id = history_write_begin(w.h, off, w.io[i].buf, len);
        rc = rshare_volume_write(w.vol, off, w.io[i].buf, len, io_done, (void *)(uintptr_t)i);
    } else {
        memset(w.io[i].buf, 0xEE, len);
        rc = rshare_volume_read(w.vol, off, w.io[i].buf, len, io_done, (void *)(uintptr_t)i);
    }
    if (rc < 0) /* refused at once (a failed volume): completes now */
        io_done(w.vol, rc, (void *)(uintptr_t)i);
}

/* DEPTH requests on ranges that do not overlap. */
static void start_batch(void)
{
    uint64_t size = rshare_volume_size(w.vol);
    for (size_t i = 0; i < DEPTH; i++) {
        w.io[i].busy = false;
        size_t len = (size_t)(1 + rnd(MAX_IO / 512)) * 512u;
        uint64_t off = (uint64_t)rnd((uint32_t)((size - len) / 512 + 1)) * 512u;
        bool clash = false;
        for (size_t k = 0; k < i; k++)
            clash |= w.io[k].busy && off < w.io[k].off + w.io[k].len &&
                     w.io[k].off < off + len;
        if (!clash)
            submit(i, chance(600), off, len);
    }
}

/* Read the whole volume back through the checker. */
static void verify_volume(void)
{
    uint64_t size = rshare_volume_size(w.vol);
    for (uint64_t off = 0; off < size; off += MAX_IO) {
        for (size_t i = 1; i < DEPTH; i++)
            w.io[i].busy = false;
        submit(0, false, off, size - off < MAX_IO ? (size_t)(size - off) : MAX_IO);
        if (run(batch_done, NULL, 60000000u) != 0) {
            history_fail(w.h, "volume read at %llu did not complete", (unsigned long long)off);
            return;
        }
        if (w.io[0].status != 0) {
            history_fail(w.h, "volume read at %llu failed (%s) after the faults stopped",
                         (unsigned long long)off, rshare_strerror(w.io[0].status));
            return;
        }
    }
}

/* --- KVM -------------------------------------------------------------------------------- */

static void host_key(uint16_t code, int down)
{
    rshare_kvm *kvm = w.n[KVM_HOST].kvm;
    if (rshare_kvm_input(kvm, EV_KEY, code, down) == 0 &&
        rshare_kvm_input(kvm, EV_SYN, SYN_REPORT, 0) == 0) {
        w.host_down[code] = down;
        fig.key_events++;
    }
}

static void kvm_step_route(void);

static void kvm_step(void)
{
    static const uint16_t keys[] = {KEY_A, KEY_S, KEY_D, KEY_F, KEY_LEFTSHIFT, KEY_LEFTCTRL};
    if (!w.n[KVM_HOST].node)
        return;
    if (chance(300)) {
        uint16_t code = keys[rnd(sizeof(keys) / sizeof(keys[0]))];
        host_key(code, !w.host_down[code]);
    }
    if (chance(30) && rshare_kvm_focus_next(w.n[KVM_HOST].kvm) == 0)
        fig.focus_moves++;
    kvm_step_route();
}

/* The host routes its keyboard in the map to where its focus is, one
 * change at a time (two in flight may commit in either order), asking
 * again if one did not commit. */
static void routed(rshare_node *node, int status, void *ud)
{
    (void)node;
    (void)ud;
    w.route_busy = false;
    w.routed = status < 0 ? 0 : w.route_asked;
}

static void kvm_step_route(void)
{
    if (!w.n[KVM_HOST].node || w.route_busy)
        return;
    uint32_t focus = rshare_kvm_focus(w.n[KVM_HOST].kvm);
    if (focus && focus != w.routed &&
        rshare_kvm_route_set(w.n[KVM_HOST].node, w.keyboard, focus, routed, NULL) == 0) {
        w.route_busy = true;
        w.route_asked = focus;
    }
}

/* The keyboard's route in node `id`'s map (0: none). */
static uint32_t route_in_map(uint32_t id)
{
    struct rshare_kvm_route r[8];
    size_t n;
    if (rshare_kvm_route_list(w.n[id].node, r, 8, sizeof(r[0]), &n) < 0)
        return 0;
    for (size_t k = 0; k < n && k < 8; k++)
        if (r[k].resource == w.keyboard)
            return r[k].target;
    return 0;
}

static int route_is_focus(void *ud)
{
    (void)ud;
    kvm_step_route();
    uint32_t focus = rshare_kvm_focus(w.n[KVM_HOST].kvm);
    for (uint32_t i = 1; i <= w.count; i++)
        if (route_in_map(i) != focus)
            return 0;
    return 1;
}

/* --- leases and grants ------------------------------------------------------------------- */

static void lease_result(rshare_node *node, const struct rshare_access_result *r, void *ud)
{
    (void)node;
    struct snode *sn = ud;
    if (!sn->node)
        return;
    if (sn->lease == LEASE_ASKING) {
        sn->lease = r->status == 0 ? LEASE_HELD : LEASE_IDLE;
        sn->lease_id = r->id;
        sn->lease_until_us = now_us() + 300000u + rnd(3000000u);
        sn->lease_renew_us = now_us() + 400000u;
    } else {
        sn->lease_busy = false;
        if (r->status != 0)
            sn->lease = LEASE_IDLE; /* lost it (expired) or released */
    }
}

static void lease_step(struct snode *sn)
{
    if (!sn->node || sn->lease_busy)
        return;
    rshare_node *node = sn->node;
    int rc = 1;
    if (sn->lease == LEASE_IDLE && chance(100)) {
        sn->lease = LEASE_ASKING;
        rc = rshare_access_lease_acquire(node, w.lease_resource, RSHARE_LEASE_EXCLUSIVE, 1000,
                                         lease_result, sn);
        if (rc < 0)
            sn->lease = LEASE_IDLE;
    } else if (sn->lease == LEASE_HELD && now_us() >= sn->lease_until_us) {
        sn->lease = LEASE_IDLE; /* released, or (one time in four) left to expire */
        if (!chance(250)) {
            sn->lease_busy = true;
            rc = rshare_access_lease_release(node, sn->lease_id, lease_result, sn);
        }
    } else if (sn->lease == LEASE_HELD && now_us() >= sn->lease_renew_us) {
        sn->lease_busy = true;
        sn->lease_renew_us = now_us() + 400000u;
        rc = rshare_access_lease_renew(node, sn->lease_id, lease_result, sn);
    }
    if (rc == 0)
        fig.lease_ops++;
    else if (rc < 0)
        sn->lease_busy = false;
}

static void grant_result(rshare_node *node, const struct rshare_access_result *r, void *ud)
{
    (void)node;
    (void)ud;
    w.grant_busy = false;
    w.grant_id = r->status == 0 && !w.grant_id ? r->id : 0;
}

/* The lease disk's host lends it to a contender for a while, then revokes. */
static void grant_step(void)
{
    struct snode *host = NULL;
    for (uint32_t i = 1; i <= w.count; i++)
        if (w.n[i].lease_disk)
            host = &w.n[i];
    if (!host->node) {
        w.grant_busy = false;
        w.grant_id = 0;
        return;
    }
    if (w.grant_busy || !chance(20))
        return;
    int rc;
    if (w.grant_id)
        rc = rshare_access_revoke(host->node, w.grant_id, grant_result, NULL);
    else
        rc = rshare_access_grant(host->node, w.lease_resource, w.count - 3 - rnd(3),
                                 RSHARE_RIGHT_READ, chance(500) ? 2000 : 0, grant_result, NULL);
    if (rc == 0) {
        w.grant_busy = true;
        fig.grant_ops++;
    }
}

/* --- faults -------------------------------------------------------------------------------- */

static struct rshare_volume_status volume_status(void)
{
    struct rshare_volume_status st;
    memset(&st, 0, sizeof(st));
    st.struct_size = sizeof(st);
    if (rshare_volume_get_status(w.vol, &st) < 0)
        st.state = RSHARE_VOLUME_FAILED;
    return st;
}

static bool spare_left(void)
{
    struct rshare_volume_desc v;
    size_t n;
    return rshare_volume_list(w.n[VOLUME_CLIENT].node, &v, 1, sizeof(v), &n) == 0 && n == 1 &&
           v.spare_count > 0;
}

/* A fault that takes a member away (its host crashing, its disk dying)
 * only while the volume can lose it: never for linear and RAID-0, and
 * otherwise only while every member is in sync, every disk's host is up
 * and the last such fault is 15 s past (the engine may not have noticed
 * it yet).  More would lose data any RAID loses; the checker would then
 * only see requests fail. */
static bool member_fault_ok(void)
{
    if (w.layout < 2 || now_us() < w.member_fault_us + 15000000u ||
        volume_status().state != RSHARE_VOLUME_OPTIMAL)
        return false;
    for (uint32_t i = 1; i <= w.count; i++)
        if (w.n[i].disk && !w.n[i].node)
            return false;
    return true;
}

/* The volume's writer never crashes (its requests would die with it). */
static bool crashable(const struct snode *sn)
{
    if (sn->id == VOLUME_CLIENT || !sn->node)
        return false;
    return !sn->disk || member_fault_ok();
}

/* The operator brings back a failed member whose host is up and whose disk
 * still works (a dead disk stays out: the spare replaced it). */
static void operator_step(void)
{
    struct rshare_volume_status st = volume_status();
    static char last[256];
    char now[256];
    int n = snprintf(now, sizeof(now), "volume state %u:", st.state);
    for (uint32_t k = 0; k < st.member_count && n < 200; k++)
        n += snprintf(now + n, sizeof(now) - (size_t)n, " %llu=%u",
                      (unsigned long long)(st.member[k] >> 32), st.member_state[k]);
    snprintf(now + n, sizeof(now) - (size_t)n, " rebuild %llu/%llu",
             (unsigned long long)st.rebuild_done, (unsigned long long)st.rebuild_total);
    if (strncmp(now, last, (size_t)(strstr(now, " rebuild") - now)) != 0) {
        TRACE("%s", now);
        snprintf(last, sizeof(last), "%s", now);
    }
    for (uint32_t k = 0; k < st.member_count; k++) {
        if (st.member_state[k] != RSHARE_VOLUME_MEMBER_FAILED)
            continue;
        uint32_t host = (uint32_t)(st.member[k] >> 32);
        if (host && host <= w.count && w.n[host].node && w.n[host].disk &&
            !w.n[host].disk->dead && rshare_volume_readd_member(w.vol, k) == 0) {
            TRACE("re-add member %u (node %u)", k, host);
            fig.rebuilds++;
        }
    }
}

static void fault_step(uint64_t end_us)
{
    /* Partitions between two nodes come and go (not between the volume's
     * writer and a disk's host: that takes a member away, see above). */
    if (w.cut_count < 64 && chance(100)) {
        uint32_t a = 1 + rnd(w.count), b = 1 + rnd(w.count);
        bool member_cut = (a == VOLUME_CLIENT && w.n[b].disk) || (b == VOLUME_CLIENT && w.n[a].disk);
        if (a != b && !member_cut) {
            rshare_loop_net_partition(w.net, a, b, 1);
            TRACE("cut %u-%u", a, b);
            w.cuts[w.cut_count][0] = a;
            w.cuts[w.cut_count++][1] = b;
            fig.partitions++;
        }
    }
    if (w.cut_count && chance(150)) {
        size_t k = rnd((uint32_t)w.cut_count);
        rshare_loop_net_partition(w.net, w.cuts[k][0], w.cuts[k][1], 0);
        TRACE("heal %u-%u", w.cuts[k][0], w.cuts[k][1]);
        w.cuts[k][0] = w.cuts[w.cut_count - 1][0];
        w.cuts[k][1] = w.cuts[--w.cut_count][1];
    }
    /* Nodes crash (at most two down at a time) and come back later. */
    uint32_t down = 0;
    for (uint32_t i = 1; i <= w.count; i++) {
        struct snode *sn = &w.n[i];
        if (!sn->node && now_us() >= sn->restart_at_us) {
            TRACE("restart %u", sn->id);
            node_start(sn);
        }
        down += !sn->node;
    }
    if (down < 2 && chance(40)) {
        struct snode *sn = &w.n[1 + rnd(w.count)];
        if (crashable(sn)) {
            TRACE("crash %u%s", sn->id, sn->disk ? " (a volume disk)" : "");
            if (sn->disk)
                w.member_fault_us = now_us();
            node_crash(sn);
            sn->restart_at_us = now_us() + 500000u + rnd(5000000u);
            fig.crashes++;
        }
    }
    /* One member disk dies a third of the way in, if the layout survives it. */
    if (!w.disk_failed && now_us() >= end_us - opt.sim_seconds * 1000000ull * 2 / 3 &&
        member_fault_ok() && spare_left()) {
        w.member_fault_us = now_us();
        uint32_t k = rnd(w.members);
        w.disks[k].dead = true;
        TRACE("disk of node %u dies", FIRST_DISK + k);
        w.disk_failed = true;
        fig.disk_failures++;
    }
}

static void heal_all(void)
{
    for (size_t k = 0; k < w.cut_count; k++)
        rshare_loop_net_partition(w.net, w.cuts[k][0], w.cuts[k][1], 0);
    w.cut_count = 0;
    for (uint32_t i = 1; i <= w.count; i++)
        if (!w.n[i].node)
            node_start(&w.n[i]);
}

/* --- one seed ---------------------------------------------------------------------------------- */

static int volume_optimal(void *ud)
{
    (void)ud;
    return volume_status().state == RSHARE_VOLUME_OPTIMAL;
}

static int keys_quiet(void *ud)
{
    (void)ud;
    for (size_t t = 0; t < 3; t++)
        for (size_t c = 0; c < KEY_CNT; c++)
            if (w.n[w.targets[t]].keys.down[c])
                return 0;
    return 1;
}

/* The authority's and every node's keys, from the seed (crypto_sign's
 * seeded key pairs: a seed replays exactly), without drawing from the
 * seed's random stream: a seed runs the same scenario with and without
 * identities. */
static void make_identities(void)
{
    uint8_t seed[32], auth_sk[64], pk[32];
    uint64_t x = w.seed * 0xD1B54A32D192ED03ull + 7;
    for (size_t k = 0; k < sizeof(seed); k++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        seed[k] = (uint8_t)x;
    }
    crypto_sign_seed_keypair(w.authority_pk, auth_sk, seed);
    for (uint32_t id = 1; id <= MAX_NODES; id++) {
        seed[0] ^= (uint8_t)id;
        crypto_sign_seed_keypair(pk, w.identity_sk[id], seed);
        must(rshare_identity_certify(auth_sk, id, pk, w.identity_cert[id]), "certify");
    }
    sodium_memzero(auth_sk, sizeof(auth_sk));
}

static void world_up(uint64_t seed)
{
    memset(&w, 0, sizeof(w));
    w.seed = seed;
    rng = seed * 0x9E3779B97F4A7C15ull + 1;
    w.count = opt.min_nodes + rnd(opt.max_nodes - opt.min_nodes + 1);
    for (size_t k = 0; k < sizeof(w.cluster_key); k++)
        w.cluster_key[k] = (uint8_t)rnd(256);
    if (opt.identities)
        make_identities();
    w.layout = (uint32_t)(seed % 5);
    static const uint32_t member_counts[] = {3, 3, 2, 4, 4};
    w.members = member_counts[w.layout] + (w.layout == 4 ? rnd(2) : 0);
    w.disk_count = w.members + (w.layout >= 2); /* a spare where a member can be lost */
    must(rshare_loop_net_create(seed, &w.net), "net");
    struct rshare_loop_link link;
    rshare_loop_link_init(&link, sizeof(link));
    link.mtu = 9000;
    link.loss_ppm = 2000 + rnd(18000); /* 0.2 to 2 % */
    link.duplicate_ppm = rnd(10000);
    link.reorder_ppm = rnd(20000);
    link.reorder_us = 2000;
    link.delay_us = 100 + rnd(400);
    link.jitter_us = rnd(500);
    must(rshare_loop_net_set_default(w.net, &link), "link");
    w.h = history_create(0); /* sized once the volume is open */
    for (uint32_t i = 1; i <= w.count; i++) {
        struct snode *sn = &w.n[i];
        sn->id = i;
        if (i >= FIRST_DISK && i < FIRST_DISK + w.disk_count) {
            sn->disk = &w.disks[i - FIRST_DISK];
            sn->disk->bytes = calloc(1, DISK_BYTES);
            if (!sn->disk->bytes)
                abort();
        }
        sn->lease_disk = i == FIRST_DISK + w.disk_count;
        sn->target = i > w.count - 3;
        sn->contender = i <= w.count - 3 && i > w.count - 6;
    }
    for (uint32_t t = 0; t < 3; t++)
        w.targets[t] = w.count - t;
    for (uint32_t i = 1; i <= w.count; i++)
        node_start(&w.n[i]);
    want_resources = w.disk_count + 2;
    if (run(converged, NULL, 120000000u) != 0) {
        fprintf(stderr, "soak: seed %llu: %u nodes did not form a cluster\n",
                (unsigned long long)seed, w.count);
        for (uint32_t i = 1; i <= w.count; i++)
            fprintf(stderr, "  node %u: manager %u, map version %llu, %zu members, %zu resources\n", i,
                    rshare_cluster_manager(w.n[i].node),
                    (unsigned long long)rs_cluster(w.n[i].node)->map.version,
                    rs_cluster(w.n[i].node)->map.member_count,
                    rs_cluster(w.n[i].node)->map.resource_count);
        exit(2);
    }
    volume_define();
    struct history *h = history_create(rshare_volume_size(w.vol));
    history_free(w.h);
    w.h = h;
}

static int volume_quiet(void *ud)
{
    (void)ud;
    return !w.vol->sweep && !w.vol->inflight && !w.vol->queue_head;
}

static void world_down(void)
{
    if (w.vol) {
        /* rshare_volume_close() runs the writer's node alone, and the
         * simulated clock stands still meanwhile: a sweep or a request
         * still waiting for another node would wait for ever.  Let them
         * end with the whole network running first. */
        rs_sweep_stop(w.vol);
        run(volume_quiet, NULL, 120000000u);
        rshare_volume_close(w.vol);
    }
    for (uint32_t i = 1; i <= w.count; i++) {
        if (w.n[i].node)
            node_crash(&w.n[i]);
        memory_store_free(&w.n[i].store);
    }
    struct rshare_loop_stats st;
    rshare_loop_net_stats(w.net, &st, sizeof(st));
    fig.packets += st.sent;
    fig.lost += st.lost;
    fig.duplicated += st.duplicated;
    fig.reordered += st.reordered;
    fig.cut += st.partitioned;
    rshare_loop_net_destroy(w.net);
    for (size_t k = 0; k < 6; k++)
        free(w.disks[k].bytes);
    history_free(w.h);
}

/* Runs one seed; returns the number of violations. */
static size_t soak_seed(uint64_t seed)
{
    world_up(seed);
    uint64_t start = now_us();
    uint64_t end = start + opt.sim_seconds * 1000000ull;
    uint64_t step = 0;
    while (now_us() < end) {
        if (!batch_busy())
            start_batch();
        run(NULL, NULL, STEP_US);
        if (++step % 10)
            continue;
        kvm_step();
        for (uint32_t i = 1; i <= w.count; i++)
            if (w.n[i].contender)
                lease_step(&w.n[i]);
        grant_step();
        operator_step();
        fault_step(end);
    }

    /* The faults stop: keys up, partitions healed, every node back. */
    for (uint16_t c = 0; c < KEY_CNT; c++)
        if (w.host_down[c] && w.n[KVM_HOST].node)
            host_key(c, 0);
    heal_all();
    if (run(converged, NULL, 120000000u) != 0) {
        history_fail(w.h, "the cluster did not converge within 120 s of the faults stopping");
        for (uint32_t i = 1; i <= w.count && trace; i++)
            TRACE("node %u: manager %u, map version %llu, %zu members, %zu resources", i,
                  rshare_cluster_manager(w.n[i].node),
                  (unsigned long long)rs_cluster(w.n[i].node)->map.version,
                  rs_cluster(w.n[i].node)->map.member_count,
                  rs_cluster(w.n[i].node)->map.resource_count);
    }
    if (run(batch_done, NULL, 60000000u) != 0)
        history_fail(w.h, "volume requests still pending 60 s after the faults stopped");
    bool optimal = false;
    for (int t = 0; t < 120 && !optimal; t++) {
        operator_step();
        optimal = run(volume_optimal, NULL, 1000000u) == 0;
    }
    if (!optimal)
        history_fail(w.h, "the volume was not optimal again within 120 s");
    verify_volume();
    if (run(route_is_focus, NULL, 30000000u) != 0) {
        history_fail(w.h, "the keyboard's route never reached the host's focus (%u) in every map",
                     rshare_kvm_focus(w.n[KVM_HOST].kvm));
        for (uint32_t i = 1; i <= w.count && trace; i++)
            TRACE("node %u: route %u, map version %llu", i, route_in_map(i),
                  (unsigned long long)rs_cluster(w.n[i].node)->map.version);
    }
    if (run(keys_quiet, NULL, 5000000u) != 0)
        for (size_t t = 0; t < 3; t++)
            for (uint16_t c = 0; c < KEY_CNT; c++)
                if (w.n[w.targets[t]].keys.down[c])
                    history_key_stuck(w.h, w.targets[t], c);

    char first[512];
    size_t bad = history_check(w.h, first, sizeof(first));
    struct history_counts hc;
    history_counts(w.h, &hc);
    uint64_t versions = rs_cluster(w.n[1].node)->map.version;
    fig.seeds++;
    fig.nodes += w.count;
    fig.sim_us += now_us() - start;
    fig.map_versions += versions;
    fig.writes += hc.writes;
    fig.writes_failed += hc.writes_failed;
    fig.reads += hc.reads;
    fig.reads_failed += hc.reads_failed;
    fig.sectors += hc.sectors_checked;
    fig.by_layout[w.layout]++;
    if (bad) {
        fig.failed++;
        printf("FAIL seed %llu (%u nodes, %s): %zu violation(s), first: %s\n"
               "  reproduce: tests/soak/soak --first %llu --seeds 1 --sim-seconds %u "
               "--nodes %u-%u%s\n",
               (unsigned long long)seed, w.count, layout_name(w.layout), bad, first,
               (unsigned long long)seed, opt.sim_seconds, opt.min_nodes, opt.max_nodes,
               opt.identities ? " --identities" : "");
    } else if (opt.verbose) {
        printf("seed %llu: %u nodes, %s, map version %llu, %llu writes (%llu failed), "
               "%llu reads\n",
               (unsigned long long)seed, w.count, layout_name(w.layout),
               (unsigned long long)versions, (unsigned long long)hc.writes,
               (unsigned long long)hc.writes_failed, (unsigned long long)hc.reads);
    }
    fflush(stdout);
    world_down();
    return bad;
}

/* --- main ---------------------------------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr, "usage: soak [--first SEED] [--seeds N] [--seconds WALL] [--sim-seconds T] "
                    "[--nodes MIN-MAX] [--identities] [--verbose] "
                    "[--trace [--watch SECTOR] [--log-node ID]]\n");
    exit(2);
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    const char *env;
    if ((env = getenv("SOAK_FIRST")) && *env)
        opt.first = strtoull(env, NULL, 10);
    if ((env = getenv("SOAK_SEEDS")) && *env)
        opt.seeds = strtoull(env, NULL, 10);
    if ((env = getenv("SOAK_SECONDS")) && *env)
        opt.wall_seconds = strtod(env, NULL);
    if ((env = getenv("SOAK_IDENTITIES")) && *env)
        opt.identities = strcmp(env, "0") != 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--verbose") == 0 || strcmp(a, "--trace") == 0) {
            opt.verbose = true;
            trace = a[2] == 't';
            continue;
        }
        if (strcmp(a, "--identities") == 0) {
            opt.identities = true;
            continue;
        }
        if (!v)
            usage();
        i++;
        if (strcmp(a, "--watch") == 0)
            watch = strtoll(v, NULL, 10);
        else if (strcmp(a, "--log-node") == 0)
            log_node = (uint32_t)strtoul(v, NULL, 10);
        else if (strcmp(a, "--first") == 0)
            opt.first = strtoull(v, NULL, 10);
        else if (strcmp(a, "--seeds") == 0)
            opt.seeds = strtoull(v, NULL, 10);
        else if (strcmp(a, "--seconds") == 0)
            opt.wall_seconds = strtod(v, NULL);
        else if (strcmp(a, "--sim-seconds") == 0)
            opt.sim_seconds = (uint32_t)strtoul(v, NULL, 10);
        else if (strcmp(a, "--nodes") == 0) {
            if (sscanf(v, "%u-%u", &opt.min_nodes, &opt.max_nodes) != 2)
                usage();
        } else
            usage();
    }
    if (opt.min_nodes < 16 || opt.max_nodes > MAX_NODES || opt.min_nodes > opt.max_nodes ||
        opt.sim_seconds < 3 || opt.seeds == 0)
        usage();

    double t0 = wall_now();
    uint64_t seed = opt.first;
    while (fig.seeds < opt.seeds && wall_now() - t0 < opt.wall_seconds)
        soak_seed(seed++);
    double wall = wall_now() - t0;

    printf("soak: seeds %llu-%llu (%llu run, %llu failed), %.1f nodes on average, "
           "wall %.1f s%s\n",
           (unsigned long long)opt.first, (unsigned long long)(seed - 1),
           (unsigned long long)fig.seeds, (unsigned long long)fig.failed,
           fig.seeds ? (double)fig.nodes / (double)fig.seeds : 0.0, wall,
           opt.identities ? ", identity mode" : "");
    if (opt.identities)
        printf("  identities: %llu handshakes, %llu packets refused without a pair key or "
               "with a bad HELLO, %llu failed authentication\n",
               (unsigned long long)fig.handshakes, (unsigned long long)fig.identity_refused,
               (unsigned long long)fig.auth_failed);
    printf("  simulated %.1f s of faults (%.0f s with set-up and recovery); layouts: linear %llu, "
           "raid0 %llu, raid1 %llu, raid10 %llu, raid5 %llu\n",
           (double)fig.seeds * opt.sim_seconds, (double)fig.sim_us / 1e6,
           (unsigned long long)fig.by_layout[0], (unsigned long long)fig.by_layout[1],
           (unsigned long long)fig.by_layout[2], (unsigned long long)fig.by_layout[3],
           (unsigned long long)fig.by_layout[4]);
    printf("  operations: %llu volume writes (%llu failed), %llu reads (%llu failed), %llu "
           "sectors checked, %llu map versions, %llu key events, %llu focus moves, %llu lease "
           "and %llu grant requests\n",
           (unsigned long long)fig.writes, (unsigned long long)fig.writes_failed,
           (unsigned long long)fig.reads, (unsigned long long)fig.reads_failed,
           (unsigned long long)fig.sectors, (unsigned long long)fig.map_versions,
           (unsigned long long)fig.key_events, (unsigned long long)fig.focus_moves,
           (unsigned long long)fig.lease_ops, (unsigned long long)fig.grant_ops);
    printf("  faults: %llu packets sent, %llu lost, %llu duplicated, %llu reordered, %llu cut by "
           "%llu partitions; %llu node crashes; %llu member disks failed, %llu failed members re-added\n",
           (unsigned long long)fig.packets, (unsigned long long)fig.lost,
           (unsigned long long)fig.duplicated, (unsigned long long)fig.reordered,
           (unsigned long long)fig.cut, (unsigned long long)fig.partitions,
           (unsigned long long)fig.crashes, (unsigned long long)fig.disk_failures,
           (unsigned long long)fig.rebuilds);
    return fig.failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
