"""MEAN, int8 (what GlobalAveragePooling2D converts to), as TFLite's QuantizedMeanOrSum.

``sum(input) - input_zp * count`` over the reduced axes is requantized by
``input_scale / output_scale / count``: the division by the element count is folded into
the Q31 multiplier as ``(multiplier << s) // count`` with ``s = floor(log2(count))`` (at
most 32, and at most ``31 + shift``), and the shift lowered by ``s``.
"""

from __future__ import annotations

import numpy as np

from tinycnn.ref.c_params import C_ROUNDING, dims4
from tinycnn.ref.context import OpContext
from tinycnn.ref.definition import OpDefinition
from tinycnn.ref.fixedpoint import quantize_multiplier, requantize


def mean_multiplier(input_scale: float, output_scale: float, count: int) -> tuple[int, int]:
    """Q31 multiplier and shift for ``input_scale / output_scale / count``, TFLite's way."""
    multiplier, shift = quantize_multiplier(np.float64(input_scale) / np.float64(output_scale))
    count_shift = min(count.bit_length() - 1, 32, 31 + shift)
    return (multiplier << count_shift) // count, shift - count_shift


def mean(ctx: OpContext) -> np.ndarray:
    input_t, output_t = ctx.input_tensor(0), ctx.output_tensor()
    ctx.require_dtype(input_t, np.int8)
    ctx.require_dtype(output_t, np.int8)
    input_q, output_q = ctx.quantization(input_t), ctx.quantization(output_t)
    rank = len(input_t.shape)
    axes = sorted({int(a) % rank for a in np.asarray(ctx.input(1)).ravel()})
    if 0 in axes:
        raise ctx.unsupported("averaging over the batch dimension is not implemented")
    x = ctx.input(0).astype(np.int64)
    count = int(np.prod([x.shape[a] for a in axes]))
    multiplier, shift = mean_multiplier(input_q.single_scale, output_q.single_scale, count)
    # count * 255 stays far inside int32 for any feature map a microcontroller holds.
    total = np.sum(x, axis=tuple(axes)) - input_q.single_zero_point * count
    out = requantize(total, multiplier, shift, ctx.rounding()) + output_q.single_zero_point
    return np.clip(out, -128, 127).astype(np.int8).reshape(x.shape[0], *output_t.shape[1:])


def lower_mean(ctx: OpContext):
    input_t, output_t = ctx.input_tensor(0), ctx.output_tensor()
    axes = sorted({int(a) % len(input_t.shape) for a in np.asarray(ctx.input(1)).ravel()})
    if len(input_t.shape) != 4 or axes != [1, 2]:
        raise ctx.unsupported("the C kernel averages over height and width of a 4-D tensor only")
    in_q, out_q = ctx.quantization(input_t), ctx.quantization(output_t)
    multiplier, shift = mean_multiplier(
        in_q.single_scale, out_q.single_scale, input_t.shape[1] * input_t.shape[2]
    )
    params = {
        "input_zero_point": in_q.single_zero_point,
        "output_zero_point": out_q.single_zero_point,
        "multiplier": multiplier,
        "shift": shift,
        "rounding": C_ROUNDING[ctx.rounding()],
    }
    return params, {"input": dims4(input_t.shape)}, []


OP = OpDefinition(
    name="mean",
    builtins=("MEAN",),
    kernel=mean,
    lower=lower_mean,
    c_sources=("tc_mean_s8.c",),
    tflm_resolver={"MEAN": "AddMean"},
)
