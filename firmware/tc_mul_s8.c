/* MUL int8 (tinycnn/ref/mul.py, TFLite reference_integer_ops::Mul): the product of the
 * zero-point-corrected inputs, requantized by scale1 * scale2 / output_scale. Either input
 * may be broadcast (a standalone BatchNormalization multiplies by a per-channel constant). */
#include "tc_runtime.h"

void tc_mul_s8(const tc_mul_params_t *params, const tc_dims_t *input1_dims, const int8_t *input1,
               const tc_dims_t *input2_dims, const int8_t *input2, const tc_dims_t *output_dims,
               int8_t *output)
{
    for (int32_t n = 0; n < output_dims->n; ++n) {
        for (int32_t h = 0; h < output_dims->h; ++h) {
            for (int32_t w = 0; w < output_dims->w; ++w) {
                for (int32_t c = 0; c < output_dims->c; ++c) {
                    const int32_t a = (int32_t)input1[tc_broadcast_offset(input1_dims, n, h, w, c)] +
                                      params->input1_offset;
                    const int32_t b = (int32_t)input2[tc_broadcast_offset(input2_dims, n, h, w, c)] +
                                      params->input2_offset;
                    /* |a * b| <= 255 * 255: no overflow */
                    const int32_t value = tc_requantize(a * b, params->multiplier, params->shift,
                                                        params->rounding) + params->output_offset;
                    *output++ = (int8_t)tc_clamp(value, params->act_min, params->act_max);
                }
            }
        }
    }
}
