/* Simulation: volumes across nodes.  Five nodes on the loop transport form
 * a cluster; each of nodes 1..4 shares a disk and node 5 a spare, served by
 * a test backend that keeps its bytes in memory and can be told to fail
 * (a dead disk) or to have a bad range (medium errors).  Node 1 opens the
 * volume and runs random reads and writes against a reference model (a
 * plain array): every read must equal the model, no request may fail
 * while the layout tolerates the failures, a failed member is replaced by
 * the spare and rebuilt, and a scrub afterwards finds nothing to fix. */
#include "config.h"

#include "testutil.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "block/engine.h"
#include "memory_store.h"
#include "rshare/rshare.h"

#define NODES 5
#define DISK_BYTES (2u << 20)
#define MAX_IO (64u << 10)
#define DEPTH 8

/* --- a disk that can fail --------------------------------------------------- */

enum disk_mode { DISK_OK, DISK_DEAD, DISK_BAD_RANGE };

struct disk {
    uint8_t *bytes;
    uint64_t size;
    enum disk_mode mode;
    uint64_t bad_start, bad_end; /* DISK_BAD_RANGE: reads fail here until written */
    uint64_t bytes_written;
    uint64_t bytes_discarded;
    uint64_t reads, writes; /* requests served */
    uint64_t writes_in_bad;
    /* Writes from hold_from on wait (not applied, not completed) until
     * disk_release(): a slow region of the disk. */
    uint64_t hold_from;
    struct rshare_block_io *held[16];
    int held_count;
};

/* A power cut in the middle of a write: the first member write that
 * arrives while armed is applied, then every disk and node 1's persistent
 * state are copied as the crash left them. */
static struct {
    bool armed, taken;
    uint8_t *bytes[5];
} crash;

static void crash_snapshot(void);

static int disk_submit(void *backend, struct rshare_block_io *io)
{
    struct disk *d = backend;
    int status = 0;
    bool snapshot = crash.armed && io->op == RSHARE_BLOCK_WRITE;
    if (d->hold_from && io->op == RSHARE_BLOCK_WRITE && io->offset >= d->hold_from &&
        d->held_count < 16) {
        d->held[d->held_count++] = io;
        return 0;
    }
    if (d->mode == DISK_DEAD) {
        status = RSHARE_EIO;
    } else if (io->op == RSHARE_BLOCK_READ) {
        d->reads++;
        if (d->mode == DISK_BAD_RANGE && io->offset < d->bad_end &&
            io->offset + io->length > d->bad_start)
            status = RSHARE_EIO;
        else
            memcpy(io->buf, d->bytes + io->offset, io->length);
    } else if (io->op == RSHARE_BLOCK_DISCARD) {
        memset(d->bytes + io->offset, 0, io->length);
        d->bytes_discarded += io->length;
    } else if (io->op == RSHARE_BLOCK_WRITE) {
        memcpy(d->bytes + io->offset, io->buf, io->length);
        d->bytes_written += io->length;
        d->writes++;
        if (d->mode == DISK_BAD_RANGE && io->offset <= d->bad_start &&
            io->offset + io->length >= d->bad_end) {
            d->writes_in_bad++;
            d->mode = DISK_OK; /* the drive remapped the sectors */
        }
    }
    if (snapshot && status == 0)
        crash_snapshot();
    io->done(io, status); /* synchronous: rshare defers it */
    return 0;
}

static struct memory_store crash_store;
static struct disk disks[5];
static struct memory_store stores[5];

static void store_copy(struct memory_store *dst, const struct memory_store *src)
{
    memory_store_free(dst);
    for (int i = 0; i < MEMORY_STORE_RECORDS; i++) {
        if (!src->records[i].data)
            continue;
        dst->records[i] = src->records[i];
        dst->records[i].data = malloc(src->records[i].len ? src->records[i].len : 1);
        ck_assert_ptr_nonnull(dst->records[i].data);
        memcpy(dst->records[i].data, src->records[i].data, src->records[i].len);
    }
}

static void crash_snapshot(void)
{
    crash.armed = false;
    crash.taken = true;
    for (int i = 0; i < 5; i++) {
        crash.bytes[i] = malloc(DISK_BYTES);
        ck_assert_ptr_nonnull(crash.bytes[i]);
        memcpy(crash.bytes[i], disks[i].bytes, DISK_BYTES);
    }
    store_copy(&crash_store, &stores[0]);
}

static void disk_release(struct disk *d)
{
    d->hold_from = 0;
    for (int i = 0; i < d->held_count; i++)
        disk_submit(d, d->held[i]);
    d->held_count = 0;
}

static void disk_close(void *backend)
{
    (void)backend;
}

static const struct rshare_block_ops disk_ops = {sizeof(struct rshare_block_ops), 0, disk_submit,
                                                 disk_close};

/* --- the cluster ---------------------------------------------------------------- */

static rshare_loop_net *net;
static rshare_node *nodes[NODES];
static rshare_block *blocks[NODES];
static uint64_t res[NODES];

static void node_start(size_t i, bool fresh_disk);

static void node_up(size_t i)
{
    node_start(i, true);
}

static void node_start(size_t i, bool fresh_disk)
{
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = (uint32_t)(i + 1);
    cfg.slot = (uint16_t)i;
    cfg.persist = memory_store_hook(&stores[i]);
    cfg.clock = rshare_loop_net_clock(net);
    cfg.request_timeout_ms = 2000;
    cfg.log = (struct rshare_log){rs_test_quiet_log, NULL, RSHARE_LOG_ERROR};
    ck_assert_int_eq(rshare_node_create(&cfg, &nodes[i]), 0);
    ck_assert_int_ge(rshare_node_add_loop(nodes[i], net, (uint32_t)(i + 1)), 0);
    static const uint32_t voters[] = {1, 2, 3};
    struct rshare_cluster_config cc;
    rshare_cluster_config_init(&cc, sizeof(cc));
    cc.manager_eligible = i < 3;
    cc.initial_voters = voters;
    cc.initial_voter_count = 3;
    cc.capabilities = RSHARE_CAP_BLOCK;
    ck_assert_int_eq(rshare_cluster_join(nodes[i], &cc), 0);

    struct disk *d = &disks[i];
    if (fresh_disk) {
        memset(d, 0, sizeof(*d));
        d->size = DISK_BYTES;
        d->bytes = calloc(1, DISK_BYTES);
        ck_assert_ptr_nonnull(d->bytes);
    }
    struct rshare_block_info info;
    rshare_block_info_init(&info, sizeof(info));
    info.block_size = 512;
    info.block_count = DISK_BYTES / 512;
    /* Node 1's own disk takes at most 32 KiB at a time (below MAX_IO): the
     * engine on node 1 must cut its member I/O. */
    info.max_io_bytes = i == 0 ? 32768 : 0;
    /* Every disk but the third can discard (it zeroes what it discards). */
    info.caps = i == 2 ? 0 : RSHARE_BLOCK_CAP_DISCARD;
    ck_assert_int_eq(rshare_block_create(nodes[i], &disk_ops, d, &info, &blocks[i]), 0);
    struct rshare_resource_desc desc;
    rshare_resource_desc_init(&desc, sizeof(desc));
    desc.kind = RSHARE_RESOURCE_BLOCK;
    desc.rights = RSHARE_RIGHT_READ | RSHARE_RIGHT_WRITE;
    snprintf(desc.path, sizeof(desc.path), "disk%zu", i);
    ck_assert_int_eq(rshare_resource_register_block(nodes[i], &desc, blocks[i], &res[i]), 0);
}

static int resources_everywhere(void *ud)
{
    (void)ud;
    for (size_t i = 0; i < NODES; i++) {
        size_t n;
        rshare_resource_list(nodes[i], 0, NULL, 0, sizeof(struct rshare_resource_desc), &n);
        if (n != NODES || rshare_cluster_manager(nodes[i]) == 0)
            return 0;
    }
    return 1;
}

static bool lossy;
static uint64_t net_seed = 21;

static void setup(void)
{
    memset(stores, 0, sizeof(stores));
    ck_assert_int_eq(rshare_loop_net_create(net_seed, &net), 0);
    struct rshare_loop_link link;
    rshare_loop_link_init(&link, sizeof(link));
    link.mtu = 9000;
    if (lossy) {
        link.loss_ppm = 10000; /* 1 % */
        link.duplicate_ppm = 5000;
        link.reorder_ppm = 10000;
        link.reorder_us = 2000;
        link.delay_us = 100;
        link.jitter_us = 200;
    }
    ck_assert_int_eq(rshare_loop_net_set_default(net, &link), 0);
    for (size_t i = 0; i < NODES; i++)
        node_up(i);
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, resources_everywhere, NULL,
                                         60000000u), 0);
}

static void teardown(void)
{
    for (size_t i = 0; i < NODES; i++) {
        rshare_node_destroy(nodes[i]);
        nodes[i] = NULL;
        free(disks[i].bytes);
        memory_store_free(&stores[i]);
    }
    rshare_loop_net_destroy(net);
}

/* --- defining and using volumes ------------------------------------------------------ */

struct outcome {
    int calls, status;
};

static void changed(rshare_node *node, int status, void *ud)
{
    (void)node;
    struct outcome *o = ud;
    o->calls++;
    o->status = status;
}

static int outcome_done(void *ud)
{
    return ((struct outcome *)ud)->calls > 0;
}

/* Define a volume of `count` members, resources members[0..count-1]
 * (NULL: the first `count` disks), from node 1, and wait for the map. */
static void define_of(const char *name, uint32_t layout, const size_t *members, uint32_t count,
                      uint32_t chunk, bool spare)
{
    struct rshare_volume_desc v;
    rshare_volume_desc_init(&v, sizeof(v));
    snprintf(v.name, sizeof(v.name), "%s", name);
    v.layout = layout;
    v.algorithm = layout == RSHARE_LAYOUT_RAID5 ? RSHARE_RAID5_LEFT_SYMMETRIC : 0;
    v.chunk_sectors = chunk;
    v.member_count = count;
    for (uint32_t i = 0; i < count; i++)
        v.members[i] = res[members ? members[i] : i];
    if (spare) {
        v.spare_count = 1;
        v.spares[0] = res[NODES - 1];
    }
    struct outcome o = {0};
    ck_assert_int_eq(rshare_volume_define(nodes[0], &v, changed, &o), 0);
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, outcome_done, &o, 20000000u), 0);
    ck_assert_int_eq(o.status, 0);
}

