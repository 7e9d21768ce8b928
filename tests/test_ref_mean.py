"""MEAN, from GlobalAveragePooling2D after a convolution, on square and odd shapes."""

import pytest
from op_harness import check_bit_exact, convert_case

# name: input shape
CASES = {
    "mean_1x6x6x3": (6, 6, 3),
    "mean_1x7x7x4": (7, 7, 4),
    "mean_1x5x3x8": (5, 3, 8),
    "mean_1x13x13x2": (13, 13, 2),
}


@pytest.mark.parametrize("name", CASES)
def test_global_average_pooling_mean(name):
    shape = CASES[name]

    def build(keras, layers, x):
        return layers.GlobalAveragePooling2D()(layers.Conv2D(shape[2], 1)(x))

    assert check_bit_exact(convert_case(build, shape, calibration_range=2.0)) == {
        "litert": "identical",
        "tflm": "identical",
    }
