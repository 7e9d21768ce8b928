"""SOFTMAX: over the channels of a feature map, and after a dense layer."""

import pytest
from op_harness import check_bit_exact, convert_case

from tinycnn.model.tflite_io import read_model

# name: (builder, calibration range)
CASES = {
    "softmax_channels": (lambda k, L, x: L.Softmax()(L.Conv2D(6, 1)(x)), 3.0),
    "softmax_dense": (
        lambda k, L, x: L.Dense(10, activation="softmax")(L.Flatten()(x)),
        1.0,
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_softmax(name):
    build, calibration_range = CASES[name]
    content = convert_case(build, (6, 6, 3), calibration_range=calibration_range)
    assert "SOFTMAX" in read_model(content).opcodes()
    assert check_bit_exact(content) == {"litert": "identical", "tflm": "identical"}
