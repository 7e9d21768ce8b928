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

/* Copies the input window of one output cell into `window`, laid out like one output
 * channel's filter. Cells outside the input get the input zero point (a real 0), so with
 * the offset folded into the bias they add nothing, as the bounds check above does. */
static void gather_window(const tc_conv_params_t *params, const tc_dims_t *input_dims,
                          const int8_t *input, const tc_dims_t *filter_dims, int32_t b,
                          int32_t in_y0, int32_t in_x0, int8_t *window)
{
    const int32_t in_h = input_dims->h, in_w = input_dims->w, in_c = input_dims->c;
    const int8_t zero_point = (int8_t)(-params->input_offset);
    for (int32_t fy = 0; fy < filter_dims->h; ++fy) {
        const int32_t in_y = in_y0 + params->dilation_h * fy;
        for (int32_t fx = 0; fx < filter_dims->w; ++fx) {
            const int32_t in_x = in_x0 + params->dilation_w * fx;
            if (in_y < 0 || in_y >= in_h || in_x < 0 || in_x >= in_w) {
                memset(window, zero_point, (size_t)in_c);
            } else {
                memcpy(window, input + ((b * in_h + in_y) * in_w + in_x) * in_c, (size_t)in_c);
            }
            window += in_c;
        }
    }
}

static inline void store(const tc_conv_params_t *params, int32_t acc, int32_t oc, int8_t *output)
{
    acc = tc_requantize(acc, params->multiplier[oc], params->shift[oc], params->rounding);
    *output = (int8_t)tc_clamp(acc + params->output_offset, params->act_min, params->act_max);
}

/* Two output cells at a time: gather their windows, then for each pair of output channels
 * one tc_dot_2x2_s8 gives four values. An odd cell or channel at the end repeats the last
 * one and drops the duplicate. */
static void conv_gathered(const tc_conv_params_t *params, const tc_dims_t *input_dims,
                          const int8_t *input, const tc_dims_t *filter_dims, const int8_t *filter,
                          const tc_dims_t *output_dims, int8_t *output)
{
    const int32_t out_w = output_dims->w, out_c = output_dims->c;
    const int32_t cells = output_dims->h * out_w;
    const int32_t window_bytes = filter_dims->h * filter_dims->w * input_dims->c;
    int8_t *const windows[2] = {params->window, params->window + window_bytes};

    for (int32_t b = 0; b < input_dims->n; ++b) {
        for (int32_t cell = 0; cell < cells; cell += 2) {
            const int32_t count = cell + 1 < cells ? 2 : 1;
            for (int32_t k = 0; k < count; ++k) {
                const int32_t out_y = (cell + k) / out_w, out_x = (cell + k) % out_w;
                gather_window(params, input_dims, input, filter_dims, b,
                              out_y * params->stride_h - params->pad_top,
                              out_x * params->stride_w - params->pad_left, windows[k]);
            }
            int8_t *out = output + (b * cells + cell) * out_c;
            for (int32_t oc = 0; oc < out_c; oc += 2) {
                const int32_t oc1 = oc + 1 < out_c ? oc + 1 : oc;
                int32_t sums[4] = {params->folded_bias[oc], params->folded_bias[oc1],
                                   params->folded_bias[oc], params->folded_bias[oc1]};
                tc_dot_2x2_s8(windows[0], windows[count - 1], filter + oc * window_bytes,
                              filter + oc1 * window_bytes, window_bytes, sums);
                store(params, sums[0], oc, out + oc);
                if (oc1 != oc) {
                    store(params, sums[1], oc1, out + oc1);
                }
                if (count == 2) {
                    store(params, sums[2], oc, out + out_c + oc);
                    if (oc1 != oc) {
                        store(params, sums[3], oc1, out + out_c + oc1);
                    }
                }
            }
        }
    }
}

void tc_conv_s8(const tc_conv_params_t *params, const tc_dims_t *input_dims, const int8_t *input,
                const tc_dims_t *filter_dims, const int8_t *filter, const int32_t *bias,
                const tc_dims_t *output_dims, int8_t *output)
{
    /* With a window buffer and the folded bias, the gathered dot products; without them,
     * the reference loops. */
    if (params->folded_bias && params->window) {
        conv_gathered(params, input_dims, input, filter_dims, filter, output_dims, output);
        return;
    }
    const int32_t out_h = output_dims->h, out_w = output_dims->w, out_c = output_dims->c;
    for (int32_t b = 0; b < input_dims->n; ++b) {
        for (int32_t out_y = 0; out_y < out_h; ++out_y) {
            const int32_t in_y0 = out_y * params->stride_h - params->pad_top;
            for (int32_t out_x = 0; out_x < out_w; ++out_x) {
                const int32_t in_x0 = out_x * params->stride_w - params->pad_left;
                for (int32_t oc = 0; oc < out_c; ++oc) {
                    int32_t acc = window_sum(params, input_dims, input, filter_dims, filter, b, in_y0, in_x0, oc);
                    if (bias) {
                        acc += bias[oc];
                    }
                    store(params, acc, oc, output + ((b * out_h + out_y) * out_w + out_x) * out_c + oc);
                }
            }
        }
    }
}
