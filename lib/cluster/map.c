/* rshare cluster — the global map's data and its deterministic commands. */
#include "config.h"

#include <string.h>

#include "core/core.h"
#include "core/sorted.h"
#include "descriptor.h"
#include "map.h"

void rs_map_init(struct rs_map *map)
{
    memset(map, 0, sizeof(*map));
}

void rs_map_clear(rshare_node *node, struct rs_map *map)
{
    rs_free(node, map->members);
    rs_free(node, map->resources);
    uint64_t version = map->version;
    uint32_t epoch = map->epoch;
    rs_map_init(map);
    map->version = version;
    map->epoch = epoch;
}

static size_t member_pos(const struct rs_map *map, uint32_t id, bool *found)
{
    /* Elements start with their id, as rs_sorted_find() needs. */
    return rs_sorted_find(map->members, map->member_count, sizeof(*map->members), id, found);
}

const struct rs_map_member *rs_map_member(const struct rs_map *map, uint32_t id)
{
    bool found;
    size_t pos = member_pos(map, id, &found);
    return found ? &map->members[pos] : NULL;
}

size_t rs_map_host_resources(const struct rs_map *map, uint32_t host, size_t *first)
{
    size_t i = 0;
    while (i < map->resource_count && map->resources[i].host < host)
        i++;
    *first = i;
    size_t n = 0;
    while (i + n < map->resource_count && map->resources[i + n].host == host)
        n++;
    return n;
}

static int member_set(rshare_node *node, struct rs_map *map, const struct rs_map_member *m)
{
    bool found;
    size_t pos = member_pos(map, m->id, &found);
    if (found) {
        map->members[pos] = *m;
        return 0;
    }
    if (map->member_count >= RS_MAP_MAX_MEMBERS)
        return RSHARE_EINVAL;
    struct rs_map_member *grown =
        rs_realloc(node, map->members, (map->member_count + 1) * sizeof(*grown));
    if (!grown)
        return RSHARE_ENOMEM;
    map->members = grown;
    memmove(&grown[pos + 1], &grown[pos], (map->member_count - pos) * sizeof(*grown));
    grown[pos] = *m;
    map->member_count++;
    return 0;
}

/* memcpy() with a count of 0 must still not see a NULL pointer. */
static void copy_descs(struct rshare_resource_desc *dst, const struct rshare_resource_desc *src,
                       size_t n)
{
    if (n)
        memcpy(dst, src, n * sizeof(*dst));
}

/* Replace `host`'s resources by `descs` (already checked). */
static int resources_set(rshare_node *node, struct rs_map *map, uint32_t host,
                         const struct rshare_resource_desc *descs, size_t count)
{
    size_t first, old = rs_map_host_resources(map, host, &first);
    size_t total = map->resource_count - old + count;
    struct rshare_resource_desc *out = rs_malloc(node, (total ? total : 1) * sizeof(*out));
    if (!out)
        return RSHARE_ENOMEM;
    copy_descs(out, map->resources, first);
    copy_descs(out + first, descs, count);
    size_t tail = map->resource_count - first - old;
    if (tail) /* no arithmetic on a NULL array */
        copy_descs(out + first + count, map->resources + first + old, tail);
    rs_free(node, map->resources);
    map->resources = out;
    map->resource_count = total;
    return 0;
}

static int member_remove(rshare_node *node, struct rs_map *map, uint32_t id)
{
    bool found;
    size_t pos = member_pos(map, id, &found);
    if (!found)
        return RSHARE_ENOENT;
    memmove(&map->members[pos], &map->members[pos + 1],
            (map->member_count - pos - 1) * sizeof(*map->members));
    map->member_count--;
    return resources_set(node, map, id, NULL, 0);
}

static int get_u32(struct rs_cbor_reader *r, uint32_t *v)
{
    uint64_t u;
    int rc = rs_cbor_get_uint(r, &u);
    if (rc == 0 && u > UINT32_MAX)
        rc = RSHARE_EPROTO;
    *v = (uint32_t)u;
    return rc;
}

