/* Unit tests: descriptors encode and decode exactly, and bad ones are
 * refused; map commands apply deterministically, and a command that breaks
 * a rule (another host's descriptor, duplicates, too many, a host that is
 * not a member, garbage) changes nothing; snapshots round-trip. */
#include "config.h"

#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "cluster/descriptor.h"
#include "cluster/map.h"
#include "rshare/rshare.h"

static rshare_node *node;

static void setup(void)
{
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = 1;
    cfg.log = (struct rshare_log){rs_test_quiet_log, NULL, RSHARE_LOG_ERROR};
    ck_assert_int_eq(rshare_node_create(&cfg, &node), 0);
}

static void teardown(void)
{
    rshare_node_destroy(node);
}

static struct rshare_resource_desc disk(uint32_t host, uint32_t n)
{
    struct rshare_resource_desc d;
    rshare_resource_desc_init(&d, sizeof(d));
    d.kind = RSHARE_RESOURCE_BLOCK;
    d.host = host;
    d.id = (uint64_t)host << 32 | n;
    d.block_size = 4096;
    d.block_count = 1000 + n;
    d.flags = RSHARE_RESOURCE_FLAG_ROTATIONAL;
    snprintf(d.path, sizeof(d.path), "PciRoot(0x0)/Pci(0x%x,0x0)", n);
    snprintf(d.model, sizeof(d.model), "model %u", n);
    snprintf(d.serial, sizeof(d.serial), "S%u", n);
    return d;
}

START_TEST(test_descriptor_round_trip)
{
    struct rshare_resource_desc in[3] = {disk(7, 1), disk(7, 2), disk(7, 3)};
    in[1].kind = RSHARE_RESOURCE_DISPLAY;
    in[1].width = 1024;
    in[1].height = 768;
    in[1].pixel_format = 0x34325258;
    in[1].block_size = 0;
    in[1].block_count = 0;
    in[2].kind = RSHARE_RESOURCE_KEYBOARD;
    in[2].block_size = 0;
    in[2].block_count = 0;
    for (int i = 0; i < 3; i++) {
        uint8_t buf[RS_DESC_MAX_ENCODED];
        struct rs_cbor_writer w;
        rs_cbor_writer_init(&w, buf, sizeof(buf));
        rs_desc_encode(&w, &in[i]);
        ck_assert(!w.overflow);
        struct rs_cbor_reader r;
        rs_cbor_reader_init(&r, buf, w.len);
        struct rshare_resource_desc out;
        ck_assert_int_eq(rs_desc_decode(&r, &out), 0);
        ck_assert(rs_cbor_at_end(&r));
        ck_assert_mem_eq(&out, &in[i], sizeof(out));
    }
}
END_TEST

static int decode_bytes(const uint8_t *buf, size_t len)
{
    struct rs_cbor_reader r;
    rs_cbor_reader_init(&r, buf, len);
    struct rshare_resource_desc out;
    return rs_desc_decode(&r, &out);
}

