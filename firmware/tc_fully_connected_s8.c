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

/* The index, among a unit's four widened weights, of the weight input k (0..3) of a group of
 * four meets: the generator stores w0 w2 w1 w3. */
#define TC_WIDE_AT(k) ((((k) & 1) << 1) + ((k) >> 1))

/* tc_dot_quad_s8 with the weights widened to int16 (the generator's widened_layout): per 4
 * inputs, each unit's weights as (w0, w2) and (w1, w3), what SXTB16 makes of the inputs. With
 * the DSP instructions a step is one load and two SXTB16 for the inputs, and per unit an LDM of
 * its two weight pairs and two SMLAD: 16 multiply-accumulates in 17 instructions. */
static TC_NOINLINE void tc_dot_quad_wide(const int8_t *input, int32_t depth, const int16_t *weights, int32_t acc[4])
{
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    const int32_t whole = depth & ~3;
    /* the last 1 to 3 inputs first (the padding's weights are 0), then whole groups of four */
    const int16_t *last = weights + 4 * whole;
    for (int32_t k = 0; whole + k < depth; ++k) {
        const int32_t x = input[whole + k], at = TC_WIDE_AT(k);
        a0 += x * last[at];
        a1 += x * last[4 + at];
        a2 += x * last[8 + at];
        a3 += x * last[12 + at];
    }
#if TC_DSP && defined(__GNUC__) && defined(__OPTIMIZE__) /* at -O0 gcc cannot spare the registers */
    if (whole > 0) {
        const int8_t *x = input, *const end = input + whole;
        const int16_t *w = weights;
        uint32_t even, odd;
        __asm__ volatile(
            "1:\n\t"
            "ldr %[even], [%[x]], #4\n\t"
            "sxtb16 %[odd], %[even], ror #8\n\t"
            "sxtb16 %[even], %[even]\n\t"
            "ldm %[w]!, {r4, r5, r6, r8}\n\t"
            "smlad %[a0], %[even], r4, %[a0]\n\t"
            "smlad %[a0], %[odd], r5, %[a0]\n\t"
            "smlad %[a1], %[even], r6, %[a1]\n\t"
            "smlad %[a1], %[odd], r8, %[a1]\n\t"
            "ldm %[w]!, {r4, r5, r6, r8}\n\t"
            "smlad %[a2], %[even], r4, %[a2]\n\t"
            "smlad %[a2], %[odd], r5, %[a2]\n\t"
            "smlad %[a3], %[even], r6, %[a3]\n\t"
            "smlad %[a3], %[odd], r8, %[a3]\n\t"
            "cmp %[x], %[end]\n\t"
            "bne 1b\n\t"
            : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [x] "+r"(x), [w] "+r"(w),
              [even] "=&r"(even), [odd] "=&r"(odd)
            : [end] "r"(end)
            : "r4", "r5", "r6", "r8", "cc", "memory");
    }
#else
    for (int32_t i = 0; i < whole; i += 4, weights += 16) {
        for (int32_t k = 0; k < 4; ++k) {
            const int32_t x = input[i + k], at = TC_WIDE_AT(k);
            a0 += x * weights[at];
            a1 += x * weights[4 + at];
            a2 += x * weights[8 + at];
            a3 += x * weights[12 + at];
        }
    }
#endif
    acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
}

/* The last block's 1 to 3 units (`width`) with widened weights: with the DSP instructions the
 * inputs widened once a step and two SMLAD per unit, then the last 1 to 3 inputs one by one. */
static TC_NOINLINE void tc_dot_rest_wide(const int8_t *input, int32_t depth, const int16_t *weights, int32_t width,
                                         int32_t acc[4])
{
    int32_t i = 0;
#if TC_DSP
    const uint32_t *w = (const uint32_t *)(const void *)weights;
    const int32_t whole = depth & ~3;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2];
    /* one loop per width, the sums in registers */
#define TC_REST_STEP(UNITS)                                                                         \
    for (; i < whole; i += 4, w += 2 * (UNITS)) {                                                   \
        const uint32_t x4 = tc_load4(input + i);                                                    \
        const int32_t x_even = __sxtb16((int32_t)x4), x_odd = tc_sxtb16_ror8(x4);                   \
        a0 = __smlad(x_odd, (int32_t)w[1], __smlad(x_even, (int32_t)w[0], a0));                     \
        if ((UNITS) > 1) {                                                                          \
            a1 = __smlad(x_odd, (int32_t)w[3], __smlad(x_even, (int32_t)w[2], a1));                 \
        }                                                                                           \
        if ((UNITS) > 2) {                                                                          \
            a2 = __smlad(x_odd, (int32_t)w[5], __smlad(x_even, (int32_t)w[4], a2));                 \
        }                                                                                           \
    }
    if (width == 1) {
        TC_REST_STEP(1)
    } else if (width == 2) {
        TC_REST_STEP(2)
    } else {
        TC_REST_STEP(3)
    }
