/* Unit tests: errors, versions, node configuration and hooks (allocator,
 * clock, log, persistence), the transport attach checks and the event-loop
 * entry points. */
#include "config.h"

#include "testutil.h"

#include <check.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "core/shared.h"
#include "rshare/rshare.h"

START_TEST(test_errors)
{
    ck_assert_str_eq(rshare_err_name(RSHARE_ETIMEDOUT), "RSHARE_ETIMEDOUT");
    ck_assert_str_eq(rshare_strerror(RSHARE_ETIMEDOUT), "operation timed out");
    ck_assert_str_eq(rshare_err_name(0), "RSHARE_OK");
    ck_assert_str_eq(rshare_err_name(12345), "RSHARE_E_UNKNOWN");
    ck_assert_str_eq(rshare_strerror(-999), "unknown error");
    /* Every code in the table has a distinct name and a message. */
    for (int c = -1; c > RSHARE_ERROR_MIN_; c--) {
        ck_assert_str_ne(rshare_err_name(c), "RSHARE_E_UNKNOWN");
        ck_assert_str_ne(rshare_strerror(c), "unknown error");
        for (int d = c - 1; d > RSHARE_ERROR_MIN_; d--)
            ck_assert_str_ne(rshare_err_name(c), rshare_err_name(d));
    }
}
END_TEST

START_TEST(test_version)
{
    ck_assert_str_eq(rshare_version_string(), RSHARE_VERSION_STRING);
    ck_assert_uint_eq(rshare_version_num(), RSHARE_VERSION_NUM);
    char expect[32];
    snprintf(expect, sizeof(expect), "%d.%d.%d", RSHARE_VERSION_MAJOR, RSHARE_VERSION_MINOR,
             RSHARE_VERSION_PATCH);
    ck_assert_str_eq(rshare_version_string(), expect);
}
END_TEST

START_TEST(test_config_checks)
{
    struct rshare_node_config cfg;
    rshare_node *node = (rshare_node *)1;
    rshare_node_config_init(&cfg, sizeof(cfg));
    ck_assert_uint_eq(cfg.struct_size, sizeof(cfg));
    ck_assert_int_eq(rshare_node_create(&cfg, &node), RSHARE_EINVAL); /* id 0 */
    ck_assert_ptr_null(node);
    cfg.node_id = RSHARE_NODE_ID_BROADCAST;
    ck_assert_int_eq(rshare_node_create(&cfg, &node), RSHARE_EINVAL);
    cfg.node_id = 5;
    cfg.struct_size = 8; /* a caller from the future past: too small */
    ck_assert_int_eq(rshare_node_create(&cfg, &node), RSHARE_EVERSION);
    cfg.struct_size = sizeof(cfg);
    cfg.link_window = 5000;
    ck_assert_int_eq(rshare_node_create(&cfg, &node), RSHARE_EINVAL);
    cfg.link_window = 0;
    cfg.allocator.malloc = NULL;
    cfg.allocator.free = NULL;
    cfg.allocator.realloc = NULL;
    ck_assert_int_eq(rshare_node_create(NULL, &node), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_node_create(&cfg, &node), 0);
    ck_assert_uint_eq(rshare_node_id(node), 5);
    ck_assert_str_eq(rshare_node_errmsg(node), "");
    rshare_node_destroy(node);
    rshare_node_destroy(NULL);
}
END_TEST

/* A counting allocator: every byte the node allocates goes through it. */
struct counting {
    long live;
    long calls;
    long fail_after; /* fail the Nth call, -1 never */
};

static void *count_malloc(void *u, size_t n)
{
    struct counting *c = u;
    if (c->fail_after >= 0 && c->calls++ >= c->fail_after)
        return NULL;
    void *p = malloc(n);
    if (p)
        c->live++;
    return p;
}

static void *count_realloc(void *u, void *p, size_t n)
{
    struct counting *c = u;
    if (c->fail_after >= 0 && c->calls++ >= c->fail_after)
        return NULL;
    void *q = realloc(p, n);
    if (q && !p)
        c->live++;
    return q;
}

