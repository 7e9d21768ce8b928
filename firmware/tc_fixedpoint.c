/* The out-of-line exact requantization the kernels fall back to when a layer's shifts are
 * outside tc_requantize_clamp_fast's range or it rounds once (tc_fixedpoint.h): one copy for
 * every kernel instead of one inlined at each store; and the once-a-call check for
 * tc_requantize_small. */
#include "tc_runtime.h"

int8_t tc_requantize_store(int32_t acc, int32_t multiplier, int32_t shift, tc_rounding_t rounding,
                           int32_t offset, int32_t act_min, int32_t act_max)
{
    return (int8_t)tc_requantize_clamp(acc, multiplier, shift, rounding, offset, act_min, act_max);
}

int tc_small_acc_ok(int fast, const int32_t *start, int32_t count, int32_t terms, int32_t term_bound)
{
    if (!fast || terms < 0 || term_bound <= 0 || terms >= TC_SMALL_ACC_LIMIT / term_bound) {
        return 0;
    }
    const int32_t growth = terms * term_bound; /* below 2^30: the test above keeps it exact */
    for (int32_t i = 0; i < count; ++i) {
        if (start[i] <= growth - TC_SMALL_ACC_LIMIT || start[i] >= TC_SMALL_ACC_LIMIT - growth) {
            return 0;
        }
    }
    return 1;
}
