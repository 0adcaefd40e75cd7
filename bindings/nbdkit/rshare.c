/* nbdkit-rshare-plugin — an rshare volume served as an NBD export.
 *
 * NAME
 *   nbdkit-rshare-plugin - export an rshare virtual volume over NBD
 *
 * SYNOPSIS
 *   nbdkit rshare [volume=]NAME id=N listen=ADDR [peer=ID@ADDR ...]
 *          [state=DIR] [key-hex=HEX|-|+FILE | key-file=FILE]
 *          [define=LAYOUT:CHUNK:MEMBERS[+SPARES]] [timeout=SECONDS]
 *          [eligible=BOOL] [voters=ID,ID,...] [slot=S]
 *          [hello-ms=MS] [member-timeout-ms=MS] [election-ms=MS] [heartbeat-ms=MS]
 *          [request-timeout-ms=MS] [retry-budget=N] [mtu=BYTES] [inflight=N] [force=BOOL]
 *          [log=error|warning|info|debug]
 *
 *   An uninstalled build is loaded by path:
 *   nbdkit -U /tmp/sock BUILDDIR/bindings/nbdkit/.libs/nbdkit-rshare-plugin.so vol0 id=9 ...
 *
 * DESCRIPTION
 *   The plugin makes nbdkit a node of an rshare cluster over UDP.  Once
 *   configured it joins the cluster, waits until its copy of the global map
 *   holds the volume NAME (defining it first when define= is given and the
 *   volume is missing), opens it and serves it: every NBD client (nbdinfo,
 *   nbdcopy, qemu, nbd-client and the kernel) sees a plain disk whose blocks
 *   live on the members' nodes.  Reads, writes and flushes go to the volume
 *   engine (include/rshare/volume.h); mirrors and parity keep the export
 *   working when a member's node dies (the volume goes degraded).
 *
 * PARAMETERS
 *   volume=NAME     the volume (the "magic" key: NAME alone works too)
 *   id=N            this node's id, 1 .. 4294967294, unique in the cluster
 *   listen=ADDR     UDP address to bind: 192.0.2.7:7219, [::]:7219, 127.0.0.1:0
 *   peer=ID@ADDR    a node to greet first (repeatable); others are learnt from
 *                   their packets and from broadcast hellos
 *   state=DIR       persistent state (boot counter, write-intent bitmap of the
 *                   volume, the map when eligible); created if missing.  Without
 *                   it a restart cannot tell which regions were being written
 *                   (the whole volume is resynced) and the node warns about
 *                   replay protection.  Required with eligible=true.
 *   key-hex=HEX     the 32-byte cluster key as 64 hex digits; also "-" (read from
 *                   the terminal), "-FD" (from a descriptor) or "+FILE" (from a
 *                   file), as nbdkit reads passwords
 *   key-file=FILE   the key in a file: 32 raw bytes or 64 hex digits
 *   define=LAYOUT:CHUNK:MEMBERS[+SPARES]
 *                   define the volume if the map does not hold it.  LAYOUT is
 *                   linear, raid0, raid1, raid5 (md's left-symmetric) or raid10;
 *                   CHUNK the chunk size in bytes with an optional K/M suffix
 *                   (raid0/5/10: a power of two from 4K to 32M; 0 or empty for
 *                   linear and raid1); MEMBERS and SPARES are comma-separated
 *                   block resources, each HOST.NUMBER (node id and the node's own
 *                   resource number, 3.1 = the first disk node 3 shares) or the
 *                   16-hex-digit resource id (0000000300000001).  Example:
 *                   define=raid5:64K:1.1,2.1,3.1+4.1
 *   timeout=SECONDS how long to wait at start-up for the volume to appear in
 *                   the map (default 60)
 *   eligible=BOOL   take part in consensus on the map (default false: the node
 *                   keeps a non-voting copy)
 *   voters=ID,...   the voters of a brand-new map (the same list on every node;
 *                   only meaningful with eligible=true)
 *   slot=S          chassis slot (manager preference; default 0)
 *   hello-ms, member-timeout-ms, election-ms, heartbeat-ms
 *                   the cluster's timing (defaults 1000, 3500, 1000, 100)
 *   request-timeout-ms=MS   a member request unanswered this long is retried
 *                   (default 5000)
 *   retry-budget=N  transient member failures before the member is failed
 *                   (default 3)
 *   mtu=BYTES       UDP payload limit, the same on every node (default 1400)
 *   inflight=N      requests on the volume at once (default 8, 1 .. 256); more
 *                   wait for a slot (see THREADS)
 *   force=BOOL      open even when the volume was not shut down cleanly and is
 *                   degraded (RAID-5 write hole: parity of dirty regions may be
 *                   wrong)
 *   log=LEVEL       the most detailed library log level passed on (default
 *                   info).  Errors and warnings go to nbdkit_error, info and
 *                   debug lines to nbdkit_debug (seen with nbdkit -v).
 *
 * THREADS
 *   The library is single-threaded; nbdkit's threads are not.  The plugin
 *   declares NBDKIT_THREAD_MODEL_PARALLEL, and after start-up one thread
 *   only, the loop thread (started in .after_fork: nbdkit may fork to
 *   daemonise after .get_ready), calls into the library.  A request is
 *   queued under a mutex, the loop thread is woken through an eventfd,
 *   starts it with the asynchronous volume call and goes on running the
 *   node's loop; the completion wakes the nbdkit thread that waits for it.
 *   So many requests are in flight on the volume at once, and hellos,
 *   consensus, rebuilds and resyncs go on whether or not clients are busy.
 *   At most inflight=N requests are started at once (8 by default: with
 *   256 KiB requests, 2 MiB of replies in flight, below the UDP transport's
 *   4 MiB receive buffer).  Requests with a partial block at either end
 *   (read-modify-write) run alone: they hold a rwlock for writing (writers
 *   preferred, so they are not starved), every other request holds it for
 *   reading.
 *
 * ERRORS
 *   rshare codes become errno values nbdkit sends to the client: RSHARE_EINVAL
 *   -> EINVAL, RSHARE_ENOMEM -> ENOMEM, RSHARE_ENOTSUP -> ENOTSUP,
 *   RSHARE_ESHUTDOWN -> ESHUTDOWN, everything else (medium errors, a volume
 *   with too many members lost, timeouts, unreachable hosts) -> EIO.  Each
 *   error is also logged with the library's detail message.
 *
 * The full guide is doc/NBDKIT.md.
 */
