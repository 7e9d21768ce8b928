"""The inputs tinycnn feeds a model, decided in one place for verify, export, evaluate and
the monitor's validation: the Fashion-MNIST test images quantized with the model's own input
scale and zero point for a ``[1, 28, 28, 1]`` input, every value for a single-value input,
seeded random int8 tensors otherwise."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinycnn.errors import TinycnnError
from tinycnn.model.ir import Model
from tinycnn.quantization.affine import quantize
from tinycnn.training.data import load_fashion_mnist, to_float

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
    """The first ``count`` test images (all when None), quantized for the model's input."""
    tensor = model.input_tensors()[0]
    dataset = load_fashion_mnist(data_dir)
    count = len(dataset.test_images) if count is None else count
    if count > len(dataset.test_images):
        raise TinycnnError(f"{count} images asked for, the test set has {len(dataset.test_images)}")
    quant = tensor.quantization
    values = quantize(
        to_float(dataset.test_images[:count]),
        quant.single_scale,
        quant.single_zero_point,
        tensor.dtype,
    ).reshape(count, *tensor.shape[1:])
    return ModelInputs(
        values,
        dataset.test_labels[:count].astype(np.int64),
        f"Fashion-MNIST test images 0..{count - 1}",
    )


def model_inputs(model: Model, count: int, data_dir=None) -> ModelInputs:
    """Up to ``count`` int8 inputs for the model (see the module docstring)."""
    tensor = model.input_tensors()[0]
    if tensor.dtype != np.int8:
        raise TinycnnError(
            f"model input {tensor.name!r} is {tensor.dtype.name}; an int8 input is needed"
        )
    if takes_fashion_images(model):
        return fashion_images(model, count, data_dir)
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
