/* rshare — KVM input routing: the keyboard and mouse of one node (the host)
 * drive whichever node has focus (a target).  On the host, the application
 * feeds evdev events (type, code, value) captured from its devices; the
 * router decides what each target receives, so that no key or button ever
 * stays down on any node (doc/KVM.md).  On a target, frames of events arrive
 * through a sink callback (or the uinput injector, rshare_kvm_uinput_*).
 *
 * A handle registers its own message handlers on the node; at most one
 * handle per node and role.  Everything runs from the node's event loop:
 * no threads.  Key codes are Linux evdev codes (KEY_*, BTN_*), physical
 * keys, never characters; rshare_kvm_evdev_to_hid() maps them to USB HID
 * usages. */
#ifndef RSHARE_KVM_H
#define RSHARE_KVM_H

#include <rshare/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One KVM router (host) and/or injection endpoint (target) on a node. */
typedef struct rshare_kvm rshare_kvm;

#define RSHARE_KVM_MAX_TARGETS 16
#define RSHARE_KVM_MAX_HOTKEYS 16

/* Roles (bits of rshare_kvm_config.roles). */
#define RSHARE_KVM_ROLE_HOST 0x1u   /* owns the physical keyboard and mouse */
#define RSHARE_KVM_ROLE_TARGET 0x2u /* receives input from `host` */

/* LED bits as reported by targets and kept by the host: 1 << LED_NUML, ... */
#define RSHARE_KVM_LED_NUM 0x1u
#define RSHARE_KVM_LED_CAPS 0x2u
#define RSHARE_KVM_LED_SCROLL 0x4u

/* One input event without the kernel's timestamp (struct input_event differs
 * between 32- and 64-bit hosts and never travels). */
struct rshare_kvm_event {
    uint16_t type;  /* EV_SYN, EV_KEY, EV_REL, EV_ABS (host also: EV_MSC, EV_LED, dropped) */
    uint16_t code;
    int32_t value;  /* EV_KEY: 0 release, 1 press, 2 autorepeat (host only, never forwarded);
                       EV_ABS: 0 .. 32767 */
};

/* Hotkey modifiers (either side counts). */
#define RSHARE_KVM_MOD_CTRL 0x1u
#define RSHARE_KVM_MOD_SHIFT 0x2u
#define RSHARE_KVM_MOD_ALT 0x4u
#define RSHARE_KVM_MOD_META 0x8u

enum rshare_kvm_hotkey_kind {
    RSHARE_KVM_HOTKEY_COMBO = 1,     /* exactly `mods` held while `key` is pressed */
    RSHARE_KVM_HOTKEY_DOUBLE_TAP = 2 /* `key` pressed twice within `window_ms` */
};

enum rshare_kvm_action {
    RSHARE_KVM_ACTION_NEXT = 1,       /* focus the next target that is up */
    RSHARE_KVM_ACTION_JUMP = 2,       /* focus the node `target` */
    RSHARE_KVM_ACTION_LOCK = 3,       /* keep focus where it is */
    RSHARE_KVM_ACTION_UNLOCK = 4,
    RSHARE_KVM_ACTION_LOCK_TOGGLE = 5
};

/* A focus hotkey.  Its keys never reach any node. */
struct rshare_kvm_hotkey {
    uint32_t kind;      /* enum rshare_kvm_hotkey_kind */
    uint32_t mods;      /* COMBO: RSHARE_KVM_MOD_* */
    uint32_t key;       /* evdev KEY_* code: COMBO trigger (not a modifier), or the tapped key */
    uint32_t window_ms; /* how long a possible chord is held back; 0 = 500 */
    uint32_t action;    /* enum rshare_kvm_action */
    uint32_t target;    /* JUMP: node id, one of the configured targets */
};

/* Target side: one frame (events ending with EV_SYN/SYN_REPORT) to inject.
 * `host` is the node it came from. */
typedef void (*rshare_kvm_sink_fn)(void *user_data, uint32_t host,
                                   const struct rshare_kvm_event *events, size_t count);
/* Host side: focus moved or was locked or unlocked (by hotkey or API). */
typedef void (*rshare_kvm_focus_fn)(void *user_data, uint32_t target, int locked);

/* Initialise with rshare_kvm_config_init(); fields are only ever appended. */
struct rshare_kvm_config {
    uint32_t struct_size;
    uint32_t roles; /* RSHARE_KVM_ROLE_* */

