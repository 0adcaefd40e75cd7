/* rshare cluster — descriptor exchange: a node's own resources reach the
 * global map through the manager.  Whenever this node's list and the map's
 * copy of it differ, the node sends the whole list to the manager
 * (RS_MSG_RESOURCES), which checks that the sender describes only itself and
 * proposes the change; the answer comes once it is applied everywhere. */
#include "config.h"

#include <string.h>

#include "cluster.h"
#include "descriptor.h"
#include "msg/msg.h"

static bool map_matches_local(rshare_node *node)
{
    struct rs_cluster *cl = rs_cluster(node);
    size_t first, n = rs_map_host_resources(&cl->map, rshare_node_id(node), &first);
    if (n != cl->local_count)
        return false;
    for (size_t i = 0; i < n; i++)
        if (memcmp(&cl->map.resources[first + i], &cl->local[i], sizeof(cl->local[i])) != 0)
            return false;
    return true;
}

static int build_command(rshare_node *node, uint8_t **out, size_t *len)
{
    struct rs_cluster *cl = rs_cluster(node);
    size_t cap = 32 + cl->local_count * RS_DESC_MAX_ENCODED;
    uint8_t *buf = rs_malloc(node, cap);
    if (!buf)
        return RSHARE_ENOMEM;
    struct rs_cbor_writer w;
    rs_cbor_writer_init(&w, buf, cap);
    rs_map_cmd_resources_set(&w, rshare_node_id(node), cl->local, cl->local_count);
    *out = buf;
    *len = w.len;
    return 0;
}

static void announced(rshare_node *node, int status, uint64_t index, void *user_data)
{
    (void)user_data;
    struct rs_cluster *cl = rs_cluster(node);
    cl->announce_pending = false;
    if (status == 0)
        cl->announced_at_version = index; /* wait for our copy to reach it */
    rs_cluster_kick(node);
    if (status < 0)
        rs_log_debug(node, "resource announcement not applied: %s", rshare_strerror(status));
}

/* The manager answers with the log index that holds the change. */
static void announce_reply(rshare_node *node, const struct rshare_reply *reply, void *user_data)
{
    uint64_t index = 0;
    int status = reply->status == RSHARE_EREMOTE ? reply->remote_code : reply->status;
    if (status == 0) {
        struct rs_cbor_reader r;
        rs_cbor_reader_init(&r, reply->data, reply->len);
        if (rs_cbor_get_uint(&r, &index) < 0 || !rs_cbor_at_end(&r))
            status = RSHARE_EPROTO;
    }
    announced(node, status, index, user_data);
}

void rs_announce_check(rshare_node *node)
{
    struct rs_cluster *cl = rs_cluster(node);
    if (!cl->joined || cl->announce_pending || !rs_map_member(&cl->map, rshare_node_id(node)) ||
        cl->map.version < cl->announced_at_version || map_matches_local(node))
        return;
    uint32_t manager = rs_raft_leader(node);
    if (!manager)
        return;
    uint8_t *cmd;
    size_t len;
    if (build_command(node, &cmd, &len) < 0)
        return;
    int rc;
    if (manager == rshare_node_id(node))
        rc = rs_raft_propose(node, cmd, len, announced, NULL);
    else
        rc = rs_msg_call(node, manager, RS_MSG_RESOURCES, cmd, len, announce_reply, NULL);
    rs_free(node, cmd);
    if (rc == 0)
        cl->announce_pending = true;
}

/* --- the manager's side ------------------------------------------------------- */

void rs_reply_when_applied(rshare_node *node, int status, uint64_t index, void *user_data)
{
    (void)node;
    rshare_request *req = user_data;
    if (status < 0) {
        rshare_request_fail(req, status, "map change refused");
        return;
    }
    uint8_t buf[16];
    struct rs_cbor_writer w;
    rs_cbor_writer_init(&w, buf, sizeof(buf));
    rs_cbor_put_uint(&w, index);
    rshare_request_reply(req, buf, w.len);
}

static void on_resources(rshare_node *node, rshare_request *req, void *user_data)
{
    (void)user_data;
    const uint8_t *cmd = rshare_request_data(req);
    size_t len = rshare_request_len(req);
    /* Only a sender's own resources: the command must name it as host. */
    struct rs_cbor_reader r;
    rs_cbor_reader_init(&r, cmd, len);
    size_t n;
    uint64_t op, host;
    if (rs_cbor_get_array(&r, &n) < 0 || n != 3 || rs_cbor_get_uint(&r, &op) < 0 ||
        op != RS_MAP_RESOURCES_SET || rs_cbor_get_uint(&r, &host) < 0) {
        RS_STAT_INC(node, msgs_malformed);
        rshare_request_fail(req, RSHARE_EPROTO, "not a resource list");
        return;
    }
    if (host != rshare_request_peer(req)) {
        RS_STAT_INC(node, rx_spoofed);
        rshare_request_fail(req, RSHARE_EINVAL, "a node announces only its own resources");
        return;
    }
    int rc = rs_map_check(node, &rs_cluster(node)->map, cmd, len);
    if (rc < 0) {
        RS_STAT_INC(node, msgs_malformed);
        rshare_request_fail(req, rc, "malformed or invalid resource descriptors");
        return;
    }
    rc = rs_raft_propose(node, cmd, len, rs_reply_when_applied, req);
    if (rc < 0)
        rshare_request_fail(req, rc == RSHARE_EAGAIN ? RSHARE_EAGAIN : rc, "not the manager");
}

int rs_announce_start(rshare_node *node)
{
    return rs_msg_set_handler(node, RS_MSG_RESOURCES, on_resources, NULL);
}
