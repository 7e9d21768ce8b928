"""The inputs tinycnn feeds a model, decided in one place for verify, export, evaluate and
the monitor's validation: the test images of the data set it was trained on (its run's own
``train --data``, or Fashion-MNIST's for a ``[1, 28, 28, 1]`` input) quantized with the model's
own input scale and zero point, every value for a single-value input,
seeded random int8 tensors otherwise. And the one way a picture becomes a model's input
(``prepare_pictures``): resized to its image shape, mapped onto the value range it was trained
on (the model's metadata, its run, or ``--input-range``), then quantized."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinycnn.errors import TinycnnError
from tinycnn.model.ir import Model
from tinycnn.model.metadata import COMMON_RANGES, parse_input_range, run_metadata
from tinycnn.quantization.affine import quantize
from tinycnn.rundir import CONFIG_FILE, read_json
from tinycnn.training.data import FASHION_MNIST, FLOAT_RANGE, load_fashion_mnist, to_float

FASHION_INPUT_SHAPE = (28, 28, 1)
RANDOM_SEED = 0


@dataclass(frozen=True)
class ModelInputs:
    values: np.ndarray  # batch first, in the model's input dtype
    labels: np.ndarray | None  # the true classes, for test images
    description: str  # where they come from, for reports


def takes_fashion_images(model: Model) -> bool:
    tensor = model.input_tensors()[0]
    return tuple(tensor.shape[1:]) == FASHION_INPUT_SHAPE and tensor.quantization is not None


def fashion_images(model: Model, count: int | None = None, data_dir=None) -> ModelInputs:
    """The first ``count`` Fashion-MNIST test images (all when None), quantized for the model."""
    return _dataset_images(model, load_fashion_mnist(data_dir), count)


def run_dataset(model_path) -> dict | None:
    """The config of the run a model file sits in when that run trained on the user's own data
    (``train --data``), else None."""
    if model_path is None:
        return None
    config = Path(model_path).parent / CONFIG_FILE
    run = read_json(config) if config.is_file() else {}
    return run if run.get("train", {}).get("data") else None


def has_test_images(model: Model, model_path=None) -> bool:
    """Whether tinycnn knows test images for the model: its run's own data set, or Fashion-MNIST's
    for a 28x28x1 model."""
    return run_dataset(model_path) is not None or takes_fashion_images(model)


def model_dataset(model_path, data_dir=None):
    """The data set the model was trained on: its run's own (``train --data``), else
    Fashion-MNIST."""
    from tinycnn.training.user_data import dataset_of_run

    run = run_dataset(model_path)
    return dataset_of_run(run, data_dir) if run else load_fashion_mnist(data_dir)


def run_test_images(
    model: Model, model_path, count: int | None = None, data_dir=None
) -> ModelInputs:
    """The first ``count`` test images of the data set the model was trained on (its run's
    ``--data``; else Fashion-MNIST), quantized for its input."""
    return _dataset_images(model, model_dataset(model_path, data_dir), count)


def float_test_images(model_path, count: int, data_dir=None) -> np.ndarray:
    """The first ``count`` test images of the model's data set as the float model takes them."""
    return to_float(model_dataset(model_path, data_dir).test_images[:count])


def _dataset_images(model: Model, dataset, count: int | None) -> ModelInputs:
    tensor = model.input_tensors()[0]
    count = len(dataset.test_images) if count is None else count
    if count > len(dataset.test_images):
        raise TinycnnError(f"{count} images asked for, the test set has {len(dataset.test_images)}")
    quant = tensor.quantization
    low, high = model.metadata.input_range or FLOAT_RANGE  # tinycnn's models before metadata
    pixels = to_float(dataset.test_images[:count])
    if pixels.shape[1:] != tuple(tensor.shape[1:]):
        raise InputError(
            f"the {dataset.name} test images are {list(pixels.shape[1:])}, the model takes "
            f"{list(tensor.shape[1:])}"
        )
    values = quantize(
        low + pixels * np.float32(high - low),
        quant.single_scale,
        quant.single_zero_point,
        tensor.dtype,
    )
    name = "Fashion-MNIST" if dataset.name == FASHION_MNIST else dataset.name
    return ModelInputs(
        values, dataset.test_labels[:count].astype(np.int64), f"{name} test images 0..{count - 1}"
    )


