"""PAD / PADV2, int8: copy the input into a larger tensor filled with the pad value, which
is the output zero point (a real 0) unless PADV2 gives a constant."""

from __future__ import annotations

import numpy as np

from tinycnn.ref.context import OpContext


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
