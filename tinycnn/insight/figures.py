"""Pictures: matplotlib on its non-interactive Agg backend, figures written as PNG through a
temporary name (a reader never sees half a picture), and the shared look of image grids.

Every picture labels what it shows: axes with their units, class names, colour bars.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from tinycnn.outputs import write_atomically

DPI = 100


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed, safe in threads and CI)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def png_bytes(figure) -> bytes:
    """The figure as PNG bytes; the figure is closed."""
    plt = pyplot()
    buffer = io.BytesIO()
    try:
        figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    finally:
        plt.close(figure)
    return buffer.getvalue()


def save_png(figure, path: str | Path) -> Path:
    """Write the figure to ``path`` atomically and close it; returns the path."""
    path = Path(path)
    write_atomically(path, png_bytes(figure))
    return path


def symmetric_limit(values: np.ndarray) -> float:
    """The colour limit that puts zero in the middle of a diverging map (1 for all zeros)."""
    largest = float(np.max(np.abs(values))) if values.size else 0.0
    return largest if largest > 0 else 1.0


def image_axis(axis, image: np.ndarray, title: str = "", **imshow) -> object:
    """Show a 2-D array without ticks; returns the image artist for a colour bar."""
    artist = axis.imshow(image, interpolation="nearest", **imshow)
    axis.set_xticks([])
    axis.set_yticks([])
    if title:
        axis.set_title(title, fontsize=8)
    return artist


def grid_shape(count: int, columns: int) -> tuple[int, int]:
    """(rows, columns) for ``count`` panels at most ``columns`` wide."""
    columns = max(1, min(columns, count))
    return -(-count // columns), columns
