/* Benchmark: RAID-5 parity generation with the XOR kernel against memcpy
 * moving the same bytes between the same buffers, in the same run.
 *
 *   tests/bench/bench_xor [--rounds N] [--ms MS] [--cpu N]
 *
 * For each case (number of data buffers, buffer size, alignment) the two
 * operations alternate for N rounds of MS milliseconds each; the table
 * shows the medians.  Throughput counts data bytes read: a parity of d
 * buffers of L bytes is d * L bytes, and memcpy copies each of the d
 * buffers into the parity buffer (d * L bytes) so both read exactly the
 * same memory.  The "accumulate" rows fold one buffer into the parity in
 * place (dst ^= src, as a read-modify-write does) against memcpy of that
 * buffer: there the XOR moves more memory than the copy (it also reads the
 * destination).  Every result is checked against a byte-by-byte reference. */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "block/xor.h"

enum { MAX_DATA = 16, MAX_ROUNDS = 101 };

struct options {
    int rounds;
    int ms;
    int cpu;
};

struct bench_case {
    size_t data;    /* data buffers (a RAID-5 of data + 1 members) */
    size_t size;    /* bytes per buffer */
    size_t skew;    /* 0: 64-byte aligned; else every buffer offset by this */
    int accumulate; /* parity ^= data[0] instead of parity = XOR of all */
};

static const struct bench_case cases[] = {
    {2, 4096, 0, 0},     {4, 4096, 0, 0},     {2, 65536, 0, 0},   {4, 65536, 0, 0},
    {8, 65536, 0, 0},    {4, 65536, 1, 0},    {4, 1 << 20, 0, 0}, {8, 1 << 20, 0, 0},
    {4, 16 << 20, 0, 0}, {8, 16 << 20, 0, 0}, {1, 65536, 0, 1},   {1, 1 << 20, 0, 1},
    {1, 16 << 20, 0, 1},
};

static void parse_options(int argc, char **argv, struct options *o);
static void run_case(const struct options *o, const struct bench_case *c);
static double measure(const struct bench_case *c, int xor, uint8_t *parity,
                      const uint8_t *const *data, int ms);
static int64_t now_ns(void);
static double median(double *v, int n);
static void *xmalloc(size_t size);

int main(int argc, char **argv)
{
    struct options o;
    parse_options(argc, argv, &o);
    if (o.cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(o.cpu, &set);
        if (sched_setaffinity(0, sizeof(set), &set) < 0)
            fprintf(stderr, "bench_xor: cannot pin to CPU %d: %s\n", o.cpu, strerror(errno));
    }
    printf("| operation | buffer size | alignment | XOR GB/s | memcpy GB/s | XOR / memcpy |\n");
    printf("|---|---:|---|---:|---:|---:|\n");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        run_case(&o, &cases[i]);
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_xor [--rounds N (1..%d)] [--ms MS (1..10000)] [--cpu N]\n",
            MAX_ROUNDS);
    exit(2);
}

static int number(const char *text, int lo, int hi)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi)
        usage();
    return (int)v;
}

static void parse_options(int argc, char **argv, struct options *o)
{
    o->rounds = 7;
    o->ms = 100;
    o->cpu = -1;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            usage();
        if (strcmp(argv[i], "--rounds") == 0)
            o->rounds = number(argv[++i], 1, MAX_ROUNDS);
        else if (strcmp(argv[i], "--ms") == 0)
            o->ms = number(argv[++i], 1, 10000);
        else if (strcmp(argv[i], "--cpu") == 0)
            o->cpu = number(argv[++i], 0, 4095);
        else
            usage();
    }
}

static void run_case(const struct options *o, const struct bench_case *c)
{
    /* One allocation per buffer, each RS_XOR_ALIGN-aligned, then skewed. */
    uint8_t *blocks[MAX_DATA + 1];
    const uint8_t *data[MAX_DATA];
    for (size_t i = 0; i <= c->data; i++) {
        blocks[i] = xmalloc(c->size + RS_XOR_ALIGN);
        memset(blocks[i], 0, c->size + RS_XOR_ALIGN);
    }
    uint32_t x = 12345;
    for (size_t i = 0; i < c->data; i++) {
        for (size_t j = 0; j < c->size; j++) {
            x = x * 1103515245u + 12345u;
            blocks[i][c->skew + j] = (uint8_t)(x >> 16);
        }
        data[i] = blocks[i] + c->skew;
    }
    uint8_t *parity = blocks[c->data] + c->skew;

    memset(parity, 0x5a, c->size);
    if (c->accumulate)
        rs_xor_acc(parity, (const void *const *)data, c->data, c->size);
    else
        rs_xor_gen(parity, (const void *const *)data, c->data, c->size);
    for (size_t j = 0; j < c->size; j++) {
        uint8_t want = c->accumulate ? 0x5a : 0;
        for (size_t i = 0; i < c->data; i++)
            want ^= data[i][j];
        if (parity[j] != want) {
            fprintf(stderr, "bench_xor: wrong parity at byte %zu\n", j);
            exit(1);
        }
    }

    double xr[MAX_ROUNDS], mr[MAX_ROUNDS];
    for (int r = 0; r < o->rounds; r++) {
        xr[r] = measure(c, 1, parity, data, o->ms);
        mr[r] = measure(c, 0, parity, data, o->ms);
    }
    double xg = median(xr, o->rounds), mg = median(mr, o->rounds);
    char size[32];
    if (c->size >= 1 << 20)
        snprintf(size, sizeof(size), "%zu MiB", c->size >> 20);
    else
        snprintf(size, sizeof(size), "%zu KiB", c->size >> 10);
    char operation[64];
    if (c->accumulate)
        snprintf(operation, sizeof(operation), "accumulate 1 buffer into parity");
    else
        snprintf(operation, sizeof(operation), "parity of %zu data buffers", c->data);
    printf("| %s | %s | %s | %.1f | %.1f | %.2f |\n", operation, size,
           c->skew ? "misaligned (+1 byte)" : "64-byte", xg, mg, xg / mg);
    fflush(stdout);
    for (size_t i = 0; i <= c->data; i++)
        free(blocks[i]);
}

/* GB/s (1e9 bytes) of data read over about `ms` milliseconds. */
static double measure(const struct bench_case *c, int xor, uint8_t *parity,
                      const uint8_t *const *data, int ms)
{
    size_t count = c->data, size = c->size;
    int64_t start = now_ns(), limit = (int64_t)ms * 1000000, elapsed;
    uint64_t bytes = 0;
    do {
        for (int k = 0; k < 8; k++) {
            if (xor&&c->accumulate) {
                rs_xor_acc(parity, (const void *const *)data, count, size);
            } else if (xor) {
                rs_xor_gen(parity, (const void *const *)data, count, size);
            } else {
                for (size_t i = 0; i < count; i++)
                    memcpy(parity, data[i], size);
            }
            /* The result is "used": the compiler may not drop the work. */
            __asm__ volatile("" : : "r"(parity) : "memory");
            bytes += count * size;
        }
        elapsed = now_ns() - start;
    } while (elapsed < limit);
    return (double)bytes / (double)elapsed;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), compare_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void *xmalloc(size_t size)
{
    void *p = NULL;
    if (posix_memalign(&p, RS_XOR_ALIGN, size) != 0) {
        fprintf(stderr, "bench_xor: out of memory\n");
        exit(1);
    }
    return p;
}
