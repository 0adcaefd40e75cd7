/* Simulation: block resources served to other nodes.  Three nodes on the
 * loop transport form a cluster; node 1 shares a memory-backed and a
 * file-backed disk (and a read-only one), node 2 opens them with
 * rshare_block_open_resource() and reads, writes, flushes and discards.
 * Large I/O is split to the 1 MiB message limit and arrives intact; the
 * host refuses what it must (unknown resource, no write right, misaligned
 * or oversized requests, malformed bodies) with its own code; a host that
 * goes away fails the I/O instead of hanging it; on the host itself the
 * handle is a shortcut to the registered backend. */
#include "config.h"

#include "testutil.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "block/backend.h"
#include "block/blockwire.h"
#include "link/link.h"
#include "msg/msg.h"
#include "rshare/rshare.h"

#define NODES 3
#define MEM_BYTES (16u << 20)
#define FILE_BYTES (4u << 20)

static rshare_loop_net *net;
static rshare_node *nodes[NODES];
static char dirs[NODES][64];
static char file_path[128];
static rshare_block *mem_block, *file_block, *ro_block; /* on node 1 */
static uint64_t mem_id, file_id, ro_id;

static void node_up(size_t i)
{
    snprintf(dirs[i], sizeof(dirs[i]), "/tmp/rshare-blockrem-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dirs[i]));
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = (uint32_t)(i + 1);
    cfg.slot = (uint16_t)i;
    cfg.state_dir = dirs[i];
    cfg.clock = rshare_loop_net_clock(net);
    cfg.max_message_bytes = 1u << 20;
    cfg.log = (struct rshare_log){rs_test_quiet_log, NULL, RSHARE_LOG_ERROR};
    ck_assert_int_eq(rshare_node_create(&cfg, &nodes[i]), 0);
    ck_assert_int_ge(rshare_node_add_loop(nodes[i], net, (uint32_t)(i + 1)), 0);
    static const uint32_t voters[] = {1, 2, 3};
    struct rshare_cluster_config cc;
    rshare_cluster_config_init(&cc, sizeof(cc));
    cc.manager_eligible = 1;
    cc.initial_voters = voters;
    cc.initial_voter_count = 3;
    cc.capabilities = RSHARE_CAP_BLOCK;
    ck_assert_int_eq(rshare_cluster_join(nodes[i], &cc), 0);
}

static uint64_t share(rshare_block *block, const char *path, uint32_t rights)
{
    struct rshare_resource_desc d;
    rshare_resource_desc_init(&d, sizeof(d));
    d.kind = RSHARE_RESOURCE_BLOCK;
    d.rights = rights;
    snprintf(d.path, sizeof(d.path), "%s", path);
    uint64_t id;
    ck_assert_int_eq(rshare_resource_register_block(nodes[0], &d, block, &id), 0);
    return id;
}

/* Run the nodes still up until `done`. */
static int run(int (*done)(void *), void *ud, uint64_t max_us)
{
    rshare_node *up[NODES];
    size_t n = 0;
    for (size_t i = 0; i < NODES; i++)
        if (nodes[i])
            up[n++] = nodes[i];
    return rshare_loop_net_run(net, up, n, done, ud, max_us);
}

static size_t want_resources;

static int resources_everywhere(void *ud)
{
    (void)ud;
    for (size_t i = 0; i < NODES; i++) {
        size_t n;
        if (!nodes[i])
            continue;
        rshare_resource_list(nodes[i], 0, NULL, 0, sizeof(struct rshare_resource_desc), &n);
        if (n != want_resources || rshare_cluster_manager(nodes[i]) == 0)
            return 0;
    }
    return 1;
}

static void settle(size_t count)
{
    want_resources = count;
    ck_assert_int_eq(run(resources_everywhere, NULL, 60000000u), 0);
}

/* Every link as set up: no faults, MTU 9000 (tests add faults to a copy). */
static struct rshare_loop_link clean_link(void)
{
    struct rshare_loop_link link;
    rshare_loop_link_init(&link, sizeof(link));
    link.mtu = 9000;
    return link;
}

static void setup(void)
{
    ck_assert_int_eq(rshare_loop_net_create(11, &net), 0);
    struct rshare_loop_link link = clean_link();
    ck_assert_int_eq(rshare_loop_net_set_default(net, &link), 0);
    for (size_t i = 0; i < NODES; i++)
        node_up(i);
    ck_assert_int_eq(rshare_block_open_memory(nodes[0], MEM_BYTES, 512, &mem_block), 0);
    snprintf(file_path, sizeof(file_path), "%s/disk.img", dirs[0]);
    int fd = open(file_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, FILE_BYTES), 0);
    close(fd);
    ck_assert_int_eq(rshare_block_open_file(nodes[0], file_path, 0, 4096, &file_block), 0);
    ck_assert_int_eq(rshare_block_open_memory(nodes[0], 1u << 20, 512, &ro_block), 0);
    mem_id = share(mem_block, "mem0", RSHARE_RIGHT_READ | RSHARE_RIGHT_WRITE);
    file_id = share(file_block, "file0", RSHARE_RIGHT_READ | RSHARE_RIGHT_WRITE);
    ro_id = share(ro_block, "ro0", RSHARE_RIGHT_READ);
    settle(3);
}

