/* cluster_node — one member of an rshare cluster on UDP: it finds the other
 * nodes, takes part in choosing the manager (if eligible), shares block
 * devices by descriptor, and keeps a copy of the global resource map, which
 * it prints whenever it changes.  Run one per machine, or several on one
 * machine with different ports and state directories (examples/cluster_demo.sh).
 *
 *   cluster_node --id 1 --slot 0 --listen 127.0.0.1:7301 --state /var/lib/n1 \
 *       --peer 2@127.0.0.1:7302 --peer 3@127.0.0.1:7303 \
 *       --eligible --voters 1,2,3 --share disk1:64M --print-map
 *
 * Options
 *   --id N              node id, 1 .. 4294967294, unique in the cluster
 *   --slot S            chassis slot: the lowest live eligible slot is the preferred manager
 *   --listen ADDR       UDP address to bind, e.g. 127.0.0.1:7301 (port 0: any free port)
 *   --state DIR         persistent state (boot counter, the node's copy of the map);
 *                       created if missing.  Restart a node with the same DIR.
 *   --peer ID@ADDR      a node to say hello to first (repeat for each; addresses of
 *                       other nodes are also learnt from their packets)
 *   --eligible          this node may vote on map changes and become manager
 *   --voters 1,2,3      the voters of a brand-new map: the same list on every node;
 *                       every listed node must be --eligible
 *   --share NAME:SIZE   share a block device described by NAME (a device path, file name
 *                       or any stable name) and SIZE in bytes (suffix K, M, G, T); a NAME
 *                       naming an existing regular file may leave out :SIZE (the file's size).
 *                       A NAME that is an existing file or block device is served: other
 *                       nodes read and write its blocks.  Other names are only described
 *                       (512-byte blocks).  Repeatable.
 *   --key-hex HEX       the 32-byte cluster key as 64 hex digits (the same on every node)
 *   --seconds T         stop after T seconds (default: run until SIGTERM or SIGINT)
 *   --print-map         print the global map whenever it changes (format below)
 *   --hello-ms MS, --member-timeout-ms MS, --election-ms MS, --heartbeat-ms MS
 *                       the cluster's timing (defaults 1000, 3500, 1000, 100)
 *   --mtu BYTES         UDP payload limit, the same on every node (default 1400; up to 65507)
 *   --verbose           the library's informational log lines on stderr
 *
 * Output (stdout, one line at a time, for people and for scripts)
 *   node N listening on ADDR (...)          once, at start
 *   shared NAME as resource HHHHHHHHHHHHHHHH (...)   per --share, at start
 *   event: member ID up                     a node was discovered or came back
 *   event: member ID down                   a node fell silent
 *   event: manager ID                       the manager changed (ID "none": no manager)
 *   event: map changed by node ID, version E/V     a change was applied to the map
 *   stopped                                 at exit, after the node is destroyed
 *
 * With --print-map, whenever this node's view of the map differs from the
 * last one printed, a block of lines all starting with "map: ":
 *   map: node N version E/V manager M members K alive A resources R
 *   map: member ID slot S flags F resources R     one per member, by id
 *   map: resource HHHHHHHHHHHHHHHH host ID kind K blocks COUNTxSIZE path NAME
 *   map: end
 * where M is the manager's id or "none", E/V the map's epoch and version,
 * F a comma-separated list of alive, eligible, voter, manager (or "-"), and
 * resources are listed by id (host << 32 | number).  The member and resource
 * lines of two nodes that hold the same map and agree on who is alive and
 * who manages are identical (this node is named only in the first line).
 *
 * Exit status: 0 after SIGTERM/SIGINT or --seconds, 1 on a library error,
 * 2 on bad options.
 */
#include <rshare/rshare.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_PEERS 64
#define MAX_SHARES 16
#define MAX_VOTERS 7
#define MAX_MEMBERS 1024
#define MAP_TEXT_MAX (256 * 1024)

struct peer {
    uint32_t id;
    const char *addr;
};

struct share {
    const char *name;
    uint64_t bytes;
};

