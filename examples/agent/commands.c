/* rshared — the control commands (doc/AGENT.md lists them).  Each turns one
 * request line into calls of the public API and a reply; map changes
 * answer when the manager has committed them, "volume rebuild" streams
 * progress until the volume is in sync again. */
#include "config.h"

#include "agent.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WORDS 24

/* Why the last request was refused, when the command itself found out. */
static const char *refusal;

static int bad(const char *why)
{
    refusal = why;
    return RSHARE_EINVAL;
}

static const char *const layout_names[] = {NULL, "linear", "raid0", "raid1", "raid5", "raid10"};
static const char *const algorithm_names[] = {"left-asymmetric", "right-asymmetric",
                                              "left-symmetric", "right-symmetric"};
static const char *const member_state_names[] = {"active", "failed", "rebuilding"};
static const char *const volume_state_names[] = {"optimal", "degraded", "failed"};

static const char *name_of(const char *const *names, size_t n, uint32_t v)
{
    return v < n && names[v] ? names[v] : "?";
}

#define NAME(table, v) name_of(table, sizeof(table) / sizeof(table[0]), v)

/* "H.N" (host H, its N-th resource) or 16 hex digits. */
static int parse_resource(const char *s, uint64_t *out)
{
    char *end;
    const char *dot = strchr(s, '.');
    if (dot) {
        unsigned long host = strtoul(s, &end, 10);
        if (end != dot || host == 0 || host > 0xFFFFFFFEul)
            return -1;
        unsigned long n = strtoul(dot + 1, &end, 10);
        if (*end || n == 0 || n > 0xFFFFFFFFul)
            return -1;
        *out = (uint64_t)host << 32 | n;
        return 0;
    }
    if (strlen(s) != 16)
        return -1;
    *out = strtoull(s, &end, 16);
    return *end ? -1 : 0;
}

/* "64K", "1M", "4096" (bytes) -> 512-byte sectors. */
static int parse_chunk(const char *s, uint32_t *sectors)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s)
        return -1;
    if (*end == 'K' || *end == 'k')
        v <<= 10, end++;
    else if (*end == 'M' || *end == 'm')
        v <<= 20, end++;
    if (*end || v % 512 || v / 512 > 65536)
        return -1;
    *sectors = (uint32_t)(v / 512);
    return 0;
}

static int find_volume(struct agent *a, const char *name, struct rshare_volume_desc *out)
{
    struct rshare_volume_desc v[64];
    size_t n = 0;
    rshare_volume_list(a->node, v, 64, sizeof(v[0]), &n);
    for (size_t i = 0; i < n && i < 64; i++)
        if (!strcmp(v[i].name, name)) {
            *out = v[i];
            return 0;
        }
    refusal = "no volume of that name in the map";
    return RSHARE_ENOENT;
}

/* The agent's open handle of a volume, opened on first use: the agent
 * then takes part in it (runs its rebuilds, answers for its bitmap). */
static int open_volume(struct agent *a, const char *name, struct agent_volume **out)
{
    struct agent_volume *free_slot = NULL;
    for (int i = 0; i < AGENT_MAX_VOLUMES; i++) {
        if (a->volumes[i].vol && !strcmp(a->volumes[i].name, name)) {
            *out = &a->volumes[i];
            return 0;
        }
        if (!a->volumes[i].vol && !free_slot)
            free_slot = &a->volumes[i];
    }
    if (!free_slot)
        return RSHARE_EBUSY;
    int rc = rshare_volume_open(a->node, name, NULL, &free_slot->vol);
    if (rc < 0)
        return rc;
    snprintf(free_slot->name, sizeof(free_slot->name), "%s", name);
    *out = free_slot;
    return 0;
}

/* --- reading ------------------------------------------------------------------ */

