"""Real training runs on real Fashion-MNIST subsets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tinycnn.rundir import CHECKPOINT_FILE, MODEL_FILE, RunError
from tinycnn.training.models import REGISTRY, UnknownModel, get_model_spec, load_trained_model
from tinycnn.training.train import TrainConfig, TrainingInterrupted, train

pytestmark = pytest.mark.slow  # real training runs


def test_registry_builds_every_model():
    for spec in REGISTRY.values():
        model = spec.build((28, 28, 1), 10)
        assert model.output_shape == (None, 10)
    assert get_model_spec("seed_cnn").build((28, 28, 1), 10).count_params() == 34_826
    with pytest.raises(UnknownModel, match="known models: dnn, seed_cnn, lenet5"):
        get_model_spec("resnet")


def test_short_training_beats_chance_and_writes_the_run(seed_cnn_run):
    metrics = json.loads((seed_cnn_run / "metrics.json").read_text())
    # Chance is 10 %; three epochs on a third of the data reach well above 80 %.
    assert metrics["test_accuracy"] > 0.80
    assert metrics["test_images"] == 10_000
    history = json.loads((seed_cnn_run / "history.json").read_text())
    assert len(history["accuracy"]) == len(history["val_accuracy"]) == 3
    config = json.loads((seed_cnn_run / "config.json").read_text())
    assert config["train"]["model"] == "seed_cnn" and config["train"]["subset"] == 20_000
    assert not (seed_cnn_run / CHECKPOINT_FILE).exists()
    assert load_trained_model(seed_cnn_run).count_params() == metrics["parameters"]


def test_same_seed_same_result(tmp_path):
    config = TrainConfig("dnn", epochs=2, batch_size=64, subset=3000, seed=7)
    first = train(config, tmp_path / "a")
    second = train(config, tmp_path / "b")
    assert first["test_accuracy"] == second["test_accuracy"]
    history_a = json.loads((tmp_path / "a" / "history.json").read_text())
    history_b = json.loads((tmp_path / "b" / "history.json").read_text())
    assert history_a["loss"] == history_b["loss"]
    train(TrainConfig("dnn", epochs=2, batch_size=64, subset=3000, seed=8), tmp_path / "c")
    assert json.loads((tmp_path / "c" / "history.json").read_text())["loss"] != history_a["loss"]


def test_existing_run_is_not_overwritten_without_force(tmp_path):
    config = TrainConfig("dnn", epochs=1, batch_size=64, subset=500)
    train(config, tmp_path)
    before = (tmp_path / MODEL_FILE).stat().st_mtime_ns
    with pytest.raises(RunError, match="already holds a run"):
        train(config, tmp_path)
    assert (tmp_path / MODEL_FILE).stat().st_mtime_ns == before
    train(config, tmp_path, force=True)
    assert (tmp_path / MODEL_FILE).stat().st_mtime_ns != before


def test_interrupted_training_keeps_a_checkpoint_and_resumes(tmp_path):
    def interrupt_after_first_epoch(report):
        if report.epoch == 1:
            raise KeyboardInterrupt

    config = TrainConfig("dnn", epochs=3, batch_size=64, subset=2000)
    with pytest.raises(TrainingInterrupted, match="after 1 of 3 epochs") as info:
        train(config, tmp_path, on_epoch=interrupt_after_first_epoch)
    assert "--resume" in str(info.value)
    assert not (tmp_path / MODEL_FILE).exists()
    assert (tmp_path / CHECKPOINT_FILE).is_file()
    with pytest.raises(RunError, match="training was interrupted"):
        load_trained_model(tmp_path)

    epochs_seen = []
    metrics = train(config, tmp_path, resume=True, on_epoch=lambda r: epochs_seen.append(r.epoch))
    assert epochs_seen == [2, 3]
    assert len(json.loads((tmp_path / "history.json").read_text())["loss"]) == 3
    assert metrics["test_accuracy"] > 0.5
    assert not (tmp_path / CHECKPOINT_FILE).exists()


@pytest.mark.parametrize(
    "signum, said", [(signal.SIGINT, "Ctrl-C"), (signal.SIGTERM, "SIGTERM")], ids=["int", "term"]
)
def test_ctrl_c_and_sigterm_on_the_command_line(tmp_path, signum, said):
    """A real SIGINT or SIGTERM (what schedulers and CI send) to a real `tinycnn train`: one-line
    message with the resume command, the shell's exit status for that signal, checkpoint kept."""
    run_dir = tmp_path / "run"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tinycnn.cli",
            "train",
            "--model",
            "dnn",
            "--epochs",
            "200",
            "--subset",
            "20000",
            "--out",
            str(run_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A test run as a background job hands its children an ignored SIGINT: restore it, so
        # that this checks tinycnn and not the parent shell.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while not (run_dir / "checkpoint.json").exists() and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        time.sleep(0.2)
    assert (run_dir / "checkpoint.json").exists(), "no epoch finished within 120 s"
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + signum
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"Error: training interrupted by {said} after ")
    assert f"tinycnn train --resume --out {run_dir}" in lines[0]
    assert "Traceback" not in stderr
    assert (run_dir / CHECKPOINT_FILE).is_file() and not (run_dir / MODEL_FILE).exists()
    assert os.path.getsize(run_dir / CHECKPOINT_FILE) > 0


