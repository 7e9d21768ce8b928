"""Write tests/golden/*.npz: fixed expected data for regressions of known interpreter quirks.

Most tests compare the reference engine live against LiteRT and TFLite Micro, which is
stronger than stored data. Where a test pins down an interpreter's *own* behaviour (a
known difference that a later release may change), it reads a file made here. Each file
holds the model bytes, the inputs, every interpreter's outputs and the versions that
produced them, so a failing test can say which release changed what.

    .venv/bin/python tests/make_golden.py          # rewrite every file
"""

from __future__ import annotations

import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
GOLDEN_DIR = Path(__file__).parent / "golden"
PACKAGES = ("tensorflow", "ai-edge-litert", "tflite-micro")


def dilated_conv_case() -> dict[str, np.ndarray]:
    """TFLite Micro runs a dilated convolution (SPACE_TO_BATCH_ND, CONV_2D, BATCH_TO_SPACE_ND)
    wrongly: it keeps the batch of 1 the file records for the folded tensors and pads with 0,
    not the zero point. LiteRT's outputs are right and are recorded; TFLM's are not, because
    they are not even repeatable (measured with tflite-micro 0.dev20261023: two runs of the
    same inputs differ in about 100 of 1,936 values, stale arena memory)."""
    from op_harness import convert_case, random_inputs

    from tinycnn.model.interpreters import run_interpreter
    from tinycnn.model.tflite_io import read_model

    content = convert_case(
        lambda k, L, x: L.Conv2D(4, 3, padding="same", dilation_rate=2)(x), (11, 11, 1)
    )
    inputs = random_inputs(read_model(content), samples=4)
    return {
        "model": np.frombuffer(content, dtype=np.uint8),
        "inputs": inputs,
        "litert": run_interpreter("litert", content, inputs),
    }


CASES = {"tflm_dilated_conv": dilated_conv_case}


def versions() -> dict[str, np.ndarray]:
    return {f"version_{p}": np.array(version(p)) for p in PACKAGES}


def main() -> None:
    GOLDEN_DIR.mkdir(exist_ok=True)
    for name, make in CASES.items():
        path = GOLDEN_DIR / f"{name}.npz"
        np.savez_compressed(path, **make(), **versions())
        print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
