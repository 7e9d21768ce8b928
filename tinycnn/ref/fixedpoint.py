"""Fixed-point helpers shared by the int8 kernels, with the single requantization function.

TFLite expresses a real rescaling factor ``M`` as a Q31 multiplier and a power-of-two shift,
``M ~= multiplier * 2**(shift - 31)``, and applies it with one of two roundings:

- ``"double"``: ``x * 2**max(shift, 0)`` goes through SaturatingRoundingDoublingHighMul
  (``x * m / 2**31`` rounded to nearest, ties towards +inf), then RoundingDivideByPOT by
  ``max(-shift, 0)`` (rounded to nearest, ties away from zero).
- ``"single"`` (TFLITE_SINGLE_ROUNDING): ``(x * m + 2**(30 - shift)) >> (31 - shift)`` in
  64 bits, one round half up (towards +inf) of the exact product.

They differ by one LSB when the first rounding of the double path creates a tie for the second.
Which one an interpreter uses is a property of the interpreter and the kernel: the
conventions ``"tflite"`` (LiteRT) and ``"tflm"`` (TFLite Micro) map each op to its rounding in
``rounding_for``, measured against both interpreters (tests/test_ref_fixedpoint.py).
All arithmetic here is int64 numpy.
"""

from __future__ import annotations

import math

import numpy as np

from tinycnn.model.engines import check_convention

ROUNDING_MODES = ("double", "single")
# Kernels whose LiteRT (ai-edge-litert 2.x, BUILTIN_REF) build rounds once; every other
# LiteRT kernel and every TFLite Micro kernel measured rounds twice.
_LITERT_SINGLE_ROUNDING = {"FULLY_CONNECTED"}
INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1


def rounding_for(convention: str, opcode: str) -> str:
    """The rounding (``"double"`` or ``"single"``) that ``convention``'s kernel for ``opcode`` uses."""
    if check_convention(convention) == "tflm":
        return "double"
    return "single" if opcode in _LITERT_SINGLE_ROUNDING else "double"


def quantize_multiplier(real_multiplier: float) -> tuple[int, int]:
    """Real factor -> (Q31 multiplier, shift) exactly as TFLite's QuantizeMultiplier.

    ``frexp`` splits the double into a fraction in [0.5, 1) and an exponent; the fraction is
    rounded half away from zero to 31 bits. A shift below -31 would shift every bit out, so
    the factor becomes 0. Shifts above 30 cannot occur for the positive factors below 2**30
    that kernels produce, and are refused.
    """
    if real_multiplier == 0.0:
        return 0, 0
    if real_multiplier < 0.0:
        raise ValueError(f"negative multiplier {real_multiplier}")
    fraction, shift = math.frexp(real_multiplier)
    q_fixed = math.floor(fraction * (1 << 31) + 0.5)
    if q_fixed == 1 << 31:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if shift > 30:
        raise ValueError(f"multiplier {real_multiplier} too large for a Q31 multiplier and shift")
    return int(q_fixed), int(shift)


def quantize_multipliers(real_multipliers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vector form of ``quantize_multiplier``: int64 arrays of multipliers and shifts."""
    pairs = [
        quantize_multiplier(float(m))
        for m in np.asarray(real_multipliers, dtype=np.float64).ravel()
    ]
    multipliers = np.array([p[0] for p in pairs], dtype=np.int64)
    shifts = np.array([p[1] for p in pairs], dtype=np.int64)
    return multipliers, shifts


def _divide_truncating(numerator: np.ndarray, power: int) -> np.ndarray:
    """C integer division by ``2**power`` (truncation towards zero) for int64 arrays."""
    magnitude = np.abs(numerator) >> power
    return np.where(numerator < 0, -magnitude, magnitude)


def saturating_rounding_doubling_high_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """gemmlowp's SaturatingRoundingDoublingHighMul on int32 values held in int64.

    ``(a * b + nudge) / 2**31`` with C's truncating division, the nudge being ``2**30`` for a
    non-negative product and ``1 - 2**30`` otherwise, so ties go towards +inf;
    ``INT32_MIN * INT32_MIN`` saturates.
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    product = a * b  # |a|, |b| <= 2**31 so the product fits in int64
    nudge = np.where(product >= 0, 1 << 30, 1 - (1 << 30))
    high = _divide_truncating(product + nudge, 31)
    return np.where((a == INT32_MIN) & (b == INT32_MIN), INT32_MAX, high)


def rounding_divide_by_pot(x: np.ndarray, exponent) -> np.ndarray:
    """gemmlowp's RoundingDivideByPOT: ``x / 2**exponent`` rounded half away from zero."""
    x = np.asarray(x, dtype=np.int64)
    exponent = np.asarray(exponent, dtype=np.int64)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def rounding_divide(total: np.ndarray, count: np.ndarray) -> np.ndarray:
    """``total / count`` rounded half away from zero, as TFLite's average pool divides a window
    sum by its cell count: ``(total ± count/2) / count`` with C's truncating division.
    Not a requantization (no scale changes), so it stays beside ``requantize``, not in it."""
    total = np.asarray(total, dtype=np.int64)
    count = np.asarray(count, dtype=np.int64)
    if count.size and count.min() <= 0:
        raise ValueError("count must be positive")
    half = count // 2
    rounded = np.where(total > 0, total + half, total - half)
    return np.sign(rounded) * (np.abs(rounded) // count)  # C division truncates


def requantize(
    acc: np.ndarray, multiplier: np.ndarray, shift: np.ndarray, rounding: str
) -> np.ndarray:
    """The one requantization: int32 accumulator values times ``multiplier * 2**(shift-31)``.

    ``acc`` holds int32-range values (int64 dtype); ``multiplier``/``shift`` broadcast against
    it (per-channel along the last axis). ``rounding`` is ``"double"`` or ``"single"`` (see
    the module docstring). Returns int64 values; callers add the zero point and clamp.
    """
    acc = np.asarray(acc, dtype=np.int64)
    multiplier = np.asarray(multiplier, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    if acc.size and (acc.min() < INT32_MIN or acc.max() > INT32_MAX):
        raise OverflowError("accumulator outside the int32 range")
    if multiplier.size and (multiplier.min() < 0 or multiplier.max() > INT32_MAX):
        raise ValueError("multiplier outside [0, 2**31)")
    if shift.size and (shift.min() < -31 or shift.max() > 30):
        raise ValueError("shift outside [-31, 30]")
    if rounding == "single":
        total_shift = 31 - shift
        rounder = np.int64(1) << (total_shift - 1)
        # |acc * multiplier| < 2**62, so adding the rounder cannot overflow int64.
        return (acc * multiplier + rounder) >> total_shift
    if rounding == "double":
        left_shift = np.maximum(shift, 0)
        right_shift = np.maximum(-shift, 0)
        shifted = np.clip(acc << left_shift, INT32_MIN, INT32_MAX)
        return rounding_divide_by_pot(
            saturating_rounding_doubling_high_mul(shifted, multiplier), right_shift
        )
    raise ValueError(f"rounding must be one of {ROUNDING_MODES}, got {rounding!r}")
