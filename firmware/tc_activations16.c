/* The integer LSTM's int16 sigmoid and tanh in TFLite Micro's form (tinycnn/ref/activations16.py,
 * convention "tflm"): Q3.12 (or the cell state's format) in, Q0.15 out, from a table of 256
 * sigmoid samples 1/24 apart with linear interpolation. The input is first brought to
 * 3 x Q3.12, so that one table step is 512 raw units for the sigmoid and 256 for the tanh. */
#include "tc_runtime.h"

/* sigmoid(k / 24) * 65536, k = 0..255, capped at 65535: TFLite Micro's table (Apache-2.0),
 * the same values as SIGMOID_TABLE in tinycnn/ref/activations16.py (sum 15670629). */
static const uint16_t tc_sigmoid_table[256] = {
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149,
    40794, 41432, 42064, 42688, 43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369,
    47911, 48443, 48964, 49475, 49975, 50464, 50942, 51409, 51865, 52311, 52745, 53169,
    53581, 53983, 54374, 54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433,
    57724, 58007, 58280, 58544, 58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370,
    60565, 60753, 60935, 61110, 61279, 61441, 61599, 61750, 61896, 62036, 62172, 62302,
    62428, 62549, 62666, 62778, 62886, 62990, 63090, 63186, 63279, 63368, 63454, 63536,
    63615, 63691, 63765, 63835, 63903, 63968, 64030, 64090, 64148, 64204, 64257, 64308,
    64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652, 64687, 64721, 64754, 64786,
    64816, 64845, 64873, 64900, 64926, 64950, 64974, 64997, 65019, 65039, 65060, 65079,
    65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208, 65221, 65234, 65246, 65258,
    65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360, 65367,
    65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433,
    65438, 65442, 65445, 65449, 65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474,
    65476, 65479, 65481, 65483, 65485, 65488, 65489, 65491, 65493, 65495, 65497, 65498,
    65500, 65501, 65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513,
    65514, 65515, 65516, 65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522,
    65523, 65523, 65524, 65524, 65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528,
    65528, 65528, 65529, 65529, 65529, 65529, 65530, 65530, 65530, 65530, 65531, 65531,
    65531, 65531, 65531, 65532, 65532, 65532, 65532, 65532, 65532, 65533, 65533, 65533,
    65533, 65533, 65533, 65533, 65533, 65534, 65534, 65534, 65534, 65534, 65534, 65534,
    65534, 65534, 65534, 65535
};

/* x * multiplier, then a rounding right shift: the table's input scale. */
static TC_INLINE int32_t tc_table_input(int32_t x, int32_t multiplier, int32_t right_shift)
{
    const int32_t rounder = right_shift > 0 ? (1 << (right_shift - 1)) : 0;
    return (x * multiplier + rounder) >> right_shift;
}

int16_t tc_sigmoid_q15(int16_t x)
{
    const int32_t value = tc_table_input(x, 3, 0);
    const uint32_t magnitude = (uint32_t)(value < 0 ? -value : value);
    const uint32_t index = magnitude >> 9;
    uint32_t result;
    if (index >= 255u) {
        result = 0x7FFFu << 10;
    } else {
        const uint32_t low = tc_sigmoid_table[index], high = tc_sigmoid_table[index + 1];
        result = (low << 9) + (magnitude & 0x1FFu) * (high - low);
    }
    result = value >= 0 ? result + (1u << 9) : (1u << 25) - result + (1u << 9) - 1u;
    return (int16_t)(result >> 10);
}

int16_t tc_tanh_q15(int16_t x, int32_t multiplier, int32_t right_shift)
{
    const int32_t value = tc_table_input(x, multiplier, right_shift);
    const uint32_t magnitude = (uint32_t)(value < 0 ? -value : value);
    const uint32_t index = magnitude >> 8;
    int32_t result;
    if (index >= 255u) {
        result = (int32_t)(0xFFFFu << 8);
    } else {
        const int32_t low = tc_sigmoid_table[index], high = tc_sigmoid_table[index + 1];
        result = (low << 8) + (int32_t)(magnitude & 0xFFu) * (high - low);
    }
    result = value >= 0 ? result - (1 << 23) + (1 << 7) : -result + (1 << 23) + (1 << 7) - 1;
    return (int16_t)(result >> 8);
}

/* ---- LiteRT's form (convention "tflite"): gemmlowp's fixed-point logistic and tanh on int16
 * (tinycnn/ref/gemmlowp.py with bits=16). Raw int16 values in int32 variables; a sum stored
 * back into the raw type wraps, as gemmlowp's int16 arithmetic does. The Q0 constants are
 * gemmlowp's int32 ones rounded to 16 bits. */

static TC_INLINE int32_t tc_wrap16(int32_t x)
{
    return (int32_t)(int16_t)(uint16_t)(uint32_t)x;
}

