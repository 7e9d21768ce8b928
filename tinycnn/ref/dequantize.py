"""DEQUANTIZE: int8 -> float32, ``scale * (q - zero_point)`` computed in float32."""

from __future__ import annotations

import numpy as np

from tinycnn.quantization.affine import dequantize as dequantize_values
from tinycnn.ref.c_params import float_edge_params
from tinycnn.ref.context import OpContext
from tinycnn.ref.definition import OpDefinition


def dequantize(ctx: OpContext) -> np.ndarray:
    input_t, output_t = ctx.input_tensor(0), ctx.output_tensor()
    ctx.require_dtype(input_t, np.int8, np.int16)
    ctx.require_dtype(output_t, np.float32)
    quant = ctx.quantization(input_t)
    if quant.per_channel:
        raise ctx.unsupported("per-channel DEQUANTIZE is not implemented")
    return dequantize_values(ctx.input(0), quant.single_scale, quant.single_zero_point)


def lower_dequantize(ctx: OpContext):
    input_t, output_t = ctx.input_tensor(0), ctx.output_tensor()
    ctx.require_dtype(input_t, np.int8)
    ctx.require_dtype(output_t, np.float32)
    input_q = ctx.quantization(input_t)
    if input_q.per_channel:
        raise ctx.unsupported("per-channel DEQUANTIZE is not implemented")
    return float_edge_params(input_q, input_t), {}, []


OP = OpDefinition(
    name="dequantize",
    builtins=("DEQUANTIZE",),
    kernel=dequantize,
    lower=lower_dequantize,
    c_sources=("tc_dequantize_s8.c",),
    tflm_resolver={"DEQUANTIZE": "AddDequantize"},
)
