/* udp_floor — the volume benchmark's bytes moved over UDP loopback with the
 * least possible work (see udp_floor.h for what is and is not done). */
#define _GNU_SOURCE
#include "udp_floor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"

#define PROCS 5   /* four members and the spare */
#define MEMBERS 4 /* RAID-5, left-symmetric */
#define SPARE 4
#define P UDP_FLOOR_DATAGRAM
#define BATCH 16u               /* datagrams per sendmmsg / recvmmsg */
#define WINDOW (32u * P)        /* bytes a sender may have unacknowledged */
#define RING (2u * WINDOW)      /* a receiver's buffer */
#define ACK_BYTES (16u * P)     /* a receiver acknowledges this often */
#define MAX_IOV (P / 512u + 2u) /* pieces of one datagram (chunks of 512 bytes or more) */
#define STALL_S 10              /* no datagram for this long: one was lost */

enum { OP_SINK = 1, OP_SOURCE, OP_REBUILD };

struct command {
    uint32_t op;
    uint32_t skip_parity; /* OP_SOURCE: stream only this member's data chunks */
    uint16_t port;        /* OP_SOURCE: where to (127.0.0.1) */
    uint64_t bytes;       /* OP_SINK, OP_REBUILD: the stream's length (each) */
};

struct ports {
    uint16_t cmd, in[3];
};

struct udp_floor {
    pid_t pids[PROCS];
    struct ports ports[PROCS];
    char files[PROCS][512];
    int ctl;            /* commands out, "done" in */
    int data[MEMBERS];  /* write: one stream to each member; read: one from each */
    uint64_t member_bytes;
    uint32_t chunk;
};

static pid_t parent;

/* die() in the benchmark; in a child, the message and _exit (exit() would
 * run the benchmark's atexit handlers, which remove its directory). */
static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (getpid() == parent)
        die("UDP floor: %s", msg);
    fprintf(stderr, "bench: UDP floor process: %s\n", msg);
    _exit(1);
}

static int udp_socket(uint16_t *port, bool timeout)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int size = 4 << 20;
    struct timeval tv = {.tv_sec = STALL_S};
    if (s < 0 || setsockopt(s, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) < 0 ||
        setsockopt(s, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)) < 0 ||
        (timeout && setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) ||
        bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        getsockname(s, (struct sockaddr *)&a, &len) < 0)
        fail("socket: %s", strerror(errno));
    if (port)
        *port = ntohs(a.sin_port);
    return s;
}