static int read_member(struct rs_cbor_reader *r, struct rs_map_member *m)
{
    uint32_t slot = 0, order = 0;
    int rc = get_u32(r, &m->id);
    if (rc == 0)
        rc = get_u32(r, &slot);
    if (rc == 0)
        rc = get_u32(r, &order);
    if (rc == 0)
        rc = get_u32(r, &m->flags);
    if (rc == 0 && (slot > UINT16_MAX || order > UINT16_MAX || m->id == 0 || m->id == UINT32_MAX))
        rc = RSHARE_EPROTO;
    m->slot = (uint16_t)slot;
    m->install_order = (uint16_t)order;
    return rc;
}

/* Read [descriptor...] for `host` into `descs`: each must be valid, hosted
 * by `host`, numbered in its range and unique. */
static int read_descs(struct rs_cbor_reader *r, uint32_t host, struct rshare_resource_desc *descs,
                      size_t *count)
{
    size_t n;
    int rc = rs_cbor_get_array(r, &n);
    if (rc < 0)
        return rc;
    if (n > RSHARE_RESOURCES_PER_NODE)
        return RSHARE_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if ((rc = rs_desc_decode(r, &descs[i])) < 0)
            return rc;
        if (descs[i].host != host || descs[i].id >> 32 != host)
            return RSHARE_EINVAL; /* claims another node's identity */
        if (i && descs[i].id <= descs[i - 1].id)
            return RSHARE_EINVAL; /* duplicated or unsorted */
    }
    *count = n;
    return 0;
}

int rs_map_apply(rshare_node *node, struct rs_map *map, const uint8_t *cmd, size_t len,
                 uint32_t *subject)
{
    struct rs_cbor_reader r;
    rs_cbor_reader_init(&r, cmd, len);
    size_t n;
    uint64_t op;
    *subject = 0;
    if (rs_cbor_get_array(&r, &n) < 0 || n < 2 || rs_cbor_get_uint(&r, &op) < 0)
        return RSHARE_EPROTO;
    int rc;
    switch (op) {
    case RS_MAP_MEMBER_SET: {
        struct rs_map_member m;
        if (n != 5 || read_member(&r, &m) < 0 || !rs_cbor_at_end(&r))
            return RSHARE_EPROTO;
        *subject = m.id;
        return member_set(node, map, &m);
    }
    case RS_MAP_RESOURCES_SET: {
        uint32_t host;
        if (n != 3 || get_u32(&r, &host) < 0)
            return RSHARE_EPROTO;
        struct rshare_resource_desc *descs =
            rs_malloc(node, RSHARE_RESOURCES_PER_NODE * sizeof(*descs));
        if (!descs)
            return RSHARE_ENOMEM;
        size_t count = 0;
        rc = read_descs(&r, host, descs, &count);
        if (rc == 0 && !rs_cbor_at_end(&r))
            rc = RSHARE_EPROTO;
        if (rc == 0 && !rs_map_member(map, host))
            rc = RSHARE_EINVAL; /* only members host resources */
        if (rc == 0)
            rc = resources_set(node, map, host, descs, count);
        rs_free(node, descs);
        *subject = host;
        return rc;
    }
    case RS_MAP_MEMBER_REMOVE: {
        uint32_t id;
        if (n != 2 || get_u32(&r, &id) < 0 || !rs_cbor_at_end(&r))
            return RSHARE_EPROTO;
        *subject = id;
        return member_remove(node, map, id);
    }
    default:
        return RSHARE_EPROTO;
    }
}

void rs_map_cmd_member_set(struct rs_cbor_writer *w, const struct rs_map_member *m)
{
    rs_cbor_put_array(w, 5);
    rs_cbor_put_uint(w, RS_MAP_MEMBER_SET);
    rs_cbor_put_uint(w, m->id);
    rs_cbor_put_uint(w, m->slot);
    rs_cbor_put_uint(w, m->install_order);
    rs_cbor_put_uint(w, m->flags);
}

void rs_map_cmd_resources_set(struct rs_cbor_writer *w, uint32_t host,
                              const struct rshare_resource_desc *descs, size_t count)
{
    rs_cbor_put_array(w, 3);
    rs_cbor_put_uint(w, RS_MAP_RESOURCES_SET);
    rs_cbor_put_uint(w, host);
    rs_cbor_put_array(w, count);
    for (size_t i = 0; i < count; i++)
        rs_desc_encode(w, &descs[i]);
}

