"""Real training runs on real Fashion-MNIST subsets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tinycnn.models import REGISTRY, UnknownModel, get_model_spec
from tinycnn.train import (
    CHECKPOINT_FILE,
    MODEL_FILE,
    RunError,
    TrainConfig,
    TrainingInterrupted,
    load_trained_model,
    train,
)


def test_registry_builds_every_model():
    for spec in REGISTRY.values():
        model = spec.build((28, 28, 1), 10)
        assert model.output_shape == (None, 10)
    assert get_model_spec("seed_cnn").build((28, 28, 1), 10).count_params() == 34_826
    with pytest.raises(UnknownModel, match="known models: dnn, seed_cnn"):
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


def test_ctrl_c_on_the_command_line(tmp_path):
    """A real SIGINT to a real `tinycnn train`: one-line message, non-zero exit, checkpoint kept."""
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
    )
    deadline = time.monotonic() + 120
    while not (run_dir / "checkpoint.json").exists() and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        time.sleep(0.2)
    assert (run_dir / "checkpoint.json").exists(), "no epoch finished within 120 s"
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 1
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: training interrupted after ")
    assert "Traceback" not in stderr
    assert (run_dir / CHECKPOINT_FILE).is_file() and not (run_dir / MODEL_FILE).exists()
    assert os.path.getsize(run_dir / CHECKPOINT_FILE) > 0
