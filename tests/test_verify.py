"""Whole models: trained ones bit-exact on real test images, the TFLM repository's models,
and the layer-by-layer report finding a deliberately broken layer."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import tflite
from conftest import SHARED_MODELS

from tinycnn.engines.verify import M4_SAMPLES, compare_engine, verify
from tinycnn.model.interpreters import InterpreterError, litert_interpreter, tflm_arena_bytes
from tinycnn.rundir import INT8_MODEL_FILE

pytestmark = pytest.mark.slow  # trained models on thousands of test images


def test_seed_cnn_bit_exact_on_test_images(seed_cnn_run):
    report = verify(seed_cnn_run, images=500)
    assert report.inputs.startswith("Fashion-MNIST test images")
    assert [(e.engine, e.samples, e.identical_share, e.max_diff_lsb) for e in report.engines] == [
        ("litert", 500, 1.0, 0),
        ("tflm", 500, 1.0, 0),
        ("c", 500, 1.0, 0),
        ("m4", M4_SAMPLES, 1.0, 0),
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
    from tinycnn.quantization.quantize import quantize_run
    from tinycnn.training.train import TrainConfig, train

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
    assert report.bit_exact and [e.identical_share for e in report.engines] == [1.0] * 4


def test_generated_c_mismatch_is_reported():
    """The C built with TFLM's rounding against the reference with LiteRT's: on hello_world
    the two differ on 23 of 256 inputs, and verify must say where."""
    from tinycnn.model.tflite_io import read_model
    from tinycnn.ref.runner import run_model

    path = _shared("hello_world_int8.tflite")
    model = read_model(path)
    inputs = np.arange(-128, 128, dtype=np.int8).reshape(256, 1)
    litert_rounding = run_model(model, inputs, convention="tflite").outputs[0]
    for engine in ("c", "m4"):
        comparison = compare_engine(
            model, path.read_bytes(), engine, "tflm", inputs, litert_rounding
        )
        assert comparison.identical_share < 1.0 and not comparison.bit_exact
        first = comparison.first_mismatch
        assert first.op_index is None and first.tensor == model.tensors[model.outputs[0]].name
        assert first.reference == int(litert_rounding[first.sample].ravel()[first.element])
        assert first.interpreter != first.reference


def test_missing_cross_compiler_is_said_not_hidden(seed_cnn_run, tmp_path, monkeypatch):
    """Without arm-none-eabi-gcc and QEMU on PATH the Cortex-M4 line says what to install,
    and the exit status only counts the engines that ran."""
    import os
    from pathlib import Path

    bin_dir = tmp_path / "bin"  # this machine's tools, less the Arm toolchain and QEMU
    bin_dir.mkdir()
    for folder in os.environ["PATH"].split(os.pathsep):
        for tool in Path(folder).glob("*") if Path(folder).is_dir() else []:
            name = tool.name
            if not name.startswith(("arm-none-eabi-", "qemu-")) and not (bin_dir / name).exists():
                (bin_dir / name).symlink_to(tool)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the host C is built anew
    report = verify(seed_cnn_run / INT8_MODEL_FILE, images=20)
    c, m4 = report.engines[-2:]
    assert c.engine == "c" and c.identical_share == 1.0
    assert m4.engine == "m4" and "arm-none-eabi-gcc" in m4.unavailable
    assert "apt-get install gcc-arm-none-eabi" in m4.unavailable
    assert report.bit_exact


def test_hello_world_interpreters_round_differently():
    """The two conventions are both needed: LiteRT and TFLM disagree on 23 of 256 inputs."""
    from tinycnn.model.interpreters import run_interpreter
    from tinycnn.model.tflite_io import read_model
    from tinycnn.ref.runner import run_model

    path = _shared("hello_world_int8.tflite")
    content = path.read_bytes()
    inputs = np.arange(-128, 128, dtype=np.int8).reshape(256, 1)
    litert = run_interpreter("litert", content, inputs)
    tflm = run_interpreter("tflm", content, inputs)
    assert int(np.sum(litert != tflm)) == 23
    model = read_model(content)
    assert np.array_equal(run_model(model, inputs, convention="tflite").outputs[0], litert)
    assert np.array_equal(run_model(model, inputs, convention="tflm").outputs[0], tflm)


def test_micro_speech():
    report = verify(_shared("micro_speech_quantized.tflite"), images=200)
    assert report.bit_exact and [e.identical_share for e in report.engines] == [1.0] * 4


def test_person_detect_against_tflm():
    report = verify(_shared("person_detect.tflite"), images=5)
    litert, tflm, c, m4 = report.engines
    assert litert.unavailable.startswith("LiteRT refuses tensor") and "dimension 3" in (
        litert.unavailable
    )
    assert litert.failed is None
    # Known before trying, and true: LiteRT itself refuses the file for that reason.
    with pytest.raises(InterpreterError, match="quantized_dimension must be in range"):
        litert_interpreter(_shared("person_detect.tflite").read_bytes())
    assert tflm.identical_share == c.identical_share == m4.identical_share == 1.0
    assert report.bit_exact


@pytest.fixture(scope="module")
def wide_conv_model(tmp_path_factory):
    """Conv2D(256, 3, same) on 28x28: its activations (about 200 KB) outgrow the arena the
    tflite-micro package gives by default (ten times the 10 KB file)."""
    from op_harness import convert_case

    path = tmp_path_factory.mktemp("wide") / "conv256.tflite"
    path.write_bytes(convert_case(lambda k, L, x: L.Conv2D(256, 3, padding="same")(x), (28, 28, 1)))
    assert len(path.read_bytes()) * 10 < 200_000
    return path


def test_tflm_arena_grows_to_fit_the_model(wide_conv_model, capfd):
    report = verify(wide_conv_model, images=4, engines=(("litert", "tflite"), ("tflm", "tflm")))
    assert report.bit_exact and report.engines[1].identical_share == 1.0
    assert tflm_arena_bytes(wide_conv_model.read_bytes()) > 200_000
    captured = capfd.readouterr()
    assert "Failed to resize buffer" not in captured.out + captured.err


def test_an_engine_that_cannot_run_fails_verify(wide_conv_model, monkeypatch, capfd):
    import tinycnn.model.interpreters as interpreters

    monkeypatch.setattr(interpreters, "TFLM_MAX_ARENA_BYTES", 1024)  # no growing
    report = verify(wide_conv_model, images=2, engines=(("litert", "tflite"), ("tflm", "tflm")))
    tflm = report.engines[1]
    assert tflm.failed and "Failed to resize buffer" in tflm.failed and not report.bit_exact
    assert "Failed to resize buffer" not in "".join(capfd.readouterr())  # in the report only


def test_tflm_lstm_model_is_bit_exact_on_every_engine():
    """TFLite Micro's trained LSTM: random int8 rows (its input is [1, 28, 28], not an image)."""
    report = verify(_shared("trained_lstm_int8.tflite"), images=60)
    assert report.bit_exact, [
        (e.engine, e.identical_share, e.unavailable, e.failed) for e in report.engines
    ]
    assert [e.engine for e in report.engines if e.unavailable is None] == [
        "litert",
        "tflm",
        "c",
        "m4",
    ]