static void define(const char *name, uint32_t layout, uint32_t members, uint32_t chunk,
                   bool spare)
{
    define_of(name, layout, NULL, members, chunk, spare);
}

static rshare_volume *open_volume_on(size_t node, const char *name)
{
    rshare_volume *vol;
    struct rshare_volume_config cfg;
    rshare_volume_config_init(&cfg, sizeof(cfg));
    cfg.retry_budget = 2;
    cfg.rebuild_step_sectors = 256;
    cfg.bitmap_region_sectors = 256;
    cfg.clean_delay_ms = 200;
    ck_assert_int_eq(rshare_volume_open(nodes[node], name, &cfg, &vol), 0);
    return vol;
}

static rshare_volume *open_volume(const char *name)
{
    return open_volume_on(0, name);
}

/* Random I/O against a model. */
struct io {
    bool busy, write;
    uint64_t off;
    size_t len;
    uint8_t *buf;
    int status;
    bool done;
};

struct workload {
    rshare_volume *vol;
    uint8_t *model;
    uint64_t size;
    struct io io[DEPTH];
    uint32_t outstanding;
    uint64_t failures, mismatches, completed;
    unsigned seed;
};

static void io_done(rshare_volume *vol, int status, void *ud)
{
    (void)vol;
    struct io *io = ud;
    io->status = status;
    io->done = true;
}

static int batch_done(void *ud)
{
    struct workload *w = ud;
    for (int i = 0; i < DEPTH; i++)
        if (w->io[i].busy && !w->io[i].done)
            return 0;
    return 1;
}

static bool overlaps_batch(struct workload *w, int upto, uint64_t off, size_t len)
{
    for (int i = 0; i < upto; i++)
        if (w->io[i].busy && off < w->io[i].off + w->io[i].len && w->io[i].off < off + len)
            return true;
    return false;
}

/* One batch of DEPTH non-overlapping requests, run to completion and
 * checked against the model. */
static void run_batch(struct workload *w, int writes_percent)
{
    for (int i = 0; i < DEPTH; i++) {
        struct io *io = &w->io[i];
        io->busy = false;
        size_t len = (size_t)(1 + rand_r(&w->seed) % (MAX_IO / 512)) * 512u;
        uint64_t off = (uint64_t)(rand_r(&w->seed) % ((w->size - len) / 512 + 1)) * 512u;
        if (overlaps_batch(w, i, off, len))
            continue;
        io->busy = true;
        io->done = false;
        io->write = (int)(rand_r(&w->seed) % 100) < writes_percent;
        io->off = off;
        io->len = len;
        if (io->write) {
            for (size_t k = 0; k < len; k++)
                io->buf[k] = (uint8_t)rand_r(&w->seed);
            memcpy(w->model + off, io->buf, len);
            ck_assert_int_eq(rshare_volume_write(w->vol, off, io->buf, len, io_done, io), 0);
        } else {
            memset(io->buf, 0xEE, len);
            ck_assert_int_eq(rshare_volume_read(w->vol, off, io->buf, len, io_done, io), 0);
        }
        ck_assert(!io->done); /* never completes inside the call */
    }
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, batch_done, w, 60000000u), 0);
    for (int i = 0; i < DEPTH; i++) {
        struct io *io = &w->io[i];
        if (!io->busy)
            continue;
        w->completed++;
        if (io->status != 0)
            w->failures++;
        else if (!io->write && memcmp(io->buf, w->model + io->off, io->len) != 0)
            w->mismatches++;
    }
}

static void workload_init(struct workload *w, rshare_volume *vol, unsigned seed)
{
    memset(w, 0, sizeof(*w));
    w->vol = vol;
    w->size = rshare_volume_size(vol);
    w->model = calloc(1, w->size);
    ck_assert_ptr_nonnull(w->model);
    for (int i = 0; i < DEPTH; i++) {
        w->io[i].buf = malloc(MAX_IO);
        ck_assert_ptr_nonnull(w->io[i].buf);
    }
    w->seed = seed;
}

static void workload_fini(struct workload *w)
{
    free(w->model);
    for (int i = 0; i < DEPTH; i++)
        free(w->io[i].buf);
}

/* Read the whole volume and compare with the model. */
static void verify_all(struct workload *w)
{
    struct io *io = &w->io[0];
    for (uint64_t off = 0; off < w->size; off += MAX_IO) {
        size_t len = w->size - off < MAX_IO ? (size_t)(w->size - off) : MAX_IO;
        io->busy = true;
        io->done = false;
        for (int i = 1; i < DEPTH; i++)
            w->io[i].busy = false;
        ck_assert_int_eq(rshare_volume_read(w->vol, off, io->buf, len, io_done, io), 0);
        ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, batch_done, w, 60000000u), 0);
        ck_assert_int_eq(io->status, 0);
        ck_assert_msg(memcmp(io->buf, w->model + off, len) == 0, "volume differs at %llu",
                      (unsigned long long)off);
    }
}

/* One request, run to completion (a NULL buffer: a discard). */
static int run_io(rshare_volume *vol, bool write, uint64_t off, void *buf, size_t len)
{
    struct workload w1;
    memset(&w1, 0, sizeof(w1));
    struct io *io = &w1.io[0];
    io->busy = true;
    int rc = !buf   ? rshare_volume_discard(vol, off, len, io_done, io)
             : write ? rshare_volume_write(vol, off, buf, len, io_done, io)
                     : rshare_volume_read(vol, off, buf, len, io_done, io);
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, batch_done, &w1, 60000000u), 0);
    return io->status;
}

struct scrub_result {
    bool done;
    int status;
    uint64_t mismatches;
};

static void scrubbed(rshare_volume *vol, int status, uint64_t mismatches, void *ud)
{
    (void)vol;
    struct scrub_result *r = ud;
    r->done = true;
    r->status = status;
    r->mismatches = mismatches;
}

static int scrub_finished(void *ud)
{
    return ((struct scrub_result *)ud)->done;
}

static uint64_t scrub(rshare_volume *vol, int repair)
{
    struct scrub_result r = {0};
    ck_assert_int_eq(rshare_volume_scrub(vol, repair, scrubbed, &r), 0);
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, scrub_finished, &r, 120000000u), 0);
    ck_assert_int_eq(r.status, 0);
    return r.mismatches;
}

static struct rshare_volume_status status_of(rshare_volume *vol)
{
    struct rshare_volume_status s;
    memset(&s, 0, sizeof(s));
    s.struct_size = sizeof(s);
    ck_assert_int_eq(rshare_volume_get_status(vol, &s), 0);
    return s;
}

static int optimal(void *ud)
{
    rshare_volume *vol = ud;
    struct rshare_volume_status s = status_of(vol);
    return s.state == RSHARE_VOLUME_OPTIMAL;
}

/* Every node's map says every member of the (only) volume is in sync. */
static int map_in_sync(void *ud)
{
    (void)ud;
    for (size_t i = 0; i < NODES; i++) {
        struct rshare_volume_desc v;
        size_t n;
        if (rshare_volume_list(nodes[i], &v, 1, sizeof(v), &n) < 0 || n != 1)
            return 0;
        for (uint32_t k = 0; k < v.member_count; k++)
            if (v.member_state[k] != RSHARE_VOLUME_MEMBER_ACTIVE)
                return 0;
    }
    return 1;
}

/* --- tests --------------------------------------------------------------------------- */

static void model_test(uint32_t layout, uint32_t members, uint32_t chunk, unsigned seed)
{
    define("vol", layout, members, chunk, false);
    rshare_volume *vol = open_volume("vol");
    struct workload w;
    workload_init(&w, vol, seed);
    for (int b = 0; b < 40; b++)
        run_batch(&w, 50);
    ck_assert_uint_eq(w.failures, 0);
    ck_assert_uint_eq(w.mismatches, 0);
    verify_all(&w);
    if (layout != RSHARE_LAYOUT_LINEAR && layout != RSHARE_LAYOUT_RAID0)
        ck_assert_uint_eq(scrub(vol, 0), 0);
    workload_fini(&w);
    rshare_volume_close(vol);
}

START_TEST(linear_matches_model)
{
    model_test(RSHARE_LAYOUT_LINEAR, 3, 0, 1);
}
END_TEST

START_TEST(raid0_matches_model)
{
    model_test(RSHARE_LAYOUT_RAID0, 4, 16, 2);
}
END_TEST

START_TEST(raid1_matches_model)
{
    model_test(RSHARE_LAYOUT_RAID1, 3, 0, 3);
}
END_TEST

START_TEST(raid10_matches_model)
{
    model_test(RSHARE_LAYOUT_RAID10, 4, 16, 4);
}
END_TEST

START_TEST(raid5_matches_model)
{
    model_test(RSHARE_LAYOUT_RAID5, 4, 16, 5);
}
END_TEST

/* RAID-5 members hold exactly what md would: parity is the XOR of the
 * row's data at left-symmetric positions (checked on the raw disks). */
START_TEST(raid5_members_are_md_layout)
{
    define("vol", RSHARE_LAYOUT_RAID5, 4, 16, false);
    rshare_volume *vol = open_volume("vol");
    struct workload w;
    workload_init(&w, vol, 6);
    for (int b = 0; b < 20; b++)
        run_batch(&w, 100);
    ck_assert_uint_eq(w.failures, 0);
    uint64_t chunk = 16 * 512, rows = DISK_BYTES / chunk;
    for (uint64_t row = 0; row < rows; row++) {
        uint32_t parity = (uint32_t)(3 - row % 4); /* left-symmetric */
        for (uint64_t b = 0; b < chunk; b++) {
            uint8_t x = 0;
            for (int m = 0; m < 4; m++)
                x ^= disks[m].bytes[row * chunk + b];
            ck_assert_msg(x == 0, "row %llu byte %llu: parity wrong", (unsigned long long)row,
                          (unsigned long long)b);
        }
        /* The first data chunk of the row follows the parity member. */
        uint32_t first = (parity + 1) % 4;
        ck_assert(memcmp(disks[first].bytes + row * chunk, w.model + row * 3 * chunk, chunk) ==
                  0);
    }
    workload_fini(&w);
    rshare_volume_close(vol);
}
END_TEST

