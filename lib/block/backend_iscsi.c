/* rshare block — the iSCSI backend: a LUN of an iSCSI target through
 * libiscsi's asynchronous API, driven by the node's loop.
 *
 * libiscsi owns one TCP socket per session.  Its descriptor sits in the
 * node's epoll set through an rs_fd_watch (lib/core/event.c) whose events
 * follow iscsi_which_events() after every call into libiscsi, so an I/O
 * costs no extra wake-up and adds no latency; a short polling timer would
 * have added up to its period to every command.  Two timers complete the
 * picture: `conn_timer` bounds a login (and spaces reconnect attempts), and
 * `tick` watches a connection that has commands outstanding — it sends
 * NOP-Outs while the target is quiet and declares the target dead when
 * nothing at all (NOP-In included) came back for io_timeout_ms.  A target
 * that is merely slow keeps answering NOPs, and its commands keep waiting.
 *
 * Reconnection is ours, not libiscsi's (iscsi_set_noautoreconnect): when a
 * connection is lost the context is destroyed (libiscsi then cancels its
 * commands), every request that was on the wire is counted against its
 * resend budget and queued again, and a fresh context logs in.  A round of
 * failed attempts fails the queued requests with RSHARE_EUNREACH (or
 * RSHARE_ETIMEDOUT); the next request starts a new round, so the LUN comes
 * back by itself when the target does.
 *
 * Bounded input from the target: sense data is parsed by libiscsi into a
 * fixed struct (we only read its key and ASC/ASCQ and print them through
 * libiscsi's tables); READ CAPACITY(16) and the VPD pages are unmarshalled
 * by libiscsi, which returns NULL for short data, and their values are
 * range-checked here (block size a power of two in 512..65536, block count
 * non-zero and small enough that the size in bytes fits 64 bits).  Data-In
 * lands only in the caller's buffer, within the length asked for. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "rshare/iscsi.h"

RSHARE_API void rshare_iscsi_config_init(struct rshare_iscsi_config *config, size_t struct_size)
{
    if (!config || struct_size < sizeof(uint32_t))
        return;
    memset(config, 0, struct_size);
    config->struct_size = (uint32_t)struct_size;
}

#ifndef HAVE_ISCSI

RSHARE_API int rshare_block_open_iscsi(rshare_node *node, const struct rshare_iscsi_config *cfg,
                                       rshare_block **out)
{
    (void)cfg;
    if (out)
        *out = NULL;
    if (!node)
        return RSHARE_ENOTSUP;
    return rs_errorf(node, RSHARE_ENOTSUP, "this librshare was built without iSCSI");
}

#else

#include <poll.h>
#include <sys/epoll.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#define DEFAULT_INITIATOR "iqn.2024-01.org.rshare:initiator"
#define DEFAULT_CONNECT_MS 5000u
#define DEFAULT_IO_MS 10000u
#define DEFAULT_ATTEMPTS 3u
#define DEFAULT_DELAY_MS 500u
#define DEFAULT_RETRIES 2u
/* Commands the target answers with "try again" (UNIT ATTENTION after a
 * reconnect, BUSY, ABORTED COMMAND) are re-sent at once up to this many
 * times each; they are cheap and bounded, unlike a reconnect. */
#define MAX_SOFT_RETRIES 8u
#define STRING_MAX 255 /* libiscsi's MAX_STRING_SIZE */

/* One I/O the backend holds: queued for a connection (task NULL) or sent
 * (task set) on the current one. */
struct iscsi_req {
    struct iscsi_backend *b;
    struct rshare_block_io *io;
    struct scsi_task *task;
    struct scsi_iovec iov;
    struct unmap_list unmap;
    uint32_t resends;      /* times re-queued after losing its connection */
    uint32_t soft_retries; /* times re-sent after a "try again" answer */
    bool on_wire;          /* sent on the current connection */
    struct iscsi_req *prev, *next;
};

struct req_list {
    struct iscsi_req *head, *tail;
    size_t count;
};

enum conn_state { CONN_DOWN, CONN_CONNECTING, CONN_UP };

struct iscsi_backend {
    rshare_node *node;
    char portal[STRING_MAX + 1], target[STRING_MAX + 1], initiator[STRING_MAX + 1];
    char user[STRING_MAX + 1], password[STRING_MAX + 1];
    uint32_t lun, flags;
    uint32_t connect_ms, io_ms, attempts_max, delay_ms, retries;

    struct iscsi_context *ctx;
    enum conn_state state;
    struct rs_fd_watch watch;
    struct rs_timer conn_timer; /* login deadline, or the next attempt */
    bool conn_timer_is_retry;
    struct rs_timer tick;       /* liveness while commands are outstanding */
    uint32_t attempts;          /* failed logins in the current round */
    uint64_t last_heard_us;     /* last answer of any kind from the target */
    bool nop_pending;

    struct req_list waiting, sent;

    /* A failure noticed inside iscsi_service() (a callback may not destroy
     * the context it runs in): handled when the call returns. */
    bool in_service;
    int broken;                /* 0, or the code the loss is reported with */
    char broken_why[640];

