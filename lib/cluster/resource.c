/* rshare cluster — the registration API: what this node shares, numbered
 * host << 32 | n, checked before it is accepted, and listed locally or from
 * the global map. */
#include "config.h"

#include <string.h>

#include "cluster.h"
#include "descriptor.h"

RSHARE_API void rshare_resource_desc_init(struct rshare_resource_desc *desc, size_t struct_size)
{
    if (!desc || struct_size < sizeof(uint32_t))
        return;
    memset(desc, 0, struct_size);
    desc->struct_size = (uint32_t)struct_size;
    if (struct_size >= offsetof(struct rshare_resource_desc, rights) + sizeof(desc->rights))
        desc->rights = RSHARE_RIGHT_READ | RSHARE_RIGHT_WRITE;
}

/* Copy what the caller's struct holds into a zeroed full-size one, with
 * string tails cleared: descriptors are compared byte for byte. */
static int normalise(struct rshare_resource_desc *out, const struct rshare_resource_desc *in)
{
    if (in->struct_size < offsetof(struct rshare_resource_desc, serial) + sizeof(in->serial))
        return RSHARE_EVERSION;
    memset(out, 0, sizeof(*out));
    size_t n = in->struct_size < sizeof(*out) ? in->struct_size : sizeof(*out);
    memcpy(out, in, n);
    out->struct_size = sizeof(*out);
    char *strings[] = {out->path, out->model, out->serial};
    size_t caps[] = {sizeof(out->path), sizeof(out->model), sizeof(out->serial)};
    for (int i = 0; i < 3; i++) {
        char *end = memchr(strings[i], '\0', caps[i]);
        if (!end)
            return RSHARE_EINVAL;
        memset(end, 0, caps[i] - (size_t)(end - strings[i]));
    }
    return 0;
}

RSHARE_API int rshare_resource_register(rshare_node *node, const struct rshare_resource_desc *desc,
                                        uint64_t *id_out)
{
    if (!node || !desc)
        return RSHARE_EINVAL;
    struct rs_cluster *cl = rs_cluster(node);
    struct rshare_resource_desc d;
    int rc = normalise(&d, desc);
    if (rc < 0)
        return rs_errorf(node, rc, "resource descriptor: struct_size %u or strings invalid",
                         desc->struct_size);
    if (cl->local_count == RSHARE_RESOURCES_PER_NODE)
        return rs_errorf(node, RSHARE_EBUSY, "at most %d resources per node",
                         RSHARE_RESOURCES_PER_NODE);
    for (size_t i = 0; i < cl->local_count; i++)
        if (strcmp(cl->local[i].path, d.path) == 0)
            return rs_errorf(node, RSHARE_EEXIST, "resource '%s' is already shared", d.path);
    uint32_t host = rshare_node_id(node);
    d.host = host;
    d.id = (uint64_t)host << 32 | ++cl->next_local;
    if ((rc = rs_desc_check(&d)) < 0)
        return rs_errorf(node, rc, "resource '%s': kind, rights or geometry invalid", d.path);
    cl->local[cl->local_count++] = d; /* ids grow: the list stays sorted */
    if (id_out)
        *id_out = d.id;
    rs_cluster_kick(node);
    return 0;
}

RSHARE_API int rshare_resource_withdraw(rshare_node *node, uint64_t id)
{
    if (!node)
        return RSHARE_EINVAL;
    struct rs_cluster *cl = rs_cluster(node);
    for (size_t i = 0; i < cl->local_count; i++) {
        if (cl->local[i].id != id)
            continue;
        memmove(&cl->local[i], &cl->local[i + 1], (cl->local_count - i - 1) * sizeof(cl->local[i]));
        cl->local_count--;
        rs_cluster_kick(node);
        return 0;
    }
    return rs_errorf(node, RSHARE_ENOENT, "this node shares no resource %llx",
                     (unsigned long long)id);
}

RSHARE_API int rshare_resource_list(rshare_node *node, int local, struct rshare_resource_desc *out,
                                    size_t max, size_t struct_size, size_t *count)
{
    if (!node || !count || (max && (!out || struct_size < 2 * sizeof(uint32_t))))
        return RSHARE_EINVAL;
    struct rs_cluster *cl = rs_cluster(node);
    const struct rshare_resource_desc *src = local ? cl->local : cl->map.resources;
    size_t n = local ? cl->local_count : cl->map.resource_count;
    size_t copy = struct_size < sizeof(*src) ? struct_size : sizeof(*src);
    for (size_t i = 0; i < n && i < max; i++) {
        struct rshare_resource_desc *dst = (void *)((char *)out + i * struct_size);
        memcpy(dst, &src[i], copy);
        dst->struct_size = (uint32_t)copy;
    }
    *count = n;
    return 0;
}
