/* MAX_POOL_2D int8 (tinycnn/ref/max_pool.py): the largest in-bounds cell of each window.
 *
 * Each output cell's window is cut to the rows and columns inside the input once and starts
 * from its first cell. With the DSP instructions four channels go together: a word of each
 * cell, SSUB8 and SEL keeping the byte-wise signed maximum in a register, the activation range
 * applied the same way before one word store; the last 1 to 3 channels one by one. The
 * portable build takes the window's cells one after the other, all channels of each. */
#include "tc_runtime.h"

#if TC_DSP && defined(__GNUC__)
/* The byte-wise signed maximum of two words: SSUB8 sets a GE flag per byte where a >= b, SEL
 * takes those bytes of a and the others of b (one asm, so no other code can touch the flags
 * between them). */
static TC_INLINE uint32_t tc_max4(uint32_t a, uint32_t b)
{
    uint32_t result, scratch;
    __asm__("ssub8 %1, %2, %3\n\tsel %0, %2, %3" : "=r"(result), "=&r"(scratch) : "r"(a), "r"(b) : "cc");
    return result;
}

/* The byte-wise signed minimum: SSUB8 as above, SEL taking b's bytes where a >= b. */
static TC_INLINE uint32_t tc_min4(uint32_t a, uint32_t b)
{
    uint32_t result, scratch;
    __asm__("ssub8 %1, %2, %3\n\tsel %0, %3, %2" : "=r"(result), "=&r"(scratch) : "r"(a), "r"(b) : "cc");
    return result;
}
#define TC_MAX_POOL_LANES 4
#else
#define TC_MAX_POOL_LANES 1
#endif

/* One output cell: the window's `rows` x `cols` cells (at least one: TFLite's paddings never
 * leave a window outside the input) from `corner`, rows `row_step` bytes apart. */
static void tc_max_pool_cell(const int8_t *corner, int32_t rows, int32_t cols, int32_t row_step, int32_t depth,
                             const tc_pool_params_t *params, int8_t *out)
{
#if TC_MAX_POOL_LANES == 4
    /* four channels at a time, their maximum in a register */
    const tc_range4_t range = tc_range4(params->act_min, params->act_max);
    int32_t c = 0;
    for (; c + 4 <= depth; c += 4) {
        const int8_t *row = corner + c;
        uint32_t best = tc_load4(row);
        for (int32_t fy = 0; fy < rows; ++fy, row += row_step) {
            const int8_t *cell = row;
            for (int32_t fx = 0; fx < cols; ++fx, cell += depth) {
                best = tc_max4(tc_load4(cell), best);
            }
        }
        best = tc_min4(tc_max4(best, (uint32_t)range.low), (uint32_t)range.high);
        memcpy(out + c, &best, 4);
    }
    for (; c < depth; ++c) {
        const int8_t *row = corner + c;
        int32_t best = *row;
        for (int32_t fy = 0; fy < rows; ++fy, row += row_step) {
            const int8_t *cell = row;
            for (int32_t fx = 0; fx < cols; ++fx, cell += depth) {
                best = *cell > best ? *cell : best;
            }
        }
        out[c] = (int8_t)tc_clamp(best, params->act_min, params->act_max);
    }
#else
    /* the window's cells one after the other, every channel of each: consecutive bytes */
    memcpy(out, corner, (size_t)depth);
    const int8_t *row = corner;
    for (int32_t fy = 0; fy < rows; ++fy, row += row_step) {
        const int8_t *cell = row;
        for (int32_t fx = 0; fx < cols; ++fx, cell += depth) {
            for (int32_t c = 0; c < depth; ++c) {
                out[c] = cell[c] > out[c] ? cell[c] : out[c];
            }
        }
    }
    for (int32_t c = 0; c < depth; ++c) {
        out[c] = (int8_t)tc_clamp(out[c], params->act_min, params->act_max);
    }
#endif
}

void tc_max_pool_s8(const tc_pool_params_t *params, const tc_dims_t *input_dims,
                    const int8_t *input, const tc_dims_t *output_dims, int8_t *output)
{
    const int32_t in_h = input_dims->h, in_w = input_dims->w, depth = input_dims->c;
    const int32_t row_step = in_w * depth;
    for (int32_t b = 0; b < input_dims->n; ++b) {
        for (int32_t out_y = 0; out_y < output_dims->h; ++out_y) {
            const int32_t in_y0 = out_y * params->stride_h - params->pad_top;
            const int32_t fy0 = in_y0 < 0 ? -in_y0 : 0;
            const int32_t fy1 = in_y0 + params->filter_h > in_h ? in_h - in_y0 : params->filter_h;
            for (int32_t out_x = 0; out_x < output_dims->w; ++out_x) {
                const int32_t in_x0 = out_x * params->stride_w - params->pad_left;
                const int32_t fx0 = in_x0 < 0 ? -in_x0 : 0;
                const int32_t fx1 = in_x0 + params->filter_w > in_w ? in_w - in_x0 : params->filter_w;
                const int8_t *corner = input + ((b * in_h + in_y0 + fy0) * in_w + in_x0 + fx0) * depth;
                int8_t *out = output + ((b * output_dims->h + out_y) * output_dims->w + out_x) * depth;
                tc_max_pool_cell(corner, fy1 - fy0, fx1 - fx0, row_step, depth, params, out);
            }
        }
    }
}
