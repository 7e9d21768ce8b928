"""The host side of the serial link: listening to a board and validating it image by image.

Any pyserial URL works as the port (a device path, ``socket://``, ``loop://``). Every wait is
bounded: per-line and per-frame timeouts, a bounded number of retries, a bounded time to
reconnect a port that disappeared.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tinycnn.board.serial.protocol import (
    BoardError,
    Hello,
    Prediction,
    hello_request,
    image_frame,
    parse_line,
    prediction_problem,
)
from tinycnn.errors import TinycnnError
from tinycnn.model.engines import BOARD_CONVENTION
from tinycnn.quantization.inputs import takes_fashion_images
from tinycnn.training.models import NUM_CLASSES

DEFAULT_BAUD = 115200


class LinkError(TinycnnError):
    """The board cannot be reached or does not speak the protocol."""


class PortLost(LinkError):
    """The port disappeared (board unplugged, emulator stopped) and did not come back."""


class Reconnected(LinkError):
    """The port dropped while sending and was reopened: the frame must be sent again."""


@dataclass
class LinkStats:
    lines: int = 0
    unparsed_lines: int = 0
    garbage_bytes: int = 0  # bytes outside printable ASCII: a wrong baud rate shows up here
    reconnects: int = 0


class BoardLink:
    """A line-oriented connection to a board over pyserial, reconnecting when the port drops."""

    def __init__(self, port: str, baud: int = DEFAULT_BAUD, reconnect_s: float = 10.0):
        self.port, self.baud, self.reconnect_s = port, baud, reconnect_s
        self.stats = LinkStats()
        self._serial = None
        self._buffer = b""

    def open(self) -> BoardLink:
        import serial

        try:
            self._serial = serial.serial_for_url(
                self.port, baudrate=self.baud, timeout=0.05, write_timeout=10
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            raise LinkError(f"cannot open {self.port}: {exc}") from None
        self._buffer = b""
        return self

    def close(self) -> None:
        if self._serial is not None:
            self._serial.close()
            self._serial = None

    def __enter__(self) -> BoardLink:
        return self.open()

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _reconnect(self, cause: Exception) -> None:
        """Reopen the port for up to ``reconnect_s`` seconds; PortLost if it stays gone."""
        self.close()
        deadline = time.monotonic() + self.reconnect_s
        while time.monotonic() < deadline:
            try:
                self.open()
                self.stats.reconnects += 1
                return
            except LinkError:
                time.sleep(0.2)
        raise PortLost(
            f"{self.port} disappeared ({cause}) and did not come back within {self.reconnect_s:g} s"
        )

    def write(self, data: bytes) -> None:
        import serial

        try:
            self._serial.write(data)
            self._serial.flush()
        except (serial.SerialException, OSError) as exc:
            self._reconnect(exc)  # PortLost if it does not come back
            raise Reconnected(
                f"{self.port} dropped while sending; reconnected, frame must be resent"
            ) from None

    def read_line(self, timeout_s: float) -> str | None:
        """The next complete line, or None when none arrives within ``timeout_s``."""
        import serial

        deadline = time.monotonic() + timeout_s
        while b"\n" not in self._buffer:
            if time.monotonic() >= deadline:
                return None
            try:
                chunk = self._serial.read(4096)
            except (serial.SerialException, OSError, TypeError) as exc:
                self._reconnect(exc)
                continue
            self.stats.garbage_bytes += sum(
                1 for b in chunk if not (32 <= b < 127 or b in (9, 10, 13))
            )
            self._buffer += chunk
            if len(self._buffer) > 65536:  # no newline in 64 KiB: noise, not lines
                self._buffer = self._buffer[-1024:]
        raw, self._buffer = self._buffer.split(b"\n", 1)
        self.stats.lines += 1
        return raw.decode("ascii", "replace").strip()

    def read_event(self, timeout_s: float):
        """The next parsed protocol line (Hello, Prediction, BoardError) or None on timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            line = self.read_line(max(0.0, deadline - time.monotonic()))
            if line is None:
                return None
            event = parse_line(line)
            if event is not None:
                return event
            if line:
                self.stats.unparsed_lines += 1

    def hello(self, timeout_s: float = 5.0, attempts: int = 3) -> Hello:
        """Ask the board for its banner (it may have printed it before the port was open)."""
        for _ in range(attempts):
            try:
                self.write(hello_request())
            except Reconnected:
                continue
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                event = self.read_event(deadline - time.monotonic())
                if isinstance(event, Hello):
                    return event
        if self.stats.garbage_bytes > 16:
            raise LinkError(
                f"no tinycnn banner on {self.port} at {self.baud} baud, only {self.stats.garbage_bytes} bytes of "
                f"garbage: is the baud rate right? (tinycnn firmware uses {DEFAULT_BAUD})"
            )
        raise LinkError(
            f"no tinycnn board answered on {self.port} (asked {attempts} times for its banner)"
        )


