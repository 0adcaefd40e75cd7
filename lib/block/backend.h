/* rshare block — internal interface of the block core: the rshare_block
 * handle (a backend vtable bound to a node), the per-node table of block
 * resources this node serves, and what the volume engine and the built-in
 * backends need beyond the public API (include/rshare/block.h).
 *
 * lib/block sits above lib/cluster and calls only downward. */
#ifndef RSHARE_BLOCK_BACKEND_H
#define RSHARE_BLOCK_BACKEND_H

#include <stdbool.h>

#include "core/core.h"
#include "rshare/access.h"
#include "rshare/block.h"

/* One block resource this node serves (rshare_resource_register_block). */
struct rs_block_reg {
    uint64_t id;          /* 0: a free entry */
    rshare_block *block;  /* the backend that serves it */
    uint32_t rights;      /* RSHARE_RIGHT_* other nodes have */
};

/* Per-node state of lib/block, embedded in the node (lib/node.c). */
struct rs_blocks {
    struct rs_block_reg regs[RSHARE_RESOURCES_PER_NODE];
    rshare_block *open;    /* every open handle of this node (for node teardown) */
    bool handler_set;      /* RS_MSG_BLOCK is served */
};

struct rs_blocks *rs_blocks(rshare_node *node); /* lib/node.c */
/* Set up after the cluster layer, torn down before it: closes every handle
 * still open (their I/O completes with RSHARE_ECANCELED). */
int rs_blocks_init(rshare_node *node);
void rs_blocks_fini(rshare_node *node);

/* The same contract as rshare_block_submit(): the I/O is checked against
 * the block's geometry and capabilities; 0 means `io->done` runs exactly
 * once, later, from the node's loop (never before this call returns); a
 * negative code means it never runs.  For the volume engine: member I/O
 * goes through this whatever the member's backend (file, memory, remote). */
int rs_block_submit(rshare_block *block, struct rshare_block_io *io);
/* A read into, or a write from, the concatenation of `nseg` buffers (the
 * volume engine's runs and plugs: one message instead of one per buffer,
 * with no copy to join or part them).  `io->buf` is the first segment's,
 * `io->length` their sum; the segments live until `io->done`.  Only
 * blocks whose backend said it takes them (rs_block_takes_vectors: the
 * remote backend) do; RSHARE_ENOTSUP otherwise, before anything is
 * checked or started. */
struct rs_seg;
int rs_block_submit_vec(rshare_block *block, struct rshare_block_io *io,
                        const struct rs_seg *seg, uint32_t nseg);
void rs_block_takes_vectors(rshare_block *block);
/* For a backend that takes them: the segments of an I/O it was given, if
 * it came from rs_block_submit_vec (else false). */
bool rs_block_io_segments(const struct rshare_block_io *io, const struct rs_seg **seg,
                          uint32_t *nseg);
/* The range part of that check: `length` bytes at `offset` are whole
 * blocks, not none, and within the block; else RSHARE_EINVAL with the
 * detail in the node's error message.  For a request split into parts
 * (serve.c), so that no part runs when a later one would be refused. */
int rs_block_check_range(const rshare_block *block, uint64_t offset, uint64_t length);
/* The node the block is bound to. */
rshare_node *rs_block_node(const rshare_block *block);
/* The backend behind `block` when it was created with `ops` (a built-in
 * backend recognising its own handles), else NULL. */
void *rs_block_backend_of(const rshare_block *block, const struct rshare_block_ops *ops);
/* The block's geometry and capabilities (never NULL). */
const struct rshare_block_info *rs_block_info(const rshare_block *block);

/* For the built-in backends: a block from a vtable with one more entry.
 * `abandon`, when set, is called by rshare_block_close() before `close`
 * while the backend still holds I/O: the backend promises never to call
 * those I/Os' `done` (remote requests still out finish on their own),
 * so the handle need not wait for them. */
int rs_block_create(rshare_node *node, const struct rshare_block_ops *ops, void *backend,
                    const struct rshare_block_info *info, void (*abandon)(void *backend),
                    rshare_block **out);

/* backend_file.c, backend_memory.c, remote.c: the built-in backends. */
int rs_block_open_remote(rshare_node *node, const struct rshare_resource_desc *desc,
                         rshare_block **out);
/* Credentials a caller gives (rshare_block_set_credentials, the volume's
 * copy of its own): RSHARE_EVERSION when struct_size lacks `fence`,
 * RSHARE_EINVAL for a cookie above RSHARE_ACCESS_COOKIE_MAX bytes or a
 * length without one; nothing is changed then. */
int rs_block_check_credentials(rshare_node *node, const struct rshare_access_credentials *cred);

/* serve.c: the host side of block requests. */
int rs_block_serve_init(rshare_node *node);
void rs_block_serve_fini(rshare_node *node);
/* Whether `block` may serve a resource: not a shortcut, not closed, not
 * serving one already. */
bool rs_block_can_serve(const rshare_block *block);
/* Remember that `block` serves resource `id` (withdrawn when it closes);
 * 0 forgets it. */
void rs_block_set_registered(rshare_block *block, uint64_t id);
/* The registration of resource `id` on this node, or NULL (also when the
 * application withdrew it with rshare_resource_withdraw()). */
struct rs_block_reg *rs_block_reg_find(rshare_node *node, uint64_t id);

#endif