struct options {
    uint32_t id, slot;
    const char *listen, *state_dir, *key_hex;
    int eligible, print_map, verbose;
    struct peer peers[MAX_PEERS];
    unsigned peer_count;
    uint32_t voters[MAX_VOTERS];
    unsigned voter_count;
    struct share shares[MAX_SHARES];
    unsigned share_count;
    unsigned seconds;
    uint32_t hello_ms, member_timeout_ms, election_ms, heartbeat_ms;
    uint32_t mtu;
};

/* What the program remembers between loop steps. */
struct state {
    int print_map;
    uint32_t manager_shown; /* the manager last announced on stdout */
    char *map_shown;        /* the map block last printed */
    char *map_text;         /* scratch for the current one */
};

static volatile sig_atomic_t stop_requested;

static void parse_options(int argc, char **argv, struct options *o);
static int load_key(const char *hex, uint8_t key[RSHARE_CLUSTER_KEY_BYTES]);
static int share_block_device(rshare_node *node, const struct share *share);
static void on_cluster_event(rshare_node *node, enum rshare_cluster_event event, uint32_t node_id,
                             void *user_data);
static void show_manager(rshare_node *node, struct state *st);
static void show_map(rshare_node *node, struct state *st);
static int fail(rshare_node *node, const char *what, int rc);

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

int main(int argc, char **argv)
{
    struct options o;
    parse_options(argc, argv, &o);
    setvbuf(stdout, NULL, _IOLBF, 0); /* scripts read our lines as they come */

    /* SIGTERM and SIGINT end the loop below; the node is then destroyed
     * properly.  Without SA_RESTART they also cut the wait short. */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    /* 1. The node: id, slot, state directory (an eligible node must have
     *    one: its votes and its copy of the map survive a restart there). */
    if (mkdir(o.state_dir, 0700) < 0 && errno != EEXIST) {
        fprintf(stderr, "cluster_node: cannot create %s: %s\n", o.state_dir, strerror(errno));
        return 1;
    }
    uint8_t key[RSHARE_CLUSTER_KEY_BYTES];
    struct rshare_node_config config;
    rshare_node_config_init(&config, sizeof(config));
    config.node_id = o.id;
    config.slot = (uint16_t)o.slot;
    config.state_dir = o.state_dir;
    if (o.verbose)
        config.log.max_level = RSHARE_LOG_INFO; /* default sink: stderr */
    if (o.key_hex) {
        if (load_key(o.key_hex, key) < 0)
            return 2;
        config.cluster_key = key; /* the node keeps a copy */
    }
    rshare_node *node = NULL;
    int rc = rshare_node_create(&config, &node);
    memset(key, 0, sizeof(key));
    if (rc < 0)
        return fail(NULL, "cannot create the node", rc);

    struct state st = {.print_map = o.print_map};
    st.map_shown = calloc(1, MAP_TEXT_MAX);
    st.map_text = calloc(1, MAP_TEXT_MAX);
    if (!st.map_shown || !st.map_text) {
        rc = fail(NULL, "out of memory", RSHARE_ENOMEM);
        goto out;
    }

    /* 2. UDP, and the peers to greet first (seeds).  Hellos also go out by
     *    broadcast to the bound port: on a LAN where every node binds the
     *    same port, no seeds are needed. */
    struct rshare_udp_config udp;
    rshare_udp_config_init(&udp, sizeof(udp));
    udp.bind_address = o.listen;
    udp.mtu = o.mtu; /* 0: the default */
    char bound[96];
    int transport = rc = rshare_node_add_udp(node, &udp);
    if (rc >= 0)
        rc = rshare_udp_local_address(node, transport, bound, sizeof(bound));
    if (rc < 0) {
        rc = fail(node, "cannot open the UDP transport", rc);
        goto out;
    }
    for (unsigned i = 0; i < o.peer_count; i++) {
        if ((rc = rshare_node_add_peer(node, o.peers[i].id, transport, o.peers[i].addr)) < 0) {
            rc = fail(node, "bad --peer", rc);
            goto out;
        }
    }
    printf("node %u listening on %s (slot %u, %s, %s)\n", o.id, bound, o.slot,
           o.eligible ? "manager-eligible" : "not eligible",
           o.key_hex ? "cluster key set" : "no cluster key");

    /* 3. Join the cluster.  Every node gets the same initial voter list; the
     *    listed ones start a new map with exactly those voters (unless they
     *    already have one in --state), the others are added by the manager. */
    struct rshare_cluster_config cluster;
    rshare_cluster_config_init(&cluster, sizeof(cluster));
    cluster.manager_eligible = (uint32_t)o.eligible;
    cluster.initial_voters = o.voters;
    cluster.initial_voter_count = o.voter_count;
    cluster.hello_interval_ms = o.hello_ms; /* 0: the defaults */
    cluster.member_timeout_ms = o.member_timeout_ms;
    cluster.election_timeout_ms = o.election_ms;
    cluster.heartbeat_ms = o.heartbeat_ms;
    rshare_cluster_set_callback(node, on_cluster_event, &st);
    if ((rc = rshare_cluster_join(node, &cluster)) < 0) {
        rc = fail(node, "cannot join the cluster", rc);
        goto out;
    }

    /* 4. Share block devices: the descriptor goes to the manager, which puts
     *    it in the global map that every node receives. */
    for (unsigned i = 0; i < o.share_count; i++) {
        if ((rc = share_block_device(node, &o.shares[i])) != 0)
            goto out;
    }

    /* 5. The event loop.  Events are printed by on_cluster_event as they
     *    happen; after each step the manager and the map are compared with
     *    what was last printed. */
    uint64_t end = rshare_node_now_us(node) + (uint64_t)o.seconds * 1000000u;
    while (!stop_requested && (!o.seconds || rshare_node_now_us(node) < end)) {
        if ((rc = rshare_node_run(node, 100)) < 0)
            fail(node, "event loop", rc); /* reported, not fatal */
        show_manager(node, &st);
        show_map(node, &st);
    }
    rc = 0;
out:
    rshare_node_destroy(node);
    free(st.map_shown);
    free(st.map_text);
    if (rc == 0)
        printf("stopped\n");
    return rc;
}

