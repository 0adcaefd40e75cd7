/* rshared — reading the configuration file (see settings.h and doc/AGENT.md
 * for the keys).  libinih does the INI syntax; this file checks every
 * value and fills struct agent_config.  A handler that refuses a value
 * records why, and libinih reports its line. */
#include "config.h"

#include "settings.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parse {
    struct agent_config *cfg;
    char why[200];
};

static int refuse(struct parse *p, const char *section, const char *name, const char *fmt, ...)
{
    char detail[150];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    snprintf(p->why, sizeof(p->why), "[%s] %s: %s", section, name, detail);
    return 0; /* libinih: error on this line */
}

static bool parse_u32(const char *value, uint32_t min, uint32_t max, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(value, &end, 10);
    if (errno || end == value || *end || value[0] == '-' || v < min || v > max)
        return false;
    *out = (uint32_t)v;
    return true;
}

static bool parse_bool(const char *value, bool *out)
{
    if (!strcmp(value, "yes") || !strcmp(value, "true") || !strcmp(value, "1")) {
        *out = true;
        return true;
    }
    if (!strcmp(value, "no") || !strcmp(value, "false") || !strcmp(value, "0")) {
        *out = false;
        return true;
    }
    return false;
}

static bool copy_text(char *dst, size_t size, const char *value)
{
    size_t len = strlen(value);
    if (len == 0 || len >= size)
        return false;
    memcpy(dst, value, len + 1);
    return true;
}

static int node_key(struct parse *p, const char *name, const char *value)
{
    struct agent_config *c = p->cfg;
    if (!strcmp(name, "id")) {
        if (!parse_u32(value, 1, 0xFFFFFFFEu, &c->id))
            return refuse(p, "node", name, "'%s' is not a number in 1..4294967294", value);
    } else if (!strcmp(name, "slot")) {
        if (!parse_u32(value, 0, 65535, &c->slot))
            return refuse(p, "node", name, "'%s' is not a number in 0..65535", value);
    } else if (!strcmp(name, "state_dir")) {
        if (!copy_text(c->state_dir, sizeof(c->state_dir), value))
            return refuse(p, "node", name, "empty or longer than %zu bytes",
                          sizeof(c->state_dir) - 1);
    } else if (!strcmp(name, "key_file")) {
        if (!copy_text(c->key_file, sizeof(c->key_file), value))
            return refuse(p, "node", name, "empty or too long");
    } else if (!strcmp(name, "identity_key_file")) {
        if (!copy_text(c->identity_key_file, AGENT_TEXT, value))
            return refuse(p, "node", name, "empty or too long");
    } else if (!strcmp(name, "identity_cert_file")) {
        if (!copy_text(c->identity_cert_file, AGENT_TEXT, value))
            return refuse(p, "node", name, "empty or too long");
    } else if (!strcmp(name, "authority_public_key_file")) {
        if (!copy_text(c->authority_public_key_file, AGENT_TEXT, value))
            return refuse(p, "node", name, "empty or too long");
    } else if (!strcmp(name, "log")) {
        if (strcmp(value, "stderr") && strcmp(value, "syslog"))
            return refuse(p, "node", name, "'%s': say stderr or syslog", value);
        c->syslog = !strcmp(value, "syslog");
    } else if (!strcmp(name, "log_level")) {
        static const char *const levels[] = {"error", "warning", "info", "debug"};
        c->log_level = 0;
        for (int i = 0; i < 4; i++)
            if (!strcmp(value, levels[i]))
                c->log_level = i + 1;
        if (!c->log_level)
            return refuse(p, "node", name, "'%s': say error, warning, info or debug", value);
    } else {
        return refuse(p, "node", name, "unknown key");
    }
    return 1;
}

static int udp_key(struct parse *p, const char *name, const char *value)
{
    struct agent_config *c = p->cfg;
    if (!strcmp(name, "listen")) {
        if (!copy_text(c->listen, sizeof(c->listen), value) || !strchr(value, ':'))
            return refuse(p, "udp", name, "'%s' is not an ADDRESS:PORT", value);
    } else if (!strcmp(name, "mtu")) {
        if (!parse_u32(value, 576, 65507, &c->mtu))
            return refuse(p, "udp", name, "'%s' is not a number in 576..65507", value);
    } else {
        return refuse(p, "udp", name, "unknown key");
    }
    return 1;
}

