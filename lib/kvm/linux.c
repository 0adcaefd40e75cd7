/* rshare kvm — Linux adapters: capture from evdev (exclusive grab, held
 * keys read with EVIOCGKEY after a drop) and injection through uinput as
 * separate keyboard, relative-pointer and absolute-pointer devices.  Plain
 * ioctls, no libevdev: nothing to install on a BMC image.  Every system
 * call goes through struct rs_kvm_sys (linux.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/input.h>
#include <linux/uinput.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "rshare/error.h"

#include "linux.h"
#include "wire.h"

/* --- the real system calls ------------------------------------------------- */

static int sys_open(void *ctx, const char *path, int flags)
{
    (void)ctx;
    return open(path, flags);
}

static int sys_ioctl(void *ctx, int fd, unsigned long request, void *arg)
{
    (void)ctx;
    return ioctl(fd, request, arg);
}

static ssize_t sys_read(void *ctx, int fd, void *buf, size_t len)
{
    (void)ctx;
    return read(fd, buf, len);
}

static ssize_t sys_write(void *ctx, int fd, const void *buf, size_t len)
{
    (void)ctx;
    return write(fd, buf, len);
}

static int sys_close(void *ctx, int fd)
{
    (void)ctx;
    return close(fd);
}

const struct rs_kvm_sys rs_kvm_sys_linux = {sys_open, sys_ioctl, sys_read, sys_write, sys_close,
                                            NULL};

static int sys_error(void)
{
    return errno == ENOENT || errno == ENODEV ? RSHARE_ENOENT : RSHARE_ESYS;
}

/* --- uinput ------------------------------------------------------------------ */

enum { DEV_KEYBOARD, DEV_POINTER, DEV_ABS, DEV_COUNT };

struct rshare_kvm_uinput {
    struct rs_kvm_sys sys;
    int fd[DEV_COUNT];
    bool dirty[DEV_COUNT]; /* events written since its last SYN_REPORT */
    uint64_t dropped;
};

static bool is_pointer_button(uint16_t code)
{
    return code >= BTN_LEFT && code <= BTN_TASK;
}

static bool is_keyboard_key(uint16_t code)
{
    return (code >= KEY_ESC && code < BTN_MISC) || (code >= KEY_OK && code <= KEY_MAX);
}

static int set_bit(struct rshare_kvm_uinput *u, int fd, unsigned long request, int bit)
{
    return u->sys.ioctl(u->sys.ctx, fd, request, (void *)(long)bit);
}

/* Declares one device's events and creates it. */
static int create_device(struct rshare_kvm_uinput *u, int dev, const char *path, const char *name)
{
    static const char *const suffix[DEV_COUNT] = {"keyboard", "pointer", "absolute pointer"};
    int fd = u->sys.open(u->sys.ctx, path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return sys_error();
    u->fd[dev] = fd;
    int bad = set_bit(u, fd, UI_SET_EVBIT, EV_KEY);
    if (dev == DEV_KEYBOARD) {
        for (int c = 0; c <= KEY_MAX; c++)
            if (is_keyboard_key((uint16_t)c))
                bad |= set_bit(u, fd, UI_SET_KEYBIT, c);
    } else {
        /* The absolute pointer declares the buttons too (desktops take a
         * device with axes but no buttons for a joystick); clicks are
         * injected through the relative one. */
        for (int c = BTN_LEFT; c <= BTN_TASK; c++)
            bad |= set_bit(u, fd, UI_SET_KEYBIT, c);
    }
    if (dev == DEV_POINTER) {
        static const int rel[] = {REL_X, REL_Y, REL_HWHEEL, REL_WHEEL, REL_WHEEL_HI_RES,
                                  REL_HWHEEL_HI_RES};
        bad |= set_bit(u, fd, UI_SET_EVBIT, EV_REL);
        for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++)
            bad |= set_bit(u, fd, UI_SET_RELBIT, rel[i]);
    }
    if (dev == DEV_ABS) {
        bad |= set_bit(u, fd, UI_SET_EVBIT, EV_ABS);
        for (int axis = ABS_X; axis <= ABS_Y; axis++) {
            struct uinput_abs_setup abs;
            memset(&abs, 0, sizeof(abs));
            abs.code = (uint16_t)axis;
            abs.absinfo.maximum = RS_KVM_ABS_MAX_VALUE;
            bad |= set_bit(u, fd, UI_SET_ABSBIT, axis);
            bad |= u->sys.ioctl(u->sys.ctx, fd, UI_ABS_SETUP, &abs);
        }
    }
    struct uinput_setup setup;
    memset(&setup, 0, sizeof(setup));
    setup.id.bustype = BUS_VIRTUAL;
    snprintf(setup.name, sizeof(setup.name), "%s %s", name ? name : "rshare", suffix[dev]);
    if (bad < 0 || u->sys.ioctl(u->sys.ctx, fd, UI_DEV_SETUP, &setup) < 0 ||
        u->sys.ioctl(u->sys.ctx, fd, UI_DEV_CREATE, NULL) < 0)
        return RSHARE_ESYS;
    return 0;
}

