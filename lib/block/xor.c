/* rshare block — XOR kernel: wide GCC vector words, sources folded in groups
 * of at most four so each pass streams a fixed number of buffers, and long
 * buffers cut into blocks so the destination stays in L1 between passes. */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "xor.h"

/* 64 bytes: one cache line, one AVX-512 register, two AVX2 or four SSE2
 * registers; the compiler splits it for the target.  may_alias because the
 * buffers are byte arrays of any type. */
typedef uint64_t rs_vec __attribute__((vector_size(RS_XOR_ALIGN), may_alias));

enum {
    GROUP = 4,   /* sources folded per pass */
    BLOCK = 8192 /* bytes per block across passes: dst stays in L1 */
};

static void xor_blocks(uint8_t *dst, const uint8_t *const *src, size_t count, size_t len,
                       bool accumulate);
static void xor_pass(uint8_t *dst, const uint8_t *const *src, size_t k, size_t len, bool acc,
                     bool aligned);
static void xor_tail(uint8_t *dst, const uint8_t *const *src, size_t count, size_t len,
                     bool accumulate);

void rs_xor_gen(void *dst, const void *const *src, size_t count, size_t len)
{
    if (count == 0) {
        memset(dst, 0, len);
        return;
    }
    xor_blocks(dst, (const uint8_t *const *)src, count, len, false);
}

void rs_xor_acc(void *dst, const void *const *src, size_t count, size_t len)
{
    if (count == 0)
        return;
    xor_blocks(dst, (const uint8_t *const *)src, count, len, true);
}

static bool all_aligned(const uint8_t *dst, const uint8_t *const *src, size_t count)
{
    uintptr_t bits = (uintptr_t)dst;
    for (size_t i = 0; i < count; i++)
        bits |= (uintptr_t)src[i];
    return (bits & (RS_XOR_ALIGN - 1)) == 0;
}

static void xor_blocks(uint8_t *dst, const uint8_t *const *src, size_t count, size_t len,
                       bool accumulate)
{
    size_t body = len & ~(size_t)(RS_XOR_ALIGN - 1);
    /* Block offsets are multiples of 64, so alignment is a property of the
     * base pointers alone. */
    bool aligned = all_aligned(dst, src, count);
    const uint8_t *shifted[GROUP];
    for (size_t off = 0; off < body; off += BLOCK) {
        size_t n = body - off < BLOCK ? body - off : BLOCK;
        bool acc = accumulate;
        for (size_t first = 0; first < count; first += GROUP) {
            size_t k = count - first < GROUP ? count - first : GROUP;
            for (size_t j = 0; j < k; j++)
                shifted[j] = src[first + j] + off;
            xor_pass(dst + off, shifted, k, n, acc, aligned);
            acc = true; /* later groups fold into what the first wrote */
        }
    }
    if (body < len) {
        const uint8_t *rest[GROUP];
        bool acc = accumulate;
        for (size_t first = 0; first < count; first += GROUP) {
            size_t k = count - first < GROUP ? count - first : GROUP;
            for (size_t j = 0; j < k; j++)
                rest[j] = src[first + j] + body;
            xor_tail(dst + body, rest, k, len - body, acc);
            acc = true;
        }
    }
}

/* Loads and stores as macros, not functions: a function taking or returning
 * a 64-byte vector has a different ABI per instruction set. */
#define RS_XOR_LOAD(v, p, aligned)                                                                 \
    do {                                                                                           \
        if (aligned)                                                                               \
            (v) = *(const rs_vec *)(const void *)(p);                                              \
        else                                                                                       \
            memcpy(&(v), (p), sizeof(rs_vec));                                                     \
    } while (0)
#define RS_XOR_STORE(p, v, aligned)                                                                \
    do {                                                                                           \
        if (aligned)                                                                               \
            *(rs_vec *)(void *)(p) = (v);                                                          \
        else                                                                                       \
            memcpy((p), &(v), sizeof(rs_vec));                                                     \
    } while (0)

/* One pass over `len` bytes (a multiple of 64) with k (1..GROUP) sources.
 * Instantiated for each constant k, acc and aligned, so that the inner loop
 * has no branches and no loop over sources. */
