"""Full-integer int8 conversion and what it costs in accuracy."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tflite

from tinycnn.model.ir import ModelFormatError
from tinycnn.model.tflite_io import read_tflite
from tinycnn.quantization.evaluate import evaluate_run
from tinycnn.quantization.quantize import quantize_run
from tinycnn.rundir import INT8_MODEL_FILE, RunError
from tinycnn.training.train import TrainConfig, train

pytestmark = pytest.mark.slow  # real training runs, evaluated on 10,000 test images

TENSOR_TYPES = {v: k for k, v in vars(tflite.TensorType).items() if not k.startswith("_")}


def _weight_and_io_types(content: bytes):
    model = tflite.Model.GetRootAsModel(content, 0)
    graph = model.Subgraphs(0)
    io = [TENSOR_TYPES[graph.Tensors(i).Type()] for i in (graph.Inputs(0), graph.Outputs(0))]
    weights, biases = [], []
    for op_index in range(graph.OperatorsLength()):
        op = graph.Operators(op_index)
        code = model.OperatorCodes(op.OpcodeIndex())
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if builtin in (tflite.BuiltinOperator.CONV_2D, tflite.BuiltinOperator.FULLY_CONNECTED):
            weights.append(TENSOR_TYPES[graph.Tensors(op.Inputs(1)).Type()])
            if op.InputsLength() > 2 and op.Inputs(2) >= 0:
                biases.append(TENSOR_TYPES[graph.Tensors(op.Inputs(2)).Type()])
    return io, weights, biases


def test_ptq_model_is_int8_throughout(seed_cnn_run):
    content = read_tflite(seed_cnn_run / INT8_MODEL_FILE)
    io, weights, biases = _weight_and_io_types(content)
    assert io == ["INT8", "INT8"]
    assert weights == ["INT8"] * 3  # conv1, conv2, dense
    assert biases == ["INT32"] * 3
    info = json.loads((seed_cnn_run / "quantize.json").read_text())
    assert info["input_zero_point"] == -128 and info["input_scale"] == pytest.approx(1 / 255)


def test_int8_accuracy_stays_within_1_5_points_of_float(seed_cnn_run):
    evaluation = evaluate_run(seed_cnn_run)
    assert evaluation.test_images == 10_000
    assert evaluation.float_accuracy > 0.8
    assert abs(evaluation.difference_points) <= 1.5
    assert evaluation.agreement > 0.97
    confusion = np.array(evaluation.int8_confusion)
    assert confusion.sum() == 10_000 and confusion.sum(axis=1).tolist() == [1000] * 10
    assert np.trace(confusion) / 10_000 == pytest.approx(evaluation.int8_accuracy)


def test_qat_fine_tuning_produces_an_int8_model(tmp_path):
    train(TrainConfig("seed_cnn", epochs=1, batch_size=128, subset=3000), tmp_path)
    result = quantize_run(tmp_path, calibration_samples=100, qat_epochs=1)
    io, weights, _ = _weight_and_io_types(result.path.read_bytes())
    assert io == ["INT8", "INT8"] and weights == ["INT8"] * 3
    evaluation = evaluate_run(tmp_path)
    assert evaluation.int8_accuracy > 0.6


def test_not_a_tflite_file(tmp_path):
    bogus = tmp_path / "model.tflite"
    bogus.write_bytes(b"\x00" * 64)
    with pytest.raises(ModelFormatError, match="is not a TFLite model"):
        read_tflite(bogus)


def test_calibration_larger_than_training_set(tmp_path):
    train(TrainConfig("dnn", epochs=1, batch_size=64, subset=100), tmp_path)
    with pytest.raises(RunError, match="calibration samples asked for"):
        quantize_run(tmp_path, calibration_samples=1000)
    assert not (tmp_path / INT8_MODEL_FILE).exists()


def _nan_dnn(tmp_path):
    """A finished run whose float model has NaN weights: what a diverged training leaves."""
    from tinycnn.tfenv import keras

    run_dir = tmp_path / "run"
    train(TrainConfig("dnn", epochs=1, batch_size=64, subset=500), run_dir)
    model = keras.models.load_model(run_dir / "model.keras")
    weights = model.layers[-1].get_weights()
    model.layers[-1].set_weights([np.full_like(weights[0], np.nan), weights[1]])
    model.save(run_dir / "model.keras")
    return run_dir, model


def test_nan_weights_are_refused_and_nothing_is_written(tmp_path):
    from tinycnn.quantization.quantize import ConversionError, convert_int8

    run_dir, model = _nan_dnn(tmp_path)
    with pytest.raises(ConversionError, match="layer 'logits_softmax' has NaN or infinite weights"):
        quantize_run(run_dir, calibration_samples=50)
    assert not (run_dir / INT8_MODEL_FILE).exists()
    assert not list(run_dir.glob(".*partial*"))
    # Past that check, the converter itself falls back to float ops: the result is refused too.
    calibration = np.random.default_rng(0).uniform(0, 1, (20, 28, 28, 1)).astype(np.float32)
    with pytest.raises(ConversionError, match=r"left operator #\d+ \w+ in float32"):
        convert_int8(model, calibration)


def test_a_float_model_is_not_full_int8():
    from tinycnn.quantization.quantize import ConversionError, check_full_int8
    from tinycnn.tfenv import keras, tf

    model = keras.Sequential([keras.layers.Input((4,)), keras.layers.Dense(3)])
    content = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    with pytest.raises(ConversionError, match="input is float32, not int8"):
        check_full_int8(content)
    with pytest.raises(ConversionError, match="left operator #0 FULLY_CONNECTED in float32"):
        check_full_int8(content, int8_io=False)
