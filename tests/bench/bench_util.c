/* Helpers shared by the benchmarks (bench_util.h). */
#define _GNU_SOURCE
#include "bench_util.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", program_invocation_short_name);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

void note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

bool in_list(const char *list, const char *key)
{
    if (!list)
        return true;
    size_t n = strlen(key);
    for (const char *p = list; (p = strstr(p, key)); p++)
        if ((p == list || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
            return true;
    return false;
}

double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

bool have_tool(const char *tool)
{
    const char *path = getenv("PATH");
    if (!path)
        return false;
    char buf[4096];
    for (const char *p = path; *p;) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        snprintf(buf, sizeof(buf), "%.*s/%s", (int)len, p, tool);
        if (access(buf, X_OK) == 0)
            return true;
        p += len + (end ? 1 : 0);
    }
    return false;
}

double proc_cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* after the command name */
    unsigned long utime = 0, stime = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime,
                     &stime) != 2)
        return 0;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static double rusage_s(const struct rusage *ru)
{
    return (double)ru->ru_utime.tv_sec + (double)ru->ru_utime.tv_usec / 1e6 +
           (double)ru->ru_stime.tv_sec + (double)ru->ru_stime.tv_usec / 1e6;
}

double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return rusage_s(&ru);
}

int run_cmd(char *const argv[], char *out, size_t out_len, double *cpu_s)
{
    int fds[2];
    if (pipe(fds) < 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        return -1;
    }
    size_t len = 0;
    char sink[4096];
    for (;;) {
        char *to = out && len + 1 < out_len ? out + len : sink;
        size_t room = out && len + 1 < out_len ? out_len - 1 - len : sizeof(sink);
        ssize_t n = read(fds[0], to, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (to != sink)
            len += (size_t)n;
    }
    if (out && out_len)
        out[len] = '\0';
    close(fds[0]);
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
    }
    *cpu_s = rusage_s(&ru);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static int cmp_double(const void *a, const void *z)
{
    double x = *(const double *)a, y = *(const double *)z;
    return x < y ? -1 : x > y;
}

void stats(const double *v, uint32_t n, double *med, double *lo, double *hi)
{
    double s[BENCH_MAX_ROUNDS];
    if (n == 0 || n > BENCH_MAX_ROUNDS) {
        *med = *lo = *hi = 0;
        return;
    }
    memcpy(s, v, n * sizeof(*v));
    qsort(s, n, sizeof(*s), cmp_double);
    *med = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    *lo = s[0];
    *hi = s[n - 1];
}

void make_file(const char *path, uint64_t bytes, bool random)
{
    enum { STEP = 1 << 20 };
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ftruncate(fd, (off_t)bytes) < 0)
        die("%s: %s", path, strerror(errno));
    if (random) {
        uint64_t *buf = malloc(STEP), seed = 0x2545f4914f6cdd1dull;
        if (!buf)
            die("out of memory");
        for (uint64_t off = 0; off < bytes; off += STEP) {
            for (size_t i = 0; i < STEP / 8; i++)
                buf[i] = xorshift(&seed);
            size_t len = bytes - off < STEP ? (size_t)(bytes - off) : STEP;
            if (pwrite(fd, buf, len, (off_t)off) != (ssize_t)len)
                die("%s: %s", path, strerror(errno));
        }
        free(buf);
    }
    close(fd);
}

void join_alone(rshare_node *node, uint32_t id, uint32_t capabilities)
{
    const uint32_t voters[] = {id};
    struct rshare_cluster_config cc;
    rshare_cluster_config_init(&cc, sizeof(cc));
    cc.manager_eligible = 1;
    cc.initial_voters = voters;
    cc.initial_voter_count = 1;
    cc.capabilities = capabilities;
    if (rshare_cluster_join(node, &cc) < 0)
        die("join: %s", rshare_node_errmsg(node));
}

pid_t fork_child(void)
{
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the benchmark */
        if (getppid() != parent)
            _exit(1); /* it ended before the line above */
    }
    return pid;
}