    bool opening;   /* rshare_block_open_iscsi() drives the context itself */
    bool logged_in; /* for open: the first login finished */
    bool in_teardown;

    /* Geometry (READ CAPACITY(16)) and what the LUN can do. */
    uint32_t block_size;
    uint64_t block_count;
    bool can_unmap;
    uint32_t max_io_bytes;

    /* Internal commands during open. */
    struct scsi_task *sync_task;
    int sync_status;
    bool sync_done;
};

/* --- lists ------------------------------------------------------------------------- */

static void list_push(struct req_list *l, struct iscsi_req *r)
{
    r->next = NULL;
    r->prev = l->tail;
    if (l->tail)
        l->tail->next = r;
    else
        l->head = r;
    l->tail = r;
    l->count++;
}

static void list_unlink(struct req_list *l, struct iscsi_req *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        l->head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        l->tail = r->prev;
    r->prev = r->next = NULL;
    l->count--;
}

/* --- small helpers ------------------------------------------------------------- */

static const char *ctx_error(struct iscsi_backend *b)
{
    const char *e = b->ctx ? iscsi_get_error(b->ctx) : NULL;
    return e && *e ? e : "no detail";
}

/* What a failed login means, from libiscsi's message: it reports the login
 * response's status as "...Status: <text>(<number>)" (RFC 7143 10.13.5:
 * class 2 = initiator error: 0x0201 authentication failure, 0x0202
 * authorization failure, 0x0203 target not found, 0x0205 removed) and its
 * own CHAP checks with "CHAP" in the text. */
static int login_error_code(const char *msg)
{
    const char *st = strstr(msg, "Status:");
    if (st) {
        const char *paren = strrchr(st, '(');
        if (paren) {
            long v = strtol(paren + 1, NULL, 0);
            if (v == 0x0201 || v == 0x0202)
                return RSHARE_EAUTH;
            if (v == 0x0203 || v == 0x0204 || v == 0x0205)
                return RSHARE_ENOENT;
        }
    }
    if (strstr(msg, "CHAP") || strstr(msg, "uthentication"))
        return RSHARE_EAUTH;
    if (strstr(msg, "LOGICAL_UNIT_NOT_SUPPORTED"))
        return RSHARE_ENOENT;
    return RSHARE_EUNREACH;
}

static uint32_t poll_from_epoll(uint32_t ev)
{
    return (ev & EPOLLIN ? POLLIN : 0) | (ev & EPOLLOUT ? POLLOUT : 0) |
           (ev & EPOLLERR ? POLLERR : 0) | (ev & EPOLLHUP ? POLLHUP : 0);
}

static void watch_fire(rshare_node *node, struct rs_fd_watch *watch, uint32_t events);
static void after_service(struct iscsi_backend *b);

/* Keep the epoll registration in step with what libiscsi wants now.
 * EPOLLRDHUP tells us at once when the target closes the connection. */
static void update_watch(struct iscsi_backend *b)
{
    if (b->opening || !b->ctx)
        return;
    int fd = iscsi_get_fd(b->ctx);
    if (fd < 0) {
        rs_fd_watch_clear(b->node, &b->watch);
        return;
    }
    int want = iscsi_which_events(b->ctx);
    uint32_t ev = EPOLLRDHUP | (want & POLLIN ? EPOLLIN : 0) | (want & POLLOUT ? EPOLLOUT : 0);
    if (rs_fd_watch_set(b->node, &b->watch, fd, ev) < 0)
        rs_log_error(b->node, "iscsi %s: cannot watch its socket: %s", b->target,
                     rshare_node_errmsg(b->node));
}

/* --- completing requests ----------------------------------------------------------- */

static void complete(struct iscsi_backend *b, struct req_list *from, struct iscsi_req *r,
                     int status)
{
    list_unlink(from, r);
    struct rshare_block_io *io = r->io;
    rs_free(b->node, r);
    io->done(io, status); /* the core defers it to the loop */
}

static void fail_waiting(struct iscsi_backend *b, int code, const char *why)
{
    if (!b->waiting.count)
        return;
    rs_errorf(b->node, code, "iscsi %s: %s", b->target, why);
    while (b->waiting.head)
        complete(b, &b->waiting, b->waiting.head, code);
}

/* Sense data → an RSHARE_E* code, or 1 for "send it again". */
static int sense_code(const struct scsi_sense *s)
{
    switch (s->key) {
    case SCSI_SENSE_MEDIUM_ERROR:
    case SCSI_SENSE_HARDWARE_ERROR:
    case SCSI_SENSE_MISCOMPARE:
        return RSHARE_EIO;
    case SCSI_SENSE_UNIT_ATTENTION:   /* reset, capacity or mode change: the command was not run */
    case SCSI_SENSE_COMMAND_ABORTED:
    case SCSI_SENSE_RECOVERED_ERROR:  /* should not come with CHECK CONDITION; harmless */
        return 1;
    case SCSI_SENSE_NOT_READY:        /* becoming ready, or offline: not the medium */
        return RSHARE_EUNREACH;
    case SCSI_SENSE_DATA_PROTECTION:  /* write protected */
        return RSHARE_ENOTSUP;
    case SCSI_SENSE_ILLEGAL_REQUEST:
        return RSHARE_EINVAL;
    default:
        return RSHARE_EIO;
    }
}

