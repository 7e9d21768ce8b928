/* CONV_2D's window gathering (im2col): the input windows of two output cells copied into the
 * scratch, each laid out like one output channel's filter (filter_y, filter_x, in_channel),
 * so that tc_conv_dot_pair_s8 walks windows and filters together.
 * The DSP build leaves them widened to int16 and interleaved (tc_widen_pair_s8's layout):
 * straight from the input when in_channels is a multiple of 4, else through two int8 staging
 * windows. The portable build leaves the two int8 windows one after the other. */
#include "tc_runtime.h"

/* n bytes from src to dst, words while it can: windows are short, and a library memcpy call
 * costs more than the copy. */
static inline void tc_copy_bytes(int8_t *dst, const int8_t *src, int32_t n)
{
    for (; n >= 4; n -= 4, src += 4, dst += 4) {
        const uint32_t word = tc_load4(src);
        memcpy(dst, &word, 4); /* one STR: the Cortex-M4 stores unaligned words */
    }
    for (; n > 0; --n) {
        *dst++ = *src++;
    }
}

static inline void tc_fill_bytes(int8_t *dst, int8_t value, int32_t n)
{
    for (; n > 0; --n) {
        *dst++ = value;
    }
}

/* Copies the input window of one output cell into `window`, laid out like one output
 * channel's filter, then the zero point up to filter_stride. Cells outside the input get the
 * input zero point (a real 0): with the offset folded into the bias they add nothing, as
 * TFLite's bounds check skips them; the padding bytes meet zero weights. */
static inline void tc_conv_gather_window(const tc_conv_params_t *params, const tc_dims_t *input_dims,
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
            tc_fill_bytes(window, zero_point, row_bytes);
            window += row_bytes;
            continue;
        }
        const int8_t *row = input + ((b * in_h + in_y) * in_w) * in_c;
        if (whole_rows) {
            tc_copy_bytes(window, row + in_x0 * in_c, row_bytes);
        } else {
            for (int32_t fx = 0; fx < filter_w; ++fx) {
                const int32_t in_x = in_x0 + params->dilation_w * fx;
                if (in_x < 0 || in_x >= in_w) {
                    tc_fill_bytes(window + fx * in_c, zero_point, in_c);
                } else {
                    tc_copy_bytes(window + fx * in_c, row + in_x * in_c, in_c);
                }
            }
        }
        window += row_bytes;
    }
    tc_fill_bytes(window, zero_point, (int32_t)(end - window));
}

#if TC_DSP
/* `groups` groups of 4 input bytes widened into one cell's two words of each group of the
 * interleaved pair layout (tc_widen_pair_s8's: per group, cell 0's two words, then cell 1's);
 * `out` points at the cell's first word. */
static TC_INLINE void tc_widen_into(const int8_t *src, int32_t groups, uint32_t *out)
{
    for (; groups > 0; --groups, src += 4, out += 4) {
        const uint32_t four = tc_load4(src);
        out[0] = (uint32_t)__sxtb16((int32_t)four);
        out[1] = (uint32_t)tc_sxtb16_ror8(four);
    }
}

static TC_INLINE void tc_fill_widened(uint32_t pair, int32_t groups, uint32_t *out)
{
    for (; groups > 0; --groups, out += 4) {
        out[0] = out[1] = pair;
    }
}

/* tc_conv_gather_window straight into the widened layout, for in_channels a multiple of 4
 * (every tap is whole groups, and filter_stride has no tail): no int8 staging, no second
 * pass. */
static void tc_conv_gather_widened(const tc_conv_params_t *params, const tc_dims_t *input_dims,
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
            tc_fill_widened(zero_pair, filter_w * tap_groups, out);
            out += 4 * filter_w * tap_groups;
            continue;
        }
        const int8_t *row = input + ((b * in_h + in_y) * in_w) * in_c;
        if (whole_rows) {
            tc_widen_into(row + in_x0 * in_c, filter_w * tap_groups, out);
        } else {
            for (int32_t fx = 0; fx < filter_w; ++fx) {
                const int32_t in_x = in_x0 + params->dilation_w * fx;
                uint32_t *tap = out + 4 * fx * tap_groups;
                if (in_x < 0 || in_x >= in_w) {
                    tc_fill_widened(zero_pair, tap_groups, tap);
                } else {
                    tc_widen_into(row + in_x * in_c, tap_groups, tap);
                }
            }
        }
        out += 4 * filter_w * tap_groups;
    }
}
#endif

void tc_conv_load_pair_s8(const tc_conv_params_t *params, const tc_dims_t *input_dims,
                          const int8_t *input, const tc_dims_t *filter_dims, int32_t b,
                          const int32_t cells[4], const tc_conv_scratch_t *s)
{
#if TC_DSP
    if (input_dims->c % 4 == 0) {
        for (int32_t k = 0; k < 2; ++k) {
            tc_conv_gather_widened(params, input_dims, input, filter_dims, b,
                                   cells[2 * k] * params->stride_h - params->pad_top,
                                   cells[2 * k + 1] * params->stride_w - params->pad_left, s->wide + 2 * k);
        }
        return;
    }
#endif
    for (int32_t k = 0; k < 2; ++k) {
        tc_conv_gather_window(params, input_dims, input, filter_dims, b,
                              cells[2 * k] * params->stride_h - params->pad_top,
                              cells[2 * k + 1] * params->stride_w - params->pad_left, s->bytes[k]);
    }
#if TC_DSP
    tc_widen_pair_s8(s->bytes[0], s->bytes[1], params->filter_stride, s->wide);
#endif
}