    /* --- host ------------------------------------------------------------ */
    const uint32_t *targets;  /* node ids, 1..RSHARE_KVM_MAX_TARGETS, copied; focus
                                 starts on targets[0] */
    uint32_t target_count;
    const struct rshare_kvm_hotkey *hotkeys; /* copied */
    uint32_t hotkey_count;
    uint32_t sync_ms;           /* full key-state sync to a target while it holds keys
                                   and for a while after its last frame; default 20 */
    uint32_t target_timeout_ms; /* a target not heard from for this long is lost (its
                                   keys released); default 1000 */
    rshare_kvm_focus_fn on_focus;
    void *focus_data;

    /* --- target ---------------------------------------------------------- */
    uint32_t host;               /* the only node whose input is accepted */
    uint32_t report_ms;          /* how often the target reports to the host; default 200 */
    uint32_t release_timeout_ms; /* hearing nothing from the host for this long while
                                    keys are held releases them; default 500 */
    rshare_kvm_sink_fn sink;     /* required with the target role */
    void *sink_data;
};

RSHARE_API void rshare_kvm_config_init(struct rshare_kvm_config *config, size_t struct_size);

/* Create a KVM handle on `node`.  RSHARE_EINVAL for a bad configuration,
 * RSHARE_EBUSY when another handle already has one of these roles there. */
RSHARE_API int rshare_kvm_create(rshare_node *node, const struct rshare_kvm_config *config,
                                 rshare_kvm **kvm_out);
/* Releases every key and button this handle pressed anywhere (host: on
 * every target, as far as the network carries it; target: locally through
 * the sink), then frees it.  Destroy it before its node.  Accepts NULL. */
RSHARE_API void rshare_kvm_destroy(rshare_kvm *kvm);

/* --- host ----------------------------------------------------------------- */

/* One event from the host's devices, in capture order; a frame ends with
 * EV_SYN/SYN_REPORT.  RSHARE_EINVAL (and counted) for unknown types and
 * out-of-range codes or values; autorepeat, EV_MSC and EV_LED are dropped. */
RSHARE_API int rshare_kvm_input(rshare_kvm *kvm, uint16_t type, uint16_t code, int32_t value);
/* Several events at once (stops at the first refused one). */
RSHARE_API int rshare_kvm_input_events(rshare_kvm *kvm, const struct rshare_kvm_event *events,
                                       size_t count);

/* Focus by API.  RSHARE_ENOENT for a node that is not a target,
 * RSHARE_EBUSY while focus is locked. */
RSHARE_API int rshare_kvm_focus_set(rshare_kvm *kvm, uint32_t target);
/* The next target that is up, after the focused one. */
RSHARE_API int rshare_kvm_focus_next(rshare_kvm *kvm);
/* The focused node id (0 without the host role). */
RSHARE_API uint32_t rshare_kvm_focus(const rshare_kvm *kvm);
RSHARE_API int rshare_kvm_lock(rshare_kvm *kvm, int locked);
RSHARE_API int rshare_kvm_locked(const rshare_kvm *kvm);
/* Whether the host hears from `target` (it reported and was not lost). */
RSHARE_API int rshare_kvm_target_up(const rshare_kvm *kvm, uint32_t target);

/* The lock state that follows the user (RSHARE_KVM_LED_*): set it from the
 * physical keyboard at start, show rshare_kvm_host_leds() on it afterwards. */
RSHARE_API int rshare_kvm_set_host_leds(rshare_kvm *kvm, uint32_t leds);
RSHARE_API uint32_t rshare_kvm_host_leds(const rshare_kvm *kvm);

/* --- target --------------------------------------------------------------- */

/* The target's own LED state (RSHARE_KVM_LED_*), sent to the host at once. */
RSHARE_API int rshare_kvm_report_leds(rshare_kvm *kvm, uint32_t leds);
/* Whether this target has injected `code` as pressed and not yet released
 * (its recorded key state), and how many keys and buttons are down. */
RSHARE_API int rshare_kvm_pressed(const rshare_kvm *kvm, uint16_t code);
RSHARE_API size_t rshare_kvm_pressed_count(const rshare_kvm *kvm);
/* Release everything this target injected (idempotent). */
RSHARE_API int rshare_kvm_release_all(rshare_kvm *kvm);

