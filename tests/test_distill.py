"""Knowledge distillation (tinycnn/training/distill.py, `train --teacher`): the targets the
student fits are the true class mixed with the teacher's probabilities, the held-out and test
targets stay the true classes, and a teacher that cannot teach is refused before training."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from tinycnn.cli import cli
from tinycnn.rundir import RunError
from tinycnn.training.config import TrainConfig, train_config
from tinycnn.training.data import load_fashion_mnist, to_float
from tinycnn.training.distill import soft_targets
from tinycnn.training.train import _training_data, train


def test_soft_targets_mix_the_true_class_with_the_teacher():
    labels = np.array([2, 0, 1])
    teacher = np.array([[0.1, 0.2, 0.7], [0.5, 0.5, 0.0], [0.0, 0.0, 1.0]], dtype=np.float32)
    assert np.array_equal(soft_targets(labels, 3, None, 0.9), np.eye(3, dtype=np.float32)[labels])
    mixed = soft_targets(labels, 3, teacher, 0.25)
    assert np.allclose(mixed[0], [0.025, 0.05, 0.925])
    assert np.allclose(mixed[2], [0.0, 0.75, 0.25])
    assert np.allclose(mixed.sum(axis=1), 1.0)
    assert np.allclose(soft_targets(labels, 3, teacher, 1.0), teacher)


@pytest.fixture(scope="module")
def teacher_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("teacher") / "run"
    train(TrainConfig("dnn", epochs=1, batch_size=64, subset=400, seed=3), run_dir)
    return run_dir


def test_the_student_fits_the_mixed_targets_and_validates_on_true_classes(teacher_run, tmp_path):
    from tinycnn.training.models import load_trained_model

    config = train_config("dnn", epochs=1, subset=400, teacher=str(teacher_run), distill_weight=0.7)
    dataset = load_fashion_mnist()
    (fit_x, fit_y), (held_x, held_y) = _training_data(config, dataset)
    probabilities = load_trained_model(teacher_run).predict(fit_x, verbose=0)
    labels = dataset.train_labels[:400]
    expected = 0.3 * np.eye(10)[labels[: len(fit_x)]] + 0.7 * probabilities
    assert np.allclose(fit_y, expected, atol=1e-6)
    assert np.array_equal(held_y, np.eye(10, dtype=np.float32)[labels[len(fit_x) :]])
    assert np.array_equal(held_x, to_float(dataset.train_images[len(fit_x) : 400]))
    metrics = train(config, tmp_path / "student")
    saved = json.loads((tmp_path / "student" / "config.json").read_text())["train"]
    assert saved["teacher"] == str(teacher_run.resolve()) and saved["distill_weight"] == 0.7
    assert 0.0 < metrics["test_accuracy"] <= 1.0


def test_a_teacher_that_cannot_teach_is_refused_up_front(teacher_run, tmp_path):
    other = tmp_path / "other_classes"
    shutil.copytree(teacher_run, other)
    config = json.loads((other / "config.json").read_text())
    config["class_names"] = [f"c{i}" for i in range(10)]
    (other / "config.json").write_text(json.dumps(config))
    empty = tmp_path / "empty"
    empty.mkdir()
    bare = tmp_path / "bare_config"  # a config.json without class names or input shape
    shutil.copytree(teacher_run, bare)
    (bare / "config.json").write_text(json.dumps({"train": config["train"]}))
    cases = [
        (other, "trained on other classes"),
        (empty, "holds no trained model"),
        (bare, "trained on other classes"),
    ]
    for teacher, said in cases:
        with pytest.raises(RunError, match=said):
            train(train_config("dnn", epochs=1, subset=100, teacher=str(teacher)), tmp_path / "s")
    with pytest.raises(RunError, match="is the run being written"):
        train(train_config("dnn", epochs=1, subset=100, teacher=str(other)), other, force=True)
    assert (other / "model.keras").is_file()  # the teacher is never touched
    with pytest.raises(RunError, match="--distill-weight goes with --teacher"):
        train_config("dnn", distill_weight=0.5).validate()


def test_the_command_line_takes_a_teacher(teacher_run, tmp_path):
    args = ["train", "--model", "dnn", "--epochs", "1", "--subset", "200", "--teacher"]
    result = CliRunner().invoke(cli, [*args, str(teacher_run), "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    assert f"taught by {teacher_run.resolve()} (weight 0.5)" in result.output
    refused = CliRunner().invoke(
        cli, ["train", "--distill-weight", "1.5", "--teacher", str(teacher_run), "--out", "x"]
    )
    assert refused.exit_code == 2 and "0.0<=x<=1.0" in refused.output
