"""`tinycnn boards` and `tinycnn export`: firmware for a board."""

from __future__ import annotations

import click

from tinycnn.cli import options
from tinycnn.codegen import EXPORT_SETTINGS
from tinycnn.model.engines import BOARD_CONVENTION


@click.command("boards")
def boards_command() -> None:
    """List the boards `export --board` knows."""
    from tinycnn.boards import boards_table

    click.echo(boards_table())


@click.command("export")
@click.argument("target", metavar=options.TARGET, type=click.Path())
@options.opt("--board board_name", None, "Board from `tinycnn boards`.", default="nano33")
@options.out_option(
    "out_dir", "Folder to write (for Arduino boards, the sketch folder: its name is the sketch's)."
)
@options.with_options(options.setting_options(EXPORT_SETTINGS))
@options.rounding_option(BOARD_CONVENTION, "Whose rounding the generated C reproduces.")
@options.opt(
    "--test-inputs",
    click.Path(exists=True),
    "Demo inputs to embed: a .npy batch of the model's input, or a folder of pictures "
    "[default: Fashion test images for a Fashion-MNIST model, else none].",
    metavar="X.npy|DIR",
)
@options.input_range_option
@options.force_option("Replace a folder written by an earlier export.")
@options.data_dir_option
@options.user_errors
def export_command(target, board_name, out_dir, **settings) -> None:
    """Generate a firmware project for a board; refuses when the model does not fit."""
    from tinycnn.codegen.export import export

    click.echo(export(target, board_name, out_dir, **settings).describe())
