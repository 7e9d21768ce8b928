/* DEPTHWISE_CONV_2D with depth multiplier 1 and no dilation (tinycnn/ref/depthwise_conv.py),
 * the variant tc_depthwise_conv_s8 picks when the generator gave the folded bias: for each
 * output cell, four channels at a time, the taps of the window clipped to the input (TFLite
 * skips the taps outside). Layouts and int32 headroom as tc_depthwise_conv_s8.c's. */
#include "tc_runtime.h"

/* The stored value of channel oc; `fast` (tc_fast_requantize_ok) picks the short path, the
 * general one stays out of line. */
static TC_INLINE int8_t tc_depthwise_store(int fast, int32_t acc, const tc_conv_params_t *params, int32_t oc,
                                           int32_t output_offset, int32_t act_min, int32_t act_max)
{
    return fast ? (int8_t)tc_requantize_clamp_fast(acc, params->multiplier[oc], params->shift[oc],
                                                   output_offset, act_min, act_max)
                : tc_depthwise_store_exact(acc, params, oc);
}

/* Channels c..c+3 stored: with `small` (tc_depthwise_small_ok) four tc_requantize_small and
 * one tc_store4_clamped, else one tc_depthwise_store each. */
static TC_INLINE void tc_depthwise_store4(int small, int fast, const tc_conv_params_t *params, int32_t c,
                                          int32_t acc0, int32_t acc1, int32_t acc2, int32_t acc3, int8_t *out)
{
    const int32_t output_offset = params->output_offset, act_min = params->act_min, act_max = params->act_max;
    if (small) {
        const int32_t *m = params->multiplier + c, *s = params->shift + c, k = 2 * output_offset + 1;
        tc_store4_clamped(out + c, tc_requantize_small(acc0, m[0], s[0], k), tc_requantize_small(acc1, m[1], s[1], k),
                          tc_requantize_small(acc2, m[2], s[2], k), tc_requantize_small(acc3, m[3], s[3], k),
                          tc_range4(act_min, act_max));
        return;
    }
    out[c] = tc_depthwise_store(fast, acc0, params, c, output_offset, act_min, act_max);
    out[c + 1] = tc_depthwise_store(fast, acc1, params, c + 1, output_offset, act_min, act_max);
    out[c + 2] = tc_depthwise_store(fast, acc2, params, c + 2, output_offset, act_min, act_max);
    out[c + 3] = tc_depthwise_store(fast, acc3, params, c + 3, output_offset, act_min, act_max);
}

/* Whether every accumulator of the layer stays below TC_SMALL_ACC_LIMIT in magnitude, with
 * the fast shifts: the start (bias or folded bias) plus at most `taps` products of an input
 * plus offset (|.| <= 255) and a weight (|.| <= 128). Checked once per call. */
static int tc_depthwise_small_ok(int fast, const int32_t *bias, const int32_t *folded_bias, int32_t channels,
                                 int32_t taps)
{
    if (!fast) {
        return 0;
    }
    int32_t largest = 0;
    for (int32_t c = 0; c < channels; ++c) {
        const int32_t b = bias ? bias[c] : 0, f = folded_bias[c];
        if (b == INT32_MIN || f == INT32_MIN) {
            return 0;
        }
        const int32_t larger = (b < 0 ? -b : b) > (f < 0 ? -f : f) ? (b < 0 ? -b : b) : (f < 0 ? -f : f);
        largest = larger > largest ? larger : largest;
    }
    return largest < TC_SMALL_ACC_LIMIT - taps * 255 * 128;
}

/* One tap of four channels: acc[k] += (x[k] + offset) * w[k]. */
#if TC_DSP
/* Taps are written out for a 3x3 window; left alone, gcc loads all nine taps' words first
 * and spills them (twice the instructions). An empty asm statement keeps each tap whole. */
#if defined(__GNUC__)
#define TC_KEEP_ORDER() __asm__ volatile("" ::: "memory")
#else
#define TC_KEEP_ORDER() ((void)0)
#endif
#define TC_DW_TAP(x_ptr, w_ptr, offset_pair)                                                        \
    do {                                                                                            \
        const uint32_t x4 = tc_load4(x_ptr), w4 = tc_load4(w_ptr);                                  \
        const int32_t x_even = __sadd16(__sxtb16((int32_t)x4), (offset_pair));                      \
        const int32_t x_odd = __sadd16(tc_sxtb16_ror8(x4), (offset_pair));                          \
        const int32_t w_even = __sxtb16((int32_t)w4), w_odd = tc_sxtb16_ror8(w4);                   \
        acc0 = __smlabb(x_even, w_even, acc0);                                                      \
        acc2 = __smlatt(x_even, w_even, acc2);                                                      \
        acc1 = __smlabb(x_odd, w_odd, acc1);                                                        \
        acc3 = __smlatt(x_odd, w_odd, acc3);                                                        \
    } while (0)
