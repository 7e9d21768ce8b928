/* SOFTMAX int8 -> int8 with output scale 1/256, zero point -128 (tinycnn/ref/softmax.py,
 * TFLite reference_ops::Softmax): gemmlowp fixed point, Q5.26 differences, Q0 exponentials,
 * a Q12 sum and its reciprocal (the exponential and the reciprocal are in tc_gemmlowp.c).
 * A row of up to TC_SOFTMAX_KEPT classes (every classifier's) keeps its exponentials from the
 * sum to the outputs instead of computing each twice; longer rows compute them again. */
#include "tc_runtime.h"

#define TC_SCALED_DIFF_INTEGER_BITS 5
#define TC_ACCUMULATION_INTEGER_BITS 12
#define TC_SOFTMAX_KEPT 64

static int32_t tc_count_leading_zeros(uint32_t x)
{
#if defined(__GNUC__)
    return x == 0 ? 32 : __builtin_clz(x); /* one CLZ */
#else
    int32_t zeros = 0;
    if (x == 0) {
        return 32;
    }
    while (!(x & 0x80000000u)) {
        x <<= 1;
        ++zeros;
    }
    return zeros;
#endif
}

/* exp(diff * input scale) in Q0, or 0 below diff_min (where the outputs are -128). */
static int32_t tc_softmax_exp(const tc_softmax_params_t *params, int32_t diff)
{
    if (diff < params->diff_min) {
        return 0;
    }
    if (diff == 0) { /* the row's largest: 0 rescales to 0, and exp(0) is 1 (Q0.31, saturated) */
        return INT32_MAX;
    }
    const int32_t rescaled =
        tc_requantize(diff, params->input_multiplier, params->input_left_shift, params->rounding);
    return tc_exp_on_negative_values(rescaled, TC_SCALED_DIFF_INTEGER_BITS);
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
        int32_t kept[TC_SOFTMAX_KEPT];
        const int keep = depth <= TC_SOFTMAX_KEPT;
        int32_t sum_of_exps = 0; /* Q12.19: up to 4096 exps of at most 1 */
        for (int32_t c = 0; c < depth; ++c) {
            const int32_t exp_value = tc_softmax_exp(params, (int32_t)in[c] - max_in_row);
            if (keep) {
                kept[c] = exp_value;
            }
            sum_of_exps += tc_multiply_by_pot(exp_value, -TC_ACCUMULATION_INTEGER_BITS);
        }
        const int32_t headroom_plus_one = tc_count_leading_zeros((uint32_t)sum_of_exps);
        const int32_t num_bits_over_unit = TC_ACCUMULATION_INTEGER_BITS - headroom_plus_one;
        const int32_t shifted_sum_minus_one =
            (int32_t)(((uint32_t)sum_of_exps << headroom_plus_one) - ((uint32_t)1 << 31));
        const int32_t shifted_scale = tc_one_over_one_plus_x(shifted_sum_minus_one);
        for (int32_t c = 0; c < depth; ++c) {
            const int32_t diff = (int32_t)in[c] - max_in_row;
            if (diff >= params->diff_min) {
                const int32_t exp_value = keep ? kept[c] : tc_softmax_exp(params, diff);
                const int32_t unsat = tc_rounding_divide_by_pot(
                    tc_saturating_rounding_doubling_high_mul(shifted_scale, exp_value),
                    num_bits_over_unit + 31 - 8);
                out[c] = (int8_t)tc_clamp(unsat - 128, INT8_MIN, INT8_MAX);
            } else {
                out[c] = INT8_MIN;
            }
        }
    }
}
