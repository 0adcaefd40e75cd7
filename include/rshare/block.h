/* rshare — block backends: what serves the blocks of a disk.
 *
 * A backend is a small versioned vtable (submit an I/O, close) with a
 * context pointer.  rshare ships backends for a file or block device, for
 * memory, and for another node's shared disk (remote); applications may
 * write their own.  An rshare_block binds a backend to a node: every I/O
 * completes through the node's event loop, never from inside the call that
 * started it.
 *
 * A block resource is shared together with the backend that serves it
 * (rshare_resource_register_block): other nodes then reach it with rshare
 * block requests, which its host checks and serves. */
#ifndef RSHARE_BLOCK_H
#define RSHARE_BLOCK_H

#include <rshare/common.h>
#include <rshare/resource.h>

#ifdef __cplusplus
extern "C" {
#endif

enum rshare_block_op {
    RSHARE_BLOCK_READ = 1,
    RSHARE_BLOCK_WRITE = 2,
    RSHARE_BLOCK_FLUSH = 3,  /* make completed writes durable; offset and length 0 */
    RSHARE_BLOCK_DISCARD = 4 /* the range's contents are no longer needed */
};

/* Capabilities (rshare_block_info.caps). */
#define RSHARE_BLOCK_CAP_FLUSH 0x1u    /* flush does something (a volatile cache) */
#define RSHARE_BLOCK_CAP_DISCARD 0x2u  /* discard is supported */
#define RSHARE_BLOCK_CAP_READONLY 0x4u /* writes and discards fail with RSHARE_ENOTSUP */

struct rshare_block_io;
/* Completion: `status` is 0 or a negative RSHARE_E* code (RSHARE_EIO for a
 * medium error, RSHARE_ETIMEDOUT or RSHARE_EUNREACH for a backend that did
 * not answer). */
typedef void (*rshare_block_done_fn)(struct rshare_block_io *io, int status);

/* One I/O.  Owned by the submitter, which keeps it (and `buf`) alive until
 * `done` runs. */
struct rshare_block_io {
    uint32_t struct_size;
    uint32_t op;             /* enum rshare_block_op */
    uint64_t offset;         /* bytes; a multiple of the block size */
    uint64_t length;         /* bytes; a multiple of the block size (0 for flush) */
    void *buf;               /* read: filled; write: the data; otherwise NULL */
    rshare_block_done_fn done;
    void *user_data;
};

/* Geometry and capabilities of a backend. */
struct rshare_block_info {
    uint32_t struct_size;
    uint32_t block_size;   /* logical block size: 512 or 4096 */
    uint64_t block_count;  /* size in logical blocks */
    uint32_t caps;         /* RSHARE_BLOCK_CAP_* */
    uint32_t max_io_bytes; /* largest single I/O the backend takes; 0: no limit */
};

/* A backend.  `submit` starts one I/O and returns 0 (then `io->done` is
 * called exactly once, possibly before submit returns: rshare defers it to
 * the node's loop) or a negative code (then `done` is never called).
 * rshare checks every I/O against the geometry before submit sees it.
 * `close` releases the backend; it is called with no I/O in flight. */
struct rshare_block_ops {
    uint32_t struct_size;
    uint32_t reserved_;
    int (*submit)(void *backend, struct rshare_block_io *io);
    void (*close)(void *backend);
};

/* A backend bound to a node. */
typedef struct rshare_block rshare_block;

/* Zero `info` and set its struct_size (pass sizeof(*info)): every field
 * not set afterwards takes its default. */
RSHARE_API void rshare_block_info_init(struct rshare_block_info *info, size_t struct_size);
/* Zero `io` and set its struct_size (pass sizeof(*io)): every field
 * not set afterwards takes its default. */
RSHARE_API void rshare_block_io_init(struct rshare_block_io *io, size_t struct_size);

/* An application's own backend.  `ops` is copied; `backend` is passed to
 * every call. */
RSHARE_API int rshare_block_create(rshare_node *node, const struct rshare_block_ops *ops,
                                   void *backend, const struct rshare_block_info *info,
                                   rshare_block **out);

/* Flags of rshare_block_open_file(). */
#define RSHARE_BLOCK_OPEN_READONLY 0x1u
#define RSHARE_BLOCK_OPEN_DIRECT 0x2u /* O_DIRECT: bypass the page cache */

/* A file or block device: pread/pwrite, flush = fdatasync, discard =
 * fallocate(PUNCH_HOLE) or BLKDISCARD.  `block_size` 0 takes the device's
 * logical block size (512 for a regular file); a regular file's size must
 * be a multiple of it. */
RSHARE_API int rshare_block_open_file(rshare_node *node, const char *path, uint32_t flags,
                                      uint32_t block_size, rshare_block **out);

/* `bytes` of zeroed memory (a multiple of `block_size`). */
RSHARE_API int rshare_block_open_memory(rshare_node *node, uint64_t bytes, uint32_t block_size,
                                        rshare_block **out);

/* A block resource of the global map, wherever it lives: on this node the
 * registered backend serves it directly; elsewhere each I/O becomes block
 * requests to its host (split to the transport's message limits).  Errors
 * the host reports come back as their own codes. */
RSHARE_API int rshare_block_open_resource(rshare_node *node, uint64_t resource_id,
                                          rshare_block **out);

/* The block's geometry and capabilities (`info->struct_size` set by the
 * caller, as by rshare_block_info_init()). */
RSHARE_API int rshare_block_get_info(const rshare_block *block, struct rshare_block_info *info);

/* Start an I/O (see struct rshare_block_ops for when `done` runs).
 * RSHARE_EINVAL for a range past the end or not aligned to the block
 * size; RSHARE_ENOTSUP for an operation the backend lacks. */
RSHARE_API int rshare_block_submit(rshare_block *block, struct rshare_block_io *io);

/* Read, write or flush through the block, running the node's loop until
 * the I/O completes; returns its status. */
RSHARE_API int rshare_block_read_sync(rshare_block *block, uint64_t offset, void *buf,
                                      size_t length);
RSHARE_API int rshare_block_write_sync(rshare_block *block, uint64_t offset, const void *buf,
                                       size_t length);
RSHARE_API int rshare_block_flush_sync(rshare_block *block);

/* Release the block; I/O still in flight completes with RSHARE_ECANCELED
 * first.  A block still registered as a resource is withdrawn. */
RSHARE_API void rshare_block_close(rshare_block *block);

/* Share a block resource served by `block` (which must outlive the
 * registration).  Fields of `desc` left 0 (block_size, block_count) are
 * taken from the backend; `rights` limits what other nodes may do. */
RSHARE_API int rshare_resource_register_block(rshare_node *node,
                                              const struct rshare_resource_desc *desc,
                                              rshare_block *block, uint64_t *id_out);

#ifdef __cplusplus
}
#endif
#endif
