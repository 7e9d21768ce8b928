"""TANH: standalone over a wide range, after a convolution, and on every int8 input value."""

import numpy as np
import pytest
from op_harness import check_bit_exact, convert_case

from tinycnn.model.tflite_io import read_model

# name: (builder, calibration range)
CASES = {
    "tanh": (lambda k, L, x: L.Activation("tanh")(x), 4.0),
    "tanh_narrow": (lambda k, L, x: L.Activation("tanh")(x), 0.3),
    "tanh_after_conv": (lambda k, L, x: L.Activation("tanh")(L.Conv2D(3, 3)(x)), 2.0),
    "tanh_after_dense": (lambda k, L, x: L.Dense(7, activation="tanh")(L.Flatten()(x)), 1.0),
}


@pytest.mark.parametrize("name", CASES)
def test_tanh(name):
    build, calibration_range = CASES[name]
    content = convert_case(build, (6, 6, 3), calibration_range=calibration_range)
    assert "TANH" in read_model(content).opcodes()
    assert check_bit_exact(content) == {"litert": "identical", "tflm": "identical"}


@pytest.mark.parametrize("calibration_range", [0.05, 1.0, 9.0, 40.0])
def test_tanh_every_input_value(calibration_range):
    """All 256 int8 inputs, for input scales from far inside to far beyond the radius."""
    from tinycnn.model.interpreters import run_interpreter
    from tinycnn.ref.runner import run_model

    content = convert_case(CASES["tanh"][0], (16, 16, 1), calibration_range=calibration_range)
    ir = read_model(content)
    values = np.arange(-128, 128, dtype=np.int8).reshape(1, 16, 16, 1)
    for engine, convention in (("litert", "tflite"), ("tflm", "tflm")):
        expected = run_interpreter(engine, content, values)
        assert np.array_equal(run_model(ir, values, convention=convention).outputs[0], expected)


@pytest.mark.slow
def test_classic_lenet5_runs_bit_exact_on_every_engine(tmp_path, dataset):
    """LeNet-5 with the paper's tanh (the zoo's lenet5_tanh, four TANH ops), converted with
    Fashion-MNIST calibration: LiteRT, TFLite Micro, the generated C on the host and the
    emulated Cortex-M4 all give the reference engine's outputs."""
    from tinycnn.engines.verify import verify
    from tinycnn.quantization.quantize import convert_int8
    from tinycnn.tfenv import keras
    from tinycnn.training.data import to_float
    from tinycnn.training.models import get_model_spec

    keras.utils.set_random_seed(0)
    model = get_model_spec("lenet5_tanh").build((28, 28, 1), 10)
    path = tmp_path / "lenet5_tanh.tflite"
    path.write_bytes(convert_int8(model, to_float(dataset.train_images[:200])))
    assert [op.opcode for op in read_model(path).operators].count("TANH") == 4
    report = verify(path, images=64)
    assert [e.engine for e in report.engines] == ["litert", "tflm", "c", "m4"]
    assert all(e.identical_share == 1.0 and e.max_diff_lsb == 0 for e in report.engines), [
        (e.engine, e.identical_share, e.unavailable, e.failed) for e in report.engines
    ]
