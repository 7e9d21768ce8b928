"""Fitting a registered model on Fashion-MNIST into a run directory (see ``rundir`` for
what it holds): configuration, per-epoch checkpoints that a resumed run continues from
exactly, and the trained float model with its metrics."""

from __future__ import annotations

import math
import platform
import shlex
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from tinycnn import __version__
from tinycnn.data import Dataset, load_fashion_mnist, to_float
from tinycnn.errors import TinycnnError
from tinycnn.models import INPUT_SHAPE, NUM_CLASSES, get_model_spec
from tinycnn.progress import Progress
from tinycnn.progress import report as report_progress
from tinycnn.rundir import (
    CHECKPOINT_FILE,
    CHECKPOINT_STATE_FILE,
    CONFIG_FILE,
    HISTORY_FILE,
    METRICS_FILE,
    MODEL_FILE,
    RUN_ARTIFACTS,
    RunError,
    read_json,
    save_model,
    write_json,
)

WATCH_STEPS = 20  # training steps between two looks at the loss (progress, divergence)


class TrainingInterrupted(TinycnnError):
    """Ctrl-C or SIGTERM/SIGHUP during fitting; the checkpoint of the last finished epoch is
    kept. Its exit code is the shell's for that signal (130 for Ctrl-C, 143 for SIGTERM)."""

    def __init__(self, run_dir: Path, epochs_done: int, epochs: int, interrupt=None):
        from tinycnn.processes import exit_code_for, signal_name

        self.run_dir, self.epochs_done, self.epochs = run_dir, epochs_done, epochs
        self.exit_code = exit_code_for(interrupt or KeyboardInterrupt())
        where = (
            f"the last checkpoint ({epochs_done} epochs) is {run_dir / CHECKPOINT_FILE}; "
            f"continue with `tinycnn train --resume --out {shlex.quote(str(run_dir))}`"
            if epochs_done
            else "no epoch had finished, so there is no checkpoint"
        )
        super().__init__(
            f"training interrupted by {signal_name(interrupt or KeyboardInterrupt())} after "
            f"{epochs_done} of {epochs} epochs; {where}"
        )


class TrainingDiverged(TinycnnError):
    """The loss became NaN or infinite: the weights are lost, the last good checkpoint is kept."""

    def __init__(self, run_dir: Path, epoch: int, step: int, loss: float, epochs_done: int):
        kept = (
            f"the last good checkpoint ({epochs_done} epochs) is kept in {run_dir / CHECKPOINT_FILE}"
            if epochs_done
            else "no epoch had finished, so there is no checkpoint"
        )
        super().__init__(
            f"training diverged: the loss became {loss} in epoch {epoch}, step {step}; {kept}; "
            "train again with a lower --learning-rate"
        )


@dataclass(frozen=True)
class TrainConfig:
    model: str
    epochs: int
    batch_size: int
    validation_split: float = 0.1
    seed: int = 0
    subset: int | None = None
    learning_rate: float | None = None

    def validate(self) -> None:
        get_model_spec(self.model)  # raises, naming the known models
        for name in ("validation_split", "learning_rate"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise RunError(f"{name.replace('_', ' ')} must be a finite number, got {value}")
        if self.epochs < 1:
            raise RunError(f"epochs must be at least 1, got {self.epochs}")
        if self.batch_size < 1:
            raise RunError(f"batch size must be at least 1, got {self.batch_size}")
        if not 0.0 <= self.validation_split < 1.0:
            raise RunError(f"validation split must be in [0, 1), got {self.validation_split}")
        if self.subset is not None and self.subset < 10:
            raise RunError(f"subset must be at least 10 images, got {self.subset}")
        if self.learning_rate is not None and self.learning_rate <= 0:
            raise RunError(f"learning rate must be positive, got {self.learning_rate}")


def train_config(model: str, epochs: int | None = None, batch_size: int | None = None, **settings):
    """The configuration of a run of ``model``: its registry defaults for what is not given.
    UnknownModel names the known models."""
    spec = get_model_spec(model)
    return TrainConfig(
        model=model,
        epochs=epochs or spec.default_epochs,
        batch_size=batch_size or spec.default_batch_size,
        **settings,
    )


@dataclass(frozen=True)
class EpochReport:
    epoch: int
    epochs: int
    seconds: float
    logs: dict[str, float]


def _check_run_dir(run_dir: Path, force: bool) -> list[str]:
    """Refuse a folder that holds a run unless forced, or one that cannot be written; the
    run files that --force will replace."""
    from tinycnn.outputs import check_output_dir

    check_output_dir(run_dir, "the run directory")
    existing = [name for name in RUN_ARTIFACTS if (run_dir / name).exists()]
    if existing and not force:
        raise RunError(
            f"{run_dir} already holds a run ({', '.join(existing)}); "
            "pass --force to replace it or --resume to continue it"
        )
    return existing


def _training_arrays(config: TrainConfig, dataset: Dataset) -> tuple[np.ndarray, np.ndarray]:
    images, labels = dataset.train_images, dataset.train_labels
    if config.subset is not None:
        images, labels = images[: config.subset], labels[: config.subset]
    return to_float(images), labels.astype(np.int32)


def _split(x: np.ndarray, y: np.ndarray, validation_split: float):
    """Keras's split: the last ``validation_split`` of the images, before any shuffling."""
    held_out = int(len(x) * validation_split)
    cut = len(x) - held_out
    return (x[:cut], y[:cut]), ((x[cut:], y[cut:]) if held_out else None)


def _derived_seed(seed: int, *keys: int) -> int:
    """A seed for one stage of a run: the initial weights (no key) or one epoch (its shuffle
    and dropout masks depend on (seed, epoch) only, so a resumed run repeats what the
    uninterrupted one would have done)."""
    entropy = [seed % 2**32, len(keys), *keys]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0] % (2**31))