/* "1,2,3": node ids into `out` (at most `max`). */
static int id_list(struct parse *p, const char *section, const char *name, const char *value,
                   uint32_t *out, uint32_t max, uint32_t *count)
{
    char list[256];
    if (!copy_text(list, sizeof(list), value))
        return refuse(p, section, name, "empty or too long");
    *count = 0;
    for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        if (*count == max)
            return refuse(p, section, name, "more than %u nodes", (unsigned)max);
        if (!parse_u32(tok, 1, 0xFFFFFFFEu, &out[(*count)++]))
            return refuse(p, section, name, "'%s' is not a node id", tok);
    }
    return 1;
}

/* "WIDTHxHEIGHT" in 1..32768 each; `rest` gets what follows. */
static bool parse_size(const char *value, uint32_t *w, uint32_t *h, const char **rest)
{
    char *end;
    errno = 0;
    unsigned long a = strtoul(value, &end, 10);
    if (errno || end == value || *end != 'x' || value[0] == '-' || a < 1 || a > 32768)
        return false;
    const char *second = end + 1;
    unsigned long b = strtoul(second, &end, 10);
    if (errno || end == second || *second == '-' || b < 1 || b > 32768)
        return false;
    *w = (uint32_t)a;
    *h = (uint32_t)b;
    *rest = end;
    return true;
}

/* "NODE WIDTHxHEIGHT@X,Y [scale=F] [absolute]": one target's display in the
 * layout. */
static int display_key(struct parse *p, const char *name, const char *value)
{
    struct agent_config *c = p->cfg;
    if (c->kvm_display_count == AGENT_MAX_KVM_TARGETS)
        return refuse(p, "kvm", name, "more than %d displays", AGENT_MAX_KVM_TARGETS);
    struct rshare_kvm_display *d = &c->kvm_displays[c->kvm_display_count];
    memset(d, 0, sizeof(*d));
    char *end;
    errno = 0;
    unsigned long node = strtoul(value, &end, 10);
    const char *rest;
    long x = 0, y = 0;
    if (errno || end == value || *end != ' ' || !node || node > 0xFFFFFFFEul ||
        !parse_size(end + 1, &d->width, &d->height, &rest) || *rest != '@')
        return refuse(p, "kvm", name, "'%s': say NODE WIDTHxHEIGHT@X,Y [scale=F] [absolute]",
                      value);
    x = strtol(rest + 1, &end, 10);
    if (end == rest + 1 || *end != ',' || x < -(1L << 24) || x > (1L << 24))
        return refuse(p, "kvm", name, "'%s': X is not a number in -16777216..16777216", value);
    rest = end + 1;
    y = strtol(rest, &end, 10);
    if (end == rest || y < -(1L << 24) || y > (1L << 24))
        return refuse(p, "kvm", name, "'%s': Y is not a number in -16777216..16777216", value);
    while (*end == ' ') {
        end++;
        double f = 0;
        if (!strncmp(end, "absolute", 8) && (end[8] == ' ' || !end[8])) {
            d->flags |= RSHARE_KVM_DISPLAY_ABSOLUTE;
            end += 8;
        } else if (strncmp(end, "scale=", 6) || (f = strtod(end + 6, &end)) < 0.001 ||
                   f > 1000 || (*end && *end != ' ')) {
            return refuse(p, "kvm", name,
                          "'%s': after X,Y only scale=F (0.001..1000) and absolute", value);
        } else {
            d->scale_milli = (uint32_t)(f * 1000 + 0.5);
        }
    }
    if (*end)
        return refuse(p, "kvm", name, "'%s': say NODE WIDTHxHEIGHT@X,Y [scale=F] [absolute]",
                      value);
    d->node = (uint32_t)node;
    d->x = (int32_t)x;
    d->y = (int32_t)y;
    c->kvm_display_count++;
    return 1;
}

