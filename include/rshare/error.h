/* rshare — error codes.  One table generates the enum, the names and the
 * messages.  Codes are negative; new codes are added last, never renumbered. */
#ifndef RSHARE_ERROR_H
#define RSHARE_ERROR_H

#include <rshare/common.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RSHARE_ERROR_MAP(X)                                                   \
    X(INVAL, -1, "invalid argument")                                          \
    X(NOMEM, -2, "out of memory")                                             \
    X(VERSION, -3, "structure or protocol version not supported")             \
    X(AGAIN, -4, "resource temporarily unavailable, try again")               \
    X(TIMEDOUT, -5, "operation timed out")                                    \
    X(MSGSIZE, -6, "message too large")                                       \
    X(PROTO, -7, "malformed packet or message")                               \
    X(AUTH, -8, "authentication failed")                                      \
    X(REPLAY, -9, "duplicate or replayed packet")                             \
    X(NOENT, -10, "no such entry")                                            \
    X(EXIST, -11, "entry already exists")                                     \
    X(IO, -12, "input/output error")                                          \
    X(SYS, -13, "operating system error")                                     \
    X(NOTSUP, -14, "operation not supported")                                 \
    X(BUSY, -15, "resource busy or limit reached")                            \
    X(UNREACH, -16, "peer unreachable")                                       \
    X(CANCELED, -17, "operation canceled")                                    \
    X(STALE, -18, "request too old to be executed")                           \
    X(SHUTDOWN, -19, "node is shutting down")                                 \
    X(REMOTE, -20, "peer reported an error")                                  \
    X(NOHANDLER, -21, "no handler for this message type")                    \
    X(ACCES, -22, "access denied: no valid grant, lease or fencing token")

enum rshare_error {
    RSHARE_OK = 0,
#define RSHARE_ERROR_ENUM_(name, value, text) RSHARE_E##name = (value),
    RSHARE_ERROR_MAP(RSHARE_ERROR_ENUM_)
#undef RSHARE_ERROR_ENUM_
    RSHARE_ERROR_MIN_ = -23
};

/* A human-readable message for an RSHARE_E* code (or 0). Never NULL. */
RSHARE_API const char *rshare_strerror(int code);

/* The code's symbolic name, such as "RSHARE_ETIMEDOUT". Never NULL. */
RSHARE_API const char *rshare_err_name(int code);

#ifdef __cplusplus
}
#endif
#endif
