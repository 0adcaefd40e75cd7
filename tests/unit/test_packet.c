/* Unit tests: packet header and fragment encoding round-trip, every
 * malformed field is refused, and the replay window accepts each sequence
 * number exactly once. */
#include "config.h"

#include "testutil.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "link/packet.h"
#include "link/replay.h"

START_TEST(test_header_round_trip)
{
    struct rs_pkt_hdr in = {.type = RS_PKT_DATA, .flags = RS_PKT_F_PROTECTED, .src = 7,
                            .dst = 0xFFFFFFFFu, .session = UINT64_C(0x8000000500000001),
                            .seq = UINT64_C(0x0102030405060708)};
    uint8_t buf[RS_PKT_HDR_LEN];
    rs_pkt_hdr_encode(&in, buf);
    ck_assert_uint_eq(buf[0], 0x11);
    struct rs_pkt_hdr out;
    ck_assert_int_eq(rs_pkt_hdr_decode(buf, sizeof(buf), &out), RS_PKT_OK);
    ck_assert_uint_eq(out.type, in.type);
    ck_assert_uint_eq(out.flags, in.flags);
    ck_assert_uint_eq(out.src, in.src);
    ck_assert_uint_eq(out.dst, in.dst);
    ck_assert(out.session == in.session);
    ck_assert(out.seq == in.seq);
}
END_TEST

START_TEST(test_header_rejects)
{
    struct rs_pkt_hdr h = {.type = RS_PKT_ACK, .src = 1, .dst = 2, .seq = 1};
    uint8_t buf[RS_PKT_HDR_LEN], bad[RS_PKT_HDR_LEN];
    struct rs_pkt_hdr out;
    rs_pkt_hdr_encode(&h, buf);
    for (size_t n = 0; n < RS_PKT_HDR_LEN; n++)
        ck_assert_int_eq(rs_pkt_hdr_decode(buf, n, &out),
                         n == 0 ? RS_PKT_TRUNCATED : RS_PKT_TRUNCATED);
    memcpy(bad, buf, sizeof(bad));
    bad[0] = 0x22; /* version 2 */
    ck_assert_int_eq(rs_pkt_hdr_decode(bad, sizeof(bad), &out), RS_PKT_BAD_VERSION);
    memcpy(bad, buf, sizeof(bad));
    bad[0] = 0x15; /* unknown type */
    ck_assert_int_eq(rs_pkt_hdr_decode(bad, sizeof(bad), &out), RS_PKT_MALFORMED);
    memcpy(bad, buf, sizeof(bad));
    bad[1] = 0x80; /* unknown flag */
    ck_assert_int_eq(rs_pkt_hdr_decode(bad, sizeof(bad), &out), RS_PKT_MALFORMED);
    memcpy(bad, buf, sizeof(bad));
    memset(bad + 2, 0, 4); /* source 0 */
    ck_assert_int_eq(rs_pkt_hdr_decode(bad, sizeof(bad), &out), RS_PKT_MALFORMED);
    memcpy(bad, buf, sizeof(bad));
    memset(bad + 2, 0xFF, 4); /* source broadcast */
    ck_assert_int_eq(rs_pkt_hdr_decode(bad, sizeof(bad), &out), RS_PKT_MALFORMED);
}
END_TEST

START_TEST(test_fragment_geometry)
{
    /* Every (total, count) a sender can produce covers the message exactly. */
    for (uint32_t total = 1; total < 3000; total += 7) {
        for (uint32_t room = 1; room < 400; room += 13) {
            uint32_t count = (total + room - 1) / room;
            if (count > UINT16_MAX)
                continue;
            uint64_t sum = 0;
            for (uint32_t i = 0; i < count; i++) {
                uint32_t len = rs_pkt_fragment_len(total, (uint16_t)count, (uint16_t)i);
                ck_assert_uint_gt(len, 0);
                ck_assert_uint_le(len, room);
                sum += len;
            }
            ck_assert_uint_eq(sum, total);
        }
    }
}
END_TEST