/* Describe one block device and register it.  A NAME that is an existing
 * file or block device is also served: other nodes read and write its
 * blocks (volumes are built from such disks).  Any other name is only
 * described. */
static int share_block_device(rshare_node *node, const struct share *share)
{
    struct rshare_resource_desc d;
    rshare_resource_desc_init(&d, sizeof(d)); /* rights: read and write */
    d.kind = RSHARE_RESOURCE_BLOCK;
    snprintf(d.path, sizeof(d.path), "%s", share->name);
    snprintf(d.model, sizeof(d.model), "cluster_node");
    uint64_t id;
    int rc;
    struct stat sb;
    rshare_block *block = NULL;
    if (stat(share->name, &sb) == 0 && (S_ISREG(sb.st_mode) || S_ISBLK(sb.st_mode))) {
        if ((rc = rshare_block_open_file(node, share->name, 0, 0, &block)) < 0)
            return fail(node, "cannot open the disk", rc);
        rc = rshare_resource_register_block(node, &d, block, &id); /* geometry from the file */
    } else {
        d.block_size = 512;
        d.block_count = share->bytes / 512;
        rc = rshare_resource_register(node, &d, &id);
    }
    if (rc < 0)
        return fail(node, "cannot share a resource", rc);
    /* The node closes the block when it is destroyed. */
    struct rshare_block_info info;
    rshare_block_info_init(&info, sizeof(info));
    if (block)
        rshare_block_get_info(block, &info);
    printf("shared %s as resource %016llx (%llu blocks of %u bytes%s)\n", d.path,
           (unsigned long long)id, (unsigned long long)(block ? info.block_count : d.block_count),
           block ? info.block_size : d.block_size, block ? ", served" : "");
    return 0;
}

