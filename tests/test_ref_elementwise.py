"""ADD, MUL (BatchNormalization), CONCATENATION, PAD (ZeroPadding2D), RESHAPE, and the
QUANTIZE/DEQUANTIZE pair at the edges of a float-interface model."""

import pytest
from op_harness import check_bit_exact, convert_case

from tinycnn.model.tflite_io import read_model

CASES = {
    "add_conv_residual": lambda k, L, x: L.Add()([L.Conv2D(3, 1)(x), x]),
    "add_relu": lambda k, L, x: L.ReLU()(L.Add()([L.Conv2D(3, 3, padding="same")(x), x])),
    "batchnorm_alone_mul_add": lambda k, L, x: L.BatchNormalization()(x),
    "conv_batchnorm_folded": lambda k, L, x: L.BatchNormalization()(L.Conv2D(4, 3)(x)),
    "concatenate_channels": lambda k, L, x: L.Concatenate()([L.Conv2D(2, 1)(x), x]),
    "zero_padding_asymmetric": lambda k, L, x: L.ZeroPadding2D(((1, 2), (0, 1)))(x),
    "flatten_dropout": lambda k, L, x: L.Dropout(0.5)(L.Flatten()(x)),
}


@pytest.mark.parametrize("name", CASES)
def test_elementwise(name):
    assert check_bit_exact(convert_case(CASES[name], (6, 6, 3))) == {
        "litert": "identical",
        "tflm": "identical",
    }


def test_float_interface_quantize_dequantize():
    def build(keras, layers, x):
        return layers.Dense(6, activation="relu")(layers.Flatten()(x))

    content = convert_case(build, (5, 5, 2), int8_io=False)
    assert (
        read_model(content).opcodes() == ["QUANTIZE", "RESHAPE", "FULLY_CONNECTED", "DEQUANTIZE"]
        or read_model(content).opcodes()[0] == "QUANTIZE"
    )
    assert check_bit_exact(content) == {"litert": "identical", "tflm": "identical"}
