"""LOGISTIC (sigmoid), int8 (TFLite reference_integer_ops::Logistic).

Output scale 1/256, zero point -128. Inputs beyond the representable radius saturate; the
rest are rescaled into Q4.27 and go through gemmlowp's fixed-point logistic.
"""

from __future__ import annotations

import math

import numpy as np

from tinycnn.ref.c_params import per_element
from tinycnn.ref.context import OpContext
from tinycnn.ref.definition import OpDefinition
from tinycnn.ref.fixedpoint import quantize_multiplier, requantize, rounding_divide_by_pot
from tinycnn.ref.gemmlowp import (
    exp_on_negative_values,
    one_over_one_plus_x_for_x_in_0_1,
    one_q0,
    wrap,
)

INPUT_INTEGER_BITS = 4
OUTPUT_INTEGER_BITS = 8


def input_radius(integer_bits: int, left_shift: int) -> int:
    """TFLite's CalculateInputRadius: the largest input magnitude that does not saturate."""
    max_input_rescaled = (
        1.0 * ((1 << integer_bits) - 1) * (1 << (31 - integer_bits)) / (1 << left_shift)
    )
    return math.floor(max_input_rescaled)


def logistic_q0(a: np.ndarray, integer_bits: int, bits: int = 32) -> np.ndarray:
    """gemmlowp's logistic: 1 / (1 + exp(-|a|)), mirrored for negative a; 1/2 at 0. ``bits``
    is the raw width (32, or 16 for the LSTM's gates)."""
    a = np.asarray(a, dtype=np.int64)
    positive = a > 0
    magnitude = np.where(positive, a, wrap(-a, bits))
    result_if_positive = one_over_one_plus_x_for_x_in_0_1(
        exp_on_negative_values(wrap(-magnitude, bits), integer_bits, bits), bits
    )
    result = np.where(positive, result_if_positive, one_q0(bits) - result_if_positive)
    return np.where(a == 0, 1 << (bits - 2), result)


def q4_input_params(ctx: OpContext, output_scale: float, output_zero_point: int, what: str):
    """(input_multiplier, input_left_shift, input_radius) of an int8 LOGISTIC or TANH: the
    rescaling of the input into Q4.27 and the input magnitude, around the zero point, from
    which the output saturates; the output must have the op's fixed scale and zero point."""
    input_t, output_t = ctx.input_tensor(0), ctx.output_tensor()
    ctx.require_dtype(input_t, np.int8)
    ctx.require_dtype(output_t, np.int8)
    input_q, output_q = ctx.quantization(input_t), ctx.quantization(output_t)
    if output_q.single_scale != output_scale or output_q.single_zero_point != output_zero_point:
        raise ctx.unsupported(
            f"int8 {what} output must have scale 1/{round(1 / output_scale)} and zero point "
            f"{output_zero_point}"
        )
    multiplier, left_shift = quantize_multiplier(
        np.float64(input_q.single_scale) * (1 << (31 - INPUT_INTEGER_BITS))
    )
    return multiplier, left_shift, input_radius(INPUT_INTEGER_BITS, left_shift)


def q4_input(ctx: OpContext, params) -> tuple[np.ndarray, np.ndarray]:
    """(x - zero point, its Q4.27 rescaling), the rescaling 0 where |x| reaches the radius
    (those outputs saturate)."""
    multiplier, left_shift, radius = params
    x = ctx.input(0).astype(np.int64) - ctx.quantization(ctx.input_tensor(0)).single_zero_point
    inside = np.abs(x) < radius
    return x, requantize(np.where(inside, x, 0), multiplier, left_shift, ctx.rounding())


def saturated(out: np.ndarray, x: np.ndarray, radius: int) -> np.ndarray:
    """``out`` with -128 where x <= -radius and 127 where x >= radius, as int8."""
    return np.where(x <= -radius, -128, np.where(x >= radius, 127, out)).astype(np.int8)


def logistic_params(ctx: OpContext) -> tuple[int, int, int]:
    return q4_input_params(ctx, 1 / 256, -128, "logistic")


def logistic(ctx: OpContext) -> np.ndarray:
    params = logistic_params(ctx)
    x, input_q4 = q4_input(ctx, params)
    output_q0 = logistic_q0(input_q4, INPUT_INTEGER_BITS)
    out = np.clip(rounding_divide_by_pot(output_q0, 31 - OUTPUT_INTEGER_BITS) - 128, -128, 127)
    return saturated(out, x, params[2])


def lower_logistic(ctx: OpContext):
    multiplier, left_shift, radius = logistic_params(ctx)
    params = per_element(
        ctx, input_multiplier=multiplier, input_left_shift=left_shift, input_radius=radius
    )
    return params, {}, []


OP = OpDefinition(
    name="logistic",
    builtins=("LOGISTIC",),
    kernel=logistic,
    lower=lower_logistic,
    c_sources=("tc_logistic_s8.c", "tc_gemmlowp.c"),
    tflm_resolver={"LOGISTIC": "AddLogistic"},
)