/* Called from inside rshare_node_run: print, do not block. */
static void on_cluster_event(rshare_node *node, enum rshare_cluster_event event, uint32_t node_id,
                             void *user_data)
{
    struct state *st = user_data;
    uint32_t epoch;
    uint64_t version;
    switch (event) {
    case RSHARE_EVENT_MEMBER_UP: printf("event: member %u up\n", node_id); break;
    case RSHARE_EVENT_MEMBER_DOWN: printf("event: member %u down\n", node_id); break;
    case RSHARE_EVENT_MANAGER: show_manager(node, st); break;
    case RSHARE_EVENT_MAP:
        rshare_cluster_map_version(node, &epoch, &version);
        printf("event: map changed by node %u, version %u/%llu\n", node_id, epoch,
               (unsigned long long)version);
        break;
    }
}

/* One line per change of manager, whether learnt from the event or seen
 * when the loop looks. */
static void show_manager(rshare_node *node, struct state *st)
{
    uint32_t manager = rshare_cluster_manager(node);
    if (manager == st->manager_shown)
        return;
    st->manager_shown = manager;
    if (manager)
        printf("event: manager %u\n", manager);
    else
        printf("event: manager none\n");
}

/* Append formatted text to a bounded buffer. */
__attribute__((format(printf, 3, 4))) static void put(char *buf, size_t *len, const char *fmt, ...)
{
    if (*len >= MAP_TEXT_MAX - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *len, MAP_TEXT_MAX - *len, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len = *len + (size_t)n < MAP_TEXT_MAX ? *len + (size_t)n : MAP_TEXT_MAX - 1;
}

static const char *kind_name(uint32_t kind)
{
    switch (kind) {
    case RSHARE_RESOURCE_BLOCK: return "block";
    case RSHARE_RESOURCE_KEYBOARD: return "keyboard";
    case RSHARE_RESOURCE_POINTER: return "pointer";
    case RSHARE_RESOURCE_DISPLAY: return "display";
    default: return "unknown";
    }
}

/* Render this node's view of the map (format in the file header) and print
 * it if it differs from the last one printed. */
static void show_map(rshare_node *node, struct state *st)
{
    static struct rshare_member members[MAX_MEMBERS];
    static struct rshare_resource_desc resources[MAX_MEMBERS];
    if (!st->print_map)
        return;
    size_t member_count, resource_count;
    uint32_t epoch;
    uint64_t version;
    if (rshare_cluster_members(node, members, MAX_MEMBERS, sizeof(members[0]), &member_count) < 0 ||
        rshare_resource_list(node, 0, resources, MAX_MEMBERS, sizeof(resources[0]),
                             &resource_count) < 0 ||
        rshare_cluster_map_version(node, &epoch, &version) < 0)
        return;
    size_t members_total = member_count, resources_total = resource_count;
    member_count = member_count < MAX_MEMBERS ? member_count : MAX_MEMBERS; /* listed */
    resource_count = resource_count < MAX_MEMBERS ? resource_count : MAX_MEMBERS;

    size_t alive = 0;
    for (size_t i = 0; i < member_count; i++)
        alive += (members[i].flags & RSHARE_MEMBER_ALIVE) != 0;
    uint32_t manager = rshare_cluster_manager(node);
    char manager_text[16] = "none";
    if (manager)
        snprintf(manager_text, sizeof(manager_text), "%u", manager);

    char *t = st->map_text;
    size_t len = 0;
    t[0] = '\0';
    put(t, &len, "map: node %u version %u/%llu manager %s members %zu alive %zu resources %zu\n",
        rshare_node_id(node), epoch, (unsigned long long)version, manager_text, members_total,
        alive, resources_total);
    for (size_t i = 0; i < member_count; i++) {
        const struct rshare_member *m = &members[i];
        static const struct {
            uint32_t bit;
            const char *name;
        } names[] = {{RSHARE_MEMBER_ALIVE, "alive"},
                     {RSHARE_MEMBER_ELIGIBLE, "eligible"},
                     {RSHARE_MEMBER_VOTER, "voter"},
                     {RSHARE_MEMBER_MANAGER, "manager"}};
        char flags[64] = "";
        size_t flen = 0;
        for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
            if (m->flags & names[k].bit)
                flen += (size_t)snprintf(flags + flen, sizeof(flags) - flen, "%s%s",
                                         flen ? "," : "", names[k].name);
        put(t, &len, "map: member %u slot %u flags %s resources %u\n", m->id, m->slot,
            flen ? flags : "-", m->resources);
    }
    for (size_t i = 0; i < resource_count; i++) {
        const struct rshare_resource_desc *r = &resources[i];
        put(t, &len, "map: resource %016llx host %u kind %s blocks %llux%u path %s\n",
            (unsigned long long)r->id, r->host, kind_name(r->kind),
            (unsigned long long)r->block_count, r->block_size, r->path);
    }
    put(t, &len, "map: end\n");

    if (strcmp(t, st->map_shown) == 0)
        return;
    fputs(t, stdout);
    memcpy(st->map_shown, t, len + 1);
}

/* Say what failed: the code's meaning and the node's detail message. */
static int fail(rshare_node *node, const char *what, int rc)
{
    const char *detail = node ? rshare_node_errmsg(node) : "";
    fprintf(stderr, "cluster_node: %s: %s (%s)%s%s\n", what, rshare_strerror(rc),
            rshare_err_name(rc), *detail ? ": " : "", detail);
    return 1;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20; /* lower case */
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int load_key(const char *hex, uint8_t key[RSHARE_CLUSTER_KEY_BYTES])
{
    int ok = strlen(hex) == 2 * RSHARE_CLUSTER_KEY_BYTES;
    for (int i = 0; ok && i < RSHARE_CLUSTER_KEY_BYTES; i++) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if ((ok = hi >= 0 && lo >= 0))
            key[i] = (uint8_t)(hi << 4 | lo);
    }
    if (!ok)
        fprintf(stderr, "cluster_node: the key must be %d hex digits\n",
                2 * RSHARE_CLUSTER_KEY_BYTES);
    return ok ? 0 : -1;
}

static void usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: cluster_node --id N --slot S --listen ADDR --state DIR [--peer ID@ADDR ...]\n"
            "         [--eligible] [--voters ID,ID,...] [--share NAME[:SIZE] ...] [--key-hex HEX]\n"
            "         [--seconds T] [--print-map] [--verbose] [--hello-ms MS]\n"
            "         [--member-timeout-ms MS] [--election-ms MS] [--heartbeat-ms MS] [--mtu BYTES]\n"
            "The options and the output format are described at the top of cluster_node.c.\n");
    exit(status);
}

