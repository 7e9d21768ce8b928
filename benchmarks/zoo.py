"""The zoo benchmark: train the chosen configurations, quantize (PTQ and QAT), verify, export,
measure on the emulated Cortex-M4, and write benchmarks/zoo.md, zoo.json and zoo.png.

    .venv/bin/python benchmarks/zoo.py --list                 # the configurations
    .venv/bin/python benchmarks/zoo.py micro                  # one (or more) configurations
    .venv/bin/python benchmarks/zoo.py --report               # zoo.md and zoo.png from zoo.json
    .venv/bin/python benchmarks/zoo.py --package micro        # copy into tinycnn/pretrained/
    .venv/bin/python benchmarks/zoo.py --package micro2:micro # ship micro2 as zoo:micro
    .venv/bin/python benchmarks/zoo.py --remeasure-shipped large  # zoo:large's figures again

Hours of work: every step is resumable. A configuration's run lives in runs/zoo/NAME; an
interrupted training continues from its checkpoint (`tinycnn train --resume`), finished
steps are skipped, and each configuration's figures land in zoo.json as soon as it is done.
Training goes through the real CLI (the command recorded is the one that ran); set
TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 to run two configurations side by side.

Choices are made on the validation split (the last 10 % of the training images), never on
the test set: PTQ or QAT is kept by its int8 accuracy on that split. The test set is read
once per model, for the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from history import with_history

ROOT = Path(__file__).resolve().parent.parent
RUNS = ROOT / "runs" / "zoo"
RESULTS = Path(__file__).resolve().parent / "zoo.json"
REPORT = Path(__file__).resolve().parent / "zoo.md"
PLOT = Path(__file__).resolve().parent / "zoo.png"
# What `tinycnn zoo` shows of the measurements: each family's best row (from --report).
FRONTIER = ROOT / "tinycnn" / "zoo" / "frontier.json"
QAT_EPOCHS = 2
VERIFY_IMAGES = 1000
TIMED_IMAGES = 3

# name: (size class or None, `tinycnn train` arguments). The size classes' targets are in
# tinycnn/zoo/catalogue.py; the others are the architectures at a comparable size, for the chart.
CONFIGS: dict[str, tuple[str | None, list[str]]] = {
    "micro": (
        "micro",
        "--model mobilenet_tiny --width 0.875 --epochs 60 --early-stopping 15".split(),
    ),
    "small": ("small", "--model mobilenet_tiny --width 2 --epochs 30 --early-stopping 10".split()),
    "large": (
        "large",
        "--model mobilenet_tiny --width 3 --epochs 20 --early-stopping 6".split(),
    ),
    "seed_cnn": (None, "--model seed_cnn".split()),
    "dnn": (None, "--model dnn".split()),
    "lenet5": (None, "--model lenet5 --epochs 20".split()),
    # Recurrent: image rows as 28 time steps. 32 units; 80 units has seed_cnn's parameters.
    "lstm32": (None, "--model lstm_rows --epochs 15".split()),
    "lstm80": (None, "--model lstm_rows --width 2.5 --epochs 15".split()),
}
# The frontier: every family at the micro size class (<= 20,000 parameters, <= 1.5 M MACs;
# the widest width that fits, from `tinycnn.zoo.catalogue.architectures`), dnn and seed_cnn at their
# fixed sizes as baselines, all with one recipe and one budget (30 epochs), so the chart
# compares architectures, not recipes. The recipe is the one a probe on this machine found
# for micro models: AdamW at 4e-3 with weight decay 5e-3, label smoothing 0.1, 2 epochs of
# warm-up then cosine, horizontal flips and +-2-pixel shifts.
FRONTIER_RECIPE = (
    "--optimizer adamw --learning-rate 4e-3 --weight-decay 5e-3 --schedule cosine "
    "--warmup-epochs 2 --label-smoothing 0.1 --augment none --shift 0.07 --flip horizontal "
    "--epochs 30"
).split()
FRONTIER_WIDTHS = {
    "mobilenet_tiny": 0.90625,
    "efficientnet_tiny": 0.40625,
    "resnet_tiny": 0.34375,
    "inception_tiny": 1.09375,
    "vgg_tiny": 0.375,
    "densenet_tiny": 0.25,
    "lenet5": 0.5625,
    "seed_cnn": None,
    "dnn": None,
}
for _family, _width in FRONTIER_WIDTHS.items():
    _size = ["--width", str(_width)] if _width else []
    CONFIGS[f"{_family}_micro"] = (None, ["--model", _family, *_size, *FRONTIER_RECIPE])

# The best three families of the micro frontier again at the small size class (<= 100,000
# parameters, <= 5 M MACs; the widest width that fits), same recipe and budget.
FRONTIER_SMALL_WIDTHS = {
    "mobilenet_tiny": 2.125,
    "efficientnet_tiny": 1.03125,
    "inception_tiny": 2.125,
}
for _family, _width in FRONTIER_SMALL_WIDTHS.items():
    _size = ["--width", str(_width)]
    CONFIGS[f"{_family}_small"] = (None, ["--model", _family, *_size, *FRONTIER_RECIPE])

# Second round of the size-class targets: the frontier recipe, trained longer.
CONFIGS["micro2"] = (
    "micro",
    "--model mobilenet_tiny --width 0.90625 --optimizer adamw --learning-rate 4e-3 "
    "--weight-decay 5e-3 --schedule cosine --warmup-epochs 2 --label-smoothing 0.1 "
    "--augment none --shift 0.07 --flip horizontal --erase 0.1 --epochs 100".split(),
)

# Knowledge distillation (`train --teacher`): micro2's and mobilenet_tiny_small's recipes and
# budgets, taught by the small frontier's best run on validation (train
# efficientnet_tiny_small first).
CONFIGS["micro_taught"] = (
    "micro",
    [*CONFIGS["micro2"][1], "--teacher", str(RUNS / "efficientnet_tiny_small")],
)

CONFIGS["small_taught"] = (
    "small",
    [*CONFIGS["mobilenet_tiny_small"][1], "--teacher", str(RUNS / "efficientnet_tiny_small")],
)

RECURRENT_MODELS = {"lstm_rows"}  # no QAT: tfmot has no quantize config for an LSTM

# Published float accuracies (parameters; None when not stated) drawn on the chart.
ANCHORS = [
    ("course notebook CNN", 0.8992, None),
    ("best < 100k params, official benchmark", 0.925, 83_000),
    ("~600k params", 0.936, 600_000),
    ("VGG-like + augmentation", 0.94, None),
    ("ResNet-18", 0.949, 11_000_000),
    ("wide ResNets", 0.967, 36_000_000),
]


def tinycnn(*args: str) -> None:
    command = [str(ROOT / ".venv" / "bin" / "tinycnn"), *args]
    print("$", shlex.join(["tinycnn", *args]), flush=True)
    subprocess.run(command, check=True)


def load_results() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}


def save_results(results: dict) -> None:
    partial = RESULTS.with_suffix(".json.partial")
    partial.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    partial.replace(RESULTS)


def train_step(name: str, args: list[str]) -> Path:
    run_dir = RUNS / name
    if (run_dir / "model.keras").is_file():
        return run_dir
    if (run_dir / "checkpoint.json").is_file():
        tinycnn("train", "--resume", "--out", str(run_dir))
    else:
        tinycnn("train", *args, "--out", str(run_dir), "--force")
    return run_dir


def validation_accuracy(content: bytes, config: dict) -> float:
    """int8 accuracy on the run's validation split (LiteRT), for choosing PTQ or QAT."""
    from tinycnn.quantization.evaluate import int8_validation_accuracy

    return int8_validation_accuracy(content, config["train"])


