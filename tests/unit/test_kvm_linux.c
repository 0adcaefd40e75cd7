/* Unit tests: the Linux KVM adapters (lib/kvm/linux.c) over a recording
 * fake of the system calls — the same code that drives /dev/uinput and
 * /dev/input/event* — and, where those nodes exist and may be opened, over
 * the real ones (skipped cleanly otherwise). */
#include "config.h"

#include "testutil.h"

#include <errno.h>
#include <linux/input.h>
#include <linux/uinput.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kvm/linux.h"
#include "rshare/rshare.h"

/* --- the fake ----------------------------------------------------------------- */

#define FAKE_FDS 8

struct fake {
    int opened, closed;
    char names[FAKE_FDS][UINPUT_MAX_NAME_SIZE];
    int created[FAKE_FDS], destroyed[FAKE_FDS];
    int evbits[FAKE_FDS][EV_CNT], keybits[FAKE_FDS], relbits[FAKE_FDS], absbits[FAKE_FDS];
    int abs_max[FAKE_FDS];
    int grab;
    struct input_event written[FAKE_FDS][64];
    int written_count[FAKE_FDS];
    /* evdev side */
    struct input_event script[64];
    size_t script_len, script_pos;
    uint8_t held[96];
    int gkey_calls;
    int fail_open_errno;
};

static int f_open(void *ctx, const char *path, int flags)
{
    struct fake *f = ctx;
    (void)path;
    (void)flags;
    if (f->fail_open_errno) {
        errno = f->fail_open_errno;
        return -1;
    }
    return f->opened < FAKE_FDS ? f->opened++ : -1;
}

static int f_ioctl(void *ctx, int fd, unsigned long req, void *arg)
{
    struct fake *f = ctx;
    long bit = (long)arg;
    if (req == UI_SET_EVBIT)
        f->evbits[fd][bit] = 1;
    else if (req == UI_SET_KEYBIT)
        f->keybits[fd]++;
    else if (req == UI_SET_RELBIT)
        f->relbits[fd]++;
    else if (req == UI_SET_ABSBIT)
        f->absbits[fd]++;
    else if (req == UI_ABS_SETUP)
        f->abs_max[fd] = ((struct uinput_abs_setup *)arg)->absinfo.maximum;
    else if (req == UI_DEV_SETUP)
        memcpy(f->names[fd], ((struct uinput_setup *)arg)->name, UINPUT_MAX_NAME_SIZE);
    else if (req == UI_DEV_CREATE)
        f->created[fd]++;
    else if (req == UI_DEV_DESTROY)
        f->destroyed[fd]++;
    else if (req == EVIOCGRAB)
        f->grab = (int)bit;
    else if (req == EVIOCGABS(ABS_X) || req == EVIOCGABS(ABS_Y)) {
        struct input_absinfo *a = arg;
        memset(a, 0, sizeof(*a));
        a->minimum = 0;
        a->maximum = 1000;
    } else if (req == EVIOCGKEY(96)) {
        memcpy(arg, f->held, sizeof(f->held));
        f->gkey_calls++;
    } else {
        errno = ENOTTY;
        return -1;
    }
    return 0;
}

static ssize_t f_read(void *ctx, int fd, void *buf, size_t len)
{
    struct fake *f = ctx;
    (void)fd;
    size_t n = (f->script_len - f->script_pos) * sizeof(struct input_event);
    if (!n) {
        errno = EAGAIN;
        return -1;
    }
    if (n > len)
        n = len - len % sizeof(struct input_event);
    memcpy(buf, &f->script[f->script_pos], n);
    f->script_pos += n / sizeof(struct input_event);
    return (ssize_t)n;
}

static ssize_t f_write(void *ctx, int fd, const void *buf, size_t len)
{
    struct fake *f = ctx;
    ck_assert_uint_eq(len, sizeof(struct input_event));
    ck_assert_int_lt(f->written_count[fd], 64);
    memcpy(&f->written[fd][f->written_count[fd]++], buf, len);
    return (ssize_t)len;
}

static int f_close(void *ctx, int fd)
{
    struct fake *f = ctx;
    (void)fd;
    f->closed++;
    return 0;
}

