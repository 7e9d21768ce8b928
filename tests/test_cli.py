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
    result = runner.invoke(
        cli,
        [
            "train",
            "--model",
            "dnn",
            "--epochs",
            "1",
            "--out",
            str(tmp_path / "r"),
            "--data-dir",
            str(tmp_path),
        ],
    )
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


@pytest.mark.parametrize("args", [["--help"], ["train", "--help"], ["bench", "--help"]])
def test_help_loads_neither_tensorflow_nor_numpy(args):
    """`tinycnn --help` lists every command (each command module is imported for its line), and
    stays fast: no TensorFlow, no numpy."""
    code = (
        f"import sys; from tinycnn.cli import cli; sys.argv=['tinycnn', *{args!r}]\n"
        "try:\n    cli()\nexcept SystemExit:\n    pass\n"
        "print('tensorflow' in sys.modules, 'numpy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("False False")


def test_predict_engines_agree(runner, seed_cnn_run, tmp_path, dataset):
    import numpy as np

    from tinycnn.quantization.affine import quantize

    images = quantize(dataset.test_images[:20, :, :, None] / 255.0, 1 / 255, -128)
    np.save(tmp_path / "x.npy", images)
    outputs = {}
    for engine in ("reference", "litert", "tflm", "c", "m4"):
        result = runner.invoke(
            cli,
            [
                "predict",
                str(seed_cnn_run / "model_int8.tflite"),
                "--input",
                str(tmp_path / "x.npy"),
                "--output",
                str(tmp_path / f"{engine}.npy"),
                "--engine",
                engine,
            ],
        )
        assert result.exit_code == 0, result.output
        outputs[engine] = np.load(tmp_path / f"{engine}.npy")
        assert outputs[engine].dtype == np.int8 and outputs[engine].shape == (20, 10)
    assert np.array_equal(outputs["reference"], outputs["litert"])
    assert np.array_equal(outputs["reference"], outputs["c"])
    assert np.array_equal(outputs["reference"], outputs["m4"])
    assert np.array_equal(outputs["reference"], outputs["tflm"])


def test_predict_from_a_picture(runner, seed_cnn_run, tmp_path, dataset):
    from PIL import Image

    # A test-set trouser, enlarged to 100x100 like a photo would be.
    index = int((dataset.test_labels == 1).nonzero()[0][0])
    Image.fromarray(dataset.test_images[index]).resize((100, 100)).save(tmp_path / "trouser.png")
    result = runner.invoke(
        cli,
        [
            "predict",
            str(seed_cnn_run / "model_int8.tflite"),
            "--input",
            str(tmp_path / "trouser.png"),
            "--output",
            str(tmp_path / "y.npy"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "trouser.png: Trouser" in result.output


def test_predict_refuses_mismatched_input(runner, seed_cnn_run, tmp_path):
    import numpy as np

    np.save(tmp_path / "x.npy", np.zeros((3, 28, 28, 1), dtype=np.float32))
    result = runner.invoke(
        cli,
        [
            "predict",
            str(seed_cnn_run / "model_int8.tflite"),
            "--input",
            str(tmp_path / "x.npy"),
            "--output",
            str(tmp_path / "y.npy"),
        ],
    )
    _one_line_error(result, 1, "dtype float32, the model's input is int8")
    np.save(tmp_path / "x.npy", np.zeros((3, 28, 28), dtype=np.int8))
    result = runner.invoke(
        cli,
        [
            "predict",
            str(seed_cnn_run / "model_int8.tflite"),
            "--input",
            str(tmp_path / "x.npy"),
            "--output",
            str(tmp_path / "y.npy"),
        ],
    )
    _one_line_error(result, 1, "shape [3, 28, 28], the model takes a batch [N, 28, 28, 1]")
    assert not (tmp_path / "y.npy").exists()


def test_verify_cli_json(runner, seed_cnn_run):
    result = runner.invoke(cli, ["verify", str(seed_cnn_run), "--images", "100", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["bit_exact"] is True
    assert [(e["engine"], e["identical_share"]) for e in report["engines"]] == [
        ("litert", 1.0),
        ("tflm", 1.0),
        ("c", 1.0),
        ("m4", 1.0),
    ]
    assert report["layers"][0]["layer"] == "conv1" and "sqnr_db" in report["layers"][0]


def test_verify_exits_non_zero_when_not_bit_exact(runner, tmp_path):
    """TFLite Micro mishandles dilated convolutions (see test_ref_space_to_batch_nd.py): verify
    must say so, name the first differing op, and exit 1."""
    from op_harness import convert_case

    content = convert_case(
        lambda k, L, x: L.Conv2D(4, 3, padding="same", dilation_rate=2)(x), (11, 11, 1)
    )
    (tmp_path / "dilated.tflite").write_bytes(content)
    result = runner.invoke(cli, ["verify", str(tmp_path / "dilated.tflite"), "--images", "10"])
    assert result.exit_code == 1, result.output
    assert "reference[tflite] vs litert       BIT-EXACT" in result.output
    assert "reference[tflm] vs tflm           MISMATCH" in result.output
    assert "first mismatch: input 0, op #0 SPACE_TO_BATCH_ND" in result.output
    # tinycnn's own C computes the dilated convolution as the reference engine does
    assert "reference[tflm] vs C (host)       BIT-EXACT" in result.output
    assert "reference[tflm] vs C (Cortex-M4)  BIT-EXACT" in result.output


def test_verify_unsupported_and_corrupt_models(runner, tmp_path):
    from op_harness import convert_case

    transpose = tmp_path / "transpose.tflite"  # TRANSPOSE: an operator tinycnn lacks
    transpose.write_bytes(convert_case(lambda k, L, x: L.Permute((2, 1))(x), (4, 3)))
    result = runner.invoke(cli, ["verify", str(transpose)])
    _one_line_error(result, 1, "operator #0 TRANSPOSE: no int8 kernel")
    (tmp_path / "junk.tflite").write_bytes(b"junk" * 10)
    _one_line_error(
        runner.invoke(cli, ["verify", str(tmp_path / "junk.tflite")]), 1, "is not a TFLite model"
    )
    _one_line_error(
        runner.invoke(cli, ["verify", str(tmp_path / "missing.tflite")]), 1, "cannot read"
    )


def test_verify_refuses_a_float_model(runner, tmp_path):
    from tinycnn.tfenv import keras, tf

    model = keras.Sequential([keras.layers.Input((4,)), keras.layers.Dense(3)])
    content = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    (tmp_path / "float.tflite").write_bytes(content)
    result = runner.invoke(cli, ["verify", str(tmp_path / "float.tflite")])
    _one_line_error(
        result, 1, "is not an int8 model: operator #0 FULLY_CONNECTED computes in float32"
    )


def test_predict_engine_choices_are_the_engines():
    from tinycnn.cli.engines import predict_command
    from tinycnn.model.engines import ENGINES

    engine = next(p for p in predict_command.params if p.name == "engine")
    assert tuple(engine.type.choices) == tuple(ENGINES)


@pytest.mark.parametrize("command", ["zoo", "models"])
def test_a_closed_pipe_ends_quietly(command):
    """`tinycnn zoo | head -1` printed "Error: Broken pipe" and exited 1: the reader closing
    the pipe is no error. It ends silently with 141, as a process SIGPIPE ended would."""
    import subprocess
    import sys
    from pathlib import Path

    tinycnn = Path(sys.executable).parent / "tinycnn"
    done = subprocess.run(
        ["bash", "-c", f'"{tinycnn}" {command} | true; echo "status ${{PIPESTATUS[0]}}"'],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout.strip() == "status 141" and done.stderr == "", done


def test_models_table_keeps_its_columns():
    """Names over 10 characters (inception_tiny, efficientnet_tiny) pushed their line's
    description out of the column."""
    lines = CliRunner().invoke(cli, ["models"]).output.splitlines()
    starts = {len(line) - len(line.split(maxsplit=1)[1]) for line in lines}
    assert len(lines) > 5 and len(starts) == 1
