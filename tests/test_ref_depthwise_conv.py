"""DEPTHWISE_CONV_2D (and SeparableConv2D's depthwise half) across options."""

import pytest
from op_harness import check_bit_exact, convert_case

# name: (kernel, strides, padding, depth multiplier, dilation, activation, input shape)
CASES = {
    "dw_1x8x8x3_k3_s1_same_m1": (3, 1, "same", 1, 1, None, (8, 8, 3)),
    "dw_1x8x8x3_k3_s2_valid_m2": (3, 2, "valid", 2, 1, "relu", (8, 8, 3)),
    "dw_1x9x9x5_k3_s2_same_m3_relu6": (3, 2, "same", 3, 1, "relu6", (9, 9, 5)),
    "dw_1x7x10x4_k2x4_s1_valid": ((2, 4), 1, "valid", 1, 1, None, (7, 10, 4)),
}


@pytest.mark.parametrize("name", CASES)
def test_depthwise_conv(name):
    kernel, strides, padding, multiplier, dilation, activation, shape = CASES[name]

    def build(keras, layers, x):
        out = layers.DepthwiseConv2D(
            kernel,
            strides=strides,
            padding=padding,
            depth_multiplier=multiplier,
            dilation_rate=dilation,
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


@pytest.mark.parametrize("padding", ["same", "valid"])
def test_separable_conv(padding):
    def build(keras, layers, x):
        return layers.SeparableConv2D(6, 3, padding=padding, depth_multiplier=2, activation="relu")(
            x
        )

    assert check_bit_exact(convert_case(build, (8, 8, 3))) == {
        "litert": "identical",
        "tflm": "identical",
    }
