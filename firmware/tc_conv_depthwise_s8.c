/* CONV_2D streamed into the DEPTHWISE_CONV_2D that alone reads its output
 * (tinycnn/codegen/fusion.py makes the pair; tc_nn_functions.h documents the call).
 *
 * The depthwise layer is computed one output row at a time. Its windows for output row y
 * read the middle rows first .. first + span - 1 (first = y * stride_h - pad_top, span =
 * (KH - 1) * dilation_h + 1), those outside the middle tensor being padding. The band
 * pair->rows holds the middle rows [low, high) in order: before row y, the rows no longer
 * read move down to its start, and the convolution makes the rows still missing straight
 * into it. Then the depthwise kernel runs on the band as if it were its whole input, with
 * pad_top = low - first and one output row.
 *
 * The convolution makes rows [from, to) of its output as its kernel would make rows 0 ..
 * to - from - 1 of a convolution whose input starts at input row from * stride_h - pad_top
 * (its pad_top shrinking by as much, never below 0): both kernels find each value from
 * coordinates, with rows outside their input as padding, so every value is the one the
 * unfused layers compute. */
#include <string.h>

#include "tc_runtime.h"

/* Rows [from, to) of the convolution's output into out. */
static void tc_conv_rows(const tc_conv_depthwise_t *pair, const tc_dims_t *input_dims,
                         const int8_t *input, int32_t from, int32_t to, int8_t *out)
{
    tc_conv_params_t params = *pair->conv;
    tc_dims_t in = *input_dims, rows = *pair->middle_dims;
    const int32_t start = from * params.stride_h - params.pad_top; /* < in.h for TFLite's paddings */
    if (start > 0) {
        input += start * in.w * in.c;
        in.h -= start;
        params.pad_top = 0;
    } else {
        params.pad_top = -start;
    }
    rows.h = to - from;
    tc_conv_s8(&params, &in, input, pair->conv_filter_dims, pair->conv_filter, &rows, out);
}

void tc_conv_depthwise_s8(const tc_conv_depthwise_t *pair, const tc_dims_t *input_dims,
                          const int8_t *input, const tc_dims_t *output_dims, int8_t *output)
{
    const tc_dims_t *middle = pair->middle_dims;
    const int32_t row_bytes = middle->w * middle->c, out_row = output_dims->w * output_dims->c;
    const int32_t span = (pair->depthwise_filter_dims->h - 1) * pair->depthwise->dilation_h + 1;
    tc_conv_params_t depthwise = *pair->depthwise;
    tc_dims_t band = *middle, one_row = *output_dims;
    int32_t low = 0, high = 0; /* the band holds middle rows [low, high) */
    one_row.h = 1;
    for (int32_t y = 0; y < output_dims->h; ++y) {
        const int32_t first = y * pair->depthwise->stride_h - pair->depthwise->pad_top;
        const int32_t need_low = first > 0 ? first : 0;
        const int32_t need_high = first + span < middle->h ? first + span : middle->h;
        if (need_low > low) { /* drop the rows above the windows, keep the others in order */
            if (high > need_low) {
                memmove(pair->rows, pair->rows + (need_low - low) * row_bytes,
                        (size_t)((high - need_low) * row_bytes));
            } else {
                high = need_low; /* rows no window reads (a stride above the span) are skipped */
            }
            low = need_low;
        }
        if (need_high > high) {
            tc_conv_rows(pair, input_dims, input, high, need_high, pair->rows + (high - low) * row_bytes);
            high = need_high;
        }
        depthwise.pad_top = low - first;
        band.h = high - low;
        tc_depthwise_conv_s8(&depthwise, &band, pair->rows, pair->depthwise_filter_dims,
                             pair->depthwise_filter, pair->depthwise_bias, &one_row, output + y * out_row);
    }
}
