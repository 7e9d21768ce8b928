"""`tinycnn sweep`: a grid of training configurations (models x widths x augmentation presets),
each a normal run directory inside the sweep folder, then one table ranked by int8 accuracy per
flash byte.

Every configuration is two plain commands, ``tinycnn train`` then ``tinycnn quantize``: the
sweep runs them in up to ``workers`` processes at once on this machine, or prints them (one
line per configuration) for a scheduler. Its state is the run directories themselves, so an
interrupted sweep, or one whose commands ran elsewhere, continues where it stopped: a finished
configuration is skipped, an interrupted training resumes from its checkpoint, a trained one is
only quantized. The table then evaluates every finished configuration: int8 accuracy on the
run's validation split (what the ranking uses: choosing on the test set would make its figure
optimistic) and on the 10,000 test images, and the flash its constants take in tinycnn's int8
layout. ``sweep.md``, ``sweep.csv`` and ``sweep.json`` in the sweep folder hold the table.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import math
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from tinycnn.errors import TinycnnError
from tinycnn.outputs import holding
from tinycnn.rundir import (
    CHECKPOINT_STATE_FILE,
    CONFIG_FILE,
    INT8_MODEL_FILE,
    METRICS_FILE,
    MODEL_FILE,
    QUANTIZE_FILE,
    read_json,
    write_json,
)
from tinycnn.zoo import SWEEP_SETTINGS

SWEEP_FILE = "sweep.json"
TABLE_FILE = "sweep.md"
CSV_FILE = "sweep.csv"  # the same rows, for a spreadsheet or pandas
CSV_COLUMNS = (
    "rank",
    "name",
    "model",
    "width",
    "augment",
    "int8_validation_accuracy",
    "int8_test_accuracy",
    "float_test_accuracy",
    "flash_bytes",
    "validation_accuracy_per_kib",
    "parameters",
    "pareto",
    "run_dir",
)
POLL_S = 0.5


class SweepError(TinycnnError):
    """A sweep that cannot run, or configurations that failed (their logs named)."""


class SweepInterrupted(TinycnnError):
    """Ctrl-C, SIGTERM or SIGHUP during a sweep; the exit code is the shell's for the signal."""

    def __init__(self, interrupt: BaseException, finished: int, total: int):
        from tinycnn.processes import exit_code_for, signal_name

        self.exit_code = exit_code_for(interrupt)
        super().__init__(
            f"sweep interrupted by {signal_name(interrupt)} with {finished} of {total} "
            "configurations finished; run the same command again to continue (finished ones are "
            "skipped, interrupted trainings resume from their checkpoints)"
        )


@dataclass(frozen=True)
class Point:
    """One configuration of the grid."""

    model: str
    width: float | None  # None: the model has a fixed size
    augment: str

    @property
    def name(self) -> str:
        width = f"-w{self.width:g}" if self.width is not None else ""
        return f"{self.model}{width}-{self.augment}"


@dataclass(frozen=True)
class Sweep:
    """What every configuration shares, and the grid."""

    models: tuple[str, ...]
    widths: tuple[float, ...]
    augments: tuple[str, ...]
    epochs: int | None = None
    batch_size: int | None = None
    subset: int | None = None
    seed: int = 0
    calibration_samples: int | None = None
    data_dir: str | None = None

    def points(self) -> list[Point]:
        """The grid; a model of fixed size is trained once, whatever the widths."""
        from tinycnn.training.models import get_model_spec

        points = []
        for model, width, augment in itertools.product(self.models, self.widths, self.augments):
            point = Point(model, width if get_model_spec(model).scalable else None, augment)
            if point not in points:
                points.append(point)
        return points

    def train_config(self, point: Point):
        from tinycnn.training.config import train_config

        return train_config(
            point.model,
            self.epochs,
            self.batch_size,
            augment=point.augment,
            width=point.width,
            subset=self.subset,
            seed=self.seed,
        )

    def train_command(self, point: Point, run_dir: Path) -> list[str]:
        command = [*program(), "train", "--model", point.model]
        if point.width is not None:
            command += ["--width", f"{point.width:g}"]
        command += ["--augment", point.augment, "--seed", str(self.seed)]
        for option, value in (
            ("--epochs", self.epochs),
            ("--batch-size", self.batch_size),
            ("--subset", self.subset),
            ("--data-dir", self.data_dir),
        ):
            if value is not None:
                command += [option, str(value)]
        return [*command, "--out", str(run_dir)]

    def quantize_command(self, run_dir: Path) -> list[str]:
        command = [*program(), "quantize", str(run_dir)]
        if self.calibration_samples is not None:
            command += ["--calibration-samples", str(self.calibration_samples)]
        if self.data_dir is not None:
            command += ["--data-dir", self.data_dir]
        return command


