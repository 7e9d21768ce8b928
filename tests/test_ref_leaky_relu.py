"""LEAKY_RELU: two slopes, standalone and after a convolution."""

import pytest
from op_harness import check_bit_exact, convert_case

from tinycnn.model.tflite_io import read_model

# name: (builder, calibration range)
CASES = {
    "leaky_relu_0_2": (lambda k, L, x: L.LeakyReLU(0.2)(x), 1.0),
    "leaky_relu_0_01": (lambda k, L, x: L.LeakyReLU(0.01)(L.Conv2D(3, 1)(x)), 3.0),
}


@pytest.mark.parametrize("name", CASES)
def test_leaky_relu(name):
    build, calibration_range = CASES[name]
    content = convert_case(build, (6, 6, 3), calibration_range=calibration_range)
    assert "LEAKY_RELU" in read_model(content).opcodes()
    assert check_bit_exact(content) == {"litert": "identical", "tflm": "identical"}
