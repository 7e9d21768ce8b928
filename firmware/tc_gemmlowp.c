/* gemmlowp-style Q-format fixed point (tinycnn/ref/gemmlowp.py), what TFLite's quantized
 * SOFTMAX, LOGISTIC and TANH are built on. A Q(I) value is a raw int32 meaning raw / 2^(31 - I). */
#include "tc_runtime.h"

static int32_t tc_srdhm(int32_t a, int32_t b)
{
    return tc_saturating_rounding_doubling_high_mul(a, b);
}

int32_t tc_multiply_by_pot(int32_t x, int32_t exponent)
{
    if (exponent > 0) {
        const int64_t shifted = (int64_t)x * ((int64_t)1 << exponent);
        return shifted > INT32_MAX ? INT32_MAX : (shifted < INT32_MIN ? INT32_MIN : (int32_t)shifted);
    }
    return exponent < 0 ? tc_rounding_divide_by_pot(x, -exponent) : x;
}

/* exp(a) for a in [-1/4, 0), Q0: fourth-order Taylor series around -1/8. */
static int32_t tc_exp_on_interval(int32_t a)
{
    const int32_t constant_term = 1895147668; /* exp(-1/8) */
    const int32_t constant_1_over_3 = 715827883;
    const int32_t x = a + (1 << 28);
    const int32_t x2 = tc_srdhm(x, x);
    const int32_t x3 = tc_srdhm(x2, x);
    const int32_t x4 = tc_srdhm(x2, x2);
    const int32_t x4_over_4 = tc_multiply_by_pot(x4, -2);
    const int32_t polynomial = tc_multiply_by_pot(tc_srdhm(x4_over_4 + x3, constant_1_over_3) + x2, -1);
    return constant_term + tc_srdhm(constant_term, x + polynomial);
}

int32_t tc_exp_on_negative_values(int32_t a, int32_t integer_bits)
{
    /* exp(-2^k) in Q0 for k = -2 .. 4: multiplied in for each set bit of the remainder. */
    static const int32_t exp_of_powers[7] = {1672461947, 1302514674, 790015084, 290630308,
                                             39332535,   720401,     242};
    const int32_t fractional_bits = 31 - integer_bits;
    const int32_t one_quarter = 1 << (fractional_bits - 2);
    const int32_t a_mod_quarter_minus_one_quarter = (a & (one_quarter - 1)) - one_quarter;
    int32_t result = tc_exp_on_interval(tc_multiply_by_pot(a_mod_quarter_minus_one_quarter, integer_bits));
    const int32_t remainder = a_mod_quarter_minus_one_quarter - a;
    for (int32_t k = 0; k < 7; ++k) {
        const int32_t exponent = k - 2;
        if (integer_bits > exponent && (remainder & (1 << (fractional_bits + exponent)))) {
            result = tc_srdhm(result, exp_of_powers[k]);
        }
    }
    if (integer_bits > 5 && a < -(1 << (36 - integer_bits))) {
        result = 0; /* exp underflows Q0 below -32 */
    }
    return a == 0 ? INT32_MAX : result;
}

/* 1 / ((1 + a) / 2) for a in [0, 1), Q0 in, Q2 out: Newton-Raphson from 48/17 - 32/17 d. */
static int32_t tc_reciprocal_q2(int32_t a)
{
    const int64_t sum = (int64_t)a + INT32_MAX;
    /* rounding half sum, with C's truncating division */
    const int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    int32_t x = 1515870810 + tc_srdhm(half_denominator, -1010580540);
    for (int32_t i = 0; i < 3; ++i) {
        const int32_t one_minus = (1 << 29) - tc_srdhm(half_denominator, x);
        x = x + tc_multiply_by_pot(tc_srdhm(x, one_minus), 2);
    }
    return x;
}

int32_t tc_one_over_one_plus_x(int32_t a)
{
    return tc_multiply_by_pot(tc_reciprocal_q2(a), 1); /* Q2 read as Q1: halved */
}

int32_t tc_one_minus_x_over_one_plus_x(int32_t a)
{
    return tc_multiply_by_pot(tc_reciprocal_q2(a) - (1 << 29), 2); /* 2 / (1 + a) - 1 */
}