static int issue(struct iscsi_backend *b, struct iscsi_req *r);

static void schedule_tick(struct iscsi_backend *b);

/* A command's answer.  Any answer from the target proves it alive. */
static void task_cb(struct iscsi_context *iscsi, int status, void *command_data, void *private)
{
    (void)iscsi;
    (void)command_data;
    struct iscsi_req *r = private;
    struct iscsi_backend *b = r->b;
    struct scsi_task *task = r->task;
    r->task = NULL;
    r->on_wire = false;
    list_unlink(&b->sent, r);
    list_push(&b->waiting, r);
    if (b->in_teardown || status == SCSI_STATUS_CANCELLED || status == SCSI_STATUS_ERROR ||
        status == SCSI_STATUS_TIMEOUT) {
        /* Local: the connection went (or is being taken) down.  The
         * request stays queued; losing the connection counts it. */
        r->on_wire = true;
        if (task)
            scsi_free_scsi_task(task);
        if (!b->in_teardown && !b->broken) {
            b->broken = status == SCSI_STATUS_TIMEOUT ? RSHARE_ETIMEDOUT : RSHARE_EUNREACH;
            snprintf(b->broken_why, sizeof(b->broken_why),
                     "connection lost (command %s): %s",
                     status == SCSI_STATUS_CANCELLED ? "cancelled" :
                     status == SCSI_STATUS_TIMEOUT ? "timed out" : "failed", ctx_error(b));
        }
        return;
    }
    b->last_heard_us = rs_now_us(b->node);
    int code = 0;
    if (status == SCSI_STATUS_GOOD) {
        code = 0;
    } else if (status == SCSI_STATUS_CHECK_CONDITION) {
        code = sense_code(&task->sense);
        if (code < 0)
            rs_errorf(b->node, code, "iscsi %s: %s at byte %llu: %s, %s", b->target,
                      r->io->op == RSHARE_BLOCK_READ ? "READ(16)" :
                      r->io->op == RSHARE_BLOCK_WRITE ? "WRITE(16)" :
                      r->io->op == RSHARE_BLOCK_FLUSH ? "SYNCHRONIZE CACHE(16)" : "UNMAP",
                      (unsigned long long)r->io->offset, scsi_sense_key_str(task->sense.key),
                      scsi_sense_ascq_str(task->sense.ascq));
    } else if (status == SCSI_STATUS_BUSY || status == SCSI_STATUS_TASK_SET_FULL ||
               status == SCSI_STATUS_TASK_ABORTED) {
        code = 1;
    } else if (status == SCSI_STATUS_RESERVATION_CONFLICT) {
        code = rs_errorf(b->node, RSHARE_EBUSY, "iscsi %s: reservation conflict", b->target);
    } else {
        code = rs_errorf(b->node, RSHARE_EIO, "iscsi %s: SCSI status 0x%x", b->target,
                         (unsigned)status);
    }
    scsi_free_scsi_task(task);
    if (code == 1) {
        if (++r->soft_retries > MAX_SOFT_RETRIES) {
            code = rs_errorf(b->node, RSHARE_EIO, "iscsi %s: the target kept asking to retry",
                             b->target);
        } else {
            int rc = issue(b, r);
            if (rc < 0)
                complete(b, &b->waiting, r, rc);
            return;
        }
    }
    complete(b, &b->waiting, r, code);
}

/* Send a queued request on the current (logged-in) connection.  It stays
 * queued on failure. */
static int issue(struct iscsi_backend *b, struct iscsi_req *r)
{
    struct rshare_block_io *io = r->io;
    uint64_t lba = io->offset / b->block_size;
    uint32_t len = (uint32_t)io->length;
    struct scsi_task *t = NULL;
    r->task = NULL;
    switch (io->op) {
    case RSHARE_BLOCK_READ:
        r->iov.iov_base = io->buf;
        r->iov.iov_len = len;
        t = iscsi_read16_iov_task(b->ctx, (int)b->lun, lba, len, (int)b->block_size, 0, 0, 0, 0,
                                  0, task_cb, r, &r->iov, 1);
        break;
    case RSHARE_BLOCK_WRITE:
        r->iov.iov_base = io->buf;
        r->iov.iov_len = len;
        t = iscsi_write16_iov_task(b->ctx, (int)b->lun, lba, NULL, len, (int)b->block_size, 0, 0,
                                   0, 0, 0, task_cb, r, &r->iov, 1);
        break;
    case RSHARE_BLOCK_FLUSH:
        t = iscsi_synchronizecache16_task(b->ctx, (int)b->lun, 0, 0, 0, 0, task_cb, r);
        break;
    case RSHARE_BLOCK_DISCARD:
        r->unmap.lba = lba;
        r->unmap.num = (uint32_t)(io->length / b->block_size);
        t = iscsi_unmap_task(b->ctx, (int)b->lun, 0, 0, &r->unmap, 1, task_cb, r);
        break;
    default:
        return RSHARE_EINVAL;
    }
    if (!t)
        return rs_errorf(b->node, RSHARE_ENOMEM, "iscsi %s: cannot queue a command: %s",
                         b->target, ctx_error(b));
    r->task = t;
    r->on_wire = true;
    list_unlink(&b->waiting, r);
    if (!b->sent.count) {
        /* Silence is counted from now, not from the last command. */
        b->last_heard_us = rs_now_us(b->node);
        b->nop_pending = false;
    }
    list_push(&b->sent, r);
    schedule_tick(b);
    return 0;
}

