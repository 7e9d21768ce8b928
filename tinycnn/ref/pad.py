"""PAD / PADV2, int8: copy the input into a larger tensor filled with the pad value, which
is the output zero point (a real 0) unless PADV2 gives a constant."""

from __future__ import annotations

import numpy as np

from tinycnn.ref.c_params import dims4
from tinycnn.ref.context import OpContext
from tinycnn.ref.definition import OpDefinition


def pad(ctx: OpContext) -> np.ndarray:
    input_t, output_t = ctx.input_tensor(0), ctx.output_tensor()
    ctx.require_dtype(input_t, np.int8)
    ctx.require_dtype(output_t, np.int8)
    paddings = np.asarray(ctx.input(1), dtype=np.int64).reshape(-1, 2)
    if paddings[0].any():
        raise ctx.unsupported("padding the batch dimension is not implemented")
    if np.any(paddings < 0):
        raise ctx.unsupported("negative padding is not implemented")
    fill = ctx.quantization(output_t).single_zero_point
    if ctx.has_input(2):
        fill = int(np.asarray(ctx.input(2)).ravel()[0])
    return np.pad(ctx.input(0), [tuple(p) for p in paddings], constant_values=fill).astype(np.int8)


def lower_pad(ctx: OpContext):
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
    return params, {"input": dims4(input_t.shape), "output": dims4(output_t.shape)}, []


OP = OpDefinition(
    name="pad",
    builtins=("PAD",),
    kernel=pad,
    lower=lower_pad,
    c_sources=("tc_pad_s8.c",),
    tflm_resolver={"PAD": "AddPad"},
)
# PADV2 (an explicit padding value): the reference engine runs it, the C runtime not yet.
PADV2_OP = OpDefinition(
    name="padv2",
    builtins=("PADV2",),
    kernel=pad,
    lower=None,
    tflm_resolver={"PADV2": "AddPadV2"},
)