static inline __attribute__((always_inline)) void
pass_body(uint8_t *dst, const uint8_t *const *src, size_t k, size_t len, bool acc, bool aligned)
{
    const uint8_t *a = src[0], *b = src[k > 1 ? 1 : 0], *c = src[k > 2 ? 2 : 0],
                  *d = src[k > 3 ? 3 : 0];
    for (size_t i = 0; i < len; i += sizeof(rs_vec)) {
        rs_vec v, w;
        RS_XOR_LOAD(v, a + i, aligned);
        if (k > 1) {
            RS_XOR_LOAD(w, b + i, aligned);
            v ^= w;
        }
        if (k > 2) {
            RS_XOR_LOAD(w, c + i, aligned);
            v ^= w;
        }
        if (k > 3) {
            RS_XOR_LOAD(w, d + i, aligned);
            v ^= w;
        }
        if (acc) {
            RS_XOR_LOAD(w, dst + i, aligned);
            v ^= w;
        }
        RS_XOR_STORE(dst + i, v, aligned);
    }
}

/* On x86-64 Linux each pass is compiled for AVX-512, AVX2 and the baseline
 * and the loader picks one for the CPU (an ifunc): twice the width of the
 * baseline's SSE2 in caches, where the XOR would otherwise trail memcpy. */
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define RS_XOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#endif
#ifndef RS_XOR_CLONES
#define RS_XOR_CLONES
#endif

#define RS_XOR_PASS(name, k, acc, aligned)                                                         \
    RS_XOR_CLONES static void name(uint8_t *dst, const uint8_t *const *src, size_t len)            \
    {                                                                                              \
        pass_body(dst, src, k, len, acc, aligned);                                                 \
    }
RS_XOR_PASS(put1a, 1, false, true)
RS_XOR_PASS(put2a, 2, false, true)
RS_XOR_PASS(put3a, 3, false, true)
RS_XOR_PASS(put4a, 4, false, true)
RS_XOR_PASS(acc1a, 1, true, true)
RS_XOR_PASS(acc2a, 2, true, true)
RS_XOR_PASS(acc3a, 3, true, true)
RS_XOR_PASS(acc4a, 4, true, true)
RS_XOR_PASS(put1u, 1, false, false)
RS_XOR_PASS(put2u, 2, false, false)
RS_XOR_PASS(put3u, 3, false, false)
RS_XOR_PASS(put4u, 4, false, false)
RS_XOR_PASS(acc1u, 1, true, false)
RS_XOR_PASS(acc2u, 2, true, false)
RS_XOR_PASS(acc3u, 3, true, false)
RS_XOR_PASS(acc4u, 4, true, false)
#undef RS_XOR_PASS

static void xor_pass(uint8_t *dst, const uint8_t *const *src, size_t k, size_t len, bool acc,
                     bool aligned)
{
    typedef void (*pass_fn)(uint8_t *, const uint8_t *const *, size_t);
    /* [aligned][acc][k - 1] */
    static const pass_fn passes[2][2][GROUP] = {
        {{put1u, put2u, put3u, put4u}, {acc1u, acc2u, acc3u, acc4u}},
        {{put1a, put2a, put3a, put4a}, {acc1a, acc2a, acc3a, acc4a}}};
    passes[aligned][acc][k - 1](dst, src, len);
}

/* The last len % 64 bytes: 8-byte words, then bytes. */
static void xor_tail(uint8_t *dst, const uint8_t *const *src, size_t count, size_t len,
                     bool accumulate)
{
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t v = 0, w;
        if (accumulate)
            memcpy(&v, dst + i, 8);
        for (size_t j = 0; j < count; j++) {
            memcpy(&w, src[j] + i, 8);
            v ^= w;
        }
        memcpy(dst + i, &v, 8);
    }
    for (; i < len; i++) {
        uint8_t v = accumulate ? dst[i] : 0;
        for (size_t j = 0; j < count; j++)
            v ^= src[j][i];
        dst[i] = v;
    }
}
