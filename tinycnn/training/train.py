"""Fitting a registered model on Fashion-MNIST into a run directory (see ``rundir`` for
what it holds): configuration, per-epoch checkpoints that a resumed run continues from
exactly, and the trained float model with its metrics.

``train`` runs its phases in order: the request is checked (and a resumed run's state read)
before anything is loaded or deleted; the data set is read, then TensorFlow's strategy made;
the model is built (or loaded from the checkpoint, or restored from a multi-worker backup);
the configuration is written; the epochs are fitted one ``fit`` call each, every epoch seeded
from (seed, epoch); the test set is evaluated; the metrics and the model are written last.
"""

from __future__ import annotations

import contextlib
import platform
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from tinycnn import __version__
from tinycnn.outputs import writing
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
    RunError,
    read_json,
    save_model,
    write_json,
)
from tinycnn.training.augment import training_batches
from tinycnn.training.config import (
    EpochReport,
    TrainConfig,
    TrainingDiverged,
    TrainingInterrupted,
    check_distribution,
    check_run_dir,
    continues_run,
    train_config,
)
from tinycnn.training.data import Dataset, to_float
from tinycnn.training.distill import check_teacher, soft_targets, teacher_probabilities
from tinycnn.training.distribute import (
    Backup,
    ClusterError,
    ClusterLost,
    Distribution,
    WorkerOutput,
    agreed,
    differing_settings,
    is_cluster_failure,
    make_strategy,
)
from tinycnn.training.models import ModelSpec, get_model_spec
from tinycnn.training.recipe import make_optimizer
from tinycnn.training.user_data import load_dataset
from tinycnn.training.watch import EpochWatcher

__all__ = ["EpochReport", "TrainConfig", "TrainingDiverged", "TrainingInterrupted", "train"]
__all__ += ["train_config", "check_distribution"]