START_TEST(test_descriptor_rejects)
{
    struct rshare_resource_desc bad[6];
    for (int i = 0; i < 6; i++)
        bad[i] = disk(7, 1);
    bad[0].kind = 9;           /* unknown kind */
    bad[1].block_size = 1000;  /* not a power of two */
    bad[2].block_count = 0;    /* empty disk */
    bad[3].path[0] = '\0';     /* no path */
    bad[4].rights = 0;         /* offers nothing */
    bad[5].rights = 0x10;      /* unknown right */
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(rs_desc_check(&bad[i]), RSHARE_EINVAL);
        uint8_t buf[RS_DESC_MAX_ENCODED];
        struct rs_cbor_writer w;
        rs_cbor_writer_init(&w, buf, sizeof(buf));
        rs_desc_encode(&w, &bad[i]);
        ck_assert_int_eq(decode_bytes(buf, w.len), RSHARE_EPROTO);
    }
    /* Wrong version, truncated, a path too long, unknown fields skipped. */
    static const uint8_t wrong_version[] = {0xA1, 0x00, 0x02};
    ck_assert_int_eq(decode_bytes(wrong_version, sizeof(wrong_version)), RSHARE_EPROTO);
    uint8_t buf[RS_DESC_MAX_ENCODED + 400];
    struct rs_cbor_writer w;
    struct rshare_resource_desc good = disk(7, 1);
    rs_cbor_writer_init(&w, buf, sizeof(buf));
    rs_desc_encode(&w, &good);
    for (size_t cut = 0; cut < w.len; cut++)
        ck_assert_int_eq(decode_bytes(buf, cut), RSHARE_EPROTO);
    /* A map with one more field (key 99 with a nested array) still decodes. */
    size_t len = w.len;
    buf[0] = (uint8_t)(buf[0] + 1); /* map of n + 1 pairs */
    const uint8_t extra[] = {0x18, 99, 0x82, 0x01, 0x61, 'x'};
    memcpy(buf + len, extra, sizeof(extra));
    ck_assert_int_eq(decode_bytes(buf, len + sizeof(extra)), 0);
    /* A path of 300 bytes. */
    char long_path[301];
    memset(long_path, 'p', 300);
    long_path[300] = '\0';
    rs_cbor_writer_init(&w, buf, sizeof(buf));
    rs_cbor_put_map(&w, 1);
    rs_cbor_put_uint(&w, 6);
    rs_cbor_put_text(&w, long_path, 300);
    ck_assert_int_eq(decode_bytes(buf, w.len), RSHARE_EPROTO);
}
END_TEST

static int apply(struct rs_map *map, const struct rs_cbor_writer *w)
{
    uint32_t subject;
    return rs_map_apply(node, map, w->buf, w->len, &subject);
}