static struct sockaddr_in loopback(uint16_t port)
{
    return (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
}

/* RAID-5 left-symmetric: the member holding row r's parity (data chunk d
 * of the row is on member (parity + 1 + d) % MEMBERS). */
static uint32_t parity_member(uint64_t row)
{
    return MEMBERS - 1 - (uint32_t)(row % MEMBERS);
}

/* --- streams: a sender's window, a receiver's ring --------------------------------------------- */

struct sender {
    int sock;
    struct sockaddr_in dst;
    uint64_t sent, acked, total;
};

/* Take the acknowledgements that have come; wait for one when `wait`. */
static void take_acks(struct sender *s, bool wait)
{
    for (;;) {
        uint64_t v;
        ssize_t n = recv(s->sock, &v, sizeof(v), wait ? 0 : MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && !wait)
            return;
        if (n < 0)
            fail("no acknowledgement for %d s (a datagram was lost?): %s", STALL_S,
                 strerror(errno));
        if (n == (ssize_t)sizeof(v) && v > s->acked)
            s->acked = v;
        wait = false;
    }
}

/* How many whole datagrams the window takes now (waits for one at least). */
static uint32_t room(struct sender *s)
{
    take_acks(s, false);
    while (s->sent + P - s->acked > WINDOW && s->sent < s->total)
        take_acks(s, true);
    return (uint32_t)((WINDOW - (s->sent - s->acked)) / P);
}

static void send_batch(struct sender *s, struct mmsghdr *m, uint32_t n, uint64_t bytes)
{
    for (uint32_t i = 0; i < n; i++) {
        m[i].msg_hdr.msg_name = &s->dst;
        m[i].msg_hdr.msg_namelen = sizeof(s->dst);
    }
    for (uint32_t done = 0; done < n;) {
        int k = sendmmsg(s->sock, m + done, n - done, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            fail("sendmmsg: %s", strerror(errno));
        done += (uint32_t)k;
    }
    s->sent += bytes;
}

static void wait_all_acked(struct sender *s)
{
    while (s->acked < s->total)
        take_acks(s, true);
}

struct receiver {
    int sock;
    uint8_t *ring;
    uint64_t got, consumed, acked_at, total;
    struct sockaddr_in peer;
};

static void receiver_reset(struct receiver *r, uint64_t total)
{
    r->got = r->consumed = r->acked_at = 0;
    r->total = total;
}

/* One recvmmsg into the ring (straight where the bytes stay until used). */
static void receive(struct receiver *r, bool wait)
{
    struct mmsghdr m[BATCH];
    struct iovec iov[BATCH][2];
    uint64_t space = RING - (r->got - r->consumed), at = r->got;
    uint32_t n = 0;
    while (n < BATCH && at < r->total && space >= P) {
        uint64_t len = r->total - at < P ? r->total - at : P, pos = at % RING;
        uint64_t first = RING - pos < len ? RING - pos : len;
        iov[n][0] = (struct iovec){r->ring + pos, first};
        iov[n][1] = (struct iovec){r->ring, len - first};
        memset(&m[n], 0, sizeof(m[n]));
        m[n].msg_hdr.msg_iov = iov[n];
        m[n].msg_hdr.msg_iovlen = first < len ? 2 : 1;
        at += len;
        space -= P;
        n++;
    }
    if (!n)
        return;
    m[0].msg_hdr.msg_name = &r->peer;
    m[0].msg_hdr.msg_namelen = sizeof(r->peer);
    int k = recvmmsg(r->sock, m, n, wait ? MSG_WAITFORONE : MSG_DONTWAIT, NULL);
    if (k < 0 && (errno == EINTR || (!wait && (errno == EAGAIN || errno == EWOULDBLOCK))))
        return;
    if (k < 0)
        fail("no datagram for %d s (one was lost?): %s", STALL_S, strerror(errno));
    for (int i = 0; i < k; i++) {
        uint64_t want = r->total - r->got < P ? r->total - r->got : P;
        if (m[i].msg_len != want)
            fail("a datagram of %u bytes where %llu were due", m[i].msg_len,
                 (unsigned long long)want);
        r->got += want;
    }
}

static void consume(struct receiver *r, uint64_t upto)
{
    r->consumed = upto;
    if (upto - r->acked_at >= ACK_BYTES || upto == r->total) {
        if (sendto(r->sock, &upto, sizeof(upto), 0, (struct sockaddr *)&r->peer,
                   sizeof(r->peer)) < 0)
            fail("acknowledge: %s", strerror(errno));
        r->acked_at = upto;
    }
}

/* --- the five processes -------------------------------------------------------------------- */

struct proc {
    int fd, cmd, in[3], out;
    uint8_t *ring[3], *xor_out;
    uint32_t index, chunk;
    uint64_t member_bytes;
};

static void pwrite_all(int fd, const uint8_t *p, uint64_t len, uint64_t off)
{
    while (len) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n <= 0)
            fail("pwrite: %s", n < 0 ? strerror(errno) : "short");
        p += n, len -= (uint64_t)n, off += (uint64_t)n;
    }
}

/* Write a stream of `bytes` from in[0] at the same offsets of the file. */
static void sink(struct proc *p, uint64_t bytes)
{
    struct receiver r = {.sock = p->in[0], .ring = p->ring[0]};
    receiver_reset(&r, bytes);
    while (r.consumed < r.total) {
        receive(&r, true);
        for (uint64_t at = r.consumed; at < r.got;) {
            uint64_t pos = at % RING, len = r.got - at < RING - pos ? r.got - at : RING - pos;
            pwrite_all(p->fd, r.ring + pos, len, at);
            at += len;
        }
        consume(&r, r.got);
    }
}

