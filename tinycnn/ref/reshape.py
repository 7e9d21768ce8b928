"""RESHAPE (and the shape-only ops that share it): the values are untouched."""

from __future__ import annotations

import numpy as np

from tinycnn.ref.context import OpContext
from tinycnn.ref.definition import OpDefinition


def reshape(ctx: OpContext) -> np.ndarray:
    x = ctx.input(0)
    output_t = ctx.output_tensor()
    input_t = ctx.input_tensor(0)
    if (
        input_t.quantization
        and output_t.quantization
        and (
            input_t.quantization.single_scale != output_t.quantization.single_scale
            or input_t.quantization.single_zero_point != output_t.quantization.single_zero_point
        )
    ):
        raise ctx.unsupported("input and output quantization differ")
    return x.reshape(x.shape[0], *output_t.shape[1:])


# No C call: the memory planner makes the output an alias of the input.
OP = OpDefinition(
    name="reshape",
    builtins=("RESHAPE",),
    kernel=reshape,
    lower=None,
    alias=True,
    tflm_resolver={"RESHAPE": "AddReshape"},
)