def wait_for_board(
    port: str,
    running: Callable[[], bool],
    failure: Callable[[], str],
    timeout_s: float = 15.0,
    what: str = "the firmware",
) -> Hello:
    """Ask a board that was just started (an emulator) for its banner until it answers, stops
    running or ``timeout_s`` passes; LinkError with ``failure()`` (why it stopped) otherwise."""
    deadline = time.monotonic() + timeout_s
    try:
        with BoardLink(port, reconnect_s=0.5) as link:
            asked = 0.0
            while time.monotonic() < deadline and running():
                if time.monotonic() - asked > 2.0:
                    link.write(hello_request())
                    asked = time.monotonic()
                event = link.read_event(0.25)
                if isinstance(event, Hello):
                    return event
    except LinkError:
        pass  # the port went away with the board: say why below
    if not running():
        raise LinkError(f"{what}: {failure()}")
    raise LinkError(
        f"{what} runs but printed no tinycnn banner within {timeout_s:g} s: "
        "is it a tinycnn firmware?"
    )


@dataclass
class SampleResult:
    sample_id: int
    true_label: int
    board_class: int | None
    board_score: int | None
    host_class: int
    host_score: int
    latency_us: int | None
    attempts: int

    @property
    def agrees(self) -> bool:
        return self.board_class == self.host_class and self.board_score == self.host_score


@dataclass
class ValidationReport:
    hello: Hello
    port: str
    requested: int
    results: list[SampleResult] = field(default_factory=list)
    board_errors: list[str] = field(default_factory=list)
    interrupted: bool = False
    port_lost: str | None = None  # why the run ended early, when the port went away for good
    seconds: float = 0.0
    link: LinkStats | None = None
    protocol_errors: int = 0  # PRED lines with impossible values, not counted as answers
    interrupt: BaseException | None = None  # the Ctrl-C or signal that ended the run

    @property
    def answered(self) -> list[SampleResult]:
        return [r for r in self.results if r.board_class is not None]

    @property
    def passed(self) -> bool:
        """Every image sent was answered, exactly as the host computed it, and the run ended
        neither early nor with the port gone."""
        answered = self.answered
        return (
            bool(answered)
            and len(answered) == len(self.results) == self.requested
            and all(r.agrees for r in answered)
            and not self.port_lost
            and not self.interrupted
        )

    def write_csv(self, path: Path) -> None:
        """One row per image sent: what the board and the host said, latency and attempts."""
        import csv
        import io

        from tinycnn.outputs import write_atomically

        columns = ("sample_id", "true_label", "board_class", "board_score", "host_class")
        columns += ("host_score", "agrees", "latency_us", "attempts")
        stream = io.StringIO(newline="")
        writer = csv.writer(stream)
        writer.writerow(columns)
        for r in self.results:
            writer.writerow(
                [r.sample_id, r.true_label, r.board_class, r.board_score, r.host_class]
                + [r.host_score, int(r.agrees), r.latency_us, r.attempts]
            )
        write_atomically(path, stream.getvalue().encode())

    def summary(self) -> dict:
        answered = self.answered
        labels = np.array([r.true_label for r in answered], dtype=np.int64)
        board = np.array([r.board_class for r in answered], dtype=np.int64)
        host = np.array([r.host_class for r in self.results], dtype=np.int64)
        host_labels = np.array([r.true_label for r in self.results], dtype=np.int64)
        latencies = np.array([r.latency_us for r in answered], dtype=np.float64)
        classes = self.hello.classes
        confusion = np.zeros((classes, classes), dtype=np.int64)
        if answered:
            np.add.at(confusion, (labels, board), 1)
        emulated = _is_emulated(self.hello.fields.get("board"))
        latency = {}
        if answered:
            latency = {
                "mean_us": float(latencies.mean()),
                "p50_us": float(np.percentile(latencies, 50)),
                "p95_us": float(np.percentile(latencies, 95)),
                "max_us": float(latencies.max()),
            }
            if emulated:  # -icount shift=0: one instruction per virtual nanosecond
                latency["instructions_per_inference"] = int(round(latencies.mean() * 1000))
        return {
            "port": self.port,
            "model": self.hello.model,
            "model_sha256": self.hello.sha256,
            "board": self.hello.fields.get("board"),
            "requested": self.requested,
            "sent": len(self.results),
            "answered": len(answered),
            "lost": len(self.results) - len(answered),
            "interrupted": self.interrupted,
            "port_lost": self.port_lost,
            "board_accuracy": float(np.mean(board == labels)) if answered else None,
            "host_int8_accuracy": float(np.mean(host == host_labels)) if self.results else None,
            "agreement": float(np.mean([r.agrees for r in answered])) if answered else None,
            "disagreements": [r.__dict__ for r in answered if not r.agrees],
            "confusion": confusion.tolist(),
            "latency": latency,
            "retries": int(sum(r.attempts - 1 for r in self.results)),
            "board_errors": self.board_errors,
            "protocol_errors": self.protocol_errors,
            "reconnects": self.link.reconnects if self.link else 0,
            "seconds": self.seconds,
        }