/* "ctrl+alt", "none": RSHARE_KVM_MOD_* kinds. */
static bool parse_mods(const char *value, uint32_t *out)
{
    static const char *const names[] = {"ctrl", "shift", "alt", "meta"};
    char list[64];
    if (!copy_text(list, sizeof(list), value))
        return false;
    *out = 0;
    if (!strcmp(list, "none"))
        return true;
    for (char *save = NULL, *tok = strtok_r(list, "+", &save); tok;
         tok = strtok_r(NULL, "+", &save)) {
        uint32_t bit = 0;
        for (int i = 0; i < 4; i++)
            if (!strcmp(tok, names[i]))
                bit = 1u << i; /* RSHARE_KVM_MOD_CTRL, _SHIFT, _ALT, _META */
        if (!bit)
            return false;
        *out |= bit;
    }
    return true;
}

/* The screen layout and its edges (host). */
static int layout_key(struct parse *p, const char *name, const char *value)
{
    struct agent_config *c = p->cfg;
    bool on;
    const char *rest;
    if (!strcmp(name, "display"))
        return display_key(p, name, value);
    if (!strcmp(name, "host_screen")) {
        if (!parse_size(value, &c->kvm_host_width, &c->kvm_host_height, &rest) || *rest)
            return refuse(p, "kvm", name, "'%s': say WIDTHxHEIGHT", value);
    } else if (!strcmp(name, "edges")) {
        if (!parse_bool(value, &on))
            return refuse(p, "kvm", name, "'%s': say yes or no", value);
        c->kvm_edges = on;
    } else if (!strcmp(name, "edge_delay_ms")) {
        if (!parse_u32(value, 0, 10000, &c->kvm_edge_delay_ms))
            return refuse(p, "kvm", name, "'%s' is not a number in 0..10000", value);
    } else if (!strcmp(name, "edge_double_tap_ms")) {
        if (!parse_u32(value, 0, 10000, &c->kvm_edge_double_tap_ms))
            return refuse(p, "kvm", name, "'%s' is not a number in 0..10000", value);
    } else if (!strcmp(name, "edge_corner_px")) {
        if (!parse_u32(value, 0, 32768, &c->kvm_edge_corner_px))
            return refuse(p, "kvm", name, "'%s' is not a number in 0..32768", value);
    } else if (!strcmp(name, "edge_modifiers")) {
        if (!parse_mods(value, &c->kvm_edge_mods))
            return refuse(p, "kvm", name,
                          "'%s': say none or e.g. ctrl+alt (ctrl, shift, alt, meta)", value);
    } else {
        return refuse(p, "kvm", name, "unknown key");
    }
    return 1;
}

static int kvm_key(struct parse *p, const char *name, const char *value)
{
    struct agent_config *c = p->cfg;
    if (!strcmp(name, "role")) {
        if (!strcmp(value, "host"))
            c->kvm_roles = 1; /* RSHARE_KVM_ROLE_HOST */
        else if (!strcmp(value, "target"))
            c->kvm_roles = 2; /* RSHARE_KVM_ROLE_TARGET */
        else
            return refuse(p, "kvm", name, "'%s': say host or target", value);
    } else if (!strcmp(name, "targets")) {
        return id_list(p, "kvm", name, value, c->kvm_targets, AGENT_MAX_KVM_TARGETS,
                       &c->kvm_target_count);
    } else if (!strcmp(name, "capture")) {
        if (c->kvm_capture_count == AGENT_MAX_CAPTURE)
            return refuse(p, "kvm", name, "more than %d devices", AGENT_MAX_CAPTURE);
        if (!copy_text(c->kvm_capture[c->kvm_capture_count], AGENT_TEXT, value))
            return refuse(p, "kvm", name, "empty or too long");
        c->kvm_capture_count++;
    } else if (!strcmp(name, "host")) {
        if (!parse_u32(value, 1, 0xFFFFFFFEu, &c->kvm_host))
            return refuse(p, "kvm", name, "'%s' is not a node id", value);
    } else if (!strcmp(name, "inject")) {
        if (!copy_text(c->kvm_inject, sizeof(c->kvm_inject), value))
            return refuse(p, "kvm", name, "empty or too long");
    } else {
        return layout_key(p, name, value);
    }
    return 1;
}