START_TEST(test_data_rejects)
{
    uint8_t buf[RS_PKT_DATA_LEN + 10];
    struct rs_pkt_data d = {.xfer = 5, .total = 30, .index = 2, .count = 3}, out;
    rs_pkt_data_encode(&d, buf);
    ck_assert_int_eq(rs_pkt_data_decode(buf, RS_PKT_DATA_LEN + 10, &out), RS_PKT_OK);
    ck_assert_uint_eq(out.xfer, 5);
    ck_assert_int_eq(rs_pkt_data_decode(buf, RS_PKT_DATA_LEN + 9, &out), RS_PKT_TRUNCATED);
    ck_assert_int_eq(rs_pkt_data_decode(buf, RS_PKT_DATA_LEN - 1, &out), RS_PKT_TRUNCATED);
    struct rs_pkt_data bad[] = {
        {.xfer = 1, .total = 30, .index = 3, .count = 3}, /* index past count */
        {.xfer = 1, .total = 30, .index = 0, .count = 0}, /* no fragments */
        {.xfer = 1, .total = 0, .index = 0, .count = 1},  /* empty message */
        {.xfer = 1, .total = 2, .index = 0, .count = 3},  /* more fragments than bytes */
        {.xfer = 1, .total = 9, .index = 0, .count = 4},  /* last fragment empty */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rs_pkt_data_encode(&bad[i], buf);
        ck_assert_int_eq(rs_pkt_data_decode(buf, sizeof(buf), &out), RS_PKT_MALFORMED);
    }
    /* A payload longer than the fragment must be refused, not truncated. */
    d = (struct rs_pkt_data){.xfer = 1, .total = 5, .index = 0, .count = 1};
    rs_pkt_data_encode(&d, buf);
    ck_assert_int_eq(rs_pkt_data_decode(buf, RS_PKT_DATA_LEN + 6, &out), RS_PKT_MALFORMED);
}
END_TEST

START_TEST(test_ack_round_trip)
{
    struct rs_pkt_ack a = {.xfer = 99, .next = 12, .bitmap = UINT64_C(0x8000000000000001)}, out;
    uint8_t buf[RS_PKT_ACK_LEN + 1];
    rs_pkt_ack_encode(&a, buf);
    ck_assert_int_eq(rs_pkt_ack_decode(buf, RS_PKT_ACK_LEN, &out), RS_PKT_OK);
    ck_assert_uint_eq(out.xfer, 99);
    ck_assert_uint_eq(out.next, 12);
    ck_assert(out.bitmap == a.bitmap);
    ck_assert_int_eq(rs_pkt_ack_decode(buf, RS_PKT_ACK_LEN - 1, &out), RS_PKT_TRUNCATED);
    ck_assert_int_eq(rs_pkt_ack_decode(buf, RS_PKT_ACK_LEN + 1, &out), RS_PKT_MALFORMED);
}
END_TEST

START_TEST(test_replay_window)
{
    struct rs_replay w;
    rs_replay_reset(&w);
    ck_assert(!rs_replay_check(&w, 0));
    for (uint64_t s = 1; s <= 100; s += 2) {
        ck_assert(rs_replay_check(&w, s));
        rs_replay_mark(&w, s);
        ck_assert(!rs_replay_check(&w, s));
    }
    /* Reordered packets inside the window are accepted once. */
    for (uint64_t s = 2; s <= 100; s += 2) {
        ck_assert(rs_replay_check(&w, s));
        rs_replay_mark(&w, s);
    }
    for (uint64_t s = 1; s <= 100; s++)
        ck_assert(!rs_replay_check(&w, s));
    /* A jump forward forgets the bits it passes but refuses what is too old. */
    rs_replay_mark(&w, 100 + RS_REPLAY_WINDOW + 5);
    ck_assert(!rs_replay_check(&w, 100));
    ck_assert(rs_replay_check(&w, 100 + RS_REPLAY_WINDOW));
    ck_assert(!rs_replay_check(&w, 5));
    /* Advancing by less than the window clears exactly the skipped slots. */
    uint64_t top = 100 + RS_REPLAY_WINDOW + 5;
    rs_replay_mark(&w, top + 10);
    for (uint64_t s = top + 1; s < top + 10; s++)
        ck_assert(rs_replay_check(&w, s));
    ck_assert(!rs_replay_check(&w, top));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("packet");
    TCase *tc = tcase_create("codec");
    tcase_add_test(tc, test_header_round_trip);
    tcase_add_test(tc, test_header_rejects);
    tcase_add_test(tc, test_fragment_geometry);
    tcase_add_test(tc, test_data_rejects);
    tcase_add_test(tc, test_ack_round_trip);
    tcase_add_test(tc, test_replay_window);
    suite_add_tcase(s, tc);
    return rs_test_run(s);
}
