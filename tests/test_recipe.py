"""The training recipe (tinycnn/training/recipe.py): optimizer, learning-rate schedule with
warm-up, label smoothing and early stopping; they survive a resume, early stopping keeps the best
epoch, and bad combinations are refused before training."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from tinycnn.cli import cli
from tinycnn.training.recipe import learning_rate_at
from tinycnn.training.train import train, train_config


@pytest.mark.slow  # a real training run
def test_resume_reproduces_the_run_with_every_recipe_option(tmp_path):
    """Augmentation, AdamW, a cosine schedule with warm-up, label smoothing and early stopping
    survive an interruption: the resumed run gives the uninterrupted one's numbers exactly."""
    config = train_config(
        "lenet5",
        4,
        64,
        subset=600,
        seed=3,
        augment="strong",
        early_stopping=3,
        schedule="cosine",
        warmup_epochs=1.0,
    )
    whole = train(config, tmp_path / "whole")

    def stop_after_second_epoch(report):
        if report.epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(Exception, match="after 2 of 4 epochs"):
        train(config, tmp_path / "resumed", on_epoch=stop_after_second_epoch)
    resumed = train(config, tmp_path / "resumed", resume=True)
    histories = [
        json.loads((tmp_path / r / "history.json").read_text()) for r in ("whole", "resumed")
    ]
    assert histories[0] == {**histories[1], "seconds": histories[0]["seconds"]}
    assert resumed["test_accuracy"] == whole["test_accuracy"]
    assert resumed["best_epoch"] == whole["best_epoch"]
    rates = histories[0]["learning_rate"]  # at each epoch's last step: still rising, then decay
    assert rates[0] < 3e-3 and all(a > b for a, b in zip(rates, rates[1:], strict=False))


@pytest.mark.slow  # a real training run
def test_early_stopping_keeps_the_best_epoch(tmp_path):
    """A learning rate far too high makes validation worse after the first epoch: training
    stops after PATIENCE epochs, and the model kept is the best epoch's."""
    config = train_config(
        "lenet5",
        8,
        64,
        subset=600,
        early_stopping=2,
        learning_rate=0.3,
        optimizer="sgd",
        schedule="constant",
        warmup_epochs=0.0,
        label_smoothing=0.0,
        augment="none",
    )
    seen = []
    metrics = train(config, tmp_path / "run", on_epoch=seen.append)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    best = int(np.argmax(history["val_accuracy"])) + 1
    assert metrics["best_epoch"] == best and seen[-1].stopping
    assert metrics["epochs_run"] == len(seen) == best + 2 < 8
    assert not (tmp_path / "run" / "best.keras").exists()
    # the figures are the kept epoch's, not the last one's (they once were the last's)
    assert metrics["val_accuracy"] == history["val_accuracy"][best - 1]
    assert metrics["train_accuracy"] == history["accuracy"][best - 1]


def test_the_last_scheduled_epoch_is_no_early_stop():
    """Patience running out on the last scheduled epoch once printed "(early stop)": the run
    ended as scheduled. The watcher's rule, on a run of 3 epochs with patience 1."""
    from types import SimpleNamespace

    from tinycnn.training.watch import EpochWatcher

    watcher = object.__new__(EpochWatcher)
    watcher.run = SimpleNamespace(
        config=SimpleNamespace(early_stopping=1, epochs=3),
        best={"epoch": 1, "val_accuracy": 0.9},
    )
    watcher._early_stopping(None, 1, {"val_accuracy": 0.5})  # epoch 2: patience is out
    assert watcher.stopping
    watcher._early_stopping(None, 2, {"val_accuracy": 0.5})  # epoch 3, the last: no stop
    assert not watcher.stopping


def test_learning_rate_schedules():
    total, warm = 100, 10
    cosine = [learning_rate_at("cosine", 1.0, s, total, warm) for s in range(total)]
    assert cosine[0] == pytest.approx(0.01) and cosine[warm] == pytest.approx(1.0)
    assert cosine[-1] == pytest.approx(1e-3) and all(
        a >= b for a, b in zip(cosine[warm:], cosine[warm + 1 :], strict=False)
    )
    onecycle = [learning_rate_at("onecycle", 1.0, s, total) for s in range(total)]
    assert onecycle[0] == pytest.approx(1 / 25) and max(onecycle) == pytest.approx(1.0)
    assert onecycle.index(max(onecycle)) == 30 and onecycle[-1] == pytest.approx(1e-4)
    assert learning_rate_at("constant", 0.5, 7, total) == 0.5


def test_a_chosen_optimizer_drops_the_recipe_decay_it_cannot_take():
    config = train_config("mobilenet_tiny", optimizer="adam")
    assert config.weight_decay == 0.0 and config.schedule == "cosine"
    config.validate()


def test_recipe_options_are_checked_before_training(tmp_path):
    runner = CliRunner()
    for args, said in (
        (["--model", "seed_cnn", "--width", "2"], "fixed size"),
        (["--model", "lenet5", "--optimizer", "adam", "--weight-decay", "0.1"], "weight decay"),
        (["--model", "lenet5", "--epochs", "2", "--warmup-epochs", "3"], "warm-up"),
        (["--model", "lenet5", "--early-stopping", "2", "--validation-split", "0"], "validation"),
    ):
        result = runner.invoke(cli, ["train", *args, "--out", str(tmp_path / "run")])
        assert result.exit_code != 0 and said in result.output, result.output
        assert not (tmp_path / "run").exists()