def test_wide_model_on_the_tflm_engines(wide_conv_model, tmp_path, capfd):
    """The same model through `predict --engine tflm` (no stray TFLM line) and `export
    --runtime tflm` for a board whose RAM holds it (the Portenta H7)."""
    from click.testing import CliRunner

    from tinycnn.cli import cli
    from tinycnn.codegen.export import export

    np.save(tmp_path / "x.npy", np.zeros((2, 28, 28, 1), np.int8))
    result = CliRunner().invoke(
        cli,
        [
            "predict",
            str(wide_conv_model),
            "--input",
            str(tmp_path / "x.npy"),
            "--output",
            str(tmp_path / "y.npy"),
            "--engine",
            "tflm",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "resize" not in "".join(capfd.readouterr()) + result.output
    exported = export(wide_conv_model, "portenta_h7", tmp_path / "portenta", runtime="tflm")
    assert exported.ram.items["arena"] > 200_000 and exported.ram.fits


def test_an_interrupted_verify_keeps_what_it_measured(wide_conv_model):
    """Ctrl-C (here raised from the progress callback, as the signal handler would) while TFLM
    runs: the report holds LiteRT's result and says it was interrupted."""

    def interrupt_in_tflm(label, done, total, detail=""):
        if label == "TFLite Micro" and done == 2:
            raise KeyboardInterrupt

    report = verify(wide_conv_model, images=4, on_progress=interrupt_in_tflm)
    assert report.interrupted and not report.bit_exact
    assert [e.engine for e in report.engines] == ["litert"] and report.engines[0].bit_exact
    text = report.describe()
    assert "reference[tflite] vs litert       BIT-EXACT" in text and "interrupted:" in text
    assert report.as_dict()["interrupted"] is True


def test_the_pinned_interpreters_are_installed_printed_and_checked(monkeypatch):
    """constraints.txt pins what VERIFIED_VERSIONS says the suite proved bit-exact, the set-up
    installed exactly that, verify prints it, and another version is a warning, not silence."""
    import json
    from pathlib import Path

    from click.testing import CliRunner

    from tinycnn.cli import cli
    from tinycnn.model import interpreters

    pins = Path(__file__).parent.parent / "constraints.txt"
    pinned = dict(line.split("==") for line in pins.read_text().splitlines() if "==" in line)
    assert pinned == interpreters.VERIFIED_VERSIONS
    assert interpreters.installed_versions() == interpreters.VERIFIED_VERSIONS
    model = str(SHARED_MODELS / "hello_world_int8.tflite")
    result = CliRunner().invoke(cli, ["verify", model, "--images", "4", "--json"])
    assert json.loads(result.output)["versions"]["tflite-micro"] == pinned["tflite-micro"]
    text = CliRunner().invoke(cli, ["verify", model, "--images", "4"]).output
    assert f"tflite-micro {pinned['tflite-micro']}" in text.splitlines()[2]
    monkeypatch.setattr(
        "tinycnn.engines.verify.installed_versions",
        lambda: {**interpreters.VERIFIED_VERSIONS, "tflite-micro": "0.dev20250101000000"},
    )
    warned = CliRunner().invoke(cli, ["verify", model, "--images", "4"])
    assert warned.exit_code == 0
    assert (
        "warning: tflite-micro 0.dev20250101000000 is installed; tinycnn's bit-exactness was "
        "proved with 0.dev20261023182759" in warned.output
    )
