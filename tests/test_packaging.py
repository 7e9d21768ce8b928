"""A non-editable install carries firmware/ and boards/ inside the package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import REPO_ROOT


def test_wheel_install_ships_firmware_and_boards(tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(REPO_ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    package = target / "tinycnn"
    assert (package / "boarddefs" / "nano33.toml").is_file()
    assert (package / "firmware" / "README.md").is_file()
    for source in (REPO_ROOT / "firmware").glob("*.[ch]"):
        assert (package / "firmware" / source.name).is_file(), source.name
    assert Path(package / "cli" / "__init__.py").is_file()
    for module in (REPO_ROOT / "tinycnn").rglob("*.py"):  # every package of the tree, whole
        shipped = package / module.relative_to(REPO_ROOT / "tinycnn")
        assert shipped.is_file(), f"{shipped} missing: add its package to pyproject.toml"
    assert (package / "templates" / "common" / "model.c.j2").is_file()
    assert (package / "ref" / "conv.py").is_file() and (
        package / "codegen" / "planner.py"
    ).is_file()
    templates = sorted(p.name for p in (REPO_ROOT / "tinycnn" / "templates" / "ops").glob("*.j2"))
    assert sorted(p.name for p in (package / "templates" / "ops").glob("*.j2")) == templates
    # The pretrained zoo ships whole, so `pip install` users can `export zoo:NAME`.
    for folder in (REPO_ROOT / "tinycnn" / "pretrained").glob("*"):
        for file in folder.iterdir():
            assert (package / "pretrained" / folder.name / file.name).is_file(), file
