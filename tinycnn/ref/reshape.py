"""RESHAPE and the shape-only ops that share it (EXPAND_DIMS and SQUEEZE, which the converter
writes around a Conv1D): the values are untouched, the output takes its declared shape."""

from __future__ import annotations

import numpy as np

from tinycnn.ref.context import OpContext
from tinycnn.ref.definition import OpDefinition


def _requested_shape(ctx: OpContext) -> list[int] | None:
    """RESHAPE's shape input (a constant, or folded from SHAPE arithmetic when the model was
    read) with its -1 resolved; None when it has none or it cannot be resolved."""
    if ctx.op.opcode != "RESHAPE" or len(ctx.op.inputs) < 2 or ctx.op.inputs[1] < 0:
        return None
    shape_t = ctx.input_tensor(1)
    if not shape_t.is_constant or shape_t.data.ndim != 1:
        return None
    shape = [int(d) for d in shape_t.data]
    size = int(np.prod(ctx.input_tensor(0).shape, dtype=np.int64))
    known = int(np.prod([d for d in shape if d != -1], dtype=np.int64))
    if shape.count(-1) == 1 and known and size % known == 0:
        shape[shape.index(-1)] = size // known
    return shape if -1 not in shape else None


def reshape(ctx: OpContext) -> np.ndarray:
    x = ctx.input(0)
    output_t = ctx.output_tensor()
    input_t = ctx.input_tensor(0)
    requested = _requested_shape(ctx)
    if requested is not None and requested != list(output_t.shape):
        raise ctx.unsupported(
            f"its output is declared {list(output_t.shape)} but its shape input gives "
            f"{requested}: the file was converted with dynamic shapes; convert the model with a "
            "fixed input shape, batch 1"
        )
    if (
        input_t.quantization
        and output_t.quantization
        and (
            input_t.quantization.single_scale != output_t.quantization.single_scale
            or input_t.quantization.single_zero_point != output_t.quantization.single_zero_point
        )
    ):
        raise ctx.unsupported("input and output quantization differ")
    if x.size != x.shape[0] * int(np.prod(output_t.shape[1:], dtype=np.int64)):
        raise ctx.unsupported(
            f"a reshape from {list(input_t.shape)} to {list(output_t.shape)} moves values across "
            "the batch axis (what the converter writes for a Dense layer on a 3-D input)"
        )
    return x.reshape(x.shape[0], *output_t.shape[1:])


# No C call: the memory planner makes the output an alias of the input.
OP = OpDefinition(
    name="reshape",
    builtins=("RESHAPE", "EXPAND_DIMS", "SQUEEZE"),
    kernel=reshape,
    lower=None,
    alias=True,
    tflm_resolver={
        "RESHAPE": "AddReshape",
        "EXPAND_DIMS": "AddExpandDims",
        "SQUEEZE": "AddSqueeze",
    },
)
