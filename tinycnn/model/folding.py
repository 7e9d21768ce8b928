"""Constant folding of shape arithmetic: the int32 ops a converter leaves around a Keras
``Reshape`` (or a ``tf.shape`` in a model) when it was saved with a dynamic batch.

A ``Reshape((1, 1, C))`` in a squeeze-excitation block becomes SHAPE -> STRIDED_SLICE (the
batch size) -> PACK (with 1, 1, C) -> RESHAPE's shape. Every tensor shape in a model file is
static (TFLite Micro runs the file's shapes, batch 1), so such a chain always computes the same
small int32 vector: it is computed here once, its outputs become constant tensors and its ops
leave the graph. The RESHAPE keeps its (now constant) shape input; its output shape is already
in the file. ``Model.folded`` remembers which builtins went, for TFLite Micro's op resolver.
"""

from __future__ import annotations

import numpy as np

from tinycnn.model.ir import Model, Operator

# builtin -> the MicroMutableOpResolver method that registers it (TFLite Micro runs the file
# as it is, folded ops included); None where TFLite Micro has no kernel for it
FOLDABLE_TFLM_RESOLVER: dict[str, str | None] = {
    "SHAPE": "AddShape",
    "STRIDED_SLICE": "AddStridedSlice",
    "PACK": "AddPack",
    "CONCATENATION": "AddConcatenation",
    "GATHER": "AddGather",
    "REDUCE_PROD": None,
}
_INTEGER = (np.dtype(np.int32), np.dtype(np.int64))


def _strided_slice(op: Operator, values: list[np.ndarray]) -> np.ndarray | None:
    data, begin, end, strides = values
    options = op.options
    if options.get("ellipsis_mask") or options.get("new_axis_mask") or options.get("offset"):
        return None
    if not len(begin) == len(end) == len(strides) == data.ndim:
        return None
    chosen = []
    for axis in range(data.ndim):
        if options.get("shrink_axis_mask", 0) >> axis & 1:
            index = int(begin[axis])
            if not -data.shape[axis] <= index < data.shape[axis]:
                return None
            chosen.append(index)
            continue
        start = None if options.get("begin_mask", 0) >> axis & 1 else int(begin[axis])
        stop = None if options.get("end_mask", 0) >> axis & 1 else int(end[axis])
        if int(strides[axis]) == 0:
            return None
        chosen.append(slice(start, stop, int(strides[axis])))
    return np.asarray(data[tuple(chosen)])


def _evaluate(model: Model, op: Operator) -> np.ndarray | None:
    """The op's output when it is shape arithmetic on what is known; None otherwise."""
    output = model.tensors[op.outputs[0]]
    if (
        len(op.outputs) != 1
        or output.dtype not in _INTEGER
        or op.opcode not in FOLDABLE_TFLM_RESOLVER
    ):
        return None
    inputs = [model.tensors[i] for i in op.inputs if i >= 0]
    if op.opcode == "SHAPE":
        return np.asarray(inputs[0].shape, dtype=output.dtype)
    if not inputs or not all(t.is_constant and t.dtype in _INTEGER for t in inputs):
        return None
    values = [t.data for t in inputs]
    if op.opcode == "PACK":
        return np.stack(values, axis=op.options.get("axis", 0))
    if op.opcode == "CONCATENATION":
        return np.concatenate(values, axis=op.options.get("axis", 0))
    if op.opcode == "GATHER" and len(values) == 2 and not op.options.get("batch_dims", 0):
        return np.take(values[0], values[1], axis=op.options.get("axis", 0), mode="raise")
    if op.opcode == "REDUCE_PROD" and len(values) == 2:
        axes = tuple(int(a) for a in np.atleast_1d(values[1]))
        return np.prod(values[0], axis=axes, keepdims=bool(op.options.get("keep_dims")))
    return _strided_slice(op, values) if len(values) == 4 else None


def fold_shape_arithmetic(model: Model) -> Model:
    """Fold every foldable op, in order (a chain folds link by link); ops whose result does not
    match their output tensor's declared shape are left for the engine to refuse."""
    kept, folded = [], []
    for op in model.operators:
        try:
            value = _evaluate(model, op)
        except (IndexError, ValueError, TypeError):  # indices or axes that do not fit
            value = None
        output = model.tensors[op.outputs[0]]
        if value is None or tuple(value.shape) != tuple(output.shape):
            kept.append(op)
            continue
        output.data = value.astype(output.dtype)
        folded.append(op.opcode)
    model.operators = kept
    model.folded = tuple(dict.fromkeys((*model.folded, *folded)))
    return model