/* Send everything queued (after a login). */
static void issue_waiting(struct iscsi_backend *b)
{
    struct iscsi_req *r = b->waiting.head;
    while (r && b->state == CONN_UP && !b->broken) {
        struct iscsi_req *next = r->next;
        int rc = issue(b, r);
        if (rc < 0)
            complete(b, &b->waiting, r, rc);
        r = next;
    }
}

/* --- the connection ------------------------------------------------------------------ */

static void connect_cb(struct iscsi_context *iscsi, int status, void *command_data, void *private);

/* Destroy the context: libiscsi cancels its commands, task_cb queues them
 * again; a command whose callback libiscsi skipped is reclaimed here.  A
 * retry the caller wants is scheduled after this. */
static void teardown(struct iscsi_backend *b)
{
    rs_fd_watch_clear(b->node, &b->watch);
    rs_timer_cancel(b->node, &b->tick);
    rs_timer_cancel(b->node, &b->conn_timer); /* the attempt, if any, is over */
    if (b->ctx) {
        b->in_teardown = true;
        iscsi_destroy_context(b->ctx);
        b->in_teardown = false;
        b->ctx = NULL;
    }
    while (b->sent.head) {
        struct iscsi_req *r = b->sent.head;
        if (r->task)
            scsi_free_scsi_task(r->task);
        r->task = NULL;
        list_unlink(&b->sent, r);
        list_push(&b->waiting, r);
    }
    b->nop_pending = false;
    b->state = CONN_DOWN;
}

static int start_connect(struct iscsi_backend *b)
{
    b->broken = 0;
    b->ctx = iscsi_create_context(b->initiator);
    if (!b->ctx)
        return rs_errorf(b->node, RSHARE_ENOMEM, "iscsi_create_context failed");
    iscsi_set_noautoreconnect(b->ctx, 1);
    iscsi_set_session_type(b->ctx, ISCSI_SESSION_NORMAL);
    iscsi_set_header_digest(b->ctx, ISCSI_HEADER_DIGEST_NONE_CRC32C);
    if (iscsi_set_targetname(b->ctx, b->target) != 0 ||
        (b->user[0] && iscsi_set_initiator_username_pwd(b->ctx, b->user, b->password) != 0)) {
        int rc = rs_errorf(b->node, RSHARE_EINVAL, "iscsi %s: %s", b->target, ctx_error(b));
        teardown(b);
        return rc;
    }
    b->state = CONN_CONNECTING;
    if (iscsi_full_connect_async(b->ctx, b->portal, (int)b->lun, connect_cb, b) != 0) {
        int rc = rs_errorf(b->node, RSHARE_EUNREACH, "iscsi %s at %s: %s", b->target, b->portal,
                           ctx_error(b));
        teardown(b);
        return rc;
    }
    if (!b->opening) {
        b->conn_timer_is_retry = false;
        rs_timer_schedule(b->node, &b->conn_timer,
                          rs_now_us(b->node) + (uint64_t)b->connect_ms * 1000u);
        update_watch(b);
    }
    return 0;
}

static void handle_broken(struct iscsi_backend *b);

/* One login attempt; one that fails at once (a refused connect on the
 * loopback can) counts like one that fails later. */
static void attempt(struct iscsi_backend *b)
{
    int rc = start_connect(b);
    if (rc < 0) {
        b->state = CONN_CONNECTING;
        b->broken = rc;
        snprintf(b->broken_why, sizeof(b->broken_why), "%s", rshare_node_errmsg(b->node));
        handle_broken(b);
    }
}

/* Start a round of attempts unless one runs or is scheduled. */
static void kick(struct iscsi_backend *b)
{
    if (b->state == CONN_UP) {
        issue_waiting(b);
        update_watch(b);
        return;
    }
    if (b->state == CONN_CONNECTING || rs_timer_pending(&b->conn_timer))
        return;
    b->attempts = 0;
    attempt(b);
}

