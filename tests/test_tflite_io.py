"""Reading .tflite files into the internal representation."""

import numpy as np
import pytest
from conftest import SHARED_MODELS

from tinycnn.ir import ModelFormatError
from tinycnn.quantize import INT8_MODEL_FILE
from tinycnn.tflite_io import read_model


def test_reads_a_trained_model(seed_cnn_run):
    model = read_model(seed_cnn_run / INT8_MODEL_FILE)
    assert model.opcodes() == ["CONV_2D", "MAX_POOL_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"]
    conv = model.operators[0]
    assert (
        conv.options["padding"] == "VALID" and conv.options["fused_activation_function"] == "RELU"
    )
    assert conv.options["stride_h"] == 1 and conv.options["dilation_wfactor"] == 1
    weights = model.tensors[conv.inputs[1]]
    assert weights.dtype == np.int8 and weights.shape == (32, 3, 3, 1) and weights.is_constant
    assert weights.quantization.per_channel and weights.quantization.scale.shape == (32,)
    assert weights.quantization.axis == 0
    pool = model.operators[1]
    assert (pool.options["filter_height"], pool.options["stride_w"]) == (2, 2)
    (inp,) = model.input_tensors()
    assert inp.shape == (1, 28, 28, 1) and inp.quantization.single_zero_point == -128
    assert len(model.sha256) == 64


def test_reads_vector_options():
    path = SHARED_MODELS / "micro_speech_quantized.tflite"
    if not path.is_file():
        pytest.skip("shared models absent")
    model = read_model(path)
    assert model.operators[0].options["new_shape"] == [-1, 49, 40, 1]
    assert model.operators[1].options["depth_multiplier"] == 8


@pytest.mark.parametrize(
    "payload, message",
    [
        (b"", "is not a TFLite model"),
        (b"\x00" * 64, "is not a TFLite model"),
        (b"\x1c\x00\x00\x00TFL3" + b"\xff" * 40, "damaged TFLite file"),
    ],
)
def test_refuses_what_is_not_a_model(tmp_path, payload, message):
    path = tmp_path / "bad.tflite"
    path.write_bytes(payload)
    with pytest.raises(ModelFormatError, match=message):
        read_model(path)


def test_truncated_model(seed_cnn_run, tmp_path):
    content = (seed_cnn_run / INT8_MODEL_FILE).read_bytes()
    path = tmp_path / "truncated.tflite"
    path.write_bytes(content[: len(content) // 3])
    with pytest.raises(ModelFormatError):
        read_model(path)
