/* rshared — control replies (see reply.h). */
#include "config.h"

#include "reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void reply_init(struct reply *r, bool json)
{
    memset(r, 0, sizeof(*r));
    r->json = json;
    r->first[0] = true;
}

static void put(struct reply *r, const char *s, size_t n)
{
    if (r->len + n + 1 > sizeof(r->buf)) {
        r->truncated = true;
        return;
    }
    memcpy(r->buf + r->len, s, n);
    r->len += n;
    r->buf[r->len] = 0;
}

static void putf(struct reply *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct reply *r, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        put(r, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

void reply_line(struct reply *r, const char *fmt, ...)
{
    if (r->json)
        return;
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    /* One line per call: a newline inside would break the protocol. */
    for (char *c = tmp; *c; c++)
        if (*c == '\n')
            *c = ' ';
    put(r, tmp, strlen(tmp));
    put(r, "\n", 1);
}

static void json_string(struct reply *r, const char *s)
{
    put(r, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\')
            putf(r, "\\%c", *c);
        else if (*c < 0x20)
            putf(r, "\\u%04x", *c);
        else
            put(r, (const char *)c, 1);
    }
    put(r, "\"", 1);
}

static void member(struct reply *r, const char *key)
{
    if (!r->first[r->depth])
        put(r, ",", 1);
    r->first[r->depth] = false;
    if (key) {
        json_string(r, key);
        put(r, ":", 1);
    }
}

void reply_open(struct reply *r, const char *key, char kind)
{
    if (!r->json || r->depth + 1 >= (int)(sizeof(r->first) / sizeof(r->first[0])))
        return;
    member(r, key);
    put(r, &kind, 1);
    r->first[++r->depth] = true;
}

void reply_close(struct reply *r, char kind)
{
    if (!r->json || r->depth == 0)
        return;
    r->depth--;
    char close = kind == '{' ? '}' : ']';
    put(r, &close, 1);
    if (r->depth == 0)
        put(r, "\n", 1);
}

void reply_str(struct reply *r, const char *key, const char *value)
{
    if (!r->json)
        return;
    member(r, key);
    json_string(r, value);
}

void reply_u64(struct reply *r, const char *key, uint64_t value)
{
    if (!r->json)
        return;
    member(r, key);
    putf(r, "%llu", (unsigned long long)value);
}

void reply_bool(struct reply *r, const char *key, bool value)
{
    if (!r->json)
        return;
    member(r, key);
    put(r, value ? "true" : "false", value ? 4 : 5);
}
