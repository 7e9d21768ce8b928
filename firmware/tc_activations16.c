/* The integer LSTM's int16 sigmoid and tanh in LiteRT's form (tinycnn/ref/activations16.py,
 * convention "tflite"); TFLite Micro's table form is inline in tc_lstm_s8.c, its one user. */
#include "tc_runtime.h"

/* ---- LiteRT's form (convention "tflite"): gemmlowp's fixed-point logistic and tanh on int16
 * (tinycnn/ref/gemmlowp.py with bits=16). Raw int16 values in int32 variables; a sum stored
 * back into the raw type wraps, as gemmlowp's int16 arithmetic does. The Q0 constants are
 * gemmlowp's int32 ones rounded to 16 bits. */

static TC_INLINE int32_t tc_wrap16(int32_t x)
{
    return (int32_t)(int16_t)(uint16_t)(uint32_t)x;
}

/* SaturatingRoundingDoublingHighMul on int16: a * b / 2^15, ties towards +inf. */
static TC_INLINE int32_t tc_mul16(int32_t a, int32_t b)
{
    if (a == INT16_MIN && b == INT16_MIN) {
        return INT16_MAX;
    }
    return (a * b + (1 << 14)) >> 15;
}

/* x * 2^exponent: saturating left shift, or rounding right shift when exponent < 0. */
static TC_INLINE int32_t tc_multiply_by_pot16(int32_t x, int32_t exponent)
{
    if (exponent > 0) {
        const int32_t limit = (1 << (15 - exponent)) - 1;
        return x > limit ? INT16_MAX : (x < -limit ? INT16_MIN : x * (1 << exponent));
    }
    return exponent < 0 ? tc_rounding_divide_by_pot(x, -exponent) : x;
}

/* exp(a) for a in [-1/4, 0), Q0 in and out: a 4th-order expansion around -1/8. */
static int32_t tc_exp_quarter16(int32_t a)
{
    const int32_t exp_minus_one_eighth = 28918, one_third = 10923;
    const int32_t x = tc_wrap16(a + (1 << 12));
    const int32_t x2 = tc_mul16(x, x), x3 = tc_mul16(x2, x), x4 = tc_mul16(x2, x2);
    const int32_t x4_over_4 = tc_multiply_by_pot16(x4, -2);
    const int32_t polynomial = tc_multiply_by_pot16(
        tc_wrap16(tc_mul16(tc_wrap16(x4_over_4 + x3), one_third) + x2), -1);
    return tc_clamp(exp_minus_one_eighth + tc_mul16(exp_minus_one_eighth, tc_wrap16(x + polynomial)),
                    INT16_MIN, INT16_MAX);
}

/* exp(a) for a <= 0 in Q(integer_bits), integer_bits 1..7; Q0 out. */
static int32_t tc_exp_on_negative_values16(int32_t a, int32_t integer_bits)
{
    /* exp(-2^k) in Q0 for k = -2..4, applied bit by bit (the last rounds to 0 in 16 bits). */
    static const int32_t exp_of_powers[7] = {25520, 19875, 12055, 4435, 600, 11, 0};
    const int32_t fractional_bits = 15 - integer_bits;
    const int32_t quarter = 1 << (fractional_bits - 2);
    const int32_t remainder_base = tc_wrap16((a & (quarter - 1)) - quarter);
    int32_t result = tc_exp_quarter16(tc_multiply_by_pot16(remainder_base, integer_bits));
    const int32_t remainder = tc_wrap16(remainder_base - a);
    for (int32_t k = -2; k <= 4; ++k) {
        if (integer_bits > k && ((remainder >> (fractional_bits + k)) & 1)) {
            result = tc_mul16(result, exp_of_powers[k + 2]);
        }
    }
    if (integer_bits > 5) { /* below -32, exp rounds to 0 */
        const int32_t clamp = integer_bits == 6 ? -16384 : -8192;
        if (a < clamp) {
            result = 0;
        }
    }
    return a == 0 ? INT16_MAX : result;
}

/* 2 / (1 + a) in Q2 for a in [0, 1) in Q0: three Newton-Raphson steps from 48/17 - 32/17 d. */
static int32_t tc_reciprocal_q2_16(int32_t a)
{
    const int32_t total = a + INT16_MAX;
    const int32_t half_denominator = (total + (total >= 0 ? 1 : -1)) / 2;
    int32_t x = tc_wrap16(23130 + tc_mul16(half_denominator, -15420));
    for (int32_t step = 0; step < 3; ++step) {
        const int32_t one_minus = tc_wrap16((1 << 13) - tc_mul16(half_denominator, x));
        x = tc_wrap16(x + tc_multiply_by_pot16(tc_mul16(x, one_minus), 2));
    }
    return x;
}

int16_t tc_gemmlowp_sigmoid_q15(int16_t x)
{
    const int32_t a = x;
    if (a == 0) {
        return 1 << 14;
    }
    const int32_t magnitude = a > 0 ? a : tc_wrap16(-a);
    const int32_t e = tc_exp_on_negative_values16(tc_wrap16(-magnitude), 3);
    const int32_t positive = tc_multiply_by_pot16(tc_reciprocal_q2_16(e), 1);
    return (int16_t)(a > 0 ? positive : INT16_MAX - positive);
}

int16_t tc_gemmlowp_tanh_q15(int16_t x, int32_t integer_bits)
{
    const int32_t a = x;
    if (a == 0) {
        return 0;
    }
    const int32_t minus_magnitude = a < 0 ? a : tc_wrap16(-a);
    const int32_t e = tc_exp_on_negative_values16(minus_magnitude, integer_bits + 1);
    const int32_t magnitude =
        tc_multiply_by_pot16(tc_wrap16(tc_reciprocal_q2_16(e) - (1 << 13)), 2);
    return (int16_t)(a < 0 ? tc_wrap16(-magnitude) : magnitude);
}
