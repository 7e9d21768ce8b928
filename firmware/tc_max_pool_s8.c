/* MAX_POOL_2D int8 (tinycnn/ref/max_pool.py): the largest in-bounds cell of each window.
 * Each output cell takes the running maximum of its window's rows of channels, so the
 * innermost loop walks consecutive bytes. */
#include "tc_runtime.h"

void tc_max_pool_s8(const tc_pool_params_t *params, const tc_dims_t *input_dims,
                    const int8_t *input, const tc_dims_t *output_dims, int8_t *output)
{
    const int32_t in_h = input_dims->h, in_w = input_dims->w, depth = input_dims->c;
    for (int32_t b = 0; b < input_dims->n; ++b) {
        for (int32_t out_y = 0; out_y < output_dims->h; ++out_y) {
            for (int32_t out_x = 0; out_x < output_dims->w; ++out_x) {
                const int32_t in_y0 = out_y * params->stride_h - params->pad_top;
                const int32_t in_x0 = out_x * params->stride_w - params->pad_left;
                int8_t *out = output + ((b * output_dims->h + out_y) * output_dims->w + out_x) * depth;
                memset(out, INT8_MIN, (size_t)depth);
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
                        const int8_t *in = input + ((b * in_h + in_y) * in_w + in_x) * depth;
                        for (int32_t c = 0; c < depth; ++c) {
                            out[c] = in[c] > out[c] ? in[c] : out[c];
                        }
                    }
                }
                for (int32_t c = 0; c < depth; ++c) {
                    out[c] = (int8_t)tc_clamp(out[c], params->act_min, params->act_max);
                }
            }
        }
    }
}