static void teardown(void)
{
    for (size_t i = 0; i < NODES; i++) {
        rshare_node_destroy(nodes[i]); /* closes node 1's blocks too */
        nodes[i] = NULL;
        char cmd[320];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dirs[i]);
        ck_assert_int_eq(system(cmd), 0);
    }
    mem_block = file_block = ro_block = NULL;
    rshare_loop_net_destroy(net);
}

/* --- I/O through the simulation --------------------------------------------- */

struct waiter {
    struct rshare_block_io io;
    int calls;
    int status;
};

static void waiter_done(struct rshare_block_io *io, int status)
{
    struct waiter *w = io->user_data;
    w->calls++;
    w->status = status;
}

static int waiter_finished(void *ud)
{
    return ((struct waiter *)ud)->calls > 0;
}

static void waiter_init(struct waiter *w, uint32_t op, uint64_t offset, void *buf, uint64_t len)
{
    memset(w, 0, sizeof(*w));
    rshare_block_io_init(&w->io, sizeof(w->io));
    w->io.op = op;
    w->io.offset = offset;
    w->io.length = len;
    w->io.buf = buf;
    w->io.done = waiter_done;
    w->io.user_data = w;
}

/* Submit and run the cluster until done; the I/O's status. */
static int io(rshare_block *b, uint32_t op, uint64_t offset, void *buf, uint64_t len)
{
    struct waiter w;
    waiter_init(&w, op, offset, buf, len);
    int rc = rshare_block_submit(b, &w.io);
    if (rc < 0)
        return rc;
    ck_assert_int_eq(w.calls, 0);
    ck_assert_int_eq(run(waiter_finished, &w, 30000000u), 0);
    ck_assert_int_eq(w.calls, 1);
    return w.status;
}

static void fill(uint8_t *buf, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(i * 13u + seed * 101u + (i >> 12));
}

/* Read straight from the host's backend (node 1). */
static void host_read(rshare_block *b, uint64_t offset, void *buf, size_t len)
{
    ck_assert_int_eq(io(b, RSHARE_BLOCK_READ, offset, buf, len), 0);
}

START_TEST(test_remote_read_write_flush)
{
    rshare_block *m, *f;
    ck_assert_int_eq(rshare_block_open_resource(nodes[1], mem_id, &m), 0);
    ck_assert_int_eq(rshare_block_open_resource(nodes[1], file_id, &f), 0);
    struct rshare_block_info info;
    rshare_block_info_init(&info, sizeof(info));
    ck_assert_int_eq(rshare_block_get_info(m, &info), 0);
    ck_assert_uint_eq(info.block_size, 512);
    ck_assert_uint_eq(info.block_count, MEM_BYTES / 512);
    ck_assert_uint_eq(info.caps & RSHARE_BLOCK_CAP_READONLY, 0);
    ck_assert_int_eq(rshare_block_get_info(f, &info), 0);
    ck_assert_uint_eq(info.block_size, 4096);
    ck_assert_uint_eq(info.block_count, FILE_BYTES / 4096);

    size_t len = 96 << 10;
    uint8_t *w = malloc(len), *r = malloc(len);
    fill(w, len, 1);
    ck_assert_int_eq(io(m, RSHARE_BLOCK_WRITE, 7 * 512, w, len), 0);
    memset(r, 0, len);
    ck_assert_int_eq(io(m, RSHARE_BLOCK_READ, 7 * 512, r, len), 0);
    ck_assert_mem_eq(r, w, len);
    memset(r, 0, len);
    host_read(mem_block, 7 * 512, r, len);
    ck_assert_mem_eq(r, w, len);

    fill(w, len, 2);
    ck_assert_int_eq(io(f, RSHARE_BLOCK_WRITE, 4096, w, len), 0);
    ck_assert_int_eq(io(f, RSHARE_BLOCK_FLUSH, 0, NULL, 0), 0);
    /* The file itself holds it after the flush. */
    int fd = open(file_path, O_RDONLY);
    memset(r, 0, len);
    ck_assert_int_eq(pread(fd, r, len, 4096), (ssize_t)len);
    close(fd);
    ck_assert_mem_eq(r, w, len);
    memset(r, 0, len);
    ck_assert_int_eq(io(f, RSHARE_BLOCK_READ, 4096, r, len), 0);
    ck_assert_mem_eq(r, w, len);

    /* Discard on the memory disk zeroes what it covers. */
    ck_assert_int_eq(io(m, RSHARE_BLOCK_DISCARD, 8 * 512, NULL, 2 * 512), 0);
    fill(w, len, 1);
    memset(w + 512, 0, 1024);
    ck_assert_int_eq(io(m, RSHARE_BLOCK_READ, 7 * 512, r, len), 0);
    ck_assert_mem_eq(r, w, len);

    /* Checked locally before anything is sent. */
    ck_assert_int_eq(io(m, RSHARE_BLOCK_READ, 100, r, 512), RSHARE_EINVAL);
    ck_assert_int_eq(io(m, RSHARE_BLOCK_READ, MEM_BYTES, r, 512), RSHARE_EINVAL);
    rshare_block_close(m);
    rshare_block_close(f);
    free(w);
    free(r);
}
END_TEST

