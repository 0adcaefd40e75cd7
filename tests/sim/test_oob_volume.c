/* Simulation: a cluster and a RAID-1 volume over the out-of-band buses
 * alone.  Three nodes share one simulated SMBus segment (400 kHz, MCTP over
 * DSP0237, with the wire's timing) or one RS-485 pair (115200 baud, MCTP
 * over DSP0253, multi-drop): they find each other, agree on a manager and
 * a map, and node 1 builds a RAID-1 volume from the disks of nodes 2 and 3,
 * writes it, reads it back, and both mirrors hold the data (read on their
 * hosts).  A scrub finds them equal. */
#include "config.h"

#include "testutil.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus_sim.h"
#include "i2c_device.h"
#include "memory_store.h"
#include "rshare/rshare.h"
#include "serial_line.h"

#define NODES 3
#define DISK_BYTES (64u << 10)
#define DATA_BYTES (16u << 10)

struct world {
    struct bus_sim *sim;
    struct memory_store stores[NODES];
    rshare_node *nodes[NODES];
    int index[NODES];
    rshare_block *disks[NODES];
    uint64_t res[NODES];
};

static const uint8_t cluster_key[RSHARE_CLUSTER_KEY_BYTES] = "oob volume simulation cluster k";

static rshare_node *make_node(struct world *w, uint32_t id, bool keyed)
{
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = id;
    cfg.slot = (uint16_t)(id - 1);
    cfg.clock = bus_sim_clock(w->sim);
    cfg.persist = memory_store_hook(&w->stores[id - 1]); /* voters keep their votes */
    cfg.request_retry_ms = 2000;
    cfg.request_timeout_ms = 120000; /* a slow bus, not a dead node */
    cfg.link_window = 8;
    cfg.cluster_key = keyed ? cluster_key : NULL;
    cfg.log = (struct rshare_log){rs_test_quiet_log, NULL, RSHARE_LOG_ERROR};
    rshare_node *node = NULL;
    ck_assert_int_eq(rshare_node_create(&cfg, &node), 0);
    return node;
}

static void join_and_share(struct world *w)
{
    static const uint32_t voters[] = {1, 2, 3};
    for (int i = 0; i < NODES; i++) {
        struct rshare_cluster_config cc;
        rshare_cluster_config_init(&cc, sizeof(cc));
        cc.manager_eligible = 1;
        cc.initial_voters = voters;
        cc.initial_voter_count = 3;
        cc.hello_interval_ms = 2000;
        cc.member_timeout_ms = 20000;
        cc.election_timeout_ms = 6000;
        cc.heartbeat_ms = 1000;
        cc.capabilities = RSHARE_CAP_BLOCK;
        ck_assert_int_eq(rshare_cluster_join(w->nodes[i], &cc), 0);
        ck_assert_int_eq(rshare_block_open_memory(w->nodes[i], DISK_BYTES, 512, &w->disks[i]),
                         0);
        struct rshare_resource_desc d;
        rshare_resource_desc_init(&d, sizeof(d));
        d.kind = RSHARE_RESOURCE_BLOCK;
        snprintf(d.path, sizeof(d.path), "bmc%d-disk", i + 1);
        ck_assert_int_eq(rshare_resource_register_block(w->nodes[i], &d, w->disks[i], &w->res[i]),
                         0);
    }
}

static int all_resources(void *ud)
{
    struct world *w = ud;
    for (int i = 0; i < NODES; i++) {
        size_t n = 0;
        rshare_resource_list(w->nodes[i], 0, NULL, 0, sizeof(struct rshare_resource_desc), &n);
        if (n != NODES || rshare_cluster_manager(w->nodes[i]) == 0)
            return 0;
    }
    return 1;
}

struct wait {
    int calls, status;
    uint64_t count;
};

static void changed(rshare_node *node, int status, void *ud)
{
    (void)node;
    struct wait *x = ud;
    x->calls++;
    x->status = status;
}

static void io_done(rshare_volume *vol, int status, void *ud)
{
    (void)vol;
    changed(NULL, status, ud);
}

static void scrubbed(rshare_volume *vol, int status, uint64_t mismatches, void *ud)
{
    (void)vol;
    struct wait *x = ud;
    x->count = mismatches;
    changed(NULL, status, ud);
}

static int waited(void *ud)
{
    return ((struct wait *)ud)->calls > 0;
}

