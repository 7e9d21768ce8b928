/* CONV_2D int8 with per-channel weights (tinycnn/ref/conv.py, TFLite ConvPerChannel).
 * Filter layout: TFLite's [out_channels, filter_h, filter_w, in_channels], each channel's
 * filter padded with zeros to params->filter_stride taps (a multiple of 4), then
 * pair-interleaved for tc_dot_2x2: channels 2p and 2p + 1 alternate 4 taps at a time (an odd
 * last channel is paired with zeros).
 * The generator always gives the folded bias and the scratch (tinycnn/ref/conv.py); the plain
 * loop nest the kernel follows is the Python reference's.
 * acc is int32: |filter * (input + offset)| <= 127 * 255, so it holds 2^31 / 32385 = 66k
 * taps, more than any filter a microcontroller runs. */
#include "tc_runtime.h"

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

/* Copies the input window of one output cell into `window`, laid out like one output
 * channel's filter, then the zero point up to filter_stride. Cells outside the input get the
 * input zero point (a real 0): with the offset folded into the bias they add nothing, as
 * TFLite's bounds check skips them; the padding bytes meet zero weights. */
static inline void gather_window(const tc_conv_params_t *params, const tc_dims_t *input_dims,
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
        if (in_y < 0 || in_y >= in_h) {
            fill_bytes(window, zero_point, row_bytes);
            window += row_bytes;
            continue;
        }
        const int8_t *row = input + ((b * in_h + in_y) * in_w) * in_c;
        if (whole_rows) {
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

#if TC_DSP
/* `groups` groups of 4 input bytes widened into one cell's two words of each group of the
 * interleaved pair layout (tc_widen_pair_s8's: per group, cell 0's two words, then cell 1's);
 * `out` points at the cell's first word. */
static TC_INLINE void widen_into(const int8_t *src, int32_t groups, uint32_t *out)
{
    for (; groups > 0; --groups, src += 4, out += 4) {
        const uint32_t four = tc_load4(src);
        out[0] = (uint32_t)__sxtb16((int32_t)four);
        out[1] = (uint32_t)tc_sxtb16_ror8(four);
    }
}

static TC_INLINE void fill_widened(uint32_t pair, int32_t groups, uint32_t *out)
{
    for (; groups > 0; --groups, out += 4) {
        out[0] = out[1] = pair;
    }
}

/* gather_window straight into the widened layout, for in_channels a multiple of 4 (every tap
 * is whole groups, and filter_stride has no tail): no int8 staging, no second pass. */
static void gather_widened(const tc_conv_params_t *params, const tc_dims_t *input_dims,
                           const int8_t *input, const tc_dims_t *filter_dims, int32_t b,
                           int32_t in_y0, int32_t in_x0, uint32_t *out)
{
    const int32_t in_h = input_dims->h, in_w = input_dims->w, in_c = input_dims->c;
    const int32_t filter_w = filter_dims->w, tap_groups = in_c / 4;
    const uint32_t zero = (uint32_t)(-params->input_offset) & 0xFFFFu;
    const uint32_t zero_pair = zero | (zero << 16);
    const int whole_rows = params->dilation_w == 1 && in_x0 >= 0 && in_x0 + filter_w <= in_w;
    for (int32_t fy = 0; fy < filter_dims->h; ++fy) {
        const int32_t in_y = in_y0 + params->dilation_h * fy;
        if (in_y < 0 || in_y >= in_h) {
            fill_widened(zero_pair, filter_w * tap_groups, out);
            out += 4 * filter_w * tap_groups;
            continue;
        }
        const int8_t *row = input + ((b * in_h + in_y) * in_w) * in_c;
        if (whole_rows) {
            widen_into(row + in_x0 * in_c, filter_w * tap_groups, out);
        } else {
            for (int32_t fx = 0; fx < filter_w; ++fx) {
                const int32_t in_x = in_x0 + params->dilation_w * fx;
                uint32_t *tap = out + 4 * fx * tap_groups;
                if (in_x < 0 || in_x >= in_w) {
                    fill_widened(zero_pair, tap_groups, tap);
                } else {
                    widen_into(row + in_x * in_c, tap_groups, tap);
                }
            }
        }
        out += 4 * filter_w * tap_groups;
    }
}
#endif

/* The scratch (ref/conv.py's conv_scratch_bytes asks for it), with k = filter_stride:
 * the DSP build keeps the two cells' windows widened and interleaved (4k bytes), after them
 * two int8 staging windows (2k) unless in_channels is a multiple of 4; the portable build
 * keeps the two int8 windows at the start. Then, for a fused pool, an int32 running maximum
 * per output channel (an even count), at 4k (in_channels a multiple of 4) or 6k. */
typedef struct {
    int8_t *bytes[2];
    uint32_t *wide;
    int32_t *best;
} scratch_t;

static scratch_t scratch_for(const tc_conv_params_t *params, int32_t in_c)
{
    const int32_t k = params->filter_stride;
    const int staged = in_c % 4 != 0;
    scratch_t s;
#if TC_DSP
    s.wide = (uint32_t *)(void *)params->window;
    s.bytes[0] = params->window + 4 * k;
#else
    s.wide = 0;
    s.bytes[0] = params->window;
#endif
    s.bytes[1] = s.bytes[0] + k;
    s.best = (int32_t *)(void *)(params->window + (staged ? 6 : 4) * k);
    return s;
}

/* Gathers the windows of conv cells (y0, x0) and (y1, x1) into the scratch. */
static void load_pair(const tc_conv_params_t *params, const tc_dims_t *input_dims,
                      const int8_t *input, const tc_dims_t *filter_dims, int32_t b, const int32_t cells[4],
                      const scratch_t *s)
{
#if TC_DSP
    if (input_dims->c % 4 == 0) {
        for (int32_t k = 0; k < 2; ++k) {
            gather_widened(params, input_dims, input, filter_dims, b,
                           cells[2 * k] * params->stride_h - params->pad_top,
                           cells[2 * k + 1] * params->stride_w - params->pad_left, s->wide + 2 * k);
        }
        return;
    }
#endif
    for (int32_t k = 0; k < 2; ++k) {
        gather_window(params, input_dims, input, filter_dims, b,
                      cells[2 * k] * params->stride_h - params->pad_top,
                      cells[2 * k + 1] * params->stride_w - params->pad_left, s->bytes[k]);
    }
#if TC_DSP
    tc_widen_pair_s8(s->bytes[0], s->bytes[1], params->filter_stride, s->wide);
#endif
}

/* The four sums of the two loaded cells with a channel pair's filters (pair_weights: int8,
 * or int16 when params->wide_weights), added to sums[]: cell 0 with channels 2p and 2p + 1,
 * then cell 1 with them. */
static TC_NOINLINE void dot_pair(const tc_conv_params_t *params, const scratch_t *s, const int8_t *pair_weights,
                               int32_t k, int32_t sums[4])
{
    const int16_t *wide = (const int16_t *)(const void *)pair_weights;
#if TC_DSP
    if (params->wide_weights) {
        tc_dot_2x2_wide_weights(s->wide, wide, k, sums);
    } else {
        tc_dot_2x2_widened(s->wide, pair_weights, k, sums);
    }
#else
    if (params->wide_weights) {
        tc_dot_2x2_s8_wide_weights(s->bytes[0], s->bytes[1], wide, k, sums);
    } else {
        tc_dot_2x2_s8(s->bytes[0], s->bytes[1], pair_weights, k, sums);
    }
#endif
}

/* Bytes from one channel pair's filters to the next. */
static int32_t pair_bytes(const tc_conv_params_t *params)
{
    return (params->wide_weights ? 4 : 2) * params->filter_stride;
}

/* The stored value; `fast` (tc_fast_requantize_ok for the layer) picks the short path. */
static TC_INLINE int8_t finish(int fast, int32_t acc, int32_t multiplier, int32_t shift, tc_rounding_t rounding,
                            int32_t output_offset, int32_t act_min, int32_t act_max)
{
    return fast ? (int8_t)tc_requantize_clamp_fast(acc, multiplier, shift, output_offset, act_min, act_max)
                : tc_requantize_store(acc, multiplier, shift, rounding, output_offset, act_min, act_max);
}

static TC_INLINE int32_t max32(int32_t a, int32_t b)
{
    return a > b ? a : b;
}

/* Without a pool: output cells two at a time, output channels two at a time (an odd last
 * channel is paired with zero weights and its partner's sums dropped). An odd last cell is
 * computed twice and stored once. */
static void conv_cells(const tc_conv_params_t *params, const tc_dims_t *input_dims,
                       const int8_t *input, const tc_dims_t *filter_dims, const int8_t *filter,
                       const tc_dims_t *output_dims, int8_t *output, const scratch_t *s)
{
    const int32_t out_w = output_dims->w, out_c = output_dims->c, k = params->filter_stride;
    const int32_t cells = output_dims->h * out_w;
    const int32_t output_offset = params->output_offset, act_min = params->act_min, act_max = params->act_max;
    const tc_rounding_t rounding = params->rounding;
    const int fast = tc_fast_requantize_ok(params->shift, out_c, rounding);
    const int32_t step = pair_bytes(params);
    for (int32_t b = 0; b < input_dims->n; ++b) {
        for (int32_t cell = 0; cell < cells; cell += 2) {
            const int32_t count = cell + 1 < cells ? 2 : 1;
            const int32_t last = cell + count - 1;
            const int32_t at[4] = {cell / out_w, cell % out_w, last / out_w, last % out_w};
            load_pair(params, input_dims, input, filter_dims, b, at, s);
            int8_t *out = output + (b * cells + cell) * out_c;
            const int8_t *w = filter;
            for (int32_t oc = 0; oc < out_c; oc += 2, w += step) {
                const int32_t oc1 = oc + 1 < out_c ? oc + 1 : oc;
                const int32_t b0 = params->folded_bias[oc], b1 = params->folded_bias[oc1];
                int32_t sums[4] = {b0, b1, b0, b1};
                dot_pair(params, s, w, k, sums);
                const int32_t m0 = params->multiplier[oc], m1 = params->multiplier[oc1];
                const int32_t s0 = params->shift[oc], s1 = params->shift[oc1];
                /* oc1 == oc: the last of an odd count, its partner's sums are dropped */
                for (int32_t cell_k = 0; cell_k < count; ++cell_k) {
                    int8_t *o = out + cell_k * out_c;
                    o[oc] = finish(fast, sums[2 * cell_k], m0, s0, rounding, output_offset, act_min, act_max);
                    if (oc1 != oc) {
                        o[oc1] = finish(fast, sums[2 * cell_k + 1], m1, s1, rounding, output_offset, act_min, act_max);
                    }
                }
            }
        }
    }
}

/* With a fused max pool: for each pooled cell, the largest accumulator of its window per
 * channel (kept in best[]), requantized once. Requantization and the clamps never decrease
 * (the multipliers are not negative: the generator checks), so max-then-requantize equals the
 * separate ops (tinycnn/codegen/fusion.py). */
static void conv_pooled(const tc_conv_params_t *params, const tc_dims_t *input_dims,
                        const int8_t *input, const tc_dims_t *filter_dims, const int8_t *filter,
                        const tc_dims_t *output_dims, int8_t *output, const scratch_t *s)
{
    const int32_t out_c = output_dims->c, k = params->filter_stride;
    const int32_t pool_w = params->pool_w, window_cells = params->pool_h * pool_w;
    const int32_t output_offset = params->output_offset, act_min = params->act_min, act_max = params->act_max;
    const tc_rounding_t rounding = params->rounding;
    const int fast = tc_fast_requantize_ok(params->shift, out_c, rounding);
    const int32_t step = pair_bytes(params);
    const int32_t pairs = (out_c + 1) / 2;
    int32_t *const best = s->best; /* out_c rounded up to even entries */
    for (int32_t b = 0; b < input_dims->n; ++b) {
        for (int32_t py = 0; py < output_dims->h; ++py) {
            for (int32_t px = 0; px < output_dims->w; ++px) {
                const int32_t y0 = py * params->pool_stride_h, x0 = px * params->pool_stride_w;
                for (int32_t j = 0; j < window_cells; j += 2) {
                    const int32_t j1 = j + 1 < window_cells ? j + 1 : j;
                    const int32_t at[4] = {y0 + j / pool_w, x0 + j % pool_w, y0 + j1 / pool_w, x0 + j1 % pool_w};
                    load_pair(params, input_dims, input, filter_dims, b, at, s);
                    const int8_t *w = filter;
                    const int32_t *bias = params->folded_bias;
                    int32_t *top = best;
                    for (int32_t p = 0; p < pairs; ++p, w += step, bias += 2, top += 2) {
                        const int32_t b1 = 2 * p + 1 < out_c ? bias[1] : bias[0];
                        int32_t sums[4] = {bias[0], b1, bias[0], b1};
                        dot_pair(params, s, w, k, sums);
                        const int32_t m0 = max32(sums[0], sums[2]), m1 = max32(sums[1], sums[3]);
                        top[0] = j == 0 ? m0 : max32(top[0], m0);
                        top[1] = j == 0 ? m1 : max32(top[1], m1);
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
    (void)bias; /* folded into params->folded_bias */
    const scratch_t s = scratch_for(params, input_dims->c);
    if (params->pool_h > 0) {
        conv_pooled(params, input_dims, input, filter_dims, filter, output_dims, output, &s);
    } else {
        conv_cells(params, input_dims, input, filter_dims, filter, output_dims, output, &s);
    }
}
