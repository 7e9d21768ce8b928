"""The ``tinycnn`` command line: each command parses, calls one library function, prints.

Library modules are imported inside the commands so that ``tinycnn --help`` and argument
errors answer at once instead of waiting for TensorFlow to load.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import warnings
from pathlib import Path

import click
from click.core import ParameterSource

from tinycnn import __version__
from tinycnn.errors import TinycnnError, TinycnnWarning
from tinycnn.training.augment import PRESETS as AUGMENT_PRESETS
from tinycnn.training.distribute import DEFAULT_WORKER_TIMEOUT_S, WORKER_PROCESS_ENV
from tinycnn.training.distribute import STRATEGIES as STRATEGY_NAMES
from tinycnn.training.recipe import OPTIMIZERS as OPTIMIZER_NAMES
from tinycnn.training.recipe import SCHEDULES as SCHEDULE_NAMES

# `predict --engine`'s choices, spelled out here so that `--help` does not import the engines
# (TensorFlow); tests/test_cli.py checks they equal tinycnn.engines.predict.ENGINES.
PREDICT_ENGINES = ("reference", "litert", "tflm", "c", "m4")


class UserError(click.ClickException):
    """One ``Error:`` line and an exit status (1, or 128 + the signal for an interruption)."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


def user_errors(command):
    """Turn what ends a command early into one ``Error:`` line: a TinycnnError from the
    library (exit 1), an operating-system refusal to read or write a file (exit 1), or an
    interruption by Ctrl-C, SIGTERM or SIGHUP (exit 128 + the signal number)."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from tinycnn.processes import exit_code_for, signal_name

        try:
            return command(*args, **kwargs)
        except TinycnnError as exc:
            raise UserError(str(exc), getattr(exc, "exit_code", 1)) from None
        except KeyboardInterrupt as exc:
            name = click.get_current_context().info_name
            raise UserError(
                f"interrupted by {signal_name(exc)} before `tinycnn {name}` finished",
                exit_code_for(exc),
            ) from None
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            raise UserError(f"{where}{exc.strerror or exc}") from None

    return wrapper


AUGMENT_KNOBS = ("rotate", "shift", "zoom", "flip", "brightness", "contrast", "noise", "erase")


def _augment_request(options: dict) -> dict:
    """--augment and the knob options -> {"preset": name or None, "knobs": {...}}."""
    return {
        "preset": options.pop("augment"),
        "knobs": {name: options.pop(name) for name in AUGMENT_KNOBS},
    }


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """tinycnn's own warnings as one ``warning:`` line on stderr, others as Python prints them."""
    if issubclass(category, TinycnnWarning):
        click.echo(f"warning: {message}", err=True)
    else:
        _python_showwarning(message, category, filename, lineno, file, line)


_python_showwarning = warnings.showwarning


class FiniteFloatRange(click.FloatRange):
    """click's FloatRange, refusing NaN and infinities (which every comparison lets through)."""

    def convert(self, value, param, ctx):
        import math

        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return super().convert(number, param, ctx)


data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=str),
    default=None,
    help="Folder with the four Fashion-MNIST *-ubyte.gz files (else $TINYCNN_DATA, the Debian "
    "package, the Keras cache, then a download).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tinycnn")
def cli() -> None:
    """Train small Fashion-MNIST CNNs, quantize them to int8 and deploy them to microcontrollers."""
    from tinycnn.processes import install_signal_handlers

    install_signal_handlers()
    warnings.showwarning = _show_warning


@cli.command("models")
def models_command() -> None:
    """List the model architectures `train --model` accepts."""
    from tinycnn.training.models import REGISTRY

    for spec in REGISTRY.values():
        click.echo(
            f"{spec.name:<10} {spec.description} "
            f"(default {spec.default_epochs} epochs, batch {spec.default_batch_size})"
        )


def _with_options(options):
    def decorate(command):
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


AUGMENT_OPTIONS = [
    click.option(
        "--augment",
        type=click.Choice(list(AUGMENT_PRESETS)),
        default=None,
        help="Augmentation preset (none, light, standard, strong) [default: the model's own].",
    ),
    click.option(
        "--rotate",
        type=FiniteFloatRange(0.0, 180.0),
        default=None,
        metavar="DEG",
        help="Random rotation, degrees both ways (replaces the preset's).",
    ),
    click.option(
        "--shift",
        type=FiniteFloatRange(0.0, 0.5),
        default=None,
        metavar="FRAC",
        help="Random translation, fraction of the side.",
    ),
    click.option(
        "--zoom",
        type=FiniteFloatRange(0.0, 0.9),
        default=None,
        metavar="FRAC",
        help="Random zoom in and out, fraction.",
    ),
    click.option(
        "--flip",
        type=click.Choice(["none", "horizontal"]),
        default=None,
        help="Random horizontal flips (clothes are left-right symmetric; no vertical flips).",
    ),
    click.option(
        "--brightness",
        type=FiniteFloatRange(0.0, 1.0),
        default=None,
        metavar="FRAC",
        help="Random brightness shift, fraction of the range.",
    ),
    click.option(
        "--contrast",
        type=FiniteFloatRange(0.0, 1.0),
        default=None,
        metavar="FRAC",
        help="Random contrast factor in [1 - FRAC, 1 + FRAC].",
    ),
    click.option(
        "--noise",
        type=FiniteFloatRange(0.0, 1.0),
        default=None,
        metavar="STD",
        help="Gaussian noise standard deviation on [0, 1] pixels.",
    ),
    click.option(
        "--erase",
        type=FiniteFloatRange(0.0, 1.0),
        default=None,
        metavar="P",
        help="Random erasing: probability of blanking one rectangle with noise.",
    ),
]


