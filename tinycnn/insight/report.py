"""`tinycnn report`: one self-contained HTML page about a model, to read offline.

The page holds the model summary (operators, parameters, MACs), the training curves, float
and int8 accuracy with the confusion matrix and misclassified examples, the verification
(bit-exactness per engine, SQNR per layer, the quantization pictures), the flash and RAM
budget against every board, the emulated Cortex-M4's instructions, and `visualize`'s
pictures. Every picture is a PNG inlined as a data: URI; there is no script and no link
outside the file. A part that cannot be computed (no float model, no cross-compiler...) is
listed with the reason instead of failing the page.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tinycnn import __version__
from tinycnn.errors import TinycnnError
from tinycnn.insight.figures import image_axis, png_bytes, pyplot
from tinycnn.model.engines import BOARD_CONVENTION
from tinycnn.model.metadata import class_names
from tinycnn.outputs import write_atomically
from tinycnn.processes import work_dir
from tinycnn.progress import Progress
from tinycnn.progress import report as report_progress
from tinycnn.rundir import (
    CONFIG_FILE,
    HISTORY_FILE,
    INT8_MODEL_FILE,
    METRICS_FILE,
    REPORT_FILE,
    ZOO_FILE,
    ZOO_PREFIX,
    check_named_output,
    float_model_path,
    int8_model_path,
    read_json,
    resolve_target,
)
from tinycnn.training.models import load_trained_model

GENERATOR = f"tinycnn {__version__}"  # in the page's <meta name="generator">
MISCLASSIFIED_SHOWN = 16


class ReportError(TinycnnError):
    """A report that cannot be written (no model at all, an output that is not ours...)."""


@dataclass
class Report:
    title: str
    target: str
    sections: dict[str, dict] = field(default_factory=dict)  # by part name, in order
    missing: list[tuple[str, str]] = field(default_factory=list)  # (part, why not)
    seconds: float = 0.0

    def lines(self, path: Path) -> list[str]:
        """What `tinycnn report` prints once ``path`` is written."""
        written = f"wrote {path} ({path.stat().st_size:,} bytes, {self.seconds:.1f} s)"
        return [written] + [f"not computed: {part}: {why}" for part, why in self.missing]


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def default_output(target: str | Path) -> Path:
    """RUN_DIR/report.html; for ``zoo:NAME``, report_NAME.html in the working folder."""
    text = str(target)
    if text.startswith(ZOO_PREFIX):
        return Path(f"report_{text[len(ZOO_PREFIX) :]}.html")
    return Path(target) / REPORT_FILE


def is_report(path: Path) -> bool:
    """Whether ``path`` is a page tinycnn's report wrote (its generator meta tag)."""
    head = path.read_bytes()[:2048].decode("utf-8", "replace")
    return '<meta name="generator" content="tinycnn' in head


def _check_output(out: Path, inputs: list[Path], force: bool) -> Path:
    out = check_named_output(out, "--out", inputs=inputs, force=True)  # --force: below
    if out.exists() and not force and not is_report(out):
        raise ReportError(f"{out} exists and is not a tinycnn report; pass --force to replace it")
    return out


# ---- the parts of the page --------------------------------------------------------------


def summary_part(model, content: bytes, path: Path, keras_model) -> dict:
    from tinycnn.ref.stats import model_stats, op_macs, op_parameters

    stats = model_stats(model)
    rows = []
    for op in model.operators:
        out = model.tensors[op.outputs[0]]
        shape = "x".join(map(str, out.shape))
        rows.append((op.index, op.opcode, shape, op_parameters(model, op), op_macs(model, op)))
    return {
        "file": str(path),
        "bytes": len(content),
        "sha256": model.sha256,
        "parameters": stats.parameters,
        "macs": stats.macs,
        "weight_bytes": stats.weight_bytes,
        "operators": rows,
        "keras_layers": len(keras_model.layers) if keras_model is not None else None,
    }


