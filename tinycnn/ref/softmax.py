"""SOFTMAX, int8 in and out (TFLite reference_ops::Softmax, the gemmlowp fixed-point path).

Per row: ``diff = input - max(row)``; cells with ``diff < diff_min`` give 0 probability.
``diff`` is rescaled by ``beta * input_scale`` into Q5, exponentiated in Q0, summed in Q12,
and each exp is multiplied by the reciprocal of the sum, then shifted to the int8 range.
"""

from __future__ import annotations

import math

import numpy as np

from tinycnn.ref.c_params import C_ROUNDING
from tinycnn.ref.context import OpContext
from tinycnn.ref.definition import OpDefinition
from tinycnn.ref.fixedpoint import quantize_multiplier, requantize, rounding_divide_by_pot
from tinycnn.ref.gemmlowp import exp_on_negative_values, get_reciprocal, multiply, rescale

SCALED_DIFF_INTEGER_BITS = 5
ACCUMULATION_INTEGER_BITS = 12


def softmax_parameters(beta: float, input_scale: float) -> tuple[int, int, int]:
    """(input_multiplier, input_left_shift, diff_min) as TFLite's PreprocessSoftmaxScaling
    and CalculateInputRadius compute them, in double precision."""
    real = min(
        float(beta) * float(input_scale) * (1 << (31 - SCALED_DIFF_INTEGER_BITS)),
        float((1 << 31) - 1),
    )
    multiplier, left_shift = quantize_multiplier(real)
    max_input_rescaled = (
        1.0
        * ((1 << SCALED_DIFF_INTEGER_BITS) - 1)
        * (1 << (31 - SCALED_DIFF_INTEGER_BITS))
        / (1 << left_shift)
    )
    return multiplier, left_shift, -math.floor(max_input_rescaled)


def softmax(ctx: OpContext) -> np.ndarray:
    input_t, output_t = ctx.input_tensor(0), ctx.output_tensor()
    ctx.require_dtype(input_t, np.int8)
    ctx.require_dtype(output_t, np.int8)
    out_quant = ctx.quantization(output_t)
    if out_quant.single_scale != 1 / 256 or out_quant.single_zero_point != -128:
        raise ctx.unsupported("int8 softmax output must have scale 1/256 and zero point -128")
    multiplier, left_shift, diff_min = softmax_parameters(
        ctx.option("beta", 1.0), ctx.quantization(input_t).single_scale
    )
    if left_shift < 0:
        raise ctx.unsupported("beta * input scale too small for the fixed-point softmax")
    x = ctx.input(0).astype(np.int64)
    diff = x - x.max(axis=-1, keepdims=True)
    used = diff >= diff_min
    # diff >= diff_min keeps diff * 2**left_shift inside int32 (that is how diff_min is chosen).
    diff_rescaled = requantize(np.where(used, diff, 0), multiplier, left_shift, ctx.rounding())
    exps = exp_on_negative_values(diff_rescaled, SCALED_DIFF_INTEGER_BITS)
    exps = np.where(used, exps, 0)
    sum_of_exps = rescale(exps, 0, ACCUMULATION_INTEGER_BITS).sum(axis=-1, keepdims=True)
    shifted_scale, num_bits_over_unit = get_reciprocal(sum_of_exps, ACCUMULATION_INTEGER_BITS)
    unsat = rounding_divide_by_pot(multiply(shifted_scale, exps), num_bits_over_unit + 31 - 8)
    out = np.clip(unsat - 128, -128, 127)
    return np.where(used, out, -128).astype(np.int8)


def lower_softmax(ctx: OpContext):
    input_t, output_t = ctx.input_tensor(0), ctx.output_tensor()
    quant = ctx.quantization(output_t)
    if quant.single_scale != 1 / 256 or quant.single_zero_point != -128:
        raise ctx.unsupported("int8 softmax output must have scale 1/256 and zero point -128")
    multiplier, left_shift, diff_min = softmax_parameters(
        ctx.option("beta", 1.0), ctx.quantization(input_t).single_scale
    )
    depth = input_t.shape[-1]
    params = {
        "input_multiplier": multiplier,
        "input_left_shift": left_shift,
        "diff_min": diff_min,
        "rounding": C_ROUNDING[ctx.rounding()],
        "rows": int(np.prod(input_t.shape)) // depth,
        "depth": depth,
    }
    return params, {}, []


OP = OpDefinition(
    name="softmax",
    builtins=("SOFTMAX",),
    kernel=softmax,
    lower=lower_softmax,
    c_sources=("tc_softmax_s8.c", "tc_gemmlowp.c"),
    cmsis_nn="arm_softmax_s8",
    tflm_resolver={"SOFTMAX": "AddSoftmax"},
)
