"""MAX_POOL_2D, int8: the largest in-bounds cell of each window, clamped to the activation."""

from __future__ import annotations

import numpy as np

from tinycnn.ref.c_params import lower_pool
from tinycnn.ref.context import OpContext
from tinycnn.ref.definition import OpDefinition
from tinycnn.ref.window import window_for


def max_pool_2d(ctx: OpContext) -> np.ndarray:
    input_t, output_t = ctx.input_tensor(0), ctx.output_tensor()
    ctx.require_dtype(input_t, np.int8)
    ctx.require_dtype(output_t, np.int8)
    x = ctx.input(0).astype(np.int64)
    _, in_h, in_w, _ = x.shape
    window = window_for(ctx, in_h, in_w, ctx.option("filter_height"), ctx.option("filter_width"))
    act_min, act_max = ctx.activation_range()
    # Padding cells hold a value below int8's range, so they never win the maximum.
    padded = window.pad(x, fill=np.iinfo(np.int8).min - 1)
    best = np.full((x.shape[0], window.out_h, window.out_w, x.shape[3]), np.iinfo(np.int64).min)
    for filter_y, filter_x in window.taps():
        np.maximum(best, window.tap(padded, filter_y, filter_x), out=best)
    return np.clip(best, act_min, act_max).astype(np.int8)


OP = OpDefinition(
    name="max_pool",
    builtins=("MAX_POOL_2D",),
    kernel=max_pool_2d,
    lower=lower_pool,
    c_sources=("tc_max_pool_s8.c",),
    cmsis_nn="arm_max_pool_s8",
    tflm_resolver={"MAX_POOL_2D": "AddMaxPool2D"},
    feature_map=True,
)