#include "config.h"

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include <rshare/rshare.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

/* Callbacks that appeared after the oldest nbdkit configure accepts (1.24). */
#define HAVE_NBDKIT(minor) (NBDKIT_VERSION_MAJOR > 1 || NBDKIT_VERSION_MINOR >= (minor))

#define MAX_PEERS 64
#define MAX_VOTERS 7
#define KEY_HEX_DIGITS (2 * RSHARE_CLUSTER_KEY_BYTES)
#define DEFAULT_TIMEOUT_S 60
#define DEFAULT_INFLIGHT 8 /* requests on the volume at once */
#define KEEPER_MAX_WAIT_MS 200          /* the loop thread looks at `stopping` this often */
#define PIECE_BYTES (32u * 1024 * 1024) /* largest single volume call; also the hint */

/* --- configuration --------------------------------------------------------------------- */

struct peer {
    uint32_t id;
    char *addr;
};

static struct {
    uint32_t id;
    uint16_t slot;
    char *listen;
    struct peer peers[MAX_PEERS];
    unsigned peer_count;
    char *state_dir;
    uint8_t key[RSHARE_CLUSTER_KEY_BYTES];
    bool have_key;
    char *volume;
    bool eligible;
    uint32_t voters[MAX_VOTERS];
    unsigned voter_count;
    unsigned timeout_s;
    bool have_define;
    struct rshare_volume_desc define;
    uint32_t hello_ms, member_timeout_ms, election_ms, heartbeat_ms;
    uint32_t request_timeout_ms, retry_budget, mtu;
    uint32_t inflight;
    bool force;
    enum rshare_log_level log_level;
} cfg = {.timeout_s = DEFAULT_TIMEOUT_S, .log_level = RSHARE_LOG_INFO,
       .inflight = DEFAULT_INFLIGHT};

/* --- run-time state ---------------------------------------------------------------------- */

/* Before the loop thread starts (start-up) and after it stopped (clean-up)
 * nbdkit's main thread calls into the library; in between only the loop
 * thread does.  `lock` guards the queue of requests for it. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
/* Read-modify-write of a partial block runs alone: it holds `rmw` for
 * writing, every other request for reading. */
static pthread_rwlock_t rmw = PTHREAD_RWLOCK_INITIALIZER;
static rshare_node *node;
static rshare_volume *volume;
static uint64_t volume_bytes; /* the volume's size */
static uint32_t block_size;  /* the volume's logical block size */
static uint32_t preferred;   /* block size hint: a power of two */
static uint8_t *bounce;      /* one block, for unaligned heads and tails */
static char description[160];
/* Linear and RAID-0 volumes pass discards to their members (trim). */
static bool can_discard;

static pthread_t keeper; /* the loop thread */
static bool keeper_started;
static atomic_bool stopping;
static int wake_fd = -1; /* eventfd: wakes the loop thread (a request, or stop) */

enum op { OP_READ, OP_WRITE, OP_FLUSH, OP_DISCARD };

/* One volume call an nbdkit thread hands to the loop thread and waits for. */
struct request {
    enum op op;
    uint8_t *buf;
    uint64_t offset;
    size_t len;
    int status;
    bool done;
    char detail[256]; /* rshare_node_errmsg() when it failed */
    pthread_cond_t cond;
    struct request *next;
};
static struct request *queue_head, **queue_tail = &queue_head; /* under `lock` */
static uint32_t inflight; /* requests started on the volume (loop thread only) */
static uint32_t inflight_peak;  /* the most at once, reported at clean-up */
static uint64_t requests_started;

/* --- helpers ---------------------------------------------------------------------------- */

/* rshare code -> an errno value nbdkit turns into an NBD error. */
static int to_errno(int rc)
{
    switch (rc) {
    case RSHARE_EINVAL: return EINVAL;
    case RSHARE_ENOMEM: return ENOMEM;
    case RSHARE_ENOTSUP: return ENOTSUP;
    case RSHARE_ESHUTDOWN: return ESHUTDOWN;
    default: return EIO;
    }
}

/* Report a library failure: the code, its name and the detail. */
static void report_detail(const char *what, int rc, const char *detail)
{
    nbdkit_error("rshare: %s: %s (%s)%s%s", what, rshare_strerror(rc), rshare_err_name(rc),
                 *detail ? ": " : "", detail);
}

/* The same with the node's detail: only where this thread may call into
 * the library (start-up and clean-up). */
static void report(const char *what, int rc)
{
    report_detail(what, rc, node ? rshare_node_errmsg(node) : "");
}

/* The detail of the last failed volume call of this nbdkit thread, copied
 * on the loop thread when it failed. */
static _Thread_local char io_detail[256];

/* The library's log lines through nbdkit's: errors and warnings always
 * (nbdkit_error), the rest with nbdkit -v (nbdkit_debug). */