def test_resume_reproduces_the_uninterrupted_run(tmp_path):
    """Shuffle and dropout masks are drawn per (seed, epoch) and the optimizer state is in the
    checkpoint: interrupted and resumed gives the uninterrupted run's numbers exactly."""
    config = TrainConfig("seed_cnn", epochs=3, batch_size=64, subset=1500, seed=5)
    whole = train(config, tmp_path / "whole")

    def stop_after_first_epoch(report):
        if report.epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(TrainingInterrupted):
        train(config, tmp_path / "resumed", on_epoch=stop_after_first_epoch)
    resumed = train(config, tmp_path / "resumed", resume=True)
    assert resumed["test_accuracy"] == whole["test_accuracy"]
    history = [
        json.loads((tmp_path / r / "history.json").read_text()) for r in ("whole", "resumed")
    ]
    assert (
        history[0]["loss"] == history[1]["loss"]
        and history[0]["val_loss"] == history[1]["val_loss"]
    )


def test_divergence_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    from tinycnn.tfenv import keras
    from tinycnn.training.train import TrainingDiverged

    config = TrainConfig("dnn", epochs=3, batch_size=64, subset=1000)

    def stop_after_first_epoch(report):
        if report.epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(TrainingInterrupted):
        train(config, tmp_path, on_epoch=stop_after_first_epoch)
    # The second epoch runs away: an absurd learning rate in the checkpoint's optimizer.
    model = keras.models.load_model(tmp_path / CHECKPOINT_FILE)
    model.optimizer.learning_rate.assign(1e30)
    model.save(tmp_path / CHECKPOINT_FILE)
    good = (tmp_path / CHECKPOINT_FILE).read_bytes()
    with pytest.raises(TrainingDiverged, match=r"loss became (nan|inf) in epoch 2, step \d+"):
        train(config, tmp_path, resume=True)
    assert (tmp_path / CHECKPOINT_FILE).read_bytes() == good
    assert json.loads((tmp_path / "checkpoint.json").read_text())["epochs_done"] == 1
    assert not (tmp_path / MODEL_FILE).exists()


@pytest.mark.parametrize(
    "field, value", [("learning_rate", float("nan")), ("validation_split", float("inf"))]
)
def test_non_finite_settings_are_refused_up_front(tmp_path, field, value):
    config = TrainConfig("dnn", epochs=1, batch_size=32, **{field: value})
    with pytest.raises(RunError, match="must be a finite number"):
        train(config, tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_ctrl_c_while_tensorflow_loads_is_one_line(tmp_path):
    """Before the first epoch (TensorFlow still loading): an `Error:` line, not "Aborted!"."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tinycnn.cli",
            "train",
            "--model",
            "dnn",
            "--out",
            str(tmp_path / "r"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert process.stdout.readline().startswith("training dnn")  # printed before TF loads
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), stderr
    assert "interrupted by Ctrl-C" in lines[0] and "Aborted!" not in stderr


def test_resume_refuses_options_that_would_change_the_run_and_takes_more_epochs(tmp_path):
    """`train --resume` once ignored --model, --seed, --learning-rate, --augment... silently.
    Options that differ from the run are refused in one line naming them (nothing written);
    the same values pass; --epochs may change, and the run's config.json says so after."""
    from click.testing import CliRunner

    from tinycnn.cli import cli

    def interrupt_after_first_epoch(report):
        if report.epoch == 1:
            raise KeyboardInterrupt

    config = TrainConfig("dnn", epochs=2, batch_size=64, subset=1000, seed=3)
    with pytest.raises(TrainingInterrupted):
        train(config, tmp_path, on_epoch=interrupt_after_first_epoch)
    state = (tmp_path / "checkpoint.json").read_bytes()
    resume = ["train", "--resume", "--out", str(tmp_path)]
    changed = CliRunner().invoke(
        cli,
        [
            *resume,
            "--model",
            "seed_cnn",
            "--seed",
            "3",
            "--learning-rate",
            "0.1",
            "--flip",
            "horizontal",
        ],
    )
    assert changed.exit_code == 1, changed.output
    (line,) = [line for line in changed.output.splitlines() if line.startswith("Error")]
    assert "--model (the run has 'dnn')" in line and "--learning-rate (the run has None)" in line
    assert "--augment (the run has {})" in line
    assert "--seed" not in line  # the same seed as the run's is no change
    assert (tmp_path / "checkpoint.json").read_bytes() == state
    fewer = CliRunner().invoke(cli, [*resume, "--epochs", "0"])
    assert fewer.exit_code == 2  # click's range check
    more = CliRunner().invoke(cli, [*resume, "--epochs", "3", "--seed", "3"])
    assert more.exit_code == 0, more.output
    assert len(json.loads((tmp_path / "history.json").read_text())["loss"]) == 3
    assert json.loads((tmp_path / "config.json").read_text())["train"]["epochs"] == 3


def test_a_run_folder_has_one_writer(tmp_path):
    """Two trainings into one --out both exited 0 and left a mixed folder; a --resume started
    while the run still trained continued from its later weights. The second writer now gets
    one line naming the first, and the first finishes undisturbed."""
    from click.testing import CliRunner

    from tinycnn.cli import cli

    run = tmp_path / "run"
    lock = tmp_path / ".run.tinycnn-lock"
    command = [sys.executable, "-m", "tinycnn", "train", "--model", "dnn", "--subset", "3000"]
    first = subprocess.Popen(
        [*command, "--epochs", "4", "--batch-size", "32", "--out", str(run)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not (lock.is_file() and lock.read_text()) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert lock.is_file(), first.stderr.read() if first.poll() is not None else "no lock"
        for extra in (["--force"], ["--resume"]):
            second = CliRunner().invoke(cli, ["train", "--model", "dnn", "--out", str(run), *extra])
            assert second.exit_code == 1, second.output
            assert f"is being written by process {first.pid} (`tinycnn train`" in second.output
        assert first.wait(timeout=300) == 0, first.stderr.read()
    finally:
        if first.poll() is None:
            first.kill()
    assert json.loads((run / "metrics.json").read_text())["epochs_run"] == 4
    assert not lock.exists()  # removed on the way out
