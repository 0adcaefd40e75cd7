/* rshare — virtual volumes: disks on many nodes served as one.
 *
 * A volume is defined in the global map (rshare/global.h); any node may
 * open it by name and read and write it.  Each request is split at chunk
 * boundaries and every piece goes to the node that hosts its member
 * (rshare/block.h).  Mirrors and parity keep the volume working when a
 * member fails: the failure is recorded in the map, a spare (if any) takes
 * the member's place and is rebuilt in the background.
 *
 * One node writes a volume at a time (the exclusive lease of the access
 * layer enforces it); members are laid out exactly as Linux md lays them
 * out, with data offset 0.  See doc/VOLUMES.md. */
#ifndef RSHARE_VOLUME_H
#define RSHARE_VOLUME_H

#include <rshare/common.h>
#include <rshare/global.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rshare_volume rshare_volume;
struct rshare_access_credentials; /* include/rshare/access.h */

/* Completion of a read, write or flush: `status` is 0 or a negative code. */
typedef void (*rshare_volume_done_fn)(rshare_volume *volume, int status, void *user_data);

/* Progress of a rebuild or resync: `done` of `total` sectors (called
 * after each step, and once more with done == total at the end, or with a
 * negative `status` if it stopped). */
typedef void (*rshare_volume_progress_fn)(rshare_volume *volume, int status, uint64_t done,
                                          uint64_t total, void *user_data);

/* Flags of struct rshare_volume_config. */
#define RSHARE_VOLUME_OPEN_FORCE 0x1u /* start even when dirty and degraded (may lose data) */

struct rshare_volume_config {
    uint32_t struct_size;
    uint32_t flags;             /* RSHARE_VOLUME_OPEN_* */
    /* Tries of one member I/O that fails with a transient error (a timeout:
     * the backend's own, for remote members the node's request timeout)
     * before the member is failed; default 3.  A medium error (RSHARE_EIO)
     * is repaired from redundancy instead; a member whose host the cluster
     * reports down is failed at once. */
    uint32_t retry_budget;
    uint32_t rebuild_step_sectors;  /* rebuild, resync and scrub unit; default 1024 (512 KiB) */
    uint32_t bitmap_region_sectors; /* write-intent bitmap granularity; default 65536 (32 MiB) */
    uint32_t max_inflight;          /* requests in flight on the volume; more wait; default 256 */
    uint32_t clean_delay_ms;        /* a region's bit is cleared this long after its last
                                       write; default 2000 */
    uint32_t reserved_;
    rshare_volume_progress_fn progress;
    void *progress_data;
    /* Credentials sent to every member host with each member request (a
     * cookie of a grant for the volume, RSHARE_ACCESS_VOLUME, and the
     * fencing token of its exclusive lease): needed when the member hosts
     * require grants or leases (include/rshare/access.h).  Copied; NULL:
     * none.  A refusal fails the request with RSHARE_EACCES and never
     * fails a member. */
    const struct rshare_access_credentials *credentials;
};

/* Zero `config` and set its struct_size (pass sizeof(*config)): every field
 * not set afterwards takes its default. */
RSHARE_API void rshare_volume_config_init(struct rshare_volume_config *config,
                                          size_t struct_size);

/* Open the volume called `name` in this node's copy of the map (config
 * NULL for defaults).  RSHARE_ENOENT if there is none; RSHARE_EBUSY when the
 * volume was not shut down cleanly and is degraded (the RAID-5 write hole:
 * open with RSHARE_VOLUME_OPEN_FORCE to accept it); RSHARE_EIO when more
 * members are failed than the layout tolerates.  A volume that was not
 * shut down cleanly resyncs its dirty regions in the background. */
RSHARE_API int rshare_volume_open(rshare_node *node, const char *name,
                                  const struct rshare_volume_config *config,
                                  rshare_volume **out);

/* Finish in-flight requests, stop background work (its progress is kept),
 * mark the volume clean, release it.  Accepts NULL. */
RSHARE_API void rshare_volume_close(rshare_volume *volume);

/* Replace the credentials sent to member hosts (see
 * rshare_volume_config.credentials); NULL sends none.  Requests already
 * sent keep theirs. */
RSHARE_API int rshare_volume_set_credentials(rshare_volume *volume,
                                             const struct rshare_access_credentials *cred);

/* Size in bytes and the logical block size (512). */
RSHARE_API uint64_t rshare_volume_size(const rshare_volume *volume);
RSHARE_API uint32_t rshare_volume_block_size(const rshare_volume *volume);

/* Asynchronous I/O: `offset` and `length` are multiples of the block size,
 * the range lies inside the volume, `length` is at most 64 MiB.  `buf`
 * stays valid until `done` runs; `done` never runs before the call
 * returns.  RSHARE_EINVAL for a bad range, RSHARE_EIO when the volume has
 * failed. */
