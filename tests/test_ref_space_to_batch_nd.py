"""Dilated convolutions: the converter emits SPACE_TO_BATCH_ND, CONV_2D or DEPTHWISE_CONV_2D,
BATCH_TO_SPACE_ND. The reference engine matches LiteRT bit for bit. TFLite Micro does not
run these graphs correctly (it keeps the static batch of 1 the file records for the folded
tensors and pads with 0 instead of the zero point), and its outputs are not even
repeatable. Its outputs are checked to differ from LiteRT's, recorded by tests/make_golden.py:
if a TFLM release fixes this, this test says so."""

from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest
from op_harness import check_bit_exact, convert_case

from tinycnn.model.interpreters import run_interpreter
from tinycnn.model.tflite_io import read_model
from tinycnn.ref.runner import run_model

GOLDEN = Path(__file__).parent / "golden" / "tflm_dilated_conv.npz"
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
    """On stored data (tests/make_golden.py): the reference engine still gives the LiteRT
    outputs recorded for the stored model, and TFLite Micro still does not."""
    golden = np.load(GOLDEN, allow_pickle=False)
    content, inputs = golden["model"].tobytes(), golden["inputs"]
    recorded = f"ai-edge-litert {golden['version_ai-edge-litert']}"
    reference = run_model(read_model(content), inputs, convention="tflite").outputs[0]
    assert np.array_equal(reference, golden["litert"]), f"LiteRT outputs recorded with {recorded}"
    for _ in range(2):  # TFLM's wrong answers change from run to run
        assert not np.array_equal(run_interpreter("tflm", content, inputs), golden["litert"]), (
            f"tflite-micro {version('tflite-micro')} now runs dilated convolutions right "
            f"(recorded with {golden['version_tflite-micro']}): update the note in docs/quantization.md"
        )