START_TEST(test_commands)
{
    struct rs_map map;
    rs_map_init(&map);
    uint8_t buf[8192];
    struct rs_cbor_writer w;
    struct rs_map_member m = {5, 2, 3, RS_MAP_MEMBER_ELIGIBLE};

    /* Resources of a host that is not a member: refused. */
    struct rshare_resource_desc d[3] = {disk(5, 1), disk(5, 2), disk(5, 3)};
    rs_cbor_writer_init(&w, buf, sizeof(buf));
    rs_map_cmd_resources_set(&w, 5, d, 3);
    ck_assert_int_eq(apply(&map, &w), RSHARE_EINVAL);
    ck_assert_uint_eq(map.resource_count, 0);

    rs_cbor_writer_init(&w, buf, sizeof(buf));
    rs_map_cmd_member_set(&w, &m);
    ck_assert_int_eq(apply(&map, &w), 0);
    ck_assert_ptr_nonnull(rs_map_member(&map, 5));
    rs_cbor_writer_init(&w, buf, sizeof(buf));
    rs_map_cmd_resources_set(&w, 5, d, 3);
    ck_assert_int_eq(apply(&map, &w), 0);
    ck_assert_uint_eq(map.resource_count, 3);

    /* A descriptor claiming another host; duplicates; unsorted: refused,
     * and the map keeps what it had. */
    struct rshare_resource_desc claim[2] = {disk(5, 4), disk(6, 1)};
    rs_cbor_writer_init(&w, buf, sizeof(buf));
    rs_map_cmd_resources_set(&w, 5, claim, 2);
    ck_assert_int_eq(apply(&map, &w), RSHARE_EINVAL);
    struct rshare_resource_desc dup[2] = {disk(5, 4), disk(5, 4)};
    rs_cbor_writer_init(&w, buf, sizeof(buf));
    rs_map_cmd_resources_set(&w, 5, dup, 2);
    ck_assert_int_eq(apply(&map, &w), RSHARE_EINVAL);
    struct rshare_resource_desc wrong_id[1] = {disk(5, 4)};
    wrong_id[0].id = (uint64_t)9 << 32 | 4;
    rs_cbor_writer_init(&w, buf, sizeof(buf));
    rs_map_cmd_resources_set(&w, 5, wrong_id, 1);
    ck_assert_int_eq(apply(&map, &w), RSHARE_EINVAL);
    ck_assert_uint_eq(map.resource_count, 3);
    ck_assert_uint_eq(map.resources[1].block_count, 1002);

    /* Too many for one host. */
    static struct rshare_resource_desc many[RSHARE_RESOURCES_PER_NODE + 1];
    for (uint32_t i = 0; i <= RSHARE_RESOURCES_PER_NODE; i++)
        many[i] = disk(5, i + 1);
    static uint8_t big[(RSHARE_RESOURCES_PER_NODE + 1) * RS_DESC_MAX_ENCODED];
    rs_cbor_writer_init(&w, big, sizeof(big));
    rs_map_cmd_resources_set(&w, 5, many, RSHARE_RESOURCES_PER_NODE + 1);
    ck_assert_int_eq(apply(&map, &w), RSHARE_EINVAL);
    ck_assert_uint_eq(map.resource_count, 3);

    /* Garbage and unknown operations. */
    static const uint8_t junk[][4] = {{0x82, 0x09, 0x01}, {0x01}, {0x83, 0x02, 0x05, 0x05}};
    for (size_t i = 0; i < 3; i++) {
        uint32_t subject;
        ck_assert_int_lt(rs_map_apply(node, &map, junk[i], sizeof(junk[i]), &subject), 0);
    }
    ck_assert_uint_eq(map.resource_count, 3);

    /* Another host's resources stay grouped and sorted by host. */
    struct rs_map_member m2 = {2, 0, 0, 0};
    rs_cbor_writer_init(&w, buf, sizeof(buf));
    rs_map_cmd_member_set(&w, &m2);
    ck_assert_int_eq(apply(&map, &w), 0);
    struct rshare_resource_desc d2[1] = {disk(2, 1)};
    rs_cbor_writer_init(&w, buf, sizeof(buf));
    rs_map_cmd_resources_set(&w, 2, d2, 1);
    ck_assert_int_eq(apply(&map, &w), 0);
    ck_assert_uint_eq(map.resource_count, 4);
    ck_assert_uint_eq(map.resources[0].host, 2);
    size_t first;
    ck_assert_uint_eq(rs_map_host_resources(&map, 5, &first), 3);
    ck_assert_uint_eq(first, 1);

    /* Snapshot and restore give the same map, with its version and epoch
     * (not the index of the entry the snapshot was taken at). */
    uint8_t *snap;
    size_t snap_len;
    map.version = 41;
    map.epoch = 3;
    ck_assert_int_eq(rs_map_snapshot(node, &map, malloc, &snap, &snap_len), 0);
    struct rs_map copy;
    rs_map_init(&copy);
    ck_assert_int_eq(rs_map_restore(node, &copy, snap, snap_len), 0);
    ck_assert_uint_eq(copy.version, 41);
    ck_assert_uint_eq(copy.epoch, 3);
    ck_assert_uint_eq(copy.member_count, map.member_count);
    ck_assert_uint_eq(copy.resource_count, map.resource_count);
    ck_assert_mem_eq(copy.members, map.members, map.member_count * sizeof(*map.members));
    ck_assert_mem_eq(copy.resources, map.resources, map.resource_count * sizeof(*map.resources));
    /* A damaged snapshot is refused and leaves the target as it was. */
    for (size_t cut = 0; cut < snap_len; cut += 7)
        ck_assert_int_lt(rs_map_restore(node, &copy, snap, cut), 0);
    ck_assert_uint_eq(copy.resource_count, 4);
    free(snap);

    /* Volumes and routes: applied, snapshotted and restored. */
    struct rshare_volume_desc v;
    rshare_volume_desc_init(&v, sizeof(v));
    snprintf(v.name, sizeof(v.name), "v");
    v.layout = RSHARE_LAYOUT_RAID1;
    v.member_count = 2;
    v.members[0] = d[0].id;
    v.members[1] = d[1].id;
    rs_cbor_writer_init(&w, buf, sizeof(buf));
    rs_map_cmd_volume_set(&w, &v);
    ck_assert_int_eq(apply(&map, &w), 0);
    ck_assert_uint_eq(map.volume_count, 1);
    ck_assert_uint_eq(map.volumes[0].id, 1);
    struct rshare_volume_desc v2 = v;
    snprintf(v2.name, sizeof(v2.name), "w");
    v2.members[0] = d[2].id;
    rs_cbor_writer_init(&w, buf, sizeof(buf));
    rs_map_cmd_volume_set(&w, &v2);
    ck_assert_int_eq(apply(&map, &w), RSHARE_EBUSY); /* d[1] is in volume v */
    v2.members[1] = d2[0].id;
    snprintf(v2.name, sizeof(v2.name), "v");
    rs_cbor_writer_init(&w, buf, sizeof(buf));
    rs_map_cmd_volume_set(&w, &v2);
    ck_assert_int_eq(apply(&map, &w), RSHARE_EEXIST); /* the name is taken */
    ck_assert_uint_eq(map.volume_count, 1);
    struct rshare_resource_desc kbd = disk(5, 9);
    kbd.kind = RSHARE_RESOURCE_KEYBOARD;
    kbd.block_size = 0;
    kbd.block_count = 0;
    struct rshare_resource_desc with_kbd[4] = {d[0], d[1], d[2], kbd};
    rs_cbor_writer_init(&w, buf, sizeof(buf));
    rs_map_cmd_resources_set(&w, 5, with_kbd, 4);
    ck_assert_int_eq(apply(&map, &w), 0);
    rs_cbor_writer_init(&w, buf, sizeof(buf));
    rs_map_cmd_route_set(&w, kbd.id, 2);
    ck_assert_int_eq(apply(&map, &w), 0);
    rs_cbor_writer_init(&w, buf, sizeof(buf));
    rs_map_cmd_route_set(&w, d[0].id, 2);
    ck_assert_int_eq(apply(&map, &w), RSHARE_EINVAL); /* disks are not routed */
    ck_assert_int_eq(rs_map_snapshot(node, &map, malloc, &snap, &snap_len), 0);
    struct rs_map again;
    rs_map_init(&again);
    ck_assert_int_eq(rs_map_restore(node, &again, snap, snap_len), 0);
    ck_assert_uint_eq(again.volume_count, 1);
    ck_assert_mem_eq(again.volumes, map.volumes, sizeof(*map.volumes));
    ck_assert_uint_eq(again.next_volume_id, 1);
    ck_assert_uint_eq(again.route_count, 1);
    ck_assert_uint_eq(again.routes[0].resource, kbd.id);
    ck_assert_uint_eq(again.routes[0].target, 2);
    free(snap);
    rs_map_clear(node, &again);

    /* The keyboard is unplugged: its route stays, and a snapshot of that
     * map still restores (restore accepts whatever apply produced). */
    struct rshare_resource_desc without_kbd[3] = {d[0], d[1], d[2]};
    rs_cbor_writer_init(&w, buf, sizeof(buf));
    rs_map_cmd_resources_set(&w, 5, without_kbd, 3);
    ck_assert_int_eq(apply(&map, &w), 0);
    ck_assert_uint_eq(map.route_count, 1);
    ck_assert_int_eq(rs_map_snapshot(node, &map, malloc, &snap, &snap_len), 0);
    rs_map_init(&again);
    ck_assert_int_eq(rs_map_restore(node, &again, snap, snap_len), 0);
    ck_assert_uint_eq(again.route_count, 1);
    free(snap);
    rs_map_clear(node, &again);

    /* Removing a member removes its resources. */
    rs_cbor_writer_init(&w, buf, sizeof(buf));
    rs_map_cmd_member_remove(&w, 5);
    ck_assert_int_eq(apply(&map, &w), 0);
    ck_assert_uint_eq(map.resource_count, 1);
    ck_assert_ptr_null(rs_map_member(&map, 5));
    ck_assert_ptr_null(rs_map_resource(&map, d[0].id));
    rs_map_clear(node, &map);
    rs_map_clear(node, &copy);
}
END_TEST