/* The connection (or the attempt) is gone: `b->broken` says why. */
static void handle_broken(struct iscsi_backend *b)
{
    int code = b->broken;
    char why[sizeof(b->broken_why)];
    memcpy(why, b->broken_why, sizeof(why));
    enum conn_state was = b->state;
    b->broken = 0;
    teardown(b);
    if (b->opening)
        return; /* the open loop reports it */
    if (was == CONN_UP) {
        rs_log_warn(b->node, "iscsi %s at %s: %s; reconnecting", b->target, b->portal, why);
        /* Each request that was on the wire used one of its resends. */
        struct iscsi_req *r = b->waiting.head;
        while (r) {
            struct iscsi_req *next = r->next;
            if (r->on_wire && ++r->resends > b->retries) {
                rs_errorf(b->node, code, "iscsi %s: %s (sent %u times)", b->target, why,
                          r->resends);
                complete(b, &b->waiting, r, code);
            } else {
                r->on_wire = false;
            }
            r = next;
        }
        if (b->waiting.count)
            kick(b);
        return;
    }
    /* A failed login. */
    b->attempts++;
    if (code == RSHARE_EAUTH || code == RSHARE_ENOENT || b->attempts >= b->attempts_max) {
        char msg[sizeof(why) + 64];
        snprintf(msg, sizeof(msg), "%s (after %u attempts)", why, b->attempts);
        fail_waiting(b, code, msg);
        return;
    }
    b->conn_timer_is_retry = true;
    rs_timer_schedule(b->node, &b->conn_timer,
                      rs_now_us(b->node) + (uint64_t)b->delay_ms * 1000u);
}

static void connect_cb(struct iscsi_context *iscsi, int status, void *command_data, void *private)
{
    (void)command_data;
    struct iscsi_backend *b = private;
    if (iscsi != b->ctx || b->in_teardown)
        return;
    if (b->state != CONN_CONNECTING) {
        /* libiscsi may report an established connection's failure here. */
        if (status != SCSI_STATUS_GOOD && !b->broken) {
            b->broken = RSHARE_EUNREACH;
            snprintf(b->broken_why, sizeof(b->broken_why), "connection lost: %s",
                     ctx_error(b));
        }
        return;
    }
    if (status != SCSI_STATUS_GOOD) {
        const char *e = ctx_error(b);
        b->broken = login_error_code(e);
        snprintf(b->broken_why, sizeof(b->broken_why), "login to %s at %s failed: %s",
                 b->target, b->portal, e);
        return;
    }
    b->state = CONN_UP;
    b->logged_in = true;
    b->attempts = 0;
    b->last_heard_us = rs_now_us(b->node);
    if (!b->opening) {
        rs_timer_cancel(b->node, &b->conn_timer);
        rs_log_info(b->node, "iscsi %s at %s: logged in", b->target, b->portal);
        issue_waiting(b);
    }
}

static void conn_timer_fire(rshare_node *node, struct rs_timer *timer)
{
    (void)node;
    struct iscsi_backend *b = (struct iscsi_backend *)((char *)timer -
                                                       offsetof(struct iscsi_backend, conn_timer));
    if (b->conn_timer_is_retry) {
        if (b->state == CONN_DOWN && b->waiting.count)
            attempt(b);
        return;
    }
    if (b->state == CONN_CONNECTING) {
        b->broken = RSHARE_ETIMEDOUT;
        snprintf(b->broken_why, sizeof(b->broken_why), "login to %s at %s: no answer in %u ms",
                 b->target, b->portal, b->connect_ms);
        handle_broken(b);
    }
}

static void nop_cb(struct iscsi_context *iscsi, int status, void *command_data, void *private)
{
    (void)command_data;
    struct iscsi_backend *b = private;
    if (iscsi != b->ctx || b->in_teardown)
        return;
    b->nop_pending = false;
    if (status == SCSI_STATUS_GOOD)
        b->last_heard_us = rs_now_us(b->node);
}

/* Period of the liveness check: an eighth of the silence allowed. */
static uint64_t tick_us(const struct iscsi_backend *b)
{
    uint64_t us = (uint64_t)b->io_ms * 1000u / 8u;
    return us < 5000u ? 5000u : us;
}

static void schedule_tick(struct iscsi_backend *b)
{
    if (b->opening || rs_timer_pending(&b->tick))
        return;
    rs_timer_schedule(b->node, &b->tick, rs_now_us(b->node) + tick_us(b));
}

static void tick_fire(rshare_node *node, struct rs_timer *timer)
{
    (void)node;
    struct iscsi_backend *b =
        (struct iscsi_backend *)((char *)timer - offsetof(struct iscsi_backend, tick));
    if (b->state != CONN_UP || !b->sent.count)
        return;
    uint64_t now = rs_now_us(b->node);
    uint64_t quiet = now - b->last_heard_us;
    if (quiet >= (uint64_t)b->io_ms * 1000u) {
        b->broken = RSHARE_ETIMEDOUT;
        snprintf(b->broken_why, sizeof(b->broken_why),
                 "the target answered nothing, NOPs included, for %llu ms",
                 (unsigned long long)(quiet / 1000u));
        handle_broken(b);
        return;
    }
    /* Quiet for a quarter of the allowance: ask whether it is alive. */
    if (quiet >= (uint64_t)b->io_ms * 250u && !b->nop_pending) {
        if (iscsi_nop_out_async(b->ctx, nop_cb, NULL, 0, b) == 0)
            b->nop_pending = true;
        update_watch(b);
    }
    schedule_tick(b);
}

