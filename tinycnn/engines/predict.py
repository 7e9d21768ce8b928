"""Running a batch through one engine: the reference numpy kernels, LiteRT, TFLite Micro, or
the generated C built for this machine or for a Cortex-M4 emulated in QEMU."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from tinycnn.model.engines import HOST_CONVENTION
from tinycnn.model.interpreters import run_interpreter
from tinycnn.model.ir import Model
from tinycnn.model.metadata import class_names
from tinycnn.model.tflite_io import read_model
from tinycnn.outputs import check_output_file, refuse_overwriting_inputs, write_atomically
from tinycnn.progress import Progress
from tinycnn.quantization.inputs import IMAGE_SUFFIXES, InputError, load_batch, prepare_pictures
from tinycnn.quantization.inputs import input_range as input_range_of
from tinycnn.ref.runner import run_model
from tinycnn.rundir import int8_model_path


def run_engine(
    engine: str,
    model: Model,
    content: bytes,
    inputs: np.ndarray,
    convention: str = HOST_CONVENTION,
    on_progress: Progress | None = None,
) -> np.ndarray:
    """Raw outputs of ``engine`` for a batch of already-quantized inputs (single-output models).
    An empty batch gives an empty output, the same from every engine."""
    if len(inputs) == 0:
        (out,) = model.output_tensors()
        return np.empty((0, *out.shape[1:]), out.dtype)
    if engine == "reference":
        return run_model(model, inputs, convention=convention, on_progress=on_progress).outputs[0]
    if engine == "c":
        from tinycnn.codegen.host import run_c

        return run_c(model, inputs, convention)
    if engine == "m4":
        from tinycnn.board.emulate import run_on_emulator

        return run_on_emulator(model, inputs, convention).outputs
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise InputError("the interpreters are driven for single-input, single-output models only")
    return run_interpreter(engine, content, inputs, on_progress)


def predict_file(
    model_path: Path,
    input_paths: list[Path],
    output_path: Path,
    *,
    engine: str = "reference",
    convention: str = HOST_CONVENTION,
    input_range: str | None = None,
    labels_file: Path | None = None,
    on_progress: Progress | None = None,
) -> tuple[Model, np.ndarray, list[str]]:
    """Run inputs (one .npy batch or image files) through ``engine``; save the outputs and
    return (model, outputs, the outputs' class names). Pictures are prepared for the model
    (``prepare_pictures``) with ``input_range`` (LOW,HIGH) or the range the model says it was
    trained on; class names come from ``labels_file`` or the model (``class_names``). Every
    request is checked before anything runs, and the output never replaces an input."""
    model_path = int8_model_path(model_path)  # a .tflite, a RUN_DIR or zoo:NAME
    check_output_file(output_path, "--output")
    refuse_overwriting_inputs(output_path, [model_path, *input_paths], "--output")
    model = read_model(model_path)
    content = Path(model_path).read_bytes()
    names = class_names(model_path, model, labels_file)
    if len(input_paths) == 1 and input_paths[0].suffix.lower() == ".npy":
        inputs = load_batch(input_paths[0], model)
    elif all(p.suffix.lower() in IMAGE_SUFFIXES for p in input_paths):
        value_range = input_range_of(model_path, model, input_range)
        inputs = prepare_pictures(input_paths, model, value_range)
    else:
        raise InputError("give one .npy batch or one or more PNG/JPEG/BMP/GIF images")
    outputs = run_engine(engine, model, content, inputs, convention, on_progress)
    buffer = io.BytesIO()
    np.save(buffer, outputs)
    write_atomically(output_path, buffer.getvalue())
    return model, outputs, names


def class_lines(input_paths: list, outputs: np.ndarray, names: list[str]) -> list[str]:
    """``PICTURE: CLASS`` for each picture (nothing for a .npy batch)."""
    if any(str(p).endswith(".npy") for p in input_paths) or not len(outputs):
        return []
    rows = outputs.reshape(len(outputs), -1)
    return [
        f"{path}: {names[int(np.argmax(row))]}" for path, row in zip(input_paths, rows, strict=True)
    ]