void rs_map_cmd_member_remove(struct rs_cbor_writer *w, uint32_t id)
{
    rs_cbor_put_array(w, 2);
    rs_cbor_put_uint(w, RS_MAP_MEMBER_REMOVE);
    rs_cbor_put_uint(w, id);
}

/* Snapshot: [[member...], [[host, [descriptor...]]...]] with each member
 * as [id, slot, install_order, flags]. */
int rs_map_snapshot(rshare_node *node, const struct rs_map *map, void *(*alloc)(size_t),
                    uint8_t **out, size_t *len)
{
    (void)node;
    size_t cap = 64 + map->member_count * 24 + map->resource_count * RS_DESC_MAX_ENCODED +
                 map->member_count * 16;
    uint8_t *buf = alloc(cap);
    if (!buf)
        return RSHARE_ENOMEM;
    struct rs_cbor_writer w;
    rs_cbor_writer_init(&w, buf, cap);
    rs_cbor_put_array(&w, 2);
    rs_cbor_put_array(&w, map->member_count);
    for (size_t i = 0; i < map->member_count; i++) {
        const struct rs_map_member *m = &map->members[i];
        rs_cbor_put_array(&w, 4);
        rs_cbor_put_uint(&w, m->id);
        rs_cbor_put_uint(&w, m->slot);
        rs_cbor_put_uint(&w, m->install_order);
        rs_cbor_put_uint(&w, m->flags);
    }
    rs_cbor_put_array(&w, map->member_count);
    for (size_t i = 0; i < map->member_count; i++) {
        size_t first, n = rs_map_host_resources(map, map->members[i].id, &first);
        rs_cbor_put_array(&w, 2);
        rs_cbor_put_uint(&w, map->members[i].id);
        rs_cbor_put_array(&w, n);
        for (size_t k = 0; k < n; k++)
            rs_desc_encode(&w, &map->resources[first + k]);
    }
    if (w.overflow)
        return RSHARE_EPROTO; /* the bound above is wrong: a bug, not input */
    *out = buf;
    *len = w.len;
    return 0;
}

int rs_map_restore(rshare_node *node, struct rs_map *map, const uint8_t *buf, size_t len)
{
    struct rs_map fresh;
    rs_map_init(&fresh);
    struct rs_cbor_reader r;
    rs_cbor_reader_init(&r, buf, len);
    size_t outer, members, hosts, n;
    int rc = RSHARE_EPROTO;
    struct rshare_resource_desc *descs = rs_malloc(node, RSHARE_RESOURCES_PER_NODE * sizeof(*descs));
    if (!descs)
        return RSHARE_ENOMEM;
    if (rs_cbor_get_array(&r, &outer) < 0 || outer != 2 || rs_cbor_get_array(&r, &members) < 0 ||
        members > RS_MAP_MAX_MEMBERS)
        goto out;
    for (size_t i = 0; i < members; i++) {
        struct rs_map_member m;
        if (rs_cbor_get_array(&r, &n) < 0 || n != 4 || read_member(&r, &m) < 0 ||
            member_set(node, &fresh, &m) < 0)
            goto out;
    }
    if (rs_cbor_get_array(&r, &hosts) < 0 || hosts != members)
        goto out;
    for (size_t i = 0; i < hosts; i++) {
        uint32_t host;
        size_t count = 0;
        if (rs_cbor_get_array(&r, &n) < 0 || n != 2 || get_u32(&r, &host) < 0 ||
            !rs_map_member(&fresh, host) || read_descs(&r, host, descs, &count) < 0 ||
            resources_set(node, &fresh, host, descs, count) < 0)
            goto out;
    }
    if (!rs_cbor_at_end(&r))
        goto out;
    fresh.version = map->version;
    fresh.epoch = map->epoch;
    rs_map_clear(node, map);
    *map = fresh;
    rs_free(node, descs);
    return 0;
out:
    rs_free(node, descs);
    rs_map_clear(node, &fresh);
    return rc;
}
