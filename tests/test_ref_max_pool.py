"""MAX_POOL_2D: pool sizes, strides and both paddings."""

import pytest
from op_harness import check_bit_exact, convert_case

# name: (pool, strides, padding, input shape)
CASES = {
    "max_1x8x8x3_p2_s2_valid": (2, 2, "valid", (8, 8, 3)),
    "max_1x9x9x3_p3_s2_same": (3, 2, "same", (9, 9, 3)),
    "max_1x7x7x2_p2_s1_same": (2, 1, "same", (7, 7, 2)),
}


@pytest.mark.parametrize("name", CASES)
def test_max_pool(name):
    pool, strides, padding, shape = CASES[name]

    def build(keras, layers, x):
        return layers.MaxPooling2D(pool, strides=strides, padding=padding)(x)

    assert check_bit_exact(convert_case(build, shape)) == {
        "litert": "identical",
        "tflm": "identical",
    }
