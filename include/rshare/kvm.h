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
 * usages.  Video (a display source on a node, a sink on the display host)
 * is at the end. */
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
    uint32_t host;               /* the only node whose input is accepted (see `console`) */
    uint32_t report_ms;          /* how often the target reports to the host; default 200 */
    uint32_t release_timeout_ms; /* hearing nothing from the host for this long while
                                    keys are held releases them; default 500 */
    rshare_kvm_sink_fn sink;     /* required with the target role */
    void *sink_data;

    /* --- focus as a lease (doc/KVM.md, "Focus as a lease") ---------------- */
    /* Host: per target, parallel to `targets`, the resource whose exclusive
     * lease the host takes while that target has focus (the target's
     * console: its display resource), renewed while focus stays and given
     * back when it leaves; 0 for a target that is not leased.  NULL: none.
     * Needs access management (a cluster key). */
    const uint64_t *consoles;
    uint32_t lease_ms;           /* a focus lease's lifetime; default 3000 */
    uint32_t reserved_;
    /* Target: accept input only from the holder of the exclusive lease on
     * this resource in this node's map (`host` is then not used); when the
     * holder changes, every key the previous one pressed is released.
     * 0: `host` decides. */
    uint64_t console;
};

/* Zero `config` and set its struct_size (pass sizeof(*config)): every field
 * not set afterwards takes its default. */
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
/* Lock the focus where it is (non-zero) or unlock it: while locked,
 * switching chords are swallowed and do nothing, rshare_kvm_focus_set()
 * is refused.  0, or RSHARE_EINVAL without the host role. */
RSHARE_API int rshare_kvm_lock(rshare_kvm *kvm, int locked);
/* 1 while the focus is locked, 0 otherwise. */
RSHARE_API int rshare_kvm_locked(const rshare_kvm *kvm);
/* Whether the host hears from `target` (it reported and was not lost). */
RSHARE_API int rshare_kvm_target_up(const rshare_kvm *kvm, uint32_t target);

/* --- screen layout and edges ------------------------------------------------
 * Each target's display is a rectangle of one layout, in pixels with y
 * growing downwards: node 3's display at x = 1920 is to the right of node
 * 2's 1920x1080 one.  The host follows the pointer on the focused display
 * and scales relative motion for it.  With `edges`, pushing the pointer
 * past a side of the focused display that borders another display moves
 * focus there, as a hotkey would (release-all on the node left, held keys
 * suppressed), and warps the pointer (EV_ABS) to the same point of the
 * layout.  See doc/KVM.md, "Screen edges". */
struct rshare_kvm_display {
    uint32_t node;          /* one of the targets */
    int32_t x, y;           /* top-left corner in the layout, -2^24 .. 2^24 */
    uint32_t width, height; /* pixels, 1 .. 32768 */
    uint32_t scale_milli;   /* relative motion times scale_milli / 1000 (1 .. 1000000) on
                               both axes; 0 = width / host_width and height / host_height,
                               or 1:1 when the host's size is not given */
    uint32_t flags;         /* RSHARE_KVM_DISPLAY_* */
    uint32_t reserved_;     /* 0 */
};
/* Send this target the pointer the host follows as absolute positions
 * (EV_ABS 0..32767) instead of relative motion: the target's own pointer
 * acceleration no longer applies, and the host always knows where its
 * pointer is. */
#define RSHARE_KVM_DISPLAY_ABSOLUTE 0x1u

/* Initialise with rshare_kvm_layout_config_init(); fields are only ever
 * appended. */
struct rshare_kvm_layout_config {
    uint32_t struct_size;
    uint32_t display_count;                    /* 0: no layout (motion unscaled) */
    const struct rshare_kvm_display *displays; /* copied */
    uint32_t host_width, host_height; /* pixels of the picture the host's user points at
                                         (its monitor); 0: unknown */
    uint32_t edges;         /* non-zero: switch focus by screen edge */
    uint32_t delay_ms;      /* confirm by pushing against the edge this long (0: no) */
    uint32_t double_tap_ms; /* or by hitting it twice within this (0: no); neither: the
                               first push switches */
    uint32_t corner_px;     /* this many pixels at each end of a side never switch */
    uint32_t mods;          /* RSHARE_KVM_MOD_* that must be held to switch (0: none) */
};

/* Zero `config` and set its struct_size (pass sizeof(*config)): every field
 * not set afterwards takes its default. */
RSHARE_API void rshare_kvm_layout_config_init(struct rshare_kvm_layout_config *config,
                                              size_t struct_size);
/* Install (or replace) the host's screen layout; NULL or no displays
 * removes it.  Pointers start in the middle of their displays.  RSHARE_EINVAL
 * without the host role, for a node that is not a target or appears twice,
 * for sizes, positions or guards out of bounds and for displays that
 * overlap, RSHARE_EVERSION for a struct_size below this version's; the
 * previous layout stays then. */
