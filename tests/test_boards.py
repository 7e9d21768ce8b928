"""The board registry (tinycnn/boards.py): every board loads, and each names its emulated
core, where there is one, through the registry only."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from tinycnn.boards import BOARD_NAMES, EMULATED_BOARD, UnknownBoard, emulated_board, load_board
from tinycnn.cli import cli


@pytest.mark.parametrize("name", BOARD_NAMES)
def test_every_board_loads(name):
    board = load_board(name)
    assert board.name == name and board.flash_bytes > 0 and board.ram_bytes > 0
    assert board.emulator in (None, *BOARD_NAMES)


def test_a_board_runs_on_the_emulated_board_with_its_core():
    """The Cortex-M4 boards on qemu_m4, the Cortex-M7 ones on qemu_m7; QEMU has no Cortex-M0+
    board, so the RP2040 runs on the Cortex-M3 without DSP (qemu_m3), the one exception."""
    assert emulated_board(EMULATED_BOARD).name == EMULATED_BOARD
    for name in BOARD_NAMES:
        board = load_board(name)
        assert board.qemu_machine or board.emulator, name
        expected = "cortex-m3" if board.cpu == "cortex-m0plus" else board.cpu
        assert emulated_board(name).cpu == expected, name
    assert emulated_board("portenta_h7").name == "qemu_m7"
    assert emulated_board("nano_rp2040").name == "qemu_m3"


@pytest.fixture
def rp2040_without_emulator(monkeypatch):
    """nano_rp2040 as a board whose core QEMU does not emulate (every shipped board has one)."""
    from dataclasses import replace

    from tinycnn import boards

    original = boards.load_board

    def load(name):
        board = original(name)
        return replace(board, emulator=None) if name == "nano_rp2040" else board

    monkeypatch.setattr(boards, "load_board", load)


def test_a_board_without_an_emulated_core_is_refused(rp2040_without_emulator):
    with pytest.raises(UnknownBoard, match="board nano_rp2040 .* has no emulated core") as raised:
        emulated_board("nano_rp2040")
    assert "nano33" in str(raised.value) and EMULATED_BOARD in str(raised.value)


def test_emulate_refuses_a_board_without_an_emulated_core_in_one_line(
    tmp_path, rp2040_without_emulator
):
    result = CliRunner().invoke(
        cli, ["emulate", str(tmp_path / "fw.elf"), "--board", "nano_rp2040"]
    )
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and "has no emulated core" in errors[0], result.output


def test_boards_table_lists_every_board():
    from tinycnn.boards import boards_table

    lines = boards_table().splitlines()
    assert len(lines) == 1 + len(BOARD_NAMES)
    assert [line.split()[0] for line in lines[1:]] == list(BOARD_NAMES)
