/* CONV_2D with a MAX_POOL_2D fused after it (tinycnn/codegen/fusion.py; valid padding), the
 * variant tc_conv_s8 picks when params->pool_h > 0: for each pooled cell, the largest
 * accumulator of its window per output channel (kept in the scratch's running maxima),
 * requantized once. Requantization and the clamps never decrease (the multipliers are not
 * negative: the generator checks), so max-then-requantize equals the separate ops.
 * Layouts, scratch and int32 headroom as tc_conv_s8.c's. */
#include "tc_runtime.h"

static TC_INLINE int32_t tc_max32(int32_t a, int32_t b)
{
    return a > b ? a : b;
}

void tc_conv_fused_pool_s8(const tc_conv_params_t *params, const tc_dims_t *input_dims,
                           const int8_t *input, const tc_dims_t *filter_dims, const int8_t *filter,
                           const tc_dims_t *output_dims, int8_t *output)
{
    const tc_conv_scratch_t scratch = tc_conv_scratch(params, input_dims->c);
    const tc_conv_scratch_t *const s = &scratch;
    const int32_t out_c = output_dims->c, k = params->filter_stride;
    const int32_t pool_w = params->pool_w, window_cells = params->pool_h * pool_w;
    const int32_t output_offset = params->output_offset, act_min = params->act_min, act_max = params->act_max;
    const tc_rounding_t rounding = params->rounding;
    const int fast = tc_fast_requantize_ok(params->shift, out_c, rounding);
    const int32_t step = tc_conv_pair_bytes(params);
    const int32_t pairs = (out_c + 1) / 2;
    int32_t *const best = s->best; /* out_c rounded up to even entries */
    for (int32_t b = 0; b < input_dims->n; ++b) {
        for (int32_t py = 0; py < output_dims->h; ++py) {
            for (int32_t px = 0; px < output_dims->w; ++px) {
                const int32_t y0 = py * params->pool_stride_h, x0 = px * params->pool_stride_w;
                for (int32_t j = 0; j < window_cells; j += 2) {
                    const int32_t j1 = j + 1 < window_cells ? j + 1 : j;
                    const int32_t at[4] = {y0 + j / pool_w, x0 + j % pool_w, y0 + j1 / pool_w, x0 + j1 % pool_w};
                    tc_conv_load_pair_s8(params, input_dims, input, filter_dims, b, at, s);
                    const int8_t *w = filter;
                    const int32_t *bias = params->folded_bias;
                    int32_t *top = best;
                    for (int32_t p = 0; p < pairs; ++p, w += step, bias += 2, top += 2) {
                        const int32_t b1 = 2 * p + 1 < out_c ? bias[1] : bias[0];
                        int32_t sums[4] = {bias[0], b1, bias[0], b1};
                        tc_conv_dot_pair_s8(params->wide_weights, tc_conv_windows(s), w, k, sums);
                        const int32_t m0 = tc_max32(sums[0], sums[2]), m1 = tc_max32(sums[1], sums[3]);
                        top[0] = j == 0 ? m0 : tc_max32(top[0], m0);
                        top[1] = j == 0 ? m1 : tc_max32(top[1], m1);
                    }
                }
                int8_t *out = output + ((b * output_dims->h + py) * output_dims->w + px) * out_c;
                for (int32_t oc = 0; oc < out_c; ++oc) {
                    out[oc] = tc_store_requantized(fast, best[oc], params->multiplier[oc], params->shift[oc],
                                                   rounding, output_offset, act_min, act_max);
                }
            }
        }
    }
}
