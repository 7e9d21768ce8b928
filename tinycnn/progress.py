"""Progress of long work: library functions report it, the command line draws it.

A long library function takes ``on_progress`` (a ``Progress``, or None for silence) and calls
it with the step's name, how much is done and the total, and optionally a short detail
(``loss 0.4312``). ``TerminalProgress`` draws one self-overwriting line per step on a terminal
and nothing when the stream is not one (a pipe, a CI log) or when asked to be quiet (``--json``).
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Protocol, TextIO


class Progress(Protocol):
    def __call__(self, label: str, done: int, total: int, detail: str = "") -> None: ...


def report(on_progress: Progress | None, label: str, done: int, total: int, detail: str = ""):
    """Call ``on_progress`` if there is one."""
    if on_progress is not None:
        on_progress(label, done, total, detail)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"{seconds} s"


class TerminalProgress:
    """Draws ``label [#####.....] done/total detail, 0:42 left`` on one line of ``stream``."""

    def __init__(self, stream: TextIO | None = None, enabled: bool | None = None, width: int = 24):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.width = width
        self._label: str | None = None
        self._started = 0.0
        self._last_draw = 0.0
        self._open_line = False

    def __call__(self, label: str, done: int, total: int, detail: str = "") -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if label != self._label:
            self.close()
            self._label, self._started = label, now
        finished = total > 0 and done >= total
        if not finished and now - self._last_draw < 0.1:
            return  # redraw at most ten times a second
        self._last_draw = now
        filled = int(self.width * min(done, total) / total) if total > 0 else 0
        bar = "#" * filled + "." * (self.width - filled)
        line = f"{label} [{bar}] {done}/{total}"
        if detail:
            line += f"  {detail}"
        elapsed = now - self._started
        if finished:
            line += f"  {_duration(elapsed)}"
        elif done > 0 and elapsed > 1.0:
            line += f"  {_duration(elapsed * (total - done) / done)} left"
        self.stream.write("\r\033[K" + line)
        self._open_line = True
        if finished:
            self.close()
        self.stream.flush()

    def close(self) -> None:
        """End the current line (before other output, or when the work stops early)."""
        if self._open_line:
            self.stream.write("\n")
            self.stream.flush()
        self._open_line = False
        self._label = None


@contextmanager
def terminal_progress(quiet: bool = False):
    """A ``TerminalProgress`` on stderr for the length of a ``with`` block (silent with
    ``quiet``, as under ``--json``); its line is ended however the block ends."""
    progress = TerminalProgress(sys.stderr, enabled=False if quiet else None)
    try:
        yield progress
    finally:
        progress.close()
