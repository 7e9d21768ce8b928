"""ADD, int8 (TFLite reference_integer_ops::Add with its 20-bit headroom scheme).

Both inputs are rescaled to a common scale ``2 * max(scale1, scale2)`` after a left shift of
20 bits, added in int32, and the sum rescaled to the output; three requantizations.
"""

from __future__ import annotations

import numpy as np

from tinycnn.ref.context import OpContext
from tinycnn.ref.fixedpoint import quantize_multiplier, requantize

LEFT_SHIFT = 20  # int8: (x - zp) * 2**20 < 2**29, leaving headroom for the sum


def add(ctx: OpContext) -> np.ndarray:
    first_t, second_t, output_t = ctx.input_tensor(0), ctx.input_tensor(1), ctx.output_tensor()
    for tensor in (first_t, second_t, output_t):
        ctx.require_dtype(tensor, np.int8)
    first_q, second_q, output_q = (ctx.quantization(t) for t in (first_t, second_t, output_t))
    # The real factors in double, as TFLite's PrepareGeneralSubOp computes them.
    twice_max_input_scale = 2.0 * max(
        np.float64(first_q.single_scale), np.float64(second_q.single_scale)
    )
    first_multiplier, first_shift = quantize_multiplier(
        np.float64(first_q.single_scale) / twice_max_input_scale
    )
    second_multiplier, second_shift = quantize_multiplier(
        np.float64(second_q.single_scale) / twice_max_input_scale
    )
    output_multiplier, output_shift = quantize_multiplier(
        twice_max_input_scale
        / np.float64(np.float32((1 << LEFT_SHIFT) * np.float32(output_q.single_scale)))
    )
    act_min, act_max = ctx.activation_range()
    rounding = ctx.rounding()

    first = (ctx.input(0).astype(np.int64) - first_q.single_zero_point) << LEFT_SHIFT
    second = (ctx.input(1).astype(np.int64) - second_q.single_zero_point) << LEFT_SHIFT
    scaled_first = requantize(first, first_multiplier, first_shift, rounding)
    scaled_second = requantize(second, second_multiplier, second_shift, rounding)
    total = scaled_first + scaled_second
    out = requantize(total, output_multiplier, output_shift, rounding) + output_q.single_zero_point
    return np.clip(out, act_min, act_max).astype(np.int8)
