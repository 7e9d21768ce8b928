"""STRIDED_SLICE, int8: a slice of the input, values untouched (what the converter emits for
``x[:, -1, :]``, the last step of an LSTM's sequence).

Begin, end and strides are constant tensors; a bit set in ``begin_mask``/``end_mask`` means
"from the start"/"to the end" along that axis, one set in ``shrink_axis_mask`` takes the single
index ``begin`` and drops the axis. Negative indices count from the end, as in Python. The
batch axis must be taken whole, so that a batch of inputs slices like one.
"""

from __future__ import annotations

import numpy as np

from tinycnn.ref.c_params import ConstArray, dims4
from tinycnn.ref.context import OpContext
from tinycnn.ref.definition import OpDefinition


def slices(ctx: OpContext) -> tuple[list, list[int]]:
    """(one Python slice or index per axis after the batch, the axes dropped)."""
    input_t = ctx.input_tensor(0)
    for position in (1, 2, 3):
        if not ctx.input_tensor(position).is_constant:
            raise ctx.unsupported("begin, end and strides must be constant")
    if (
        ctx.option("ellipsis_mask", 0)
        or ctx.option("new_axis_mask", 0)
        or ctx.option("offset", False)
    ):
        raise ctx.unsupported("ellipsis, new-axis and offset slicing are not implemented")
    begin, end, strides = (ctx.input(p).astype(np.int64).tolist() for p in (1, 2, 3))
    begin_mask, end_mask = ctx.option("begin_mask", 0), ctx.option("end_mask", 0)
    shrink_mask = ctx.option("shrink_axis_mask", 0)
    if len(begin) != len(input_t.shape):
        raise ctx.unsupported("begin, end and strides must name every axis")
    batch_whole = (begin_mask & 1 or begin[0] == 0) and (end_mask & 1 or end[0] >= 1)
    if not batch_whole or shrink_mask & 1 or strides[0] != 1:
        raise ctx.unsupported("the batch axis must be taken whole")
    chosen, dropped = [], []
    for axis in range(1, len(begin)):
        if shrink_mask >> axis & 1:
            chosen.append(begin[axis])
            dropped.append(axis)
            continue
        start = None if begin_mask >> axis & 1 else begin[axis]
        stop = None if end_mask >> axis & 1 else end[axis]
        chosen.append(slice(start, stop, strides[axis]))
    return chosen, dropped


def _check_quantization(ctx: OpContext) -> None:
    input_q, output_q = ctx.input_tensor(0).quantization, ctx.output_tensor().quantization
    if (
        input_q
        and output_q
        and (
            (input_q.single_scale, input_q.single_zero_point)
            != (output_q.single_scale, output_q.single_zero_point)
        )
    ):
        raise ctx.unsupported("input and output quantization differ")


def strided_slice(ctx: OpContext) -> np.ndarray:
    _check_quantization(ctx)
    chosen, _ = slices(ctx)
    return ctx.input(0)[(slice(None), *chosen)]


def lower_strided_slice(ctx: OpContext):
    """Per axis of the input padded to 4-D: the first index, the step and how many to take."""
    input_t = ctx.input_tensor(0)
    ctx.require_dtype(input_t, np.int8)
    _check_quantization(ctx)
    chosen, _ = slices(ctx)
    starts, steps, counts = [0], [1], [1]  # the batch axis: one inference
    for size, pick in zip(input_t.shape[1:], chosen, strict=True):
        if isinstance(pick, slice):
            taken = range(*pick.indices(size))
            starts.append(taken.start if len(taken) else 0)
            steps.append(taken.step)
            counts.append(len(taken))
        else:
            starts.append(pick % size)
            steps.append(1)
            counts.append(1)
    padding = 4 - len(starts)
    if padding < 0:
        raise ctx.unsupported("the C kernel slices tensors of up to 4 dimensions")
    starts, steps, counts = [0] * padding + starts, [1] * padding + steps, [1] * padding + counts
    return (
        {},
        {"input": dims4(input_t.shape)},
        [ConstArray("slice", "int32_t", starts + steps + counts)],
    )


OP = OpDefinition(
    name="strided_slice",
    builtins=("STRIDED_SLICE",),
    kernel=strided_slice,
    lower=lower_strided_slice,
    c_sources=("tc_strided_slice_s8.c",),
    tflm_resolver={"STRIDED_SLICE": "AddStridedSlice"},
)
