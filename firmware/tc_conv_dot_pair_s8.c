/* CONV_2D's inner kernel: the four dot products of two output cells' gathered windows with the
 * filters of a channel pair (tc_conv_s8.c documents where it sits in the dispatch). The
 * weights are int8 (tc_dot_2x2_widened with the DSP instructions, tc_dot_2x2_s8 without), or
 * int16 when the generator stored them widened (params->wide_weights:
 * tc_dot_2x2_wide_weights, tc_dot_2x2_s8_wide_weights); the loops are in tc_dsp_support.h.
 * Out of line: both walks call it, once per channel pair and pair of cells. */
#include "tc_runtime.h"

TC_NOINLINE void tc_conv_dot_pair_s8(int32_t wide_weights, const void *windows, const int8_t *pair_weights,
                                     int32_t k, int32_t sums[4])
{
    const int16_t *wide = (const int16_t *)(const void *)pair_weights;
#if TC_DSP
    if (wide_weights) {
        tc_dot_2x2_wide_weights((const uint32_t *)windows, wide, k, sums);
    } else {
        tc_dot_2x2_widened((const uint32_t *)windows, pair_weights, k, sums);
    }
#else
    const int8_t *const a0 = (const int8_t *)windows, *const a1 = a0 + k;
    if (wide_weights) {
        tc_dot_2x2_s8_wide_weights(a0, a1, wide, k, sums);
    } else {
        tc_dot_2x2_s8(a0, a1, pair_weights, k, sums);
    }
#endif
}
