"""FULLY_CONNECTED, int8 (TFLite reference_integer_ops::FullyConnected, per tensor or channel).

The input is flattened to ``[rows, accum_depth]``; every row gives
``acc = bias + sum weights[out, k] * (input[k] - input_zero_point)``, requantized.
"""

from __future__ import annotations

import numpy as np

from tinycnn.ref.context import OpContext
from tinycnn.ref.fixedpoint import requantize
from tinycnn.ref.multipliers import output_multipliers


def fully_connected(ctx: OpContext) -> np.ndarray:
    input_t, weights_t, output_t = ctx.input_tensor(0), ctx.input_tensor(1), ctx.output_tensor()
    ctx.require_dtype(input_t, np.int8)
    ctx.require_dtype(weights_t, np.int8)
    ctx.require_dtype(output_t, np.int8)
    if ctx.option("weights_format", 0) != 0:
        raise ctx.unsupported("shuffled weights format is not implemented")
    if weights_t.quantization and np.any(weights_t.quantization.zero_point != 0):
        raise ctx.unsupported("weights with a non-zero zero point are not implemented")
    x = ctx.input(0)
    weights = ctx.input(1).astype(np.float64)  # [out_units, accum_depth]
    bias = ctx.input(2).astype(np.int64) if ctx.has_input(2) else None
    out_units, accum_depth = weights.shape
    batches = x.shape[0]
    if x.size % (batches * accum_depth):
        raise ctx.unsupported(f"input shape {x.shape} does not divide into rows of {accum_depth}")
    rows = x.reshape(-1, accum_depth).astype(np.float64)
    input_zero_point = ctx.quantization(input_t).single_zero_point
    output_zero_point = ctx.quantization(output_t).single_zero_point
    multiplier, shift = output_multipliers(ctx, input_t, weights_t, output_t, out_units)
    act_min, act_max = ctx.activation_range()

    # Sums of products bounded by 128 * 255 stay exact in float64 for any realistic depth.
    acc = ((rows - input_zero_point) @ weights.T).astype(np.int64)
    if bias is not None:
        acc += bias
    out = requantize(acc, multiplier, shift, ctx.rounding()) + output_zero_point
    out = np.clip(out, act_min, act_max).astype(np.int8)
    if ctx.option("keep_num_dims", False):
        return out.reshape(*x.shape[:-1], out_units)
    return out.reshape(batches, -1, out_units).reshape(batches, *output_t.shape[1:])
