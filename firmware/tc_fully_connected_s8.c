/* FULLY_CONNECTED int8 (tinycnn/ref/fully_connected.py): weights [out_units, accum_depth],
 * multiplier per output unit or one for all. int32 holds 66k products of 127 * 255.
 *
 * The generator lays the weights out for four units at a time (ref/c_params.py's
 * fc_weight_layout): the depth padded with zeros to a multiple of 4, units in blocks of four
 * (the last block holds the remaining 1 to 3), and per 4 inputs a block's weights together.
 * Each step widens 4 inputs once and uses them for every unit of the block. The folded bias holds the bias and the
 * input offset's share, so the loop multiplies raw int8 values. */
#include "tc_runtime.h"

/* Four units' sums over `depth` inputs; weights: the quad's block. */
static TC_INLINE void tc_dot_quad_s8(const int8_t *input, int32_t depth, const int8_t *weights, int32_t acc[4])
{
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    int32_t i = 0;
#if TC_DSP
    const int32_t whole = depth & ~3;
    for (; i < whole; i += 4, weights += 16) {
        const uint32_t x4 = tc_load4(input + i);
        const int32_t x_even = __sxtb16((int32_t)x4), x_odd = tc_sxtb16_ror8(x4);
        uint32_t w4 = tc_load4(weights);
        a0 = __smlad(x_odd, tc_sxtb16_ror8(w4), __smlad(x_even, __sxtb16((int32_t)w4), a0));
        w4 = tc_load4(weights + 4);
        a1 = __smlad(x_odd, tc_sxtb16_ror8(w4), __smlad(x_even, __sxtb16((int32_t)w4), a1));
        w4 = tc_load4(weights + 8);
        a2 = __smlad(x_odd, tc_sxtb16_ror8(w4), __smlad(x_even, __sxtb16((int32_t)w4), a2));
        w4 = tc_load4(weights + 12);
        a3 = __smlad(x_odd, tc_sxtb16_ror8(w4), __smlad(x_even, __sxtb16((int32_t)w4), a3));
    }
#endif
    for (const int32_t whole_steps = depth & ~3; i < whole_steps; i += 4, weights += 16) {
        for (int32_t j = 0; j < 4; ++j) { /* no bounds test: a compiler can unroll and vectorize */
            const int32_t x = input[i + j];
            a0 += x * weights[j];
            a1 += x * weights[4 + j];
            a2 += x * weights[8 + j];
            a3 += x * weights[12 + j];
        }
    }
    for (int32_t j = 0; i + j < depth; ++j) { /* the last 1 to 3 inputs; padded weights are 0 */
        const int32_t x = input[i + j];
        a0 += x * weights[j];
        a1 += x * weights[4 + j];
        a2 += x * weights[8 + j];
        a3 += x * weights[12 + j];
    }
    acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
}

/* One or two units' sums (`count`) of the last block, whose weights are interleaved `width`
 * units wide, starting at unit `first` of the block. */
static TC_NOINLINE void tc_dot_rest_s8(const int8_t *input, int32_t depth, const int8_t *weights, int32_t width,
                                       int32_t first, int32_t count, int32_t acc[4])
{
    const int32_t step = 4 * width;
    const int8_t *w = weights + 4 * first;
    int32_t a0 = acc[first], a1 = count == 2 ? acc[first + 1] : 0;
    int32_t i = 0;
#if TC_DSP
    const int32_t whole = depth & ~3;
    if (count == 2) { /* the branch taken once, not per step */
        for (; i < whole; i += 4, w += step) {
            const uint32_t x4 = tc_load4(input + i);
            const int32_t x_even = __sxtb16((int32_t)x4), x_odd = tc_sxtb16_ror8(x4);
            const uint32_t w4 = tc_load4(w), v4 = tc_load4(w + 4);
            a0 = __smlad(x_odd, tc_sxtb16_ror8(w4), __smlad(x_even, __sxtb16((int32_t)w4), a0));
            a1 = __smlad(x_odd, tc_sxtb16_ror8(v4), __smlad(x_even, __sxtb16((int32_t)v4), a1));
        }
    } else {
        for (; i < whole; i += 4, w += step) {
            const uint32_t x4 = tc_load4(input + i), w4 = tc_load4(w);
            a0 = __smlad(tc_sxtb16_ror8(x4), tc_sxtb16_ror8(w4),
                         __smlad(__sxtb16((int32_t)x4), __sxtb16((int32_t)w4), a0));
        }
    }
#endif
    for (; i < depth; i += 4, w += step) {
        for (int32_t k = 0; k < 4 && i + k < depth; ++k) {
            a0 += input[i + k] * w[k];
            a1 += count == 2 ? input[i + k] * w[4 + k] : 0;
        }
    }
    acc[first] = a0;
    if (count == 2) {
        acc[first + 1] = a1;
    }
}

