/* HARD_SWISH int8 (tinycnn/ref/hard_swish.py, TFLite reference_ops::HardSwish):
 * x * relu6(x + 3) / 6 in 16-bit fixed point. The input, shifted left 7 bits, is rescaled
 * once to the output scale and once to a "relu-ish" value in [0, 1); their product is
 * shifted to the output. Multipliers are Q15. */
#include "tc_runtime.h"

/* Q15 (a * b) / 2^15 rounded, ties away from zero; saturates the one overflowing case. */
static int32_t tc_saturating_rounding_doubling_high_mul_16(int32_t a, int32_t b)
{
    if (a == INT16_MIN && b == INT16_MIN) {
        return INT16_MAX;
    }
    const int32_t product = a * b; /* |a|, |b| <= 2^15: fits int32 */
    const int32_t nudge = product >= 0 ? (1 << 14) : (1 - (1 << 14));
    return (product + nudge) / (1 << 15);
}

/* The same, truncating towards zero (Arm's SQDMULH). */
static int32_t tc_saturating_doubling_high_mul_16(int32_t a, int32_t b)
{
    if (a == INT16_MIN && b == INT16_MIN) {
        return INT16_MAX;
    }
    return (a * b) / (1 << 15);
}

static int32_t tc_saturating_left_shift_16(int32_t value, int32_t amount)
{
    const int64_t shifted = (int64_t)value * ((int64_t)1 << amount);
    return (int32_t)(shifted > INT16_MAX ? INT16_MAX : (shifted < INT16_MIN ? INT16_MIN : shifted));
}

void tc_hard_swish_s8(const tc_hard_swish_params_t *params, int32_t size, const int8_t *input,
                      int8_t *output)
{
    for (int32_t i = 0; i < size; ++i) {
        const int32_t hires = ((int32_t)input[i] - params->input_zero_point) * (1 << 7); /* fits int16 */
        const int32_t preshift_output =
            tc_saturating_rounding_doubling_high_mul_16(hires, params->output_multiplier_16);
        int32_t reluish = hires;
        if (params->reluish_exponent > 0) {
            reluish = tc_saturating_left_shift_16(reluish, params->reluish_exponent - 1);
        }
        reluish = tc_saturating_rounding_doubling_high_mul_16(reluish, params->reluish_multiplier_16);
        if (params->reluish_exponent > 0) {
            reluish = tc_saturating_left_shift_16(reluish, 1);
        }
        if (params->reluish_exponent < 0) {
            reluish = tc_rounding_divide_by_pot(reluish, -params->reluish_exponent);
        }
        reluish = (reluish + (1 << 15)) >> 1; /* [-1, 1) -> [0, 1) */
        const int32_t preshift = tc_saturating_doubling_high_mul_16(reluish, preshift_output);
        const int32_t value =
            tc_rounding_divide_by_pot(preshift, -params->output_exponent) + params->output_zero_point;
        output[i] = (int8_t)tc_clamp(value, INT8_MIN, INT8_MAX);
    }
}
