/* Fixed-point helpers and the one requantization function (tinycnn/ref/fixedpoint.py).
 *
 * A real factor M is a Q31 multiplier and a power-of-two shift: M = multiplier * 2^(shift-31).
 * Right shifts of negative values are arithmetic, as with every compiler tinycnn targets.
 */
#include "tc_runtime.h"

int32_t tc_clamp(int32_t x, int32_t low, int32_t high)
{
    return x < low ? low : (x > high ? high : x);
}

/* (a * b + nudge) / 2^31 with C's truncating division: ties go towards +inf. */
int32_t tc_saturating_rounding_doubling_high_mul(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    const int64_t product = (int64_t)a * (int64_t)b;
    const int64_t nudge = product >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
    return (int32_t)((product + nudge) / ((int64_t)1 << 31));
}

/* x / 2^exponent rounded to nearest, ties away from zero; exponent in [0, 31]. */
int32_t tc_rounding_divide_by_pot(int32_t x, int32_t exponent)
{
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* x * multiplier * 2^(shift - 31); shift in [-31, 30], multiplier in [0, 2^31). */
int32_t tc_requantize(int32_t x, int32_t multiplier, int32_t shift, tc_rounding_t rounding)
{
    if (rounding == TC_ROUNDING_SINGLE) {
        const int32_t total_shift = 31 - shift;
        const int64_t rounder = (int64_t)1 << (total_shift - 1);
        /* |x * multiplier| < 2^62: the sum cannot overflow. */
        return (int32_t)(((int64_t)x * multiplier + rounder) >> total_shift);
    }
    const int32_t left_shift = shift > 0 ? shift : 0;
    const int32_t right_shift = shift > 0 ? 0 : -shift;
    int64_t shifted = (int64_t)x * ((int64_t)1 << left_shift);
    /* Saturate the left shift as the Python reference does (TFLite leaves it undefined). */
    shifted = shifted > INT32_MAX ? INT32_MAX : (shifted < INT32_MIN ? INT32_MIN : shifted);
    return tc_rounding_divide_by_pot(
        tc_saturating_rounding_doubling_high_mul((int32_t)shifted, multiplier), right_shift);
}