RSHARE_API int rshare_kvm_set_layout(rshare_kvm *kvm,
                                     const struct rshare_kvm_layout_config *config);
/* Where the host believes the pointer is on the focused display (pixels).
 * RSHARE_ENOENT when the focused target has no display in the layout. */
RSHARE_API int rshare_kvm_pointer(const rshare_kvm *kvm, uint32_t *x, uint32_t *y);

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
    /* host, appended */
    uint64_t edge_switches;    /* focus changes by screen edge (also in switches) */
    uint64_t leases_refused;   /* focus leases another host held (tried again) */
    /* target, appended */
    uint64_t not_holder;       /* input from a node not holding the console lease: refused */
    uint64_t holder_changes;   /* the console lease moved to another host */
};

/* The handle's counters (the caller's struct_size says how many it knows). */
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

/* Destroy the injector's devices (releasing what they held).  Accepts NULL. */
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

/* --- video -----------------------------------------------------------------
 * A display source on a node and a display sink on the host that drives the
 * monitor (doc/KVM.md, "Video").  The sink asks for the next frame when it
 * has consumed the last one, so a slow display or link is never flooded:
 * meanwhile the source merges the damage.  Only tiles that changed since the
 * last frame sent travel, run-length coded.  Graphics go only over
 * transports that declare RSHARE_TRANSPORT_CAP_BULK (UDP, loop); over
 * serial or SMBus a text source (character cells) is served instead.
 * Everything runs from the node's event loop.  Fields of the structs are
 * only ever appended. */
typedef struct rshare_video_source rshare_video_source;
typedef struct rshare_video_sink rshare_video_sink;

/* Pixel formats: rshare moves their bytes (little-endian, as a Linux
 * framebuffer holds them) and knows only their size. */
#define RSHARE_VIDEO_FORMAT_XRGB8888 1 /* 4 bytes per pixel */
#define RSHARE_VIDEO_FORMAT_RGB565 2   /* 2 bytes */
#define RSHARE_VIDEO_FORMAT_GRAY8 3    /* 1 byte */
#define RSHARE_VIDEO_FORMAT_TEXT 4     /* struct rshare_video_cell: a text console */

#define RSHARE_VIDEO_MAX_WIDTH 8192  /* pixels or columns */
#define RSHARE_VIDEO_MAX_HEIGHT 8192 /* pixels or rows */
#define RSHARE_VIDEO_MAX_IN_FLIGHT 8

/* One character cell of a text console (8 bytes, travels as they are). */
struct rshare_video_cell {
    uint32_t ch; /* Unicode code point */
    uint8_t fg, bg;
    uint8_t attr; /* RSHARE_VIDEO_ATTR_* */
    uint8_t reserved_;
};
#define RSHARE_VIDEO_ATTR_BOLD 0x1u
#define RSHARE_VIDEO_ATTR_UNDERLINE 0x2u
#define RSHARE_VIDEO_ATTR_BLINK 0x4u
#define RSHARE_VIDEO_ATTR_REVERSE 0x8u
#define RSHARE_VIDEO_ATTR_CURSOR 0x10u

enum rshare_video_input {
    RSHARE_VIDEO_INPUT_MEMORY = 1, /* `memory`, read whenever a frame is due */
    RSHARE_VIDEO_INPUT_FILE = 2,   /* `path` (a file or /dev/fb0), pread at `offset` */
    RSHARE_VIDEO_INPUT_PUSH = 3    /* frames given with rshare_video_source_push() */
};

struct rshare_video_source_config {
    uint32_t struct_size;
    uint32_t input;  /* enum rshare_video_input */
    uint32_t format; /* RSHARE_VIDEO_FORMAT_*; TEXT makes a text source */
    uint32_t width, height; /* pixels, or columns and rows */
    uint32_t stride;        /* bytes from one line to the next; 0 = width * pixel size */
    const void *memory;     /* MEMORY: the framebuffer (width/height/stride), kept */
    const char *path;       /* FILE: copied */
    uint64_t offset;        /* FILE: of the first line */
    uint32_t sink;          /* the only node whose requests are served */
    uint32_t tile;          /* tile side in pixels, 8..256; 0 = 64 */
    uint32_t max_fps;       /* frames started at most this often; 0 = 60 */
    uint32_t idle_ms;       /* a request with nothing new is answered empty after
                               this long (it must not time out); 0 = 1000 */
};

/* Zero `config` and set its struct_size (pass sizeof(*config)): every field
 * not set afterwards takes its default. */
RSHARE_API void rshare_video_source_config_init(struct rshare_video_source_config *config,
                                                size_t struct_size);
/* At most one graphics and one text source per node.  RSHARE_EINVAL for a
 * bad configuration, RSHARE_ENOENT when `path` does not exist, RSHARE_EBUSY
 * when the node already has a source of that kind. */