/* A member dies in the middle of the workload: nothing fails, nothing
 * differs; the spare takes its place, is rebuilt while I/O goes on, and
 * a scrub then finds every stripe consistent. */
static void fail_and_rebuild(uint32_t layout, uint32_t members, uint32_t chunk, unsigned seed)
{
    define("vol", layout, members, chunk, true);
    rshare_volume *vol = open_volume("vol");
    struct workload w;
    workload_init(&w, vol, seed);
    for (int b = 0; b < 10; b++)
        run_batch(&w, 60);
    disks[1].mode = DISK_DEAD;
    for (int b = 0; b < 30; b++)
        run_batch(&w, 60);
    ck_assert_uint_eq(w.failures, 0);
    ck_assert_uint_eq(w.mismatches, 0);
    if (rshare_loop_net_run(net, nodes, NODES, optimal, vol, 120000000u) != 0) {
        struct rshare_volume_status st = status_of(vol);
        ck_abort_msg("not optimal: state %u members %u %u %u %u (%u %u %u %u) rebuild %llu/%llu",
                     st.state, st.member_state[0], st.member_state[1], st.member_state[2],
                     st.member_state[3], vol->m[0].map_state, vol->m[1].map_state,
                     vol->m[2].map_state, vol->m[3].map_state,
                     (unsigned long long)st.rebuild_done, (unsigned long long)st.rebuild_total);
    }
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, map_in_sync, NULL, 10000000u), 0);
    struct rshare_volume_status s = status_of(vol);
    ck_assert_uint_eq(s.member[1], res[NODES - 1]); /* the spare took slot 1 */
    ck_assert_uint_eq(s.member_state[1], RSHARE_VOLUME_MEMBER_ACTIVE);
    /* The map agrees on every node. */
    struct rshare_volume_desc v;
    size_t n;
    ck_assert_int_eq(rshare_volume_list(nodes[3], &v, 1, sizeof(v), &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(v.members[1], res[NODES - 1]);
    ck_assert_uint_eq(v.member_state[1], RSHARE_VOLUME_MEMBER_ACTIVE);
    ck_assert_uint_eq(v.spare_count, 0);
    verify_all(&w);
    ck_assert_uint_eq(scrub(vol, 0), 0);
    workload_fini(&w);
    rshare_volume_close(vol);
}

static int sweep_gone(void *ud);

/* A rebuild of an idle RAID-5 volume reads each member and writes the
 * spare in units of several rows (rebuild_step_sectors, 256 here, is 16
 * chunks of 16): a member's chunks of consecutive rows are consecutive on
 * it.  The spare gets exactly what the lost member held.  A check (scrub
 * without repair) goes in the same units and still counts row by row. */
START_TEST(raid5_idle_rebuild_moves_many_rows_per_request)
{
    define("vol", RSHARE_LAYOUT_RAID5, 4, 16, true);
    rshare_volume *vol = open_volume("vol");
    struct workload w;
    workload_init(&w, vol, 21);
    for (int b = 0; b < 10; b++)
        run_batch(&w, 100);
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, sweep_gone, vol, 10000000u), 0);
    uint64_t rows = vol->keys, reads[4], spare_writes = disks[NODES - 1].writes;
    for (int i = 0; i < 4; i++)
        reads[i] = disks[i].reads;
    ck_assert_int_eq(rshare_volume_fail_member(vol, 1), 0);
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, optimal, vol, 60000000u), 0);
    /* 16 rows a unit: 16 units for 256 rows, one write of the spare each
     * (or fewer: units that end in the same turn go as one, see
     * raid5_writes_of_a_turn_go_as_one) and one read of every other member
     * (disk 0 serves at most 32 KiB a request: four for a unit's 128 KiB;
     * a few more reads are the bitmap's business). */
    ck_assert_uint_eq(rows, DISK_BYTES / 512 / 16);
    ck_assert_uint_le(disks[NODES - 1].writes - spare_writes, rows / 16);
    for (int i = 0; i < 4; i++)
        if (i != 1)
            ck_assert_uint_le(disks[i].reads - reads[i], (i == 0 ? 4 : 1) * rows / 16 + 4);
    ck_assert_int_eq(memcmp(disks[NODES - 1].bytes, disks[1].bytes, DISK_BYTES), 0);
    verify_all(&w);
    /* A check goes in the same units, and counts each row that is wrong:
     * rows 3 and 5 (one unit; parity and data spoiled) and 40. */
    for (int i = 0; i < 4; i++)
        reads[i] = disks[i].reads;
    ck_assert_uint_eq(scrub(vol, 0), 0);
    for (int i = 0; i < 4; i++)
        if (i != 1)
            ck_assert_uint_le(disks[i].reads - reads[i], (i == 0 ? 4 : 1) * rows / 16 + 4);
    uint8_t *slot1 = disks[NODES - 1].bytes; /* the spare holds slot 1 now */
    disks[3 - 3 % 4].bytes[3 * 8192 + 100] ^= 1; /* row 3's parity */
    slot1[5 * 8192 + 7] ^= 0x80;                  /* a data chunk of row 5 */
    disks[2].bytes[40 * 8192 + 8191] ^= 4;
    ck_assert_uint_eq(scrub(vol, 0), 3);
    ck_assert_uint_eq(scrub(vol, 1), 3);
    ck_assert_uint_eq(scrub(vol, 0), 0);
    workload_fini(&w);
    rshare_volume_close(vol);
}
END_TEST

START_TEST(raid5_member_fails_and_spare_rebuilds)
{
    fail_and_rebuild(RSHARE_LAYOUT_RAID5, 4, 16, 7);
}
END_TEST

START_TEST(raid1_member_fails_and_spare_rebuilds)
{
    fail_and_rebuild(RSHARE_LAYOUT_RAID1, 3, 0, 8);
}
END_TEST

START_TEST(raid10_member_fails_and_spare_rebuilds)
{
    fail_and_rebuild(RSHARE_LAYOUT_RAID10, 4, 16, 9);
}
END_TEST

/* A medium error on one member's range: reads still return the data
 * (rebuilt from the others) and the bad sectors are rewritten. */
START_TEST(raid5_read_error_is_repaired)
{
    define("vol", RSHARE_LAYOUT_RAID5, 4, 16, false);
    rshare_volume *vol = open_volume("vol");
    struct workload w;
    workload_init(&w, vol, 10);
    for (int b = 0; b < 10; b++)
        run_batch(&w, 100);
    disks[2].mode = DISK_BAD_RANGE;
    disks[2].bad_start = 64 * 1024;
    disks[2].bad_end = 64 * 1024 + 4096;
    verify_all(&w);
    struct rshare_volume_status s = status_of(vol);
    ck_assert_uint_ge(s.read_repairs, 1);
    ck_assert_uint_ge(s.degraded_reads, 1);
    ck_assert_uint_eq(disks[2].writes_in_bad, 1);
    ck_assert_int_eq(disks[2].mode, DISK_OK);
    ck_assert_uint_eq(s.state, RSHARE_VOLUME_OPTIMAL); /* repaired, not failed */
    ck_assert_uint_eq(scrub(vol, 0), 0);
    workload_fini(&w);
    rshare_volume_close(vol);
}
END_TEST

/* The volume holds `data` from byte 0 on. */
static void reads_back(rshare_volume *vol, const uint8_t *data, size_t len)
{
    uint8_t *back = calloc(1, len);
    ck_assert_ptr_nonnull(back);
    ck_assert_int_eq(run_io(vol, false, 0, back, len), 0);
    ck_assert(memcmp(data, back, len) == 0);
    free(back);
}

/* `len` bytes of a pattern that differs from sector to sector. */
static uint8_t *pattern(size_t len, unsigned seed)
{
    uint8_t *p = malloc(len);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(i * seed + i / 512);
    return p;
}

/* A large RAID-5 read asks each remote member once for every run of its
 * chunks that follow each other on it (a run ends where the member holds
 * a row's parity), not once per chunk, and returns the right bytes.  With a
 * medium error inside a run the read still succeeds: the run goes back to
 * one piece per chunk, and the bad chunk is rebuilt and repaired. */
START_TEST(raid5_read_asks_each_member_once_per_run)
{
    define("vol", RSHARE_LAYOUT_RAID5, 4, 16, false);
    rshare_volume *vol = open_volume("vol");
    size_t len = 48 * 16 * 512; /* 16 rows of three 8 KiB data chunks */
    uint8_t *data = pattern(len, 7);
    ck_assert_int_eq(run_io(vol, true, 0, data, len), 0);
    uint64_t reads[4];
    for (int i = 0; i < 4; i++)
        reads[i] = disks[i].reads;
    reads_back(vol, data, len);
    /* Left-symmetric parity walks members 3, 2, 1, 0: member 1 holds data
     * in rows 0-1, 3-5, 7-9, 11-13 and 15 (5 runs), member 2 in 0, 2-4,
     * 6-8, 10-12, 14-15 (5), member 3 in 1-3, 5-7, 9-11, 13-15 (4).
     * Member 0 is this node's own disk: one read per chunk, as before. */
    ck_assert_uint_eq(disks[1].reads - reads[1], 5);
    ck_assert_uint_eq(disks[2].reads - reads[2], 5);
    ck_assert_uint_eq(disks[3].reads - reads[3], 4);
    ck_assert_uint_eq(disks[0].reads - reads[0], 12);

    disks[2].mode = DISK_BAD_RANGE; /* inside its run of rows 2-4 */
    disks[2].bad_start = 3 * 16 * 512;
    disks[2].bad_end = 3 * 16 * 512 + 4096;
    reads_back(vol, data, len);
    ck_assert_uint_eq(disks[2].writes_in_bad, 1);
    ck_assert_uint_eq(status_of(vol).state, RSHARE_VOLUME_OPTIMAL);
    free(data);
    rshare_volume_close(vol);
}
END_TEST