@cli.command("train")
@click.option(
    "--model",
    "model_name",
    default="seed_cnn",
    show_default=True,
    help="Architecture from the registry (see `tinycnn models`).",
)
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    default=None,
    help="Epochs to train [default: the model's own].",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=None,
    help="Batch size [default: the model's own].",
)
@click.option(
    "--validation-split",
    type=FiniteFloatRange(0.0, 1.0, max_open=True),
    default=0.1,
    show_default=True,
    help="Share of the training images held out for validation.",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Random seed (training is deterministic per seed).",
)
@click.option(
    "--subset",
    type=click.IntRange(min=10),
    default=None,
    help="Train on the first N training images only (quick runs).",
)
@click.option(
    "--learning-rate",
    type=FiniteFloatRange(min=0.0, min_open=True),
    default=None,
    help="Peak learning rate [default: the model's own].",
)
@click.option(
    "--width",
    type=FiniteFloatRange(0.0, 8.0, min_open=True),
    default=None,
    help="Channel multiplier of a zoo architecture [default: 1].",
)
@click.option(
    "--depth",
    type=click.IntRange(1, 8),
    default=None,
    help="Block repeats of a zoo architecture [default: its own].",
)
@click.option(
    "--optimizer",
    type=click.Choice(OPTIMIZER_NAMES),
    default=None,
    help="adam, adamw (decoupled weight decay) or sgd (Nesterov momentum 0.9) [default: the model's own].",
)
@click.option(
    "--weight-decay",
    type=FiniteFloatRange(0.0, 1.0, max_open=True),
    default=None,
    help="Decoupled weight decay (adamw, sgd) [default: the model's own].",
)
@click.option(
    "--schedule",
    type=click.Choice(SCHEDULE_NAMES),
    default=None,
    help="Learning-rate schedule: constant, cosine (after warm-up) or onecycle [default: the model's own].",
)
@click.option(
    "--warmup-epochs",
    type=FiniteFloatRange(min=0.0),
    default=None,
    help="Epochs of linear warm-up [default: the model's own].",
)
@click.option(
    "--label-smoothing",
    type=FiniteFloatRange(0.0, 1.0, max_open=True),
    default=None,
    help="Label smoothing [default: the model's own].",
)
@click.option(
    "--early-stopping",
    "early_stopping",
    type=click.IntRange(min=1),
    default=None,
    metavar="PATIENCE",
    help="Stop after PATIENCE epochs without a better validation accuracy; keep the best epoch.",
)
@_with_options(AUGMENT_OPTIONS)
@click.option(
    "--out",
    "run_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Run directory to write.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace a run already in --out (a multiworker backup of this same run is continued).",
)
@click.option(
    "--resume", is_flag=True, help="Continue the interrupted run in --out from its checkpoint."
)
@click.option(
    "--strategy",
    type=click.Choice(STRATEGY_NAMES),
    default="default",
    show_default=True,
    help="tf.distribute strategy: default (one process), mirrored (this machine's GPUs, or its "
    "CPU) or multiworker (a cluster of processes; see --workers and TF_CONFIG).",
)
@click.option(
    "--workers",
    default=None,
    metavar="HOST:PORT,...",
    help="The multiworker cluster, the same list on every worker (else $TF_CONFIG); the first "
    "is the chief, the only one that writes --out.",
)
@click.option(
    "--worker-index",
    type=click.IntRange(min=0),
    default=None,
    help="This process's place in --workers, from 0.",
)
@click.option(
    "--worker-timeout",
    type=FiniteFloatRange(0.0, 86400.0, min_open=True),
    default=DEFAULT_WORKER_TIMEOUT_S,
    show_default=True,
    metavar="SECONDS",
    help="How long a multiworker worker waits for the others, at start and after losing one.",
)
@data_dir_option
@user_errors
def train_command(
    model_name,
    epochs,
    batch_size,
    validation_split,
    seed,
    subset,
    learning_rate,
    width,
    depth,
    optimizer,
    weight_decay,
    schedule,
    warmup_epochs,
    label_smoothing,
    early_stopping,
    run_dir,
    force,
    resume,
    strategy,
    workers,
    worker_index,
    worker_timeout,
    data_dir,
    **augment_options,
) -> None:
    """Train a model on Fashion-MNIST into a run directory.

    With --strategy multiworker, start the same command on every worker (each with its own
    --worker-index); a worker whose cluster loses a peer starts its training again and
    continues from the last epoch's backup in --out.
    """
    augment = _augment_request(augment_options)
    from tinycnn.training.distribute import ClusterLost, Distribution, cluster_from
    from tinycnn.training.models import UnknownModel
    from tinycnn.training.train import check_distribution, train, train_config

    if strategy != "multiworker" and (workers is not None or worker_index is not None):
        raise click.BadParameter("goes with --strategy multiworker", param_hint="'--workers'")
    cluster = cluster_from(workers, worker_index) if strategy == "multiworker" else None
    distribution = Distribution(strategy, cluster, worker_timeout)

    try:
        config = train_config(
            model_name,
            epochs,
            batch_size,
            validation_split=validation_split,
            seed=seed,
            subset=subset,
            learning_rate=learning_rate,
            width=width,
            depth=depth,
            optimizer=optimizer,
            weight_decay=weight_decay,
            schedule=schedule,
            warmup_epochs=warmup_epochs,
            label_smoothing=label_smoothing,
            early_stopping=early_stopping,
            augment=augment["preset"],
            augment_knobs=augment["knobs"],
        )
    except UnknownModel as exc:
        raise click.BadParameter(str(exc), param_hint="'--model'") from None
    if distribution.multiworker and not os.environ.get(WORKER_PROCESS_ENV):
        config.validate()  # a bad request fails here, once, not in every restart
        check_distribution(config, distribution, resume)
        _supervise_worker(click.get_current_context(), cluster, worker_timeout, run_dir)

    def show_epoch(report):
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
            line += f"  ~{_duration(report.remaining_seconds)} left"
        click.echo(line)

    def show_start(config, first_epoch):
        if first_epoch:
            click.echo(
                f"continuing {config.model} at epoch {first_epoch + 1} of {config.epochs} in {run_dir}"
            )
        else:
            recipe = f"{config.optimizer}, {config.schedule} lr"
            if config.label_smoothing:
                recipe += f", label smoothing {config.label_smoothing:g}"
            recipe += f", augment {config.augmentation.describe()}"
            click.echo(
                f"training {config.model} for {config.epochs} epochs (batch {config.batch_size}; "
                f"{recipe}) into {run_dir}"
            )

    progress = _progress()
    try:
        metrics = train(
            config,
            run_dir,
            data_dir=data_dir,
            force=force,
            resume=resume,
            distribution=distribution,
            on_epoch=show_epoch,
            on_progress=progress,
            on_start=show_start,
        )
    except ClusterLost as exc:  # not an error: the supervisor starts this process again
        progress.close()
        click.echo(str(exc), err=True)
        click.get_current_context().exit(exc.exit_code)
    finally:
        progress.close()
    where = f"{cluster.describe()}: " if cluster else ""
    click.echo(
        f"{where}done: test accuracy {100 * metrics['test_accuracy']:.2f} % on {metrics['test_images']} images, "
        f"{metrics['parameters']} parameters, {metrics['mean_epoch_seconds']:.1f} s/epoch; "
        f"model in {run_dir}/model.keras"
    )


