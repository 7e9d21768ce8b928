"""Lowering: each operator of an ``ir.Model`` becomes one call of a C kernel in firmware/.

Quantization parameters come from the same helpers the numpy kernels use, so the C runs the
numbers the reference engine runs. The result is plain data for the templates: constant
arrays, parameter values and arena offsets, never C text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tinycnn.codegen.planner import MemoryPlan
from tinycnn.ir import Model, Operator, UnsupportedOperator
from tinycnn.ref.add import add_params
from tinycnn.ref.context import OpContext
from tinycnn.ref.hard_swish import hard_swish_params
from tinycnn.ref.leaky_relu import leaky_relu_params
from tinycnn.ref.logistic import logistic_params
from tinycnn.ref.mean import mean_multiplier
from tinycnn.ref.mul import mul_multiplier
from tinycnn.ref.multipliers import output_multipliers
from tinycnn.ref.quantize import requantize_multiplier
from tinycnn.ref.relu import relu_params, tflm_relu6_bounds
from tinycnn.ref.runner import check_supported
from tinycnn.ref.softmax import softmax_parameters
from tinycnn.ref.space_to_batch_nd import block_and_pairs
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
        return len(self.values) * (1 if self.ctype == "int8_t" else 4)


@dataclass
class KernelCall:
    kind: str  # the template macro (and C kernel) to use
    op: Operator
    input_offsets: list[int | None]  # arena offset per input position; None for constants
    output_offset: int
    params: dict = field(default_factory=dict)
    dims: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)
    arrays: list[ConstArray] = field(default_factory=list)


def _dims4(shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    padded = (1,) * (4 - len(shape)) + tuple(shape)
    if len(padded) != 4:
        raise ValueError(f"shape {shape} has more than 4 dimensions")
    return tuple(int(d) for d in padded)


def _const(ctx: OpContext, position: int, name: str) -> ConstArray | None:
    if not ctx.has_input(position):
        return None
    tensor = ctx.input_tensor(position)
    if not tensor.is_constant:
        raise ctx.unsupported(f"input {position} must be a constant for the C kernel")
    return ConstArray(name, CTYPES[tensor.dtype], tensor.data.ravel().astype(np.int64).tolist())


def _folded_bias(ctx: OpContext, weights: np.ndarray, input_offset: int) -> ConstArray:
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


def scratch_requests(model: Model) -> dict[int, int]:
    """Scratch bytes per operator index: a CONV_2D gathers the input windows of two output
    cells at a time."""
    requests = {}
    for op in model.operators:
        if op.opcode == "CONV_2D":
            filter_shape = model.tensors[op.inputs[1]].shape
            requests[op.index] = 2 * int(np.prod(filter_shape[1:]))
    return requests


def _lower_conv(ctx: OpContext, kind: str) -> tuple[dict, dict, list[ConstArray]]:
    input_t, filter_t, output_t = ctx.input_tensor(0), ctx.input_tensor(1), ctx.output_tensor()
    for tensor in (input_t, filter_t, output_t):
        ctx.require_dtype(tensor, np.int8)
    if not filter_t.is_constant:
        raise ctx.unsupported("the C kernel needs constant weights")
    _, in_h, in_w, in_c = _dims4(input_t.shape)
    filter_dims = _dims4(filter_t.shape)
    out_c = output_t.shape[-1]
    if kind == "conv" and filter_dims[3] != in_c:
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
        "depth_multiplier": out_c // in_c if kind == "depthwise_conv" else 1,
        "act_min": act_min,
        "act_max": act_max,
        "rounding": C_ROUNDING[ctx.rounding()],
    }
    arrays = [
        _const(ctx, 1, "filter"),
        _const(ctx, 2, "bias"),
        ConstArray("multiplier", "int32_t", multiplier.tolist()),
        ConstArray("shift", "int32_t", shift.tolist()),
    ]
    arrays.append(_folded_bias(ctx, filter_t.data, params["input_offset"]))
    dims = {"input": _dims4(input_t.shape), "filter": filter_dims, "output": _dims4(output_t.shape)}
    return params, dims, [a for a in arrays if a is not None]


def _lower_fully_connected(ctx: OpContext):
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
    }
    # The folded bias holds the bias: the kernel never reads the bias array itself.
    arrays = [
        _const(ctx, 1, "weights"),
        ConstArray("multiplier", "int32_t", multiplier.tolist()),
        ConstArray("shift", "int32_t", shift.tolist()),
        _folded_bias(ctx, weights_t.data, params["input_offset"]),
    ]
    return params, {}, arrays


def _lower_pool(ctx: OpContext):
    input_t, output_t = ctx.input_tensor(0), ctx.output_tensor()
    _, in_h, in_w, _ = _dims4(input_t.shape)
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
    return params, {"input": _dims4(input_t.shape), "output": _dims4(output_t.shape)}, []


def _lower_softmax(ctx: OpContext):
    input_t, output_t = ctx.input_tensor(0), ctx.output_tensor()
    quant = ctx.quantization(output_t)
    if quant.single_scale != 1 / 256 or quant.single_zero_point != -128:
        raise ctx.unsupported("int8 softmax output must have scale 1/256 and zero point -128")
    multiplier, left_shift, diff_min = softmax_parameters(
        ctx.option("beta", 1.0), ctx.quantization(input_t).single_scale
    )
    depth = input_t.shape[-1]
    params = {
        "input_multiplier": multiplier,
        "input_left_shift": left_shift,
        "diff_min": diff_min,
        "rounding": C_ROUNDING[ctx.rounding()],
        "rows": int(np.prod(input_t.shape)) // depth,
        "depth": depth,
    }
    return params, {}, []


def _lower_mean(ctx: OpContext):
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
    return params, {"input": _dims4(input_t.shape)}, []


def _broadcast_operands(ctx: OpContext) -> tuple[dict, list[ConstArray]]:
    """Dims of the two inputs and the output of ADD or MUL, and the constant operands (a
    standalone BatchNormalization becomes MUL and ADD with per-channel constants)."""
    first, second, output = ctx.input_tensor(0), ctx.input_tensor(1), ctx.output_tensor()
    if max(len(first.shape), len(second.shape), len(output.shape)) > 4:
        raise ctx.unsupported("the C kernel handles tensors of up to 4 dimensions")
    dims = {"input1": _dims4(first.shape), "input2": _dims4(second.shape)}
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


def _lower_add(ctx: OpContext):
    dims, arrays = _broadcast_operands(ctx)
    p = add_params(ctx)
    return {**p.__dict__, "rounding": C_ROUNDING[p.rounding]}, dims, arrays


def _lower_mul(ctx: OpContext):
    for tensor in (ctx.input_tensor(0), ctx.input_tensor(1), ctx.output_tensor()):
        ctx.require_dtype(tensor, np.int8)
    dims, arrays = _broadcast_operands(ctx)
    multiplier, shift = mul_multiplier(ctx)
    act_min, act_max = ctx.activation_range()
    params = {
        "input1_offset": -ctx.quantization(ctx.input_tensor(0)).single_zero_point,
        "input2_offset": -ctx.quantization(ctx.input_tensor(1)).single_zero_point,
        "output_offset": ctx.quantization(ctx.output_tensor()).single_zero_point,
        "multiplier": multiplier,
        "shift": shift,
        "act_min": act_min,
        "act_max": act_max,
        "rounding": C_ROUNDING[ctx.rounding()],
    }
    return params, dims, arrays


def _lower_concatenation(ctx: OpContext):
    output_t = ctx.output_tensor()
    ctx.require_dtype(output_t, np.int8)
    output_q = ctx.quantization(output_t)
    rank = len(output_t.shape)
    axis = ctx.option("axis", 0) % rank
    axis_sizes = []
    for position in range(len(ctx.op.inputs)):
        tensor = ctx.input_tensor(position)
        ctx.require_dtype(tensor, np.int8)
        quant = ctx.quantization(tensor)
        if tensor.is_constant:
            raise ctx.unsupported("the C kernel concatenates computed tensors only")
        if (quant.single_scale, quant.single_zero_point) != (
            output_q.single_scale,
            output_q.single_zero_point,
        ):
            raise ctx.unsupported(
                f"input {tensor.name!r} has a different scale or zero point than the output"
            )
        axis_sizes.append(int(tensor.shape[axis]))
    if ctx.option("fused_activation_function", "NONE") != "NONE":
        raise ctx.unsupported("a fused activation on CONCATENATION is not implemented")
    params = {
        "count": len(axis_sizes),
        "outer": int(np.prod(output_t.shape[:axis])),
        "inner": int(np.prod(output_t.shape[axis + 1 :])),
    }
    return params, {}, [ConstArray("axis_sizes", "int32_t", axis_sizes)]


def _lower_quantize(ctx: OpContext):
    input_t, output_t = ctx.input_tensor(0), ctx.output_tensor()
    ctx.require_dtype(output_t, np.int8)
    output_q = ctx.quantization(output_t)
    if output_q.per_channel:
        raise ctx.unsupported("per-channel QUANTIZE output is not implemented")
    if input_t.dtype == np.float32:
        return {**_float_edge_params(output_q, output_t), "from_float": True}, {}, []
    ctx.require_dtype(input_t, np.int8)
    multiplier, shift = requantize_multiplier(ctx)
    return _per_element(ctx, from_float=False, multiplier=multiplier, shift=shift), {}, []


def _float_edge_params(quant, tensor) -> dict:
    """QUANTIZE from float or DEQUANTIZE to float: the int8 side's scale and zero point."""
    return {
        "scale": quant.single_scale,
        "zero_point": quant.single_zero_point,
        "size": int(np.prod(tensor.shape)),
    }


