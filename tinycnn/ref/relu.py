"""RELU, RELU6 and RELU_N1_TO_1 as standalone int8 ops (TFLite ReluX, quantized).

The input is rescaled to the output's scale, then clamped to the quantized bounds.
TFLite Micro's RELU6 differs: it clamps the input values between the input's quantized 0
and 6 and copies them, assuming input and output share quantization (the converter's
RELU6 output usually does not), so under the "tflm" convention that is what runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinycnn.quantization.affine import round_half_away
from tinycnn.ref.c_params import C_ROUNDING
from tinycnn.ref.context import OpContext
from tinycnn.ref.definition import OpDefinition
from tinycnn.ref.fixedpoint import quantize_multiplier, requantize

# Real-valued bounds of each op; None for no upper bound.
BOUNDS = {"RELU": (0.0, None), "RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0)}


@dataclass(frozen=True)
class ReluParams:
    """What RELU, RELU6 and RELU_N1_TO_1 compute: ``(x - input_zero_point)`` rescaled by
    ``multiplier, shift``, plus ``output_zero_point``, clamped to ``[act_min, act_max]``."""

    input_zero_point: int
    output_zero_point: int
    multiplier: int
    shift: int
    act_min: int
    act_max: int


def relu_params(ctx: OpContext) -> ReluParams:
    """The rescaling and the quantized bounds, decided once for the kernel and the C code.

    TFLite Micro's RELU6 clamps the input to its own quantized [0, 6] and copies it: a factor
    of exactly 1 (2^30 * 2^(1 - 31)) rescales nothing, and the input's zero point comes back out.
    """
    input_q, output_q = ctx.quantization(ctx.input_tensor(0)), ctx.quantization(ctx.output_tensor())
    if ctx.op.opcode == "RELU6" and ctx.convention == "tflm":
        act_min, act_max = tflm_relu6_bounds(input_q.single_scale, input_q.single_zero_point)
        zero_point = input_q.single_zero_point
        return ReluParams(zero_point, zero_point, 1 << 30, 1, act_min, act_max)
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
    return ReluParams(input_q.single_zero_point, zero_point, multiplier, shift, act_min, act_max)


def relu(ctx: OpContext) -> np.ndarray:
    ctx.require_dtype(ctx.input_tensor(0), np.int8)
    ctx.require_dtype(ctx.output_tensor(), np.int8)
    p = relu_params(ctx)
    x = ctx.input(0).astype(np.int64) - p.input_zero_point
    out = requantize(x, p.multiplier, p.shift, ctx.rounding()) + p.output_zero_point
    return np.clip(out, p.act_min, p.act_max).astype(np.int8)


def tflm_relu6_bounds(input_scale: float, input_zero_point: int) -> tuple[int, int]:
    """TFLite Micro's Relu6Quantized clamps the input to its own quantized [0, 6] and copies
    it without rescaling: these are the clamp bounds."""
    six = input_zero_point + int(round_half_away(np.float32(6.0) / np.float32(input_scale)))
    return max(-128, input_zero_point), min(127, six)


def lower_relu(ctx: OpContext):
    p = relu_params(ctx)
    params = {
        "input_offset": -p.input_zero_point,
        "output_offset": p.output_zero_point,
        "multiplier": p.multiplier,
        "shift": p.shift,
        "act_min": p.act_min,
        "act_max": p.act_max,
        "rounding": C_ROUNDING[ctx.rounding()],
        "size": int(np.prod(ctx.output_tensor().shape)),
    }
    return params, {}, []


OP = OpDefinition(
    name="relu",
    builtins=("RELU", "RELU6", "RELU_N1_TO_1"),
    kernel=relu,
    lower=lower_relu,
    c_sources=("tc_relu_s8.c",),
    tflm_resolver={"RELU": "AddRelu", "RELU6": "AddRelu6"},
)
