"""Fitting a registered model on Fashion-MNIST into a run directory (see ``rundir`` for
what it holds): configuration, per-epoch checkpoints that a resumed run continues from
exactly, and the trained float model with its metrics."""

from __future__ import annotations

import math
import platform
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from tinycnn import __version__
from tinycnn.errors import TinycnnError
from tinycnn.progress import Progress
from tinycnn.progress import report as report_progress
from tinycnn.rundir import (
    BACKUP_DIR,
    BEST_FILE,
    CHECKPOINT_FILE,
    CHECKPOINT_STATE_FILE,
    CONFIG_FILE,
    HISTORY_FILE,
    METRICS_FILE,
    MODEL_FILE,
    RUN_ARTIFACTS,
    RunError,
    read_json,
    resume_command,
    save_model,
    write_json,
)
from tinycnn.training.augment import Augmentation, AugmentError, augmentation, training_batches
from tinycnn.training.data import Dataset, load_fashion_mnist, to_float
from tinycnn.training.distribute import (
    Backup,
    ClusterError,
    ClusterLost,
    Distribution,
    WorkerOutput,
    agreed,
    is_cluster_failure,
    make_strategy,
)
from tinycnn.training.models import INPUT_SHAPE, NUM_CLASSES, get_model_spec
from tinycnn.training.recipe import OPTIMIZERS, SCHEDULES, learning_rate_at, make_optimizer

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
            f"continue with `{resume_command(run_dir)}`"
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
    width: float | None = None  # channel multiplier (zoo architectures)
    depth: int | None = None  # block repeats (zoo architectures)
    optimizer: str = "adam"
    weight_decay: float = 0.0
    schedule: str = "constant"
    warmup_epochs: float = 0.0
    label_smoothing: float = 0.0
    augment: dict = field(default_factory=dict)  # augment.Augmentation fields; {} = none
    early_stopping: int | None = None  # patience in epochs on val_accuracy; best weights kept

    @property
    def augmentation(self) -> Augmentation:
        return Augmentation(**self.augment)

    def validate(self) -> None:
        spec = get_model_spec(self.model)  # raises, naming the known models
        if not spec.scalable and (self.width is not None or self.depth is not None):
            raise RunError(f"{self.model} has a fixed size: --width and --depth are for the zoo")
        if self.width is not None and not (math.isfinite(self.width) and 0 < self.width <= 8):
            raise RunError(f"width must be in (0, 8], got {self.width}")
        if self.depth is not None and not 1 <= self.depth <= 8:
            raise RunError(f"depth must be in [1, 8], got {self.depth}")
        if self.optimizer not in OPTIMIZERS:
            raise RunError(
                f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}"
            )
        if self.schedule not in SCHEDULES:
            raise RunError(f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if self.optimizer == "adam" and self.weight_decay:
            raise RunError("weight decay needs --optimizer adamw or sgd (Adam's is not decoupled)")
        if not (math.isfinite(self.weight_decay) and 0 <= self.weight_decay < 1):
            raise RunError(f"weight decay must be in [0, 1), got {self.weight_decay}")
        if not (math.isfinite(self.warmup_epochs) and 0 <= self.warmup_epochs < self.epochs):
            raise RunError(f"warm-up must be in [0, epochs), got {self.warmup_epochs}")
        if not (math.isfinite(self.label_smoothing) and 0 <= self.label_smoothing < 1):
            raise RunError(f"label smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.early_stopping is not None:
            if self.early_stopping < 1:
                raise RunError(
                    f"early stopping patience must be at least 1, got {self.early_stopping}"
                )
            if not self.validation_split:
                raise RunError("early stopping watches the validation split: it needs one above 0")
        try:
            self.augmentation.validate()
        except (TypeError, AugmentError) as exc:
            raise RunError(str(exc)) from None
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


def train_config(
    model: str,
    epochs: int | None = None,
    batch_size: int | None = None,
    *,
    augment: str | None = None,
    augment_knobs: dict | None = None,
    **settings,
):
    """The configuration of a run of ``model``: its registry defaults (epochs, batch size and
    recipe) for what is not given (None). ``augment`` is a preset name, ``augment_knobs``
    replaces some of its knobs. UnknownModel names the known models; AugmentError a bad knob."""
    spec = get_model_spec(model)
    recipe = {k: v for k, v in spec.recipe.items() if k != "augment"}
    chosen = augmentation(augment or spec.recipe.get("augment", "none"), **(augment_knobs or {}))
    given = {k: v for k, v in settings.items() if v is not None}
    epochs = epochs or spec.default_epochs
    if "warmup_epochs" in recipe:  # the recipe's warm-up, at most a tenth of a short run
        recipe["warmup_epochs"] = min(recipe["warmup_epochs"], epochs / 10)
    if given.get("optimizer") == "adam" and "weight_decay" not in given:
        recipe["weight_decay"] = 0.0  # the recipe's decay was for its own optimizer
    return TrainConfig(
        model=model,
        epochs=epochs,
        batch_size=batch_size or spec.default_batch_size,
        augment=chosen.as_dict() if chosen.active else {},
        **{**recipe, **given},
    )


@dataclass(frozen=True)
class EpochReport:
    epoch: int
    epochs: int
    seconds: float
    logs: dict[str, float]
    remaining_seconds: float = 0.0  # estimated from the epochs so far
    best_epoch: int | None = None  # with early stopping: the best on validation so far
    stopping: bool = False  # early stopping ends the run after this epoch


def _check_run_dir(run_dir: Path, force: bool) -> list[str]:
    """Refuse a folder that holds a run unless forced, or one that cannot be written; the
    run files (and the backup folder) that --force will replace."""
    from tinycnn.outputs import check_output_dir

    check_output_dir(run_dir, "the run directory")
    existing = [name for name in (*RUN_ARTIFACTS, BACKUP_DIR) if (run_dir / name).exists()]
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


def resume_note(run_dir: Path) -> str:
    """ "; the last good checkpoint ... and how to continue" for an unfinished run, else ""."""
    state = run_dir / CHECKPOINT_STATE_FILE
    if not state.is_file() or (run_dir / MODEL_FILE).exists():
        return ""
    epochs_done = read_json(state).get("epochs_done", 0)
    return (
        f"; the last good checkpoint ({epochs_done} epochs) is {run_dir / CHECKPOINT_FILE}: "
        f"continue in one process with `{resume_command(run_dir)}`"
        ", or start every worker again with the same command"
    )


def check_distribution(config: TrainConfig, distribution: Distribution, resume: bool) -> None:
    """RunError for what a multi-worker run cannot do (checked before any worker starts)."""
    if not distribution.multiworker:
        return
    if resume:
        raise RunError(
            "--resume continues a run in one process; a multi-worker run continues from its "
            "backup when its workers are started again with the same command"
        )
    if config.early_stopping:
        raise RunError("--early-stopping needs --strategy default or mirrored (one process)")


def _has_backup(run_dir: Path) -> bool:
    return (run_dir / BACKUP_DIR / "checkpoint").is_file()


def _continues(config: TrainConfig, run_dir: Path, force: bool) -> bool:
    """Whether a multi-worker chief continues the run in ``run_dir`` from its backup: the same
    configuration always does, --force or not, so that a worker started again with its
    original command (a scheduler's restart) continues. A backup of another configuration is
    replaced with --force, else refused (RunError)."""
    if not _has_backup(run_dir):
        return False
    saved = read_json(run_dir / CONFIG_FILE)["train"]
    if saved == asdict(config):
        return True
    if force:
        return False
    changed = sorted(
        key for key in {*saved, *asdict(config)} if saved.get(key) != asdict(config).get(key)
    )
    raise RunError(
        f"{run_dir} holds the backup of another run (it differs in {', '.join(changed)}); "
        "run that run's command to continue it, or pass --force to replace it"
    )


def train(
    config: TrainConfig,
    run_dir: str | Path,
    *,
    data_dir: str | Path | None = None,
    force: bool = False,
    resume: bool = False,
    distribution: Distribution | None = None,
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

    ``distribution`` spreads the training with tf.distribute (see ``tinycnn.training.distribute``); the
    batch size stays the global one. In a multi-worker run only the chief writes ``run_dir``,
    every worker backs up each epoch, and a worker started again with the same request
    continues from the backup; ClusterLost when a worker is lost, ClusterError when the
    cluster does not form. Every worker returns the metrics.
    Raises TrainingInterrupted on Ctrl-C, SIGTERM or SIGHUP, TrainingDiverged when the loss
    stops being finite, RunError or UnknownModel for bad requests, DataError when the dataset
    cannot be read. Nothing is loaded or deleted before the request has been checked.
    """
    run_dir = Path(run_dir)
    distribution = distribution or Distribution()
    chief = distribution.is_chief
    history: dict[str, list[float]] = {}
    initial_epoch = 0
    best = {"epoch": 0, "val_accuracy": -1.0}
    check_distribution(config, distribution, resume)
    if resume:
        config = TrainConfig(**read_json(run_dir / CONFIG_FILE)["train"])
        if (run_dir / MODEL_FILE).exists():
            raise RunError(f"{run_dir} is already finished; nothing to resume")
        if not (run_dir / CHECKPOINT_STATE_FILE).is_file():
            raise RunError(f"{run_dir} has no checkpoint to resume from")
        state = read_json(run_dir / CHECKPOINT_STATE_FILE)
        initial_epoch, history = state["epochs_done"], state["history"]
        best = state.get("best", best)
        existing: list[str] = []
    config.validate()
    spec = get_model_spec(config.model)
    continuing = chief and distribution.multiworker and _continues(config, run_dir, force)
    existing = [] if resume or continuing or not chief else _check_run_dir(run_dir, force)
    dataset = load_fashion_mnist(data_dir)  # before TensorFlow: a missing dataset fails fast
    if existing:  # before the cluster forms: no worker restores a stale backup
        for name in existing:
            _remove(run_dir / name)
    if on_start and not distribution.multiworker:  # a multi-worker run learns it from the backup
        on_start(config, initial_epoch)
    strategy = make_strategy(distribution)  # before any other TensorFlow work
    x_train, y_train = _training_arrays(config, dataset)
    if config.label_smoothing:  # smoothing needs one-hot targets
        y_train = np.eye(NUM_CLASSES, dtype=np.float32)[y_train]
    (x_fit, y_fit), validation = _split(x_train, y_train, config.validation_split)
    base_rate = config.learning_rate or spec.learning_rate

    from tinycnn.tfenv import keras, tf
    from tinycnn.training.models.blocks import custom_objects

    with strategy.scope():
        if resume:
            model = keras.models.load_model(
                run_dir / CHECKPOINT_FILE, custom_objects=custom_objects()
            )
        else:
            _seed_stage(config.seed)  # the initial weights
            scale = {"width": config.width or 1.0, "depth": config.depth} if spec.scalable else {}
            model = spec.build(INPUT_SHAPE, NUM_CLASSES, **scale)
            model.compile(
                optimizer=make_optimizer(config.optimizer, base_rate, config.weight_decay),
                loss=(
                    keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)
                    if config.label_smoothing
                    else "sparse_categorical_crossentropy"
                ),
                metrics=["accuracy"],
            )
            model.optimizer.build(model.trainable_variables)  # its state is in the backup
    output = WorkerOutput(run_dir, chief)
    backup = Backup(model, output) if distribution.multiworker else None
    if backup is not None:
        initial_epoch, state = backup.restore()
        if not agreed(strategy, initial_epoch):
            output.close()
            raise ClusterError(
                f"{distribution.cluster.describe()}: the workers found different backups in "
                f"{run_dir / BACKUP_DIR} (this one {initial_epoch} epochs): every worker must "
                f"read the chief's run directory (shared storage); to start the run again, "
                f"remove {run_dir / BACKUP_DIR}"
            )
        history = state.get("history", {})
        if on_start:
            on_start(config, initial_epoch)
    if chief and not resume and not continuing:
        run_dir.mkdir(parents=True, exist_ok=True)
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
                "distribution": distribution.as_dict(),
            },
        )
    steps = math.ceil(len(x_fit) / config.batch_size)
    scheduled = config.schedule != "constant" or config.warmup_epochs > 0
    warmup_steps = round(config.warmup_epochs * steps)

    class Checkpoint(keras.callbacks.Callback):
        """Watches the steps (progress, a loss that stops being finite) and saves the model
        after every epoch."""

        # Keras hands the step's logs over as tensors, and this callback reads them only every
        # WATCH_STEPS steps: reading them at every step makes each step wait for the last.
        _supports_tf_logs = True

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()
            self.epoch = epoch

        def on_train_batch_begin(self, batch, logs=None):
            if scheduled:  # a function of the global step: a resumed run sets the same rates
                rate = learning_rate_at(
                    config.schedule,
                    base_rate,
                    self.epoch * steps + batch,
                    config.epochs * steps,
                    warmup_steps,
                )
                self.model.optimizer.learning_rate.assign(rate)

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
            rate = float(self.model.optimizer.learning_rate.numpy())
            for key, value in {**logs, "seconds": seconds, "learning_rate": rate}.items():
                history.setdefault(key, []).append(float(value))
            self.stopping = False
            if config.early_stopping:
                if logs["val_accuracy"] > best["val_accuracy"]:
                    best.update(epoch=epoch + 1, val_accuracy=logs["val_accuracy"])
                    save_model(self.model, run_dir / BEST_FILE)
                self.stopping = epoch + 1 - best["epoch"] >= config.early_stopping
            state = {"epochs_done": epoch + 1, "history": history, "best": best}
            save_model(self.model, output.path(CHECKPOINT_FILE))  # what `--resume` continues
            if chief:
                write_json(run_dir / CHECKPOINT_STATE_FILE, state)
            output.discard()
            if backup is not None:  # what a restarted worker continues from
                backup.save(epoch + 1, state)
            if on_epoch:
                remaining = (config.epochs - epoch - 1) * float(np.mean(history["seconds"]))
                on_epoch(
                    EpochReport(
                        epoch + 1,
                        config.epochs,
                        seconds,
                        logs,
                        0.0 if self.stopping else remaining,
                        best["epoch"] if config.early_stopping else None,
                        self.stopping,
                    )
                )

    callback = Checkpoint()
    augment = config.augmentation
    stopped = config.early_stopping and initial_epoch - best["epoch"] >= config.early_stopping
    try:  # the loop and the test evaluation: a multi-worker run's collectives may fail in either
        for epoch in range(initial_epoch, config.epochs if not stopped else initial_epoch):
            order = _seed_stage(config.seed, epoch).permutation(len(x_fit))
            model.train_function = None  # traced again after the seed: fresh dropout RNGs
            if augment.active:  # augmented on the fly, from a seed of (seed, epoch)
                batches = training_batches(
                    x_fit[order],
                    y_fit[order],
                    config.batch_size,
                    augment,
                    _derived_seed(config.seed, epoch, 1),
                )
                data = {"x": batches}
            else:
                data = {"x": x_fit[order], "y": y_fit[order], "batch_size": config.batch_size}
            model.fit(
                **data,
                epochs=epoch + 1,
                initial_epoch=epoch,
                validation_data=validation,
                shuffle=False,
                verbose=0,
                callbacks=[callback],
            )
            if callback.stopping:
                break
        if config.early_stopping:  # the best epoch on validation, not the last
            model = keras.models.load_model(run_dir / BEST_FILE, custom_objects=custom_objects())
        test_labels = dataset.test_labels.astype(np.int32)
        if config.label_smoothing:  # the labels the compiled loss takes
            test_labels = np.eye(NUM_CLASSES, dtype=np.float32)[test_labels]
        _, test_accuracy = model.evaluate(
            to_float(dataset.test_images), test_labels, batch_size=500, verbose=0
        )
    except KeyboardInterrupt as interrupt:
        output.close()
        epochs_done = len(history.get("seconds", []))
        raise TrainingInterrupted(run_dir, epochs_done, config.epochs, interrupt) from None
    except Exception as exc:
        output.close()
        if not (distribution.multiworker and is_cluster_failure(exc)):
            raise
        raise ClusterLost(
            f"{distribution.cluster.describe()}: the cluster lost a worker after "
            f"{len(history.get('seconds', []))} of {config.epochs} epochs ({type(exc).__name__})"
        ) from None
    metrics = {
        "model": config.model,
        "epochs": config.epochs,
        "train_images": int(len(x_fit)),
        "train_accuracy": history["accuracy"][-1],
        "val_accuracy": history.get("val_accuracy", [None])[-1],
        "test_accuracy": float(test_accuracy),
        "test_images": int(len(dataset.test_labels)),
        "parameters": int(model.count_params()),
        "epochs_run": len(history["seconds"]),
        "best_epoch": best["epoch"] if config.early_stopping else None,
        "mean_epoch_seconds": float(np.mean(history["seconds"])),
        "strategy": distribution.strategy,
        "workers": len(distribution.cluster.addresses) if distribution.multiworker else 1,
        "replicas": int(strategy.num_replicas_in_sync),
    }
    if chief:
        write_json(run_dir / HISTORY_FILE, history)
    save_model(model, output.path(MODEL_FILE))
    output.close()
    if not chief:  # the chief writes the run directory
        return metrics
    metrics["model_bytes"] = (run_dir / MODEL_FILE).stat().st_size
    write_json(run_dir / METRICS_FILE, metrics)
    for name in (CHECKPOINT_FILE, CHECKPOINT_STATE_FILE, BEST_FILE, BACKUP_DIR):
        _remove(run_dir / name)
    return metrics


def _remove(path: Path) -> None:
    """A run file, or the backup folder."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
