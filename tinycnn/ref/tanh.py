"""TANH, int8 (TFLite reference_integer_ops::Tanh, TFLite Micro's int8 tanh).

Output scale 1/128, zero point 0. Like LOGISTIC: inputs beyond the representable radius
saturate; the rest are rescaled into Q4.27 and go through gemmlowp's fixed-point tanh, whose
Q0.31 result is rounded down to Q0.7. Both interpreters compute the same parameters; only the
rescaling's rounding follows the convention.
"""

from __future__ import annotations

import numpy as np

from tinycnn.ref.c_params import per_element
from tinycnn.ref.context import OpContext
from tinycnn.ref.definition import OpDefinition
from tinycnn.ref.fixedpoint import quantize_multiplier, requantize, rounding_divide_by_pot
from tinycnn.ref.gemmlowp import tanh as gemmlowp_tanh
from tinycnn.ref.logistic import input_radius

INPUT_INTEGER_BITS = 4
OUTPUT_FRACTIONAL_BITS = 7


def tanh_params(ctx: OpContext) -> tuple[int, int, int]:
    """(input_multiplier, input_left_shift, input_radius): the rescaling into Q4.27 and the
    input magnitude, around the zero point, from which the output saturates."""
    input_t, output_t = ctx.input_tensor(0), ctx.output_tensor()
    ctx.require_dtype(input_t, np.int8)
    ctx.require_dtype(output_t, np.int8)
    input_q, output_q = ctx.quantization(input_t), ctx.quantization(output_t)
    if output_q.single_scale != 1 / 128 or output_q.single_zero_point != 0:
        raise ctx.unsupported("int8 tanh output must have scale 1/128 and zero point 0")
    multiplier, left_shift = quantize_multiplier(
        np.float64(input_q.single_scale) * (1 << (31 - INPUT_INTEGER_BITS))
    )
    return multiplier, left_shift, input_radius(INPUT_INTEGER_BITS, left_shift)


def tanh(ctx: OpContext) -> np.ndarray:
    multiplier, left_shift, radius = tanh_params(ctx)
    input_q = ctx.quantization(ctx.input_tensor(0))
    x = ctx.input(0).astype(np.int64) - input_q.single_zero_point
    inside = np.abs(x) < radius
    input_q4 = requantize(np.where(inside, x, 0), multiplier, left_shift, ctx.rounding())
    output_q0 = gemmlowp_tanh(input_q4, INPUT_INTEGER_BITS)
    out = np.clip(rounding_divide_by_pot(output_q0, 31 - OUTPUT_FRACTIONAL_BITS), -128, 127)
    out = np.where(x <= -radius, -128, np.where(x >= radius, 127, out))
    return out.astype(np.int8)


def lower_tanh(ctx: OpContext):
    multiplier, left_shift, radius = tanh_params(ctx)
    params = per_element(
        ctx, input_multiplier=multiplier, input_left_shift=left_shift, input_radius=radius
    )
    return params, {}, []


OP = OpDefinition(
    name="tanh",
    builtins=("TANH",),
    kernel=tanh,
    lower=lower_tanh,
    c_sources=("tc_tanh_s8.c", "tc_gemmlowp.c"),
    tflm_resolver={"TANH": "AddTanh"},
)