def _seed_stage(seed: int, *keys: int) -> np.random.Generator:
    """Seed Python, numpy and TensorFlow for a stage; a numpy generator for its shuffling."""
    from tinycnn.tfenv import keras, tf

    stage_seed = _derived_seed(seed, *keys)
    keras.utils.set_random_seed(stage_seed)
    tf.config.experimental.enable_op_determinism()
    return np.random.default_rng(stage_seed)


def train(
    config: TrainConfig,
    run_dir: str | Path,
    *,
    data_dir: str | Path | None = None,
    force: bool = False,
    resume: bool = False,
    on_epoch: Callable[[EpochReport], None] | None = None,
    on_progress: Progress | None = None,
    on_start: Callable[[TrainConfig, int], None] | None = None,
) -> dict:
    """Train ``config.model`` into ``run_dir`` and return the metrics written to metrics.json.

    With ``resume`` the configuration and weights come from the run's checkpoint, and the
    result is the one the uninterrupted run gives: every epoch draws its shuffle and its
    dropout masks from (seed, epoch), and the checkpoint holds the optimizer's state.
    ``on_progress`` hears of every step (see ``tinycnn.progress``); ``on_start`` hears of the
    configuration and the first epoch once the request has been checked.
    Raises TrainingInterrupted on Ctrl-C, SIGTERM or SIGHUP, TrainingDiverged when the loss
    stops being finite, RunError or UnknownModel for bad requests, DataError when the dataset
    cannot be read. Nothing is loaded or deleted before the request has been checked.
    """
    run_dir = Path(run_dir)
    history: dict[str, list[float]] = {}
    initial_epoch = 0
    if resume:
        config = TrainConfig(**read_json(run_dir / CONFIG_FILE)["train"])
        if (run_dir / MODEL_FILE).exists():
            raise RunError(f"{run_dir} is already finished; nothing to resume")
        if not (run_dir / CHECKPOINT_STATE_FILE).is_file():
            raise RunError(f"{run_dir} has no checkpoint to resume from")
        state = read_json(run_dir / CHECKPOINT_STATE_FILE)
        initial_epoch, history = state["epochs_done"], state["history"]
        existing: list[str] = []
    config.validate()
    spec = get_model_spec(config.model)
    if not resume:
        existing = _check_run_dir(run_dir, force)
    dataset = load_fashion_mnist(data_dir)  # before TensorFlow: a missing dataset fails fast
    if on_start:
        on_start(config, initial_epoch)
    x_train, y_train = _training_arrays(config, dataset)
    (x_fit, y_fit), validation = _split(x_train, y_train, config.validation_split)

    from tinycnn.tfenv import keras, tf

    if resume:
        model = keras.models.load_model(run_dir / CHECKPOINT_FILE)
    else:
        run_dir.mkdir(parents=True, exist_ok=True)
        for name in existing:
            (run_dir / name).unlink()
        _seed_stage(config.seed)  # the initial weights
        model = spec.build(INPUT_SHAPE, NUM_CLASSES)
        model.compile(
            optimizer=keras.optimizers.Adam(config.learning_rate or spec.learning_rate),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        write_json(
            run_dir / CONFIG_FILE,
            {
                "train": asdict(config),
                "data_dir": str(dataset.source_dir),
                "class_names": list(dataset.class_names),
                "input_shape": list(INPUT_SHAPE),
                "versions": {
                    "tinycnn": __version__,
                    "tensorflow": tf.__version__,
                    "tf_keras": keras.__version__,
                    "numpy": np.__version__,
                    "python": platform.python_version(),
                },
            },
        )
    steps = math.ceil(len(x_fit) / config.batch_size)

    class Checkpoint(keras.callbacks.Callback):
        """Watches the steps (progress, a loss that stops being finite) and saves the model
        after every epoch."""

        # Keras hands the step's logs over as tensors, and this callback reads them only every
        # WATCH_STEPS steps: reading them at every step makes each step wait for the last.
        _supports_tf_logs = True

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            if (batch + 1) % WATCH_STEPS and batch + 1 != steps:
                return
            loss = float((logs or {}).get("loss", 0.0))
            if not math.isfinite(loss):
                raise TrainingDiverged(
                    run_dir, self.epoch + 1, batch + 1, loss, len(history.get("seconds", []))
                )
            report_progress(
                on_progress,
                f"epoch {self.epoch + 1}/{config.epochs}",
                batch + 1,
                steps,
                f"loss {loss:.4f}",
            )

        def on_epoch_end(self, epoch, logs=None):
            seconds = time.perf_counter() - self.started
            logs = {key: float(value) for key, value in (logs or {}).items()}
            bad = [k for k, v in logs.items() if k.endswith("loss") and not math.isfinite(v)]
            if bad:
                raise TrainingDiverged(
                    run_dir, epoch + 1, steps, logs[bad[0]], len(history.get("seconds", []))
                )
            for key, value in {**logs, "seconds": seconds}.items():
                history.setdefault(key, []).append(float(value))
            save_model(self.model, run_dir / CHECKPOINT_FILE)
            write_json(
                run_dir / CHECKPOINT_STATE_FILE, {"epochs_done": epoch + 1, "history": history}
            )
            if on_epoch:
                on_epoch(EpochReport(epoch + 1, config.epochs, seconds, logs))

    callback = Checkpoint()
    try:
        for epoch in range(initial_epoch, config.epochs):
            order = _seed_stage(config.seed, epoch).permutation(len(x_fit))
            model.train_function = None  # traced again after the seed: fresh dropout RNGs
            model.fit(
                x_fit[order],
                y_fit[order],
                batch_size=config.batch_size,
                epochs=epoch + 1,
                initial_epoch=epoch,
                validation_data=validation,
                shuffle=False,
                verbose=0,
                callbacks=[callback],
            )
    except KeyboardInterrupt as interrupt:
        epochs_done = len(history.get("seconds", []))
        raise TrainingInterrupted(run_dir, epochs_done, config.epochs, interrupt) from None

    _, test_accuracy = model.evaluate(
        to_float(dataset.test_images),
        dataset.test_labels.astype(np.int32),
        batch_size=500,
        verbose=0,
    )
    write_json(run_dir / HISTORY_FILE, history)
    save_model(model, run_dir / MODEL_FILE)
    metrics = {
        "model": config.model,
        "epochs": config.epochs,
        "train_images": int(len(x_fit)),
        "train_accuracy": history["accuracy"][-1],
        "val_accuracy": history.get("val_accuracy", [None])[-1],
        "test_accuracy": float(test_accuracy),
        "test_images": int(len(dataset.test_labels)),
        "parameters": int(model.count_params()),
        "mean_epoch_seconds": float(np.mean(history["seconds"])),
        "model_bytes": (run_dir / MODEL_FILE).stat().st_size,
    }
    write_json(run_dir / METRICS_FILE, metrics)
    (run_dir / CHECKPOINT_FILE).unlink(missing_ok=True)
    (run_dir / CHECKPOINT_STATE_FILE).unlink(missing_ok=True)
    return metrics
