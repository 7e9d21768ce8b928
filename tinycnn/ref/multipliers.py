"""Output multipliers of the weighted ops (conv, depthwise conv, fully connected).

TFLite's PopulateConvolutionQuantizationParams computes, per output channel,
``double(input_scale) * double(filter_scale[c]) / double(output_scale)`` and turns it into a
Q31 multiplier and shift; a per-tensor filter scale is used for every channel.
"""

from __future__ import annotations

import numpy as np

from tinycnn.model.ir import Tensor
from tinycnn.ref.context import OpContext
from tinycnn.ref.fixedpoint import quantize_multipliers


def output_multipliers(
    ctx: OpContext, input_t: Tensor, filter_t: Tensor, output_t: Tensor, channels: int
) -> tuple[np.ndarray, np.ndarray]:
    input_scale = np.float64(ctx.quantization(input_t).single_scale)
    output_scale = np.float64(ctx.quantization(output_t).single_scale)
    filter_scales = ctx.quantization(filter_t).scale.astype(np.float64)
    if filter_scales.size not in (1, channels):
        raise ctx.unsupported(f"{filter_scales.size} filter scales for {channels} output channels")
    effective = input_scale * np.broadcast_to(filter_scales, (channels,)) / output_scale
    return quantize_multipliers(effective)