static int cluster_key(struct parse *p, const char *name, const char *value)
{
    struct agent_config *c = p->cfg;
    if (!strcmp(name, "eligible")) {
        if (!parse_bool(value, &c->eligible))
            return refuse(p, "cluster", name, "'%s': say yes or no", value);
    } else if (!strcmp(name, "voters")) {
        return id_list(p, "cluster", name, value, c->voters, AGENT_MAX_VOTERS, &c->voter_count);
    } else if (!strcmp(name, "peer")) {
        if (c->peer_count == AGENT_MAX_PEERS)
            return refuse(p, "cluster", name, "more than %d peers", AGENT_MAX_PEERS);
        struct agent_peer *peer = &c->peers[c->peer_count];
        const char *at = strchr(value, '@');
        char id[16];
        if (!at || (size_t)(at - value) >= sizeof(id))
            return refuse(p, "cluster", name, "'%s' is not ID@ADDRESS:PORT", value);
        memcpy(id, value, (size_t)(at - value));
        id[at - value] = 0;
        if (!parse_u32(id, 1, 0xFFFFFFFEu, &peer->id) ||
            !copy_text(peer->addr, sizeof(peer->addr), at + 1))
            return refuse(p, "cluster", name, "'%s' is not ID@ADDRESS:PORT", value);
        c->peer_count++;
    } else {
        uint32_t *field = !strcmp(name, "hello_ms")            ? &c->hello_ms
                          : !strcmp(name, "member_timeout_ms") ? &c->member_timeout_ms
                          : !strcmp(name, "election_ms")       ? &c->election_ms
                          : !strcmp(name, "heartbeat_ms")      ? &c->heartbeat_ms
                                                               : NULL;
        if (!field)
            return refuse(p, "cluster", name, "unknown key");
        if (!parse_u32(value, 1, 600000, field))
            return refuse(p, "cluster", name, "'%s' is not a number of milliseconds", value);
    }
    return 1;
}

static int share_key(struct parse *p, const char *section, const char *name, const char *value)
{
    struct agent_config *c = p->cfg;
    const char *share_name = section + strlen("share ");
    struct agent_share *s = NULL;
    for (uint32_t i = 0; i < c->share_count; i++)
        if (!strcmp(c->shares[i].name, share_name))
            s = &c->shares[i];
    if (!s) {
        if (c->share_count == AGENT_MAX_SHARES)
            return refuse(p, section, name, "more than %d shares", AGENT_MAX_SHARES);
        s = &c->shares[c->share_count];
        if (!copy_text(s->name, sizeof(s->name), share_name))
            return refuse(p, section, name, "share name empty or too long");
        c->share_count++;
    }
    if (!strcmp(name, "path")) {
        if (!copy_text(s->path, sizeof(s->path), value))
            return refuse(p, section, name, "empty or too long");
    } else if (!strcmp(name, "rights")) {
        if (strcmp(value, "rw") && strcmp(value, "ro"))
            return refuse(p, section, name, "'%s': say rw or ro", value);
        s->read_only = !strcmp(value, "ro");
    } else {
        return refuse(p, section, name, "unknown key");
    }
    return 1;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    struct parse *p = user;
    if (!strcmp(section, "node"))
        return node_key(p, name, value);
    if (!strcmp(section, "udp"))
        return udp_key(p, name, value);
    if (!strcmp(section, "cluster"))
        return cluster_key(p, name, value);
    if (!strcmp(section, "control")) {
        if (strcmp(name, "socket"))
            return refuse(p, section, name, "unknown key");
        if (!copy_text(p->cfg->socket, sizeof(p->cfg->socket), value))
            return refuse(p, section, name, "empty or longer than %zu bytes",
                          sizeof(p->cfg->socket) - 1);
        return 1;
    }
    if (!strcmp(section, "kvm"))
        return kvm_key(p, name, value);
    if (!strncmp(section, "share ", 6))
        return share_key(p, section, name, value);
    return refuse(p, section, name, "unknown section");
}