@dataclass
class _Run:
    """One training run's request and state, shared by its phases."""

    config: TrainConfig
    run_dir: Path
    distribution: Distribution
    resume: bool
    spec: ModelSpec = None
    initial_epoch: int = 0
    history: dict[str, list[float]] = field(default_factory=dict)
    best: dict = field(default_factory=lambda: {"epoch": 0, "val_accuracy": -1.0})
    continuing: bool = False  # a multi-worker chief continuing its backup
    existing: list[str] = field(default_factory=list)  # run files --force replaces
    input_shape: tuple[int, ...] = ()  # of one float input, from the data set
    classes: int = 0

    @property
    def chief(self) -> bool:
        return self.distribution.is_chief

    @property
    def epochs_done(self) -> int:
        return len(self.history.get("seconds", []))

    @property
    def base_rate(self) -> float:
        return self.config.learning_rate or self.spec.learning_rate


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

    ``distribution`` spreads the training with tf.distribute (see
    ``tinycnn.training.distribute``); the batch size stays the global one. In a multi-worker
    run only the chief writes ``run_dir``, every worker backs up each epoch, and a worker
    started again with the same request continues from the backup; ClusterLost when a worker
    is lost, ClusterError when the cluster does not form. Every worker returns the metrics.
    Raises TrainingInterrupted on Ctrl-C, SIGTERM or SIGHUP, TrainingDiverged when the loss
    stops being finite, RunError or UnknownModel for bad requests, DataError when the dataset
    cannot be read. Nothing is loaded or deleted before the request has been checked, and
    the run directory has one writer: a second process training into it (or resuming it)
    while this one does is an OutputError naming this one.
    """
    chief = (distribution or Distribution()).is_chief  # only the chief writes the folder
    with writing(run_dir, "--out") if chief else contextlib.nullcontext():
        return _train(
            config,
            run_dir,
            data_dir=data_dir,
            force=force,
            resume=resume,
            distribution=distribution,
            on_epoch=on_epoch,
            on_progress=on_progress,
            on_start=on_start,
        )


def _train(
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
    """``train``'s phases, with the run directory held."""
    run = _checked_request(config, Path(run_dir), distribution or Distribution(), force, resume)
    dataset = _dataset(run, data_dir)  # before TensorFlow: a missing dataset fails fast
    for name in run.existing:  # before the cluster forms: no worker restores a stale backup
        _remove(run.run_dir / name)
    if on_start and not run.distribution.multiworker:  # multi-worker: known from the backup
        on_start(run.config, run.initial_epoch)
    strategy = make_strategy(run.distribution)  # before any other TensorFlow work
    _check_same_request(run, strategy, dataset)
    fit, validation = _training_data(run.config, dataset)
    model = _model(run, strategy, steps_per_epoch=-(-len(fit[0]) // run.config.batch_size))
    output = WorkerOutput(run.run_dir, run.chief)
    backup = _restore_backup(run, model, strategy, output, on_start)
    _write_config(run, dataset)
    watcher = EpochWatcher(run, len(fit[0]), output, backup, on_epoch, on_progress)
    try:  # the loop and the test evaluation: a multi-worker run's collectives may fail in either
        model = _fit_epochs(run, model, fit, validation, watcher)
        _recalibrate_batch_norm(run, model, fit[0], strategy, on_progress)
        test_accuracy = _test_accuracy(run.config, model, dataset)
    except KeyboardInterrupt as interrupt:
        output.close()
        raise TrainingInterrupted(
            run.run_dir, run.epochs_done, run.config.epochs, interrupt
        ) from None
    except Exception as exc:
        output.close()
        if not (run.distribution.multiworker and is_cluster_failure(exc)):
            raise
        raise ClusterLost(
            f"{run.distribution.cluster.describe()}: the cluster lost a worker after "
            f"{run.epochs_done} of {run.config.epochs} epochs ({type(exc).__name__})"
        ) from None
    metrics = _metrics(run, model, strategy, len(fit[0]), dataset, test_accuracy)
    return _write_results(run, model, output, metrics)


def _check_same_request(run: _Run, strategy, dataset: Dataset) -> None:
    """A multi-worker run: ClusterError naming the settings its workers were started with
    differently (before they build models that could not train together). The data set is
    compared by what it holds, not by its path, which may differ from machine to machine."""
    if not run.distribution.multiworker:
        return
    settings = {k: v for k, v in asdict(run.config).items() if k != "data"}
    settings["data set"] = [
        len(dataset.train_images),
        list(run.input_shape),
        list(dataset.class_names),
    ]
    differing = differing_settings(strategy, settings)
    if differing:
        raise ClusterError(
            f"{run.distribution.cluster.describe()}: the workers were started with different "
            f"settings ({', '.join(differing)} differ); start every worker with the same command"
        )


def _dataset(run: _Run, data_dir) -> Dataset:
    """The run's data set (Fashion-MNIST, or the user's ``--data``), its input shape and classes."""
    config = run.config
    dataset = load_dataset(config.data, data_dir, config.input_size, config.channels)
    run.input_shape = tuple(to_float(dataset.train_images[:1]).shape[1:])
    run.classes = len(dataset.class_names)
    check_teacher(config.teacher, dataset, run.input_shape, run.run_dir)  # before TensorFlow
    return dataset


def _checked_request(
    config: TrainConfig, run_dir: Path, distribution: Distribution, force: bool, resume: bool
) -> _Run:
    """The run as asked, checked; a resumed run's configuration and state from its checkpoint."""
    check_distribution(config, distribution, resume)
    run = _Run(config, run_dir, distribution, resume)
    if resume:
        saved = TrainConfig(**read_json(run_dir / CONFIG_FILE)["train"])
        run.config = replace(saved, epochs=config.epochs)  # more (or fewer) epochs may be asked
        if (run_dir / MODEL_FILE).exists():
            raise RunError(f"{run_dir} is already finished; nothing to resume")
        if not (run_dir / CHECKPOINT_STATE_FILE).is_file():
            raise RunError(f"{run_dir} has no checkpoint to resume from")
        state = read_json(run_dir / CHECKPOINT_STATE_FILE)
        run.initial_epoch, run.history = state["epochs_done"], state["history"]
        if run.config.epochs < run.initial_epoch:
            raise RunError(
                f"{run_dir} has done {run.initial_epoch} epochs; --epochs {run.config.epochs} "
                "cannot continue it (give at least that many)"
            )
        run.best = state.get("best", run.best)
    run.config.validate()
    run.spec = get_model_spec(run.config.model)
    run.continuing = (
        run.chief and distribution.multiworker and continues_run(run.config, run_dir, force)
    )
    if not (resume or run.continuing or not run.chief):
        run.existing = check_run_dir(run_dir, force)
    return run


def _training_data(config: TrainConfig, dataset: Dataset):
    """((x, y) to fit, (x, y) held out or None): Keras's split, the last ``validation_split``
    of the images before any shuffling; one-hot targets, mixed with a teacher's (distill.py)."""
    images, labels = dataset.train_images, dataset.train_labels
    if config.subset is not None:
        images, labels = images[: config.subset], labels[: config.subset]
    x, y = to_float(images), labels.astype(np.int32)
    held_out = int(len(x) * config.validation_split)
    cut, classes = len(x) - held_out, len(dataset.class_names)
    if config.categorical:  # the held-out targets stay the true classes
        teacher = teacher_probabilities(config.teacher, x[:cut]) if config.teacher else None
        fit = soft_targets(y[:cut], classes, teacher, config.distill_weight or 0.0)
        y = np.concatenate([fit, soft_targets(y[cut:], classes, None, 0.0)])
    return (x[:cut], y[:cut]), ((x[cut:], y[cut:]) if held_out else None)


def _model(run: _Run, strategy, steps_per_epoch: int):
    """The model to fit: the checkpoint's when resuming, else built from a seed and compiled."""
    from tinycnn.tfenv import keras
    from tinycnn.training.models.blocks import custom_objects

    config, spec = run.config, run.spec
    with strategy.scope():
        if run.resume:
            return keras.models.load_model(
                run.run_dir / CHECKPOINT_FILE, custom_objects=custom_objects()
            )
        _seed_stage(config.seed)  # the initial weights
        scale = {"width": config.width or 1.0, "depth": config.depth} if spec.scalable else {}
        try:
            model = spec.build(run.input_shape, run.classes, **scale)
        except ValueError as exc:  # Keras: a layer that does not fit the input
            raise RunError(
                f"{config.model} cannot take a {'x'.join(map(str, run.input_shape))} input "
                f"({str(exc).splitlines()[0]}); pass a larger --input-size or another --model"
            ) from None
        for layer in model.submodules:  # moving statistics that trail by about an epoch at most
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = min(layer.momentum, 1.0 - 1.0 / max(steps_per_epoch, 2))
        model.compile(
            optimizer=make_optimizer(config.optimizer, run.base_rate, config.weight_decay),
            loss=(
                keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)
                if config.categorical
                else "sparse_categorical_crossentropy"
            ),
            metrics=["accuracy"],
        )
        model.optimizer.build(model.trainable_variables)  # its state is in the backup
    return model


def _restore_backup(run: _Run, model, strategy, output: WorkerOutput, on_start) -> Backup | None:
    """A multi-worker run's backup, restored into ``model`` (and the run's history); every
    worker must have found the same one. None for a run in one process."""
    if not run.distribution.multiworker:
        return None
    backup = Backup(model, output)
    run.initial_epoch, state = backup.restore()
    if not agreed(strategy, run.initial_epoch):
        output.close()
        raise ClusterError(
            f"{run.distribution.cluster.describe()}: the workers found different backups in "
            f"{run.run_dir / BACKUP_DIR} (this one {run.initial_epoch} epochs): every worker "
            f"must read the chief's run directory (shared storage); to start the run again, "
            f"remove {run.run_dir / BACKUP_DIR}"
        )
    run.history = state.get("history", {})
    if on_start:
        on_start(run.config, run.initial_epoch)
    return backup


def _write_config(run: _Run, dataset: Dataset) -> None:
    """config.json of a new run (the chief's): the request, the data, the library versions."""
    if run.chief and run.resume:  # the epochs asked of a continued run, for a later --resume
        written = read_json(run.run_dir / CONFIG_FILE)
        if written["train"]["epochs"] != run.config.epochs:
            written["train"]["epochs"] = run.config.epochs
            write_json(run.run_dir / CONFIG_FILE, written)
    if not run.chief or run.resume or run.continuing:
        return
    from tinycnn.tfenv import keras, tf

    run.run_dir.mkdir(parents=True, exist_ok=True)
    versions = {
        "tinycnn": __version__,
        "tensorflow": tf.__version__,
        "tf_keras": keras.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }
    write_json(
        run.run_dir / CONFIG_FILE,
        {
            "train": asdict(run.config),
            "data_dir": str(dataset.source_dir),
            "class_names": list(dataset.class_names),
            "dataset": dataset.name,
            "input_range": list(dataset.input_range),
            "input_shape": list(run.input_shape),
            "versions": versions,
            "distribution": run.distribution.as_dict(),
        },
    )


def _fit_epochs(run: _Run, model, fit, validation, watcher: EpochWatcher):
    """Fit the epochs not done yet, one ``fit`` call each, seeded from (seed, epoch);
    the model to keep (with early stopping, the best epoch on validation, not the last)."""
    from tinycnn.tfenv import keras
    from tinycnn.training.models.blocks import custom_objects

    config, (x_fit, y_fit) = run.config, fit
    callback, augment = watcher.keras_callback(), config.augmentation
    patience = config.early_stopping
    stopped = patience and run.initial_epoch - run.best["epoch"] >= patience
    for epoch in range(run.initial_epoch, config.epochs if not stopped else run.initial_epoch):
        order = _seed_stage(config.seed, epoch).permutation(len(x_fit))
        model.train_function = None  # traced again after the seed: fresh dropout RNGs
        if augment.active:  # augmented on the fly, from a seed of (seed, epoch)
            seed = _derived_seed(config.seed, epoch, 1)
            batches = training_batches(x_fit[order], y_fit[order], config.batch_size, augment, seed)
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
        if watcher.stopping:
            break
    if patience:
        return keras.models.load_model(run.run_dir / BEST_FILE, custom_objects=custom_objects())
    return model


RECALIBRATION_IMAGES = 10_000  # training images batch normalization's statistics are taken on


def _recalibrate_batch_norm(run: _Run, model, images, strategy, on_progress) -> None:
    """Batch normalization's moving statistics taken again for the final weights, averaged over
    the first RECALIBRATION_IMAGES training images ("precise BN"). The moving averages Keras
    keeps during fitting trail the weights by about 1 / (1 - momentum) = 100 steps: a run of a
    few hundred steps (a small data set: 1,433 digits, 40 epochs of 12 steps) ended with
    statistics of weights long gone, and a MobileNet that fitted 95 % of its training images
    answered at chance (9.6 %) on its test set; with them taken again, 96.4 %."""
    from tinycnn.tfenv import keras

    layers = [m for m in model.submodules if isinstance(m, keras.layers.BatchNormalization)]
    if not layers or run.distribution.multiworker:  # see docs/training.md
        return
    images = images[:RECALIBRATION_IMAGES]
    batch = run.config.batch_size  # the batches the statistics were meant for
    starts = range(0, len(images), batch)
    momenta = [layer.momentum for layer in layers]
    _seed_stage(run.config.seed, run.config.epochs)  # dropout between them: seeded too
    try:
        with strategy.scope():
            for count, start in enumerate(starts, start=1):
                for layer in layers:  # the running mean of the batches so far
                    layer.momentum = (count - 1) / count
                model(images[start : start + batch], training=True)
                report_progress(on_progress, "batch normalization statistics", count, len(starts))
    finally:
        for layer, momentum in zip(layers, momenta, strict=True):
            layer.momentum = momentum


def _test_accuracy(config: TrainConfig, model, dataset: Dataset) -> float:
    labels = dataset.test_labels.astype(np.int32)
    if config.categorical:  # the labels the compiled loss takes
        labels = soft_targets(labels, len(dataset.class_names), None, 0.0)
    _, accuracy = model.evaluate(to_float(dataset.test_images), labels, batch_size=500, verbose=0)
    return float(accuracy)


def _metrics(run: _Run, model, strategy, fit_images: int, dataset, test_accuracy) -> dict:
    config, history, distribution = run.config, run.history, run.distribution
    kept = run.best["epoch"] - 1 if config.early_stopping else -1  # the epoch of the model kept
    return {
        "model": config.model,
        "epochs": config.epochs,
        "train_images": int(fit_images),
        "train_accuracy": history["accuracy"][kept],
        "val_accuracy": history.get("val_accuracy", [None])[kept],
        "test_accuracy": test_accuracy,
        "test_images": int(len(dataset.test_labels)),
        "parameters": int(model.count_params()),
        "epochs_run": len(history["seconds"]),
        "best_epoch": run.best["epoch"] if config.early_stopping else None,
        "mean_epoch_seconds": float(np.mean(history["seconds"])),
        "strategy": distribution.strategy,
        "workers": len(distribution.cluster.addresses) if distribution.multiworker else 1,
        "replicas": int(strategy.num_replicas_in_sync),
    }


def _write_results(run: _Run, model, output: WorkerOutput, metrics: dict) -> dict:
    """History, model (written last but for the metrics) and metrics; the checkpoints go."""
    if run.chief:
        write_json(run.run_dir / HISTORY_FILE, run.history)
    save_model(model, output.path(MODEL_FILE))
    output.close()
    if not run.chief:  # the chief writes the run directory
        return metrics
    metrics["model_bytes"] = (run.run_dir / MODEL_FILE).stat().st_size
    write_json(run.run_dir / METRICS_FILE, metrics)
    for name in (CHECKPOINT_FILE, CHECKPOINT_STATE_FILE, BEST_FILE, BACKUP_DIR):
        _remove(run.run_dir / name)
    return metrics


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


def _remove(path: Path) -> None:
    """A run file, or the backup folder."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