#undef TC_REST_STEP
    acc[0] = a0, acc[1] = a1, acc[2] = a2;
    weights += i * width;
#endif
    for (; i < depth; i += 4, weights += 4 * width) {
        for (int32_t k = 0; k < 4 && i + k < depth; ++k) {
            const int32_t x = input[i + k], at = TC_WIDE_AT(k);
            for (int32_t j = 0; j < width; ++j) {
                acc[j] += x * weights[4 * j + at];
            }
        }
    }
}

/* The sums of block `unit / 4` (units unit..unit+count-1, count 1 to 4) into acc, which holds
 * their start values: int8 or widened weights. */
static void tc_fc_block(const int8_t *input, int32_t depth, const void *weights, int wide, int32_t unit,
                        int32_t count, int32_t acc[4])
{
    const int32_t quad_values = 4 * ((depth + 3) & ~3);
    if (wide) {
        const int16_t *block = (const int16_t *)weights + (unit / 4) * quad_values;
        if (count == 4) {
            tc_dot_quad_wide(input, depth, block, acc);
        } else {
            tc_dot_rest_wide(input, depth, block, count, acc);
        }
        return;
    }
    const int8_t *block = (const int8_t *)weights + (unit / 4) * quad_values;
    if (count == 4) {
        tc_dot_quad_s8(input, depth, block, acc);
        return;
    }
    tc_dot_rest_s8(input, depth, block, count, 0, count >= 2 ? 2 : 1, acc);
    if (count == 3) {
        tc_dot_rest_s8(input, depth, block, count, 2, 1, acc);
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

void tc_fc_sums_s8(const int8_t *input, int32_t depth, int32_t units, const void *weights, int wide,
                   const int32_t *start, int32_t *sums)
{
    const int32_t quad_values = 4 * ((depth + 3) & ~3), whole = units & ~3;
    int32_t unit = 0;
    for (; unit < whole; unit += 4) { /* whole blocks: the loops inlined, no copies */
        int32_t acc[4] = {start[unit], start[unit + 1], start[unit + 2], start[unit + 3]};
        if (wide) {
            tc_dot_quad_wide(input, depth, (const int16_t *)weights + (unit / 4) * quad_values, acc);
        } else {
            tc_dot_quad_s8(input, depth, (const int8_t *)weights + (unit / 4) * quad_values, acc);
        }
        sums[unit] = acc[0], sums[unit + 1] = acc[1], sums[unit + 2] = acc[2], sums[unit + 3] = acc[3];
    }
    if (unit < units) { /* the last block: 1 to 3 units */
        const int32_t count = units - unit;
        int32_t acc[4] = {start[unit], 0, 0, 0};
        acc[1] = count > 1 ? start[unit + 1] : 0;
        acc[2] = count > 2 ? start[unit + 2] : 0;
        tc_fc_block(input, depth, weights, wide, unit, count, acc);
        sums[unit] = acc[0];
        if (count > 1) {
            sums[unit + 1] = acc[1];
        }
        if (count > 2) {
            sums[unit + 2] = acc[2];
        }
    }
}

void tc_fully_connected_s8(const tc_fully_connected_params_t *params, int32_t rows,
                           int32_t accum_depth, const int8_t *input, int32_t out_units,
                           const void *weights, int8_t *output)
{
    const int fast = tc_fast_requantize_ok(params->shift, params->per_channel ? out_units : 1, params->rounding);
    const int32_t channel_step = params->per_channel ? 1 : 0, whole = out_units & ~3;
    /* raw int8 inputs (the offset is in the folded bias): |x * w| <= 128 * 128 */
    const int small = tc_small_acc_ok(fast, params->folded_bias, out_units, accum_depth, 128 * 128);
    const tc_range4_t range = tc_range4(params->act_min, params->act_max);
    const int32_t twice_offset_plus_one = 2 * params->output_offset + 1;
    for (int32_t row = 0; row < rows; ++row) {
        const int8_t *in_row = input + row * accum_depth;
        int8_t *out = output + row * out_units;
        int32_t unit = 0;
        for (; unit < whole; unit += 4) { /* blocks of four units, the bias loaded directly */
            int32_t acc[4] = {params->folded_bias[unit], params->folded_bias[unit + 1],
                              params->folded_bias[unit + 2], params->folded_bias[unit + 3]};
            tc_fc_block(in_row, accum_depth, weights, params->wide_weights, unit, 4, acc);
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
            tc_fc_block(in_row, accum_depth, weights, params->wide_weights, unit, block, acc);
            for (int32_t j = 0; j < block; ++j) {
                out[unit + j] = tc_fc_store(fast, acc[j], params, (unit + j) * channel_step);
            }
        }
    }
}