def test_accuracy(content: bytes) -> tuple[float, float]:
    """int8 accuracy (LiteRT) on all 10,000 test images and on the first 1,000."""
    from tinycnn.quantization.evaluate import int8_predict

    outputs, labels = int8_predict(content)
    correct = outputs.argmax(axis=1) == labels
    return float(correct.mean()), float(correct[:1000].mean())


def quantize_step(run_dir: Path, record: dict) -> None:
    """PTQ and QAT int8 models side by side; the better on validation becomes model_int8."""
    from tinycnn.rundir import read_json

    config = read_json(run_dir / "config.json")
    kinds = (("ptq", []), ("qat", ["--qat", str(QAT_EPOCHS)]))
    if config["train"]["model"] in RECURRENT_MODELS:
        kinds = kinds[:1]
        record["qat_int8_accuracy"] = record["qat_validation_accuracy"] = None
    for kind, extra in kinds:
        path = run_dir / f"model_int8_{kind}.tflite"
        if not path.is_file():
            started = time.perf_counter()
            tinycnn("quantize", str(run_dir), *extra)
            shutil.copy(run_dir / "model_int8.tflite", path)
            record[f"{kind}_seconds"] = round(time.perf_counter() - started, 1)
        content = path.read_bytes()
        record[f"{kind}_validation_accuracy"] = validation_accuracy(content, config)
        record[f"{kind}_int8_accuracy"], _ = test_accuracy(content)
    chosen = max((k for k, _ in kinds), key=lambda k: record[f"{k}_validation_accuracy"])
    record["quantization"] = chosen
    shutil.copy(run_dir / f"model_int8_{chosen}.tflite", run_dir / "model_int8.tflite")


