"""MUL, int8 (TFLite reference_integer_ops::Mul): the product of the zero-point-corrected
inputs, requantized by ``scale1 * scale2 / output_scale``. Standalone BatchNormalization
layers convert to MUL (and ADD) with constant operands."""

from __future__ import annotations

import numpy as np

from tinycnn.ref.c_params import C_ROUNDING, broadcast_operands
from tinycnn.ref.context import OpContext
from tinycnn.ref.definition import OpDefinition
from tinycnn.ref.fixedpoint import quantize_multiplier, requantize


def mul_multiplier(ctx: OpContext) -> tuple[int, int]:
    """The requantization factor ``scale1 * scale2 / output_scale`` as (multiplier, shift)."""
    first_t, second_t, output_t = ctx.input_tensor(0), ctx.input_tensor(1), ctx.output_tensor()
    for tensor in (first_t, second_t, output_t):
        ctx.require_dtype(tensor, np.int8)
    first_q, second_q, output_q = (ctx.quantization(t) for t in (first_t, second_t, output_t))
    if first_q.per_channel or second_q.per_channel:
        raise ctx.unsupported("per-channel quantized MUL operands are not implemented")
    return quantize_multiplier(
        np.float64(first_q.single_scale)
        * np.float64(second_q.single_scale)
        / np.float64(output_q.single_scale)
    )


def mul(ctx: OpContext) -> np.ndarray:
    multiplier, shift = mul_multiplier(ctx)
    first_q, second_q, output_q = (
        ctx.quantization(t) for t in (ctx.input_tensor(0), ctx.input_tensor(1), ctx.output_tensor())
    )
    act_min, act_max = ctx.activation_range()
    first = ctx.input(0).astype(np.int64) - first_q.single_zero_point
    second = ctx.input(1).astype(np.int64) - second_q.single_zero_point
    # |product| <= 255 * 255, well inside int32.
    out = requantize(first * second, multiplier, shift, ctx.rounding()) + output_q.single_zero_point
    return np.clip(out, act_min, act_max).astype(np.int8)


def lower_mul(ctx: OpContext):
    for tensor in (ctx.input_tensor(0), ctx.input_tensor(1), ctx.output_tensor()):
        ctx.require_dtype(tensor, np.int8)
    dims, arrays = broadcast_operands(ctx)
    multiplier, shift = mul_multiplier(ctx)
    act_min, act_max = ctx.activation_range()
    params = {
        "input1_offset": -ctx.quantization(ctx.input_tensor(0)).single_zero_point,
        "input2_offset": -ctx.quantization(ctx.input_tensor(1)).single_zero_point,
        "output_offset": ctx.quantization(ctx.output_tensor()).single_zero_point,
        "multiplier": multiplier,
        "shift": shift,
        "act_min": act_min,
        "act_max": act_max,
        "rounding": C_ROUNDING[ctx.rounding()],
    }
    return params, dims, arrays


OP = OpDefinition(
    name="mul",
    builtins=("MUL",),
    kernel=mul,
    lower=lower_mul,
    c_sources=("tc_mul_s8.c",),
    tflm_resolver={"MUL": "AddMul"},
    weighted=True,  # a constant operand (a standalone batch normalization) is a parameter
)
