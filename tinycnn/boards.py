"""The boards tinycnn exports to: boards/<name>.toml, listed explicitly here."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources

import tomllib

from tinycnn.errors import TinycnnError

BOARD_NAMES = ("nano33", "portenta_h7", "nano_rp2040", "disco_l475vg", "nucleo_f746zg", "qemu_m4")
FRAMEWORKS = ("arduino", "mbed", "baremetal")


class UnknownBoard(TinycnnError):
    """A board name that is not in the registry."""


@dataclass(frozen=True)
class Board:
    name: str
    description: str
    mcu: str
    cpu: str
    fpu: str
    clock_hz: int
    flash_bytes: int
    ram_bytes: int
    framework: str
    serial_baud: int
    cflags: tuple[str, ...]
    framework_flash_bytes: int  # what the framework itself takes (an estimate for Arduino/Mbed)
    framework_ram_bytes: int
    fqbn: str | None = None
    mbed_target: str | None = None
    qemu_machine: str | None = None
    uart_base: int | None = None
    extra: dict = field(default_factory=dict)


def load_board(name: str) -> Board:
    if name not in BOARD_NAMES:
        raise UnknownBoard(f"unknown board {name!r}; known boards: {', '.join(BOARD_NAMES)}")
    text = resources.files("tinycnn.boarddefs").joinpath(f"{name}.toml").read_text()
    data = tomllib.loads(text)
    if data.get("framework") not in FRAMEWORKS:
        raise UnknownBoard(f"board {name}: framework must be one of {FRAMEWORKS}")
    data["cflags"] = tuple(data["cflags"])
    return Board(**data)


def all_boards() -> list[Board]:
    return [load_board(name) for name in BOARD_NAMES]
