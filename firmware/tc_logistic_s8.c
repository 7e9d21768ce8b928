/* LOGISTIC int8 -> int8 with output scale 1/256, zero point -128 (tinycnn/ref/logistic.py,
 * TFLite reference_integer_ops::Logistic): inputs beyond the radius saturate, the rest are
 * rescaled to Q4.27 and go through gemmlowp's fixed-point logistic (tc_gemmlowp.c). */
#include "tc_runtime.h"

#define TC_LOGISTIC_INPUT_INTEGER_BITS 4
#define TC_LOGISTIC_OUTPUT_INTEGER_BITS 8

/* 1 / (1 + exp(-a)) for a in Q4.27, result in Q0; exp is only taken of -|a|. */
static int32_t tc_logistic_q0(int32_t a)
{
    if (a == 0) {
        return 1 << 30; /* exactly 1/2 */
    }
    const int32_t magnitude = a > 0 ? a : -a; /* |a| < 2^31: inputs are inside the radius */
    const int32_t result_if_positive = tc_one_over_one_plus_x(
        tc_exp_on_negative_values(-magnitude, TC_LOGISTIC_INPUT_INTEGER_BITS));
    return a > 0 ? result_if_positive : INT32_MAX - result_if_positive;
}

void tc_logistic_s8(const tc_logistic_params_t *params, int32_t size, const int8_t *input,
                    int8_t *output)
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
            const int32_t output_q0 = tc_logistic_q0(input_q4);
            const int32_t value =
                tc_rounding_divide_by_pot(output_q0, 31 - TC_LOGISTIC_OUTPUT_INTEGER_BITS) - 128;
            output[i] = (int8_t)tc_clamp(value, INT8_MIN, INT8_MAX);
        }
    }
}
