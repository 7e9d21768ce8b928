"""Speed, flash and RAM on the emulated Cortex-M4 beside CMSIS-NN: benchmarks/cortex-m.md.

    .venv/bin/python benchmarks/cortex_m.py                 # every model below not yet measured
    .venv/bin/python benchmarks/cortex_m.py seed_cnn --force
    .venv/bin/python benchmarks/cortex_m.py --report        # cortex-m.md from cortex-m.json

The five third-party-shaped models (keyword spotting, ResNet-8, MobileNet at 96x96, temporal
depthwise, FC autoencoder) come from benchmarks/shapes.py, converted on first use.

Each model goes through `tinycnn bench` (tinycnn/board/bench.py): instructions per layer with the DSP
kernels and the portable C, CMSIS-NN's kernels for the same layers with the same weights, flash
by owner, the planned arena against TFLite Micro's, the painted stack, and the host timings.
Figures land in cortex-m.json as each model finishes; a model already there is skipped.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from history import with_history
from shapes import BUILDERS, model_path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "cortex-m.json"
REPORT = Path(__file__).resolve().parent / "cortex-m.md"
SHARED = ROOT.parent / "shared" / "models"

# name: (target, where it comes from)
MODELS = {
    "seed_cnn": ("runs/zoo/seed_cnn", "`benchmarks/zoo.py seed_cnn` (tinycnn's 2-layer CNN)"),
    "person_detect": (
        str(SHARED / "person_detect.tflite"),
        "the TFLite Micro repository (../shared/models)",
    ),
    "zoo:micro": ("zoo:micro", "shipped pretrained (benchmarks/zoo.md)"),
    "zoo:small": ("zoo:small", "shipped pretrained (benchmarks/zoo.md)"),
    "zoo:large": ("zoo:large", "shipped pretrained (benchmarks/zoo.md)"),
    "zoo:lstm80": ("zoo:lstm80", "shipped pretrained integer LSTM (benchmarks/zoo.md)"),
    **{
        name: (f"shapes:{name}", f"`benchmarks/shapes.py`: {description}")
        for name, (_, description) in BUILDERS.items()
    },
}
GOALS = {
    "dsp_per_mac": 1.2,
    "portable_per_mac": 4.0,
    "ram_vs_tflm": 0.30,
    "runtime_code": 6 * 1024,
    "host_vs_tflm": 3.0,
}


def load() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}


def save(results: dict) -> None:
    partial = RESULTS.with_suffix(".json.partial")
    partial.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    partial.replace(RESULTS)


# The other emulated cores, each with CMSIS-NN beside it: "NAME@CORE" keys in the JSON.
OTHER_CORES = {
    "qemu_m7": "Cortex-M7 (mps2-an500; Portenta H7, Nucleo-F746ZG)",
    "qemu_m3": "Cortex-M3 without DSP (mps2-an385; the RP2040's closest), portable C",
}


def measure(name: str, core: str = "qemu_m4") -> dict | None:
    from tinycnn.board.bench import bench
    from tinycnn.errors import TinycnnError

    target, _ = MODELS[name]
    if target.startswith("shapes:"):
        target = str(model_path(name))
    try:
        report = bench(
            target,
            board=core,
            images=3,
            host_rounds=5 if core == "qemu_m4" else 0,
            on_step=lambda text: print(f"  {name} on {core}: {text}", flush=True),
        )
    except TinycnnError as exc:
        print(f"  {name}: skipped ({exc})", flush=True)
        return None
    data = report.to_json()
    shown = target
    if target.startswith(str(ROOT.parent / "shared")):
        shown = "../shared/models/" + Path(target).name
    elif target.startswith(str(ROOT)):
        shown = str(Path(target).relative_to(ROOT))
    data["command"] = f"tinycnn bench {shown}" + ("" if core == "qemu_m4" else f" --board {core}")
    return data


def _ratio(a, b) -> str:
    return f"{a / b:.2f}x" if a and b else "-"


def _layers_above(r: dict) -> list[str]:
    """'call OPCODE (ratio)' for each layer that takes more instructions than CMSIS-NN's."""
    return [
        f"{layer['call']} {layer['opcode']} ({layer['instructions'] / layer['cmsis_instructions']:.2f}x)"
        for layer in r["layers"]
        if layer["cmsis_instructions"] and layer["instructions"] > layer["cmsis_instructions"]
    ]


