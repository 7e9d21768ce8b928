"""The model zoo (tinycnn/zoo/catalogue.py, the zoo command, zoo:NAME): every architecture trains
(with augmentation and the zoo's recipe), converts to full int8 and runs bit-exact in the
reference engine, LiteRT, TFLite Micro and the generated C; counts checked by hand; zoo:NAME in
every command; the shipped pretrained models; `tinycnn zoo --measure`. Augmentation is tested in
test_augment.py, the recipe in test_recipe.py."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner
from op_harness import check_bit_exact, first_mismatch

from tinycnn import rundir
from tinycnn.cli import cli
from tinycnn.codegen.host import run_c
from tinycnn.model.tflite_io import read_model
from tinycnn.quantization.inputs import fashion_images
from tinycnn.quantization.quantize import quantize_run
from tinycnn.ref.runner import run_model
from tinycnn.ref.stats import model_stats
from tinycnn.rundir import INT8_MODEL_FILE, RunError
from tinycnn.training.data import to_float
from tinycnn.training.models import REGISTRY, load_trained_model
from tinycnn.training.train import train, train_config
from tinycnn.zoo.catalogue import keras_counts

pytestmark = pytest.mark.slow  # every zoo architecture trains

ZOO = [name for name, spec in REGISTRY.items() if spec.scalable]


def _train_small(name, run_dir, **settings):
    """One epoch on 320 images at half width, with the architecture's own recipe (AdamW,
    cosine, label smoothing, standard augmentation), then post-training quantization."""
    config = train_config(name, 1, 64, subset=320, width=0.5, **settings)
    train(config, run_dir)
    quantize_run(run_dir, calibration_samples=64)
    return run_dir


@pytest.mark.parametrize("name", ZOO)
def test_zoo_model_trains_converts_and_is_bit_exact(name, tmp_path, dataset):
    run_dir = _train_small(name, tmp_path / name)
    content = (run_dir / INT8_MODEL_FILE).read_bytes()
    assert check_bit_exact(content) == {"litert": "identical", "tflm": "identical"}
    model = read_model(content)
    images = fashion_images(model, 16).values
    for convention in ("tflm", "tflite"):
        reference = run_model(model, images, convention=convention).outputs[0]
        assert first_mismatch(reference, run_c(model, images, convention)) == "identical"
    # The counts of the float model are those of its int8 conversion (BN folded).
    parameters, macs = keras_counts(load_trained_model(run_dir))
    stats = model_stats(model)
    assert (stats.parameters, stats.macs) == (parameters, macs)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["epochs_run"] == 1 and 0.0 <= metrics["test_accuracy"] <= 1.0


@pytest.mark.parametrize("name", ["resnet_tiny", "efficientnet_tiny", "densenet_tiny"])
def test_qat_on_joins_batch_norm_and_custom_layers(name, tmp_path):
    """QAT on residual joins with batch normalization, on squeeze-excitation with hard-swish
    (layers tfmot's registry lacks), and on average pooling whose scale meets a concatenation's
    (DenseNet's transitions): full int8 and bit-exact."""
    run_dir = tmp_path / name
    train(train_config(name, 1, 64, subset=320, width=0.5), run_dir)
    result = quantize_run(run_dir, calibration_samples=64, qat_epochs=1)
    assert result.qat_epochs == 1
    content = (run_dir / INT8_MODEL_FILE).read_bytes()
    assert check_bit_exact(content) == {"litert": "identical", "tflm": "identical"}


def test_lstm_rows_learns_and_quantizes_within_a_point_and_a_half(tmp_path, dataset):
    """Rows as time steps: 16 units for 2 epochs on 6,000 images beat chance (10 %) widely,
    and the integer LSTM stays within 1.5 points of the float model on 2,000 test images."""
    from tinycnn.model.interpreters import run_interpreter

    run_dir = tmp_path / "lstm"
    train(train_config("lstm_rows", 2, 64, subset=6000, width=0.5), run_dir)
    quantize_run(run_dir, calibration_samples=200)
    content = (run_dir / INT8_MODEL_FILE).read_bytes()
    model = read_model(content)
    assert model.opcodes()[:3] == ["RESHAPE", "UNIDIRECTIONAL_SEQUENCE_LSTM", "STRIDED_SLICE"]
    images = fashion_images(model, 2000)
    labels = images.labels
    float_predicted = (
        load_trained_model(run_dir)
        .predict(to_float(dataset.test_images[:2000]), verbose=0)
        .argmax(axis=1)
    )
    int8_predicted = run_interpreter("litert", content, images.values).argmax(axis=1)
    float_accuracy = np.mean(float_predicted == labels)
    int8_accuracy = np.mean(int8_predicted == labels)
    assert float_accuracy > 0.55, float_accuracy
    assert abs(int8_accuracy - float_accuracy) <= 0.015, (float_accuracy, int8_accuracy)
    reference = run_model(model, images.values[:300], convention="tflm").outputs[0]
    assert (
        first_mismatch(run_interpreter("tflm", content, images.values[:300]), reference)
        == "identical"
    )


def test_counts_by_hand():
    """lenet5: c1 5x5x1x6 (+6), c3 5x5x6x16 (+16), dense 400x120, 120x84, 84x10 (+biases);
    MACs c1 28x28x150, c3 10x10x2400, then the dense weights. seed_cnn: conv 3x3x1x32 at
    26x26, 3x3x32x64 at 11x11, dense 1600x10."""
    from tinycnn.training.models import INPUT_SHAPE, NUM_CLASSES

    lenet = REGISTRY["lenet5"].build(INPUT_SHAPE, NUM_CLASSES)
    assert keras_counts(lenet) == (
        156 + 2416 + 48120 + 10164 + 850,
        28 * 28 * 150 + 10 * 10 * 2400 + 48000 + 10080 + 840,
    )
    seed = REGISTRY["seed_cnn"].build(INPUT_SHAPE, NUM_CLASSES)
    assert keras_counts(seed) == (34_826, 26 * 26 * 288 + 11 * 11 * 18432 + 16000)


def test_width_and_depth_scale_the_architecture():
    from tinycnn.training.models import INPUT_SHAPE, NUM_CLASSES

    spec = REGISTRY["mobilenet_tiny"]
    base = keras_counts(spec.build(INPUT_SHAPE, NUM_CLASSES, width=1.0))[0]
    wide = keras_counts(spec.build(INPUT_SHAPE, NUM_CLASSES, width=2.0))[0]
    deep = keras_counts(spec.build(INPUT_SHAPE, NUM_CLASSES, width=1.0, depth=2))[0]
    assert 3.2 * base < wide < 4 * base and base < deep
    with pytest.raises(RunError, match="fixed size"):
        train_config("seed_cnn", width=2.0).validate()


# -- zoo:NAME and the zoo command ---------------------------------------------------------


@pytest.fixture()
def fake_zoo(tmp_path, monkeypatch, seed_cnn_run):
    """A pretrained folder made from a real quantized run (what benchmarks/zoo.py packages)."""
    root = tmp_path / "pretrained"
    (root / "tiny").mkdir(parents=True)
    for name in (INT8_MODEL_FILE, "config.json", "metrics.json"):
        shutil.copy(seed_cnn_run / name, root / "tiny" / name)
    monkeypatch.setattr(rundir, "PRETRAINED_DIR", root)
    return root / "tiny"


def test_zoo_names_resolve_in_every_command(fake_zoo, tmp_path):
    runner = CliRunner()
    verify = runner.invoke(cli, ["verify", "zoo:tiny", "--images", "5", "--json"])
    assert verify.exit_code == 0, verify.output
    assert json.loads(verify.output)["bit_exact"] is True
    np.save(tmp_path / "x.npy", np.zeros((2, 28, 28, 1), np.int8))
    predict = runner.invoke(
        cli,
        [
            "predict",
            "zoo:tiny",
            "--input",
            str(tmp_path / "x.npy"),
            "--output",
            str(tmp_path / "y.npy"),
        ],
    )
    assert predict.exit_code == 0, predict.output
    assert np.load(tmp_path / "y.npy").shape == (2, 10)
    export = runner.invoke(
        cli, ["export", "zoo:tiny", "--board", "nano33", "--out", str(tmp_path / "sketch")]
    )
    assert export.exit_code == 0, export.output
    sources = [p.read_text() for p in (tmp_path / "sketch").rglob("*") if p.suffix in (".c", ".h")]
    assert any('"T-shirt/top"' in text for text in sources)  # the class names came along
    from tinycnn.board.emulate import firmware_for
    from tinycnn.board.serial.monitor import model_labels
    from tinycnn.board.serial.validation import validation_model

    assert validation_model("zoo:tiny") is not None
    assert model_labels("zoo:tiny")[0] == "T-shirt/top"
    assert firmware_for("zoo:tiny", cache_dir=tmp_path / "fw").is_file()


def test_unknown_zoo_name_is_one_line_listing_the_names(fake_zoo):
    for command in (
        ["verify", "zoo:nope"],
        ["export", "zoo:nope", "--board", "nano33", "--out", "x"],
    ):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 1, result.output
        assert result.output.strip().count("\n") == 0
        assert "unknown pretrained model 'zoo:nope'; known: zoo:tiny" in result.output


def test_zoo_command_lists_architectures():
    result = CliRunner().invoke(cli, ["zoo", "--json"])
    assert result.exit_code == 0, result.output
    listed = {row["name"]: row for row in json.loads(result.output)["architectures"]}
    assert set(listed) == set(REGISTRY)
    assert listed["seed_cnn"]["parameters"] == 34_826


def test_zoo_measures_an_architecture_on_the_emulated_board():
    """`tinycnn zoo --measure`: int8 flash, planned RAM and Cortex-M4 instructions of lenet5."""
    runner = CliRunner()
    result = runner.invoke(
        cli, ["zoo", "--model", "lenet5", "--measure", "--json", "--width", "0.5"]
    )
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output.splitlines()[-1])["architectures"]}
    lenet = rows["lenet5"]
    assert lenet["weight_bytes"] > lenet["parameters"]  # int32 biases, multipliers and shifts
    assert 0 < lenet["arena_bytes"] < 64 * 1024
    assert lenet["m4_instructions"] > lenet["macs"]  # at least one instruction per MAC
    assert list(rows) == ["lenet5"]
    unknown = runner.invoke(cli, ["zoo", "--model", "alexnet"])
    assert unknown.exit_code == 1 and "known models: dnn" in unknown.output


