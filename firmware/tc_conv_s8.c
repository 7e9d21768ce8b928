/* CONV_2D int8 with per-channel weights (tinycnn/ref/conv.py, TFLite ConvPerChannel).
 * Filter layout: TFLite's [out_channels, filter_h, filter_w, in_channels], each channel's
 * filter padded with zeros to params->filter_stride taps (a multiple of 4), then
 * pair-interleaved for tc_dot_2x2: channels 2p and 2p + 1 alternate 4 taps at a time (an odd
 * last channel is paired with zeros). weight_at() reads one weight of that layout.
 * acc is int32: |filter * (input + offset)| <= 127 * 255, so it holds 2^31 / 32385 = 66k
 * taps, more than any filter a microcontroller runs. */
#include "tc_runtime.h"

/* Weight `tap` (in filter_h, filter_w, in_channels order) of output channel oc. */
static inline int32_t weight_at(const int8_t *filter, int32_t filter_stride, int32_t oc, int32_t tap)
{
    return filter[(oc >> 1) * 2 * filter_stride + (tap >> 2) * 8 + (oc & 1) * 4 + (tap & 3)];
}

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
            const int32_t tap0 = (fy * filter_w + fx) * in_c;
            for (int32_t ic = 0; ic < in_c; ++ic) {
                acc += weight_at(filter, params->filter_stride, oc, tap0 + ic) *
                       ((int32_t)in_row[ic] + params->input_offset);
            }
        }
    }
    return acc;
}

/* Copies the input window of one output cell into `window`, laid out like one output
 * channel's filter, then the zero point up to filter_stride. Cells outside the input get the
 * input zero point (a real 0), so with the offset folded into the bias they add nothing, as
 * the bounds check above does; the padding bytes meet zero weights. */
/* n bytes from src to dst, words while it can: windows are short, and a library memcpy call
 * costs more than the copy. */
static inline void copy_bytes(int8_t *dst, const int8_t *src, int32_t n)
{
    for (; n >= 4; n -= 4, src += 4, dst += 4) {
        const uint32_t word = tc_load4(src);
        memcpy(dst, &word, 4); /* one STR: the Cortex-M4 stores unaligned words */
    }
    for (; n > 0; --n) {
        *dst++ = *src++;
    }
}

static inline void fill_bytes(int8_t *dst, int8_t value, int32_t n)
{
    for (; n > 0; --n) {
        *dst++ = value;
    }
}

static void gather_window(const tc_conv_params_t *params, const tc_dims_t *input_dims,
                          const int8_t *input, const tc_dims_t *filter_dims, int32_t b,
                          int32_t in_y0, int32_t in_x0, int8_t *window)
{
    const int32_t in_h = input_dims->h, in_w = input_dims->w, in_c = input_dims->c;
    const int32_t filter_w = filter_dims->w, row_bytes = filter_w * in_c;
    const int8_t zero_point = (int8_t)(-params->input_offset);
    int8_t *const end = window + params->filter_stride;
    /* A window row wholly inside the input and undilated is one contiguous run of bytes. */
    const int whole_rows = params->dilation_w == 1 && in_x0 >= 0 && in_x0 + filter_w <= in_w;
    for (int32_t fy = 0; fy < filter_dims->h; ++fy) {
        const int32_t in_y = in_y0 + params->dilation_h * fy;
        const int8_t *row = input + ((b * in_h + in_y) * in_w) * in_c;
        if (in_y < 0 || in_y >= in_h) {
            fill_bytes(window, zero_point, row_bytes);
        } else if (whole_rows) {
            copy_bytes(window, row + in_x0 * in_c, row_bytes);
        } else {
            for (int32_t fx = 0; fx < filter_w; ++fx) {
                const int32_t in_x = in_x0 + params->dilation_w * fx;
                if (in_x < 0 || in_x >= in_w) {
                    fill_bytes(window + fx * in_c, zero_point, in_c);
                } else {
                    copy_bytes(window + fx * in_c, row + in_x * in_c, in_c);
                }
            }
        }
        window += row_bytes;
    }
    fill_bytes(window, zero_point, (int32_t)(end - window));
}