def _lower_dequantize(ctx: OpContext):
    input_t, output_t = ctx.input_tensor(0), ctx.output_tensor()
    ctx.require_dtype(input_t, np.int8)
    ctx.require_dtype(output_t, np.float32)
    input_q = ctx.quantization(input_t)
    if input_q.per_channel:
        raise ctx.unsupported("per-channel DEQUANTIZE is not implemented")
    return _float_edge_params(input_q, input_t), {}, []


def _lower_space_to_batch(ctx: OpContext):
    input_t, output_t = ctx.input_tensor(0), ctx.output_tensor()
    ctx.require_dtype(input_t, np.int8)
    if len(input_t.shape) != 4:
        raise ctx.unsupported("the C kernel moves blocks of [N, H, W, C] tensors only")
    (block_h, block_w), pairs = block_and_pairs(ctx)
    params = {
        "block_h": block_h,
        "block_w": block_w,
        "pad_top": int(pairs[0, 0]),
        "pad_left": int(pairs[1, 0]),
        "pad_value": ctx.quantization(output_t).single_zero_point,
    }
    return params, {"input": _dims4(input_t.shape), "output": _dims4(output_t.shape)}, []


def _per_element(ctx: OpContext, **params) -> dict:
    """Parameters of a kernel that maps each int8 input value to one output value: the two
    zero points, the rounding, the element count, and the op's own ``params``."""
    return {
        "input_zero_point": ctx.quantization(ctx.input_tensor(0)).single_zero_point,
        "output_zero_point": ctx.quantization(ctx.output_tensor()).single_zero_point,
        "rounding": C_ROUNDING[ctx.rounding()],
        "size": int(np.prod(ctx.output_tensor().shape)),
        **params,
    }


