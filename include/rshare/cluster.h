/* rshare — the cluster: nodes discover each other, a manager (the leader of
 * the replicated global resource map) is chosen among the manager-eligible
 * nodes, and every node keeps a copy of the map. */
#ifndef RSHARE_CLUSTER_H
#define RSHARE_CLUSTER_H

#include <rshare/common.h>

#ifdef __cplusplus
extern "C" {
#endif

struct rshare_cluster_config {
    uint32_t struct_size;
    /* Non-zero: this node may vote on map changes and become manager.
     * Eligible nodes must have persistence (state_dir or a persist hook). */
    uint32_t manager_eligible;
    /* The voters of a brand-new map: the same list on every node (for
     * example the nodes in the lowest three slots).  Each listed node that
     * has no map yet starts it with exactly this configuration, as
     * consensus requires; no discovery race can split the cluster.  Required
     * on listed nodes; others join the map when the manager adds them. */
    const uint32_t *initial_voters;
    uint32_t initial_voter_count;
    /* Voters wanted in the map's consensus group (default 3, at most 7);
     * further eligible nodes follow as non-voting copies. */
    uint32_t voters;
    uint32_t hello_interval_ms;   /* discovery and liveness, default 1000 */
    uint32_t member_timeout_ms;   /* silent this long = gone, default 3500 */
    uint32_t election_timeout_ms; /* map consensus, default 1000 */
    uint32_t heartbeat_ms;        /* map consensus, default 100 */
    /* The nomination rule.  0 (default): the preferred manager is the live
     * voter in the lowest chassis slot; non-zero: the first-installed one
     * (lowest install_order of rshare_node_config).  Ties go to the lower
     * node id.  Must be the same on every manager-eligible node. */
    uint32_t prefer_install_order;
    /* What this node can do, announced in its hellos (RSHARE_CAP_* and,
     * above bit 15, the application's own bits). */
    uint32_t capabilities;
};

/* Capability bits announced in hellos. */
#define RSHARE_CAP_BLOCK 0x0001u        /* serves block devices */
#define RSHARE_CAP_KVM_INPUT 0x0002u    /* has a keyboard or pointer to share */
#define RSHARE_CAP_KVM_DISPLAY 0x0004u  /* drives or shows displays */
#define RSHARE_CAP_VOLUMES 0x0008u      /* runs the volume engine */
#define RSHARE_CAP_APP_FIRST 0x10000u   /* bits from here on are the application's */

/* Zero `config` and set its struct_size (pass sizeof(*config)): every field
 * not set afterwards takes its default. */
RSHARE_API void rshare_cluster_config_init(struct rshare_cluster_config *config,
                                           size_t struct_size);

/* Start discovery and map synchronisation on all of the node's transports. */
RSHARE_API int rshare_cluster_join(rshare_node *node, const struct rshare_cluster_config *config);

/* Member flags. */
#define RSHARE_MEMBER_ALIVE 0x01u    /* heard from within member_timeout_ms */
#define RSHARE_MEMBER_ELIGIBLE 0x02u /* manager-eligible */
#define RSHARE_MEMBER_VOTER 0x04u    /* votes on map changes */
#define RSHARE_MEMBER_MANAGER 0x08u  /* the current manager */
#define RSHARE_MEMBER_SELF 0x10u

struct rshare_member {
    uint32_t struct_size;
    uint32_t id;
    uint16_t slot;
    uint16_t install_order;
    uint32_t flags;        /* RSHARE_MEMBER_* */
    uint32_t resources;    /* resources it shares, per the global map */
    uint32_t capabilities; /* as announced in its hellos */
};

/* The members this node knows (itself included), by id.  Fills up to `max`
 * entries of `struct_size` bytes and sets `*count` to how many there are. */
RSHARE_API int rshare_cluster_members(rshare_node *node, struct rshare_member *out, size_t max,
                                      size_t struct_size, size_t *count);

/* The current manager's id, or 0 while there is none. */
RSHARE_API uint32_t rshare_cluster_manager(rshare_node *node);

/* This node's copy of the map: its epoch and version (the index of the last
 * applied change).  Both only grow. */
RSHARE_API int rshare_cluster_map_version(rshare_node *node, uint32_t *epoch, uint64_t *version);

/* The operator's override for a map that lost its other voters, such as a
 * 2-node chassis whose peer is gone: map changes otherwise wait for the
 * peer.  This node continues the map as its only voter: it becomes manager
 * alone, commits the changes that were waiting, and adds the peer back (as
 * a copy, then a voter) when it returns from its persisted state.
 *
 * DANGEROUS: use it only when the operator knows the other voters are down
 * (powered off, removed), not merely unreachable.  A partitioned peer that
 * is overridden on both sides gives two maps that can never be reconciled.
 * With more than two voters, changes committed by the others while this
 * node was away are lost.
 *
 * Returns 0 (also when this node already is the only voter);
 * RSHARE_EINVAL if the node has not joined, is not manager-eligible or is
 * not a voter of the map; RSHARE_EAGAIN if it holds no map yet;
 * RSHARE_EBUSY if another voter is alive (heard within member_timeout_ms)
 * or when called from an RSHARE_EVENT_MAP callback (call it once
 * rshare_node_process() has returned); RSHARE_EIO if consensus
 * could not be restarted (the node then carries on as before).
 * rshare_node_errmsg() says why. */
RSHARE_API int rshare_cluster_force_alone(rshare_node *node);

enum rshare_cluster_event {
    RSHARE_EVENT_MEMBER_UP = 1,   /* a node was discovered or came back */
    RSHARE_EVENT_MEMBER_DOWN = 2, /* a node fell silent */
    RSHARE_EVENT_MANAGER = 3,     /* the manager changed (node_id 0: none) */
    RSHARE_EVENT_MAP = 4          /* the map changed (node_id: who changed it) */
};

typedef void (*rshare_cluster_event_fn)(rshare_node *node, enum rshare_cluster_event event,
                                        uint32_t node_id, void *user_data);

/* The application's cluster events (one callback per node; NULL removes
 * it).  Called from inside the node's processing: print, record, do not
 * block. */
RSHARE_API int rshare_cluster_set_callback(rshare_node *node, rshare_cluster_event_fn fn,
                                           void *user_data);

#ifdef __cplusplus
}
#endif
#endif
