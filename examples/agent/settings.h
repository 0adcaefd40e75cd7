/* rshared — the agent's configuration file (INI, read with libinih):
 * every key checked, a bad file refused with its line and the problem. */
#ifndef RSHARED_SETTINGS_H
#define RSHARED_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rshare/kvm.h>

#define AGENT_MAX_PEERS 64
#define AGENT_MAX_SHARES 16
#define AGENT_MAX_VOTERS 7
#define AGENT_TEXT 256
#define AGENT_MAX_KVM_TARGETS 16
#define AGENT_MAX_CAPTURE 8

struct agent_share {
    char name[64];
    char path[AGENT_TEXT];
    bool read_only;
};

struct agent_peer {
    uint32_t id;
    char addr[96];
};

struct agent_config {
    /* [node] */
    uint32_t id;
    uint32_t slot;
    char state_dir[AGENT_TEXT];
    char key_file[AGENT_TEXT];
    /* identity mode: all three or none (doc/AGENT.md, "Identities") */
    char identity_key_file[AGENT_TEXT];
    char identity_cert_file[AGENT_TEXT];
    char authority_public_key_file[AGENT_TEXT];
    bool syslog;
    int log_level; /* enum rshare_log_level, 0: the library's default */
    /* [udp] */
    char listen[96];
    uint32_t mtu;
    /* [cluster] */
    bool eligible;
    uint32_t voters[AGENT_MAX_VOTERS];
    uint32_t voter_count;
    struct agent_peer peers[AGENT_MAX_PEERS];
    uint32_t peer_count;
    uint32_t hello_ms, member_timeout_ms, election_ms, heartbeat_ms;
    /* [control] */
    char socket[108];
    /* [kvm] */
    uint32_t kvm_roles; /* RSHARE_KVM_ROLE_HOST or _TARGET, 0: no KVM */
    uint32_t kvm_targets[AGENT_MAX_KVM_TARGETS];
    uint32_t kvm_target_count;
    char kvm_capture[AGENT_MAX_CAPTURE][AGENT_TEXT]; /* evdev devices grabbed (host) */
    uint32_t kvm_capture_count;
    uint32_t kvm_host;                 /* target: the node whose input is accepted */
    char kvm_inject[AGENT_TEXT];       /* target: uinput device, or "none" */
    struct rshare_kvm_display kvm_displays[AGENT_MAX_KVM_TARGETS]; /* host: screen layout */
    uint32_t kvm_display_count;
    uint32_t kvm_host_width, kvm_host_height; /* host_screen */
    int kvm_edges;                     /* 1 yes, 0 no, -1 unset: yes with displays */
    uint32_t kvm_edge_delay_ms, kvm_edge_double_tap_ms, kvm_edge_corner_px;
    uint32_t kvm_edge_mods;            /* RSHARE_KVM_MOD_* */
    /* [share NAME] */
    struct agent_share shares[AGENT_MAX_SHARES];
    uint32_t share_count;
};

/* Read `path`.  0, or -1 with a message such as "rshared.conf:12: [node] id:
 * not a number in 1..4294967294" in `err`. */
int agent_config_load(const char *path, struct agent_config *cfg, char *err, size_t err_len);

/* The same from the NUL-terminated file contents `text`; `name` stands for
 * the file in messages.  Used by the fuzz target. */
int agent_config_parse(const char *text, const char *name, struct agent_config *cfg, char *err,
                       size_t err_len);

#endif