static void log_line(void *user_data, enum rshare_log_level level, const char *message)
{
    (void)user_data;
    switch (level) {
    case RSHARE_LOG_ERROR: nbdkit_error("rshare: %s", message); break;
    case RSHARE_LOG_WARNING: nbdkit_error("rshare: warning: %s", message); break;
    default: nbdkit_debug("rshare: %s", message); break;
    }
}

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Exactly 2*n hex digits into n bytes (trailing white space allowed). */
static int parse_hex(const char *text, size_t len, uint8_t *out, size_t n)
{
    while (len > 0 && isspace((unsigned char)text[len - 1]))
        len--;
    if (len != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int hi = hex_value(text[2 * i]), lo = hex_value(text[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

static int set_key_hex(const char *value)
{
    char *text = NULL;
    if (nbdkit_read_password(value, &text) < 0)
        return -1;
    int rc = parse_hex(text, strlen(text), cfg.key, sizeof(cfg.key));
    memset(text, 0, strlen(text));
    free(text);
    if (rc < 0) {
        nbdkit_error("rshare: key-hex: the key must be %d hex digits", KEY_HEX_DIGITS);
        return -1;
    }
    cfg.have_key = true;
    return 0;
}

/* key-file: 32 raw bytes, or 64 hex digits and optional white space. */
static int set_key_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        nbdkit_error("rshare: key-file %s: %m", path);
        return -1;
    }
    char buf[256];
    size_t len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    int rc = -1;
    if (len == RSHARE_CLUSTER_KEY_BYTES) {
        memcpy(cfg.key, buf, RSHARE_CLUSTER_KEY_BYTES);
        rc = 0;
    } else if (len < sizeof(buf)) {
        rc = parse_hex(buf, len, cfg.key, sizeof(cfg.key));
    }
    memset(buf, 0, sizeof(buf));
    if (rc < 0) {
        nbdkit_error("rshare: key-file %s: want %d raw bytes or %d hex digits", path,
                     RSHARE_CLUSTER_KEY_BYTES, KEY_HEX_DIGITS);
        return -1;
    }
    cfg.have_key = true;
    return 0;
}

/* One resource: HOST.NUMBER (decimal) or 16 hex digits. */
static int parse_resource(const char *text, uint64_t *id)
{
    uint8_t raw[8];
    if (strlen(text) == 16 && parse_hex(text, 16, raw, 8) == 0) {
        uint64_t v = 0;
        for (int i = 0; i < 8; i++)
            v = v << 8 | raw[i];
        *id = v;
        return v >> 32 ? 0 : -1;
    }
    char *end;
    errno = 0;
    unsigned long long host = strtoull(text, &end, 10);
    if (end == text || *end != '.' || errno || host == 0 || host > 0xFFFFFFFEull ||
        !isdigit((unsigned char)end[1]))
        return -1;
    const char *num = end + 1;
    unsigned long long number = strtoull(num, &end, 10);
    if (*end || errno || number == 0 || number > 0xFFFFFFFFull)
        return -1;
    *id = (uint64_t)host << 32 | number;
    return 0;
}

/* A comma-separated list of resources into `out` (at most `max`). */
static int parse_resources(char *list, uint64_t *out, uint32_t max, uint32_t *count,
                           const char *what)
{
    *count = 0;
    char *save = NULL;
    for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (*count == max) {
            nbdkit_error("rshare: define: at most %u %s", max, what);
            return -1;
        }
        if (parse_resource(t, &out[*count]) < 0) {
            nbdkit_error("rshare: define: bad %s '%s': want HOST.NUMBER or 16 hex digits",
                         what, t);
            return -1;
        }
        (*count)++;
    }
    return 0;
}

/* define=LAYOUT:CHUNK:MEMBERS[+SPARES] */
static int set_define(const char *value)
{
    static const struct {
        const char *name;
        uint32_t layout;
    } layouts[] = {{"linear", RSHARE_LAYOUT_LINEAR},
                   {"raid0", RSHARE_LAYOUT_RAID0},
                   {"raid1", RSHARE_LAYOUT_RAID1},
                   {"raid5", RSHARE_LAYOUT_RAID5},
                   {"raid10", RSHARE_LAYOUT_RAID10}};
    struct rshare_volume_desc *d = &cfg.define;
    rshare_volume_desc_init(d, sizeof(*d));
    char *copy = strdup(value);
    if (!copy) {
        nbdkit_error("rshare: out of memory");
        return -1;
    }
    int rc = -1;
    char *chunk = strchr(copy, ':');
    char *members = chunk ? strchr(chunk + 1, ':') : NULL;
    if (!members) {
        nbdkit_error("rshare: define=%s: want LAYOUT:CHUNK:MEMBERS[+SPARES]", value);
        goto out;
    }
    *chunk++ = '\0';
    *members++ = '\0';
    for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++)
        if (strcmp(copy, layouts[i].name) == 0)
            d->layout = layouts[i].layout;
    if (!d->layout) {
        nbdkit_error("rshare: define: unknown layout '%s' (linear, raid0, raid1, raid5, raid10)",
                     copy);
        goto out;
    }
    d->algorithm = d->layout == RSHARE_LAYOUT_RAID5 ? RSHARE_RAID5_LEFT_SYMMETRIC : 0;
    int64_t chunk_bytes = 0;
    if (*chunk && (chunk_bytes = nbdkit_parse_size(chunk)) < 0)
        goto out; /* nbdkit said why */
    bool striped = d->layout == RSHARE_LAYOUT_RAID0 || d->layout == RSHARE_LAYOUT_RAID5 ||
                   d->layout == RSHARE_LAYOUT_RAID10;
    if (striped && (chunk_bytes < 4096 || chunk_bytes > 32 * 1024 * 1024 ||
                    (chunk_bytes & (chunk_bytes - 1)))) {
        nbdkit_error("rshare: define: %s needs a chunk size that is a power of two from 4K "
                     "to 32M", copy);
        goto out;
    }
    d->chunk_sectors = striped ? (uint32_t)(chunk_bytes / 512) : 0;
    char *spares = strchr(members, '+');
    if (spares)
        *spares++ = '\0';
    if (parse_resources(members, d->members, RSHARE_VOLUME_MEMBERS_MAX, &d->member_count,
                        "member") < 0 ||
        (spares && parse_resources(spares, d->spares, RSHARE_VOLUME_SPARES_MAX,
                                   &d->spare_count, "spare") < 0))
        goto out;
    if (d->member_count == 0) {
        nbdkit_error("rshare: define: no members");
        goto out;
    }
    cfg.have_define = true;
    rc = 0;
out:
    free(copy);
    return rc;
}

