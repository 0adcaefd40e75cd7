/* rshare transports — taking turns on an RS-485 multi-drop bus (internal):
 * when may this node start sending, given what it heard.  Pure arithmetic
 * on the node's clock; serial.c feeds it the bus activity it observes.
 *
 * The rule (doc/TRANSPORTS.md has the reasoning): after the bus has been
 * silent for `guard_us` following a frame from node L, the drop addresses
 * take slots of `slot_us` in rotation starting after L, so the node that
 * just sent goes last and no two nodes ever own the same instant.  A node
 * that gets something to send after a whole silent rotation may start at
 * once: on a quiet bus a key press costs no waiting.  If the last frame was
 * damaged (L unknown) the rotation starts at address 0. */
#ifndef RSHARE_TRANSPORTS_RS485_H
#define RSHARE_TRANSPORTS_RS485_H

#include <stdint.h>

struct rs_rs485_arbiter {
    uint16_t nodes;          /* drop addresses in the rotation */
    uint8_t address;         /* ours, < nodes */
    uint32_t guard_us;
    uint32_t slot_us;
    uint64_t idle_since_us;  /* end of the last activity heard or sent */
    int last_src;            /* sender of the last intact frame, -1 unknown */
};

void rs_rs485_init(struct rs_rs485_arbiter *a, uint16_t nodes, uint8_t address,
                   uint32_t guard_us, uint32_t slot_us);
/* Bytes were on the bus (heard, or ours leaving) at `now_us`. */
void rs_rs485_activity(struct rs_rs485_arbiter *a, uint64_t now_us);
/* A frame ended: its sender, or -1 when it was damaged. */
void rs_rs485_frame(struct rs_rs485_arbiter *a, int src);
/* Earliest time >= now_us at which we may start, having had something to
 * send since `ready_us`. */
uint64_t rs_rs485_start_time(const struct rs_rs485_arbiter *a, uint64_t now_us,
                             uint64_t ready_us);

#endif