/* One call into libiscsi with the events seen, then whatever it left to do. */
static void service(struct iscsi_backend *b, int revents)
{
    b->in_service = true;
    int rc = iscsi_service(b->ctx, revents);
    b->in_service = false;
    if (rc < 0 && !b->broken) {
        b->broken = b->state == CONN_CONNECTING ? login_error_code(ctx_error(b))
                                                : RSHARE_EUNREACH;
        snprintf(b->broken_why, sizeof(b->broken_why), "%s", ctx_error(b));
    }
}

static void after_service(struct iscsi_backend *b)
{
    if (b->broken)
        handle_broken(b);
    else
        update_watch(b);
}

static void watch_fire(rshare_node *node, struct rs_fd_watch *watch, uint32_t events)
{
    (void)node;
    struct iscsi_backend *b =
        (struct iscsi_backend *)((char *)watch - offsetof(struct iscsi_backend, watch));
    if (!b->ctx)
        return;
    /* Data before a FIN is still read: answers may precede the close. */
    service(b, (int)poll_from_epoll(events));
    if (!b->broken && b->ctx && (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
        b->broken = RSHARE_EUNREACH;
        snprintf(b->broken_why, sizeof(b->broken_why), "the target closed the connection");
    }
    after_service(b);
}

/* --- the vtable -------------------------------------------------------------------- */

static int iscsi_submit(void *backend, struct rshare_block_io *io)
{
    struct iscsi_backend *b = backend;
    if (io->op == RSHARE_BLOCK_DISCARD && io->length / b->block_size > UINT32_MAX)
        return rs_errorf(b->node, RSHARE_EINVAL, "iscsi %s: one discard covers at most 2^32-1 "
                         "blocks", b->target);
    if ((io->op == RSHARE_BLOCK_READ || io->op == RSHARE_BLOCK_WRITE) && io->length > UINT32_MAX)
        return rs_errorf(b->node, RSHARE_EINVAL, "iscsi %s: I/O above 4 GiB", b->target);
    struct iscsi_req *r = rs_calloc(b->node, 1, sizeof(*r));
    if (!r)
        return RSHARE_ENOMEM;
    r->b = b;
    r->io = io;
    list_push(&b->waiting, r);
    kick(b);
    return 0;
}

/* Closing with I/O in flight: the context goes, and with it every use of
 * the callers' buffers; no `done` is called for what was held. */
static void iscsi_abandon(void *backend)
{
    struct iscsi_backend *b = backend;
    teardown(b);
    rs_timer_cancel(b->node, &b->conn_timer);
    while (b->waiting.head) {
        struct iscsi_req *r = b->waiting.head;
        list_unlink(&b->waiting, r);
        rs_free(b->node, r);
    }
}

static void iscsi_close(void *backend)
{
    struct iscsi_backend *b = backend;
    iscsi_abandon(b);
    rs_free(b->node, b);
}

/* --- open ------------------------------------------------------------------------------ */

/* Drive the context by hand until `*flag` or the deadline (the block does
 * not exist yet, so the node's loop cannot). */
static int drive_until(struct iscsi_backend *b, const bool *flag, uint64_t deadline_us)
{
    while (!*flag) {
        if (b->broken)
            return b->broken;
        if (!b->ctx)
            return rs_errorf(b->node, RSHARE_EUNREACH, "iscsi %s: connection lost", b->target);
        uint64_t now = rs_now_us(b->node);
        if (now >= deadline_us)
            return RSHARE_ETIMEDOUT;
        uint64_t left_ms = (deadline_us - now + 999u) / 1000u;
        struct pollfd pfd = {.fd = iscsi_get_fd(b->ctx),
                             .events = (short)iscsi_which_events(b->ctx)};
        int n = poll(&pfd, 1, left_ms > 100 ? 100 : (int)left_ms);
        if (n < 0)
            continue; /* EINTR */
        service(b, n > 0 ? pfd.revents : 0);
        if (!b->broken && (pfd.revents & (POLLHUP | POLLERR))) {
            b->broken = RSHARE_EUNREACH;
            snprintf(b->broken_why, sizeof(b->broken_why), "the target closed the connection");
        }
    }
    return 0;
}

static void sync_release(struct iscsi_backend *b)
{
    if (b->sync_task)
        scsi_free_scsi_task(b->sync_task);
    b->sync_task = NULL;
}

static void sync_cb(struct iscsi_context *iscsi, int status, void *command_data, void *private)
{
    (void)iscsi;
    struct iscsi_backend *b = private;
    b->sync_task = command_data;
    b->sync_status = status;
    b->sync_done = true;
}

/* Run one internal command to its answer; on success the task is in
 * b->sync_task for the caller to read and release (sync_release).  On
 * failure a task the context still holds is released by open's cleanup. */
static int run_sync(struct iscsi_backend *b, struct scsi_task *t, const char *what,
                    uint64_t deadline_us)
{
    if (!t)
        return rs_errorf(b->node, RSHARE_ENOMEM, "iscsi %s: %s: %s", b->target, what,
                         ctx_error(b));
    b->sync_done = false;
    b->sync_task = t;
    int rc = drive_until(b, &b->sync_done, deadline_us);
    if (rc < 0) {
        if (b->sync_done)
            sync_release(b);
        return rs_errorf(b->node, rc, "iscsi %s: %s: %s", b->target, what,
                         rc == RSHARE_ETIMEDOUT ? "no answer in time" : b->broken_why);
    }
    if (b->sync_status != SCSI_STATUS_GOOD) {
        struct scsi_task *task = b->sync_task;
        int code = b->sync_status == SCSI_STATUS_CHECK_CONDITION ? sense_code(&task->sense)
                                                                 : RSHARE_EIO;
        rc = rs_errorf(b->node, code < 0 ? code : RSHARE_EIO, "iscsi %s: %s failed: %s",
                       b->target, what,
                       b->sync_status == SCSI_STATUS_CHECK_CONDITION
                           ? scsi_sense_ascq_str(task->sense.ascq)
                           : ctx_error(b));
        sync_release(b);
        return rc;
    }
    return 0;
}

/* Geometry and capabilities: READ CAPACITY(16), then the Block Limits and
 * Logical Block Provisioning VPD pages (optional: a target without them
 * gets no transfer limit and no discard). */
static int probe(struct iscsi_backend *b, uint64_t deadline_us)
{
    int rc = run_sync(b, iscsi_readcapacity16_task(b->ctx, (int)b->lun, sync_cb, b),
                      "READ CAPACITY(16)", deadline_us);
    if (rc < 0)
        return rc;
    struct scsi_readcapacity16 *cap = scsi_datain_unmarshall(b->sync_task);
    bool lbpme = false;
    if (cap) {
        b->block_size = cap->block_length;
        b->block_count = cap->returned_lba + 1; /* 0 on overflow: refused below */
        lbpme = cap->lbpme;
    }
    sync_release(b);
    if (!cap)
        return rs_errorf(b->node, RSHARE_EPROTO, "iscsi %s: short READ CAPACITY(16) data",
                         b->target);
    uint32_t bs = b->block_size;
    if (bs < 512 || bs > 65536 || (bs & (bs - 1)))
        return rs_errorf(b->node, RSHARE_EPROTO, "iscsi %s: LUN %u reports %u-byte blocks",
                         b->target, b->lun, bs);
    if (b->block_count == 0 || b->block_count > UINT64_MAX / bs)
        return rs_errorf(b->node, RSHARE_EPROTO, "iscsi %s: LUN %u reports an impossible size",
                         b->target, b->lun);

    if (run_sync(b, iscsi_inquiry_task(b->ctx, (int)b->lun, 1,
                                       SCSI_INQUIRY_PAGECODE_BLOCK_LIMITS, 255, sync_cb, b),
                 "INQUIRY (Block Limits)", deadline_us) == 0) {
        struct scsi_inquiry_block_limits *bl = scsi_datain_unmarshall(b->sync_task);
        if (bl && bl->max_xfer_len) {
            uint64_t bytes = (uint64_t)bl->max_xfer_len * bs;
            b->max_io_bytes = bytes > UINT32_MAX / 2 ? 0 : (uint32_t)bytes;
        }
        sync_release(b);
    } else if (!b->ctx || b->broken) {
        return rs_errorf(b->node, RSHARE_EUNREACH, "iscsi %s: connection lost", b->target);
    }

    if (lbpme && !(b->flags & RSHARE_ISCSI_READONLY)) {
        if (run_sync(b, iscsi_inquiry_task(b->ctx, (int)b->lun, 1,
                                           SCSI_INQUIRY_PAGECODE_LOGICAL_BLOCK_PROVISIONING,
                                           255, sync_cb, b),
                     "INQUIRY (Logical Block Provisioning)", deadline_us) == 0) {
            struct scsi_inquiry_logical_block_provisioning *lbp =
                scsi_datain_unmarshall(b->sync_task);
            b->can_unmap = lbp && lbp->lbpu;
            sync_release(b);
        } else if (!b->ctx || b->broken) {
            return rs_errorf(b->node, RSHARE_EUNREACH, "iscsi %s: connection lost", b->target);
        }
    }
    return 0;
}

static int copy_string(rshare_node *node, char *dst, const char *src, const char *what,
                       bool required)
{
    if (!src || !*src) {
        if (required)
            return rs_errorf(node, RSHARE_EINVAL, "iscsi: no %s given", what);
        dst[0] = 0;
        return 0;
    }
    size_t n = strlen(src);
    if (n > STRING_MAX)
        return rs_errorf(node, RSHARE_EINVAL, "iscsi: %s longer than %d bytes", what,
                         STRING_MAX);
    memcpy(dst, src, n + 1);
    return 0;
}

static uint32_t or_default(uint32_t v, uint32_t def)
{
    return v ? v : def;
}

RSHARE_API int rshare_block_open_iscsi(rshare_node *node, const struct rshare_iscsi_config *cfg,
                                       rshare_block **out)
{
    if (!node || !cfg || !out)
        return RSHARE_EINVAL;
    *out = NULL;
    if (cfg->struct_size < offsetof(struct rshare_iscsi_config, connect_timeout_ms))
        return rs_errorf(node, RSHARE_EVERSION, "rshare_iscsi_config too small");
    /* Fields the caller's version of the struct lacks read as 0 (defaults). */
    struct rshare_iscsi_config c;
    memset(&c, 0, sizeof(c));
    memcpy(&c, cfg, cfg->struct_size < sizeof(c) ? cfg->struct_size : sizeof(c));
    if (c.flags & ~RSHARE_ISCSI_READONLY)
        return rs_errorf(node, RSHARE_EINVAL, "iscsi: unknown flags 0x%x", c.flags);
    if (c.chap_user && *c.chap_user && !c.chap_password)
        return rs_errorf(node, RSHARE_EINVAL, "iscsi: a CHAP user without a password");
    if (c.lun > 16383)
        return rs_errorf(node, RSHARE_EINVAL, "iscsi: LUN %u out of range", c.lun);

    struct iscsi_backend *b = rs_calloc(node, 1, sizeof(*b));
    if (!b)
        return RSHARE_ENOMEM;
    b->node = node;
    rs_fd_watch_init(&b->watch, watch_fire);
    rs_timer_init(&b->conn_timer, conn_timer_fire);
    rs_timer_init(&b->tick, tick_fire);
    int rc;
    if ((rc = copy_string(node, b->portal, c.portal, "portal", true)) < 0 ||
        (rc = copy_string(node, b->target, c.target_iqn, "target IQN", true)) < 0 ||
        (rc = copy_string(node, b->initiator, c.initiator_iqn ? c.initiator_iqn
                                                              : DEFAULT_INITIATOR,
                          "initiator IQN", true)) < 0 ||
        (rc = copy_string(node, b->user, c.chap_user, "CHAP user", false)) < 0 ||
        (rc = copy_string(node, b->password, b->user[0] ? c.chap_password : NULL,
                          "CHAP password", false)) < 0) {
        rs_free(node, b);
        return rc;
    }
    b->lun = c.lun;
    b->flags = c.flags;
    b->connect_ms = or_default(c.connect_timeout_ms, DEFAULT_CONNECT_MS);
    b->io_ms = or_default(c.io_timeout_ms, DEFAULT_IO_MS);
    b->attempts_max = or_default(c.reconnect_attempts, DEFAULT_ATTEMPTS);
    b->delay_ms = or_default(c.reconnect_delay_ms, DEFAULT_DELAY_MS);
    b->retries = c.struct_size >= offsetof(struct rshare_iscsi_config, reserved_) &&
                         c.io_retries
                     ? c.io_retries
                     : DEFAULT_RETRIES;

    b->opening = true;
    uint64_t deadline = rs_now_us(node) + (uint64_t)b->connect_ms * 1000u;
    rc = start_connect(b);
    if (rc == 0) {
        rc = drive_until(b, &b->logged_in, deadline);
        if (rc == RSHARE_ETIMEDOUT)
            rc = rs_errorf(node, rc, "iscsi %s at %s: login did not finish in %u ms",
                           b->target, b->portal, b->connect_ms);
        else if (rc < 0)
            rc = rs_errorf(node, rc, "iscsi %s", b->broken_why);
    }
    if (rc == 0)
        rc = probe(b, deadline);
    b->opening = false;
    if (rc < 0)
        goto fail;

    static const struct rshare_block_ops ops = {.struct_size = sizeof(ops),
                                                .submit = iscsi_submit,
                                                .close = iscsi_close};
    struct rshare_block_info info;
    rshare_block_info_init(&info, sizeof(info));
    info.block_size = b->block_size;
    info.block_count = b->block_count;
    info.max_io_bytes = b->max_io_bytes;
    info.caps = RSHARE_BLOCK_CAP_FLUSH | (b->can_unmap ? RSHARE_BLOCK_CAP_DISCARD : 0) |
                (b->flags & RSHARE_ISCSI_READONLY ? RSHARE_BLOCK_CAP_READONLY : 0);
    if ((rc = rs_block_create(node, &ops, b, &info, iscsi_abandon, out)) < 0)
        goto fail;
    update_watch(b);
    rs_log_info(node, "iscsi %s LUN %u at %s: %llu blocks of %u bytes%s", b->target, b->lun,
                b->portal, (unsigned long long)b->block_count, b->block_size,
                b->can_unmap ? ", unmap" : "");
    return 0;
fail: {
    /* Keep the detail: teardown's callbacks must not overwrite it. */
    char msg[RS_ERRMSG_MAX];
    snprintf(msg, sizeof(msg), "%s", rshare_node_errmsg(node));
    teardown(b);
    sync_release(b);
    rs_free(node, b);
    rs_errorf(node, rc, "%s", msg);
    return rc;
}
}

#endif /* HAVE_ISCSI */
