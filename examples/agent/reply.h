/* rshared — building a control reply: text lines for people, or one JSON
 * object for scripts, from the same calls.  Text values are escaped for
 * JSON; the reply is bounded and says so when it was cut. */
#ifndef RSHARED_REPLY_H
#define RSHARED_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REPLY_MAX 65536

struct reply {
    bool json;
    char buf[REPLY_MAX];
    size_t len;
    bool truncated;
    int depth;       /* JSON nesting */
    bool first[8];   /* no comma needed yet at this depth */
};

void reply_init(struct reply *r, bool json);
/* A text line (text mode only). */
void reply_line(struct reply *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* JSON structure (JSON mode only); keys NULL inside arrays. */
void reply_open(struct reply *r, const char *key, char kind); /* '{' or '[' */
void reply_close(struct reply *r, char kind);
void reply_str(struct reply *r, const char *key, const char *value);
void reply_u64(struct reply *r, const char *key, uint64_t value);
void reply_bool(struct reply *r, const char *key, bool value);

#endif
