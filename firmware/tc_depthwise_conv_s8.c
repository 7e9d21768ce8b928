/* DEPTHWISE_CONV_2D int8 with per-channel weights (tinycnn/ref/depthwise_conv.py).
 * Filter layout [1, filter_h, filter_w, out_channels]; output channel ic * m + k reads input
 * channel ic. Same int32 headroom argument as tc_conv_s8.c.
 *
 * The one dispatch of DEPTHWISE_CONV_2D, in tc_depthwise_conv_s8 below:
 *
 *   depth multiplier 1, no dilation, folded bias (nearly every model): four channels at a
 *                          time, tc_depthwise_conv_dm1_s8 (tc_depthwise_conv_dm1_s8.c)
 *   otherwise              the loop nest of the Python reference, below
 *
 * A layer with one input channel never comes here: the generator runs it on tc_conv_s8. */
#include "tc_runtime.h"

/* The reference loop nest for one output value: any padding (taps outside are skipped). */
static int32_t tc_depthwise_window_sum(const tc_conv_params_t *params, const tc_dims_t *input_dims,
                                       const int8_t *input, const tc_dims_t *filter_dims,
                                       const int8_t *filter, int32_t out_c, int32_t b, int32_t in_y0,
                                       int32_t in_x0, int32_t ic, int32_t oc)
{
    const int32_t in_h = input_dims->h, in_w = input_dims->w, in_c = input_dims->c;
    int32_t acc = 0;
    for (int32_t fy = 0; fy < filter_dims->h; ++fy) {
        const int32_t in_y = in_y0 + params->dilation_h * fy;
        if (in_y < 0 || in_y >= in_h) {
            continue;
        }
        for (int32_t fx = 0; fx < filter_dims->w; ++fx) {
            const int32_t in_x = in_x0 + params->dilation_w * fx;
            if (in_x < 0 || in_x >= in_w) {
                continue;
            }
            const int32_t value = input[((b * in_h + in_y) * in_w + in_x) * in_c + ic];
            const int32_t weight = filter[(fy * filter_dims->w + fx) * out_c + oc];
            acc += weight * (value + params->input_offset);
        }
    }
    return acc;
}

/* One output value whose window lies wholly inside the input: every tap is read straight
 * from `window` (the input at the window's corner, channel ic) with the offset's share
 * already in folded_bias. */
static inline int32_t tc_depthwise_inner_window_sum(const tc_conv_params_t *params,
                                                    const tc_dims_t *input_dims,
                                                    const tc_dims_t *filter_dims, const int8_t *window,
                                                    const int8_t *filter_column, int32_t out_c)
{
    const int32_t row_step = params->dilation_h * input_dims->w * input_dims->c;
    const int32_t tap_step = params->dilation_w * input_dims->c;
    int32_t acc = 0;
    for (int32_t fy = 0; fy < filter_dims->h; ++fy) {
        const int8_t *in = window + fy * row_step;
        const int8_t *f = filter_column + fy * filter_dims->w * out_c;
        for (int32_t fx = 0; fx < filter_dims->w; ++fx) {
            acc += (int32_t)f[fx * out_c] * (int32_t)in[fx * tap_step];
        }
    }
    return acc;
}

/* Out of line for both depthwise files: the stores of the hot loops stay a short call when a
 * layer cannot take tc_requantize_clamp_fast. */
TC_NOINLINE int8_t tc_depthwise_store_exact(int32_t acc, const tc_conv_params_t *params, int32_t oc)
{
    return tc_requantize_store(acc, params->multiplier[oc], params->shift[oc], params->rounding,
                               params->output_offset, params->act_min, params->act_max);
}

void tc_depthwise_conv_s8(const tc_conv_params_t *params, const tc_dims_t *input_dims,
                          const int8_t *input, const tc_dims_t *filter_dims, const int8_t *filter,
                          const int32_t *bias, const tc_dims_t *output_dims, int8_t *output)
{
    if (params->depth_multiplier == 1 && params->dilation_h == 1 && params->dilation_w == 1 &&
        params->folded_bias) {
        tc_depthwise_conv_dm1_s8(params, input_dims, input, filter_dims, filter, bias, output_dims, output);
        return;
    }
    const int32_t batches = input_dims->n;
    const int32_t in_h = input_dims->h, in_w = input_dims->w, in_c = input_dims->c;
    const int32_t out_h = output_dims->h, out_w = output_dims->w, out_c = output_dims->c;
    const int32_t depth_multiplier = params->depth_multiplier;
    const int32_t span_h = (filter_dims->h - 1) * params->dilation_h;
    const int32_t span_w = (filter_dims->w - 1) * params->dilation_w;

    for (int32_t b = 0; b < batches; ++b) {
        for (int32_t out_y = 0; out_y < out_h; ++out_y) {
            const int32_t in_y0 = out_y * params->stride_h - params->pad_top;
            for (int32_t out_x = 0; out_x < out_w; ++out_x) {
                const int32_t in_x0 = out_x * params->stride_w - params->pad_left;
                /* With the folded bias, a window wholly inside skips the bounds checks. */
                const int inner = params->folded_bias != 0 && in_y0 >= 0 && in_x0 >= 0 &&
                                  in_y0 + span_h < in_h && in_x0 + span_w < in_w;
                const int8_t *corner = input + ((b * in_h + in_y0) * in_w + in_x0) * in_c;
                int8_t *out = output + ((b * out_h + out_y) * out_w + out_x) * out_c;
                for (int32_t ic = 0; ic < in_c; ++ic) {
                    for (int32_t m = 0; m < depth_multiplier; ++m) {
                        const int32_t oc = ic * depth_multiplier + m;
                        int32_t acc;
                        if (inner) {
                            acc = params->folded_bias[oc] +
                                  tc_depthwise_inner_window_sum(params, input_dims, filter_dims, corner + ic,
                                                                filter + oc, out_c);
                        } else {
                            acc = tc_depthwise_window_sum(params, input_dims, input, filter_dims, filter, out_c,
                                                          b, in_y0, in_x0, ic, oc);
                            if (bias) {
                                acc += bias[oc];
                            }
                        }
                        out[oc] = tc_depthwise_store_exact(acc, params, oc);
                    }
                }
            }
        }
    }
}