def _other_cores(results: dict) -> list[str]:
    """The table of the same models on the Cortex-M7 and the Cortex-M3, CMSIS-NN beside."""
    lines = [
        "",
        "## Other cores",
        "",
        "The same firmware built for the core (`tinycnn bench --board qemu_m7|qemu_m3`), CMSIS-NN",
        "compiled for the same core beside it. On the Cortex-M3 neither has the DSP extension:",
        "tinycnn's portable C against CMSIS-NN's plain C.",
        "",
        "| model | core | instr. | instr./MAC | CMSIS-NN instr. | tinycnn / CMSIS-NN "
        "| layers above CMSIS-NN |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for name in MODELS:
        for core, description in OTHER_CORES.items():
            r = results.get(f"{name}@{core}")
            if not r:
                continue
            above = _layers_above(r)
            compared = sum(1 for layer in r["layers"] if layer["cmsis_instructions"])
            lines.append(
                f"| {name} | {description} | {r['instructions']:,} | {r['per_mac']:.2f} "
                f"| {(r['cmsis_instructions'] or 0):,} "
                f"| {_ratio(r['tinycnn_instructions_on_cmsis_layers'], r['cmsis_instructions'])} "
                f"| {len(above)} of {compared}{': ' + ', '.join(above) if above else ''} |"
            )
    return lines


def _mark(ok: bool) -> str:
    return "met" if ok else "**not met**"


def report(results: dict) -> str:
    lines = [
        "# tinycnn on a Cortex-M4, beside CMSIS-NN",
        "",
        "Written by `benchmarks/cortex_m.py` from `benchmarks/cortex-m.json`. Every count is",
        "**instructions executed** on QEMU's mps2-an386 (Cortex-M4 with the DSP extension) under",
        "`-icount shift=0`, read from SysTick around each kernel call (resolution 40 instructions),",
        "mean of 3 test inputs; not cycles: a real Cortex-M4 spends more cycles than instructions on",
        "loads, branches and multiplies, so the millisecond figures for the Nano 33 BLE's 64 MHz are",
        "estimates and lower bounds. CMSIS-NN (`../shared/third_party/cmsis-nn`, compiled at `-O2`",
        "for the same core) runs the same layers with the same weights on the input the reference",
        "engine gave each layer; its outputs are compared with the reference's (every layer below",
        "agreed unless noted). tinycnn's firmware is built at the flags `tinycnn export` uses.",
        "",
        "| model | MACs | DSP instr. | instr./MAC | portable instr./MAC | CMSIS-NN instr. "
        "| tinycnn / CMSIS-NN | runtime code B | weights B | arena B (fused) | unfused "
        "| TFLM arena B | arena / TFLM | stack B | host C us | TFLM us | LiteRT ref us "
        "| LiteRT us | Nano 33 BLE ms (est.) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in MODELS:
        r = results.get(name)
        if not r:
            continue
        host = r.get("host", {})
        cells = [
            name,
            f"{r['macs']:,}",
            f"{r['instructions']:,}",
            f"{r['per_mac']:.2f}",
            f"{r['portable_per_mac']:.2f}",
            f"{(r['cmsis_instructions'] or 0):,}",
            _ratio(r["tinycnn_instructions_on_cmsis_layers"], r["cmsis_instructions"]),
            f"{r['flash']['runtime_code']:,}",
            f"{r['flash']['weights']:,}",
            f"{r['arena_bytes']:,}",
            f"{r['unfused_arena_bytes']:,}",
            f"{(r['tflm_arena_bytes'] or 0):,}",
            _ratio(r["arena_bytes"], r["tflm_arena_bytes"]),
            f"{r['stack_bytes']:,}",
            *(f"{host.get(key, 0):,.0f}" for key in ("c", "tflm", "litert_ref", "litert")),
            f"{r['instructions'] / 64_000:.1f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## The issue's goals", "", "| model | goal | measured | |", "|---|---|---|---|"]
    for name in MODELS:
        r = results.get(name)
        if not r:
            continue
        host = r.get("host", {})
        checks = [
            (
                "at most 1.2 instructions/MAC, DSP",
                f"{r['per_mac']:.2f}",
                r["per_mac"] <= GOALS["dsp_per_mac"],
            ),
            (
                "at most 4 instructions/MAC, portable",
                f"{r['portable_per_mac']:.2f}",
                r["portable_per_mac"] <= GOALS["portable_per_mac"],
            ),
        ]
        slower = [
            f"{layer['call']} {layer['opcode']} ({layer['instructions'] / layer['cmsis_instructions']:.2f}x)"
            for layer in r["layers"]
            if layer["cmsis_instructions"]
            and layer["instructions"] > layer["cmsis_instructions"]
            and any(k in layer["opcode"] for k in ("CONV", "FULLY"))
        ]
        checks.append(
            (
                "fewer instructions than CMSIS-NN on every conv, depthwise and dense layer",
                "all" if not slower else "slower on " + ", ".join(slower),
                not slower,
            )
        )
        above = _layers_above(r)
        checks.append(
            (
                "no layer of any kind above CMSIS-NN (issue 25)",
                "none" if not above else ", ".join(above),
                not above,
            )
        )
        if r["cmsis_instructions"]:
            total = r["tinycnn_instructions_on_cmsis_layers"] / r["cmsis_instructions"]
            checks.append(
                ("model total at most 0.7x CMSIS-NN (issue 25)", f"{total:.2f}x", total <= 0.7)
            )
        if r["tflm_arena_bytes"]:
            ratio = r["arena_bytes"] / r["tflm_arena_bytes"]
            checks.append(
                (
                    "arena at most 30 % of TFLM's",
                    f"{100 * ratio:.0f} %",
                    ratio <= GOALS["ram_vs_tflm"],
                )
            )
            if any(layer["opcode"] == "DEPTHWISE_CONV_2D" for layer in r["layers"]):
                checks.append(
                    (
                        "arena at most 0.5x TFLM's, depthwise-separable (issue 25)",
                        f"{ratio:.2f}x",
                        ratio <= 0.5,
                    )
                )
        for layer in r["layers"]:
            if layer["opcode"] == "UNIDIRECTIONAL_SEQUENCE_LSTM" and layer["macs"]:
                per_mac = layer["instructions"] / layer["macs"]
                checks.append(
                    ("LSTM at most 2 instructions/MAC (issue 25)", f"{per_mac:.2f}", per_mac <= 2.0)
                )
        checks.append(
            (
                "runtime code at most 6 KB",
                f"{r['flash']['runtime_code']:,} B",
                r["flash"]["runtime_code"] <= GOALS["runtime_code"],
            )
        )
        if host.get("c") and host.get("tflm"):
            speedup = host["tflm"] / host["c"]
            checks.append(
                (
                    "host C at least 3x faster than TFLM",
                    f"{speedup:.2f}x",
                    speedup >= GOALS["host_vs_tflm"],
                )
            )
        for goal, measured, ok in checks:
            lines.append(f"| {name} | {goal} | {measured} | {_mark(ok)} |")
    lines += _other_cores(results)
    for name in MODELS:
        r = results.get(name)
        if not r:
            continue
        target, origin = MODELS[name]
        lines += [
            "",
            f"## {name}",
            "",
            f"From {origin}. Reproduce: `{r['command']}`.",
            "",
            "| call | op | MACs | DSP instr. | /MAC | portable | CMSIS-NN | tinycnn / CMSIS-NN |",
            "|---:|---|---:|---:|---:|---:|---:|---:|",
        ]
        for layer in r["layers"]:
            per_mac = f"{layer['per_mac']:.2f}" if layer["per_mac"] else "-"
            cmsis = (
                f"{layer['cmsis_instructions']:,}"
                if layer["cmsis_instructions"]
                else (layer["cmsis_note"] or "-")
            )
            ratio = _ratio(layer["instructions"], layer["cmsis_instructions"])
            lines.append(
                f"| {layer['call']} | {layer['opcode']} | {layer['macs']:,} | {layer['instructions']:,} "
                f"| {per_mac} | {layer['portable_instructions']:,} | {cmsis} | {ratio} |"
            )
        notes = [
            f"call {layer['call']}: {layer['cmsis_note']}"
            for layer in r["layers"]
            if layer["cmsis_note"] and layer["cmsis_note"] != "no CMSIS-NN kernel"
        ]
        if notes:
            lines += ["", *notes]
        if r.get("host_note"):
            lines += ["", f"Host: {r['host_note']}"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", help=f"among {', '.join(MODELS)} (default: all)")
    parser.add_argument(
        "--force", action="store_true", help="measure again models already in the JSON"
    )
    parser.add_argument("--report", action="store_true", help="only write cortex-m.md")
    parser.add_argument(
        "--cores",
        default="qemu_m4," + ",".join(OTHER_CORES),
        help="emulated cores to measure on, comma-separated (default: all three)",
    )
    args = parser.parse_args()
    unknown = [m for m in args.models if m not in MODELS]
    if unknown:
        sys.exit(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(MODELS)}")
    results = load()
    if not args.report:
        for core in args.cores.split(","):
            for name in args.models or list(MODELS):
                key = name if core == "qemu_m4" else f"{name}@{core}"
                if key in results and not args.force:
                    print(f"{key}: measured already (--force to measure again)")
                    continue
                data = measure(name, core)
                if data:
                    results[key] = data
                    save(results)
    REPORT.write_text(with_history(REPORT, report(results)))
    print(f"wrote {REPORT}")


if __name__ == "__main__":
    main()
