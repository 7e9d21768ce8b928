/* DEQUANTIZE int8 -> float at the output of a model with a float interface
 * (tinycnn/ref/dequantize.py): (q - zero_point) * scale in float32. */
#include "tc_runtime.h"

void tc_dequantize_s8(const tc_dequantize_params_t *params, int32_t size, const int8_t *input,
                      float *output)
{
    for (int32_t i = 0; i < size; ++i) {
        output[i] = ((float)input[i] - (float)params->zero_point) * params->scale;
    }
}
