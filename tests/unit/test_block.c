/* Unit tests of the block core and the local backends: the file backend on
 * real temporary files (round trip, flush, discard punching a hole,
 * O_DIRECT with aligned and unaligned buffers, read-only), the memory
 * backend, the checks every I/O passes, an application backend that
 * completes inside submit (done must still wait for the loop), closing with
 * I/O in flight, and the local shortcut to a registered resource. */
#include "config.h"

#include "testutil.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rshare/rshare.h"

static rshare_node *node;
static char dir[64];

static void setup(void)
{
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = 7;
    cfg.log = (struct rshare_log){rs_test_quiet_log, NULL, RSHARE_LOG_ERROR};
    ck_assert_int_eq(rshare_node_create(&cfg, &node), 0);
    /* Under the build directory's filesystem when possible (tmpfs may
     * lack hole punching or O_DIRECT); /tmp otherwise. */
    snprintf(dir, sizeof(dir), "./test_block-XXXXXX");
    if (!mkdtemp(dir)) {
        snprintf(dir, sizeof(dir), "/tmp/test_block-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(dir));
    }
}

static void teardown(void)
{
    rshare_node_destroy(node);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static void make_file(char *path, size_t cap, const char *name, off_t size)
{
    snprintf(path, cap, "%s/%s", dir, name);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, size), 0);
    close(fd);
}

static void fill(uint8_t *buf, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(i * 31u + seed * 7u + (i >> 9));
}

/* --- asynchronous submit helpers ---------------------------------------- */

struct waiter {
    struct rshare_block_io io;
    int calls;
    int status;
    bool after_submit; /* set by the test once submit has returned */
    bool early;        /* done ran before submit returned */
};

static void waiter_done(struct rshare_block_io *io, int status)
{
    struct waiter *w = io->user_data;
    if (!w->after_submit)
        w->early = true;
    w->calls++;
    w->status = status;
}

static void waiter_init(struct waiter *w, uint32_t op, uint64_t offset, void *buf, uint64_t len)
{
    memset(w, 0, sizeof(*w));
    rshare_block_io_init(&w->io, sizeof(w->io));
    w->io.op = op;
    w->io.offset = offset;
    w->io.length = len;
    w->io.buf = buf;
    w->io.done = waiter_done;
    w->io.user_data = w;
}

static int submit(rshare_block *b, struct waiter *w)
{
    int rc = rshare_block_submit(b, &w->io);
    w->after_submit = true;
    return rc;
}

static void run_until(const struct waiter *w, int calls)
{
    for (int i = 0; i < 1000 && w->calls < calls; i++)
        ck_assert_int_eq(rshare_node_run(node, 100), 0);
    ck_assert_int_eq(w->calls, calls);
}

/* --- memory backend -------------------------------------------------------- */

