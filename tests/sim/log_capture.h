/* Simulations: every log line of every node kept in one buffer, to be
 * searched (for secrets that must never appear, for expected events).
 * One per test program: the buffer is static. */
#ifndef RSHARE_TEST_LOG_CAPTURE_H
#define RSHARE_TEST_LOG_CAPTURE_H

#include <stdlib.h>
#include <string.h>

#include <rshare/common.h>

static char *logbuf;
static size_t log_len, log_cap;

static inline void capture_log(void *user_data, enum rshare_log_level level,
                               const char *message)
{
    (void)user_data;
    (void)level;
    size_t n = strlen(message);
    if (log_len + n + 2 > log_cap) {
        log_cap = (log_len + n + 2) * 2;
        logbuf = realloc(logbuf, log_cap);
    }
    memcpy(logbuf + log_len, message, n);
    log_len += n;
    logbuf[log_len++] = '\n';
    logbuf[log_len] = '\0';
}

#endif
