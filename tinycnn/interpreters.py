"""The deployed interpreters, opened the same way everywhere.

``litert``: LiteRT with its reference kernels (``BUILTIN_REF``) or, for fast accuracy runs,
its optimized builtin kernels without the XNNPACK delegate. ``tflm``: the ``tflite-micro``
package's host build of TFLite Micro, the code that runs on the board.
"""

from __future__ import annotations

import numpy as np

from tinycnn.errors import TinycnnError


class InterpreterError(TinycnnError):
    """An interpreter refused the model."""


def _first_reason(exc: Exception) -> str:
    """An interpreter's error, cut to its first reason (LiteRT repeats one per tensor) and
    one line."""
    text = " ".join(str(exc).split())
    repeated = text.find("Tensor ", 1)
    return text[:repeated].rstrip() if repeated > 0 else text


def litert_interpreter(
    content: bytes,
    *,
    reference: bool = True,
    num_threads: int = 1,
    preserve_all_tensors: bool = False,
):
    """A LiteRT interpreter over ``content`` with tensors allocated; ``preserve_all_tensors``
    keeps intermediate tensors readable after ``invoke``."""
    from ai_edge_litert import interpreter as litert

    resolver = (
        litert.OpResolverType.BUILTIN_REF
        if reference
        else litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    )
    try:
        interpreter = litert.Interpreter(
            model_content=content,
            experimental_op_resolver_type=resolver,
            num_threads=num_threads,
            experimental_preserve_all_tensors=preserve_all_tensors,
        )
        interpreter.allocate_tensors()
    except (RuntimeError, ValueError) as exc:
        raise InterpreterError(f"LiteRT cannot run this model: {_first_reason(exc)}") from None
    return interpreter


def tflm_interpreter(content: bytes, *, preserve_all_tensors: bool = False):
    """The tflite-micro host interpreter (TFLM's own kernels) over ``content``."""
    from tinycnn.tfenv import quiet_stderr

    with quiet_stderr():
        from tflite_micro.python.tflite_micro import runtime
    config = (
        runtime.InterpreterConfig.kPreserveAllTensors
        if preserve_all_tensors
        else runtime.InterpreterConfig.kAllocationRecording
    )
    try:
        return runtime.Interpreter.from_bytes(content, intrepreter_config=config)
    except (RuntimeError, ValueError) as exc:
        raise InterpreterError(
            f"TFLite Micro cannot run this model: {_first_reason(exc)}"
        ) from None


ENGINES = ("litert", "tflm")


def run_interpreter(engine: str, content: bytes, inputs: np.ndarray) -> np.ndarray:
    """Run a batch (first axis) of already-quantized inputs one by one through an interpreter.

    ``engine`` is "litert" (LiteRT reference kernels) or "tflm"; single-input single-output
    models only. Returns the raw outputs stacked, in the model's output dtype.
    """
    outputs = []
    if engine == "litert":
        interpreter = litert_interpreter(content, reference=True)
        (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
        for sample in inputs:
            interpreter.set_tensor(inp["index"], sample[np.newaxis])
            interpreter.invoke()
            outputs.append(interpreter.get_tensor(out["index"])[0])
    elif engine == "tflm":
        interpreter = tflm_interpreter(content)
        for sample in inputs:
            interpreter.set_input(sample[np.newaxis], 0)
            interpreter.invoke()
            outputs.append(np.array(interpreter.get_output(0))[0])
    else:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    return np.stack(outputs)


def tflm_arena_bytes(content: bytes) -> int:
    """The arena TFLite Micro allocates for the model, as its recording allocator reports it."""
    import ctypes
    import os
    import re
    import sys
    import tempfile

    interpreter = tflm_interpreter(content)
    sys.stdout.flush()
    with tempfile.TemporaryFile(mode="w+b") as sink:
        saved = [os.dup(1), os.dup(2)]
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            interpreter.print_allocations()  # MicroPrintf: stderr, or stdout in some builds
            ctypes.CDLL(None).fflush(None)
        finally:
            for fd, copy in ((1, saved[0]), (2, saved[1])):
                os.dup2(copy, fd)
                os.close(copy)
        sink.seek(0)
        report = sink.read().decode("utf-8", "replace")
    found = re.search(r"Arena allocation total (\d+) bytes", report)
    if not found:
        raise InterpreterError("TFLite Micro did not report its arena size")
    return int(found.group(1))
