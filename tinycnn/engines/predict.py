"""Running a batch through one engine: the reference numpy kernels, LiteRT, TFLite Micro, or
the generated C built for this machine or for a Cortex-M4 emulated in QEMU."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from tinycnn.model.engines import ENGINE, HOST_CONVENTION
from tinycnn.model.interpreters import run_interpreter
from tinycnn.model.ir import Model
from tinycnn.model.metadata import CLASSES, RECONSTRUCTION, class_names, output_kind
from tinycnn.model.tflite_io import read_model
from tinycnn.outputs import write_atomically
from tinycnn.progress import Progress
from tinycnn.quantization.evaluate import dequantized, reconstruction_error
from tinycnn.quantization.inputs import IMAGE_SUFFIXES, InputError, load_batch, prepare_pictures
from tinycnn.quantization.inputs import input_range as input_range_of
from tinycnn.ref.runner import run_model
from tinycnn.rundir import check_named_output, int8_model_path


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
    model_path: str | Path,
    input_paths: list[str | Path],
    output_path: str | Path,
    *,
    engine: str = "reference",
    convention: str = HOST_CONVENTION,
    input_range: str | None = None,
    labels_file: Path | None = None,
    force: bool = False,
    on_progress: Progress | None = None,
) -> tuple[Model, np.ndarray, np.ndarray, list[str]]:
    """Run inputs (one .npy batch or image files) through ``engine``; save the outputs and
    return (model, inputs, outputs, the outputs' class names). Pictures are prepared for the model
    (``prepare_pictures``) with ``input_range`` (LOW,HIGH) or the range the model says it was
    trained on; class names come from ``labels_file`` or the model (``class_names``). Every
    request is checked before anything runs; the output never replaces an input, a model or a
    run folder's file, and another existing file only when it holds outputs of this model (an
    earlier prediction) or with ``force``."""
    ENGINE.check(engine, InputError, "--engine")
    input_paths = [Path(path) for path in input_paths]
    model_path = int8_model_path(model_path)  # a .tflite, a RUN_DIR or zoo:NAME
    model = read_model(model_path)
    check_named_output(
        output_path,
        "--output",
        inputs=[model_path, *input_paths],
        force=force,
        ours=lambda path: _holds_outputs_of(path, model),
    )
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
    return model, inputs, outputs, names


def _holds_outputs_of(path: Path, model: Model) -> bool:
    """Whether ``path`` is a .npy batch shaped like ``model``'s outputs (a prediction)."""
    output = model.output_tensors()[0]
    try:
        held = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError):
        return False
    return held.dtype == output.dtype and tuple(held.shape[1:]) == tuple(output.shape[1:])


SHOWN_ROWS = 10  # rows of a .npy batch described on the terminal


def output_lines(
    model: Model, inputs: np.ndarray, outputs: np.ndarray, names: list[str], input_paths: list
) -> list[str]:
    """One line per input (the first SHOWN_ROWS of a .npy batch): the top classes of a
    classifier (its last op a SOFTMAX, or its classes named), the reconstruction error of a
    model whose output has its input's shape (an autoencoder's anomaly score), else the
    output vector, dequantized."""
    if not len(outputs):
        return []
    pictures = not any(str(p).endswith(".npy") for p in input_paths)
    tags = [str(p) for p in input_paths] if pictures else [f"#{i}" for i in range(len(outputs))]
    (out,) = model.output_tensors()
    real_out = dequantized(out, outputs)
    rows = real_out.reshape(len(outputs), -1)
    kind = output_kind(model, names)
    if kind == RECONSTRUCTION:
        error = reconstruction_error(model, inputs, outputs)
        lines = [
            f"{tag}: reconstruction error {e:.4g} (mean squared)"
            for tag, e in zip(tags, error, strict=True)
        ]
    elif kind == CLASSES:
        lines = [f"{tag}: {_top_classes(row, names)}" for tag, row in zip(tags, rows, strict=True)]
    else:
        lines = [f"{tag}: {_vector(row)}" for tag, row in zip(tags, rows, strict=True)]
    more = len(lines) - SHOWN_ROWS
    return (
        lines
        if pictures or more <= 0
        else [*lines[:SHOWN_ROWS], f"... and {more} more in the output file"]
    )


def _top_classes(row: np.ndarray, names: list[str], count: int = 3) -> str:
    order = np.argsort(-row, kind="stable")[:count]
    return ", ".join(f"{names[i]} {row[i]:.3g}" for i in order)


def _vector(row: np.ndarray, shown: int = 8) -> str:
    values = ", ".join(f"{v:.4g}" for v in row[:shown])
    return f"[{values}{', ...' if len(row) > shown else ''}] ({len(row)} values)"
