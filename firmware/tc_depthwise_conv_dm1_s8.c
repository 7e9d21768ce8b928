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

/* Channels c..c+3 of one cell stored one at a time (tc_depthwise_store): out of line, the
 * path of layers whose accumulators can leave tc_requantize_small's range. */
static TC_NOINLINE void tc_depthwise_store4_general(int fast, const tc_conv_params_t *params, int32_t c,
                                                    const int32_t acc[4], int8_t *out)
{
    const int32_t output_offset = params->output_offset, act_min = params->act_min, act_max = params->act_max;
    for (int32_t k = 0; k < 4; ++k) {
        out[c + k] = tc_depthwise_store(fast, acc[k], params, c + k, output_offset, act_min, act_max);
    }
}

/* How a layer's cells store their channels, fixed once per call. */
typedef struct {
    int small; /* tc_small_acc_ok: four tc_requantize_small and one tc_store4_clamped */
    int fast;  /* else tc_depthwise_store4_general, with tc_fast_requantize_ok's answer */
    int32_t twice_offset_plus_one;
    tc_range4_t range;
} tc_depthwise_store_t;

static TC_INLINE void tc_depthwise_store4(const tc_depthwise_store_t *how, const tc_conv_params_t *params, int32_t c,
                                          int32_t acc0, int32_t acc1, int32_t acc2, int32_t acc3, int8_t *out)
{
    if (how->small) {
        const int32_t *m = params->multiplier + c, *s = params->shift + c, k = how->twice_offset_plus_one;
        tc_store4_clamped(out + c, tc_requantize_small(acc0, m[0], s[0], k), tc_requantize_small(acc1, m[1], s[1], k),
                          tc_requantize_small(acc2, m[2], s[2], k), tc_requantize_small(acc3, m[3], s[3], k),
                          how->range);
    } else {
        const int32_t acc[4] = {acc0, acc1, acc2, acc3};
        tc_depthwise_store4_general(how->fast, params, c, acc, out);
    }
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
static TC_NOINLINE void tc_depthwise_cell(const tc_conv_params_t *params, const tc_depthwise_store_t *how, int32_t channels,
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
        tc_depthwise_store4(how, params, c, acc0, acc1, acc2, acc3, out);
    }
    for (; c < channels; ++c) {
        int32_t acc = start ? start[c] : 0;
        const int8_t *in = in_corner + c, *f = f_corner + c;
        for (int32_t fy = fy0; fy < fy1; ++fy, in += in_row, f += f_row) {
            for (int32_t fx = 0; fx < taps_w; ++fx) {
                acc += (in[fx * channels] + offset) * f[fx * channels];
            }
        }
        out[c] = tc_depthwise_store(how->fast, acc, params, c, output_offset, act_min, act_max);
    }
}

/* The first `groups` channels (a multiple of 4) of one output cell whose 3x3 window lies
 * wholly inside the input (`in`: its top-left tap): from the folded bias, no offset, the nine
 * taps written out. Out of line, with few values live, so that the taps keep their registers. */
static TC_NOINLINE void tc_depthwise_3x3_inside(const tc_conv_params_t *params, const tc_depthwise_store_t *how,
                                                int32_t groups, int32_t channels, int32_t in_row,
                                                const int8_t *in, const int8_t *f, int8_t *out)
{
    const int32_t *folded = params->folded_bias;
    for (int32_t c = 0; c < groups; c += 4) {
        int32_t acc0 = folded[c], acc1 = folded[c + 1], acc2 = folded[c + 2], acc3 = folded[c + 3];
        const int8_t *x = in + c, *w = f + c;
        for (int32_t row = 0; row < 3; ++row, x += in_row, w += 3 * channels) {
            TC_DW_TAP_INSIDE(x, w);
            TC_DW_TAP_INSIDE(x + channels, w + channels);
            TC_DW_TAP_INSIDE(x + 2 * channels, w + 2 * channels);
        }
        tc_depthwise_store4(how, params, c, acc0, acc1, acc2, acc3, out);
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
    /* cells cut by the padding start from the bias and add the offset: |x + offset| <= 255 */
    const int32_t taps = filter_h * filter_w;
    const int small = tc_small_acc_ok(fast, params->folded_bias, channels, taps, 255 * 128) &&
                      (!bias || tc_small_acc_ok(fast, bias, channels, taps, 255 * 128));
    const tc_depthwise_store_t how = {small, fast, 2 * params->output_offset + 1,
                                      tc_range4(params->act_min, params->act_max)};
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
                    tc_depthwise_3x3_inside(params, &how, groups, channels, in_row, in_corner, f_corner, out);
                    c = groups;
                    if (c == channels) {
                        continue;
                    }
                }
                tc_depthwise_cell(params, &how, channels, c, inside, start, fy0, fy1, fx1 - fx0, in_row,
                                  f_row, in_corner, f_corner, out);
            }
        }
    }
}