static int parse_u32(const char *key, const char *value, uint32_t min, uint32_t max,
                     uint32_t *out)
{
    uint32_t v;
    if (nbdkit_parse_uint32_t(key, value, &v) < 0)
        return -1;
    if (v < min || v > max) {
        nbdkit_error("rshare: %s must be from %" PRIu32 " to %" PRIu32, key, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

static int set_string(char **field, const char *value)
{
    free(*field);
    *field = strdup(value);
    if (!*field) {
        nbdkit_error("rshare: out of memory");
        return -1;
    }
    return 0;
}

/* --- .config, .config_complete ----------------------------------------------------------- */

static int rshare_config(const char *key, const char *value)
{
    uint32_t v;
    int b;
    if (strcmp(key, "volume") == 0) {
        if (!*value || strlen(value) >= RSHARE_VOLUME_NAME_MAX) {
            nbdkit_error("rshare: volume: 1 to %d bytes", RSHARE_VOLUME_NAME_MAX - 1);
            return -1;
        }
        return set_string(&cfg.volume, value);
    }
    if (strcmp(key, "id") == 0)
        return parse_u32(key, value, 1, 0xFFFFFFFEu, &cfg.id);
    if (strcmp(key, "slot") == 0) {
        if (parse_u32(key, value, 0, 0xFFFF, &v) < 0)
            return -1;
        cfg.slot = (uint16_t)v;
        return 0;
    }
    if (strcmp(key, "listen") == 0)
        return set_string(&cfg.listen, value);
    if (strcmp(key, "peer") == 0) {
        const char *at = strchr(value, '@');
        if (!at || at == value || !at[1] || cfg.peer_count == MAX_PEERS) {
            nbdkit_error("rshare: peer=%s: want ID@ADDR (at most %d peers)", value, MAX_PEERS);
            return -1;
        }
        char id_text[16];
        size_t n = (size_t)(at - value);
        if (n >= sizeof(id_text)) {
            nbdkit_error("rshare: peer=%s: bad node id", value);
            return -1;
        }
        memcpy(id_text, value, n);
        id_text[n] = '\0';
        struct peer *p = &cfg.peers[cfg.peer_count];
        if (parse_u32("peer", id_text, 1, 0xFFFFFFFEu, &p->id) < 0 ||
            set_string(&p->addr, at + 1) < 0)
            return -1;
        cfg.peer_count++;
        return 0;
    }
    if (strcmp(key, "state") == 0) {
        free(cfg.state_dir);
        cfg.state_dir = nbdkit_absolute_path(value); /* nbdkit may chdir("/") */
        return cfg.state_dir ? 0 : -1;
    }
    if (strcmp(key, "key-hex") == 0)
        return set_key_hex(value);
    if (strcmp(key, "key-file") == 0)
        return set_key_file(value);
    if (strcmp(key, "define") == 0)
        return set_define(value);
    if (strcmp(key, "timeout") == 0)
        return parse_u32(key, value, 0, 86400, &v) < 0 ? -1 : (cfg.timeout_s = v, 0);
    if (strcmp(key, "eligible") == 0) {
        if ((b = nbdkit_parse_bool(value)) < 0)
            return -1;
        cfg.eligible = b;
        return 0;
    }
    if (strcmp(key, "force") == 0) {
        if ((b = nbdkit_parse_bool(value)) < 0)
            return -1;
        cfg.force = b;
        return 0;
    }
    if (strcmp(key, "voters") == 0) {
        char *copy = strdup(value), *save = NULL;
        if (!copy)
            return -1;
        cfg.voter_count = 0;
        int rc = 0;
        for (char *t = strtok_r(copy, ",", &save); t && rc == 0; t = strtok_r(NULL, ",", &save)) {
            if (cfg.voter_count == MAX_VOTERS) {
                nbdkit_error("rshare: voters: at most %d", MAX_VOTERS);
                rc = -1;
            } else {
                rc = parse_u32("voters", t, 1, 0xFFFFFFFEu, &cfg.voters[cfg.voter_count++]);
            }
        }
        free(copy);
        return rc;
    }
    if (strcmp(key, "hello-ms") == 0)
        return parse_u32(key, value, 0, 3600000, &cfg.hello_ms);
    if (strcmp(key, "member-timeout-ms") == 0)
        return parse_u32(key, value, 0, 3600000, &cfg.member_timeout_ms);
    if (strcmp(key, "election-ms") == 0)
        return parse_u32(key, value, 0, 3600000, &cfg.election_ms);
    if (strcmp(key, "heartbeat-ms") == 0)
        return parse_u32(key, value, 0, 3600000, &cfg.heartbeat_ms);
    if (strcmp(key, "request-timeout-ms") == 0)
        return parse_u32(key, value, 0, 3600000, &cfg.request_timeout_ms);
    if (strcmp(key, "retry-budget") == 0)
        return parse_u32(key, value, 0, 1000, &cfg.retry_budget);
    if (strcmp(key, "mtu") == 0)
        return parse_u32(key, value, 0, 65507, &cfg.mtu);
    if (strcmp(key, "inflight") == 0)
        return parse_u32(key, value, 1, 256, &cfg.inflight);
    if (strcmp(key, "log") == 0) {
        static const char *const names[] = {"error", "warning", "info", "debug"};
        for (int i = 0; i < 4; i++)
            if (strcmp(value, names[i]) == 0) {
                cfg.log_level = (enum rshare_log_level)(RSHARE_LOG_ERROR + i);
                return 0;
            }
        nbdkit_error("rshare: log: error, warning, info or debug");
        return -1;
    }
    nbdkit_error("rshare: unknown parameter '%s' (see nbdkit rshare --help)", key);
    return -1;
}

static int rshare_config_complete(void)
{
    if (!cfg.volume || !cfg.id || !cfg.listen) {
        nbdkit_error("rshare: volume, id and listen are required");
        return -1;
    }
    if (cfg.eligible && !cfg.state_dir) {
        nbdkit_error("rshare: eligible=true needs state=DIR (votes and the map are kept there)");
        return -1;
    }
    for (unsigned i = 0; i < cfg.voter_count; i++)
        if (cfg.voters[i] == cfg.id && !cfg.eligible) {
            nbdkit_error("rshare: node %" PRIu32 " is listed in voters but not eligible",
                         cfg.id);
            return -1;
        }
    if (cfg.have_define)
        snprintf(cfg.define.name, sizeof(cfg.define.name), "%s", cfg.volume);
    return 0;
}

#define RSHARE_CONFIG_HELP                                                                  \
    "volume=NAME           (required) the volume to export\n"                             \
    "id=N                  (required) this node's id, unique in the cluster\n"            \
    "listen=ADDR           (required) UDP address to bind, e.g. 0.0.0.0:7219\n"           \
    "peer=ID@ADDR          a node to greet first (repeatable)\n"                          \
    "state=DIR             persistent state (required with eligible=true)\n"              \
    "key-hex=HEX|-|+FILE   the 32-byte cluster key as 64 hex digits\n"                    \
    "key-file=FILE         the key: 32 raw bytes or 64 hex digits\n"                      \
    "define=LAYOUT:CHUNK:MEMBERS[+SPARES]\n"                                              \
    "                      define the volume when missing, e.g. raid5:64K:1.1,2.1,3.1\n"  \
    "timeout=SECONDS       wait this long for the volume to appear (default 60)\n"        \
    "eligible=BOOL         take part in consensus on the map (default false)\n"           \
    "voters=ID,...         the voters of a new map (same list on every node)\n"           \
    "slot=S                chassis slot\n"                                                \
    "hello-ms= member-timeout-ms= election-ms= heartbeat-ms=   cluster timing\n"          \
    "request-timeout-ms=MS retry-budget=N mtu=BYTES inflight=N force=BOOL log=LEVEL"

/* --- the node's loop between requests -------------------------------------------------- */

/* Completion of a request, on the loop thread. */
static void request_done(rshare_volume *vol, int status, void *ud)
{
    (void)vol;
    struct request *r = ud;
    inflight--;
    if (status < 0)
        snprintf(r->detail, sizeof(r->detail), "%s", rshare_node_errmsg(node));
    pthread_mutex_lock(&lock);
    r->status = status;
    r->done = true;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&lock);
}

/* Start queued requests, up to cfg.inflight on the volume (the loop
 * thread); true when some are left waiting for a slot. */
static bool start_queued(void)
{
    while (inflight < cfg.inflight) {
        pthread_mutex_lock(&lock);
        struct request *r = queue_head;
        if (r && !(queue_head = r->next))
            queue_tail = &queue_head;
        pthread_mutex_unlock(&lock);
        if (!r)
            return false;
        if (++inflight > inflight_peak)
            inflight_peak = inflight;
        requests_started++;
        int rc;
        switch (r->op) {
        case OP_READ:
            rc = rshare_volume_read(volume, r->offset, r->buf, r->len, request_done, r);
            break;
        case OP_WRITE:
            rc = rshare_volume_write(volume, r->offset, r->buf, r->len, request_done, r);
            break;
        case OP_DISCARD:
            rc = rshare_volume_discard(volume, r->offset, r->len, request_done, r);
            break;
        default:
            rc = rshare_volume_flush(volume, request_done, r);
            break;
        }
        if (rc < 0)
            request_done(volume, rc, r);
    }
    pthread_mutex_lock(&lock);
    bool left = queue_head != NULL;
    pthread_mutex_unlock(&lock);
    return left;
}

/* The loop thread: start what nbdkit's threads queued, run the node's loop
 * (completions wake those threads), and wait for the node's descriptor,
 * its next timer or the eventfd; at most KEEPER_MAX_WAIT_MS, to look at
 * `stopping`. */
static void *keeper_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&stopping)) {
        bool waiting = start_queued();
        int rc = rshare_node_process(node);
        if (rc < 0)
            nbdkit_debug("rshare: node loop: %s", rshare_strerror(rc));
        pthread_mutex_lock(&lock);
        bool more = queue_head != NULL && !waiting; /* queued meanwhile, with slots free */
        pthread_mutex_unlock(&lock);
        if (more || (waiting && inflight < cfg.inflight))
            continue;
        int wait_ms = rshare_node_timeout_ms(node);
        if (wait_ms < 0 || wait_ms > KEEPER_MAX_WAIT_MS)
            wait_ms = KEEPER_MAX_WAIT_MS;
        struct pollfd fds[2] = {{.fd = rshare_node_fd(node), .events = POLLIN},
                                {.fd = wake_fd, .events = POLLIN}};
        if (poll(fds, 2, wait_ms) < 0 && errno != EINTR)
            nbdkit_debug("rshare: loop thread poll: %m");
        uint64_t count;
        if ((fds[1].revents & POLLIN) && read(wake_fd, &count, sizeof(count)) < 0)
            nbdkit_debug("rshare: loop thread eventfd: %m");
    }
    return NULL;
}

