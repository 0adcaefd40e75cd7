/* rshare — shareable resources and their descriptors: what a node offers
 * (block devices, keyboards, pointers, displays), how it is described, and
 * the registration API through which an application shares or withdraws
 * one.  Descriptors travel as CBOR (doc/PROTOCOL.md). */
#ifndef RSHARE_RESOURCE_H
#define RSHARE_RESOURCE_H

#include <rshare/common.h>

#ifdef __cplusplus
extern "C" {
#endif

enum rshare_resource_kind {
    RSHARE_RESOURCE_BLOCK = 1,
    RSHARE_RESOURCE_KEYBOARD = 2,
    RSHARE_RESOURCE_POINTER = 3,
    RSHARE_RESOURCE_DISPLAY = 4
};

#define RSHARE_RIGHT_READ 0x1u
#define RSHARE_RIGHT_WRITE 0x2u

#define RSHARE_RESOURCE_FLAG_REMOVABLE 0x1u
#define RSHARE_RESOURCE_FLAG_ROTATIONAL 0x2u

#define RSHARE_RESOURCE_PATH_MAX 256 /* UEFI device-path text or stable name */
#define RSHARE_RESOURCE_TEXT_MAX 64  /* model, serial */
#define RSHARE_RESOURCES_PER_NODE 64

/* A resource descriptor.  Initialise with rshare_resource_desc_init(). */
struct rshare_resource_desc {
    uint32_t struct_size;
    uint32_t kind;          /* enum rshare_resource_kind */
    uint64_t id;            /* cluster-wide id, set by rshare: host << 32 | local number */
    uint32_t host;          /* hosting node, set by rshare */
    uint32_t rights;        /* RSHARE_RIGHT_* offered */
    uint32_t flags;         /* RSHARE_RESOURCE_FLAG_* */
    uint32_t block_size;    /* block devices: logical block size in bytes */
    uint64_t block_count;   /* block devices: size in logical blocks */
    uint32_t width, height; /* displays: pixels */
    uint32_t pixel_format;  /* displays: DRM fourcc code */
    char path[RSHARE_RESOURCE_PATH_MAX];
    char model[RSHARE_RESOURCE_TEXT_MAX];
    char serial[RSHARE_RESOURCE_TEXT_MAX];
};

/* Zero `desc` and set its struct_size (pass sizeof(*desc)): every field
 * not set afterwards takes its default. */
RSHARE_API void rshare_resource_desc_init(struct rshare_resource_desc *desc, size_t struct_size);

/* Share a resource: the descriptor is checked (kind, geometry, non-empty
 * path unique on this node), numbered, and announced to the cluster.
 * Returns 0 and the resource's id, or a negative code. */
RSHARE_API int rshare_resource_register(rshare_node *node, const struct rshare_resource_desc *desc,
                                        uint64_t *id_out);
/* Stop sharing it (RSHARE_ENOENT when this node does not host `id`). */
RSHARE_API int rshare_resource_withdraw(rshare_node *node, uint64_t id);

/* The resources this node shares (`local` non-zero) or the whole cluster's
 * as this node's copy of the global map holds them.  Fills up to `max`
 * descriptors of `struct_size` bytes each and sets `*count` to how many
 * there are in all. */
RSHARE_API int rshare_resource_list(rshare_node *node, int local,
                                    struct rshare_resource_desc *out, size_t max,
                                    size_t struct_size, size_t *count);

/* Linux discovery helper: propose shareable resources found in /sys and
 * /dev (block devices with size, logical block size, model and serial;
 * input devices), for an agent to choose from.  `sysfs_root` is normally
 * "/sys" (tests point it elsewhere).  Fills up to `max` descriptors and sets
 * `*count` to how many were found. */
RSHARE_API int rshare_discover_linux(const char *sysfs_root, struct rshare_resource_desc *out,
                                     size_t max, size_t struct_size, size_t *count);

#ifdef __cplusplus
}
#endif
#endif
