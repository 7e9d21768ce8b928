"""QUANTIZE and DEQUANTIZE, the pair at the edges of a model with a float interface."""

from op_harness import check_bit_exact, convert_case

from tinycnn.model.tflite_io import read_model


def test_float_interface_quantize_dequantize():
    def build(keras, layers, x):
        return layers.Dense(6, activation="relu")(layers.Flatten()(x))

    content = convert_case(build, (5, 5, 2), int8_io=False)
    assert (
        read_model(content).opcodes() == ["QUANTIZE", "RESHAPE", "FULLY_CONNECTED", "DEQUANTIZE"]
        or read_model(content).opcodes()[0] == "QUANTIZE"
    )
    assert check_bit_exact(content) == {"litert": "identical", "tflm": "identical"}
