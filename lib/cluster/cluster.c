/* rshare cluster — joining the cluster and the public queries: members,
 * manager, map version, events. */
#include "config.h"

#include <string.h>

#include "cluster.h"
#include "msg/msg.h"

#define DEFAULT_VOTERS 3
#define DEFAULT_HELLO_MS 1000
#define DEFAULT_MEMBER_TIMEOUT_MS 3500
#define DEFAULT_ELECTION_MS 1000
#define DEFAULT_HEARTBEAT_MS 100

/* Report a change of manager once, whoever noticed it. */
static void check_manager(rshare_node *node)
{
    struct rs_cluster *cl = rs_cluster(node);
    uint32_t manager = rs_raft_leader(node);
    if (manager == cl->manager)
        return;
    cl->manager = manager;
    if (manager == rshare_node_id(node))
        cl->leader_since_us = rs_now_us(node);
    rs_cluster_emit(node, RSHARE_EVENT_MANAGER, manager);
}

static void run_duties(rshare_node *node, struct rs_timer *timer)
{
    (void)timer;
    check_manager(node);
    rs_raft_members_changed(node);
    rs_announce_check(node);
    rs_global_check_waiters(node);
}

void rs_cluster_kick(rshare_node *node)
{
    struct rs_cluster *cl = rs_cluster(node);
    if (cl->joined && !rs_timer_pending(&cl->duty_timer))
        rs_timer_schedule(node, &cl->duty_timer, rs_now_us(node));
}

/* The link's question in every handshake: is this key revoked? */
static bool identity_allowed(rshare_node *node, uint32_t id, const uint8_t pk[32])
{
    (void)id;
    return !rs_map_identity_revoked(&rs_cluster(node)->map, pk);
}

void rs_cluster_identity_sync(rshare_node *node)
{
    const struct rs_map *map = &rs_cluster(node)->map;
    for (size_t i = 0; i < map->revoked_count; i++)
        rs_link_identity_revoked(node, map->revoked[i].pk);
}

int rs_cluster_init(rshare_node *node)
{
    struct rs_cluster *cl = rs_cluster(node);
    memset(cl, 0, sizeof(*cl));
    rs_map_init(&cl->map);
    rs_link_set_identity_check(node, identity_allowed);
    rs_timer_init(&cl->duty_timer, run_duties);
    return 0;
}

void rs_cluster_fini(rshare_node *node)
{
    struct rs_cluster *cl = rs_cluster(node);
    if (!cl->joined)
        return;
    /* Outstanding requests and proposals complete first (they point at
     * waiters and request handles), then the waiters are told and freed. */
    rs_requests_fail_all(node, RSHARE_ESHUTDOWN);
    rs_raft_stop(node);
    rs_global_fini(node);
    rs_timer_cancel(node, &cl->duty_timer);
    rs_membership_fini(node);
    rs_map_clear(node, &cl->map);
    cl->joined = false;
}

void rs_cluster_emit(rshare_node *node, enum rshare_cluster_event event, uint32_t node_id)
{
    struct rs_cluster *cl = rs_cluster(node);
    if (cl->event_fn)
        cl->event_fn(node, event, node_id, cl->event_data);
}

RSHARE_API void rshare_cluster_config_init(struct rshare_cluster_config *config, size_t struct_size)
{
    if (!config || struct_size < sizeof(uint32_t))
        return;
    memset(config, 0, struct_size);
    config->struct_size = (uint32_t)struct_size;
}

static int resolve(rshare_node *node, const struct rshare_cluster_config *given,
                   struct rshare_cluster_config *cfg)
{
    if (given->struct_size < sizeof(uint32_t) * 2)
        return rs_errorf(node, RSHARE_EVERSION, "cluster config struct_size %u too small",
                         given->struct_size);
    memset(cfg, 0, sizeof(*cfg));
    memcpy(cfg, given, given->struct_size < sizeof(*cfg) ? given->struct_size : sizeof(*cfg));
    cfg->struct_size = sizeof(*cfg);
    if (!cfg->voters)
        cfg->voters = DEFAULT_VOTERS;
    if (!cfg->hello_interval_ms)
        cfg->hello_interval_ms = DEFAULT_HELLO_MS;
    if (!cfg->member_timeout_ms)
        cfg->member_timeout_ms = DEFAULT_MEMBER_TIMEOUT_MS;
    if (!cfg->election_timeout_ms)
        cfg->election_timeout_ms = DEFAULT_ELECTION_MS;
    if (!cfg->heartbeat_ms)
        cfg->heartbeat_ms = DEFAULT_HEARTBEAT_MS;
    if (cfg->voters > 7)
        return rs_errorf(node, RSHARE_EINVAL, "at most 7 voters");
    if (cfg->initial_voter_count > RS_MAX_INITIAL_VOTERS ||
        (cfg->initial_voter_count && !cfg->initial_voters))
        return rs_errorf(node, RSHARE_EINVAL, "initial_voters: 1 to %d node ids",
                         RS_MAX_INITIAL_VOTERS);
    struct rs_cluster *cl = rs_cluster(node);
    bool listed = false;
    for (uint32_t i = 0; i < cfg->initial_voter_count; i++) {
        uint32_t id = cfg->initial_voters[i];
        if (id == RSHARE_NODE_ID_NONE || id == RSHARE_NODE_ID_BROADCAST)
            return rs_errorf(node, RSHARE_EINVAL, "initial voter %u is not a node id", id);
        for (uint32_t k = 0; k < i; k++)
            if (cfg->initial_voters[k] == id)
                return rs_errorf(node, RSHARE_EINVAL, "initial voter %u listed twice", id);
        cl->initial_voters[i] = id;
        listed |= id == rshare_node_id(node);
    }
    cfg->initial_voters = cl->initial_voters;
    if (listed && !cfg->manager_eligible)
        return rs_errorf(node, RSHARE_EINVAL, "an initial voter must be manager-eligible");
    if (cfg->member_timeout_ms <= cfg->hello_interval_ms)
        return rs_errorf(node, RSHARE_EINVAL, "member_timeout_ms must exceed hello_interval_ms");
    if (cfg->heartbeat_ms * 2 > cfg->election_timeout_ms)
        return rs_errorf(node, RSHARE_EINVAL, "election_timeout_ms must be at least twice heartbeat_ms");
    if (cfg->manager_eligible && !rs_persist_available(node))
        return rs_errorf(node, RSHARE_EINVAL,
                         "a manager-eligible node needs persistence (state_dir or persist hook): "
                         "its votes must survive a restart");
    return 0;
}

