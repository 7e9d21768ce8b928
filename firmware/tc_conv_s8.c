/* CONV_2D int8 with per-channel weights (tinycnn/ref/conv.py, TFLite ConvPerChannel).
 * Filter layout: TFLite's [out_channels, filter_h, filter_w, in_channels], each channel's
 * filter padded with zeros to params->filter_stride taps (a multiple of 4), then
 * pair-interleaved for the pair dot products: channels 2p and 2p + 1 alternate 4 taps at a
 * time (an odd last channel is paired with zeros).
 * The generator always gives the folded bias and the scratch (tinycnn/ref/conv.py); the sums
 * are the Python reference's loop nest, two output cells and two output channels at a time.
 * acc is int32: |filter * (input + offset)| <= 127 * 255, so it holds 2^31 / 32385 = 66k
 * taps, more than any filter a microcontroller runs.
 *
 * The dispatch of CONV_2D (as CMSIS-NN's arm_convolve_wrapper_s8), by the layer's parameters:
 *
 *   walk     params->pool_h > 0: the pooled cells, a MAX_POOL_2D fused after the conv, in
 *            tc_conv_fused_pool_s8 (tc_conv_fused_pool_s8.c); else output cells two at a
 *            time, tc_conv_cells below. tc_conv_s8 chooses, once per call.
 *   windows  both walks gather two cells' input windows with tc_conv_load_pair_s8
 *            (tc_conv_im2col_s8.c): with TC_DSP widened to int16, straight from the input
 *            when in_channels is a multiple of 4, else staged as int8 first.
 *   weights  per channel pair, both walks call tc_conv_dot_pair_s8 (tc_conv_dot_pair_s8.c):
 *            params->wide_weights picks the loop for int16 weights, else for int8 weights;
 *            the loops are in tc_dsp_support.h.
 *
 * TC_DSP (tc_types.h) is fixed at compile time and picks the SXTB16/SMLAD code or the
 * portable C inside each file; both give the same results bit for bit. The pair dot product
 * and the gathering stay out of line, one copy for both walks. The weight format is tested
 * inside the dot product, one compare a call: choosing between two dot products in the walks
 * cost about five instructions a call more (`tinycnn bench`). */
#include "tc_runtime.h"

/* Without a pool: output cells two at a time, output channels two at a time (an odd last
 * channel is paired with zero weights and its partner's sums dropped). An odd last cell is
 * computed twice and stored once. */
static void tc_conv_cells(const tc_conv_params_t *params, const tc_dims_t *input_dims,
                          const int8_t *input, const tc_dims_t *filter_dims, const int8_t *filter,
                          const tc_dims_t *output_dims, int8_t *output)
{
    const tc_conv_scratch_t scratch = tc_conv_scratch(params, input_dims->c);
    const tc_conv_scratch_t *const s = &scratch;
    const int32_t out_w = output_dims->w, out_c = output_dims->c, k = params->filter_stride;
    const int32_t cells = output_dims->h * out_w;
    const int32_t output_offset = params->output_offset, act_min = params->act_min, act_max = params->act_max;
    const tc_rounding_t rounding = params->rounding;
    const int fast = tc_fast_requantize_ok(params->shift, out_c, rounding);
    /* the windows hold input values (|x| <= 128; padding is the zero point), the offset is folded */
    const int small = tc_small_acc_ok(fast, params->folded_bias, out_c, k, 128 * 128);
    const tc_range4_t range = tc_range4(act_min, act_max);
    const int32_t step = tc_conv_pair_bytes(params);
    for (int32_t b = 0; b < input_dims->n; ++b) {
        for (int32_t cell = 0; cell < cells; cell += 2) {
            const int32_t count = cell + 1 < cells ? 2 : 1;
            const int32_t last = cell + count - 1;
            const int32_t at[4] = {cell / out_w, cell % out_w, last / out_w, last % out_w};
            tc_conv_load_pair_s8(params, input_dims, input, filter_dims, b, at, s);
            int8_t *out = output + (b * cells + cell) * out_c;
            const int8_t *w = filter;
            for (int32_t oc = 0; oc < out_c; oc += 2, w += step) {
                const int32_t oc1 = oc + 1 < out_c ? oc + 1 : oc;
                const int32_t b0 = params->folded_bias[oc], b1 = params->folded_bias[oc1];
                int32_t sums[4] = {b0, b1, b0, b1};
                tc_conv_dot_pair_s8(params->wide_weights, tc_conv_windows(s), w, k, sums);
                const int32_t m0 = params->multiplier[oc], m1 = params->multiplier[oc1];
                const int32_t s0 = params->shift[oc], s1 = params->shift[oc1];
                if (small && count == 2 && oc1 != oc) { /* both cells, both channels */
                    const int32_t twice_offset_plus_one = 2 * output_offset + 1;
                    tc_store2_clamped(out + oc, tc_requantize_small(sums[0], m0, s0, twice_offset_plus_one),
                                      tc_requantize_small(sums[1], m1, s1, twice_offset_plus_one), range);
                    tc_store2_clamped(out + out_c + oc, tc_requantize_small(sums[2], m0, s0, twice_offset_plus_one),
                                      tc_requantize_small(sums[3], m1, s1, twice_offset_plus_one), range);
                    continue;
                }
                /* oc1 == oc: the last of an odd count, its partner's sums are dropped */
                for (int32_t cell_k = 0; cell_k < count; ++cell_k) {
                    int8_t *o = out + cell_k * out_c;
                    o[oc] = tc_store_requantized(fast, sums[2 * cell_k], m0, s0, rounding, output_offset,
                                                 act_min, act_max);
                    if (oc1 != oc) {
                        o[oc1] = tc_store_requantized(fast, sums[2 * cell_k + 1], m1, s1, rounding,
                                                      output_offset, act_min, act_max);
                    }
                }
            }
        }
    }
}

void tc_conv_s8(const tc_conv_params_t *params, const tc_dims_t *input_dims, const int8_t *input,
                const tc_dims_t *filter_dims, const int8_t *filter, const tc_dims_t *output_dims,
                int8_t *output)
{
    if (params->pool_h > 0) {
        tc_conv_fused_pool_s8(params, input_dims, input, filter_dims, filter, output_dims, output);
    } else {
        tc_conv_cells(params, input_dims, input, filter_dims, filter, output_dims, output);
    }
}