START_TEST(test_memory_round_trip)
{
    rshare_block *b;
    ck_assert_int_eq(rshare_block_open_memory(node, 1 << 20, 4096, &b), 0);
    struct rshare_block_info info;
    rshare_block_info_init(&info, sizeof(info));
    ck_assert_int_eq(rshare_block_get_info(b, &info), 0);
    ck_assert_uint_eq(info.block_size, 4096);
    ck_assert_uint_eq(info.block_count, 256);
    ck_assert_uint_eq(info.caps, RSHARE_BLOCK_CAP_DISCARD);

    uint8_t *w = malloc(65536), *r = malloc(65536);
    fill(w, 65536, 1);
    ck_assert_int_eq(rshare_block_write_sync(b, 8192, w, 65536), 0);
    memset(r, 0xAA, 65536);
    ck_assert_int_eq(rshare_block_read_sync(b, 8192, r, 65536), 0);
    ck_assert_mem_eq(r, w, 65536);
    /* Untouched blocks read as zeros. */
    ck_assert_int_eq(rshare_block_read_sync(b, 0, r, 8192), 0);
    for (size_t i = 0; i < 8192; i++)
        ck_assert_uint_eq(r[i], 0);
    /* Flush has nothing to do but completes; discard zeroes. */
    ck_assert_int_eq(rshare_block_flush_sync(b), 0);
    struct waiter d;
    waiter_init(&d, RSHARE_BLOCK_DISCARD, 8192, NULL, 4096);
    ck_assert_int_eq(submit(b, &d), 0);
    run_until(&d, 1);
    ck_assert_int_eq(d.status, 0);
    ck_assert(!d.early);
    ck_assert_int_eq(rshare_block_read_sync(b, 8192, r, 8192), 0);
    for (size_t i = 0; i < 4096; i++)
        ck_assert_uint_eq(r[i], 0);
    ck_assert_mem_eq(r + 4096, w + 4096, 4096);
    /* Geometry refused. */
    rshare_block *bad;
    ck_assert_int_eq(rshare_block_open_memory(node, 1000, 512, &bad), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_block_open_memory(node, 4096, 1000, &bad), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_block_open_memory(node, 0, 512, &bad), RSHARE_EINVAL);
    free(w);
    free(r);
    rshare_block_close(b);
}
END_TEST

/* --- the checks of every I/O ------------------------------------------- */

