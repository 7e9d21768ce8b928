"""The course notebook, examples/tour.ipynb, runs end to end in a real Jupyter kernel: every
cell, from training a dense network to validating the CNN on the emulated Cortex-M4."""

from __future__ import annotations

import pytest
from conftest import REPO_ROOT

pytestmark = pytest.mark.slow  # the notebook trains models and boots QEMU

NOTEBOOK = REPO_ROOT / "examples" / "tour.ipynb"
CELL_TIMEOUT_S = 600


def test_tour_notebook_runs(tmp_path):
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert not any(cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), (
        "commit the notebook without outputs"
    )
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError with the cell and its traceback
    text = "\n".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )
    assert "m4: bit-exact" in text and "c: bit-exact" in text
    assert "the board agrees with the host on 100%" in text
    assert (tmp_path / "tour" / "nano33_sketch" / "nano33_sketch.ino").is_file()
    assert (tmp_path / "tour" / "pictures" / "grad_cam.png").is_file()
