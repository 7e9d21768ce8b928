/* QUANTIZE (tinycnn/ref/quantize.py): int8 -> int8 inside a model, where the converter
 * changes a tensor's scale (e.g. before a CONCATENATION whose inputs disagree), and
 * float -> int8 at the input of a model with a float interface (floating point only here). */
#include "tc_runtime.h"

void tc_quantize_s8(const tc_quantize_params_t *params, int32_t size, const int8_t *input,
                    int8_t *output)
{
    for (int32_t i = 0; i < size; ++i) {
        const int32_t x = (int32_t)input[i] - params->input_zero_point; /* in [-255, 255] */
        const int32_t value = tc_requantize(x, params->multiplier, params->shift, params->rounding);
        output[i] = (int8_t)tc_clamp(value + params->output_zero_point, INT8_MIN, INT8_MAX);
    }
}

void tc_quantize_f32_s8(const tc_quantize_f32_params_t *params, int32_t size, const float *input,
                        int8_t *output)
{
    for (int32_t i = 0; i < size; ++i) {
        /* round(x / scale) in float32, ties away from zero, as floor(|v| + 0.5) with its sign */
        const float scaled = input[i] / params->scale;
        const float magnitude = (scaled < 0.0f ? -scaled : scaled) + 0.5f;
        const int32_t rounded = magnitude >= 1024.0f ? 1024 : (int32_t)magnitude; /* saturates anyway */
        const int32_t value = (scaled < 0.0f ? -rounded : rounded) + params->zero_point;
        output[i] = (int8_t)tc_clamp(value, INT8_MIN, INT8_MAX);
    }
}