static void cmd_status(struct client *c, struct reply *r)
{
    struct agent *a = c->agent;
    uint32_t epoch = 0;
    uint64_t version = 0;
    rshare_cluster_map_version(a->node, &epoch, &version);
    size_t members = 0, resources = 0, volumes = 0, alive = 0;
    struct rshare_member m[256];
    rshare_cluster_members(a->node, m, 256, sizeof(m[0]), &members);
    for (size_t i = 0; i < members && i < 256; i++)
        alive += (m[i].flags & RSHARE_MEMBER_ALIVE) != 0;
    rshare_resource_list(a->node, 0, NULL, 0, sizeof(struct rshare_resource_desc), &resources);
    rshare_volume_list(a->node, NULL, 0, sizeof(struct rshare_volume_desc), &volumes);
    uint32_t manager = rshare_cluster_manager(a->node);
    reply_line(r, "node %u, rshare %s", rshare_node_id(a->node), rshare_version_string());
    if (manager)
        reply_line(r, "manager: node %u", manager);
    else
        reply_line(r, "manager: none");
    reply_line(r, "map: version %u/%" PRIu64 ", %zu members (%zu alive), %zu resources, "
                  "%zu volumes",
               epoch, version, members, alive, resources, volumes);
    struct rshare_node_stats st;
    memset(&st, 0, sizeof(st));
    rshare_node_stats(a->node, &st, sizeof(st));
    if (a->identity)
        reply_line(r, "identity: on, %" PRIu64 " handshakes, %" PRIu64 " refused, %" PRIu64
                      " packets before a handshake",
                   st.handshakes, st.rx_identity_refused, st.rx_no_pair);
    else
        reply_line(r, "identity: off");
    reply_open(r, NULL, '{');
    reply_u64(r, "node", rshare_node_id(a->node));
    reply_str(r, "version", rshare_version_string());
    reply_u64(r, "manager", manager);
    reply_u64(r, "map_epoch", epoch);
    reply_u64(r, "map_version", version);
    reply_u64(r, "members", members);
    reply_u64(r, "alive", alive);
    reply_u64(r, "resources", resources);
    reply_u64(r, "volumes", volumes);
    reply_bool(r, "identity", a->identity);
    reply_u64(r, "handshakes", st.handshakes);
    reply_u64(r, "rx_identity_refused", st.rx_identity_refused);
    reply_u64(r, "rx_no_pair", st.rx_no_pair);
    reply_close(r, '{');
}

static void cmd_nodes(struct client *c, struct reply *r)
{
    struct rshare_member m[256];
    size_t n = 0;
    rshare_cluster_members(c->agent->node, m, 256, sizeof(m[0]), &n);
    reply_line(r, "%-10s %-5s %-9s %s", "NODE", "SLOT", "RESOURCES", "FLAGS");
    reply_open(r, NULL, '[');
    for (size_t i = 0; i < n && i < 256; i++) {
        char flags[64] = "";
        static const struct {
            uint32_t bit;
            const char *name;
        } bits[] = {{RSHARE_MEMBER_ALIVE, "alive"},     {RSHARE_MEMBER_ELIGIBLE, "eligible"},
                    {RSHARE_MEMBER_VOTER, "voter"},     {RSHARE_MEMBER_MANAGER, "manager"},
                    {RSHARE_MEMBER_SELF, "this-node"}};
        for (size_t b = 0; b < sizeof(bits) / sizeof(bits[0]); b++)
            if (m[i].flags & bits[b].bit) {
                if (flags[0])
                    strcat(flags, ",");
                strcat(flags, bits[b].name);
            }
        reply_line(r, "%-10u %-5u %-9u %s", m[i].id, m[i].slot, m[i].resources,
                   flags[0] ? flags : "-");
        reply_open(r, NULL, '{');
        reply_u64(r, "id", m[i].id);
        reply_u64(r, "slot", m[i].slot);
        reply_u64(r, "resources", m[i].resources);
        reply_bool(r, "alive", m[i].flags & RSHARE_MEMBER_ALIVE);
        reply_bool(r, "manager", m[i].flags & RSHARE_MEMBER_MANAGER);
        reply_bool(r, "voter", m[i].flags & RSHARE_MEMBER_VOTER);
        reply_close(r, '{');
    }
    reply_close(r, '[');
}