MEASURED = ("parameters", "macs", "tflite_bytes", "int8_accuracy", "int8_accuracy_first_1000")
MEASURED += ("bit_exact", "verified_images", "weight_bytes", "arena_bytes", "m4_instructions")
MEASURED += ("measured_on",)


def measure_step(run_dir: Path, record: dict) -> None:
    """Counts, verification, flash/RAM of the qemu_m4 export and instructions per inference."""
    import tempfile

    sys.path.insert(0, str(Path(__file__).parent))
    from firmware import inference_microseconds
    from tinycnn.codegen.export import export
    from tinycnn.engines.verify import verify
    from tinycnn.model.tflite_io import read_model
    from tinycnn.ref.stats import model_stats

    content = (run_dir / "model_int8.tflite").read_bytes()
    stats = model_stats(read_model(content))
    record.update(parameters=stats.parameters, macs=stats.macs, tflite_bytes=len(content))
    record["int8_accuracy"], record["int8_accuracy_first_1000"] = test_accuracy(content)
    report = verify(run_dir, images=VERIFY_IMAGES)
    record["bit_exact"] = report.bit_exact
    record["verified_images"] = VERIFY_IMAGES
    with tempfile.TemporaryDirectory() as work:
        qemu = export(run_dir, "qemu_m4", Path(work) / "qemu", test_images=TIMED_IMAGES)
        timings = inference_microseconds(qemu.elf_path, TIMED_IMAGES)
    record["weight_bytes"] = int8_weight_bytes(read_model(content))
    record["arena_bytes"] = qemu.planned_arena_bytes
    record["m4_instructions"] = sum(timings) * 1000 // len(timings)
    record["measured_on"] = time.strftime("%Y-%m-%d")  # the kernels of that day


def int8_weight_bytes(model) -> int:
    from tinycnn.codegen.render import int8_weight_bytes as weight_bytes

    return weight_bytes(model)


def remeasure(name: str) -> None:
    """measure_step again for a finished configuration (after runtime or kernel changes)."""
    results = load_results()
    record = results.get(name)
    if not record or not record.get("done"):
        sys.exit(f"{name} is not measured yet: run `benchmarks/zoo.py {name}` first")
    measure_step(RUNS / name, record)
    results = load_results()
    results[name] = record
    save_results(results)
    print(f"{name}: measured again")


def run_config(name: str) -> None:
    from tinycnn.rundir import read_json

    size, args = CONFIGS[name]
    results = load_results()
    record = results.get(name, {})
    if record.get("done"):
        print(f"{name}: done (delete its entry in zoo.json to measure again)")
        return
    run_dir = train_step(name, args)
    metrics = read_json(run_dir / "metrics.json")
    history = read_json(run_dir / "history.json")
    train = read_json(run_dir / "config.json")["train"]
    record.update(
        size=size,
        architecture=train["model"],
        width=train.get("width"),
        depth=train.get("depth"),
        command=shlex.join(["tinycnn", "train", *map(_shown, args), "--out", f"runs/zoo/{name}"]),
        float_accuracy=metrics["test_accuracy"],
        float_validation_accuracy=max(history.get("val_accuracy", [0.0])),
        epochs_run=len(history["seconds"]),
        best_epoch=metrics.get("best_epoch"),
        training_seconds=round(float(sum(history["seconds"])), 1),
        threads=os.environ.get("TF_NUM_INTRAOP_THREADS", "all"),
    )
    quantize_step(run_dir, record)
    measure_step(run_dir, record)
    record["done"] = True
    results = load_results()  # another configuration may have landed meanwhile
    results[name] = record
    save_results(results)
    print(json.dumps({name: record}, indent=2))


