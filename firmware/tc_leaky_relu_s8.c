/* LEAKY_RELU int8 (tinycnn/ref/leaky_relu.py, TFLite QuantizeLeakyRelu): x >= 0 is rescaled
 * by input_scale / output_scale, x < 0 by alpha * input_scale / output_scale. */
#include "tc_runtime.h"

void tc_leaky_relu_s8(const tc_leaky_relu_params_t *params, int32_t size, const int8_t *input,
                      int8_t *output)
{
    for (int32_t i = 0; i < size; ++i) {
        const int32_t x = (int32_t)input[i] - params->input_zero_point; /* in [-255, 255] */
        const int32_t scaled = x >= 0
            ? tc_requantize(x, params->identity_multiplier, params->identity_shift, params->rounding)
            : tc_requantize(x, params->alpha_multiplier, params->alpha_shift, params->rounding);
        output[i] = (int8_t)tc_clamp(scaled + params->output_zero_point, INT8_MIN, INT8_MAX);
    }
}
