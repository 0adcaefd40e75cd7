/* rshare core — the error table turned into names and messages, and the
 * per-node detail message. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core.h"

RSHARE_API const char *rshare_strerror(int code)
{
    switch (code) {
    case RSHARE_OK:
        return "success";
#define RS_ERROR_TEXT_(name, value, text)                                     \
    case RSHARE_E##name:                                                       \
        return text;
        RSHARE_ERROR_MAP(RS_ERROR_TEXT_)
#undef RS_ERROR_TEXT_
    default:
        return "unknown error";
    }
}

RSHARE_API const char *rshare_err_name(int code)
{
    switch (code) {
    case RSHARE_OK:
        return "RSHARE_OK";
#define RS_ERROR_NAME_(name, value, text)                                     \
    case RSHARE_E##name:                                                       \
        return "RSHARE_E" #name;
        RSHARE_ERROR_MAP(RS_ERROR_NAME_)
#undef RS_ERROR_NAME_
    default:
        return "RSHARE_E_UNKNOWN";
    }
}

static int vset_error(rshare_node *node, int code, const char *suffix, const char *fmt, va_list ap)
{
    if (!node)
        return code;
    struct rs_core *core = rs_core(node);
    int n = vsnprintf(core->errmsg, sizeof(core->errmsg), fmt, ap);
    if (suffix && n >= 0 && (size_t)n < sizeof(core->errmsg))
        snprintf(core->errmsg + n, sizeof(core->errmsg) - (size_t)n, ": %s", suffix);
    rs_log_debug(node, "%s (%s)", core->errmsg, rshare_err_name(code));
    return code;
}

int rs_errorf(rshare_node *node, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset_error(node, code, NULL, fmt, ap);
    va_end(ap);
    return code;
}

int rs_syserr(rshare_node *node, const char *fmt, ...)
{
    char reason[128];
    int saved = errno;
    strerror_r(saved, reason, sizeof(reason));
    va_list ap;
    va_start(ap, fmt);
    vset_error(node, RSHARE_ESYS, reason, fmt, ap);
    va_end(ap);
    errno = saved;
    return RSHARE_ESYS;
}

RSHARE_API const char *rshare_node_errmsg(const rshare_node *node)
{
    return node ? rs_core_const(node)->errmsg : "no node";
}
