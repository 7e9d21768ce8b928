"""gemmlowp-style Q-format fixed-point math that TFLite's quantized softmax is built on.

A ``FixedPoint<int32, I>`` value is a raw int32 whose real value is ``raw / 2**(31 - I)``.
Functions take and return raw values in int64 arrays; the formats are in the names.
"""

from __future__ import annotations

import numpy as np

from tinycnn.ref.fixedpoint import (
    INT32_MAX,
    INT32_MIN,
    rounding_divide_by_pot,
)
from tinycnn.ref.fixedpoint import (
    saturating_rounding_doubling_high_mul as multiply,
)

ONE_Q0 = INT32_MAX  # FixedPoint<int32, 0>::One() saturates just below 1.0


def saturating_rounding_multiply_by_pot(x: np.ndarray, exponent: int) -> np.ndarray:
    """``x * 2**exponent``: saturating left shift, or rounding right shift for exponent < 0."""
    x = np.asarray(x, dtype=np.int64)
    if exponent > 0:
        return np.clip(x << exponent, INT32_MIN, INT32_MAX)
    if exponent < 0:
        return rounding_divide_by_pot(x, -exponent)
    return x


def rescale(x: np.ndarray, src_integer_bits: int, dst_integer_bits: int) -> np.ndarray:
    return saturating_rounding_multiply_by_pot(x, src_integer_bits - dst_integer_bits)


def exp_on_interval_between_negative_one_quarter_and_0_excl(a: np.ndarray) -> np.ndarray:
    """exp(a) for a in [-1/4, 0), Q0 in and out: Taylor series around -1/8 to 4th order."""
    constant_term = 1895147668  # exp(-1/8) in Q0
    constant_1_over_3 = 715827883
    x = a + (1 << 28)  # a + 1/8
    x2 = multiply(x, x)
    x3 = multiply(x2, x)
    x4 = multiply(x2, x2)
    x4_over_4 = saturating_rounding_multiply_by_pot(x4, -2)
    polynomial = saturating_rounding_multiply_by_pot(
        multiply(x4_over_4 + x3, constant_1_over_3) + x2, -1
    )
    return constant_term + multiply(constant_term, x + polynomial)


# exp(-2**k) in Q0 for k = -2 .. 4: the barrel shifter multiplies these in bit by bit.
_EXP_OF_POWERS = (
    (-2, 1672461947),
    (-1, 1302514674),
    (0, 790015084),
    (1, 290630308),
    (2, 39332535),
    (3, 720401),
    (4, 242),
)


def exp_on_negative_values(a: np.ndarray, integer_bits: int) -> np.ndarray:
    """exp(a) for a <= 0 given in Q(integer_bits); the result is Q0."""
    fractional_bits = 31 - integer_bits
    one_quarter = 1 << (fractional_bits - 2)
    a = np.asarray(a, dtype=np.int64)
    a_mod_quarter_minus_one_quarter = (a & (one_quarter - 1)) - one_quarter
    result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        rescale(a_mod_quarter_minus_one_quarter, integer_bits, 0)
    )
    remainder = a_mod_quarter_minus_one_quarter - a
    for exponent, multiplier in _EXP_OF_POWERS:
        if integer_bits > exponent:
            bit = 1 << (fractional_bits + exponent)
            result = np.where(remainder & bit, multiply(result, multiplier), result)
    if integer_bits > 5:
        result = np.where(a < -(1 << (36 - integer_bits)), 0, result)
    return np.where(a == 0, ONE_Q0, result)


def rounding_half_sum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    total = np.asarray(a, dtype=np.int64) + b
    adjusted = total + np.where(total >= 0, 1, -1)
    return np.sign(adjusted) * (np.abs(adjusted) // 2)  # C's truncating division


def one_over_one_plus_x_for_x_in_0_1(a: np.ndarray) -> np.ndarray:
    """1 / (1 + a) for a in [0, 1), Q0 in and out: three Newton-Raphson steps in Q2."""
    half_denominator = rounding_half_sum(a, ONE_Q0)
    one_q2 = 1 << 29
    x = 1515870810 + multiply(half_denominator, -1010580540)  # 48/17 - 32/17 * d
    for _ in range(3):
        half_denominator_times_x = multiply(half_denominator, x)
        one_minus = one_q2 - half_denominator_times_x
        x = x + rescale(multiply(x, one_minus), 4, 2)
    return rescale(x, 1, 0)  # x / 2, reinterpreting Q2 as Q1


def count_leading_zeros_u32(x: np.ndarray) -> np.ndarray:
    """Leading zero bits of x as a uint32 (32 for zero)."""
    value = np.asarray(x, dtype=np.int64) & 0xFFFFFFFF
    zeros = np.zeros_like(value)
    for shift in (16, 8, 4, 2, 1):
        top_is_empty = (value >> (32 - shift)) == 0
        zeros = np.where(top_is_empty, zeros + shift, zeros)
        value = np.where(top_is_empty, (value << shift) & 0xFFFFFFFF, value)
    return np.where(value == 0, 32, zeros)


def get_reciprocal(x: np.ndarray, integer_digits: int) -> tuple[np.ndarray, np.ndarray]:
    """TFLite's GetReciprocal: 1/x as a Q0 scale and the number of bits x exceeds 1 by."""
    x = np.asarray(x, dtype=np.int64)
    headroom_plus_one = count_leading_zeros_u32(x)
    num_bits_over_unit = integer_digits - headroom_plus_one
    shifted_sum_minus_one = ((x << headroom_plus_one) & 0xFFFFFFFF) - (1 << 31)
    return one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one), num_bits_over_unit
