/* rshare transports — the RS-485 turn-taking rule: rotating slots after
 * every silence, so that nodes with traffic waiting never start together,
 * and an immediate start on a bus that has been quiet for a whole
 * rotation.  See rs485.h and doc/TRANSPORTS.md. */
#include "config.h"

#include "rs485.h"

void rs_rs485_init(struct rs_rs485_arbiter *a, uint16_t nodes, uint8_t address,
                   uint32_t guard_us, uint32_t slot_us)
{
    a->nodes = nodes;
    a->address = address;
    a->guard_us = guard_us;
    a->slot_us = slot_us;
    a->idle_since_us = 0;
    a->last_src = -1;
}

void rs_rs485_activity(struct rs_rs485_arbiter *a, uint64_t now_us)
{
    if (now_us > a->idle_since_us)
        a->idle_since_us = now_us;
}

void rs_rs485_frame(struct rs_rs485_arbiter *a, int src)
{
    a->last_src = src >= 0 && src < a->nodes ? src : -1;
}

uint64_t rs_rs485_start_time(const struct rs_rs485_arbiter *a, uint64_t now_us,
                             uint64_t ready_us)
{
    uint64_t origin = a->idle_since_us + a->guard_us;
    uint64_t cycle = (uint64_t)a->nodes * a->slot_us;
    /* Ready after a full silent rotation: nobody else owns this moment. */
    if (ready_us >= origin + cycle)
        return now_us > ready_us ? now_us : ready_us;
    unsigned position = a->last_src < 0
                            ? a->address
                            : (unsigned)(a->address + a->nodes - a->last_src - 1) % a->nodes;
    uint64_t slot = origin + (uint64_t)position * a->slot_us;
    if (slot >= now_us)
        return slot;
    /* Our slot of this rotation has passed: the rotation repeats while the
     * bus stays silent, and we take our slot in the next one. */
    uint64_t cycles = (now_us - slot + cycle - 1) / cycle;
    return slot + cycles * cycle;
}