/* SaturatingRoundingDoublingHighMul on int16: a * b / 2^15, ties towards +inf. */
static TC_INLINE int32_t tc_mul16(int32_t a, int32_t b)
{
    if (a == INT16_MIN && b == INT16_MIN) {
        return INT16_MAX;
    }
    return (a * b + (1 << 14)) >> 15;
}

/* x * 2^exponent: saturating left shift, or rounding right shift when exponent < 0. */
static TC_INLINE int32_t tc_multiply_by_pot16(int32_t x, int32_t exponent)
{
    if (exponent > 0) {
        const int32_t limit = (1 << (15 - exponent)) - 1;
        return x > limit ? INT16_MAX : (x < -limit ? INT16_MIN : x * (1 << exponent));
    }
    return exponent < 0 ? tc_rounding_divide_by_pot(x, -exponent) : x;
}

/* exp(a) for a in [-1/4, 0), Q0 in and out: a 4th-order expansion around -1/8. */
static int32_t tc_exp_quarter16(int32_t a)
{
    const int32_t exp_minus_one_eighth = 28918, one_third = 10923;
    const int32_t x = tc_wrap16(a + (1 << 12));
    const int32_t x2 = tc_mul16(x, x), x3 = tc_mul16(x2, x), x4 = tc_mul16(x2, x2);
    const int32_t x4_over_4 = tc_multiply_by_pot16(x4, -2);
    const int32_t polynomial = tc_multiply_by_pot16(
        tc_wrap16(tc_mul16(tc_wrap16(x4_over_4 + x3), one_third) + x2), -1);
    return tc_clamp(exp_minus_one_eighth + tc_mul16(exp_minus_one_eighth, tc_wrap16(x + polynomial)),
                    INT16_MIN, INT16_MAX);
}

/* exp(a) for a <= 0 in Q(integer_bits), integer_bits 1..7; Q0 out. */
static int32_t tc_exp_on_negative_values16(int32_t a, int32_t integer_bits)
{
    /* exp(-2^k) in Q0 for k = -2..4, applied bit by bit (the last rounds to 0 in 16 bits). */
    static const int32_t exp_of_powers[7] = {25520, 19875, 12055, 4435, 600, 11, 0};
    const int32_t fractional_bits = 15 - integer_bits;
    const int32_t quarter = 1 << (fractional_bits - 2);
    const int32_t remainder_base = tc_wrap16((a & (quarter - 1)) - quarter);
    int32_t result = tc_exp_quarter16(tc_multiply_by_pot16(remainder_base, integer_bits));
    const int32_t remainder = tc_wrap16(remainder_base - a);
    for (int32_t k = -2; k <= 4; ++k) {
        if (integer_bits > k && ((remainder >> (fractional_bits + k)) & 1)) {
            result = tc_mul16(result, exp_of_powers[k + 2]);
        }
    }
    if (integer_bits > 5) { /* below -32, exp rounds to 0 */
        const int32_t clamp = integer_bits == 6 ? -16384 : -8192;
        if (a < clamp) {
            result = 0;
        }
    }
    return a == 0 ? INT16_MAX : result;
}

/* 2 / (1 + a) in Q2 for a in [0, 1) in Q0: three Newton-Raphson steps from 48/17 - 32/17 d. */
static int32_t tc_reciprocal_q2_16(int32_t a)
{
    const int32_t total = a + INT16_MAX;
    const int32_t half_denominator = (total + (total >= 0 ? 1 : -1)) / 2;
    int32_t x = tc_wrap16(23130 + tc_mul16(half_denominator, -15420));
    for (int32_t step = 0; step < 3; ++step) {
        const int32_t one_minus = tc_wrap16((1 << 13) - tc_mul16(half_denominator, x));
        x = tc_wrap16(x + tc_multiply_by_pot16(tc_mul16(x, one_minus), 2));
    }
    return x;
}

int16_t tc_gemmlowp_sigmoid_q15(int16_t x)
{
    const int32_t a = x;
    if (a == 0) {
        return 1 << 14;
    }
    const int32_t magnitude = a > 0 ? a : tc_wrap16(-a);
    const int32_t e = tc_exp_on_negative_values16(tc_wrap16(-magnitude), 3);
    const int32_t positive = tc_multiply_by_pot16(tc_reciprocal_q2_16(e), 1);
    return (int16_t)(a > 0 ? positive : INT16_MAX - positive);
}

int16_t tc_gemmlowp_tanh_q15(int16_t x, int32_t integer_bits)
{
    const int32_t a = x;
    if (a == 0) {
        return 0;
    }
    const int32_t minus_magnitude = a < 0 ? a : tc_wrap16(-a);
    const int32_t e = tc_exp_on_negative_values16(minus_magnitude, integer_bits + 1);
    const int32_t magnitude =
        tc_multiply_by_pot16(tc_wrap16(tc_reciprocal_q2_16(e) - (1 << 13)), 2);
    return (int16_t)(a < 0 ? tc_wrap16(-magnitude) : magnitude);
}
