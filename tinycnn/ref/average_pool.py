"""AVERAGE_POOL_2D, int8 (TFLite reference_integer_ops::AveragePool).

Sum of the in-bounds cells of each window divided by their count, rounded half away from
zero (``fixedpoint.rounding_divide``), then clamped to the activation range.
"""

from __future__ import annotations

import numpy as np

from tinycnn.ref.c_params import lower_pool
from tinycnn.ref.context import OpContext
from tinycnn.ref.definition import OpDefinition
from tinycnn.ref.fixedpoint import rounding_divide
from tinycnn.ref.window import window_for


def average_pool_2d(ctx: OpContext) -> np.ndarray:
    input_t, output_t = ctx.input_tensor(0), ctx.output_tensor()
    ctx.require_dtype(input_t, np.int8)
    ctx.require_dtype(output_t, np.int8)
    x = ctx.input(0).astype(np.int64)
    batches, in_h, in_w, channels = x.shape
    window = window_for(ctx, in_h, in_w, ctx.option("filter_height"), ctx.option("filter_width"))
    act_min, act_max = ctx.activation_range()
    padded = window.pad(x, fill=0)
    inside = window.pad(np.ones((1, in_h, in_w, 1), dtype=np.int64), fill=0)
    total = np.zeros((batches, window.out_h, window.out_w, channels), dtype=np.int64)
    count = np.zeros((1, window.out_h, window.out_w, 1), dtype=np.int64)
    for filter_y, filter_x in window.taps():
        total += window.tap(padded, filter_y, filter_x)
        count += window.tap(inside, filter_y, filter_x)
    if np.any(count == 0):
        raise ctx.unsupported("a pooling window lies entirely in the padding")
    return np.clip(rounding_divide(total, count), act_min, act_max).astype(np.int8)


OP = OpDefinition(
    name="average_pool",
    builtins=("AVERAGE_POOL_2D",),
    kernel=average_pool_2d,
    lower=lower_pool,
    c_sources=("tc_average_pool_s8.c",),
    cmsis_nn="arm_avgpool_s8",
    tflm_resolver={"AVERAGE_POOL_2D": "AddAveragePool2D"},
    feature_map=True,
)
