"""`tinycnn predict` and `tinycnn verify`: one engine, and every engine side by side."""

from __future__ import annotations

import json

import click

from tinycnn.cli import options
from tinycnn.model.engines import ENGINE, HOST_CONVENTION


@click.command("predict")
@click.argument("model_path", metavar=options.TARGET, type=click.Path())
@options.opt(
    "--input input_paths",
    click.Path(dir_okay=False),
    "A .npy batch of already-quantized inputs (first axis = samples), or images "
    "(PNG/JPEG, any size; repeat --input for several).",
    required=True,
    multiple=True,
)
@options.opt(
    "--output output_path",
    click.Path(dir_okay=False),
    ".npy file for the raw outputs, in the model's output dtype.",
    required=True,
)
@options.setting_option(ENGINE)
@options.rounding_option(
    HOST_CONVENTION,
    "Whose rounding the reference engine and the generated C reproduce: LiteRT's or TFLite Micro's.",
)
@options.input_range_option
@options.labels_option
@options.force_option(
    "Replace an existing --output that is not an earlier prediction of this model."
)
@options.user_errors
def predict_command(model_path, input_paths, output_path, **given):
    """Run a batch through one engine and save the raw outputs."""
    from tinycnn.engines.predict import output_lines, predict_file
    from tinycnn.progress import terminal_progress

    with terminal_progress() as progress:
        model, inputs, outputs, names = predict_file(
            model_path, input_paths, output_path, on_progress=progress, **given
        )
    click.echo(
        f"wrote {output_path}: {outputs.dtype.name} {list(outputs.shape)} from {given['engine']}"
    )
    for line in output_lines(model, inputs, outputs, names, list(input_paths)):
        click.echo(line)


@click.command("verify")
@click.argument("target", metavar=options.TARGET, type=click.Path(exists=False))
@options.images_option(10_000, "How many test images (or random inputs) to compare on.")
@options.json_option()
@options.opt(
    "--plots plots_dir",
    click.Path(file_okay=False),
    "Also write PNGs here: SQNR per layer, the worst layer's activation histogram, "
    "per-channel weight ranges.",
)
@options.data_dir_option
@options.user_errors
def verify_command(target, images, as_json, plots_dir, data_dir) -> None:
    """Check the int8 reference engine bit for bit against LiteRT and TFLite Micro, and the
    int8 model against the float model layer by layer. Exits 1 unless every engine that
    should run did and is bit-exact."""
    from tinycnn.engines.verify import verify
    from tinycnn.outputs import check_output_dir
    from tinycnn.progress import terminal_progress

    if plots_dir:
        check_output_dir(plots_dir, "--plots")
    with terminal_progress(as_json) as progress:
        report = verify(target, images=images, data_dir=data_dir, on_progress=progress)
    click.echo(json.dumps(report.as_dict(), default=float) if as_json else report.describe())
    if plots_dir and not report.interrupted:
        from tinycnn.insight.quantization_plots import plot_lines

        for line in plot_lines(report, plots_dir):
            click.echo(line, err=as_json)
    options.exit_with(report.exit_code)