static struct fake fk;
static struct rs_kvm_sys fake_sys(void)
{
    memset(&fk, 0, sizeof(fk));
    return (struct rs_kvm_sys){f_open, f_ioctl, f_read, f_write, f_close, &fk};
}

static void expect(int fd, size_t i, uint16_t type, uint16_t code, int32_t value)
{
    ck_assert_int_gt(fk.written_count[fd], (int)i);
    ck_assert_uint_eq(fk.written[fd][i].type, type);
    ck_assert_uint_eq(fk.written[fd][i].code, code);
    ck_assert_int_eq(fk.written[fd][i].value, value);
}

/* --- uinput --------------------------------------------------------------------- */

START_TEST(test_uinput_three_devices)
{
    struct rs_kvm_sys sys = fake_sys();
    rshare_kvm_uinput *u;
    ck_assert_int_eq(rs_kvm_uinput_open_sys(&sys, NULL, "blade7", &u), 0);
    ck_assert_int_eq(fk.opened, 3);
    for (int fd = 0; fd < 3; fd++) {
        ck_assert_int_eq(fk.created[fd], 1);
        ck_assert_int_eq(fk.evbits[fd][EV_KEY], 1);
    }
    ck_assert_str_eq(fk.names[0], "blade7 keyboard");
    ck_assert_str_eq(fk.names[1], "blade7 pointer");
    ck_assert_int_gt(fk.keybits[0], 200);
    ck_assert_int_eq(fk.keybits[1], BTN_TASK - BTN_LEFT + 1);
    ck_assert_int_eq(fk.evbits[1][EV_REL], 1);
    ck_assert_int_eq(fk.relbits[1], 6);
    ck_assert_int_eq(fk.evbits[2][EV_ABS], 1);
    ck_assert_int_eq(fk.absbits[2], 2);
    ck_assert_int_eq(fk.abs_max[2], 32767);
    ck_assert_int_eq(fk.evbits[0][EV_REL] + fk.evbits[0][EV_ABS], 0);

    /* One frame touching all three: each device gets its part and a SYN. */
    const struct rshare_kvm_event frame[] = {
        {EV_KEY, KEY_A, 1},   {EV_KEY, BTN_LEFT, 1}, {EV_REL, REL_X, -3},
        {EV_ABS, ABS_X, 100}, {EV_REL, REL_WHEEL_HI_RES, 120}, {EV_KEY, BTN_TRIGGER, 1},
        {EV_ABS, ABS_PRESSURE, 1}, {EV_SYN, SYN_REPORT, 0},
    };
    rshare_kvm_uinput_sink(u, 1, frame, sizeof(frame) / sizeof(frame[0]));
    ck_assert_int_eq(fk.written_count[0], 2);
    expect(0, 0, EV_KEY, KEY_A, 1);
    expect(0, 1, EV_SYN, SYN_REPORT, 0);
    ck_assert_int_eq(fk.written_count[1], 4);
    expect(1, 0, EV_KEY, BTN_LEFT, 1);
    expect(1, 1, EV_REL, REL_X, -3);
    expect(1, 2, EV_REL, REL_WHEEL_HI_RES, 120);
    expect(1, 3, EV_SYN, SYN_REPORT, 0);
    ck_assert_int_eq(fk.written_count[2], 2);
    expect(2, 0, EV_ABS, ABS_X, 100);
    ck_assert_uint_eq(rshare_kvm_uinput_dropped(u), 2); /* joystick trigger, pressure */

    /* A frame for the keyboard only: no SYN on the others. */
    const struct rshare_kvm_event up[] = {{EV_KEY, KEY_A, 0}, {EV_SYN, SYN_REPORT, 0}};
    rshare_kvm_uinput_sink(u, 1, up, 2);
    ck_assert_int_eq(fk.written_count[0], 4);
    ck_assert_int_eq(fk.written_count[1], 4);
    rshare_kvm_uinput_close(u);
    for (int fd = 0; fd < 3; fd++)
        ck_assert_int_eq(fk.destroyed[fd], 1);
    ck_assert_int_eq(fk.closed, 3);
}
END_TEST

