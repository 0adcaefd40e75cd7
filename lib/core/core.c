/* rshare core — the node's base: configuration defaults and checks, the
 * allocator, clock and log hooks, and the boot session used for nonces. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "core.h"
#include "shared.h"

#define DEFAULT_MAX_MESSAGE (4u << 20)
#define DEFAULT_MAX_PEERS 256u
#define DEFAULT_MAX_REASSEMBLY (16u << 20)
#define DEFAULT_REASSEMBLY_TIMEOUT_MS 10000u
#define DEFAULT_REQUEST_TIMEOUT_MS 5000u
#define DEFAULT_REQUEST_RETRY_MS 100u
#define DEFAULT_MAX_PENDING 4096u
#define DEFAULT_PEER_SLOTS 128u
#define DEFAULT_LINK_WINDOW 64u
#define MAX_MESSAGE_LIMIT (64u << 20)

static const char *const level_names[] = {"?", "error", "warning", "info", "debug"};

static void stderr_log(void *user_data, enum rshare_log_level level, const char *message)
{
    (void)user_data;
    fprintf(stderr, "rshare %s: %s\n", level_names[level], message);
}

static uint64_t monotonic_now_us(void *user_data)
{
    (void)user_data;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void *libc_malloc(void *u, size_t n) { (void)u; return malloc(n); }
static void *libc_realloc(void *u, void *p, size_t n) { (void)u; return realloc(p, n); }
static void libc_free(void *u, void *p) { (void)u; free(p); }

RSHARE_API void rshare_node_config_init(struct rshare_node_config *config, size_t struct_size)
{
    if (!config || struct_size < sizeof(uint32_t))
        return;
    memset(config, 0, struct_size);
    config->struct_size = (uint32_t)struct_size;
    /* Every field is zero = default, resolved by rs_core_init(). */
}

#define SET_DEFAULT(field, value)                                              \
    do {                                                                       \
        if (!cfg->field)                                                       \
            cfg->field = (value);                                              \
    } while (0)

static int resolve_config(rshare_node *node, struct rshare_node_config *cfg,
                          const struct rshare_node_config *given)
{
    if (given->struct_size < offsetof(struct rshare_node_config, max_message_bytes))
        return rs_errorf(node, RSHARE_EVERSION, "node config struct_size %u too small",
                         given->struct_size);
    memset(cfg, 0, sizeof(*cfg));
    size_t n = given->struct_size < sizeof(*cfg) ? given->struct_size : sizeof(*cfg);
    memcpy(cfg, given, n);
    cfg->struct_size = sizeof(*cfg);

    if (cfg->node_id == RSHARE_NODE_ID_NONE || cfg->node_id == RSHARE_NODE_ID_BROADCAST)
        return rs_errorf(node, RSHARE_EINVAL, "node id %u is reserved", cfg->node_id);

    SET_DEFAULT(max_message_bytes, DEFAULT_MAX_MESSAGE);
    SET_DEFAULT(max_peers, DEFAULT_MAX_PEERS);
    SET_DEFAULT(max_reassembly_bytes, DEFAULT_MAX_REASSEMBLY);
    SET_DEFAULT(reassembly_timeout_ms, DEFAULT_REASSEMBLY_TIMEOUT_MS);
    SET_DEFAULT(request_timeout_ms, DEFAULT_REQUEST_TIMEOUT_MS);
    SET_DEFAULT(request_retry_ms, DEFAULT_REQUEST_RETRY_MS);
    SET_DEFAULT(max_pending_requests, DEFAULT_MAX_PENDING);
    SET_DEFAULT(peer_slots, DEFAULT_PEER_SLOTS);
    SET_DEFAULT(link_window, DEFAULT_LINK_WINDOW);
    if (cfg->max_message_bytes > MAX_MESSAGE_LIMIT)
        return rs_errorf(node, RSHARE_EINVAL, "max_message_bytes above %u", MAX_MESSAGE_LIMIT);
    if (cfg->link_window > 1024)
        return rs_errorf(node, RSHARE_EINVAL, "link_window above 1024");

    if (!cfg->clock.now_us)
        cfg->clock.now_us = monotonic_now_us;
    bool some_alloc = cfg->allocator.malloc || cfg->allocator.realloc || cfg->allocator.free;
    bool all_alloc = cfg->allocator.malloc && cfg->allocator.realloc && cfg->allocator.free;
    if (some_alloc && !all_alloc)
        return rs_errorf(node, RSHARE_EINVAL, "allocator needs malloc, realloc and free");
    if (!all_alloc) {
        cfg->allocator.malloc = libc_malloc;
        cfg->allocator.realloc = libc_realloc;
        cfg->allocator.free = libc_free;
    }
    if (!cfg->log.write)
        cfg->log.write = stderr_log;
    if ((unsigned)cfg->log.max_level == 0)
        cfg->log.max_level = RSHARE_LOG_WARNING;
    if ((unsigned)cfg->log.max_level > RSHARE_LOG_DEBUG)
        cfg->log.max_level = RSHARE_LOG_DEBUG;
    cfg->cluster_key = NULL; /* copied into the core, never kept by pointer */
    cfg->state_dir = NULL;   /* resolved by the persistence code */
    return 0;
}