static void cmd_resources(struct client *c, struct reply *r, const char *key)
{
    static struct rshare_resource_desc d[1024];
    size_t n = 0;
    rshare_resource_list(c->agent->node, 0, d, 1024, sizeof(d[0]), &n);
    static const char *const kinds[] = {NULL, "block", "keyboard", "pointer", "display"};
    reply_line(r, "%-16s %-8s %-5s %-22s %s", "ID", "KIND", "HOST", "SIZE", "PATH");
    reply_open(r, key, '[');
    for (size_t i = 0; i < n && i < 1024; i++) {
        char size[48] = "-";
        if (d[i].kind == RSHARE_RESOURCE_BLOCK)
            snprintf(size, sizeof(size), "%" PRIu64 " x %u", d[i].block_count, d[i].block_size);
        reply_line(r, "%016" PRIx64 " %-8s %-5u %-22s %s", d[i].id, NAME(kinds, d[i].kind),
                   d[i].host, size, d[i].path);
        char id[24];
        snprintf(id, sizeof(id), "%016" PRIx64, d[i].id);
        reply_open(r, NULL, '{');
        reply_str(r, "id", id);
        reply_str(r, "kind", NAME(kinds, d[i].kind));
        reply_u64(r, "host", d[i].host);
        reply_u64(r, "block_size", d[i].block_size);
        reply_u64(r, "block_count", d[i].block_count);
        reply_str(r, "path", d[i].path);
        reply_close(r, '{');
    }
    reply_close(r, '[');
}

static void describe_volume(struct agent *a, struct reply *r, const struct rshare_volume_desc *v)
{
    char chunk[32] = "-";
    if (v->chunk_sectors)
        snprintf(chunk, sizeof(chunk), "%uK", v->chunk_sectors / 2);
    reply_line(r, "volume %s (id %u, generation %" PRIu64 "): %s, chunk %s%s%s", v->name, v->id,
               v->generation, NAME(layout_names, v->layout), chunk,
               v->layout == RSHARE_LAYOUT_RAID5 ? ", " : "",
               v->layout == RSHARE_LAYOUT_RAID5 ? NAME(algorithm_names, v->algorithm) : "");
    reply_str(r, "name", v->name);
    reply_u64(r, "id", v->id);
    reply_u64(r, "generation", v->generation);
    reply_str(r, "layout", NAME(layout_names, v->layout));
    reply_u64(r, "chunk_sectors", v->chunk_sectors);
    reply_open(r, "members", '[');
    for (uint32_t i = 0; i < v->member_count; i++) {
        char id[24];
        snprintf(id, sizeof(id), "%016" PRIx64, v->members[i]);
        reply_line(r, "  member %u: %s %s", i, id, NAME(member_state_names, v->member_state[i]));
        reply_open(r, NULL, '{');
        reply_str(r, "resource", id);
        reply_str(r, "state", NAME(member_state_names, v->member_state[i]));
        reply_close(r, '{');
    }
    reply_close(r, '[');
    reply_open(r, "spares", '[');
    for (uint32_t i = 0; i < v->spare_count; i++) {
        char id[24];
        snprintf(id, sizeof(id), "%016" PRIx64, v->spares[i]);
        reply_line(r, "  spare: %s", id);
        reply_str(r, NULL, id);
    }
    reply_close(r, '[');
    for (int i = 0; i < AGENT_MAX_VOLUMES; i++) {
        if (!a->volumes[i].vol || strcmp(a->volumes[i].name, v->name))
            continue;
        struct rshare_volume_status s;
        memset(&s, 0, sizeof(s));
        s.struct_size = sizeof(s);
        rshare_volume_get_status(a->volumes[i].vol, &s);
        reply_line(r, "  open here: %s, %" PRIu64 " MiB, %" PRIu64 " reads, %" PRIu64
                      " writes, %" PRIu64 " degraded reads, %" PRIu64 " dirty regions",
                   NAME(volume_state_names, s.state), s.size >> 20, s.reads, s.writes,
                   s.degraded_reads, s.dirty_regions);
        if (s.rebuild_total)
            reply_line(r, "  rebuild: %" PRIu64 " of %" PRIu64 " sectors", s.rebuild_done,
                       s.rebuild_total);
        reply_str(r, "state", NAME(volume_state_names, s.state));
        reply_u64(r, "size", s.size);
        reply_u64(r, "rebuild_done", s.rebuild_done);
        reply_u64(r, "rebuild_total", s.rebuild_total);
    }
}