START_TEST(test_remote_large_io)
{
    rshare_block *m;
    ck_assert_int_eq(rshare_block_open_resource(nodes[1], mem_id, &m), 0);
    size_t len = 8u << 20; /* eight times the message limit */
    uint8_t *w = malloc(len), *r = malloc(len);
    fill(w, len, 3);
    struct rshare_node_stats before, after;
    ck_assert_int_eq(rshare_node_stats(nodes[1], &before, sizeof(before)), 0);
    ck_assert_int_eq(io(m, RSHARE_BLOCK_WRITE, 512, w, len), 0);
    ck_assert_int_eq(rshare_node_stats(nodes[1], &after, sizeof(after)), 0);
    ck_assert_uint_ge(after.msgs_sent - before.msgs_sent, 9); /* 8 MiB in pieces below 1 MiB */
    memset(r, 0, len);
    host_read(mem_block, 512, r, len);
    ck_assert_mem_eq(r, w, len);
    memset(r, 0, len);
    ck_assert_int_eq(io(m, RSHARE_BLOCK_READ, 512, r, len), 0);
    ck_assert_mem_eq(r, w, len);
    /* Concurrent I/Os on the same handle each complete once. */
    struct waiter ws[4];
    for (int i = 0; i < 4; i++) {
        waiter_init(&ws[i], RSHARE_BLOCK_READ, (uint64_t)i << 20, r + ((size_t)i << 20), 1u << 20);
        ck_assert_int_eq(rshare_block_submit(m, &ws[i].io), 0);
    }
    ck_assert_int_eq(run(waiter_finished, &ws[3], 30000000u),
                     0);
    run(NULL, NULL, 100000u);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(ws[i].calls, 1);
        ck_assert_int_eq(ws[i].status, 0);
    }
    host_read(mem_block, 0, w, 4u << 20);
    ck_assert_mem_eq(r, w, 4u << 20);
    rshare_block_close(m);
    free(w);
    free(r);
}
END_TEST

/* A write from several buffers (the volume engine's plugs) goes in pieces
 * below the message limit, each piece filled from whichever buffers it
 * spans; the host holds their concatenation.  A read into several buffers
 * (the engine's runs) puts each piece's data where it belongs.  Only the
 * remote backend takes vectors; segments that do not add up are refused. */