def _lower_leaky_relu(ctx: OpContext):
    identity_multiplier, identity_shift, alpha_multiplier, alpha_shift = leaky_relu_params(ctx)
    params = _per_element(
        ctx,
        identity_multiplier=identity_multiplier,
        identity_shift=identity_shift,
        alpha_multiplier=alpha_multiplier,
        alpha_shift=alpha_shift,
    )
    return params, {}, []


def _lower_logistic(ctx: OpContext):
    multiplier, left_shift, radius = logistic_params(ctx)
    params = _per_element(
        ctx, input_multiplier=multiplier, input_left_shift=left_shift, input_radius=radius
    )
    return params, {}, []


def _lower_hard_swish(ctx: OpContext):
    output_multiplier, output_exponent, reluish_multiplier, reluish_exponent = hard_swish_params(
        ctx
    )
    params = _per_element(
        ctx,
        output_multiplier_16=output_multiplier,
        output_exponent=output_exponent,
        reluish_multiplier_16=reluish_multiplier,
        reluish_exponent=reluish_exponent,
    )
    return params, {}, []


def _lower_pad(ctx: OpContext):
    input_t, output_t = ctx.input_tensor(0), ctx.output_tensor()
    paddings = np.asarray(ctx.input(1), dtype=np.int64).reshape(-1, 2)
    if len(input_t.shape) != 4 or paddings[0].any() or paddings[3].any() or ctx.has_input(2):
        raise ctx.unsupported(
            "the C kernel pads height and width of a 4-D tensor with the zero point only"
        )
    params = {
        "pad_top": int(paddings[1, 0]),
        "pad_left": int(paddings[2, 0]),
        "pad_value": ctx.quantization(output_t).single_zero_point,
    }
    return params, {"input": _dims4(input_t.shape), "output": _dims4(output_t.shape)}, []


