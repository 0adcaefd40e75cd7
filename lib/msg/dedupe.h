/* rshare msg — the reply cache that makes request execution at-most-once.
 * A requester sends each request in one of its slots for this peer and
 * reuses a slot only after the request in it completed; the responder keeps
 * the last request id and answer per slot.  A duplicate of a request being
 * executed is ignored, a duplicate of an answered one gets the stored answer
 * again, and an older id than the slot holds is a late copy nobody waits
 * for.  Memory is bounded by the slots in use, not by the request rate. */
#ifndef RSHARE_DEDUPE_H
#define RSHARE_DEDUPE_H

#include "msg.h"

enum rs_dedupe_state {
    RS_DEDUPE_NEW,         /* first sight: execute it */
    RS_DEDUPE_IN_PROGRESS, /* being executed: drop the duplicate */
    RS_DEDUPE_ANSWERED,    /* resend the stored answer */
    RS_DEDUPE_STALE        /* older than the slot's request: drop */
};

struct rs_dedupe_entry {
    uint32_t request_id; /* 0: slot never used */
    bool answered;
    uint8_t *answer; /* the complete answer message */
    size_t answer_len;
};

/* Look up request `request_id` in `slot` of `peer`.  For RS_DEDUPE_NEW the
 * slot now holds the request, in progress; for RS_DEDUPE_ANSWERED `*entry`
 * holds the answer.  Returns a negative code when memory is short. */
int rs_dedupe_check(rshare_node *node, struct rs_peer *peer, uint16_t slot, uint32_t request_id,
                    struct rs_dedupe_entry **entry);
/* Record the answer (the buffer is taken over). */
void rs_dedupe_answer(rshare_node *node, uint32_t peer_id, uint16_t slot, uint32_t request_id,
                      uint8_t *answer, size_t len);
/* Forget every slot (the peer restarted) and release the memory. */
void rs_dedupe_clear(rshare_node *node, struct rs_msg_peer *mp);

#endif