def _host_reference(model, count: int, convention: str, data_dir, on_progress=None):
    """Test images quantized for the model, their labels, and the host int8 outputs."""
    from tinycnn.quantization.inputs import fashion_images
    from tinycnn.ref.runner import run_model

    images = fashion_images(model, count, data_dir)
    outputs = run_model(model, images.values, convention=convention, on_progress=on_progress)
    return images.values, images.labels.astype(int), outputs.outputs[0].reshape(count, -1)


def validation_model(target: str | Path):
    """The model a validation compares the board with, refused unless it takes what validation
    sends (one Fashion-MNIST image, 28x28x1 int8) and answers 10 classes."""
    from tinycnn.model.tflite_io import read_model
    from tinycnn.rundir import int8_model_path

    path = int8_model_path(target)
    model = read_model(path)
    inputs, outputs = model.input_tensors(), model.output_tensors()
    if len(inputs) == 1 and len(outputs) == 1:
        (inp,), (out,) = inputs, outputs
        fits = takes_fashion_images(model) and int(np.prod(out.shape)) == NUM_CLASSES
        if fits and inp.dtype == np.int8:
            return model
        takes = (
            f"takes {inp.dtype.name} {list(inp.shape)} and gives {int(np.prod(out.shape))} outputs"
        )
    else:
        takes = f"has {len(inputs)} inputs and {len(outputs)} outputs"
    raise LinkError(
        f"--validate sends Fashion-MNIST test images and needs a model with one 1x28x28x1 int8 "
        f"input and 10 class outputs; {path} {takes}"
    )


