"""Running the qemu_m4 firmware in QEMU's mps2-an386 (a Cortex-M4 with a CMSDK UART)."""

from __future__ import annotations

import shutil
from pathlib import Path

from tinycnn.boards import load_board
from tinycnn.errors import TinycnnError

QEMU = "qemu-system-arm"


class EmulatorError(TinycnnError):
    """QEMU is missing or the firmware cannot be started."""


def qemu_command(elf: Path, serial: str = "pty") -> list[str]:
    """The QEMU command line: no display, no monitor, UART0 on ``serial`` (``pty`` or ``stdio``),
    and ``-icount shift=0`` so that one instruction takes one virtual nanosecond and the
    board's SysTick counts instructions, not host time."""
    qemu = shutil.which(QEMU)
    if not qemu:
        raise EmulatorError(f"{QEMU} not found; install it with `apt-get install qemu-system-arm`")
    if not Path(elf).is_file():
        raise EmulatorError(f"{elf} not found")
    board = load_board("qemu_m4")
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
