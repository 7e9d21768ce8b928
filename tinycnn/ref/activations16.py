"""The int16 sigmoid and tanh of the integer LSTM: int16 in (Q3.12 for the gates, the cell
state's Q(15+p).(-p) for its tanh), Q0.15 out, in the two forms the interpreters use.

- ``"tflm"``: TFLite Micro's reference_integer_ops::Logistic/Tanh for int16, a table of 256
  sigmoid samples one step of 1/24 apart with linear interpolation. The input is first
  multiplied by 3 (so that one table step is 512 raw units for the sigmoid, 256 for the tanh)
  or, for a cell scale finer than Q3.12, by 3 and a rounding right shift.
- ``"tflite"``: LiteRT's gemmlowp fixed-point logistic and tanh on int16 (``gemmlowp.py``).

They differ by up to 7 LSB (sigmoid) and 13 LSB (tanh) on some inputs, which is why the LSTM
kernel follows one or the other by convention.
"""

from __future__ import annotations

import numpy as np

from tinycnn.ref.gemmlowp import tanh as gemmlowp_tanh
from tinycnn.ref.gemmlowp import wrap
from tinycnn.ref.logistic import logistic_q0

GATE_INTEGER_BITS = 3  # gate pre-activations are Q3.12

# sigmoid(k / 24) * 65536 for k = 0..255, capped at 65535, as TFLite Micro tabulates it
# (sigmoid_table_uint16, Apache-2.0). The values are data, not reproducible by a formula: a
# plain rounding of the function differs on 44 of them.
SIGMOID_TABLE = np.array(
    [
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
        65534, 65534, 65534, 65535,
    ],
    dtype=np.int64,
)  # fmt: skip


def table_input_scaling(integer_bits: int) -> tuple[int, int]:
    """(multiplier, right shift) that bring a Q(integer_bits) value to 3 x Q3.12, the table's
    input: exact (3 << s) when the value is coarser than Q3.12, else 3 and a rounding shift."""
    shift = integer_bits - GATE_INTEGER_BITS
    return (3 << shift, 0) if shift >= 0 else (3, -shift)


def _table_input(x: np.ndarray, multiplier: int, right_shift: int) -> np.ndarray:
    rounder = (1 << (right_shift - 1)) if right_shift > 0 else 0
    return wrap(np.asarray(x, dtype=np.int64) * multiplier + rounder, 32) >> right_shift


def _interpolate(magnitude: np.ndarray, step_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """(interpolated table value << step_bits, saturated) for |input| in table steps."""
    index = magnitude >> step_bits
    saturated = index >= 255
    index = np.minimum(index, 254)
    low, high = SIGMOID_TABLE[index], SIGMOID_TABLE[index + 1]
    fraction = magnitude & ((1 << step_bits) - 1)
    return (low << step_bits) + fraction * (high - low), saturated


def table_sigmoid(x: np.ndarray) -> np.ndarray:
    """TFLite Micro's int16 sigmoid on Q3.12, Q0.15 out (1 .. 32767, 16384 at 0)."""
    value = _table_input(x, *table_input_scaling(GATE_INTEGER_BITS))
    interpolated, saturated = _interpolate(np.abs(value), 9)
    result = np.where(saturated, 0x7FFF << 10, interpolated)
    result = np.where(value >= 0, result + (1 << 9), (1 << 25) - result + (1 << 9) - 1)
    return result >> 10


def table_tanh(x: np.ndarray, integer_bits: int) -> np.ndarray:
    """TFLite Micro's int16 tanh on Q(integer_bits), Q0.15 out: 2 sigmoid(2x) - 1."""
    value = _table_input(x, *table_input_scaling(integer_bits))
    interpolated, saturated = _interpolate(np.abs(value), 8)
    result = np.where(saturated, 0xFFFF << 8, interpolated)
    result = np.where(value >= 0, result - (1 << 23) + (1 << 7), -result + (1 << 23) + (1 << 7) - 1)
    return wrap(result >> 8, 16)


def sigmoid_q15(x: np.ndarray, convention: str) -> np.ndarray:
    """Sigmoid of a Q3.12 gate pre-activation, Q0.15, as ``convention``'s interpreter does it."""
    if convention == "tflm":
        return table_sigmoid(x)
    return logistic_q0(x, GATE_INTEGER_BITS, bits=16)


def tanh_q15(x: np.ndarray, integer_bits: int, convention: str) -> np.ndarray:
    """Tanh of a Q(integer_bits) int16 value, Q0.15, as ``convention``'s interpreter does it."""
    if convention == "tflm":
        return table_tanh(x, integer_bits)
    return gemmlowp_tanh(x, integer_bits, bits=16)
