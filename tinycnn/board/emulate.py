"""Running an emulated board's firmware in QEMU (today qemu_m4: mps2-an386, a Cortex-M4 with
a CMSDK UART); boards with the same core name it as their ``emulator``."""

from __future__ import annotations

import re
import select
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinycnn.boards import EMULATED_BOARD, load_board
from tinycnn.errors import TinycnnError
from tinycnn.model.engines import BOARD_CONVENTION
from tinycnn.model.ir import Model
from tinycnn.processes import spawn, stop, work_dir

QEMU = "qemu-system-arm"
RUNNER_INPUT_BYTES = 1 << 20  # inputs embedded per runner build: mps2-an386 has 4 MB of flash


class EmulatorError(TinycnnError):
    """QEMU is missing or the firmware cannot be started."""


def qemu_command(elf: Path, serial: str = "pty", board: str = EMULATED_BOARD) -> list[str]:
    """The QEMU command line: no display, no monitor, UART0 on ``serial`` (``pty`` or ``stdio``),
    and ``-icount shift=0`` so that one instruction takes one virtual nanosecond and the
    board's SysTick counts instructions, not host time."""
    qemu = shutil.which(QEMU)
    if not qemu:
        raise EmulatorError(f"{QEMU} not found; install it with `apt-get install qemu-system-arm`")
    if not Path(elf).is_file():
        raise EmulatorError(f"{elf} not found")
    board = load_board(board)
    return [
        qemu,
        "-M",
        board.qemu_machine,
        "-display",
        "none",
        "-monitor",
        "none",
        "-serial",
        serial,
        "-icount",
        "shift=0",
        "-kernel",
        str(elf),
    ]


