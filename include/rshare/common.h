/* rshare — common definitions shared by every public header: the export
 * macro, the opaque node handle and the hook structures a node is built with. */
#ifndef RSHARE_COMMON_H
#define RSHARE_COMMON_H

#include <stddef.h>
#include <stdint.h>

#if defined(RSHARE_BUILDING) && defined(__GNUC__)
#define RSHARE_API __attribute__((visibility("default")))
#else
#define RSHARE_API
#endif

#if defined(__GNUC__)
#define RSHARE_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define RSHARE_PRINTF(fmt, args)
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* One node of an rshare cluster.  Opaque: think of the pointer as an object. */
typedef struct rshare_node rshare_node;

/* Monotonic time source, in microseconds.  The default reads CLOCK_MONOTONIC;
 * simulations inject a virtual clock.  Frozen: never extended. */
struct rshare_clock {
    uint64_t (*now_us)(void *user_data);
    void *user_data;
};

/* Memory allocator.  All three are set or none (then libc's are used).
 * Frozen: never extended. */
struct rshare_allocator {
    void *(*malloc)(void *user_data, size_t size);
    void *(*realloc)(void *user_data, void *ptr, size_t size);
    void (*free)(void *user_data, void *ptr);
    void *user_data;
};

/* 0 as a sink's max_level means the default (warnings and errors). */
enum rshare_log_level {
    RSHARE_LOG_ERROR = 1,
    RSHARE_LOG_WARNING = 2,
    RSHARE_LOG_INFO = 3,
    RSHARE_LOG_DEBUG = 4
};

/* Log sink.  `message` is one line without a trailing newline.  The default
 * sink (write NULL) writes to stderr.  `max_level` is the most detailed
 * level passed on, 0 meaning RSHARE_LOG_WARNING.  Frozen: never extended. */
struct rshare_log {
    void (*write)(void *user_data, enum rshare_log_level level, const char *message);
    void *user_data;
    enum rshare_log_level max_level;
};

/* Persistence of small named records (boot counter, later the map).  The
 * default, when `state_dir` is configured, is one file per key written
 * atomically.  `load` returns the record length, RSHARE_ENOENT when absent.
 * Frozen: never extended. */
struct rshare_persist {
    int (*load)(void *user_data, const char *key, void *buf, size_t buf_len);
    int (*store)(void *user_data, const char *key, const void *buf, size_t len);
    void *user_data;
};

#ifdef __cplusplus
}
#endif
#endif
