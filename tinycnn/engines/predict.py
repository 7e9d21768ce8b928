"""Running a batch through one engine: the reference numpy kernels, LiteRT, TFLite Micro, or
the generated C built for this machine or for a Cortex-M4 emulated in QEMU."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from tinycnn.errors import TinycnnError
from tinycnn.model.engines import HOST_CONVENTION
from tinycnn.model.interpreters import run_interpreter
from tinycnn.model.ir import Model
from tinycnn.model.tflite_io import read_model
from tinycnn.outputs import check_output_file, refuse_overwriting_inputs, write_atomically
from tinycnn.progress import Progress
from tinycnn.quantization.affine import quantize
from tinycnn.ref.runner import run_model
from tinycnn.rundir import int8_model_path

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


class InputError(TinycnnError):
    """Input data that does not fit the model."""


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


def read_images(paths: list[Path], height: int, width: int, channels: int) -> np.ndarray:
    """Pictures of any size -> float32 ``[N, height, width, channels]`` in [0, 1]: grey or
    RGB by channel count, resized."""
    from PIL import Image, UnidentifiedImageError

    arrays = []
    for path in paths:
        try:
            with Image.open(path) as image:
                converted = image.convert("L" if channels == 1 else "RGB").resize((width, height))
                arrays.append(
                    np.asarray(converted, dtype=np.float32).reshape(height, width, channels) / 255.0
                )
        except (OSError, UnidentifiedImageError) as exc:
            raise InputError(f"{path}: not a readable image ({exc})") from None
    return np.stack(arrays)


def load_images(paths: list[Path], model: Model) -> np.ndarray:
    """Pictures of any size -> the model's input: ``read_images``, then quantized with the
    input tensor's scale and zero point."""
    tensor = model.input_tensors()[0]
    if len(tensor.shape) != 4 or tensor.shape[3] not in (1, 3):
        raise InputError(
            f"images need an [N, H, W, 1 or 3] input; this model takes {list(tensor.shape)}"
        )
    batch = read_images(paths, *tensor.shape[1:])
    if tensor.dtype == np.float32:
        return batch
    if tensor.quantization is None:
        raise InputError(f"input tensor {tensor.name!r} has no quantization parameters")
    quant = tensor.quantization
    return quantize(batch, quant.single_scale, quant.single_zero_point, tensor.dtype)


def load_inputs(path: Path, model: Model) -> np.ndarray:
    """A .npy batch (first axis) of already-quantized inputs, checked against the model."""
    tensor = model.input_tensors()[0]
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable .npy file ({exc})") from None
    expected = tuple(tensor.shape[1:])
    if tuple(array.shape[1:]) != expected:
        raise InputError(
            f"{path}: shape {list(array.shape)}, the model takes a batch [N, {', '.join(map(str, expected))}]"
        )
    if array.dtype != tensor.dtype:
        if tensor.dtype == np.float32:
            fix = (
                "this is a float model: give float32 values, or run the int8 model that "
                "`tinycnn quantize` writes"
            )
        elif array.dtype.kind == "f":
            fix = "quantize the values first with the model's input scale and zero point"
        else:
            fix = f"give {tensor.dtype.name} values"
        raise InputError(
            f"{path}: dtype {array.dtype.name}, the model's input is {tensor.dtype.name}; {fix}"
        )
    return array


def predict_file(
    model_path: Path,
    input_paths: list[Path],
    output_path: Path,
    *,
    engine: str = "reference",
    convention: str = HOST_CONVENTION,
    on_progress: Progress | None = None,
) -> tuple[Model, np.ndarray]:
    """Run inputs (one .npy batch or image files) through ``engine``; save and return outputs.
    The output path is checked before anything runs, and never replaces an input."""
    model_path = int8_model_path(model_path)  # a .tflite, a RUN_DIR or zoo:NAME
    check_output_file(output_path, "--output")
    refuse_overwriting_inputs(output_path, [model_path, *input_paths], "--output")
    model = read_model(model_path)
    content = Path(model_path).read_bytes()
    if len(input_paths) == 1 and input_paths[0].suffix.lower() == ".npy":
        inputs = load_inputs(input_paths[0], model)
    elif all(p.suffix.lower() in IMAGE_SUFFIXES for p in input_paths):
        inputs = load_images(input_paths, model)
    else:
        raise InputError("give one .npy batch or one or more PNG/JPEG/BMP/GIF images")
    outputs = run_engine(engine, model, content, inputs, convention, on_progress)
    buffer = io.BytesIO()
    np.save(buffer, outputs)
    write_atomically(output_path, buffer.getvalue())
    return model, outputs


def class_lines(input_paths: list, outputs: np.ndarray) -> list[str]:
    """``PICTURE: CLASS`` for pictures given to a 10-class model (nothing for a .npy batch)."""
    from tinycnn.training.data import CLASS_NAMES

    if any(str(p).endswith(".npy") for p in input_paths) or not len(outputs):
        return []
    rows = outputs.reshape(len(outputs), -1)
    if rows.shape[1] != 10:
        return []
    return [
        f"{path}: {CLASS_NAMES[int(np.argmax(row))]}"
        for path, row in zip(input_paths, rows, strict=True)
    ]
