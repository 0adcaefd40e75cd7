/* Simulation: global descriptors.  Volumes defined and KVM routes set from
 * any node reach every node's map through the manager; definitions that
 * break a rule (unknown or non-block members, mixed block sizes, a disk in
 * two volumes, too few members, a duplicate name) are refused with a clear
 * error and change nothing. */
#include "config.h"

#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rshare/rshare.h"

#define NODES 4

static rshare_loop_net *net;
static rshare_node *nodes[NODES];
static char dirs[NODES][64];
static uint64_t disk[NODES][2], keyboard, display;

static void node_up(size_t i)
{
    snprintf(dirs[i], sizeof(dirs[i]), "/tmp/rshare-global-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dirs[i]));
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = (uint32_t)(i + 1);
    cfg.slot = (uint16_t)i;
    cfg.state_dir = dirs[i];
    cfg.clock = rshare_loop_net_clock(net);
    cfg.log = (struct rshare_log){rs_test_quiet_log, NULL, RSHARE_LOG_ERROR};
    ck_assert_int_eq(rshare_node_create(&cfg, &nodes[i]), 0);
    ck_assert_int_ge(rshare_node_add_loop(nodes[i], net, (uint32_t)(i + 1)), 0);
    static const uint32_t voters[] = {1, 2, 3};
    struct rshare_cluster_config cc;
    rshare_cluster_config_init(&cc, sizeof(cc));
    cc.manager_eligible = i < 3;
    cc.initial_voters = voters;
    cc.initial_voter_count = 3;
    cc.capabilities = RSHARE_CAP_BLOCK | (i == 0 ? RSHARE_CAP_KVM_INPUT : 0) |
                      RSHARE_CAP_APP_FIRST << i;
    ck_assert_int_eq(rshare_cluster_join(nodes[i], &cc), 0);
}

static uint64_t share(size_t i, uint32_t kind, const char *path, uint32_t block_size)
{
    struct rshare_resource_desc d;
    rshare_resource_desc_init(&d, sizeof(d));
    d.kind = kind;
    snprintf(d.path, sizeof(d.path), "%s", path);
    if (kind == RSHARE_RESOURCE_BLOCK) {
        d.block_size = block_size;
        d.block_count = 1u << 20;
    } else if (kind == RSHARE_RESOURCE_DISPLAY) {
        d.width = 1024;
        d.height = 768;
    }
    uint64_t id;
    ck_assert_int_eq(rshare_resource_register(nodes[i], &d, &id), 0);
    return id;
}

static size_t resources_everywhere(void)
{
    size_t least = SIZE_MAX;
    for (size_t i = 0; i < NODES; i++) {
        size_t n;
        rshare_resource_list(nodes[i], 0, NULL, 0, sizeof(struct rshare_resource_desc), &n);
        if (n < least)
            least = n;
    }
    return least;
}

static int all_resources(void *ud)
{
    (void)ud;
    return resources_everywhere() == 2 * NODES + 2 && rshare_cluster_manager(nodes[3]) != 0;
}

static void setup(void)
{
    ck_assert_int_eq(rshare_loop_net_create(5, &net), 0);
    for (size_t i = 0; i < NODES; i++)
        node_up(i);
    for (size_t i = 0; i < NODES; i++) {
        char path[32];
        snprintf(path, sizeof(path), "disk%zu-a", i);
        disk[i][0] = share(i, RSHARE_RESOURCE_BLOCK, path, 512);
        snprintf(path, sizeof(path), "disk%zu-b", i);
        disk[i][1] = share(i, RSHARE_RESOURCE_BLOCK, path, i == 3 ? 4096 : 512);
    }
    keyboard = share(0, RSHARE_RESOURCE_KEYBOARD, "kbd", 0);
    display = share(1, RSHARE_RESOURCE_DISPLAY, "fb0", 0);
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, all_resources, NULL, 60000000u), 0);
}

static void teardown(void)
{
    for (size_t i = 0; i < NODES; i++) {
        rshare_node_destroy(nodes[i]);
        char cmd[320];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dirs[i]);
        ck_assert_int_eq(system(cmd), 0);
    }
    rshare_loop_net_destroy(net);
}

struct outcome {
    int calls;
    int status;
};

static void changed(rshare_node *node, int status, void *user_data)
{
    (void)node;
    struct outcome *o = user_data;
    o->calls++;
    o->status = status;
}

static int outcome_done(void *user_data)
{
    return ((struct outcome *)user_data)->calls > 0;
}

/* Ask from `from`, wait for the outcome; returns its status (a refusal is
 * RSHARE_EREMOTE from another node, the rule's own code on the manager). */
static int define(size_t from, const struct rshare_volume_desc *v)
{
    struct outcome o = {0};
    int rc = rshare_volume_define(nodes[from], v, changed, &o);
    if (rc < 0)
        return rc;
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, outcome_done, &o, 10000000u), 0);
    ck_assert_int_eq(o.calls, 1);
    return o.status;
}