static void cmd_volumes(struct client *c, struct reply *r, const char *key)
{
    struct rshare_volume_desc v[64];
    size_t n = 0;
    rshare_volume_list(c->agent->node, v, 64, sizeof(v[0]), &n);
    reply_open(r, key, '[');
    for (size_t i = 0; i < n && i < 64; i++) {
        reply_open(r, NULL, '{');
        describe_volume(c->agent, r, &v[i]);
        reply_close(r, '{');
    }
    reply_close(r, '[');
    if (n == 0)
        reply_line(r, "no volumes");
}

/* --- changing the map ------------------------------------------------------------- */

static void map_changed(rshare_node *node, int status, void *user_data)
{
    (void)node;
    struct client *c = user_data;
    client_finish(c, NULL, status, status ? "the manager refused the change" : NULL);
}

static int define(struct client *c, const struct rshare_volume_desc *v)
{
    return rshare_volume_define(c->agent->node, v, map_changed, c);
}

static int cmd_volume_create(struct client *c, char **w, int n)
{
    /* volume create NAME LAYOUT MEMBER,MEMBER,... [chunk=64K] [spares=R,R]
     *               [algorithm=left-symmetric] */
    if (n < 5)
        return bad("usage: volume create NAME LAYOUT MEMBERS [chunk=64K] [spares=R,..] "
                   "[algorithm=A]");
    struct rshare_volume_desc v;
    rshare_volume_desc_init(&v, sizeof(v));
    if (strlen(w[2]) >= sizeof(v.name))
        return bad("volume name longer than 63 bytes");
    strcpy(v.name, w[2]);
    for (uint32_t l = 1; l < sizeof(layout_names) / sizeof(layout_names[0]); l++)
        if (!strcmp(w[3], layout_names[l]))
            v.layout = l;
    if (!v.layout)
        return bad("layout: say linear, raid0, raid1, raid5 or raid10");
    if (v.layout == RSHARE_LAYOUT_RAID0 || v.layout == RSHARE_LAYOUT_RAID5 ||
        v.layout == RSHARE_LAYOUT_RAID10)
        v.chunk_sectors = 128; /* 64 KiB, md's default for arrays without metadata */
    if (v.layout == RSHARE_LAYOUT_RAID5)
        v.algorithm = RSHARE_RAID5_LEFT_SYMMETRIC;
    char *save = NULL;
    for (char *tok = strtok_r(w[4], ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (v.member_count == RSHARE_VOLUME_MEMBERS_MAX ||
            parse_resource(tok, &v.members[v.member_count++]) < 0)
            return bad("members: resource ids as HOST.N or 16 hex digits, at most 32");
    }
    for (int i = 5; i < n; i++) {
        if (!strncmp(w[i], "chunk=", 6)) {
            if (parse_chunk(w[i] + 6, &v.chunk_sectors) < 0)
                return bad("chunk: bytes with K or M, a multiple of 512, at most 32M");
        } else if (!strncmp(w[i], "spares=", 7)) {
            for (char *tok = strtok_r(w[i] + 7, ",", &save); tok;
                 tok = strtok_r(NULL, ",", &save))
                if (v.spare_count == RSHARE_VOLUME_SPARES_MAX ||
                    parse_resource(tok, &v.spares[v.spare_count++]) < 0)
                    return bad("spares: resource ids as HOST.N or 16 hex digits, at most 8");
        } else if (!strncmp(w[i], "algorithm=", 10)) {
            int found = -1;
            for (int k = 0; k < 4; k++)
                if (!strcmp(w[i] + 10, algorithm_names[k]))
                    found = k;
            if (found < 0)
                return bad("algorithm: left-asymmetric, right-asymmetric, left-symmetric or "
                           "right-symmetric");
            v.algorithm = (uint32_t)found;
        } else {
            return bad("unknown option: say chunk=, spares= or algorithm=");
        }
    }
    return define(c, &v);
}

static int cmd_volume_change(struct client *c, char **w, int n)
{
    struct agent *a = c->agent;
    struct rshare_volume_desc v;
    int rc = find_volume(a, w[2], &v);
    if (rc < 0)
        return rc;
    if (!strcmp(w[1], "destroy")) {
        for (int i = 0; i < AGENT_MAX_VOLUMES; i++)
            if (a->volumes[i].vol && !strcmp(a->volumes[i].name, v.name)) {
                rshare_volume_close(a->volumes[i].vol);
                a->volumes[i].vol = NULL;
            }
        return rshare_volume_undefine(a->node, v.id, map_changed, c);
    }
    /* add-spare NAME RESOURCE */
    if (n != 4 || v.spare_count == RSHARE_VOLUME_SPARES_MAX ||
        parse_resource(w[3], &v.spares[v.spare_count]) < 0)
        return bad("usage: volume add-spare NAME RESOURCE (HOST.N or 16 hex digits)");
    v.spare_count++;
    return define(c, &v); /* with the generation seen: refused if changed meanwhile */
}

/* --- working on an open volume ------------------------------------------------------ */

static void scrubbed(rshare_volume *vol, int status, uint64_t mismatches, void *user_data)
{
    (void)vol;
    struct client *c = user_data;
    struct reply r;
    reply_init(&r, c->json);
    reply_line(&r, "scrub: %" PRIu64 " inconsistent", mismatches);
    reply_open(&r, NULL, '{');
    reply_u64(&r, "mismatches", mismatches);
    reply_close(&r, '{');
    client_finish(c, &r, status, NULL);
}

static int cmd_volume_open_op(struct client *c, char **w, int n, struct reply *r, bool *later)
{
    struct agent_volume *av;
    int rc = open_volume(c->agent, w[2], &av);
    if (rc < 0)
        return rc;
    if (!strcmp(w[1], "fail") || !strcmp(w[1], "readd")) {
        char *end;
        unsigned long index = n == 4 ? strtoul(w[3], &end, 10) : 0;
        if (n != 4 || *end)
            return bad("usage: volume fail|readd NAME INDEX");
        rc = !strcmp(w[1], "fail") ? rshare_volume_fail_member(av->vol, (uint32_t)index)
                                   : rshare_volume_readd_member(av->vol, (uint32_t)index);
        if (rc == 0)
            reply_line(r, "member %lu of %s: %s", index, av->name,
                       !strcmp(w[1], "fail") ? "failed; a spare takes its place if there is one"
                                             : "coming back; only what changed is copied");
        return rc;
    }
    if (!strcmp(w[1], "scrub")) {
        bool repair = n == 4 && !strcmp(w[3], "repair");
        if (n > 4 || (n == 4 && !repair))
            return bad("usage: volume scrub NAME [repair]");
        rc = rshare_volume_scrub(av->vol, repair, scrubbed, c);
        *later = rc == 0;
        return rc;
    }
    /* rebuild: watch until every member is in sync */
    c->watch = av;
    c->state = CLIENT_WATCHING;
    c->shown_done = UINT64_MAX;
    *later = true;
    return 0;
}

void command_watch(struct client *c)
{
    struct rshare_volume_status s;
    memset(&s, 0, sizeof(s));
    s.struct_size = sizeof(s);
    if (!c->watch->vol || rshare_volume_get_status(c->watch->vol, &s) < 0) {
        client_finish(c, NULL, RSHARE_ENOENT, "the volume was closed");
        return;
    }
    if (s.rebuild_total && s.rebuild_done != c->shown_done) {
        char line[96];
        snprintf(line, sizeof(line), "progress %" PRIu64 " %" PRIu64, s.rebuild_done,
                 s.rebuild_total);
        client_send_line(c, line);
        c->shown_done = s.rebuild_done;
        c->shown_total = s.rebuild_total;
    }
    /* Done when the map agrees that every member is in sync; a spare still
     * listed in the map is about to take a failed member's place (the
     * change is on its way through the manager). */
    struct rshare_volume_desc v;
    bool known = find_volume(c->agent, c->watch->name, &v) == 0;
    bool rebuilding = false;
    for (uint32_t i = 0; i < s.member_count; i++)
        rebuilding |= s.member_state[i] == RSHARE_VOLUME_MEMBER_REBUILDING ||
                      (known && v.member_state[i] == RSHARE_VOLUME_MEMBER_REBUILDING);
    bool spare_coming = known && v.spare_count > 0;
    if (s.state == RSHARE_VOLUME_FAILED)
        client_finish(c, NULL, RSHARE_EIO, "the volume has failed");
    else if (s.state == RSHARE_VOLUME_OPTIMAL && !rebuilding) {
        if (c->shown_total && c->shown_done != c->shown_total) {
            char line[96]; /* the rebuild ended between two looks */
            snprintf(line, sizeof(line), "progress %" PRIu64 " %" PRIu64, c->shown_total,
                     c->shown_total);
            client_send_line(c, line);
        }
        client_finish(c, NULL, 0, NULL);
    }
    else if (s.state == RSHARE_VOLUME_DEGRADED && !rebuilding && !s.rebuild_total &&
             !spare_coming)
        client_finish(c, NULL, RSHARE_ENOENT, "degraded with no spare: add one (volume add-spare)");
}

/* --- KVM ---------------------------------------------------------------------------- */

static int cmd_kvm(struct client *c, char **w, int n, struct reply *r)
{
    rshare_kvm *kvm = c->agent->kvm;
    if (!kvm)
        return bad("this agent has no [kvm] role");
    int rc = 0;
    if (n == 3 && !strcmp(w[1], "focus")) {
        char *end;
        unsigned long target = strtoul(w[2], &end, 10);
        if (*end || !target || target > 0xFFFFFFFEul)
            return bad("usage: kvm focus [NODE]");
        rc = rshare_kvm_focus_set(kvm, (uint32_t)target);
    } else if (n == 2 && !strcmp(w[1], "next")) {
        rc = rshare_kvm_focus_next(kvm);
    } else if (n == 3 && !strcmp(w[1], "lock") && (!strcmp(w[2], "on") || !strcmp(w[2], "off"))) {
        rc = rshare_kvm_lock(kvm, !strcmp(w[2], "on"));
    } else if (!(n == 2 && !strcmp(w[1], "focus"))) {
        return bad("usage: kvm focus [NODE] | kvm next | kvm lock on|off");
    }
    if (rc < 0)
        return rc;
    uint32_t focus = rshare_kvm_focus(kvm);
    bool locked = rshare_kvm_locked(kvm) > 0;
    const struct agent_config *cfg = &c->agent->cfg;
    bool host = cfg->kvm_roles == 1;
    uint32_t px = 0, py = 0;
    bool pointer = host && rshare_kvm_pointer(kvm, &px, &py) == 0;
    struct rshare_kvm_stats st;
    rshare_kvm_stats(kvm, &st, sizeof(st));
    if (host) {
        reply_line(r, "focus: node %u%s", focus, locked ? " (locked)" : "");
        for (uint32_t i = 0; i < cfg->kvm_target_count; i++) {
            uint32_t t = cfg->kvm_targets[i];
            char where[96] = "";
            for (uint32_t j = 0; j < cfg->kvm_display_count; j++) {
                const struct rshare_kvm_display *d = &cfg->kvm_displays[j];
                if (d->node == t)
                    snprintf(where, sizeof(where), ", display %ux%u at %d,%d", d->width,
                             d->height, d->x, d->y);
            }
            reply_line(r, "  target %u: %s%s%s", t,
                       rshare_kvm_target_up(kvm, t) > 0 ? "up" : "down",
                       t == focus ? ", focused" : "", where);
        }
        if (pointer)
            reply_line(r, "pointer: %u,%u on node %u", px, py, focus);
        reply_line(r, "switches: %llu (%llu by screen edge, %llu by hotkey)",
                   (unsigned long long)st.switches, (unsigned long long)st.edge_switches,
                   (unsigned long long)st.hotkeys);
    } else {
        reply_line(r, "target of node %u, %zu keys held", cfg->kvm_host,
                   rshare_kvm_pressed_count(kvm));
    }
    reply_open(r, NULL, '{');
    reply_u64(r, "focus", focus);
    reply_bool(r, "locked", locked);
    reply_u64(r, "keys_held", rshare_kvm_pressed_count(kvm));
    if (host) {
        reply_open(r, "targets", '[');
        for (uint32_t i = 0; i < cfg->kvm_target_count; i++) {
            uint32_t t = cfg->kvm_targets[i];
            reply_open(r, NULL, '{');
            reply_u64(r, "node", t);
            reply_bool(r, "up", rshare_kvm_target_up(kvm, t) > 0);
            reply_bool(r, "focused", t == focus);
            reply_close(r, '{');
        }
        reply_close(r, '[');
        if (pointer) {
            reply_open(r, "pointer", '{');
            reply_u64(r, "x", px);
            reply_u64(r, "y", py);
            reply_close(r, '{');
        }
        reply_u64(r, "switches", st.switches);
        reply_u64(r, "edge_switches", st.edge_switches);
    }
    reply_close(r, '{');
    return 0;
}

/* --- dispatch ----------------------------------------------------------------------- */

static const char *usage_text =
    "commands: status | nodes | resources | volumes | map |\n"
    "  volume create NAME LAYOUT MEMBERS [chunk=64K] [spares=R,..] [algorithm=A] |\n"
    "  volume destroy NAME | volume status NAME | volume add-spare NAME RESOURCE |\n"
    "  volume fail NAME INDEX | volume readd NAME INDEX | volume rebuild NAME |\n"
    "  volume scrub NAME [repair] | kvm focus [NODE] | kvm next | kvm lock on|off |\n"
    "  identity revoke NODE_ID [PUBLIC_KEY_HEX]";

void command_run(struct client *c, char *line)
{
    char *w[MAX_WORDS];
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(line, " \t\r", &save); tok && n < MAX_WORDS;
         tok = strtok_r(NULL, " \t\r", &save))
        w[n++] = tok;
    if (n && !strcmp(w[0], "json")) {
        c->json = true;
        memmove(w, w + 1, (size_t)--n * sizeof(w[0]));
    }
    static struct reply r;
    reply_init(&r, c->json);
    refusal = NULL;
    int rc = 0;
    bool later = false, map_change = false;
    const char *why = NULL;
    if (n == 0) {
        rc = RSHARE_EINVAL;
        why = usage_text;
    } else if (!strcmp(w[0], "status") && n == 1) {
        cmd_status(c, &r);
    } else if (!strcmp(w[0], "nodes") && n == 1) {
        cmd_nodes(c, &r);
    } else if (!strcmp(w[0], "resources") && n == 1) {
        cmd_resources(c, &r, NULL);
    } else if (!strcmp(w[0], "volumes") && n == 1) {
        cmd_volumes(c, &r, NULL);
    } else if (!strcmp(w[0], "map") && n == 1) {
        /* The global map: every resource and every volume. */
        reply_open(&r, NULL, '{');
        cmd_resources(c, &r, "resources");
        cmd_volumes(c, &r, "volumes");
        reply_close(&r, '{');
    } else if (!strcmp(w[0], "volume") && n >= 3) {
        struct rshare_volume_desc v;
        if (!strcmp(w[1], "create")) {
            rc = cmd_volume_create(c, w, n);
            later = rc == 0;
            map_change = true;
        } else if (!strcmp(w[1], "destroy") || !strcmp(w[1], "add-spare")) {
            rc = cmd_volume_change(c, w, n);
            later = rc == 0;
            map_change = true;
        } else if (!strcmp(w[1], "status") && n == 3) {
            rc = find_volume(c->agent, w[2], &v);
            if (rc == 0) {
                reply_open(&r, NULL, '{');
                describe_volume(c->agent, &r, &v);
                reply_close(&r, '{');
            }
        } else if (!strcmp(w[1], "fail") || !strcmp(w[1], "readd") ||
                   !strcmp(w[1], "scrub") || (!strcmp(w[1], "rebuild") && n == 3)) {
            rc = cmd_volume_open_op(c, w, n, &r, &later);
        } else {
            rc = RSHARE_EINVAL;
            why = usage_text;
        }
    } else if (!strcmp(w[0], "kvm") && n >= 2) {
        rc = cmd_kvm(c, w, n, &r);
    } else if (!strcmp(w[0], "identity")) {
        rc = identity_command(c, w, n, &why);
        later = rc == 0;
        map_change = true;
    } else {
        rc = RSHARE_EINVAL;
        why = usage_text;
    }
    /* No manager at the moment: nothing was changed, so the request can
     * wait for the election and run again. */
    if (rc == RSHARE_EAGAIN && map_change && client_retry_later(c))
        return;
    if (rc < 0 && !why)
        why = refusal ? refusal : rshare_node_errmsg(c->agent->node);
    if (rc < 0 || !later)
        client_finish(c, &r, rc, why);
}