def _command_line(ctx: click.Context) -> list[str]:
    """The command name and the options that give it the parameters it has now."""
    args = [ctx.info_name]
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if value is None or ctx.get_parameter_source(param.name) is ParameterSource.DEFAULT:
            continue
        if param.is_flag:
            args += (param.opts if value else param.secondary_opts)[:1]
        else:
            args += [param.opts[0], str(value)]
    return args


def _supervise_worker(ctx: click.Context, cluster, timeout_s: float, run_dir: str) -> None:
    """Run this multiworker command as a training process that is started again whenever its
    cluster loses a worker; exit with its status."""
    from tinycnn.training.distribute import MAX_RESTARTS, supervise
    from tinycnn.training.train import resume_note

    def restarting(attempt: int, status: int) -> None:
        why = "lost a worker" if status >= 0 else f"was killed by signal {-status}"
        click.echo(
            f"{cluster.describe()}: the training process {why}; starting it again to continue "
            f"from the last backup (restart {attempt} of at most {MAX_RESTARTS})",
            err=True,
        )

    command = [sys.executable, "-m", "tinycnn", *_command_line(ctx)]
    note = (lambda: resume_note(Path(run_dir))) if cluster.is_chief else str
    ctx.exit(supervise(command, cluster, timeout_s, on_restart=restarting, note=note))


@cli.command("sweep")
@click.option(
    "--models", required=True, metavar="NAME,...", help="Architectures (see `tinycnn models`)."
)
@click.option(
    "--widths",
    default="1",
    show_default=True,
    metavar="W,...",
    help="Channel multipliers (a model of fixed size is trained once).",
)
@click.option(
    "--augment",
    "augments",
    default="none",
    show_default=True,
    metavar="PRESET,...",
    help=f"Augmentation presets ({', '.join(AUGMENT_PRESETS)}).",
)
@click.option(
    "--epochs", type=click.IntRange(min=1), default=None, help="Epochs [default: each model's own]."
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=None,
    help="Batch size [default: each model's own].",
)
@click.option(
    "--subset", type=click.IntRange(min=10), default=None, help="Train on the first N images only."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed of every run.")
@click.option(
    "--calibration-samples",
    type=click.IntRange(min=1),
    default=None,
    help="Calibration images for each quantization [default: quantize's].",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Sweep folder: one run directory per configuration, sweep.md and sweep.json.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Configurations trained at once on this machine (one core each when above 1).",
)
@click.option(
    "--print-commands",
    is_flag=True,
    help="Print one shell line per unfinished configuration (for a scheduler) and run nothing.",
)
@data_dir_option
@user_errors
def sweep_command(
    models,
    widths,
    augments,
    epochs,
    batch_size,
    subset,
    seed,
    calibration_samples,
    out_dir,
    workers,
    print_commands,
    data_dir,
) -> None:
    """Train a grid of configurations (models x widths x augmentation), quantize each and rank
    them by int8 accuracy per flash byte. Run it again to continue an interrupted sweep."""
    from tinycnn.training.models import UnknownModel
    from tinycnn.zoo.sweep import (
        TABLE_FILE,
        make_sweep,
        pending_commands,
        run_sweep,
        shell_line,
        table,
    )

    try:
        sweep = make_sweep(
            models,
            widths,
            augments,
            epochs=epochs,
            batch_size=batch_size,
            subset=subset,
            seed=seed,
            calibration_samples=calibration_samples,
            data_dir=data_dir,
        )
    except UnknownModel as exc:
        raise click.BadParameter(str(exc), param_hint="'--models'") from None
    if print_commands:
        jobs = pending_commands(sweep, Path(out_dir))
        for _, commands in jobs:
            click.echo(shell_line(commands))
        click.echo(
            f"# {len(jobs)} of {len(sweep.points())} configurations to run; then run this sweep "
            "again without --print-commands for the table",
            err=True,
        )
        return
    rows = run_sweep(sweep, out_dir, workers=workers, on_event=click.echo)
    click.echo(table(rows), nl=False)
    click.echo(
        f"wrote {Path(out_dir) / TABLE_FILE} (ranked by int8 validation accuracy per flash byte)"
    )


@cli.command("augment")
@click.option("--preview", is_flag=True, help="Write a grid of original and augmented images.")
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="The PNG to write (each row: an original, then augmented copies).",
)
@click.option(
    "--images", type=click.IntRange(1, 64), default=8, show_default=True, help="Rows (test images)."
)
@click.option(
    "--variants",
    type=click.IntRange(1, 16),
    default=7,
    show_default=True,
    help="Augmented copies per image.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option(
    "--scale", type=click.IntRange(1, 8), default=3, show_default=True, help="Pixels per pixel."
)
@_with_options(AUGMENT_OPTIONS)
@data_dir_option
@user_errors
def augment_command(preview, out_path, images, variants, seed, scale, data_dir, **options) -> None:
    """See what a model sees: training images through the augmentation they would get."""
    from pathlib import Path

    from tinycnn.training.augment import augmentation, write_preview

    if not preview:
        raise click.UsageError("nothing to do: pass --preview (the one action augment has)")
    request = _augment_request(options)
    chosen = augmentation(request["preset"] or "standard", **request["knobs"])
    write_preview(Path(out_path), chosen, images, variants, seed, scale, data_dir)
    click.echo(
        f"wrote {out_path}: {images} training images x {variants} variants ({chosen.describe()})"
    )


