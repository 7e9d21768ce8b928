"""Running an ``ir.Model`` through the numpy int8 kernels, a batch at a time."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinycnn.errors import TinycnnError
from tinycnn.model.engines import HOST_CONVENTION, check_convention
from tinycnn.model.ir import FLOAT_EDGE_OPS, Model, ModelFormatError
from tinycnn.progress import Progress, report
from tinycnn.ref.context import OpContext
from tinycnn.ref.registry import BY_BUILTIN, definition_for


@dataclass
class RunResult:
    outputs: list[np.ndarray]  # one array per model output, batch first
    tensors: dict[int, np.ndarray] | None = None  # every computed tensor, when asked for


def check_supported(model: Model) -> None:
    """Refuse a model with an operator the engine lacks or one that computes in float."""
    for op in model.operators:
        definition_for(op)  # UnsupportedOperator when none is registered
        if op.opcode in FLOAT_EDGE_OPS:
            continue
        for index in (*op.inputs, *op.outputs):
            if index >= 0 and model.tensors[index].dtype == np.float32:
                raise ModelFormatError(
                    f"{model.name} is not an int8 model: operator #{op.index} {op.opcode} computes "
                    f"in float32 (tensor {model.tensors[index].name!r}); quantize it with `tinycnn quantize`"
                )


def _batchable(model: Model) -> bool:
    """Whether every computed tensor an op reads or writes has a leading batch dimension of 1
    that can grow (an op's intermediates, scale carriers of shape [0], are not computed)."""
    used = {i for op in model.operators for i in (*op.inputs, *op.outputs) if i >= 0}
    return all(
        t.is_constant or (len(t.shape) > 0 and t.shape[0] == 1)
        for t in model.tensors
        if t.index in used
    )


def run_operators(
    model: Model, operators: list, values: dict[int, np.ndarray], convention: str
) -> None:
    """Run ``operators`` in order, reading and adding tensors in ``values`` (batch first).

    The kernels trust that the graph is consistent (shapes that fit, inputs computed before
    use); a file whose graph is not, damaged or hand-made, makes one fail in numpy, and that
    is reported as a ModelFormatError naming the operator.
    """
    for op in operators:
        try:
            output = BY_BUILTIN[op.opcode].kernel(
                OpContext(op=op, model=model, values=values, convention=convention)
            )
            declared = model.tensors[op.outputs[0]].shape
            if tuple(output.shape[1:]) != tuple(declared[1:]):
                raise ValueError(
                    f"output shape {list(output.shape[1:])}, declared {list(declared)}"
                )
            values[op.outputs[0]] = output
        except TinycnnError:
            raise
        except (
            ValueError,
            IndexError,
            KeyError,
            TypeError,
            ZeroDivisionError,
            OverflowError,
        ) as exc:
            raise ModelFormatError(
                f"{model.name}: operator #{op.index} {op.opcode} cannot run on this graph "
                f"({type(exc).__name__}: {exc}); the file is damaged or inconsistent"
            ) from None


def _run_once(model: Model, inputs: list[np.ndarray], convention: str, keep: bool) -> RunResult:
    values: dict[int, np.ndarray] = dict(zip(model.inputs, inputs, strict=True))
    run_operators(model, model.operators, values, convention)
    outputs = [values[i] for i in model.outputs]
    return RunResult(outputs=outputs, tensors=values if keep else None)


def run_model(
    model: Model,
    inputs: np.ndarray | list[np.ndarray],
    *,
    convention: str = HOST_CONVENTION,
    keep_tensors: bool = False,
    chunk: int = 500,
    on_progress: Progress | None = None,
) -> RunResult:
    """Run a batch (first axis) of already-quantized inputs; return the raw outputs.

    ``inputs`` is one array for a single-input model or a list with one array per input,
    each shaped ``[N, *input_shape[1:]]``. ``convention`` picks whose rounding to reproduce:
    "tflite" (LiteRT's reference kernels) or "tflm" (TFLite Micro). ``keep_tensors`` also returns every
    intermediate tensor (memory grows with N). ``on_progress`` hears of every chunk.
    """
    check_convention(convention)
    check_supported(model)
    inputs = [inputs] if isinstance(inputs, np.ndarray) else list(inputs)
    if len(inputs) != len(model.inputs):
        raise ValueError(f"model has {len(model.inputs)} inputs, {len(inputs)} given")
    for array, tensor in zip(inputs, model.input_tensors(), strict=True):
        if array.dtype != tensor.dtype or tuple(array.shape[1:]) != tuple(tensor.shape[1:]):
            raise ValueError(
                f"input {tensor.name!r} expects {tensor.dtype.name} [N, {', '.join(map(str, tensor.shape[1:]))}], "
                f"got {array.dtype.name} {list(array.shape)}"
            )
    count = inputs[0].shape[0]
    step = chunk if _batchable(model) else 1
    if count == 0:
        return RunResult(
            outputs=[np.empty((0, *t.shape[1:]), t.dtype) for t in model.output_tensors()],
            tensors={} if keep_tensors else None,
        )
    pieces = []
    for start in range(0, count, step):
        pieces.append(
            _run_once(model, [a[start : start + step] for a in inputs], convention, keep_tensors)
        )
        report(on_progress, f"reference engine ({convention})", min(start + step, count), count)
    outputs = [np.concatenate([p.outputs[i] for p in pieces]) for i in range(len(model.outputs))]
    tensors = None
    if keep_tensors:
        tensors = {k: np.concatenate([p.tensors[k] for p in pieces]) for k in pieces[0].tensors}
    return RunResult(outputs=outputs, tensors=tensors)