static void count_free(void *u, void *p)
{
    struct counting *c = u;
    if (p)
        c->live--;
    free(p);
}

static void quiet_log(void *u, enum rshare_log_level level, const char *message)
{
    int *lines = u;
    (void)level;
    (void)message;
    (*lines)++;
}

START_TEST(test_allocator_and_log_hooks)
{
    struct counting c = {.fail_after = -1};
    int lines = 0;
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = 9;
    cfg.allocator = (struct rshare_allocator){count_malloc, count_realloc, count_free, &c};
    cfg.log = (struct rshare_log){quiet_log, &lines, RSHARE_LOG_WARNING};
    rshare_node *node;
    ck_assert_int_eq(rshare_node_create(&cfg, &node), 0);
    ck_assert_int_gt(c.live, 0);
    ck_assert_int_gt(lines, 0); /* "runs unprotected" goes to our sink */
    rshare_node_destroy(node);
    ck_assert_int_eq(c.live, 0);

    /* Errors only: the unprotected-mode warning is not passed on; 0 means
     * the default (warnings). */
    lines = 0;
    cfg.log.max_level = RSHARE_LOG_ERROR;
    ck_assert_int_eq(rshare_node_create(&cfg, &node), 0);
    ck_assert_int_eq(lines, 0);
    rshare_node_destroy(node);
    cfg.log.max_level = 0;
    ck_assert_int_eq(rshare_node_create(&cfg, &node), 0);
    ck_assert_int_gt(lines, 0);
    rshare_node_destroy(node);
    cfg.log.max_level = RSHARE_LOG_WARNING;

    /* Only some allocator functions set: refused. */
    cfg.allocator.free = NULL;
    ck_assert_int_eq(rshare_node_create(&cfg, &node), RSHARE_EINVAL);

    /* Allocation failure at every step of creation: a clean error, no leak. */
    cfg.allocator.free = count_free;
    for (long k = 0; k < 64; k++) {
        c = (struct counting){.fail_after = k};
        int rc = rshare_node_create(&cfg, &node);
        if (rc == 0) {
            rshare_node_destroy(node);
            ck_assert_int_eq(c.live, 0);
            break;
        }
        ck_assert_int_eq(rc, RSHARE_ENOMEM);
        ck_assert_int_eq(c.live, 0);
    }
}
END_TEST

static uint64_t fake_now;
static uint64_t fake_clock(void *u)
{
    (void)u;
    return fake_now;
}

static int fired;
static void on_fire(rshare_node *node, struct rs_timer *t)
{
    (void)node;
    (void)t;
    fired++;
}

/* Big shared buffers are kept after their last reference and given to the
 * next allocation they fit; small ones, and those over the limits, go back
 * to the allocator at once; the node's end frees the rest. */
/* Use the spare timer once (its first use grows the node's timer heap) and
 * let the spare expire: then the node's live blocks stay as they are. */
static long spares_warmed(rshare_node *node, const struct counting *c)
{
    rs_shared_unref(node, rs_shared_alloc(node, RS_SHARED_KEEP_MIN));
    fake_now += RS_SHARED_KEEP_US;
    rshare_node_process(node);
    return c->live;
}

