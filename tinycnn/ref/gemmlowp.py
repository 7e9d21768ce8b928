"""gemmlowp-style Q-format fixed-point math that TFLite's quantized softmax, logistic and
(LiteRT's) integer LSTM are built on.

A ``FixedPoint<int32, I>`` value is a raw int32 whose real value is ``raw / 2**(31 - I)``;
``FixedPoint<int16, I>``, used by the LSTM's gates, is ``raw / 2**(15 - I)``. Functions take
and return raw values in int64 arrays, ``bits`` (32 or 16) naming the raw type; sums stored
back into the raw type wrap as C's do. The formats are in the names.
"""

from __future__ import annotations

import numpy as np

from tinycnn.ref.fixedpoint import (
    INT32_MAX,
    rounding_divide_by_pot,
)
from tinycnn.ref.fixedpoint import (
    saturating_rounding_doubling_high_mul as multiply,
)

ONE_Q0 = INT32_MAX  # FixedPoint<int32, 0>::One() saturates just below 1.0
RAW_BITS = (32, 16)  # gemmlowp's FixedPoint<int32, I> and FixedPoint<int16, I>


def wrap(x: np.ndarray, bits: int) -> np.ndarray:
    """Two's-complement wrap to ``bits``, as C stores an int sum back into the raw type."""
    x = np.asarray(x, dtype=np.int64)
    half = 1 << (bits - 1)
    return ((x + half) & ((1 << bits) - 1)) - half


def one_q0(bits: int = 32) -> int:
    """FixedPoint<intN, 0>::One(): the largest raw value, just below 1.0."""
    return (1 << (bits - 1)) - 1


def constant(raw32: int, bits: int = 32) -> int:
    """gemmlowp's constant initializer: a Q0 int32 constant rescaled to ``bits`` (rounded)."""
    return raw32 if bits == 32 else int(rounding_divide_by_pot(np.int64(raw32), 32 - bits))


def multiply_n(a: np.ndarray, b: np.ndarray, bits: int = 32) -> np.ndarray:
    """SaturatingRoundingDoublingHighMul on ``bits``-wide raw values: ``a * b / 2**(bits-1)``
    rounded to nearest (ties towards +inf); MIN * MIN saturates."""
    if bits == 32:
        return multiply(a, b)
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    low, high = -(1 << (bits - 1)), one_q0(bits)
    product = (a * b + (1 << (bits - 2))) >> (bits - 1)
    return np.where((a == low) & (b == low), high, product)


def saturating_rounding_multiply_by_pot(x: np.ndarray, exponent: int, bits: int = 32) -> np.ndarray:
    """``x * 2**exponent``: saturating left shift, or rounding right shift for exponent < 0."""
    x = np.asarray(x, dtype=np.int64)
    if exponent > 0:
        limit = (1 << (bits - 1 - exponent)) - 1
        return np.where(
            x > limit, one_q0(bits), np.where(x < -limit, -(1 << (bits - 1)), x << exponent)
        )
    if exponent < 0:
        return rounding_divide_by_pot(x, -exponent)
    return x


def rescale(
    x: np.ndarray, src_integer_bits: int, dst_integer_bits: int, bits: int = 32
) -> np.ndarray:
    return saturating_rounding_multiply_by_pot(x, src_integer_bits - dst_integer_bits, bits)


def exp_on_interval_between_negative_one_quarter_and_0_excl(
    a: np.ndarray, bits: int = 32
) -> np.ndarray:
    """exp(a) for a in [-1/4, 0), Q0 in and out: Taylor series around -1/8 to 4th order."""
    constant_term = constant(1895147668, bits)  # exp(-1/8) in Q0
    constant_1_over_3 = constant(715827883, bits)
    x = wrap(np.asarray(a, dtype=np.int64) + (1 << (bits - 4)), bits)  # a + 1/8
    x2 = multiply_n(x, x, bits)
    x3 = multiply_n(x2, x, bits)
    x4 = multiply_n(x2, x2, bits)
    x4_over_4 = saturating_rounding_multiply_by_pot(x4, -2, bits)
    polynomial = saturating_rounding_multiply_by_pot(
        wrap(multiply_n(wrap(x4_over_4 + x3, bits), constant_1_over_3, bits) + x2, bits), -1, bits
    )
    result = constant_term + multiply_n(constant_term, wrap(x + polynomial, bits), bits)
    return np.clip(result, -(1 << (bits - 1)), one_q0(bits))  # a saturating add


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


