"""The zoo: the registry's architectures with their size and work, and the pretrained int8
models shipped in the package (``zoo:NAME``) with what was measured on them.

A pretrained folder (``tinycnn/pretrained/NAME/``) reads like a quantized run directory
(``model_int8.tflite``, ``config.json``, ``metrics.json``) plus ``zoo.json``: the command
that trained it, the targets it was made for, and its measured figures (float and int8
accuracy on the 10,000 test images, parameters, MACs, flash, planned RAM, Cortex-M4
instructions per inference), written by ``benchmarks/zoo.py``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tinycnn.boards import EMULATED_BOARD
from tinycnn.rundir import PRETRAINED_DIR, ZOO_FILE, ZOO_PREFIX, pretrained_names, read_json

# The size classes the pretrained models are made for (issue targets, int8 on the test set).
TARGETS = {
    "micro": {"max_parameters": 20_000, "max_macs": 1_500_000, "accuracy": 0.935},
    "small": {"max_parameters": 100_000, "max_macs": 5_000_000, "accuracy": 0.945},
    "large": {"max_weight_bytes": 400_000, "max_arena_bytes": 128 * 1024, "accuracy": 0.950},
}


@dataclass(frozen=True)
class ArchitectureRow:
    name: str
    description: str
    parameters: int  # every weight and bias once batch normalization is folded
    macs: int


def keras_counts(model) -> tuple[int, int]:
    """(parameters, MACs) of a float Keras model as its int8 conversion will have them:
    conv, depthwise and dense weights plus one bias per output channel (batch normalization
    folds into them), an LSTM's input and recurrent weights and biases; MACs of those
    layer kinds (an LSTM's per time step)."""
    parameters = macs = 0
    for layer in _layers(model):
        kind = type(layer).__name__
        if kind == "LSTM":  # four gates: input and recurrent weights, one bias each
            kernel, recurrent, bias = layer.get_weights()
            parameters += kernel.size + recurrent.size + bias.size
            macs += layer.input.shape[1] * (kernel.size + recurrent.size)  # per time step
            continue
        if kind not in ("Conv2D", "DepthwiseConv2D", "Dense"):
            continue
        kernel = layer.get_weights()[0]
        outputs = (
            kernel.shape[2] * kernel.shape[3] if kind == "DepthwiseConv2D" else kernel.shape[-1]
        )
        parameters += kernel.size + outputs
        spatial = 1 if kind == "Dense" else layer.output.shape[1] * layer.output.shape[2]
        macs += kernel.size * spatial
    return parameters, macs


def _layers(model):
    for layer in model.layers:
        if hasattr(layer, "layers"):  # a nested model
            yield from _layers(layer)
        else:
            yield layer


def architectures(
    width: float = 1.0, depth: int | None = None, names: tuple[str, ...] | None = None
) -> list[ArchitectureRow]:
    """Every registered architecture (or those ``names``), built at ``width``/``depth``
    (fixed-size ones as they are), with its parameters and MACs."""
    from tinycnn.training.models import INPUT_SHAPE, NUM_CLASSES, REGISTRY

    rows = []
    for spec in REGISTRY.values():
        if names and spec.name not in names:
            continue
        scale = {"width": width, "depth": depth} if spec.scalable else {}
        parameters, macs = keras_counts(spec.build(INPUT_SHAPE, NUM_CLASSES, **scale))
        rows.append(ArchitectureRow(spec.name, spec.description, parameters, macs))
    return rows


@dataclass(frozen=True)
class Measurement:
    weight_bytes: int  # flash: weights, biases, multipliers and shifts in the int8 layout
    arena_bytes: int  # RAM: the planned activation arena
    m4_instructions: int  # per inference on the emulated Cortex-M4 (QEMU icount)


def measure_architecture(name: str, width: float = 1.0, depth: int | None = None, data_dir=None):
    """Flash, planned RAM and Cortex-M4 instructions of an architecture: its untrained model
    (seeded weights) converted to int8 with 100 training images for calibration, exported for
    qemu_m4 and run once in QEMU. Size and work do not depend on the weights' values."""
    from tinycnn.board.emulate import run_on_emulator
    from tinycnn.codegen.export import export
    from tinycnn.model.tflite_io import read_model
    from tinycnn.processes import work_dir
    from tinycnn.quantization.inputs import fashion_images
    from tinycnn.quantization.quantize import convert_int8
    from tinycnn.tfenv import keras
    from tinycnn.training.data import load_fashion_mnist, to_float
    from tinycnn.training.models import INPUT_SHAPE, NUM_CLASSES, get_model_spec

    spec = get_model_spec(name)
    keras.utils.set_random_seed(0)
    scale = {"width": width, "depth": depth} if spec.scalable else {}
    model = spec.build(INPUT_SHAPE, NUM_CLASSES, **scale)
    calibration = to_float(load_fashion_mnist(data_dir).train_images[:100])
    content = convert_int8(model, calibration)
    with work_dir() as work:
        (work / "model.tflite").write_bytes(content)
        built = export(
            work / "model.tflite", EMULATED_BOARD, work / "fw", test_images=1, data_dir=data_dir
        )
    graph = read_model(content)
    run = run_on_emulator(graph, fashion_images(graph, 1, data_dir).values)
    from tinycnn.codegen.render import int8_weight_bytes

    return Measurement(
        int8_weight_bytes(graph), built.planned_arena_bytes, run.microseconds[0] * 1000
    )


def pretrained() -> list[dict]:
    """The shipped pretrained models' zoo.json records, with their ``zoo:NAME``."""
    return [
        {"target": ZOO_PREFIX + name, **read_json(PRETRAINED_DIR / name / ZOO_FILE)}
        for name in pretrained_names()
        if (PRETRAINED_DIR / name / ZOO_FILE).is_file()
    ]


def meets_target(name: str, record: dict) -> bool | None:
    """Whether a pretrained record meets its size class's target (None: no such class)."""
    target = TARGETS.get(name)
    if target is None:
        return None
    limits = {
        "max_parameters": "parameters",
        "max_macs": "macs",
        "max_weight_bytes": "weight_bytes",
        "max_arena_bytes": "arena_bytes",
    }
    within = all(record[field] <= target[key] for key, field in limits.items() if key in target)
    return within and record["int8_accuracy"] >= target["accuracy"]


FRONTIER_FILE = Path(__file__).parent / "frontier.json"  # written by benchmarks/zoo.py --report


def frontier() -> list[dict]:
    """Each architecture family's best measured row (int8 test accuracy, flash, instructions,
    the command that trained it), smallest first; empty when none was measured."""
    return json.loads(FRONTIER_FILE.read_text()) if FRONTIER_FILE.is_file() else []


def measure_all(rows: list[ArchitectureRow], width, depth, data_dir=None, echo=None) -> dict:
    """``measure_architecture`` for each row, by name; ``echo(text)`` hears of each start."""
    measured = {}
    for i, row in enumerate(rows, start=1):
        if echo:
            echo(f"measuring {row.name} ({i}/{len(rows)})...")
        measured[row.name] = measure_architecture(row.name, width, depth, data_dir)
    return measured


def catalogue_json(rows: list[ArchitectureRow], measured: dict, models: list[dict]) -> dict:
    """What `tinycnn zoo --json` prints."""
    from dataclasses import asdict

    architectures_json = [
        {**asdict(r), **(asdict(measured[r.name]) if r.name in measured else {})} for r in rows
    ]
    return {"architectures": architectures_json, "pretrained": models, "measured": frontier()}


def _frontier_lines() -> list[str]:
    rows = frontier()
    if not rows:
        return ["measured: no family measured yet (benchmarks/zoo.py)"]
    lines = [
        "measured, each family's best (int8 on the 10,000 test images; benchmarks/zoo.md):",
        f"  {'family':<18} {'width':>7} {'params':>8} {'flash B':>8} {'M4 instr':>11} {'int8 acc':>8}",
    ]
    for r in rows:
        width = f"{r['width']:g}" if r.get("width") else "-"
        lines.append(
            f"  {r['family']:<18} {width:>7} {r['parameters']:>8,} {r['weight_bytes']:>8,} "
            f"{r['m4_instructions']:>11,} {100 * r['int8_accuracy']:>7.2f}%"
        )
    return lines


def catalogue_text(rows, measured: dict, models: list[dict], width: float, depth) -> str:
    """What `tinycnn zoo` prints: the architectures, then the pretrained models."""
    lines = [
        f"architectures (at --width {width:g}{f' --depth {depth}' if depth else ''}; "
        "`tinycnn train --model NAME`):"
    ]
    extra = f" {'flash B':>9} {'RAM B':>8} {'M4 instr':>11}" if measured else ""
    lines.append(f"  {'name':<18} {'params':>9} {'MACs':>12}{extra}  description")
    for r in rows:
        m = measured.get(r.name)
        extra = f" {m.weight_bytes:>9,} {m.arena_bytes:>8,} {m.m4_instructions:>11,}" if m else ""
        lines.append(f"  {r.name:<18} {r.parameters:>9,} {r.macs:>12,}{extra}  {r.description}")
    lines += ["", *_frontier_lines(), ""]
    if not models:
        return "\n".join([*lines, "pretrained: none shipped in this install"])
    lines += [
        "pretrained (int8, measured; use zoo:NAME wherever a RUN_DIR or .tflite goes):",
        f"  {'name':<11} {'model':<26} {'params':>8} {'MACs':>10} {'flash B':>8} {'RAM B':>7} "
        f"{'M4 instr':>10} {'int8 acc':>8}  target",
    ]
    for m in models:
        met = meets_target(m["target"].split(":", 1)[1], m)
        verdict = {True: "met", False: "not met", None: "-"}[met]
        lines.append(
            f"  {m['target']:<11} {m['architecture']:<26} {m['parameters']:>8,} {m['macs']:>10,} "
            f"{m['weight_bytes']:>8,} {m['arena_bytes']:>7,} {m['m4_instructions']:>10,} "
            f"{100 * m['int8_accuracy']:>7.2f}%  {verdict}"
        )
    return "\n".join(lines)