def model_inputs(model: Model, count: int, data_dir=None, model_path=None) -> ModelInputs:
    """Up to ``count`` int8 inputs for the model (see the module docstring): its run's own
    test images when it was trained on ``--data``."""
    tensor = model.input_tensors()[0]
    if tensor.dtype != np.int8:
        raise TinycnnError(
            f"model input {tensor.name!r} is {tensor.dtype.name}; an int8 input is needed"
        )
    if has_test_images(model, model_path):
        return run_test_images(model, model_path, count, data_dir)
    shape = tuple(tensor.shape[1:])
    if int(np.prod(shape)) == 1:
        every = np.arange(-128, 128, dtype=np.int8).reshape(256, *shape)[:count]
        description = (
            "all 256 int8 input values" if count >= 256 else f"int8 values -128..{-129 + count}"
        )
        return ModelInputs(every, None, description)
    rng = np.random.default_rng(RANDOM_SEED)
    samples = rng.integers(-128, 128, size=(count, *shape)).astype(np.int8)
    return ModelInputs(samples, None, f"{count} random int8 inputs (seed {RANDOM_SEED})")


class InputError(TinycnnError):
    """Input data that does not fit the model."""


def input_range(
    model_path: Path, model: Model | None, given: str | None = None
) -> tuple[float, float]:
    """The float range the model's input was trained on: ``given`` (``--input-range LOW,HIGH``),
    else the file's own metadata, else its run directory's config.json (the folder holding
    the .tflite, a run or zoo:NAME). A model that says nothing is an InputError, not a guess."""
    if given is not None:
        return _check_range(model, parse_input_range(given))
    if model is not None and model.metadata.input_range is not None:
        return model.metadata.input_range
    config = Path(model_path).parent / CONFIG_FILE
    if config.is_file():
        return run_metadata(read_json(config)).input_range
    common = " or ".join(f"{lo:g},{hi:g}" for lo, hi in COMMON_RANGES)
    raise InputError(
        f"{model_path} does not say what value range its input was trained on; pass "
        f"--input-range LOW,HIGH (for pictures usually {common})"
    )


def _check_range(model: Model | None, value_range: tuple[float, float]) -> tuple[float, float]:
    """A range the model's int8 input can take: of about the width its scale and zero point
    cover (a quarter to four times) and centred inside it. Pictures mapped onto 0..255 for an
    input quantized for 0..1 would all saturate; onto 0..1 for a 0..255 input, all land on two
    int8 values."""
    tensor = model.input_tensors()[0] if model is not None else None
    if tensor is None or tensor.quantization is None or tensor.dtype == np.float32:
        return value_range
    info = np.iinfo(tensor.dtype)
    scale, zero = tensor.quantization.single_scale, tensor.quantization.single_zero_point
    low, high = scale * (info.min - zero), scale * (info.max - zero)
    width, centre = value_range[1] - value_range[0], sum(value_range) / 2
    if not (0.25 <= width / (high - low) <= 4 and low <= centre <= high):
        raise InputError(
            f"--input-range {value_range[0]:g},{value_range[1]:g} is not what this model's input "
            f"takes: its int8 input covers {low:.3g}..{high:.3g} (scale {scale:.6g}, zero point "
            f"{zero})"
        )
    return value_range


def picture_shape(model: Model) -> tuple[int, int, int]:
    """(height, width, channels) of a model that takes pictures; InputError saying why not."""
    tensor = model.input_tensors()[0]
    shape = list(tensor.shape)
    if len(shape) != 4 or shape[3] not in (1, 3) or min(shape[1:3]) < 2:
        raise InputError(
            f"pictures need a model whose input is an image [N, H, W, 1 or 3]; this model takes "
            f"{shape}: give its inputs as a .npy batch"
        )
    return int(shape[1]), int(shape[2]), int(shape[3])


