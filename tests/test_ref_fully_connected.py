"""FULLY_CONNECTED from Dense layers, after Flatten, with and without bias and activation."""

import pytest
from op_harness import check_bit_exact, convert_case

# name: (units, activation, use_bias, input shape)
CASES = {
    "fc_1x16_u8": (8, None, True, (16,)),
    "fc_1x33_u7_relu": (7, "relu", True, (33,)),
    "fc_1x20_u5_nobias": (5, None, False, (20,)),
    "fc_1x4x4x3_flatten_u10_softmax": (10, "softmax", True, (4, 4, 3)),
    "fc_1x64_u1": (1, None, True, (64,)),
}


@pytest.mark.parametrize("name", CASES)
def test_fully_connected(name):
    units, activation, use_bias, shape = CASES[name]

    def build(keras, layers, x):
        if len(shape) > 1:
            x = layers.Flatten()(x)
        return layers.Dense(
            units, activation=activation, use_bias=use_bias, bias_initializer="random_normal"
        )(x)

    assert check_bit_exact(convert_case(build, shape)) == {
        "litert": "identical",
        "tflm": "identical",
    }
