/* PAD int8 over height and width (tinycnn/ref/pad.py): fill, then copy the input rows in. */
#include "tc_runtime.h"

void tc_pad_s8(const tc_dims_t *input_dims, const int8_t *input, int32_t pad_top,
               int32_t pad_left, int8_t pad_value, const tc_dims_t *output_dims, int8_t *output)
{
    const int32_t depth = input_dims->c;
    memset(output, pad_value, (size_t)(output_dims->n * output_dims->h * output_dims->w * depth));
    for (int32_t b = 0; b < input_dims->n; ++b) {
        for (int32_t y = 0; y < input_dims->h; ++y) {
            const int8_t *source = input + ((b * input_dims->h + y) * input_dims->w) * depth;
            int8_t *target = output + ((b * output_dims->h + y + pad_top) * output_dims->w + pad_left) * depth;
            memcpy(target, source, (size_t)(input_dims->w * depth));
        }
    }
}
