/* The soak's history checker must be able to fail: fed histories with a
 * lost write, data never written, a diverged map, a stuck key, two
 * exclusive leases at once or a reused fencing token, it reports each;
 * fed a correct history (including a failed write whose data did land),
 * it reports nothing. */
#include "config.h"

#include "testutil.h"

#include <string.h>

#include "history.h"

#define VOLUME (64u * 1024)

static size_t verdict(struct history *h, char *why)
{
    return history_check(h, why, 512);
}

/* Write `len` bytes at `off` with status `status`; the data into `buf`. */
static uint32_t write_(struct history *h, uint64_t off, uint8_t *buf, size_t len, int status)
{
    uint32_t id = history_write_begin(h, off, buf, len);
    history_write_end(h, id, status);
    return id;
}

START_TEST(a_correct_history_passes)
{
    struct history *h = history_create(VOLUME);
    static uint8_t a[8192], b[4096], zeros[4096], back[8192];
    history_map(h, 1, 5, 0xAB);
    history_map(h, 2, 5, 0xAB);
    history_map(h, 2, 6, 0xCD);
    history_lease(h, 1, 5, 77, 1, 1, 1);
    history_lease(h, 2, 5, 77, 1, 1, 1);
    history_lease(h, 1, 6, 77, 2, 2, 1); /* lease 1 gone, lease 2 with a new token */
    ck_assert_uint_eq(history_read(h, 0, zeros, sizeof(zeros), 0), 0); /* never written */
    write_(h, 0, a, sizeof(a), 0);
    memcpy(back, a, sizeof(a));
    ck_assert_uint_eq(history_read(h, 0, back, sizeof(back), 0), 0);
    /* A failed write over the second half: old or new data may be there. */
    write_(h, 4096, b, sizeof(b), -5);
    ck_assert_uint_eq(history_read(h, 0, back, sizeof(back), 0), 0); /* old */
    memcpy(back + 4096, b, sizeof(b));
    ck_assert_uint_eq(history_read(h, 0, back, sizeof(back), 0), 0); /* new: it landed */
    ck_assert_uint_eq(history_read(h, 0, zeros, 512, -5), 0); /* a failed read says nothing */
    char why[512];
    ck_assert_uint_eq(verdict(h, why), 0);
    ck_assert_str_eq(why, "");
    struct history_counts c;
    history_counts(h, &c);
    ck_assert_uint_eq(c.writes, 2);
    ck_assert_uint_eq(c.writes_acked, 1);
    ck_assert_uint_eq(c.writes_failed, 1);
    ck_assert_uint_eq(c.reads, 5);
    ck_assert_uint_eq(c.reads_failed, 1);
    history_free(h);
}
END_TEST

START_TEST(a_lost_write_is_caught)
{
    struct history *h = history_create(VOLUME);
    static uint8_t first[4096], second[4096];
    write_(h, 8192, first, sizeof(first), 0);
    write_(h, 8192, second, sizeof(second), 0);
    /* The read returns the first write: the second, acknowledged, is lost. */
    ck_assert_uint_eq(history_read(h, 8192, first, sizeof(first), 0), 8);
    char why[512];
    ck_assert_uint_eq(verdict(h, why), 8);
    ck_assert_ptr_nonnull(strstr(why, "sector 16: acknowledged write 2 lost"));
    history_free(h);
}
END_TEST

START_TEST(a_write_lost_to_zeros_is_caught)
{
    struct history *h = history_create(VOLUME);
    static uint8_t data[1024], zeros[1024];
    write_(h, 0, data, sizeof(data), 0);
    ck_assert_uint_eq(history_read(h, 0, zeros, sizeof(zeros), 0), 2);
    char why[512];
    ck_assert_uint_eq(verdict(h, why), 2);
    ck_assert_ptr_nonnull(strstr(why, "read returned zeros"));
    history_free(h);
}
END_TEST

/* A read that saw a failed write's data must keep seeing it. */
START_TEST(a_failed_write_seen_then_gone_is_caught)
{
    struct history *h = history_create(VOLUME);
    static uint8_t old[512], failed[512], back[512];
    write_(h, 0, old, sizeof(old), 0);
    write_(h, 0, failed, sizeof(failed), -110);
    ck_assert_uint_eq(history_read(h, 0, failed, sizeof(failed), 0), 0);
    memcpy(back, old, sizeof(old));
    ck_assert_uint_eq(history_read(h, 0, back, sizeof(back), 0), 1);
    char why[512];
    ck_assert_uint_eq(verdict(h, why), 1);
    ck_assert_ptr_nonnull(strstr(why, "acknowledged write 2 lost"));
    history_free(h);
}
END_TEST

