"""One-layer Keras models converted by the real TFLite converter, checked bit for bit.

Each case builds a tiny Keras model, converts it to full-integer int8 with a random
calibration set, then runs the same random int8 inputs through the reference engine and
through LiteRT (reference kernels) and TFLite Micro, each with its own rounding convention.
"""

from __future__ import annotations

import numpy as np

from tinycnn.model.interpreters import run_interpreter
from tinycnn.model.tflite_io import read_model
from tinycnn.quantization.quantize import convert_int8
from tinycnn.ref.runner import run_model

SAMPLES = 48


def convert_case(build, input_shape, seed=0, calibration_range=1.0, int8_io=True) -> bytes:
    """Build ``build(keras, layers, input)`` -> output tensor into a model and convert it."""
    from tinycnn.tfenv import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.layers.Input(input_shape)
    model = keras.Model(inputs, build(keras, keras.layers, inputs))
    for layer in model.layers:  # randomize BatchNormalization statistics so folding matters
        if isinstance(layer, keras.layers.BatchNormalization):
            rng = np.random.default_rng(seed)
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights(
                [
                    rng.uniform(0.5, 2, gamma.shape),
                    rng.uniform(-0.5, 0.5, beta.shape),
                    rng.uniform(-0.5, 0.5, mean.shape),
                    rng.uniform(0.5, 2, var.shape),
                ]
            )
    rng = np.random.default_rng(seed)
    calibration = rng.uniform(-calibration_range, calibration_range, size=(100, *input_shape))
    return convert_int8(model, calibration.astype(np.float32), int8_io=int8_io)


def random_inputs(model, samples=SAMPLES, seed=1) -> np.ndarray:
    tensor = model.input_tensors()[0]
    rng = np.random.default_rng(seed)
    if tensor.dtype == np.float32:
        return rng.uniform(-1.2, 1.2, size=(samples, *tensor.shape[1:])).astype(np.float32)
    info = np.iinfo(tensor.dtype)
    return rng.integers(info.min, info.max + 1, size=(samples, *tensor.shape[1:])).astype(
        tensor.dtype
    )


def first_mismatch(expected: np.ndarray, actual: np.ndarray) -> str:
    differing = np.flatnonzero(expected.ravel() != actual.ravel())
    if not differing.size:
        return "identical"
    i = int(differing[0])
    return (
        f"{differing.size} of {expected.size} differ; first at flat index {i} "
        f"(sample {np.unravel_index(i, expected.shape)[0]}): expected {expected.ravel()[i]}, "
        f"reference gave {actual.ravel()[i]}"
    )


def check_bit_exact(content: bytes, engines=("litert", "tflm")) -> dict[str, str]:
    """Reference engine vs each interpreter; returns {engine: 'identical' or a description}."""
    model = read_model(content)
    inputs = random_inputs(model)
    results = {}
    for engine in engines:
        convention = "tflite" if engine == "litert" else "tflm"
        expected = run_interpreter(engine, content, inputs)
        actual = run_model(model, inputs, convention=convention).outputs[0]
        assert actual.dtype == expected.dtype and actual.shape == expected.shape, (
            actual.shape,
            expected.shape,
        )
        results[engine] = first_mismatch(expected, actual)
    return results
