/* Unit tests: the KVM messages on the wire (lib/kvm/wire.c) — round trips,
 * the exact bytes of a small frame, and refusal of everything malformed or
 * not injectable — and the evdev <-> USB HID usage table. */
#include "config.h"

#include "testutil.h"

#include <linux/input-event-codes.h>
#include <string.h>

#include "kvm/wire.h"
#include "rshare/rshare.h"

static struct rs_kvm_input frame(uint32_t n)
{
    struct rs_kvm_input in;
    memset(&in, 0, sizeof(in));
    in.session = 0x1122334455667788u;
    in.seq = 9;
    for (uint32_t i = 0; i + 1 < n; i++)
        in.events[i] = (struct rs_kvm_event){EV_KEY, (uint16_t)(KEY_ESC + i % 200), (int32_t)(i & 1)};
    in.events[n - 1] = (struct rs_kvm_event){EV_SYN, SYN_REPORT, 0};
    in.count = n;
    return in;
}

START_TEST(test_input_round_trip)
{
    uint8_t buf[RS_KVM_WIRE_BODY_MAX];
    for (uint32_t n = 1; n <= RS_KVM_WIRE_EVENTS_MAX; n++) {
        struct rs_kvm_input in = frame(n), out;
        size_t len = rs_kvm_wire_input_encode(&in, buf, sizeof(buf));
        ck_assert_uint_gt(len, 0);
        ck_assert_int_eq(rs_kvm_wire_input_decode(buf, len, &out), 0);
        ck_assert_uint_eq(out.count, n);
        ck_assert_uint_eq(out.session, in.session);
        ck_assert_uint_eq(out.seq, 9);
        ck_assert_mem_eq(out.events, in.events, n * sizeof(in.events[0]));
        /* Every truncation is refused. */
        for (size_t cut = 0; cut < len; cut += 7)
            ck_assert_int_eq(rs_kvm_wire_input_decode(buf, cut, &out), RSHARE_EPROTO);
    }
    /* The worst case fits the documented bound. */
    struct rs_kvm_input in = frame(RS_KVM_WIRE_EVENTS_MAX);
    for (uint32_t i = 0; i + 1 < in.count; i++)
        in.events[i] = (struct rs_kvm_event){EV_ABS, ABS_MAX, RS_KVM_ABS_MAX_VALUE};
    in.seq = UINT64_MAX;
    ck_assert_uint_gt(rs_kvm_wire_input_encode(&in, buf, sizeof(buf)), 0);
    ck_assert_uint_eq(rs_kvm_wire_input_encode(&in, buf, 100), 0);
}
END_TEST

START_TEST(test_input_golden_bytes)
{
    struct rs_kvm_input in = {.session = 1, .seq = 2, .count = 2};
    in.events[0] = (struct rs_kvm_event){EV_KEY, KEY_A, 1};
    in.events[1] = (struct rs_kvm_event){EV_SYN, SYN_REPORT, 0};
    uint8_t buf[64];
    /* [1, 1, 2, [1, 30, 1, 0, 0, 0]] */
    static const uint8_t golden[] = {0x84, 0x01, 0x01, 0x02, 0x86, 0x01, 0x18,
                                     0x1E, 0x01, 0x00, 0x00, 0x00};
    ck_assert_uint_eq(rs_kvm_wire_input_encode(&in, buf, sizeof(buf)), sizeof(golden));
    ck_assert_mem_eq(buf, golden, sizeof(golden));
}
END_TEST

static int decode_bytes(const uint8_t *b, size_t n)
{
    struct rs_kvm_input out;
    return rs_kvm_wire_input_decode(b, n, &out);
}

