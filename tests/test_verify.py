"""Whole models: trained ones bit-exact on real test images, the TFLM repository's models,
and the layer-by-layer report finding a deliberately broken layer."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import tflite
from conftest import SHARED_MODELS

from tinycnn.quantize import INT8_MODEL_FILE
from tinycnn.verify import verify


def test_seed_cnn_bit_exact_on_test_images(seed_cnn_run):
    report = verify(seed_cnn_run, images=500)
    assert report.inputs.startswith("Fashion-MNIST test images")
    assert [(e.engine, e.identical_share, e.max_diff_lsb) for e in report.engines] == [
        ("litert", 1.0, 0),
        ("tflm", 1.0, 0),
    ]
    assert report.bit_exact
    names = [layer.layer for layer in report.layers]
    assert names[0] == "conv1" and "conv2" in names and names[-1] == "logits_softmax"
    for layer in report.layers:
        assert layer.sqnr_db > 20 and layer.cosine > 0.99, layer
    assert abs(report.accuracy.float_accuracy - report.accuracy.int8_accuracy) < 0.03
    assert report.accuracy.agreement > 0.97


@pytest.fixture(scope="module")
def dnn_run(tmp_path_factory):
    from tinycnn.quantize import quantize_run
    from tinycnn.train import TrainConfig, train

    run_dir = tmp_path_factory.mktemp("runs") / "dnn"
    train(TrainConfig("dnn", epochs=2, batch_size=64, subset=10_000), run_dir)
    quantize_run(run_dir, calibration_samples=200)
    return run_dir


def test_dnn_bit_exact_on_test_images(dnn_run):
    report = verify(dnn_run, images=500)
    assert report.bit_exact and all(e.identical_share == 1.0 for e in report.engines)
    assert [layer.layer for layer in report.layers] == ["flatten", "dense_128", "logits_softmax"]


def _scale_weights(model_path, tensor_name_part: str, factor: float):
    """Multiply one int8 weight tensor's values in place in the flatbuffer (quantization broken:
    the stored scale no longer describes the values)."""
    content = bytearray(model_path.read_bytes())
    model = tflite.Model.GetRootAsModel(content, 0)
    graph = model.Subgraphs(0)
    for index in range(graph.TensorsLength()):
        tensor = graph.Tensors(index)
        name = tensor.Name().decode()
        if tensor_name_part in name and tensor.Type() == tflite.TensorType.INT8 and tensor.Buffer():
            values = model.Buffers(tensor.Buffer()).DataAsNumpy().view(np.int8)
            values[:] = np.clip(np.round(values * factor), -127, 127).astype(np.int8)
            model_path.write_bytes(bytes(content))
            return name
    raise AssertionError(f"no int8 constant tensor named like {tensor_name_part}")


def test_layer_report_flags_a_broken_layer(seed_cnn_run, tmp_path):
    run_dir = tmp_path / "broken"
    shutil.copytree(seed_cnn_run, run_dir)
    _scale_weights(run_dir / INT8_MODEL_FILE, "conv2/Conv2D", 0.5)
    report = verify(run_dir, images=300)
    assert report.bit_exact  # the engines still agree: the arithmetic is right, the model is not
    worst = [layer for layer in report.layers if layer.worst]
    assert [layer.layer for layer in worst] == ["conv2"]
    healthy = verify(seed_cnn_run, images=300)
    conv2 = {layer.layer: layer for layer in healthy.layers}["conv2"]
    broken_conv2 = {layer.layer: layer for layer in report.layers}["conv2"]
    assert broken_conv2.local_sqnr_db < conv2.local_sqnr_db - 3


def _shared(name):
    path = SHARED_MODELS / name
    if not path.is_file():
        pytest.skip(f"{path} not present")
    return path


def test_hello_world_all_inputs():
    report = verify(_shared("hello_world_int8.tflite"))
    assert report.samples == 256 and report.inputs == "all 256 int8 input values"
    assert report.bit_exact and [e.identical_share for e in report.engines] == [1.0, 1.0]


def test_hello_world_interpreters_round_differently():
    """The two conventions are both needed: LiteRT and TFLM disagree on 23 of 256 inputs."""
    from tinycnn.interpreters import run_interpreter
    from tinycnn.ref.runner import run_model
    from tinycnn.tflite_io import read_model

    path = _shared("hello_world_int8.tflite")
    content = path.read_bytes()
    inputs = np.arange(-128, 128, dtype=np.int8).reshape(256, 1)
    litert = run_interpreter("litert", content, inputs)
    tflm = run_interpreter("tflm", content, inputs)
    assert int(np.sum(litert != tflm)) == 23
    model = read_model(content)
    assert np.array_equal(run_model(model, inputs, rounding="tflite").outputs[0], litert)
    assert np.array_equal(run_model(model, inputs, rounding="tflm").outputs[0], tflm)


def test_micro_speech():
    report = verify(_shared("micro_speech_quantized.tflite"), images=200)
    assert report.bit_exact and [e.identical_share for e in report.engines] == [1.0, 1.0]


def test_person_detect_against_tflm():
    report = verify(_shared("person_detect.tflite"), images=20)
    litert, tflm = report.engines
    assert litert.unavailable and "quantized_dimension" in litert.unavailable
    assert tflm.identical_share == 1.0 and report.bit_exact


def test_lstm_is_refused_by_name():
    from tinycnn.ir import UnsupportedOperator

    with pytest.raises(UnsupportedOperator, match="operator #0 UNIDIRECTIONAL_SEQUENCE_LSTM"):
        verify(_shared("trained_lstm_int8.tflite"), images=5)