START_TEST(test_checks)
{
    rshare_block *b;
    ck_assert_int_eq(rshare_block_open_memory(node, 64 * 512, 512, &b), 0);
    uint8_t buf[1024];
    struct waiter w;
    struct {
        uint32_t op;
        uint64_t offset, length;
        void *buf;
        int expect;
    } cases[] = {
        {RSHARE_BLOCK_READ, 1, 512, buf, RSHARE_EINVAL},          /* misaligned offset */
        {RSHARE_BLOCK_READ, 0, 100, buf, RSHARE_EINVAL},          /* misaligned length */
        {RSHARE_BLOCK_READ, 63 * 512, 1024, buf, RSHARE_EINVAL},  /* past the end */
        {RSHARE_BLOCK_WRITE, 64 * 512, 512, buf, RSHARE_EINVAL},  /* at the end */
        {RSHARE_BLOCK_READ, UINT64_MAX - 511, 1024, buf, RSHARE_EINVAL}, /* wraps */
        {RSHARE_BLOCK_READ, 0, 512, NULL, RSHARE_EINVAL},         /* no buffer */
        {RSHARE_BLOCK_WRITE, 0, 512, NULL, RSHARE_EINVAL},
        {RSHARE_BLOCK_READ, 0, 0, buf, RSHARE_EINVAL},            /* length 0 */
        {RSHARE_BLOCK_DISCARD, 0, 0, NULL, RSHARE_EINVAL},
        {RSHARE_BLOCK_FLUSH, 0, 512, NULL, RSHARE_EINVAL},        /* flush with a range */
        {RSHARE_BLOCK_FLUSH, 512, 0, NULL, RSHARE_EINVAL},
        {0, 0, 512, buf, RSHARE_EINVAL},                          /* unknown op */
        {9, 0, 512, buf, RSHARE_EINVAL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        waiter_init(&w, cases[i].op, cases[i].offset, cases[i].buf, cases[i].length);
        ck_assert_msg(submit(b, &w) == cases[i].expect, "case %zu", i);
        ck_assert_str_ne(rshare_node_errmsg(node), "");
    }
    waiter_init(&w, RSHARE_BLOCK_READ, 0, buf, 512);
    w.io.done = NULL;
    ck_assert_int_eq(rshare_block_submit(b, &w.io), RSHARE_EINVAL);
    waiter_init(&w, RSHARE_BLOCK_READ, 0, buf, 512);
    w.io.struct_size = 8;
    ck_assert_int_eq(rshare_block_submit(b, &w.io), RSHARE_EVERSION);
    ck_assert_int_eq(rshare_block_submit(NULL, &w.io), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_block_submit(b, NULL), RSHARE_EINVAL);
    /* Refused I/O never completes. */
    for (int i = 0; i < 3; i++)
        rshare_node_run(node, 10);
    ck_assert_int_eq(w.calls, 0);
    /* The last block is fine. */
    ck_assert_int_eq(rshare_block_read_sync(b, 63 * 512, buf, 512), 0);
    rshare_block_close(b);
}
END_TEST

/* --- file backend ------------------------------------------------------------ */

START_TEST(test_file_round_trip)
{
    char path[128];
    make_file(path, sizeof(path), "disk.img", 4 << 20);
    rshare_block *b;
    ck_assert_int_eq(rshare_block_open_file(node, path, 0, 0, &b), 0);
    struct rshare_block_info info;
    rshare_block_info_init(&info, sizeof(info));
    ck_assert_int_eq(rshare_block_get_info(b, &info), 0);
    ck_assert_uint_eq(info.block_size, 512);
    ck_assert_uint_eq(info.block_count, 8192);
    ck_assert_uint_eq(info.caps, RSHARE_BLOCK_CAP_FLUSH | RSHARE_BLOCK_CAP_DISCARD);

    size_t len = 1 << 20;
    uint8_t *w = malloc(len), *r = malloc(len);
    fill(w, len, 3);
    ck_assert_int_eq(rshare_block_write_sync(b, 3 * 512, w, len), 0);
    ck_assert_int_eq(rshare_block_flush_sync(b), 0);
    memset(r, 0, len);
    ck_assert_int_eq(rshare_block_read_sync(b, 3 * 512, r, len), 0);
    ck_assert_mem_eq(r, w, len);
    /* What the file itself holds. */
    int fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    memset(r, 0, len);
    ck_assert_int_eq(pread(fd, r, len, 3 * 512), (ssize_t)len);
    ck_assert_mem_eq(r, w, len);
    close(fd);
    /* The last block and the block size 4096 view of the same file. */
    ck_assert_int_eq(rshare_block_write_sync(b, (8192 - 1) * 512, w, 512), 0);
    rshare_block_close(b);
    ck_assert_int_eq(rshare_block_open_file(node, path, 0, 4096, &b), 0);
    ck_assert_int_eq(rshare_block_get_info(b, &info), 0);
    ck_assert_uint_eq(info.block_count, 1024);
    ck_assert_int_eq(rshare_block_read_sync(b, 4096, r, 4096), 0);
    ck_assert_mem_eq(r, w + 4096 - 3 * 512, 4096);
    ck_assert_int_eq(rshare_block_read_sync(b, 512, r, 4096), RSHARE_EINVAL);
    rshare_block_close(b);
    /* Sizes that do not fit, files that are not there. */
    char odd[128];
    make_file(odd, sizeof(odd), "odd.img", 4096 + 100);
    ck_assert_int_eq(rshare_block_open_file(node, odd, 0, 0, &b), RSHARE_EINVAL);
    make_file(odd, sizeof(odd), "empty.img", 0);
    ck_assert_int_eq(rshare_block_open_file(node, odd, 0, 0, &b), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_block_open_file(node, path, 0, 1000, &b), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_block_open_file(node, path, 0x80, 0, &b), RSHARE_EINVAL);
    snprintf(odd, sizeof(odd), "%s/missing.img", dir);
    ck_assert_int_eq(rshare_block_open_file(node, odd, 0, 0, &b), RSHARE_ENOENT);
    ck_assert_int_eq(rshare_block_open_file(node, dir, 0, 0, &b), RSHARE_ESYS);
    free(w);
    free(r);
}
END_TEST

START_TEST(test_file_discard)
{
    char path[128];
    make_file(path, sizeof(path), "holes.img", 1 << 20);
    rshare_block *b;
    ck_assert_int_eq(rshare_block_open_file(node, path, 0, 4096, &b), 0);
    size_t len = 1 << 20;
    uint8_t *w = malloc(len), *r = malloc(len);
    fill(w, len, 5);
    ck_assert_int_eq(rshare_block_write_sync(b, 0, w, len), 0);
    ck_assert_int_eq(rshare_block_flush_sync(b), 0);
    struct stat before, after;
    ck_assert_int_eq(stat(path, &before), 0);
    struct waiter d;
    waiter_init(&d, RSHARE_BLOCK_DISCARD, 256 << 10, NULL, 512 << 10);
    ck_assert_int_eq(submit(b, &d), 0);
    run_until(&d, 1);
    if (d.status == RSHARE_ENOTSUP) {
        fprintf(stderr, "test_file_discard: no hole punching here, skipped\n");
    } else {
        ck_assert_int_eq(d.status, 0);
        ck_assert_int_eq(stat(path, &after), 0);
        ck_assert_int_eq(after.st_size, before.st_size); /* KEEP_SIZE */
        ck_assert_int_le(after.st_blocks, before.st_blocks - (512 << 10) / 512);
        ck_assert_int_eq(rshare_block_read_sync(b, 0, r, len), 0);
        ck_assert_mem_eq(r, w, 256 << 10);
        for (size_t i = 256 << 10; i < 768u << 10; i++)
            ck_assert_uint_eq(r[i], 0);
        ck_assert_mem_eq(r + (768 << 10), w + (768 << 10), 256 << 10);
    }
    free(w);
    free(r);
    rshare_block_close(b);
}
END_TEST

START_TEST(test_file_direct)
{
    char path[128];
    make_file(path, sizeof(path), "direct.img", 2 << 20);
    rshare_block *b;
    int rc = rshare_block_open_file(node, path, RSHARE_BLOCK_OPEN_DIRECT, 4096, &b);
    if (rc == RSHARE_ENOTSUP) {
        fprintf(stderr, "test_file_direct: O_DIRECT refused here, skipped\n");
        return;
    }
    ck_assert_int_eq(rc, 0);
    size_t len = (1 << 20) + 8192; /* more than one bounce buffer */
    uint8_t *aligned = aligned_alloc(4096, len);
    uint8_t *raw = malloc(len + 1), *unaligned = raw + 1;
    uint8_t *expect = malloc(len);
    fill(expect, len, 9);
    /* Unaligned write (bounced), aligned read (straight into the buffer). */
    memcpy(unaligned, expect, len);
    ck_assert_int_eq(rshare_block_write_sync(b, 4096, unaligned, len), 0);
    memset(aligned, 0, len);
    ck_assert_int_eq(rshare_block_read_sync(b, 4096, aligned, len), 0);
    ck_assert_mem_eq(aligned, expect, len);
    /* Aligned write, unaligned read. */
    fill(expect, len, 11);
    memcpy(aligned, expect, len);
    ck_assert_int_eq(rshare_block_write_sync(b, 0, aligned, len), 0);
    memset(unaligned, 0, len);
    ck_assert_int_eq(rshare_block_read_sync(b, 0, unaligned, len), 0);
    ck_assert_mem_eq(unaligned, expect, len);
    ck_assert_int_eq(rshare_block_flush_sync(b), 0);
    rshare_block_close(b);
    /* Through the page cache, the file holds the same. */
    ck_assert_int_eq(rshare_block_open_file(node, path, RSHARE_BLOCK_OPEN_READONLY, 0, &b), 0);
    memset(unaligned, 0, len);
    ck_assert_int_eq(rshare_block_read_sync(b, 0, unaligned, len), 0);
    ck_assert_mem_eq(unaligned, expect, len);
    rshare_block_close(b);
    free(aligned);
    free(raw);
    free(expect);
}
END_TEST

START_TEST(test_file_readonly)
{
    char path[128];
    make_file(path, sizeof(path), "ro.img", 64 << 10);
    int fd = open(path, O_WRONLY);
    uint8_t w[4096];
    fill(w, sizeof(w), 13);
    ck_assert_int_eq(pwrite(fd, w, sizeof(w), 8192), (ssize_t)sizeof(w));
    close(fd);
    rshare_block *b;
    ck_assert_int_eq(rshare_block_open_file(node, path, RSHARE_BLOCK_OPEN_READONLY, 0, &b), 0);
    struct rshare_block_info info;
    rshare_block_info_init(&info, sizeof(info));
    rshare_block_get_info(b, &info);
    ck_assert(info.caps & RSHARE_BLOCK_CAP_READONLY);
    uint8_t r[4096];
    ck_assert_int_eq(rshare_block_read_sync(b, 8192, r, sizeof(r)), 0);
    ck_assert_mem_eq(r, w, sizeof(r));
    ck_assert_int_eq(rshare_block_write_sync(b, 8192, r, sizeof(r)), RSHARE_ENOTSUP);
    struct waiter d;
    waiter_init(&d, RSHARE_BLOCK_DISCARD, 0, NULL, 4096);
    ck_assert_int_eq(submit(b, &d), RSHARE_ENOTSUP);
    ck_assert_int_eq(rshare_block_flush_sync(b), 0);
    rshare_block_close(b);
    /* Nothing changed on disk. */
    fd = open(path, O_RDONLY);
    ck_assert_int_eq(pread(fd, r, sizeof(r), 8192), (ssize_t)sizeof(r));
    close(fd);
    ck_assert_mem_eq(r, w, sizeof(r));
}
END_TEST

/* --- application backends ----------------------------------------------------- */

/* Completes inside submit, or holds the I/O for the test to complete. */
struct app {
    bool hold;
    int refuse;            /* submit returns this when non-zero */
    struct rshare_block_io *held[8];
    int held_count;
    int submits, closes;
    uint8_t data[16 * 512];
};

static int app_submit(void *backend, struct rshare_block_io *io)
{
    struct app *a = backend;
    a->submits++;
    if (a->refuse)
        return a->refuse;
    if (io->op == RSHARE_BLOCK_READ)
        memcpy(io->buf, a->data + io->offset, io->length);
    else if (io->op == RSHARE_BLOCK_WRITE)
        memcpy(a->data + io->offset, io->buf, io->length);
    if (a->hold) {
        ck_assert_int_lt(a->held_count, 8);
        a->held[a->held_count++] = io;
        return 0;
    }
    io->done(io, 0); /* synchronously: rshare must defer it */
    return 0;
}

static void app_close(void *backend)
{
    ((struct app *)backend)->closes++;
}

static const struct rshare_block_ops app_ops = {.struct_size = sizeof(struct rshare_block_ops),
                                                .submit = app_submit,
                                                .close = app_close};

static rshare_block *app_open(struct app *a, uint32_t caps)
{
    struct rshare_block_info info;
    rshare_block_info_init(&info, sizeof(info));
    info.block_size = 512;
    info.block_count = 16;
    info.caps = caps;
    rshare_block *b;
    ck_assert_int_eq(rshare_block_create(node, &app_ops, a, &info, &b), 0);
    return b;
}

START_TEST(test_app_sync_completion_deferred)
{
    struct app a = {0};
    rshare_block *b = app_open(&a, RSHARE_BLOCK_CAP_FLUSH);
    uint8_t buf[1024];
    fill(buf, sizeof(buf), 17);
    struct waiter w;
    waiter_init(&w, RSHARE_BLOCK_WRITE, 1024, buf, 1024);
    ck_assert_int_eq(rshare_block_submit(b, &w.io), 0);
    /* The backend completed inside submit; the caller has not heard yet. */
    ck_assert_int_eq(a.submits, 1);
    ck_assert_int_eq(w.calls, 0);
    w.after_submit = true;
    run_until(&w, 1);
    ck_assert(!w.early);
    ck_assert_int_eq(w.status, 0);
    ck_assert_mem_eq(a.data + 1024, buf, 1024);
    /* Three at once complete in order, each once. */
    struct waiter ws[3];
    for (int i = 0; i < 3; i++) {
        waiter_init(&ws[i], RSHARE_BLOCK_READ, (uint64_t)i * 512, buf, 512);
        ck_assert_int_eq(submit(b, &ws[i]), 0);
    }
    run_until(&ws[2], 1);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(ws[i].calls, 1);
        ck_assert(!ws[i].early);
    }
    /* Flush goes to a backend with CAP_FLUSH; one without is not asked. */
    ck_assert_int_eq(rshare_block_flush_sync(b), 0);
    ck_assert_int_eq(a.submits, 5);
    /* Discard without CAP_DISCARD. */
    waiter_init(&w, RSHARE_BLOCK_DISCARD, 0, NULL, 512);
    ck_assert_int_eq(submit(b, &w), RSHARE_ENOTSUP);
    /* A refusal comes back as the code, and done never runs. */
    a.refuse = RSHARE_EBUSY;
    waiter_init(&w, RSHARE_BLOCK_READ, 0, buf, 512);
    ck_assert_int_eq(submit(b, &w), RSHARE_EBUSY);
    rshare_node_run(node, 10);
    ck_assert_int_eq(w.calls, 0);
    a.refuse = 0;
    rshare_block_close(b);
    ck_assert_int_eq(a.closes, 1);

    struct app a2 = {0};
    b = app_open(&a2, 0);
    ck_assert_int_eq(rshare_block_flush_sync(b), 0);
    ck_assert_int_eq(a2.submits, 0);
    rshare_block_close(b);
    ck_assert_int_eq(a2.closes, 1);
}
END_TEST