/* Stream chunk k of the stream: its row (every row, or only those whose
 * parity is on another member). */
static uint64_t stream_row(uint32_t member, bool skip_parity, uint64_t k)
{
    if (!skip_parity)
        return k;
    /* Of every MEMBERS rows, one holds this member's parity. */
    uint64_t row = k / (MEMBERS - 1) * MEMBERS, left = k % (MEMBERS - 1);
    for (;; row++)
        if (parity_member(row) != member && left-- == 0)
            return row;
}

static uint64_t stream_bytes(uint64_t member_bytes, uint32_t chunk, uint32_t member,
                             bool skip_parity)
{
    uint64_t rows = member_bytes / chunk, mine = 0;
    for (uint64_t r = 0; skip_parity && r < rows; r++)
        mine += parity_member(r) == member;
    return (rows - mine) * chunk;
}

/* pread the stream's chunks into a ring and send them from there. */
static void source(struct proc *p, bool skip_parity, uint16_t port)
{
    struct sender s = {.sock = p->out, .dst = loopback(port),
                       .total = stream_bytes(p->member_bytes, p->chunk, p->index, skip_parity)};
    uint8_t *ring = p->ring[0];
    uint64_t produced = 0;
    while (s.sent < s.total) {
        /* Fill the ring: runs of chunks that follow each other in the file. */
        while (produced < s.total && produced - s.sent < RING) {
            uint64_t k = produced / p->chunk, within = produced % p->chunk;
            uint64_t first = stream_row(p->index, skip_parity, k), row = first;
            uint64_t len = p->chunk - within;
            while (produced + len < s.total && len < (1u << 20) &&
                   stream_row(p->index, skip_parity, k + 1) == row + 1)
                k++, row++, len += p->chunk;
            uint64_t pos = produced % RING, space = RING - (produced - s.sent);
            len = len < space ? len : space;
            len = len < RING - pos ? len : RING - pos;
            uint64_t file_off = first * p->chunk + within;
            ssize_t n = pread(p->fd, ring + pos, len, (off_t)file_off);
            if (n != (ssize_t)len)
                fail("pread: %s", n < 0 ? strerror(errno) : "short");
            produced += len;
            if (produced - s.sent >= (uint64_t)BATCH * P)
                break;
        }
        struct mmsghdr m[BATCH];
        struct iovec iov[BATCH][2];
        uint32_t n = 0, max = room(&s);
        uint64_t at = s.sent;
        while (n < BATCH && n < max && at < produced) {
            uint64_t len = s.total - at < P ? s.total - at : P, pos = at % RING;
            if (at + len > produced)
                break;
            uint64_t first = RING - pos < len ? RING - pos : len;
            iov[n][0] = (struct iovec){ring + pos, first};
            iov[n][1] = (struct iovec){ring, len - first};
            memset(&m[n], 0, sizeof(m[n]));
            m[n].msg_hdr.msg_iov = iov[n];
            m[n].msg_hdr.msg_iovlen = first < len ? 2 : 1;
            at += len;
            n++;
        }
        send_batch(&s, m, n, at - s.sent);
    }
    wait_all_acked(&s);
}

typedef uint64_t vec __attribute__((vector_size(16)));

/* out = a ^ b ^ c, 16 bytes at a time (SSE2 on x86-64 without -march). */
static void xor3(uint8_t *out, const uint8_t *a, const uint8_t *b, const uint8_t *c, size_t len)
{
    size_t i = 0;
    for (; i + 64 <= len; i += 64)
        for (size_t j = i; j < i + 64; j += 16) {
            vec x, y, z;
            memcpy(&x, a + j, 16);
            memcpy(&y, b + j, 16);
            memcpy(&z, c + j, 16);
            x ^= y ^ z;
            memcpy(out + j, &x, 16);
        }
    for (; i < len; i++)
        out[i] = a[i] ^ b[i] ^ c[i];
}