/* The scratch layout: two int8 windows of filter_stride bytes, then (DSP) the pair widened
 * to int16 and interleaved (4 bytes per tap), then (fused pool) one int32 running maximum per
 * output channel: 6 * filter_stride + 4 * out_channels bytes (ref/conv.py asks for them). */
typedef struct {
    int8_t *bytes[2];
    uint32_t *wide;
    int32_t *best;
} scratch_t;

static scratch_t scratch_for(const tc_conv_params_t *params)
{
    const int32_t k = params->filter_stride;
    scratch_t s;
    s.bytes[0] = params->window;
    s.bytes[1] = params->window + k;
    s.wide = (uint32_t *)(void *)(params->window + 2 * k);
    s.best = (int32_t *)(void *)(params->window + 6 * k);
    return s;
}

/* Gathers the windows of conv cells (y0, x0) and (y1, x1) into the scratch. */
static void load_pair(const tc_conv_params_t *params, const tc_dims_t *input_dims,
                      const int8_t *input, const tc_dims_t *filter_dims, int32_t b, const int32_t cells[4],
                      const scratch_t *s)
{
    for (int32_t k = 0; k < 2; ++k) {
        gather_window(params, input_dims, input, filter_dims, b,
                      cells[2 * k] * params->stride_h - params->pad_top,
                      cells[2 * k + 1] * params->stride_w - params->pad_left, s->bytes[k]);
    }
#if TC_DSP
    tc_widen_pair_s8(s->bytes[0], s->bytes[1], params->filter_stride, s->wide);
#endif
}

/* Output channels 2p and 2p + 1 of the two loaded cells: sums[0..3] = cell 0 channel 2p,
 * cell 0 channel 2p + 1, cell 1 channel 2p, cell 1 channel 2p + 1, bias included (an odd
 * last channel's partner gets the last channel's bias and zero weights: never stored). */
static inline void dot_pair(const tc_conv_params_t *params, const int8_t *filter, const scratch_t *s,
                            int32_t pair, int32_t out_c, int32_t sums[4])
{
    const int32_t k = params->filter_stride;
    const int32_t oc0 = 2 * pair, oc1 = oc0 + 1 < out_c ? oc0 + 1 : oc0;
    sums[0] = sums[2] = params->folded_bias[oc0];
    sums[1] = sums[3] = params->folded_bias[oc1];
#if TC_DSP
    tc_dot_2x2_widened(s->wide, filter + pair * 2 * k, k, sums);
#else
    tc_dot_2x2_s8(s->bytes[0], s->bytes[1], filter + pair * 2 * k, k, sums);
#endif
}

/* The stored value; `fast` (tc_fast_requantize_ok for the layer) picks the short path. */
static inline int8_t finish(int fast, int32_t acc, int32_t multiplier, int32_t shift, tc_rounding_t rounding,
                            int32_t output_offset, int32_t act_min, int32_t act_max)
{
    return (int8_t)(fast ? tc_requantize_clamp_fast(acc, multiplier, shift, output_offset, act_min, act_max)
                         : tc_requantize_clamp(acc, multiplier, shift, rounding, output_offset, act_min, act_max));
}

/* Without a pool: output cells two at a time, output channels two at a time. An odd cell or
 * channel at the end repeats the last one and drops the duplicate. */
static void conv_cells(const tc_conv_params_t *params, const tc_dims_t *input_dims,
                       const int8_t *input, const tc_dims_t *filter_dims, const int8_t *filter,
                       const tc_dims_t *output_dims, int8_t *output, const scratch_t *s)
{
    const int32_t out_w = output_dims->w, out_c = output_dims->c;
    const int32_t cells = output_dims->h * out_w;
    const int32_t output_offset = params->output_offset, act_min = params->act_min, act_max = params->act_max;
    const tc_rounding_t rounding = params->rounding;
    const int32_t *const multiplier = params->multiplier, *const shift = params->shift;
    const int fast = tc_fast_requantize_ok(shift, out_c, rounding);
    for (int32_t b = 0; b < input_dims->n; ++b) {
        for (int32_t cell = 0; cell < cells; cell += 2) {
            const int32_t count = cell + 1 < cells ? 2 : 1;
            const int32_t last = cell + count - 1;
            const int32_t at[4] = {cell / out_w, cell % out_w, last / out_w, last % out_w};
            load_pair(params, input_dims, input, filter_dims, b, at, s);
            int8_t *out = output + (b * cells + cell) * out_c;
            for (int32_t oc = 0; oc < out_c; oc += 2) {
                const int32_t oc1 = oc + 1 < out_c ? oc + 1 : oc;
                int32_t sums[4];
                dot_pair(params, filter, s, oc >> 1, out_c, sums);
                out[oc] = finish(fast, sums[0], multiplier[oc], shift[oc], rounding, output_offset, act_min, act_max);
                out[oc1] = finish(fast, sums[1], multiplier[oc1], shift[oc1], rounding, output_offset, act_min, act_max);
                if (count == 2) {
                    out[out_c + oc] = finish(fast, sums[2], multiplier[oc], shift[oc], rounding, output_offset, act_min, act_max);
                    out[out_c + oc1] = finish(fast, sums[3], multiplier[oc1], shift[oc1], rounding, output_offset, act_min, act_max);
                }
            }
        }
    }
}

