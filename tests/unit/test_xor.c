/* Unit tests: the XOR kernel against a byte-by-byte reference, for every
 * length from 0 to 4096, many misalignments of each buffer, source counts
 * that cross the kernel's groups of four, and buffers longer than its
 * blocks; guard bytes around the destination catch stray writes. */
#include "config.h"

#include "testutil.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "block/xor.h"

enum {
    MAX_SOURCES = 11,
    GUARD = 64,
    MAX_LEN = 3 * 8192 + 4096 + 100 /* past several of the kernel's blocks */
};

struct buffers {
    uint8_t *src[MAX_SOURCES];
    uint8_t *dst; /* with GUARD bytes before and after the used part */
    uint8_t *want;
};

static uint64_t next(uint64_t *state)
{
    *state = *state * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
    return *state >> 33;
}

static void setup(struct buffers *b, uint64_t seed)
{
    uint64_t state = seed;
    for (int i = 0; i < MAX_SOURCES; i++) {
        /* RS_XOR_ALIGN-aligned bases; tests add their own misalignment. */
        ck_assert_int_eq(posix_memalign((void **)&b->src[i], RS_XOR_ALIGN, MAX_LEN + 2 * GUARD), 0);
        for (size_t j = 0; j < MAX_LEN + 2 * GUARD; j++)
            b->src[i][j] = (uint8_t)next(&state);
    }
    ck_assert_int_eq(posix_memalign((void **)&b->dst, RS_XOR_ALIGN, MAX_LEN + 3 * GUARD), 0);
    b->want = malloc(MAX_LEN);
    ck_assert_ptr_nonnull(b->want);
}

static void teardown(struct buffers *b)
{
    for (int i = 0; i < MAX_SOURCES; i++)
        free(b->src[i]);
    free(b->dst);
    free(b->want);
}

/* One call of rs_xor_gen or rs_xor_acc on the given misalignments,
 * compared with the obvious byte loop. */
static void check_one(struct buffers *b, size_t len, size_t count, const size_t *skew,
                      size_t dst_skew, int accumulate)
{
    const void *src[MAX_SOURCES];
    for (size_t i = 0; i < count; i++)
        src[i] = b->src[i] + skew[i];
    uint8_t *dst = b->dst + GUARD + dst_skew;
    /* The destination starts with known bytes: accumulate must fold them in. */
    for (size_t j = 0; j < len + 2 * GUARD; j++)
        b->dst[dst_skew + j] = (uint8_t)(0xa5 ^ j);
    for (size_t j = 0; j < len; j++) {
        uint8_t v = accumulate ? dst[j] : 0;
        for (size_t i = 0; i < count; i++)
            v ^= ((const uint8_t *)src[i])[j];
        b->want[j] = v;
    }
    if (accumulate)
        rs_xor_acc(dst, src, count, len);
    else
        rs_xor_gen(dst, src, count, len);
    /* memcmp first: a ck_assert per byte would cost a write each. */
    if (memcmp(dst, b->want, len) != 0) {
        size_t j = 0;
        while (dst[j] == b->want[j])
            j++;
        ck_abort_msg("%s len %zu count %zu dst+%zu: byte %zu is %02x, want %02x",
                     accumulate ? "acc" : "gen", len, count, dst_skew, j, dst[j], b->want[j]);
    }
    for (size_t j = 0; j < GUARD; j++) {
        if (dst[-1 - (ptrdiff_t)j] != (uint8_t)(0xa5 ^ (GUARD - 1 - j)) ||
            dst[len + j] != (uint8_t)(0xa5 ^ (GUARD + len + j)))
            ck_abort_msg("%s len %zu count %zu dst+%zu: wrote outside the destination",
                         accumulate ? "acc" : "gen", len, count, dst_skew);
    }
}

START_TEST(test_every_length)
{
    struct buffers b;
    setup(&b, 1);
    uint64_t state = 7;
    for (size_t len = 0; len <= 4096; len++) {
        size_t count = 1 + len % 6;
        size_t aligned[MAX_SOURCES] = {0};
        size_t skew[MAX_SOURCES];
        for (size_t i = 0; i < MAX_SOURCES; i++)
            skew[i] = next(&state) % GUARD;
        size_t dst_skew = next(&state) % GUARD;
        for (int acc = 0; acc <= 1; acc++) {
            check_one(&b, len, count, aligned, 0, acc);     /* the aligned fast path */
            check_one(&b, len, count, skew, dst_skew, acc); /* misaligned anyhow */
        }
    }
    teardown(&b);
}
END_TEST