START_TEST(test_close_in_flight)
{
    struct app a = {.hold = true};
    rshare_block *b = app_open(&a, 0);
    uint8_t buf[512];
    struct waiter w[2];
    waiter_init(&w[0], RSHARE_BLOCK_READ, 0, buf, 512);
    waiter_init(&w[1], RSHARE_BLOCK_WRITE, 512, buf, 512);
    ck_assert_int_eq(submit(b, &w[0]), 0);
    ck_assert_int_eq(submit(b, &w[1]), 0);
    ck_assert_int_eq(a.held_count, 2);
    rshare_block_close(b);
    /* Both complete with ECANCELED before close returns... */
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(w[i].calls, 1);
        ck_assert_int_eq(w[i].status, RSHARE_ECANCELED);
    }
    /* ...but the backend is closed only once it has given them back. */
    ck_assert_int_eq(a.closes, 0);
    a.held[0]->done(a.held[0], 0);
    ck_assert_int_eq(a.closes, 0);
    a.held[1]->done(a.held[1], RSHARE_EIO);
    ck_assert_int_eq(a.closes, 1);
    for (int i = 0; i < 5; i++)
        rshare_node_run(node, 5);
    ck_assert_int_eq(w[0].calls, 1);
    ck_assert_int_eq(w[1].calls, 1);

    /* Completed by the backend, not yet delivered: keeps its status. */
    struct app s = {0};
    b = app_open(&s, 0);
    waiter_init(&w[0], RSHARE_BLOCK_READ, 0, buf, 512);
    ck_assert_int_eq(submit(b, &w[0]), 0);
    ck_assert_int_eq(w[0].calls, 0);
    rshare_block_close(b);
    ck_assert_int_eq(w[0].calls, 1);
    ck_assert_int_eq(w[0].status, 0);
    ck_assert_int_eq(s.closes, 1);
}
END_TEST

