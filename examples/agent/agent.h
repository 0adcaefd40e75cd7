/* rshared — the agent's state: its node, the volumes it has open, and the
 * clients of its control socket.  One thread, one poll loop (rshared.c). */
#ifndef RSHARED_AGENT_H
#define RSHARED_AGENT_H

#include <rshare/rshare.h>

#include <poll.h>
#include <stdbool.h>

#include "reply.h"
#include "settings.h"

#define AGENT_MAX_VOLUMES 16
#define AGENT_REQUEST_MAX 4096

struct agent_volume {
    char name[RSHARE_VOLUME_NAME_MAX];
    rshare_volume *vol;
};

/* A map change asked while there is no manager (an election under way)
 * waits for one: the request is run again every AGENT_RETRY_STEP_MS until
 * AGENT_RETRY_MS have passed (doc/AGENT.md). */
#define AGENT_RETRY_MS 10000
#define AGENT_RETRY_STEP_MS 100

enum client_state { CLIENT_READING, CLIENT_WAITING, CLIENT_WATCHING, CLIENT_RETRYING };

struct client {
    struct agent *agent;
    int fd;
    char in[AGENT_REQUEST_MAX];
    size_t in_len;
    char request[AGENT_REQUEST_MAX]; /* the request line as received, to run again */
    uint64_t retry_until_ms, retry_at_ms; /* CLIENT_RETRYING (monotonic ms) */
    bool json;
    enum client_state state;
    struct agent_volume *watch; /* CLIENT_WATCHING: rebuild progress of this volume */
    uint64_t shown_done, shown_total;
    bool closed;
    struct client *next;
};

/* The files of identity mode, loaded (identity.c). */
struct agent_identity {
    bool on;
    uint8_t secret_key[RSHARE_IDENTITY_SECRET_KEY_BYTES];
    uint8_t cert[RSHARE_IDENTITY_CERT_BYTES];
    uint8_t authority[RSHARE_IDENTITY_PUBLIC_KEY_BYTES];
};

struct agent {
    struct agent_config cfg;
    rshare_node *node;
    bool identity;                          /* the node runs in identity mode */
    rshare_kvm *kvm;                        /* [kvm] role, or NULL */
    rshare_kvm_evdev *capture[AGENT_MAX_CAPTURE];
    uint32_t capture_count;
    rshare_kvm_uinput *inject;              /* target: where input goes, NULL: nowhere */
    uint64_t input_discarded;               /* target with inject = none */
    int listen_fd;
    struct client *clients;
    struct agent_volume volumes[AGENT_MAX_VOLUMES];
};

/* control.c: the socket and its clients. */
int control_open(struct agent *a, char *err, size_t err_len);
void control_close(struct agent *a);
/* fds to poll (fills up to `max`, returns how many) and handling after poll. */
size_t control_poll_fds(struct agent *a, struct pollfd *fds, size_t max);
void control_service(struct agent *a, const struct pollfd *fds, size_t n);
/* Finish a reply: body, then "ok" or "error CODE NAME MESSAGE"; closes. */
void client_finish(struct client *c, const struct reply *body, int status, const char *message);
/* A streamed line (progress). */
void client_send_line(struct client *c, const char *line);
/* A map change found no manager: true if the client is to run the request
 * again a little later (CLIENT_RETRYING), false once AGENT_RETRY_MS are up. */
bool client_retry_later(struct client *c);

/* commands.c: one request line; replies now or later (client_finish). */
void command_run(struct client *c, char *line);
/* Watching clients: report progress, finish when done. */
void command_watch(struct client *c);

/* identity.c: read and cross-check the identity files of the
 * configuration (none configured: 0 with id->on false); -1 with a message
 * naming the file.  Wipe the secret key once the node has copied it. */
int identity_load(const struct agent_config *cfg, struct agent_identity *id, char *err,
                  size_t err_len);
void identity_wipe(struct agent_identity *id);
/* "identity revoke NODE [HEX]": 0 when started (the reply comes later),
 * else an error code with `*why` set or NULL (the node's message). */
int identity_command(struct client *c, char **w, int n, const char **why);

#endif
