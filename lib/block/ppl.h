/* rshare block — the partial parity log of a RAID-5 volume: what closes
 * the write hole.
 *
 * Before a row's members are written, the writing node stores, through
 * its persistence, the row's *partial parity* over the window being
 * written: the XOR of the data that the write leaves unchanged (computed as
 * new parity ^ new data of the chunks written), and which ranges of which
 * chunks it changes.  Rows that start in the same turn of the loop share
 * one record (one durable store).  When their member writes are done the
 * record is emptied.
 *
 * After a crash, every row that may be torn has its entry: its parity is
 * recomputed as partial parity ^ what the written chunks hold now, which
 * makes the row consistent whatever reached the members.  This needs only
 * the written chunks' members and the parity member, so it works with a
 * member missing — unless the missing member is one of those written,
 * whose (never acknowledged) data in that window is then what parity
 * says.  Data written earlier, in the other chunks, is never lost. */
#ifndef RSHARE_BLOCK_PPL_H
#define RSHARE_BLOCK_PPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rshare_volume rshare_volume;
struct rs_rowop;

#define RS_PPL_SLOTS 4

struct rs_ppl_batch {
    uint32_t slot;
    uint32_t rows;           /* rows in it whose member writes are not done */
    bool durable;            /* stored */
    uint8_t *record;
    size_t len, cap;
    struct rs_rowop *waiting; /* rows waiting for the store, linked by next_pending */
};

struct rs_ppl {
    bool enabled;                  /* RAID-5 on a node with persistence */
    struct rs_ppl_batch *slots[RS_PPL_SLOTS];
    struct rs_ppl_batch *open;     /* the batch of this turn of the loop */
    struct rs_rowop *blocked;      /* rows waiting for a free slot */
    /* recovery after a crash */
    uint8_t *recover[RS_PPL_SLOTS]; /* records found at open */
    size_t recover_len[RS_PPL_SLOTS];
    uint32_t recover_pending;       /* entries being recovered */
    uint64_t recovered, unrecoverable;
};

/* Open: load the records an earlier run left (records with entries mean
 * the node stopped with those rows in flight). */
int rs_ppl_init(rshare_volume *vol);
void rs_ppl_fini(rshare_volume *vol);
/* Entries left to recover (at open, before any new write). */
bool rs_ppl_has_records(const rshare_volume *vol);

/* A row is ready to write its members: log it.  Returns true when the row
 * must wait (rs_stripe_row_logged() is called for it once its record is
 * durable), false when there is no log (write at once). */
bool rs_ppl_log_row(rshare_volume *vol, struct rs_rowop *op, const uint8_t *partial,
                    uint64_t row, uint64_t lo, uint64_t hi, uint32_t data_count,
                    const uint64_t *ws, const uint64_t *we);
/* End of the loop turn: store the open batch, then release its rows. */
void rs_ppl_commit(rshare_volume *vol);
/* A logged row's member writes are done. */
void rs_ppl_row_done(rshare_volume *vol, struct rs_ppl_batch *batch);

/* Recovery: lock and repair the rows of the records found at open, in the
 * background; new writes to those rows wait for their locks. */
void rs_ppl_recover(rshare_volume *vol);

#endif
