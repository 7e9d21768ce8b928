/* tinycnn runtime: the inline SIMD helpers and inner loops of the kernels, each with its
 * portable form (like CMSIS-NN's arm_nnsupportfunctions.h): the word loads and byte widening
 * that CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED use, and the CONV_2D pair dot products
 * (tc_conv_dot_pair_s8.c picks one).
 *
 * With the DSP instructions of a Cortex-M4/M7 (TC_DSP, tc_types.h) the loops take four int8
 * values a step: SXTB16 widens bytes 0 and 2, and with ROR #8 bytes 1 and 3, to 16-bit pairs;
 * SMLAD adds two products, SMLABB/SMLATT one. Elsewhere the plain loops compute the same sums
 * in the same layouts, so both builds give the same results bit for bit. */
#ifndef TC_DSP_SUPPORT_H
#define TC_DSP_SUPPORT_H

#include <string.h>

#include "tc_types.h"

/* Four bytes as a word: one LDR where unaligned loads are allowed (Cortex-M3/M4/M7), which
 * compilers know; bytewise elsewhere. */
static TC_INLINE uint32_t tc_load4(const int8_t *p)
{
    uint32_t word;
    memcpy(&word, p, 4);
    return word;
}

#if TC_DSP
/* Bytes 1 and 3 of `word` sign-extended to two int16 halves: SXTB16 with ROR #8. */
static TC_INLINE int32_t tc_sxtb16_ror8(uint32_t word)
{
#if defined(__GNUC__)
    int32_t result;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(result) : "r"(word)); /* one instruction, not two */
    return result;
#else
    return __sxtb16((int32_t)((word >> 8) | (word << 24)));
#endif
}

/* acc's two 16-bit halves plus bytes 1 and 3 of `word`, sign-extended: SXTAB16 with ROR #8. */
static TC_INLINE int32_t tc_sxtab16_ror8(int32_t acc, uint32_t word)
{
#if defined(__GNUC__)
    int32_t result;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(result) : "r"(acc), "r"(word));
    return result;
#else
    return __sxtab16(acc, (int32_t)((word >> 8) | (word << 24)));
#endif
}
#endif

/* Four dot products for CONV_2D: two input windows a0, a1 with the filters of two output
 * channels b0, b1, stored pair-interleaved by the generator: for each group of 4 taps, b0's
 * 4 bytes then b1's 4 bytes. n (a multiple of 4) taps; sums[0] += a0.b0, sums[1] += a0.b1,
 * sums[2] += a1.b0, sums[3] += a1.b1.
 *
 * With the DSP instructions the two windows are first widened to int16 and interleaved by
 * tc_widen_pair_s8 (per 4 taps: a0's bytes 0 and 2, a0's 1 and 3, a1's 0 and 2, a1's 1 and 3,
 * each pair in one word, SXTB16's order), so each 4-tap step is one LDM of the windows, two
 * weight loads, four SXTB16 and eight SMLAD: 16 multiply-accumulates in 17 instructions. */
#if TC_DSP
static TC_INLINE void tc_widen_pair_s8(const int8_t *a0, const int8_t *a1, int32_t n, uint32_t *out)
{
    for (int32_t i = 0; i < n; i += 4) {
        const uint32_t w0 = tc_load4(a0 + i), w1 = tc_load4(a1 + i);
        out[0] = (uint32_t)__sxtb16((int32_t)w0);
        out[1] = (uint32_t)tc_sxtb16_ror8(w0);
        out[2] = (uint32_t)__sxtb16((int32_t)w1);
        out[3] = (uint32_t)tc_sxtb16_ror8(w1);
        out += 4;
    }
}

