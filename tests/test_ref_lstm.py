"""UNIDIRECTIONAL_SEQUENCE_LSTM: one-layer Keras LSTMs converted by the real converter, the
reference engine bit for bit against LiteRT (convention "tflite") and TFLite Micro ("tflm"),
which compute the integer LSTM differently; and TFLite Micro's own trained LSTM model."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SHARED_MODELS
from op_harness import check_bit_exact, convert_case, random_inputs

from tinycnn.model.interpreters import run_interpreter
from tinycnn.model.tflite_io import read_model
from tinycnn.ref.activations16 import SIGMOID_TABLE, table_sigmoid, table_tanh
from tinycnn.ref.gemmlowp import tanh as gemmlowp_tanh
from tinycnn.ref.logistic import logistic_q0
from tinycnn.ref.runner import run_model

pytestmark = pytest.mark.slow  # LSTM conversions and TFLite Micro's trained LSTM

# name: (builder, input shape [time, features], calibration range)
CASES = {
    "lstm_8_t5_sequence": (lambda k, L, x: L.LSTM(8, return_sequences=True)(x), (5, 6), 1.0),
    "lstm_16_t12_last": (lambda k, L, x: L.LSTM(16)(x), (12, 7), 1.0),
    "lstm_32_t28_last_dense": (
        lambda k, L, x: L.Dense(10, activation="softmax")(L.LSTM(32)(x)),
        (28, 28),
        1.0,
    ),
    "lstm_12_wide_inputs": (lambda k, L, x: L.LSTM(12, return_sequences=True)(x), (9, 4), 6.0),
    "lstm_stacked_10_6": (
        lambda k, L, x: L.LSTM(6)(L.LSTM(10, return_sequences=True)(x)),
        (7, 5),
        1.0,
    ),
    "lstm_sequence_flatten_dense": (
        lambda k, L, x: L.Dense(4)(L.Flatten()(L.LSTM(5, return_sequences=True)(x))),
        (6, 3),
        1.0,
    ),
    "lstm_1_unit_t1": (lambda k, L, x: L.LSTM(1, return_sequences=True)(x), (1, 2), 1.0),
}


def set_weights_case(
    steps, features, units, seed, biases, low=-1.0, high=1.0, scale=0.3, recurrent_scale=1.0
) -> bytes:
    """An LSTM with chosen weights (gate biases in the order input, forget, cell, output),
    calibrated on uniform inputs in [low, high): the ranges that put the cell state's scale
    where a case wants it."""
    from tinycnn.quantization.quantize import convert_int8
    from tinycnn.tfenv import keras

    rng = np.random.default_rng(seed)
    inputs = keras.layers.Input((steps, features))
    layer = keras.layers.LSTM(units, return_sequences=True)
    model = keras.Model(inputs, layer(inputs))
    kernel = rng.normal(0, scale, (features, 4 * units))
    recurrent = rng.normal(0, scale * recurrent_scale, (units, 4 * units))
    bias = np.repeat(np.asarray(biases, np.float64), units) + rng.normal(0, 0.3, 4 * units)
    layer.set_weights([w.astype(np.float32) for w in (kernel, recurrent, bias)])
    calibration = rng.uniform(low, high, (48, steps, features)).astype(np.float32)
    return convert_int8(model, calibration)


# name: (set_weights_case arguments, the cell state's scale it must give)
EDGE_CASES = {
    # a cell driven to the clip at 10: scale 2^-11, |c| clipped at 20480
    "cell_clipped_2^-11": (
        dict(steps=40, features=4, units=6, seed=11, biases=[4, 5, 2.5, 0.5]),
        -11,
    ),
    # a tiny cell range: scale 2^-16, where LiteRT skips the cell tanh (its bug, reproduced)
    "tiny_cell_2^-16": (
        dict(
            steps=5,
            features=6,
            units=9,
            seed=14,
            biases=[-1, -1, 0.2, 0],
            low=-0.5,
            high=0.1,
            scale=0.1,
        ),
        -16,
    ),
    # large recurrent weights: recurrent products beyond int16, saturated in TFLM only
    "large_recurrent_weights": (
        dict(
            steps=20,
            features=3,
            units=5,
            seed=3,
            biases=[1, 1, 0, 0],
            low=-3,
            high=3,
            scale=0.8,
            recurrent_scale=4.0,
        ),
        None,
    ),
}


@pytest.mark.parametrize("name", EDGE_CASES)
def test_lstm_edge_cases(name):
    arguments, exponent = EDGE_CASES[name]
    content = set_weights_case(**arguments)
    model = read_model(content)
    if exponent is not None:
        cell = model.tensors[model.operators[0].inputs[19]]
        assert cell.quantization.single_scale == 2.0**exponent
    assert check_bit_exact(content) == {"litert": "identical", "tflm": "identical"}


@pytest.mark.parametrize("name", CASES)
def test_lstm(name):
    build, shape, calibration_range = CASES[name]
    content = convert_case(build, shape, calibration_range=calibration_range)
    opcodes = read_model(content).opcodes()
    assert opcodes[0] == "UNIDIRECTIONAL_SEQUENCE_LSTM", opcodes
    assert "WHILE" not in opcodes and len(opcodes) <= 5
    assert check_bit_exact(content) == {"litert": "identical", "tflm": "identical"}


def test_the_two_interpreters_differ_and_each_convention_follows_its_own():
    """Not a tolerance: LiteRT and TFLM disagree on some inputs, and the reference engine
    reproduces each exactly (so a test comparing one convention with the other engine fails)."""
    content = convert_case(CASES["lstm_32_t28_last_dense"][0], (28, 28), calibration_range=1.0)
    model = read_model(content)
    inputs = random_inputs(model, samples=64)
    litert = run_interpreter("litert", content, inputs)
    tflm = run_interpreter("tflm", content, inputs)
    assert not np.array_equal(litert, tflm)
    assert np.array_equal(run_model(model, inputs, convention="tflite").outputs[0], litert)
    assert np.array_equal(run_model(model, inputs, convention="tflm").outputs[0], tflm)


def test_tflm_trained_lstm_is_bit_exact():
    path = SHARED_MODELS / "trained_lstm_int8.tflite"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    content = path.read_bytes()
    model = read_model(content)
    # Random rows, and the Fashion-MNIST test images read row by row.
    from tinycnn.training.data import load_fashion_mnist

    images = load_fashion_mnist().test_images[:300].astype(np.int64) - 128
    rng = np.random.default_rng(5)
    inputs = np.concatenate([rng.integers(-128, 128, (200, 28, 28)), images]).astype(np.int8)
    for engine, convention in (("tflm", "tflm"), ("litert", "tflite")):
        expected = run_interpreter(engine, content, inputs)
        assert np.array_equal(
            run_model(model, inputs, convention=convention).outputs[0], expected
        ), engine


def test_the_c_runtime_holds_the_same_sigmoid_table():
    """firmware/tc_lstm_s8.c carries its own copy of the table: the same 256 values."""
    import re

    from tinycnn.codegen.render import firmware_dir

    source = (firmware_dir() / "tc_lstm_s8.c").read_text()
    body = re.search(r"tc_sigmoid_table\[256\] = \{([^}]*)\}", source).group(1)
    assert [int(v) for v in re.findall(r"\d+", body)] == SIGMOID_TABLE.tolist()


def test_int16_activations_on_every_input():
    """The table sigmoid and tanh are monotone, odd/centred, and end at the Q0.15 limits; the
    gemmlowp ones stay within a few LSB of them (they are different approximations)."""
    x = np.arange(-32768, 32768)
    assert int(SIGMOID_TABLE.sum()) == 15670629  # TFLite Micro's table, checksum
    sigmoid = table_sigmoid(x)
    assert sigmoid[32768] == 16384 and np.all(np.diff(sigmoid) >= 0)
    assert np.abs(sigmoid - 32768 / (1 + np.exp(-x / 4096.0))).max() < 8
    tanh = table_tanh(x, 3)
    assert tanh[32768] == 0 and np.all(np.diff(tanh) >= 0)
    assert np.abs(tanh - 32768 * np.tanh(x / 4096.0)).max() < 16
    assert 0 < np.abs(logistic_q0(x, 3, bits=16) - sigmoid).max() <= 7
    assert 0 < np.abs(gemmlowp_tanh(x, 3, bits=16) - tanh).max() <= 13


# The test images on which zoo:lstm80's TFLite Micro output depends on the gate multipliers'
# last bits: TFLite Micro multiplies the scales in double, LiteRT rounds the product to float32.
MULTIPLIER_EDGE_IMAGES = [3204, 3926, 4272, 4673, 8332, 8782]


def test_gate_multipliers_follow_each_interpreter():
    from tinycnn.quantization.inputs import fashion_images
    from tinycnn.rundir import INT8_MODEL_FILE, PRETRAINED_DIR

    path = PRETRAINED_DIR / "lstm80" / INT8_MODEL_FILE
    if not path.is_file():
        pytest.skip(f"{path} not shipped")
    content = path.read_bytes()
    model = read_model(content)
    inputs = fashion_images(model, max(MULTIPLIER_EDGE_IMAGES) + 1).values[MULTIPLIER_EDGE_IMAGES]
    for engine, convention in (("tflm", "tflm"), ("litert", "tflite")):
        expected = run_interpreter(engine, content, inputs)
        assert np.array_equal(
            run_model(model, inputs, convention=convention).outputs[0], expected
        ), engine
