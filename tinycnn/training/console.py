"""What `tinycnn train` does and prints around ``train``: the line at the start, one per
epoch, the last one; a multi-worker command run as a supervised process that is started again
when its cluster loses a worker. Each function writes through ``echo`` (standard output) or
``note`` (standard error) and returns the exit status, so that a test can run it without a
terminal."""

from __future__ import annotations

import sys
from pathlib import Path

from tinycnn.progress import terminal_progress
from tinycnn.rundir import (
    CHECKPOINT_FILE,
    CHECKPOINT_STATE_FILE,
    MODEL_FILE,
    read_json,
    resume_command,
)
from tinycnn.training.config import EpochReport, TrainConfig, check_distribution
from tinycnn.training.distribute import MAX_RESTARTS, Cluster, ClusterLost, Distribution, supervise
from tinycnn.training.train import train


def run_training(
    config: TrainConfig, run_dir, distribution: Distribution, echo, note, **settings
) -> int:
    """``train`` with its progress on the terminal and its lines through ``echo``; ``settings``
    are train's (data_dir, force, resume). A training process whose cluster lost a worker says
    so through ``note`` and returns ClusterLost's status, for its supervisor."""
    try:
        with terminal_progress() as progress:
            metrics = train(
                config,
                run_dir,
                distribution=distribution,
                on_progress=progress,
                on_epoch=lambda report: echo(epoch_line(report)),
                on_start=lambda config, first: echo(start_line(config, first, run_dir)),
                **settings,
            )
    except ClusterLost as exc:  # not an error: the supervisor starts this process again
        note(str(exc))
        return exc.exit_code
    echo(done_line(metrics, run_dir, distribution.cluster))
    return 0


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


def supervise_training(
    config: TrainConfig,
    distribution: Distribution,
    resume: bool,
    arguments: list[str],
    run_dir,
    echo,
) -> int:
    """Run ``tinycnn ARGUMENTS`` (a multiworker training of ``config``) as a process that is
    started again whenever its cluster loses a worker; its exit status. The request is checked
    here, once, not in every restart. ``echo(text)`` hears of restarts."""
    config.validate()
    check_distribution(config, distribution, resume)
    cluster, timeout_s = distribution.cluster, distribution.worker_timeout_s

    def restarting(attempt: int, status: int) -> None:
        why = "lost a worker" if status >= 0 else f"was killed by signal {-status}"
        echo(
            f"{cluster.describe()}: the training process {why}; starting it again to continue "
            f"from the last backup (restart {attempt} of at most {MAX_RESTARTS})"
        )

    command = [sys.executable, "-m", "tinycnn", *arguments]
    note = (lambda: resume_note(Path(run_dir))) if cluster.is_chief else str
    return supervise(command, cluster, timeout_s, on_restart=restarting, note=note)


def duration_text(seconds: float) -> str:
    """``1 h 05 min`` or ``3 min 07 s``."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def start_line(config: TrainConfig, first_epoch: int, run_dir) -> str:
    """What ``tinycnn train`` prints once the request is checked."""
    if first_epoch:
        return (
            f"continuing {config.model} at epoch {first_epoch + 1} of {config.epochs} in {run_dir}"
        )
    recipe = f"{config.optimizer}, {config.schedule} lr"
    if config.label_smoothing:
        recipe += f", label smoothing {config.label_smoothing:g}"
    if config.teacher:
        recipe += f", taught by {config.teacher} (weight {config.distill_weight:g})"
    recipe += f", augment {config.augmentation.describe()}"
    data = f" on {config.data}" if config.data else ""
    return (
        f"training {config.model}{data} for {config.epochs} epochs (batch {config.batch_size}; "
        f"{recipe}) into {run_dir}"
    )


def epoch_line(report: EpochReport) -> str:
    """One line per finished epoch: losses, accuracies, time, best epoch, time left."""
    logs = report.logs
    line = (
        f"epoch {report.epoch:>3}/{report.epochs}  loss {logs['loss']:.4f}  "
        f"accuracy {logs['accuracy']:.4f}"
    )
    if "val_accuracy" in logs:
        line += f"  val_loss {logs['val_loss']:.4f}  val_accuracy {logs['val_accuracy']:.4f}"
    line += f"  {report.seconds:.1f} s"
    if report.best_epoch is not None:
        line += f"  best {report.best_epoch}"
    if report.stopping:
        line += "  (early stop: no better validation accuracy)"
    elif report.remaining_seconds:
        line += f"  ~{duration_text(report.remaining_seconds)} left"
    return line


def done_line(metrics: dict, run_dir, cluster: Cluster | None = None) -> str:
    where = f"{cluster.describe()}: " if cluster else ""
    return (
        f"{where}done: test accuracy {100 * metrics['test_accuracy']:.2f} % on "
        f"{metrics['test_images']} images, {metrics['parameters']} parameters, "
        f"{metrics['mean_epoch_seconds']:.1f} s/epoch; model in {run_dir}/model.keras"
    )


def metric_rows(metrics: dict) -> list[tuple[str, str]]:
    """metrics.json as the page's table: accuracies in percent, seconds rounded, counts with
    thousands separators; what is not measured (None) left out."""
    rows = []
    for key, value in metrics.items():
        if value is None:
            continue
        if isinstance(value, float) and "accuracy" in key:
            text = f"{100 * value:.2f} %"
        elif isinstance(value, float):
            text = f"{value:.1f} s" if "seconds" in key else f"{value:.4g}"
        elif isinstance(value, int) and not isinstance(value, bool):
            text = f"{value:,}"
        else:
            text = str(value)
        rows.append((key, text))
    return rows
