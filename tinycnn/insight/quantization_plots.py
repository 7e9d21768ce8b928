"""What quantization costs, as pictures (`tinycnn verify --plots DIR`): the per-layer SQNR
of the int8 model against the float one, a histogram of the float and dequantized int8
activations of the layer that loses most, and each weighted layer's per-channel weight range
against the range its chosen scale can represent."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from tinycnn.insight.figures import pyplot, save_png
from tinycnn.model.ir import Model
from tinycnn.outputs import check_output_dir
from tinycnn.ref import depthwise_conv
from tinycnn.ref.registry import definition_for

MAX_WEIGHT_PANELS = 9
EXACT_DB_SHOWN = 100.0  # where an error-free layer's bar ends (its SQNR is infinite)


def sqnr_chart(layers, path: Path) -> Path:
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(max(6.0, 0.7 * len(layers) + 2), 4.2))
    positions = np.arange(len(layers))
    for offset, attribute, label in (
        (-0.2, "sqnr_db", "whole int8 model up to this layer"),
        (0.2, "local_sqnr_db", "this layer alone (float input)"),
    ):
        values = [getattr(layer, attribute) for layer in layers]
        shown = [EXACT_DB_SHOWN if math.isinf(v) and v > 0 else max(v, 0.0) for v in values]
        bars = axis.bar(positions + offset, shown, width=0.4, label=label)
        for bar, value in zip(bars, values, strict=True):
            text = "exact" if math.isinf(value) and value > 0 else f"{value:.1f}"
            axis.annotate(
                text,
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=7,
            )
    worst = next((i for i, layer in enumerate(layers) if layer.worst), None)
    labels = [layer.layer + (" (worst)" if i == worst else "") for i, layer in enumerate(layers)]
    axis.set_xticks(positions, labels, rotation=45, ha="right", fontsize=8)
    axis.set_ylabel("SQNR against the float model (dB)")
    axis.set_xlabel("Keras layer")
    axis.set_title("Signal-to-quantization-noise ratio per layer (higher is better)")
    axis.legend(fontsize=8)
    return save_png(figure, path)


def activation_histogram(layer, path: Path) -> Path:
    plt = pyplot()
    reference, approximation = layer.values
    figure, axis = plt.subplots(figsize=(7, 4.2))
    low = float(min(reference.min(), approximation.min()))
    high = float(max(reference.max(), approximation.max()))
    bins = np.linspace(low, high if high > low else low + 1.0, 81)
    axis.hist(reference, bins=bins, histtype="step", linewidth=1.5, label="float (Keras)")
    axis.hist(
        approximation,
        bins=bins,
        histtype="step",
        linewidth=1.5,
        label="int8, dequantized (reference engine)",
    )
    axis.set_yscale("log")
    axis.set_xlabel("activation (real value)")
    axis.set_ylabel("count (log scale)")
    axis.set_title(
        f"{layer.layer} ({layer.opcode}), the layer that loses most: SQNR {layer.local_sqnr_db:.1f} dB"
        f" alone, {layer.sqnr_db:.1f} dB in the model; {len(reference):,} values",
        fontsize=9,
    )
    axis.legend(fontsize=8)
    return save_png(figure, path)


def weighted_layers(model: Model) -> list:
    """The ops with weights and multiply-accumulates (conv, depthwise, dense), constant and
    quantized."""
    return [
        op
        for op in model.operators
        if definition_for(op).weighted
        and definition_for(op).macs
        and model.tensors[op.inputs[1]].is_constant
        and model.tensors[op.inputs[1]].quantization is not None
    ]


def channel_ranges(model: Model, op) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(min, max, scale) per output channel of an op's weights, in real values."""
    weights = model.tensors[op.inputs[1]]
    axis = weights.quantization.axis if weights.quantization.per_channel else 0
    if definition_for(op) is depthwise_conv.OP:  # [1, k_h, k_w, channels]
        axis = len(weights.shape) - 1
    values = np.moveaxis(weights.data.astype(np.float64), axis, 0).reshape(weights.shape[axis], -1)
    scale = np.broadcast_to(weights.quantization.scale.astype(np.float64), (values.shape[0],))
    return values.min(axis=1) * scale, values.max(axis=1) * scale, scale


def weight_ranges_chart(model: Model, path: Path) -> Path:
    plt = pyplot()
    ops = weighted_layers(model)
    shown = ops[:MAX_WEIGHT_PANELS]
    columns = min(3, len(shown))
    rows = -(-len(shown) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.6 * columns, 3.2 * rows), squeeze=False)
    for axis, op in zip(axes.ravel(), shown, strict=False):
        low, high, scale = channel_ranges(model, op)
        channels = np.arange(len(low))
        axis.vlines(channels, low, high, linewidth=2, color="tab:blue", label="weights min..max")
        axis.step(
            channels,
            127 * scale,
            where="mid",
            color="tab:red",
            linewidth=1,
            label="±127 x chosen scale",
        )
        axis.step(channels, -128 * scale, where="mid", color="tab:red", linewidth=1)
        per_tensor = float(np.max(np.maximum(np.abs(low), np.abs(high))))
        axis.axhline(
            per_tensor,
            color="gray",
            linestyle="--",
            linewidth=1,
            label="one per-tensor scale's range",
        )
        axis.axhline(-per_tensor, color="gray", linestyle="--", linewidth=1)
        kind = (
            "per channel" if model.tensors[op.inputs[1]].quantization.per_channel else "per tensor"
        )
        name = model.tensors[op.outputs[0]].name.split(";")[0][-40:]
        axis.set_title(f"#{op.index} {op.opcode} ({kind})\n{name}", fontsize=8)
        axis.set_xlabel("output channel")
        axis.set_ylabel("weight (real value)")
    for axis in axes.ravel()[len(shown) :]:
        axis.axis("off")
    axes.ravel()[0].legend(fontsize=7, loc="lower left")
    more = f" (the first {len(shown)} of {len(ops)})" if len(ops) > len(shown) else ""
    figure.suptitle(
        f"Weight ranges per output channel and the int8 range of their scale{more}", fontsize=10
    )
    figure.tight_layout()
    return save_png(figure, path)


def write_plots(report, out_dir: str | Path) -> tuple[list[Path], list[str]]:
    """The pictures of a verify report (its model is read again from ``report.model``);
    returns (files written, what was skipped and why)."""
    from tinycnn.model.tflite_io import read_model

    model = read_model(report.model)
    out_dir = check_output_dir(out_dir, "--plots")
    out_dir.mkdir(parents=True, exist_ok=True)
    written, skipped = [], []
    if report.layers:
        written.append(sqnr_chart(report.layers, out_dir / "sqnr_per_layer.png"))
        worst = next(layer for layer in report.layers if layer.worst)
        written.append(activation_histogram(worst, out_dir / "worst_layer_histogram.png"))
    else:
        skipped.append(
            "SQNR chart and histogram: they need the float model (give a run directory with "
            "model.keras and Fashion-MNIST inputs)"
        )
    if weighted_layers(model):
        written.append(weight_ranges_chart(model, out_dir / "weight_ranges.png"))
    else:
        skipped.append("weight ranges: the model has no quantized conv or dense weights")
    return written, skipped


def plot_lines(report, out_dir: str | Path) -> list[str]:
    """``write_plots``, and what `verify --plots` prints of it: each file, each skipped plot."""
    written, skipped = write_plots(report, out_dir)
    return [f"wrote {path}" for path in written] + [f"not drawn: {reason}" for reason in skipped]
