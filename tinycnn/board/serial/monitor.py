"""The host side of the serial link: the link itself (reconnecting, bounded waits), waiting for
a board, and listening to its predictions (validation is in ``validation.py``).

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
    Hello,
    Prediction,
    hello_request,
    parse_line,
    prediction_problem,
)
from tinycnn.errors import TinycnnError

DEFAULT_BAUD = 115200
# The longest line read: an OUT line carries two hex digits per output value, and a board's
# output tensor can take most of its RAM (1 MiB on the largest board in the registry).
MAX_LINE_BYTES = 2 * 1024 * 1024 + 4096


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
            if len(self._buffer) > MAX_LINE_BYTES:  # no newline that long: noise, not lines
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
class ListenStats:
    """Running figures of listen mode. Accuracy counts labelled predictions only (a board
    reports ``true=-1`` when it does not know); a PRED line with impossible values is a
    protocol error, kept apart from the figures."""

    classes: int
    labels: dict[int, str] = field(default_factory=dict)  # class -> name, model's or board's
    predictions: int = 0
    outputs: int = 0  # OUT lines (whole output tensors)
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
    """Class names of the model a board runs (``class_names``: its metadata, its run), or
    none when no model is named (the board's own labels are used)."""
    from tinycnn.model.metadata import class_names
    from tinycnn.model.tflite_io import read_model
    from tinycnn.rundir import int8_model_path

    if target is None:
        return {}
    path = int8_model_path(target)
    return dict(enumerate(class_names(path, read_model(path))))


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
