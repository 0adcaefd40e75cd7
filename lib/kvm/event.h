/* rshare kvm — one input event as the router sees it: an evdev (type, code,
 * value) triple without the kernel's timestamp.  struct input_event is not
 * used because its size differs between 32- and 64-bit hosts and it carries
 * a wall-clock time that means nothing on another node. */
#ifndef RSHARE_KVM_EVENT_H
#define RSHARE_KVM_EVENT_H

#include <stdint.h>

struct rs_kvm_event {
    uint16_t type;  /* EV_KEY, EV_REL, EV_ABS, EV_SYN */
    uint16_t code;  /* KEY_*, BTN_*, REL_*, ABS_*, SYN_REPORT */
    int32_t value;  /* EV_KEY: 0 release, 1 press (2, autorepeat, never leaves the host) */
};

#endif
