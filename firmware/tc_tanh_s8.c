/* TANH int8 -> int8 with output scale 1/128, zero point 0 (tinycnn/ref/tanh.py, TFLite
 * reference_integer_ops::Tanh): inputs beyond the radius saturate, the rest are rescaled to
 * Q4.27 and go through gemmlowp's fixed-point tanh (tc_gemmlowp.c), rounded to Q0.7. */
#include "tc_runtime.h"

#define TC_TANH_INPUT_INTEGER_BITS 4
#define TC_TANH_OUTPUT_FRACTIONAL_BITS 7

/* tanh(a) for a in Q4.27, result in Q0: (1 - exp(-2|a|)) / (1 + exp(-2|a|)) with a's sign.
 * exp(-2|a|) is exp of the same raw value read with one more integer bit. */
static int32_t tc_tanh_q0(int32_t a)
{
    if (a == 0) {
        return 0;
    }
    const int32_t minus_magnitude = a < 0 ? a : -a; /* |a| < 2^31: inputs are inside the radius */
    const int32_t magnitude = tc_one_minus_x_over_one_plus_x(
        tc_exp_on_negative_values(minus_magnitude, TC_TANH_INPUT_INTEGER_BITS + 1));
    return a < 0 ? -magnitude : magnitude;
}

void tc_tanh_s8(const tc_tanh_params_t *params, int32_t size, const int8_t *input, int8_t *output)
{
    for (int32_t i = 0; i < size; ++i) {
        const int32_t x = (int32_t)input[i] - params->input_zero_point;
        if (x <= -params->input_radius) {
            output[i] = INT8_MIN;
        } else if (x >= params->input_radius) {
            output[i] = INT8_MAX;
        } else {
            const int32_t input_q4 =
                tc_requantize(x, params->input_multiplier, params->input_left_shift, params->rounding);
            const int32_t value =
                tc_rounding_divide_by_pot(tc_tanh_q0(input_q4), 31 - TC_TANH_OUTPUT_FRACTIONAL_BITS);
            output[i] = (int8_t)tc_clamp(value, INT8_MIN, INT8_MAX);
        }
    }
}
