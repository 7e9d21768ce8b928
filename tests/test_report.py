"""`tinycnn report`: one self-contained HTML page, rendered in a real headless Chromium with
no console error, no broken image and no request leaving the machine."""

from __future__ import annotations

import re
import shutil

import pytest
from click.testing import CliRunner
from PIL import Image

from tinycnn.cli import cli
from tinycnn.insight.browser import check_page

pytestmark = pytest.mark.slow  # headless Chromium and QEMU

PARTS = ("summary", "training", "accuracy", "verification", "budget", "emulation", "pictures")


def _assert_self_contained(html: str) -> None:
    sources = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert sources, "no images or links at all"
    outside = [s for s in sources if not s.startswith(("data:image/png;base64,", "#"))]
    assert not outside, outside[:3]
    assert "<script" not in html


def test_report_of_a_run_renders_in_chromium(seed_cnn_run, tmp_path):
    out, shot = tmp_path / "page.html", tmp_path / "page.png"
    result = CliRunner().invoke(
        cli,
        [
            "report",
            str(seed_cnn_run),
            "--out",
            str(out),
            "--images",
            "40",
            "--screenshot",
            str(shot),
        ],
    )
    assert result.exit_code == 0, result.output
    assert re.search(
        r"chromium: loaded in \d+ ms, (\d+) images, 0 broken, 0 console errors", result.output
    )
    html = out.read_text()
    _assert_self_contained(html)
    toolchain = shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")
    for part in PARTS:
        if part == "emulation" and not toolchain:
            assert "not computed: emulation" in result.output
            continue
        assert f'<h2 id="{part}">' in html, part
    if toolchain:
        assert "not computed" not in result.output, result.output
        assert 'id="missing"' not in html
    assert "bit-exact" in html and "confusion matrix" in html

    page = check_page(out, tmp_path / "again.png", full_page=True)
    assert page.clean, (page.console_errors, page.broken_images, page.outside_requests)
    assert page.images >= 14  # curves, confusion, misclassified, 3 plots, 9 pictures
    with Image.open(shot) as image:
        assert image.size == (1200, 900)
    with Image.open(tmp_path / "again.png") as image:
        assert image.size[0] == 1200 and image.size[1] > 5000  # the whole page


def test_report_of_a_pretrained_model_lists_what_it_lacks(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["report", "zoo:micro", "--images", "20", "--no-emulate"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "report_micro.html"
    assert f"wrote {out.name}" in result.output
    assert "not computed: training: no history.json" in result.output
    assert "not computed: emulation: not asked for (--no-emulate)" in result.output
    html = out.read_text()
    _assert_self_contained(html)
    assert "recorded in zoo.json at training time" in html  # the float accuracy's source
    assert "gradients need a run directory" in html
    page = check_page(out)
    assert page.clean and page.images >= 5 and not page.broken_images


def test_report_never_replaces_a_file_that_is_not_a_report(seed_cnn_run, tmp_path):
    precious = tmp_path / "notes.html"
    precious.write_text("<html>my notes</html>")
    result = CliRunner().invoke(cli, ["report", str(seed_cnn_run), "--out", str(precious)])
    assert result.exit_code == 1
    assert "exists and is not a tinycnn report; pass --force" in result.output
    assert precious.read_text() == "<html>my notes</html>"
    result = CliRunner().invoke(
        cli, ["report", str(seed_cnn_run), "--out", str(seed_cnn_run / "model_int8.tflite")]
    )
    assert result.exit_code == 1 and "Traceback" not in result.output


def test_report_needs_a_model(tmp_path):
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(cli, ["report", str(tmp_path / "empty")])
    assert result.exit_code == 1
    assert "no int8 model to report on" in result.output and "tinycnn quantize" in result.output
    assert not (tmp_path / "empty" / "report.html").exists()


def test_browser_check_sees_errors(tmp_path):
    """The check itself can fail: a broken image, a console error and a request outside."""
    page = tmp_path / "bad.html"
    page.write_text(
        '<!DOCTYPE html><html><body><img src="missing.png">'
        '<img src="http://127.0.0.1:9/x.png"><script>console.error("boom")</script></body></html>'
    )
    check = check_page(page)
    assert not check.clean
    assert "boom" in check.console_errors
    assert "missing.png" in check.broken_images
    assert check.outside_requests == ["http://127.0.0.1:9/x.png"]


def test_a_signal_during_the_report_keeps_its_name(monkeypatch):
    """SIGTERM while the report's verification ran said "Ctrl-C" and exited 130: the part
    re-raised a bare KeyboardInterrupt. It re-raises the signal that stopped it (143)."""
    import signal

    import tinycnn.engines.verify as verify_module
    from tinycnn.insight import report as report_module
    from tinycnn.processes import Interrupted, exit_code_for, signal_name

    class Stopped:
        interrupted, interrupt = True, Interrupted(signal.SIGTERM)

    monkeypatch.setattr(verify_module, "verify", lambda *args, **kwargs: Stopped())
    with pytest.raises(KeyboardInterrupt) as caught:
        report_module.verification_part("run", 10, None, None)
    assert signal_name(caught.value) == "SIGTERM" and exit_code_for(caught.value) == 143


def test_the_training_table_is_written_for_people():
    """It printed raw floats (0.9054259061813354) and `best_epoch None`."""
    from tinycnn.training.console import metric_rows

    rows = dict(
        metric_rows(
            {"test_accuracy": 0.9054259061813354, "best_epoch": None, "parameters": 34826,
             "mean_epoch_seconds": 41.93771, "model": "seed_cnn"}
        )
    )  # fmt: skip
    assert rows == {
        "test_accuracy": "90.54 %",
        "parameters": "34,826",
        "mean_epoch_seconds": "41.9 s",
        "model": "seed_cnn",
    }