static void set_defaults(struct agent_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->listen, sizeof(cfg->listen), "0.0.0.0:7219");
    snprintf(cfg->socket, sizeof(cfg->socket), "/run/rshare/rshared.sock");
    snprintf(cfg->kvm_inject, sizeof(cfg->kvm_inject), "/dev/uinput");
    cfg->kvm_edges = -1;
}

/* What libinih said (`line`: 0, the first bad line, or < 0 when the input
 * could not be read), then the keys that must be present. */
static int finish(const char *name, int line, const struct parse *p, char *err, size_t err_len)
{
    const struct agent_config *cfg = p->cfg;
    if (line < 0) {
        snprintf(err, err_len, "%s: cannot read: %s", name, strerror(errno ? errno : ENOENT));
        return -1;
    }
    if (line > 0) {
        snprintf(err, err_len, "%s:%d: %s", name, line,
                 p->why[0] ? p->why : "not INI syntax (expected [section] or key = value)");
        return -1;
    }
    if (!cfg->id) {
        snprintf(err, err_len, "%s: [node] id is required", name);
        return -1;
    }
    if (!cfg->state_dir[0]) {
        snprintf(err, err_len, "%s: [node] state_dir is required", name);
        return -1;
    }
    int identity_files = !!cfg->identity_key_file[0] + !!cfg->identity_cert_file[0] +
                         !!cfg->authority_public_key_file[0];
    if (identity_files != 0 && identity_files != 3) {
        snprintf(err, err_len,
                 "%s: [node] identity_key_file, identity_cert_file and "
                 "authority_public_key_file go together (identity mode needs all three)",
                 name);
        return -1;
    }
    for (uint32_t i = 0; i < cfg->share_count; i++)
        if (!cfg->shares[i].path[0]) {
            snprintf(err, err_len, "%s: [share %s] has no path", name, cfg->shares[i].name);
            return -1;
        }
    if (cfg->kvm_roles == 1 && !cfg->kvm_target_count) {
        snprintf(err, err_len, "%s: [kvm] role = host needs targets", name);
        return -1;
    }
    if (cfg->kvm_roles == 2 && !cfg->kvm_host) {
        snprintf(err, err_len, "%s: [kvm] role = target needs host", name);
        return -1;
    }
    if (!cfg->kvm_roles && (cfg->kvm_target_count || cfg->kvm_host || cfg->kvm_capture_count)) {
        snprintf(err, err_len, "%s: [kvm] has no role", name);
        return -1;
    }
    if (cfg->kvm_roles != 1 && cfg->kvm_display_count) {
        snprintf(err, err_len, "%s: [kvm] display needs role = host", name);
        return -1;
    }
    for (uint32_t i = 0; i < cfg->kvm_display_count; i++) {
        bool known = false;
        for (uint32_t j = 0; j < cfg->kvm_target_count; j++)
            known |= cfg->kvm_targets[j] == cfg->kvm_displays[i].node;
        if (!known) {
            snprintf(err, err_len, "%s: [kvm] display of node %u: not one of the targets", name,
                     cfg->kvm_displays[i].node);
            return -1;
        }
    }
    return 0;
}

int agent_config_load(const char *path, struct agent_config *cfg, char *err, size_t err_len)
{
    set_defaults(cfg);
    struct parse p = {.cfg = cfg};
    errno = 0;
    int line = ini_parse(path, handler, &p);
    return finish(path, line, &p, err, err_len);
}

int agent_config_parse(const char *text, const char *name, struct agent_config *cfg, char *err,
                       size_t err_len)
{
    set_defaults(cfg);
    struct parse p = {.cfg = cfg};
    errno = 0;
    int line = ini_parse_string(text, handler, &p);
    return finish(name, line, &p, err, err_len);
}