# -- the shipped pretrained models ---------------------------------------------------------


SHIPPED = rundir.pretrained_names()


@pytest.mark.skipif(not SHIPPED, reason="no pretrained model shipped in this checkout")
@pytest.mark.parametrize("name", SHIPPED)
def test_pretrained_model_measures_what_it_records(name, dataset):
    """The committed int8 model loads, and its recorded accuracy on the first 1,000 test
    images is what LiteRT measures now; its recorded counts are its graph's."""
    from tinycnn.model.interpreters import run_interpreter
    from tinycnn.model.tflite_io import read_model

    folder = rundir.PRETRAINED_DIR / name
    record = json.loads((folder / rundir.ZOO_FILE).read_text())
    content = (folder / INT8_MODEL_FILE).read_bytes()
    model = read_model(content)
    images = fashion_images(model, 1000)
    outputs = run_interpreter("litert", content, images.values).reshape(1000, -1)
    accuracy = float(np.mean(outputs.argmax(axis=1) == images.labels))
    assert accuracy == pytest.approx(record["int8_accuracy_first_1000"], abs=1e-9)
    stats = model_stats(model)
    assert (stats.parameters, stats.macs) == (record["parameters"], record["macs"])


def test_zoo_lists_each_measured_familys_best_row():
    """tinycnn/zoo/frontier.json (benchmarks/zoo.py --report) is what `tinycnn zoo` shows:
    one row per family, each the best int8 row benchmarks/zoo.json holds for it."""
    import json as json_module
    from pathlib import Path

    from tinycnn.training.models import REGISTRY
    from tinycnn.zoo.catalogue import frontier

    rows = frontier()
    families = [row["family"] for row in rows]
    assert rows and len(families) == len(set(families)) and set(families) <= set(REGISTRY)
    measured = json_module.loads(
        (Path(__file__).parent.parent / "benchmarks" / "zoo.json").read_text()
    )
    for row in rows:
        same = [r for r in measured.values() if r.get("architecture") == row["family"]]
        assert row["int8_accuracy"] == max(r["int8_accuracy"] for r in same)
    text = CliRunner().invoke(cli, ["zoo"]).output
    for row in rows:
        assert f"{100 * row['int8_accuracy']:.2f}%" in text and row["family"] in text