START_TEST(test_shared_spares)
{
    struct counting c = {.fail_after = -1};
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = 9;
    cfg.log.max_level = RSHARE_LOG_ERROR;
    cfg.allocator = (struct rshare_allocator){count_malloc, count_realloc, count_free, &c};
    cfg.clock = (struct rshare_clock){fake_clock, &fake_now};
    fake_now = 1000;
    rshare_node *node;
    ck_assert_int_eq(rshare_node_create(&cfg, &node), 0);
    long base = spares_warmed(node, &c);

    /* Small: freed on the last reference, not before. */
    uint8_t *small = rs_shared_alloc(node, 1000);
    ck_assert_ptr_nonnull(small);
    ck_assert_int_eq(c.live, base + 1);
    rs_shared_ref(small);
    rs_shared_unref(node, small);
    ck_assert_int_eq(c.live, base + 1);
    rs_shared_unref(node, small);
    ck_assert_int_eq(c.live, base);

    /* Big: kept, and the next message of about its size gets it back. */
    size_t mib = 1u << 20;
    uint8_t *big = rs_shared_alloc(node, mib + 40);
    ck_assert_ptr_nonnull(big);
    memset(big, 0xa5, mib + 40); /* all of it is usable */
    rs_shared_unref(node, big);
    ck_assert_int_eq(c.live, base + 1);
    uint8_t *again = rs_shared_alloc(node, mib + 1000);
    ck_assert_ptr_eq(again, big);
    ck_assert_int_eq(c.live, base + 1);
    /* One that would waste more than half of it gets a fresh buffer. */
    uint8_t *half = rs_shared_alloc(node, 200u * 1024u);
    ck_assert_ptr_nonnull(half);
    ck_assert_ptr_ne(half, big);
    ck_assert_int_eq(c.live, base + 2);
    rs_shared_unref(node, half);
    rs_shared_unref(node, again);
    ck_assert_int_eq(c.live, base + 2);
    /* A smaller request passes over the 1 MiB spare for the 200 KiB one. */
    ck_assert_ptr_eq(rs_shared_alloc(node, 150u * 1024u), half);
    rs_shared_unref(node, half);

    /* At most RS_SHARED_KEEP_COUNT spares and RS_SHARED_KEEP_BYTES: two
     * more 512 KiB buffers than that released leave RS_SHARED_KEEP_COUNT,
     * the least recently released dropped first. */
    enum { N = RS_SHARED_KEEP_COUNT + 2, M = RS_SHARED_KEEP_BYTES / (1u << 20) };
    ck_assert_uint_le(N * 512u * 1024u, RS_SHARED_KEEP_BYTES); /* the count limit bites */
    ck_assert_uint_le(M, RS_SHARED_KEEP_COUNT);
    rshare_node_destroy(node);
    ck_assert_int_eq(c.live, 0);
    ck_assert_int_eq(rshare_node_create(&cfg, &node), 0);
    base = spares_warmed(node, &c);
    uint8_t *b[N];
    for (int i = 0; i < N; i++)
        ck_assert_ptr_nonnull(b[i] = rs_shared_alloc(node, 512u * 1024u));
    ck_assert_int_eq(c.live, base + N);
    for (int i = 0; i < N; i++)
        rs_shared_unref(node, b[i]);
    ck_assert_int_eq(c.live, base + (long)RS_SHARED_KEEP_COUNT);
    /* The two released first were dropped: the spares are b[2..N-1]. */
    for (int i = N - 1; i >= 2; i--)
        ck_assert_ptr_eq(rs_shared_alloc(node, 512u * 1024u), b[i]);
    ck_assert_int_eq(c.live, base + (long)RS_SHARED_KEEP_COUNT);
    for (int i = 2; i < N; i++)
        rs_shared_unref(node, b[i]);
    /* 1 MiB buffers up to the byte limit: the 512 KiB spares make room. */
    for (int i = 0; i < M; i++)
        ck_assert_ptr_nonnull(b[i] = rs_shared_alloc(node, mib));
    for (int i = 0; i < M; i++)
        rs_shared_unref(node, b[i]);
    ck_assert_int_eq(c.live, base + M);
    /* A 2 MiB one released over the byte limit: the two oldest go. */
    uint8_t *two = rs_shared_alloc(node, 2 * mib);
    ck_assert_ptr_nonnull(two);
    ck_assert_int_eq(c.live, base + M + 1);
    rs_shared_unref(node, two);
    ck_assert_int_eq(c.live, base + M - 1);
    ck_assert_ptr_eq(rs_shared_alloc(node, 2 * mib), two);
    rs_shared_unref(node, two);
    /* A buffer bigger than the byte limit is never kept. */
    uint8_t *huge = rs_shared_alloc(node, RS_SHARED_KEEP_BYTES + 1);
    ck_assert_ptr_nonnull(huge);
    long before = c.live;
    rs_shared_unref(node, huge);
    ck_assert_int_eq(c.live, before - 1);
    /* Spares not taken again within RS_SHARED_KEEP_US are freed. */
    fake_now += RS_SHARED_KEEP_US - 1;
    rshare_node_process(node);
    ck_assert_int_eq(c.live, before - 1);
    uint8_t *late = rs_shared_alloc(node, 2 * mib); /* taken again: not freed */
    ck_assert_ptr_eq(late, two);
    fake_now += 1;
    rshare_node_process(node);
    ck_assert_int_eq(c.live, base + 1);
    rs_shared_unref(node, late); /* released now: kept for another second */
    fake_now += RS_SHARED_KEEP_US / 2;
    rshare_node_process(node);
    ck_assert_int_eq(c.live, base + 1);
    fake_now += RS_SHARED_KEEP_US / 2;
    rshare_node_process(node);
    ck_assert_int_eq(c.live, base);
    rshare_node_destroy(node);
    ck_assert_int_eq(c.live, 0);
}
END_TEST