/* A write of 16 whole RAID-5 rows: each remote member's 16 chunks (data
 * and parity alike) follow each other on it, and go as one write of 128
 * KiB instead of 16; this node's own disk takes them one by one.  What is
 * read back is what was written, and parity agrees.  When a member's disk
 * dies, its merged write fails as a whole: the member is failed once, and
 * every row is still written (degraded). */
START_TEST(raid5_writes_of_a_turn_go_as_one)
{
    define("vol", RSHARE_LAYOUT_RAID5, 4, 16, false);
    rshare_volume *vol = open_volume("vol");
    size_t len = 48 * 16 * 512;
    uint8_t *data = pattern(len, 13);
    ck_assert_int_eq(run_io(vol, true, 0, data, len), 0); /* the bitmap's bits set */
    uint64_t writes[4];
    for (int i = 0; i < 4; i++)
        writes[i] = disks[i].writes;
    for (size_t i = 0; i < len; i++)
        data[i] ^= 0x5a;
    ck_assert_int_eq(run_io(vol, true, 0, data, len), 0);
    for (int i = 1; i < 4; i++)
        ck_assert_uint_eq(disks[i].writes - writes[i], 1);
    ck_assert_uint_eq(disks[0].writes - writes[0], 16);
    reads_back(vol, data, len);
    ck_assert_uint_eq(scrub(vol, 0), 0);

    disks[2].mode = DISK_DEAD;
    for (size_t i = 0; i < len; i++)
        data[i] += 3;
    ck_assert_int_eq(run_io(vol, true, 0, data, len), 0);
    struct rshare_volume_status st = status_of(vol);
    ck_assert_uint_eq(st.state, RSHARE_VOLUME_DEGRADED);
    ck_assert_uint_eq(st.member_state[2], RSHARE_VOLUME_MEMBER_FAILED);
    reads_back(vol, data, len);
    free(data);
    rshare_volume_close(vol);
}
END_TEST

/* A mirror is away for a while, then comes back: only the regions written
 * meanwhile are copied to it. */
START_TEST(raid1_member_returns_and_resyncs_only_dirty_regions)
{
    define("vol", RSHARE_LAYOUT_RAID1, 3, 0, false);
    rshare_volume *vol = open_volume("vol");
    struct workload w;
    workload_init(&w, vol, 11);
    for (int b = 0; b < 5; b++)
        run_batch(&w, 100);
    /* Let the bitmap go clean. */
    rshare_loop_net_run(net, nodes, NODES, NULL, NULL, 2000000u);
    ck_assert_uint_eq(status_of(vol).dirty_regions, 0);
    disks[2].mode = DISK_DEAD;
    /* Write a little, in one place only. */
    uint8_t buf[4096];
    memset(buf, 0x5A, sizeof(buf));
    memcpy(w.model + 4096, buf, sizeof(buf));
    ck_assert(run_io(vol, true, 4096, buf, sizeof(buf)) == 0);
    ck_assert_uint_eq(status_of(vol).member_state[2], RSHARE_VOLUME_MEMBER_FAILED);
    disks[2].mode = DISK_OK;
    uint64_t before = disks[2].bytes_written;
    ck_assert_int_eq(rshare_volume_readd_member(vol, 2), 0);
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, optimal, vol, 60000000u), 0);
    uint64_t copied = disks[2].bytes_written - before;
    ck_assert_uint_gt(copied, 0);
    ck_assert_uint_le(copied, 256 * 512); /* one region, not the whole disk */
    verify_all(&w);
    ck_assert_uint_eq(scrub(vol, 0), 0);
    workload_fini(&w);
    rshare_volume_close(vol);
}
END_TEST

static int map_says_failed(void *ud)
{
    (void)ud;
    struct rshare_volume_desc v;
    size_t n;
    return rshare_volume_list(nodes[0], &v, 1, sizeof(v), &n) == 0 && n == 1 &&
           v.member_state[1] == RSHARE_VOLUME_MEMBER_FAILED;
}

/* A spare is rebuilt into a slot, then that member fails too and comes
 * back: the rebuild of the re-added member must copy what it missed, not
 * resume from the finished rebuild's checkpoint (stored for the same
 * resource) and declare it in sync at once (found by the soak: tests/soak,
 * seed 3, a RAID-10 read returning data older than an acknowledged
 * write). */
static void rebuilt_spare_fails_and_returns(bool wait_for_map)
{
    define("vol", RSHARE_LAYOUT_RAID1, 2, 0, true);
    rshare_volume *vol = open_volume("vol");
    struct workload w;
    workload_init(&w, vol, 18);
    for (int b = 0; b < 5; b++)
        run_batch(&w, 100);
    disks[1].mode = DISK_DEAD;
    for (int b = 0; b < 5; b++)
        run_batch(&w, 100);
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, optimal, vol, 60000000u), 0);
    ck_assert_uint_eq(status_of(vol).member[1], res[NODES - 1]); /* the spare, rebuilt */
    /* The former spare is away while one block is written. */
    disks[NODES - 1].mode = DISK_DEAD;
    uint8_t buf[4096];
    memset(buf, 0x6B, sizeof(buf));
    memcpy(w.model + 8192, buf, sizeof(buf));
    ck_assert_int_eq(run_io(vol, true, 8192, buf, sizeof(buf)), 0);
    ck_assert_uint_eq(status_of(vol).member_state[1], RSHARE_VOLUME_MEMBER_FAILED);
    if (wait_for_map) /* the map records the failure */
        ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, map_says_failed, NULL, 10000000u),
                         0);
    disks[NODES - 1].mode = DISK_OK;
    ck_assert_int_eq(rshare_volume_readd_member(vol, 1), 0);
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, optimal, vol, 60000000u), 0);
    /* Both copies hold the block. */
    ck_assert(memcmp(disks[NODES - 1].bytes + 8192, buf, sizeof(buf)) == 0);
    ck_assert(memcmp(disks[0].bytes, disks[NODES - 1].bytes, DISK_BYTES) == 0);
    ck_assert_uint_eq(scrub(vol, 0), 0);
    verify_all(&w);
    workload_fini(&w);
    rshare_volume_close(vol);
}

START_TEST(raid1_rebuilt_spare_fails_and_returns)
{
    rebuilt_spare_fails_and_returns(true);
}
END_TEST

/* The same, re-added at once: before the node has even told the map of the
 * failure.  The map's older view (the member active) must not undo the
 * re-add and put the member back in use without a rebuild. */
START_TEST(raid1_readd_before_the_map_knows)
{
    rebuilt_spare_fails_and_returns(false);
}
END_TEST

/* Progress callback: the new member's disk dies half way through its
 * rebuild. */
static void spare_dies_half_way(rshare_volume *vol, int status, uint64_t done, uint64_t total,
                                void *ud)
{
    (void)vol;
    (void)ud;
    if (status == 0 && done >= total / 2 && done < total)
        disks[NODES - 1].mode = DISK_DEAD;
}

/* A spare fails half way through its rebuild and is re-added: it was
 * never in sync, so the write-intent bitmap (which only covers writes
 * since it failed) does not say what it lacks -- it is rebuilt whole
 * (found by the soak: tests/soak, seed 8 with --sim-seconds 20 --nodes
 * 16-40, a RAID-10 read returning zeros). */
START_TEST(raid1_spare_failed_in_rebuild_is_rebuilt_whole)
{
    define("vol", RSHARE_LAYOUT_RAID1, 2, 0, true);
    rshare_volume *vol = open_volume("vol");
    struct workload w;
    workload_init(&w, vol, 20);
    for (int b = 0; b < 10; b++)
        run_batch(&w, 100);
    rshare_loop_net_run(net, nodes, NODES, NULL, NULL, 2000000u); /* the bitmap goes clean */
    ck_assert_uint_eq(status_of(vol).dirty_regions, 0);
    vol->cfg.progress = spare_dies_half_way;
    disks[1].mode = DISK_DEAD;
    uint8_t buf[4096];
    memset(buf, 0x2D, sizeof(buf));
    memcpy(w.model, buf, sizeof(buf));
    ck_assert_int_eq(run_io(vol, true, 0, buf, sizeof(buf)), 0); /* member 1 fails */
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, map_says_failed, NULL, 30000000u), 0);
    vol->cfg.progress = NULL;
    ck_assert_uint_eq(status_of(vol).member[1], res[NODES - 1]);
    disks[NODES - 1].mode = DISK_OK;
    ck_assert_int_eq(rshare_volume_readd_member(vol, 1), 0);
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, optimal, vol, 60000000u), 0);
    ck_assert(memcmp(disks[0].bytes, disks[NODES - 1].bytes, DISK_BYTES) == 0);
    ck_assert_uint_eq(scrub(vol, 0), 0);
    verify_all(&w);
    workload_fini(&w);
    rshare_volume_close(vol);
}
END_TEST

static int checkpoint_at_half(void *ud)
{
    rshare_volume *vol = ud;
    return vol->rebuild_checkpoint >= DISK_BYTES / 2 / 512;
}

/* A read that starts below a rebuild's checkpoint and ends above it is not
 * served by the member being rebuilt (whose blocks above the checkpoint
 * are not written yet), even when that member is the sequential choice
 * (found by the soak: tests/soak, seed 402, a RAID-1 read returning zeros
 * right after a spare took a slot). */
START_TEST(raid1_read_across_the_rebuild_checkpoint)
{
    define("vol", RSHARE_LAYOUT_RAID1, 2, 0, true);
    rshare_volume *vol = open_volume("vol");
    struct workload w;
    workload_init(&w, vol, 21);
    for (uint64_t off = 0; off < w.size; off += MAX_IO) {
        for (size_t k = 0; k < MAX_IO; k++)
            w.model[off + k] = (uint8_t)(off / 512 + k / 512 + 1);
        ck_assert_int_eq(run_io(vol, true, off, w.model + off, MAX_IO), 0);
    }
    /* The spare takes slot 0; its second half is slow to write. */
    disks[NODES - 1].hold_from = DISK_BYTES / 2;
    disks[0].mode = DISK_DEAD;
    uint8_t buf[8192];
    memcpy(buf, w.model, 4096);
    ck_assert_int_eq(run_io(vol, true, 0, buf, 4096), 0);
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, checkpoint_at_half, vol, 30000000u),
                     0);
    ck_assert_uint_eq(vol->rebuild_member, 0);
    ck_assert_uint_eq(vol->rebuild_checkpoint, DISK_BYTES / 2 / 512);
    vol->m[0].next_sector = DISK_BYTES / 2 / 512 - 8; /* a stream ends there on the spare */
    ck_assert_int_eq(run_io(vol, false, DISK_BYTES / 2 - 4096, buf, sizeof(buf)), 0);
    ck_assert(memcmp(buf, w.model + DISK_BYTES / 2 - 4096, sizeof(buf)) == 0);
    disk_release(&disks[NODES - 1]);
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, optimal, vol, 60000000u), 0);
    verify_all(&w);
    workload_fini(&w);
    rshare_volume_close(vol);
}
END_TEST

