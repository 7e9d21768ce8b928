"""The command line: each user mistake is one line and a non-zero exit, nothing half-written."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from tinycnn.cli import cli


@pytest.fixture
def runner():
    return CliRunner()


def _one_line_error(result, exit_code, fragment):
    assert result.exit_code == exit_code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(lines) == 1 and fragment in lines[0], result.output
    assert "Traceback" not in result.output


def test_unknown_model(runner, tmp_path):
    result = runner.invoke(cli, ["train", "--model", "resnet", "--out", str(tmp_path / "r")])
    _one_line_error(result, 2, "unknown model 'resnet'; known models: dnn, seed_cnn")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("epochs", ["0", "-3", "ten"])
def test_bad_epoch_counts(runner, tmp_path, epochs):
    result = runner.invoke(cli, ["train", "--epochs", epochs, "--out", str(tmp_path / "r")])
    _one_line_error(result, 2, "--epochs")
    assert not (tmp_path / "r").exists()


def test_quantize_and_evaluate_need_a_trained_model(runner, tmp_path):
    for command in ("quantize", "evaluate"):
        result = runner.invoke(cli, [command, str(tmp_path)])
        _one_line_error(result, 1, "holds no trained model (model.keras missing)")
    result = runner.invoke(cli, ["quantize", str(tmp_path / "missing")])
    _one_line_error(result, 1, "is not a directory")


def test_evaluate_refuses_a_file_that_is_not_tflite(runner, seed_cnn_run, tmp_path):
    run_copy = tmp_path / "run"
    shutil.copytree(seed_cnn_run, run_copy)
    (run_copy / "model_int8.tflite").write_text("not a flatbuffer")
    result = runner.invoke(cli, ["evaluate", str(run_copy)])
    _one_line_error(result, 1, "is not a TFLite model")


def test_missing_dataset(runner, tmp_path):
    result = runner.invoke(cli, ["train", "--model", "dnn", "--epochs", "1", "--out",
                                 str(tmp_path / "r"), "--data-dir", str(tmp_path)])
    _one_line_error(result, 1, "train-images-idx3-ubyte.gz (from --data-dir): file not found")


def test_train_then_existing_run_needs_force(runner, tmp_path):
    args = ["train", "--model", "dnn", "--epochs", "1", "--subset", "500", "--out", str(tmp_path)]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "epoch   1/1" in result.output and "done: test accuracy" in result.output
    _one_line_error(runner.invoke(cli, args), 1, "already holds a run")
    assert runner.invoke(cli, [*args, "--force"]).exit_code == 0


def test_evaluate_json(runner, seed_cnn_run):
    result = runner.invoke(cli, ["evaluate", str(seed_cnn_run), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["test_images"] == 10_000
    assert 0.8 < report["float_accuracy"] <= 1 and 0.8 < report["int8_accuracy"] <= 1
    assert len(report["int8_confusion"]) == 10


def test_evaluate_table(runner, seed_cnn_run):
    result = runner.invoke(cli, ["evaluate", str(seed_cnn_run)])
    assert result.exit_code == 0, result.output
    assert "float accuracy" in result.output and "Ankle boot" in result.output


def test_help_does_not_load_tensorflow():
    code = "import sys; from tinycnn.cli import cli; sys.argv=['tinycnn','--help']\n" \
           "try:\n    cli()\nexcept SystemExit:\n    pass\nprint('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("False")
