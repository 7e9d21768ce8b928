"""Bad input from a new or a hostile user, as a table: every case ends in one `Error:` line (or
click's usage error), a non-zero exit, no traceback, and nothing of the user's lost."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import SHARED_MODELS

from tinycnn.cli import cli

LONG_NAME = "n" * 300


@pytest.fixture(scope="module")
def small_model(tmp_path_factory) -> Path:
    from op_harness import convert_case

    path = tmp_path_factory.mktemp("model") / "small.tflite"
    path.write_bytes(
        convert_case(lambda k, L, x: L.Dense(10)(L.Flatten()(L.Conv2D(4, 3)(x))), (28, 28, 1))
    )
    return path


@pytest.fixture(scope="module")
def float_model(tmp_path_factory) -> Path:
    from tinycnn.tfenv import keras, tf

    model = keras.Sequential(
        [keras.layers.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(3)]
    )
    path = tmp_path_factory.mktemp("float") / "float.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    return path


def _check(result, exit_code: int, fragment: str) -> None:
    assert result.exit_code == exit_code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and fragment in errors[0], result.output
    assert "Traceback" not in result.output


# (name, arguments with {model}, {tmp}, {x} placeholders, exit code, fragment of the message)
CASES = [
    (
        "predict output in a missing folder",
        ["predict", "{model}", "--input", "{x}", "--output", "{tmp}/missing/y.npy"],
        1,
        "the folder",
    ),
    (
        "predict output name too long",
        ["predict", "{model}", "--input", "{x}", "--output", "{tmp}/" + LONG_NAME + ".npy"],
        1,
        "too long for the file system",
    ),
    (
        "predict output in an unwritable folder",
        ["predict", "{model}", "--input", "{x}", "--output", "/proc/self/y.npy"],
        1,
        "is not writable",
    ),
    (
        "predict output over its model",
        ["predict", "{model}", "--input", "{x}", "--output", "{model}"],
        1,
        "would overwrite the input",
    ),
    (
        "predict output over its input",
        ["predict", "{model}", "--input", "{x}", "--output", "{x}"],
        1,
        "would overwrite the input",
    ),
    (
        "predict output under a file",
        ["predict", "{model}", "--input", "{x}", "--output", "{x}/y.npy"],
        1,
        "is not a folder",
    ),
    (
        "train into a folder under a file",
        ["train", "--model", "dnn", "--out", "{x}/run"],
        1,
        "is not a folder",
    ),
    (
        "train into a name too long",
        ["train", "--model", "dnn", "--out", "{tmp}/" + LONG_NAME],
        1,
        "longer than the file system",
    ),
    (
        "train into an unwritable folder",
        ["train", "--model", "dnn", "--out", "/proc/self/run"],
        1,
        "not writable",
    ),
    (
        "train with a NaN learning rate",
        ["train", "--learning-rate", "nan", "--out", "{tmp}/r"],
        2,
        "'nan' is not a finite number",
    ),
    (
        "train with an infinite learning rate",
        ["train", "--learning-rate", "inf", "--out", "{tmp}/r"],
        2,
        "'inf' is not a finite number",
    ),
    (
        "train with a NaN validation split",
        ["train", "--validation-split", "nan", "--out", "{tmp}/r"],
        2,
        "'nan' is not a finite number",
    ),
    (
        "export into a folder under a file",
        ["export", "{model}", "--board", "qemu_m4", "--out", "{x}/fw"],
        1,
        "is not a folder",
    ),
    (
        "export into a name too long",
        ["export", "{model}", "--board", "qemu_m4", "--out", "{tmp}/" + LONG_NAME],
        1,
        "longer than the file system",
    ),
    (
        "export into an unwritable folder",
        ["export", "{model}", "--board", "qemu_m4", "--out", "/proc/self/fw"],
        1,
        "not writable",
    ),
    (
        "monitor csv in a missing folder",
        [
            "monitor",
            "--port",
            "loop://",
            "--validate",
            "3",
            "--model",
            "{model}",
            "--csv",
            "{tmp}/missing/r.csv",
        ],
        1,
        "the folder",
    ),
    (
        "monitor csv without validation",
        ["monitor", "--port", "loop://", "--csv", "{tmp}/r.csv"],
        2,
        "--csv writes validation results",
    ),
    (
        "monitor with a NaN frame timeout",
        ["monitor", "--port", "loop://", "--frame-timeout", "nan"],
        2,
        "not a finite number",
    ),
    (
        "monitor for an infinite duration",
        ["monitor", "--port", "loop://", "--duration", "inf"],
        2,
        "not a finite number",
    ),
    (
        "visualize into a file",
        ["visualize", "{model}", "--out", "{x}"],
        2,
        "is a file",
    ),
    (
        "visualize into an unwritable folder",
        ["visualize", "{model}", "--out", "/proc/self/pictures"],
        1,
        "not writable",
    ),
    (
        "visualize a float model",
        ["visualize", "{float}", "--out", "{tmp}/pictures"],
        1,
        "float32",
    ),
    (
        "verify plots into an unwritable folder",
        ["verify", "{model}", "--images", "2", "--plots", "/proc/self/plots"],
        1,
        "cannot write --plots",
    ),
    (
        "report in a missing folder",
        ["report", "{model}", "--no-emulate", "--out", "{tmp}/missing/r.html"],
        1,
        "the folder",
    ),
    (
        "report screenshot in a missing folder",
        ["report", "{model}", "--out", "{tmp}/r.html", "--screenshot", "{tmp}/missing/r.png"],
        1,
        "cannot write --screenshot",
    ),
    (
        "predict an int8 batch with a float model",
        ["predict", "{float}", "--input", "{x}", "--output", "{tmp}/y.npy"],
        1,
        "this is a float model",
    ),
    (  # it replaced any file, the model reported on included
        "report screenshot over its model",
        ["report", "{model}", "--out", "{tmp}/r.html", "--screenshot", "{model}"],
        1,
        "would overwrite the input",
    ),
    (
        "report screenshot over another file",
        ["report", "{model}", "--out", "{tmp}/r.html", "--screenshot", "{x}"],
        1,
        "exists and was not written by this command; pass --force",
    ),
    (  # it replaced the model the board runs
        "monitor csv over the model",
        [
            "monitor",
            "--port",
            "loop://",
            "--validate",
            "3",
            "--model",
            "{model}",
            "--csv",
            "{model}",
        ],
        1,
        "would overwrite the input",
    ),
    (
        "monitor csv over another file",
        ["monitor", "--port", "loop://", "--validate", "3", "--model", "{model}", "--csv", "{x}"],
        1,
        "--csv {x} exists and was not written by this command",
    ),
    (  # these four once wrote a page whose pictures said "not computed", and exited 0
        "report an image index past the test set",
        ["report", "{model}", "--no-emulate", "--out", "{tmp}/r.html", "--image", "10000"],
        1,
        "--image 10000: the test set has images 0..9999",
    ),
    (
        "report a missing picture",
        ["report", "{model}", "--no-emulate", "--out", "{tmp}/r.html", "--image", "nosuch.png"],
        1,
        "--image nosuch.png: no such file",
    ),
    (
        "report a picture that is not one",
        ["report", "{model}", "--no-emulate", "--out", "{tmp}/r.html", "--image", "{x}"],
        1,
        "not a readable picture",
    ),
    (
        "report with an empty --data-dir",
        ["report", "{model}", "--no-emulate", "--out", "{tmp}/r.html", "--data-dir", "{tmp}"],
        1,
        "file not found",
    ),
    (  # its banner claimed tflite rounding, which --validate then trusted
        "export the tflm runtime with tflite rounding",
        [
            "export",
            "{model}",
            "--board",
            "nano33",
            "--runtime",
            "tflm",
            "--rounding",
            "tflite",
            "--out",
            "{tmp}/s",
        ],
        1,
        "--runtime tflm rounds as TFLite Micro does (tflm); --rounding tflite is for the native",
    ),
    (  # the typo was ignored: a .tflite has no float layers to choose
        "visualize a .tflite with --layer",
        ["visualize", "{model}", "--out", "{tmp}/pictures", "--layer", "nosuch"],
        1,
        "--layer nosuch: no layer of that name in this model",
    ),
    (  # NumPy and TensorFlow seeds are 32-bit: 2**32 once wrapped to 0 silently
        "train with a seed past 32 bits",
        ["train", "--seed", "4294967296", "--out", "{tmp}/run"],
        2,
        "4294967296 is not in the range 0<=x<=4294967295",
    ),
    (  # it trained into the current folder and printed /model.keras
        "train into an empty --out",
        ["train", "--out", ""],
        2,
        "an empty path names nothing",
    ),
    (  # it wrote PNG bytes into a .jpg
        "augment preview with another suffix",
        ["augment", "--preview", "--out", "{tmp}/grid.jpg"],
        1,
        "the preview is a PNG picture; give a .png name",
    ),
    (  # it replaced any file, a model included
        "augment preview over a model",
        ["augment", "--preview", "--out", "{model}"],
        1,
        "give a .png name",
    ),
    (  # it replaced any PNG
        "augment preview over a picture it did not write",
        ["augment", "--preview", "--out", "{picture}"],
        1,
        "exists and was not written by this command; pass --force",
    ),
    (  # it replaced any file but the inputs: a run's metrics.json, a user's array
        "predict output over a file that is not a prediction",
        ["predict", "{model}", "--input", "{x}", "--output", "{picture}"],
        1,
        "exists and was not written by this command; pass --force",
    ),
    (  # the hint once suggested `tinycnn train --out zoo:micro`
        "quantize a shipped model",
        ["quantize", "zoo:micro"],
        1,
        "zoo:micro is a shipped int8 model, already quantized",
    ),
]


@pytest.mark.parametrize("name, args, exit_code, fragment", CASES, ids=[c[0] for c in CASES])
def test_bad_input(name, args, exit_code, fragment, small_model, float_model, tmp_path):
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((2, 28, 28, 1), np.int8))
    picture = tmp_path / "photo.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n a user's picture")
    before = {p: p.read_bytes() for p in (x, picture, small_model, float_model)}
    values = {
        "model": str(small_model),
        "float": str(float_model),
        "tmp": str(tmp_path),
        "x": str(x),
        "picture": str(picture),
    }
    result = CliRunner().invoke(cli, [arg.format(**values) for arg in args])
    _check(result, exit_code, fragment.format(**values))
    assert {p: p.read_bytes() for p in before} == before  # no input lost or changed
    assert not [p for p in tmp_path.rglob("*") if p.name not in ("x.npy", "photo.png")], (
        "output written"
    )


def test_export_force_over_its_own_input_folder_keeps_the_model(small_model, tmp_path):
    first = tmp_path / "fw"
    assert (
        CliRunner()
        .invoke(cli, ["export", str(small_model), "--board", "qemu_m4", "--out", str(first)])
        .exit_code
        == 0
    )
    model = first / "m.tflite"
    model.write_bytes(small_model.read_bytes())
    result = CliRunner().invoke(
        cli, ["export", str(model), "--board", "qemu_m4", "--out", str(first), "--force"]
    )
    _check(result, 1, "is a folder that holds the input")
    assert model.read_bytes() == small_model.read_bytes()
    # and a run directory exported into itself
    result = CliRunner().invoke(
        cli, ["export", str(first), "--board", "qemu_m4", "--out", str(first), "--force"]
    )
    assert result.exit_code == 1 and "Traceback" not in result.output and model.is_file()


@pytest.mark.parametrize("engine", ["reference", "litert", "tflm", "c", "m4"])
def test_an_empty_batch_gives_an_empty_output_on_every_engine(small_model, tmp_path, engine):
    np.save(tmp_path / "empty.npy", np.zeros((0, 28, 28, 1), np.int8))
    result = CliRunner().invoke(
        cli,
        [
            "predict",
            str(small_model),
            "--input",
            str(tmp_path / "empty.npy"),
            "--output",
            str(tmp_path / "y.npy"),
            "--engine",
            engine,
        ],
    )
    assert result.exit_code == 0, result.output
    outputs = np.load(tmp_path / "y.npy")
    assert outputs.shape == (0, 10) and outputs.dtype == np.int8


def test_unwritable_cache_falls_back_and_says_so(small_model, tmp_path, monkeypatch):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    np.save(tmp_path / "x.npy", np.zeros((2, 28, 28, 1), np.int8))
    result = CliRunner().invoke(
        cli,
        [
            "predict",
            str(small_model),
            "--input",
            str(tmp_path / "x.npy"),
            "--output",
            str(tmp_path / "y.npy"),
            "--engine",
            "c",
        ],
    )
    assert result.exit_code == 0, result.output + result.stderr
    assert result.stderr.startswith("warning: cannot write the cache") and "using" in result.stderr
    assert np.load(tmp_path / "y.npy").shape == (2, 10)


@pytest.mark.skipif(
    not (SHARED_MODELS / "hello_world_int8.tflite").is_file(), reason="no shared models"
)
def test_validating_another_model_needs_its_inputs_before_anything(tmp_path, monkeypatch):
    hello_world = str(SHARED_MODELS / "hello_world_int8.tflite")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for args in (
        [
            "monitor",
            "--port",
            str(tmp_path / "no_such_port"),
            "--validate",
            "5",
            "--model",
            hello_world,
        ],
        ["emulate", hello_world, "--monitor", "--validate", "5"],
    ):
        result = CliRunner().invoke(cli, args)
        _check(result, 1, "--validate sends the test images of the model's data set")
        assert "this one takes [1, 1]: give its inputs with --inputs X.npy|DIR" in result.output
    assert not (tmp_path / "cache").exists()  # no firmware was built first


def test_a_link_to_nothing_as_output_is_refused_first(tmp_path, small_model):
    """A dangling symlink as --out was reported only after TensorFlow had loaded (train) or
    at the write (predict); test_train_checks_the_request_before_loading_tensorflow shows it
    is now refused before TensorFlow."""
    (tmp_path / "gone").symlink_to(tmp_path / "nowhere")
    result = CliRunner().invoke(cli, ["train", "--out", str(tmp_path / "gone")])
    _check(result, 1, "is a link to")
    assert "which does not exist" in result.output
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((1, 28, 28, 1), np.int8))
    args = ["predict", str(small_model), "--input", str(x), "--output", str(tmp_path / "gone")]
    _check(CliRunner().invoke(cli, args), 1, "is a link to")


def test_train_checks_the_request_before_loading_tensorflow(tmp_path):
    """An existing run, a missing dataset or a link to nothing as --out is refused without
    importing TensorFlow."""
    import subprocess
    import sys

    run = tmp_path / "run"
    run.mkdir()
    (run / "model.keras").write_bytes(b"trained")
    (tmp_path / "gone").symlink_to(tmp_path / "nowhere")
    for extra in (
        ["--out", str(run)],
        ["--out", str(tmp_path / "r2"), "--data-dir", str(tmp_path)],
        ["--out", str(tmp_path / "gone")],
    ):
        code = (
            "import sys; from tinycnn.cli import cli\n"
            f"sys.argv = ['tinycnn', 'train', '--model', 'dnn', *{extra!r}]\n"
            "try:\n    cli()\nexcept SystemExit as e:\n    print('exit', e.code, 'tensorflow' in sys.modules)"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
        )
        assert done.stdout.strip().splitlines()[-1] == "exit 1 False", done.stdout + done.stderr
    assert (run / "model.keras").read_bytes() == b"trained"


def test_next_command_quotes_paths_with_spaces(small_model, tmp_path):
    out = tmp_path / "my firmware"
    result = CliRunner().invoke(
        cli, ["export", str(small_model), "--board", "qemu_m4", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert f"next: tinycnn emulate '{out}/firmware.elf'" in result.output


def test_os_errors_are_one_line(tmp_path):
    """A file the system refuses to read (here: a folder given as the model) is one line."""
    result = CliRunner().invoke(cli, ["verify", str(tmp_path)])
    _check(result, 1, "not found")
    assert os.listdir(tmp_path) == []


def test_export_without_the_arm_toolchain_says_the_size_is_an_estimate(
    small_model, tmp_path, monkeypatch
):
    import shutil

    import tinycnn.codegen.export

    real_which = shutil.which
    monkeypatch.setattr(
        tinycnn.codegen.export.shutil,
        "which",
        lambda name: None if "arm-none-eabi" in name else real_which(name),
    )
    result = CliRunner().invoke(
        cli, ["export", str(small_model), "--board", "nano33", "--out", str(tmp_path / "sketch")]
    )
    assert result.exit_code == 0, result.output
    assert (
        "warning: arm-none-eabi-gcc not found: the runtime code size is an estimate"
        in result.output
    )
    assert "runtime code (estimate) 8192" in result.output


def test_a_folder_named_like_a_shipped_model_is_that_folder(tmp_path, monkeypatch, small_model):
    """A run folder called `zoo:micro` once resolved silently to the shipped model."""
    import hashlib
    import json
    import shutil

    monkeypatch.chdir(tmp_path)
    (tmp_path / "zoo:micro").mkdir()
    shutil.copy(small_model, tmp_path / "zoo:micro" / "model_int8.tflite")
    result = CliRunner().invoke(cli, ["verify", "zoo:micro", "--images", "3", "--json"])
    assert result.exit_code == 0, result.output
    expected = hashlib.sha256(small_model.read_bytes()).hexdigest()
    assert json.loads(result.output)["sha256"] == expected


def test_no_output_option_writes_over_a_run_folders_own_files(tmp_path, small_model):
    """`report --out RUN/config.json --force` once turned the run's JSON into HTML."""
    import shutil

    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(small_model, run / "model_int8.tflite")
    (run / "config.json").write_text('{"train": {}}')
    (run / "metrics.json").write_text("{}")
    for name in ("config.json", "metrics.json"):
        args = ["report", str(run), "--no-emulate", "--out", str(run / name), "--force"]
        result = CliRunner().invoke(cli, args)
        _check(result, 1, "is a run folder's own file, which tinycnn never writes over")
    assert (run / "config.json").read_text() == '{"train": {}}'


