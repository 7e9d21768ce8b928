/* AVERAGE_POOL_2D int8 (tinycnn/ref/average_pool.py): sum of the in-bounds cells divided by
 * their count, rounded half away from zero. */
#include "tc_runtime.h"

void tc_average_pool_s8(const tc_pool_params_t *params, const tc_dims_t *input_dims,
                        const int8_t *input, const tc_dims_t *output_dims, int8_t *output)
{
    const int32_t in_h = input_dims->h, in_w = input_dims->w, depth = input_dims->c;
    for (int32_t b = 0; b < input_dims->n; ++b) {
        for (int32_t out_y = 0; out_y < output_dims->h; ++out_y) {
            for (int32_t out_x = 0; out_x < output_dims->w; ++out_x) {
                const int32_t in_y0 = out_y * params->stride_h - params->pad_top;
                const int32_t in_x0 = out_x * params->stride_w - params->pad_left;
                for (int32_t c = 0; c < depth; ++c) {
                    int32_t sum = 0;
                    int32_t count = 0;
                    for (int32_t fy = 0; fy < params->filter_h; ++fy) {
                        const int32_t in_y = in_y0 + fy;
                        if (in_y < 0 || in_y >= in_h) {
                            continue;
                        }
                        for (int32_t fx = 0; fx < params->filter_w; ++fx) {
                            const int32_t in_x = in_x0 + fx;
                            if (in_x < 0 || in_x >= in_w) {
                                continue;
                            }
                            sum += input[((b * in_h + in_y) * in_w + in_x) * depth + c];
                            ++count;
                        }
                    }
                    /* The generator refuses windows that lie wholly in the padding: count > 0. */
                    output[((b * output_dims->h + out_y) * output_dims->w + out_x) * depth + c] =
                        (int8_t)tc_clamp(tc_rounding_divide(sum, count), params->act_min, params->act_max);
                }
            }
        }
    }
}
