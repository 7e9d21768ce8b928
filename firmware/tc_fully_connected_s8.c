/* FULLY_CONNECTED int8 (tinycnn/ref/fully_connected.py): weights [out_units, accum_depth],
 * multiplier per output unit or one for all. int32 holds 66k products of 127 * 255. */
#include "tc_runtime.h"

void tc_fully_connected_s8(const tc_fully_connected_params_t *params, int32_t rows,
                           int32_t accum_depth, const int8_t *input, int32_t out_units,
                           const int8_t *weights, const int32_t *bias, int8_t *output)
{
    for (int32_t row = 0; row < rows; ++row) {
        const int8_t *in_row = input + row * accum_depth;
        for (int32_t unit = 0; unit < out_units; ++unit) {
            const int8_t *w_row = weights + unit * accum_depth;
            int32_t acc = 0;
            if (params->folded_bias) {
                /* the offset's share, sum(w) * input_offset, is in folded_bias with the bias */
                acc = params->folded_bias[unit] + tc_dot_s8(w_row, in_row, accum_depth);
            } else {
                for (int32_t k = 0; k < accum_depth; ++k) {
                    acc += (int32_t)w_row[k] * ((int32_t)in_row[k] + params->input_offset);
                }
                if (bias) {
                    acc += bias[unit];
                }
            }
            const int32_t channel = params->per_channel ? unit : 0;
            acc = tc_requantize(acc, params->multiplier[channel], params->shift[channel], params->rounding);
            acc += params->output_offset;
            output[row * out_units + unit] = (int8_t)tc_clamp(acc, params->act_min, params->act_max);
        }
    }
}