START_TEST(test_injected_clock_and_timers)
{
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = 3;
    cfg.clock = (struct rshare_clock){fake_clock, &fake_now};
    rshare_node *node;
    fake_now = 1000;
    ck_assert_int_eq(rshare_node_create(&cfg, &node), 0);
    ck_assert_uint_eq(rshare_node_now_us(node), 1000);
    ck_assert_int_eq(rshare_node_timeout_ms(node), -1);
    struct rs_timer a, b;
    rs_timer_init(&a, on_fire);
    rs_timer_init(&b, on_fire);
    fired = 0;
    ck_assert_int_eq(rs_timer_schedule(node, &a, 1500), 0);
    ck_assert_int_eq(rs_timer_schedule(node, &b, 3000), 0);
    ck_assert_int_eq(rshare_node_timeout_us(node), 500);
    ck_assert_int_eq(rshare_node_timeout_ms(node), 1);
    rshare_node_process(node);
    ck_assert_int_eq(fired, 0);
    fake_now = 1500;
    rshare_node_process(node);
    ck_assert_int_eq(fired, 1);
    ck_assert_int_eq(rshare_node_timeout_us(node), 1500);
    rs_timer_cancel(node, &b);
    fake_now = 5000;
    rshare_node_process(node);
    ck_assert_int_eq(fired, 1);
    ck_assert_int_eq(rshare_node_timeout_ms(node), -1);
    rshare_node_destroy(node);
}
END_TEST

START_TEST(test_real_clock_fd_wakes_for_timers)
{
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = 3;
    rshare_node *node;
    ck_assert_int_eq(rshare_node_create(&cfg, &node), 0);
    int fd = rshare_node_fd(node);
    ck_assert_int_ge(fd, 0);
    struct rs_timer t;
    rs_timer_init(&t, on_fire);
    fired = 0;
    rs_timer_schedule(node, &t, rshare_node_now_us(node) + 20000);
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    ck_assert_int_eq(poll(&pfd, 1, 0), 0); /* not yet */
    ck_assert_int_eq(poll(&pfd, 1, 2000), 1); /* the node's fd wakes the caller */
    rshare_node_process(node);
    ck_assert_int_eq(fired, 1);
    /* rshare_node_run waits for the next timer by itself. */
    rs_timer_schedule(node, &t, rshare_node_now_us(node) + 10000);
    uint64_t start = rshare_node_now_us(node);
    ck_assert_int_eq(rshare_node_run(node, 1000), 0);
    ck_assert_int_eq(fired, 2);
    ck_assert_uint_ge(rshare_node_now_us(node) - start, 9000);
    rshare_node_destroy(node);
}
END_TEST

