/* Fixed-point helpers and the one requantization function (tinycnn/ref/fixedpoint.py),
 * inline: every kernel calls them once per output value. The exact store's out-of-line copy
 * is in tc_fixedpoint.c.
 *
 * A real factor M is a Q31 multiplier and a power-of-two shift: M = multiplier * 2^(shift-31).
 * Right shifts of negative values are arithmetic, as with every compiler tinycnn targets.
 */
#ifndef TC_FIXEDPOINT_H
#define TC_FIXEDPOINT_H

#include <string.h>

#include "tc_types.h"

static TC_INLINE int32_t tc_clamp(int32_t x, int32_t low, int32_t high)
{
    return x < low ? low : (x > high ? high : x);
}

/* (a * b + nudge) / 2^31 with C's truncating division: ties go towards +inf. */
static inline int32_t tc_saturating_rounding_doubling_high_mul(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    const int64_t product = (int64_t)a * (int64_t)b;
    const int64_t nudge = product >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
    return (int32_t)((product + nudge) / ((int64_t)1 << 31));
}

/* x / 2^exponent rounded to nearest, ties away from zero; exponent in [0, 31]. */
static inline int32_t tc_rounding_divide_by_pot(int32_t x, int32_t exponent)
{
    const int32_t mask = (int32_t)((UINT32_C(1) << exponent) - 1u); /* 32-bit: exponent < 32 */
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* total / count rounded half away from zero (an average pool's window mean); count > 0. */
static inline int32_t tc_rounding_divide(int32_t total, int32_t count)
{
    return total > 0 ? (total + count / 2) / count : (total - count / 2) / count;
}

/* (x * multiplier + 2^30) >> 31 for multiplier >= 0: TFLite's
 * SaturatingRoundingDoublingHighMul in one multiply-accumulate (SMLAL on a Cortex-M4).
 * TFLite adds 2^30 to a product p >= 0 and 1 - 2^30 to a negative one, then divides by 2^31
 * truncating towards zero. For p >= 0 that is floor((p + 2^30) / 2^31). For p < 0 the sum is
 * negative, so truncation is the ceiling: ceil((p + 1 - 2^30) / 2^31)
 * = floor((p + 1 - 2^30 + 2^31 - 1) / 2^31) = floor((p + 2^30) / 2^31). The same value either
 * way, and the saturation TFLite needs (both operands INT32_MIN) cannot happen. */
static TC_INLINE int32_t tc_doubling_high_mul_nonnegative(int32_t x, int32_t multiplier)
{
    return (int32_t)(((int64_t)x * multiplier + ((int64_t)1 << 30)) >> 31);
}

/* x * 2^shift for shift in [0, 31], saturated to int32 as the Python reference does (TFLite
 * leaves an overflowing left shift undefined). */
static inline int32_t tc_saturating_left_shift(int32_t x, int32_t shift)
{
    const int64_t wide = (int64_t)x * ((int64_t)1 << shift);
    return (int32_t)(wide > INT32_MAX ? INT32_MAX : (wide < INT32_MIN ? INT32_MIN : wide));
}

/* x * multiplier * 2^(shift - 31); any int32 x, shift in [-31, 30], multiplier in [0, 2^31).
 * Bit-identical to tinycnn/ref/fixedpoint.py's requantize for every such input
 * (tests/test_ref_fixedpoint.py runs it on ties, extremes and every shift). */
static inline int32_t tc_requantize(int32_t x, int32_t multiplier, int32_t shift, tc_rounding_t rounding)
{
    if (rounding == TC_ROUNDING_SINGLE) {
        const int32_t total_shift = 31 - shift;
        const int64_t rounder = (int64_t)1 << (total_shift - 1);
        /* |x * multiplier| < 2^62: the sum cannot overflow. */
        return (int32_t)(((int64_t)x * multiplier + rounder) >> total_shift);
    }
    if (shift > 0) { /* rare: a factor of 1 or more */
        return tc_doubling_high_mul_nonnegative(tc_saturating_left_shift(x, shift), multiplier);
    }
    return tc_rounding_divide_by_pot(tc_doubling_high_mul_nonnegative(x, multiplier), -shift);
}

/* The int8 value a kernel stores: requantize, add the output zero point, clamp. */
static inline int32_t tc_requantize_clamp(int32_t x, int32_t multiplier, int32_t shift,
                                          tc_rounding_t rounding, int32_t offset, int32_t act_min,
                                          int32_t act_max)
{
    return tc_clamp(tc_requantize(x, multiplier, shift, rounding) + offset, act_min, act_max);
}

/* TC_FAST_SHIFT_MIN..-1: the shifts tc_requantize_clamp_fast takes (with double rounding). */
#define TC_FAST_SHIFT_MIN (-23)

/* tc_requantize_clamp in about a dozen instructions, for double rounding and shift in
 * [TC_FAST_SHIFT_MIN, -1] (every channel of nearly every layer: the generator-side check is
 * tc_fast_requantize_ok). The rounding division of h by 2^r, r = -shift >= 1, ties away from
 * zero, is (h + 2^(r-1) - (h < 0)) >> r. The addition saturates (QADD) only when
 * h > 2^31 - 2^(r-1); then the exact quotient is at least 2^(31-r) - 1/2 and the computed
 * one 2^(31-r) - 1, both >= 255 for r <= 23, so after the zero point (>= -128) both clamp to
 * act_max (<= 127): the stored value is exact. tests/test_ref_fixedpoint.py checks it. */
static TC_INLINE int32_t tc_requantize_clamp_fast(int32_t x, int32_t multiplier, int32_t shift,
                                               int32_t offset, int32_t act_min, int32_t act_max)
{
    const int32_t r = -shift;
    const int32_t h = tc_doubling_high_mul_nonnegative(x, multiplier);
#if TC_DSP
    const int32_t rounded = __qadd(h, (int32_t)(UINT32_C(1) << (r - 1)));
#else
    const int64_t wide = (int64_t)h + (INT32_C(1) << (r - 1));
    const int32_t rounded = (int32_t)(wide > INT32_MAX ? INT32_MAX : wide);
#endif
    const int32_t value = ((rounded + (h >> 31)) >> r) + offset; /* h >> 31: -1 when h < 0 */
    return tc_clamp(value, act_min, act_max);
}

/* Whether tc_requantize_clamp_fast is exact for every channel's shift. */
static inline int tc_fast_requantize_ok(const int32_t *shift, int32_t count, tc_rounding_t rounding)
{
    if (rounding != TC_ROUNDING_DOUBLE) {
        return 0;
    }
    for (int32_t i = 0; i < count; ++i) {
        if (shift[i] > -1 || shift[i] < TC_FAST_SHIFT_MIN) {
            return 0;
        }
    }
    return 1;
}

/* Accumulators below this bound in magnitude take tc_requantize_small (2 * acc fits int32). */
#define TC_SMALL_ACC_LIMIT (INT32_C(1) << 30)

/* tc_requantize(acc, multiplier, shift, double rounding) + offset for |acc| < 2^30 and shift
 * in [TC_FAST_SHIFT_MIN, -1], not yet clamped; `twice_offset_plus_one` is 2 * offset + 1.
 * - The doubling high product (acc * multiplier + 2^30) >> 31 is SMMULR(2 * acc, multiplier),
 *   (2 * acc * multiplier + 2^31) >> 32: one multiply.
 * - The rounding division of h by 2^r (r = -shift, ties away from zero) is
 *   floor((h' + 2^(r-1)) / 2^r) with h' = h - (h < 0), which equals ((h' >> (r-1)) + 1) >> 1;
 *   the offset joins the last step as ((h' >> (r-1)) + 2 * offset + 1) >> 1.
 * |h| <= |acc| + 1 < 2^30, so nothing saturates. tests/test_ref_fixedpoint.py checks it. */
static TC_INLINE int32_t tc_requantize_small(int32_t acc, int32_t multiplier, int32_t shift,
                                             int32_t twice_offset_plus_one)
{
#if TC_DSP && defined(__GNUC__)
    int32_t high;
    __asm__("smmulr %0, %1, %2" : "=r"(high) : "r"(acc * 2), "r"(multiplier));
#else
    const int32_t high = tc_doubling_high_mul_nonnegative(acc, multiplier);
#endif
    const int32_t halved = (high + (high >> 31)) >> (-shift - 1);
    return (halved + twice_offset_plus_one) >> 1;
}

/* Whether a layer's accumulators all take tc_requantize_small: `fast` (tc_fast_requantize_ok)
 * and every start value (bias or folded bias) more than the most the products can add,
 * `terms` products of at most `term_bound` each (e.g. taps and 255 * 128), inside
 * TC_SMALL_ACC_LIMIT. Checked once per kernel call. */
int tc_small_acc_ok(int fast, const int32_t *start, int32_t count, int32_t terms, int32_t term_bound);

/* The activation range as tc_store4_clamped wants it: with the DSP instructions, each bound
 * in all four bytes of a word (the byte-wise SSUB8/SEL compare four values at once). */
typedef struct {
    int32_t low, high;
} tc_range4_t;

static inline tc_range4_t tc_range4(int32_t act_min, int32_t act_max)
{
#if TC_DSP
    const tc_range4_t range = {(int32_t)(((uint32_t)act_min & 0xFFu) * 0x01010101u),
                               (int32_t)(((uint32_t)act_max & 0xFFu) * 0x01010101u)};
#else
    const tc_range4_t range = {act_min, act_max};
#endif
    return range;
}

/* Two values (any int32) clamped to the activation range (within int8) and stored at out[0..1],
 * as tc_store4_clamped does four. */
static TC_INLINE void tc_store2_clamped(int8_t *out, int32_t v0, int32_t v1, tc_range4_t range)
{
#if TC_DSP && defined(__GNUC__)
    uint32_t pair = ((uint32_t)__ssat(v0, 8) & 0xFFu) | (((uint32_t)__ssat(v1, 8) & 0xFFu) << 8), scratch;
    __asm__("ssub8 %1, %0, %2\n\tsel %0, %0, %2\n\tssub8 %1, %3, %0\n\tsel %0, %0, %3"
            : "+r"(pair), "=&r"(scratch)
            : "r"(range.low), "r"(range.high)
            : "cc");
    const uint16_t half = (uint16_t)pair;
    memcpy(out, &half, 2);
#else
    out[0] = (int8_t)tc_clamp(v0, range.low, range.high);
    out[1] = (int8_t)tc_clamp(v1, range.low, range.high);
#endif
}

/* Four values (any int32) clamped to the activation range (within int8) and stored at out[0..3].
 * With the DSP instructions: SSAT to int8 (the range lies inside it), the four bytes packed in
 * one word, clamped byte-wise by SSUB8/SEL and written with one store. */
static TC_INLINE void tc_store4_clamped(int8_t *out, int32_t v0, int32_t v1, int32_t v2, int32_t v3,
                                        tc_range4_t range)
{
#if TC_DSP && defined(__GNUC__)
    const uint32_t even = ((uint32_t)__ssat(v0, 8) & 0xFFFFu) | ((uint32_t)__ssat(v2, 8) << 16);
    const uint32_t odd = ((uint32_t)__ssat(v1, 8) & 0xFFFFu) | ((uint32_t)__ssat(v3, 8) << 16);
    uint32_t word = __uxtb16(even) | (__uxtb16(odd) << 8), scratch;
    __asm__("ssub8 %1, %0, %2\n\tsel %0, %0, %2\n\tssub8 %1, %3, %0\n\tsel %0, %0, %3"
            : "+r"(word), "=&r"(scratch)
            : "r"(range.low), "r"(range.high)
            : "cc");
    memcpy(out, &word, 4);
#else
    out[0] = (int8_t)tc_clamp(v0, range.low, range.high);
    out[1] = (int8_t)tc_clamp(v1, range.low, range.high);
    out[2] = (int8_t)tc_clamp(v2, range.low, range.high);
    out[3] = (int8_t)tc_clamp(v3, range.low, range.high);
#endif
}

/* tc_requantize_clamp out of line (tc_fixedpoint.c): the general path of the kernels' stores,
 * one copy for every kernel instead of one inlined at each store. */
int8_t tc_requantize_store(int32_t acc, int32_t multiplier, int32_t shift, tc_rounding_t rounding,
                           int32_t offset, int32_t act_min, int32_t act_max);

/* The value a kernel stores: `fast` (tc_fast_requantize_ok for the layer) picks the short
 * inline path, else the exact one out of line. */
static TC_INLINE int8_t tc_store_requantized(int fast, int32_t acc, int32_t multiplier, int32_t shift,
                                             tc_rounding_t rounding, int32_t output_offset,
                                             int32_t act_min, int32_t act_max)
{
    return fast ? (int8_t)tc_requantize_clamp_fast(acc, multiplier, shift, output_offset, act_min, act_max)
                : tc_requantize_store(acc, multiplier, shift, rounding, output_offset, act_min, act_max);
}

#endif /* TC_FIXEDPOINT_H */
