/* Helpers shared by the benchmarks that run anchors as child processes
 * (bench_volume, bench_iscsi): messages, clocks, CPU accounting, running a
 * tool, medians, files of random bytes, and a one-voter cluster. */
#ifndef RSHARE_BENCH_UTIL_H
#define RSHARE_BENCH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <rshare/rshare.h>

#define BENCH_MAX_ROUNDS 32u

/* "PROGRAM: message" on stderr, then exit(1). */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* "bench: message" on stderr. */
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Is `key` an item of the comma-separated `list`?  (A NULL list holds
 * everything.) */
bool in_list(const char *list, const char *key);
/* CLOCK_MONOTONIC in seconds. */
double now_s(void);
/* Is `tool` an executable on the PATH? */
bool have_tool(const char *tool);
/* CPU seconds (user + system) process `pid` has used so far, from /proc;
 * 0 when it cannot be read. */
double proc_cpu_s(pid_t pid);
/* CPU seconds this process has used so far. */
double self_cpu_s(void);
/* Run a command to completion; stdout into `out` (may be NULL: discarded),
 * the CPU seconds it used into `cpu_s`.  Returns the exit status, or -1
 * when it could not be started. */
int run_cmd(char *const argv[], char *out, size_t out_len, double *cpu_s);
/* xorshift64: fast, deterministic, good enough for offsets and data. */
uint64_t xorshift(uint64_t *state);
/* Median, minimum and maximum of n (1..BENCH_MAX_ROUNDS) values. */
void stats(const double *v, uint32_t n, double *med, double *lo, double *hi);
/* Join the cluster as its only voter (so its manager), with
 * `capabilities`; dies on an error. */
void join_alone(rshare_node *node, uint32_t id, uint32_t capabilities);
/* fork() a child that dies with this process (stdio flushed first so that
 * nothing is written twice); dies on an error.  Returns what fork() does. */
pid_t fork_child(void);
/* Create (or truncate) `path` with `bytes` bytes: random ones (a fixed
 * seed) or a sparse file of zeroes. */
void make_file(const char *path, uint64_t bytes, bool random);

#endif