START_TEST(test_persistent_boot_counter)
{
    char dir[] = "/tmp/rshare-test-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = 4;
    cfg.state_dir = dir;
    uint64_t sessions[3];
    for (int i = 0; i < 3; i++) {
        rshare_node *node;
        ck_assert_int_eq(rshare_node_create(&cfg, &node), 0);
        sessions[i] = rs_core(node)->session;
        rshare_node_destroy(node);
    }
    /* Persisted sessions: top bit set, counter strictly increasing. */
    for (int i = 0; i < 3; i++)
        ck_assert(sessions[i] >> 63);
    ck_assert_uint_eq((sessions[0] >> 32 & 0x7FFFFFFF) + 1, sessions[1] >> 32 & 0x7FFFFFFF);
    ck_assert_uint_eq((sessions[1] >> 32 & 0x7FFFFFFF) + 1, sessions[2] >> 32 & 0x7FFFFFFF);

    /* A corrupt record is an error, not a silent reset to zero. */
    char path[256];
    snprintf(path, sizeof(path), "%s/boot-counter", dir);
    FILE *f = fopen(path, "w");
    fputs("xyzzy", f);
    fclose(f);
    rshare_node *node = NULL;
    ck_assert_int_lt(rshare_node_create(&cfg, &node), 0);
    ck_assert_ptr_null(node);
    unlink(path);
    rmdir(dir);

    /* Without persistence the top bit is clear. */
    cfg.state_dir = NULL;
    ck_assert_int_eq(rshare_node_create(&cfg, &node), 0);
    ck_assert(!(rs_core(node)->session >> 63));
    rshare_node_destroy(node);
}
END_TEST

static rshare_node *new_node(void)
{
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = 3;
    rshare_node *node;
    ck_assert_int_eq(rshare_node_create(&cfg, &node), 0);
    return node;
}

/* A fake transport to exercise the attach checks. */
static int closed;
static size_t fake_mtu_value = 512;
static size_t fake_mtu(void *impl) { (void)impl; return fake_mtu_value; }
static int fake_send(void *impl, const struct rshare_link_addr *dst, const void *p, size_t n,
                     unsigned flags)
{
    (void)impl; (void)dst; (void)p; (void)n; (void)flags;
    return 0;
}
static void fake_close(void *impl) { (void)impl; closed++; }

START_TEST(test_transport_attach)
{
    rshare_node *node = new_node();
    struct rshare_transport_ops ops = {.struct_size = sizeof(ops), .version = 1, .name = "fake",
                                       .mtu = fake_mtu, .send = fake_send, .close = fake_close};
    closed = 0;
    struct rshare_transport_ops bad = ops;
    bad.version = 0;
    ck_assert_int_eq(rshare_node_add_transport(node, &bad, NULL), RSHARE_EVERSION);
    ck_assert_int_eq(closed, 1); /* ownership taken even on failure */
    bad = ops;
    bad.send = NULL;
    ck_assert_int_eq(rshare_node_add_transport(node, &bad, NULL), RSHARE_EINVAL);
    ck_assert_str_ne(rshare_node_errmsg(node), "");
    fake_mtu_value = 10;
    ck_assert_int_eq(rshare_node_add_transport(node, &ops, NULL), RSHARE_EINVAL);
    fake_mtu_value = 512;
    ck_assert_int_eq(closed, 3);
    /* An older, shorter vtable (without control/close) is accepted. */
    struct rshare_transport_ops old = ops;
    old.struct_size = offsetof(struct rshare_transport_ops, broadcast_addr);
    ck_assert_int_eq(rshare_node_add_transport(node, &old, NULL), 0);
    ck_assert_int_eq(rshare_node_add_transport(node, &ops, NULL), 1);
    for (int i = 2; i < 8; i++)
        ck_assert_int_eq(rshare_node_add_transport(node, &ops, NULL), i);
    ck_assert_int_eq(rshare_node_add_transport(node, &ops, NULL), RSHARE_EBUSY);
    ck_assert_int_eq(closed, 4);
    /* Pushing to a bad index or with a bad address is refused. */
    struct rshare_link_addr src = {.len = 1};
    uint8_t byte = 0;
    ck_assert_int_eq(rshare_node_push(node, 9, &src, &byte, 1), RSHARE_EINVAL);
    src.len = 200;
    ck_assert_int_eq(rshare_node_push(node, 0, &src, &byte, 1), RSHARE_EINVAL);
    rshare_node_destroy(node);
    /* Transport 0 had no close (short vtable): 7 closes for 1..7. */
    ck_assert_int_eq(closed, 4 + 7);
}
END_TEST

