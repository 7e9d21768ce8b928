/* RELU, RELU6, RELU_N1_TO_1 int8 (tinycnn/ref/relu.py): rescale to the output, clamp. */
#include "tc_runtime.h"

void tc_relu_s8(const tc_relu_params_t *params, int32_t size, const int8_t *input, int8_t *output)
{
    for (int32_t i = 0; i < size; ++i) {
        const int32_t value = tc_requantize((int32_t)input[i] + params->input_offset, params->multiplier,
                                            params->shift, params->rounding) + params->output_offset;
        output[i] = (int8_t)tc_clamp(value, params->act_min, params->act_max);
    }
}