def _shown(arg: str) -> str:
    """A run folder of this machine as the runs/zoo/NAME of the commands (from the checkout)."""
    _, found, name = arg.rpartition("/runs/zoo/")
    return f"runs/zoo/{name}" if found else arg


def package(spec: str) -> None:
    """Copy a measured configuration into tinycnn/pretrained/NAME (what pip users get).

    ``spec`` is NAME, or SOURCE:NAME to ship configuration SOURCE as zoo:NAME. The model is
    written with tinycnn's metadata (input range, class names, data set), so the .tflite alone
    says how to feed it wherever it is copied."""
    from tinycnn.model.metadata import run_metadata, with_metadata
    from tinycnn.rundir import PRETRAINED_DIR, ZOO_FILE

    source, _, name = spec.rpartition(":") if ":" in spec else (spec, "", spec)
    record = load_results().get(source)
    if not record or not record.get("done"):
        sys.exit(f"{source} is not measured yet: run `benchmarks/zoo.py {source}` first")
    run_dir = RUNS / source
    target = PRETRAINED_DIR / name
    target.mkdir(parents=True, exist_ok=True)
    for file in ("config.json", "metrics.json"):
        shutil.copy(run_dir / file, target / file)
    config = json.loads((run_dir / "config.json").read_text())
    if config["train"].get("teacher"):  # a path of this machine: shown from the checkout
        config["train"]["teacher"] = _shown(config["train"]["teacher"])
        (target / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    model = (run_dir / "model_int8.tflite").read_bytes()
    shipped = with_metadata(model, run_metadata(config))
    (target / "model_int8.tflite").write_bytes(shipped)
    # The file shipped (metadata included), the configuration it came from, and its size class.
    record = {**record, "tflite_bytes": len(shipped), "source": source, "size": name}
    (target / ZOO_FILE).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    print(f"packaged {source} into {target}")


def remeasure_shipped(name: str) -> None:
    """measure_step again for a shipped model (tinycnn/pretrained/NAME, whose run folder may be
    gone): its figures in `tinycnn zoo`, after runtime or kernel changes."""
    from tinycnn.rundir import PRETRAINED_DIR, ZOO_FILE

    folder = PRETRAINED_DIR / name
    if not (folder / ZOO_FILE).is_file():
        sys.exit(f"zoo:{name} is not shipped (no {folder / ZOO_FILE})")
    record = json.loads((folder / ZOO_FILE).read_text())
    measure_step(folder, record)
    (folder / ZOO_FILE).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    _copy_measurements(record, record.get("source", name))
    print(f"zoo:{name}: measured again")


def _copy_measurements(record: dict, source: str) -> None:
    """A shipped model's new figures into its configuration's row of zoo.json (the same model;
    the .tflite shipped is larger by its metadata only)."""
    results = load_results()
    if source in results:
        measured = set(MEASURED) - {"tflite_bytes"}
        results[source].update({key: record[key] for key in measured})
        save_results(results)


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.2f} %"