int rs_kvm_uinput_open_sys(const struct rs_kvm_sys *sys, const char *path, const char *name,
                           rshare_kvm_uinput **out)
{
    if (!sys || !out)
        return RSHARE_EINVAL;
    *out = NULL;
    struct rshare_kvm_uinput *u = calloc(1, sizeof(*u));
    if (!u)
        return RSHARE_ENOMEM;
    u->sys = *sys;
    for (int d = 0; d < DEV_COUNT; d++)
        u->fd[d] = -1;
    for (int d = 0; d < DEV_COUNT; d++) {
        int rc = create_device(u, d, path ? path : "/dev/uinput", name);
        if (rc < 0) {
            rshare_kvm_uinput_close(u);
            return rc;
        }
    }
    *out = u;
    return 0;
}

RSHARE_API int rshare_kvm_uinput_open(const char *path, const char *name, rshare_kvm_uinput **out)
{
    return rs_kvm_uinput_open_sys(&rs_kvm_sys_linux, path, name, out);
}

static void emit(struct rshare_kvm_uinput *u, int dev, uint16_t type, uint16_t code, int32_t value)
{
    struct input_event ev;
    memset(&ev, 0, sizeof(ev)); /* the kernel stamps the time */
    ev.type = type;
    ev.code = code;
    ev.value = value;
    if (u->sys.write(u->sys.ctx, u->fd[dev], &ev, sizeof(ev)) != (ssize_t)sizeof(ev))
        u->dropped++;
}

static int device_of(const struct rshare_kvm_event *ev)
{
    switch (ev->type) {
    case EV_KEY:
        if (is_pointer_button(ev->code))
            return DEV_POINTER;
        return is_keyboard_key(ev->code) ? DEV_KEYBOARD : -1;
    case EV_REL:
        return DEV_POINTER;
    case EV_ABS:
        return ev->code == ABS_X || ev->code == ABS_Y ? DEV_ABS : -1;
    default:
        return -1;
    }
}

RSHARE_API void rshare_kvm_uinput_sink(void *user_data, uint32_t host,
                                       const struct rshare_kvm_event *events, size_t count)
{
    (void)host;
    struct rshare_kvm_uinput *u = user_data;
    if (!u)
        return;
    for (size_t i = 0; i < count; i++) {
        const struct rshare_kvm_event *ev = &events[i];
        if (ev->type == EV_SYN) {
            /* Each device that got events ends its own frame. */
            for (int d = 0; d < DEV_COUNT; d++)
                if (u->dirty[d]) {
                    emit(u, d, EV_SYN, SYN_REPORT, 0);
                    u->dirty[d] = false;
                }
            continue;
        }
        int d = device_of(ev);
        if (d < 0) {
            u->dropped++;
            continue;
        }
        emit(u, d, ev->type, ev->code, ev->value);
        u->dirty[d] = true;
    }
}

RSHARE_API uint64_t rshare_kvm_uinput_dropped(const rshare_kvm_uinput *u)
{
    return u ? u->dropped : 0;
}

RSHARE_API void rshare_kvm_uinput_close(rshare_kvm_uinput *u)
{
    if (!u)
        return;
    for (int d = 0; d < DEV_COUNT; d++) {
        if (u->fd[d] < 0)
            continue;
        u->sys.ioctl(u->sys.ctx, u->fd[d], UI_DEV_DESTROY, NULL);
        u->sys.close(u->sys.ctx, u->fd[d]);
    }
    free(u);
}

/* --- evdev ------------------------------------------------------------------- */

#define EVDEV_BATCH 64
#define EVDEV_MAX_READS 16 /* per pump: one busy device cannot starve the loop */

struct rshare_kvm_evdev {
    struct rs_kvm_sys sys;
    int fd;
    bool grabbed;
    bool dropping; /* after SYN_DROPPED, until the next SYN_REPORT */
    struct input_absinfo abs[ABS_Y + 1]; /* ABS_X, ABS_Y ranges (maximum 0: unknown) */
};