/* A spare being rebuilt fails while a step of its rebuild is still in
 * flight, and is re-added at once: the old rebuild, winding down after the
 * re-add, must not store its checkpoint again -- the new rebuild would
 * resume there and miss the write the member lost below it (found by the
 * soak: tests/soak, seed 243, RAID-10). */
START_TEST(raid1_readd_while_the_old_rebuild_winds_down)
{
    define("vol", RSHARE_LAYOUT_RAID1, 2, 0, true);
    rshare_volume *vol = open_volume("vol");
    struct workload w;
    workload_init(&w, vol, 22);
    for (uint64_t off = 0; off < w.size; off += MAX_IO) {
        for (size_t k = 0; k < MAX_IO; k++)
            w.model[off + k] = (uint8_t)(off / 512 + k / 512 + 3);
        ck_assert_int_eq(run_io(vol, true, off, w.model + off, MAX_IO), 0);
    }
    disks[NODES - 1].hold_from = DISK_BYTES / 2; /* the rebuild's upper half waits */
    disks[1].mode = DISK_DEAD;
    uint8_t buf[4096];
    memcpy(buf, w.model, sizeof(buf));
    ck_assert_int_eq(run_io(vol, true, 0, buf, sizeof(buf)), 0);
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, checkpoint_at_half, vol, 30000000u),
                     0);
    /* The spare fails on a write below the checkpoint, which it misses. */
    disks[NODES - 1].mode = DISK_DEAD;
    memset(buf, 0xC3, sizeof(buf));
    memcpy(w.model + 8192, buf, sizeof(buf));
    ck_assert_int_eq(run_io(vol, true, 8192, buf, sizeof(buf)), 0);
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, map_says_failed, NULL, 10000000u), 0);
    ck_assert_ptr_nonnull(vol->sweep); /* its held step keeps the old rebuild alive */
    disks[NODES - 1].mode = DISK_OK;
    ck_assert_int_eq(rshare_volume_readd_member(vol, 1), 0);
    disk_release(&disks[NODES - 1]);
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, optimal, vol, 60000000u), 0);
    ck_assert(memcmp(disks[NODES - 1].bytes + 8192, buf, sizeof(buf)) == 0);
    ck_assert(memcmp(disks[0].bytes, disks[NODES - 1].bytes, DISK_BYTES) == 0);
    verify_all(&w);
    workload_fini(&w);
    rshare_volume_close(vol);
}
END_TEST

/* A RAID-0 member is away for a while (the volume fails) and comes back:
 * re-added, with nothing to rebuild it from, it is simply in use again and
 * the volume works (found by the soak: tests/soak, seed 186 -- a re-added
 * member of a volume without redundancy stayed REBUILDING for ever). */
START_TEST(raid0_member_readded_is_active_again)
{
    define("vol", RSHARE_LAYOUT_RAID0, 2, 16, false);
    rshare_volume *vol = open_volume("vol");
    struct workload w;
    workload_init(&w, vol, 23);
    for (int b = 0; b < 5; b++)
        run_batch(&w, 100);
    disks[1].mode = DISK_DEAD;
    uint8_t buf[16384];
    memset(buf, 0x44, sizeof(buf));
    ck_assert_int_ne(run_io(vol, true, 0, buf, sizeof(buf)), 0); /* spans both members */
    ck_assert_uint_eq(status_of(vol).state, RSHARE_VOLUME_FAILED);
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, map_says_failed, NULL, 10000000u), 0);
    disks[1].mode = DISK_OK;
    ck_assert_int_eq(rshare_volume_readd_member(vol, 1), 0);
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, optimal, vol, 10000000u), 0);
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, map_in_sync, NULL, 10000000u), 0);
    /* The failed write may have reached one member: the model takes what
     * is there, then everything else must match. */
    ck_assert_int_eq(run_io(vol, false, 0, w.model, sizeof(buf)), 0);
    for (int b = 0; b < 5; b++)
        run_batch(&w, 50);
    ck_assert_uint_eq(w.failures, 0);
    ck_assert_uint_eq(w.mismatches, 0);
    verify_all(&w);
    workload_fini(&w);
    rshare_volume_close(vol);
}
END_TEST

/* Both mirrors die and a spare steps in: with nothing to copy from, its
 * rebuild fails however often it is retried -- a failed step must not move
 * the stored checkpoint past it, or the retries would creep to the end and
 * declare an empty spare in sync (found by the soak: tests/soak, seed 62,
 * reads of a RAID-1 returning zeros). */
START_TEST(raid1_rebuild_without_a_source_never_completes)
{
    define("vol", RSHARE_LAYOUT_RAID1, 2, 0, true);
    rshare_volume *vol = open_volume("vol");
    struct workload w;
    workload_init(&w, vol, 19);
    for (int b = 0; b < 5; b++)
        run_batch(&w, 100);
    disks[0].mode = DISK_DEAD;
    disks[1].mode = DISK_DEAD;
    uint8_t buf[4096];
    memset(buf, 0x11, sizeof(buf));
    ck_assert_int_ne(run_io(vol, true, 0, buf, sizeof(buf)), 0);
    rshare_loop_net_run(net, nodes, NODES, NULL, NULL, 10000000u); /* many retries */
    struct rshare_volume_status st = status_of(vol);
    ck_assert_uint_eq(st.state, RSHARE_VOLUME_FAILED);
    ck_assert_uint_ne(st.member_state[0], RSHARE_VOLUME_MEMBER_ACTIVE);
    ck_assert_uint_ne(st.member_state[1], RSHARE_VOLUME_MEMBER_ACTIVE);
    struct io io = {0};
    ck_assert_int_eq(rshare_volume_read(vol, 65536, buf, sizeof(buf), io_done, &io),
                     RSHARE_EIO); /* refused, not zeros */
    workload_fini(&w);
    rshare_volume_close(vol);
}
END_TEST

static int resync_finished(void *ud)
{
    rshare_volume *vol = ud;
    return !vol->resync_pending && !vol->sweep;
}

/* Power is lost with writes recently done: the bitmap says which regions
 * may be inconsistent.  One of them is made inconsistent by hand (parity
 * as if the data write landed and the parity write did not), and so is a
 * region the bitmap says is clean.  On the next open the dirty region is
 * resynced and only it: a scrub afterwards finds exactly the other one. */
START_TEST(raid5_resyncs_dirty_regions_after_power_loss)
{
    define("vol", RSHARE_LAYOUT_RAID5, 4, 16, false);
    rshare_volume *vol = open_volume("vol");
    struct workload w;
    workload_init(&w, vol, 12);
    for (int b = 0; b < 10; b++)
        run_batch(&w, 100);
    rshare_loop_net_run(net, nodes, NODES, NULL, NULL, 2000000u); /* all clean again */
    ck_assert_uint_eq(vol->bitmap.dirty, 0);
    uint8_t buf[8192];
    memset(buf, 0x77, sizeof(buf));
    memcpy(w.model + 3 * 8192 * 40, buf, sizeof(buf)); /* row 40, first data chunk */
    ck_assert_int_eq(run_io(vol, true, 3 * 8192 * 40, buf, sizeof(buf)), 0);
    ck_assert_uint_eq(vol->bitmap.dirty, 1);
    uint64_t rows_per_region = vol->bitmap.keys_per_region;
    ck_assert(rs_bitmap_test(&vol->bitmap, 40 / rows_per_region));
    rs_vol_abandon(vol); /* power lost: no clean shutdown */

    /* Torn row 40 (dirty) and row 200 (clean): flip a parity byte of each. */
    uint32_t p40 = 3 - 40 % 4, p200 = 3 - 200 % 4;
    disks[p40].bytes[40 * 8192 + 5] ^= 0xFF;
    disks[p200].bytes[200 * 8192 + 5] ^= 0xFF;
    ck_assert(40 / rows_per_region != 200 / rows_per_region);

    vol = open_volume("vol");
    ck_assert(vol->resync_pending);
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, resync_finished, vol, 30000000u), 0);
    w.vol = vol;
    verify_all(&w);
    ck_assert_uint_eq(scrub(vol, 0), 1); /* row 200 only: never dirty, never resynced */
    ck_assert_uint_eq(scrub(vol, 1), 1);
    ck_assert_uint_eq(scrub(vol, 0), 0);
    workload_fini(&w);
    rshare_volume_close(vol);
}
END_TEST

static int sweep_gone(void *ud)
{
    return ((rshare_volume *)ud)->sweep == NULL;
}

/* The volume's writer is cut off from the voters while the rest of the
 * cluster moves its map on: the host of its remote mirror refuses every
 * request as issued against another map version (RSHARE_ESTALE), until the
 * request's time runs out.  That says the writer's map is old, not that the
 * disk is bad: no member is failed.  A write that landed on the local
 * mirror only ends with RSHARE_ESTALE, its range is owed a resync, reads
 * keep to the first copy meanwhile (and agree), and once the writer is
 * back the resync makes both copies agree with no member rebuilt. */
static uint64_t map_version_of(size_t i)
{
    uint32_t epoch;
    uint64_t version = 0;
    rshare_cluster_map_version(nodes[i], &epoch, &version);
    return version;
}

static int writer_caught_up(void *ud)
{
    (void)ud;
    return map_version_of(3) == map_version_of(0) && map_version_of(4) == map_version_of(0);
}