def _lower_relu(ctx: OpContext):
    input_t, output_t = ctx.input_tensor(0), ctx.output_tensor()
    in_q, out_q = ctx.quantization(input_t), ctx.quantization(output_t)
    output_zero_point = out_q.single_zero_point
    if ctx.op.opcode == "RELU6" and ctx.convention == "tflm":
        # TFLite Micro clamps and copies: a factor of exactly 1 (2^30 * 2^(1 - 31)) rescales
        # nothing, and the input's zero point comes back out.
        multiplier, shift = 1 << 30, 1
        act_min, act_max = tflm_relu6_bounds(in_q.single_scale, in_q.single_zero_point)
        output_zero_point = in_q.single_zero_point
    else:
        multiplier, shift, act_min, act_max = relu_params(ctx)
    params = {
        "input_offset": -in_q.single_zero_point,
        "output_offset": output_zero_point,
        "multiplier": multiplier,
        "shift": shift,
        "act_min": act_min,
        "act_max": act_max,
        "rounding": C_ROUNDING[ctx.rounding()],
        "size": int(np.prod(output_t.shape)),
    }
    return params, {}, []


# Operator -> (template macro, lowering). RESHAPE needs no call: the planner aliases it.
LOWERINGS = {
    "CONV_2D": ("conv", lambda ctx: _lower_conv(ctx, "conv")),
    "DEPTHWISE_CONV_2D": ("depthwise_conv", lambda ctx: _lower_conv(ctx, "depthwise_conv")),
    "FULLY_CONNECTED": ("fully_connected", _lower_fully_connected),
    "MAX_POOL_2D": ("max_pool", _lower_pool),
    "AVERAGE_POOL_2D": ("average_pool", _lower_pool),
    "SOFTMAX": ("softmax", _lower_softmax),
    "MEAN": ("mean", _lower_mean),
    "ADD": ("add", _lower_add),
    "MUL": ("mul", _lower_mul),
    "CONCATENATION": ("concatenation", _lower_concatenation),
    "QUANTIZE": ("quantize", _lower_quantize),
    "DEQUANTIZE": ("dequantize", _lower_dequantize),
    "SPACE_TO_BATCH_ND": ("space_to_batch_nd", _lower_space_to_batch),
    "BATCH_TO_SPACE_ND": ("batch_to_space_nd", _lower_space_to_batch),
    "PAD": ("pad", _lower_pad),
    "RELU": ("relu", _lower_relu),
    "RELU6": ("relu", _lower_relu),
    "RELU_N1_TO_1": ("relu", _lower_relu),
    "LEAKY_RELU": ("leaky_relu", _lower_leaky_relu),
    "LOGISTIC": ("logistic", _lower_logistic),
    "HARD_SWISH": ("hard_swish", _lower_hard_swish),
}
ALIASES = {"RESHAPE"}


def lower_model(model: Model, plan: MemoryPlan, convention: str) -> list[KernelCall]:
    """One KernelCall per operator that computes; UnsupportedOperator for anything else.

    Floats only appear at the edges of a model with a float interface (QUANTIZE, DEQUANTIZE);
    ``check_supported`` refuses any other operator computing in float.
    """
    check_supported(model)
    calls = []
    for op in model.operators:
        if op.opcode in ALIASES:
            continue
        if op.opcode not in LOWERINGS:
            raise UnsupportedOperator(op, f"no C kernel for {op.opcode} in the tinycnn runtime yet")
        kind, lower = LOWERINGS[op.opcode]
        ctx = OpContext(op=op, model=model, values={}, convention=convention)
        params, dims, arrays = lower(ctx)
        if op.index in plan.scratch_offsets:
            params["scratch_offset"] = plan.scratch_offsets[op.index]
        inputs = [
            None if i < 0 or model.tensors[i].is_constant else plan.offset_of(i) for i in op.inputs
        ]
        calls.append(
            KernelCall(kind, op, inputs, plan.offset_of(op.outputs[0]), params, dims, arrays)
        )
    return calls