def exp_on_negative_values(a: np.ndarray, integer_bits: int, bits: int = 32) -> np.ndarray:
    """exp(a) for a <= 0 given in Q(integer_bits); the result is Q0."""
    fractional_bits = bits - 1 - integer_bits
    one_quarter = 1 << (fractional_bits - 2)
    a = np.asarray(a, dtype=np.int64)
    a_mod_quarter_minus_one_quarter = wrap((a & (one_quarter - 1)) - one_quarter, bits)
    result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        rescale(a_mod_quarter_minus_one_quarter, integer_bits, 0, bits), bits
    )
    remainder = wrap(a_mod_quarter_minus_one_quarter - a, bits)
    for exponent, multiplier in _EXP_OF_POWERS:
        if integer_bits > exponent:
            bit = 1 << (fractional_bits + exponent)
            result = np.where(
                remainder & bit, multiply_n(result, constant(multiplier, bits), bits), result
            )
    if integer_bits > 5:
        clamp = (
            constant(-(1 << (36 - integer_bits)), bits)
            if bits != 32
            else -(1 << (36 - integer_bits))
        )
        result = np.where(a < clamp, 0, result)
    return np.where(a == 0, one_q0(bits), result)


def rounding_half_sum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    total = np.asarray(a, dtype=np.int64) + b
    adjusted = total + np.where(total >= 0, 1, -1)
    return np.sign(adjusted) * (np.abs(adjusted) // 2)  # C's truncating division


def _newton_raphson_reciprocal_q2(a: np.ndarray, bits: int) -> np.ndarray:
    """1 / ((1 + a) / 2) in Q2 for a in [0, 1) given in Q0: three Newton-Raphson steps."""
    half_denominator = rounding_half_sum(a, one_q0(bits))
    one_q2 = 1 << (bits - 3)
    x = wrap(
        constant(1515870810, bits)  # 48/17 in Q2
        + multiply_n(half_denominator, constant(-1010580540, bits), bits),  # -32/17 in Q2
        bits,
    )
    for _ in range(3):
        half_denominator_times_x = multiply_n(half_denominator, x, bits)
        one_minus = wrap(one_q2 - half_denominator_times_x, bits)
        x = wrap(x + rescale(multiply_n(x, one_minus, bits), 4, 2, bits), bits)
    return x


def one_over_one_plus_x_for_x_in_0_1(a: np.ndarray, bits: int = 32) -> np.ndarray:
    """1 / (1 + a) for a in [0, 1), Q0 in and out."""
    return rescale(_newton_raphson_reciprocal_q2(a, bits), 1, 0, bits)  # Q2 read as Q1, halved


def one_minus_x_over_one_plus_x_for_x_in_0_1(a: np.ndarray, bits: int = 32) -> np.ndarray:
    """(1 - a) / (1 + a) for a in [0, 1), Q0 in and out: 2 / (1 + a) - 1."""
    x = _newton_raphson_reciprocal_q2(a, bits)
    return rescale(wrap(x - (1 << (bits - 3)), bits), 2, 0, bits)


def tanh(a: np.ndarray, integer_bits: int, bits: int = 32) -> np.ndarray:
    """gemmlowp's tanh: Q(integer_bits) in, Q0 out; (1 - exp(-2|a|)) / (1 + exp(-2|a|)) with
    the sign of a, 0 at 0."""
    a = np.asarray(a, dtype=np.int64)
    negative = a < 0
    minus_magnitude = np.where(negative, a, wrap(-a, bits))
    # exp(2 * -|a|): the same raw value read with one more integer bit
    exponential = exp_on_negative_values(minus_magnitude, integer_bits + 1, bits)
    magnitude = one_minus_x_over_one_plus_x_for_x_in_0_1(exponential, bits)
    return np.where(a == 0, 0, np.where(negative, wrap(-magnitude, bits), magnitude))


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
