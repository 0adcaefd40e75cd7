/* rshare core — event-loop integration: one epoll descriptor that covers
 * every transport, a timerfd for the node's timers and the extra
 * descriptors of rs_fd_watch_set(), the non-blocking process step, and the
 * blocking run step built on it.  The node never starts threads; the
 * caller's loop drives everything. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "core.h"
#include "event.h"

int rs_event_init(rshare_node *node)
{
    struct rs_core *core = rs_core(node);
    core->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (core->epoll_fd < 0)
        return rs_syserr(node, "epoll_create1");
    core->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (core->timer_fd < 0)
        return rs_syserr(node, "timerfd_create");
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
    if (epoll_ctl(core->epoll_fd, EPOLL_CTL_ADD, core->timer_fd, &ev) < 0)
        return rs_syserr(node, "epoll_ctl timerfd");
    return 0;
}

void rs_event_fini(rshare_node *node)
{
    struct rs_core *core = rs_core(node);
    if (core->timer_fd >= 0)
        close(core->timer_fd);
    if (core->epoll_fd >= 0)
        close(core->epoll_fd);
    core->timer_fd = core->epoll_fd = -1;
    /* Their owners (block backends) were released before the core. */
    core->fd_watches = NULL;
}

int rs_event_watch(rshare_node *node, int index)
{
    struct rs_core *core = rs_core(node);
    int fd = core->transports[index].fd;
    if (fd < 0)
        return 0;
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)index};
    if (epoll_ctl(core->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
        return rs_syserr(node, "epoll_ctl transport %d", index);
    return 0;
}

/* epoll keys: transports use their index (< RS_MAX_TRANSPORTS), the
 * timerfd UINT32_MAX, extra descriptors WATCH_KEY_BIT | id.  Ids are never
 * reused while the node lives (2^31 of them), so an event still queued for
 * a watch that was cleared finds nothing rather than another watch. */
#define WATCH_KEY_BIT 0x80000000u
#define WATCH_ID_MAX 0x7ffffffeu
/* Events taken per epoll_wait: the transports, the timerfd and a few
 * watches; more ready descriptors stay ready for the next round. */
#define EVENTS_PER_WAIT (RS_MAX_TRANSPORTS + 1 + 16)

static struct rs_fd_watch **watch_link(struct rs_core *core, const struct rs_fd_watch *watch)
{
    for (struct rs_fd_watch **p = &core->fd_watches; *p; p = &(*p)->next)
        if (*p == watch)
            return p;
    return NULL;
}

int rs_fd_watch_set(rshare_node *node, struct rs_fd_watch *watch, int fd, uint32_t events)
{
    struct rs_core *core = rs_core(node);
    if (fd < 0)
        return rs_errorf(node, RSHARE_EINVAL, "no descriptor to watch");
    bool listed = watch_link(core, watch) != NULL;
    if (listed && watch->fd == fd && watch->events == events)
        return 0;
    if (!listed) {
        if (core->next_watch_id >= WATCH_ID_MAX)
            return rs_errorf(node, RSHARE_EBUSY, "descriptor watch ids exhausted");
        watch->id = ++core->next_watch_id;
    } else if (watch->fd != fd) {
        /* The old descriptor may be closed already (epoll then dropped it). */
        epoll_ctl(core->epoll_fd, EPOLL_CTL_DEL, watch->fd, NULL);
    }
    struct epoll_event ev = {.events = events, .data.u32 = WATCH_KEY_BIT | watch->id};
    int op = listed && watch->fd == fd ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    int rc = epoll_ctl(core->epoll_fd, op, fd, &ev);
    /* A descriptor closed and reopened under the same number left the set
     * with the close (MOD: ENOENT); one we never saw may already be there
     * (ADD: EEXIST). */
    if (rc < 0 && op == EPOLL_CTL_MOD && errno == ENOENT)
        rc = epoll_ctl(core->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
    else if (rc < 0 && op == EPOLL_CTL_ADD && errno == EEXIST)
        rc = epoll_ctl(core->epoll_fd, EPOLL_CTL_MOD, fd, &ev);
    if (rc < 0) {
        int e = errno;
        if (listed)
            *watch_link(core, watch) = watch->next;
        watch->fd = -1;
        watch->id = 0;
        errno = e;
        return rs_syserr(node, "epoll_ctl descriptor %d", fd);
    }
    watch->fd = fd;
    watch->events = events;
    if (!listed) {
        watch->next = core->fd_watches;
        core->fd_watches = watch;
    }
    return 0;
}

void rs_fd_watch_clear(rshare_node *node, struct rs_fd_watch *watch)
{
    struct rs_core *core = rs_core(node);
    struct rs_fd_watch **p = watch_link(core, watch);
    if (!p)
        return;
    *p = watch->next;
    if (core->epoll_fd >= 0)
        epoll_ctl(core->epoll_fd, EPOLL_CTL_DEL, watch->fd, NULL);
    watch->fd = -1;
    watch->id = 0;
    watch->events = 0;
    watch->next = NULL;
}

/* The watch an epoll key names, if it is still in the set. */
static struct rs_fd_watch *watch_by_key(struct rs_core *core, uint32_t key)
{
    for (struct rs_fd_watch *w = core->fd_watches; w; w = w->next)
        if ((WATCH_KEY_BIT | w->id) == key)
            return w;
    return NULL;
}

static void *heap_grow(void *ctx, void *ptr, size_t size)
{
    return rs_realloc(ctx, ptr, size);
}

/* Keep the timerfd at or before the earliest deadline.  It is only moved
 * earlier, never later: a request that completes long before its retry
 * timer leaves the timerfd armed, and the early wake-up (one per retry
 * interval at most) costs less than a system call per request. */
static void arm_timerfd(rshare_node *node)
{
    struct rs_core *core = rs_core(node);
    /* Injected clocks: callers ask rshare_node_timeout_us() instead. */
    if (core->timer_fd < 0 || !core->monotonic_clock || core->in_process)
        return;
    struct rs_timer *top = rs_timer_heap_top(&core->timers);
    if (!top)
        return;
    uint64_t at = top->at_us ? top->at_us : 1;
    if (core->timer_armed_us && core->timer_armed_us <= at)
        return;
    struct itimerspec its;
    memset(&its, 0, sizeof(its));
    its.it_value.tv_sec = (time_t)(at / 1000000u);
    its.it_value.tv_nsec = (long)(at % 1000000u) * 1000;
    if (timerfd_settime(core->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
        core->timer_armed_us = at;
}

int rs_timer_schedule(rshare_node *node, struct rs_timer *timer, uint64_t at_us)
{
    struct rs_core *core = rs_core(node);
    rs_timer_heap_remove(&core->timers, timer);
    timer->at_us = at_us;
    int rc = rs_timer_heap_push(&core->timers, timer, heap_grow, node);
    if (rc < 0)
        return rs_errorf(node, rc, "cannot grow the timer heap");
    if (rs_timer_heap_top(&core->timers) == timer)
        arm_timerfd(node);
    return 0;
}

void rs_timer_cancel(rshare_node *node, struct rs_timer *timer)
{
    rs_timer_heap_remove(&rs_core(node)->timers, timer);
}

RSHARE_API int rshare_node_fd(rshare_node *node)
{
    return node ? rs_core(node)->epoll_fd : -1;
}

RSHARE_API int64_t rshare_node_timeout_us(rshare_node *node)
{
    if (!node)
        return -1;
    struct rs_core *core = rs_core(node);
    int64_t best = -1;
    struct rs_timer *top = rs_timer_heap_top(&core->timers);
    if (top) {
        uint64_t now = rs_now_us(node);
        best = top->at_us > now ? (int64_t)(top->at_us - now) : 0;
    }
    for (int i = 0; i < core->transport_count; i++) {
        struct rs_transport *t = &core->transports[i];
        if (!t->ops.next_timeout_us)
            continue;
        int64_t us = t->ops.next_timeout_us(t->impl);
        if (us >= 0 && (best < 0 || us < best))
            best = us;
    }
    return best;
}

RSHARE_API int rshare_node_timeout_ms(rshare_node *node)
{
    int64_t us = rshare_node_timeout_us(node);
    if (us < 0)
        return -1;
    int64_t ms = (us + 999) / 1000;
    return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

/* Read what is pending on the transports that epoll reported ready (and on
 * those without a descriptor), and acknowledge an expired timerfd.  Each
 * transport's poll() drains what it can in one call; anything left keeps
 * its descriptor readable for the next round. */
static void poll_transports(rshare_node *node, const struct epoll_event *events, int n)
{
    struct rs_core *core = rs_core(node);
    bool ready[RS_MAX_TRANSPORTS] = {false};
    for (int i = 0; i < n; i++) {
        uint32_t id = events[i].data.u32;
        if (id == UINT32_MAX) {
            uint64_t expirations;
            if (read(core->timer_fd, &expirations, sizeof(expirations)) > 0)
                core->timer_armed_us = 0;
        } else if (id < RS_MAX_TRANSPORTS) {
            ready[id] = true;
        }
    }
    /* Urgent lanes first: input waits for no bulk packet read before it. */
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < core->transport_count; i++) {
            struct rs_transport *t = &core->transports[i];
            bool lane = (t->caps & RSHARE_TRANSPORT_CAP_URGENT_LANE) != 0;
            if (lane == (pass == 0) && t->ops.poll && (t->fd < 0 || ready[i]))
                t->ops.poll(t->impl, node, i);
        }
    }
    /* Extra descriptors last, each looked up again: an earlier callback
     * may have cleared (or freed) another watch. */
    for (int i = 0; i < n; i++) {
        uint32_t key = events[i].data.u32;
        if (key == UINT32_MAX || !(key & WATCH_KEY_BIT))
            continue;
        struct rs_fd_watch *w = watch_by_key(core, key);
        if (w)
            w->fire(node, w, events[i].events);
    }
}

static void run_due_timers(rshare_node *node)
{
    struct rs_core *core = rs_core(node);
    uint64_t now = rs_now_us(node);
    /* Timers set while firing with a deadline <= now run in this pass too,
     * but a bound keeps a timer that reschedules itself at "now" from
     * spinning forever. */
    size_t budget = core->timers.count + 1024;
    struct rs_timer *t;
    while (budget-- && (t = rs_timer_heap_top(&core->timers)) && t->at_us <= now) {
        rs_timer_heap_remove(&core->timers, t);
        t->fire(node, t);
    }
}

/* One step: the events the caller's wait (or a zero-timeout epoll_wait)
 * produced, then the timers that are due. */
static int process_events(rshare_node *node, const struct epoll_event *events, int n)
{
    struct rs_core *core = rs_core(node);
    if (core->in_process)
        return rs_errorf(node, RSHARE_EBUSY, "rshare_node_process called from a callback");
    core->in_process = true;
    poll_transports(node, events, n);
    run_due_timers(node);
    core->in_process = false;
    arm_timerfd(node);
    return 0;
}

RSHARE_API int rshare_node_process(rshare_node *node)
{
    if (!node)
        return RSHARE_EINVAL;
    struct rs_core *core = rs_core(node);
    struct epoll_event events[EVENTS_PER_WAIT];
    int n = epoll_wait(core->epoll_fd, events, EVENTS_PER_WAIT, 0);
    return process_events(node, events, n > 0 ? n : 0);
}

RSHARE_API int rshare_node_run(rshare_node *node, int timeout_ms)
{
    if (!node)
        return RSHARE_EINVAL;
    int wait = rshare_node_timeout_ms(node);
    if (wait < 0 || (timeout_ms >= 0 && timeout_ms < wait))
        wait = timeout_ms;
    struct epoll_event events[EVENTS_PER_WAIT];
    int n = epoll_wait(rs_core(node)->epoll_fd, events, EVENTS_PER_WAIT, wait);
    if (n < 0 && errno != EINTR)
        return rs_syserr(node, "epoll_wait");
    return process_events(node, events, n > 0 ? n : 0);
}