RSHARE_API int rshare_volume_read(rshare_volume *volume, uint64_t offset, void *buf,
                                  size_t length, rshare_volume_done_fn done, void *user_data);
RSHARE_API int rshare_volume_write(rshare_volume *volume, uint64_t offset, const void *buf,
                                   size_t length, rshare_volume_done_fn done, void *user_data);
/* Every write completed before the flush was started is durable on every
 * member when `done` runs. */
RSHARE_API int rshare_volume_flush(rshare_volume *volume, rshare_volume_done_fn done,
                                   void *user_data);

/* The range's contents are no longer needed: passed to the members as
 * discards (hole punching, BLKDISCARD, UNMAP), so thin storage can free
 * it; reads of it afterwards return zeroes or the old data, as the
 * member's storage does.  Offered for linear and RAID-0 volumes, whose
 * members hold no copies or parity that a discard could make disagree:
 * other layouts refuse with RSHARE_ENOTSUP.  A member that cannot discard
 * keeps its data and the request still succeeds; a discard never fails a
 * member.  Same range rules as a write. */
RSHARE_API int rshare_volume_discard(rshare_volume *volume, uint64_t offset, size_t length,
                                     rshare_volume_done_fn done, void *user_data);

/* rshare_volume_read(), _write(), _flush() and _discard() that run the
 * node's loop until the request completes and return its status. */
RSHARE_API int rshare_volume_read_sync(rshare_volume *volume, uint64_t offset, void *buf,
                                       size_t length);
RSHARE_API int rshare_volume_write_sync(rshare_volume *volume, uint64_t offset,
                                        const void *buf, size_t length);
RSHARE_API int rshare_volume_flush_sync(rshare_volume *volume);
RSHARE_API int rshare_volume_discard_sync(rshare_volume *volume, uint64_t offset, size_t length);

enum rshare_volume_state {
    RSHARE_VOLUME_OPTIMAL = 0,  /* every member in sync */
    RSHARE_VOLUME_DEGRADED = 1, /* serving with less redundancy than defined */
    RSHARE_VOLUME_FAILED = 2    /* too many members lost: I/O fails */
};

struct rshare_volume_status {
    uint32_t struct_size;
    uint32_t state;        /* enum rshare_volume_state */
    uint32_t id;
    uint32_t member_count;
    uint32_t member_state[RSHARE_VOLUME_MEMBERS_MAX]; /* enum rshare_volume_member_state */
    uint64_t member[RSHARE_VOLUME_MEMBERS_MAX];       /* resource ids */
    uint64_t size;                  /* bytes */
    uint64_t rebuild_done, rebuild_total; /* sectors; total 0 when none runs */
    uint64_t dirty_regions;         /* write-intent bitmap bits set */
    /* counters */
    uint64_t reads, writes, flushes;
    uint64_t degraded_reads;        /* pieces reconstructed from the others */
    uint64_t read_repairs;          /* read errors fixed by rewriting */
    uint64_t member_retries;        /* member I/Os tried again */
    uint64_t full_stripe_writes, rmw_writes, rcw_writes; /* RAID-5 write strategies */
    uint64_t discards;              /* appended */
};

/* The volume's state, members and counters (`status->struct_size` set by
 * the caller: older callers get the fields they know). */
RSHARE_API int rshare_volume_get_status(rshare_volume *volume,
                                        struct rshare_volume_status *status);

/* Fail a member now, as if its disk died (an operator's action): recorded
 * in the map; a spare takes its place if there is one. */
RSHARE_API int rshare_volume_fail_member(rshare_volume *volume, uint32_t index);

/* Bring back a failed member whose disk is reachable again: it is
 * rebuilt, and when the write-intent bitmap has tracked every write since
 * it failed, only the regions written meanwhile are copied. */
RSHARE_API int rshare_volume_readd_member(rshare_volume *volume, uint32_t index);

/* Scrub: read every stripe (or mirror set) and count inconsistencies;
 * with `repair`, rewrite parity (RAID-5) or the other mirrors (RAID-1) from
 * the data (RAID-5) or the first in-sync mirror.  `done` gets the count. */
typedef void (*rshare_volume_scrub_fn)(rshare_volume *volume, int status, uint64_t mismatches,
                                       void *user_data);
RSHARE_API int rshare_volume_scrub(rshare_volume *volume, int repair,
                                   rshare_volume_scrub_fn done, void *user_data);
RSHARE_API int rshare_volume_scrub_sync(rshare_volume *volume, int repair,
                                        uint64_t *mismatches);

#ifdef __cplusplus
}
#endif
#endif
