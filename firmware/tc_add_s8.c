/* ADD int8 (tinycnn/ref/add.py): both inputs shifted left 20 bits, rescaled to a common
 * scale, summed, rescaled to the output. Either input may be broadcast (size-1 dimensions
 * repeat, as for a standalone BatchNormalization's per-channel constant). */
#include "tc_runtime.h"

void tc_add_s8(const tc_add_params_t *params, const tc_dims_t *input1_dims, const int8_t *input1,
               const tc_dims_t *input2_dims, const int8_t *input2, const tc_dims_t *output_dims,
               int8_t *output)
{
    for (int32_t n = 0; n < output_dims->n; ++n) {
        for (int32_t h = 0; h < output_dims->h; ++h) {
            for (int32_t w = 0; w < output_dims->w; ++w) {
                for (int32_t c = 0; c < output_dims->c; ++c) {
                    const int32_t a = input1[tc_broadcast_offset(input1_dims, n, h, w, c)];
                    const int32_t b = input2[tc_broadcast_offset(input2_dims, n, h, w, c)];
                    /* |input + offset| <= 255, so the 20-bit shift stays below 2^28. */
                    const int32_t shifted1 = (a + params->input1_offset) * (1 << params->left_shift);
                    const int32_t shifted2 = (b + params->input2_offset) * (1 << params->left_shift);
                    const int32_t scaled1 = tc_requantize(shifted1, params->input1_multiplier,
                                                          params->input1_shift, params->rounding);
                    const int32_t scaled2 = tc_requantize(shifted2, params->input2_multiplier,
                                                          params->input2_shift, params->rounding);
                    const int32_t sum = tc_requantize(scaled1 + scaled2, params->output_multiplier,
                                                      params->output_shift, params->rounding) +
                                        params->output_offset;
                    *output++ = (int8_t)tc_clamp(sum, params->act_min, params->act_max);
                }
            }
        }
    }
}
