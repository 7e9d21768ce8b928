"""Firmware projects, one writer per framework, chosen from the board definition through
``PROJECT_WRITERS``: an arduino-cli sketch, an Mbed CE program, or a bare-metal firmware for
QEMU's mps2-an386 that is built into an ELF here. Each writer adds its framework's files to a
folder that already holds the generated model, the runtime and ``tc_app.c``.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jinja2

from tinycnn.boards import Board
from tinycnn.codegen.build import FIRMWARE_CFLAGS, QEMU_LDFLAGS, build_firmware
from tinycnn.errors import TinycnnError

# The bare-metal layer of the emulated board: reset handler, UART and timer, linker script.
QEMU_PLATFORM_FILES = (
    ("qemu/startup.c.j2", "startup.c"),
    ("qemu/platform.c.j2", "platform.c"),
    ("qemu/platform.h.j2", "platform.h"),
    ("qemu/link.ld.j2", "link.ld"),
)


class ExportError(TinycnnError):
    """The model cannot be exported as asked (does not fit, folder exists, toolchain missing)."""


@dataclass
class ProjectBuild:
    build_command: str  # what the user runs next
    elf_sections: dict[str, int] | None = None  # arm-none-eabi-size of a firmware built here


def _render(environment: jinja2.Environment, work: Path, files, context: dict) -> None:
    for template, name in files:
        (work / name).write_text(environment.get_template(template).render(context))


def write_arduino(environment, work: Path, out_dir: Path, board: Board, context: dict):
    """``DIR/DIR.ino`` and ``sketch.yaml`` (the FQBN) for arduino-cli."""
    _render(
        environment,
        work,
        (
            ("arduino/sketch.ino.j2", f"{out_dir.name}.ino"),
            ("arduino/sketch.yaml.j2", "sketch.yaml"),
        ),
        context,
    )
    quoted = shlex.quote(str(out_dir))
    return ProjectBuild(f"arduino-cli compile --upload -p PORT --fqbn {board.fqbn} {quoted}")


def write_mbed(environment, work: Path, out_dir: Path, board: Board, context: dict):
    """An Mbed CE application: ``main.cpp``, ``mbed_app.json``, ``CMakeLists.txt``."""
    files = (
        ("mbed/main.cpp.j2", "main.cpp"),
        ("mbed/mbed_app.json.j2", "mbed_app.json"),
        ("mbed/CMakeLists.txt.j2", "CMakeLists.txt"),
    )
    _render(environment, work, files, context)
    return ProjectBuild(
        f"cd {shlex.quote(str(out_dir))} && git clone https://github.com/mbed-ce/mbed-os && "
        f"cmake -B build -GNinja -DMBED_TARGET={board.mbed_target} && ninja -C build  (then copy "
        "the .bin to the board's USB drive)"
    )


def write_qemu_platform(environment, work: Path, context: dict, main=("qemu/main.c.j2", "main.c")):
    """The bare-metal layer and a ``main`` (the app's, or the emulator's batch runner)."""
    _render(environment, work, (*QEMU_PLATFORM_FILES, main), context)


def write_qemu(environment, work: Path, out_dir: Path, board: Board, context: dict):
    """The bare-metal firmware with its Makefile, built here into ``firmware.elf``."""
    write_qemu_platform(environment, work, context)
    sources = sorted(p.name for p in work.iterdir() if p.suffix == ".c")
    makefile = {
        **context,
        "sources": sources,
        "cflags": [*board.cflags, *FIRMWARE_CFLAGS],
        "ldflags": QEMU_LDFLAGS,
    }
    _render(environment, work, (("qemu/Makefile.j2", "Makefile"),), makefile)
    _, sections = build_firmware(work, sources, board.name)
    elf = shlex.quote(str(out_dir / "firmware.elf"))
    return ProjectBuild(f"tinycnn emulate {elf} --board {board.name}", sections)


# Board framework -> the writer of its project.
PROJECT_WRITERS: dict[str, Callable[..., ProjectBuild]] = {
    "arduino": write_arduino,
    "mbed": write_mbed,
    "baremetal": write_qemu,
}