START_TEST(test_uinput_missing_node)
{
    struct rs_kvm_sys sys = fake_sys();
    fk.fail_open_errno = ENOENT;
    rshare_kvm_uinput *u = (rshare_kvm_uinput *)&fk;
    ck_assert_int_eq(rs_kvm_uinput_open_sys(&sys, "/nonexistent", NULL, &u), RSHARE_ENOENT);
    ck_assert_ptr_null(u);
    fk.fail_open_errno = EACCES;
    ck_assert_int_eq(rs_kvm_uinput_open_sys(&sys, "/nonexistent", NULL, &u), RSHARE_ESYS);
}
END_TEST

/* --- evdev through a host handle to a target (loop transport) ---------------- */

static rshare_loop_net *net;
static rshare_node *nodes[2];
static rshare_kvm *host, *target;
static struct record {
    int down[KEY_CNT];
    struct rshare_kvm_event log[256];
    size_t n;
} rec;

static void sink(void *ud, uint32_t from, const struct rshare_kvm_event *ev, size_t count)
{
    (void)ud;
    (void)from;
    for (size_t i = 0; i < count; i++) {
        if (rec.n < 256)
            rec.log[rec.n++] = ev[i];
        if (ev[i].type == EV_KEY)
            rec.down[ev[i].code] = ev[i].value;
    }
}

static int target_up(void *ud)
{
    (void)ud;
    return rshare_kvm_target_up(host, 2);
}

static void pair_up(void)
{
    memset(&rec, 0, sizeof(rec));
    ck_assert_int_eq(rshare_loop_net_create(3, &net), 0);
    for (int i = 0; i < 2; i++) {
        struct rshare_node_config cfg;
        rshare_node_config_init(&cfg, sizeof(cfg));
        cfg.node_id = (uint32_t)(i + 1);
        cfg.clock = rshare_loop_net_clock(net);
        cfg.log = (struct rshare_log){rs_test_quiet_log, NULL, RSHARE_LOG_ERROR};
        ck_assert_int_eq(rshare_node_create(&cfg, &nodes[i]), 0);
        ck_assert_int_ge(rshare_node_add_loop(nodes[i], net, (uint32_t)(i + 1)), 0);
        ck_assert_int_eq(rshare_node_add_peer(nodes[i], (uint32_t)(2 - i), 0, i ? "1" : "2"), 0);
    }
    static const uint32_t targets[] = {2};
    struct rshare_kvm_config c;
    rshare_kvm_config_init(&c, sizeof(c));
    c.roles = RSHARE_KVM_ROLE_HOST;
    c.targets = targets;
    c.target_count = 1;
    ck_assert_int_eq(rshare_kvm_create(nodes[0], &c, &host), 0);
    rshare_kvm_config_init(&c, sizeof(c));
    c.roles = RSHARE_KVM_ROLE_TARGET;
    c.host = 1;
    c.sink = sink;
    ck_assert_int_eq(rshare_kvm_create(nodes[1], &c, &target), 0);
    ck_assert_int_eq(rshare_loop_net_run(net, nodes, 2, target_up, NULL, 2000000u), 0);
}

static void pair_down(void)
{
    rshare_kvm_destroy(host);
    rshare_kvm_destroy(target);
    rshare_node_destroy(nodes[0]);
    rshare_node_destroy(nodes[1]);
    rshare_loop_net_destroy(net);
}

static void script(uint16_t type, uint16_t code, int32_t value)
{
    fk.script[fk.script_len++] = (struct input_event){.type = type, .code = code, .value = value};
}

static void deliver(void)
{
    int rc = rshare_loop_net_run(net, nodes, 2, NULL, NULL, 30000u);
    ck_assert(rc == 0 || rc == RSHARE_ETIMEDOUT);
}

