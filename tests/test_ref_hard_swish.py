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


def test_tflm_divides_the_scales_in_double():
    """Scales where the float32 quotient is a tie of the Q15 downscale (a trained
    efficientnet_tiny's): LiteRT divides in float32 and gets output multiplier 30277, TFLite
    Micro divides the widened scales in double and gets 30276, and input 62 comes out 7
    against 6. Each convention is checked on all 256 input values against its interpreter."""
    import numpy as np
    from tensorflow.lite.tools import flatbuffer_utils

    from tinycnn.model.interpreters import run_interpreter
    from tinycnn.ref.runner import run_model

    content = convert_case(CASES["hard_swish"][0], (16, 16, 1), calibration_range=5.0)
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    graph = model.subgraphs[0]
    op = graph.operators[-1]  # the HARD_SWISH
    quantizations = {
        op.inputs[0]: (0.09639241546392441, -7),
        op.outputs[0]: (0.052162349224090576, -121),
    }
    for index, (scale, zero_point) in quantizations.items():
        graph.tensors[index].quantization.scale = [scale]
        graph.tensors[index].quantization.zeroPoint = [zero_point]
    edited = bytes(flatbuffer_utils.convert_object_to_bytearray(model))
    ir = read_model(edited)
    assert ir.opcodes()[-1] == "HARD_SWISH"
    values = np.arange(-128, 128, dtype=np.int8).reshape(1, 16, 16, 1)
    for engine, convention in (("litert", "tflite"), ("tflm", "tflm")):
        expected = run_interpreter(engine, edited, values)
        assert np.array_equal(run_model(ir, values, convention=convention).outputs[0], expected)
