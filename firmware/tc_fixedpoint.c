/* The out-of-line exact requantization the kernels fall back to when a layer's shifts are
 * outside tc_requantize_clamp_fast's range or it rounds once (tc_fixedpoint.h): one copy for
 * every kernel instead of one inlined at each store. */
#include "tc_runtime.h"

int8_t tc_requantize_store(int32_t acc, int32_t multiplier, int32_t shift, tc_rounding_t rounding,
                           int32_t offset, int32_t act_min, int32_t act_max)
{
    return (int8_t)tc_requantize_clamp(acc, multiplier, shift, rounding, offset, act_min, act_max);
}
