/* rsharectl — talking to the local agent (rshared) over its Unix socket:
 * one request line, the reply's lines printed, progress drawn as a bar,
 * the agent's verdict turned into the exit status. */
#ifndef RSHARECTL_CTL_H
#define RSHARECTL_CTL_H

#include <stdbool.h>

enum ctl_exit {
    CTL_EXIT_OK = 0,
    CTL_EXIT_REFUSED = 1,     /* the agent answered with an error */
    CTL_EXIT_USAGE = 2,
    CTL_EXIT_UNREACHABLE = 3  /* no agent on the socket */
};

#define CTL_DEFAULT_SOCKET "/run/rshare/rshared.sock"

/* Send the words as one request; print what comes back. */
int ctl_run(int argc, char **argv, const char *socket_path, bool json);

#endif
