/* rshare block — the file backend: a regular file or a block device.
 * pread/pwrite loops (short transfers, EINTR), flush = fdatasync, discard =
 * fallocate(PUNCH_HOLE | KEEP_SIZE) for files and BLKDISCARD for devices,
 * geometry from BLKGETSIZE64/BLKSSZGET, optional O_DIRECT.
 *
 * The system calls run inside submit, on the caller's thread: the node
 * never starts threads, and the core delivers the completion from the
 * node's loop as for any backend.  A slow disk therefore stalls the loop
 * for the length of one I/O; an asynchronous variant (io_uring) can be a
 * backend of its own behind the same vtable. */
#define _GNU_SOURCE /* O_DIRECT, fallocate */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"

/* O_DIRECT wants memory aligned to the device's logical block size; a page
 * is always enough.  Callers' buffers that are not aligned go through a
 * bounce buffer of this many bytes at most per system call. */
#define DIRECT_ALIGN 4096u
#define BOUNCE_BYTES (1u << 20)

struct file_backend {
    rshare_node *node;
    int fd;
    bool device; /* a block device (BLKDISCARD) rather than a regular file */
    bool direct;
    uint8_t *bounce_mem; /* allocation behind `bounce` */
    uint8_t *bounce;     /* DIRECT_ALIGN-aligned, BOUNCE_BYTES long; O_DIRECT only */
};

/* errno after a failed system call → an RSHARE_E* code, with the detail. */
static int file_error(struct file_backend *f, const char *what, uint64_t offset)
{
    int e = errno;
    int code;
    switch (e) {
    case EIO:
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
        code = RSHARE_EIO;
        break;
    case EOPNOTSUPP:
    case ENOTTY:
    case EROFS:
    case EBADF:
        code = RSHARE_ENOTSUP;
        break;
    case ENOMEM:
        code = RSHARE_ENOMEM;
        break;
    default:
        code = RSHARE_ESYS;
        break;
    }
    return rs_errorf(f->node, code, "%s at byte %llu: %s", what, (unsigned long long)offset,
                     strerror(e));
}

/* Move exactly `len` bytes, retrying short transfers and EINTR. */
static int transfer(struct file_backend *f, bool write, uint8_t *buf, size_t len, uint64_t off)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = write ? pwrite(f->fd, buf + done, len - done, (off_t)(off + done))
                          : pread(f->fd, buf + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return file_error(f, write ? "pwrite" : "pread", off + done);
        if (n == 0)
            return rs_errorf(f->node, RSHARE_EIO, "%s at byte %llu: unexpected end of file",
                             write ? "pwrite" : "pread", (unsigned long long)(off + done));
        done += (size_t)n;
    }
    return 0;
}

/* With O_DIRECT an unaligned buffer goes through the bounce buffer, one
 * piece at a time (the one copy this backend makes). */
static int read_write(struct file_backend *f, bool write, uint8_t *buf, uint64_t len, uint64_t off)
{
    if (!f->direct || (uintptr_t)buf % DIRECT_ALIGN == 0)
        return transfer(f, write, buf, (size_t)len, off);
    for (uint64_t at = 0; at < len; at += BOUNCE_BYTES) {
        size_t n = len - at < BOUNCE_BYTES ? (size_t)(len - at) : BOUNCE_BYTES;
        if (write)
            memcpy(f->bounce, buf + at, n);
        int rc = transfer(f, write, f->bounce, n, off + at);
        if (rc < 0)
            return rc;
        if (!write)
            memcpy(buf + at, f->bounce, n);
    }
    return 0;
}

static int discard(struct file_backend *f, uint64_t off, uint64_t len)
{
    int rc;
    do {
        if (f->device) {
            uint64_t range[2] = {off, len};
            rc = ioctl(f->fd, BLKDISCARD, range);
        } else {
            rc = fallocate(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
                           (off_t)len);
        }
    } while (rc < 0 && errno == EINTR);
    return rc < 0 ? file_error(f, f->device ? "BLKDISCARD" : "fallocate", off) : 0;
}

static int file_submit(void *backend, struct rshare_block_io *io)
{
    struct file_backend *f = backend;
    int rc = 0;
    switch (io->op) {
    case RSHARE_BLOCK_READ:
    case RSHARE_BLOCK_WRITE:
        rc = read_write(f, io->op == RSHARE_BLOCK_WRITE, io->buf, io->length, io->offset);
        break;
    case RSHARE_BLOCK_FLUSH:
        do
            rc = fdatasync(f->fd);
        while (rc < 0 && errno == EINTR);
        if (rc < 0)
            rc = file_error(f, "fdatasync", 0);
        break;
    case RSHARE_BLOCK_DISCARD:
        rc = discard(f, io->offset, io->length);
        break;
    default:
        rc = RSHARE_EINVAL;
        break;
    }
    /* The I/O was started: its failure is its outcome, not a refusal. */
    io->done(io, rc);
    return 0;
}

