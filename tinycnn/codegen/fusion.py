"""Operator fusion for the generated C, so that a convolution's output never exists whole.

**CONV_2D + MAX_POOL_2D.** A CONV_2D whose only reader is a MAX_POOL_2D becomes one kernel call
that pools as it convolves.

The pool takes the largest accumulator of each window and requantizes it once. That equals
pooling the requantized values because requantization with a multiplier >= 0, adding the
zero point and clamping never decrease: max(f(a), f(b)) = f(max(a, b)) for a non-decreasing
f. The fusion is made only where that holds and the shapes make it plain:

- the convolution's output is read by that pool alone and is not a model output;
- the pool has VALID padding (every window lies inside the convolution's output);
- the pool's input and output share scale and zero point (TFLite requires it of MAX_POOL_2D);
- every weight scale and the input and output scales are positive (multipliers >= 0).

**CONV_2D streamed into DEPTHWISE_CONV_2D.** A CONV_2D whose only reader is the
DEPTHWISE_CONV_2D after it becomes one call that makes the convolution's output a band of rows
at a time, just ahead of the depthwise convolution's windows
(firmware/tc_conv_depthwise_s8.c): the band holds the rows one depthwise output row reads, so
a MobileNet's first convolution (28x28x16 from a 28x28 picture) needs 3 rows instead of 28.
Both kernels run unchanged on the rows they are given: the values are the unfused ones bit for
bit. It costs a few instructions a row (moving the rows kept, two calls), so a pair is fused
only where it lowers the arena: all candidates are fused, then each is undone again when the
plan without it is no larger, until none can be (fusing a pair takes its 1x1 convolution's
in-place planning away, so fusing every pair can cost more than fusing one).

The fused operator is the first one with the last one's output and, in its options,
``fused_max_pool`` or ``fused_depthwise`` holding both original operators; ``ref/conv.py``
lowers it. The reference engine never sees it: it runs the model as the file has it, and the
tests compare.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from tinycnn.codegen.lowering import scratch_requests
from tinycnn.codegen.planner import plan_memory
from tinycnn.model.ir import Model, Operator
from tinycnn.ref.c_params import FUSED_DEPTHWISE, FUSED_MAX_POOL, window_rows


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


def streamable(model: Model, conv: Operator, depthwise: Operator | None, readers) -> bool:
    """Whether ``depthwise`` may read ``conv``'s output row by row as it is made: the output is
    read by that depthwise convolution alone, one image of int8 with more than one channel
    (one channel runs on the convolution kernel), more rows than the band would hold."""
    if depthwise is None or conv.opcode != "CONV_2D" or FUSED_MAX_POOL in conv.options:
        return False
    middle = conv.outputs[0]
    if depthwise.opcode != "DEPTHWISE_CONV_2D" or depthwise.inputs[0] != middle:
        return False
    if readers.get(middle) != 1 or middle in model.outputs:
        return False
    tensors = [model.tensors[i] for i in (conv.inputs[0], middle, depthwise.outputs[0])]
    if any(t.dtype != np.int8 or len(t.shape) != 4 or t.shape[0] != 1 for t in tensors):
        return False
    weights = model.tensors[depthwise.inputs[1]]
    if not weights.is_constant or tensors[1].shape[-1] < 2:
        return False
    return window_rows(model, depthwise) < tensors[1].shape[1]


def _fused(model: Model, streamed: set[int], readers: dict[int, int]) -> Model:
    """The model with its pool pairs fused and the streamed pairs starting at ``streamed``."""
    operators: list[Operator] = []
    position = 0
    ops = model.operators
    while position < len(ops):
        op = ops[position]
        following = ops[position + 1] if position + 1 < len(ops) else None
        if fusable(model, op, following, readers):
            options = {**op.options, FUSED_MAX_POOL: {"conv": op, "pool": following}}
        elif position in streamed:
            options = {**op.options, FUSED_DEPTHWISE: {"conv": op, "depthwise": following}}
        else:
            operators.append(op)
            position += 1
            continue
        operators.append(replace(op, outputs=following.outputs, options=options))
        position += 2
    return replace(model, operators=operators)


def _arena(model: Model) -> int:
    return plan_memory(model, scratch_requests(model)).arena_bytes


def fuse_operators(model: Model) -> Model:
    """The model with every fusable CONV_2D + MAX_POOL_2D pair made one operator, and the
    CONV_2D + DEPTHWISE_CONV_2D pairs whose streaming lowers the arena."""
    readers = _readers(model)
    ops = model.operators
    candidates = [
        position
        for position in range(len(ops) - 1)
        if streamable(model, ops[position], ops[position + 1], readers)
    ]
    streamed = set(candidates)
    smallest = _arena(_fused(model, streamed, readers)) if streamed else 0
    undone = True
    while undone:  # a pair undone can make another one useless: again until none is
        undone = False
        for position in sorted(streamed):
            size = _arena(_fused(model, streamed - {position}, readers))
            if size <= smallest:
                streamed, smallest, undone = streamed - {position}, size, True
    return _fused(model, streamed, readers)


def original_operators(op: Operator) -> list[Operator]:
    """The operators of the file one (possibly fused) operator stands for."""
    if FUSED_DEPTHWISE in op.options:
        return [op.options[FUSED_DEPTHWISE]["conv"], op.options[FUSED_DEPTHWISE]["depthwise"]]
    fused = op.options.get(FUSED_MAX_POOL)
    return [fused["conv"], fused["pool"]] if fused else [op]