START_TEST(test_remote_vectored_io)
{
    rshare_block *m;
    ck_assert_int_eq(rshare_block_open_resource(nodes[1], mem_id, &m), 0);
    static const size_t sizes[] = {512, 700 * 512, 64 << 10, 1u << 20, 3 * 512, 900 << 10, 512};
    enum { NSEG = sizeof(sizes) / sizeof(sizes[0]) };
    struct rs_seg seg[NSEG];
    uint8_t *bufs[NSEG];
    size_t total = 0;
    for (int i = 0; i < NSEG; i++) {
        bufs[i] = malloc(sizes[i]);
        fill(bufs[i], sizes[i], 10 + (unsigned)i);
        seg[i] = (struct rs_seg){.buf = bufs[i], .length = sizes[i]};
        total += sizes[i];
    }
    struct waiter w;
    waiter_init(&w, RSHARE_BLOCK_WRITE, 1024, bufs[0], total);
    struct rshare_node_stats before, after;
    ck_assert_int_eq(rshare_node_stats(nodes[1], &before, sizeof(before)), 0);
    ck_assert_int_eq(rs_block_submit_vec(m, &w.io, seg, NSEG), 0);
    ck_assert_int_eq(run(waiter_finished, &w, 30000000u), 0);
    ck_assert_int_eq(w.status, 0);
    ck_assert_int_eq(rshare_node_stats(nodes[1], &after, sizeof(after)), 0);
    ck_assert_uint_ge(after.msgs_sent - before.msgs_sent, 3); /* 2.9 MiB in pieces */
    uint8_t *r = malloc(total);
    host_read(mem_block, 1024, r, total);
    size_t off = 0;
    for (int i = 0; i < NSEG; i++) {
        ck_assert_mem_eq(r + off, bufs[i], sizes[i]);
        off += sizes[i];
    }
    /* Read back into segments cut elsewhere (pieces span them too). */
    static const size_t cuts[] = {1536, 1u << 20, 512, 1500 * 512, 512 * 1024};
    enum { NCUT = sizeof(cuts) / sizeof(cuts[0]) };
    uint8_t *into = malloc(total);
    memset(into, 0, total);
    struct rs_seg rseg[NCUT + 1];
    size_t at = 0;
    for (int i = 0; i < NCUT; i++) {
        rseg[i] = (struct rs_seg){.buf = into + at, .length = cuts[i]};
        at += cuts[i];
    }
    rseg[NCUT] = (struct rs_seg){.buf = into + at, .length = total - at};
    waiter_init(&w, RSHARE_BLOCK_READ, 1024, into, total);
    ck_assert_int_eq(rs_block_submit_vec(m, &w.io, rseg, NCUT + 1), 0);
    ck_assert_int_eq(run(waiter_finished, &w, 30000000u), 0);
    ck_assert_int_eq(w.status, 0);
    ck_assert_mem_eq(into, r, total);
    free(into);
    /* Refused: segments that do not add up; a backend that is not remote. */
    waiter_init(&w, RSHARE_BLOCK_WRITE, 1024, bufs[0], total - 512);
    ck_assert_int_eq(rs_block_submit_vec(m, &w.io, seg, NSEG), RSHARE_EINVAL);
    waiter_init(&w, RSHARE_BLOCK_WRITE, 1024, bufs[0], total);
    ck_assert_int_eq(rs_block_submit_vec(mem_block, &w.io, seg, NSEG), RSHARE_ENOTSUP);
    ck_assert_int_eq(w.calls, 0);
    rshare_block_close(m);
    for (int i = 0; i < NSEG; i++)
        free(bufs[i]);
    free(r);
}
END_TEST

/* A read's reply data is received straight into the caller's buffers
 * (rs_reply_sink): on a clean link every byte of a multi-packet reply,
 * fragment by fragment;
 * when fragments come out of order, lost or twice, those that arrive
 * before the message's first one wait in the reassembly buffer and follow
 * at the end.  Either way the caller gets exactly the host's bytes. */
START_TEST(test_read_reply_received_in_place)
{
    rshare_block *m;
    ck_assert_int_eq(rshare_block_open_resource(nodes[1], mem_id, &m), 0);
    size_t len = 3u << 20;
    uint8_t *want = malloc(len), *got = malloc(len);
    fill(want, len, 21);
    ck_assert_int_eq(io(m, RSHARE_BLOCK_WRITE, 4096, want, len), 0);
    struct rs_link *link = rs_link(nodes[1]);
    uint64_t placed = link->placed_bytes;
    memset(got, 0, len);
    ck_assert_int_eq(io(m, RSHARE_BLOCK_READ, 4096, got, len), 0);
    ck_assert_mem_eq(got, want, len);
    /* All of it but the last piece's 1.5 KiB: a reply that fits in one
     * packet is handed up as it came. */
    ck_assert_uint_eq(link->placed_bytes - placed, len - 1536);

    /* Host to reader: reordered, duplicated and lost fragments. */
    struct rshare_loop_link bad = clean_link();
    bad.reorder_ppm = 200000;
    bad.reorder_us = 200;
    bad.duplicate_ppm = 20000;
    bad.loss_ppm = 10000;
    ck_assert_int_eq(rshare_loop_net_set_link(net, 1, 2, &bad), 0);
    uint64_t buffered_runs = 0;
    for (int round = 0; round < 4; round++) {
        static const size_t cuts[] = {4096, 1u << 20, 512, 700 * 512};
        struct rs_seg seg[5];
        size_t at = 0;
        for (int i = 0; i < 4; i++) {
            seg[i] = (struct rs_seg){.buf = got + at, .length = cuts[i]};
            at += cuts[i];
        }
        seg[4] = (struct rs_seg){.buf = got + at, .length = len - at};
        memset(got, 0, len);
        placed = link->placed_bytes;
        struct waiter w;
        waiter_init(&w, RSHARE_BLOCK_READ, 4096, got, len);
        ck_assert_int_eq(rs_block_submit_vec(m, &w.io, seg, 5), 0);
        ck_assert_int_eq(run(waiter_finished, &w, 60000000u), 0);
        ck_assert_int_eq(w.status, 0);
        ck_assert_mem_eq(got, want, len);
        uint64_t d = link->placed_bytes - placed;
        ck_assert_uint_gt(d, 0);
        ck_assert_uint_le(d, len);
        buffered_runs += d < len;
    }
    ck_assert_uint_gt(buffered_runs, 0); /* the late-first-fragment path ran */
    struct rshare_loop_link clean = clean_link();
    ck_assert_int_eq(rshare_loop_net_set_link(net, 1, 2, &clean), 0);
    rshare_block_close(m);
    free(want);
    free(got);
}
END_TEST

