/* rshare cluster — global descriptors: volume definitions and KVM routes.
 * A change is sent to the manager (RS_MSG_PROPOSE), which checks it against
 * its copy of the map by applying it to a scratch copy, proposes it, and
 * answers with the log index that holds it; the caller's callback runs once
 * the change is in the caller's own copy of the map. */
#include "config.h"

#include <string.h>

#include "cluster.h"
#include "msg/msg.h"

struct rs_map_waiter {
    struct rs_map_waiter *next;
    rshare_node *node;
    uint64_t index;  /* the change is in the map from this version on */
    int status;      /* set when the change failed */
    bool answered;   /* the manager answered (index or status known) */
    rshare_map_change_fn done;
    void *user_data;
};

static void waiter_answered(rshare_node *node, int status, uint64_t index, void *user_data)
{
    struct rs_map_waiter *w = user_data;
    w->answered = true;
    w->status = status < 0 ? status : 0;
    w->index = index;
    rs_cluster_kick(node); /* callbacks run from the duty timer, not from here */
}

static void propose_reply(rshare_node *node, const struct rshare_reply *reply, void *user_data)
{
    uint64_t index = 0;
    int status = reply->status;
    if (status == 0) {
        struct rs_cbor_reader r;
        rs_cbor_reader_init(&r, reply->data, reply->len);
        if (rs_cbor_get_uint(&r, &index) < 0 || !rs_cbor_at_end(&r))
            status = RSHARE_EPROTO;
    } else if (status == RSHARE_EREMOTE) {
        rs_errorf(node, RSHARE_EREMOTE, "the manager refused the change: %s (%.*s)",
                  rshare_err_name(reply->remote_code), (int)reply->len, (const char *)reply->data);
    }
    waiter_answered(node, status, index, user_data);
}

/* Hand a command to the manager (or propose it, on the manager). */
static int submit(rshare_node *node, const uint8_t *cmd, size_t len, rshare_map_change_fn done,
                  void *user_data)
{
    struct rs_cluster *cl = rs_cluster(node);
    if (!cl->joined)
        return rs_errorf(node, RSHARE_EINVAL, "the node has not joined a cluster");
    uint32_t manager = rs_raft_leader(node);
    if (!manager)
        return rs_errorf(node, RSHARE_EAGAIN, "no manager at the moment: try again");
    if (manager == rshare_node_id(node)) {
        int rc = rs_map_check(node, &rs_cluster(node)->map, cmd, len);
        if (rc < 0)
            return rs_errorf(node, rc, "the change breaks a rule of the map: %s",
                             rshare_strerror(rc));
    }
    struct rs_map_waiter *w = rs_calloc(node, 1, sizeof(*w));
    if (!w)
        return RSHARE_ENOMEM;
    w->node = node;
    w->done = done;
    w->user_data = user_data;
    int rc = manager == rshare_node_id(node)
                 ? rs_raft_propose(node, cmd, len, waiter_answered, w)
                 : rs_msg_call(node, manager, RS_MSG_PROPOSE, cmd, len, propose_reply, w);
    if (rc < 0) {
        rs_free(node, w);
        return rc;
    }
    w->next = cl->waiters;
    cl->waiters = w;
    return 0;
}

void rs_global_check_waiters(rshare_node *node)
{
    struct rs_cluster *cl = rs_cluster(node);
    struct rs_map_waiter **pp = &cl->waiters;
    while (*pp) {
        struct rs_map_waiter *w = *pp;
        if (!w->answered || (w->status == 0 && cl->map.version < w->index)) {
            pp = &w->next;
            continue;
        }
        *pp = w->next;
        rshare_map_change_fn done = w->done;
        void *user_data = w->user_data;
        int status = w->status;
        rs_free(node, w);
        if (done)
            done(node, status, user_data);
        pp = &cl->waiters; /* the callback may have added or resolved some */
    }
}

void rs_global_fini(rshare_node *node)
{
    struct rs_cluster *cl = rs_cluster(node);
    while (cl->waiters) {
        struct rs_map_waiter *w = cl->waiters;
        cl->waiters = w->next;
        if (w->done)
            w->done(node, RSHARE_ESHUTDOWN, w->user_data);
        rs_free(node, w);
    }
}

/* --- the manager's side ------------------------------------------------------- */

static void on_propose(rshare_node *node, rshare_request *req, void *user_data)
{
    (void)user_data;
    const uint8_t *cmd = rshare_request_data(req);
    size_t len = rshare_request_len(req);
    struct rs_cbor_reader r;
    rs_cbor_reader_init(&r, cmd, len);
    size_t n;
    uint64_t op;
    if (rs_cbor_get_array(&r, &n) < 0 || rs_cbor_get_uint(&r, &op) < 0 ||
        (op != RS_MAP_VOLUME_SET && op != RS_MAP_VOLUME_REMOVE && op != RS_MAP_ROUTE_SET)) {
        RS_STAT_INC(node, msgs_malformed);
        rshare_request_fail(req, RSHARE_EPROTO, "not a volume or route change");
        return;
    }
    int rc = rs_map_check(node, &rs_cluster(node)->map, cmd, len);
    if (rc < 0) {
        rshare_request_fail(req, rc, rc == RSHARE_EPROTO ? "malformed change" : rshare_strerror(rc));
        return;
    }
    rc = rs_raft_propose(node, cmd, len, rs_reply_when_applied, req);
    if (rc < 0)
        rshare_request_fail(req, rc, "not the manager");
}

