"""LOGISTIC (sigmoid): standalone over a wide range, and after a convolution."""

import pytest
from op_harness import check_bit_exact, convert_case

from tinycnn.model.tflite_io import read_model

# name: (builder, calibration range)
CASES = {
    "sigmoid": (lambda k, L, x: L.Activation("sigmoid")(x), 6.0),
    "sigmoid_after_conv": (lambda k, L, x: L.Activation("sigmoid")(L.Conv2D(3, 3)(x)), 2.0),
}


@pytest.mark.parametrize("name", CASES)
def test_logistic(name):
    build, calibration_range = CASES[name]
    content = convert_case(build, (6, 6, 3), calibration_range=calibration_range)
    assert "LOGISTIC" in read_model(content).opcodes()
    assert check_bit_exact(content) == {"litert": "identical", "tflm": "identical"}