/* With a fused max pool: for each pooled cell, the largest accumulator of its window per
 * channel, requantized once. Requantization and the clamps never decrease (the multipliers
 * are not negative: the generator checks), so max-then-requantize equals the separate ops. */
static void conv_pooled(const tc_conv_params_t *params, const tc_dims_t *input_dims,
                        const int8_t *input, const tc_dims_t *filter_dims, const int8_t *filter,
                        const tc_dims_t *output_dims, int8_t *output, const scratch_t *s)
{
    const int32_t out_c = output_dims->c;
    const int32_t window_cells = params->pool_h * params->pool_w;
    const int32_t output_offset = params->output_offset, act_min = params->act_min, act_max = params->act_max;
    const tc_rounding_t rounding = params->rounding;
    int32_t *const best = s->best;
    const int fast = tc_fast_requantize_ok(params->shift, out_c, rounding);
    for (int32_t b = 0; b < input_dims->n; ++b) {
        for (int32_t py = 0; py < output_dims->h; ++py) {
            for (int32_t px = 0; px < output_dims->w; ++px) {
                const int32_t y0 = py * params->pool_stride_h, x0 = px * params->pool_stride_w;
                for (int32_t oc = 0; oc < out_c; ++oc) {
                    best[oc] = INT32_MIN;
                }
                for (int32_t j = 0; j < window_cells; j += 2) {
                    const int32_t j1 = j + 1 < window_cells ? j + 1 : j;
                    const int32_t at[4] = {y0 + j / params->pool_w, x0 + j % params->pool_w,
                                           y0 + j1 / params->pool_w, x0 + j1 % params->pool_w};
                    load_pair(params, input_dims, input, filter_dims, b, at, s);
                    for (int32_t oc = 0; oc < out_c; oc += 2) {
                        const int32_t oc1 = oc + 1 < out_c ? oc + 1 : oc;
                        int32_t sums[4];
                        dot_pair(params, filter, s, oc >> 1, out_c, sums);
                        const int32_t m0 = sums[0] > sums[2] ? sums[0] : sums[2];
                        const int32_t m1 = sums[1] > sums[3] ? sums[1] : sums[3];
                        best[oc] = m0 > best[oc] ? m0 : best[oc];
                        best[oc1] = m1 > best[oc1] ? m1 : best[oc1];
                    }
                }
                int8_t *out = output + ((b * output_dims->h + py) * output_dims->w + px) * out_c;
                for (int32_t oc = 0; oc < out_c; ++oc) {
                    out[oc] = finish(fast, best[oc], params->multiplier[oc], params->shift[oc], rounding,
                                     output_offset, act_min, act_max);
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
        const scratch_t s = scratch_for(params);
        if (params->pool_h > 0) {
            conv_pooled(params, input_dims, input, filter_dims, filter, output_dims, output, &s);
        } else {
            conv_cells(params, input_dims, input, filter_dims, filter, output_dims, output, &s);
        }
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
                    output[((b * out_h + out_y) * out_w + out_x) * out_c + oc] =
                        finish(0, acc, params->multiplier[oc], params->shift[oc], params->rounding,
                               params->output_offset, params->act_min, params->act_max);
                }
            }
        }
    }
}
