"""A benchmark page's "History" section: dated figures of earlier code, written by hand below
the part a script generates, and kept when the script writes the page again."""

from __future__ import annotations

from pathlib import Path

HEADING = "## History"


def with_history(page: Path, generated: str) -> str:
    """``generated`` followed by the History section ``page`` holds now, if it holds one."""
    if not page.is_file():
        return generated
    old = page.read_text()
    start = old.find(f"\n{HEADING}\n")
    if start < 0:
        return generated
    return generated.rstrip("\n") + "\n\n" + old[start + 1 :]
