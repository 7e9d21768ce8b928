/* SPACE_TO_BATCH_ND and BATCH_TO_SPACE_ND int8 (tinycnn/ref/space_to_batch_nd.py): how the
 * converter writes a dilated convolution (pad, fold the grid into the batch, convolve,
 * unfold, crop). Values only move. Batch (offset_y * block_w + offset_x) * batch + b holds
 * the cells of image b at that offset within each block. */
#include "tc_runtime.h"

void tc_space_to_batch_nd_s8(const tc_space_to_batch_params_t *params, const tc_dims_t *input_dims,
                             const int8_t *input, const tc_dims_t *output_dims, int8_t *output)
{
    const int32_t batches = input_dims->n, channels = input_dims->c;
    for (int32_t out_b = 0; out_b < output_dims->n; ++out_b) {
        const int32_t b = out_b % batches;
        const int32_t block_offset = out_b / batches;
        const int32_t offset_y = block_offset / params->block_w;
        const int32_t offset_x = block_offset % params->block_w;
        for (int32_t y = 0; y < output_dims->h; ++y) {
            const int32_t in_y = y * params->block_h + offset_y - params->pad_top;
            for (int32_t x = 0; x < output_dims->w; ++x) {
                const int32_t in_x = x * params->block_w + offset_x - params->pad_left;
                if (in_y < 0 || in_y >= input_dims->h || in_x < 0 || in_x >= input_dims->w) {
                    memset(output, params->pad_value, (size_t)channels);
                } else {
                    memcpy(output, input + ((b * input_dims->h + in_y) * input_dims->w + in_x) * channels,
                           (size_t)channels);
                }
                output += channels;
            }
        }
    }
}

void tc_batch_to_space_nd_s8(const tc_space_to_batch_params_t *params, const tc_dims_t *input_dims,
                             const int8_t *input, const tc_dims_t *output_dims, int8_t *output)
{
    const int32_t channels = output_dims->c;
    for (int32_t b = 0; b < output_dims->n; ++b) {
        for (int32_t y = 0; y < output_dims->h; ++y) {
            const int32_t full_y = y + params->pad_top; /* crops */
            for (int32_t x = 0; x < output_dims->w; ++x) {
                const int32_t full_x = x + params->pad_left;
                const int32_t in_b = ((full_y % params->block_h) * params->block_w + full_x % params->block_w) *
                                         output_dims->n + b;
                const int32_t in_y = full_y / params->block_h, in_x = full_x / params->block_w;
                memcpy(output, input + ((in_b * input_dims->h + in_y) * input_dims->w + in_x) * channels,
                       (size_t)channels);
                output += channels;
            }
        }
    }
}