/* Node 4 (no voter) opens a volume of the given members. */
static rshare_volume *open_on_node4(uint32_t layout, const size_t *members, uint32_t count)
{
    define_of("vol", layout, members, count, layout == RSHARE_LAYOUT_RAID5 ? 16 : 0, false);
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, writer_caught_up, NULL, 20000000u), 0);
    return open_volume_on(3, "vol");
}

/* The manager changes the map (a second volume) while node 4 cannot hear
 * it from the nodes `cut` lists (node numbers, 0-terminated): node 4's map
 * falls behind the others'. */
static void map_moves_on_without_node4(const uint32_t *cut)
{
    for (const uint32_t *c = cut; *c; c++)
        ck_assert_int_eq(rshare_loop_net_partition(net, 4, *c, 1), 0);
    uint64_t before = map_version_of(3);
    static const size_t node2_disk[] = {1};
    define_of("other", RSHARE_LAYOUT_LINEAR, node2_disk, 1, 0, false);
    rshare_loop_net_run(net, nodes, NODES, NULL, NULL, 200000u);
    ck_assert_uint_gt(map_version_of(4), before);
    ck_assert_uint_eq(map_version_of(3), before); /* the writer's map is behind */
}

static void node4_heard_again(const uint32_t *cut)
{
    for (const uint32_t *c = cut; *c; c++)
        ck_assert_int_eq(rshare_loop_net_partition(net, 4, *c, 0), 0);
}

START_TEST(raid1_cut_off_writer_keeps_its_members)
{
    /* Node 4 writes a mirror of its own disk and node 5's. */
    static const size_t members[] = {3, 4};
    rshare_volume *vol = open_on_node4(RSHARE_LAYOUT_RAID1, members, 2);
    uint8_t a[8192], b[8192], got[8192];
    memset(a, 0xA1, sizeof(a));
    memset(b, 0xB2, sizeof(b));
    ck_assert_int_eq(run_io(vol, true, 65536, a, sizeof(a)), 0);

    /* Cut node 4 from the voters; the manager changes the map. */
    static const uint32_t voters[] = {1, 2, 3, 0};
    map_moves_on_without_node4(voters);

    /* The write lands on node 4's own disk; node 5 refuses its part. */
    ck_assert_int_eq(run_io(vol, true, 65536, b, sizeof(b)), RSHARE_ESTALE);
    struct rshare_volume_status st = status_of(vol);
    ck_assert_uint_eq(st.state, RSHARE_VOLUME_OPTIMAL);
    ck_assert_uint_eq(st.member_state[0], RSHARE_VOLUME_MEMBER_ACTIVE);
    ck_assert_uint_eq(st.member_state[1], RSHARE_VOLUME_MEMBER_ACTIVE);
    ck_assert(rs_vol_key_unsynced(vol, 65536 / 512));
    ck_assert(!rs_vol_key_unsynced(vol, 1024)); /* another region */
    ck_assert_mem_eq(disks[3].bytes + 65536, b, sizeof(b));
    ck_assert_mem_eq(disks[4].bytes + 65536, a, sizeof(a));
    /* Reads of the range keep to the first copy: they agree. */
    for (int i = 0; i < 4; i++) {
        memset(got, 0, sizeof(got));
        ck_assert_int_eq(run_io(vol, false, 65536, got, sizeof(got)), 0);
        ck_assert_mem_eq(got, b, sizeof(b));
    }

    /* A resync that node 5 refuses stays owed; closed meanwhile, the
     * volume is not stored clean, and opened again it owes it still. */
    rshare_loop_net_run(net, nodes, NODES, NULL, NULL, 10000000u);
    ck_assert(vol->resync_pending);
    rs_sweep_stop(vol); /* close runs node 4 alone: let the sweep end first */
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, sweep_gone, vol, 60000000u), 0);
    rshare_volume_close(vol);
    vol = open_volume_on(3, "vol");
    ck_assert(vol->resync_pending);
    ck_assert(rs_vol_key_unsynced(vol, 65536 / 512));

    /* Back: the map catches up, the resync copies the first copy over. */
    node4_heard_again(voters);
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, writer_caught_up, NULL, 60000000u), 0);
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, resync_finished, vol, 60000000u), 0);
    ck_assert_mem_eq(disks[4].bytes + 65536, b, sizeof(b));
    st = status_of(vol);
    ck_assert_uint_eq(st.state, RSHARE_VOLUME_OPTIMAL);
    ck_assert_uint_eq(st.member_state[1], RSHARE_VOLUME_MEMBER_ACTIVE);
    ck_assert_uint_eq(scrub(vol, 0), 0);
    ck_assert_int_eq(run_io(vol, true, 65536, a, sizeof(a)), 0);
    ck_assert_mem_eq(disks[4].bytes + 65536, a, sizeof(a));
    rshare_volume_close(vol);
}
END_TEST

/* The same on RAID-5, while the volume loses a member: node 4 is cut off
 * from the voters, one of which hosts the third member (its I/O times out:
 * that member fails).  Node 4's own chunk of a row lands, node 5 (whose map
 * moved on) refuses its chunk as stale.  The row is torn and degraded:
 * failing node 5's member too would lose the volume, and leaving the row
 * as it is would rebuild the lost chunk wrongly.  So neither the write nor
 * node 5's member is failed: under the row's lock node 5's chunk is
 * written again until node 4's map catches up, and the write succeeds. */
START_TEST(raid5_cut_off_writer_finishes_its_rows)
{
    static const size_t members[] = {3, 4, 2};
    rshare_volume *vol = open_on_node4(RSHARE_LAYOUT_RAID5, members, 3);
    /* A row holds 2 data chunks of 8 KiB and parity: a write of all of
     * row 2 writes every member. */
    uint8_t b[16384];
    for (size_t i = 0; i < sizeof(b); i++)
        b[i] = (uint8_t)(i * 7 + 3);
    static const uint32_t voters[] = {1, 2, 3, 0};
    map_moves_on_without_node4(voters);
    struct workload w1;
    memset(&w1, 0, sizeof(w1));
    struct io *io = &w1.io[0];
    io->busy = true;
    ck_assert_int_eq(rshare_volume_write(vol, 2 * 16384, b, sizeof(b), io_done, io), 0);
    /* Long enough for every member I/O's retries to run out once. */
    rshare_loop_net_run(net, nodes, NODES, batch_done, &w1, 10000000u);
    ck_assert(!io->done);
    ck_assert_uint_eq(status_of(vol).member_state[1], RSHARE_VOLUME_MEMBER_ACTIVE);
    node4_heard_again(voters);
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, batch_done, &w1, 60000000u), 0);
    ck_assert_int_eq(io->status, 0);
    struct rshare_volume_status st = status_of(vol);
    ck_assert_uint_eq(st.state, RSHARE_VOLUME_DEGRADED);
    ck_assert_uint_eq(st.member_state[0], RSHARE_VOLUME_MEMBER_ACTIVE);
    ck_assert_uint_eq(st.member_state[1], RSHARE_VOLUME_MEMBER_ACTIVE);
    ck_assert_uint_eq(st.member_state[2], RSHARE_VOLUME_MEMBER_FAILED);
    uint8_t got[16384];
    ck_assert_int_eq(run_io(vol, false, 2 * 16384, got, sizeof(got)), 0);
    ck_assert_mem_eq(got, b, sizeof(b));
    rshare_volume_close(vol);
}
END_TEST

/* Writes submitted together that each fill part of a row are gathered:
 * the rows they fill together are written as full stripes, nothing is
 * read. */
START_TEST(raid5_gathers_partial_rows)
{
    define("vol", RSHARE_LAYOUT_RAID5, 4, 16, false);
    rshare_volume *vol = open_volume("vol");
    struct workload w;
    workload_init(&w, vol, 16);
    /* Eight adjacent 16 KiB writes: 128 KiB from 0, rows of 24 KiB. */
    for (int i = 0; i < DEPTH; i++) {
        struct io *io = &w.io[i];
        io->busy = true;
        io->done = false;
        io->off = (uint64_t)i * 16384;
        io->len = 16384;
        memset(io->buf, 'a' + i, io->len);
        memcpy(w.model + io->off, io->buf, io->len);
        ck_assert_int_eq(rshare_volume_write(vol, io->off, io->buf, io->len, io_done, io), 0);
    }
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, batch_done, &w, 60000000u), 0);
    for (int i = 0; i < DEPTH; i++)
        ck_assert_int_eq(w.io[i].status, 0);
    struct rshare_volume_status st = status_of(vol);
    ck_assert_uint_eq(st.full_stripe_writes, 5); /* 120 KiB: five whole rows */
    ck_assert_uint_eq(st.rcw_writes + st.rmw_writes, 1); /* the sixth, partly written */
    verify_all(&w);
    ck_assert_uint_eq(scrub(vol, 0), 0);
    workload_fini(&w);
    rshare_volume_close(vol);
}
END_TEST

/* Start write `i` of the workload: `len` bytes of `fill` at `off`. */
static void submit_write(struct workload *w, int i, uint64_t off, size_t len, int fill)
{
    struct io *io = &w->io[i];
    io->busy = true;
    io->done = false;
    io->off = off;
    io->len = len;
    memset(io->buf, fill, len);
    memcpy(w->model + off, io->buf, len);
    ck_assert_int_eq(rshare_volume_write(w->vol, off, io->buf, len, io_done, io), 0);
}

/* The row where a write ends waits a moment for the stream's next write
 * while other requests are in flight: the two fill it together, one
 * full-stripe write and no reconstruct-write.  A lone writer never waits,
 * and a later write to the same blocks does not overtake the held one. */
