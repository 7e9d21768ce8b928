"""What the ops' lowerings share: constant arrays, 4-D dims, the folded bias, and the
parameter sets of the op families (convolutions, pooling, per-element maps, broadcasting).

A lowering turns one operator into the parameters of one C kernel call, computed with the same
helpers the numpy kernel uses, so that the C runs the numbers the reference engine runs. The
result is plain data for the op's call template (templates/ops/<name>.c.j2), never C text.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from tinycnn.ref.context import OpContext
from tinycnn.ref.multipliers import output_multipliers
from tinycnn.ref.window import window_for

C_ROUNDING = {"double": "TC_ROUNDING_DOUBLE", "single": "TC_ROUNDING_SINGLE"}
CTYPES = {np.dtype(np.int8): "int8_t", np.dtype(np.int32): "int32_t", np.dtype(np.float32): "float"}


@dataclass
class ConstArray:
    name: str  # suffix; the template prefixes it with the op's name
    ctype: str
    values: list[int]

    @property
    def size_bytes(self) -> int:
        return len(self.values) * {"int8_t": 1, "int16_t": 2}.get(self.ctype, 4)


def dims4(shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    padded = (1,) * (4 - len(shape)) + tuple(shape)
    if len(padded) != 4:
        raise ValueError(f"shape {shape} has more than 4 dimensions")
    return tuple(int(d) for d in padded)


def const_array(ctx: OpContext, position: int, name: str) -> ConstArray | None:
    """Input ``position`` as a constant array (None when the optional input is absent)."""
    if not ctx.has_input(position):
        return None
    tensor = ctx.input_tensor(position)
    if not tensor.is_constant:
        raise ctx.unsupported(f"input {position} must be a constant for the C kernel")
    return ConstArray(name, CTYPES[tensor.dtype], tensor.data.ravel().astype(np.int64).tolist())


def folded_bias(ctx: OpContext, weights: np.ndarray, input_offset: int) -> ConstArray:
    """bias + input_offset * (sum of each output channel's weights): with it the C kernel
    adds the input offset once per output instead of once per product (for a window wholly
    inside the input, or padded with the input zero point). Exact in int32:
    |offset * sum| <= 128 * 127 * taps."""
    sums = weights.reshape(weights.shape[0], -1).astype(np.int64).sum(axis=1)
    if ctx.op.opcode == "DEPTHWISE_CONV_2D":  # [1, filter_h, filter_w, out_channels]
        sums = weights.reshape(-1, weights.shape[-1]).astype(np.int64).sum(axis=0)
    folded = input_offset * sums
    if ctx.has_input(2):
        folded = folded + ctx.input_tensor(2).data.astype(np.int64).ravel()
    if np.abs(folded).max(initial=0) >= 2**31:
        raise ctx.unsupported("the folded bias overflows int32")
    return ConstArray("folded_bias", "int32_t", folded.tolist())


def padded_taps(taps: int) -> int:
    """A convolution filter's bytes per output channel in the C layout: rounded up to 4."""
    return (taps + 3) // 4 * 4


def conv_scratch(taps: int, in_channels: int, out_channels: int, fused_pool: bool) -> int:
    """tc_conv_s8's scratch (firmware/tc_types.h's tc_conv_scratch_t): the input windows of two
    output cells at a time (im2col), widened to int16 in the DSP build (4 bytes a tap),
    staged as int8 first unless the input channels are a multiple of 4 (2 more), plus for a
    fused max pool an int32 running maximum per output channel (an even count)."""
    staged = in_channels % 4 != 0
    maxima = 4 * (out_channels + out_channels % 2) if fused_pool else 0
    return (6 if staged else 4) * padded_taps(taps) + maxima


def conv_weight_layout(weights: np.ndarray) -> np.ndarray:
    """CONV_2D weights [out_c, kh, kw, in_c] in tc_conv_s8's layout: each channel's taps padded
    with zeros to a multiple of 4, then channels paired (2p, 2p + 1; an odd last one with a
    zero channel) and interleaved 4 taps at a time, so one pointer walks both filters."""
    out_c = weights.shape[0]
    taps = int(np.prod(weights.shape[1:]))
    stride = padded_taps(taps)
    padded = np.zeros((out_c + out_c % 2, stride), dtype=np.int64)
    padded[:out_c, :taps] = weights.reshape(out_c, taps)
    pairs = padded.reshape(-1, 2, stride // 4, 4)  # [pair, channel in pair, group, 4 taps]
    return pairs.transpose(0, 2, 1, 3).reshape(-1)


def fc_weight_layout(weights: np.ndarray) -> np.ndarray:
    """FULLY_CONNECTED weights [units, depth] in tc_fully_connected_s8's layout: depth padded
    with zeros to a multiple of 4, units in blocks of 4 (the last holds the 1 to 3 left), and
    per 4 inputs a block's weights together: [block, group, unit in block, 4]."""
    units, depth = weights.shape
    padded = np.zeros((units, padded_taps(depth)), dtype=np.int64)
    padded[:, :depth] = weights
    groups = padded.shape[1] // 4
    blocks = [
        padded[start : start + 4].reshape(-1, groups, 4).transpose(1, 0, 2).reshape(-1)
        for start in range(0, units, 4)
    ]
    return np.concatenate(blocks)


def fc_layout_bytes(weights_shape: tuple[int, ...]) -> int:
    """The int8 bytes of a [units, depth] matrix in fc_weight_layout: the depth padded to 4."""
    return int(weights_shape[0]) * padded_taps(int(np.prod(weights_shape[1:])))


def fc_weight_array(ctx: OpContext, weights: np.ndarray, name: str) -> ConstArray:
    """A [units, depth] matrix in fc_weight_layout, int8, or widened to int16 in SXTB16's
    order (widened_layout) when the generator stores weights wide (``ctx.wide_weights``)."""
    layout = fc_weight_layout(weights)
    if ctx.wide_weights:
        return ConstArray(name, "int16_t", widened_layout(layout).tolist())
    return ConstArray(name, "int8_t", layout.tolist())


def widened_layout(layout: np.ndarray) -> np.ndarray:
    """conv_weight_layout's int8 bytes as int16 in SXTB16's order, what the DSP loop would make
    of them at run time: each 4 bytes b0 b1 b2 b3 become b0 b2 b1 b3."""
    return layout.reshape(-1, 4)[:, [0, 2, 1, 3]].reshape(-1)


def lower_convolution(ctx: OpContext, depthwise: bool):
    """CONV_2D and DEPTHWISE_CONV_2D: one parameter set (tc_conv_params_t) for both."""
    input_t, filter_t, output_t = ctx.input_tensor(0), ctx.input_tensor(1), ctx.output_tensor()
    for tensor in (input_t, filter_t, output_t):
        ctx.require_dtype(tensor, np.int8)
    if not filter_t.is_constant:
        raise ctx.unsupported("the C kernel needs constant weights")
    _, in_h, in_w, in_c = dims4(input_t.shape)
    filter_dims = dims4(filter_t.shape)
    out_c = output_t.shape[-1]
    if not depthwise and filter_dims[3] != in_c:
        raise ctx.unsupported("grouped convolution is not implemented")
    window = window_for(ctx, in_h, in_w, filter_dims[1], filter_dims[2])
    multiplier, shift = output_multipliers(ctx, input_t, filter_t, output_t, out_c)
    act_min, act_max = ctx.activation_range()
    params = {
        "input_offset": -ctx.quantization(input_t).single_zero_point,
        "output_offset": ctx.quantization(output_t).single_zero_point,
        "stride_h": window.stride_h,
        "stride_w": window.stride_w,
        "dilation_h": window.dilation_h,
        "dilation_w": window.dilation_w,
        "pad_top": window.pad_top,
        "pad_left": window.pad_left,
        "depth_multiplier": out_c // in_c if depthwise else 1,
        "act_min": act_min,
        "act_max": act_max,
        "rounding": C_ROUNDING[ctx.rounding()],
    }
    # A depthwise convolution of one input channel is a CONV_2D with depth_multiplier output
    # channels (person_detect's first layer): it runs on the convolution kernel.
    as_conv = depthwise and in_c == 1
    arrays = [
        const_array(ctx, 1, "filter"),
        # the bias itself only for tc_depthwise_conv_s8 (windows the padding cuts); the
        # convolution kernel reads the folded bias alone
        const_array(ctx, 2, "bias") if depthwise and not as_conv else None,
        ConstArray("multiplier", "int32_t", multiplier.tolist()),
        ConstArray("shift", "int32_t", shift.tolist()),
    ]
    arrays.append(folded_bias(ctx, filter_t.data, params["input_offset"]))
    if not depthwise or as_conv:
        weights = filter_t.data
        if as_conv:  # [1, kh, kw, m] -> [m, kh, kw, 1]
            weights = np.transpose(weights.reshape(filter_dims[1:]), (2, 0, 1))[..., None]
            filter_dims = dims4(weights.shape)
            params["depth_multiplier"] = 1
        params["filter_stride"] = padded_taps(int(np.prod(filter_dims[1:])))
        layout = conv_weight_layout(weights)
        if ctx.wide_weights:
            arrays[0] = ConstArray("filter", "int16_t", widened_layout(layout).tolist())
        else:
            arrays[0] = ConstArray("filter", "int8_t", layout.tolist())
    params.update(
        filter_stride=params.get("filter_stride", 0),
        pool_h=0,
        pool_w=0,
        pool_stride_h=0,
        pool_stride_w=0,
        as_conv=int(as_conv),
        wide_weights=int(ctx.wide_weights and (not depthwise or as_conv)),
    )
    dims = {"input": dims4(input_t.shape), "filter": filter_dims, "output": dims4(output_t.shape)}
    return params, dims, [a for a in arrays if a is not None]


# Operator option naming the CONV_2D and MAX_POOL_2D one fused operator stands for
# (tinycnn/codegen/fusion.py makes them).
FUSED_MAX_POOL = "fused_max_pool"


def lower_conv(ctx: OpContext):
    """CONV_2D, or CONV_2D with a MAX_POOL_2D fused after it: the convolution's parameters,
    the pool's window and strides, the pooled output dims, and both clamps composed (a clamp
    to [a, b] then to [c, d] is a clamp to [clip(a, c, d), clip(b, c, d)])."""
    if FUSED_DEPTHWISE in ctx.op.options:
        return lower_conv_depthwise(ctx)
    fused = ctx.op.options.get(FUSED_MAX_POOL)
    if not fused:
        return lower_convolution(ctx, depthwise=False)
    params, dims, arrays = lower_convolution(replace(ctx, op=fused["conv"]), depthwise=False)
    pool, pool_dims, _ = lower_pool(replace(ctx, op=fused["pool"]))
    low, high = pool["act_min"], pool["act_max"]
    params.update(
        pool_h=pool["filter_h"],
        pool_w=pool["filter_w"],
        pool_stride_h=pool["stride_h"],
        pool_stride_w=pool["stride_w"],
        act_min=int(np.clip(params["act_min"], low, high)),
        act_max=int(np.clip(params["act_max"], low, high)),
    )
    dims["output"] = pool_dims["output"]
    return params, dims, arrays


# Operator option naming the CONV_2D and the DEPTHWISE_CONV_2D one fused operator stands for:
# the depthwise convolution reads the convolution's output rows as they are made, from a band
# of rows in the scratch (tinycnn/codegen/fusion.py makes them; firmware/tc_conv_depthwise_s8.c).
FUSED_DEPTHWISE = "fused_depthwise"
FUSED_DEPTHWISE_SOURCE = "tc_conv_depthwise_s8.c"
_ROWS_ALIGNMENT = 16  # the band starts on the alignment the planner gives every buffer


def window_rows(model, depthwise) -> int:
    """The input rows one output row of a depthwise convolution reads: its window's height,
    dilated."""
    filter_h = model.tensors[depthwise.inputs[1]].shape[1]
    return (filter_h - 1) * depthwise.options.get("dilation_hfactor", 1) + 1


def streamed_band(model, depthwise) -> int:
    """Bytes of the band of rows a streamed depthwise convolution reads at once: the rows one
    output row's windows span, of the whole width and channels of its input."""
    _, height, width, channels = dims4(model.tensors[depthwise.inputs[0]].shape)
    return min(window_rows(model, depthwise), height) * width * channels


def conv_depthwise_scratch(ctx: OpContext) -> tuple[int, int]:
    """A streamed pair's scratch: where its band of rows starts (after the convolution's own
    scratch) and the bytes in all."""
    fused = ctx.op.options[FUSED_DEPTHWISE]
    conv, depthwise = fused["conv"], fused["depthwise"]
    conv_ctx = replace(ctx, op=conv)
    taps = int(np.prod(conv_ctx.input_tensor(1).shape[1:]))
    middle = conv_ctx.output_tensor().shape
    own = conv_scratch(taps, int(conv_ctx.input_tensor(0).shape[-1]), int(middle[-1]), False)
    rows_at = -(-own // _ROWS_ALIGNMENT) * _ROWS_ALIGNMENT
    return rows_at, rows_at + streamed_band(ctx.model, depthwise)


def lower_conv_depthwise(ctx: OpContext):
    """A CONV_2D streamed into the DEPTHWISE_CONV_2D that reads it: both parameter sets (the
    depthwise one under ``depthwise``, its arrays prefixed ``depthwise_``), the convolution's
    whole output as ``middle`` dims (never stored), and where the band of rows starts in the
    scratch."""
    fused = ctx.op.options[FUSED_DEPTHWISE]
    params, dims, arrays = lower_convolution(replace(ctx, op=fused["conv"]), depthwise=False)
    dw_params, dw_dims, dw_arrays = lower_convolution(
        replace(ctx, op=fused["depthwise"], wide_weights=False), depthwise=True
    )
    params.update(depthwise=dw_params, rows_at=conv_depthwise_scratch(ctx)[0])
    dims = {
        "input": dims["input"],
        "filter": dims["filter"],
        "middle": dims["output"],
        "depthwise_filter": dw_dims["filter"],
        "output": dw_dims["output"],
    }
    arrays += [replace(array, name=f"depthwise_{array.name}") for array in dw_arrays]
    return params, dims, arrays


def lower_pool(ctx: OpContext):
    """MAX_POOL_2D and AVERAGE_POOL_2D: one parameter set (tc_pool_params_t) for both."""
    input_t, output_t = ctx.input_tensor(0), ctx.output_tensor()
    _, in_h, in_w, _ = dims4(input_t.shape)
    window = window_for(ctx, in_h, in_w, ctx.option("filter_height"), ctx.option("filter_width"))
    act_min, act_max = ctx.activation_range()
    params = {
        "filter_h": window.filter_h,
        "filter_w": window.filter_w,
        "stride_h": window.stride_h,
        "stride_w": window.stride_w,
        "pad_top": window.pad_top,
        "pad_left": window.pad_left,
        "act_min": act_min,
        "act_max": act_max,
    }
    if ctx.op.opcode == "AVERAGE_POOL_2D" and (
        window.pad_top >= window.filter_h or window.pad_left >= window.filter_w
    ):
        raise ctx.unsupported("a pooling window lies entirely in the padding")
    return params, {"input": dims4(input_t.shape), "output": dims4(output_t.shape)}, []


def broadcast_operands(ctx: OpContext) -> tuple[dict, list[ConstArray]]:
    """Dims of the two inputs and the output of ADD or MUL, and the constant operands (a
    standalone BatchNormalization becomes MUL and ADD with per-channel constants)."""
    first, second, output = ctx.input_tensor(0), ctx.input_tensor(1), ctx.output_tensor()
    if max(len(first.shape), len(second.shape), len(output.shape)) > 4:
        raise ctx.unsupported("the C kernel handles tensors of up to 4 dimensions")
    dims = {"input1": dims4(first.shape), "input2": dims4(second.shape)}
    dims["output"] = tuple(max(a, b) for a, b in zip(dims["input1"], dims["input2"], strict=True))
    for name in ("input1", "input2"):
        if any(d not in (1, o) for d, o in zip(dims[name], dims["output"], strict=True)):
            raise ctx.unsupported(f"shapes {first.shape} and {second.shape} do not broadcast")
    arrays = [
        ConstArray(name, "int8_t", tensor.data.ravel().astype(np.int64).tolist())
        for name, tensor in (("input1", first), ("input2", second))
        if tensor.is_constant
    ]
    if len(arrays) == 2:
        raise ctx.unsupported("both operands are constants (the converter folds those)")
    return dims, arrays


def per_element(ctx: OpContext, **params) -> dict:
    """Parameters of a kernel that maps each int8 input value to one output value: the two
    zero points, the rounding, the element count, and the op's own ``params``."""
    return {
        "input_zero_point": ctx.quantization(ctx.input_tensor(0)).single_zero_point,
        "output_zero_point": ctx.quantization(ctx.output_tensor()).single_zero_point,
        "rounding": C_ROUNDING[ctx.rounding()],
        "size": int(np.prod(ctx.output_tensor().shape)),
        **params,
    }


def float_edge_params(quant, tensor) -> dict:
    """QUANTIZE from float or DEQUANTIZE to float: the int8 side's scale and zero point."""
    return {
        "scale": quant.single_scale,
        "zero_point": quant.single_zero_point,
        "size": int(np.prod(tensor.shape)),
    }
