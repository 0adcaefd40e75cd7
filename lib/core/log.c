/* rshare core — logging through the node's sink.  Lines are formatted into
 * a bounded buffer; keys and payloads are never passed here. */
#include "config.h"

#include <stdio.h>

#include "core.h"

void rs_log_write(rshare_node *node, enum rshare_log_level level, const char *fmt, ...)
{
    const struct rshare_log *log = &rs_core(node)->config.log;
    if (level > log->max_level || !log->write)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    log->write(log->user_data, level, line);
}