/* Hand one volume call to the loop thread and wait for its status. */
static int call_volume(enum op op, uint8_t *buf, uint64_t offset, size_t len)
{
    struct request r = {.op = op, .buf = buf, .offset = offset, .len = len};
    pthread_cond_init(&r.cond, NULL);
    pthread_mutex_lock(&lock);
    *queue_tail = &r;
    queue_tail = &r.next;
    pthread_mutex_unlock(&lock);
    uint64_t one = 1;
    if (write(wake_fd, &one, sizeof(one)) < 0)
        nbdkit_debug("rshare: waking the loop thread: %m"); /* it looks within 200 ms */
    pthread_mutex_lock(&lock);
    while (!r.done)
        pthread_cond_wait(&r.cond, &lock);
    pthread_mutex_unlock(&lock);
    pthread_cond_destroy(&r.cond);
    if (r.status < 0)
        memcpy(io_detail, r.detail, sizeof(io_detail));
    return r.status;
}

static int keeper_start(void)
{
    if (keeper_started)
        return 0;
    wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd < 0) {
        nbdkit_error("rshare: eventfd: %m");
        return -1;
    }
    int err = pthread_create(&keeper, NULL, keeper_main, NULL);
    if (err) {
        errno = err;
        nbdkit_error("rshare: cannot start the loop thread: %m");
        close(wake_fd);
        wake_fd = -1;
        return -1;
    }
    keeper_started = true;
    return 0;
}

static void keeper_stop(void)
{
    if (!keeper_started)
        return;
    atomic_store(&stopping, true);
    uint64_t one = 1;
    if (write(wake_fd, &one, sizeof(one)) < 0)
        nbdkit_debug("rshare: waking the loop thread: %m"); /* it looks within 200 ms */
    pthread_join(keeper, NULL);
    close(wake_fd);
    wake_fd = -1;
    keeper_started = false;
}

/* --- start-up: join, wait for the volume, open it ---------------------------------------- */

static struct {
    bool pending, done;
    int status;
    char reason[256];
} definition;

static void defined(rshare_node *n, int status, void *user_data)
{
    (void)user_data;
    definition.pending = false;
    definition.done = true;
    definition.status = status;
    snprintf(definition.reason, sizeof(definition.reason), "%s",
             status < 0 ? rshare_node_errmsg(n) : "");
}

/* The volume's definition in this node's map: 1 found, 0 not, < 0 error. */
static int find_volume(struct rshare_volume_desc *out)
{
    size_t count = 0;
    int rc = rshare_volume_list(node, NULL, 0, sizeof(*out), &count);
    if (rc < 0 || count == 0)
        return rc;
    struct rshare_volume_desc *list = calloc(count, sizeof(*list));
    if (!list)
        return RSHARE_ENOMEM;
    int found = 0;
    rc = rshare_volume_list(node, list, count, sizeof(*list), &count);
    for (size_t i = 0; rc == 0 && i < count && !found; i++)
        if (strcmp(list[i].name, cfg.volume) == 0) {
            *out = list[i];
            found = 1;
        }
    free(list);
    return rc < 0 ? rc : found;
}