static unsigned long long number(const char *text, unsigned long long max)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (!*text || *text == '-' || *end || errno || v > max) {
        fprintf(stderr, "cluster_node: bad number '%s'\n", text);
        exit(2);
    }
    return v;
}

/* SIZE with an optional K, M, G or T suffix (powers of 1024). */
static uint64_t size_value(const char *text)
{
    char digits[32];
    size_t n = strlen(text);
    unsigned shift = 0;
    const char *suffixes = "KMGT";
    char last = n ? (char)(text[n - 1] & ~0x20) : '\0'; /* upper case */
    const char *s = last ? strchr(suffixes, last) : NULL;
    if (s) {
        shift = 10u * (unsigned)(s - suffixes + 1);
        n--;
    }
    if (n == 0 || n >= sizeof(digits)) {
        fprintf(stderr, "cluster_node: bad size '%s'\n", text);
        exit(2);
    }
    memcpy(digits, text, n);
    digits[n] = '\0';
    uint64_t v = number(digits, UINT64_MAX >> shift);
    return v << shift;
}

/* --share NAME:SIZE, or NAME alone for an existing regular file. */
static void parse_share(char *arg, struct share *share)
{
    char *colon = strrchr(arg, ':');
    struct stat sb;
    if (colon) {
        *colon = '\0';
        share->bytes = size_value(colon + 1);
    } else if (stat(arg, &sb) == 0 && S_ISREG(sb.st_mode)) {
        share->bytes = (uint64_t)sb.st_size;
    } else {
        fprintf(stderr, "cluster_node: --share %s: give NAME:SIZE, or name a regular file\n", arg);
        exit(2);
    }
    share->name = arg;
    if (!*arg || strlen(arg) >= RSHARE_RESOURCE_PATH_MAX || share->bytes < 512) {
        fprintf(stderr, "cluster_node: --share: the name must be 1 to %d bytes and the size "
                "at least 512 bytes\n", RSHARE_RESOURCE_PATH_MAX - 1);
        exit(2);
    }
}

