/* rshare msg — the per-peer dedupe cache that makes request execution
 * at-most-once: a duplicate of a request being executed is ignored, a
 * duplicate of an answered one gets the stored answer again, and a request
 * older than anything the cache still remembers is refused as stale. */
#ifndef RSHARE_DEDUPE_H
#define RSHARE_DEDUPE_H

#include "msg.h"

enum rs_dedupe_state {
    RS_DEDUPE_NEW,         /* first sight: execute it */
    RS_DEDUPE_IN_PROGRESS, /* being executed: drop the duplicate */
    RS_DEDUPE_ANSWERED,    /* resend the stored answer */
    RS_DEDUPE_STALE        /* forgotten: refuse */
};

struct rs_dedupe_entry {
    uint32_t request_id;
    bool answered;
    uint64_t at_us;
    uint8_t *answer; /* the complete answer message */
    size_t answer_len;
};

/* Look up `request_id` from `peer`; for RS_DEDUPE_NEW an in-progress entry
 * has been recorded, for RS_DEDUPE_ANSWERED `*entry` holds the answer.
 * Returns a negative code when the cache cannot be allocated. */
int rs_dedupe_check(rshare_node *node, struct rs_peer *peer, uint32_t request_id,
                    struct rs_dedupe_entry **entry);
/* Record the answer (the buffer is taken over). */
void rs_dedupe_answer(rshare_node *node, uint32_t peer_id, uint32_t request_id, uint8_t *answer,
                      size_t len);
void rs_dedupe_clear(rshare_node *node, struct rs_peer *peer);
void rs_dedupe_free(rshare_node *node, struct rs_peer *peer);

#endif