def write_report() -> None:
    from tinycnn.zoo.catalogue import TARGETS, meets_target

    results = {k: v for k, v in load_results().items() if v.get("done")}
    lines = [
        "# The zoo, measured",
        "",
        "Written by `benchmarks/zoo.py --report` from `benchmarks/zoo.json`. Accuracies are on",
        "the 10,000 Fashion-MNIST test images; int8 ones with LiteRT on the committed model. PTQ",
        f"or QAT ({QAT_EPOCHS} epochs) is chosen by int8 accuracy on the validation split.",
        "Instructions: the qemu_m4 firmware under `-icount shift=0` (mean of "
        f"{TIMED_IMAGES} images; there the CONV_2D weights are stored as int16, the board having",
        "room). RAM: the planned activation arena. Flash: weights, biases, multipliers and shifts",
        "in the int8 layout (what the size targets count). *: RAM and instructions of the kernels",
        "of the run's day, before 2026-12-05 (its run folder is gone; `--remeasure NAME` after",
        "training it again).",
        "",
        "| model | architecture | params | MACs | flash B | RAM B | M4 instr. | float | PTQ int8"
        " | QAT int8 | kept | bit-exact | epochs | training | target |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---|",
    ]
    shipped = _shipped_sources()
    for name, r in sorted(results.items(), key=lambda kv: kv[1]["weight_bytes"]):
        size = shipped.get(name) if shipped.get(name) in TARGETS else r.get("size")
        met = meets_target(size, r) if size else None
        target = "-" if met is None else ("met" if met else "**not met**")
        if size:
            target = f"{size} ({_pct(TARGETS[size]['accuracy'])}): {target}"
        if name in shipped:
            target = f"ships as zoo:{shipped[name]}" + ("" if target == "-" else f"; {target}")
        dated = "" if r.get("measured_on") else " *"
        lines.append(
            f"| {name} | {r['architecture']} | {r['parameters']:,} | {r['macs']:,} | "
            f"{r['weight_bytes']:,} | {r['arena_bytes']:,}{dated} | {r['m4_instructions']:,}{dated} | "
            f"{_pct(r['float_accuracy'])} | {_pct(r['ptq_int8_accuracy'])} | "
            f"{_pct(r['qat_int8_accuracy'])} | {r['quantization']} | "
            f"{'yes' if r['bit_exact'] else 'NO'} | {r['epochs_run']} | "
            f"{r['training_seconds'] / 60:.0f} min ({r['threads']} thr.) | {target} |"
        )
    lines += _frontier_lines(results)
    lines += ["", "Commands (each then `benchmarks/zoo.py NAME` quantizes and measures it):", ""]
    lines += [f"- {name}: `{r['command']}`" for name, r in sorted(results.items())]
    REPORT.write_text(with_history(REPORT, "\n".join(lines) + "\n"))
    print(f"wrote {REPORT}")
    _plot(results)
    _write_frontier(results)


def _shipped_sources() -> dict[str, str]:
    """The configuration each shipped model came from -> its zoo name."""
    from tinycnn.rundir import PRETRAINED_DIR, ZOO_FILE

    sources = {}
    for path in sorted(PRETRAINED_DIR.glob(f"*/{ZOO_FILE}")):
        sources[json.loads(path.read_text()).get("source", path.parent.name)] = path.parent.name
    return sources


def _frontier_rows(results: dict) -> list[tuple[str, dict]]:
    """The frontier configurations measured so far, best int8 accuracy first."""
    rows = [(name, r) for name, r in results.items() if name.endswith("_micro")]
    return sorted(rows, key=lambda kv: -kv[1]["int8_accuracy"])