/* The same for a window wholly inside the input: the offset is in the folded bias. */
#define TC_DW_TAP_INSIDE(x_ptr, w_ptr)                                                              \
    do {                                                                                            \
        const uint32_t x4 = tc_load4(x_ptr), w4 = tc_load4(w_ptr);                                  \
        const int32_t x_even = __sxtb16((int32_t)x4), x_odd = tc_sxtb16_ror8(x4);                   \
        const int32_t w_even = __sxtb16((int32_t)w4), w_odd = tc_sxtb16_ror8(w4);                   \
        acc0 = __smlabb(x_even, w_even, acc0);                                                      \
        acc2 = __smlatt(x_even, w_even, acc2);                                                      \
        acc1 = __smlabb(x_odd, w_odd, acc1);                                                        \
        acc3 = __smlatt(x_odd, w_odd, acc3);                                                        \
        TC_KEEP_ORDER();                                                                            \
    } while (0)
#else
#define TC_DW_TAP(x_ptr, w_ptr, offset)                                                             \
    do {                                                                                            \
        const int8_t *x_ = (x_ptr), *w_ = (w_ptr);                                                  \
        acc0 += (x_[0] + (offset)) * w_[0];                                                         \
        acc1 += (x_[1] + (offset)) * w_[1];                                                         \
        acc2 += (x_[2] + (offset)) * w_[2];                                                         \
        acc3 += (x_[3] + (offset)) * w_[3];                                                         \
    } while (0)
#define TC_DW_TAP_INSIDE(x_ptr, w_ptr) TC_DW_TAP(x_ptr, w_ptr, 0)
#endif

/* The taps of rows fy0..fy1-1 of a window, `taps_w` wide: one or two taps a row written out
 * (Kx1 temporal kernels, and the columns a border leaves of a 3x3 or 2x2 window), a loop for
 * wider rows. TAP_NEXT(...) is the tap one channel step to the right of TAP(...); `ch1` is
 * that step. Integer sums: the order of the taps does not change them. */
#define TC_DW_ROWS(TAP_NEXT, TAP)                                                                   \
    do {                                                                                            \
        const int32_t ch1 = channels;                                                               \
        for (int32_t fy = fy0; fy < fy1; ++fy, in += in_row, f += f_row) {                          \
            if (taps_w == 1) {                                                                      \
                TAP;                                                                                \
            } else if (taps_w == 2) {                                                               \
                TAP;                                                                                \
                TAP_NEXT;                                                                           \
            } else {                                                                                \
                const int8_t *row_in = in, *row_f = f;                                              \
                for (int32_t fx = 0; fx < taps_w; ++fx, in += ch1, f += ch1) {                      \
                    TAP;                                                                            \
                }                                                                                   \
                in = row_in;                                                                        \
                f = row_f;                                                                          \
            }                                                                                       \
        }                                                                                           \
    } while (0)

/* One output cell's channels from `first` on, any window: wholly inside (from the folded
 * bias, no offset) or cut by the padding (from the bias, the offset added per tap), rows of one
 * or two taps written out (TC_DW_ROWS), the last channels one at a time. Out of line, so that
 * the 3x3 loop of tc_depthwise_conv_dm1_s8 keeps its registers; `fast` is the layer's
 * tc_fast_requantize_ok, checked once per call of the kernel, not per cell. */
static TC_NOINLINE void tc_depthwise_cell(const tc_conv_params_t *params, int fast, int small, int32_t channels,
                                          int32_t first, int inside, const int32_t *start, int32_t fy0, int32_t fy1,
                                          int32_t taps_w, int32_t in_row, int32_t f_row,
                                          const int8_t *in_corner, const int8_t *f_corner, int8_t *out)
{
    const int32_t output_offset = params->output_offset, act_min = params->act_min, act_max = params->act_max;
    const int32_t offset = inside ? 0 : params->input_offset;
#if TC_DSP
    const int32_t offset_pair = (int32_t)(((uint32_t)offset & 0xFFFFu) * 0x10001u);
#else
    const int32_t offset_pair = offset;
#endif
    int32_t c = first;
    for (; c + 4 <= channels; c += 4) {
        int32_t acc0 = start ? start[c] : 0, acc1 = start ? start[c + 1] : 0;
        int32_t acc2 = start ? start[c + 2] : 0, acc3 = start ? start[c + 3] : 0;
        const int8_t *in = in_corner + c, *f = f_corner + c;
        if (inside) {
            TC_DW_ROWS(TC_DW_TAP_INSIDE(in + ch1, f + ch1), TC_DW_TAP_INSIDE(in, f));
        } else {
            TC_DW_ROWS(TC_DW_TAP(in + ch1, f + ch1, offset_pair), TC_DW_TAP(in, f, offset_pair));
        }
        tc_depthwise_store4(small, fast, params, c, acc0, acc1, acc2, acc3, out);
    }
    for (; c < channels; ++c) {
        int32_t acc = start ? start[c] : 0;
        const int8_t *in = in_corner + c, *f = f_corner + c;
        for (int32_t fy = fy0; fy < fy1; ++fy, in += in_row, f += f_row) {
            for (int32_t fx = 0; fx < taps_w; ++fx) {
                acc += (in[fx * channels] + offset) * f[fx * channels];
            }
        }
        out[c] = tc_depthwise_store(fast, acc, params, c, output_offset, act_min, act_max);
    }
}

