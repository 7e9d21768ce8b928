"""RELU and RELU6: standalone, and RELU6 fused into the convolution before it."""

import pytest
from op_harness import check_bit_exact, convert_case

from tinycnn.model.tflite_io import read_model

# name: (builder, expected op, calibration range)
CASES = {
    "relu": (lambda k, L, x: L.ReLU()(x), "RELU", 1.0),
    "relu6_wide_range": (lambda k, L, x: L.ReLU(max_value=6.0)(x), "RELU6", 8.0),
    "relu6_fused_into_conv": (
        lambda k, L, x: L.ReLU(max_value=6.0)(L.Conv2D(4, 1)(x)),
        "CONV_2D",
        8.0,
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_relu(name):
    build, expected_op, calibration_range = CASES[name]
    content = convert_case(build, (6, 6, 3), calibration_range=calibration_range)
    assert expected_op in read_model(content).opcodes()
    assert check_bit_exact(content) == {"litert": "identical", "tflm": "identical"}
