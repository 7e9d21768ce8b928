"""AVERAGE_POOL_2D: pool sizes (square and not), strides and both paddings."""

import pytest
from op_harness import check_bit_exact, convert_case

# name: (pool, strides, padding, input shape)
CASES = {
    "avg_1x8x8x3_p2_s2_valid": (2, 2, "valid", (8, 8, 3)),
    "avg_1x7x7x3_p3_s2_same": (3, 2, "same", (7, 7, 3)),
    "avg_1x9x6x4_p3x2_s1_same": ((3, 2), 1, "same", (9, 6, 4)),
}


@pytest.mark.parametrize("name", CASES)
def test_average_pool(name):
    pool, strides, padding, shape = CASES[name]

    def build(keras, layers, x):
        return layers.AveragePooling2D(pool, strides=strides, padding=padding)(x)

    assert check_bit_exact(convert_case(build, shape)) == {
        "litert": "identical",
        "tflm": "identical",
    }
