/* ADD int8 (tinycnn/ref/add.py): both inputs shifted left 20 bits, rescaled to a common
 * scale, summed, rescaled to the output. Either input may be broadcast (size-1 dimensions
 * repeat, as for a standalone BatchNormalization's per-channel constant).
 *
 * One dispatch: two inputs of the output's shape (a residual join) with double rounding, input
 * factors below 1 and an output shift tc_requantize_clamp_fast takes go through one flat loop
 * whose rescalings are written out for those cases (no broadcast offsets, no rounding switch);
 * anything else through the general loop. Both compute the same values bit for bit. */
#include "tc_runtime.h"

/* tc_requantize(x, multiplier, -right_shift, double rounding) for |x| < 2^28 and right_shift
 * in [0, 31]: the high product is below 2^28, so adding half of 2^right_shift cannot
 * overflow and the rounding division (ties away from zero) is one add and one shift. */
static TC_INLINE int32_t tc_rescale_small(int32_t x, int32_t multiplier, int32_t right_shift)
{
    const int32_t high = tc_doubling_high_mul_nonnegative(x, multiplier);
    if (right_shift == 0) {
        return high;
    }
    return (high + (INT32_C(1) << (right_shift - 1)) + (high >> 31)) >> right_shift;
}

static int tc_add_fast_ok(const tc_add_params_t *params, const tc_dims_t *input1_dims,
                          const tc_dims_t *input2_dims, const tc_dims_t *output_dims)
{
    const tc_dims_t *dims[2] = {input1_dims, input2_dims};
    for (int32_t i = 0; i < 2; ++i) {
        if (dims[i]->n != output_dims->n || dims[i]->h != output_dims->h ||
            dims[i]->w != output_dims->w || dims[i]->c != output_dims->c) {
            return 0;
        }
    }
    return params->rounding == TC_ROUNDING_DOUBLE && params->left_shift <= 20 &&
           params->input1_shift <= 0 && params->input1_shift >= -31 &&
           params->input2_shift <= 0 && params->input2_shift >= -31 &&
           params->output_shift >= TC_FAST_SHIFT_MIN && params->output_shift <= -1;
}

static void tc_add_same_shape(const tc_add_params_t *params, int32_t size, const int8_t *input1,
                              const int8_t *input2, int8_t *output)
{
    const int32_t offset1 = params->input1_offset, offset2 = params->input2_offset;
    const int32_t multiplier1 = params->input1_multiplier, shift1 = -params->input1_shift;
    const int32_t multiplier2 = params->input2_multiplier, shift2 = -params->input2_shift;
    const int32_t left_shift = params->left_shift;
    for (int32_t i = 0; i < size; ++i) {
        /* |input + offset| <= 255: shifted left at most 20 bits it stays below 2^28 */
        const int32_t scaled1 =
            tc_rescale_small((input1[i] + offset1) * (1 << left_shift), multiplier1, shift1);
        const int32_t scaled2 =
            tc_rescale_small((input2[i] + offset2) * (1 << left_shift), multiplier2, shift2);
        output[i] = (int8_t)tc_requantize_clamp_fast(scaled1 + scaled2, params->output_multiplier,
                                                     params->output_shift, params->output_offset,
                                                     params->act_min, params->act_max);
    }
}

void tc_add_s8(const tc_add_params_t *params, const tc_dims_t *input1_dims, const int8_t *input1,
               const tc_dims_t *input2_dims, const int8_t *input2, const tc_dims_t *output_dims,
               int8_t *output)
{
    if (tc_add_fast_ok(params, input1_dims, input2_dims, output_dims)) {
        const int32_t size = output_dims->n * output_dims->h * output_dims->w * output_dims->c;
        tc_add_same_shape(params, size, input1, input2, output);
        return;
    }
    for (int32_t n = 0; n < output_dims->n; ++n) {
        for (int32_t h = 0; h < output_dims->h; ++h) {
            for (int32_t w = 0; w < output_dims->w; ++w) {
                for (int32_t c = 0; c < output_dims->c; ++c) {
                    const int32_t a = input1[tc_broadcast_offset(input1_dims, n, h, w, c)];
                    const int32_t b = input2[tc_broadcast_offset(input2_dims, n, h, w, c)];
                    /* |input + offset| <= 255, so the 20-bit shift stays below 2^28. */
                    const int32_t shifted1 = (a + params->input1_offset) * (1 << params->left_shift);
                    const int32_t shifted2 = (b + params->input2_offset) * (1 << params->left_shift);
                    const int32_t scaled1 = tc_requantize(shifted1, params->input1_multiplier,
                                                          params->input1_shift, params->rounding);
                    const int32_t scaled2 = tc_requantize(shifted2, params->input2_multiplier,
                                                          params->input2_shift, params->rounding);
                    const int32_t sum = tc_requantize(scaled1 + scaled2, params->output_multiplier,
                                                      params->output_shift, params->rounding) +
                                        params->output_offset;
                    *output++ = (int8_t)tc_clamp(sum, params->act_min, params->act_max);
                }
            }
        }
    }
}
