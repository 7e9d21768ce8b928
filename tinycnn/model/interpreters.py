"""The deployed interpreters, opened the same way everywhere.

``litert``: LiteRT with its reference kernels (``BUILTIN_REF``) or, for fast accuracy runs,
its optimized builtin kernels without the XNNPACK delegate. ``tflm``: the ``tflite-micro``
package's host build of TFLite Micro, the code that runs on the board.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator

import numpy as np

from tinycnn.errors import TinycnnError
from tinycnn.model.engines import INTERPRETERS
from tinycnn.progress import Progress, report


class InterpreterError(TinycnnError):
    """An interpreter refused the model."""


# The converter and interpreters tinycnn's test suite proved bit-exact against its reference
# engine; the set-up installs exactly these (constraints.txt, kept equal by a test). TFLite
# Micro's nightlies change arithmetic (its LSTM moved by up to 7 LSB between two of them), so
# another version is said, not silently compared against.
VERIFIED_VERSIONS = {
    "tensorflow": "2.21.0",
    "tf-keras": "2.21.0",
    "tensorflow-model-optimization": "0.8.1",
    "ai-edge-litert": "2.3.0",
    "tflite-micro": "0.dev20261023182759",
}


def installed_versions() -> dict[str, str | None]:
    """The installed version of each package in VERIFIED_VERSIONS (None: not installed)."""
    from importlib import metadata

    versions = {}
    for name in VERIFIED_VERSIONS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def unverified_versions(versions: dict[str, str | None]) -> list[str]:
    """One sentence per installed package whose version the suite did not prove bit-exact."""
    return [
        f"{name} {version} is installed; tinycnn's bit-exactness was proved with "
        f"{VERIFIED_VERSIONS[name]} (scripts/setup.sh installs it): a difference may be the "
        f"{name}'s, not the model's"
        for name, version in versions.items()
        if version is not None and version != VERIFIED_VERSIONS[name]
    ]


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


class NativeLog:
    """What TFLite Micro's MicroPrintf writes straight to file descriptors 1 and 2 while a
    native call runs, kept off the terminal and shown only when it explains an error."""

    def __init__(self):
        self._sink = tempfile.TemporaryFile()

    @contextlib.contextmanager
    def capture(self) -> Iterator[None]:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = [os.dup(1), os.dup(2)]
        os.dup2(self._sink.fileno(), 1)
        os.dup2(self._sink.fileno(), 2)
        try:
            yield
        finally:
            _flush_c_stdio()
            for fd, copy in ((1, saved[0]), (2, saved[1])):
                os.dup2(copy, fd)
                os.close(copy)

    def text(self) -> str:
        self._sink.seek(0)
        return self._sink.read().decode("utf-8", "replace")

    def last_lines(self, count: int = 2) -> str:
        lines = [line.strip() for line in self.text().splitlines() if line.strip()]
        return " | ".join(lines[-count:])

    def clear(self) -> None:
        self._sink.seek(0)
        self._sink.truncate()


def _flush_c_stdio() -> None:
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).fflush(None)


# The tflite-micro interpreter takes a fixed arena; tinycnn grows it until the model fits.
TFLM_FIRST_ARENA_BYTES = 64 * 1024
TFLM_MAX_ARENA_BYTES = 1 << 30


def _tflm_arena_sizes(content: bytes) -> Iterator[int]:
    """Arena sizes to try: ten times the file (the package's own guess) or 64 KiB, then
    doubling up to 1 GiB."""
    size = max(TFLM_FIRST_ARENA_BYTES, 10 * len(content))
    yield size
    while size * 2 <= TFLM_MAX_ARENA_BYTES:
        size *= 2
        yield size


def tflm_interpreter(content: bytes, *, preserve_all_tensors: bool = False, log=None):
    """The tflite-micro host interpreter (TFLM's own kernels) over ``content``, with an arena
    grown until the model fits. ``log`` (a NativeLog) collects TFLM's messages."""
    from tinycnn.tfenv import quiet_stderr

    with quiet_stderr():
        from tflite_micro.python.tflite_micro import runtime
    config = (
        runtime.InterpreterConfig.kPreserveAllTensors
        if preserve_all_tensors
        else runtime.InterpreterConfig.kAllocationRecording
    )
    log = log or NativeLog()
    failure = None
    for arena_bytes in _tflm_arena_sizes(content):
        log.clear()
        try:
            with log.capture():
                return runtime.Interpreter.from_bytes(
                    content, arena_size=arena_bytes, intrepreter_config=config
                )
        except (RuntimeError, ValueError) as exc:
            failure = exc
            if "resize buffer" not in log.text() and "arena" not in log.text().lower():
                break  # not a question of arena size: growing it will not help
    told = log.last_lines()
    raise InterpreterError(
        f"TFLite Micro cannot run this model: {_first_reason(failure)}"
        + (f" ({told})" if told else "")
    )


def litert_refusal(model) -> str | None:
    """Why LiteRT refuses a model that TFLite Micro runs, known before trying: per-channel
    quantization recorded along a dimension the tensor does not have (TFLM's person_detect
    gives its 1-D biases the weights' dimension 3; TFLM ignores it, LiteRT checks it)."""
    for tensor in model.tensors:
        quant = tensor.quantization
        if quant is not None and quant.per_channel and quant.axis >= len(tensor.shape):
            return (
                f"LiteRT refuses tensor {tensor.name!r}: per-channel quantization along "
                f"dimension {quant.axis} of a {len(tensor.shape)}-D tensor (TFLite Micro ignores it)"
            )
    return None


def run_interpreter(
    engine: str,
    content: bytes,
    inputs: np.ndarray,
    on_progress: Progress | None = None,
    *,
    fast: bool = False,
) -> np.ndarray:
    """Run a batch (first axis) of already-quantized inputs one by one through an interpreter.

    ``engine`` is "litert" (LiteRT's reference kernels, or with ``fast`` its optimized builtin
    kernels without the XNNPACK delegate) or "tflm"; single-input single-output models only.
    Returns the raw outputs stacked, in the model's output dtype.
    """
    if engine not in INTERPRETERS:
        raise ValueError(f"engine must be one of {INTERPRETERS}, got {engine!r}")
    outputs = []
    # An LSTM's state lives in variable tensors that an interpreter keeps between invocations:
    # every input is its own sequence, so the state is reset before each.
    stateful = has_state(content)
    if engine == "litert":
        interpreter = litert_interpreter(content, reference=not fast)
        (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
        if len(inputs) == 0:
            return np.empty((0, *out["shape"][1:]), out["dtype"])
        for done, sample in enumerate(inputs, 1):
            if stateful:
                interpreter.reset_all_variables()
            interpreter.set_tensor(inp["index"], sample[np.newaxis])
            interpreter.invoke()
            outputs.append(interpreter.get_tensor(out["index"])[0])
            report(on_progress, "LiteRT", done, len(inputs))
    else:
        log = NativeLog()
        interpreter = tflm_interpreter(content, log=log)
        if len(inputs) == 0:
            details = interpreter.get_output_details(0)
            return np.empty((0, *details["shape"][1:]), details["dtype"])
        for done, sample in enumerate(inputs, 1):
            if stateful:
                interpreter.reset()
            interpreter.set_input(sample[np.newaxis], 0)
            try:
                with log.capture():
                    interpreter.invoke()
            except (RuntimeError, ValueError) as exc:
                raise InterpreterError(
                    f"TFLite Micro failed on input {done - 1}: {_first_reason(exc)} "
                    f"({log.last_lines()})"
                ) from None
            outputs.append(np.array(interpreter.get_output(0))[0])
            report(on_progress, "TFLite Micro", done, len(inputs))
    return np.stack(outputs)


def has_state(content: bytes) -> bool:
    """Whether the model keeps state between invocations (variable tensors: an LSTM's)."""
    from tinycnn.model.tflite_io import read_model

    return any(tensor.is_variable for tensor in read_model(content).tensors)


def tflm_arena_bytes(content: bytes) -> int:
    """The arena TFLite Micro allocates for the model, as its recording allocator reports it."""
    import re

    log = NativeLog()
    interpreter = tflm_interpreter(content, log=log)
    log.clear()
    with log.capture():
        interpreter.print_allocations()
    found = re.search(r"Arena allocation total (\d+) bytes", log.text())
    if not found:
        raise InterpreterError("TFLite Micro did not report its arena size")
    return int(found.group(1))
