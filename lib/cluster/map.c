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
    rs_free(node, map->volumes);
    rs_free(node, map->routes);
    rs_free(node, map->grants);
    rs_free(node, map->leases);
    rs_free(node, map->fences);
    rs_free(node, map->revoked);
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

/* Insert `value` at `pos` of an array of `*count` elements of `elem` bytes,
 * growing it by one: the map's members, volumes and routes share it. */
static int array_insert(rshare_node *node, void **array, size_t *count, size_t elem, size_t pos,
                        const void *value)
{
    char *grown = rs_realloc(node, *array, (*count + 1) * elem);
    if (!grown)
        return RSHARE_ENOMEM;
    memmove(grown + (pos + 1) * elem, grown + pos * elem, (*count - pos) * elem);
    memcpy(grown + pos * elem, value, elem);
    *array = grown;
    (*count)++;
    return 0;
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
    return array_insert(node, (void **)&map->members, &map->member_count, sizeof(*m), pos, m);
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

const struct rshare_resource_desc *rs_map_resource(const struct rs_map *map, uint64_t id)
{
    size_t first, n = rs_map_host_resources(map, (uint32_t)(id >> 32), &first);
    for (size_t i = 0; i < n; i++)
        if (map->resources[first + i].id == id)
            return &map->resources[first + i];
    return NULL;
}

const struct rshare_volume_desc *rs_map_volume(const struct rs_map *map, uint32_t id)
{
    for (size_t i = 0; i < map->volume_count; i++)
        if (map->volumes[i].id == id)
            return &map->volumes[i];
    return NULL;
}

bool rs_map_volume_has(const struct rshare_volume_desc *v, uint64_t resource)
{
    for (uint32_t k = 0; k < v->member_count; k++)
        if (v->members[k] == resource)
            return true;
    for (uint32_t k = 0; k < v->spare_count; k++)
        if (v->spares[k] == resource)
            return true;
    return false;
}

bool rs_map_covers(const struct rs_map *map, uint64_t named, uint64_t resource)
{
    if (named == resource)
        return true;
    if (!RS_MAP_IS_VOLUME(named))
        return false;
    const struct rshare_volume_desc *v = rs_map_volume(map, (uint32_t)named);
    return v && rs_map_volume_has(v, resource);
}

/* Is resource `id` a member or spare of a volume other than `except`? */
static bool in_other_volume(const struct rs_map *map, uint64_t id, uint32_t except)
{
    for (size_t i = 0; i < map->volume_count; i++) {
        const struct rshare_volume_desc *v = &map->volumes[i];
        if (v->id != except && rs_map_volume_has(v, id))
            return true;
    }
    return false;
}

static uint32_t min_members(uint32_t layout)
{
    switch (layout) {
    case RSHARE_LAYOUT_LINEAR: return 1;
    case RSHARE_LAYOUT_RAID0:
    case RSHARE_LAYOUT_RAID1:
    case RSHARE_LAYOUT_RAID10: return 2;
    case RSHARE_LAYOUT_RAID5: return 3;
    default: return 0;
    }
}

/* The rules a volume definition must follow in this map. */
static int check_volume(const struct rs_map *map, const struct rshare_volume_desc *v)
{
    size_t name_len = strnlen(v->name, sizeof(v->name));
    if (name_len == 0 || name_len == sizeof(v->name) || v->flags != 0)
        return RSHARE_EINVAL;
    uint32_t need = min_members(v->layout);
    if (!need || v->member_count < need || v->member_count > RSHARE_VOLUME_MEMBERS_MAX ||
        v->spare_count > RSHARE_VOLUME_SPARES_MAX)
        return RSHARE_EINVAL;
    if (v->layout == RSHARE_LAYOUT_RAID5 ? v->algorithm > RSHARE_RAID5_RIGHT_SYMMETRIC
                                         : v->algorithm != 0)
        return RSHARE_EINVAL;
    bool striped = v->layout == RSHARE_LAYOUT_RAID0 || v->layout == RSHARE_LAYOUT_RAID5 ||
                   v->layout == RSHARE_LAYOUT_RAID10;
    if (striped ? (v->chunk_sectors < 8 || v->chunk_sectors > 65536 ||
                   (v->chunk_sectors & (v->chunk_sectors - 1)))
                : v->chunk_sectors != 0)
        return RSHARE_EINVAL;
    for (size_t i = 0; i < map->volume_count; i++)
        if (map->volumes[i].id != v->id && strcmp(map->volumes[i].name, v->name) == 0)
            return RSHARE_EEXIST;
    uint32_t block_size = 0;
    uint32_t total = v->member_count + v->spare_count;
    for (uint32_t i = 0; i < total; i++) {
        uint64_t id = i < v->member_count ? v->members[i] : v->spares[i - v->member_count];
        for (uint32_t k = 0; k < i; k++) {
            uint64_t other = k < v->member_count ? v->members[k] : v->spares[k - v->member_count];
            if (other == id)
                return RSHARE_EINVAL;
        }
        /* A failed member may be gone from the map with its host. */
        if (i < v->member_count && v->member_state[i] == RSHARE_VOLUME_MEMBER_FAILED)
            continue;
        const struct rshare_resource_desc *d = rs_map_resource(map, id);
        if (!d)
            return RSHARE_ENOENT;
        if (d->kind != RSHARE_RESOURCE_BLOCK || (block_size && d->block_size != block_size))
            return RSHARE_EINVAL;
        block_size = d->block_size;
        if (in_other_volume(map, id, v->id))
            return RSHARE_EBUSY;
    }
    return 0;
}

/* [id, generation, name, layout, algorithm, chunk, flags, [member...],
 * [spare...], [member state...], component sectors] after the operation (and as each volume
 * of a snapshot).  In a command the generation is the one the change was
 * made against (0: any). */
#define RS_VOLUME_FIELDS 11

static int read_volume(struct rs_cbor_reader *r, struct rshare_volume_desc *v)
{
    memset(v, 0, sizeof(*v));
    v->struct_size = sizeof(*v);
    uint64_t id, gen, layout, algorithm, chunk, flags;
    const char *name;
    size_t name_len, n;
    if (rs_cbor_get_uint(r, &id) < 0 || id > UINT32_MAX || rs_cbor_get_uint(r, &gen) < 0 ||
        rs_cbor_get_text(r, &name, &name_len) < 0 || name_len >= sizeof(v->name) ||
        memchr(name, 0, name_len) || rs_cbor_get_uint(r, &layout) < 0 || layout > 255 ||
        rs_cbor_get_uint(r, &algorithm) < 0 || algorithm > 255 ||
        rs_cbor_get_uint(r, &chunk) < 0 || chunk > UINT32_MAX ||
        rs_cbor_get_uint(r, &flags) < 0 || flags > UINT32_MAX)
        return RSHARE_EPROTO;
    v->id = (uint32_t)id;
    v->generation = gen;
    memcpy(v->name, name, name_len);
    v->layout = (uint32_t)layout;
    v->algorithm = (uint32_t)algorithm;
    v->chunk_sectors = (uint32_t)chunk;
    v->flags = (uint32_t)flags;
    if (rs_cbor_get_array(r, &n) < 0 || n > RSHARE_VOLUME_MEMBERS_MAX)
        return RSHARE_EPROTO;
    v->member_count = (uint32_t)n;
    for (size_t i = 0; i < n; i++)
        if (rs_cbor_get_uint(r, &v->members[i]) < 0)
            return RSHARE_EPROTO;
    if (rs_cbor_get_array(r, &n) < 0 || n > RSHARE_VOLUME_SPARES_MAX)
        return RSHARE_EPROTO;
    v->spare_count = (uint32_t)n;
    for (size_t i = 0; i < n; i++)
        if (rs_cbor_get_uint(r, &v->spares[i]) < 0)
            return RSHARE_EPROTO;
    if (rs_cbor_get_array(r, &n) < 0 || n != v->member_count)
        return RSHARE_EPROTO;
    for (size_t i = 0; i < n; i++) {
        uint64_t state;
        if (rs_cbor_get_uint(r, &state) < 0 || state > RSHARE_VOLUME_MEMBER_REBUILDING)
            return RSHARE_EPROTO;
        v->member_state[i] = (uint32_t)state;
    }
    if (rs_cbor_get_uint(r, &v->component_sectors) < 0)
        return RSHARE_EPROTO;
    return 0;
}

static void write_volume(struct rs_cbor_writer *w, const struct rshare_volume_desc *v)
{
    rs_cbor_put_uint(w, v->id);
    rs_cbor_put_uint(w, v->generation);
    rs_cbor_put_text(w, v->name, strnlen(v->name, sizeof(v->name) - 1));
    rs_cbor_put_uint(w, v->layout);
    rs_cbor_put_uint(w, v->algorithm);
    rs_cbor_put_uint(w, v->chunk_sectors);
    rs_cbor_put_uint(w, v->flags);
    rs_cbor_put_array(w, v->member_count);
    for (uint32_t i = 0; i < v->member_count; i++)
        rs_cbor_put_uint(w, v->members[i]);
    rs_cbor_put_array(w, v->spare_count);
    for (uint32_t i = 0; i < v->spare_count; i++)
        rs_cbor_put_uint(w, v->spares[i]);
    rs_cbor_put_array(w, v->member_count);
    for (uint32_t i = 0; i < v->member_count; i++)
        rs_cbor_put_uint(w, v->member_state[i]);
    rs_cbor_put_uint(w, v->component_sectors);
}

/* Insert or replace (kept sorted by id). */
static int volume_store(rshare_node *node, struct rs_map *map, const struct rshare_volume_desc *v)
{
    size_t pos = 0;
    while (pos < map->volume_count && map->volumes[pos].id < v->id)
        pos++;
    if (pos < map->volume_count && map->volumes[pos].id == v->id) {
        map->volumes[pos] = *v;
        return 0;
    }
    if (map->volume_count >= RS_MAP_MAX_VOLUMES)
        return RSHARE_EBUSY;
    return array_insert(node, (void **)&map->volumes, &map->volume_count, sizeof(*v), pos, v);
}

static bool redundant(uint32_t layout)
{
    return layout == RSHARE_LAYOUT_RAID1 || layout == RSHARE_LAYOUT_RAID5 ||
           layout == RSHARE_LAYOUT_RAID10;
}

static uint64_t resource_sectors(const struct rshare_resource_desc *d)
{
    return d->block_count * (d->block_size / 512u);
}

/* A new redundant volume's members all contribute the smallest one's size
 * (what md calls the component size); recorded so that the volume's
 * geometry survives the loss of any member's descriptor. */
static uint64_t component_size(const struct rs_map *map, const struct rshare_volume_desc *v)
{
    if (!redundant(v->layout))
        return 0;
    uint64_t size = UINT64_MAX;
    for (uint32_t i = 0; i < v->member_count; i++) {
        const struct rshare_resource_desc *d = rs_map_resource(map, v->members[i]);
        if (d && resource_sectors(d) < size)
            size = resource_sectors(d);
    }
    return size == UINT64_MAX ? 0 : size;
}

/* Every member and spare present must hold a whole component. */
static int check_component_size(const struct rs_map *map, const struct rshare_volume_desc *v)
{
    if (!redundant(v->layout))
        return 0;
    if (v->component_sectors == 0)
        return RSHARE_EINVAL; /* no member of a new volume was present */
    for (uint32_t i = 0; i < v->member_count + v->spare_count; i++) {
        bool member = i < v->member_count;
        if (member && v->member_state[i] == RSHARE_VOLUME_MEMBER_FAILED)
            continue;
        const struct rshare_resource_desc *d =
            rs_map_resource(map, member ? v->members[i] : v->spares[i - v->member_count]);
        if (d && resource_sectors(d) < v->component_sectors)
            return RSHARE_EINVAL;
    }
    return 0;
}

static int volume_set(rshare_node *node, struct rs_map *map, struct rshare_volume_desc *v)
{
    const struct rshare_volume_desc *old = v->id ? rs_map_volume(map, v->id) : NULL;
    if (v->id && !old)
        return RSHARE_ENOENT;
    if (old && v->generation && v->generation != old->generation)
        return RSHARE_ESTALE; /* changed by someone else since the caller looked */
    int rc = check_volume(map, v);
    if (rc < 0)
        return rc;
    v->component_sectors = old ? old->component_sectors : component_size(map, v);
    rc = check_component_size(map, v);
    if (rc < 0)
        return rc;
    if (!v->id) {
        if (map->next_volume_id == UINT32_MAX)
            return RSHARE_EBUSY;
        v->id = ++map->next_volume_id;
        v->generation = 1;
    } else {
        v->generation = old->generation + 1;
    }
    return volume_store(node, map, v);
}

static int volume_remove(struct rs_map *map, uint32_t id)
{
    for (size_t i = 0; i < map->volume_count; i++) {
        if (map->volumes[i].id != id)
            continue;
        memmove(&map->volumes[i], &map->volumes[i + 1],
                (map->volume_count - i - 1) * sizeof(*map->volumes));
        map->volume_count--;
        return 0;
    }
    return RSHARE_ENOENT;
}

/* Append a route (restore: the snapshot lists them sorted). */
static int route_store(rshare_node *node, struct rs_map *map, uint64_t resource, uint32_t target)
{
    if (map->route_count >= RS_MAP_MAX_ROUTES)
        return RSHARE_EBUSY;
    struct rshare_kvm_route route = {sizeof(route), target, resource};
    return array_insert(node, (void **)&map->routes, &map->route_count, sizeof(route),
                        map->route_count, &route);
}

static int route_set(rshare_node *node, struct rs_map *map, uint64_t resource, uint32_t target)
{
    size_t pos = 0;
    while (pos < map->route_count && map->routes[pos].resource < resource)
        pos++;
    bool found = pos < map->route_count && map->routes[pos].resource == resource;
    if (target == 0) { /* remove */
        if (!found)
            return RSHARE_ENOENT;
        memmove(&map->routes[pos], &map->routes[pos + 1],
                (map->route_count - pos - 1) * sizeof(*map->routes));
        map->route_count--;
        return 0;
    }
    const struct rshare_resource_desc *d = rs_map_resource(map, resource);
    if (!d || d->kind == RSHARE_RESOURCE_BLOCK)
        return d ? RSHARE_EINVAL : RSHARE_ENOENT;
    if (!rs_map_member(map, target))
        return RSHARE_ENOENT;
    struct rshare_kvm_route route = {sizeof(route), target, resource};
    if (found) {
        map->routes[pos] = route;
        return 0;
    }
    if (map->route_count >= RS_MAP_MAX_ROUTES)
        return RSHARE_EBUSY;
    return array_insert(node, (void **)&map->routes, &map->route_count, sizeof(route), pos, &route);
}

/* --- access management: grants, leases, fencing counters ----------------------
 * Every rule below depends only on the command and the map, so every node
 * accepts or refuses a command the same way (doc/ACCESS.md). */

static size_t grant_pos(const struct rs_map *map, uint64_t id, bool *found)
{
    size_t lo = 0, hi = map->grant_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (map->grants[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < map->grant_count && map->grants[lo].id == id;
    return lo;
}

const struct rs_map_grant *rs_map_grant(const struct rs_map *map, uint64_t id)
{
    bool found;
    size_t pos = grant_pos(map, id, &found);
    return found && id ? &map->grants[pos] : NULL;
}

static size_t lease_pos(const struct rs_map *map, uint64_t id, bool *found)
{
    size_t lo = 0, hi = map->lease_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (map->leases[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < map->lease_count && map->leases[lo].id == id;
    return lo;
}

const struct rs_map_lease *rs_map_lease(const struct rs_map *map, uint64_t id)
{
    bool found;
    size_t pos = lease_pos(map, id, &found);
    return found && id ? &map->leases[pos] : NULL;
}

const struct rs_map_lease *rs_map_exclusive_lease(const struct rs_map *map, uint64_t resource)
{
    for (size_t i = 0; i < map->lease_count; i++)
        if (map->leases[i].resource == resource && map->leases[i].mode == RS_LEASE_EXCLUSIVE)
            return &map->leases[i];
    return NULL;
}

static size_t fence_pos(const struct rs_map *map, uint64_t resource, bool *found)
{
    size_t pos = 0;
    while (pos < map->fence_count && map->fences[pos].resource < resource)
        pos++;
    *found = pos < map->fence_count && map->fences[pos].resource == resource;
    return pos;
}

uint64_t rs_map_fence(const struct rs_map *map, uint64_t resource)
{
    bool found;
    size_t pos = fence_pos(map, resource, &found);
    return found ? map->fences[pos].fence : 0;
}

#define RIGHTS_MASK (RSHARE_RIGHT_READ | RSHARE_RIGHT_WRITE)

/* Links from `g` up to its root (1 for a host's grant); 0 when a link is
 * missing or the chain is longer than it may be. */
static unsigned chain_length(const struct rs_map *map, const struct rs_map_grant *g)
{
    unsigned n = 1;
    while (g->parent) {
        g = rs_map_grant(map, g->parent);
        if (!g || ++n > RS_MAP_MAX_CHAIN)
            return 0;
    }
    return n;
}

static int grant_set(rshare_node *node, struct rs_map *map, const struct rs_map_grant *g)
{
    bool found;
    size_t pos = grant_pos(map, g->id, &found);
    if (g->id == 0 || found || g->id == g->parent)
        return RSHARE_EEXIST;
    if (!g->rights || (g->rights & ~RIGHTS_MASK) || g->grantee == RSHARE_NODE_ID_BROADCAST)
        return RSHARE_EINVAL;
    if (!rs_map_member(map, g->grantee))
        return RSHARE_ENOENT;
    if (RS_MAP_IS_VOLUME(g->resource)) {
        /* A volume: lent by the manager only (it has no host). */
        if (!rs_map_volume(map, (uint32_t)g->resource))
            return RSHARE_ENOENT;
        if (g->parent == 0 && g->grantor != 0)
            return RSHARE_EACCES;
    } else {
        const struct rshare_resource_desc *d = rs_map_resource(map, g->resource);
        if (!d)
            return RSHARE_ENOENT;
        if (g->rights & ~d->rights)
            return RSHARE_EACCES; /* more than the host offers */
        /* Lent by the resource's host, or by the manager (grantor 0). */
        if (g->parent == 0 && g->grantor != 0 && g->grantor != d->host)
            return RSHARE_EACCES;
    }
    if (g->parent != 0) {
        const struct rs_map_grant *p = rs_map_grant(map, g->parent);
        if (!p)
            return RSHARE_ENOENT;
        /* Only the parent's grantee delegates, never more than it holds. */
        if (p->resource != g->resource || p->grantee != g->grantor || (g->rights & ~p->rights))
            return RSHARE_EACCES;
        unsigned depth = chain_length(map, p);
        if (depth == 0 || depth >= RS_MAP_MAX_CHAIN)
            return RSHARE_EBUSY;
    }
    if (map->grant_count >= RS_MAP_MAX_GRANTS)
        return RSHARE_EBUSY;
    return array_insert(node, (void **)&map->grants, &map->grant_count, sizeof(*g), pos, g);
}

/* May `by` revoke `g`?  The manager (0), the resource's host, and whoever
 * lent any link of its chain. */
static bool may_revoke(const struct rs_map *map, const struct rs_map_grant *g, uint32_t by)
{
    if (by == 0 || by == (uint32_t)(g->resource >> 32))
        return true;
    for (unsigned n = 0; g && n < RS_MAP_MAX_CHAIN; n++) {
        if (g->grantor == by)
            return true;
        g = g->parent ? rs_map_grant(map, g->parent) : NULL;
    }
    return false;
}

static bool grant_is_removed(const struct rs_map_grant *g, const uint64_t *gone, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (g->id == gone[i])
            return true;
    return false;
}

/* Remove grant `id` and, transitively, every delegation made from it. */
static int grant_revoke(rshare_node *node, struct rs_map *map, uint64_t id, uint32_t by)
{
    const struct rs_map_grant *g = rs_map_grant(map, id);
    if (!g)
        return RSHARE_ENOENT;
    if (!may_revoke(map, g, by))
        return RSHARE_EACCES;
    uint64_t *gone = rs_malloc(node, map->grant_count * sizeof(*gone));
    if (!gone)
        return RSHARE_ENOMEM;
    size_t n = 0;
    gone[n++] = id;
    /* Chains are at most RS_MAP_MAX_CHAIN long: that many passes find every
     * descendant whatever the order of the array. */
    for (unsigned pass = 0; pass < RS_MAP_MAX_CHAIN; pass++)
        for (size_t i = 0; i < map->grant_count; i++) {
            const struct rs_map_grant *c = &map->grants[i];
            if (c->parent && !grant_is_removed(c, gone, n) &&
                grant_is_removed(&(struct rs_map_grant){.id = c->parent}, gone, n))
                gone[n++] = c->id;
        }
    size_t kept = 0;
    for (size_t i = 0; i < map->grant_count; i++)
        if (!grant_is_removed(&map->grants[i], gone, n))
            map->grants[kept++] = map->grants[i];
    map->grant_count = kept;
    rs_free(node, gone);
    return 0;
}

static int lease_set(rshare_node *node, struct rs_map *map, struct rs_map_lease *l)
{
    bool found;
    size_t pos = lease_pos(map, l->id, &found);
    if (l->id == 0 || found)
        return RSHARE_EEXIST;
    if (l->mode != RS_LEASE_SHARED && l->mode != RS_LEASE_EXCLUSIVE)
        return RSHARE_EINVAL;
    if (!rs_map_member(map, l->holder))
        return RSHARE_ENOENT;
    if (RS_MAP_IS_VOLUME(l->resource)) {
        if (!rs_map_volume(map, (uint32_t)l->resource))
            return RSHARE_ENOENT;
    } else {
        const struct rshare_resource_desc *d = rs_map_resource(map, l->resource);
        if (!d)
            return RSHARE_ENOENT;
        /* Blocks (writers), displays (KVM focus on a target's console). */
        if (d->kind != RSHARE_RESOURCE_BLOCK && d->kind != RSHARE_RESOURCE_DISPLAY)
            return RSHARE_EINVAL;
        if (l->mode == RS_LEASE_EXCLUSIVE && !(d->rights & RSHARE_RIGHT_WRITE))
            return RSHARE_EACCES;
    }
    for (size_t i = 0; i < map->lease_count; i++) {
        const struct rs_map_lease *o = &map->leases[i];
        if (o->resource == l->resource &&
            (o->mode == RS_LEASE_EXCLUSIVE || l->mode == RS_LEASE_EXCLUSIVE))
            return RSHARE_EBUSY; /* held: wait for its release or expiry */
    }
    if (map->lease_count >= RS_MAP_MAX_LEASES)
        return RSHARE_EBUSY;
    bool fence_found;
    size_t fpos = fence_pos(map, l->resource, &fence_found);
    if (!fence_found) {
        if (map->fence_count >= RS_MAP_MAX_FENCES)
            return RSHARE_EBUSY;
        struct rs_map_fence f = {l->resource, 0};
        int rc = array_insert(node, (void **)&map->fences, &map->fence_count, sizeof(f), fpos, &f);
        if (rc < 0)
            return rc;
    }
    l->fence = ++map->fences[fpos].fence;
    l->seq = 0;
    return array_insert(node, (void **)&map->leases, &map->lease_count, sizeof(*l), pos, l);
}

static int lease_renew(struct rs_map *map, uint64_t id, uint32_t holder)
{
    bool found;
    size_t pos = lease_pos(map, id, &found);
    if (!found)
        return RSHARE_ENOENT; /* expired or released: acquire a new one */
    if (map->leases[pos].holder != holder)
        return RSHARE_EACCES;
    map->leases[pos].seq++;
    return 0;
}

static int lease_drop(struct rs_map *map, uint64_t id, uint32_t by, uint32_t seq)
{
    bool found;
    size_t pos = lease_pos(map, id, &found);
    if (!found)
        return RSHARE_ENOENT;
    const struct rs_map_lease *l = &map->leases[pos];
    if (by == 0 ? l->seq != seq : l->holder != by)
        return by == 0 ? RSHARE_ESTALE : RSHARE_EACCES; /* renewed since the expiry was decided */
    memmove(&map->leases[pos], &map->leases[pos + 1],
            (map->lease_count - pos - 1) * sizeof(*map->leases));
    map->lease_count--;
    return 0;
}

static int read_grant(struct rs_cbor_reader *r, struct rs_map_grant *g)
{
    memset(g, 0, sizeof(*g));
    if (rs_cbor_get_uint(r, &g->id) < 0 || rs_cbor_get_uint(r, &g->parent) < 0 ||
        rs_cbor_get_uint(r, &g->resource) < 0 || get_u32(r, &g->grantee) < 0 ||
        get_u32(r, &g->grantor) < 0 || get_u32(r, &g->rights) < 0 || get_u32(r, &g->ttl_ms) < 0)
        return RSHARE_EPROTO;
    return 0;
}

static void write_grant(struct rs_cbor_writer *w, const struct rs_map_grant *g)
{
    rs_cbor_put_uint(w, g->id);
    rs_cbor_put_uint(w, g->parent);
    rs_cbor_put_uint(w, g->resource);
    rs_cbor_put_uint(w, g->grantee);
    rs_cbor_put_uint(w, g->grantor);
    rs_cbor_put_uint(w, g->rights);
    rs_cbor_put_uint(w, g->ttl_ms);
}

bool rs_map_identity_revoked(const struct rs_map *map, const uint8_t pk[32])
{
    for (size_t i = 0; i < map->revoked_count; i++)
        if (memcmp(map->revoked[i].pk, pk, 32) == 0)
            return true;
    return false;
}

/* Revoking a key twice changes nothing; the list is bounded. */
static int identity_revoke(rshare_node *node, struct rs_map *map, const struct rs_map_revoked *k)
{
    if (rs_map_identity_revoked(map, k->pk))
        return 0;
    if (map->revoked_count >= RS_MAP_MAX_REVOKED)
        return RSHARE_EBUSY;
    return array_insert(node, (void **)&map->revoked, &map->revoked_count, sizeof(*k),
                        map->revoked_count, k);
}

static int read_revoked(struct rs_cbor_reader *r, struct rs_map_revoked *k)
{
    const uint8_t *pk;
    size_t len;
    if (get_u32(r, &k->id) < 0 || k->id == 0 || rs_cbor_get_bytes(r, &pk, &len) < 0 ||
        len != sizeof(k->pk))
        return RSHARE_EPROTO;
    memcpy(k->pk, pk, sizeof(k->pk));
    return 0;
}

int rs_map_copy(rshare_node *node, struct rs_map *dst, const struct rs_map *src)
{
    rs_map_init(dst);
    *dst = *src;
    dst->members = NULL;
    dst->resources = NULL;
    dst->volumes = NULL;
    dst->routes = NULL;
    dst->grants = NULL;
    dst->leases = NULL;
    dst->fences = NULL;
    dst->revoked = NULL;
    struct {
        void **to;
        const void *from;
        size_t bytes;
    } arrays[] = {
        {(void **)&dst->members, src->members, src->member_count * sizeof(*src->members)},
        {(void **)&dst->resources, src->resources, src->resource_count * sizeof(*src->resources)},
        {(void **)&dst->volumes, src->volumes, src->volume_count * sizeof(*src->volumes)},
        {(void **)&dst->routes, src->routes, src->route_count * sizeof(*src->routes)},
        {(void **)&dst->grants, src->grants, src->grant_count * sizeof(*src->grants)},
        {(void **)&dst->leases, src->leases, src->lease_count * sizeof(*src->leases)},
        {(void **)&dst->fences, src->fences, src->fence_count * sizeof(*src->fences)},
        {(void **)&dst->revoked, src->revoked, src->revoked_count * sizeof(*src->revoked)},
    };
    for (size_t i = 0; i < sizeof(arrays) / sizeof(arrays[0]); i++) {
        if (!arrays[i].bytes)
            continue;
        *arrays[i].to = rs_malloc(node, arrays[i].bytes);
        if (!*arrays[i].to) {
            rs_map_clear(node, dst);
            return RSHARE_ENOMEM;
        }
        memcpy(*arrays[i].to, arrays[i].from, arrays[i].bytes);
    }
    return 0;
}

int rs_map_check(rshare_node *node, const struct rs_map *map, const uint8_t *cmd, size_t len)
{
    struct rs_map scratch;
    int rc = rs_map_copy(node, &scratch, map);
    uint32_t subject;
    if (rc == 0)
        rc = rs_map_apply(node, &scratch, cmd, len, &subject);
    rs_map_clear(node, &scratch);
    return rc;
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
    case RS_MAP_VOLUME_SET: {
        struct rshare_volume_desc v;
        if (n != 1 + RS_VOLUME_FIELDS || read_volume(&r, &v) < 0 || !rs_cbor_at_end(&r))
            return RSHARE_EPROTO;
        return volume_set(node, map, &v);
    }
    case RS_MAP_VOLUME_REMOVE: {
        uint32_t id;
        if (n != 2 || get_u32(&r, &id) < 0 || !rs_cbor_at_end(&r))
            return RSHARE_EPROTO;
        return volume_remove(map, id);
    }
    case RS_MAP_ROUTE_SET: {
        uint64_t resource;
        uint32_t target;
        if (n != 3 || rs_cbor_get_uint(&r, &resource) < 0 || get_u32(&r, &target) < 0 ||
            !rs_cbor_at_end(&r))
            return RSHARE_EPROTO;
        *subject = target;
        return route_set(node, map, resource, target);
    }
    case RS_MAP_GRANT_SET: {
        struct rs_map_grant g;
        if (n != 8 || read_grant(&r, &g) < 0 || !rs_cbor_at_end(&r))
            return RSHARE_EPROTO;
        *subject = g.grantee;
        return grant_set(node, map, &g);
    }
    case RS_MAP_GRANT_REVOKE: {
        uint64_t id;
        uint32_t by;
        if (n != 3 || rs_cbor_get_uint(&r, &id) < 0 || get_u32(&r, &by) < 0 ||
            !rs_cbor_at_end(&r))
            return RSHARE_EPROTO;
        const struct rs_map_grant *g = rs_map_grant(map, id);
        *subject = g ? g->grantee : 0;
        return grant_revoke(node, map, id, by);
    }
    case RS_MAP_LEASE_SET: {
        struct rs_map_lease l = {0};
        if (n != 6 || rs_cbor_get_uint(&r, &l.id) < 0 || rs_cbor_get_uint(&r, &l.resource) < 0 ||
            get_u32(&r, &l.holder) < 0 || get_u32(&r, &l.mode) < 0 ||
            get_u32(&r, &l.ttl_ms) < 0 || !rs_cbor_at_end(&r))
            return RSHARE_EPROTO;
        *subject = l.holder;
        return lease_set(node, map, &l);
    }
    case RS_MAP_LEASE_RENEW: {
        uint64_t id;
        uint32_t holder;
        if (n != 3 || rs_cbor_get_uint(&r, &id) < 0 || get_u32(&r, &holder) < 0 ||
            !rs_cbor_at_end(&r))
            return RSHARE_EPROTO;
        *subject = holder;
        return lease_renew(map, id, holder);
    }
    case RS_MAP_LEASE_DROP: {
        uint64_t id;
        uint32_t by, seq;
        if (n != 4 || rs_cbor_get_uint(&r, &id) < 0 || get_u32(&r, &by) < 0 ||
            get_u32(&r, &seq) < 0 || !rs_cbor_at_end(&r))
            return RSHARE_EPROTO;
        const struct rs_map_lease *l = rs_map_lease(map, id);
        *subject = l ? l->holder : 0;
        return lease_drop(map, id, by, seq);
    }
    case RS_MAP_IDENTITY_REVOKE: {
        struct rs_map_revoked k;
        if (n != 3 || read_revoked(&r, &k) < 0 || !rs_cbor_at_end(&r))
            return RSHARE_EPROTO;
        *subject = k.id;
        return identity_revoke(node, map, &k);
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

void rs_map_cmd_volume_set(struct rs_cbor_writer *w, const struct rshare_volume_desc *v)
{
    rs_cbor_put_array(w, 1 + RS_VOLUME_FIELDS);
    rs_cbor_put_uint(w, RS_MAP_VOLUME_SET);
    write_volume(w, v);
}

void rs_map_cmd_volume_remove(struct rs_cbor_writer *w, uint32_t id)
{
    rs_cbor_put_array(w, 2);
    rs_cbor_put_uint(w, RS_MAP_VOLUME_REMOVE);
    rs_cbor_put_uint(w, id);
}

void rs_map_cmd_route_set(struct rs_cbor_writer *w, uint64_t resource, uint32_t target)
{
    rs_cbor_put_array(w, 3);
    rs_cbor_put_uint(w, RS_MAP_ROUTE_SET);
    rs_cbor_put_uint(w, resource);
    rs_cbor_put_uint(w, target);
}

void rs_map_cmd_grant_set(struct rs_cbor_writer *w, const struct rs_map_grant *g)
{
    rs_cbor_put_array(w, 8);
    rs_cbor_put_uint(w, RS_MAP_GRANT_SET);
    write_grant(w, g);
}

void rs_map_cmd_grant_revoke(struct rs_cbor_writer *w, uint64_t id, uint32_t by)
{
    rs_cbor_put_array(w, 3);
    rs_cbor_put_uint(w, RS_MAP_GRANT_REVOKE);
    rs_cbor_put_uint(w, id);
    rs_cbor_put_uint(w, by);
}

void rs_map_cmd_lease_set(struct rs_cbor_writer *w, const struct rs_map_lease *l)
{
    rs_cbor_put_array(w, 6);
    rs_cbor_put_uint(w, RS_MAP_LEASE_SET);
    rs_cbor_put_uint(w, l->id);
    rs_cbor_put_uint(w, l->resource);
    rs_cbor_put_uint(w, l->holder);
    rs_cbor_put_uint(w, l->mode);
    rs_cbor_put_uint(w, l->ttl_ms);
}

void rs_map_cmd_lease_renew(struct rs_cbor_writer *w, uint64_t id, uint32_t holder)
{
    rs_cbor_put_array(w, 3);
    rs_cbor_put_uint(w, RS_MAP_LEASE_RENEW);
    rs_cbor_put_uint(w, id);
    rs_cbor_put_uint(w, holder);
}

void rs_map_cmd_lease_drop(struct rs_cbor_writer *w, uint64_t id, uint32_t by, uint32_t seq)
{
    rs_cbor_put_array(w, 4);
    rs_cbor_put_uint(w, RS_MAP_LEASE_DROP);
    rs_cbor_put_uint(w, id);
    rs_cbor_put_uint(w, by);
    rs_cbor_put_uint(w, seq);
}

void rs_map_cmd_identity_revoke(struct rs_cbor_writer *w, uint32_t id, const uint8_t pk[32])
{
    rs_cbor_put_array(w, 3);
    rs_cbor_put_uint(w, RS_MAP_IDENTITY_REVOKE);
    rs_cbor_put_uint(w, id);
    rs_cbor_put_bytes(w, pk, 32);
}

/* Snapshot: [[member...], [[host, [descriptor...]]...], [volume...],
 * next_volume_id, [[resource, target]...]] with each member as
 * [id, slot, install_order, flags] and each volume as
 * the volume form of read_volume(); then, since access management,
 * [[grant...], [lease...], [[resource, fence]...]] with each grant as its
 * command's fields and each lease as [id, resource, holder, mode, ttl_ms,
 * seq, fence]; then the map's version and epoch; then, since node
 * identities, [[id, public key]...] of revoked keys.  A 5-, 8- or
 * 10-element snapshot (an older node's) restores with none of the later parts. */
int rs_map_snapshot(rshare_node *node, const struct rs_map *map, void *(*alloc)(size_t),
                    uint8_t **out, size_t *len)
{
    (void)node;
    size_t cap = 64 + map->member_count * 24 + map->resource_count * RS_DESC_MAX_ENCODED +
                 map->member_count * 16 +
                 map->volume_count * (144 + 9 * (2 * RSHARE_VOLUME_MEMBERS_MAX + RSHARE_VOLUME_SPARES_MAX)) +
                 map->route_count * 24 + 16 + map->grant_count * 64 +
                 map->lease_count * 64 + map->fence_count * 24 + 18 +
                 map->revoked_count * 48 + 9;
    uint8_t *buf = alloc(cap);
    if (!buf)
        return RSHARE_ENOMEM;
    struct rs_cbor_writer w;
    rs_cbor_writer_init(&w, buf, cap);
    rs_cbor_put_array(&w, 11);
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
    rs_cbor_put_array(&w, map->volume_count);
    for (size_t i = 0; i < map->volume_count; i++) {
        rs_cbor_put_array(&w, RS_VOLUME_FIELDS);
        write_volume(&w, &map->volumes[i]);
    }
    rs_cbor_put_uint(&w, map->next_volume_id);
    rs_cbor_put_array(&w, map->route_count);
    for (size_t i = 0; i < map->route_count; i++) {
        rs_cbor_put_array(&w, 2);
        rs_cbor_put_uint(&w, map->routes[i].resource);
        rs_cbor_put_uint(&w, map->routes[i].target);
    }
    rs_cbor_put_array(&w, map->grant_count);
    for (size_t i = 0; i < map->grant_count; i++) {
        rs_cbor_put_array(&w, 7);
        write_grant(&w, &map->grants[i]);
    }
    rs_cbor_put_array(&w, map->lease_count);
    for (size_t i = 0; i < map->lease_count; i++) {
        const struct rs_map_lease *l = &map->leases[i];
        rs_cbor_put_array(&w, 7);
        rs_cbor_put_uint(&w, l->id);
        rs_cbor_put_uint(&w, l->resource);
        rs_cbor_put_uint(&w, l->holder);
        rs_cbor_put_uint(&w, l->mode);
        rs_cbor_put_uint(&w, l->ttl_ms);
        rs_cbor_put_uint(&w, l->seq);
        rs_cbor_put_uint(&w, l->fence);
    }
    rs_cbor_put_array(&w, map->fence_count);
    for (size_t i = 0; i < map->fence_count; i++) {
        rs_cbor_put_array(&w, 2);
        rs_cbor_put_uint(&w, map->fences[i].resource);
        rs_cbor_put_uint(&w, map->fences[i].fence);
    }
    /* The map's own version and epoch: a snapshot is taken at the index of
     * the last entry applied, which may be a configuration entry that did
     * not change the map. */
    rs_cbor_put_uint(&w, map->version);
    rs_cbor_put_uint(&w, map->epoch);
    rs_cbor_put_array(&w, map->revoked_count);
    for (size_t i = 0; i < map->revoked_count; i++) {
        rs_cbor_put_array(&w, 2);
        rs_cbor_put_uint(&w, map->revoked[i].id);
        rs_cbor_put_bytes(&w, map->revoked[i].pk, sizeof(map->revoked[i].pk));
    }
    if (w.overflow)
        return RSHARE_EPROTO; /* the bound above is wrong: a bug, not input */
    *out = buf;
    *len = w.len;
    return 0;
}

/* The access part of a snapshot, stored as apply made it: sorted, unique,
 * within the limits (chains are not re-checked: a snapshot holds what the
 * commands left, and a grant whose parent is gone is refused on use). */
static int restore_access(rshare_node *node, struct rs_map *map, struct rs_cbor_reader *r)
{
    size_t count, n;
    if (rs_cbor_get_array(r, &count) < 0 || count > RS_MAP_MAX_GRANTS)
        return RSHARE_EPROTO;
    for (size_t i = 0; i < count; i++) {
        struct rs_map_grant g;
        if (rs_cbor_get_array(r, &n) < 0 || n != 7 || read_grant(r, &g) < 0 || g.id == 0 ||
            (i && g.id <= map->grants[i - 1].id) ||
            array_insert(node, (void **)&map->grants, &map->grant_count, sizeof(g), i, &g) < 0)
            return RSHARE_EPROTO;
    }
    if (rs_cbor_get_array(r, &count) < 0 || count > RS_MAP_MAX_LEASES)
        return RSHARE_EPROTO;
    for (size_t i = 0; i < count; i++) {
        struct rs_map_lease l;
        if (rs_cbor_get_array(r, &n) < 0 || n != 7 || rs_cbor_get_uint(r, &l.id) < 0 ||
            rs_cbor_get_uint(r, &l.resource) < 0 || get_u32(r, &l.holder) < 0 ||
            get_u32(r, &l.mode) < 0 || get_u32(r, &l.ttl_ms) < 0 || get_u32(r, &l.seq) < 0 ||
            rs_cbor_get_uint(r, &l.fence) < 0 || l.id == 0 ||
            (i && l.id <= map->leases[i - 1].id) ||
            array_insert(node, (void **)&map->leases, &map->lease_count, sizeof(l), i, &l) < 0)
            return RSHARE_EPROTO;
    }
    if (rs_cbor_get_array(r, &count) < 0 || count > RS_MAP_MAX_FENCES)
        return RSHARE_EPROTO;
    for (size_t i = 0; i < count; i++) {
        struct rs_map_fence f;
        if (rs_cbor_get_array(r, &n) < 0 || n != 2 || rs_cbor_get_uint(r, &f.resource) < 0 ||
            rs_cbor_get_uint(r, &f.fence) < 0 ||
            (i && f.resource <= map->fences[i - 1].resource) ||
            array_insert(node, (void **)&map->fences, &map->fence_count, sizeof(f), i, &f) < 0)
            return RSHARE_EPROTO;
    }
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
    if (rs_cbor_get_array(&r, &outer) < 0 || (outer != 5 && outer != 8 && outer != 10 && outer != 11) ||
        rs_cbor_get_array(&r, &members) < 0 ||
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
    size_t volumes, routes;
    uint64_t next_id;
    if (rs_cbor_get_array(&r, &volumes) < 0 || volumes > RS_MAP_MAX_VOLUMES)
        goto out;
    for (size_t i = 0; i < volumes; i++) {
        struct rshare_volume_desc v;
        if (rs_cbor_get_array(&r, &n) < 0 || n != RS_VOLUME_FIELDS || read_volume(&r, &v) < 0 ||
            volume_store(node, &fresh, &v) < 0)
            goto out;
    }
    if (rs_cbor_get_uint(&r, &next_id) < 0 || next_id > UINT32_MAX)
        goto out;
    fresh.next_volume_id = (uint32_t)next_id;
    if (rs_cbor_get_array(&r, &routes) < 0 || routes > RS_MAP_MAX_ROUTES)
        goto out;
    for (size_t i = 0; i < routes; i++) {
        uint64_t resource;
        uint32_t target;
        /* Stored as they were: a route may outlive its resource (a keyboard
         * unplugged), and restoring must accept every map apply produced. */
        if (rs_cbor_get_array(&r, &n) < 0 || n != 2 || rs_cbor_get_uint(&r, &resource) < 0 ||
            get_u32(&r, &target) < 0 || target == 0 ||
            (i && resource <= fresh.routes[i - 1].resource) ||
            route_store(node, &fresh, resource, target) < 0)
            goto out;
    }
    if (outer >= 8 && restore_access(node, &fresh, &r) < 0)
        goto out;
    fresh.version = map->version;
    fresh.epoch = map->epoch;
    if (outer >= 10 && (rs_cbor_get_uint(&r, &fresh.version) < 0 ||
                        get_u32(&r, &fresh.epoch) < 0))
        goto out;
    size_t revoked;
    if (outer == 11 && (rs_cbor_get_array(&r, &revoked) < 0 || revoked > RS_MAP_MAX_REVOKED))
        goto out;
    for (size_t i = 0; outer == 11 && i < revoked; i++) {
        struct rs_map_revoked k;
        if (rs_cbor_get_array(&r, &n) < 0 || n != 2 || read_revoked(&r, &k) < 0 ||
            identity_revoke(node, &fresh, &k) < 0)
            goto out;
    }
    if (!rs_cbor_at_end(&r))
        goto out;
    rs_map_clear(node, map);
    *map = fresh;
    rs_free(node, descs);
    return 0;
out:
    rs_free(node, descs);
    rs_map_clear(node, &fresh);
    return rc;
}
