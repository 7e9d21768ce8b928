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
    assert emulated_board(EMULATED_BOARD).name == EMULATED_BOARD
    for name in BOARD_NAMES:
        board = load_board(name)
        if board.qemu_machine or board.emulator:
            assert emulated_board(name).cpu == board.cpu, name


@pytest.mark.parametrize("name", ["portenta_h7", "nano_rp2040", "nucleo_f746zg"])
def test_a_board_without_an_emulated_core_is_refused(name):
    with pytest.raises(UnknownBoard, match=f"board {name} .* has no emulated core") as raised:
        emulated_board(name)
    assert "nano33" in str(raised.value) and EMULATED_BOARD in str(raised.value)


def test_emulate_refuses_a_board_without_an_emulated_core_in_one_line(tmp_path):
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