static void file_close(void *backend)
{
    struct file_backend *f = backend;
    if (f->fd >= 0)
        close(f->fd);
    rs_free(f->node, f->bounce_mem);
    rs_free(f->node, f);
}

/* Size in bytes and the device's logical block size. */
static int geometry(struct file_backend *f, const char *path, uint64_t *bytes, uint32_t *dev_bs)
{
    struct stat st;
    if (fstat(f->fd, &st) < 0)
        return rs_errorf(f->node, RSHARE_ESYS, "fstat %s: %s", path, strerror(errno));
    if (S_ISREG(st.st_mode)) {
        *bytes = (uint64_t)st.st_size;
        *dev_bs = 512;
        return 0;
    }
    if (!S_ISBLK(st.st_mode))
        return rs_errorf(f->node, RSHARE_EINVAL, "%s is neither a file nor a block device", path);
    f->device = true;
    int ssz = 0;
    if (ioctl(f->fd, BLKGETSIZE64, bytes) < 0 || ioctl(f->fd, BLKSSZGET, &ssz) < 0 || ssz <= 0)
        return rs_errorf(f->node, RSHARE_ESYS, "geometry of %s: %s", path, strerror(errno));
    *dev_bs = (uint32_t)ssz;
    return 0;
}

RSHARE_API int rshare_block_open_file(rshare_node *node, const char *path, uint32_t flags,
                                      uint32_t block_size, rshare_block **out)
{
    if (!node || !path || !out)
        return RSHARE_EINVAL;
    *out = NULL;
    if (flags & ~(RSHARE_BLOCK_OPEN_READONLY | RSHARE_BLOCK_OPEN_DIRECT))
        return rs_errorf(node, RSHARE_EINVAL, "unknown open flags 0x%x", flags);
    struct file_backend *f = rs_calloc(node, 1, sizeof(*f));
    if (!f)
        return RSHARE_ENOMEM;
    f->node = node;
    f->direct = flags & RSHARE_BLOCK_OPEN_DIRECT;
    int oflags = O_CLOEXEC | (flags & RSHARE_BLOCK_OPEN_READONLY ? O_RDONLY : O_RDWR) |
                 (f->direct ? O_DIRECT : 0);
    f->fd = open(path, oflags);
    int rc;
    if (f->fd < 0) {
        int e = errno;
        if (e == EINVAL && f->direct)
            rc = rs_errorf(node, RSHARE_ENOTSUP, "%s: the filesystem refuses O_DIRECT", path);
        else if (e == ENOENT)
            rc = rs_errorf(node, RSHARE_ENOENT, "%s: %s", path, strerror(e));
        else
            rc = rs_errorf(node, RSHARE_ESYS, "open %s: %s", path, strerror(e));
        goto fail;
    }
    uint64_t bytes = 0;
    uint32_t dev_bs = 512;
    if ((rc = geometry(f, path, &bytes, &dev_bs)) < 0)
        goto fail;
    if (block_size == 0)
        block_size = dev_bs;
    if (block_size < 512 || block_size > 65536 || (block_size & (block_size - 1)) ||
        block_size % dev_bs) {
        rc = rs_errorf(node, RSHARE_EINVAL, "block size %u for %s (device blocks of %u)",
                       block_size, path, dev_bs);
        goto fail;
    }
    if (bytes == 0 || bytes % block_size) {
        rc = rs_errorf(node, RSHARE_EINVAL, "%s: %llu bytes, not a positive multiple of %u",
                       path, (unsigned long long)bytes, block_size);
        goto fail;
    }
    if (f->direct) {
        f->bounce_mem = rs_malloc(node, BOUNCE_BYTES + DIRECT_ALIGN);
        if (!f->bounce_mem) {
            rc = RSHARE_ENOMEM;
            goto fail;
        }
        uintptr_t p = (uintptr_t)f->bounce_mem;
        f->bounce = f->bounce_mem + (DIRECT_ALIGN - p % DIRECT_ALIGN) % DIRECT_ALIGN;
    }
    static const struct rshare_block_ops ops = {.struct_size = sizeof(ops),
                                                .submit = file_submit,
                                                .close = file_close};
    struct rshare_block_info info;
    rshare_block_info_init(&info, sizeof(info));
    info.block_size = block_size;
    info.block_count = bytes / block_size;
    info.caps = RSHARE_BLOCK_CAP_FLUSH | RSHARE_BLOCK_CAP_DISCARD |
                (flags & RSHARE_BLOCK_OPEN_READONLY ? RSHARE_BLOCK_CAP_READONLY : 0);
    if ((rc = rs_block_create(node, &ops, f, &info, NULL, out)) < 0)
        goto fail;
    return 0;
fail:
    file_close(f);
    return rc;
}