START_TEST(test_evdev_capture)
{
    struct rs_kvm_sys sys = fake_sys();
    pair_up();
    rshare_kvm_evdev *e;
    ck_assert_int_eq(rs_kvm_evdev_open_sys(&sys, "/dev/input/event0", 1, &e), 0);
    ck_assert_int_eq(fk.grab, 1);
    ck_assert_int_eq(rshare_kvm_evdev_fd(e), 0);
    script(EV_MSC, MSC_SCAN, 0x70004);
    script(EV_KEY, KEY_A, 1);
    script(EV_SYN, SYN_REPORT, 0);
    script(EV_KEY, KEY_A, 2); /* autorepeat: stays here */
    script(EV_SYN, SYN_REPORT, 0);
    script(EV_ABS, ABS_X, 500); /* the device's 0..1000 becomes 0..32767 */
    script(EV_ABS, ABS_Y, 2000);
    script(EV_SYN, SYN_REPORT, 0);
    ck_assert_int_eq(rshare_kvm_evdev_pump(e, host), 8);
    ck_assert_int_eq(rshare_kvm_evdev_pump(e, host), 0);
    deliver();
    const struct rshare_kvm_event golden[] = {
        {EV_KEY, KEY_A, 1}, {EV_SYN, SYN_REPORT, 0},  {EV_ABS, ABS_X, 16383},
        {EV_ABS, ABS_Y, 32767}, {EV_SYN, SYN_REPORT, 0},
    };
    ck_assert_uint_eq(rec.n, 5);
    ck_assert_mem_eq(rec.log, golden, sizeof(golden));

    /* The kernel drops events, among them A's release: after the next
     * report the adapter reads the held keys and A is released there. */
    fk.script_len = fk.script_pos = 0;
    script(EV_SYN, SYN_DROPPED, 0);
    script(EV_KEY, KEY_B, 1); /* part of the broken frame: skipped */
    script(EV_SYN, SYN_REPORT, 0);
    memset(fk.held, 0, sizeof(fk.held));
    ck_assert_int_eq(rshare_kvm_evdev_pump(e, host), 3);
    ck_assert_int_eq(fk.gkey_calls, 1);
    deliver();
    ck_assert_int_eq(rec.down[KEY_A], 0);
    ck_assert_int_eq(rec.down[KEY_B], 0);
    ck_assert_uint_eq(rshare_kvm_pressed_count(target), 0);
    rshare_kvm_evdev_close(e);
    ck_assert_int_eq(fk.grab, 0);
    ck_assert_int_eq(fk.closed, 1);
    pair_down();
}
END_TEST

/* --- the real devices, where present ------------------------------------------ */

START_TEST(test_real_uinput)
{
    if (access("/dev/uinput", W_OK) != 0) {
        printf("test_real_uinput: /dev/uinput absent or not writable, skipped\n");
        return;
    }
    rshare_kvm_uinput *u;
    ck_assert_int_eq(rshare_kvm_uinput_open(NULL, "rshare-test", &u), 0);
    const struct rshare_kvm_event frame[] = {{EV_REL, REL_X, 1}, {EV_SYN, SYN_REPORT, 0}};
    rshare_kvm_uinput_sink(u, 1, frame, 2);
    ck_assert_uint_eq(rshare_kvm_uinput_dropped(u), 0);
    rshare_kvm_uinput_close(u);
}
END_TEST

START_TEST(test_real_evdev)
{
    rshare_kvm_evdev *e = NULL;
    int rc = rshare_kvm_evdev_open("/dev/input/event0", 0, &e);
    if (rc == RSHARE_ENOENT || (rc == RSHARE_ESYS && access("/dev/input/event0", R_OK) != 0)) {
        printf("test_real_evdev: /dev/input/event0 absent or not readable, skipped\n");
        return;
    }
    ck_assert_int_eq(rc, 0);
    ck_assert_int_ge(rshare_kvm_evdev_fd(e), 0);
    rshare_kvm_evdev_close(e);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("kvm-linux");
    TCase *tc = tcase_create("adapters");
    tcase_add_test(tc, test_uinput_three_devices);
    tcase_add_test(tc, test_uinput_missing_node);
    tcase_add_test(tc, test_evdev_capture);
    tcase_add_test(tc, test_real_uinput);
    tcase_add_test(tc, test_real_evdev);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return rs_test_run(suite());
}