/* done closes the block it came from: the rest still completes once. */
static rshare_block *closing_block;
static int closing_calls, closing_status[3];

static void close_in_done(struct rshare_block_io *io, int status)
{
    closing_status[(uintptr_t)io->user_data] = status;
    closing_calls++;
    if (closing_block) {
        rshare_block *b = closing_block;
        closing_block = NULL;
        rshare_block_close(b);
    }
}

START_TEST(test_close_from_done)
{
    struct app a = {0};
    rshare_block *b = app_open(&a, 0);
    uint8_t buf[512];
    struct rshare_block_io ios[3];
    for (uintptr_t i = 0; i < 3; i++) {
        rshare_block_io_init(&ios[i], sizeof(ios[i]));
        ios[i].op = RSHARE_BLOCK_READ;
        ios[i].offset = i * 512;
        ios[i].length = 512;
        ios[i].buf = buf;
        ios[i].done = close_in_done;
        ios[i].user_data = (void *)i;
        ck_assert_int_eq(rshare_block_submit(b, &ios[i]), 0);
    }
    closing_block = b;
    closing_calls = 0;
    for (int i = 0; i < 10 && closing_calls < 3; i++)
        rshare_node_run(node, 10);
    ck_assert_int_eq(closing_calls, 3);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(closing_status[i], 0);
    ck_assert_int_eq(a.closes, 1);
}
END_TEST