/* --- statistics ------------------------------------------------------------
 * Counters only ever grow.  Fields are only ever appended. */
struct rshare_kvm_stats {
    uint32_t struct_size;
    uint32_t reserved_;
    /* host */
    uint64_t events_in;        /* accepted from the devices */
    uint64_t refused;          /* unknown types, out-of-range codes or values */
    uint64_t repeats_dropped;  /* autorepeat never leaves the host */
    uint64_t hotkeys;          /* chords that fired */
    uint64_t switches;         /* focus changes */
    uint64_t frames_sent;      /* input messages sent */
    uint64_t syncs_sent;       /* key-state syncs sent */
    uint64_t send_failed;      /* messages the link refused (the next sync repairs) */
    uint64_t targets_lost;     /* silent, down in the cluster, or restarted */
    /* target */
    uint64_t frames_received;  /* frames injected */
    uint64_t frames_stale;     /* older than one already applied: dropped */
    uint64_t frames_gap;       /* frames arriving after a lost one */
    uint64_t bad_messages;     /* malformed or from another node than `host`: refused */
    uint64_t sync_releases;    /* keys released because a sync showed them up */
    uint64_t release_alls;     /* host silent, down, restarted; destroy; API */
};

RSHARE_API int rshare_kvm_stats(const rshare_kvm *kvm, struct rshare_kvm_stats *stats,
                                size_t struct_size);

/* --- Linux adapters ----------------------------------------------------------
 * Built on every Linux build (no library needed: the evdev and uinput
 * ioctls).  Errors: RSHARE_ENOENT when the device node does not exist,
 * RSHARE_ESYS (errno kept) for other system errors. */

/* Injection through uinput (`path` NULL: /dev/uinput) as three devices: a
 * keyboard (KEY_* codes), a relative pointer (BTN_LEFT .. BTN_TASK, motion,
 * wheels including the 1/120-detent ones) and an absolute pointer
 * (ABS_X/ABS_Y 0..32767).  Give rshare_kvm_uinput_sink as a target's sink
 * with the injector as sink_data.  Closing destroys the devices, which
 * releases whatever they still held. */
typedef struct rshare_kvm_uinput rshare_kvm_uinput;
RSHARE_API int rshare_kvm_uinput_open(const char *path, const char *name,
                                      rshare_kvm_uinput **out);
RSHARE_API void rshare_kvm_uinput_sink(void *user_data, uint32_t host,
                                       const struct rshare_kvm_event *events, size_t count);
/* Events the injector could not place (other buttons, axes, failed writes). */
RSHARE_API uint64_t rshare_kvm_uinput_dropped(const rshare_kvm_uinput *u);
RSHARE_API void rshare_kvm_uinput_close(rshare_kvm_uinput *u);

/* Capture from an evdev node (/dev/input/eventN), with an exclusive grab
 * (EVIOCGRAB) when `grab` is non-zero so that the host's own desktop does
 * not see the input.  Poll rshare_kvm_evdev_fd() and call
 * rshare_kvm_evdev_pump() when it is readable: it feeds what is pending to
 * the host handle `kvm` (absolute axes scaled to 0..32767) and returns the
 * number of events read.  After SYN_DROPPED it reads the held keys
 * (EVIOCGKEY) and releases on the focused target what was let go during
 * the drop. */
typedef struct rshare_kvm_evdev rshare_kvm_evdev;
RSHARE_API int rshare_kvm_evdev_open(const char *path, int grab, rshare_kvm_evdev **out);
RSHARE_API int rshare_kvm_evdev_fd(const rshare_kvm_evdev *e);
RSHARE_API int rshare_kvm_evdev_pump(rshare_kvm_evdev *e, rshare_kvm *kvm);
RSHARE_API void rshare_kvm_evdev_close(rshare_kvm_evdev *e);

/* --- USB HID ----------------------------------------------------------------
 * Usages are (page << 16) | id: the keyboard page 0x07 for keys, the button
 * page 0x09 for mouse buttons.  The table is in doc/KVM.md.  0 when a code
 * or usage has no counterpart. */
RSHARE_API uint32_t rshare_kvm_evdev_to_hid(uint16_t code);
RSHARE_API uint16_t rshare_kvm_hid_to_evdev(uint32_t usage);

#ifdef __cplusplus
}
#endif
#endif
