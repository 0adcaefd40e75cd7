/* rshared — the reference rshare agent.
 *
 *   rshared [-c FILE] [-f] [--check]
 *
 *   -c FILE   configuration (default /etc/rshare/rshared.conf; doc/AGENT.md)
 *   --check   read the configuration, report the first problem, exit
 *
 * It creates a node from the configuration, joins the cluster over UDP,
 * shares the disks the configuration names (serving their blocks), and
 * answers rsharectl on a Unix socket.  Logs go to stderr or syslog.  It runs
 * in the foreground (systemd Type=simple); SIGTERM or SIGINT stop it
 * cleanly: open volumes are closed (their bitmaps marked clean).
 *
 * Exit status: 0 after SIGTERM/SIGINT (or a good --check), 1 on a runtime
 * error, 2 on a bad configuration or bad options. */
#include "config.h"

#include <rshare/rshare.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "agent.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void log_to(void *user_data, enum rshare_log_level level, const char *message)
{
    bool use_syslog = *(bool *)user_data;
    static const char *const names[] = {"", "error", "warning", "info", "debug"};
    if (use_syslog) {
        static const int prio[] = {LOG_INFO, LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
        syslog(prio[level <= 4 ? level : 0], "%s", message);
    } else {
        fprintf(stderr, "rshared: %s: %s\n", level <= 4 ? names[level] : "?", message);
    }
}

static bool use_syslog;

static void say(enum rshare_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void say(enum rshare_log_level level, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_to(&use_syslog, level, msg);
}

/* The cluster key: 64 hex digits or 32 raw bytes, in a file nobody but the
 * owner may read. */
static int load_key(const char *path, uint8_t key[RSHARE_CLUSTER_KEY_BYTES])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        say(RSHARE_LOG_ERROR, "key file %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (st.st_mode & 077) {
        say(RSHARE_LOG_ERROR, "key file %s: readable or writable by others (mode %03o): "
                              "refused; chmod 600 it",
            path, (unsigned)(st.st_mode & 0777));
        close(fd);
        return -1;
    }
    char buf[130];
    ssize_t n = read(fd, buf, sizeof(buf));
    close(fd);
    if (n == RSHARE_CLUSTER_KEY_BYTES) {
        memcpy(key, buf, RSHARE_CLUSTER_KEY_BYTES);
        memset(buf, 0, sizeof(buf));
        return 0;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    int ok = n == 2 * RSHARE_CLUSTER_KEY_BYTES;
    for (int i = 0; ok && i < RSHARE_CLUSTER_KEY_BYTES; i++) {
        unsigned v;
        ok = sscanf(buf + 2 * i, "%2x", &v) == 1;
        key[i] = (uint8_t)v;
    }
    memset(buf, 0, sizeof(buf));
    if (!ok)
        say(RSHARE_LOG_ERROR, "key file %s: not 32 bytes nor 64 hex digits", path);
    return ok ? 0 : -1;
}

static int share(struct agent *a, const struct agent_share *s)
{
    rshare_block *block;
    int rc = rshare_block_open_file(a->node, s->path, s->read_only ? RSHARE_BLOCK_OPEN_READONLY : 0,
                                    0, &block);
    if (rc < 0) {
        say(RSHARE_LOG_ERROR, "share %s: %s", s->name, rshare_node_errmsg(a->node));
        return rc;
    }
    struct rshare_resource_desc d;
    rshare_resource_desc_init(&d, sizeof(d));
    d.kind = RSHARE_RESOURCE_BLOCK;
    d.rights = RSHARE_RIGHT_READ | (s->read_only ? 0 : RSHARE_RIGHT_WRITE);
    snprintf(d.path, sizeof(d.path), "%s", s->path);
    snprintf(d.model, sizeof(d.model), "%s", s->name);
    uint64_t id;
    if ((rc = rshare_resource_register_block(a->node, &d, block, &id)) < 0) {
        say(RSHARE_LOG_ERROR, "share %s: %s", s->name, rshare_node_errmsg(a->node));
        rshare_block_close(block);
        return rc;
    }
    say(RSHARE_LOG_INFO, "sharing %s (%s) as resource %u.%u", s->name, s->path,
        (unsigned)(id >> 32), (unsigned)(id & 0xFFFFFFFFu));
    return 0;
}

/* inject = none: input is counted and dropped (a node whose routes are
 * being tried out, or that has no local console). */
static void discard_input(void *user_data, uint32_t host, const struct rshare_kvm_event *events,
                          size_t count)
{
    (void)host;
    (void)events;
    ((struct agent *)user_data)->input_discarded += count;
}

static int start_kvm(struct agent *a)
{
    struct agent_config *cfg = &a->cfg;
    if (!cfg->kvm_roles)
        return 0;
    struct rshare_kvm_config kc;
    rshare_kvm_config_init(&kc, sizeof(kc));
    kc.roles = cfg->kvm_roles == 1 ? RSHARE_KVM_ROLE_HOST : RSHARE_KVM_ROLE_TARGET;
    kc.targets = cfg->kvm_targets;
    kc.target_count = cfg->kvm_target_count;
    kc.host = cfg->kvm_host;
    int rc;
    if (kc.roles == RSHARE_KVM_ROLE_TARGET) {
        if (strcmp(cfg->kvm_inject, "none") != 0) {
            if ((rc = rshare_kvm_uinput_open(cfg->kvm_inject, "rshare", &a->inject)) < 0) {
                say(RSHARE_LOG_ERROR, "kvm inject %s: %s", cfg->kvm_inject, rshare_strerror(rc));
                return -1;
            }
            kc.sink = rshare_kvm_uinput_sink;
            kc.sink_data = a->inject;
        } else {
            kc.sink = discard_input;
            kc.sink_data = a;
        }
    }
    if ((rc = rshare_kvm_create(a->node, &kc, &a->kvm)) < 0) {
        say(RSHARE_LOG_ERROR, "kvm: %s", rshare_node_errmsg(a->node));
        return -1;
    }
    if (cfg->kvm_display_count) {
        struct rshare_kvm_layout_config lc;
        rshare_kvm_layout_config_init(&lc, sizeof(lc));
        lc.displays = cfg->kvm_displays;
        lc.display_count = cfg->kvm_display_count;
        lc.host_width = cfg->kvm_host_width;
        lc.host_height = cfg->kvm_host_height;
        lc.edges = cfg->kvm_edges != 0;
        lc.delay_ms = cfg->kvm_edge_delay_ms;
        lc.double_tap_ms = cfg->kvm_edge_double_tap_ms;
        lc.corner_px = cfg->kvm_edge_corner_px;
        lc.mods = cfg->kvm_edge_mods;
        if ((rc = rshare_kvm_set_layout(a->kvm, &lc)) < 0) {
            say(RSHARE_LOG_ERROR, "kvm layout: %s", rshare_node_errmsg(a->node));
            return -1;
        }
    }
    for (uint32_t i = 0; i < cfg->kvm_capture_count; i++) {
        if ((rc = rshare_kvm_evdev_open(cfg->kvm_capture[i], 1, &a->capture[i])) < 0) {
            say(RSHARE_LOG_ERROR, "kvm capture %s: %s", cfg->kvm_capture[i], rshare_strerror(rc));
            return -1;
        }
        a->capture_count++;
    }
    return 0;
}

static void stop_kvm(struct agent *a)
{
    /* Every key this node pressed anywhere is released first. */
    rshare_kvm_destroy(a->kvm);
    a->kvm = NULL;
    for (uint32_t i = 0; i < a->capture_count; i++)
        rshare_kvm_evdev_close(a->capture[i]);
    a->capture_count = 0;
    rshare_kvm_uinput_close(a->inject);
    a->inject = NULL;
}

static int start(struct agent *a)
{
    struct agent_config *cfg = &a->cfg;
    if (mkdir(cfg->state_dir, 0700) < 0 && errno != EEXIST) {
        say(RSHARE_LOG_ERROR, "state_dir %s: %s", cfg->state_dir, strerror(errno));
        return -1;
    }
    uint8_t key[RSHARE_CLUSTER_KEY_BYTES];
    struct rshare_node_config nc;
    rshare_node_config_init(&nc, sizeof(nc));
    nc.node_id = cfg->id;
    nc.slot = (uint16_t)cfg->slot;
    nc.state_dir = cfg->state_dir;
    nc.log = (struct rshare_log){log_to, &use_syslog, (enum rshare_log_level)cfg->log_level};
    if (cfg->key_file[0]) {
        if (load_key(cfg->key_file, key) < 0)
            return -1;
        nc.cluster_key = key;
    }
    static struct agent_identity identity;
    char why[512];
    if (identity_load(cfg, &identity, why, sizeof(why)) < 0) {
        say(RSHARE_LOG_ERROR, "%s", why);
        memset(key, 0, sizeof(key));
        return -1;
    }
    if (identity.on) {
        nc.identity_secret_key = identity.secret_key;
        nc.identity_cert = identity.cert;
        nc.authority_public_key = identity.authority;
    }
    int rc = rshare_node_create(&nc, &a->node);
    memset(key, 0, sizeof(key));
    identity_wipe(&identity);
    a->identity = identity.on;
    if (rc < 0) {
        say(RSHARE_LOG_ERROR, "node: %s", rshare_strerror(rc));
        return -1;
    }
    struct rshare_udp_config udp;
    rshare_udp_config_init(&udp, sizeof(udp));
    udp.bind_address = cfg->listen;
    udp.mtu = cfg->mtu;
    int t = rshare_node_add_udp(a->node, &udp);
    if (t < 0) {
        say(RSHARE_LOG_ERROR, "udp %s: %s", cfg->listen, rshare_node_errmsg(a->node));
        return -1;
    }
    if (cfg->kvm_roles) {
        /* KVM: an urgent lane beside the main socket, on the same address
         * and any port (peers learn it), so that input never waits behind
         * block data in a socket buffer (doc/KVM.md, "Urgency"). */
        char lane_addr[sizeof(cfg->listen) + 2];
        const char *colon = strrchr(cfg->listen, ':');
        int n = colon ? (int)(colon - cfg->listen) : (int)strlen(cfg->listen);
        snprintf(lane_addr, sizeof(lane_addr), "%.*s:0", n, cfg->listen);
        struct rshare_udp_config lane;
        rshare_udp_config_init(&lane, sizeof(lane));
        lane.bind_address = lane_addr;
        lane.urgent_lane = 1;
        if (rshare_node_add_udp(a->node, &lane) < 0)
            say(RSHARE_LOG_WARNING, "urgent lane %s: %s (input shares the main socket)",
                lane_addr, rshare_node_errmsg(a->node));
    }
    /* The same peer list may be given to every node: this node is skipped. */
    for (uint32_t i = 0; i < cfg->peer_count; i++)
        if (cfg->peers[i].id != cfg->id &&
            (rc = rshare_node_add_peer(a->node, cfg->peers[i].id, t, cfg->peers[i].addr)) < 0) {
            say(RSHARE_LOG_ERROR, "peer %u@%s: %s", cfg->peers[i].id, cfg->peers[i].addr,
                rshare_node_errmsg(a->node));
            return -1;
        }
    struct rshare_cluster_config cc;
    rshare_cluster_config_init(&cc, sizeof(cc));
    cc.manager_eligible = cfg->eligible;
    cc.initial_voters = cfg->voters;
    cc.initial_voter_count = cfg->voter_count;
    cc.hello_interval_ms = cfg->hello_ms;
    cc.member_timeout_ms = cfg->member_timeout_ms;
    cc.election_timeout_ms = cfg->election_ms;
    cc.heartbeat_ms = cfg->heartbeat_ms;
    cc.capabilities = RSHARE_CAP_BLOCK;
    if ((rc = rshare_cluster_join(a->node, &cc)) < 0) {
        say(RSHARE_LOG_ERROR, "cluster: %s", rshare_node_errmsg(a->node));
        return -1;
    }
    for (uint32_t i = 0; i < cfg->share_count; i++)
        if (share(a, &cfg->shares[i]) < 0)
            return -1;
    if (start_kvm(a) < 0)
        return -1;
    char err[256];
    if (control_open(a, err, sizeof(err)) < 0) {
        say(RSHARE_LOG_ERROR, "control socket: %s", err);
        return -1;
    }
    say(RSHARE_LOG_INFO, "node %u on %s, control socket %s%s", cfg->id, cfg->listen, cfg->socket,
        a->identity ? ", identity mode" : "");
    return 0;
}

static void stop(struct agent *a)
{
    for (int i = 0; i < AGENT_MAX_VOLUMES; i++)
        if (a->volumes[i].vol) {
            rshare_volume_close(a->volumes[i].vol);
            a->volumes[i].vol = NULL;
        }
    /* The node first: requests still waiting for the map are answered
     * (shutting down) while their clients exist. */
    for (struct client *c = a->clients; c; c = c->next)
        if (c->state == CLIENT_WATCHING)
            c->watch = NULL;
    stop_kvm(a);
    rshare_node_destroy(a->node);
    a->node = NULL;
    control_close(a);
}

int main(int argc, char **argv)
{
    const char *path = "/etc/rshare/rshared.conf";
    bool check_only = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-c") && i + 1 < argc)
            path = argv[++i];
        else if (!strcmp(argv[i], "-f"))
            ; /* always in the foreground; accepted for habit */
        else if (!strcmp(argv[i], "--check"))
            check_only = true;
        else if (!strcmp(argv[i], "--version")) {
            printf("rshared %s\n", rshare_version_string());
            return 0;
        } else {
            fprintf(stderr, "usage: rshared [-c FILE] [--check]\n");
            return 2;
        }
    }
    static struct agent a;
    a.listen_fd = -1;
    char err[512];
    if (agent_config_load(path, &a.cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "rshared: %s\n", err);
        return 2;
    }
    if (check_only) {
        printf("%s: ok\n", path);
        return 0;
    }
    use_syslog = a.cfg.syslog;
    if (use_syslog)
        openlog("rshared", LOG_PID, LOG_DAEMON);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (start(&a) < 0) {
        if (a.node)
            stop(&a);
        return 1;
    }
    while (!stop_requested) {
        struct pollfd fds[80];
        size_t n = 0;
        int node_fd = rshare_node_fd(a.node);
        if (node_fd >= 0)
            fds[n++] = (struct pollfd){.fd = node_fd, .events = POLLIN};
        size_t first_capture = n;
        for (uint32_t i = 0; i < a.capture_count; i++)
            fds[n++] = (struct pollfd){.fd = rshare_kvm_evdev_fd(a.capture[i]), .events = POLLIN};
        size_t first = n;
        n += control_poll_fds(&a, fds + n, sizeof(fds) / sizeof(fds[0]) - n);
        int timeout = rshare_node_timeout_ms(a.node);
        if (timeout < 0 || timeout > 100)
            timeout = 100; /* watchers report progress at least ten times a second */
        if (poll(fds, n, timeout) < 0 && errno != EINTR)
            break;
        rshare_node_process(a.node);
        for (uint32_t i = 0; i < a.capture_count; i++)
            if (fds[first_capture + i].revents &&
                rshare_kvm_evdev_pump(a.capture[i], a.kvm) < 0)
                say(RSHARE_LOG_WARNING, "kvm capture %s: %s", a.cfg.kvm_capture[i],
                    rshare_node_errmsg(a.node));
        control_service(&a, fds + first, n - first);
    }
    say(RSHARE_LOG_INFO, "stopping");
    stop(&a);
    return 0;
}
