/* rshare block — internal interface of the volume engine: the volume
 * handle, its members, member I/O with retries, and the three parts that
 * work on them: requests (volume_io.c, mirror and striped pieces;
 * stripe.c, RAID-5 rows), background sweeps (sweep.c: rebuild, resync,
 * scrub) and the volume's life and map (volume.c).
 *
 * Keys: locks, the write-intent bitmap and sweeps address a volume in one
 * "key space" chosen by its layout — RAID-5 rows (a row is locked, dirtied
 * and rebuilt as a unit), logical sectors for the other layouts. */
#ifndef RSHARE_BLOCK_ENGINE_H
#define RSHARE_BLOCK_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "bitmap.h"
#include "core/core.h"
#include "layout.h"
#include "ppl.h"
#include "rangelock.h"
#include "rshare/access.h"
#include "rshare/block.h"
#include "rshare/volume.h"

#define RS_VOLUME_MAX_REQUEST (64u << 20) /* bytes per read or write */

/* A member's backend, shared by the slot and the I/Os in flight on it, so
 * that a member replaced in the map is closed only once idle. */
struct rs_member_block {
    rshare_block *block;
    uint32_t refs;
    uint32_t inflight;
    uint32_t max_io_bytes; /* the backend's largest I/O (0: no limit) */
};

struct rs_vmember {
    uint64_t resource;
    uint32_t map_state;     /* enum rshare_volume_member_state, as the map says */
    bool failed_here;       /* this node saw it fail; the map is being told */
    bool rebuilt_here;      /* its rebuild finished here; the map is being told */
    bool readd_wanted;      /* operator asked to bring it back */
    bool partial;           /* brought back: rebuild only the regions written meanwhile */
    bool incomplete;        /* rebuilding (not in sync) since the map last said active */
    struct rs_member_block *mb; /* NULL when it could not be opened */
    uint64_t next_sector;   /* where the last read from it ended (sequential reads) */
    struct rs_mio *plug, **plug_tail; /* writes to it held until the turn ends (volume_io.c) */
};

struct rs_sweep;
struct rs_vreq;
struct rs_rowop;
struct rs_mio;
struct rs_proposal;

struct rshare_volume {
    rshare_node *node;
    struct rshare_volume_config cfg; /* cfg.credentials is not kept: see cred */
    bool has_cred;           /* member requests carry `cred` (its cookie in `cookie`) */
    struct rshare_access_credentials cred;
    uint8_t cookie[RSHARE_ACCESS_COOKIE_MAX];
    struct rshare_volume_desc desc; /* as last seen in the map */
    struct rs_layout layout;
    struct rs_vmember m[RSHARE_VOLUME_MEMBERS_MAX];
    uint32_t block_size;     /* bytes; every member's logical block size */
    uint64_t sectors;        /* logical size in 512-byte sectors */
    bool parity;             /* RAID-5 */
    bool mirrored;           /* RAID-1, RAID-10 */
    uint64_t keys;           /* size of the key space */

    uint32_t inflight;       /* user requests started, not completed */
    struct rs_vreq *queue_head, *queue_tail; /* waiting for max_inflight */
    struct rs_range_locks locks;
    struct rs_bitmap bitmap;
    struct rs_ppl ppl;       /* RAID-5: the partial parity log (ppl.h) */
    bool was_dirty;          /* found dirty at open */

    /* Background work: at most one sweep at a time. */
    struct rs_sweep *sweep;
    uint32_t rebuild_member;  /* slot being rebuilt, or UINT32_MAX */
    uint64_t rebuild_checkpoint; /* keys below are rebuilt (readable) */
    uint64_t rebuild_total, rebuild_done;
    uint64_t resync_cursor;   /* keys below have been resynced */
    bool resync_pending;      /* regions whose copies may disagree: a crash, or a
                               * write refused where it may have run (rs_vol_unsynced) */
    bool resync_again;        /* regions added while a resync ran: it runs again */
    uint8_t *resync_regions;  /* which regions the resync covers (bitmap copy) */

    struct rs_proposal *proposal; /* map change in flight */
    struct rs_timer tick;
    struct rs_mio *deferred;      /* member I/Os that could not start */
    uint32_t plugged;             /* member writes held in the members' plugs */
    struct rs_vreq *completed;    /* requests finished inside a submit call */
    struct rs_timer defer_timer;
    struct rs_timer hold_timer;   /* partial rows held for a sequential stream (stripe.c) */
    struct rs_rowop *pending_rows;   /* RAID-5 partial rows gathering (stripe.c) */
    bool submitting;              /* inside rshare_volume_read/write/flush */
    bool closing, gone;
    struct rshare_volume_status stats; /* counters part of the status */
};