START_TEST(test_input_refused)
{
    /* Events that may not be injected: autorepeat, a code above KEY_MAX,
     * an unknown type, an absolute value out of range, no final SYN. */
    static const uint8_t repeat[] = {0x84, 1, 1, 2, 0x86, 1, 0x18, 30, 2, 0, 0, 0};
    static const uint8_t code[] = {0x84, 1, 1, 2, 0x86, 1, 0x19, 0x03, 0x00, 1, 0, 0, 0};
    static const uint8_t type[] = {0x84, 1, 1, 2, 0x86, 0x15, 0, 0, 0, 0, 0};
    static const uint8_t abs[] = {0x84, 1, 1, 2, 0x86, 3, 0, 0x19, 0x80, 0x00, 0, 0, 0};
    static const uint8_t nosyn[] = {0x84, 1, 1, 2, 0x83, 1, 0x18, 30, 1};
    static const uint8_t neg[] = {0x84, 1, 1, 2, 0x86, 1, 0x18, 30, 0x20, 0, 0, 0};
    ck_assert_int_eq(decode_bytes(repeat, sizeof(repeat)), RSHARE_EINVAL);
    ck_assert_int_eq(decode_bytes(code, sizeof(code)), RSHARE_EINVAL);
    ck_assert_int_eq(decode_bytes(type, sizeof(type)), RSHARE_EINVAL);
    ck_assert_int_eq(decode_bytes(abs, sizeof(abs)), RSHARE_EINVAL);
    ck_assert_int_eq(decode_bytes(nosyn, sizeof(nosyn)), RSHARE_EINVAL);
    ck_assert_int_eq(decode_bytes(neg, sizeof(neg)), RSHARE_EINVAL);
    /* Malformed shapes: no events, a count not divisible by 3, session 0,
     * sequence 0, trailing garbage, another version, too many elements. */
    static const uint8_t empty[] = {0x84, 1, 1, 2, 0x80};
    static const uint8_t odd[] = {0x84, 1, 1, 2, 0x82, 0, 0};
    static const uint8_t nosession[] = {0x84, 1, 0, 2, 0x83, 0, 0, 0};
    static const uint8_t noseq[] = {0x84, 1, 1, 0, 0x83, 0, 0, 0};
    static const uint8_t trailing[] = {0x84, 1, 1, 2, 0x83, 0, 0, 0, 0};
    static const uint8_t version[] = {0x84, 2, 1, 2, 0x83, 0, 0, 0};
    static const uint8_t big[] = {0x98, 0x20, 1, 1, 2, 0x83, 0, 0, 0};
    ck_assert_int_eq(decode_bytes(empty, sizeof(empty)), RSHARE_EPROTO);
    ck_assert_int_eq(decode_bytes(odd, sizeof(odd)), RSHARE_EPROTO);
    ck_assert_int_eq(decode_bytes(nosession, sizeof(nosession)), RSHARE_EPROTO);
    ck_assert_int_eq(decode_bytes(noseq, sizeof(noseq)), RSHARE_EPROTO);
    ck_assert_int_eq(decode_bytes(trailing, sizeof(trailing)), RSHARE_EPROTO);
    ck_assert_int_eq(decode_bytes(version, sizeof(version)), RSHARE_EVERSION);
    ck_assert_int_eq(decode_bytes(big, sizeof(big)), RSHARE_EPROTO);
    /* A newer peer's extra element is skipped. */
    static const uint8_t newer[] = {0x85, 1, 1, 2, 0x83, 0, 0, 0, 0x63, 'n', 'e', 'w'};
    ck_assert_int_eq(decode_bytes(newer, sizeof(newer)), 0);
    /* More events than the bound. */
    uint8_t many[8 + 3 * (RS_KVM_WIRE_EVENTS_MAX + 1)];
    size_t n = 0;
    many[n++] = 0x84, many[n++] = 1, many[n++] = 1, many[n++] = 2;
    many[n++] = 0x99, many[n++] = 0, many[n++] = (uint8_t)(3 * (RS_KVM_WIRE_EVENTS_MAX + 1));
    for (int i = 0; i < 3 * (RS_KVM_WIRE_EVENTS_MAX + 1); i++)
        many[n++] = 0;
    ck_assert_int_eq(decode_bytes(many, n), RSHARE_EPROTO);
}
END_TEST

