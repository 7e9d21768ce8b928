"""The boards tinycnn exports to: boards/<name>.toml, listed explicitly here."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources

import tomllib

from tinycnn.errors import TinycnnError

BOARD_NAMES = (
    "nano33",
    "portenta_h7",
    "nano_rp2040",
    "disco_l475vg",
    "nucleo_f746zg",
    "qemu_m4",
    "qemu_m7",
    "qemu_m3",
)
FRAMEWORKS = ("arduino", "mbed", "baremetal")
# The board QEMU emulates (its machine named in its .toml): what `emulate`, `bench` and the
# engines "m4" run on unless a board is named. Other boards name theirs as `emulator`.
EMULATED_BOARD = "qemu_m4"


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
    emulator: str | None = None  # the emulated board with this board's core, if there is one
    extra: dict = field(default_factory=dict)

    @property
    def dsp(self) -> bool:
        """Whether the core has the DSP extension (SXTB16, SMLAD), which the firmware's TC_DSP
        paths use: the Cortex-M4, M7, M33, M35P, M55 and M85 unless built without it."""
        cpus = [flag.split("=", 1)[1] for flag in self.cflags if flag.startswith("-mcpu=")]
        with_dsp = (
            "cortex-m4",
            "cortex-m7",
            "cortex-m33",
            "cortex-m35p",
            "cortex-m55",
            "cortex-m85",
        )
        return any(cpu.split("+")[0] in with_dsp and "+nodsp" not in cpu for cpu in cpus)


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


def emulated_board(name: str) -> Board:
    """The emulated board that runs ``name``'s core: the board itself when QEMU emulates it,
    else the one its .toml names as ``emulator``; UnknownBoard names the boards that can be
    emulated when there is none."""
    board = load_board(name)
    if board.qemu_machine:
        return board
    if board.emulator:
        return load_board(board.emulator)
    can = [b.name for b in all_boards() if b.qemu_machine or b.emulator]
    raise UnknownBoard(
        f"board {name} ({board.cpu}) has no emulated core; boards that can be emulated: "
        f"{', '.join(can)}"
    )


def boards_table() -> str:
    """What `tinycnn boards` prints: one line per board."""
    lines = [f"{'board':<14} {'cpu':<14} {'clock':>8} {'flash':>9} {'RAM':>8}  framework  target"]
    for board in all_boards():
        target = board.fqbn or board.mbed_target or board.qemu_machine or ""
        lines.append(
            f"{board.name:<14} {board.cpu:<14} {board.clock_hz // 1_000_000:>5} MHz "
            f"{board.flash_bytes // 1024:>6} KB {board.ram_bytes // 1024:>5} KB  "
            f"{board.framework:<9}  {target}"
        )
    return "\n".join(lines)
