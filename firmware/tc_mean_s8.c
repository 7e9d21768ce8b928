/* MEAN int8 over height and width (tinycnn/ref/mean.py, TFLite QuantizedMeanOrSum).
 * The division by the element count is folded into the multiplier by the generator. */
#include "tc_runtime.h"

void tc_mean_s8(const tc_mean_params_t *params, const tc_dims_t *input_dims, const int8_t *input,
                int8_t *output)
{
    const int32_t count = input_dims->h * input_dims->w;
    for (int32_t b = 0; b < input_dims->n; ++b) {
        for (int32_t c = 0; c < input_dims->c; ++c) {
            int32_t sum = 0;
            for (int32_t i = 0; i < count; ++i) {
                sum += input[(b * count + i) * input_dims->c + c];
            }
            sum -= params->input_zero_point * count;
            const int32_t value = tc_requantize(sum, params->multiplier, params->shift, params->rounding);
            output[b * input_dims->c + c] = (int8_t)tc_clamp(value + params->output_zero_point, INT8_MIN, INT8_MAX);
        }
    }
}
