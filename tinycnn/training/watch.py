"""What happens around a training step and after an epoch, watched from inside Keras's
``fit``: the learning rate set before each step, the loss looked at every ``WATCH_STEPS``
(progress, divergence), and after each epoch the history, early stopping, the checkpoint,
the multi-worker backup and the epoch's report."""

from __future__ import annotations

import math
import time

import numpy as np

from tinycnn.progress import report as report_progress
from tinycnn.rundir import BEST_FILE, CHECKPOINT_FILE, CHECKPOINT_STATE_FILE, save_model, write_json
from tinycnn.training.config import EpochReport, TrainingDiverged
from tinycnn.training.recipe import learning_rate_at

WATCH_STEPS = 20  # training steps between two looks at the loss (progress, divergence)


class EpochWatcher:
    """What happens around the steps: the learning rate before each (a function of the
    global step, so a resumed run sets the same rates), a look at the loss every
    ``WATCH_STEPS`` (progress, divergence), and after each epoch the history, early
    stopping, the checkpoint, the backup and the epoch's report."""

    def __init__(self, run, fit_images, output, backup, on_epoch, on_progress):
        """``run``: the training run (its config, run directory, history and best epoch);
        ``output``: where this worker writes; ``backup``: the multi-worker backup or None."""
        config = run.config
        self.run, self.output, self.backup = run, output, backup
        self.on_epoch, self.on_progress = on_epoch, on_progress
        self.steps = math.ceil(fit_images / config.batch_size)
        self.scheduled = config.schedule != "constant" or config.warmup_epochs > 0
        self.warmup_steps = round(config.warmup_epochs * self.steps)
        self.epoch, self.started, self.stopping = 0, 0.0, False

    def epoch_begin(self, epoch: int) -> None:
        self.started, self.epoch = time.perf_counter(), epoch

    def batch_begin(self, model, batch: int) -> None:
        if self.scheduled:
            config = self.run.config
            rate = learning_rate_at(
                config.schedule,
                self.run.base_rate,
                self.epoch * self.steps + batch,
                config.epochs * self.steps,
                self.warmup_steps,
            )
            model.optimizer.learning_rate.assign(rate)

    def batch_end(self, batch: int, logs) -> None:
        if (batch + 1) % WATCH_STEPS and batch + 1 != self.steps:
            return
        loss = float((logs or {}).get("loss", 0.0))
        if not math.isfinite(loss):
            raise TrainingDiverged(
                self.run.run_dir, self.epoch + 1, batch + 1, loss, self.run.epochs_done
            )
        label = f"epoch {self.epoch + 1}/{self.run.config.epochs}"
        report_progress(self.on_progress, label, batch + 1, self.steps, f"loss {loss:.4f}")

    def epoch_end(self, model, epoch: int, logs) -> None:
        run, config = self.run, self.run.config
        seconds = time.perf_counter() - self.started
        logs = {key: float(value) for key, value in (logs or {}).items()}
        bad = [k for k, v in logs.items() if k.endswith("loss") and not math.isfinite(v)]
        if bad:
            raise TrainingDiverged(
                run.run_dir, epoch + 1, self.steps, logs[bad[0]], run.epochs_done
            )
        rate = float(model.optimizer.learning_rate.numpy())
        for key, value in {**logs, "seconds": seconds, "learning_rate": rate}.items():
            run.history.setdefault(key, []).append(float(value))
        self._early_stopping(model, epoch, logs)
        self._save(model, epoch)
        if self.on_epoch:
            remaining = (config.epochs - epoch - 1) * float(np.mean(run.history["seconds"]))
            best_epoch = run.best["epoch"] if config.early_stopping else None
            remaining = 0.0 if self.stopping else remaining
            self.on_epoch(
                EpochReport(
                    epoch + 1, config.epochs, seconds, logs, remaining, best_epoch, self.stopping
                )
            )

    def _early_stopping(self, model, epoch: int, logs: dict) -> None:
        run, patience = self.run, self.run.config.early_stopping
        self.stopping = False
        if patience:
            if logs["val_accuracy"] > run.best["val_accuracy"]:
                run.best.update(epoch=epoch + 1, val_accuracy=logs["val_accuracy"])
                save_model(model, run.run_dir / BEST_FILE)
            last = epoch + 1 >= run.config.epochs  # the run ends anyway: no early stop
            self.stopping = not last and epoch + 1 - run.best["epoch"] >= patience

    def _save(self, model, epoch: int) -> None:
        """The checkpoint `--resume` continues from, and the backup a restarted worker does."""
        run = self.run
        state = {"epochs_done": epoch + 1, "history": run.history, "best": run.best}
        save_model(model, self.output.path(CHECKPOINT_FILE))
        if run.chief:
            write_json(run.run_dir / CHECKPOINT_STATE_FILE, state)
        self.output.discard()
        if self.backup is not None:
            self.backup.save(epoch + 1, state)

    def keras_callback(self):
        """The Keras callback that hands the steps and epochs to this watcher."""
        from tinycnn.tfenv import keras

        watcher = self

        class Watch(keras.callbacks.Callback):
            # Keras hands the step's logs over as tensors, read only every WATCH_STEPS steps:
            # reading them at every step makes each step wait for the last.
            _supports_tf_logs = True

            def on_epoch_begin(self, epoch, logs=None):
                watcher.epoch_begin(epoch)

            def on_train_batch_begin(self, batch, logs=None):
                watcher.batch_begin(self.model, batch)

            def on_train_batch_end(self, batch, logs=None):
                watcher.batch_end(batch, logs)

            def on_epoch_end(self, epoch, logs=None):
                watcher.epoch_end(self.model, epoch, logs)

        return Watch()
