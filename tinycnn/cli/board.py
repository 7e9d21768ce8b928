"""`tinycnn bench`, `tinycnn emulate` and `tinycnn monitor`: the board side."""

from __future__ import annotations

import json

import click

from tinycnn.board import BENCH_SETTINGS
from tinycnn.board.monitor_options import MONITOR_SETTINGS
from tinycnn.boards import BOARD_NAMES, EMULATED_BOARD
from tinycnn.cli import options

MONITOR_OPTIONS = [
    *(options.setting_option(MONITOR_SETTINGS[name]) for name in ("baud", "validate_count")),
    options.json_option("Print the validation summary as JSON."),
    options.opt("--csv csv_path", click.Path(dir_okay=False), "Write one row per validated image."),
    *(options.setting_option(MONITOR_SETTINGS[name]) for name in ("frame_timeout", "retries")),
    options.opt(
        "--inputs",
        click.Path(exists=True),
        "What --validate sends to a model that does not take Fashion-MNIST images: a .npy "
        "batch of its input, or a folder of pictures.",
        metavar="X.npy|DIR",
    ),
    options.opt(
        "--labels-file",
        click.Path(exists=True, dir_okay=False),
        "The classes of --inputs, a .npy of integers (for the accuracy).",
        metavar="Y.npy",
    ),
    options.setting_option(MONITOR_SETTINGS["duration"]),
]


def _board_option(help: str):
    return options.opt(
        "--board board_name",
        click.Choice(BOARD_NAMES),
        help,
        default=EMULATED_BOARD,
        metavar="BOARD",
    )


@click.command("bench")
@click.argument("target", metavar=options.TARGET, type=click.Path(exists=False))
@_board_option(
    "The board to measure on (see `tinycnn boards`): its emulated core, in QEMU (instruction counts)."
)
@options.with_options(options.setting_options(BENCH_SETTINGS, "images"))
@options.opt(
    "--cmsis-nn cmsis_nn",
    click.Path(file_okay=False),
    "CMSIS-NN checkout to measure beside tinycnn [default: $CMSIS_NN_DIR, or "
    "../shared/third_party/cmsis-nn when present].",
)
@options.with_options(options.setting_options(BENCH_SETTINGS, "host_rounds"))
@options.json_option()
@options.data_dir_option
@options.user_errors
def bench_command(target, board_name, as_json, **given) -> None:
    """Measure a model on the emulated Cortex-M4: instructions per layer with the DSP kernels
    and the portable C, beside CMSIS-NN's kernels for the same layers; flash by owner; RAM
    (planned arena, TFLM's arena, stack high-water mark); and on the host the generated C's
    time against TFLM and LiteRT."""
    from tinycnn.board.bench import bench
    from tinycnn.board.bench_report import format_report

    step = (lambda text: None) if as_json else (lambda text: options.echo_err(f"... {text}"))
    report = bench(target, board=board_name, on_step=step, **given)
    click.echo(json.dumps(report.to_json()) if as_json else format_report(report))


@click.command("monitor")
@options.opt(
    "--port",
    None,
    "Serial port or pyserial URL (/dev/ttyACM0, socket://host:port, ...).",
    required=True,
)
@options.opt(
    "--model",
    None,
    "MODEL.tflite, RUN_DIR or zoo:NAME the board runs (for --validate).",
)
@options.with_options(MONITOR_OPTIONS)
@options.data_dir_option
@options.user_errors
def monitor_command(port, model, data_dir, **settings) -> None:
    """Watch a board's predictions, or validate it image by image against the host's int8 results."""
    from tinycnn.board.console import monitor_request, run_monitor

    options.exit_with(run_monitor(port, monitor_request(model, data_dir, **settings), click.echo))


@click.command("emulate")
@click.argument("target", metavar="RUN_DIR|MODEL.tflite|zoo:NAME|FIRMWARE.elf", type=click.Path())
@_board_option("The board to emulate (see `tinycnn boards`): its core, in QEMU.")
@options.opt(
    "--monitor run_monitor",
    None,
    "Run `tinycnn monitor` on the emulated board's port (implied by --validate, --json, --csv).",
    is_flag=True,
)
@options.opt("--model", None, "The model of a FIRMWARE.elf, for --validate.")
@options.with_options(MONITOR_OPTIONS)
@options.data_dir_option
@options.user_errors
def emulate_command(target, board_name, run_monitor, model, data_dir, **settings) -> None:
    """Boot the firmware of a board's emulated core in QEMU (qemu_m4: mps2-an386) with its UART
    on a pseudo-terminal."""
    from tinycnn.board.console import emulate, monitor_request, needs_monitor
    from tinycnn.boards import emulated_board

    board = emulated_board(board_name).name
    model = model or (None if str(target).endswith(".elf") else target)
    with_monitor = run_monitor or needs_monitor(settings)
    monitor = monitor_request(model, data_dir, [target], checked=with_monitor, **settings)
    options.exit_with(emulate(target, board, monitor, with_monitor, click.echo, options.echo_err))
