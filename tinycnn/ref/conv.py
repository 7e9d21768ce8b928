"""CONV_2D, int8 activations and per-channel int8 weights (TFLite ConvPerChannel).

For every output cell and channel: ``acc = bias + sum filter * (input - input_zero_point)``
over filter_y, filter_x, in_channel; then requantize per channel, add the output zero
point and clamp to the fused activation range.
"""

from __future__ import annotations

import numpy as np

from tinycnn.ref.c_params import (
    FUSED_DEPTHWISE,
    FUSED_MAX_POOL,
    conv_depthwise_scratch,
    conv_scratch,
    lower_conv,
    padded_taps,
)
from tinycnn.ref.context import OpContext
from tinycnn.ref.definition import OpDefinition
from tinycnn.ref.fixedpoint import requantize
from tinycnn.ref.multipliers import output_multipliers
from tinycnn.ref.window import window_for


def conv_2d(ctx: OpContext) -> np.ndarray:
    input_t, filter_t, output_t = ctx.input_tensor(0), ctx.input_tensor(1), ctx.output_tensor()
    ctx.require_dtype(input_t, np.int8)
    ctx.require_dtype(filter_t, np.int8)
    ctx.require_dtype(output_t, np.int8)
    x = ctx.input(0).astype(np.int64)
    filters = ctx.input(1).astype(np.float64)  # [out_channels, filter_h, filter_w, in_channels]
    bias = ctx.input(2).astype(np.int64) if ctx.has_input(2) else None
    batches, in_h, in_w, in_channels = x.shape
    out_channels, filter_h, filter_w, filter_in_channels = filters.shape
    if filter_in_channels != in_channels:
        raise ctx.unsupported(
            f"grouped convolution ({in_channels} input channels, filter has {filter_in_channels})"
        )
    input_zero_point = ctx.quantization(input_t).single_zero_point
    output_zero_point = ctx.quantization(output_t).single_zero_point
    multiplier, shift = output_multipliers(ctx, input_t, filter_t, output_t, out_channels)
    act_min, act_max = ctx.activation_range()
    window = window_for(ctx, in_h, in_w, filter_h, filter_w)

    # Padding with the input zero point makes out-of-bounds cells contribute 0, as the
    # reference kernel's bounds check does.
    padded = window.pad(x, fill=input_zero_point) - input_zero_point
    # |filter * (input - zp)| <= 128 * 255, so any sum stays exact in float64 (< 2**53) and,
    # for the filter sizes TFLite accepts (< 2**16 taps), inside int32.
    acc = np.zeros((batches, window.out_h, window.out_w, out_channels), dtype=np.float64)
    for filter_y, filter_x in window.taps():
        cells = window.tap(padded, filter_y, filter_x).astype(np.float64)
        acc += cells @ filters[:, filter_y, filter_x, :].T
    acc = acc.astype(np.int64)
    if bias is not None:
        acc += bias
    out = requantize(acc, multiplier, shift, ctx.rounding()) + output_zero_point
    return np.clip(out, act_min, act_max).astype(np.int8)


def conv_in_place(ctx: OpContext) -> list[tuple[int, int]]:
    """A 1x1 convolution, stride 1, no fused pool: tc_conv_s8 gathers two cells' inputs into
    its scratch before it writes their outputs, cells in order, so the output may cover input
    cells already gathered. Writing up to cell e (<= cells - 1 while inputs remain) must stay
    below input cell e: the output starts (cells - 1) * (out_c - in_c) bytes before the input
    when it has more channels, at the input's start or before otherwise."""
    filter_shape, output_shape = ctx.input_tensor(1).shape, ctx.output_tensor().shape
    fused = FUSED_MAX_POOL in ctx.op.options or FUSED_DEPTHWISE in ctx.op.options
    pointwise = tuple(filter_shape[1:3]) == (1, 1) and not fused
    strides = (ctx.option("stride_h", 1), ctx.option("stride_w", 1))
    if not pointwise or strides != (1, 1) or len(output_shape) != 4:
        return []
    cells = int(np.prod(output_shape[:-1]))
    return [(0, max(0, (cells - 1) * (int(output_shape[-1]) - int(filter_shape[-1]))))]


def conv_widened_bytes(ctx: OpContext) -> int:
    """The pair-interleaved filters: channels rounded up to even, each padded to 4 taps."""
    shape = ctx.input_tensor(1).shape
    channels, taps = shape[0], int(np.prod(shape[1:]))
    return (channels + channels % 2) * padded_taps(taps)


def conv_scratch_bytes(ctx: OpContext) -> int:
    """The C kernel's im2col windows (and maxima for a fused pool): ref/c_params.py's conv_scratch;
    for a convolution streamed into a depthwise one, the band of rows after them."""
    if FUSED_DEPTHWISE in ctx.op.options:
        return conv_depthwise_scratch(ctx)[1]
    return conv_scratch(
        int(np.prod(ctx.input_tensor(1).shape[1:])),
        int(ctx.input_tensor(0).shape[-1]),
        int(ctx.output_tensor().shape[-1]),
        FUSED_MAX_POOL in ctx.op.options,
    )


# tc_conv_s8 dispatches to its variants (firmware/tc_conv_s8.c): a call needs all of them.
C_SOURCES = (
    "tc_conv_s8.c",
    "tc_conv_fused_pool_s8.c",
    "tc_conv_im2col_s8.c",
    "tc_conv_dot_pair_s8.c",
    "tc_fixedpoint.c",
)

OP = OpDefinition(
    name="conv",
    builtins=("CONV_2D",),
    kernel=conv_2d,
    lower=lower_conv,
    c_sources=C_SOURCES,
    cmsis_nn="arm_convolve_wrapper_s8",
    tflm_resolver={"CONV_2D": "AddConv2D"},
    scratch_bytes=conv_scratch_bytes,
    # weights [out_c, kh, kw, in_c]: one MAC per weight and output position
    macs=lambda ctx: int(
        np.prod(ctx.output_tensor().shape) * np.prod(ctx.input_tensor(1).shape[1:])
    ),
    weighted=True,
    widened_bytes=conv_widened_bytes,
    in_place=conv_in_place,
    feature_map=True,
)
