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
from tinycnn.ref.fixedpoint import rounding_divide_by_pot
from tinycnn.ref.gemmlowp import tanh as gemmlowp_tanh
from tinycnn.ref.logistic import INPUT_INTEGER_BITS, q4_input, q4_input_params, saturated

OUTPUT_FRACTIONAL_BITS = 7


def tanh_params(ctx: OpContext) -> tuple[int, int, int]:
    return q4_input_params(ctx, 1 / 128, 0, "tanh")


def tanh(ctx: OpContext) -> np.ndarray:
    params = tanh_params(ctx)
    x, input_q4 = q4_input(ctx, params)
    output_q0 = gemmlowp_tanh(input_q4, INPUT_INTEGER_BITS)
    out = np.clip(rounding_divide_by_pot(output_q0, 31 - OUTPUT_FRACTIONAL_BITS), -128, 127)
    return saturated(out, x, params[2])


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