/* Every member and spare of define= is in this node's map. */
static bool members_known(void)
{
    size_t count = 0;
    if (rshare_resource_list(node, 0, NULL, 0, sizeof(struct rshare_resource_desc), &count) < 0 ||
        count == 0)
        return false;
    struct rshare_resource_desc *list = calloc(count, sizeof(*list));
    if (!list)
        return false;
    bool all = rshare_resource_list(node, 0, list, count, sizeof(*list), &count) == 0;
    const struct rshare_volume_desc *d = &cfg.define;
    for (uint32_t k = 0; all && k < d->member_count + d->spare_count; k++) {
        uint64_t id = k < d->member_count ? d->members[k] : d->spares[k - d->member_count];
        bool seen = false;
        for (size_t i = 0; i < count && !seen; i++)
            seen = list[i].id == id && list[i].kind == RSHARE_RESOURCE_BLOCK;
        all = seen;
    }
    free(list);
    return all;
}

/* Run the node until the map holds the volume (defining it if asked to
 * and it is missing), at most cfg.timeout_s seconds. */
static int wait_for_volume(struct rshare_volume_desc *desc)
{
    uint64_t now = rshare_node_now_us(node);
    uint64_t deadline = now + (uint64_t)cfg.timeout_s * 1000000u, next_define = now;
    for (;;) {
        int rc = find_volume(desc);
        if (rc > 0)
            return 0;
        if (rc < 0) {
            report("cannot list the volumes", rc);
            return -1;
        }
        now = rshare_node_now_us(node);
        if (now >= deadline)
            break;
        if (cfg.have_define && !definition.pending && now >= next_define &&
            rshare_cluster_manager(node) != 0 && members_known()) {
            nbdkit_debug("rshare: defining volume %s", cfg.volume);
            definition.done = false;
            rc = rshare_volume_define(node, &cfg.define, defined, NULL);
            if (rc < 0) {
                definition.done = true;
                definition.status = rc;
                snprintf(definition.reason, sizeof(definition.reason), "%s",
                         rshare_node_errmsg(node));
            } else {
                definition.pending = true;
            }
        }
        if (definition.done && definition.status < 0 && !definition.pending &&
            now >= next_define) {
            /* Perhaps another node defined it meanwhile: look again, and try
             * again a second later. */
            nbdkit_debug("rshare: defining %s failed: %s: %s", cfg.volume,
                         rshare_strerror(definition.status), definition.reason);
            next_define = now + 1000000u;
        }
        if ((rc = rshare_node_run(node, 100)) < 0)
            nbdkit_debug("rshare: node loop: %s", rshare_strerror(rc));
    }
    uint32_t manager = rshare_cluster_manager(node);
    if (cfg.have_define && definition.done && definition.status < 0)
        nbdkit_error("rshare: volume %s was not defined within %u s: %s (%s)%s%s", cfg.volume,
                     cfg.timeout_s, rshare_strerror(definition.status),
                     rshare_err_name(definition.status), *definition.reason ? ": " : "",
                     definition.reason);
    else if (!manager)
        nbdkit_error("rshare: no volume %s within %u s: no manager was found (check peer=, "
                     "listen=, the key and the other nodes)", cfg.volume, cfg.timeout_s);
    else if (cfg.have_define && !members_known())
        nbdkit_error("rshare: volume %s was not defined within %u s: not every member in "
                     "define= is a block resource in the map", cfg.volume, cfg.timeout_s);
    else
        nbdkit_error("rshare: no volume %s in the map within %u s (manager: node %" PRIu32
                     "; define= defines it)", cfg.volume, cfg.timeout_s, manager);
    return -1;
}

static const char *layout_name(uint32_t layout)
{
    switch (layout) {
    case RSHARE_LAYOUT_LINEAR: return "linear";
    case RSHARE_LAYOUT_RAID0: return "raid0";
    case RSHARE_LAYOUT_RAID1: return "raid1";
    case RSHARE_LAYOUT_RAID5: return "raid5";
    case RSHARE_LAYOUT_RAID10: return "raid10";
    default: return "unknown";
    }
}

/* The preferred I/O size: for RAID-5 a full stripe when it is a power of
 * two (no read-modify-write), else the chunk; 4 KiB otherwise.  Always a
 * power of two from 512 bytes to 32 MiB and at least the block size, as
 * the NBD protocol wants. */
static uint32_t preferred_size(const struct rshare_volume_desc *d)
{
    uint64_t chunk = (uint64_t)d->chunk_sectors * 512u, p = 4096;
    if (d->layout == RSHARE_LAYOUT_RAID5 && chunk && d->member_count > 1) {
        uint64_t stripe = chunk * (d->member_count - 1);
        p = (stripe & (stripe - 1)) == 0 ? stripe : chunk;
    } else if ((d->layout == RSHARE_LAYOUT_RAID0 || d->layout == RSHARE_LAYOUT_RAID10) &&
               chunk) {
        p = chunk;
    }
    if (p > PIECE_BYTES)
        p = PIECE_BYTES;
    while (p < block_size || p < 512)
        p <<= 1;
    return (uint32_t)p;
}

/* Everything that can fail with a clear message happens here, before
 * nbdkit forks to daemonise: create the node, join, wait, open. */
