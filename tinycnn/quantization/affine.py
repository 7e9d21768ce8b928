"""Affine quantization of float arrays, as the TFLite QUANTIZE op does it on the host side.

``q = clamp(round(x / scale) + zero_point)``, rounding half away from zero (C's ``round``,
which TFLite's reference QUANTIZE kernel uses), saturating to the integer type's range.
"""

from __future__ import annotations

import numpy as np


def round_half_away(values: np.ndarray) -> np.ndarray:
    """Round to nearest, ties away from zero (numpy's ``np.round`` rounds ties to even)."""
    return np.sign(values) * np.floor(np.abs(values) + 0.5)


def quantize(values: np.ndarray, scale: float, zero_point: int, dtype=np.int8) -> np.ndarray:
    """Float -> integer tensor with one scale and zero point."""
    info = np.iinfo(dtype)
    scaled = round_half_away(np.asarray(values, dtype=np.float32) / np.float32(scale))
    return np.clip(scaled + zero_point, info.min, info.max).astype(dtype)


def dequantize(values: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Integer tensor -> float32 real values."""
    return (values.astype(np.float32) - np.float32(zero_point)) * np.float32(scale)