def _frontier_lines(results: dict) -> list[str]:
    rows = _frontier_rows(results)
    missing = [f for f in FRONTIER_WIDTHS if f"{f}_micro" not in results]
    lines = [
        "",
        "## Which architecture at the micro size",
        "",
        "Every family at the widest width within the micro class (<= 20,000 parameters, <= 1.5 M",
        "MACs; dnn and seed_cnn at their fixed sizes, as baselines), all trained with one recipe and",
        "one budget: " + shlex.join(FRONTIER_RECIPE) + ", one thread each.",
        "",
        "| family | width | params | MACs | flash B | RAM B | M4 instr. | float | int8 | kept"
        " | training |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for _, r in rows:
        lines.append(
            f"| {r['architecture']} | {r['width'] or '-'} | {r['parameters']:,} | {r['macs']:,} | "
            f"{r['weight_bytes']:,} | {r['arena_bytes']:,} | {r['m4_instructions']:,} | "
            f"{_pct(r['float_accuracy'])} | {_pct(r['int8_accuracy'])} | {r['quantization']} | "
            f"{r['training_seconds'] / 60:.0f} min |"
        )
    if missing:
        lines += ["", f"Not measured yet: {', '.join(missing)}."]
    return lines


def _write_frontier(results: dict) -> None:
    """tinycnn/zoo/frontier.json: each family's best measured row, for `tinycnn zoo`."""
    best: dict[str, dict] = {}
    for name, r in sorted(results.items(), key=lambda kv: -kv[1]["int8_accuracy"]):
        family = r["architecture"]
        if family not in best:
            best[family] = {
                "family": family,
                "configuration": name,
                "width": r.get("width"),
                "parameters": r["parameters"],
                "macs": r["macs"],
                "weight_bytes": r["weight_bytes"],
                "m4_instructions": r["m4_instructions"],
                "int8_accuracy": r["int8_accuracy"],
                "command": r["command"],
            }
    rows = sorted(best.values(), key=lambda r: r["weight_bytes"])
    FRONTIER.write_text(json.dumps(rows, indent=2) + "\n")
    print(f"wrote {FRONTIER}")


def _plot(results: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (by_flash, by_instr) = plt.subplots(1, 2, figsize=(13, 5.5))
    for name, r in results.items():
        for axis, x in ((by_flash, r["weight_bytes"]), (by_instr, r["m4_instructions"])):
            colour = "C0" if r.get("size") else ("C2" if name.endswith("_micro") else "C1")
            axis.scatter(x, 100 * r["int8_accuracy"], color=colour)
            axis.annotate(
                name,
                (x, 100 * r["int8_accuracy"]),
                fontsize=8,
                xytext=(4, 3),
                textcoords="offset points",
            )
    for label, accuracy, params in ANCHORS:
        if params:  # int8: one byte per parameter
            by_flash.scatter(params, 100 * accuracy, marker="x", color="gray")
            by_flash.annotate(
                f"{label} (float)",
                (params, 100 * accuracy),
                fontsize=7,
                color="gray",
                xytext=(4, -9),
                textcoords="offset points",
            )
        else:
            for axis in (by_flash, by_instr):
                axis.axhline(100 * accuracy, color="gray", linestyle=":", linewidth=0.8)
                axis.annotate(
                    f"{label} (float)",
                    (0.01, 100 * accuracy),
                    fontsize=7,
                    color="gray",
                    xycoords=("axes fraction", "data"),
                )
    for axis, label in (
        (by_flash, "int8 flash bytes (weights)"),
        (by_instr, "Cortex-M4 instructions per inference"),
    ):
        axis.set_xscale("log")
        axis.set_xlabel(label)
        axis.set_ylabel("int8 test accuracy, %")
        axis.grid(True, which="both", alpha=0.3)
    fig.suptitle(
        "tinycnn zoo: int8 accuracy against size and work "
        "(blue: size classes; green: every family at the micro size, one recipe)"
    )
    fig.tight_layout()
    fig.savefig(PLOT, dpi=110)
    print(f"wrote {PLOT}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("configs", nargs="*", help="configurations to run (see --list)")
    parser.add_argument("--list", action="store_true", help="print the configurations")
    parser.add_argument("--report", action="store_true", help="write zoo.md and zoo.png")
    parser.add_argument(
        "--package",
        action="append",
        default=[],
        metavar="[SOURCE:]NAME",
        help="ship a measured configuration as zoo:NAME (SOURCE:NAME ships SOURCE as NAME)",
    )
    parser.add_argument(
        "--remeasure",
        action="append",
        default=[],
        metavar="NAME",
        help="measure a finished configuration again (flash, RAM, instructions, accuracy)",
    )
    parser.add_argument(
        "--remeasure-shipped",
        action="append",
        default=[],
        metavar="NAME",
        help="measure a shipped model (zoo:NAME) again, in tinycnn/pretrained/NAME",
    )
    args = parser.parse_args()
    packaged = [spec.split(":")[0] for spec in args.package]
    unknown = [c for c in args.configs + packaged + args.remeasure if c not in CONFIGS]
    if unknown:
        sys.exit(f"unknown configuration(s) {', '.join(unknown)}; known: {', '.join(CONFIGS)}")
    if args.list:
        for name, (size, train_args) in CONFIGS.items():
            print(f"{name:<18} {size or '-':<6} tinycnn train {shlex.join(train_args)}")
    for name in args.configs:
        run_config(name)
    for name in args.remeasure:
        remeasure(name)
    for name in args.package:
        package(name)
    for name in args.remeasure_shipped:
        remeasure_shipped(name)
    if args.report or args.configs or args.remeasure or args.remeasure_shipped:
        write_report()


if __name__ == "__main__":
    main()
