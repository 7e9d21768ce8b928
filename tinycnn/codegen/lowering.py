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
from tinycnn.ref.mean import mean_multiplier
from tinycnn.ref.multipliers import output_multipliers
from tinycnn.ref.relu import relu_params
from tinycnn.ref.softmax import softmax_parameters
from tinycnn.ref.window import window_for

C_ROUNDING = {"double": "TC_ROUNDING_DOUBLE", "single": "TC_ROUNDING_SINGLE"}
CTYPES = {np.dtype(np.int8): "int8_t", np.dtype(np.int32): "int32_t"}


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
    input_offsets: list[int]
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
    arrays = [
        _const(ctx, 1, "weights"),
        _const(ctx, 2, "bias"),
        ConstArray("multiplier", "int32_t", multiplier.tolist()),
        ConstArray("shift", "int32_t", shift.tolist()),
    ]
    return params, {}, [a for a in arrays if a is not None]


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


def _lower_add(ctx: OpContext):
    first, second, output = ctx.input_tensor(0), ctx.input_tensor(1), ctx.output_tensor()
    if first.shape != second.shape or first.is_constant or second.is_constant:
        raise ctx.unsupported("the C kernel adds two computed tensors of the same shape only")
    p = add_params(ctx)
    params = {**p.__dict__, "rounding": C_ROUNDING[p.rounding], "size": int(np.prod(output.shape))}
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
    if ctx.op.opcode == "RELU6" and ctx.convention == "tflm":
        raise ctx.unsupported(
            "TFLite Micro's clamp-only RELU6 has no C kernel; use --rounding tflite"
        )
    in_q, out_q = ctx.quantization(input_t), ctx.quantization(output_t)
    multiplier, shift, act_min, act_max = relu_params(ctx)
    params = {
        "input_offset": -in_q.single_zero_point,
        "output_offset": out_q.single_zero_point,
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
    "PAD": ("pad", _lower_pad),
    "RELU": ("relu", _lower_relu),
    "RELU6": ("relu", _lower_relu),
    "RELU_N1_TO_1": ("relu", _lower_relu),
}
ALIASES = {"RESHAPE"}


def lower_model(model: Model, plan: MemoryPlan, convention: str) -> list[KernelCall]:
    """One KernelCall per operator that computes; UnsupportedOperator for anything else."""
    for tensor in model.input_tensors() + model.output_tensors():
        if tensor.dtype != np.int8:
            raise UnsupportedOperator(
                model.operators[0],
                f"the C runtime needs int8 model inputs and outputs, {tensor.name!r} is "
                f"{tensor.dtype.name}",
            )
    calls = []
    for op in model.operators:
        if op.opcode in ALIASES:
            continue
        if op.opcode not in LOWERINGS:
            raise UnsupportedOperator(op, f"no C kernel for {op.opcode} in the tinycnn runtime yet")
        kind, lower = LOWERINGS[op.opcode]
        ctx = OpContext(op=op, model=model, values={}, convention=convention)
        params, dims, arrays = lower(ctx)
        inputs = [
            plan.offset_of(i) for i in op.inputs if i >= 0 and not model.tensors[i].is_constant
        ]
        calls.append(
            KernelCall(kind, op, inputs, plan.offset_of(op.outputs[0]), params, dims, arrays)
        )
    return calls
