/* rshare block — the memory backend: a zeroed buffer from the node's
 * allocator.  Every I/O is a memcpy done inside submit (the core delivers
 * the completion later, from the node's loop); discard zeroes the range so
 * that it reads back as zeros, like a thin-provisioned disk; flush has
 * nothing to do (no CAP_FLUSH: the core completes it without asking). */
#include "config.h"

#include <string.h>

#include "backend.h"

struct memory_backend {
    rshare_node *node;
    uint8_t *data;
};

static int memory_submit(void *backend, struct rshare_block_io *io)
{
    struct memory_backend *m = backend;
    /* The core checked the range against the size, which fits in size_t. */
    uint8_t *at = m->data + (size_t)io->offset;
    switch (io->op) {
    case RSHARE_BLOCK_READ:
        memcpy(io->buf, at, (size_t)io->length);
        break;
    case RSHARE_BLOCK_WRITE:
        memcpy(at, io->buf, (size_t)io->length);
        break;
    case RSHARE_BLOCK_DISCARD:
        memset(at, 0, (size_t)io->length);
        break;
    default:
        break;
    }
    io->done(io, 0);
    return 0;
}

static void memory_close(void *backend)
{
    struct memory_backend *m = backend;
    rs_free(m->node, m->data);
    rs_free(m->node, m);
}

RSHARE_API int rshare_block_open_memory(rshare_node *node, uint64_t bytes, uint32_t block_size,
                                        rshare_block **out)
{
    if (!node || !out)
        return RSHARE_EINVAL;
    *out = NULL;
    if (block_size == 0)
        block_size = 512;
    if (block_size < 512 || block_size > 65536 || (block_size & (block_size - 1)))
        return rs_errorf(node, RSHARE_EINVAL, "block size %u: a power of two, 512 to 65536",
                         block_size);
    if (bytes == 0 || bytes % block_size || bytes > SIZE_MAX / 2)
        return rs_errorf(node, RSHARE_EINVAL,
                         "memory block of %llu bytes: not a positive multiple of %u",
                         (unsigned long long)bytes, block_size);
    struct memory_backend *m = rs_calloc(node, 1, sizeof(*m));
    if (m)
        m->data = rs_calloc(node, 1, (size_t)bytes);
    if (!m || !m->data) {
        rs_free(node, m);
        return rs_errorf(node, RSHARE_ENOMEM, "no memory for a %llu-byte block",
                         (unsigned long long)bytes);
    }
    m->node = node;
    static const struct rshare_block_ops ops = {.struct_size = sizeof(ops),
                                                .submit = memory_submit,
                                                .close = memory_close};
    struct rshare_block_info info;
    rshare_block_info_init(&info, sizeof(info));
    info.block_size = block_size;
    info.block_count = bytes / block_size;
    info.caps = RSHARE_BLOCK_CAP_DISCARD;
    int rc = rs_block_create(node, &ops, m, &info, NULL, out);
    if (rc < 0)
        memory_close(m);
    return rc;
}
