"""The ``tinycnn`` command line: a root group that loads one module per command family only
when one of its commands runs (click's lazy-loading group), so that ``tinycnn --help`` and
argument errors answer at once instead of waiting for TensorFlow to load.

Each command parses its options, calls one library function and prints what the library's
formatter returns; the shared option decorators are in ``options.py``.
"""

from __future__ import annotations

import importlib

import click

from tinycnn import __version__

# command -> (module in tinycnn.cli, function), one module per command family.
COMMANDS = {
    "models": ("training", "models_command"),
    "train": ("training", "train_command"),
    "augment": ("training", "augment_command"),
    "zoo": ("zoo", "zoo_command"),
    "sweep": ("zoo", "sweep_command"),
    "quantize": ("quantization", "quantize_command"),
    "evaluate": ("quantization", "evaluate_command"),
    "predict": ("engines", "predict_command"),
    "verify": ("engines", "verify_command"),
    "boards": ("firmware", "boards_command"),
    "export": ("firmware", "export_command"),
    "bench": ("board", "bench_command"),
    "emulate": ("board", "emulate_command"),
    "monitor": ("board", "monitor_command"),
    "visualize": ("insight", "visualize_command"),
    "report": ("insight", "report_command"),
}


class LazyGroup(click.Group):
    """A group whose commands are imported from their module when first asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, function = COMMANDS[name]
        return getattr(importlib.import_module(f"tinycnn.cli.{module}"), function)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tinycnn")
def cli() -> None:
    """Train small Fashion-MNIST CNNs, quantize them to int8 and deploy them to microcontrollers."""
    from tinycnn.cli.options import show_warnings_as_lines
    from tinycnn.processes import install_signal_handlers

    install_signal_handlers()
    show_warnings_as_lines()
