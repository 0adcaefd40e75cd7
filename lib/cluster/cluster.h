/* rshare cluster — internal interface of the cluster layer: membership by
 * hello messages, the node's own resources, the replicated global map (a
 * libraft state machine) and the manager's duties.  Sits on lib/msg. */
#ifndef RSHARE_CLUSTER_INTERNAL_H
#define RSHARE_CLUSTER_INTERNAL_H

#include <stdbool.h>

#include "core/core.h"
#include "map.h"

/* rshare's own message types (lib/msg carries them with raw CBOR bodies). */
enum rs_cluster_msg {
    RS_MSG_HELLO = 0x0001,     /* notification, broadcast: who I am */
    RS_MSG_RAFT = 0x0002,      /* notification: one consensus message */
    RS_MSG_RESOURCES = 0x0003, /* request to the manager: my resources */
    RS_MSG_PROPOSE = 0x0004    /* request to the manager: a map change */
};

/* Hello flags on the wire. */
#define RS_HELLO_ELIGIBLE 0x1u
#define RS_HELLO_HAS_MAP 0x2u
#define RS_HELLO_UNICAST 0x4u /* sent to this node alone: answer the same way */

struct rs_member {
    uint32_t id;
    uint16_t slot;
    uint16_t install_order;
    uint32_t hello_flags;
    uint32_t capabilities;
    uint64_t last_seen_us;
    uint64_t up_since_us; /* when it was last seen coming up */
    uint64_t last_raft_us; /* last consensus message from it */
    bool alive;
    bool hello_back; /* it sends us unicast hellos: we send it ours */
};

struct rs_raft; /* raft.c */

/* An internal observer of members coming up and going down (lib/kvm
 * releases keys on a lost link).  Owned by the observer, kept in a list. */
struct rs_member_observer {
    void (*fn)(rshare_node *node, uint32_t id, bool up, void *user_data);
    void *user_data;
    struct rs_member_observer *next;
};

#define RS_MAX_INITIAL_VOTERS 7

struct rs_cluster {
    bool joined;
    struct rshare_cluster_config config;
    uint32_t initial_voters[RS_MAX_INITIAL_VOTERS]; /* copied from the config */
    rshare_cluster_event_fn event_fn;
    void *event_data;

    /* Membership as heard in hellos (this node included), sorted by id. */
    struct rs_member *members;
    size_t member_count, member_cap;
    struct rs_timer hello_timer;
    struct rs_member_observer *observers;
    struct rs_timer duty_timer;

    /* Resources this node shares. */
    struct rshare_resource_desc local[RSHARE_RESOURCES_PER_NODE];
    size_t local_count;
    uint32_t next_local; /* numbers resource ids: host << 32 | number */
    bool announce_pending; /* a RESOURCES request is on its way */
    uint64_t announced_at_version; /* the map version that will hold it */

    struct rs_map map;
    struct rs_raft *raft;
    uint32_t manager;         /* last reported through RSHARE_EVENT_MANAGER */
    uint64_t leader_since_us; /* when this node last became manager */
    struct rs_map_waiter *waiters; /* changes asked for, not yet in our map */
};

struct rs_cluster *rs_cluster(rshare_node *node);
int rs_cluster_init(rshare_node *node);
void rs_cluster_fini(rshare_node *node);

void rs_cluster_emit(rshare_node *node, enum rshare_cluster_event event, uint32_t node_id);
/* After the map's revoked keys changed: the link forgets their pairs. */
void rs_cluster_identity_sync(rshare_node *node);
/* Something changed (members, the map, local resources): run the cluster's
 * duties (bootstrap, manager work, announcing resources) on the next
 * processing step — never from inside a libraft callback, which must not
 * re-enter libraft. */
void rs_cluster_kick(rshare_node *node);

/* membership.c */
int rs_membership_start(rshare_node *node);
const struct rs_member *rs_member_find(rshare_node *node, uint32_t id);
/* A consensus message came from `id` (proof that it is alive and talking). */
void rs_member_heard_raft(rshare_node *node, uint32_t id);
void rs_membership_fini(rshare_node *node);
void rs_membership_observe(rshare_node *node, struct rs_member_observer *obs);
void rs_membership_unobserve(rshare_node *node, struct rs_member_observer *obs);

/* announce.c: this node's resources reach the map through the manager. */
void rs_announce_check(rshare_node *node);
int rs_announce_start(rshare_node *node);
/* A proposal made for a peer's request was applied (or refused): answer the
 * request (an rshare_request *) with the log index that holds the change. */
void rs_reply_when_applied(rshare_node *node, int status, uint64_t index, void *request);

/* global.c: volume definitions and KVM routes, changed through the manager. */
struct rs_map_waiter;
int rs_global_start(rshare_node *node);
void rs_global_check_waiters(rshare_node *node);
void rs_global_fini(rshare_node *node);

/* raft.c */
int rs_raft_start(rshare_node *node);
void rs_raft_stop(rshare_node *node);
bool rs_raft_has_state(rshare_node *node);
bool rs_raft_is_leader(rshare_node *node);
bool rs_raft_is_voter(rshare_node *node, uint32_t id);
uint32_t rs_raft_leader(rshare_node *node);
/* Propose a map command (CBOR, copied); `done` runs once it is applied or
 * failed.  Only on the leader. */
typedef void (*rs_raft_done_fn)(rshare_node *node, int status, uint64_t index, void *user_data);
int rs_raft_propose(rshare_node *node, const void *cmd, size_t len, rs_raft_done_fn done,
                    void *user_data);
/* Called by membership when the set of live members changes. */
void rs_raft_members_changed(rshare_node *node);
/* The operator's override (rshare_cluster_force_alone): restart consensus
 * with this node as the map's only voter.  Never from a libraft callback. */
int rs_raft_force_alone(rshare_node *node);

#endif