static TC_INLINE void tc_dot_2x2_widened(const uint32_t *windows, const int8_t *pair_weights, int32_t n,
                                      int32_t sums[4])
{
    int32_t s00 = sums[0], s01 = sums[1], s10 = sums[2], s11 = sums[3];
    const uint32_t *a = windows;
    const uint32_t *const end = windows + n; /* 4 words per 4 taps; n > 0 */
    const int8_t *b = pair_weights;
#if defined(__GNUC__) && defined(__OPTIMIZE__)
    /* gcc spills registers in this loop when it is written with intrinsics (26 instructions
     * a step instead of 17): the windows go to r4, r5, r6, r8 so one LDM loads them. The
     * loop runs two steps a turn (16.5 instructions a step); an odd step runs first. */
#define TC_DOT_2X2_STEP \
    "ldm %[a]!, {r4, r5, r6, r8}\n\t" \
    "ldr %[t], [%[b]], #4\n\t" \
    "sxtb16 %[te], %[t]\n\t" \
    "sxtb16 %[t], %[t], ror #8\n\t" \
    "smlad %[s00], r4, %[te], %[s00]\n\t" \
    "smlad %[s00], r5, %[t], %[s00]\n\t" \
    "smlad %[s10], r6, %[te], %[s10]\n\t" \
    "smlad %[s10], r8, %[t], %[s10]\n\t" \
    "ldr %[t], [%[b]], #4\n\t" \
    "sxtb16 %[te], %[t]\n\t" \
    "sxtb16 %[t], %[t], ror #8\n\t" \
    "smlad %[s01], r4, %[te], %[s01]\n\t" \
    "smlad %[s01], r5, %[t], %[s01]\n\t" \
    "smlad %[s11], r6, %[te], %[s11]\n\t" \
    "smlad %[s11], r8, %[t], %[s11]\n\t"
    uint32_t t, te;
    __asm__ volatile(
        "sub %[t], %[end], %[a]\n\t" /* 16 bytes a step: bit 4 set for an odd count */
        "tst %[t], #16\n\t"
        "beq 2f\n\t"
        TC_DOT_2X2_STEP
        "cmp %[a], %[end]\n\t"
        "beq 3f\n\t"
        "2:\n\t"
        TC_DOT_2X2_STEP
        TC_DOT_2X2_STEP
        "cmp %[a], %[end]\n\t"
        "bne 2b\n\t"
        "3:\n\t"
        : [s00] "+r"(s00), [s01] "+r"(s01), [s10] "+r"(s10), [s11] "+r"(s11), [a] "+r"(a),
          [b] "+r"(b), [t] "=&r"(t), [te] "=&r"(te)
        : [end] "r"(end)
        : "r4", "r5", "r6", "r8", "cc", "memory");
#undef TC_DOT_2X2_STEP
#else
    for (; a < end; a += 4, b += 8) {
        const uint32_t b0 = tc_load4(b), b1 = tc_load4(b + 4);
        const int32_t b0_even = __sxtb16((int32_t)b0), b0_odd = tc_sxtb16_ror8(b0);
        const int32_t b1_even = __sxtb16((int32_t)b1), b1_odd = tc_sxtb16_ror8(b1);
        s00 = __smlad((int32_t)a[1], b0_odd, __smlad((int32_t)a[0], b0_even, s00));
        s01 = __smlad((int32_t)a[1], b1_odd, __smlad((int32_t)a[0], b1_even, s01));
        s10 = __smlad((int32_t)a[3], b0_odd, __smlad((int32_t)a[2], b0_even, s10));
        s11 = __smlad((int32_t)a[3], b1_odd, __smlad((int32_t)a[2], b1_even, s11));
    }
#endif
    sums[0] = s00, sums[1] = s01, sums[2] = s10, sums[3] = s11;
}
/* tc_dot_2x2_widened with weights the generator stored widened (int16, SXTB16's order: per
 * 4 taps, channel 2p's words (t0 t2) (t1 t3), then channel 2p + 1's): a step is one LDM of
 * the windows, two LDRD of the weights and eight SMLAD, 11 instructions for 16
 * multiply-accumulates. */
