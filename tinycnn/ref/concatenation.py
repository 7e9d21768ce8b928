"""CONCATENATION, int8: inputs joined along an axis. TFLite requires int8 inputs to share
the output's scale and zero point, so no arithmetic happens."""

from __future__ import annotations

import numpy as np

from tinycnn.ref.c_params import ConstArray
from tinycnn.ref.context import OpContext
from tinycnn.ref.definition import OpDefinition


def concatenation(ctx: OpContext) -> np.ndarray:
    output_t = ctx.output_tensor()
    ctx.require_dtype(output_t, np.int8)
    output_q = ctx.quantization(output_t)
    arrays = []
    for position in range(len(ctx.op.inputs)):
        tensor = ctx.input_tensor(position)
        ctx.require_dtype(tensor, np.int8)
        quant = ctx.quantization(tensor)
        if (quant.single_scale, quant.single_zero_point) != (
            output_q.single_scale,
            output_q.single_zero_point,
        ):
            raise ctx.unsupported(
                f"input {tensor.name!r} has a different scale or zero point than the output"
            )
        value = ctx.input(position)
        if tensor.is_constant:
            value = np.broadcast_to(
                value, (arrays[0].shape[0], *value.shape[1:]) if arrays else value.shape
            )
        arrays.append(value)
    if ctx.option("fused_activation_function", "NONE") != "NONE":
        raise ctx.unsupported("a fused activation on CONCATENATION is not implemented")
    axis = ctx.option("axis", 0)
    axis = axis if axis >= 0 else axis + len(output_t.shape)
    return np.concatenate(arrays, axis=axis)


def lower_concatenation(ctx: OpContext):
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


OP = OpDefinition(
    name="concatenation",
    builtins=("CONCATENATION",),
    kernel=concatenation,
    lower=lower_concatenation,
    c_sources=("tc_concatenation_s8.c",),
    tflm_resolver={"CONCATENATION": "AddConcatenation"},
)