/* Three streams of `bytes` on in[0..2]: XOR them, pwrite the result. */
static void rebuild(struct proc *p, uint64_t bytes)
{
    struct receiver r[3];
    for (int i = 0; i < 3; i++) {
        r[i] = (struct receiver){.sock = p->in[i], .ring = p->ring[i]};
        receiver_reset(&r[i], bytes);
    }
    uint64_t done = 0;
    while (done < bytes) {
        struct pollfd pf[3];
        int map[3], n = 0;
        for (int i = 0; i < 3; i++)
            if (r[i].got < bytes && RING - (r[i].got - r[i].consumed) >= P) {
                pf[n] = (struct pollfd){.fd = r[i].sock, .events = POLLIN};
                map[n++] = i;
            }
        if (n && poll(pf, (nfds_t)n, STALL_S * 1000) == 0)
            fail("no datagram for %d s (one was lost?)", STALL_S);
        for (int j = 0; j < n; j++)
            if (pf[j].revents)
                receive(&r[map[j]], false);
        uint64_t upto = r[0].got;
        for (int i = 1; i < 3; i++)
            upto = r[i].got < upto ? r[i].got : upto;
        while (done < upto) {
            uint64_t pos = done % RING, len = upto - done;
            len = len < RING - pos ? len : RING - pos;
            len = len < (1u << 20) ? len : (1u << 20);
            xor3(p->xor_out, r[0].ring + pos, r[1].ring + pos, r[2].ring + pos, len);
            pwrite_all(p->fd, p->xor_out, len, done);
            done += len;
        }
        for (int i = 0; i < 3; i++)
            if (done > r[i].consumed)
                consume(&r[i], done);
    }
}

static void proc_main(struct proc *p, int up)
{
    struct ports ports;
    p->cmd = udp_socket(&ports.cmd, false);
    for (int i = 0; i < 3; i++) {
        p->in[i] = udp_socket(&ports.in[i], true);
        if (!(p->ring[i] = malloc(RING)))
            fail("out of memory");
    }
    p->out = udp_socket(NULL, true);
    if (!(p->xor_out = malloc(1u << 20)))
        fail("out of memory");
    if (write(up, &ports, sizeof(ports)) != (ssize_t)sizeof(ports))
        _exit(1);
    close(up);
    for (;;) {
        struct command c;
        struct sockaddr_in from;
        socklen_t flen = sizeof(from);
        ssize_t n = recvfrom(p->cmd, &c, sizeof(c), 0, (struct sockaddr *)&from, &flen);
        if (n < 0 && errno == EINTR)
            continue;
        if (n != (ssize_t)sizeof(c))
            fail("command: %s", n < 0 ? strerror(errno) : "short");
        if (c.op == OP_SINK)
            sink(p, c.bytes);
        else if (c.op == OP_SOURCE)
            source(p, c.skip_parity, c.port);
        else if (c.op == OP_REBUILD)
            rebuild(p, c.bytes);
        else
            fail("command %u", c.op);
        uint32_t done = c.op;
        if (sendto(p->cmd, &done, sizeof(done), 0, (struct sockaddr *)&from, flen) < 0)
            fail("done: %s", strerror(errno));
    }
}

/* --- the benchmark's side ------------------------------------------------------------------ */

