/* The soak's history checker.  The simulation driver (soak.c) reports what
 * the cluster did -- every map a node installed, the leases in it, every
 * volume write issued and how it ended, every read and what it returned,
 * the keys a KVM target holds once input has stopped -- and the checker
 * says whether that history breaks a rule:
 *
 *   - no committed map diverges: two maps with one version are equal;
 *   - no acknowledged write is lost: a read returns, for each sector, the
 *     last acknowledged write to it or a later write that failed (whose
 *     data may or may not have landed), never anything older;
 *   - no read returns data that was never written: every sector read
 *     carries the tag of a write that covered it (or is the initial zeros);
 *   - no key stays pressed once the host's keys are up and the target had
 *     time to hear it;
 *   - leases: at one map version a resource has at most one exclusive
 *     lease, a lease keeps its fencing token, a token is never given to
 *     two leases of one resource.
 *
 * Written data is self-describing: each 512-byte sector of a write holds
 * the write's id, the sector's number, and bytes derived from both, so a
 * read can be checked sector by sector without keeping a copy of the
 * volume.  Violations are counted; the first is kept as text. */
#ifndef RSHARE_SOAK_HISTORY_H
#define RSHARE_SOAK_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#define HISTORY_SECTOR 512u

struct history;

/* A history for a volume of `volume_bytes` (a multiple of 512; 0: none). */
struct history *history_create(uint64_t volume_bytes);
void history_free(struct history *h);

/* --- maps ----------------------------------------------------------------- */

/* Node `node` installed the map of `version` whose encoding hashes to `digest`. */
void history_map(struct history *h, uint32_t node, uint64_t version, uint64_t digest);
/* A lease in that map. */
void history_lease(struct history *h, uint32_t node, uint64_t version, uint64_t resource,
                   uint64_t lease, uint64_t fence, int exclusive);

/* --- the volume ------------------------------------------------------------- */

/* A write of `len` bytes at `off` is issued: fills `buf` with its data and
 * returns its id. */
uint32_t history_write_begin(struct history *h, uint64_t off, void *buf, size_t len);
/* It completed with `status` (0: acknowledged). */
void history_write_end(struct history *h, uint32_t id, int status);
/* A read of `len` bytes at `off` completed with `status`, returning `buf`
 * (checked only when status is 0).  No write to the range may be in
 * flight.  Returns the number of sectors that broke a rule. */
size_t history_read(struct history *h, uint64_t off, const void *buf, size_t len, int status);

/* --- keys --------------------------------------------------------------------- */

/* Target `target` still holds key `code` after input stopped. */
void history_key_stuck(struct history *h, uint32_t target, uint16_t code);

/* --- a finding of the driver (liveness: something never finished) ---------------- */
void history_fail(struct history *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* --- the verdict ------------------------------------------------------------------ */

/* Checks what can only be checked on the whole history (the maps and the
 * leases) and returns the number of violations found in all; `first` (may
 * be NULL) gets the first one as text. */
size_t history_check(struct history *h, char *first, size_t first_len);

struct history_counts {
    uint64_t maps, leases, writes, writes_acked, writes_failed, reads, reads_failed,
        sectors_checked;
};
void history_counts(const struct history *h, struct history_counts *out);

#endif
