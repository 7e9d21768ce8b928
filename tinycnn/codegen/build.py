"""The one Cortex-M build step: compile C sources with a board's flags and link them into an
ELF for the emulated board (its startup code and linker script), as `export` does for the
qemu_m4 firmware and `bench` for its profiling and CMSIS-NN firmwares; and the arm-none-eabi
tools it needs."""

from __future__ import annotations

import shutil
from pathlib import Path

from tinycnn.boards import EMULATED_BOARD, load_board
from tinycnn.errors import TinycnnError
from tinycnn.processes import run

FIRMWARE_CFLAGS = (
    "-std=c99",
    "-O2",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-ffunction-sections",
    "-fdata-sections",
)
QEMU_LDFLAGS = (
    "-nostartfiles",
    "-T",
    "link.ld",
    "-Wl,--gc-sections",
    "--specs=nano.specs",
    "-lgcc",
)


class BuildError(TinycnnError):
    """An arm-none-eabi tool is missing, or compiling or linking failed."""


def arm_tool(name: str = "arm-none-eabi-gcc") -> str:
    """The path of an arm-none-eabi tool (gcc, size, ar), or BuildError with the install."""
    path = shutil.which(name)
    if not path:
        raise BuildError(
            f"{name} not found; install it with "
            "`apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi`"
        )
    return path


def first_error(stderr: str) -> str:
    """The line of a compiler's or linker's output that says what went wrong."""
    lines = stderr.splitlines()
    return next((line for line in lines if "error" in line or "undefined" in line), stderr[-300:])


def firmware_cflags(board_name: str = EMULATED_BOARD, portable: bool = False) -> list[str]:
    """The flags tinycnn builds a board's firmware with (``-DTC_PORTABLE``: the plain C)."""
    board = load_board(board_name)
    return [*board.cflags, *FIRMWARE_CFLAGS, *(["-DTC_PORTABLE"] if portable else [])]


def compile_object(work: Path, source: Path, flags: list[str], obj: Path) -> None:
    """``source`` compiled to ``obj`` with ``flags``, in ``work``."""
    result = run(
        [arm_tool(), *flags, "-c", str(source), "-o", str(obj)],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        raise BuildError(f"compiling {source.name} failed: {first_error(result.stderr)}")


def link_firmware(
    work: Path,
    inputs: list[str],
    board_name: str = EMULATED_BOARD,
    *,
    flags: list[str] = (),
    libraries: list[Path] = (),
    map_file: bool = False,
) -> Path:
    """Compile (C sources) and link (objects, ``libraries``) ``inputs`` in ``work`` into
    work/firmware.elf for the emulated ``board_name`` (its startup code and link.ld must be
    in ``work``); with ``map_file``, work/firmware.map too."""
    board = load_board(board_name)
    command = [arm_tool(), *board.cflags, *flags, *map(str, inputs), *map(str, libraries)]
    command += [*QEMU_LDFLAGS, *(["-Wl,-Map=firmware.map"] if map_file else [])]
    result = run(
        [*command, "-o", "firmware.elf"], cwd=work, capture_output=True, text=True, timeout=300
    )
    if result.returncode != 0:
        raise BuildError(f"building the firmware failed: {first_error(result.stderr)}")
    return work / "firmware.elf"


def section_sizes(elf: Path) -> dict[str, int]:
    """arm-none-eabi-size of an ELF: text, data and bss bytes."""
    report = run(
        [arm_tool("arm-none-eabi-size"), str(elf)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    text, data, bss = (int(v) for v in report.strip().splitlines()[-1].split()[:3])
    return {"text": text, "data": data, "bss": bss}


def build_firmware(
    work: Path, sources: list[str], board_name: str = EMULATED_BOARD
) -> tuple[Path, dict[str, int]]:
    """``sources`` in ``work`` compiled and linked into work/firmware.elf with the firmware's
    flags; its section sizes."""
    elf = link_firmware(work, sources, board_name, flags=list(FIRMWARE_CFLAGS))
    return elf, section_sizes(elf)