/* --- members (volume.c) ---------------------------------------------------- */

/* May this member be read at key `key`? (in sync, open, not failed here;
 * a member being rebuilt only below the rebuild checkpoint) */
bool rs_vol_readable(const rshare_volume *vol, uint32_t member, uint64_t key);
/* Should writes go to it? (open, not failed: in sync or being rebuilt) */
bool rs_vol_writable(const rshare_volume *vol, uint32_t member);
/* This node saw the member fail: stop using it, tell the map, start a spare. */
void rs_vol_member_failed(rshare_volume *vol, uint32_t member, int status);
/* A member host refused the request: no access (RSHARE_EACCES, decided
 * after the host's reply cache, so the request did not run), or the maps
 * of the two nodes differed until the request's time ran out
 * (RSHARE_ESTALE: the host checks versions before its reply cache, so an
 * earlier copy of the request may have run).  Neither says anything about
 * the member's disk: the member is not failed for it. */
static inline bool rs_vol_refusal(int status)
{
    return status == RSHARE_EACCES || status == RSHARE_ESTALE;
}
/* Settle a write some member hosts refused (`refused_members`, bit per
 * member): when it `landed` on others, the refusing members hold stale
 * data and are failed; when it landed nowhere but a refusal was `stale`,
 * one copy may have taken it all the same, so keys [start, end) are
 * resynced (rs_vol_unsynced).  Returns the status the write ends with
 * (volume_io.c). */
int rs_vol_settle_refused(rshare_volume *vol, uint64_t refused_members, bool landed, bool stale,
                          uint64_t start, uint64_t end);
/* Keys [start, end) may differ between copies (or disagree with parity):
 * reads use the first copy and a resync makes them agree, after a restart
 * too (the regions' write-intent bits stay set until then) (volume.c). */
void rs_vol_unsynced(rshare_volume *vol, uint64_t start, uint64_t end);
/* Does a mirrored read at `key` have to use the first copy? (volume.c) */
bool rs_vol_key_unsynced(const rshare_volume *vol, uint64_t key);
/* Current state from the members (enum rshare_volume_state). */
uint32_t rs_vol_state(const rshare_volume *vol);
/* Map changes this node wants (failures, rebuilds done): propose them. */
void rs_vol_sync_map(rshare_volume *vol);
/* Complete a member I/O that could not be started, from the loop. */
void rs_vol_defer(rshare_volume *vol, struct rs_mio *mio, int status);
/* Every piece of a request is done: complete it, start a queued one. */
void rs_vol_request_done(struct rs_vreq *req);

/* Simulations: power loss.  Release the volume without storing its clean
 * state (nothing may be in flight: the caller stops the sweep first). */
void rs_vol_abandon(rshare_volume *vol);

/* --- member I/O with retries (volume_io.c) --------------------------------- */

struct rs_mio;
typedef void (*rs_mio_done_fn)(struct rs_mio *mio, int status);

struct rs_mio {
    struct rshare_block_io io;
    rshare_volume *vol;
    struct rs_member_block *mb;
    uint32_t member;
    uint32_t tries;
    uint64_t total, moved; /* a member I/O above the backend's limit goes in pieces */
    rs_mio_done_fn done;
    void *owner;
    struct rs_mio *defer_next;
    int defer_status;
    struct rs_mio *plug_next;
    const struct rs_seg *seg; /* a run's or a plug's buffers (rs_block_submit_vec) */
    uint32_t nseg;
    struct rs_timer retry; /* the next try after a transient failure */
};

/* Start an I/O on a member (`sector` and `sectors` in 512-byte units).
 * `done` always runs later (also when the member cannot be used: then with
 * RSHARE_EIO).  A final transient failure, and any failed write or flush,
 * fails the member; a read that fails with a medium error does not (the
 * owner repairs it). */
void rs_mio_start(rshare_volume *vol, struct rs_mio *mio, uint32_t member, uint32_t op,
                  uint64_t sector, uint64_t sectors, void *buf, rs_mio_done_fn done,
                  void *owner);
