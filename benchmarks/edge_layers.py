"""Single layers of shapes the benchmark models lack, beside CMSIS-NN on the emulated Cortex-M4.

    .venv/bin/python benchmarks/edge_layers.py            # every layer below (about 10 s each)
    .venv/bin/python benchmarks/edge_layers.py max2x2_24x24x16 fc5to1

Each layer is a one-layer Keras model converted to int8 by the real converter (seeded weights,
uniform calibration inputs; counts do not depend on the values), written once into
benchmarks/models/layer_NAME.tflite, and measured by `tinycnn bench` (one image, no host
timing). It prints one row per layer: tinycnn's instructions, CMSIS-NN's, the ratio. These are
the shapes where a layer's fixed cost or an unusual channel count decides: unfused max pools,
pointwise convolutions of few channels, depth multiplier 2, dense layers of a few units.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

MODELS_DIR = Path(__file__).resolve().parent / "models"

LAYERS = {
    "max2x2_24x24x16": (lambda L: L.MaxPooling2D(2), (24, 24, 16)),
    "max3x3s2_17x17x8": (lambda L: L.MaxPooling2D(3, strides=2, padding="same"), (17, 17, 8)),
    "max2x2_6x6x3": (lambda L: L.MaxPooling2D(2), (6, 6, 3)),
    "conv1x1_3to16_32x32": (lambda L: L.Conv2D(16, 1), (32, 32, 3)),
    "conv1x1_6to12_16x16": (lambda L: L.Conv2D(12, 1, activation="relu"), (16, 16, 6)),
    "conv1x1_3to5_8x8": (lambda L: L.Conv2D(5, 1), (8, 8, 3)),
    "conv1x1s2_10to6_15x15": (lambda L: L.Conv2D(6, 1, strides=2), (15, 15, 10)),
    "dw_dm2_16x16x8": (
        lambda L: L.DepthwiseConv2D(3, depth_multiplier=2, padding="same"),
        (16, 16, 8),
    ),
    "fc64to2": (lambda L: L.Dense(2), (64,)),
    "fc6to5": (lambda L: L.Dense(5), (6,)),
    "fc5to1": (lambda L: L.Dense(1), (5,)),
}


def layer_model(name: str) -> Path:
    """benchmarks/models/layer_NAME.tflite, converted on first use."""
    path = MODELS_DIR / f"layer_{name}.tflite"
    if path.is_file():
        return path
    from tinycnn.quantization.quantize import convert_int8
    from tinycnn.tfenv import keras

    keras.utils.set_random_seed(0)
    make, shape = LAYERS[name]
    inputs = keras.layers.Input(shape)
    model = keras.Model(inputs, make(keras.layers)(inputs))
    calibration = np.random.default_rng(0).uniform(-1, 1, (64, *shape)).astype(np.float32)
    MODELS_DIR.mkdir(exist_ok=True)
    partial = path.with_suffix(".tflite.partial")
    partial.write_bytes(convert_int8(model, calibration))
    partial.replace(path)
    return path


def main() -> None:
    from tinycnn.board.bench import bench

    names = sys.argv[1:] or list(LAYERS)
    unknown = [n for n in names if n not in LAYERS]
    if unknown:
        sys.exit(f"unknown layer(s) {', '.join(unknown)}; known: {', '.join(LAYERS)}")
    print(f"{'layer':24s} {'kind':18s} {'tinycnn':>9s} {'CMSIS-NN':>9s}  ratio")
    for name in names:
        report = bench(layer_model(name), images=1, host_rounds=0).to_json()
        for layer in report["layers"]:
            cmsis = layer["cmsis_instructions"]
            ratio = f"{layer['instructions'] / cmsis:.2f}x" if cmsis else "-"
            print(
                f"{name:24s} {layer['opcode'][:18]:18s} {layer['instructions']:9,d} "
                f"{cmsis or 0:9,d}  {ratio}",
                flush=True,
            )


if __name__ == "__main__":
    main()