/* Revoked identity keys: applied once, bounded, malformed commands
 * refused, carried by snapshots; a snapshot of the older 10-element form
 * restores with none. */
START_TEST(test_identity_revoke)
{
    struct rs_map map;
    rs_map_init(&map);
    uint8_t buf[128], pk[32];
    struct rs_cbor_writer w;
    for (unsigned i = 0; i < RS_MAP_MAX_REVOKED + 1; i++) {
        memset(pk, 0, sizeof(pk));
        pk[0] = (uint8_t)i;
        pk[1] = (uint8_t)(i >> 8);
        rs_cbor_writer_init(&w, buf, sizeof(buf));
        rs_map_cmd_identity_revoke(&w, 7, pk);
        ck_assert_int_eq(apply(&map, &w), i < RS_MAP_MAX_REVOKED ? 0 : RSHARE_EBUSY);
        /* Twice changes nothing. */
        ck_assert_int_eq(apply(&map, &w), i < RS_MAP_MAX_REVOKED ? 0 : RSHARE_EBUSY);
    }
    ck_assert_uint_eq(map.revoked_count, RS_MAP_MAX_REVOKED);
    memset(pk, 0, sizeof(pk));
    pk[0] = 5;
    ck_assert(rs_map_identity_revoked(&map, pk));
    pk[2] = 1;
    ck_assert(!rs_map_identity_revoked(&map, pk));
    /* Malformed: short key, node 0, extra element. */
    rs_cbor_writer_init(&w, buf, sizeof(buf));
    rs_cbor_put_array(&w, 3);
    rs_cbor_put_uint(&w, RS_MAP_IDENTITY_REVOKE);
    rs_cbor_put_uint(&w, 7);
    rs_cbor_put_bytes(&w, pk, 31);
    ck_assert_int_eq(apply(&map, &w), RSHARE_EPROTO);
    rs_cbor_writer_init(&w, buf, sizeof(buf));
    rs_map_cmd_identity_revoke(&w, 0, pk);
    ck_assert_int_eq(apply(&map, &w), RSHARE_EPROTO);
    rs_cbor_writer_init(&w, buf, sizeof(buf));
    rs_cbor_put_array(&w, 4);
    rs_cbor_put_uint(&w, RS_MAP_IDENTITY_REVOKE);
    rs_cbor_put_uint(&w, 7);
    rs_cbor_put_bytes(&w, pk, 32);
    rs_cbor_put_uint(&w, 1);
    ck_assert_int_eq(apply(&map, &w), RSHARE_EPROTO);
    ck_assert_uint_eq(map.revoked_count, RS_MAP_MAX_REVOKED);
    /* Snapshots carry them; the copy refuses the same keys. */
    uint8_t *snap;
    size_t snap_len;
    ck_assert_int_eq(rs_map_snapshot(node, &map, malloc, &snap, &snap_len), 0);
    struct rs_map copy;
    rs_map_init(&copy);
    ck_assert_int_eq(rs_map_restore(node, &copy, snap, snap_len), 0);
    ck_assert_uint_eq(copy.revoked_count, RS_MAP_MAX_REVOKED);
    ck_assert_mem_eq(copy.revoked, map.revoked, map.revoked_count * sizeof(*map.revoked));
    free(snap);
    /* The older form: the same map without revocations, 10 elements. */
    struct rs_map plain;
    rs_map_init(&plain);
    plain.version = 9;
    ck_assert_int_eq(rs_map_snapshot(node, &plain, malloc, &snap, &snap_len), 0);
    ck_assert_uint_eq(snap[0], 0x80 | 11);
    ck_assert_uint_eq(snap[snap_len - 1], 0x80); /* the empty revoked list */
    snap[0] = 0x80 | 10;
    ck_assert_int_eq(rs_map_restore(node, &copy, snap, snap_len - 1), 0);
    ck_assert_uint_eq(copy.revoked_count, 0);
    ck_assert_uint_eq(copy.version, 9);
    free(snap);
    rs_map_clear(node, &copy);
    rs_map_clear(node, &map);
}
END_TEST