static int rshare_get_ready(void)
{
    pthread_rwlockattr_t rwa;
    pthread_rwlockattr_init(&rwa);
    pthread_rwlockattr_setkind_np(&rwa, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&rmw, &rwa);
    pthread_rwlockattr_destroy(&rwa);
    if (cfg.state_dir && mkdir(cfg.state_dir, 0700) < 0 && errno != EEXIST) {
        nbdkit_error("rshare: cannot create %s: %m", cfg.state_dir);
        return -1;
    }
    struct rshare_node_config nc;
    rshare_node_config_init(&nc, sizeof(nc));
    nc.node_id = cfg.id;
    nc.slot = cfg.slot;
    nc.state_dir = cfg.state_dir;
    nc.cluster_key = cfg.have_key ? cfg.key : NULL; /* copied */
    nc.request_timeout_ms = cfg.request_timeout_ms;
    nc.log = (struct rshare_log){log_line, NULL, cfg.log_level};
    int rc = rshare_node_create(&nc, &node);
    if (rc < 0) {
        report("cannot create the node", rc);
        return -1;
    }

    struct rshare_udp_config udp;
    rshare_udp_config_init(&udp, sizeof(udp));
    udp.bind_address = cfg.listen;
    udp.mtu = cfg.mtu;
    int transport = rc = rshare_node_add_udp(node, &udp);
    if (rc < 0) {
        report("cannot open the UDP transport", rc);
        return -1;
    }
    char bound[96] = "?";
    rshare_udp_local_address(node, transport, bound, sizeof(bound));
    for (unsigned i = 0; i < cfg.peer_count; i++) {
        if ((rc = rshare_node_add_peer(node, cfg.peers[i].id, transport, cfg.peers[i].addr)) <
            0) {
            report("bad peer", rc);
            return -1;
        }
    }

    struct rshare_cluster_config cc;
    rshare_cluster_config_init(&cc, sizeof(cc));
    cc.manager_eligible = cfg.eligible;
    cc.initial_voters = cfg.voter_count ? cfg.voters : NULL;
    cc.initial_voter_count = cfg.voter_count;
    cc.hello_interval_ms = cfg.hello_ms;
    cc.member_timeout_ms = cfg.member_timeout_ms;
    cc.election_timeout_ms = cfg.election_ms;
    cc.heartbeat_ms = cfg.heartbeat_ms;
    cc.capabilities = RSHARE_CAP_VOLUMES;
    if ((rc = rshare_cluster_join(node, &cc)) < 0) {
        report("cannot join the cluster", rc);
        return -1;
    }
    nbdkit_debug("rshare: node %" PRIu32 " on %s, waiting up to %u s for volume %s", cfg.id,
                 bound, cfg.timeout_s, cfg.volume);

    struct rshare_volume_desc desc;
    rshare_volume_desc_init(&desc, sizeof(desc));
    if (wait_for_volume(&desc) < 0)
        return -1;

    struct rshare_volume_config vc;
    rshare_volume_config_init(&vc, sizeof(vc));
    vc.retry_budget = cfg.retry_budget;
    vc.flags = cfg.force ? RSHARE_VOLUME_OPEN_FORCE : 0;
    if ((rc = rshare_volume_open(node, cfg.volume, &vc, &volume)) < 0) {
        report("cannot open the volume", rc);
        if (rc == RSHARE_EBUSY)
            nbdkit_error("rshare: force=true opens it anyway (dirty regions may be wrong)");
        return -1;
    }
    volume_bytes = rshare_volume_size(volume);
    block_size = rshare_volume_block_size(volume);
    if (block_size == 0 || (block_size & (block_size - 1)) || block_size > 65536) {
        nbdkit_error("rshare: volume %s has a block size of %" PRIu32 " bytes: not servable",
                     cfg.volume, block_size);
        return -1;
    }
    bounce = malloc(block_size);
    if (!bounce) {
        nbdkit_error("rshare: out of memory");
        return -1;
    }
    preferred = preferred_size(&desc);
    can_discard = desc.layout == RSHARE_LAYOUT_LINEAR || desc.layout == RSHARE_LAYOUT_RAID0;
    snprintf(description, sizeof(description), "rshare volume %s (%s, %" PRIu32 " members)",
             cfg.volume, layout_name(desc.layout), desc.member_count);
    nbdkit_debug("rshare: serving %s: %" PRIu64 " bytes, blocks of %" PRIu32, description,
                 rshare_volume_size(volume), block_size);
    return 0;
}

#if HAVE_NBDKIT(26)
/* After nbdkit's fork (daemon or --run): only now may threads start. */
static int rshare_after_fork(void)
{
    return keeper_start();
}
#endif

static void shut_down(void)
{
    keeper_stop();
    if (requests_started)
        nbdkit_debug("rshare: %" PRIu64 " volume requests, at most %" PRIu32 " in flight at once",
                     requests_started, inflight_peak);
    requests_started = 0;
    if (volume) {
        int rc = rshare_volume_flush_sync(volume);
        if (rc < 0)
            report("final flush", rc);
        rshare_volume_close(volume); /* marks it clean when it is in sync */
        volume = NULL;
    }
    rshare_node_destroy(node);
    node = NULL;
}

static void rshare_unload(void)
{
    shut_down(); /* nothing left when .cleanup ran */
    free(bounce);
    free(cfg.listen);
    free(cfg.state_dir);
    free(cfg.volume);
    for (unsigned i = 0; i < cfg.peer_count; i++)
        free(cfg.peers[i].addr);
    memset(cfg.key, 0, sizeof(cfg.key));
}

static void rshare_dump_plugin(void)
{
    printf("rshare_version=%s\n", rshare_version_string());
    printf("rshare_thread_model=parallel+loop_thread\n");
}

/* --- connections and requests ------------------------------------------------------------ */

static void *rshare_open(int readonly)
{
    (void)readonly; /* nbdkit refuses writes itself (can_write is asked after -r) */
#if !HAVE_NBDKIT(26)
    /* No .after_fork: start the loop thread with the first connection. */
    pthread_mutex_lock(&lock);
    int rc = keeper_start();
    pthread_mutex_unlock(&lock);
    if (rc < 0)
        return NULL;
#endif
    return NBDKIT_HANDLE_NOT_NEEDED;
}

static int64_t rshare_get_size(void *handle)
{
    (void)handle;
    return (int64_t)volume_bytes;
}

static const char *rshare_export_description(void *handle)
{
    (void)handle;
    return description;
}

#if HAVE_NBDKIT(30)
static int rshare_block_size(void *handle, uint32_t *minimum, uint32_t *pref, uint32_t *maximum)
{
    (void)handle;
    *minimum = block_size;
    *pref = preferred;
    *maximum = PIECE_BYTES;
    return 0;
}
#endif

static int rshare_can_write(void *handle)
{
    (void)handle;
    return 1;
}

static int rshare_can_flush(void *handle)
{
    (void)handle;
    return 1;
}

/* FUA: nbdkit follows the write with a flush. */
static int rshare_can_fua(void *handle)
{
    (void)handle;
    return NBDKIT_FUA_EMULATE;
}

/* Trim where the layout allows it: linear and RAID-0 volumes pass
 * discards to their members (rshare_volume_discard); volumes with copies
 * or parity do not, so nbdkit does not advertise trim for them. */
static int rshare_can_trim(void *handle)
{
    (void)handle;
    return can_discard;
}

/* Connections share one volume on one node, and a volume flush covers
 * every write completed before it, so multi-conn would be correct; it is
 * not offered because it measured slower (doc/PERFORMANCE.md, "nbdcopy
 * through the nbdkit plugin"): nbdcopy's four connections add thread
 * hand-offs to the one loop thread and no parallelism it can use. */