RSHARE_API int rshare_cluster_join(rshare_node *node, const struct rshare_cluster_config *config)
{
    if (!node || !config)
        return RSHARE_EINVAL;
    struct rs_cluster *cl = rs_cluster(node);
    if (cl->joined)
        return rs_errorf(node, RSHARE_EEXIST, "already joined");
    int rc = resolve(node, config, &cl->config);
    if (rc < 0)
        return rc;
    cl->joined = true;
    rc = rs_raft_start(node);
    if (rc == 0)
        rc = rs_announce_start(node);
    if (rc == 0)
        rc = rs_global_start(node);
    if (rc == 0)
        rc = rs_membership_start(node);
    if (rc < 0) {
        rs_cluster_fini(node);
        return rc;
    }
    return 0;
}

RSHARE_API int rshare_cluster_members(rshare_node *node, struct rshare_member *out, size_t max,
                                      size_t struct_size, size_t *count)
{
    if (!node || !count || (max && (!out || struct_size < 2 * sizeof(uint32_t))))
        return RSHARE_EINVAL;
    struct rs_cluster *cl = rs_cluster(node);
    uint32_t manager = rs_raft_leader(node);
    for (size_t i = 0; i < cl->member_count && i < max; i++) {
        const struct rs_member *m = &cl->members[i];
        struct rshare_member e;
        memset(&e, 0, sizeof(e));
        e.struct_size = sizeof(e);
        e.id = m->id;
        e.slot = m->slot;
        e.install_order = m->install_order;
        e.flags = (m->alive ? RSHARE_MEMBER_ALIVE : 0) |
                  (m->hello_flags & RS_HELLO_ELIGIBLE ? RSHARE_MEMBER_ELIGIBLE : 0) |
                  (m->id == manager ? RSHARE_MEMBER_MANAGER : 0) |
                  (m->id == rshare_node_id(node) ? RSHARE_MEMBER_SELF : 0) |
                  (rs_raft_is_voter(node, m->id) ? RSHARE_MEMBER_VOTER : 0);
        size_t first;
        e.resources = (uint32_t)rs_map_host_resources(&cl->map, m->id, &first);
        e.capabilities = m->capabilities;
        size_t n = struct_size < sizeof(e) ? struct_size : sizeof(e);
        e.struct_size = (uint32_t)n;
        memcpy((char *)out + i * struct_size, &e, n);
    }
    *count = cl->member_count;
    return 0;
}

RSHARE_API uint32_t rshare_cluster_manager(rshare_node *node)
{
    return node ? rs_raft_leader(node) : 0;
}

RSHARE_API int rshare_cluster_map_version(rshare_node *node, uint32_t *epoch, uint64_t *version)
{
    if (!node)
        return RSHARE_EINVAL;
    struct rs_cluster *cl = rs_cluster(node);
    if (epoch)
        *epoch = cl->map.epoch;
    if (version)
        *version = cl->map.version;
    return 0;
}

RSHARE_API int rshare_cluster_force_alone(rshare_node *node)
{
    if (!node)
        return RSHARE_EINVAL;
    struct rs_cluster *cl = rs_cluster(node);
    if (!cl->joined)
        return rs_errorf(node, RSHARE_EINVAL, "force alone: this node has not joined a cluster");
    if (!cl->config.manager_eligible)
        return rs_errorf(node, RSHARE_EINVAL,
                         "force alone: this node is not manager-eligible, it cannot hold the map alone");
    return rs_raft_force_alone(node);
}

RSHARE_API int rshare_cluster_set_callback(rshare_node *node, rshare_cluster_event_fn fn,
                                           void *user_data)
{
    if (!node)
        return RSHARE_EINVAL;
    struct rs_cluster *cl = rs_cluster(node);
    cl->event_fn = fn;
    cl->event_data = user_data;
    return 0;
}
