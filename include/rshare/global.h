/* rshare — global descriptors: what the manager keeps in the global map
 * beyond the nodes' own resources.  Virtual volumes as an operator defines
 * them (layout and member disks; the volume engine serves them) and KVM
 * routes (which node receives a keyboard's or pointer's input, which node
 * shows a display).  Every node holds them in its copy of the map. */
#ifndef RSHARE_GLOBAL_H
#define RSHARE_GLOBAL_H

#include <rshare/common.h>

#ifdef __cplusplus
extern "C" {
#endif

enum rshare_layout {
    RSHARE_LAYOUT_LINEAR = 1,
    RSHARE_LAYOUT_RAID0 = 2,
    RSHARE_LAYOUT_RAID1 = 3,
    RSHARE_LAYOUT_RAID5 = 4,
    RSHARE_LAYOUT_RAID10 = 5
};

/* RAID-5 parity placement, numbered as Linux md numbers them. */
enum rshare_raid5_algorithm {
    RSHARE_RAID5_LEFT_ASYMMETRIC = 0,
    RSHARE_RAID5_RIGHT_ASYMMETRIC = 1,
    RSHARE_RAID5_LEFT_SYMMETRIC = 2, /* md's default */
    RSHARE_RAID5_RIGHT_SYMMETRIC = 3
};

/* What a member slot of a volume holds, kept in the map. */
enum rshare_volume_member_state {
    RSHARE_VOLUME_MEMBER_ACTIVE = 0,     /* in sync */
    RSHARE_VOLUME_MEMBER_FAILED = 1,     /* lost: reads are reconstructed, writes skip it */
    RSHARE_VOLUME_MEMBER_REBUILDING = 2  /* a replacement being rebuilt: written, not read */
};

#define RSHARE_VOLUME_NAME_MAX 64
#define RSHARE_VOLUME_MEMBERS_MAX 32
#define RSHARE_VOLUME_SPARES_MAX 8

/* A volume definition.  Initialise with rshare_volume_desc_init(). */
struct rshare_volume_desc {
    uint32_t struct_size;
    uint32_t id;            /* 0 when defining a new volume; set by the map */
    char name[RSHARE_VOLUME_NAME_MAX]; /* unique in the cluster */
    uint32_t layout;        /* enum rshare_layout */
    uint32_t algorithm;     /* RAID-5: enum rshare_raid5_algorithm */
    uint32_t chunk_sectors; /* RAID-0/5/10: a power of two, 8 .. 65536 (512-byte sectors) */
    uint32_t member_count;
    uint32_t spare_count;
    uint32_t flags;         /* reserved, 0 */
    uint64_t generation;    /* bumped by the map at every change of the volume; a
                               redefinition naming a generation other than the
                               current one is refused (RSHARE_ESTALE), 0 skips the check */
    uint64_t members[RSHARE_VOLUME_MEMBERS_MAX]; /* block resource ids, in layout order */
    uint64_t spares[RSHARE_VOLUME_SPARES_MAX];
    uint32_t member_state[RSHARE_VOLUME_MEMBERS_MAX]; /* enum rshare_volume_member_state */
    /* RAID-1/5/10: the sectors (512 bytes) every member contributes, fixed by
     * the map when the volume is first defined (the smallest member); a spare
     * must be at least this large.  0 for linear and RAID-0. */
    uint64_t component_sectors;
};

/* Zero `desc` and set its struct_size (pass sizeof(*desc)): every field
 * not set afterwards takes its default. */
RSHARE_API void rshare_volume_desc_init(struct rshare_volume_desc *desc, size_t struct_size);

/* Completion of a change to the global map: `status` is 0 once the change
 * is in this node's copy of the map, or a negative code (RSHARE_EREMOTE
 * with the manager's reason, RSHARE_ETIMEDOUT, ...).  Changes cannot be
 * asked for from inside a cluster event callback on the manager: that
 * returns RSHARE_EBUSY (ask again from outside it). */
typedef void (*rshare_map_change_fn)(rshare_node *node, int status, void *user_data);

/* Define a volume (id 0) or redefine one (its id): sent to the manager,
 * which checks it against the map (members are block resources of the
 * same block size, each in one volume only; member counts fit the layout;
 * the name is unique) and commits it.  Returns 0 (then `done` is called
 * exactly once) or a negative code. */
RSHARE_API int rshare_volume_define(rshare_node *node, const struct rshare_volume_desc *desc,
                                    rshare_map_change_fn done, void *user_data);
RSHARE_API int rshare_volume_undefine(rshare_node *node, uint32_t id, rshare_map_change_fn done,
                                      void *user_data);
/* The volumes in this node's copy of the map, by id. */
RSHARE_API int rshare_volume_list(rshare_node *node, struct rshare_volume_desc *out, size_t max,
                                  size_t struct_size, size_t *count);

/* A KVM route: input from a keyboard or pointer resource goes to `target`;
 * a display resource is shown on `target`. */
struct rshare_kvm_route {
    uint32_t struct_size;
    uint32_t target;   /* node id */
    uint64_t resource; /* keyboard, pointer or display resource id */
};

/* Route a resource to a node (target 0 removes the route). */
RSHARE_API int rshare_kvm_route_set(rshare_node *node, uint64_t resource, uint32_t target,
                                    rshare_map_change_fn done, void *user_data);
RSHARE_API int rshare_kvm_route_list(rshare_node *node, struct rshare_kvm_route *out, size_t max,
                                     size_t struct_size, size_t *count);

#ifdef __cplusplus
}
#endif
#endif