START_TEST(test_misalignments)
{
    struct buffers b;
    setup(&b, 2);
    static const size_t lengths[] = {1, 7, 8, 9, 63, 64, 65, 127, 128, 129, 200, 4095};
    for (size_t li = 0; li < sizeof(lengths) / sizeof(lengths[0]); li++) {
        for (size_t d = 0; d < RS_XOR_ALIGN; d++) {
            for (size_t count = 1; count <= 9; count++) {
                size_t skew[MAX_SOURCES];
                for (size_t i = 0; i < MAX_SOURCES; i++)
                    skew[i] = (d + i * 7) % RS_XOR_ALIGN;
                check_one(&b, lengths[li], count, skew, d, (int)(count % 2));
            }
        }
    }
    teardown(&b);
}
END_TEST

START_TEST(test_long_buffers_many_sources)
{
    struct buffers b;
    setup(&b, 3);
    size_t aligned[MAX_SOURCES] = {0};
    size_t skew[MAX_SOURCES] = {1, 2, 3, 5, 8, 13, 21, 34, 55, 0, 63};
    for (size_t count = 1; count <= MAX_SOURCES; count++) {
        for (int acc = 0; acc <= 1; acc++) {
            check_one(&b, MAX_LEN, count, aligned, 0, acc);
            check_one(&b, MAX_LEN - 1, count, skew, 17, acc);
        }
    }
    teardown(&b);
}
END_TEST

START_TEST(test_no_sources)
{
    uint8_t dst[100];
    memset(dst, 0x77, sizeof(dst));
    rs_xor_acc(dst, NULL, 0, sizeof(dst));
    for (size_t j = 0; j < sizeof(dst); j++)
        ck_assert_uint_eq(dst[j], 0x77);
    rs_xor_gen(dst, NULL, 0, sizeof(dst));
    for (size_t j = 0; j < sizeof(dst); j++)
        ck_assert_uint_eq(dst[j], 0);
}
END_TEST

/* Parity properties a RAID-5 relies on: any one block is the XOR of the
 * others and the parity; read-modify-write equals regeneration. */
START_TEST(test_parity_properties)
{
    enum { N = 5, LEN = 4096 + 64 + 3 };
    static uint8_t data[N][LEN], parity[LEN], rebuilt[LEN], updated[LEN];
    uint64_t state = 11;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < LEN; j++)
            data[i][j] = (uint8_t)next(&state);
    const void *all[N] = {data[0], data[1], data[2], data[3], data[4]};
    rs_xor_gen(parity, all, N, LEN);
    for (int lost = 0; lost < N; lost++) {
        const void *rest[N];
        int n = 0;
        for (int i = 0; i < N; i++)
            if (i != lost)
                rest[n++] = data[i];
        rest[n++] = parity;
        rs_xor_gen(rebuilt, rest, (size_t)n, LEN);
        ck_assert_mem_eq(rebuilt, data[lost], LEN);
    }
    /* P' = P ^ Dold ^ Dnew */
    uint8_t fresh[LEN];
    for (int j = 0; j < LEN; j++)
        fresh[j] = (uint8_t)next(&state);
    memcpy(updated, parity, LEN);
    const void *delta[2] = {data[2], fresh};
    rs_xor_acc(updated, delta, 2, LEN);
    memcpy(data[2], fresh, LEN);
    rs_xor_gen(parity, all, N, LEN);
    ck_assert_mem_eq(updated, parity, LEN);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("xor");
    TCase *tc = tcase_create("kernel");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_every_length);
    tcase_add_test(tc, test_misalignments);
    tcase_add_test(tc, test_long_buffers_many_sources);
    tcase_add_test(tc, test_no_sources);
    tcase_add_test(tc, test_parity_properties);
    suite_add_tcase(s, tc);
    return rs_test_run(s);
}
