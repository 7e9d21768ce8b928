"""QUANTIZE: float -> int8 at a model's input, or int8 -> int8 requantization inside it.

Float input: ``round(x / scale) + zero_point`` rounded half away from zero, saturated.
Integer input: ``requantize(x - input_zp, input_scale / output_scale) + output_zp``.
"""

from __future__ import annotations

import numpy as np

from tinycnn.quantization.affine import quantize as quantize_floats
from tinycnn.ref.c_params import float_edge_params, per_element
from tinycnn.ref.context import OpContext
from tinycnn.ref.definition import OpDefinition
from tinycnn.ref.fixedpoint import quantize_multiplier, requantize


def requantize_multiplier(ctx: OpContext) -> tuple[int, int]:
    """``input_scale / output_scale`` as (multiplier, shift), for an integer input."""
    in_quant = ctx.quantization(ctx.input_tensor(0))
    out_quant = ctx.quantization(ctx.output_tensor())
    return quantize_multiplier(
        np.float64(in_quant.single_scale) / np.float64(out_quant.single_scale)
    )


def quantize(ctx: OpContext) -> np.ndarray:
    input_t, output_t = ctx.input_tensor(0), ctx.output_tensor()
    ctx.require_dtype(output_t, np.int8, np.int16)
    out_quant = ctx.quantization(output_t)
    if out_quant.per_channel:
        raise ctx.unsupported("per-channel QUANTIZE output is not implemented")
    x = ctx.input(0)
    if input_t.dtype == np.float32:
        return quantize_floats(
            x, out_quant.single_scale, out_quant.single_zero_point, output_t.dtype
        )
    ctx.require_dtype(input_t, np.int8, np.int16)
    in_quant = ctx.quantization(input_t)
    multiplier, shift = requantize_multiplier(ctx)
    out = requantize(
        x.astype(np.int64) - in_quant.single_zero_point, multiplier, shift, ctx.rounding()
    )
    info = np.iinfo(output_t.dtype)
    return np.clip(out + out_quant.single_zero_point, info.min, info.max).astype(output_t.dtype)


def lower_quantize(ctx: OpContext):
    input_t, output_t = ctx.input_tensor(0), ctx.output_tensor()
    ctx.require_dtype(output_t, np.int8)
    output_q = ctx.quantization(output_t)
    if output_q.per_channel:
        raise ctx.unsupported("per-channel QUANTIZE output is not implemented")
    if input_t.dtype == np.float32:
        return {**float_edge_params(output_q, output_t), "from_float": True}, {}, []
    ctx.require_dtype(input_t, np.int8)
    multiplier, shift = requantize_multiplier(ctx)
    return per_element(ctx, from_float=False, multiplier=multiplier, shift=shift), {}, []


OP = OpDefinition(
    name="quantize",
    builtins=("QUANTIZE",),
    kernel=quantize,
    lower=lower_quantize,
    c_sources=("tc_quantize_s8.c",),
    tflm_resolver={"QUANTIZE": "AddQuantize"},
)
