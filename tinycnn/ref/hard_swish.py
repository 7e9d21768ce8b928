"""HARD_SWISH, int8 (TFLite reference_ops::HardSwish): ``x * relu6(x + 3) / 6`` in 16-bit
fixed point.

The input, shifted left 7 bits ("hires" scale), is (a) rescaled to the output scale before
the final shift and (b) rescaled to a "relu-ish" value where 3.0 maps to 32768, saturated
to [-1, 1) and mapped to [0, 1). Their product (truncating doubling high multiply) is
shifted right to the output scale. Multipliers are Q15, rounded down from Q31.
"""

from __future__ import annotations

import numpy as np

from tinycnn.ref.c_params import per_element
from tinycnn.ref.context import OpContext
from tinycnn.ref.definition import OpDefinition
from tinycnn.ref.fixedpoint import quantize_multiplier, rounding_divide_by_pot

INT16_MIN, INT16_MAX = -(2**15), 2**15 - 1


def downscale_multiplier_to_int16(multiplier: int) -> int:
    """TFLite's DownScaleInt32ToInt16Multiplier: Q31 -> Q15, rounding half up, saturating."""
    if multiplier >= 2**31 - 1 - (1 << 15):
        return INT16_MAX
    return (multiplier + (1 << 15)) >> 16


def _saturating_rounding_doubling_high_mul_16(a: np.ndarray, b: int) -> np.ndarray:
    product = a * b
    nudge = np.where(product >= 0, 1 << 14, 1 - (1 << 14))
    total = product + nudge
    high = np.sign(total) * (np.abs(total) >> 15)  # C division truncates
    return np.where((a == INT16_MIN) & (b == INT16_MIN), INT16_MAX, high)


def _saturating_doubling_high_mul_16(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Like the rounding version but truncating towards zero (Arm's SQDMULH)."""
    product = a * b
    high = np.sign(product) * (np.abs(product) >> 15)
    return np.where((a == INT16_MIN) & (b == INT16_MIN), INT16_MAX, high)


def _saturating_left_shift_16(value: np.ndarray, amount: int) -> np.ndarray:
    return np.clip(value * (1 << amount), INT16_MIN, INT16_MAX)


def hard_swish_params(ctx: OpContext) -> tuple[int, int, int, int]:
    """(output_multiplier_16, output_exponent, reluish_multiplier_16, reluish_exponent)."""
    input_t, output_t = ctx.input_tensor(0), ctx.output_tensor()
    ctx.require_dtype(input_t, np.int8)
    ctx.require_dtype(output_t, np.int8)
    input_q, output_q = ctx.quantization(input_t), ctx.quantization(output_t)
    hires_input_scale = np.float32(1.0 / 128.0) * np.float32(input_q.single_scale)
    reluish_scale = np.float32(3.0 / 32768.0)
    output_scale = np.float32(output_q.single_scale)
    if ctx.convention == "tflm":
        # TFLite Micro divides the float32 scales widened to double (its built Prepare does
        # divsd): a quotient a float32 division rounds up to a tie of the Q15 downscale can
        # fall below it, and the multiplier is one less.
        output_real = float(hires_input_scale) / float(output_scale)
        reluish_real = float(hires_input_scale) / float(reluish_scale)
    else:  # LiteRT divides in float32, then widens the quotient
        output_real = float(np.float32(hires_input_scale / output_scale))
        reluish_real = float(np.float32(hires_input_scale / reluish_scale))
    output_multiplier, output_exponent = quantize_multiplier(output_real)
    reluish_multiplier, reluish_exponent = quantize_multiplier(reluish_real)
    if output_exponent > 0:
        raise ctx.unsupported(
            "output scale below input scale / 128 is not supported by TFLite either"
        )
    output_multiplier_16 = downscale_multiplier_to_int16(output_multiplier)
    reluish_multiplier_16 = downscale_multiplier_to_int16(reluish_multiplier)
    return output_multiplier_16, output_exponent, reluish_multiplier_16, reluish_exponent


def hard_swish(ctx: OpContext) -> np.ndarray:
    output_multiplier_16, output_exponent, reluish_multiplier_16, reluish_exponent = (
        hard_swish_params(ctx)
    )
    input_q = ctx.quantization(ctx.input_tensor(0))
    output_q = ctx.quantization(ctx.output_tensor())
    x = ctx.input(0).astype(np.int64) - input_q.single_zero_point
    hires = x * (1 << 7)  # |x| <= 255, so this fits int16
    preshift_output = _saturating_rounding_doubling_high_mul_16(hires, output_multiplier_16)
    reluish = hires
    if reluish_exponent > 0:
        reluish = _saturating_left_shift_16(reluish, reluish_exponent - 1)
    reluish = _saturating_rounding_doubling_high_mul_16(reluish, reluish_multiplier_16)
    if reluish_exponent > 0:
        reluish = _saturating_left_shift_16(reluish, 1)
    if reluish_exponent < 0:
        reluish = rounding_divide_by_pot(reluish, -reluish_exponent)
    reluish = (reluish + (1 << 15)) >> 1  # [-1, 1) -> [0, 1)
    preshift = _saturating_doubling_high_mul_16(reluish, preshift_output)
    out = rounding_divide_by_pot(preshift, -output_exponent) + output_q.single_zero_point
    return np.clip(out, -128, 127).astype(np.int8)


def lower_hard_swish(ctx: OpContext):
    output_multiplier, output_exponent, reluish_multiplier, reluish_exponent = hard_swish_params(
        ctx
    )
    params = per_element(
        ctx,
        output_multiplier_16=output_multiplier,
        output_exponent=output_exponent,
        reluish_multiplier_16=reluish_multiplier,
        reluish_exponent=reluish_exponent,
    )
    return params, {}, []


OP = OpDefinition(
    name="hard_swish",
    builtins=("HARD_SWISH",),
    kernel=hard_swish,
    lower=lower_hard_swish,
    c_sources=("tc_hard_swish_s8.c",),
    tflm_resolver={"HARD_SWISH": "AddHardSwish"},
)