START_TEST(raid5_holds_the_row_a_stream_continues)
{
    define("vol", RSHARE_LAYOUT_RAID5, 4, 16, false);
    rshare_volume *vol = open_volume("vol");
    struct workload w;
    workload_init(&w, vol, 17);
    /* Rows of three 8 KiB chunks.  io 0 elsewhere keeps a request in
     * flight; io 1 fills row 0 and the first chunk of row 1; io 2, a turn
     * later, the other two (rows are gathered by whole chunks). */
    submit_write(&w, 0, 1u << 20, 8192, 'x');
    submit_write(&w, 1, 0, 32768, 'a');
    rshare_loop_net_run(net, nodes, NODES, NULL, NULL, 200);
    ck_assert(!w.io[1].done);
    submit_write(&w, 2, 32768, 16384, 'b');
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, batch_done, &w, 60000000u), 0);
    struct rshare_volume_status st = status_of(vol);
    ck_assert_uint_eq(st.full_stripe_writes, 2); /* rows 0 and 1 */
    ck_assert_uint_eq(st.rcw_writes + st.rmw_writes, 1); /* io 0's row only */
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(w.io[i].status, 0);
        w.io[i].busy = false;
    }

    /* Alone: half a row is written at once, without waiting. */
    uint64_t t0 = rshare_loop_net_now_us(net);
    submit_write(&w, 0, 49152, 12288, 'c');
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, batch_done, &w, 60000000u), 0);
    ck_assert_int_eq(w.io[0].status, 0);
    ck_assert_uint_lt(rshare_loop_net_now_us(net) - t0, 1000);
    w.io[0].busy = false;

    /* Held, then the same blocks again: the later write lands last. */
    submit_write(&w, 0, 2u << 20, 8192, 'y');
    submit_write(&w, 1, 73728, 4096, 'd');
    rshare_loop_net_run(net, nodes, NODES, NULL, NULL, 200);
    submit_write(&w, 2, 73728, 4096, 'e');
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, batch_done, &w, 60000000u), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(w.io[i].status, 0);
    verify_all(&w);
    ck_assert_uint_eq(scrub(vol, 0), 0);
    workload_fini(&w);
    rshare_volume_close(vol);
}
END_TEST

static void set_member_state(uint32_t member, uint32_t state);

static int ppl_recovered(void *ud)
{
    rshare_volume *vol = ud;
    return vol->ppl.recover_pending == 0 && !rs_ppl_has_records(vol);
}

/* The write hole.  Power is cut in the middle of a partial write to a row
 * (one member got its write, the other did not), and when node 1 comes
 * back a member the write did not touch is lost too.  Its data in that
 * row can only come back from parity, and parity is torn: the partial
 * parity log repairs the row first, so the lost member's (acknowledged,
 * older) data reads back intact. */
START_TEST(raid5_write_hole_closed_by_partial_parity_log)
{
    define("vol", RSHARE_LAYOUT_RAID5, 4, 16, false);
    rshare_volume *vol = open_volume("vol");
    struct workload w;
    workload_init(&w, vol, 17);
    for (int b = 0; b < 20; b++)
        run_batch(&w, 100); /* every block acknowledged, parity consistent */
    rshare_loop_net_run(net, nodes, NODES, NULL, NULL, 1000000u);
    /* Row 40: chunk 0 is rewritten (4 KiB); chunk 1, on another member, not. */
    uint64_t row = 40, row_bytes = 3 * 8192;
    uint8_t buf[4096];
    memset(buf, 0x3C, sizeof(buf));
    crash.armed = true;
    ck_assert_int_eq(run_io(vol, true, row * row_bytes, buf, sizeof(buf)), 0);
    ck_assert(crash.taken);
    rs_vol_abandon(vol);

    /* Node 1 loses power: the disks and its state as they were at the cut. */
    rshare_node_destroy(nodes[0]);
    for (int i = 0; i < NODES; i++)
        memcpy(disks[i].bytes, crash.bytes[i], DISK_BYTES);
    store_copy(&stores[0], &crash_store);
    node_start(0, false);
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, resources_everywhere, NULL,
                                         60000000u), 0);
    rshare_loop_net_run(net, nodes, NODES, NULL, NULL, 2000000u); /* hellos: addresses */
    /* The member holding chunk 1 of row 40 is lost as well (left-symmetric:
     * parity on member 3 - 40 % 4 = 3, chunk 0 on member 0, chunk 1 on 1). */
    set_member_state(1, RSHARE_VOLUME_MEMBER_FAILED);
    disks[1].mode = DISK_DEAD;
    vol = open_volume("vol"); /* dirty and degraded: the log makes it safe */
    w.vol = vol;
    ck_assert(rs_ppl_has_records(vol) || vol->ppl.recovered);
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, ppl_recovered, vol, 30000000u), 0);
    ck_assert_uint_eq(vol->ppl.recovered, 1);
    ck_assert_uint_eq(vol->ppl.unrecoverable, 0);
    /* Chunk 1 of row 40, rebuilt from parity: the old data. */
    uint8_t back[8192];
    ck_assert_int_eq(run_io(vol, false, row * row_bytes + 8192, back, sizeof(back)), 0);
    ck_assert(memcmp(back, w.model + row * row_bytes + 8192, sizeof(back)) == 0);
    /* Chunk 0: the interrupted write, old or new, never anything else. */
    ck_assert_int_eq(run_io(vol, false, row * row_bytes, back, sizeof(buf)), 0);
    ck_assert(memcmp(back, buf, sizeof(buf)) == 0 ||
              memcmp(back, w.model + row * row_bytes, sizeof(buf)) == 0);
    for (int i = 0; i < NODES; i++)
        free(crash.bytes[i]);
    memory_store_free(&crash_store);
    workload_fini(&w);
    rshare_volume_close(vol);
}
END_TEST

static void set_member_state(uint32_t member, uint32_t state)
{
    struct rshare_volume_desc v;
    size_t n;
    ck_assert_int_eq(rshare_volume_list(nodes[0], &v, 1, sizeof(v), &n), 0);
    v.member_state[member] = state;
    struct outcome o = {0};
    ck_assert_int_eq(rshare_volume_define(nodes[0], &v, changed, &o), 0);
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, outcome_done, &o, 20000000u), 0);
    ck_assert_int_eq(o.status, 0);
}

/* Dirty and degraded with an unreadable partial parity log: torn rows
 * could not be repaired, so the volume does not start unless forced. */
START_TEST(raid5_dirty_and_degraded_needs_force)
{
    define("vol", RSHARE_LAYOUT_RAID5, 4, 16, false);
    rshare_volume *vol = open_volume("vol");
    uint8_t buf[4096];
    memset(buf, 1, sizeof(buf));
    ck_assert_int_eq(run_io(vol, true, 0, buf, sizeof(buf)), 0);
    rs_vol_abandon(vol);
    ck_assert_int_eq(memory_store_store(&stores[0], "volume-1-ppl-0", "garbage", 7), 0);
    set_member_state(2, RSHARE_VOLUME_MEMBER_FAILED);
    ck_assert_int_eq(rshare_volume_open(nodes[0], "vol", NULL, &vol), RSHARE_EBUSY);
    ck_assert_ptr_nonnull(strstr(rshare_node_errmsg(nodes[0]), "FORCE"));
    ck_assert_ptr_nonnull(strstr(rshare_node_errmsg(nodes[0]), "partial parity log"));
    struct rshare_volume_config cfg;
    rshare_volume_config_init(&cfg, sizeof(cfg));
    cfg.flags = RSHARE_VOLUME_OPEN_FORCE;
    ck_assert_int_eq(rshare_volume_open(nodes[0], "vol", &cfg, &vol), 0);
    ck_assert_uint_eq(status_of(vol).state, RSHARE_VOLUME_DEGRADED);
    uint8_t back[4096];
    ck_assert_int_eq(run_io(vol, false, 0, back, sizeof(back)), 0);
    ck_assert(memcmp(back, buf, sizeof(buf)) == 0);
    rshare_volume_close(vol);
}
END_TEST

/* Progress callback: interrupt the rebuild half way. */
static void stop_half_way(rshare_volume *vol, int status, uint64_t done, uint64_t total,
                          void *ud)
{
    (void)ud;
    if (status == 0 && done >= total / 2 && done < total)
        rs_sweep_stop(vol);
}

static int sweep_running(void *ud)
{
    return ((rshare_volume *)ud)->sweep != NULL;
}

/* A rebuild interrupted by a restart of the node running it resumes where
 * it stopped instead of starting over. */
START_TEST(rebuild_resumes_after_restart)
{
    define("vol", RSHARE_LAYOUT_RAID1, 2, 0, true);
    rshare_volume *vol = open_volume("vol");
    struct workload w;
    workload_init(&w, vol, 13);
    for (int b = 0; b < 10; b++)
        run_batch(&w, 100);
    disks[1].mode = DISK_DEAD;
    vol->cfg.progress = stop_half_way;
    ck_assert_int_eq(rshare_volume_fail_member(vol, 1), 0);
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, sweep_running, vol, 10000000u), 0);
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, sweep_gone, vol, 10000000u), 0);
    ck_assert_uint_gt(disks[NODES - 1].bytes_written, 0);
    ck_assert_uint_lt(disks[NODES - 1].bytes_written, DISK_BYTES);
    rs_vol_abandon(vol);
    uint64_t before = disks[NODES - 1].bytes_written;

    vol = open_volume("vol");
    w.vol = vol;
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, optimal, vol, 60000000u), 0);
    uint64_t second = disks[NODES - 1].bytes_written - before;
    ck_assert_uint_gt(second, 0);
    ck_assert_uint_lt(second, DISK_BYTES / 2 + 256 * 512 * 4); /* the rest, not all again */
    verify_all(&w);
    ck_assert_uint_eq(scrub(vol, 0), 0);
    workload_fini(&w);
    rshare_volume_close(vol);
}
END_TEST

/* The same on a network that loses, duplicates and reorders packets:
 * the link and message layers hide it; no request fails, nothing differs. */
static void setup_lossy(void)
{
    lossy = true;
    setup();
}

static void teardown_lossy(void)
{
    teardown();
    lossy = false;
}

START_TEST(lossy_network_raid5_fail_and_rebuild)
{
    fail_and_rebuild(RSHARE_LAYOUT_RAID5, 4, 16, 14);
}
END_TEST

START_TEST(lossy_network_raid1_model)
{
    model_test(RSHARE_LAYOUT_RAID1, 3, 0, 15);
}
END_TEST

/* Many seeds of the lossy network, a member dying at a different moment
 * in each: RSHARE_SIM_SEEDS sets how many (make soak runs hundreds). */
