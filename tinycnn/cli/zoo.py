"""`tinycnn zoo` and `tinycnn sweep`: choosing a model."""

from __future__ import annotations

import json
from pathlib import Path

import click

from tinycnn.cli import options
from tinycnn.quantization import CALIBRATION
from tinycnn.training.config import TRAIN_SETTINGS
from tinycnn.zoo import SWEEP_SETTINGS


@click.command("zoo")
@options.setting_option(
    TRAIN_SETTINGS["width"], "Channel multiplier the architectures are counted at.", default=1.0
)
@options.setting_option(TRAIN_SETTINGS["depth"], "Block repeats.")
@options.opt(
    "--model only", None, "Only this architecture (repeatable) [default: all].", multiple=True
)
@options.opt(
    "--measure",
    None,
    "Also convert each architecture to int8 and measure flash, planned RAM and Cortex-M4 "
    "instructions per inference in QEMU (about 20 s each).",
    is_flag=True,
)
@options.json_option("Print one JSON object instead of tables.")
@options.data_dir_option
@options.user_errors
def zoo_command(width, depth, only, measure, as_json, data_dir) -> None:
    """The architectures (parameters and MACs) and the pretrained int8 models (zoo:NAME)."""
    from tinycnn.training.models import get_model_spec
    from tinycnn.zoo import catalogue

    for name in only:
        get_model_spec(name)  # an unknown name is one line naming the known ones
    rows, models = catalogue.architectures(width, depth, only or None), catalogue.pretrained()
    measured = {}
    if measure:
        measured = catalogue.measure_all(rows, width, depth, data_dir, options.echo_err)
    if as_json:
        click.echo(json.dumps(catalogue.catalogue_json(rows, measured, models)))
    else:
        click.echo(catalogue.catalogue_text(rows, measured, models, width, depth))


@click.command("sweep")
@options.with_options(options.setting_options(SWEEP_SETTINGS, "models", "widths", "augments"))
@options.setting_option(TRAIN_SETTINGS["epochs"], "Epochs [default: each model's own].")
@options.setting_option(TRAIN_SETTINGS["batch_size"], "Batch size [default: each model's own].")
@options.setting_option(TRAIN_SETTINGS["subset"], "Train on the first N images only.")
@options.seed_option("Random seed of every run.")
@options.setting_option(
    CALIBRATION, "Calibration images for each quantization [default: quantize's].", default=None
)
@options.out_option(
    "out_dir", "Sweep folder: one run directory per configuration, sweep.md and sweep.json."
)
@options.with_options(options.setting_options(SWEEP_SETTINGS, "workers"))
@options.opt(
    "--print-commands",
    None,
    "Print one shell line per unfinished configuration (for a scheduler) and run nothing.",
    is_flag=True,
)
@options.data_dir_option
@options.user_errors
def sweep_command(models, widths, augments, out_dir, workers, print_commands, **settings) -> None:
    """Train a grid of configurations (models x widths x augmentation), quantize each and rank
    them by int8 accuracy per flash byte. Run it again to continue an interrupted sweep."""
    from tinycnn.training.models import UnknownModel
    from tinycnn.zoo.sweep import TABLE_FILE, make_sweep, plan_lines, run_sweep, table

    try:
        sweep = make_sweep(models, widths, augments, **settings)
    except UnknownModel as exc:
        raise click.BadParameter(str(exc), param_hint="'--models'") from None
    if print_commands:
        commands, note = plan_lines(sweep, Path(out_dir))
        for line in commands:
            click.echo(line)
        options.echo_err(note)
        return
    rows = run_sweep(sweep, out_dir, workers=workers, on_event=click.echo)
    click.echo(table(rows), nl=False)
    click.echo(
        f"wrote {Path(out_dir) / TABLE_FILE} (ranked by int8 validation accuracy per flash byte)"
    )
