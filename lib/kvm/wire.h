/* rshare kvm — the KVM messages on the wire (doc/PROTOCOL.md, "KVM input"):
 * INPUT frames and key-state SYNCs from the host to a target, REPORTs from a
 * target to its host.  They are internal message types of lib/msg with raw
 * CBOR bodies.  The decoders are the only place that reads these bodies and
 * bound everything: element counts, codes, values, lengths. */
#ifndef RSHARE_KVM_WIRE_H
#define RSHARE_KVM_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "keystate.h"

enum rs_kvm_msg {
    RS_MSG_KVM_INPUT = 0x0020,  /* notification, host -> target: one frame */
    RS_MSG_KVM_SYNC = 0x0021,   /* notification, host -> target: the keys it should hold */
    RS_MSG_KVM_REPORT = 0x0022  /* notification, target -> host: alive, its LEDs */
};

#define RS_KVM_WIRE_VERSION 1
/* Events in one INPUT message; longer frames (release-all) are split. */
#define RS_KVM_WIRE_EVENTS_MAX 128
/* Largest absolute pointer coordinate. */
#define RS_KVM_ABS_MAX_VALUE 32767
/* Bytes of the pressed-key bitmap in a SYNC. */
#define RS_KVM_WIRE_KEYBYTES (RS_KVM_KEY_COUNT / 8)
/* Room for the largest encoded body of any of the three. */
#define RS_KVM_WIRE_BODY_MAX (16 + 3 * 9 + 3 + RS_KVM_WIRE_EVENTS_MAX * 9)
/* LED bits a REPORT carries (Num, Caps, Scroll as 1 << LED_*). */
#define RS_KVM_WIRE_LEDS 0x7u
/* Elements a newer peer may append to a message (ignored). */
#define RS_KVM_WIRE_ELEMENTS_MAX 16

struct rs_kvm_input {
    uint64_t session; /* the host handle's random session, never 0 */
    uint64_t seq;     /* per session and target, from 1 */
    uint32_t count;   /* 1 .. RS_KVM_WIRE_EVENTS_MAX, the last one SYN_REPORT */
    struct rs_kvm_event events[RS_KVM_WIRE_EVENTS_MAX];
};

struct rs_kvm_sync {
    uint64_t session;
    uint64_t seq; /* the last INPUT sent to this target before this sync */
    struct rs_kvm_keyset pressed;
};

struct rs_kvm_report {
    uint64_t session; /* the target handle's session: a new one means it restarted */
    uint32_t leds;    /* RS_KVM_LED_* bits (Num, Caps, Scroll) */
};

/* Encoders return the body length, or 0 when `cap` is too small or the
 * content may not travel. */
size_t rs_kvm_wire_input_encode(const struct rs_kvm_input *in, uint8_t *buf, size_t cap);
size_t rs_kvm_wire_sync_encode(const struct rs_kvm_sync *s, uint8_t *buf, size_t cap);
size_t rs_kvm_wire_report_encode(const struct rs_kvm_report *r, uint8_t *buf, size_t cap);

/* Decoders: 0, RSHARE_EPROTO for malformed CBOR or shapes, RSHARE_EVERSION
 * for another version, RSHARE_EINVAL for events that may not travel
 * (unknown types, codes out of range, autorepeat, a frame not ending with
 * SYN_REPORT, absolute values outside 0..32767). */
int rs_kvm_wire_input_decode(const uint8_t *buf, size_t len, struct rs_kvm_input *out);
int rs_kvm_wire_sync_decode(const uint8_t *buf, size_t len, struct rs_kvm_sync *out);
int rs_kvm_wire_report_decode(const uint8_t *buf, size_t len, struct rs_kvm_report *out);

/* Whether one event may travel to a target (see the decoder). */
int rs_kvm_wire_event_check(const struct rs_kvm_event *ev);

#endif
