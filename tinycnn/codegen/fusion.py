"""Operator fusion for the generated C: a CONV_2D whose only reader is a MAX_POOL_2D becomes one
kernel call that pools as it convolves, so the convolution's output never exists whole.

The pool takes the largest accumulator of each window and requantizes it once. That equals
pooling the requantized values because requantization with a multiplier >= 0, adding the
zero point and clamping never decrease: max(f(a), f(b)) = f(max(a, b)) for a non-decreasing
f. The fusion is made only where that holds and the shapes make it plain:

- the convolution's output is read by that pool alone and is not a model output;
- the pool has VALID padding (every window lies inside the convolution's output);
- the pool's input and output share scale and zero point (TFLite requires it of MAX_POOL_2D);
- every weight scale and the input and output scales are positive (multipliers >= 0).

The fused operator is the convolution with the pool's output and, in its options,
``fused_max_pool`` holding both original operators; ``ref/conv.py`` lowers it. The reference
engine never sees it: it runs the model as the file has it, and the tests compare.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from tinycnn.model.ir import Model, Operator
from tinycnn.ref.c_params import FUSED_MAX_POOL


def _readers(model: Model) -> dict[int, int]:
    counts: dict[int, int] = {}
    for op in model.operators:
        for index in op.inputs:
            if index >= 0:
                counts[index] = counts.get(index, 0) + 1
    return counts


def _positive_scales(model: Model, conv: Operator) -> bool:
    tensors = [
        model.tensors[conv.inputs[0]],
        model.tensors[conv.inputs[1]],
        model.tensors[conv.outputs[0]],
    ]
    for tensor in tensors:
        quant = tensor.quantization
        if quant is None or not np.all(np.asarray(quant.scale, dtype=np.float64) > 0):
            return False
    return True


def fusable(model: Model, conv: Operator, pool: Operator | None, readers: dict[int, int]) -> bool:
    """Whether ``pool`` may be computed inside ``conv`` (see the module docstring)."""
    if pool is None or conv.opcode != "CONV_2D" or pool.opcode != "MAX_POOL_2D":
        return False
    middle = conv.outputs[0]
    if pool.inputs[0] != middle or readers.get(middle) != 1 or middle in model.outputs:
        return False
    if pool.options.get("padding", "VALID") != "VALID":
        return False
    before, after = model.tensors[middle], model.tensors[pool.outputs[0]]
    if before.dtype != np.int8 or after.dtype != np.int8:
        return False
    if before.quantization is None or after.quantization is None:
        return False
    same = (
        before.quantization.single_scale == after.quantization.single_scale
        and before.quantization.single_zero_point == after.quantization.single_zero_point
    )
    return same and _positive_scales(model, conv)


def fuse_operators(model: Model) -> Model:
    """The model with every fusable CONV_2D + MAX_POOL_2D pair made one operator."""
    readers = _readers(model)
    operators: list[Operator] = []
    position = 0
    ops = model.operators
    while position < len(ops):
        op = ops[position]
        following = ops[position + 1] if position + 1 < len(ops) else None
        if fusable(model, op, following, readers):
            options = {**op.options, FUSED_MAX_POOL: {"conv": op, "pool": following}}
            operators.append(replace(op, outputs=following.outputs, options=options))
            position += 2
        else:
            operators.append(op)
            position += 1
    return replace(model, operators=operators)


def original_operators(op: Operator) -> list[Operator]:
    """The operators of the file one (possibly fused) operator stands for."""
    fused = op.options.get(FUSED_MAX_POOL)
    return [fused["conv"], fused["pool"]] if fused else [op]