/* The boot session makes nonces unique across restarts.  With persistence
 * the top bit is set, bits 62..32 hold a boot counter stored before use and
 * the low half is random; peers then refuse sessions older than the one they
 * know.  Without persistence the top bit is clear and 63 bits are random. */
#define SESSION_PERSISTED (UINT64_C(1) << 63)

static int start_session(rshare_node *node, struct rs_core *core)
{
    if (!rs_persist_available(node)) {
        randombytes_buf(&core->session, sizeof(core->session));
        core->session &= ~SESSION_PERSISTED;
        if (core->protected_mode)
            rs_log_warn(node, "no persistence configured: peers cannot tell this boot from a "
                              "replay of an older one");
        return 0;
    }
    uint8_t buf[4];
    uint32_t counter = 0;
    int n = rs_persist_load(node, "boot-counter", buf, sizeof(buf));
    if (n == (int)sizeof(buf))
        counter = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3];
    else if (n != RSHARE_ENOENT)
        return n < 0 ? n : rs_errorf(node, RSHARE_EPROTO, "boot-counter record is corrupt");
    if (counter >= 0x7FFFFFFFu)
        return rs_errorf(node, RSHARE_EIO, "boot counter exhausted");
    counter++;
    buf[0] = (uint8_t)(counter >> 24);
    buf[1] = (uint8_t)(counter >> 16);
    buf[2] = (uint8_t)(counter >> 8);
    buf[3] = (uint8_t)counter;
    int rc = rs_persist_store(node, "boot-counter", buf, sizeof(buf));
    if (rc < 0)
        return rc;
    core->session = SESSION_PERSISTED | (uint64_t)counter << 32 | randombytes_random();
    return 0;
}

int rs_core_init(struct rs_core *core, rshare_node *node, const struct rshare_node_config *config)
{
    core->epoll_fd = -1;
    core->timer_fd = -1;
    int rc = resolve_config(node, &core->config, config);
    if (rc < 0)
        return rc;
    core->monotonic_clock = core->config.clock.now_us == monotonic_now_us;
    if (sodium_init() < 0)
        return rs_errorf(node, RSHARE_EIO, "libsodium failed to initialise");
    if (config->cluster_key) {
        memcpy(core->cluster_key, config->cluster_key, RSHARE_CLUSTER_KEY_BYTES);
        core->protected_mode = true;
    } else {
        rs_log_warn(node, "node %u runs unprotected: no cluster key configured", core->config.node_id);
    }
    rc = rs_persist_init(node, config);
    if (rc < 0)
        return rc;
    rc = start_session(node, core);
    if (rc < 0)
        return rc;
    return rs_event_init(node);
}

void rs_core_fini(struct rs_core *core, rshare_node *node)
{
    rs_transports_close(node);
    rs_event_fini(node);
    rs_persist_fini(node);
    rs_shared_drain(node);
    rs_free(node, core->timers.items);
    core->timers.items = NULL;
    sodium_memzero(core->cluster_key, sizeof(core->cluster_key));
}

void *rs_malloc(rshare_node *node, size_t size)
{
    const struct rshare_allocator *a = &rs_core(node)->config.allocator;
    return a->malloc(a->user_data, size ? size : 1);
}

void *rs_calloc(rshare_node *node, size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    void *p = rs_malloc(node, count * size);
    if (p)
        memset(p, 0, count * size);
    return p;
}

void *rs_realloc(rshare_node *node, void *ptr, size_t size)
{
    const struct rshare_allocator *a = &rs_core(node)->config.allocator;
    return a->realloc(a->user_data, ptr, size ? size : 1);
}

void rs_free(rshare_node *node, void *ptr)
{
    if (!ptr)
        return;
    const struct rshare_allocator *a = &rs_core(node)->config.allocator;
    a->free(a->user_data, ptr);
}

uint64_t rs_now_us(rshare_node *node)
{
    const struct rshare_clock *c = &rs_core(node)->config.clock;
    return c->now_us(c->user_data);
}

RSHARE_API uint64_t rshare_node_now_us(rshare_node *node)
{
    return rs_now_us(node);
}

RSHARE_API uint32_t rshare_node_id(const rshare_node *node)
{
    return node ? rs_core_const(node)->config.node_id : 0;
}

RSHARE_API int rshare_node_stats(const rshare_node *node, struct rshare_node_stats *stats,
                                 size_t struct_size)
{
    if (!node || !stats || struct_size < 2 * sizeof(uint32_t))
        return RSHARE_EINVAL;
    struct rshare_node_stats copy = rs_core_const(node)->stats;
    copy.struct_size = sizeof(copy);
    size_t n = struct_size < sizeof(copy) ? struct_size : sizeof(copy);
    memcpy(stats, &copy, n);
    stats->struct_size = (uint32_t)n;
    return 0;
}