START_TEST(test_stats_struct_size)
{
    rshare_node *node = new_node();
    struct rshare_node_stats st;
    memset(&st, 0xAB, sizeof(st));
    ck_assert_int_eq(rshare_node_stats(node, &st, sizeof(st)), 0);
    ck_assert_uint_eq(st.struct_size, sizeof(st));
    ck_assert_uint_eq(st.rx_packets, 0);
    /* An older caller with a shorter struct: nothing past it is written. */
    unsigned char small[24];
    memset(small, 0xCD, sizeof(small));
    ck_assert_int_eq(rshare_node_stats(node, (struct rshare_node_stats *)(void *)small, 16), 0);
    for (size_t i = 16; i < sizeof(small); i++)
        ck_assert_uint_eq(small[i], 0xCD);
    ck_assert_int_eq(rshare_node_stats(node, &st, 4), RSHARE_EINVAL);
    rshare_node_destroy(node);
}
END_TEST

/* Vectored sends: more than RSHARE_SENDV_MAX pieces are refused with a
 * clear error before the transport sees them; at most that many reach it. */
static int sendv_calls;
static size_t sendv_bytes;
static int fake_sendv(void *impl, const struct rshare_link_addr *dst,
                      const struct rshare_iovec *pieces, size_t count, unsigned flags)
{
    (void)impl; (void)dst; (void)flags;
    sendv_calls++;
    for (size_t i = 0; i < count; i++)
        sendv_bytes += pieces[i].len;
    return 0;
}

START_TEST(test_sendv_pieces)
{
    rshare_node *node = new_node();
    struct rshare_transport_ops ops = {.struct_size = sizeof(ops), .version = 2, .name = "fake",
                                       .mtu = fake_mtu, .send = fake_send, .sendv = fake_sendv};
    int t = rshare_node_add_transport(node, &ops, NULL);
    ck_assert_int_ge(t, 0);
    ck_assert(rs_transport_can_sendv(node, t));
    static uint8_t data[RSHARE_SENDV_MAX + 1][8];
    struct rshare_iovec pieces[RSHARE_SENDV_MAX + 1];
    for (size_t i = 0; i <= RSHARE_SENDV_MAX; i++)
        pieces[i] = (struct rshare_iovec){data[i], sizeof(data[i])};
    struct rshare_link_addr dst = {.len = 1};
    sendv_calls = 0;
    sendv_bytes = 0;
    ck_assert_int_eq(rs_transport_sendv(node, t, &dst, pieces, RSHARE_SENDV_MAX + 1, 0),
                     RSHARE_EINVAL);
    ck_assert_ptr_nonnull(strstr(rshare_node_errmsg(node), "pieces"));
    ck_assert_int_eq(sendv_calls, 0);
    struct rshare_node_stats st;
    ck_assert_int_eq(rshare_node_stats(node, &st, sizeof(st)), 0);
    ck_assert_uint_eq(st.tx_packets, 0);
    ck_assert_int_eq(rs_transport_sendv(node, t, &dst, pieces, RSHARE_SENDV_MAX, 0), 0);
    ck_assert_int_eq(sendv_calls, 1);
    ck_assert_uint_eq(sendv_bytes, RSHARE_SENDV_MAX * sizeof(data[0]));
    rshare_node_destroy(node);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_version);
    tcase_add_test(tc, test_config_checks);
    tcase_add_test(tc, test_allocator_and_log_hooks);
    tcase_add_test(tc, test_shared_spares);
    tcase_add_test(tc, test_injected_clock_and_timers);
    tcase_add_test(tc, test_real_clock_fd_wakes_for_timers);
    tcase_add_test(tc, test_persistent_boot_counter);
    tcase_add_test(tc, test_transport_attach);
    tcase_add_test(tc, test_stats_struct_size);
    tcase_add_test(tc, test_sendv_pieces);
    suite_add_tcase(s, tc);
    return rs_test_run(s);
}