def training_part(run_dir: Path) -> dict:
    if not run_dir.is_dir():
        raise ReportError("a .tflite file alone has no training history (give its run directory)")
    if not (run_dir / HISTORY_FILE).is_file():
        raise ReportError(f"no {HISTORY_FILE} (a pretrained model ships without its history)")
    history = read_json(run_dir / HISTORY_FILE)
    metrics = read_json(run_dir / METRICS_FILE) if (run_dir / METRICS_FILE).is_file() else {}
    plt = pyplot()
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(10, 3.6))
    for key, axis in (("loss", loss_axis), ("accuracy", accuracy_axis)):
        for prefix, label in (("", "training"), ("val_", "validation")):
            values = history.get(prefix + key)
            if values:
                scale = 100.0 if key == "accuracy" else 1.0
                axis.plot(
                    range(1, len(values) + 1), [scale * v for v in values], marker=".", label=label
                )
        axis.set_xlabel("epoch")
        axis.set_ylabel("accuracy (%)" if key == "accuracy" else "cross-entropy loss")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.suptitle("Training curves", fontsize=10)
    epochs = len(history.get("loss", []))
    from tinycnn.training.console import metric_rows

    return {"plot": data_uri(png_bytes(figure)), "epochs": epochs, "metrics": metric_rows(metrics)}


def _confusion_figure(confusion: np.ndarray, names: list[str]) -> bytes:
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(7.5, 6.5))
    artist = axis.imshow(confusion, cmap="Blues")
    for (row, column), count in np.ndenumerate(confusion):
        color = "white" if count > confusion.max() / 2 else "black"
        axis.text(column, row, str(count), ha="center", va="center", fontsize=7, color=color)
    axis.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
    axis.set_yticks(range(len(names)), names, fontsize=8)
    axis.set_xlabel("predicted class (int8)")
    axis.set_ylabel("true class")
    figure.colorbar(artist, ax=axis, shrink=0.8, label="test images")
    axis.set_title(
        f"Confusion matrix of the int8 model, {int(confusion.sum()):,} test images", fontsize=10
    )
    return png_bytes(figure)