START_TEST(test_remote_refusals)
{
    rshare_block *b;
    /* Not in the map at all. */
    ck_assert_int_eq(rshare_block_open_resource(nodes[1], (uint64_t)1 << 32 | 99, &b),
                     RSHARE_ENOENT);
    ck_assert_int_eq(rshare_block_open_resource(nodes[1], (uint64_t)9 << 32 | 1, &b),
                     RSHARE_ENOENT);

    /* Read-only: the handle says so and refuses locally. */
    rshare_block *ro;
    ck_assert_int_eq(rshare_block_open_resource(nodes[1], ro_id, &ro), 0);
    struct rshare_block_info info;
    rshare_block_info_init(&info, sizeof(info));
    rshare_block_get_info(ro, &info);
    ck_assert(info.caps & RSHARE_BLOCK_CAP_READONLY);
    uint8_t buf[4096] = {1};
    ck_assert_int_eq(io(ro, RSHARE_BLOCK_WRITE, 0, buf, 512), RSHARE_ENOTSUP);
    ck_assert_int_eq(io(ro, RSHARE_BLOCK_READ, 0, buf, 512), 0);
    rshare_block_close(ro);

    /* A resource withdrawn while a handle is open: the host's ENOENT,
     * once both maps agree on the withdrawal. */
    rshare_block *m;
    ck_assert_int_eq(rshare_block_open_resource(nodes[1], mem_id, &m), 0);
    rshare_block_close(mem_block);
    mem_block = NULL;
    settle(2);
    ck_assert_int_eq(io(m, RSHARE_BLOCK_READ, 0, buf, 512), RSHARE_ENOENT);
    ck_assert_str_ne(rshare_node_errmsg(nodes[1]), "");
    rshare_block_close(m);
}
END_TEST

/* --- raw requests, as another implementation might send them --------------- */

struct raw {
    int calls;
    int status, remote_code;
    uint8_t data[4096];
    size_t len;
};

static void raw_done(rshare_node *node, const struct rshare_reply *reply, void *ud)
{
    (void)node;
    struct raw *r = ud;
    r->calls++;
    r->status = reply->status;
    r->remote_code = reply->remote_code;
    r->len = reply->len < sizeof(r->data) ? reply->len : sizeof(r->data);
    if (r->len)
        memcpy(r->data, reply->data, r->len);
}

static int raw_finished(void *ud)
{
    return ((struct raw *)ud)->calls > 0;
}

/* Send `body` from node 2 to node 1; returns the host's code (0 if it
 * answered with success). */
static int raw_call(const void *body, size_t len, struct raw *r)
{
    memset(r, 0, sizeof(*r));
    ck_assert_int_eq(rs_msg_call(nodes[1], 1, RS_MSG_BLOCK, body, len, raw_done, r), 0);
    ck_assert_int_eq(run(raw_finished, r, 30000000u), 0);
    ck_assert_int_eq(r->calls, 1);
    if (r->status == RSHARE_EREMOTE)
        return r->remote_code;
    return r->status;
}

static int raw_req(uint32_t op, uint64_t resource, uint64_t offset, uint64_t length,
                   const void *data, struct raw *r)
{
    static uint8_t body[8192];
    struct rs_block_req req = {.op = op, .resource = resource, .offset = offset,
                               .length = length, .data = data};
    size_t n = rs_block_req_encode(&req, body, sizeof(body));
    ck_assert_uint_gt(n, 0);
    return raw_call(body, n, r);
}