class Emulator:
    """An emulated board's firmware running in QEMU with its UART on a pseudo-terminal.

    Use as a context manager; the QEMU process is killed on exit, whatever happened (and by
    the kernel if tinycnn itself dies: see ``tinycnn.processes``). ``running`` and ``failure``
    say whether QEMU still runs and, once it stopped, its exit status and message: the
    monitor's ``wait_for_board`` uses them to tell a firmware that crashed from a silent one.
    """

    def __init__(
        self,
        elf: Path,
        start_timeout_s: float = 30.0,
        tcp_port: int | None = None,
        board: str = EMULATED_BOARD,
    ):
        """With ``tcp_port`` the UART is a TCP server on 127.0.0.1 (pyserial ``socket://``)
        instead of a pty: a restarted emulator keeps the same address, like a board that
        resets and re-enumerates on the same port."""
        self.elf, self.start_timeout_s, self.tcp_port = Path(elf), start_timeout_s, tcp_port
        self.board = board
        self.process = None
        self.port: str | None = None
        self._stderr = None

    def start(self) -> Emulator:
        serial = (
            "pty" if self.tcp_port is None else f"tcp:127.0.0.1:{self.tcp_port},server=on,wait=off"
        )
        command = qemu_command(self.elf, serial=serial, board=self.board)
        # An unnamed temporary file: QEMU's diagnostics for the error message, and nothing
        # left on disk whatever happens.
        self._stderr = tempfile.TemporaryFile()
        self.process = spawn(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._stderr
        )
        try:
            if self.tcp_port is not None:
                self._wait_for_tcp(time.monotonic() + self.start_timeout_s)
            else:
                self._wait_for_pty(time.monotonic() + self.start_timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_for_pty(self, deadline: float) -> None:
        seen = b""
        while time.monotonic() < deadline and self.process.poll() is None:
            ready, _, _ = select.select([self.process.stdout], [], [], 0.2)
            if ready:
                seen += self.process.stdout.read1(4096)  # QEMU names the pty on stdout
                found = re.search(rb"char device redirected to (\S+)", seen)
                if found:
                    self.port = found.group(1).decode()
                    return
        raise EmulatorError(f"QEMU did not start: {self.failure() or 'no pty within the time'}")

    def failure(self) -> str:
        """QEMU's exit status and its most telling stderr line, once it has exited."""
        line = ""
        if self._stderr is not None:
            self._stderr.seek(0)
            lines = [
                text.strip()
                for text in self._stderr.read()[-65536:].decode(errors="replace").splitlines()
                if text.strip()
            ]
            # QEMU's own message ("qemu: fatal: Lockup ...") precedes a register dump.
            line = next((text for text in lines if text.startswith("qemu")), "")
            line = line or (lines[-1] if lines else "")
        if self.process is None or self.process.poll() is None:
            return line
        status = self.process.returncode
        if status in (-signal.SIGABRT, 128 + signal.SIGABRT):
            how = "aborted, SIGABRT"
        elif status < 0:
            how = f"killed by {signal.Signals(-status).name}"
        else:
            how = f"exit status {status}"
        return f"QEMU stopped ({how})" + (f": {line}" if line else "")

    def _wait_for_tcp(self, deadline: float) -> None:
        import socket

        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", self.tcp_port), timeout=0.5).close()
                self.port = f"socket://127.0.0.1:{self.tcp_port}"
                return
            except OSError:
                time.sleep(0.1)
        raise EmulatorError(
            f"QEMU did not open 127.0.0.1:{self.tcp_port}: {self.failure() or 'timed out'}"
        )

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait(self, duration_s: float | None = None) -> bool:
        """Let the board run for ``duration_s`` seconds (None: until interrupted); False if
        QEMU stopped by itself first."""
        deadline = None if duration_s is None else time.monotonic() + duration_s
        while self.running() and (deadline is None or time.monotonic() < deadline):
            time.sleep(0.2)
        return self.running()

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            if self.process.stdout is not None:
                self.process.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def firmware_for(
    target: str | Path, cache_dir: Path | None = None, data_dir=None, board: str = EMULATED_BOARD
) -> Path:
    """The emulated ``board``'s ELF for a RUN_DIR or .tflite (exported into a cache folder
    once), or the given .elf itself."""
    import hashlib

    from tinycnn.codegen.export import export
    from tinycnn.codegen.render import sources_digest
    from tinycnn.model.tflite_io import read_tflite
    from tinycnn.outputs import OutputError
    from tinycnn.outputs import cache_dir as default_cache_dir
    from tinycnn.rundir import int8_model_path, resolve_target

    target = resolve_target(target)
    if target.suffix == ".elf":
        if not target.is_file():
            raise EmulatorError(f"{target} not found")
        return target
    model_path = int8_model_path(target)
    digest = hashlib.sha256(read_tflite(model_path)).hexdigest()[:16]
    root = cache_dir or default_cache_dir(board)
    out_dir = root / f"fw_{digest}_{sources_digest()}"
    elf = out_dir / "firmware.elf"
    if not elf.is_file():
        try:
            export(target, board, out_dir, force=True, data_dir=data_dir)
        except OutputError:  # another process builds this very firmware: wait for it
            deadline = time.monotonic() + FIRMWARE_WAIT_S
            while not elf.is_file() and time.monotonic() < deadline:
                time.sleep(0.5)
            if not elf.is_file():
                raise EmulatorError(
                    f"{out_dir}: another process has been building this firmware for over "
                    f"{FIRMWARE_WAIT_S} s"
                ) from None
    return elf


FIRMWARE_WAIT_S = 300  # for a cached firmware another process is building


@dataclass
class EmulatedRun:
    outputs: np.ndarray  # raw outputs, batch first, in the model's output dtype
    microseconds: list[int]  # board timer per inference; under icount, instructions / 1000


def run_on_emulator(
    model: Model,
    inputs: np.ndarray,
    convention: str = BOARD_CONVENTION,
    timeout_s: float = 300.0,
    board: str = EMULATED_BOARD,
) -> EmulatedRun:
    """Run a batch through the generated C cross-compiled for an emulated board's core (the
    Cortex-M4 with its DSP instructions unless ``board`` names another) in QEMU: the code a
    board runs, not the host build. The inputs travel in the firmware's flash,
    RUNNER_INPUT_BYTES at most per build."""
    (inp,), (out,) = model.input_tensors(), model.output_tensors()
    if len(inputs) == 0:
        return EmulatedRun(np.empty((0, *out.shape[1:]), out.dtype), [])
    step = max(1, RUNNER_INPUT_BYTES // max(1, inp.size_bytes))
    outputs, microseconds = [], []
    for start in range(0, len(inputs), step):
        chunk = inputs[start : start + step]
        for line in _run_chunk(model, chunk, convention, timeout_s, board):
            match = re.fullmatch(r"TC1 OUT ([0-9a-f]*) us=(\d+)", line)
            if match:
                outputs.append(np.frombuffer(bytes.fromhex(match.group(1)), dtype=out.dtype))
                microseconds.append(int(match.group(2)))
        if len(outputs) != min(start + step, len(inputs)):
            raise EmulatorError(
                f"the emulated board answered {len(outputs) - start} of {len(chunk)} inputs"
            )
    return EmulatedRun(np.stack(outputs).reshape(len(inputs), *out.shape[1:]), microseconds)


def write_runner(
    model: Model,
    work: Path,
    convention: str,
    inputs: np.ndarray,
    main,
    board_name: str = EMULATED_BOARD,
    portable: bool = False,
    **context,
):
    """The model's generated C (weights as int16 where the core has the DSP extension and the
    flash allows: wide_weights_fit; never for a ``portable`` build, whose loops gain nothing
    from them), the bare-metal layer of emulated ``board_name`` and ``main`` (a (template,
    file) pair) with ``inputs`` embedded, in ``work``; more template values in ``context``.
    Returns the GeneratedModel."""
    from tinycnn import __version__
    from tinycnn.codegen.projects import write_qemu_platform
    from tinycnn.codegen.render import render_model, template_environment, wide_weights_fit

    board = load_board(board_name)
    generated = render_model(
        model,
        work,
        convention=convention,
        prefix="model",
        wide_weights=wide_weights_fit(model, board.flash_bytes, board.dsp and not portable),
    )
    values = {
        "version": __version__,
        "board": board,
        "prefix": generated.prefix,
        "calls": len(generated.calls),
        "count": len(inputs),
        "input_bytes": np.frombuffer(np.ascontiguousarray(inputs).tobytes(), np.uint8),
        **context,
    }
    write_qemu_platform(template_environment(), work, values, main=main)
    return generated


def _run_chunk(
    model: Model, inputs: np.ndarray, convention: str, timeout_s: float, board: str
) -> list[str]:
    """Build the runner firmware with ``inputs`` embedded, boot it, return its lines."""
    from tinycnn.codegen.build import build_firmware

    with work_dir() as work:
        write_runner(model, work, convention, inputs, ("qemu/runner.c.j2", "runner.c"), board)
        sources = sorted(p.name for p in work.iterdir() if p.suffix == ".c")
        elf, _ = build_firmware(work, sources, board)
        return read_lines(
            qemu_command(elf, serial="stdio", board=board),
            lambda lines: "TC1 END" in lines,
            timeout_s,
        )


def read_lines(
    command: list[str], done: Callable[[list[str]], bool], timeout_s: float
) -> list[str]:
    """Run ``command`` (QEMU with its UART on stdio), collect its output lines until
    ``done(lines)`` or ``timeout_s``, then kill it."""
    process = spawn(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL
    )
    lines, buffer = [], b""
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and not done(lines):
            ready, _, _ = select.select([process.stdout], [], [], 0.5)
            if not ready:
                continue
            chunk = process.stdout.read1(65536)
            if not chunk:
                break
            buffer += chunk
            *complete, buffer = buffer.split(b"\n")
            lines += [line.decode(errors="replace").strip() for line in complete]
    finally:
        stop(process)
        process.stdout.close()
    return lines