def _misclassified_figure(images, labels, predicted, confidence, names) -> bytes:
    plt = pyplot()
    wrong = np.flatnonzero(predicted != labels)[:MISCLASSIFIED_SHOWN]
    columns = 8
    rows = max(1, -(-len(wrong) // columns))
    figure, axes = plt.subplots(
        rows, columns, figsize=(1.45 * columns, 1.75 * rows + 0.4), squeeze=False
    )
    for axis in axes.ravel():
        axis.axis("off")
    for axis, index in zip(axes.ravel(), wrong, strict=False):
        axis.axis("on")
        title = f"#{index}\ntrue {names[labels[index]]}\nsaid {names[predicted[index]]} {confidence[index]:.0%}"
        image = images[index]  # float [H, W, C] in [0, 1]
        image_axis(
            axis,
            image[..., 0] if image.shape[-1] == 1 else image,
            title,
            cmap="gray",
            vmin=0,
            vmax=1,
        )
    figure.suptitle(
        "Misclassified test images (int8 model): true and predicted class, its probability",
        fontsize=10,
    )
    return png_bytes(figure)


def accuracy_part(run_dir: Path, content: bytes, keras_model, names: list[str], data_dir) -> dict:
    from tinycnn.model.tflite_io import read_model
    from tinycnn.quantization.affine import dequantize
    from tinycnn.quantization.evaluate import int8_predict
    from tinycnn.quantization.inputs import float_test_images, has_test_images

    model, model_path = read_model(content), int8_model_path(run_dir)
    if not has_test_images(model, model_path):
        shape = list(model.input_tensors()[0].shape)
        raise ReportError(
            f"the model takes {shape}, not Fashion-MNIST images, and its run names no data set "
            "of its own: no test set to score"
        )
    outputs, labels = int8_predict(content, data_dir, model_path=model_path)
    predicted = np.argmax(outputs, axis=1)
    out = model.output_tensors()[0].quantization
    confidence = dequantize(
        outputs[np.arange(len(outputs)), predicted], out.single_scale, out.single_zero_point
    )
    classes = outputs.shape[1]
    names = names if len(names) == classes else [str(i) for i in range(classes)]
    confusion = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    test_images = float_test_images(model_path, len(labels), data_dir)
    float_accuracy, source = None, ""
    if keras_model is not None:
        float_predicted = np.argmax(
            keras_model.predict(test_images, batch_size=500, verbose=0), axis=1
        )
        float_accuracy, source = (
            float(np.mean(float_predicted == labels)),
            "model.keras on the test set",
        )
    else:
        for name in (ZOO_FILE, METRICS_FILE):
            if (run_dir / name).is_file():
                recorded = read_json(run_dir / name)
                value = recorded.get("float_accuracy", recorded.get("test_accuracy"))
                if value is not None:
                    float_accuracy, source = float(value), f"recorded in {name} at training time"
                    break
    int8_accuracy = float(np.mean(predicted == labels))
    per_class = [
        (names[c], float(np.mean(predicted[labels == c] == c)) if np.any(labels == c) else None)
        for c in range(classes)
    ]
    return {
        "images": int(len(labels)),
        "float_accuracy": float_accuracy,
        "float_source": source,
        "int8_accuracy": int8_accuracy,
        "difference_points": None
        if float_accuracy is None
        else 100 * (int8_accuracy - float_accuracy),
        "per_class": per_class,
        "confusion": data_uri(_confusion_figure(confusion, names)),
        "misclassified": data_uri(
            _misclassified_figure(test_images, labels, predicted, confidence, names)
        ),
    }


def verification_part(target: Path, images: int, data_dir, on_progress) -> dict:
    from tinycnn.engines.verify import verify
    from tinycnn.insight.quantization_plots import write_plots

    report = verify(target, images=images, data_dir=data_dir, on_progress=on_progress)
    if report.interrupted:
        raise report.interrupt  # SIGTERM stays SIGTERM (a bare KeyboardInterrupt said Ctrl-C)
    with work_dir() as work:
        written, skipped = write_plots(report, work)
        plots = [(p.stem.replace("_", " "), data_uri(p.read_bytes())) for p in written]
    return {"report": report.as_dict(), "plots": plots, "skipped": skipped}


def budget_part(model, runtime_code_bytes: int | None) -> dict:
    from tinycnn.boards import all_boards
    from tinycnn.codegen.export import RUNTIME_CODE_ESTIMATE, budget
    from tinycnn.codegen.render import constant_bytes, lower_for_c

    _, plan, calls = lower_for_c(model, BOARD_CONVENTION, wide_weights=False)
    weights = constant_bytes(calls)
    code_name, code = (
        ("runtime code (measured, Cortex-M4)", runtime_code_bytes)
        if runtime_code_bytes is not None
        else ("runtime code (estimate)", RUNTIME_CODE_ESTIMATE)
    )
    rows = []
    for board in all_boards():
        flash, ram = budget(
            board,
            {"weights": weights, code_name: code, "framework": board.framework_flash_bytes},
            plan.arena_bytes,
        )
        rows.append(
            {
                "board": board.name,
                "description": board.description,
                "flash": flash.total_bytes,
                "flash_available": flash.available_bytes,
                "ram": ram.total_bytes,
                "ram_available": ram.available_bytes,
                "fits": flash.fits and ram.fits,
            }
        )
    return {
        "weights": weights,
        "arena": plan.arena_bytes,
        "code_name": code_name,
        "code": code,
        "boards": rows,
    }


def emulation_part(model, content: bytes, data_dir, model_path=None) -> dict:
    from tinycnn.board.bench import bench_model
    from tinycnn.quantization.inputs import model_inputs

    inputs = model_inputs(model, 1, data_dir, model_path).values
    bench = bench_model(model, content, inputs, host_rounds=0, compare_cmsis=False)
    return {
        "instructions": bench.instructions,
        "portable_instructions": bench.portable_instructions,
        "per_mac": bench.per_mac,
        "nano33_ms": 1000.0 * bench.instructions / bench.estimate_hz,
        "runtime_code": bench.flash.runtime_code,
        "stack": bench.stack_bytes,
        "layers": [
            (
                layer.opcode,
                layer.output.split(";")[0],
                layer.macs,
                layer.instructions,
                layer.portable_instructions,
            )
            for layer in bench.layers
        ],
    }


def pictures_part(target: Path, image: str | int, data_dir) -> dict:
    from tinycnn.insight.visualize import visualize

    with work_dir() as work:
        result = visualize(target, work, image=image, data_dir=data_dir)
        pictures = [(p.title, data_uri(p.path.read_bytes())) for p in result.pictures]
    return {"pictures": pictures, "skipped": result.skipped}


# ---- the page ---------------------------------------------------------------------------


def _attempt(report: Report, part: str, compute: Callable[[], dict]) -> dict | None:
    """Run one part; a part that cannot be computed is listed with the reason."""
    try:
        report.sections[part] = compute()
        return report.sections[part]
    except KeyboardInterrupt:
        raise
    except TinycnnError as exc:
        report.missing.append((part, str(exc)))
    except Exception as exc:  # a part's failure must not cost the others
        report.missing.append((part, f"{type(exc).__name__}: {exc}"))
    return None


def build_report(
    target: str | Path,
    *,
    verify_images: int = 1000,
    image: str | int = 0,
    emulate: bool = True,
    data_dir=None,
    on_progress: Progress | None = None,
) -> Report:
    """Compute every part of the page for ``RUN_DIR|zoo:NAME`` (a .tflite works too)."""
    from tinycnn.model.tflite_io import read_model, read_tflite
    from tinycnn.ref.runner import check_supported

    started = time.perf_counter()
    run_dir = resolve_target(target)
    has_float = float_model_path(run_dir) is not None
    try:
        model_path = int8_model_path(run_dir)
        content = read_tflite(model_path)
    except TinycnnError as exc:
        raise ReportError(f"no int8 model to report on: {exc}") from None
    model = read_model(content, name=run_dir.name if run_dir.is_dir() else None)
    check_supported(model)
    keras_model = load_trained_model(run_dir) if has_float else None
    names = class_names(model_path, model)
    title = str(target)
    if run_dir.is_dir() and (run_dir / CONFIG_FILE).is_file():
        title = f"{read_json(run_dir / CONFIG_FILE).get('model', model.name)} ({target})"
    report = Report(title=title, target=str(target))
    steps = [
        ("summary", lambda: summary_part(model, content, model_path, keras_model)),
        ("training", lambda: training_part(run_dir)),
        ("accuracy", lambda: accuracy_part(run_dir, content, keras_model, names, data_dir)),
        ("verification", lambda: verification_part(run_dir, verify_images, data_dir, None)),
        ("emulation", lambda: emulation_part(model, content, data_dir, model_path)),
        (
            "budget",
            lambda: budget_part(model, report.sections.get("emulation", {}).get("runtime_code")),
        ),
        ("pictures", lambda: pictures_part(run_dir, image, data_dir)),
    ]
    for number, (part, compute) in enumerate(steps):
        report_progress(on_progress, f"report: {part}", number, len(steps))
        if part == "emulation" and not emulate:
            report.missing.append((part, "not asked for (--no-emulate)"))
            continue
        _attempt(report, part, compute)
    report_progress(on_progress, "report", len(steps), len(steps))
    report.seconds = time.perf_counter() - started
    return report


def render_html(report: Report) -> str:
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("tinycnn", "templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
    )
    environment.filters["thousands"] = lambda value: f"{value:,}"
    environment.filters["percent"] = lambda value: (
        "n/a" if value is None else f"{100 * value:.2f} %"
    )
    template = environment.get_template("report/report.html.j2")
    return template.render(
        report=report,
        generator=GENERATOR,
        sections=report.sections,
        missing=report.missing,
    )


def _check_image(resolved: Path, image: str | int, data_dir) -> None:
    """``--image`` (and ``--data-dir``) checked before any work, as visualize checks them: a
    mistake is an error, not a page whose pictures say "not computed"."""
    from PIL import Image, UnidentifiedImageError

    from tinycnn.quantization.inputs import model_dataset
    from tinycnn.training.data import find_data_dir

    if data_dir is not None:
        find_data_dir(data_dir, allow_download=False)  # DataError names the missing file
    text = str(image)
    if text.isdigit():
        model_path = resolved / INT8_MODEL_FILE if resolved.is_dir() else resolved
        dataset = model_dataset(model_path, data_dir)
        if int(text) >= len(dataset.test_images):
            raise ReportError(
                f"--image {text}: the test set has images 0..{len(dataset.test_images) - 1}"
            )
        return
    try:
        with Image.open(text) as picture:
            picture.load()
    except FileNotFoundError:
        raise ReportError(
            f"--image {text}: no such file (give a test-image index or a picture)"
        ) from None
    except (OSError, UnidentifiedImageError) as exc:
        raise ReportError(f"--image {text}: not a readable picture ({exc})") from None


def write_report(
    target: str | Path,
    out: str | Path | None = None,
    *,
    force: bool = False,
    verify_images: int = 1000,
    image: str | int = 0,
    emulate: bool = True,
    data_dir=None,
    on_progress: Progress | None = None,
) -> tuple[Path, Report]:
    """Build the report and write it to ``out`` (see ``default_output``); the output is
    checked before any work, and a file that is not a tinycnn report is never replaced
    without ``force``."""
    out = Path(out) if out is not None else default_output(target)
    resolved = resolve_target(target)
    inputs = [
        p for p in (resolved / "model.keras", resolved / "model_int8.tflite") if resolved.is_dir()
    ]
    out = _check_output(out, inputs or [resolved], force)
    _check_image(resolved, image, data_dir)
    report = build_report(
        target,
        verify_images=verify_images,
        image=image,
        emulate=emulate,
        data_dir=data_dir,
        on_progress=on_progress,
    )
    write_atomically(out, render_html(report).encode("utf-8"))
    return out, report