START_TEST(test_host_checks_raw_requests)
{
    struct raw r;
    uint8_t data[1024];
    fill(data, sizeof(data), 7);
    /* Well-formed ones are served. */
    ck_assert_int_eq(raw_req(RSHARE_BLOCK_WRITE, mem_id, 1024, 1024, data, &r), 0);
    ck_assert_uint_eq(r.len, 0);
    ck_assert_int_eq(raw_req(RSHARE_BLOCK_READ, mem_id, 1024, 1024, NULL, &r), 0);
    const uint8_t *got;
    size_t got_len;
    ck_assert_int_eq(rs_block_reply_decode(r.data, r.len, &got, &got_len), 0);
    ck_assert_uint_eq(got_len, 1024);
    ck_assert_mem_eq(got, data, 1024);
    ck_assert_int_eq(raw_req(RSHARE_BLOCK_FLUSH, file_id, 0, 0, NULL, &r), 0);

    /* Misaligned, past the end, oversized, unknown, not allowed. */
    ck_assert_int_eq(raw_req(RSHARE_BLOCK_READ, mem_id, 100, 512, NULL, &r), RSHARE_EINVAL);
    ck_assert_int_eq(raw_req(RSHARE_BLOCK_READ, mem_id, 0, 100, NULL, &r), RSHARE_EINVAL);
    ck_assert_int_eq(raw_req(RSHARE_BLOCK_WRITE, file_id, 512, 1024, data, &r), RSHARE_EINVAL);
    ck_assert_int_eq(raw_req(RSHARE_BLOCK_READ, mem_id, MEM_BYTES - 512, 1024, NULL, &r),
                     RSHARE_EINVAL);
    ck_assert_int_eq(raw_req(RSHARE_BLOCK_DISCARD, mem_id, UINT64_MAX - 511, 1024, NULL, &r),
                     RSHARE_EINVAL);
    ck_assert_int_eq(raw_req(RSHARE_BLOCK_READ, mem_id, 0, 0, NULL, &r), RSHARE_EINVAL);
    ck_assert_int_eq(raw_req(RSHARE_BLOCK_READ, mem_id, 0, 2u << 20, NULL, &r), RSHARE_EMSGSIZE);
    ck_assert_int_eq(raw_req(RSHARE_BLOCK_READ, mem_id + 50, 0, 512, NULL, &r), RSHARE_ENOENT);
    ck_assert_int_eq(raw_req(RSHARE_BLOCK_READ, (uint64_t)2 << 32 | 1, 0, 512, NULL, &r),
                     RSHARE_ENOENT);
    ck_assert_int_eq(raw_req(RSHARE_BLOCK_WRITE, ro_id, 0, 512, data, &r), RSHARE_ENOTSUP);
    ck_assert_int_eq(raw_req(RSHARE_BLOCK_DISCARD, ro_id, 0, 512, NULL, &r), RSHARE_ENOTSUP);
    ck_assert_int_eq(raw_req(RSHARE_BLOCK_READ, ro_id, 0, 512, NULL, &r), 0);
    /* Nothing was written by the refused writes. */
    uint8_t back[4096];
    host_read(ro_block, 0, back, 512);
    for (int i = 0; i < 512; i++)
        ck_assert_uint_eq(back[i], 0);
    host_read(file_block, 0, back, 4096);
    for (int i = 0; i < 4096; i++)
        ck_assert_uint_eq(back[i], 0);

    /* Malformed bodies. */
    static const uint8_t bad[][8] = {
        {0x84, 0x01, 0x01, 0x00},             /* truncated */
        {0x83, 0x01, 0x01, 0x00},             /* read with three fields */
        {0x82, 0x07, 0x01},                   /* unknown op */
        {0x82, 0x03, 0x01, 0x00},             /* trailing byte */
        {0x84, 0x02, 0x01, 0x00, 0x01},       /* write with an integer for data */
        {0xa1, 0x01, 0x02},                   /* a map */
        {0x84, 0x01, 0x20, 0x00, 0x19, 0x02, 0x00}, /* negative resource */
    };
    static const size_t bad_len[] = {4, 4, 3, 4, 5, 3, 7};
    for (size_t i = 0; i < sizeof(bad_len) / sizeof(bad_len[0]); i++)
        ck_assert_msg(raw_call(bad[i], bad_len[i], &r) == RSHARE_EPROTO, "body %zu", i);
    ck_assert_int_eq(raw_call("", 0, &r), RSHARE_EPROTO);
}
END_TEST

/* A host whose backend takes at most 12 KiB per I/O (as an iSCSI LUN's
 * transfer limit may): the host cuts each request into parts of at most
 * that, and a request past the end is refused before any part runs. */
#define SMALL_MAX_IO 12288u
#define SMALL_BYTES (2u << 20)
struct small_backend {
    uint8_t *data;
    uint64_t largest, ios, writes;
};

static int small_submit(void *backend, struct rshare_block_io *io)
{
    struct small_backend *b = backend;
    b->ios++;
    if (io->length > b->largest)
        b->largest = io->length;
    if (io->op == RSHARE_BLOCK_READ)
        memcpy(io->buf, b->data + io->offset, io->length);
    else if (io->op == RSHARE_BLOCK_WRITE) {
        b->writes++;
        memcpy(b->data + io->offset, io->buf, io->length);
    }
    io->done(io, 0);
    return 0;
}

static void small_close(void *backend)
{
    (void)backend;
}

