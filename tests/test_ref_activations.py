"""Standalone activation ops: RELU, RELU6, LEAKY_RELU, LOGISTIC, HARD_SWISH, SOFTMAX."""

import pytest
from op_harness import check_bit_exact, convert_case

from tinycnn.model.tflite_io import read_model


def _hard_swish(keras, v):
    return v * keras.activations.relu(v + 3.0, max_value=6.0) / 6.0


# name: (builder, expected op, calibration range)
CASES = {
    "relu": (lambda k, L, x: L.ReLU()(x), "RELU", 1.0),
    "relu6_wide_range": (lambda k, L, x: L.ReLU(max_value=6.0)(x), "RELU6", 8.0),
    "relu6_fused_into_conv": (
        lambda k, L, x: L.ReLU(max_value=6.0)(L.Conv2D(4, 1)(x)),
        "CONV_2D",
        8.0,
    ),
    "leaky_relu_0_2": (lambda k, L, x: L.LeakyReLU(0.2)(x), "LEAKY_RELU", 1.0),
    "leaky_relu_0_01": (lambda k, L, x: L.LeakyReLU(0.01)(L.Conv2D(3, 1)(x)), "LEAKY_RELU", 3.0),
    "sigmoid": (lambda k, L, x: L.Activation("sigmoid")(x), "LOGISTIC", 6.0),
    "sigmoid_after_conv": (
        lambda k, L, x: L.Activation("sigmoid")(L.Conv2D(3, 3)(x)),
        "LOGISTIC",
        2.0,
    ),
    "hard_swish": (lambda k, L, x: L.Lambda(lambda v: _hard_swish(k, v))(x), "HARD_SWISH", 5.0),
    "hard_swish_after_conv": (
        lambda k, L, x: L.Lambda(lambda v: _hard_swish(k, v))(L.Conv2D(5, 3)(x)),
        "HARD_SWISH",
        1.0,
    ),
    "softmax_channels": (lambda k, L, x: L.Softmax()(L.Conv2D(6, 1)(x)), "SOFTMAX", 3.0),
    "softmax_dense": (
        lambda k, L, x: L.Dense(10, activation="softmax")(L.Flatten()(x)),
        "SOFTMAX",
        1.0,
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_activation(name):
    build, expected_op, calibration_range = CASES[name]
    content = convert_case(build, (6, 6, 3), calibration_range=calibration_range)
    assert expected_op in read_model(content).opcodes()
    assert check_bit_exact(content) == {"litert": "identical", "tflm": "identical"}