START_TEST(test_register_api)
{
    struct rshare_resource_desc d = disk(0, 0);
    uint64_t id;
    ck_assert_int_eq(rshare_resource_register(node, &d, &id), 0);
    ck_assert_uint_eq(id >> 32, 1);
    ck_assert_int_eq(rshare_resource_register(node, &d, &id), RSHARE_EEXIST);
    struct rshare_resource_desc bad = disk(0, 0);
    snprintf(bad.path, sizeof(bad.path), "other");
    bad.block_size = 3;
    ck_assert_int_eq(rshare_resource_register(node, &bad, &id), RSHARE_EINVAL);
    ck_assert_str_ne(rshare_node_errmsg(node), "");
    struct rshare_resource_desc list[4];
    size_t n;
    ck_assert_int_eq(rshare_resource_list(node, 1, list, 4, sizeof(list[0]), &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(list[0].host, 1);
    ck_assert_int_eq(rshare_resource_withdraw(node, id + 100), RSHARE_ENOENT);
    ck_assert_int_eq(rshare_resource_withdraw(node, list[0].id), 0);
    ck_assert_int_eq(rshare_resource_list(node, 1, NULL, 0, sizeof(list[0]), &n), 0);
    ck_assert_uint_eq(n, 0);
    /* An older caller's smaller struct is refused when it lacks the strings. */
    d.struct_size = 16;
    ck_assert_int_eq(rshare_resource_register(node, &d, &id), RSHARE_EVERSION);
}
END_TEST

/* The exclusive lease of a resource: none while only shared leases name
 * it, the one granted, none again once dropped; leases on other
 * resources do not count. */
START_TEST(test_exclusive_lease)
{
    struct rs_map map;
    rs_map_init(&map);
    uint8_t buf[2048];
    struct rs_cbor_writer w;
    struct rs_map_member m = {5, 0, 0, RS_MAP_MEMBER_ELIGIBLE};
    rs_cbor_writer_init(&w, buf, sizeof(buf));
    rs_map_cmd_member_set(&w, &m);
    ck_assert_int_eq(apply(&map, &w), 0);
    struct rshare_resource_desc d[2] = {disk(5, 1), disk(5, 2)};
    d[0].rights = d[1].rights = RSHARE_RIGHT_READ | RSHARE_RIGHT_WRITE;
    rs_cbor_writer_init(&w, buf, sizeof(buf));
    rs_map_cmd_resources_set(&w, 5, d, 2);
    ck_assert_int_eq(apply(&map, &w), 0);
    ck_assert_ptr_null(rs_map_exclusive_lease(&map, d[0].id));

    struct rs_map_lease shared = {.id = 1, .resource = d[0].id, .holder = 5,
                                  .mode = RS_LEASE_SHARED, .ttl_ms = 1000};
    struct rs_map_lease excl = {.id = 2, .resource = d[1].id, .holder = 5,
                                .mode = RS_LEASE_EXCLUSIVE, .ttl_ms = 1000};
    rs_cbor_writer_init(&w, buf, sizeof(buf));
    rs_map_cmd_lease_set(&w, &shared);
    ck_assert_int_eq(apply(&map, &w), 0);
    rs_cbor_writer_init(&w, buf, sizeof(buf));
    rs_map_cmd_lease_set(&w, &excl);
    ck_assert_int_eq(apply(&map, &w), 0);
    ck_assert_ptr_null(rs_map_exclusive_lease(&map, d[0].id));
    const struct rs_map_lease *l = rs_map_exclusive_lease(&map, d[1].id);
    ck_assert_ptr_nonnull(l);
    ck_assert_uint_eq(l->id, 2);
    ck_assert_uint_eq(l->holder, 5);
    ck_assert_uint_eq(l->fence, 1);
    ck_assert_ptr_null(rs_map_exclusive_lease(&map, (uint64_t)5 << 32 | 3));

    rs_cbor_writer_init(&w, buf, sizeof(buf));
    rs_map_cmd_lease_drop(&w, 2, 5, 0);
    ck_assert_int_eq(apply(&map, &w), 0);
    ck_assert_ptr_null(rs_map_exclusive_lease(&map, d[1].id));
    rs_map_clear(node, &map);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("map");
    TCase *tc = tcase_create("map");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_descriptor_round_trip);
    tcase_add_test(tc, test_descriptor_rejects);
    tcase_add_test(tc, test_commands);
    tcase_add_test(tc, test_identity_revoke);
    tcase_add_test(tc, test_register_api);
    tcase_add_test(tc, test_exclusive_lease);
    suite_add_tcase(s, tc);
    return rs_test_run(s);
}