def program() -> list[str]:
    """How to call this installation of tinycnn: ``tinycnn`` when that is what PATH finds,
    else the console script beside this interpreter, else ``python -m tinycnn``."""
    script = Path(sys.executable).parent / "tinycnn"
    found = shutil.which("tinycnn")
    if found and script.is_file() and Path(found).resolve() == script.resolve():
        return ["tinycnn"]
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "tinycnn"]


def _parse_list(text: str, what: str) -> list[str]:
    items = [item.strip() for item in text.split(",")]
    if not text.strip() or any(not item for item in items):
        raise SweepError(f"{what} must be a comma-separated list, got {text!r}")
    if len(set(items)) != len(items):
        raise SweepError(f"{what} lists something twice: {text!r}")
    return items


def make_sweep(models: str, widths: str, augments: str, **shared) -> Sweep:
    """A sweep from the command line's lists; SweepError (or UnknownModel, RunError) for a bad
    model, width, preset or shared setting, before anything runs."""
    from tinycnn.training.augment import PRESETS
    from tinycnn.training.models import get_model_spec

    names = _parse_list(models, "--models")
    for name in names:
        get_model_spec(name)  # raises, naming the known models
    values = []
    for text in _parse_list(widths, "--widths"):
        try:
            value = float(text)
        except ValueError:
            raise SweepError(f"--widths: {text!r} is not a number") from None
        if not (math.isfinite(value) and 0 < value <= 8):
            raise SweepError(f"--widths: every width must be in (0, 8], got {text}")
        values.append(value)
    presets = _parse_list(augments, "--augment")
    unknown = [preset for preset in presets if preset not in PRESETS]
    if unknown:
        raise SweepError(f"--augment: unknown preset {unknown[0]!r}; known: {', '.join(PRESETS)}")
    sweep = Sweep(tuple(names), tuple(values), tuple(presets), **shared)
    for point in sweep.points():
        sweep.train_config(point).validate()
    return sweep


def _state(sweep: Sweep, point: Point, run_dir: Path) -> str:
    """done | trained | interrupted | new; SweepError when the folder holds another run."""
    if not (run_dir / CONFIG_FILE).is_file():
        return "new"
    saved = read_json(run_dir / CONFIG_FILE).get("train") or {}
    wanted = asdict(sweep.train_config(point))
    if saved != wanted:
        changed = sorted(k for k in {*saved, *wanted} if saved.get(k) != wanted.get(k))
        raise SweepError(
            f"{run_dir} holds a run with other settings ({', '.join(changed)}); sweep into "
            "another folder or remove that run"
        )
    if (run_dir / MODEL_FILE).is_file():
        return "done" if _quantized_as_asked(sweep, run_dir) else "trained"
    return "interrupted" if (run_dir / CHECKPOINT_STATE_FILE).is_file() else "new"


def _quantized_as_asked(sweep: Sweep, run_dir: Path) -> bool:
    """Whether the run's int8 model is the quantization this sweep asks for: post-training,
    with its calibration samples (an earlier sweep with other ones is quantized again)."""
    from tinycnn.quantization import CALIBRATION_SAMPLES

    if not (run_dir / INT8_MODEL_FILE).is_file() or not (run_dir / QUANTIZE_FILE).is_file():
        return False
    record = read_json(run_dir / QUANTIZE_FILE)
    wanted = sweep.calibration_samples or CALIBRATION_SAMPLES
    return record.get("calibration_samples") == wanted and not record.get("qat_epochs")