def validate(
    link: BoardLink,
    model_target: str | Path,
    count: int,
    *,
    data_dir=None,
    frame_timeout_s: float = 10.0,
    retries: int = 3,
    on_result: Callable[[SampleResult], None] | None = None,
    on_progress=None,
) -> ValidationReport:
    """Send ``count`` test images one frame at a time and compare the board's answers with the
    host's int8 reference, image by image. Ctrl-C ends early with the report so far.
    ``on_progress`` follows the host reference run (see ``tinycnn.progress``)."""
    started = time.monotonic()
    model = validation_model(model_target)
    hello = link.hello()
    if hello.sha256 != model.sha256[: len(hello.sha256)]:
        raise LinkError(
            f"the board runs model {hello.model!r} (sha256 {hello.sha256}), not "
            f"{model_target} (sha256 {model.sha256[:16]}): export and upload "
            "that model, or pass the right --model"
        )
    images, labels, outputs = _host_reference(
        model, count, hello.fields.get("rounding", BOARD_CONVENTION), data_dir, on_progress
    )
    report = ValidationReport(hello=hello, port=link.port, requested=count, link=link.stats)
    try:
        for index in range(count):
            result = SampleResult(
                index,
                int(labels[index]),
                None,
                None,
                int(np.argmax(outputs[index])),
                int(outputs[index].max()),
                None,
                0,
            )
            frame = image_frame(index, images[index], int(labels[index]))
            while result.board_class is None and result.attempts <= retries:
                result.attempts += 1
                try:
                    link.write(frame)
                except Reconnected:
                    continue  # send the frame again
                deadline = time.monotonic() + frame_timeout_s
                while time.monotonic() < deadline:
                    event = link.read_event(deadline - time.monotonic())
                    if (
                        isinstance(event, Prediction)
                        and event.source == "host"
                        and event.sample_id == index
                    ):
                        problem = prediction_problem(event, hello.classes)
                        if problem:
                            report.board_errors.append(f"protocol error id={index}: {problem}")
                            report.protocol_errors += 1
                            break  # an impossible answer: ask again
                        result.board_class, result.board_score = event.predicted, event.score
                        result.latency_us = event.latency_us
                        break
                    if isinstance(event, BoardError):
                        report.board_errors.append(
                            f"{event.code} id={event.sample_id}: {event.message}"
                        )
                        if event.sample_id == index:
                            break  # the board dropped this frame: resend it
                    if isinstance(event, Hello) and event.fields.get("why") == "boot":
                        report.board_errors.append("board reset (boot banner seen mid-run)")
                        break  # what the board was computing is gone: resend
            report.results.append(result)
            if on_result:
                on_result(result)
    except KeyboardInterrupt as exc:
        report.interrupted = True
        report.interrupt = exc
    except PortLost as exc:
        report.port_lost = str(exc)
    report.seconds = time.monotonic() - started
    return report


@dataclass
class ListenStats:
    """Running figures of listen mode. Accuracy counts labelled predictions only (a board
    reports ``true=-1`` when it does not know); a PRED line with impossible values is a
    protocol error, kept apart from the figures."""

    classes: int
    labels: dict[int, str] = field(default_factory=dict)  # class -> name, model's or board's
    predictions: int = 0
    labelled: int = 0
    correct: int = 0
    latencies_us: list[int] = field(default_factory=list)
    protocol_errors: list[str] = field(default_factory=list)

    def add(self, event: Prediction) -> str | None:
        """Count one prediction; the protocol problem instead when it has one."""
        problem = prediction_problem(event, self.classes)
        if problem:
            self.protocol_errors.append(f"id={event.sample_id}: {problem}")
            return problem
        self.labels.setdefault(event.predicted, event.label)
        self.predictions += 1
        self.latencies_us.append(event.latency_us)
        if event.true_label >= 0:
            self.labelled += 1
            self.correct += event.predicted == event.true_label
        return None

    def label(self, index: int) -> str:
        return self.labels.get(index, f"class {index}")

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.labelled if self.labelled else None

    def latency(self) -> dict[str, float]:
        if not self.latencies_us:
            return {}
        values = np.array(self.latencies_us, dtype=np.float64)
        return {
            "mean_us": float(values.mean()),
            "p50_us": float(np.percentile(values, 50)),
            "p95_us": float(np.percentile(values, 95)),
        }


def model_labels(target: str | Path | None) -> dict[int, str]:
    """Class names of a RUN_DIR's model (its config.json), or none for a bare .tflite."""
    from tinycnn.rundir import class_names, resolve_target

    if target is None or not resolve_target(target).is_dir():
        return {}
    return dict(enumerate(class_names(target) or []))


def listen(
    link: BoardLink,
    on_event: Callable,
    duration_s: float | None = None,
    idle_timeout_s: float = 1.0,
) -> None:
    """Pass every protocol line to ``on_event`` until ``duration_s`` elapses (or forever)."""
    deadline = None if duration_s is None else time.monotonic() + duration_s
    while deadline is None or time.monotonic() < deadline:
        wait = (
            idle_timeout_s
            if deadline is None
            else min(idle_timeout_s, max(0.0, deadline - time.monotonic()))
        )
        event = link.read_event(wait)
        if event is not None:
            on_event(event)


def _is_emulated(board_name: str | None) -> bool:
    """Whether the board that said hello is an emulated one (its timer counts instructions)."""
    from tinycnn.boards import BOARD_NAMES, load_board

    return board_name in BOARD_NAMES and load_board(board_name).qemu_machine is not None
