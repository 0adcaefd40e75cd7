/* rshared — the control socket: a Unix stream socket (mode 0660) on which
 * rsharectl sends one request line and reads the reply.
 *
 * Protocol (doc/AGENT.md): the client sends one line of at most 4095
 * bytes, words separated by spaces, optionally starting with "json".  The
 * agent answers with body lines (text, or one JSON object), streamed
 * "progress DONE TOTAL" lines for commands that watch, and a last line
 * "ok" or "error CODE NAME MESSAGE", then closes the connection. */
#define _GNU_SOURCE /* accept4 */
#include "config.h"

#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int control_open(struct agent *a, char *err, size_t err_len)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(a->cfg.socket) >= sizeof(sa.sun_path)) {
        snprintf(err, err_len, "control socket path too long");
        return -1;
    }
    strcpy(sa.sun_path, a->cfg.socket);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(err, err_len, "socket: %s", strerror(errno));
        return -1;
    }
    /* A socket file left by an agent that died is replaced; one that a
     * running agent answers on is not. */
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
        close(probe);
        close(fd);
        snprintf(err, err_len, "%s: another agent is running there", a->cfg.socket);
        return -1;
    }
    if (probe >= 0)
        close(probe);
    unlink(a->cfg.socket);
    mode_t old = umask(0117);
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (rc < 0 || listen(fd, 16) < 0) {
        snprintf(err, err_len, "%s: %s", a->cfg.socket, strerror(errno));
        close(fd);
        return -1;
    }
    a->listen_fd = fd;
    return 0;
}

static void client_free(struct agent *a, struct client *c)
{
    for (struct client **p = &a->clients; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    if (c->fd >= 0)
        close(c->fd);
    free(c);
}

void control_close(struct agent *a)
{
    while (a->clients)
        client_free(a, a->clients);
    if (a->listen_fd >= 0) {
        close(a->listen_fd);
        unlink(a->cfg.socket);
        a->listen_fd = -1;
    }
}

static void send_all(struct client *c, const char *buf, size_t len)
{
    while (len && c->fd >= 0) {
        ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            c->closed = true; /* the client went away: nothing more to tell it */
            return;
        }
        buf += n;
        len -= (size_t)n;
    }
}

void client_send_line(struct client *c, const char *line)
{
    send_all(c, line, strlen(line));
    send_all(c, "\n", 1);
}

void client_finish(struct client *c, const struct reply *body, int status, const char *message)
{
    if (body && body->len)
        send_all(c, body->buf, body->len);
    if (body && body->truncated)
        client_send_line(c, "(reply cut: too long)");
    char last[512];
    if (status == 0)
        snprintf(last, sizeof(last), "ok");
    else
        snprintf(last, sizeof(last), "error %d %s %s", status, rshare_err_name(status),
                 message && *message ? message : rshare_strerror(status));
    for (char *p = last; *p; p++)
        if (*p == '\n')
            *p = ' ';
    client_send_line(c, last);
    c->closed = true;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

bool client_retry_later(struct client *c)
{
    uint64_t now = now_ms();
    if (!c->retry_until_ms)
        c->retry_until_ms = now + AGENT_RETRY_MS;
    if (now + AGENT_RETRY_STEP_MS > c->retry_until_ms)
        return false;
    c->retry_at_ms = now + AGENT_RETRY_STEP_MS;
    c->state = CLIENT_RETRYING;
    return true;
}

static void run_request(struct client *c)
{
    c->state = CLIENT_WAITING;
    memcpy(c->in, c->request, sizeof(c->in)); /* command_run cuts its line into words */
    command_run(c, c->in);
}

size_t control_poll_fds(struct agent *a, struct pollfd *fds, size_t max)
{
    size_t n = 0;
    if (a->listen_fd >= 0 && n < max)
        fds[n++] = (struct pollfd){.fd = a->listen_fd, .events = POLLIN};
    for (struct client *c = a->clients; c && n < max; c = c->next)
        if (c->state == CLIENT_READING)
            fds[n++] = (struct pollfd){.fd = c->fd, .events = POLLIN};
    return n;
}

static void accept_clients(struct agent *a)
{
    for (;;) {
        int fd = accept4(a->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
            return;
        struct client *c = calloc(1, sizeof(*c));
        if (!c) {
            close(fd);
            return;
        }
        /* Replies are written blocking, bounded by a send timeout. */
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        struct timeval tv = {.tv_sec = 2};
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        c->agent = a;
        c->fd = fd;
        c->next = a->clients;
        a->clients = c;
    }
}

static void read_request(struct client *c)
{
    ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        c->closed = true;
        return;
    }
    if (n < 0)
        return;
    c->in_len += (size_t)n;
    c->in[c->in_len] = 0;
    char *nl = memchr(c->in, '\n', c->in_len);
    if (!nl) {
        if (c->in_len == sizeof(c->in) - 1)
            client_finish(c, NULL, RSHARE_EMSGSIZE, "request longer than 4095 bytes");
        return;
    }
    *nl = 0;
    memcpy(c->request, c->in, sizeof(c->request));
    run_request(c);
}

void control_service(struct agent *a, const struct pollfd *fds, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!fds[i].revents)
            continue;
        if (fds[i].fd == a->listen_fd) {
            accept_clients(a);
            continue;
        }
        for (struct client *c = a->clients; c; c = c->next)
            if (c->fd == fds[i].fd && c->state == CLIENT_READING)
                read_request(c);
    }
    uint64_t now = now_ms();
    for (struct client *c = a->clients; c; c = c->next) {
        if (c->state == CLIENT_WATCHING && !c->closed)
            command_watch(c);
        else if (c->state == CLIENT_RETRYING && !c->closed && now >= c->retry_at_ms)
            run_request(c);
    }
    for (struct client *c = a->clients, *next; c; c = next) {
        next = c->next;
        if (c->closed)
            client_free(a, c);
    }
}
