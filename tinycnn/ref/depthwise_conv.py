"""DEPTHWISE_CONV_2D, int8 with per-channel weights (TFLite DepthwiseConvPerChannel).

Output channel ``in_channel * depth_multiplier + m`` sees only its input channel:
``acc = bias + sum filter[fy, fx, oc] * (input[..., in_channel] - input_zero_point)``.
"""

from __future__ import annotations

import numpy as np

from tinycnn.ref.c_params import conv_scratch, lower_convolution
from tinycnn.ref.context import OpContext
from tinycnn.ref.conv import C_SOURCES as CONV_C_SOURCES
from tinycnn.ref.definition import OpDefinition
from tinycnn.ref.fixedpoint import requantize
from tinycnn.ref.multipliers import output_multipliers
from tinycnn.ref.window import window_for


def depthwise_conv_2d(ctx: OpContext) -> np.ndarray:
    input_t, filter_t, output_t = ctx.input_tensor(0), ctx.input_tensor(1), ctx.output_tensor()
    ctx.require_dtype(input_t, np.int8)
    ctx.require_dtype(filter_t, np.int8)
    ctx.require_dtype(output_t, np.int8)
    x = ctx.input(0).astype(np.int64)
    filters = ctx.input(1).astype(np.int64)  # [1, filter_h, filter_w, out_channels]
    bias = ctx.input(2).astype(np.int64) if ctx.has_input(2) else None
    batches, in_h, in_w, in_channels = x.shape
    _, filter_h, filter_w, out_channels = filters.shape
    depth_multiplier = ctx.option("depth_multiplier", 1)
    if out_channels != in_channels * depth_multiplier:
        # The converter sometimes writes depth_multiplier 0 or 1 where the shapes say otherwise.
        if out_channels % in_channels:
            raise ctx.unsupported(
                f"{out_channels} output channels for {in_channels} input channels"
            )
        depth_multiplier = out_channels // in_channels
    input_zero_point = ctx.quantization(input_t).single_zero_point
    output_zero_point = ctx.quantization(output_t).single_zero_point
    multiplier, shift = output_multipliers(ctx, input_t, filter_t, output_t, out_channels)
    act_min, act_max = ctx.activation_range()
    window = window_for(ctx, in_h, in_w, filter_h, filter_w)

    padded = window.pad(x, fill=input_zero_point) - input_zero_point
    # Each product is at most 128 * 255 in magnitude; int64 cannot overflow.
    acc = np.zeros((batches, window.out_h, window.out_w, out_channels), dtype=np.int64)
    for filter_y, filter_x in window.taps():
        cells = np.repeat(window.tap(padded, filter_y, filter_x), depth_multiplier, axis=-1)
        acc += cells * filters[0, filter_y, filter_x, :]
    if bias is not None:
        acc += bias
    out = requantize(acc, multiplier, shift, ctx.rounding()) + output_zero_point
    return np.clip(out, act_min, act_max).astype(np.int8)


def depthwise_in_place(ctx: OpContext) -> list[tuple[int, int]]:
    """One image of more than one channel (one channel runs on the convolution kernel): the
    kernels write output cells in order, each after reading its window, whose rows start at
    out_y * stride - pad_top. The output written up to the end of row out_y must stay below
    the input row a later window first reads: d is the largest excess over the rows."""
    input_shape, output_shape = ctx.input_tensor(0).shape, ctx.output_tensor().shape
    if len(input_shape) != 4 or input_shape[0] != 1 or input_shape[-1] == 1:
        return []
    _, in_h, in_w, in_c = (int(v) for v in input_shape)
    _, out_h, out_w, out_c = (int(v) for v in output_shape)
    filter_h, filter_w = ctx.input_tensor(1).shape[1:3]
    window = window_for(ctx, in_h, in_w, int(filter_h), int(filter_w))
    excess = [
        (y + 1) * out_w * out_c - max(0, y * window.stride_h - window.pad_top) * in_w * in_c
        for y in range(out_h)
    ]
    return [(0, max(excess))]


def depthwise_scratch_bytes(ctx: OpContext) -> int:
    """One input channel runs on the convolution kernel (ref/c_params.py), which gathers
    windows; the depthwise kernel itself needs no scratch."""
    in_channels = int(ctx.input_tensor(0).shape[-1])
    if in_channels != 1:
        return 0
    taps = int(np.prod(ctx.input_tensor(1).shape[1:3]))
    return conv_scratch(taps, 1, int(ctx.output_tensor().shape[-1]), False)


OP = OpDefinition(
    name="depthwise_conv",
    builtins=("DEPTHWISE_CONV_2D",),
    kernel=depthwise_conv_2d,
    lower=lambda ctx: lower_convolution(ctx, depthwise=True),
    # its own variants (firmware/tc_depthwise_conv_s8.c), and tc_conv_s8 for one input channel
    c_sources=("tc_depthwise_conv_s8.c", "tc_depthwise_conv_dm1_s8.c", *CONV_C_SOURCES),
    cmsis_nn="arm_depthwise_conv_wrapper_s8",
    scratch_bytes=depthwise_scratch_bytes,
    in_place=depthwise_in_place,
    tflm_resolver={"DEPTHWISE_CONV_2D": "AddDepthwiseConv2D"},
    # weights [1, kh, kw, out_c]: kh x kw MACs per output element
    macs=lambda ctx: int(
        np.prod(ctx.output_tensor().shape) * np.prod(ctx.input_tensor(1).shape[1:3])
    ),
    weighted=True,
    feature_map=True,
)