START_TEST(test_host_splits_to_backend_limit)
{
    static const struct rshare_block_ops ops = {.struct_size = sizeof(ops),
                                                .submit = small_submit,
                                                .close = small_close};
    struct small_backend sb = {.data = calloc(1, SMALL_BYTES)};
    struct rshare_block_info info;
    rshare_block_info_init(&info, sizeof(info));
    info.block_size = 4096;
    info.block_count = SMALL_BYTES / 4096;
    info.max_io_bytes = SMALL_MAX_IO;
    rshare_block *small;
    ck_assert_int_eq(rshare_block_create(nodes[0], &ops, &sb, &info, &small), 0);
    uint64_t small_id = share(small, "small0", RSHARE_RIGHT_READ | RSHARE_RIGHT_WRITE);
    settle(4);
    rshare_block *m;
    ck_assert_int_eq(rshare_block_open_resource(nodes[1], small_id, &m), 0);
    size_t len = 1u << 20;
    uint8_t *w = malloc(len), *r = calloc(1, len);
    fill(w, len, 9);
    ck_assert_int_eq(io(m, RSHARE_BLOCK_WRITE, 8192, w, len), 0);
    ck_assert_mem_eq(sb.data + 8192, w, len);
    ck_assert_uint_le(sb.largest, SMALL_MAX_IO);
    ck_assert_uint_ge(sb.writes, (len + SMALL_MAX_IO - 1) / SMALL_MAX_IO);
    ck_assert_int_eq(io(m, RSHARE_BLOCK_READ, 8192, r, len), 0);
    ck_assert_mem_eq(r, w, len);
    ck_assert_uint_le(sb.largest, SMALL_MAX_IO);
    /* Past the end, sent raw (the client's handle would refuse it
     * itself): the host refuses it whole, nothing is written. */
    uint64_t writes = sb.writes;
    struct rs_block_req req = {.op = RSHARE_BLOCK_WRITE, .resource = small_id,
                               .offset = SMALL_BYTES - 65536, .length = 131072, .data = w};
    size_t cap = 131072 + RS_BLOCK_REQ_OVERHEAD;
    uint8_t *body = malloc(cap);
    size_t n = rs_block_req_encode(&req, body, cap);
    ck_assert_uint_gt(n, 0);
    struct raw raw;
    ck_assert_int_eq(raw_call(body, n, &raw), RSHARE_EINVAL);
    ck_assert_uint_eq(sb.writes, writes);
    free(body);
    rshare_block_close(m);
    free(w);
    free(r);
    free(sb.data);
}
END_TEST

START_TEST(test_host_destroyed)
{
    rshare_block *m;
    ck_assert_int_eq(rshare_block_open_resource(nodes[1], mem_id, &m), 0);
    size_t len = 2u << 20;
    uint8_t *buf = malloc(len);
    fill(buf, len, 5);
    struct waiter w;
    waiter_init(&w, RSHARE_BLOCK_READ, 0, buf, len);
    ck_assert_int_eq(rshare_block_submit(m, &w.io), 0);
    /* The requests have left; the host disappears before it answers. */
    rshare_node_destroy(nodes[0]);
    nodes[0] = NULL;
    mem_block = file_block = ro_block = NULL;
    ck_assert_int_eq(run(waiter_finished, &w,
                                         60000000u), 0);
    ck_assert_int_eq(w.calls, 1);
    ck_assert_int_lt(w.status, 0);
    ck_assert_int_ne(w.status, RSHARE_ECANCELED);
    /* A new I/O fails too, and closing the handle is clean. */
    ck_assert_int_lt(io(m, RSHARE_BLOCK_READ, 0, buf, 512), 0);
    rshare_block_close(m);
    free(buf);
}
END_TEST

/* Node 3 opens the memory disk and prepares a 3 MiB read into a buffer
 * marked 0x5A (not submitted yet). */
#define MARKED_LEN (3u << 20)
static uint8_t *marked_read(rshare_block **m, struct waiter *w)
{
    ck_assert_int_eq(rshare_block_open_resource(nodes[2], mem_id, m), 0);
    uint8_t *buf = malloc(MARKED_LEN);
    ck_assert_ptr_nonnull(buf);
    memset(buf, 0x5A, MARKED_LEN);
    waiter_init(w, RSHARE_BLOCK_READ, 0, buf, MARKED_LEN);
    return buf;
}

START_TEST(test_close_remote_in_flight)
{
    rshare_block *m;
    struct waiter w;
    uint8_t *buf = marked_read(&m, &w);
    ck_assert_int_eq(rshare_block_submit(m, &w.io), 0);
    rshare_block_close(m);
    ck_assert_int_eq(w.calls, 1);
    ck_assert_int_eq(w.status, RSHARE_ECANCELED);
    /* The answers still arrive and land nowhere: the buffer is untouched. */
    run(NULL, NULL, 2000000u);
    for (size_t i = 0; i < MARKED_LEN; i += 4096)
        ck_assert_uint_eq(buf[i], 0x5A);
    ck_assert_int_eq(w.calls, 1);
    free(buf);
}
END_TEST

/* A handle closed while a reply's data is already going into the reader's
 * buffer: the rest of that reply is not written there, and its request
 * ends as soon as the reply is complete, not sent again (the host would
 * answer the copy from its reply cache). */