static int rshare_can_multi_conn(void *handle)
{
    (void)handle;
    return 0;
}

static int rshare_is_rotational(void *handle)
{
    (void)handle;
    return 0;
}

static int fail_io(const char *what, uint64_t offset, uint32_t count, int rc)
{
    char text[96];
    snprintf(text, sizeof(text), "%s of %" PRIu32 " bytes at %" PRIu64, what, count, offset);
    report_detail(text, rc, io_detail);
    nbdkit_set_error(to_errno(rc));
    return -1;
}

/* Whole blocks: pieces of at most PIECE_BYTES. */
static int aligned_io(enum op op, uint8_t *buf, uint64_t offset, size_t len)
{
    while (len > 0) {
        size_t n = len < PIECE_BYTES ? len : PIECE_BYTES;
        int rc = call_volume(op, buf, offset, n);
        if (rc < 0)
            return rc;
        buf += n;
        offset += n;
        len -= n;
    }
    return 0;
}

/* Any range.  Whole blocks go straight to the volume, many requests at
 * once.  A partial block at either end is read whole into the bounce
 * buffer (and for a write, modified and written back); such a request
 * runs alone (`rmw` held for writing), so that nothing else writes that
 * block meanwhile.  Clients are told the minimum block size but need not
 * obey it. */
static int do_io(enum op op, uint8_t *buf, uint32_t count, uint64_t offset)
{
    bool partial = offset % block_size != 0 || count % block_size != 0;
    if (!partial) {
        pthread_rwlock_rdlock(&rmw);
        int rc = aligned_io(op, buf, offset, count);
        pthread_rwlock_unlock(&rmw);
        return rc < 0 ? fail_io(op == OP_READ ? "read" : "write", offset, count, rc) : 0;
    }
    uint64_t pos = offset;
    uint32_t left = count;
    int rc = 0;
    pthread_rwlock_wrlock(&rmw);
    while (left > 0 && rc == 0) {
        uint32_t in_block = (uint32_t)(pos % block_size);
        uint32_t n;
        if (in_block != 0 || left < block_size) {
            n = block_size - in_block < left ? block_size - in_block : left;
            uint64_t start = pos - in_block;
            rc = call_volume(OP_READ, bounce, start, block_size);
            if (rc == 0 && op == OP_READ) {
                memcpy(buf, bounce + in_block, n);
            } else if (rc == 0) {
                memcpy(bounce + in_block, buf, n);
                rc = call_volume(OP_WRITE, bounce, start, block_size);
            }
        } else {
            n = left - left % block_size;
            rc = aligned_io(op, buf, pos, n);
        }
        buf += n;
        pos += n;
        left -= n;
    }
    pthread_rwlock_unlock(&rmw);
    return rc < 0 ? fail_io(op == OP_READ ? "read" : "write", offset, count, rc) : 0;
}

static int rshare_pread(void *handle, void *buf, uint32_t count, uint64_t offset, uint32_t flags)
{
    (void)handle;
    (void)flags;
    return do_io(OP_READ, buf, count, offset);
}

static int rshare_pwrite(void *handle, const void *buf, uint32_t count, uint64_t offset,
                         uint32_t flags)
{
    (void)handle;
    (void)flags; /* FUA is emulated by nbdkit with .flush */
    return do_io(OP_WRITE, (uint8_t *)(uintptr_t)buf, count, offset);
}

/* Trim is advisory: the whole blocks inside the range are discarded, in
 * pieces of at most PIECE_BYTES; the partial blocks at its ends keep their
 * data. */
static int rshare_trim(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    (void)handle;
    (void)flags; /* FUA is emulated by nbdkit with .flush */
    uint64_t start = (offset + block_size - 1) / block_size * block_size;
    uint64_t end = (offset + count) / block_size * block_size;
    pthread_rwlock_rdlock(&rmw);
    int rc = 0;
    while (rc == 0 && start < end) {
        size_t n = end - start < PIECE_BYTES ? (size_t)(end - start) : PIECE_BYTES;
        rc = call_volume(OP_DISCARD, NULL, start, n);
        start += n;
    }
    pthread_rwlock_unlock(&rmw);
    return rc < 0 ? fail_io("trim", offset, count, rc) : 0;
}

static int rshare_flush(void *handle, uint32_t flags)
{
    (void)handle;
    (void)flags;
    pthread_rwlock_rdlock(&rmw);
    int rc = call_volume(OP_FLUSH, NULL, 0, 0);
    pthread_rwlock_unlock(&rmw);
    if (rc < 0) {
        report_detail("flush", rc, io_detail);
        nbdkit_set_error(to_errno(rc));
        return -1;
    }
    return 0;
}

static struct nbdkit_plugin plugin = {
    .name = "rshare",
    .longname = "rshare volume",
    .version = PACKAGE_VERSION,
    .description = "Export an rshare virtual volume (disks of many nodes served as one)",
    .magic_config_key = "volume",
    .config = rshare_config,
    .config_complete = rshare_config_complete,
    .config_help = RSHARE_CONFIG_HELP,
    .get_ready = rshare_get_ready,
#if HAVE_NBDKIT(26)
    .after_fork = rshare_after_fork,
#endif
#if HAVE_NBDKIT(28)
    .cleanup = shut_down,
#endif
    .unload = rshare_unload,
    .dump_plugin = rshare_dump_plugin,
    .open = rshare_open,
    .get_size = rshare_get_size,
    .export_description = rshare_export_description,
#if HAVE_NBDKIT(30)
    .block_size = rshare_block_size,
#endif
    .can_write = rshare_can_write,
    .can_flush = rshare_can_flush,
    .can_fua = rshare_can_fua,
    .can_trim = rshare_can_trim,
    .can_multi_conn = rshare_can_multi_conn,
    .is_rotational = rshare_is_rotational,
    .pread = rshare_pread,
    .pwrite = rshare_pwrite,
    .flush = rshare_flush,
    .trim = rshare_trim,
    .errno_is_preserved = 0,
};

/* NBDKIT_REGISTER_PLUGIN defines this; declared first for -Wmissing-prototypes. */
NBDKIT_DLL_PUBLIC struct nbdkit_plugin *plugin_init(void);
NBDKIT_REGISTER_PLUGIN(plugin)
