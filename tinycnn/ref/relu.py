"""RELU, RELU6 and RELU_N1_TO_1 as standalone int8 ops (TFLite ReluX, quantized).

The input is rescaled to the output's scale, then clamped to the quantized bounds.
TFLite Micro's RELU6 differs: it clamps the input values between the input's quantized 0
and 6 and copies them, assuming input and output share quantization (the converter's
RELU6 output usually does not), so under the "tflm" convention that is what runs.
"""

from __future__ import annotations

import numpy as np

from tinycnn.quantization import round_half_away
from tinycnn.ref.context import OpContext
from tinycnn.ref.fixedpoint import quantize_multiplier, requantize

# Real-valued bounds of each op; None for no upper bound.
BOUNDS = {"RELU": (0.0, None), "RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0)}


def relu_params(ctx: OpContext) -> tuple[int, int, int, int]:
    """(multiplier, shift, act_min, act_max): the rescaling and the quantized bounds."""
    input_q, output_q = ctx.quantization(ctx.input_tensor(0)), ctx.quantization(ctx.output_tensor())
    multiplier, shift = quantize_multiplier(
        np.float64(np.float32(input_q.single_scale) / np.float32(output_q.single_scale))
    )
    low, high = BOUNDS[ctx.op.opcode]
    scale, zero_point = np.float32(output_q.single_scale), output_q.single_zero_point
    act_min = max(-128, zero_point + int(round_half_away(np.float32(low) / scale)))
    act_max = (
        127
        if high is None
        else min(127, zero_point + int(round_half_away(np.float32(high) / scale)))
    )
    return multiplier, shift, act_min, act_max


def relu(ctx: OpContext) -> np.ndarray:
    input_t, output_t = ctx.input_tensor(0), ctx.output_tensor()
    ctx.require_dtype(input_t, np.int8)
    ctx.require_dtype(output_t, np.int8)
    input_q, output_q = ctx.quantization(input_t), ctx.quantization(output_t)
    if ctx.op.opcode == "RELU6" and ctx.convention == "tflm":
        low, high = tflm_relu6_bounds(input_q.single_scale, input_q.single_zero_point)
        return np.clip(ctx.input(0), low, high).astype(np.int8)
    multiplier, shift, act_min, act_max = relu_params(ctx)
    x = ctx.input(0).astype(np.int64) - input_q.single_zero_point
    out = requantize(x, multiplier, shift, ctx.rounding()) + output_q.single_zero_point
    return np.clip(out, act_min, act_max).astype(np.int8)


def tflm_relu6_bounds(input_scale: float, input_zero_point: int) -> tuple[int, int]:
    """TFLite Micro's Relu6Quantized clamps the input to its own quantized [0, 6] and copies
    it without rescaling: these are the clamp bounds."""
    six = input_zero_point + int(round_half_away(np.float32(6.0) / np.float32(input_scale)))
    return max(-128, input_zero_point), min(127, six)
