"""What `tinycnn monitor` and `tinycnn emulate` do and print: listen to a board's predictions
with running figures, validate it image by image against the host, and boot the emulated
board before either. Each function writes its lines through ``echo`` (standard output) and
``note`` (standard error) and returns the command's exit status, so that a test can run it
without a terminal."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from tinycnn.board.emulate import Emulator, EmulatorError, firmware_for
from tinycnn.board.monitor_options import MonitorOptions
from tinycnn.board.serial.monitor import (
    BoardLink,
    ListenStats,
    listen,
    model_labels,
    wait_for_board,
)
from tinycnn.board.serial.protocol import BoardError, Hello, Output, Prediction
from tinycnn.board.serial.validation import validate
from tinycnn.errors import RequestError
from tinycnn.processes import exit_code_for
from tinycnn.progress import terminal_progress
from tinycnn.quantization.evaluate import confusion_lines

Echo = Callable[[str], None]


def monitor_request(model, data_dir=None, sent=(), *, checked=True, **settings) -> MonitorOptions:
    """The monitor's options from the command line's, checked (unless not ``checked``: a board
    booted without the monitor) before a port is opened or a firmware built: --validate needs
    the model and what it sends, --csv goes with --validate and names none of ``sent``."""
    from tinycnn.board.serial.validation import check_validation_request, is_validation_csv
    from tinycnn.rundir import check_named_output

    if checked and settings.get("validate_count"):
        if not model:
            raise RequestError("--validate needs --model MODEL.tflite|RUN_DIR")
        if settings.get("csv_path"):  # never the model, the firmware or the inputs sent
            sent = [model, settings.get("inputs"), settings.get("labels_file"), *sent]
            check_named_output(settings["csv_path"], "--csv", inputs=sent, ours=is_validation_csv)
        check_validation_request(model, settings.get("inputs"))
    elif checked and settings.get("csv_path"):
        raise RequestError("--csv writes validation results: use it with --validate")
    return MonitorOptions(model=model, data_dir=data_dir, **settings)


def needs_monitor(settings: dict) -> bool:
    """Whether what `emulate` is asked implies --monitor: --validate, --json or --csv (each is
    the monitor's; --validate alone once booted the board and ignored the images asked for)."""
    wanted = settings.get("validate_count"), settings.get("as_json"), settings.get("csv_path")
    return any(value not in (None, False, 0) for value in wanted)


def run_monitor(port: str, options: MonitorOptions, echo: Echo) -> int:
    """Open ``port`` and validate the board (``options.validate_count`` images) or listen to it."""
    with BoardLink(port, options.baud) as link:
        if options.validate_count:
            return validate_board(link, options, echo)
        return listen_to_board(link, port, options.model, options.duration, echo)


def validate_board(link: BoardLink, options: MonitorOptions, echo: Echo) -> int:
    """Send test images, compare the board's answers with the host's; print the summary (and
    write the CSV). Exit status 0 when the board agrees on every image."""
    count = options.validate_count
    with terminal_progress(options.as_json) as progress:
        report = validate(
            link,
            options.model,
            count,
            data_dir=options.data_dir,
            frame_timeout_s=options.frame_timeout,
            retries=options.retries,
            inputs=options.inputs,
            labels_file=options.labels_file,
            on_result=lambda result: progress("validating", result.sample_id + 1, count),
            on_progress=progress,
        )
    summary = report.summary()
    if options.csv_path:
        report.write_csv(Path(options.csv_path))
    names = list(model_labels(options.model).values())
    echo(json.dumps(summary) if options.as_json else format_validation(summary, names))
    if report.interrupted:
        return exit_code_for(report.interrupt)
    return 0 if report.passed else 1


def format_validation(summary: dict, class_names) -> str:
    """The validation summary as text: counts, accuracies, latency, disagreements, confusion."""
    lines = [
        f"board {summary['board']} on {summary['port']}: model {summary['model']} (sha256 {summary['model_sha256']})",
        f"inputs sent {summary['sent']} of {summary['requested']}, answered {summary['answered']}, "
        f"lost {summary['lost']}, retries {summary['retries']}, reconnects {summary['reconnects']}",
    ]
    if summary["answered"]:
        lines += _accuracy_lines(summary)
    for row in summary["disagreements"][:20]:
        differing = row["differing_values"]
        lines.append(
            f"DISAGREE input {row['sample_id']}: "
            + (
                f"{differing} of {summary['outputs']} output values differ; "
                if differing is not None
                else ""
            )
            + f"board class {row['board_class']} score {row['board_score']}, "
            f"host class {row['host_class']} score {row['host_score']}"
        )
    if summary["board_accuracy"] is not None:
        title = "confusion matrix (rows: true class, columns: board's prediction)"
        lines += ["", *confusion_lines(title, summary["confusion"], class_names)]
    for error in summary["board_errors"][:10]:
        lines.append(f"board said: {error}")
    if summary["interrupted"]:
        lines.append("interrupted: the figures above cover the images answered so far")
    if summary["port_lost"]:
        lines.append(f"stopped: {summary['port_lost']}")
    return "\n".join(lines)


def _accuracy_lines(summary: dict) -> list[str]:
    latency = summary["latency"]
    errors = summary["reconstruction_error"]
    if errors:
        lines = [
            f"reconstruction error board mean {errors['board_mean']:.4g}, max {errors['board_max']:.4g}; "
            f"host mean {errors['host_mean']:.4g}, max {errors['host_max']:.4g} (mean squared: "
            "the anomaly score)"
        ]
    elif summary["board_accuracy"] is None:
        lines = [
            "accuracy             - (the inputs have no true classes: --labels-file gives them)"
        ]
    else:
        lines = [
            f"on-device accuracy   {100 * summary['board_accuracy']:.2f} %",
            f"host int8 accuracy   {100 * summary['host_int8_accuracy']:.2f} % (same inputs, reference engine)",
        ]
    same = (
        f"identical output tensors ({summary['outputs']} values each)"
        if summary["compared"] == "output tensor"
        else "same class and score"
    )
    lines += [
        f"agreement            {100 * summary['agreement']:.2f} % of inputs: {same} as the host",
        f"latency              mean {latency['mean_us']:.0f} us, p50 {latency['p50_us']:.0f} us, "
        f"p95 {latency['p95_us']:.0f} us, max {latency['max_us']:.0f} us (board timer)",
    ]
    if "instructions_per_inference" in latency:
        lines.append(
            f"instructions         {latency['instructions_per_inference']:,} per inference "
            "(QEMU -icount shift=0: 1 instruction = 1 ns)"
        )
    return lines


def listen_to_board(link: BoardLink, port: str, model, duration: float | None, echo: Echo) -> int:
    """Listen mode: every prediction with its label and running figures, until Ctrl-C or
    ``duration`` seconds; the summary at the end, however it ends. Ctrl-C is how listening
    normally ends (status 0); another signal gives its status."""
    deadline = None if duration is None else time.monotonic() + duration
    hello = link.hello(timeout_s=5.0 if duration is None else min(5.0, duration / 3))
    echo(
        f"board: {hello.model} (sha256 {hello.sha256}) input {'x'.join(map(str, hello.input_shape))}, "
        f"{hello.classes} classes, arena {hello.arena_bytes} bytes, board {hello.fields.get('board')}; "
        f"listening on {port}"
    )
    stats = ListenStats(hello.classes, labels=model_labels(model))
    interrupt = None
    try:
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        listen(link, lambda event: _show_event(event, stats, echo), duration_s=remaining)
    except KeyboardInterrupt as exc:
        interrupt = exc
    echo(_listen_summary(stats))
    if interrupt is not None and exit_code_for(interrupt) != exit_code_for(KeyboardInterrupt()):
        return exit_code_for(interrupt)
    return 0


def _show_event(event, stats: ListenStats, echo: Echo) -> None:
    if isinstance(event, BoardError):
        echo(f"board error {event.code} (id {event.sample_id}): {event.message}")
    elif isinstance(event, Hello):
        echo(f"board banner ({event.fields.get('why', '?')}): {event.model} sha256 {event.sha256}")
    elif isinstance(event, Output):
        stats.latencies_us.append(event.latency_us)
        stats.outputs += 1
        echo(
            f"{event.source} #{event.sample_id:<5} {_values(event)}   latency {event.latency_us} us"
        )
    elif isinstance(event, Prediction):
        problem = stats.add(event)
        if problem:
            echo(f"protocol error (id {event.sample_id}): {problem}; not counted")
            return
        verdict = ""
        if event.true_label >= 0:
            wrong = f" WRONG (true {stats.label(event.true_label)})"
            verdict = " ok" if event.predicted == event.true_label else wrong
        accuracy = (
            f"running accuracy {100 * stats.accuracy:.1f} % of {stats.labelled} labelled"
            if stats.labelled
            else "no true labels"
        )
        latency = stats.latency()
        echo(
            f"{event.source} #{event.sample_id:<5} {event.label:<12} score {event.score:>4}{verdict}   "
            f"{accuracy}  latency mean {latency['mean_us']:.0f} p50 {latency['p50_us']:.0f} "
            f"p95 {latency['p95_us']:.0f} us"
        )


def _values(event: Output, shown: int = 8) -> str:
    """An output tensor on one line: its first values and its size (int8, as the board sent)."""
    values = event.values()
    head = ", ".join(str(int(v)) for v in values[:shown])
    return f"output [{head}{', ...' if len(values) > shown else ''}] ({len(values)} int8 values)"


def _listen_summary(stats: ListenStats) -> str:
    summary = f"{stats.predictions} predictions"
    if stats.outputs:
        summary = f"{stats.outputs} output tensors" + (f", {summary}" if stats.predictions else "")
    if stats.labelled:
        summary += (
            f", {stats.correct} correct of {stats.labelled} labelled ({100 * stats.accuracy:.1f} %)"
        )
    if stats.latencies_us:
        summary += f", latency mean {stats.latency()['mean_us']:.0f} us"
    if stats.protocol_errors:
        summary += f", {len(stats.protocol_errors)} protocol errors"
    return summary


def emulate(
    target, board: str, options: MonitorOptions, with_monitor: bool, echo: Echo, note: Echo
) -> int:
    """Boot ``board``'s firmware for ``target`` (a FIRMWARE.elf, or a model exported on
    first use) in QEMU with its UART on a pseudo-terminal; then run the monitor on it, or
    wait (``options.duration`` seconds, or until Ctrl-C)."""
    elf = firmware_for(target, data_dir=options.data_dir, board=board)
    with Emulator(elf, board=board) as emulator:
        hello = wait_for_board(emulator.port, emulator.running, emulator.failure, what=str(elf))
        if not with_monitor:
            until = "Ctrl-C stops it" if options.duration is None else f"for {options.duration:g} s"
            echo(
                f"{elf} running in QEMU: model {hello.model} (sha256 {hello.sha256}); serial port "
                f"{emulator.port} ({until})"
            )
            if not emulator.wait(options.duration):
                raise EmulatorError(f"{elf}: {emulator.failure()}")
            return 0
        note(f"emulated board on {emulator.port}")
        try:
            return run_monitor(emulator.port, options, echo)
        finally:
            if not emulator.running():
                note(f"emulated board: {emulator.failure()}")