@cli.command("zoo")
@click.option(
    "--width",
    type=FiniteFloatRange(0.0, 8.0, min_open=True),
    default=1.0,
    show_default=True,
    help="Channel multiplier the architectures are counted at.",
)
@click.option("--depth", type=click.IntRange(1, 8), default=None, help="Block repeats.")
@click.option(
    "--model", "only", multiple=True, help="Only this architecture (repeatable) [default: all]."
)
@click.option(
    "--measure",
    is_flag=True,
    help="Also convert each architecture to int8 and measure flash, planned RAM and Cortex-M4 "
    "instructions per inference in QEMU (about 20 s each).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
@data_dir_option
@user_errors
def zoo_command(width, depth, only, measure, as_json, data_dir) -> None:
    """The architectures (parameters and MACs) and the pretrained int8 models (zoo:NAME)."""
    from dataclasses import asdict

    from tinycnn.training.models import get_model_spec
    from tinycnn.zoo.catalogue import architectures, measure_architecture, meets_target, pretrained

    for name in only:
        get_model_spec(name)  # an unknown name is one line naming the known ones
    rows, models = architectures(width, depth, only or None), pretrained()
    measured = {}
    if measure:
        for i, row in enumerate(rows, start=1):
            click.echo(f"measuring {row.name} ({i}/{len(rows)})...", err=True)
            measured[row.name] = measure_architecture(row.name, width, depth, data_dir)
    if as_json:
        architectures_json = [
            {**asdict(r), **(asdict(measured[r.name]) if r.name in measured else {})} for r in rows
        ]
        click.echo(json.dumps({"architectures": architectures_json, "pretrained": models}))
        return
    click.echo(
        f"architectures (at --width {width:g}{f' --depth {depth}' if depth else ''}; "
        "`tinycnn train --model NAME`):"
    )
    extra = f" {'flash B':>9} {'RAM B':>8} {'M4 instr':>11}" if measured else ""
    click.echo(f"  {'name':<18} {'params':>9} {'MACs':>12}{extra}  description")
    for r in rows:
        m = measured.get(r.name)
        extra = f" {m.weight_bytes:>9,} {m.arena_bytes:>8,} {m.m4_instructions:>11,}" if m else ""
        click.echo(f"  {r.name:<18} {r.parameters:>9,} {r.macs:>12,}{extra}  {r.description}")
    click.echo("")
    if not models:
        click.echo("pretrained: none shipped in this install")
        return
    click.echo("pretrained (int8, measured; use zoo:NAME wherever a RUN_DIR or .tflite goes):")
    click.echo(
        f"  {'name':<11} {'model':<26} {'params':>8} {'MACs':>10} {'flash B':>8} {'RAM B':>7} "
        f"{'M4 instr':>10} {'int8 acc':>8}  target"
    )
    for m in models:
        met = meets_target(m["target"].split(":", 1)[1], m)
        verdict = {True: "met", False: "not met", None: "-"}[met]
        click.echo(
            f"  {m['target']:<11} {m['architecture']:<26} {m['parameters']:>8,} {m['macs']:>10,} "
            f"{m['weight_bytes']:>8,} {m['arena_bytes']:>7,} {m['m4_instructions']:>10,} "
            f"{100 * m['int8_accuracy']:>7.2f}%  {verdict}"
        )


@cli.command("quantize")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option(
    "--calibration-samples",
    type=click.IntRange(min=1),
    default=500,
    show_default=True,
    help="Training images used to calibrate activation ranges.",
)
@click.option(
    "--qat",
    "qat_epochs",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Epochs of quantization-aware fine-tuning (tfmot) before converting; 0 = PTQ.",
)
@data_dir_option
@user_errors
def quantize_command(run_dir, calibration_samples, qat_epochs, data_dir) -> None:
    """Convert RUN_DIR's trained model to full-integer int8 TFLite (RUN_DIR/model_int8.tflite)."""
    from tinycnn.quantization.quantize import quantize_run

    progress = _progress()
    try:
        result = quantize_run(
            run_dir,
            calibration_samples=calibration_samples,
            qat_epochs=qat_epochs,
            data_dir=data_dir,
            on_progress=progress,
        )
    finally:
        progress.close()
    method = f"QAT ({result.qat_epochs} epochs)" if result.qat_epochs else "post-training"
    click.echo(
        f"wrote {result.path} ({result.model_bytes} bytes, {method}, "
        f"{result.calibration_samples} calibration images); input scale {result.input_scale:.6g} "
        f"zero point {result.input_zero_point}, output scale {result.output_scale:.6g} "
        f"zero point {result.output_zero_point}"
    )


def _format_evaluation(evaluation) -> str:
    names = evaluation.class_names
    lines = [
        f"test images      {evaluation.test_images}",
        f"float accuracy   {100 * evaluation.float_accuracy:.2f} %  ({evaluation.float_model_bytes} bytes, Keras)",
        f"int8 accuracy    {100 * evaluation.int8_accuracy:.2f} %  ({evaluation.int8_model_bytes} bytes, TFLite)",
        f"difference       {evaluation.difference_points:+.2f} points (int8 - float)",
        f"agreement        {100 * evaluation.agreement:.2f} % of images get the same class",
        "",
        f"{'class':<12} {'float %':>8} {'int8 %':>8}",
    ]
    for name, f_acc, q_acc in zip(
        names, evaluation.float_per_class, evaluation.int8_per_class, strict=True
    ):
        lines.append(f"{name:<12} {100 * f_acc:>8.2f} {100 * q_acc:>8.2f}")
    lines += [""] + _confusion_lines(
        "int8 confusion matrix (rows: true class, columns: predicted)",
        evaluation.int8_confusion,
        names,
    )
    return "\n".join(lines)


def _confusion_lines(title: str, confusion, class_names: list[str]) -> list[str]:
    """A confusion matrix as text: one row per true class, named, counts right-aligned."""
    names = [class_names[i] if i < len(class_names) else str(i) for i in range(len(confusion))]
    width = max(len(f"{i} {name}") for i, name in enumerate(names)) + 1
    lines = [title, " " * width + "".join(f"{i:>6}" for i in range(len(confusion)))]
    for i, row in enumerate(confusion):
        lines.append(f"{f'{i} {names[i]}':<{width}}" + "".join(f"{count:>6}" for count in row))
    return lines


@cli.command("evaluate")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
@data_dir_option
@user_errors
def evaluate_command(run_dir, as_json, data_dir) -> None:
    """Float vs int8 accuracy of RUN_DIR on the 10,000-image test set."""
    from tinycnn.quantization.evaluate import evaluate_run

    evaluation = evaluate_run(run_dir, data_dir=data_dir)
    click.echo(json.dumps(evaluation.as_dict()) if as_json else _format_evaluation(evaluation))


@cli.command("predict")
@click.argument("model_path", metavar="MODEL.tflite|RUN_DIR|zoo:NAME", type=click.Path())
@click.option(
    "--input",
    "input_paths",
    required=True,
    multiple=True,
    type=click.Path(dir_okay=False),
    help="A .npy batch of already-quantized inputs (first axis = samples), or images "
    "(PNG/JPEG, any size; repeat --input for several).",
)
@click.option(
    "--output",
    "output_path",
    required=True,
    type=click.Path(dir_okay=False),
    help=".npy file for the raw outputs, in the model's output dtype.",
)
@click.option(
    "--engine",
    type=click.Choice(PREDICT_ENGINES),
    default="reference",
    show_default=True,
    help="numpy reference kernels, LiteRT reference kernels, TFLite Micro, the generated C "
    "compiled for this machine (c), or for a Cortex-M4 and run in QEMU (m4).",
)
@click.option(
    "--rounding",
    "convention",
    type=click.Choice(["tflite", "tflm"]),
    default="tflite",
    show_default=True,
    help="Whose rounding the reference engine and the generated C reproduce: LiteRT's or TFLite Micro's.",
)
@user_errors
def predict_command(model_path, input_paths, output_path, engine, convention) -> None:
    """Run a batch through one engine and save the raw outputs."""
    from pathlib import Path

    import numpy as np

    from tinycnn.engines.predict import predict_file
    from tinycnn.training.data import CLASS_NAMES

    progress = _progress()
    try:
        _, outputs = predict_file(
            Path(model_path),
            [Path(p) for p in input_paths],
            Path(output_path),
            engine=engine,
            convention=convention,
            on_progress=progress,
        )
    finally:
        progress.close()
    click.echo(f"wrote {output_path}: {outputs.dtype.name} {list(outputs.shape)} from {engine}")
    if (
        all(not p.endswith(".npy") for p in input_paths)
        and outputs.reshape(len(outputs), -1).shape[1] == 10
    ):
        for path, row in zip(input_paths, outputs.reshape(len(outputs), -1), strict=True):
            click.echo(f"{path}: {CLASS_NAMES[int(np.argmax(row))]}")


def _format_verify(report) -> str:
    lines = [
        f"model   {report.model} (sha256 {report.sha256[:16]})",
        f"inputs  {report.inputs}",
        f"reference engine: {report.samples} inputs in {report.reference_seconds:.1f} s",
        "",
    ]
    engine_names = {"c": "C (host)", "m4": "C (Cortex-M4)"}
    for engine in report.engines:
        name = f"reference[{engine.convention}] vs {engine_names.get(engine.engine, engine.engine)}"
        if engine.unavailable:
            lines.append(f"{name:<33} not run: {engine.unavailable}")
            continue
        if engine.failed:
            lines.append(f"{name:<33} FAILED: {engine.failed}")
            continue
        verdict = "BIT-EXACT" if engine.bit_exact else "MISMATCH"
        subset = f" of {engine.samples} inputs" if engine.samples < report.samples else ""
        lines.append(
            f"{name:<33} {verdict}: {100 * engine.identical_share:.2f} % identical outputs{subset}, "
            f"max diff {engine.max_diff_lsb} LSB ({engine.seconds:.1f} s)"
        )
        if engine.first_mismatch:
            m = engine.first_mismatch
            where = f"op #{m.op_index} {m.opcode}, " if m.op_index is not None else ""
            lines.append(
                f"{'':<33} first mismatch: input {m.sample}, {where}"
                f"tensor {m.tensor!r}[{m.element}]: reference {m.reference}, {engine.engine} {m.interpreter}"
            )
    if report.layers:
        lines += [
            "",
            f"{'layer':<18} {'op':<20} {'SQNR dB':>8} {'alone dB':>8} {'max err':>8} "
            f"{'mean err':>9} {'cosine':>8}   (errors in output LSBs)",
        ]
        for layer in report.layers:
            flag = "  <- loses most" if layer.worst else ""
            lines.append(
                f"{layer.layer:<18} #{layer.op_index:<3}{layer.opcode:<16} {layer.sqnr_db:>8.2f} "
                f"{layer.local_sqnr_db:>8.2f} {layer.max_abs_error_lsb:>8.2f} "
                f"{layer.mean_abs_error_lsb:>9.3f} {layer.cosine:>8.5f}{flag}"
            )
    if report.accuracy:
        acc = report.accuracy
        lines.append("")
        if acc.float_accuracy is not None:
            lines.append(
                f"top-1 on {acc.images} test images: float {100 * acc.float_accuracy:.2f} %, "
                f"int8 {100 * acc.int8_accuracy:.2f} % ({100 * (acc.int8_accuracy - acc.float_accuracy):+.2f} points), "
                f"agreement {100 * acc.agreement:.2f} %"
            )
        else:
            lines.append(f"int8 top-1 on {acc.images} test images: {100 * acc.int8_accuracy:.2f} %")
    if report.interrupted:
        lines += ["", "interrupted: the figures above are what was measured before it stopped"]
    return "\n".join(lines)


@cli.command("verify")
@click.argument("target", metavar="MODEL.tflite|RUN_DIR|zoo:NAME", type=click.Path(exists=False))
@click.option(
    "--images",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="How many test images (or random inputs) to compare on.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with every figure.")
@click.option(
    "--plots",
    "plots_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Also write PNGs here: SQNR per layer, the worst layer's activation histogram, "
    "per-channel weight ranges.",
)
@data_dir_option
@user_errors
def verify_command(target, images, as_json, plots_dir, data_dir) -> None:
    """Check the int8 reference engine bit for bit against LiteRT and TFLite Micro, and the
    int8 model against the float model layer by layer. Exits 1 unless every engine that
    should run did and is bit-exact."""
    from tinycnn.engines.verify import verify
    from tinycnn.outputs import check_output_dir
    from tinycnn.processes import exit_code_for

    if plots_dir:
        check_output_dir(plots_dir, "--plots")
    progress = _progress(as_json)
    try:
        report = verify(target, images=images, data_dir=data_dir, on_progress=progress)
    finally:
        progress.close()
    click.echo(json.dumps(report.as_dict(), default=float) if as_json else _format_verify(report))
    if plots_dir and not report.interrupted:
        from tinycnn.insight.quantization_plots import write_plots

        written, skipped = write_plots(report, plots_dir)
        for line in [f"wrote {path}" for path in written] + [f"not drawn: {s}" for s in skipped]:
            click.echo(line, err=as_json)
    if report.interrupted:
        raise SystemExit(exit_code_for(report.interrupt))
    if not report.bit_exact:
        raise SystemExit(1)


@cli.command("bench")
@click.argument("target", metavar="MODEL.tflite|RUN_DIR|zoo:NAME", type=click.Path(exists=False))
@click.option(
    "--board",
    "board_name",
    type=click.Choice(["qemu_m4"]),
    default="qemu_m4",
    show_default=True,
    help="The board to measure on: the emulated Cortex-M4 (QEMU, instruction counts).",
)
@click.option(
    "--images",
    type=click.IntRange(min=1, max=100),
    default=3,
    show_default=True,
    help="Test images (or inputs) profiled; instruction counts are their mean.",
)
@click.option(
    "--cmsis-nn",
    "cmsis_nn",
    type=click.Path(file_okay=False),
    default=None,
    help="CMSIS-NN checkout to measure beside tinycnn [default: $CMSIS_NN_DIR, or "
    "../shared/third_party/cmsis-nn when present].",
)
@click.option(
    "--host-rounds",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="Interleaved rounds timing the C, TFLM and LiteRT on this machine (0: skip).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with every figure.")
@data_dir_option
@user_errors
def bench_command(target, board_name, images, cmsis_nn, host_rounds, as_json, data_dir) -> None:
    """Measure a model on the emulated Cortex-M4: instructions per layer with the DSP kernels
    and the portable C, beside CMSIS-NN's kernels for the same layers; flash by owner; RAM
    (planned arena, TFLM's arena, stack high-water mark); and on the host the generated C's
    time against TFLM and LiteRT."""
    from tinycnn.board.bench import bench, format_report

    step = (lambda text: None) if as_json else (lambda text: click.echo(f"... {text}", err=True))
    report = bench(
        target,
        images=images,
        cmsis_nn=cmsis_nn,
        host_rounds=host_rounds,
        data_dir=data_dir,
        on_step=step,
    )
    click.echo(json.dumps(report.to_json()) if as_json else format_report(report))


@cli.command("visualize")
@click.argument("target", metavar="RUN_DIR|MODEL.tflite|zoo:NAME", type=click.Path(exists=False))
@click.option(
    "--image",
    default="0",
    show_default=True,
    help="A Fashion-MNIST test-image index, or a picture file (PNG, JPEG...).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    required=True,
    help="Folder for the PNGs (created; files of the same names are replaced).",
)
@click.option(
    "--layer",
    default=None,
    help="Layer for the filter patterns and DeepDream [default: the last convolution].",
)
@click.option(
    "--class",
    "other_class",
    type=click.IntRange(min=0),
    default=None,
    help="Second class for Grad-CAM [default: the runner-up].",
)
@data_dir_option
@user_errors
def visualize_command(target, image, out_dir, layer, other_class, data_dir) -> None:
    """Write pictures of what the model sees: first-layer filters, float and int8 feature maps,
    hand-made edge filters with pooling, what filters respond to (gradient ascent), DeepDream
    and Grad-CAM (the last three need a run directory's float model)."""
    from tinycnn.insight.visualize import visualize

    progress = _progress()
    try:
        result = visualize(
            target,
            out_dir,
            image=image,
            layer=layer,
            other_class=other_class,
            data_dir=data_dir,
            on_progress=progress,
        )
    finally:
        progress.close()
    for picture in result.pictures:
        click.echo(f"{picture.path}  {picture.title}")
    for reason in result.skipped:
        click.echo(f"not drawn: {reason}")


@cli.command("report")
@click.argument("target", metavar="RUN_DIR|zoo:NAME", type=click.Path(exists=False))
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="The HTML file [default: RUN_DIR/report.html; report_NAME.html for zoo:NAME].",
)
@click.option(
    "--images",
    type=click.IntRange(min=1, max=10_000),
    default=1000,
    show_default=True,
    help="Test images the verification compares on (accuracy always uses all 10,000).",
)
@click.option(
    "--image",
    default="0",
    show_default=True,
    help="The test-image index or picture file the visualisations look at.",
)
@click.option(
    "--no-emulate",
    is_flag=True,
    help="Skip the emulated Cortex-M4 (it needs arm-none-eabi-gcc and QEMU).",
)
@click.option(
    "--screenshot",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also open the page in headless Chromium, check it and save a PNG of its top.",
)
@click.option("--force", is_flag=True, help="Replace --out even when it is not a tinycnn report.")
@data_dir_option
@user_errors
def report_command(
    target, out_path, images, image, no_emulate, screenshot, force, data_dir
) -> None:
    """Write one self-contained HTML page about a model: summary, training curves, float and
    int8 accuracy, confusion matrix, misclassified images, verification, flash/RAM on every
    board, Cortex-M4 instructions and the visualisations. Opens offline in any browser."""
    from tinycnn.insight.report import write_report

    if screenshot:
        from tinycnn.outputs import check_output_file

        check_output_file(screenshot, "--screenshot")
    progress = _progress()
    try:
        path, report = write_report(
            target,
            out_path,
            force=force,
            verify_images=images,
            image=image,
            emulate=not no_emulate,
            data_dir=data_dir,
            on_progress=progress,
        )
    finally:
        progress.close()
    click.echo(f"wrote {path} ({path.stat().st_size:,} bytes, {report.seconds:.1f} s)")
    for part, why in report.missing:
        click.echo(f"not computed: {part}: {why}")
    if screenshot:
        from tinycnn.insight.browser import check_page

        page = check_page(path, screenshot)
        click.echo(
            f"chromium: loaded in {page.load_ms:.0f} ms, {page.images} images, "
            f"{len(page.broken_images)} broken, {len(page.console_errors)} console errors; "
            f"screenshot {page.screenshot}"
        )
        if not page.clean:
            raise click.ClickException(
                "the page did not render cleanly: "
                + "; ".join(page.console_errors + page.broken_images + page.outside_requests)[:500]
            )


