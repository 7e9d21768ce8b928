"""`tinycnn sweep`: a real 2x2 grid of tiny runs (trained, quantized, evaluated), interrupted
with SIGINT and run again, its commands printed for a scheduler, and bad grids refused."""

from __future__ import annotations

import csv
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from tinycnn.cli import cli

pytestmark = pytest.mark.slow  # a real grid of training runs

# Two models x two augmentation presets; lenet5 is scalable, so the width shows in its name.
GRID = [
    "--models",
    "dnn,lenet5",
    "--widths",
    "0.5",
    "--augment",
    "none,light",
    "--epochs",
    "1",
    "--subset",
    "400",
    "--calibration-samples",
    "20",
]
NAMES = {"dnn-none", "dnn-light", "lenet5-w0.5-none", "lenet5-w0.5-light"}
WAIT_S = 600


def _sweep(out, *extra) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tinycnn", "sweep", *GRID, "--out", str(out), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        # A test run as a background job hands its children an ignored SIGINT: restore it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def test_sweep_ranks_a_grid_and_resumes_after_an_interruption(tmp_path):
    out = tmp_path / "sweep"
    commands = CliRunner().invoke(cli, ["sweep", *GRID, "--out", str(out), "--print-commands"])
    assert commands.exit_code == 0, commands.output
    lines = [line for line in commands.stdout.splitlines() if line]
    assert len(lines) == 4 and all(" quantize " in line.split(" && ")[1] for line in lines)
    program = shlex.split(lines[0])[0]  # runnable by a scheduler's shell as printed
    assert shutil.which(program) or os.access(program, os.X_OK)
    assert any("--model lenet5 --width 0.5 --augment light" in line for line in lines)
    assert not out.exists()  # printing runs nothing

    first = _sweep(out, "--workers", "2")
    try:
        deadline = time.monotonic() + WAIT_S
        # quantize.json, the record of the int8 model, is written last: a configuration is
        # finished once it exists (one stopped between the two is quantized again)
        while not any((out / name / "quantize.json").exists() for name in NAMES):
            assert first.poll() is None, first.communicate()[0]
            assert time.monotonic() < deadline, "no configuration finished in time"
            time.sleep(0.2)
        os.killpg(first.pid, signal.SIGINT)
        output, _ = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(timeout=30)
    assert first.returncode == 128 + signal.SIGINT, output
    assert "Error: sweep interrupted by Ctrl-C with " in output and "Traceback" not in output
    finished = {name for name in NAMES if (out / name / "quantize.json").exists()}
    assert finished
    stamps = {name: (out / name / "model_int8.tflite").stat().st_mtime_ns for name in finished}

    left = CliRunner().invoke(cli, ["sweep", *GRID, "--out", str(out), "--print-commands"])
    assert len([line for line in left.stdout.splitlines() if line]) == 4 - len(finished)

    second = _sweep(out, "--workers", "2")
    output, _ = second.communicate(timeout=WAIT_S)
    assert second.returncode == 0, output
    assert f"{len(finished)} finished, {4 - len(finished)} to run" in output
    for name, stamp in stamps.items():  # finished configurations were not run again
        assert (out / name / "model_int8.tflite").stat().st_mtime_ns == stamp

    rows = json.loads((out / "sweep.json").read_text())["rows"]
    assert {row["name"] for row in rows} == NAMES
    per_kib = [row["validation_accuracy_per_kib"] for row in rows]
    assert per_kib == sorted(per_kib, reverse=True) and [row["rank"] for row in rows] == [
        1,
        2,
        3,
        4,
    ]
    assert max(row["int8_test_accuracy"] for row in rows) > 0.5  # one epoch on 360 images
    for row in rows:
        assert 0 <= row["int8_validation_accuracy"] <= 1 and 0 <= row["int8_test_accuracy"] <= 1
        assert row["flash_bytes"] > row["parameters"] * 0.9  # int8 weights, int32 biases
        expected = 100 * row["int8_validation_accuracy"] / (row["flash_bytes"] / 1024)
        assert row["validation_accuracy_per_kib"] == pytest.approx(expected)
        assert json.loads((out / row["name"] / "config.json").read_text())["train"]["epochs"] == 1
    assert any(row["pareto"] for row in rows)
    with open(out / "sweep.csv", newline="") as handle:
        assert [row["name"] for row in csv.DictReader(handle)] == [row["name"] for row in rows]
    table = (out / "sweep.md").read_text()
    assert all(f"| {row['rank']} | {row['name']} |" in table for row in rows)

    again = CliRunner().invoke(cli, ["sweep", *GRID, "--out", str(out)])  # nothing left to do
    assert again.exit_code == 0, again.output
    assert "4 finished, 0 to run" in again.output and "evaluating" not in again.output

    # Other calibration samples: the trained runs stay, every int8 model is made again.
    recalibrated = [*GRID[:-1], "30"]
    plan = CliRunner().invoke(cli, ["sweep", *recalibrated, "--out", str(out), "--print-commands"])
    lines = [line for line in plan.stdout.splitlines() if line]
    assert len(lines) == 4, plan.output
    assert all(" train " not in line and "--calibration-samples 30" in line for line in lines)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--models", "dnn,nope"], "nope"),
        (["--models", "dnn", "--widths", "1,x"], "'x' is not a number"),
        (["--models", "dnn", "--widths", "0"], "every width must be in (0, 8]"),
        (["--models", "dnn", "--augment", "none,wild"], "unknown preset 'wild'"),
        (["--models", "dnn,dnn"], "lists something twice"),
        (["--models", "dnn", "--widths", ""], "comma-separated list"),
    ],
)
def test_bad_grids_get_one_line(tmp_path, args, message):
    result = CliRunner().invoke(cli, ["sweep", *args, "--out", str(tmp_path / "s")])
    assert result.exit_code in (1, 2)
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "s").exists()


def test_a_folder_holding_another_run_is_refused(tmp_path):
    out = tmp_path / "sweep"
    (out / "dnn-none").mkdir(parents=True)
    config = {"train": {"model": "dnn", "epochs": 7}}
    (out / "dnn-none" / "config.json").write_text(json.dumps(config))
    result = CliRunner().invoke(cli, ["sweep", "--models", "dnn", "--out", str(out)])
    assert result.exit_code == 1
    assert "holds a run with other settings" in result.output
    assert json.loads((out / "dnn-none" / "config.json").read_text()) == config
