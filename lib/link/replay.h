/* rshare link — the per-peer replay window: accepts each packet sequence
 * number once, tolerating reordering within RS_REPLAY_WINDOW packets. */
#ifndef RSHARE_REPLAY_H
#define RSHARE_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#define RS_REPLAY_WINDOW 512

struct rs_replay {
    uint64_t top; /* highest sequence number accepted, 0 = none yet */
    uint64_t bits[RS_REPLAY_WINDOW / 64];
};

void rs_replay_reset(struct rs_replay *window);
/* True when `seq` has not been seen and is not too old.  Does not record it:
 * call rs_replay_mark() only once the packet has been authenticated. */
bool rs_replay_check(const struct rs_replay *window, uint64_t seq);
void rs_replay_mark(struct rs_replay *window, uint64_t seq);

#endif