static struct rshare_volume_desc raid5(const char *name)
{
    struct rshare_volume_desc v;
    rshare_volume_desc_init(&v, sizeof(v));
    snprintf(v.name, sizeof(v.name), "%s", name);
    v.layout = RSHARE_LAYOUT_RAID5;
    v.algorithm = RSHARE_RAID5_LEFT_SYMMETRIC;
    v.chunk_sectors = 128;
    v.member_count = 3;
    v.members[0] = disk[0][0];
    v.members[1] = disk[1][0];
    v.members[2] = disk[2][0];
    v.spare_count = 1;
    v.spares[0] = disk[3][0];
    return v;
}

static int settle(void *ud)
{
    (void)ud;
    return 0;
}

START_TEST(test_volume_definitions)
{
    /* Defined from a node that is not the manager: everyone holds it once
     * the callback has run on the requester. */
    struct rshare_volume_desc v = raid5("vol0");
    ck_assert_int_eq(define(3, &v), 0);
    rshare_loop_net_run(net, nodes, NODES, settle, NULL, 100000u);
    for (size_t i = 0; i < NODES; i++) {
        struct rshare_volume_desc out[4];
        size_t n;
        ck_assert_int_eq(rshare_volume_list(nodes[i], out, 4, sizeof(out[0]), &n), 0);
        ck_assert_uint_eq(n, 1);
        ck_assert_uint_eq(out[0].id, 1);
        ck_assert_uint_eq(out[0].generation, 1);
        ck_assert_str_eq(out[0].name, "vol0");
        ck_assert_uint_eq(out[0].members[2], disk[2][0]);
        ck_assert_uint_eq(out[0].spares[0], disk[3][0]);
    }

    /* Redefined (a different chunk size): same id, next generation. */
    v.id = 1;
    v.chunk_sectors = 256;
    ck_assert_int_eq(define(0, &v), 0);
    struct rshare_volume_desc out;
    size_t n;
    ck_assert_int_eq(rshare_volume_list(nodes[0], &out, 1, sizeof(out), &n), 0);
    ck_assert_uint_eq(out.generation, 2);
    ck_assert_uint_eq(out.chunk_sectors, 256);

    /* Rule breaks: refused with the manager's reason, nothing changes. */
    struct rshare_volume_desc bad = raid5("vol1");
    bad.members[0] = disk[0][1];
    bad.members[1] = disk[1][1];
    bad.members[2] = disk[2][0]; /* already in vol0 */
    bad.spare_count = 0;
    ck_assert_int_lt(define(1, &bad), 0);
    ck_assert_str_ne(rshare_node_errmsg(nodes[1]), "");
    bad.members[2] = disk[3][1]; /* 4096-byte blocks among 512-byte ones */
    ck_assert_int_lt(define(1, &bad), 0);
    bad.members[2] = keyboard; /* not a disk */
    ck_assert_int_lt(define(1, &bad), 0);
    bad.members[2] = (uint64_t)9 << 32 | 1; /* unknown */
    ck_assert_int_lt(define(1, &bad), 0);
    bad.member_count = 2; /* RAID-5 needs three */
    ck_assert_int_lt(define(1, &bad), 0);
    struct rshare_volume_desc dup = raid5("vol0"); /* the name is taken */
    dup.members[0] = disk[0][1];
    dup.members[1] = disk[1][1];
    dup.members[2] = disk[2][1];
    dup.spare_count = 0;
    ck_assert_int_lt(define(2, &dup), 0);
    /* On the manager itself the refusal is local. */
    ck_assert_int_lt(define(0, &dup), 0);
    for (size_t i = 0; i < NODES; i++) {
        ck_assert_int_eq(rshare_volume_list(nodes[i], NULL, 0, sizeof(out), &n), 0);
        ck_assert_uint_eq(n, 1);
    }

    /* A valid second one (RAID-1 of two disks) gets the next id. */
    struct rshare_volume_desc mirror;
    rshare_volume_desc_init(&mirror, sizeof(mirror));
    snprintf(mirror.name, sizeof(mirror.name), "mirror");
    mirror.layout = RSHARE_LAYOUT_RAID1;
    mirror.member_count = 2;
    mirror.members[0] = disk[0][1];
    mirror.members[1] = disk[1][1];
    ck_assert_int_eq(define(2, &mirror), 0);
    ck_assert_int_eq(rshare_volume_list(nodes[2], NULL, 0, sizeof(out), &n), 0);
    ck_assert_uint_eq(n, 2);

    /* Undefine. */
    struct outcome o = {0};
    ck_assert_int_eq(rshare_volume_undefine(nodes[3], 1, changed, &o), 0);
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, outcome_done, &o, 10000000u), 0);
    ck_assert_int_eq(o.status, 0);
    ck_assert_int_eq(rshare_volume_list(nodes[3], &out, 1, sizeof(out), &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(out.name, "mirror");
}
END_TEST

static int route(size_t from, uint64_t resource, uint32_t target)
{
    struct outcome o = {0};
    int rc = rshare_kvm_route_set(nodes[from], resource, target, changed, &o);
    if (rc < 0)
        return rc;
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, NODES, outcome_done, &o, 10000000u), 0);
    return o.status;
}