@pytest.mark.parametrize("command", ["export", "quantize"])
def test_a_folder_another_process_writes_is_refused(tmp_path, small_model, command):
    """Two exports into one new --out both succeeded; quantize into a run being written is
    refused the same way (the holder here is this test, through the same lock)."""
    import os

    from tinycnn.outputs import writing

    folder = tmp_path / "out"
    args = {
        "export": ["export", str(small_model), "--board", "qemu_m4", "--out", str(folder)],
        "quantize": ["quantize", str(folder)],
    }[command]
    with writing(folder, "a test"):
        result = CliRunner().invoke(cli, args)
    _check(result, 1, f"is being written by process {os.getpid()}")
    assert not folder.exists()


@pytest.fixture
def full_disk(tmp_path):
    """A 300 KB tmpfs: a real file system that runs out of space (mounting needs root)."""
    import subprocess

    mount_point = tmp_path / "small_disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(mount_point)],
        capture_output=True,
        timeout=30,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True, timeout=30)


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_a_full_disk_is_one_line_naming_the_file_and_leaves_nothing_half_written(
    full_disk, small_model
):
    """export's project and train's checkpoint on a disk that fills up: one line naming the
    file and the reason; no staging folder, no .partial checkpoint left to keep the disk full."""
    export = CliRunner().invoke(
        cli, ["export", str(small_model), "--board", "nano33", "--out", str(full_disk / "sk")]
    )
    _check(export, 1, f"cannot write {full_disk / 'sk'}/")
    assert "No space left on device" in export.output and not _files(full_disk)
    # dnn's checkpoint (weights and Adam's moments, ~1.2 MB) cannot fit in 300 KB
    run = full_disk / "run"
    train = CliRunner().invoke(
        cli, ["train", "--model", "dnn", "--epochs", "1", "--subset", "200", "--out", str(run)]
    )
    _check(train, 1, f"cannot write {run}/")
    assert "No space left on device" in train.output
    assert not [name for name in _files(full_disk) if "partial" in name], _files(full_disk)