/* Writes to a member on another node are held until the loop turn ends
 * (a plug): then those that follow each other on the member go as one
 * write (rs_vol_unplug, from the volume's deferred work).  Dropping them
 * (rs_vol_unplug_drop) is for a volume released without waiting. */
void rs_vol_unplug(rshare_volume *vol);
void rs_vol_unplug_drop(rshare_volume *vol);

/* --- requests (volume_io.c, stripe.c) ------------------------------------- */

enum rs_vreq_op { RS_VREQ_READ = 1, RS_VREQ_WRITE = 2, RS_VREQ_FLUSH = 3, RS_VREQ_DISCARD = 4 };

struct rs_vreq {
    rshare_volume *vol;
    enum rs_vreq_op op;
    uint64_t sector, count;
    uint8_t *buf;
    rshare_volume_done_fn done;
    void *user_data;
    int status;
    uint32_t pending; /* pieces outstanding (+1 while being split) */
    struct rs_vreq *next;
};

void rs_vreq_start(struct rs_vreq *req);
/* A piece of the request finished with `status`. */
void rs_vreq_piece_done(struct rs_vreq *req, int status);
/* RAID-5: the pieces of `req` in row `row` ([first, first + n) of `ext`). */
void rs_stripe_write(struct rs_vreq *req, const struct rs_extent *ext, size_t n);
/* RAID-5: start the partial rows gathered since the last turn of the loop
 * (called from the volume's deferred-work timer), but those held for the
 * rest of their row (their hold_timer starts them). */
void rs_stripe_flush_pending(rshare_volume *vol);
/* The hold_timer's callback. */
void rs_stripe_hold_expired(rshare_node *node, struct rs_timer *timer);
/* Arm that timer. */
void rs_vol_defer_rows(rshare_volume *vol);
/* The partial parity log's calls back into the rows (ppl.c -> stripe.c). */
void rs_stripe_row_wait(rshare_volume *vol, struct rs_rowop *op, struct rs_ppl_batch *batch);
void rs_stripe_row_block(rshare_volume *vol, struct rs_rowop *op);
void rs_stripe_rows_logged(rshare_volume *vol, struct rs_ppl_batch *batch, int status);
void rs_stripe_rows_unblocked(rshare_volume *vol, struct rs_rowop *list);
void rs_stripe_row_failed(struct rs_rowop *op, int status);
/* RAID-5: a data piece whose member cannot be read: rebuild it from the row. */
void rs_stripe_reconstruct_read(struct rs_vreq *req, const struct rs_extent *ext, bool repair);

/* Key of a logical sector's row (RAID-5) or the sector itself. */
static inline uint64_t rs_vol_key(const rshare_volume *vol, uint64_t logical, uint64_t row)
{
    return vol->parity ? row : logical;
}

/* --- background sweeps (sweep.c) ------------------------------------------- */

enum rs_sweep_kind {
    RS_SWEEP_REBUILD = 1, /* write a member from the others */
    RS_SWEEP_RESYNC = 2,  /* make dirty regions consistent again */
    RS_SWEEP_CHECK = 3,   /* scrub: count inconsistencies */
    RS_SWEEP_REPAIR = 4   /* scrub: count and fix */
};

typedef void (*rs_sweep_done_fn)(rshare_volume *vol, int status, uint64_t mismatches,
                                 void *user_data);

/* Start a sweep over the whole key space (`regions` NULL) or the regions
 * whose bit is set in `regions` (taken over).  RSHARE_EBUSY if one runs. */
int rs_sweep_start(rshare_volume *vol, enum rs_sweep_kind kind, uint32_t target, uint64_t from,
                   uint8_t *regions, rs_sweep_done_fn done, void *user_data);
/* Where a rebuild of `target` left off before a restart (0: from the start). */
uint64_t rs_sweep_resume_point(rshare_volume *vol, uint32_t target);
/* Member `target` is being brought back after it failed: the writes it
 * missed lie anywhere, below the stored checkpoint too, so a rebuild of
 * it must not resume from one stored before. */
void rs_sweep_forget(rshare_volume *vol, uint32_t target);
/* What the running sweep does (0: none runs). */
enum rs_sweep_kind rs_sweep_kind(const rshare_volume *vol);
/* Stop the running sweep (its `done` gets RSHARE_ECANCELED once idle). */
void rs_sweep_stop(rshare_volume *vol);
/* The volume's foreground load changed: sweeps slow down while it is busy. */
void rs_sweep_kick(rshare_volume *vol);

#endif