RSHARE_API int rshare_video_source_create(rshare_node *node,
                                          const struct rshare_video_source_config *config,
                                          rshare_video_source **out);
/* PUSH: a new frame (width x height of the configured format, `stride`
 * bytes per line, 0 = packed), copied.  A frame pushed before the previous
 * one was sent replaces it (counted in frames_merged). */
RSHARE_API int rshare_video_source_push(rshare_video_source *src, const void *pixels,
                                        size_t stride);

/* Stop serving frames and free the source.  Accepts NULL. */
RSHARE_API void rshare_video_source_destroy(rshare_video_source *src);

struct rshare_video_rect {
    uint32_t x, y, width, height;
};

/* A complete frame at the sink.  `pixels` is the sink's whole image (valid
 * until the next frame is applied: with `manual`, until
 * rshare_video_sink_next()), `damage` what changed since the last one. */
struct rshare_video_frame {
    uint32_t format, width, height, stride;
    const void *pixels;
    const struct rshare_video_rect *damage;
    size_t damage_count;
    int key; /* the image was rebuilt from scratch */
};
typedef void (*rshare_video_frame_fn)(void *user_data, uint32_t source,
                                      const struct rshare_video_frame *frame);

#define RSHARE_VIDEO_WANT_ANY 0      /* graphics if the link carries bulk data, else text */
#define RSHARE_VIDEO_WANT_GRAPHICS 1
#define RSHARE_VIDEO_WANT_TEXT 2

struct rshare_video_sink_config {
    uint32_t struct_size;
    uint32_t source; /* node id */
    uint32_t want;   /* RSHARE_VIDEO_WANT_* */
    uint32_t frames_in_flight; /* requests outstanding at once, 1..8; 0 = 1 */
    int manual; /* non-zero: after each frame, wait for rshare_video_sink_next() */
    rshare_video_frame_fn on_frame; /* required */
    void *frame_data;
    uint32_t max_width, max_height; /* larger sources are refused; 0 = 8192 */
    uint32_t retry_ms;              /* after a refused or failed request; 0 = 1000 */
};

/* Zero `config` and set its struct_size (pass sizeof(*config)): every field
 * not set afterwards takes its default. */
RSHARE_API void rshare_video_sink_config_init(struct rshare_video_sink_config *config,
                                              size_t struct_size);
/* Starts asking at once.  Destroy it before its node. */
RSHARE_API int rshare_video_sink_create(rshare_node *node,
                                        const struct rshare_video_sink_config *config,
                                        rshare_video_sink **out);
/* `manual`: the last frame is consumed, ask for the next. */
RSHARE_API int rshare_video_sink_next(rshare_video_sink *sink);

/* Stop asking and free the sink.  Accepts NULL. */
RSHARE_API void rshare_video_sink_destroy(rshare_video_sink *sink);

/* Counters only ever grow.  A source fills the first part, a sink the
 * second; fps_milli and bytes_per_frame are computed for either. */
struct rshare_video_stats {
    uint32_t struct_size;
    uint32_t reserved_;
    /* source */
    uint64_t frames_sent;   /* complete frames */
    uint64_t parts_sent;    /* answers (a frame above the message limit takes several) */
    uint64_t tiles_sent;
    uint64_t bytes_sent;    /* answer bodies, idle answers included */
    uint64_t raw_bytes;     /* what the tiles sent would have cost raw */
    uint64_t frames_merged; /* pushed frames replaced before they were sent */
    uint64_t key_frames;
    uint64_t idle_answers;  /* nothing changed within idle_ms */
    uint64_t refused;       /* requests from another node, graphics over a slow link,
                               malformed, too many waiting */
    /* sink */
    uint64_t frames_shown;
    uint64_t parts_received;
    uint64_t tiles_received;
    uint64_t bytes_received;
    uint64_t parts_dropped; /* stale stream, out of order beyond the window */
    uint64_t bad_parts;     /* malformed, inconsistent or corrupt tiles: refused */
    uint64_t resets;        /* a new stream asked for (key frame) */
    uint64_t failed;        /* requests refused or failed by the network */
    uint32_t max_in_flight; /* most requests ever outstanding */
    uint32_t reserved2_;
    /* computed */
    uint64_t fps_milli;       /* frames per 1000 s over the last second (source: sent,
                                 sink: shown) */
    uint64_t bytes_per_frame; /* average since start */
};

/* A source's or a sink's counters (`struct_size`: the caller's
 * sizeof(struct rshare_video_stats); older callers get the fields they know). */
RSHARE_API int rshare_video_source_stats(const rshare_video_source *src,
                                         struct rshare_video_stats *stats, size_t struct_size);
RSHARE_API int rshare_video_sink_stats(const rshare_video_sink *sink,
                                       struct rshare_video_stats *stats, size_t struct_size);

#ifdef __cplusplus
}
#endif
#endif
