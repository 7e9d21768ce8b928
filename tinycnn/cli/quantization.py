"""`tinycnn quantize` and `tinycnn evaluate`."""

from __future__ import annotations

import json

import click

from tinycnn.cli import options
from tinycnn.quantization import CALIBRATION, QAT_EPOCHS


@click.command("quantize")
@click.argument("run_dir", type=click.Path(file_okay=False))
@options.setting_option(CALIBRATION)
@options.setting_option(QAT_EPOCHS)
@options.data_dir_option
@options.user_errors
def quantize_command(run_dir, **given) -> None:
    """Convert RUN_DIR's trained model to full-integer int8 TFLite (RUN_DIR/model_int8.tflite)."""
    from tinycnn.progress import terminal_progress
    from tinycnn.quantization.quantize import quantize_run

    with terminal_progress() as progress:
        result = quantize_run(run_dir, on_progress=progress, **given)
    click.echo(result.describe())


@click.command("evaluate")
@click.argument("run_dir", type=click.Path(file_okay=False))
@options.json_option("Print one JSON object instead of tables.")
@options.data_dir_option
@options.user_errors
def evaluate_command(run_dir, as_json, data_dir) -> None:
    """Float vs int8 accuracy of RUN_DIR on the 10,000-image test set."""
    from tinycnn.quantization.evaluate import evaluate_run

    evaluation = evaluate_run(run_dir, data_dir=data_dir)
    click.echo(json.dumps(evaluation.as_dict()) if as_json else evaluation.describe())