START_TEST(seeds_of_lossy_failures)
{
    const char *env = getenv("RSHARE_SIM_SEEDS");
    unsigned seeds = env ? (unsigned)atoi(env) : 2;
    for (unsigned k = 0; k < seeds; k++) {
        net_seed = 100 + k;
        setup_lossy();
        uint32_t layouts[] = {RSHARE_LAYOUT_RAID5, RSHARE_LAYOUT_RAID1, RSHARE_LAYOUT_RAID10};
        uint32_t layout = layouts[k % 3];
        bool mirror = layout == RSHARE_LAYOUT_RAID1;
        fail_and_rebuild(layout, mirror ? 3 : 4, mirror ? 0 : 16, 1000 + k);
        teardown_lossy();
    }
    net_seed = 21;
}
END_TEST

/* Discard on the layouts that offer it: passed to the members under the
 * range (across member and chunk boundaries), zeroes where the member can
 * discard, the old data where it cannot (disk 3), nothing else touched;
 * refused with a clear error on layouts with copies or parity. */
static void discard_test(uint32_t layout, uint32_t members, uint32_t chunk)
{
    define("d", layout, members, chunk, false);
    rshare_volume *vol = open_volume("d");
    uint64_t size = rshare_volume_size(vol);
    uint8_t *data = malloc(size), *back = malloc(size);
    ck_assert_ptr_nonnull(data);
    ck_assert_ptr_nonnull(back);
    for (uint64_t i = 0; i < size; i++)
        data[i] = (uint8_t)(i * 131 + 7) | 1; /* never zero */
    const uint64_t step = 1u << 20;
    for (uint64_t off = 0; off < size; off += step)
        ck_assert_int_eq(run_io(vol, true, off, data + off, size - off < step ? size - off : step),
                         0);
    /* Across the first member boundary, and inside the third member. */
    const uint64_t ranges[][2] = {{DISK_BYTES - 65536, 131072}, {2ull * DISK_BYTES + 4096, 8192}};
    for (size_t r = 0; r < 2; r++)
        ck_assert_int_eq(run_io(vol, true, ranges[r][0], NULL, ranges[r][1]), 0);
    ck_assert_uint_eq(status_of(vol).discards, 2);
    for (uint64_t off = 0; off < size; off += step)
        ck_assert_int_eq(run_io(vol, false, off, back + off, size - off < step ? size - off : step),
                         0);
    uint64_t zeroed = 0;
    for (uint64_t i = 0; i < size; i++) {
        bool inside = false;
        for (size_t r = 0; r < 2; r++)
            inside |= i >= ranges[r][0] && i < ranges[r][0] + ranges[r][1];
        if (!inside) {
            ck_assert_msg(back[i] == data[i], "byte %llu changed", (unsigned long long)i);
            continue;
        }
        ck_assert_msg(back[i] == 0 || back[i] == data[i], "byte %llu neither",
                      (unsigned long long)i);
        zeroed += back[i] == 0;
    }
    /* Disk 3 cannot discard: what lies on it kept its data. */
    for (uint64_t i = 0; i < DISK_BYTES; i++)
        ck_assert_msg(disks[2].bytes[i] != 0, "disk 3 byte %llu zeroed", (unsigned long long)i);
    ck_assert_uint_eq(disks[2].bytes_discarded, 0);
    ck_assert_uint_eq(zeroed, disks[0].bytes_discarded + disks[1].bytes_discarded);
    ck_assert_uint_gt(zeroed, 0);
    /* Bad ranges, as for writes. */
    struct io io = {0};
    ck_assert_int_eq(rshare_volume_discard(vol, 100, 512, io_done, &io), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_volume_discard(vol, 0, 0, io_done, &io), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_volume_discard(vol, size, 512, io_done, &io), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_volume_discard(vol, 0, 512, NULL, NULL), RSHARE_EINVAL);
    ck_assert_uint_eq(status_of(vol).state, RSHARE_VOLUME_OPTIMAL); /* no member failed */
    free(data);
    free(back);
    rshare_volume_close(vol);
}

START_TEST(linear_discard)
{
    discard_test(RSHARE_LAYOUT_LINEAR, 3, 0);
}
END_TEST

START_TEST(raid0_discard)
{
    discard_test(RSHARE_LAYOUT_RAID0, 3, 16);
}
END_TEST

static void discard_refused(uint32_t layout, uint32_t members, uint32_t chunk)
{
    define("r", layout, members, chunk, false);
    rshare_volume *vol = open_volume("r");
    struct io io = {0};
    ck_assert_int_eq(rshare_volume_discard(vol, 0, 4096, io_done, &io), RSHARE_ENOTSUP);
    ck_assert_ptr_nonnull(strstr(rshare_node_errmsg(nodes[0]), "linear and RAID-0"));
    ck_assert_uint_eq(status_of(vol).discards, 0);
    rshare_volume_close(vol);
}

START_TEST(discard_refused_raid1)
{
    discard_refused(RSHARE_LAYOUT_RAID1, 2, 0);
}
END_TEST

START_TEST(discard_refused_raid5)
{
    discard_refused(RSHARE_LAYOUT_RAID5, 3, 16);
}
END_TEST

START_TEST(bad_requests_get_clear_errors)
{
    define("vol", RSHARE_LAYOUT_RAID5, 4, 16, false);
    rshare_volume *vol;
    ck_assert_int_eq(rshare_volume_open(nodes[0], "nope", NULL, &vol), RSHARE_ENOENT);
    vol = open_volume("vol");
    uint8_t buf[1024];
    struct io io = {0};
    uint64_t size = rshare_volume_size(vol);
    ck_assert_uint_eq(size, 3ull * DISK_BYTES);
    ck_assert_int_eq(rshare_volume_read(vol, size, buf, 512, io_done, &io), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_volume_read(vol, size - 512, buf, 1024, io_done, &io),
                     RSHARE_EINVAL);
    ck_assert_int_eq(rshare_volume_read(vol, 100, buf, 512, io_done, &io), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_volume_read(vol, 0, buf, 100, io_done, &io), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_volume_read(vol, 0, buf, 0, io_done, &io), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_volume_read(vol, 0, buf, (64u << 20) + 512, io_done, &io),
                     RSHARE_EINVAL);
    ck_assert_int_eq(rshare_volume_read(vol, 0, NULL, 512, io_done, &io), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_volume_write(vol, 0, buf, 512, NULL, NULL), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_volume_fail_member(vol, 9), RSHARE_EINVAL);
    ck_assert_ptr_nonnull(strstr(rshare_node_errmsg(nodes[0]), "vol"));
    /* Two members lost: the volume fails, requests are refused. */
    disks[0].mode = DISK_DEAD;
    disks[1].mode = DISK_DEAD;
    ck_assert_int_eq(rshare_volume_fail_member(vol, 0), 0);
    ck_assert_int_eq(rshare_volume_fail_member(vol, 1), 0);
    ck_assert_uint_eq(status_of(vol).state, RSHARE_VOLUME_FAILED);
    ck_assert_int_eq(rshare_volume_read(vol, 0, buf, 512, io_done, &io), RSHARE_EIO);
    rshare_volume_close(vol);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("volume");
    TCase *tc = tcase_create("volume");
    tcase_set_timeout(tc, 600);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, linear_matches_model);
    tcase_add_test(tc, raid5_idle_rebuild_moves_many_rows_per_request);
    tcase_add_test(tc, raid5_read_asks_each_member_once_per_run);
    tcase_add_test(tc, raid5_writes_of_a_turn_go_as_one);
    tcase_add_test(tc, raid0_matches_model);
    tcase_add_test(tc, linear_discard);
    tcase_add_test(tc, raid0_discard);
    tcase_add_test(tc, discard_refused_raid1);
    tcase_add_test(tc, discard_refused_raid5);
    tcase_add_test(tc, raid1_matches_model);
    tcase_add_test(tc, raid10_matches_model);
    tcase_add_test(tc, raid5_matches_model);
    tcase_add_test(tc, raid5_members_are_md_layout);
    tcase_add_test(tc, raid5_member_fails_and_spare_rebuilds);
    tcase_add_test(tc, raid1_member_fails_and_spare_rebuilds);
    tcase_add_test(tc, raid10_member_fails_and_spare_rebuilds);
    tcase_add_test(tc, raid5_read_error_is_repaired);
    tcase_add_test(tc, raid1_member_returns_and_resyncs_only_dirty_regions);
    tcase_add_test(tc, raid1_rebuilt_spare_fails_and_returns);
    tcase_add_test(tc, raid1_readd_before_the_map_knows);
    tcase_add_test(tc, raid1_rebuild_without_a_source_never_completes);
    tcase_add_test(tc, raid1_spare_failed_in_rebuild_is_rebuilt_whole);
    tcase_add_test(tc, raid1_read_across_the_rebuild_checkpoint);
    tcase_add_test(tc, raid1_readd_while_the_old_rebuild_winds_down);
    tcase_add_test(tc, raid0_member_readded_is_active_again);
    tcase_add_test(tc, raid5_gathers_partial_rows);
    tcase_add_test(tc, raid5_holds_the_row_a_stream_continues);
    tcase_add_test(tc, raid5_resyncs_dirty_regions_after_power_loss);
    tcase_add_test(tc, raid1_cut_off_writer_keeps_its_members);
    tcase_add_test(tc, raid5_cut_off_writer_finishes_its_rows);
    tcase_add_test(tc, raid5_write_hole_closed_by_partial_parity_log);
    tcase_add_test(tc, raid5_dirty_and_degraded_needs_force);
    tcase_add_test(tc, rebuild_resumes_after_restart);
    tcase_add_test(tc, bad_requests_get_clear_errors);
    suite_add_tcase(s, tc);
    TCase *lossy_tc = tcase_create("lossy");
    tcase_set_timeout(lossy_tc, 600);
    tcase_add_checked_fixture(lossy_tc, setup_lossy, teardown_lossy);
    tcase_add_test(lossy_tc, lossy_network_raid5_fail_and_rebuild);
    tcase_add_test(lossy_tc, lossy_network_raid1_model);
    suite_add_tcase(s, lossy_tc);
    TCase *seeds_tc = tcase_create("seeds");
    tcase_set_timeout(seeds_tc, 3600);
    tcase_add_test(seeds_tc, seeds_of_lossy_failures);
    suite_add_tcase(s, seeds_tc);
    return s;
}

int main(void)
{
    return rs_test_run(suite());
}
