/* CONCATENATION int8 (tinycnn/ref/concatenation.py): inputs joined along one axis. TFLite
 * gives every int8 input the output's scale and zero point, so this only copies bytes.
 * outer = product of the dimensions before the axis, inner = product of those after it. */
#include "tc_runtime.h"

void tc_concatenation_s8(int32_t count, const int8_t *const *inputs, const int32_t *axis_sizes,
                         int32_t outer, int32_t inner, int8_t *output)
{
    for (int32_t o = 0; o < outer; ++o) {
        for (int32_t i = 0; i < count; ++i) {
            const int32_t chunk = axis_sizes[i] * inner;
            memcpy(output, inputs[i] + o * chunk, (size_t)chunk);
            output += chunk;
        }
    }
}
