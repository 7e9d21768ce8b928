/* CONV_2D int8 with per-channel weights (tinycnn/ref/conv.py, TFLite ConvPerChannel).
 * Filter layout [out_channels, filter_h, filter_w, in_channels].
 * acc is int32: |filter * (input + offset)| <= 127 * 255, so it holds 2^31 / 32385 = 66k
 * taps, more than any filter a microcontroller runs. */
#include "tc_runtime.h"

/* The reference loop nest for one output value: any padding, any dilation. */
static int32_t window_sum(const tc_conv_params_t *params, const tc_dims_t *input_dims,
                          const int8_t *input, const tc_dims_t *filter_dims, const int8_t *filter,
                          int32_t b, int32_t in_y0, int32_t in_x0, int32_t oc)
{
    const int32_t in_h = input_dims->h, in_w = input_dims->w, in_c = input_dims->c;
    const int32_t filter_h = filter_dims->h, filter_w = filter_dims->w;
    int32_t acc = 0;
    for (int32_t fy = 0; fy < filter_h; ++fy) {
        const int32_t in_y = in_y0 + params->dilation_h * fy;
        if (in_y < 0 || in_y >= in_h) {
            continue;
        }
        for (int32_t fx = 0; fx < filter_w; ++fx) {
            const int32_t in_x = in_x0 + params->dilation_w * fx;
            if (in_x < 0 || in_x >= in_w) {
                continue;
            }
            const int8_t *in_row = input + ((b * in_h + in_y) * in_w + in_x) * in_c;
            const int8_t *f_row = filter + ((oc * filter_h + fy) * filter_w + fx) * in_c;
            for (int32_t ic = 0; ic < in_c; ++ic) {
                acc += (int32_t)f_row[ic] * ((int32_t)in_row[ic] + params->input_offset);
            }
        }
    }
    return acc;
}

void tc_conv_s8(const tc_conv_params_t *params, const tc_dims_t *input_dims, const int8_t *input,
                const tc_dims_t *filter_dims, const int8_t *filter, const int32_t *bias,
                const tc_dims_t *output_dims, int8_t *output)
{
    const int32_t batches = input_dims->n;
    const int32_t in_h = input_dims->h, in_w = input_dims->w, in_c = input_dims->c;
    const int32_t filter_h = filter_dims->h, filter_w = filter_dims->w;
    const int32_t out_h = output_dims->h, out_w = output_dims->w, out_c = output_dims->c;
    /* Without dilation across, a filter row meets filter_w * in_c consecutive input bytes. */
    const int32_t row_bytes = filter_w * in_c;

    for (int32_t b = 0; b < batches; ++b) {
        for (int32_t out_y = 0; out_y < out_h; ++out_y) {
            const int32_t in_y0 = out_y * params->stride_h - params->pad_top;
            for (int32_t out_x = 0; out_x < out_w; ++out_x) {
                const int32_t in_x0 = out_x * params->stride_w - params->pad_left;
                const int whole_window = params->folded_bias && params->dilation_w == 1 && in_y0 >= 0 &&
                                         in_x0 >= 0 && in_y0 + (filter_h - 1) * params->dilation_h < in_h &&
                                         in_x0 + filter_w <= in_w;
                for (int32_t oc = 0; oc < out_c; ++oc) {
                    int32_t acc;
                    if (whole_window) {
                        /* Every tap is inside: the offset's share is in folded_bias. */
                        acc = params->folded_bias[oc];
                        for (int32_t fy = 0; fy < filter_h; ++fy) {
                            const int32_t in_y = in_y0 + params->dilation_h * fy;
                            acc += tc_dot_s8(input + ((b * in_h + in_y) * in_w + in_x0) * in_c,
                                             filter + (oc * filter_h + fy) * row_bytes, row_bytes);
                        }
                    } else {
                        acc = window_sum(params, input_dims, input, filter_dims, filter, b, in_y0, in_x0, oc);
                        if (bias) {
                            acc += bias[oc];
                        }
                    }
                    acc = tc_requantize(acc, params->multiplier[oc], params->shift[oc], params->rounding);
                    acc += params->output_offset;
                    output[((b * out_h + out_y) * out_w + out_x) * out_c + oc] =
                        (int8_t)tc_clamp(acc, params->act_min, params->act_max);
                }
            }
        }
    }
}
