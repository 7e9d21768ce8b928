"""FULLY_CONNECTED, int8 (TFLite reference_integer_ops::FullyConnected, per tensor or channel).

The input is flattened to ``[rows, accum_depth]``; every row gives
``acc = bias + sum weights[out, k] * (input[k] - input_zero_point)``, requantized.
"""

from __future__ import annotations

import numpy as np

from tinycnn.ref.c_params import (
    C_ROUNDING,
    ConstArray,
    fc_layout_bytes,
    fc_weight_array,
    folded_bias,
)
from tinycnn.ref.context import OpContext
from tinycnn.ref.definition import OpDefinition
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


def lower_fully_connected(ctx: OpContext):
    input_t, weights_t, output_t = ctx.input_tensor(0), ctx.input_tensor(1), ctx.output_tensor()
    for tensor in (input_t, weights_t, output_t):
        ctx.require_dtype(tensor, np.int8)
    if not weights_t.is_constant:
        raise ctx.unsupported("the C kernel needs constant weights")
    out_units, accum_depth = weights_t.shape
    multiplier, shift = output_multipliers(ctx, input_t, weights_t, output_t, out_units)
    per_channel = ctx.quantization(weights_t).per_channel
    if not per_channel:
        multiplier, shift = multiplier[:1], shift[:1]
    act_min, act_max = ctx.activation_range()
    params = {
        "input_offset": -ctx.quantization(input_t).single_zero_point,
        "output_offset": ctx.quantization(output_t).single_zero_point,
        "act_min": act_min,
        "act_max": act_max,
        "per_channel": int(per_channel),
        "rounding": C_ROUNDING[ctx.rounding()],
        "rows": int(np.prod(input_t.shape)) // accum_depth,
        "accum_depth": accum_depth,
        "out_units": out_units,
        "wide_weights": int(ctx.wide_weights),
    }
    # The folded bias holds the bias: the kernel never reads the bias array itself.
    arrays = [
        fc_weight_array(ctx, weights_t.data, "weights"),
        ConstArray("multiplier", "int32_t", multiplier.tolist()),
        ConstArray("shift", "int32_t", shift.tolist()),
        folded_bias(ctx, weights_t.data, params["input_offset"]),
    ]
    return params, {}, arrays


OP = OpDefinition(
    name="fully_connected",
    builtins=("FULLY_CONNECTED",),
    kernel=fully_connected,
    lower=lower_fully_connected,
    c_sources=("tc_fully_connected_s8.c", "tc_fixedpoint.c"),
    cmsis_nn="arm_fully_connected_s8",
    tflm_resolver={"FULLY_CONNECTED": "AddFullyConnected"},
    # weights [units, in_features]: in_features MACs per output element
    macs=lambda ctx: int(np.prod(ctx.output_tensor().shape) * ctx.input_tensor(1).shape[1]),
    weighted=True,
    widened_bytes=lambda ctx: fc_layout_bytes(ctx.input_tensor(1).shape),
)