START_TEST(test_kvm_routes)
{
    ck_assert_int_eq(route(3, keyboard, 3), 0);
    ck_assert_int_eq(route(2, display, 4), 0);
    rshare_loop_net_run(net, nodes, NODES, settle, NULL, 100000u);
    for (size_t i = 0; i < NODES; i++) {
        struct rshare_kvm_route r[4];
        size_t n;
        ck_assert_int_eq(rshare_kvm_route_list(nodes[i], r, 4, sizeof(r[0]), &n), 0);
        ck_assert_uint_eq(n, 2);
        ck_assert_uint_eq(r[0].resource, keyboard);
        ck_assert_uint_eq(r[0].target, 3);
        ck_assert_uint_eq(r[1].resource, display);
        ck_assert_uint_eq(r[1].target, 4);
    }
    /* Focus moves: the route is replaced. */
    ck_assert_int_eq(route(0, keyboard, 2), 0);
    struct rshare_kvm_route r[4];
    size_t n;
    ck_assert_int_eq(rshare_kvm_route_list(nodes[0], r, 4, sizeof(r[0]), &n), 0);
    ck_assert_uint_eq(r[0].target, 2);
    /* A disk cannot be routed; an unknown node is no target. */
    ck_assert_int_lt(route(1, disk[0][0], 2), 0);
    ck_assert_int_lt(route(1, keyboard, 77), 0);
    /* Target 0 removes it. */
    ck_assert_int_eq(route(1, keyboard, 0), 0);
    ck_assert_int_eq(rshare_kvm_route_list(nodes[1], r, 4, sizeof(r[0]), &n), 0);
    ck_assert_uint_eq(n, 1);
    /* Capabilities travel in hellos: every node knows everyone's. */
    for (size_t i = 0; i < NODES; i++) {
        struct rshare_member m[NODES];
        ck_assert_int_eq(rshare_cluster_members(nodes[i], m, NODES, sizeof(m[0]), &n), 0);
        ck_assert_uint_eq(n, NODES);
        for (size_t k = 0; k < NODES; k++)
            ck_assert_uint_eq(m[k].capabilities,
                              RSHARE_CAP_BLOCK | (k == 0 ? RSHARE_CAP_KVM_INPUT : 0) |
                                  RSHARE_CAP_APP_FIRST << k);
    }
    /* Not joined: a clear error at once. */
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = 50;
    cfg.log = (struct rshare_log){rs_test_quiet_log, NULL, RSHARE_LOG_ERROR};
    rshare_node *lonely;
    ck_assert_int_eq(rshare_node_create(&cfg, &lonely), 0);
    ck_assert_int_eq(rshare_kvm_route_set(lonely, keyboard, 1, changed, NULL), RSHARE_EINVAL);
    rshare_node_destroy(lonely);
}
END_TEST

/* A map event callback on the manager that asks for a change is told to
 * ask again from outside (libraft must not be re-entered). */
static int nested_rc = 1;
static void nested_change(rshare_node *node, enum rshare_cluster_event event, uint32_t id,
                          void *user_data)
{
    (void)id;
    (void)user_data;
    if (event == RSHARE_EVENT_MAP && nested_rc == 1)
        nested_rc = rshare_kvm_route_set(node, keyboard, 3, NULL, NULL);
}

START_TEST(test_change_from_map_event)
{
    rshare_node *manager = nodes[rshare_cluster_manager(nodes[0]) - 1];
    rshare_cluster_set_callback(manager, nested_change, NULL);
    ck_assert_int_eq(route(0, keyboard, 2), 0);
    ck_assert_int_eq(nested_rc, RSHARE_EBUSY);
    rshare_cluster_set_callback(manager, NULL, NULL);
}
END_TEST

/* A node destroyed while its change is on the way: the callback says so
 * (under the sanitizers, nothing is touched after it is freed). */
START_TEST(test_destroy_with_change_in_flight)
{
    struct outcome o = {0};
    ck_assert_int_eq(rshare_kvm_route_set(nodes[3], keyboard, 2, changed, &o), 0);
    rshare_node_destroy(nodes[3]);
    nodes[3] = NULL;
    ck_assert_int_eq(o.calls, 1);
    ck_assert_int_eq(o.status, RSHARE_ESHUTDOWN);
    /* The same on the manager, with a proposal in flight. */
    rshare_node *manager = nodes[rshare_cluster_manager(nodes[0]) - 1];
    o = (struct outcome){0};
    ck_assert_int_eq(rshare_kvm_route_set(manager, keyboard, 1, changed, &o), 0);
    for (size_t i = 0; i < NODES; i++)
        if (nodes[i] == manager)
            nodes[i] = NULL;
    rshare_node_destroy(manager);
    ck_assert_int_eq(o.calls, 1);
    ck_assert_int_eq(o.status, RSHARE_ESHUTDOWN);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("global");
    TCase *tc = tcase_create("global");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_volume_definitions);
    tcase_add_test(tc, test_kvm_routes);
    tcase_add_test(tc, test_destroy_with_change_in_flight);
    tcase_add_test(tc, test_change_from_map_event);
    suite_add_tcase(s, tc);
    return rs_test_run(s);
}
