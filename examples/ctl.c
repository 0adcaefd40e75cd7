/* rsharectl — the agent client (see ctl.h and doc/AGENT.md for the
 * protocol: body lines, "progress DONE TOTAL" lines, then "ok" or
 * "error CODE NAME MESSAGE"). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"

static void show_progress(const char *line, bool tty)
{
    unsigned long long done, total;
    if (sscanf(line, "progress %llu %llu", &done, &total) != 2 || total == 0)
        return;
    int pct = (int)(done * 100 / total);
    if (tty) {
        char bar[41];
        memset(bar, ' ', 40);
        memset(bar, '#', (size_t)(pct * 40 / 100));
        bar[40] = 0;
        printf("\rrebuild [%s] %3d%%", bar, pct);
        fflush(stdout);
    } else {
        printf("rebuild %d%% (%llu of %llu sectors)\n", pct, done, total);
    }
}

int ctl_run(int argc, char **argv, const char *socket_path, bool json)
{
    char request[4096];
    size_t len = 0;
    int n = snprintf(request, sizeof(request), "%s", json ? "json" : "");
    len = (size_t)n;
    for (int i = 0; i < argc; i++) {
        if (strchr(argv[i], '\n') || len + strlen(argv[i]) + 2 >= sizeof(request)) {
            fprintf(stderr, "rsharectl: request too long or with a line break\n");
            return CTL_EXIT_USAGE;
        }
        len += (size_t)snprintf(request + len, sizeof(request) - len, "%s%s", len ? " " : "",
                                argv[i]);
    }
    request[len++] = '\n';

    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(socket_path) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "rsharectl: socket path too long\n");
        return CTL_EXIT_USAGE;
    }
    strcpy(sa.sun_path, socket_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        fprintf(stderr,
                "rsharectl: cannot reach the agent at %s: %s\n"
                "  (is rshared running? another socket: --socket PATH or RSHARE_SOCKET)\n",
                socket_path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return CTL_EXIT_UNREACHABLE;
    }
    for (size_t off = 0; off < len;) {
        ssize_t w = send(fd, request + off, len - off, MSG_NOSIGNAL);
        if (w <= 0) {
            fprintf(stderr, "rsharectl: the agent closed the connection\n");
            close(fd);
            return CTL_EXIT_UNREACHABLE;
        }
        off += (size_t)w;
    }

    bool tty = isatty(STDOUT_FILENO), in_progress = false;
    FILE *in = fdopen(fd, "r");
    if (!in) {
        close(fd);
        return CTL_EXIT_UNREACHABLE;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int result = -1;
    while ((got = getline(&line, &cap, in)) > 0) {
        if (line[got - 1] == '\n')
            line[--got] = 0;
        if (!strncmp(line, "progress ", 9)) {
            show_progress(line, tty);
            in_progress = true;
            continue;
        }
        if (in_progress && tty)
            printf("\n");
        in_progress = false;
        if (!strcmp(line, "ok")) {
            result = CTL_EXIT_OK;
            break;
        }
        if (!strncmp(line, "error ", 6)) {
            /* error CODE NAME MESSAGE */
            char *msg = strchr(line + 6, ' ');
            msg = msg ? strchr(msg + 1, ' ') : NULL;
            fprintf(stderr, "rsharectl: %s\n", msg ? msg + 1 : line + 6);
            result = CTL_EXIT_REFUSED;
            break;
        }
        puts(line);
    }
    free(line);
    fclose(in);
    if (result < 0) {
        fprintf(stderr, "rsharectl: the agent closed the connection without an answer\n");
        return CTL_EXIT_UNREACHABLE;
    }
    return result;
}