struct udp_floor *udp_floor_start(const char *dir, uint64_t member_bytes, uint32_t chunk_bytes)
{
    parent = getpid();
    if (chunk_bytes < 512 || member_bytes % chunk_bytes)
        die("UDP floor: members of %llu bytes in chunks of %u", (unsigned long long)member_bytes,
            chunk_bytes);
    struct udp_floor *f = calloc(1, sizeof(*f));
    if (!f)
        die("out of memory");
    f->member_bytes = member_bytes;
    f->chunk = chunk_bytes;
    for (int i = 0; i < PROCS; i++) {
        snprintf(f->files[i], sizeof(f->files[i]), "%.400s/floor-disk%d.img", dir, i + 1);
        make_file(f->files[i], member_bytes, false);
        int pipefd[2];
        if (pipe(pipefd) < 0)
            die("pipe: %s", strerror(errno));
        pid_t pid = fork_child();
        if (pid == 0) {
            close(pipefd[0]);
            struct proc p = {.index = (uint32_t)i, .chunk = chunk_bytes,
                             .member_bytes = member_bytes, .fd = open(f->files[i], O_RDWR)};
            if (p.fd < 0)
                fail("%s: %s", f->files[i], strerror(errno));
            proc_main(&p, pipefd[1]);
        }
        close(pipefd[1]);
        f->pids[i] = pid;
        if (read(pipefd[0], &f->ports[i], sizeof(f->ports[i])) != (ssize_t)sizeof(f->ports[i]))
            die("UDP floor: process %d did not start", i + 1);
        close(pipefd[0]);
    }
    struct timeval tv = {.tv_sec = 120};
    f->ctl = udp_socket(NULL, false);
    if (setsockopt(f->ctl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
        die("UDP floor: %s", strerror(errno));
    for (int m = 0; m < MEMBERS; m++)
        f->data[m] = udp_socket(NULL, true);
    return f;
}

static void command(struct udp_floor *f, int proc, struct command c)
{
    struct sockaddr_in to = loopback(f->ports[proc].cmd);
    if (sendto(f->ctl, &c, sizeof(c), 0, (struct sockaddr *)&to, sizeof(to)) < 0)
        die("UDP floor: command: %s", strerror(errno));
}

static void wait_done(struct udp_floor *f, int count)
{
    for (int i = 0; i < count; i++) {
        uint32_t done;
        if (recv(f->ctl, &done, sizeof(done), 0) != (ssize_t)sizeof(done))
            die("UDP floor: a process did not finish: %s", strerror(errno));
    }
}

struct clock_mark {
    double t, self, procs;
};

static struct clock_mark mark(struct udp_floor *f)
{
    struct clock_mark m = {now_s(), self_cpu_s(), 0};
    for (int i = 0; i < PROCS; i++)
        m.procs += proc_cpu_s(f->pids[i]);
    return m;
}

static double since(struct udp_floor *f, struct clock_mark a, double bytes, double cpu[2])
{
    struct clock_mark z = mark(f);
    cpu[0] = z.self - a.self;
    cpu[1] = z.procs - a.procs;
    return bytes / (z.t - a.t) / 1e6;
}

double udp_floor_write(struct udp_floor *f, const uint8_t *src, double cpu[2])
{
    uint32_t chunk = f->chunk, slots = P / chunk + 4;
    uint8_t *parity = malloc((size_t)slots * chunk);
    if (!parity)
        die("out of memory");
    memset(parity, 0, (size_t)slots * chunk); /* its pages, before the clock starts */
    struct sender s[MEMBERS];
    for (int m = 0; m < MEMBERS; m++) {
        s[m] = (struct sender){.sock = f->data[m], .dst = loopback(f->ports[m].in[0]),
                               .total = f->member_bytes};
        command(f, m, (struct command){.op = OP_SINK, .bytes = f->member_bytes});
    }
    struct clock_mark t0 = mark(f);
    uint64_t rows = f->member_bytes / chunk;
    for (uint64_t row = 0; row < rows; row++) {
        const uint8_t *d = src + row * (MEMBERS - 1) * chunk;
        xor3(parity + row % slots * chunk, d, d + chunk, d + 2 * (size_t)chunk, chunk);
        uint64_t ready = (row + 1) * chunk;
        for (uint32_t m = 0; m < MEMBERS; m++) {
            struct sender *x = &s[m];
            while (x->sent + P <= ready || (row + 1 == rows && x->sent < x->total)) {
                struct mmsghdr msg[BATCH];
                static struct iovec iov[BATCH][MAX_IOV];
                uint32_t n = 0, max = room(x);
                uint64_t at = x->sent;
                while (n < BATCH && n < max && (at + P <= ready || (row + 1 == rows && at < ready))) {
                    uint64_t end = at + P < x->total ? at + P : x->total;
                    uint32_t pieces = 0;
                    for (uint64_t o = at; o < end; pieces++) {
                        uint64_t r = o / chunk, within = o % chunk;
                        uint64_t len = chunk - within < end - o ? chunk - within : end - o;
                        const uint8_t *base;
                        if (parity_member(r) == m)
                            base = parity + r % slots * chunk;
                        else
                            base = src + (r * (MEMBERS - 1) +
                                          (m + MEMBERS - parity_member(r) - 1) % MEMBERS) * chunk;
                        iov[n][pieces] = (struct iovec){(void *)(base + within), len};
                        o += len;
                    }
                    memset(&msg[n], 0, sizeof(msg[n]));
                    msg[n].msg_hdr.msg_iov = iov[n];
                    msg[n].msg_hdr.msg_iovlen = pieces;
                    at = end;
                    n++;
                }
                send_batch(x, msg, n, at - x->sent);
            }
        }
    }
    for (int m = 0; m < MEMBERS; m++)
        wait_all_acked(&s[m]);
    wait_done(f, MEMBERS);
    double v = since(f, t0, (double)f->member_bytes * (MEMBERS - 1), cpu);
    free(parity);
    return v;
}

double udp_floor_read(struct udp_floor *f, double cpu[2])
{
    struct receiver r[MEMBERS];
    for (int m = 0; m < MEMBERS; m++) {
        r[m] = (struct receiver){.sock = f->data[m], .ring = malloc(RING)};
        if (!r[m].ring)
            die("out of memory");
        memset(r[m].ring, 0, RING);
        receiver_reset(&r[m], stream_bytes(f->member_bytes, f->chunk, (uint32_t)m, true));
    }
    struct clock_mark t0 = mark(f);
    for (int m = 0; m < MEMBERS; m++) {
        struct sockaddr_in a;
        socklen_t len = sizeof(a);
        if (getsockname(f->data[m], (struct sockaddr *)&a, &len) < 0)
            die("UDP floor: %s", strerror(errno));
        command(f, m, (struct command){.op = OP_SOURCE, .skip_parity = 1,
                                       .port = ntohs(a.sin_port)});
    }
    for (bool more = true; more;) {
        struct pollfd pf[MEMBERS];
        int map[MEMBERS], n = 0;
        for (int m = 0; m < MEMBERS; m++)
            if (r[m].got < r[m].total) {
                pf[n] = (struct pollfd){.fd = r[m].sock, .events = POLLIN};
                map[n++] = m;
            }
        if (!n)
            break;
        if (poll(pf, (nfds_t)n, STALL_S * 1000) == 0)
            die("UDP floor: no datagram for %d s (one was lost?)", STALL_S);
        for (int j = 0; j < n; j++)
            if (pf[j].revents) {
                receive(&r[map[j]], false);
                consume(&r[map[j]], r[map[j]].got); /* read, and thrown away */
            }
    }
    wait_done(f, MEMBERS);
    double v = since(f, t0, (double)f->member_bytes * (MEMBERS - 1), cpu);
    for (int m = 0; m < MEMBERS; m++)
        free(r[m].ring);
    return v;
}

double udp_floor_rebuild(struct udp_floor *f, double cpu[2])
{
    struct clock_mark t0 = mark(f);
    command(f, SPARE, (struct command){.op = OP_REBUILD, .bytes = f->member_bytes});
    for (int m = 1; m < MEMBERS; m++)
        command(f, m, (struct command){.op = OP_SOURCE, .port = f->ports[SPARE].in[m - 1]});
    wait_done(f, MEMBERS);
    return since(f, t0, (double)f->member_bytes, cpu);
}

bool udp_floor_rebuilt_ok(struct udp_floor *f)
{
    FILE *a = fopen(f->files[0], "rb"), *b = fopen(f->files[SPARE], "rb");
    bool same = a && b;
    static uint8_t x[1 << 16], y[1 << 16];
    for (size_t n; same && (n = fread(x, 1, sizeof(x), a)) > 0;)
        same = fread(y, 1, n, b) == n && memcmp(x, y, n) == 0;
    if (a)
        fclose(a);
    if (b)
        fclose(b);
    return same;
}

void udp_floor_stop(struct udp_floor *f)
{
    for (int i = 0; i < PROCS; i++) {
        kill(f->pids[i], SIGKILL);
        waitpid(f->pids[i], NULL, 0);
    }
    close(f->ctl);
    for (int m = 0; m < MEMBERS; m++)
        close(f->data[m]);
    free(f);
}
