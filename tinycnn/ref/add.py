"""ADD, int8 (TFLite reference_integer_ops::Add with its 20-bit headroom scheme).

Both inputs are rescaled to a common scale ``2 * max(scale1, scale2)`` after a left shift of
20 bits, added in int32, and the sum rescaled to the output; three requantizations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinycnn.ref.c_params import C_ROUNDING, broadcast_operands
from tinycnn.ref.context import OpContext
from tinycnn.ref.definition import OpDefinition
from tinycnn.ref.fixedpoint import quantize_multiplier, requantize

LEFT_SHIFT = 20  # int8: (x - zp) * 2**20 < 2**29, leaving headroom for the sum


@dataclass(frozen=True)
class AddParams:
    first_offset: int  # minus the zero points
    second_offset: int
    output_offset: int
    first_multiplier: int
    first_shift: int
    second_multiplier: int
    second_shift: int
    output_multiplier: int
    output_shift: int
    act_min: int
    act_max: int
    rounding: str


def add_params(ctx: OpContext) -> AddParams:
    """The quantized parameters, as TFLite's PrepareGeneralSubOp computes them (in double)."""
    first_t, second_t, output_t = ctx.input_tensor(0), ctx.input_tensor(1), ctx.output_tensor()
    for tensor in (first_t, second_t, output_t):
        ctx.require_dtype(tensor, np.int8)
    first_q, second_q, output_q = (ctx.quantization(t) for t in (first_t, second_t, output_t))
    twice_max_input_scale = 2.0 * max(
        np.float64(first_q.single_scale), np.float64(second_q.single_scale)
    )
    first_multiplier, first_shift = quantize_multiplier(
        np.float64(first_q.single_scale) / twice_max_input_scale
    )
    second_multiplier, second_shift = quantize_multiplier(
        np.float64(second_q.single_scale) / twice_max_input_scale
    )
    output_multiplier, output_shift = quantize_multiplier(
        twice_max_input_scale
        / np.float64(np.float32((1 << LEFT_SHIFT) * np.float32(output_q.single_scale)))
    )
    act_min, act_max = ctx.activation_range()
    return AddParams(
        -first_q.single_zero_point,
        -second_q.single_zero_point,
        output_q.single_zero_point,
        first_multiplier,
        first_shift,
        second_multiplier,
        second_shift,
        output_multiplier,
        output_shift,
        act_min,
        act_max,
        ctx.rounding(),
    )


def add(ctx: OpContext) -> np.ndarray:
    p = add_params(ctx)
    first = (ctx.input(0).astype(np.int64) + p.first_offset) << LEFT_SHIFT
    second = (ctx.input(1).astype(np.int64) + p.second_offset) << LEFT_SHIFT
    scaled_first = requantize(first, p.first_multiplier, p.first_shift, p.rounding)
    scaled_second = requantize(second, p.second_multiplier, p.second_shift, p.rounding)
    total = scaled_first + scaled_second
    out = requantize(total, p.output_multiplier, p.output_shift, p.rounding) + p.output_offset
    return np.clip(out, p.act_min, p.act_max).astype(np.int8)


def lower_add(ctx: OpContext):
    dims, arrays = broadcast_operands(ctx)
    p = add_params(ctx)
    return {**p.__dict__, "rounding": C_ROUNDING[p.rounding]}, dims, arrays


OP = OpDefinition(
    name="add",
    builtins=("ADD",),
    kernel=add,
    lower=lower_add,
    c_sources=("tc_add_s8.c",),
    cmsis_nn="arm_elementwise_add_s8",
    tflm_resolver={"ADD": "AddAdd"},
    weighted=True,  # a constant operand (a standalone batch normalization) is a parameter
    # element i of an input of the output's shape is read before element i is written
    in_place=lambda ctx: [
        (position, 0)
        for position in (0, 1)
        if tuple(ctx.input_tensor(position).shape) == tuple(ctx.output_tensor().shape)
        and ctx.input_tensor(position).dtype == ctx.output_tensor().dtype
    ],
)
