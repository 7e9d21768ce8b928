/* STRIDED_SLICE int8 (tinycnn/ref/strided_slice.py): copy the chosen elements, in order.
 * slice[0..3] is the first index along each of the 4 axes (batch, then the others padded in
 * front), slice[4..7] the steps and slice[8..11] how many are taken: the output's shape. */
#include "tc_runtime.h"

void tc_strided_slice_s8(const tc_dims_t *input_dims, const int8_t *input, const int32_t *slice,
                         int8_t *output)
{
    const int32_t *start = slice, *step = slice + 4, *count = slice + 8;
    for (int32_t a = 0; a < count[0]; ++a) {
        const int32_t n = start[0] + a * step[0];
        for (int32_t b = 0; b < count[1]; ++b) {
            const int32_t y = start[1] + b * step[1];
            for (int32_t c = 0; c < count[2]; ++c) {
                const int32_t x = start[2] + c * step[2];
                const int8_t *row = input + ((n * input_dims->h + y) * input_dims->w + x) * input_dims->c;
                for (int32_t d = 0; d < count[3]; ++d) {
                    *output++ = row[start[3] + d * step[3]];
                }
            }
        }
    }
}
