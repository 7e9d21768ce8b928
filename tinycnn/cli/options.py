"""What the command modules share: turning library errors into one ``Error:`` line, the
option types, and the option decorators more than one command takes. Light on purpose:
`tinycnn --help` imports it, so nothing here loads numpy or TensorFlow."""

from __future__ import annotations

import functools
import math
import warnings

import click
from click.core import ParameterSource

from tinycnn.errors import TinycnnError, TinycnnWarning
from tinycnn.model.engines import CONVENTIONS


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
        except BrokenPipeError:  # `tinycnn zoo | head -1`: the reader has what it wanted
            _quiet_stdout()
            raise click.exceptions.Exit(128 + 13) from None  # 141, as SIGPIPE would end it
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            raise UserError(f"{where}{exc.strerror or exc}") from None

    return wrapper


def _quiet_stdout() -> None:
    """Point standard output at /dev/null: the closed pipe would fail the final flush too."""
    import os
    import sys

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def show_warnings_as_lines() -> None:
    """tinycnn's own warnings as one ``warning:`` line on stderr, others as Python prints them."""
    python_showwarning = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        if issubclass(category, TinycnnWarning):
            click.echo(f"warning: {message}", err=True)
        else:
            python_showwarning(message, category, filename, lineno, file, line)

    if getattr(python_showwarning, "__name__", "") != "show":
        warnings.showwarning = show


def echo_err(text: str) -> None:
    click.echo(text, err=True)


def exit_with(status: int) -> None:
    """End the command with ``status`` (nothing when it is 0)."""
    if status:
        click.get_current_context().exit(status)


class FiniteFloatRange(click.FloatRange):
    """click's FloatRange, refusing NaN and infinities (which every comparison lets through)."""

    def convert(self, value, param, ctx):
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return super().convert(number, param, ctx)


class Size(click.ParamType):
    """HEIGHTxWIDTH, e.g. 32x32 -> [32, 32]."""

    name = "size"

    def convert(self, value, param, ctx):
        if isinstance(value, list):
            return value
        try:
            height, width = (int(side) for side in str(value).lower().split("x"))
        except ValueError:
            self.fail(f"{value!r} is not HEIGHTxWIDTH (e.g. 32x32)", param, ctx)
        return [height, width]


SIZE = Size()


def opt(names: str, kind, help: str, **settings):
    """``click.option`` with its type and help first; ``names`` is "--name" or "--name dest".
    A default, when there is one, is shown on the help page."""
    settings.setdefault("show_default", settings.get("default") is not None)
    return click.option(*names.split(), type=kind, help=help, **settings)


def with_options(options):
    """Apply a list of option decorators, first one first on the help page."""

    def decorate(command):
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def named_options() -> set[str]:
    """The parameters of the running command given on its command line (or environment)."""
    ctx = click.get_current_context()
    given = (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)
    return {name for name in ctx.params if ctx.get_parameter_source(name) in given}


def command_line(ctx: click.Context) -> list[str]:
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


data_dir_option = opt(
    "--data-dir",
    click.Path(file_okay=False, path_type=str),
    "Folder with the four Fashion-MNIST *-ubyte.gz files (else $TINYCNN_DATA, the Debian "
    "package, the Keras cache, then a download).",
)
TARGET = "MODEL.tflite|RUN_DIR|zoo:NAME"


input_range_option = opt(
    "--input-range",
    None,
    "The value range the model's float input was trained on, for pictures: 0,1 or 0,255 or "
    "-1,1 [default: what the model's metadata or its run says].",
    metavar="LOW,HIGH",
)


labels_option = opt(
    "--labels labels_file",
    click.Path(dir_okay=False),
    "Class names, one per line [default: the model's metadata, its run, else class 0..N-1].",
    metavar="FILE",
)


def json_option(help: str = "Print one JSON object with every figure."):
    return opt("--json as_json", None, help, is_flag=True)


def force_option(help: str):
    return opt("--force", None, help, is_flag=True)


def seed_option(help: str = "Random seed."):
    # NumPy and TensorFlow take 32-bit seeds: a larger one would wrap silently.
    return opt("--seed", click.IntRange(0, 2**32 - 1), help, default=0)


def rounding_option(default: str, help: str):
    return opt("--rounding convention", click.Choice(CONVENTIONS), help, default=default)


def images_option(default: int, help: str, most: int | None = None):
    return opt("--images", click.IntRange(min=1, max=most), help, default=default)


def _named(ctx, param, value):
    if value is not None and not str(value).strip():
        raise click.BadParameter("an empty path names nothing: give a file or folder name")
    return value


def out_option(dest: str, help: str, *, folder: bool = True, required: bool = True):
    kind = click.Path(file_okay=False) if folder else click.Path(dir_okay=False)
    return click.option("--out", dest, required=required, type=kind, help=help, callback=_named)


def setting_option(setting, help: str | None = None, **overrides):
    """The option of a library `Setting`: its range or choices, its help, its default."""
    settings = {"metavar": setting.metavar, "default": setting.default, **overrides}
    if setting.required:
        settings["required"] = True
    names = f"{setting.option} {setting.name}" if setting.option else setting.flag
    return opt(names, _setting_type(setting), help or setting.help or None, **settings)


def setting_options(table: dict, *names: str) -> list:
    """The options of ``names`` in a table of settings (every one, in order, without names)."""
    return [setting_option(table[name]) for name in names or table]


def _setting_type(setting):
    if setting.choices:
        return click.Choice(setting.choices)
    if setting.kind is str:
        return None
    bounds = {"min_open": setting.low_open, "max_open": setting.high_open}
    range_type = click.IntRange if setting.kind is int else FiniteFloatRange
    low, high = (None if end is None else setting.kind(end) for end in (setting.low, setting.high))
    return range_type(low, high, **bounds)