int rs_kvm_evdev_open_sys(const struct rs_kvm_sys *sys, const char *path, int grab,
                          rshare_kvm_evdev **out)
{
    if (!sys || !path || !out)
        return RSHARE_EINVAL;
    *out = NULL;
    struct rshare_kvm_evdev *e = calloc(1, sizeof(*e));
    if (!e)
        return RSHARE_ENOMEM;
    e->sys = *sys;
    e->fd = sys->open(sys->ctx, path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (e->fd < 0) {
        int rc = sys_error();
        free(e);
        return rc;
    }
    if (grab && sys->ioctl(sys->ctx, e->fd, EVIOCGRAB, (void *)1L) < 0) {
        rshare_kvm_evdev_close(e);
        return RSHARE_ESYS;
    }
    e->grabbed = grab != 0;
    for (int axis = ABS_X; axis <= ABS_Y; axis++)
        if (sys->ioctl(sys->ctx, e->fd, EVIOCGABS(axis), &e->abs[axis]) < 0)
            memset(&e->abs[axis], 0, sizeof(e->abs[axis]));
    *out = e;
    return 0;
}

RSHARE_API int rshare_kvm_evdev_open(const char *path, int grab, rshare_kvm_evdev **out)
{
    return rs_kvm_evdev_open_sys(&rs_kvm_sys_linux, path, grab, out);
}

RSHARE_API int rshare_kvm_evdev_fd(const rshare_kvm_evdev *e)
{
    return e ? e->fd : -1;
}

/* The device's range mapped onto 0..32767; values outside are clamped. */
static int32_t scale_abs(const rshare_kvm_evdev *e, uint16_t code, int32_t value)
{
    int64_t lo = 0, hi = RS_KVM_ABS_MAX_VALUE;
    if (code <= ABS_Y && e->abs[code].maximum > e->abs[code].minimum) {
        lo = e->abs[code].minimum;
        hi = e->abs[code].maximum;
    }
    int64_t v = value < lo ? lo : value > hi ? hi : value;
    return (int32_t)((v - lo) * RS_KVM_ABS_MAX_VALUE / (hi - lo));
}

static int resync(rshare_kvm_evdev *e, rshare_kvm *kvm)
{
    uint8_t bytes[RS_KVM_WIRE_KEYBYTES];
    memset(bytes, 0, sizeof(bytes));
    if (e->sys.ioctl(e->sys.ctx, e->fd, EVIOCGKEY(sizeof(bytes)), bytes) < 0)
        return RSHARE_ESYS;
    struct rs_kvm_keyset held;
    memset(&held, 0, sizeof(held));
    for (size_t i = 0; i < sizeof(bytes); i++)
        held.bits[i / 8] |= (uint64_t)bytes[i] << (8 * (i % 8));
    return rs_kvm_host_resync(kvm, &held);
}

RSHARE_API int rshare_kvm_evdev_pump(rshare_kvm_evdev *e, rshare_kvm *kvm)
{
    if (!e || !kvm)
        return RSHARE_EINVAL;
    int total = 0;
    struct input_event batch[EVDEV_BATCH];
    for (int reads = 0; reads < EVDEV_MAX_READS; reads++) {
        ssize_t n = e->sys.read(e->sys.ctx, e->fd, batch, sizeof(batch));
        if (n < 0)
            return errno == EAGAIN || errno == EINTR ? total : sys_error();
        if (n == 0 || n % (ssize_t)sizeof(batch[0]))
            return n == 0 ? total : RSHARE_EPROTO;
        size_t count = (size_t)n / sizeof(batch[0]);
        for (size_t i = 0; i < count; i++) {
            const struct input_event *ev = &batch[i];
            total++;
            if (ev->type == EV_SYN && ev->code == SYN_DROPPED) {
                e->dropping = true;
                continue;
            }
            if (e->dropping) {
                /* The kernel lost events: skip to the next report, then ask
                 * which keys are really held. */
                if (ev->type == EV_SYN && ev->code == SYN_REPORT) {
                    e->dropping = false;
                    int rc = resync(e, kvm);
                    if (rc < 0)
                        return rc;
                }
                continue;
            }
            int32_t value = ev->value;
            if (ev->type == EV_ABS)
                value = scale_abs(e, ev->code, value);
            /* Refused events are counted by the handle; the rest go on. */
            (void)rshare_kvm_input(kvm, ev->type, ev->code, value);
        }
        if (count < EVDEV_BATCH)
            break;
    }
    return total;
}

RSHARE_API void rshare_kvm_evdev_close(rshare_kvm_evdev *e)
{
    if (!e)
        return;
    if (e->grabbed)
        e->sys.ioctl(e->sys.ctx, e->fd, EVIOCGRAB, (void *)0L);
    e->sys.close(e->sys.ctx, e->fd);
    free(e);
}
