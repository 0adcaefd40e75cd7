/* rshare — the node handle: composes the layers (core, link, msg) into one
 * object and wires each layer's upward callbacks.  The only file that knows
 * every layer; the layers themselves only call downward. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "block/backend.h"
#include "cluster/cluster.h"
#include "core/core.h"
#include "link/link.h"
#include "msg/msg.h"

struct rshare_node {
    struct rs_core core; /* first: rs_core() is a cast */
    struct rs_link link;
    struct rs_msg msg;
    struct rs_cluster cluster;
    struct rs_blocks blocks;
};

struct rs_core *rs_core(rshare_node *node)
{
    return &node->core;
}

const struct rs_core *rs_core_const(const rshare_node *node)
{
    return &node->core;
}

struct rs_link *rs_link(rshare_node *node)
{
    return &node->link;
}

struct rs_msg *rs_msg(rshare_node *node)
{
    return &node->msg;
}

struct rs_cluster *rs_cluster(rshare_node *node)
{
    return &node->cluster;
}

struct rs_blocks *rs_blocks(rshare_node *node)
{
    return &node->blocks;
}

RSHARE_API int rshare_node_create(const struct rshare_node_config *config, rshare_node **node_out)
{
    if (!config || !node_out)
        return RSHARE_EINVAL;
    *node_out = NULL;
    /* The node is allocated with the caller's allocator before the core has
     * resolved it, so read the hook straight from the config. */
    struct rshare_allocator alloc = {0};
    if (config->struct_size >= offsetof(struct rshare_node_config, allocator) + sizeof(alloc))
        alloc = config->allocator;
    if ((alloc.malloc || alloc.realloc || alloc.free) &&
        !(alloc.malloc && alloc.realloc && alloc.free))
        return RSHARE_EINVAL;
    rshare_node *node = alloc.malloc ? alloc.malloc(alloc.user_data, sizeof(*node))
                                     : malloc(sizeof(*node));
    if (!node)
        return RSHARE_ENOMEM;
    memset(node, 0, sizeof(*node));
    int rc = rs_core_init(&node->core, node, config);
    if (rc == 0)
        rc = rs_link_init(node);
    if (rc == 0)
        rc = rs_msg_init(node);
    if (rc == 0)
        rc = rs_cluster_init(node);
    if (rc == 0)
        rc = rs_blocks_init(node);
    if (rc < 0) {
        rshare_node_destroy(node);
        return rc;
    }
    *node_out = node;
    return 0;
}

RSHARE_API void rshare_node_destroy(rshare_node *node)
{
    if (!node)
        return;
    rs_blocks_fini(node);
    rs_cluster_fini(node);
    rs_msg_fini(node);
    rs_link_fini(node);
    rs_core_fini(&node->core, node);
    struct rshare_allocator alloc = node->core.config.allocator;
    if (alloc.free)
        alloc.free(alloc.user_data, node);
    else
        free(node);
}
