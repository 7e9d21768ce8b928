"""The documentation stays true: docs/commands.md is what `--help` says today, and every
relative link in README.md and docs/*.md leads to a file that exists."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "command_reference.py"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

FENCED_BLOCK = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _command_reference() -> str:
    spec = importlib.util.spec_from_file_location("command_reference", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.command_reference()


def test_the_command_reference_is_up_to_date():
    committed = (ROOT / "docs" / "commands.md").read_text()
    assert _command_reference() == committed, (
        "docs/commands.md is out of date: run .venv/bin/python scripts/command_reference.py"
    )


def _relative_links(page: Path) -> list[str]:
    """The link targets of a Markdown page outside code, without anchors or web addresses."""
    text = INLINE_CODE.sub("", FENCED_BLOCK.sub("", page.read_text()))
    targets = []
    for target in LINK.findall(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # https:, mailto:, or a heading on the same page
        targets.append(target.split("#", 1)[0])
    return targets


def test_every_relative_link_leads_to_a_file():
    assert len(PAGES) > 5, "README.md and the pages of docs/"
    broken = [
        f"{page.relative_to(ROOT)}: {target}"
        for page in PAGES
        for target in _relative_links(page)
        if not (page.parent / target).exists()
    ]
    assert not broken, "links to nothing:\n" + "\n".join(broken)


def test_the_zoo_table_gives_each_architecture_its_parameter_count():
    """docs/training.md's zoo table: every architecture of the registry, each with the
    parameters `tinycnn zoo` counts for it at width 1."""
    from tinycnn.zoo.catalogue import architectures

    text = (ROOT / "docs" / "training.md").read_text()
    documented = {
        name: int(count.replace(",", ""))
        for name, count in re.findall(r"^\| `(\w+)` \|.*\| ([\d,]+) / [^|]+\|$", text, re.M)
    }
    counted = {row.name: row.parameters for row in architectures()}
    zoo = {name: count for name, count in counted.items() if name not in ("dnn", "seed_cnn")}
    assert documented == zoo