static uint64_t placed_before;
static int placed_some(void *ud)
{
    (void)ud;
    return rs_link(nodes[2])->placed_bytes > placed_before;
}

START_TEST(test_close_while_placing)
{
    rshare_block *m;
    struct waiter w;
    uint8_t *buf = marked_read(&m, &w);
    /* Host to reader at 20 MB/s: the reply arrives a packet at a time. */
    struct rshare_loop_link slow = clean_link();
    slow.bandwidth_bps = 20u << 20;
    ck_assert_int_eq(rshare_loop_net_set_link(net, 1, 3, &slow), 0);
    placed_before = rs_link(nodes[2])->placed_bytes;
    ck_assert_int_eq(rshare_block_submit(m, &w.io), 0);
    ck_assert_int_eq(run(placed_some, NULL, 10000000u), 0);
    ck_assert_int_eq(w.calls, 0);
    uint64_t placed_at_close = rs_link(nodes[2])->placed_bytes;
    struct rshare_node_stats host0, host1;
    ck_assert_int_eq(rshare_node_stats(nodes[0], &host0, sizeof(host0)), 0);
    rshare_block_close(m);
    ck_assert_int_eq(w.calls, 1);
    ck_assert_int_eq(w.status, RSHARE_ECANCELED);
    /* Well within the request timeout every request is over (3 MiB take
     * 150 ms at 20 MB/s). */
    run(NULL, NULL, 1000000u);
    ck_assert_uint_eq(rs_msg(nodes[2])->pending_count, 0);
    ck_assert_int_eq(rshare_node_stats(nodes[0], &host1, sizeof(host1)), 0);
    ck_assert_uint_eq(host1.duplicates_replayed, host0.duplicates_replayed);
    ck_assert_uint_eq(rs_link(nodes[2])->placed_bytes, placed_at_close);
    ck_assert_int_eq(w.calls, 1);
    struct rshare_loop_link clean = clean_link();
    ck_assert_int_eq(rshare_loop_net_set_link(net, 1, 3, &clean), 0);
    free(buf);
}
END_TEST

START_TEST(test_local_shortcut)
{
    rshare_block *local, *remote;
    ck_assert_int_eq(rshare_block_open_resource(nodes[0], mem_id, &local), 0);
    ck_assert_int_eq(rshare_block_open_resource(nodes[2], mem_id, &remote), 0);
    uint8_t w[8192], r[8192];
    fill(w, sizeof(w), 9);
    /* Cut off from the others, the host still reaches its own disk: the
     * shortcut sends no message. */
    ck_assert_int_eq(rshare_loop_net_partition(net, 1, 2, 1), 0);
    ck_assert_int_eq(rshare_loop_net_partition(net, 1, 3, 1), 0);
    ck_assert_int_eq(io(local, RSHARE_BLOCK_WRITE, 4096, w, sizeof(w)), 0);
    ck_assert_int_eq(io(local, RSHARE_BLOCK_READ, 4096, r, sizeof(r)), 0);
    ck_assert_mem_eq(r, w, sizeof(r));
    ck_assert_int_eq(rshare_loop_net_partition(net, 1, 2, 0), 0);
    ck_assert_int_eq(rshare_loop_net_partition(net, 1, 3, 0), 0);
    memset(r, 0, sizeof(r));
    ck_assert_int_eq(io(remote, RSHARE_BLOCK_READ, 4096, r, sizeof(r)), 0);
    ck_assert_mem_eq(r, w, sizeof(r));
    /* Closing the shortcut leaves the registered block serving. */
    rshare_block_close(local);
    memset(r, 0, sizeof(r));
    ck_assert_int_eq(io(remote, RSHARE_BLOCK_READ, 4096, r, sizeof(r)), 0);
    ck_assert_mem_eq(r, w, sizeof(r));
    host_read(mem_block, 4096, r, sizeof(r));
    ck_assert_mem_eq(r, w, sizeof(r));
    rshare_block_close(remote);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("block_remote");
    TCase *tc = tcase_create("block_remote");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_remote_read_write_flush);
    tcase_add_test(tc, test_remote_large_io);
    tcase_add_test(tc, test_remote_vectored_io);
    tcase_add_test(tc, test_read_reply_received_in_place);
    tcase_add_test(tc, test_remote_refusals);
    tcase_add_test(tc, test_host_splits_to_backend_limit);
    tcase_add_test(tc, test_host_checks_raw_requests);
    tcase_add_test(tc, test_host_destroyed);
    tcase_add_test(tc, test_close_remote_in_flight);
    tcase_add_test(tc, test_close_while_placing);
    tcase_add_test(tc, test_local_shortcut);
    suite_add_tcase(s, tc);
    return rs_test_run(s);
}
