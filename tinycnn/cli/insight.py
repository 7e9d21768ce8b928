"""`tinycnn visualize` and `tinycnn report`: pictures of a model and one page about it."""

from __future__ import annotations

import click

from tinycnn.cli import options
from tinycnn.insight import VISUALIZE_SETTINGS


@click.command("visualize")
@click.argument("target", metavar="RUN_DIR|MODEL.tflite|zoo:NAME", type=click.Path(exists=False))
@options.setting_option(VISUALIZE_SETTINGS["image"])
@options.out_option(
    "out_dir", "Folder for the PNGs (created; files of the same names are replaced)."
)
@options.with_options(options.setting_options(VISUALIZE_SETTINGS, "layer", "other_class"))
@options.input_range_option
@options.data_dir_option
@options.user_errors
def visualize_command(target, out_dir, **given):
    """Write pictures of what the model sees: first-layer filters, float and int8 feature maps,
    hand-made edge filters with pooling, what filters respond to (gradient ascent), DeepDream
    and Grad-CAM (the last three need a run directory's float model)."""
    from tinycnn.insight.visualize import visualize
    from tinycnn.progress import terminal_progress

    with terminal_progress() as progress:
        result = visualize(target, out_dir, on_progress=progress, **given)
    for line in result.lines():
        click.echo(line)


@click.command("report")
@click.argument("target", metavar="RUN_DIR|zoo:NAME", type=click.Path(exists=False))
@options.out_option(
    "out_path",
    "The HTML file [default: RUN_DIR/report.html; report_NAME.html for zoo:NAME].",
    folder=False,
    required=False,
)
@options.images_option(
    1000, "Test images the verification compares on (accuracy always uses all 10,000).", 10_000
)
@options.setting_option(
    VISUALIZE_SETTINGS["image"], "The test-image index or picture file the visualisations look at."
)
@options.opt(
    "--no-emulate",
    None,
    "Skip the emulated Cortex-M4 (it needs arm-none-eabi-gcc and QEMU).",
    is_flag=True,
)
@options.opt(
    "--screenshot",
    click.Path(dir_okay=False),
    "Also open the page in headless Chromium, check it and save a PNG of its top.",
)
@options.force_option("Replace --out even when it is not a tinycnn report.")
@options.data_dir_option
@options.user_errors
def report_command(target, out_path, images, no_emulate, screenshot, **given):
    """Write one self-contained HTML page about a model: summary, training curves, float and
    int8 accuracy, confusion matrix, misclassified images, verification, flash/RAM on every
    board, Cortex-M4 instructions and the visualisations. Opens offline in any browser."""
    from tinycnn.insight.report import default_output, write_report
    from tinycnn.progress import terminal_progress
    from tinycnn.rundir import check_named_output

    if screenshot:  # never the model, the run's files or the report itself
        page = out_path or default_output(target)
        check_named_output(screenshot, "--screenshot", inputs=[target, page], force=given["force"])
    with terminal_progress() as progress:
        path, report = write_report(
            target,
            out_path,
            verify_images=images,
            emulate=not no_emulate,
            on_progress=progress,
            **given,
        )
    for line in report.lines(path):
        click.echo(line)
    if screenshot:
        from tinycnn.insight.browser import check_page

        page = check_page(path, screenshot)
        click.echo(page.describe())
        page.check_clean()
