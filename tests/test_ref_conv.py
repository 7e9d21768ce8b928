"""CONV_2D: the reference kernel bit-exact with LiteRT and TFLite Micro across options."""

import pytest
from op_harness import check_bit_exact, convert_case

# name: (filters, kernel, strides, padding, dilation, activation, use_bias, input shape)
CASES = {
    "conv_1x8x8x3_k3_s1_valid": (4, 3, 1, "valid", 1, None, True, (8, 8, 3)),
    "conv_1x8x8x3_k3_s1_same_relu": (4, 3, 1, "same", 1, "relu", True, (8, 8, 3)),
    "conv_1x9x9x3_k3_s2_same": (5, 3, 2, "same", 1, None, True, (9, 9, 3)),
    "conv_1x10x10x2_k3_s2_valid_relu6": (3, 3, 2, "valid", 1, "relu6", True, (10, 10, 2)),
    "conv_1x7x9x5_k2x3_s1_same_nobias": (7, (2, 3), 1, "same", 1, None, False, (7, 9, 5)),
    "conv_1x12x12x3_k5_s3_same": (6, 5, 3, "same", 1, "relu", True, (12, 12, 3)),
    "conv_1x6x6x7_k1_s1_valid": (9, 1, 1, "valid", 1, None, True, (6, 6, 7)),
    "conv_1x8x6x3_k3_s1x2_same": (4, 3, (1, 2), "same", 1, None, True, (8, 6, 3)),
}


@pytest.mark.parametrize("name", CASES)
def test_conv(name):
    filters, kernel, strides, padding, dilation, activation, use_bias, shape = CASES[name]

    def build(keras, layers, x):
        out = layers.Conv2D(
            filters,
            kernel,
            strides=strides,
            padding=padding,
            dilation_rate=dilation,
            use_bias=use_bias,
            bias_initializer="random_normal",
        )(x)
        if activation == "relu":
            return layers.ReLU()(out)
        if activation == "relu6":
            return layers.ReLU(max_value=6.0)(out)
        return out

    assert check_bit_exact(convert_case(build, shape)) == {
        "litert": "identical",
        "tflm": "identical",
    }
