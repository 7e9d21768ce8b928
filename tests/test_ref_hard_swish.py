"""HARD_SWISH, written as x * relu6(x + 3) / 6 (the converter recognizes the pattern)."""

import pytest
from op_harness import check_bit_exact, convert_case

from tinycnn.model.tflite_io import read_model


def _hard_swish(keras, v):
    return v * keras.activations.relu(v + 3.0, max_value=6.0) / 6.0


# name: (builder, calibration range)
CASES = {
    "hard_swish": (lambda k, L, x: L.Lambda(lambda v: _hard_swish(k, v))(x), 5.0),
    "hard_swish_after_conv": (
        lambda k, L, x: L.Lambda(lambda v: _hard_swish(k, v))(L.Conv2D(5, 3)(x)),
        1.0,
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_hard_swish(name):
    build, calibration_range = CASES[name]
    content = convert_case(build, (6, 6, 3), calibration_range=calibration_range)
    assert "HARD_SWISH" in read_model(content).opcodes()
    assert check_bit_exact(content) == {"litert": "identical", "tflm": "identical"}
