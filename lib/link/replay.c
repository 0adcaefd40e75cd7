/* rshare link — replay window: a bitmap over the last RS_REPLAY_WINDOW
 * sequence numbers below the highest one accepted, indexed circularly. */
#include "config.h"

#include <string.h>

#include "replay.h"

void rs_replay_reset(struct rs_replay *window)
{
    memset(window, 0, sizeof(*window));
}

static bool bit_get(const struct rs_replay *w, uint64_t seq)
{
    unsigned i = (unsigned)(seq % RS_REPLAY_WINDOW);
    return w->bits[i / 64] >> (i % 64) & 1u;
}

static void bit_set(struct rs_replay *w, uint64_t seq, bool on)
{
    unsigned i = (unsigned)(seq % RS_REPLAY_WINDOW);
    uint64_t mask = UINT64_C(1) << (i % 64);
    if (on)
        w->bits[i / 64] |= mask;
    else
        w->bits[i / 64] &= ~mask;
}

bool rs_replay_check(const struct rs_replay *window, uint64_t seq)
{
    if (seq == 0)
        return false; /* sequence numbers start at 1 */
    if (seq > window->top)
        return true;
    if (window->top - seq >= RS_REPLAY_WINDOW)
        return false; /* too old to tell: refuse */
    return !bit_get(window, seq);
}

void rs_replay_mark(struct rs_replay *window, uint64_t seq)
{
    if (seq > window->top) {
        uint64_t advance = seq - window->top;
        if (advance >= RS_REPLAY_WINDOW) {
            memset(window->bits, 0, sizeof(window->bits));
        } else {
            for (uint64_t s = window->top + 1; s < seq; s++)
                bit_set(window, s, false);
        }
        window->top = seq;
    }
    bit_set(window, seq, true);
}
