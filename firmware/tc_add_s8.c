/* ADD int8 (tinycnn/ref/add.py): both inputs shifted left 20 bits, rescaled to a common
 * scale, summed, rescaled to the output. Same-shape inputs only. */
#include "tc_runtime.h"

void tc_add_s8(const tc_add_params_t *params, int32_t size, const int8_t *input1,
               const int8_t *input2, int8_t *output)
{
    for (int32_t i = 0; i < size; ++i) {
        /* |input + offset| <= 255, so the 20-bit shift stays below 2^28. */
        const int32_t shifted1 = ((int32_t)input1[i] + params->input1_offset) * (1 << params->left_shift);
        const int32_t shifted2 = ((int32_t)input2[i] + params->input2_offset) * (1 << params->left_shift);
        const int32_t scaled1 = tc_requantize(shifted1, params->input1_multiplier, params->input1_shift, params->rounding);
        const int32_t scaled2 = tc_requantize(shifted2, params->input2_multiplier, params->input2_shift, params->rounding);
        const int32_t sum = tc_requantize(scaled1 + scaled2, params->output_multiplier, params->output_shift,
                                          params->rounding) + params->output_offset;
        output[i] = (int8_t)tc_clamp(sum, params->act_min, params->act_max);
    }
}
