"""MAX_POOL_2D, AVERAGE_POOL_2D and MEAN (GlobalAveragePooling2D)."""

import pytest
from op_harness import check_bit_exact, convert_case

# name: (layer, pool, strides, padding, input shape)
CASES = {
    "max_1x8x8x3_p2_s2_valid": ("max", 2, 2, "valid", (8, 8, 3)),
    "max_1x9x9x3_p3_s2_same": ("max", 3, 2, "same", (9, 9, 3)),
    "max_1x7x7x2_p2_s1_same": ("max", 2, 1, "same", (7, 7, 2)),
    "avg_1x8x8x3_p2_s2_valid": ("avg", 2, 2, "valid", (8, 8, 3)),
    "avg_1x7x7x3_p3_s2_same": ("avg", 3, 2, "same", (7, 7, 3)),
    "avg_1x9x6x4_p3x2_s1_same": ("avg", (3, 2), 1, "same", (9, 6, 4)),
}


@pytest.mark.parametrize("name", CASES)
def test_pooling(name):
    kind, pool, strides, padding, shape = CASES[name]
    layer_class = "MaxPooling2D" if kind == "max" else "AveragePooling2D"

    def build(keras, layers, x):
        return getattr(layers, layer_class)(pool, strides=strides, padding=padding)(x)

    assert check_bit_exact(convert_case(build, shape)) == {
        "litert": "identical",
        "tflm": "identical",
    }


@pytest.mark.parametrize("shape", [(6, 6, 3), (7, 7, 4), (5, 3, 8), (13, 13, 2)])
def test_global_average_pooling_mean(shape):
    def build(keras, layers, x):
        return layers.GlobalAveragePooling2D()(layers.Conv2D(shape[2], 1)(x))

    assert check_bit_exact(convert_case(build, shape, calibration_range=2.0)) == {
        "litert": "identical",
        "tflm": "identical",
    }
