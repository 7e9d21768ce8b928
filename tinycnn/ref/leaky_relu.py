"""LEAKY_RELU, int8 (TFLite QuantizeLeakyRelu): non-negative inputs are rescaled by
``input_scale / output_scale``, negative ones by ``alpha * input_scale / output_scale``."""

from __future__ import annotations

import numpy as np

from tinycnn.ref.c_params import per_element
from tinycnn.ref.context import OpContext
from tinycnn.ref.definition import OpDefinition
from tinycnn.ref.fixedpoint import quantize_multiplier, requantize


def leaky_relu_params(ctx: OpContext) -> tuple[int, int, int, int]:
    """(identity_multiplier, identity_shift, alpha_multiplier, alpha_shift), as TFLite's
    Prepare computes them: scales in float32, each product widened to double."""
    input_t, output_t = ctx.input_tensor(0), ctx.output_tensor()
    ctx.require_dtype(input_t, np.int8)
    ctx.require_dtype(output_t, np.int8)
    input_q, output_q = ctx.quantization(input_t), ctx.quantization(output_t)
    alpha = np.float32(ctx.option("alpha", 0.2))
    input_scale, output_scale = np.float32(input_q.single_scale), np.float32(output_q.single_scale)
    identity_multiplier, identity_shift = quantize_multiplier(
        np.float64(input_scale / output_scale)
    )
    alpha_multiplier, alpha_shift = quantize_multiplier(
        np.float64(input_scale * alpha / output_scale)
    )
    return identity_multiplier, identity_shift, alpha_multiplier, alpha_shift


def leaky_relu(ctx: OpContext) -> np.ndarray:
    identity_multiplier, identity_shift, alpha_multiplier, alpha_shift = leaky_relu_params(ctx)
    input_q = ctx.quantization(ctx.input_tensor(0))
    output_q = ctx.quantization(ctx.output_tensor())
    x = ctx.input(0).astype(np.int64) - input_q.single_zero_point
    rounding = ctx.rounding()
    out = (
        np.where(
            x >= 0,
            requantize(x, identity_multiplier, identity_shift, rounding),
            requantize(x, alpha_multiplier, alpha_shift, rounding),
        )
        + output_q.single_zero_point
    )
    return np.clip(out, -128, 127).astype(np.int8)


def lower_leaky_relu(ctx: OpContext):
    identity_multiplier, identity_shift, alpha_multiplier, alpha_shift = leaky_relu_params(ctx)
    params = per_element(
        ctx,
        identity_multiplier=identity_multiplier,
        identity_shift=identity_shift,
        alpha_multiplier=alpha_multiplier,
        alpha_shift=alpha_shift,
    )
    return params, {}, []


OP = OpDefinition(
    name="leaky_relu",
    builtins=("LEAKY_RELU",),
    kernel=leaky_relu,
    lower=lower_leaky_relu,
    c_sources=("tc_leaky_relu_s8.c",),
    tflm_resolver={"LEAKY_RELU": "AddLeakyRelu"},
)