@cli.command("boards")
def boards_command() -> None:
    """List the boards `export --board` knows."""
    from tinycnn.boards import all_boards

    click.echo(f"{'board':<14} {'cpu':<14} {'clock':>8} {'flash':>9} {'RAM':>8}  framework  target")
    for board in all_boards():
        target = board.fqbn or board.mbed_target or board.qemu_machine or ""
        click.echo(
            f"{board.name:<14} {board.cpu:<14} {board.clock_hz // 1_000_000:>5} MHz {board.flash_bytes // 1024:>6} KB "
            f"{board.ram_bytes // 1024:>5} KB  {board.framework:<9}  {target}"
        )


@cli.command("export")
@click.argument("target", metavar="MODEL.tflite|RUN_DIR|zoo:NAME", type=click.Path())
@click.option(
    "--board",
    "board_name",
    default="nano33",
    show_default=True,
    help="Board from `tinycnn boards`.",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder to write (for Arduino boards, the sketch folder: its name is the sketch's).",
)
@click.option(
    "--runtime",
    type=click.Choice(["native", "tflm"]),
    default="native",
    show_default=True,
    help="tinycnn's generated C, or TensorFlow Lite Micro (Arduino and Mbed boards).",
)
@click.option(
    "--rounding",
    "convention",
    type=click.Choice(["tflm", "tflite"]),
    default="tflm",
    show_default=True,
    help="Whose rounding the generated C reproduces.",
)
@click.option(
    "--test-images",
    type=int,
    default=10,
    show_default=True,
    help="Test images embedded in the firmware and classified at boot.",
)
@click.option("--force", is_flag=True, help="Replace a folder written by an earlier export.")
@data_dir_option
@user_errors
def export_command(
    target, board_name, out_dir, runtime, convention, test_images, force, data_dir
) -> None:
    """Generate a firmware project for a board; refuses when the model does not fit."""
    from tinycnn.codegen.export import export

    result = export(
        target,
        board_name,
        out_dir,
        runtime=runtime,
        force=force,
        test_images=test_images,
        convention=convention,
        data_dir=data_dir,
    )
    click.echo(
        f"wrote {result.out_dir} for {result.board.description} ({len(result.files)} files, {result.runtime} runtime)"
    )
    click.echo(f"flash {result.flash.describe()}")
    click.echo(f"RAM   {result.ram.describe()}")
    click.echo(
        f"activation arena: {result.planned_arena_bytes} bytes planned, lower bound {result.lower_bound_bytes}"
    )
    if result.elf_sections:
        sections = result.elf_sections
        click.echo(
            f"firmware.elf: text {sections['text']} data {sections['data']} bss {sections['bss']} bytes"
        )
    click.echo(f"next: {result.build_command}")


def _format_validation(summary: dict, class_names) -> str:
    lines = [
        f"board {summary['board']} on {summary['port']}: model {summary['model']} (sha256 {summary['model_sha256']})",
        f"images sent {summary['sent']} of {summary['requested']}, answered {summary['answered']}, "
        f"lost {summary['lost']}, retries {summary['retries']}, reconnects {summary['reconnects']}",
    ]
    if summary["answered"]:
        latency = summary["latency"]
        lines += [
            f"on-device accuracy   {100 * summary['board_accuracy']:.2f} %",
            f"host int8 accuracy   {100 * summary['host_int8_accuracy']:.2f} % (same images, reference engine)",
            f"agreement            {100 * summary['agreement']:.2f} % of images: same class and score as the host",
            f"latency              mean {latency['mean_us']:.0f} us, p50 {latency['p50_us']:.0f} us, "
            f"p95 {latency['p95_us']:.0f} us, max {latency['max_us']:.0f} us (board timer)",
        ]
        if "instructions_per_inference" in latency:
            lines.append(
                f"instructions         {latency['instructions_per_inference']:,} per inference "
                "(QEMU -icount shift=0: 1 instruction = 1 ns)"
            )
    for row in summary["disagreements"][:20]:
        lines.append(
            f"DISAGREE image {row['sample_id']}: board class {row['board_class']} score {row['board_score']}, "
            f"host class {row['host_class']} score {row['host_score']}"
        )
    if summary["answered"]:
        lines += [""] + _confusion_lines(
            "confusion matrix (rows: true class, columns: board's prediction)",
            summary["confusion"],
            class_names,
        )
    for error in summary["board_errors"][:10]:
        lines.append(f"board said: {error}")
    if summary["interrupted"]:
        lines.append("interrupted: the figures above cover the images answered so far")
    if summary["port_lost"]:
        lines.append(f"stopped: {summary['port_lost']}")
    return "\n".join(lines)


def _validation_model(model, csv_path):
    """What `--validate` needs, checked before a port is opened or a firmware built."""
    from tinycnn.board.serial.monitor import validation_model
    from tinycnn.outputs import check_output_file

    if not model:
        raise click.UsageError("--validate needs --model MODEL.tflite|RUN_DIR")
    if csv_path:
        check_output_file(csv_path, "the --csv file")
    return validation_model(model)


def _progress(quiet: bool = False):
    from tinycnn.progress import TerminalProgress

    return TerminalProgress(sys.stderr, enabled=None if not quiet else False)


def _run_monitor(
    port, baud, validate_count, model, as_json, csv_path, frame_timeout, retries, duration, data_dir
) -> None:
    from tinycnn.board.serial.monitor import BoardLink, validate
    from tinycnn.processes import exit_code_for
    from tinycnn.training.data import CLASS_NAMES

    if validate_count:
        _validation_model(model, csv_path)
    elif csv_path:
        raise click.UsageError("--csv writes validation results: use it with --validate")
    with BoardLink(port, baud) as link:
        if validate_count:
            progress = _progress(as_json)
            try:
                report = validate(
                    link,
                    model,
                    validate_count,
                    data_dir=data_dir,
                    frame_timeout_s=frame_timeout,
                    retries=retries,
                    on_result=lambda result: progress(
                        "validating", result.sample_id + 1, validate_count
                    ),
                    on_progress=progress,
                )
            finally:
                progress.close()
            summary = report.summary()
            if csv_path:
                from pathlib import Path

                report.write_csv(Path(csv_path))
            click.echo(json.dumps(summary) if as_json else _format_validation(summary, CLASS_NAMES))
            if report.interrupted:
                raise SystemExit(exit_code_for(report.interrupt))
            if not report.passed:
                raise SystemExit(1)
            return
        _listen(link, port, model, duration)


def _listen(link, port, model, duration) -> None:
    """Listen mode: every prediction with its label and running figures, until Ctrl-C or
    ``duration`` seconds; the summary at the end, however it ends."""
    import time

    from tinycnn.board.serial.monitor import ListenStats, listen, model_labels
    from tinycnn.board.serial.protocol import BoardError, Hello, Prediction
    from tinycnn.processes import exit_code_for

    deadline = None if duration is None else time.monotonic() + duration
    hello = link.hello(timeout_s=5.0 if duration is None else min(5.0, duration / 3))
    click.echo(
        f"board: {hello.model} (sha256 {hello.sha256}) input {'x'.join(map(str, hello.input_shape))}, "
        f"{hello.classes} classes, arena {hello.arena_bytes} bytes, board {hello.fields.get('board')}; "
        f"listening on {port}"
    )
    stats = ListenStats(hello.classes, labels=model_labels(model))

    def show(event):
        if isinstance(event, Prediction):
            problem = stats.add(event)
            if problem:
                click.echo(f"protocol error (id {event.sample_id}): {problem}; not counted")
                return
            verdict = ""
            if event.true_label >= 0:
                verdict = (
                    " ok"
                    if event.predicted == event.true_label
                    else f" WRONG (true {stats.label(event.true_label)})"
                )
            accuracy = (
                f"running accuracy {100 * stats.accuracy:.1f} % of {stats.labelled} labelled"
                if stats.labelled
                else "no true labels"
            )
            latency = stats.latency()
            click.echo(
                f"{event.source} #{event.sample_id:<5} {event.label:<12} score {event.score:>4}{verdict}   "
                f"{accuracy}  latency mean {latency['mean_us']:.0f} p50 {latency['p50_us']:.0f} "
                f"p95 {latency['p95_us']:.0f} us"
            )
        elif isinstance(event, BoardError):
            click.echo(f"board error {event.code} (id {event.sample_id}): {event.message}")
        elif isinstance(event, Hello):
            click.echo(
                f"board banner ({event.fields.get('why', '?')}): {event.model} sha256 {event.sha256}"
            )

    interrupt = None
    try:
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        listen(link, show, duration_s=remaining)
    except KeyboardInterrupt as exc:
        interrupt = exc
    summary = f"{stats.predictions} predictions"
    if stats.labelled:
        summary += (
            f", {stats.correct} correct of {stats.labelled} labelled ({100 * stats.accuracy:.1f} %)"
        )
    if stats.latencies_us:
        summary += f", latency mean {stats.latency()['mean_us']:.0f} us"
    if stats.protocol_errors:
        summary += f", {len(stats.protocol_errors)} protocol errors"
    click.echo(summary)
    if interrupt is not None and exit_code_for(interrupt) != exit_code_for(KeyboardInterrupt()):
        raise SystemExit(exit_code_for(interrupt))  # Ctrl-C is how listening normally ends


monitor_options = [
    click.option("--baud", type=click.IntRange(min=1), default=115200, show_default=True),
    click.option(
        "--validate",
        "validate_count",
        type=click.IntRange(min=1, max=10_000),
        default=None,
        help="Send this many test images and check the board's answers against the host.",
    ),
    click.option("--json", "as_json", is_flag=True, help="Print the validation summary as JSON."),
    click.option(
        "--csv",
        "csv_path",
        type=click.Path(dir_okay=False),
        default=None,
        help="Write one row per validated image.",
    ),
    click.option(
        "--frame-timeout",
        type=FiniteFloatRange(min=0.1),
        default=10.0,
        show_default=True,
        help="Seconds to wait for the answer to one frame before resending it.",
    ),
    click.option("--retries", type=click.IntRange(min=0, max=10), default=3, show_default=True),
    click.option(
        "--duration",
        type=FiniteFloatRange(min=0.1),
        default=None,
        help="Listen mode: stop after this many seconds (default: until Ctrl-C).",
    ),
]


@cli.command("monitor")
@click.option(
    "--port",
    required=True,
    help="Serial port or pyserial URL (/dev/ttyACM0, socket://host:port, ...).",
)
@click.option(
    "--model",
    default=None,
    help="MODEL.tflite, RUN_DIR or zoo:NAME the board runs (for --validate).",
)
@_with_options(monitor_options)
@data_dir_option
@user_errors
def monitor_command(
    port, model, baud, validate_count, as_json, csv_path, frame_timeout, retries, duration, data_dir
) -> None:
    """Watch a board's predictions, or validate it image by image against the host's int8 results."""
    _run_monitor(
        port,
        baud,
        validate_count,
        model,
        as_json,
        csv_path,
        frame_timeout,
        retries,
        duration,
        data_dir,
    )


@cli.command("emulate")
@click.argument("target", metavar="RUN_DIR|MODEL.tflite|zoo:NAME|FIRMWARE.elf", type=click.Path())
@click.option("--board", type=click.Choice(["qemu_m4"]), default="qemu_m4", show_default=True)
@click.option(
    "--monitor",
    "run_monitor",
    is_flag=True,
    help="Run `tinycnn monitor` on the emulated board's port (implied by --validate, --json, --csv).",
)
@click.option("--model", default=None, help="The model of a FIRMWARE.elf, for --validate.")
@_with_options(monitor_options)
@data_dir_option
@user_errors
def emulate_command(
    target,
    board,
    run_monitor,
    model,
    baud,
    validate_count,
    as_json,
    csv_path,
    frame_timeout,
    retries,
    duration,
    data_dir,
) -> None:
    """Boot the qemu_m4 firmware in QEMU (mps2-an386) with its UART on a pseudo-terminal."""
    from tinycnn.board.emulate import Emulator, EmulatorError, firmware_for
    from tinycnn.board.serial.monitor import wait_for_board

    model = model or (None if str(target).endswith(".elf") else target)
    # What only the monitor does asks for the monitor: --validate alone once booted the board
    # and waited for Ctrl-C, silently ignoring the images asked for.
    run_monitor = run_monitor or bool(validate_count) or as_json or csv_path is not None
    if run_monitor and validate_count:
        _validation_model(model, csv_path)  # before building or booting anything
    elf = firmware_for(target, data_dir=data_dir)
    with Emulator(elf) as emulator:
        hello = wait_for_board(emulator.port, emulator.running, emulator.failure, what=str(elf))
        if not run_monitor:
            click.echo(
                f"{elf} running in QEMU: model {hello.model} (sha256 {hello.sha256}); serial port "
                f"{emulator.port} ({'Ctrl-C stops it' if duration is None else f'for {duration:g} s'})"
            )
            if not emulator.wait(duration):
                raise EmulatorError(f"{elf}: {emulator.failure()}")
            return
        click.echo(f"emulated board on {emulator.port}", err=True)
        try:
            _run_monitor(
                emulator.port,
                baud,
                validate_count,
                model,
                as_json,
                csv_path,
                frame_timeout,
                retries,
                duration,
                data_dir,
            )
        finally:
            if not emulator.running():
                click.echo(f"emulated board: {emulator.failure()}", err=True)


if __name__ == "__main__":
    cli()
