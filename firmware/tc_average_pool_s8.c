/* AVERAGE_POOL_2D int8 (tinycnn/ref/average_pool.py): sum of the in-bounds cells divided by
 * their count, rounded half away from zero.
 *
 * Each window's bounds are clipped once, outside the sums. With the DSP instructions four
 * channels are summed at a time: one word load per cell, SXTAB16 adding bytes 0 and 2 (and,
 * rotated, 1 and 3) into two 16-bit accumulators each, exact while a window holds at most 256
 * cells (|sum| <= 256 * 128). Larger windows, the last depth % 4 channels and the portable
 * build sum one channel at a time. Integer sums do not depend on the order: the results are
 * the same bit for bit either way. */
#include "tc_runtime.h"

/* The window's sums for channels [c, depth), divided and stored; rows start at `first`
 * (the window's top-left cell, channel 0), `rows` x `cols` cells, `row_step` int8 apart. */
static void tc_average_window(const tc_pool_params_t *params, const int8_t *first, int32_t rows,
                              int32_t cols, int32_t row_step, int32_t depth, int8_t *out)
{
    const int32_t count = rows * cols; /* > 0: the generator refuses windows wholly in padding */
    int32_t c = 0;
#if TC_DSP
    if (count <= 256) {
        for (; c + 4 <= depth; c += 4) {
            int32_t even = 0, odd = 0; /* channels c, c+2 and c+1, c+3 in 16-bit halves */
            const int8_t *row = first + c;
            for (int32_t y = 0; y < rows; ++y, row += row_step) {
                const int8_t *cell = row;
                for (int32_t x = 0; x < cols; ++x, cell += depth) {
                    const uint32_t word = tc_load4(cell);
                    even = __sxtab16(even, (int32_t)word);
                    odd = tc_sxtab16_ror8(odd, word);
                }
            }
            const int32_t sums[4] = {(int16_t)even, (int16_t)odd, even >> 16, odd >> 16};
            for (int32_t k = 0; k < 4; ++k) {
                out[c + k] = (int8_t)tc_clamp(tc_rounding_divide(sums[k], count), params->act_min,
                                              params->act_max);
            }
        }
    }
#endif
    for (; c < depth; ++c) {
        int32_t sum = 0;
        const int8_t *row = first + c;
        for (int32_t y = 0; y < rows; ++y, row += row_step) {
            for (int32_t x = 0; x < cols; ++x) {
                sum += row[x * depth];
            }
        }
        out[c] = (int8_t)tc_clamp(tc_rounding_divide(sum, count), params->act_min, params->act_max);
    }
}

void tc_average_pool_s8(const tc_pool_params_t *params, const tc_dims_t *input_dims,
                        const int8_t *input, const tc_dims_t *output_dims, int8_t *output)
{
    const int32_t in_h = input_dims->h, in_w = input_dims->w, depth = input_dims->c;
    for (int32_t b = 0; b < input_dims->n; ++b) {
        for (int32_t out_y = 0; out_y < output_dims->h; ++out_y) {
            const int32_t in_y0 = out_y * params->stride_h - params->pad_top;
            const int32_t y_start = in_y0 < 0 ? 0 : in_y0;
            const int32_t y_end = in_y0 + params->filter_h > in_h ? in_h : in_y0 + params->filter_h;
            for (int32_t out_x = 0; out_x < output_dims->w; ++out_x) {
                const int32_t in_x0 = out_x * params->stride_w - params->pad_left;
                const int32_t x_start = in_x0 < 0 ? 0 : in_x0;
                const int32_t x_end =
                    in_x0 + params->filter_w > in_w ? in_w : in_x0 + params->filter_w;
                const int8_t *first = input + ((b * in_h + y_start) * in_w + x_start) * depth;
                int8_t *out = output + ((b * output_dims->h + out_y) * output_dims->w + out_x) * depth;
                tc_average_window(params, first, y_end - y_start, x_end - x_start, in_w * depth,
                                  depth, out);
            }
        }
    }
}