/* --- the local shortcut to a registered resource ----------------------------- */

START_TEST(test_register_and_local_shortcut)
{
    struct app a = {.hold = true};
    rshare_block *b = app_open(&a, RSHARE_BLOCK_CAP_DISCARD);
    struct rshare_resource_desc d;
    rshare_resource_desc_init(&d, sizeof(d));
    snprintf(d.path, sizeof(d.path), "app-disk");
    uint64_t id;
    ck_assert_int_eq(rshare_resource_register_block(node, &d, b, &id), 0);
    ck_assert_uint_eq(id >> 32, 7);
    struct rshare_resource_desc list[2];
    size_t n;
    ck_assert_int_eq(rshare_resource_list(node, 1, list, 2, sizeof(list[0]), &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(list[0].kind, RSHARE_RESOURCE_BLOCK);
    ck_assert_uint_eq(list[0].block_size, 512);
    ck_assert_uint_eq(list[0].block_count, 16);
    /* Once only; geometry must match. */
    snprintf(d.path, sizeof(d.path), "again");
    ck_assert_int_eq(rshare_resource_register_block(node, &d, b, NULL), RSHARE_EEXIST);
    d.block_size = 4096;
    struct app other = {0};
    rshare_block *b2 = app_open(&other, 0);
    ck_assert_int_eq(rshare_resource_register_block(node, &d, b2, NULL), RSHARE_EINVAL);
    rshare_block_close(b2);

    rshare_block *s1, *s2;
    ck_assert_int_eq(rshare_block_open_resource(node, id, &s1), 0);
    ck_assert_int_eq(rshare_block_open_resource(node, id, &s2), 0);
    ck_assert_int_eq(rshare_block_open_resource(node, id + 1, &b2), RSHARE_ENOENT);
    ck_assert_int_eq(rshare_block_open_resource(node, 99ull << 32 | 1, &b2), RSHARE_ENOENT);
    struct rshare_block_info info;
    rshare_block_info_init(&info, sizeof(info));
    ck_assert_int_eq(rshare_block_get_info(s1, &info), 0);
    ck_assert_uint_eq(info.block_count, 16);
    /* A shortcut cannot be registered itself. */
    snprintf(d.path, sizeof(d.path), "shortcut");
    d.block_size = 0;
    ck_assert_int_eq(rshare_resource_register_block(node, &d, s1, NULL), RSHARE_EEXIST);

    uint8_t buf[512], r2[512], r3[512];
    fill(buf, sizeof(buf), 19);
    struct waiter w1, w2, w3;
    waiter_init(&w1, RSHARE_BLOCK_WRITE, 512, buf, 512);
    waiter_init(&w2, RSHARE_BLOCK_READ, 0, r2, 512);
    waiter_init(&w3, RSHARE_BLOCK_READ, 1024, r3, 512);
    ck_assert_int_eq(submit(s1, &w1), 0);
    ck_assert_int_eq(submit(s2, &w2), 0);
    ck_assert_int_eq(submit(b, &w3), 0);
    ck_assert_int_eq(a.held_count, 3); /* straight to the registered backend */
    ck_assert_mem_eq(a.data + 512, buf, 512);
    /* Closing one shortcut cancels its I/O only; the backend stays. */
    rshare_block_close(s1);
    ck_assert_int_eq(w1.calls, 1);
    ck_assert_int_eq(w1.status, RSHARE_ECANCELED);
    ck_assert_int_eq(w2.calls + w3.calls, 0);
    ck_assert_int_eq(a.closes, 0);
    for (int i = 0; i < 3; i++)
        a.held[i]->done(a.held[i], 0);
    run_until(&w3, 1);
    ck_assert_int_eq(w2.calls, 1);
    ck_assert_int_eq(w2.status, 0);
    ck_assert_int_eq(w1.calls, 1);
    /* Closing the registered block withdraws the resource; the remaining
     * shortcut then finds nothing, and its I/O in flight is cancelled. */
    a.held_count = 0;
    waiter_init(&w2, RSHARE_BLOCK_READ, 0, buf, 512);
    ck_assert_int_eq(submit(s2, &w2), 0);
    rshare_block_close(b);
    ck_assert_int_eq(w2.calls, 1);
    ck_assert_int_eq(w2.status, RSHARE_ECANCELED);
    ck_assert_int_eq(rshare_resource_list(node, 1, list, 2, sizeof(list[0]), &n), 0);
    ck_assert_uint_eq(n, 0);
    waiter_init(&w2, RSHARE_BLOCK_READ, 0, buf, 512);
    ck_assert_int_eq(submit(s2, &w2), RSHARE_ENOENT);
    ck_assert_int_eq(a.closes, 0);
    a.held[0]->done(a.held[0], 0);
    ck_assert_int_eq(a.closes, 1);
    rshare_block_close(s2);
}
END_TEST

/* A block left open is closed by rshare_node_destroy (checked by ASan/LSan
 * in the sanitizer build): its I/O completes with ECANCELED. */
START_TEST(test_node_destroy_closes_blocks)
{
    struct app a = {.hold = true};
    rshare_block *b = app_open(&a, 0);
    rshare_block *m;
    ck_assert_int_eq(rshare_block_open_memory(node, 4096, 512, &m), 0);
    struct rshare_resource_desc d;
    rshare_resource_desc_init(&d, sizeof(d));
    snprintf(d.path, sizeof(d.path), "mem");
    ck_assert_int_eq(rshare_resource_register_block(node, &d, m, NULL), 0);
    uint8_t buf[512];
    struct waiter w;
    waiter_init(&w, RSHARE_BLOCK_READ, 0, buf, 512);
    ck_assert_int_eq(submit(b, &w), 0);
    rshare_node_destroy(node);
    node = NULL;
    ck_assert_int_eq(w.calls, 1);
    ck_assert_int_eq(w.status, RSHARE_ECANCELED);
    ck_assert_int_eq(a.closes, 1);
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = 7;
    cfg.log = (struct rshare_log){rs_test_quiet_log, NULL, RSHARE_LOG_ERROR};
    ck_assert_int_eq(rshare_node_create(&cfg, &node), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("block");
    TCase *tc = tcase_create("block");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_memory_round_trip);
    tcase_add_test(tc, test_checks);
    tcase_add_test(tc, test_file_round_trip);
    tcase_add_test(tc, test_file_discard);
    tcase_add_test(tc, test_file_direct);
    tcase_add_test(tc, test_file_readonly);
    tcase_add_test(tc, test_app_sync_completion_deferred);
    tcase_add_test(tc, test_close_in_flight);
    tcase_add_test(tc, test_close_from_done);
    tcase_add_test(tc, test_register_and_local_shortcut);
    tcase_add_test(tc, test_node_destroy_closes_blocks);
    suite_add_tcase(s, tc);
    return rs_test_run(s);
}