static void parse_options(int argc, char **argv, struct options *o)
{
    enum { O_HELLO = 256, O_MEMBER_TIMEOUT, O_ELECTION, O_HEARTBEAT, O_MTU };
    static const struct option opts[] = {
        {"id", 1, NULL, 'i'},        {"slot", 1, NULL, 'S'},
        {"listen", 1, NULL, 'l'},    {"state", 1, NULL, 'd'},
        {"peer", 1, NULL, 'p'},      {"eligible", 0, NULL, 'e'},
        {"voters", 1, NULL, 'v'},    {"share", 1, NULL, 's'},
        {"key-hex", 1, NULL, 'K'},   {"seconds", 1, NULL, 't'},
        {"print-map", 0, NULL, 'm'}, {"verbose", 0, NULL, 'V'},
        {"hello-ms", 1, NULL, O_HELLO},
        {"member-timeout-ms", 1, NULL, O_MEMBER_TIMEOUT},
        {"election-ms", 1, NULL, O_ELECTION},
        {"heartbeat-ms", 1, NULL, O_HEARTBEAT},
        {"mtu", 1, NULL, O_MTU},
        {"help", 0, NULL, 'h'},      {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof(*o));
    char *at;
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (c) {
        case 'i': o->id = (uint32_t)number(optarg, 0xFFFFFFFEu); break;
        case 'S': o->slot = (uint32_t)number(optarg, 0xFFFFu); break;
        case 'l': o->listen = optarg; break;
        case 'd': o->state_dir = optarg; break;
        case 'e': o->eligible = 1; break;
        case 'K': o->key_hex = optarg; break;
        case 't': o->seconds = (unsigned)number(optarg, 864000); break;
        case 'm': o->print_map = 1; break;
        case 'V': o->verbose = 1; break;
        case O_HELLO: o->hello_ms = (uint32_t)number(optarg, 3600000); break;
        case O_MEMBER_TIMEOUT: o->member_timeout_ms = (uint32_t)number(optarg, 3600000); break;
        case O_ELECTION: o->election_ms = (uint32_t)number(optarg, 3600000); break;
        case O_HEARTBEAT: o->heartbeat_ms = (uint32_t)number(optarg, 3600000); break;
        case O_MTU: o->mtu = (uint32_t)number(optarg, 65507); break;
        case 'h': usage(0); break;
        case 'p': /* ID@ADDR */
            if (!(at = strchr(optarg, '@')) || o->peer_count == MAX_PEERS)
                usage(2);
            *at = '\0';
            o->peers[o->peer_count].id = (uint32_t)number(optarg, 0xFFFFFFFEu);
            o->peers[o->peer_count++].addr = at + 1;
            break;
        case 'v': /* ID,ID,... */
            o->voter_count = 0;
            for (char *t = strtok(optarg, ","); t; t = strtok(NULL, ",")) {
                if (o->voter_count == MAX_VOTERS)
                    usage(2);
                o->voters[o->voter_count++] = (uint32_t)number(t, 0xFFFFFFFEu);
            }
            break;
        case 's':
            if (o->share_count == MAX_SHARES)
                usage(2);
            parse_share(optarg, &o->shares[o->share_count++]);
            break;
        default: usage(2);
        }
    }
    if (optind != argc || !o->id || !o->listen || !o->state_dir)
        usage(2);
}
