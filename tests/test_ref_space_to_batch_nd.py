"""Dilated convolutions: the converter emits SPACE_TO_BATCH_ND, CONV_2D or DEPTHWISE_CONV_2D,
BATCH_TO_SPACE_ND. The reference engine matches LiteRT bit for bit. TFLite Micro does not
run these graphs correctly (it keeps the static batch of 1 the file records for the folded
tensors and pads with 0 instead of the zero point), so its outputs are checked to differ
from LiteRT's: if a TFLM release fixes this, this test says so."""

import numpy as np
import pytest
from op_harness import check_bit_exact, convert_case, random_inputs

from tinycnn.interpreters import run_interpreter
from tinycnn.tflite_io import read_model

CASES = {
    "conv_1x11x11x1_k3_d2_same": lambda k, L, x: L.Conv2D(4, 3, padding="same", dilation_rate=2)(x),
    "conv_1x12x12x2_k3_d3_valid": lambda k, L, x: L.Conv2D(
        3, 3, dilation_rate=3, activation="relu"
    )(x),
    "dw_1x11x11x2_k3_d2_same": lambda k, L, x: L.DepthwiseConv2D(
        3, padding="same", dilation_rate=2
    )(x),
}


@pytest.mark.parametrize("name", CASES)
def test_dilated_convolution_matches_litert(name):
    content = convert_case(
        CASES[name],
        (11, 11, 1) if "1x11x11x1" in name else (12, 12, 2) if "12x12" in name else (11, 11, 2),
    )
    assert "SPACE_TO_BATCH_ND" in read_model(content).opcodes()
    assert check_bit_exact(content, engines=("litert",)) == {"litert": "identical"}


def test_tflm_mishandles_dilated_convolution():
    content = convert_case(CASES["conv_1x11x11x1_k3_d2_same"], (11, 11, 1))
    inputs = random_inputs(read_model(content), samples=4)
    litert = run_interpreter("litert", content, inputs)
    tflm = run_interpreter("tflm", content, inputs)
    assert not np.array_equal(litert, tflm)