START_TEST(test_sync_and_report)
{
    struct rs_kvm_sync s = {.session = 5, .seq = 77}, out;
    memset(&s.pressed, 0, sizeof(s.pressed));
    uint8_t buf[RS_KVM_WIRE_BODY_MAX];
    /* Nothing pressed: an empty bitmap. */
    size_t len = rs_kvm_wire_sync_encode(&s, buf, sizeof(buf));
    ck_assert_uint_eq(len, 6); /* [1, 5, 77, h''] */
    ck_assert_int_eq(rs_kvm_wire_sync_decode(buf, len, &out), 0);
    ck_assert_uint_eq(out.seq, 77);
    rs_kvm_keyset_put(&s.pressed, KEY_LEFTSHIFT, true);
    rs_kvm_keyset_put(&s.pressed, BTN_LEFT, true);
    rs_kvm_keyset_put(&s.pressed, KEY_MAX, true);
    len = rs_kvm_wire_sync_encode(&s, buf, sizeof(buf));
    ck_assert_int_eq(rs_kvm_wire_sync_decode(buf, len, &out), 0);
    ck_assert_mem_eq(&out.pressed, &s.pressed, sizeof(s.pressed));
    /* A bitmap longer than KEY_MAX + 1 bits is refused. */
    uint8_t longer[8 + RS_KVM_WIRE_KEYBYTES + 1] = {0x84, 1, 5, 77, 0x58, RS_KVM_WIRE_KEYBYTES + 1};
    ck_assert_int_eq(rs_kvm_wire_sync_decode(longer, sizeof(longer) - 2, &out), RSHARE_EPROTO);

    struct rs_kvm_report r = {.session = 9, .leds = 0xFF}, rout;
    len = rs_kvm_wire_report_encode(&r, buf, sizeof(buf));
    ck_assert_int_eq(rs_kvm_wire_report_decode(buf, len, &rout), 0);
    ck_assert_uint_eq(rout.session, 9);
    ck_assert_uint_eq(rout.leds, RS_KVM_WIRE_LEDS);
    r.session = 0;
    ck_assert_uint_eq(rs_kvm_wire_report_encode(&r, buf, sizeof(buf)), 0);
}
END_TEST

START_TEST(test_hid_table)
{
    ck_assert_uint_eq(rshare_kvm_evdev_to_hid(KEY_A), 0x070004);
    ck_assert_uint_eq(rshare_kvm_evdev_to_hid(KEY_Z), 0x07001D);
    ck_assert_uint_eq(rshare_kvm_evdev_to_hid(KEY_1), 0x07001E);
    ck_assert_uint_eq(rshare_kvm_evdev_to_hid(KEY_0), 0x070027);
    ck_assert_uint_eq(rshare_kvm_evdev_to_hid(KEY_ENTER), 0x070028);
    ck_assert_uint_eq(rshare_kvm_evdev_to_hid(KEY_F12), 0x070045);
    ck_assert_uint_eq(rshare_kvm_evdev_to_hid(KEY_102ND), 0x070064);
    ck_assert_uint_eq(rshare_kvm_evdev_to_hid(KEY_RIGHTALT), 0x0700E6);
    ck_assert_uint_eq(rshare_kvm_evdev_to_hid(KEY_BACKSLASH), 0x070031);
    ck_assert_uint_eq(rshare_kvm_evdev_to_hid(BTN_LEFT), 0x090001);
    ck_assert_uint_eq(rshare_kvm_evdev_to_hid(BTN_EXTRA), 0x090005);
    ck_assert_uint_eq(rshare_kvm_evdev_to_hid(KEY_RESERVED), 0);
    ck_assert_uint_eq(rshare_kvm_evdev_to_hid(KEY_MAX), 0);
    ck_assert_uint_eq(rshare_kvm_hid_to_evdev(0x070032), KEY_BACKSLASH); /* Non-US # */
    ck_assert_uint_eq(rshare_kvm_hid_to_evdev(0x070000), 0);
    ck_assert_uint_eq(rshare_kvm_hid_to_evdev(0x0C00E9), 0); /* consumer page: not mapped */
    /* Every mapped code goes there and back; usages are unique per code. */
    size_t mapped = 0;
    for (uint32_t code = 0; code <= KEY_MAX; code++) {
        uint32_t usage = rshare_kvm_evdev_to_hid((uint16_t)code);
        if (!usage)
            continue;
        mapped++;
        ck_assert_uint_eq(rshare_kvm_hid_to_evdev(usage), code);
    }
    ck_assert_uint_ge(mapped, 140);
    for (uint32_t id = 0; id <= 0xFF; id++) {
        uint16_t code = rshare_kvm_hid_to_evdev(0x070000 | id);
        if (code && id != 0x32)
            ck_assert_uint_eq(rshare_kvm_evdev_to_hid(code), 0x070000 | id);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("kvm-wire");
    TCase *tc = tcase_create("wire");
    tcase_add_test(tc, test_input_round_trip);
    tcase_add_test(tc, test_input_golden_bytes);
    tcase_add_test(tc, test_input_refused);
    tcase_add_test(tc, test_sync_and_report);
    tcase_add_test(tc, test_hid_table);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return rs_test_run(suite());
}