static void run_volume(struct world *w)
{
    join_and_share(w);
    ck_assert_int_eq(bus_sim_run(w->sim, w->nodes, NODES, all_resources, w, 600000000u), 0);

    struct rshare_volume_desc v;
    rshare_volume_desc_init(&v, sizeof(v));
    snprintf(v.name, sizeof(v.name), "oob");
    v.layout = RSHARE_LAYOUT_RAID1;
    v.member_count = 2;
    v.members[0] = w->res[1];
    v.members[1] = w->res[2];
    struct wait x = {0};
    ck_assert_int_eq(rshare_volume_define(w->nodes[0], &v, changed, &x), 0);
    ck_assert_int_eq(bus_sim_run(w->sim, w->nodes, NODES, waited, &x, 600000000u), 0);
    ck_assert_int_eq(x.status, 0);

    rshare_volume *vol;
    ck_assert_int_eq(rshare_volume_open(w->nodes[0], "oob", NULL, &vol), 0);
    static uint8_t data[DATA_BYTES], back[DATA_BYTES];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 131 + 7);
    memset(&x, 0, sizeof(x));
    ck_assert_int_eq(rshare_volume_write(vol, 8192, data, sizeof(data), io_done, &x), 0);
    ck_assert_int_eq(bus_sim_run(w->sim, w->nodes, NODES, waited, &x, 600000000u), 0);
    ck_assert_int_eq(x.status, 0);
    memset(&x, 0, sizeof(x));
    ck_assert_int_eq(rshare_volume_read(vol, 8192, back, sizeof(back), io_done, &x), 0);
    ck_assert_int_eq(bus_sim_run(w->sim, w->nodes, NODES, waited, &x, 600000000u), 0);
    ck_assert_int_eq(x.status, 0);
    ck_assert(memcmp(back, data, sizeof(data)) == 0);
    /* Each mirror holds it, read on its own host. */
    for (int i = 1; i < NODES; i++) {
        memset(back, 0, sizeof(back));
        ck_assert_int_eq(rshare_block_read_sync(w->disks[i], 8192, back, sizeof(back)), 0);
        ck_assert_msg(memcmp(back, data, sizeof(data)) == 0, "mirror on node %d differs", i + 1);
    }
    memset(&x, 0, sizeof(x));
    ck_assert_int_eq(rshare_volume_scrub(vol, 0, scrubbed, &x), 0);
    ck_assert_int_eq(bus_sim_run(w->sim, w->nodes, NODES, waited, &x, 600000000u), 0);
    ck_assert_int_eq(x.status, 0);
    ck_assert_uint_eq(x.count, 0);
    rshare_volume_close(vol);
    for (int i = 0; i < NODES; i++) {
        rshare_node_destroy(w->nodes[i]);
        memory_store_free(&w->stores[i]);
    }
}

static void smbus_volume(const struct bus_sim_noise *noise)
{
    static struct world w;
    memset(&w, 0, sizeof(w));
    w.sim = bus_sim_create(noise ? 33 : 31);
    struct sim_smbus *bus = sim_smbus_create(w.sim, 400000);
    if (noise)
        sim_smbus_set_noise(bus, noise);
    for (int i = 0; i < NODES; i++) {
        w.nodes[i] = make_node(&w, (uint32_t)i + 1, noise != NULL);
        struct rshare_mctp_config mc;
        rshare_mctp_config_init(&mc, sizeof(mc));
        mc.eid = (uint8_t)(8 + i);
        struct rshare_smbus_config sc;
        rshare_smbus_config_init(&sc, sizeof(sc));
        sc.address = (uint8_t)(0x20 + i);
        sc.bus_hz = 400000;
        sc.mctp = &mc;
        void *dev = sim_smbus_device(bus, sc.address, 0, 0);
        w.index[i] = rs_smbus_attach(w.nodes[i], &sc, &sim_i2c_ops, dev);
        ck_assert_int_ge(w.index[i], 0);
    }
    /* Peers by MCTP endpoint and SMBus address. */
    for (int i = 0; i < NODES; i++)
        for (int k = 0; k < NODES; k++) {
            if (k == i)
                continue;
            char addr[16];
            snprintf(addr, sizeof(addr), "%d@0x%02x", 8 + k, 0x20 + k);
            ck_assert_int_eq(rshare_node_add_peer(w.nodes[i], (uint32_t)k + 1, w.index[i], addr),
                             0);
        }
    run_volume(&w);
    if (noise) {
        /* Damaged frames were on the wire and were refused, not written. */
        struct sim_smbus_stats ss;
        sim_smbus_stats(bus, &ss);
        ck_assert_uint_gt(ss.damaged + ss.garbage, 10);
    }
    bus_sim_destroy(w.sim); /* after its statistics were read */
}

START_TEST(raid1_over_smbus)
{
    smbus_volume(NULL);
}
END_TEST

/* Bits flipped, frames cut short and garbage on the bus, with a cluster
 * key: the PEC drops most damaged frames, authentication the rest; the
 * upper layers retransmit and the mirrors hold exactly the data written. */
START_TEST(raid1_over_noisy_smbus)
{
    struct bus_sim_noise noise = {.flip_ppm = 5000, .truncate_ppm = 2000, .garbage_ppm = 2000};
    smbus_volume(&noise);
}
END_TEST

START_TEST(raid1_over_rs485)
{
    static struct world w;
    memset(&w, 0, sizeof(w));
    w.sim = bus_sim_create(32);
    struct sim_serial *line = sim_serial_create(w.sim, 115200, true);
    sim_serial_set_latency(line, 200);
    for (int i = 0; i < NODES; i++) {
        w.nodes[i] = make_node(&w, (uint32_t)i + 1, false);
        struct rshare_mctp_config mc;
        rshare_mctp_config_init(&mc, sizeof(mc));
        mc.eid = (uint8_t)(8 + i);
        struct rshare_serial_config sc;
        rshare_serial_config_init(&sc, sizeof(sc));
        sc.multidrop = true;
        sc.address = (uint8_t)i;
        sc.nodes = NODES;
        sc.echo = true;
        sc.mctp = &mc;
        void *port = sim_serial_port(line, true, true);
        w.index[i] =
            rs_serial_attach(w.nodes[i], &sc, RSHARE_SERIAL_TURNAROUND_RTS, &sim_line_ops, port);
        ck_assert_int_ge(w.index[i], 0);
    }
    for (int i = 0; i < NODES; i++)
        for (int k = 0; k < NODES; k++) {
            if (k == i)
                continue;
            char addr[16];
            snprintf(addr, sizeof(addr), "%d@%d", 8 + k, k);
            ck_assert_int_eq(rshare_node_add_peer(w.nodes[i], (uint32_t)k + 1, w.index[i], addr),
                             0);
        }
    run_volume(&w);
    bus_sim_destroy(w.sim);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("oob_volume");
    TCase *tc = tcase_create("oob_volume");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, raid1_over_smbus);
    tcase_add_test(tc, raid1_over_noisy_smbus);
    tcase_add_test(tc, raid1_over_rs485);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return rs_test_run(suite());
}