def pending_commands(sweep: Sweep, out_dir: Path) -> list[tuple[Point, list[list[str]]]]:
    """Each unfinished configuration and the commands that finish it, in grid order."""
    jobs = []
    for point in sweep.points():
        run_dir = out_dir / point.name
        state = _state(sweep, point, run_dir)
        if state == "done":
            continue
        commands = []
        if state == "interrupted":
            commands.append([*program(), "train", "--resume", "--out", str(run_dir)])
        elif state == "new":  # --force: a run that died before its first epoch left config.json
            commands.append([*sweep.train_command(point, run_dir), "--force"])
        commands.append(sweep.quantize_command(run_dir))
        jobs.append((point, commands))
    return jobs


def shell_line(commands: list[list[str]]) -> str:
    return " && ".join(shlex.join(command) for command in commands)


@dataclass
class _Job:
    point: Point
    commands: list[list[str]]
    log: Path
    process: object = None
    started: float = 0.0


def _start(job: _Job, env: dict) -> None:
    from tinycnn.processes import spawn

    command = job.commands.pop(0)
    with open(job.log, "a") as log:
        log.write(f"$ {shlex.join(command)}\n")
        log.flush()
        job.process = spawn(command, stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=env)


@holding("out_dir", "--out")
def run_sweep(
    sweep: Sweep,
    out_dir: str | Path,
    *,
    workers: int = 1,
    on_event: Callable[[str], None] | None = None,
) -> list[dict]:
    """Run every unfinished configuration (``workers`` at a time, each job's output in
    ``OUT/NAME.log``), then evaluate and rank; returns the table's rows, best first. A failed
    configuration does not stop the others: SweepError names each, after the table is written."""
    from tinycnn.outputs import check_output_dir
    from tinycnn.processes import stop

    SWEEP_SETTINGS["workers"].check(workers, SweepError, "--workers")
    out_dir = Path(out_dir)
    check_output_dir(out_dir, "the sweep folder")
    jobs = pending_commands(sweep, out_dir)
    say = on_event or (lambda line: None)
    total = len(sweep.points())
    say(
        f"{total} configurations, {total - len(jobs)} finished, {len(jobs)} to run, {workers} at a time"
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if workers > 1:  # one core each: side by side they nearly add up (docs/distributed.md)
        env.setdefault("TF_NUM_INTRAOP_THREADS", "1")
        env.setdefault("TF_NUM_INTEROP_THREADS", "1")
    waiting = [_Job(point, commands, out_dir / f"{point.name}.log") for point, commands in jobs]
    running: list[_Job] = []
    failed: list[_Job] = []
    finished = total - len(jobs)
    try:
        while waiting or running:
            while waiting and len(running) < workers:
                job = waiting.pop(0)
                job.started = time.monotonic()
                _start(job, env)
                running.append(job)
                say(f"started {job.point.name} (log {job.log})")
            time.sleep(POLL_S)
            for job in list(running):
                status = job.process.poll()
                if status is None:
                    continue
                stop(job.process)
                if status != 0:
                    running.remove(job)
                    failed.append(job)
                    say(f"FAILED {job.point.name} (exit {status}; see {job.log})")
                elif job.commands:
                    _start(job, env)
                else:
                    running.remove(job)
                    finished += 1
                    minutes = (time.monotonic() - job.started) / 60
                    say(f"[{finished}/{total}] {job.point.name} done in {minutes:.1f} min")
    except KeyboardInterrupt as interrupt:
        raise SweepInterrupted(interrupt, finished, total) from None
    finally:
        for job in running:
            stop(job.process)
    rows = summarize(sweep, out_dir, on_event=say)
    if failed:
        raise SweepError(
            f"{len(failed)} of {total} configurations failed: "
            + "; ".join(f"{job.point.name} (see {job.log})" for job in failed)
            + f"; the table in {out_dir / TABLE_FILE} ranks the {len(rows)} that finished"
        )
    return rows


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _evaluate(sweep: Sweep, point: Point, run_dir: Path) -> dict:
    from tinycnn.codegen.render import int8_weight_bytes
    from tinycnn.model.tflite_io import read_model
    from tinycnn.quantization.evaluate import int8_predict, int8_validation_accuracy

    content = (run_dir / INT8_MODEL_FILE).read_bytes()
    config = read_json(run_dir / CONFIG_FILE)["train"]
    metrics = read_json(run_dir / METRICS_FILE)
    outputs, labels = int8_predict(content, sweep.data_dir)
    flash_bytes = int8_weight_bytes(read_model(content))
    validation = int8_validation_accuracy(content, config, sweep.data_dir)
    return {
        "name": point.name,
        "model": point.model,
        "width": point.width,
        "augment": point.augment,
        "parameters": metrics["parameters"],
        "float_test_accuracy": metrics["test_accuracy"],
        "int8_validation_accuracy": validation,
        "int8_test_accuracy": float((outputs.argmax(axis=1) == labels).mean()),
        "flash_bytes": flash_bytes,
        "validation_accuracy_per_kib": 100 * validation / (flash_bytes / 1024),
        "run_dir": str(run_dir),
        "int8_sha256": hashlib.sha256(content).hexdigest(),
    }


def summarize(sweep: Sweep, out_dir: Path, on_event=None) -> list[dict]:
    """Evaluate every finished configuration (results kept in sweep.json, keyed by the int8
    model's digest, so a rerun only evaluates what changed), rank them by int8 validation
    accuracy per flash byte and write sweep.json and sweep.md. The rows, best first."""
    say = on_event or (lambda line: None)
    cache_path = out_dir / SWEEP_FILE
    cached = {
        row["name"]: row for row in (read_json(cache_path)["rows"] if cache_path.is_file() else [])
    }
    rows = []
    for point in sweep.points():
        run_dir = out_dir / point.name
        if _state(sweep, point, run_dir) != "done":
            continue
        row = cached.get(point.name)
        if row is None or row.get("int8_sha256") != _digest(run_dir / INT8_MODEL_FILE):
            say(f"evaluating {point.name}")
            row = _evaluate(sweep, point, run_dir)
        rows.append(row)
    rows.sort(key=lambda row: (-row["validation_accuracy_per_kib"], row["name"]))
    front = _pareto_front(rows)
    for rank, row in enumerate(rows, 1):
        row["rank"], row["pareto"] = rank, row["name"] in front
    write_json(cache_path, {"sweep": _describe(sweep), "rows": rows})
    from tinycnn.outputs import write_atomically

    write_atomically(out_dir / TABLE_FILE, table(rows).encode())
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_atomically(out_dir / CSV_FILE, buffer.getvalue().encode())
    return rows


def _pareto_front(rows: list[dict]) -> set[str]:
    """Configurations no other beats on both flash (smaller) and int8 validation accuracy."""
    return {
        row["name"]
        for row in rows
        if not any(
            other["flash_bytes"] <= row["flash_bytes"]
            and other["int8_validation_accuracy"] >= row["int8_validation_accuracy"]
            and (other["flash_bytes"], other["int8_validation_accuracy"])
            != (row["flash_bytes"], row["int8_validation_accuracy"])
            for other in rows
        )
    }


def _describe(sweep: Sweep) -> dict:
    return {key: value for key, value in asdict(sweep).items() if key != "data_dir"}


def table(rows: list[dict]) -> str:
    """The ranking as a Markdown table."""
    lines = [
        "| rank | configuration | int8 val acc | int8 test acc | float test acc | flash | "
        "val acc % per KiB | params | best trade-off |",
        "|---:|---|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['rank']} | {row['name']} | {100 * row['int8_validation_accuracy']:.2f} % | "
            f"{100 * row['int8_test_accuracy']:.2f} % | {100 * row['float_test_accuracy']:.2f} % | "
            f"{row['flash_bytes']:,} B | {row['validation_accuracy_per_kib']:.2f} | "
            f"{row['parameters']:,} | {'yes' if row['pareto'] else ''} |"
        )
    return "\n".join(lines) + "\n"


def plan_lines(sweep, out_dir: Path) -> tuple[list[str], str]:
    """What `sweep --print-commands` prints: one shell line per unfinished configuration, and
    a note (for standard error) of how many there are."""
    jobs = pending_commands(sweep, Path(out_dir))
    note = (
        f"# {len(jobs)} of {len(sweep.points())} configurations to run; then run this sweep "
        "again without --print-commands for the table"
    )
    return [shell_line(commands) for _, commands in jobs], note