START_TEST(data_never_written_is_caught)
{
    struct history *h = history_create(VOLUME);
    static uint8_t data[2048];
    write_(h, 0, data, sizeof(data), 0);
    data[700] ^= 1; /* one bit of the second sector */
    ck_assert_uint_eq(history_read(h, 0, data, sizeof(data), 0), 1);
    /* A sector from elsewhere (right data, wrong place). */
    static uint8_t moved[512];
    write_(h, 4096, moved, sizeof(moved), 0);
    ck_assert_uint_eq(history_read(h, 8192, moved, sizeof(moved), 0), 1);
    char why[512];
    ck_assert_uint_eq(verdict(h, why), 2);
    ck_assert_ptr_nonnull(strstr(why, "sector 1: read returned data never written"));
    history_free(h);
}
END_TEST

START_TEST(a_write_that_never_completes_is_caught)
{
    struct history *h = history_create(VOLUME);
    static uint8_t data[512];
    history_write_begin(h, 0, data, sizeof(data));
    char why[512];
    ck_assert_uint_eq(verdict(h, why), 1);
    ck_assert_ptr_nonnull(strstr(why, "write 1 never completed"));
    history_free(h);
}
END_TEST

START_TEST(a_diverged_map_is_caught)
{
    struct history *h = history_create(0);
    history_map(h, 1, 7, 0x1111);
    history_map(h, 2, 8, 0x2222);
    history_map(h, 3, 7, 0x1111);
    history_map(h, 4, 7, 0x9999);
    char why[512];
    ck_assert_uint_eq(verdict(h, why), 1);
    ck_assert_ptr_nonnull(strstr(why, "map diverged"));
    ck_assert_ptr_nonnull(strstr(why, "version 7"));
    history_free(h);
}
END_TEST

START_TEST(a_stuck_key_is_caught)
{
    struct history *h = history_create(0);
    history_key_stuck(h, 14, 30);
    char why[512];
    ck_assert_uint_eq(verdict(h, why), 1);
    ck_assert_str_eq(why, "node 14: key 30 stays pressed");
    history_free(h);
}
END_TEST

START_TEST(two_exclusive_leases_are_caught)
{
    struct history *h = history_create(0);
    history_lease(h, 1, 9, 77, 3, 3, 1);
    history_lease(h, 1, 9, 77, 4, 4, 1);
    history_lease(h, 1, 9, 78, 5, 1, 1); /* another resource: fine */
    char why[512];
    ck_assert_uint_eq(verdict(h, why), 1);
    ck_assert_ptr_nonnull(strstr(why, "two exclusive leases (3, 4)"));
    history_free(h);
}
END_TEST

START_TEST(a_reused_fencing_token_is_caught)
{
    struct history *h = history_create(0);
    history_lease(h, 1, 9, 77, 3, 3, 1);
    history_lease(h, 1, 12, 77, 4, 3, 1);
    char why[512];
    ck_assert_uint_eq(verdict(h, why), 1);
    ck_assert_ptr_nonnull(strstr(why, "share fencing token 3"));
    history_free(h);

    h = history_create(0);
    history_lease(h, 1, 9, 77, 3, 3, 1);
    history_lease(h, 2, 10, 77, 3, 4, 1);
    ck_assert_uint_eq(verdict(h, why), 1);
    ck_assert_ptr_nonnull(strstr(why, "lease 3 changed its fencing token"));
    history_free(h);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("history");
    TCase *tc = tcase_create("history");
    tcase_add_test(tc, a_correct_history_passes);
    tcase_add_test(tc, a_lost_write_is_caught);
    tcase_add_test(tc, a_write_lost_to_zeros_is_caught);
    tcase_add_test(tc, a_failed_write_seen_then_gone_is_caught);
    tcase_add_test(tc, data_never_written_is_caught);
    tcase_add_test(tc, a_write_that_never_completes_is_caught);
    tcase_add_test(tc, a_diverged_map_is_caught);
    tcase_add_test(tc, a_stuck_key_is_caught);
    tcase_add_test(tc, two_exclusive_leases_are_caught);
    tcase_add_test(tc, a_reused_fencing_token_is_caught);
    suite_add_tcase(s, tc);
    return rs_test_run(s);
}