int rs_global_start(rshare_node *node)
{
    return rs_msg_set_handler(node, RS_MSG_PROPOSE, on_propose, NULL);
}

/* --- the public API ------------------------------------------------------------ */

RSHARE_API void rshare_volume_desc_init(struct rshare_volume_desc *desc, size_t struct_size)
{
    if (!desc || struct_size < sizeof(uint32_t))
        return;
    memset(desc, 0, struct_size);
    desc->struct_size = (uint32_t)struct_size;
}

RSHARE_API int rshare_volume_define(rshare_node *node, const struct rshare_volume_desc *desc,
                                    rshare_map_change_fn done, void *user_data)
{
    if (!node || !desc)
        return RSHARE_EINVAL;
    if (desc->struct_size < offsetof(struct rshare_volume_desc, spares))
        return rs_errorf(node, RSHARE_EVERSION, "volume descriptor struct_size %u too small",
                         desc->struct_size);
    struct rshare_volume_desc v;
    memset(&v, 0, sizeof(v));
    memcpy(&v, desc, desc->struct_size < sizeof(v) ? desc->struct_size : sizeof(v));
    if (!memchr(v.name, '\0', sizeof(v.name)) || v.member_count > RSHARE_VOLUME_MEMBERS_MAX ||
        v.spare_count > RSHARE_VOLUME_SPARES_MAX)
        return rs_errorf(node, RSHARE_EINVAL, "volume name or member counts out of range");
    if (desc->struct_size < offsetof(struct rshare_volume_desc, member_state) + sizeof(v.member_state))
        memset(v.member_state, 0, sizeof(v.member_state)); /* older callers: all active */
    for (uint32_t i = 0; i < v.member_count; i++)
        if (v.member_state[i] > RSHARE_VOLUME_MEMBER_REBUILDING)
            return rs_errorf(node, RSHARE_EINVAL, "member %u: unknown state %u", i,
                             v.member_state[i]);
    uint8_t buf[1024];
    struct rs_cbor_writer w;
    rs_cbor_writer_init(&w, buf, sizeof(buf));
    rs_map_cmd_volume_set(&w, &v);
    if (w.overflow)
        return RSHARE_EINVAL;
    return submit(node, buf, w.len, done, user_data);
}

RSHARE_API int rshare_volume_undefine(rshare_node *node, uint32_t id, rshare_map_change_fn done,
                                      void *user_data)
{
    if (!node || !id)
        return RSHARE_EINVAL;
    uint8_t buf[32];
    struct rs_cbor_writer w;
    rs_cbor_writer_init(&w, buf, sizeof(buf));
    rs_map_cmd_volume_remove(&w, id);
    return submit(node, buf, w.len, done, user_data);
}

RSHARE_API int rshare_kvm_route_set(rshare_node *node, uint64_t resource, uint32_t target,
                                    rshare_map_change_fn done, void *user_data)
{
    if (!node || !resource || target == RSHARE_NODE_ID_BROADCAST)
        return RSHARE_EINVAL;
    uint8_t buf[48];
    struct rs_cbor_writer w;
    rs_cbor_writer_init(&w, buf, sizeof(buf));
    rs_map_cmd_route_set(&w, resource, target);
    return submit(node, buf, w.len, done, user_data);
}

/* Copy `n` elements of `elem` bytes into the caller's array of `stride`
 * bytes each (the caller's struct may be older and smaller). */
static void copy_out(void *out, size_t max, size_t stride, const void *in, size_t n, size_t elem)
{
    size_t copy = stride < elem ? stride : elem;
    for (size_t i = 0; i < n && i < max; i++) {
        void *dst = (char *)out + i * stride;
        memcpy(dst, (const char *)in + i * elem, copy);
        *(uint32_t *)dst = (uint32_t)copy; /* struct_size, first in both */
    }
}

RSHARE_API int rshare_volume_list(rshare_node *node, struct rshare_volume_desc *out, size_t max,
                                  size_t struct_size, size_t *count)
{
    if (!node || !count || (max && (!out || struct_size < 2 * sizeof(uint32_t))))
        return RSHARE_EINVAL;
    const struct rs_map *map = &rs_cluster(node)->map;
    copy_out(out, max, struct_size, map->volumes, map->volume_count, sizeof(*map->volumes));
    *count = map->volume_count;
    return 0;
}

RSHARE_API int rshare_kvm_route_list(rshare_node *node, struct rshare_kvm_route *out, size_t max,
                                     size_t struct_size, size_t *count)
{
    if (!node || !count || (max && (!out || struct_size < 2 * sizeof(uint32_t))))
        return RSHARE_EINVAL;
    const struct rs_map *map = &rs_cluster(node)->map;
    copy_out(out, max, struct_size, map->routes, map->route_count, sizeof(*map->routes));
    *count = map->route_count;
    return 0;
}