/* With the DSP instructions a tap of four channels is two loads, four SXTB16, two SADD16 (the
 * input offset) and four SMLABB/SMLATT. A 3x3 window wholly inside, the common case, is
 * written out here: from the folded bias, no offset, no loop; every other window (cut by the
 * padding, or of another shape) and the last depth % 4 channels go to tc_depthwise_cell. */
void tc_depthwise_conv_dm1_s8(const tc_conv_params_t *params, const tc_dims_t *input_dims,
                              const int8_t *input, const tc_dims_t *filter_dims, const int8_t *filter,
                              const int32_t *bias, const tc_dims_t *output_dims, int8_t *output)
{
    const int32_t in_h = input_dims->h, in_w = input_dims->w, channels = input_dims->c;
    const int32_t filter_h = filter_dims->h, filter_w = filter_dims->w;
    const int32_t out_h = output_dims->h, out_w = output_dims->w;
    const int fast = tc_fast_requantize_ok(params->shift, channels, params->rounding);
    const int small = tc_depthwise_small_ok(fast, bias, params->folded_bias, channels, filter_h * filter_w);
    const int32_t groups = channels & ~3, in_row = in_w * channels, f_row = filter_w * channels;
    const int three = filter_h == 3 && filter_w == 3;
    for (int32_t b = 0; b < input_dims->n; ++b) {
        for (int32_t out_y = 0; out_y < out_h; ++out_y) {
            const int32_t in_y0 = out_y * params->stride_h - params->pad_top;
            const int32_t fy0 = in_y0 < 0 ? -in_y0 : 0;
            const int32_t fy1 = in_y0 + filter_h > in_h ? in_h - in_y0 : filter_h;
            for (int32_t out_x = 0; out_x < out_w; ++out_x) {
                const int32_t in_x0 = out_x * params->stride_w - params->pad_left;
                const int32_t fx0 = in_x0 < 0 ? -in_x0 : 0;
                const int32_t fx1 = in_x0 + filter_w > in_w ? in_w - in_x0 : filter_w;
                const int inside = fy0 == 0 && fx0 == 0 && fy1 == filter_h && fx1 == filter_w;
                const int32_t *start = inside ? params->folded_bias : bias;
                const int8_t *in_corner = input + ((b * in_h + in_y0 + fy0) * in_w + in_x0 + fx0) * channels;
                const int8_t *f_corner = filter + (fy0 * filter_w + fx0) * channels;
                int8_t *out = output + ((b * out_h + out_y) * out_w + out_x) * channels;
                int32_t c = 0;
                if (inside && three) {
                    for (; c < groups; c += 4) {
                        int32_t acc0 = start ? start[c] : 0, acc1 = start ? start[c + 1] : 0;
                        int32_t acc2 = start ? start[c + 2] : 0, acc3 = start ? start[c + 3] : 0;
                        const int8_t *in = in_corner + c, *f = f_corner + c;
                        const int32_t c2 = 2 * channels;
                        TC_DW_TAP_INSIDE(in, f);
                        TC_DW_TAP_INSIDE(in + channels, f + channels);
                        TC_DW_TAP_INSIDE(in + c2, f + c2);
                        TC_DW_TAP_INSIDE(in + in_row, f + 3 * channels);
                        TC_DW_TAP_INSIDE(in + in_row + channels, f + 4 * channels);
                        TC_DW_TAP_INSIDE(in + in_row + c2, f + 5 * channels);
                        TC_DW_TAP_INSIDE(in + 2 * in_row, f + 6 * channels);
                        TC_DW_TAP_INSIDE(in + 2 * in_row + channels, f + 7 * channels);
                        TC_DW_TAP_INSIDE(in + 2 * in_row + c2, f + 8 * channels);
                        tc_depthwise_store4(small, fast, params, c, acc0, acc1, acc2, acc3, out);
                    }
                    if (c == channels) {
                        continue;
                    }
                }
                tc_depthwise_cell(params, fast, small, channels, c, inside, start, fy0, fy1, fx1 - fx0, in_row,
                                  f_row, in_corner, f_corner, out);
            }
        }
    }
}