def picture_values(
    paths: list[Path], shape: tuple[int, int, int], value_range: tuple[float, float]
) -> np.ndarray:
    """Pictures of any size and mode -> float32 ``[N, H, W, C]``: grey or RGB by channel count
    (16-bit grey scaled to 8 bits), resized (bilinear), pixel values 0..255 mapped linearly
    onto ``value_range``."""
    from PIL import Image, UnidentifiedImageError

    from tinycnn.training.user_data import eight_bit

    height, width, channels = shape
    low, high = value_range
    arrays = []
    for path in paths:
        try:
            with Image.open(path) as image:
                converted = eight_bit(image).convert("L" if channels == 1 else "RGB")
                converted = converted.resize((width, height))
                pixels = np.asarray(converted, dtype=np.float32).reshape(height, width, channels)
        except (OSError, UnidentifiedImageError) as exc:
            raise InputError(f"{path}: not a readable image ({exc})") from None
        arrays.append(low + pixels * np.float32((high - low) / 255.0))
    return np.stack(arrays)


def quantized_input(model: Model, values: np.ndarray) -> np.ndarray:
    """Float input values -> the model's input: quantized with its scale and zero point (a
    float model takes them as they are)."""
    tensor = model.input_tensors()[0]
    if tensor.dtype == np.float32:
        return values.astype(np.float32)
    if tensor.quantization is None:
        raise InputError(f"input tensor {tensor.name!r} has no quantization parameters")
    quant = tensor.quantization
    return quantize(values, quant.single_scale, quant.single_zero_point, tensor.dtype)


def prepare_pictures(paths: list[Path], model: Model, value_range: tuple[float, float]):
    """The one way a picture becomes a model's input: its image shape, its value range, then
    its quantization (see ``picture_values`` and ``quantized_input``)."""
    return quantized_input(model, picture_values(paths, picture_shape(model), value_range))


def load_batch(path: Path, model: Model) -> np.ndarray:
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


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
MAX_TEST_INPUTS = 1000  # what export embeds at most


def given_inputs(
    model: Model, model_path: Path, given: Path, value_range: str | None = None
) -> tuple[np.ndarray, str]:
    """A user's inputs for the model, and where they came from: a .npy batch of its input, or
    a folder of pictures (prepared with ``prepare_pictures``)."""
    if given.is_dir():
        pictures = sorted(p for p in given.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not pictures:
            raise InputError(f"{given} holds no pictures ({', '.join(IMAGE_SUFFIXES)})")
        values = prepare_pictures(pictures, model, input_range(model_path, model, value_range))
        return values, f"{len(values)} pictures from {given}"
    if given.suffix.lower() == ".npy":
        values = load_batch(given, model)
        return values, f"{len(values)} inputs from {given.name}"
    raise InputError(f"{given}: give a .npy batch or a folder of pictures")


def demo_inputs(
    model: Model,
    model_path: Path,
    count: int,
    given: Path | None = None,
    value_range: str | None = None,
    data_dir=None,
) -> ModelInputs:
    """The inputs a firmware carries for its demo: ``given`` (a .npy batch of the model's
    input, or a folder of pictures prepared for the model), else the first ``count`` Fashion
    test images for a Fashion-MNIST-shaped model, else none: noise is no test input."""
    tensor = model.input_tensors()[0]
    if given is None:
        if has_test_images(model, model_path):
            return run_test_images(model, model_path, count, data_dir)
        empty = np.empty((0, *tensor.shape[1:]), tensor.dtype)
        return ModelInputs(empty, None, "none (export --test-inputs X.npy|DIR embeds some)")
    values, description = given_inputs(model, model_path, Path(given), value_range)
    if not 1 <= len(values) <= MAX_TEST_INPUTS:
        raise InputError(f"{given}: {len(values)} inputs; between 1 and {MAX_TEST_INPUTS} fit")
    return ModelInputs(values, None, description)
