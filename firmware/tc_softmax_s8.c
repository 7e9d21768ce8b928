/* SOFTMAX int8 -> int8 with output scale 1/256, zero point -128 (tinycnn/ref/softmax.py,
 * TFLite reference_ops::Softmax): gemmlowp fixed point, Q5.26 differences, Q0 exponentials,
 * a Q12 sum and its reciprocal. Helpers below mirror tinycnn/ref/gemmlowp.py. */
#include "tc_runtime.h"

#define TC_SCALED_DIFF_INTEGER_BITS 5
#define TC_ACCUMULATION_INTEGER_BITS 12

static int32_t srdhm(int32_t a, int32_t b)
{
    return tc_saturating_rounding_doubling_high_mul(a, b);
}

/* x * 2^exponent: saturating left shift, or rounding right shift for negative exponents. */
static int32_t multiply_by_pot(int32_t x, int32_t exponent)
{
    if (exponent > 0) {
        const int64_t shifted = (int64_t)x * ((int64_t)1 << exponent);
        return shifted > INT32_MAX ? INT32_MAX : (shifted < INT32_MIN ? INT32_MIN : (int32_t)shifted);
    }
    return exponent < 0 ? tc_rounding_divide_by_pot(x, -exponent) : x;
}

/* exp(a) for a in [-1/4, 0), Q0: fourth-order Taylor series around -1/8. */
static int32_t exp_on_interval(int32_t a)
{
    const int32_t constant_term = 1895147668; /* exp(-1/8) */
    const int32_t constant_1_over_3 = 715827883;
    const int32_t x = a + (1 << 28);
    const int32_t x2 = srdhm(x, x);
    const int32_t x3 = srdhm(x2, x);
    const int32_t x4 = srdhm(x2, x2);
    const int32_t x4_over_4 = multiply_by_pot(x4, -2);
    const int32_t polynomial = multiply_by_pot(srdhm(x4_over_4 + x3, constant_1_over_3) + x2, -1);
    return constant_term + srdhm(constant_term, x + polynomial);
}

/* exp(a) for a <= 0 in Q5.26; result Q0. */
static int32_t exp_on_negative_values(int32_t a)
{
    static const int32_t multipliers[7] = {1672461947, 1302514674, 790015084, 290630308,
                                           39332535,   720401,     242};
    const int32_t fractional_bits = 31 - TC_SCALED_DIFF_INTEGER_BITS;
    const int32_t one_quarter = 1 << (fractional_bits - 2);
    const int32_t a_mod_quarter_minus_one_quarter = (a & (one_quarter - 1)) - one_quarter;
    int32_t result = exp_on_interval(multiply_by_pot(a_mod_quarter_minus_one_quarter, TC_SCALED_DIFF_INTEGER_BITS));
    const int32_t remainder = a_mod_quarter_minus_one_quarter - a;
    for (int32_t k = 0; k < 7; ++k) { /* exponents -2 .. 4, all below the 5 integer bits */
        if (remainder & (1 << (fractional_bits - 2 + k))) {
            result = srdhm(result, multipliers[k]);
        }
    }
    return a == 0 ? INT32_MAX : result;
}

/* 1 / (1 + a) for a in [0, 1), Q0: three Newton-Raphson steps in Q2. */
static int32_t one_over_one_plus_x(int32_t a)
{
    const int64_t sum = (int64_t)a + INT32_MAX;
    const int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    int32_t x = 1515870810 + srdhm(half_denominator, -1010580540);
    for (int32_t i = 0; i < 3; ++i) {
        const int32_t one_minus = (1 << 29) - srdhm(half_denominator, x);
        x = x + multiply_by_pot(srdhm(x, one_minus), 2);
    }
    return multiply_by_pot(x, 1);
}

static int32_t count_leading_zeros(uint32_t x)
{
    int32_t zeros = 0;
    if (x == 0) {
        return 32;
    }
    while (!(x & 0x80000000u)) {
        x <<= 1;
        ++zeros;
    }
    return zeros;
}

void tc_softmax_s8(const tc_softmax_params_t *params, int32_t rows, int32_t depth,
                   const int8_t *input, int8_t *output)
{
    for (int32_t row = 0; row < rows; ++row) {
        const int8_t *in = input + row * depth;
        int8_t *out = output + row * depth;
        int32_t max_in_row = INT8_MIN;
        for (int32_t c = 0; c < depth; ++c) {
            max_in_row = in[c] > max_in_row ? in[c] : max_in_row;
        }
        int32_t sum_of_exps = 0; /* Q12.19: up to 4096 exps of at most 1 */
        for (int32_t c = 0; c < depth; ++c) {
            const int32_t diff = (int32_t)in[c] - max_in_row;
            if (diff >= params->diff_min) {
                const int32_t rescaled =
                    tc_requantize(diff, params->input_multiplier, params->input_left_shift, params->rounding);
                sum_of_exps += multiply_by_pot(exp_on_negative_values(rescaled), -TC_ACCUMULATION_INTEGER_BITS);
            }
        }
        const int32_t headroom_plus_one = count_leading_zeros((uint32_t)sum_of_exps);
        const int32_t num_bits_over_unit = TC_ACCUMULATION_INTEGER_BITS - headroom_plus_one;
        const int32_t shifted_sum_minus_one =
            (int32_t)(((uint32_t)sum_of_exps << headroom_plus_one) - ((uint32_t)1 << 31));
        const int32_t shifted_scale = one_over_one_plus_x(shifted_sum_minus_one);
        for (int32_t c = 0; c < depth; ++c) {
            const int32_t diff = (int32_t)in[c] - max_in_row;
            if (diff >= params->diff_min) {
                const int32_t rescaled =
                    tc_requantize(diff, params->input_multiplier, params->input_left_shift, params->rounding);
                const int32_t exp_value = exp_on_negative_values(rescaled);
                const int32_t unsat =
                    tc_rounding_divide_by_pot(srdhm(shifted_scale, exp_value), num_bits_over_unit + 31 - 8);
                out[c] = (int8_t)tc_clamp(unsat - 128, INT8_MIN, INT8_MAX);
            } else {
                out[c] = INT8_MIN;
            }
        }
    }
}