static TC_INLINE void tc_dot_2x2_wide_weights(const uint32_t *windows, const int16_t *pair_weights,
                                               int32_t n, int32_t sums[4])
{
    int32_t s00 = sums[0], s01 = sums[1], s10 = sums[2], s11 = sums[3];
    const uint32_t *a = windows;
    const uint32_t *const end = windows + n;
    const uint32_t *b = (const uint32_t *)(const void *)pair_weights;
#if defined(__GNUC__) && defined(__OPTIMIZE__) /* at -O0 gcc cannot spare the registers */
    uint32_t even, odd;
    __asm__ volatile(
        "1:\n\t"
        "ldm %[a]!, {r4, r5, r6, r8}\n\t"
        "ldrd %[even], %[odd], [%[b]], #8\n\t"
        "smlad %[s00], r4, %[even], %[s00]\n\t"
        "smlad %[s00], r5, %[odd], %[s00]\n\t"
        "smlad %[s10], r6, %[even], %[s10]\n\t"
        "smlad %[s10], r8, %[odd], %[s10]\n\t"
        "ldrd %[even], %[odd], [%[b]], #8\n\t"
        "smlad %[s01], r4, %[even], %[s01]\n\t"
        "smlad %[s01], r5, %[odd], %[s01]\n\t"
        "smlad %[s11], r6, %[even], %[s11]\n\t"
        "smlad %[s11], r8, %[odd], %[s11]\n\t"
        "cmp %[a], %[end]\n\t"
        "bne 1b\n\t"
        : [s00] "+r"(s00), [s01] "+r"(s01), [s10] "+r"(s10), [s11] "+r"(s11), [a] "+r"(a),
          [b] "+r"(b), [even] "=&r"(even), [odd] "=&r"(odd)
        : [end] "r"(end)
        : "r4", "r5", "r6", "r8", "cc", "memory");
#else
    for (; a < end; a += 4, b += 4) {
        s00 = __smlad((int32_t)a[1], (int32_t)b[1], __smlad((int32_t)a[0], (int32_t)b[0], s00));
        s10 = __smlad((int32_t)a[3], (int32_t)b[1], __smlad((int32_t)a[2], (int32_t)b[0], s10));
        s01 = __smlad((int32_t)a[1], (int32_t)b[3], __smlad((int32_t)a[0], (int32_t)b[2], s01));
        s11 = __smlad((int32_t)a[3], (int32_t)b[3], __smlad((int32_t)a[2], (int32_t)b[2], s11));
    }
#endif
    sums[0] = s00, sums[1] = s01, sums[2] = s10, sums[3] = s11;
}
#else
static TC_INLINE void tc_dot_2x2_s8(const int8_t *a0, const int8_t *a1, const int8_t *pair_weights,
                                 int32_t n, int32_t sums[4])
{
    int32_t s00 = sums[0], s01 = sums[1], s10 = sums[2], s11 = sums[3];
    for (int32_t i = 0; i < n; i += 4, pair_weights += 8) {
        /* written out: each weight and input byte loaded once, used twice */
#define TC_TAP(j)                                                                  \
    do {                                                                           \
        const int32_t x0 = a0[i + (j)], x1 = a1[i + (j)];                          \
        const int32_t w0 = pair_weights[(j)], w1 = pair_weights[4 + (j)];          \
        s00 += x0 * w0;                                                            \
        s01 += x0 * w1;                                                            \
        s10 += x1 * w0;                                                            \
        s11 += x1 * w1;                                                            \
    } while (0)
        TC_TAP(0);
        TC_TAP(1);
        TC_TAP(2);
        TC_TAP(3);
#undef TC_TAP
    }
    sums[0] = s00, sums[1] = s01, sums[2] = s10, sums[3] = s11;
}

/* tc_dot_2x2_s8 with the weights stored widened (see tc_dot_2x2_wide_weights). */
static TC_INLINE void tc_dot_2x2_s8_wide_weights(const int8_t *a0, const int8_t *a1,
                                                 const int16_t *w, int32_t n, int32_t sums[4])
{
    int32_t s00 = sums[0], s01 = sums[1], s10 = sums[2], s11 = sums[3];
    for (int32_t i = 0; i < n; i += 4, w += 8) {
        /* w[0..3]: channel 2p's taps 0, 2, 1, 3; w[4..7]: channel 2p + 1's */
#define TC_TAP(tap, slot)                                                          \
    do {                                                                           \
        const int32_t x0 = a0[i + (tap)], x1 = a1[i + (tap)];                      \
        const int32_t w0 = w[(slot)], w1 = w[4 + (slot)];                          \
        s00 += x0 * w0;                                                            \
        s01 += x0 * w1;                                                            \
        s10 += x1 * w0;                                                            \
        s11 += x1 * w1;                                                            \
    } while (0)
        TC_TAP(0, 0);
        TC_TAP(2, 1);
        TC_TAP(1, 2);
        TC_TAP(3, 3);
#undef TC_TAP
    }
    sums[0] = s00, sums[1] = s01, sums[2] = s10, sums[3] = s11;
}
#endif

#endif /* TC_DSP_SUPPORT_H */