/* The stored value of one unit in general (any shift, either rounding): out of line, so that
 * the four inlined stores of a block stay small. */
static TC_NOINLINE int8_t tc_fc_store_exact(int32_t acc, const tc_fully_connected_params_t *params,
                                            int32_t channel)
{
    return tc_requantize_store(acc, params->multiplier[channel], params->shift[channel], params->rounding,
                               params->output_offset, params->act_min, params->act_max);
}

/* The stored value of one unit: `fast` (tc_fast_requantize_ok) picks the short path. */
static TC_INLINE int8_t tc_fc_store(int fast, int32_t acc, const tc_fully_connected_params_t *params,
                                    int32_t channel)
{
    return fast ? (int8_t)tc_requantize_clamp_fast(acc, params->multiplier[channel], params->shift[channel],
                                                   params->output_offset, params->act_min, params->act_max)
                : tc_fc_store_exact(acc, params, channel);
}

void tc_fully_connected_s8(const tc_fully_connected_params_t *params, int32_t rows,
                           int32_t accum_depth, const int8_t *input, int32_t out_units,
                           const int8_t *weights, int8_t *output)
{
    const int32_t quad_bytes = 4 * ((accum_depth + 3) & ~3);
    const int fast = tc_fast_requantize_ok(params->shift, params->per_channel ? out_units : 1, params->rounding);
    const int32_t channel_step = params->per_channel ? 1 : 0, whole = out_units & ~3;
    /* raw int8 inputs (the offset is in the folded bias): |x * w| <= 128 * 128 */
    const int small = tc_small_acc_ok(fast, params->folded_bias, out_units, accum_depth * 128 * 128);
    const tc_range4_t range = tc_range4(params->act_min, params->act_max);
    const int32_t twice_offset_plus_one = 2 * params->output_offset + 1;
    for (int32_t row = 0; row < rows; ++row) {
        const int8_t *in_row = input + row * accum_depth;
        int8_t *out = output + row * out_units;
        int32_t unit = 0;
        for (; unit < whole; unit += 4) { /* blocks of four units, the bias loaded directly */
            int32_t acc[4] = {params->folded_bias[unit], params->folded_bias[unit + 1],
                              params->folded_bias[unit + 2], params->folded_bias[unit + 3]};
            tc_dot_quad_s8(in_row, accum_depth, weights + (unit / 4) * quad_bytes, acc);
            const int32_t channel = unit * channel_step;
            if (small) {
                const int32_t *m = params->multiplier + channel, *sh = params->shift + channel;
                const int32_t d = channel_step, k = twice_offset_plus_one;
                tc_store4_clamped(out + unit, tc_requantize_small(acc[0], m[0], sh[0], k),
                                  tc_requantize_small(acc[1], m[d], sh[d], k),
                                  tc_requantize_small(acc[2], m[2 * d], sh[2 * d], k),
                                  tc_requantize_small(acc[3], m[3 * d], sh[3 * d], k), range);
                continue;
            }
            out[unit] = tc_fc_store(fast, acc[0], params, channel);
            out[unit + 1] = tc_fc_store(fast, acc[1], params, channel + channel_step);
            out[unit + 2] = tc_fc_store(fast, acc[2], params, channel + 2 * channel_step);
            out[unit + 3] = tc_fc_store(fast, acc[3], params, channel + 3 * channel_step);
        }
        if (unit < out_units) { /* the last block: 1 to 3 units */
            const int32_t block = out_units - unit;
            int32_t acc[4] = {0, 0, 0, 0};
            for (int32_t j = 0; j < block; ++j) {
                acc[j] = params->folded_bias[unit + j];
            }
            const int8_t *rest = weights + (unit / 4) * quad_bytes;
            tc_dot_rest_s8(in_row, accum_depth, rest, block, 0, block >= 2 ? 2 : 1, acc);
            if (block == 3) {
                tc_dot_rest_s8(in_row, accum_depth, rest, block, 2, 1, acc);
            }
            for (int32_t j = 0; j < block; ++j) {
                out[unit + j] = tc_fc_store(fast, acc[j], params, (unit + j) * channel_step);
            }
        }
    }
}
