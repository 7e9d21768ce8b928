"""``tinycnn verify``: the reference engine against the deployed interpreters, bit for bit,
and the int8 model against the float model, layer by layer.

1. Engines: the reference engine with LiteRT's rounding against LiteRT (reference kernels)
   and with TFLite Micro's rounding against the tflite-micro interpreter, on N inputs: the
   share of bit-identical outputs, the largest difference in LSBs and, for the first
   mismatching input, the first operator whose output differs. Then tinycnn's own generated
   C, with the rounding the firmware uses (TFLite Micro's), against the reference engine:
   compiled for this machine on the N inputs, and cross-compiled for a Cortex-M4 (its DSP
   instructions) and run in QEMU on the first M4_SAMPLES of them.
2. Layers (run directories): every Keras layer's float output against the dequantized int8
   tensor that ends it: SQNR, max and mean absolute error in output LSBs, cosine similarity.
   Each layer is also run alone on the float model's input to it, quantized: the layer with
   the lowest such local SQNR is the one that loses most, and is flagged.
3. Accuracy: float vs int8 top-1 on the same test images, and how often they agree.

Inputs are the Fashion-MNIST test images for models with a [1, 28, 28, 1] input, every
possible value for single-value inputs, and seeded random int8 tensors otherwise.
"""

from __future__ import annotations

import shutil
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from tinycnn.engines.layers import LayerComparison, compare_layers
from tinycnn.errors import TinycnnError, TinycnnWarning
from tinycnn.model.engines import COMPARED, ENGINES, HOST_CONVENTION, INTERPRETERS
from tinycnn.model.interpreters import (
    InterpreterError,
    installed_versions,
    litert_interpreter,
    litert_refusal,
    run_interpreter,
    tflm_interpreter,
    unverified_versions,
)
from tinycnn.model.ir import Model, UnsupportedOperator
from tinycnn.model.tflite_io import read_model
from tinycnn.progress import Progress
from tinycnn.progress import report as report_progress
from tinycnn.quantization.inputs import float_test_images, model_inputs
from tinycnn.ref.runner import check_supported, run_model
from tinycnn.rundir import float_model_path, int8_model_path, resolve_target
from tinycnn.training.models import load_trained_model

M4_SAMPLES = 200  # QEMU runs a few million instructions per image: a sample, not all N


@dataclass
class Mismatch:
    sample: int
    op_index: int | None
    opcode: str | None
    tensor: str
    element: int  # flat index into the tensor
    reference: int
    interpreter: int


@dataclass
class EngineComparison:
    engine: str
    convention: str
    samples: int
    identical_share: float | None = None
    max_diff_lsb: int | None = None
    first_mismatch: Mismatch | None = None
    unavailable: str | None = None  # not run, and rightly so: its tools are missing, or the
    # engine is known not to accept this model
    failed: str | None = None  # should have run and could not: verify fails
    seconds: float = 0.0

    @property
    def bit_exact(self) -> bool:
        return self.unavailable is None and self.failed is None and self.identical_share == 1.0

    def describe(self, all_samples: int) -> list[str]:
        """verify's lines for this engine: its verdict, and where it first differed."""
        name = f"reference[{self.convention}] vs {ENGINES[self.engine].label}"
        if self.unavailable:
            return [f"{name:<33} not run: {self.unavailable}"]
        if self.failed:
            return [f"{name:<33} FAILED: {self.failed}"]
        verdict = "BIT-EXACT" if self.bit_exact else "MISMATCH"
        subset = f" of {self.samples} inputs" if self.samples < all_samples else ""
        lines = [
            f"{name:<33} {verdict}: {100 * self.identical_share:.2f} % identical outputs{subset}, "
            f"max diff {self.max_diff_lsb} LSB ({self.seconds:.1f} s)"
        ]
        if self.first_mismatch:
            m = self.first_mismatch
            where = f"op #{m.op_index} {m.opcode}, " if m.op_index is not None else ""
            lines.append(
                f"{'':<33} first mismatch: input {m.sample}, {where}"
                f"tensor {m.tensor!r}[{m.element}]: reference {m.reference}, {self.engine} {m.interpreter}"
            )
        return lines


@dataclass
class AccuracyComparison:
    images: int
    float_accuracy: float | None
    int8_accuracy: float
    agreement: float | None


@dataclass
class VerifyReport:
    model: str
    sha256: str
    samples: int
    inputs: str  # where the inputs came from
    reference_seconds: float
    engines: list[EngineComparison] = field(default_factory=list)
    layers: list[LayerComparison] | None = None
    accuracy: AccuracyComparison | None = None
    interrupt: BaseException | None = field(default=None, repr=False)  # Ctrl-C or a signal
    versions: dict = field(default_factory=dict)  # converter and interpreters, installed

    @property
    def bit_exact(self) -> bool:
        """True when every engine that should run the model ran and agrees bit for bit (an
        interrupted run has not shown that)."""
        available = [e for e in self.engines if e.unavailable is None]
        return bool(available) and all(e.bit_exact for e in available) and not self.interrupted

    @property
    def interrupted(self) -> bool:
        return self.interrupt is not None

    def as_dict(self) -> dict:
        interrupt, self.interrupt = self.interrupt, None  # an exception is not data
        values = [layer.values for layer in self.layers or []]
        for layer in self.layers or []:
            layer.values = None  # arrays are not data either
        try:
            payload = asdict(self)
        finally:
            self.interrupt = interrupt
            for layer, kept in zip(self.layers or [], values, strict=True):
                layer.values = kept
        for layer in payload.get("layers") or []:
            layer.pop("values", None)
        payload["interrupted"] = self.interrupted
        payload["bit_exact"] = self.bit_exact
        # The JSON names the convention as the CLI does (--rounding), key order kept.
        payload["engines"] = [
            {("rounding" if k == "convention" else k): v for k, v in data.items()}
            | {"bit_exact": engine.bit_exact}
            for engine, data in zip(self.engines, payload["engines"], strict=True)
        ]
        return payload

    @property
    def exit_code(self) -> int:
        """`tinycnn verify`'s status: 0 when bit-exact, the signal's when interrupted, else 1."""
        if self.interrupted:
            from tinycnn.processes import exit_code_for

            return exit_code_for(self.interrupt)
        return 0 if self.bit_exact else 1

    def describe(self) -> str:
        """The text `tinycnn verify` prints: engines, layers, accuracy."""
        lines = [
            f"model   {self.model} (sha256 {self.sha256[:16]})",
            f"inputs  {self.inputs}",
            "with    " + ", ".join(f"{k} {v or 'absent'}" for k, v in self.versions.items()),
            f"reference engine: {self.samples} inputs in {self.reference_seconds:.1f} s",
            "",
        ]
        for engine in self.engines:
            lines += engine.describe(self.samples)
        lines += _layer_lines(self.layers) + _accuracy_lines(self.accuracy)
        if self.interrupted:
            lines += ["", "interrupted: the figures above are what was measured before it stopped"]
        return "\n".join(lines)


def _layer_lines(layers) -> list[str]:
    if not layers:
        return []
    lines = [
        "",
        f"{'layer':<18} {'op':<20} {'SQNR dB':>8} {'alone dB':>8} {'max err':>8} "
        f"{'mean err':>9} {'cosine':>8}   (errors in output LSBs)",
    ]
    for layer in layers:
        flag = "  <- loses most" if layer.worst else ""
        lines.append(
            f"{layer.layer:<18} #{layer.op_index:<3}{layer.opcode:<16} {layer.sqnr_db:>8.2f} "
            f"{layer.local_sqnr_db:>8.2f} {layer.max_abs_error_lsb:>8.2f} "
            f"{layer.mean_abs_error_lsb:>9.3f} {layer.cosine:>8.5f}{flag}"
        )
    return lines


def _accuracy_lines(acc) -> list[str]:
    if not acc:
        return []
    if acc.float_accuracy is None:
        return ["", f"int8 top-1 on {acc.images} test images: {100 * acc.int8_accuracy:.2f} %"]
    return [
        "",
        f"top-1 on {acc.images} test images: float {100 * acc.float_accuracy:.2f} %, "
        f"int8 {100 * acc.int8_accuracy:.2f} % ({100 * (acc.int8_accuracy - acc.float_accuracy):+.2f} points), "
        f"agreement {100 * acc.agreement:.2f} %",
    ]


def _interpreter_tensors(
    engine: str, content: bytes, sample: np.ndarray, indices: list[int]
) -> dict[int, np.ndarray]:
    """Every listed tensor's value after one invocation, read with all tensors preserved."""
    if engine == "litert":
        interpreter = litert_interpreter(content, preserve_all_tensors=True)
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], sample[np.newaxis])
        interpreter.invoke()
        return {i: interpreter.get_tensor(i) for i in indices}
    interpreter = tflm_interpreter(content, preserve_all_tensors=True)
    interpreter.set_input(sample[np.newaxis], 0)
    interpreter.invoke()
    return {i: np.asarray(interpreter.GetTensor(i, 0)["tensor_data"]) for i in indices}


def _locate_mismatch(
    model: Model,
    content: bytes,
    engine: str,
    convention: str,
    sample_index: int,
    sample: np.ndarray,
) -> Mismatch:
    """Walk the operators in order and report the first output that differs."""
    reference = run_model(
        model, sample[np.newaxis], convention=convention, keep_tensors=True
    ).tensors
    produced = [op.outputs[0] for op in model.operators]
    theirs = _interpreter_tensors(engine, content, sample, produced)
    for op in model.operators:
        index = op.outputs[0]
        ours = reference[index].ravel().astype(np.int64)
        other = np.asarray(theirs[index]).ravel().astype(np.int64)
        differing = np.flatnonzero(ours != other) if ours.shape == other.shape else np.array([0])
        if differing.size:
            element = int(differing[0])
            return Mismatch(
                sample_index,
                op.index,
                op.opcode,
                model.tensors[index].name,
                element,
                int(ours[element]),
                int(other[element]) if element < other.size else 0,
            )
    raise AssertionError("outputs differ but no intermediate tensor does")


def _run_generated_c(
    engine: str, model: Model, inputs: np.ndarray, convention: str, on_progress=None
) -> np.ndarray:
    """The generated C on this machine ("c") or on the emulated Cortex-M4 ("m4")."""
    from tinycnn.engines.predict import run_engine

    name = "C (host)" if engine == "c" else "C (Cortex-M4)"
    report_progress(on_progress, name, 0, len(inputs))
    outputs = run_engine(engine, model, b"", inputs, convention)
    report_progress(on_progress, name, len(inputs), len(inputs))
    return outputs


def compare_engine(
    model: Model,
    content: bytes,
    engine: str,
    convention: str,
    inputs: np.ndarray,
    reference_outputs: np.ndarray,
    on_progress: Progress | None = None,
) -> EngineComparison:
    if engine == "m4":
        inputs, reference_outputs = inputs[:M4_SAMPLES], reference_outputs[:M4_SAMPLES]
    comparison = EngineComparison(engine=engine, convention=convention, samples=len(inputs))
    started = time.perf_counter()
    refusal = litert_refusal(model) if engine == "litert" else None
    if refusal:
        comparison.unavailable = refusal
        return comparison
    if engine in INTERPRETERS:
        try:
            outputs = run_interpreter(engine, content, inputs, on_progress)
        except InterpreterError as exc:
            comparison.failed = str(exc)
            return comparison
    else:
        needs = ENGINES[engine]
        missing = [tool for tool in needs.tools if not shutil.which(tool)]
        if missing:
            comparison.unavailable = f"{', '.join(missing)} not found; install {needs.install}"
            return comparison
        try:
            outputs = _run_generated_c(engine, model, inputs, convention, on_progress)
        except UnsupportedOperator as exc:
            comparison.unavailable = f"the C runtime cannot run it: {exc}"
            return comparison
        except TinycnnError as exc:  # a compiler or the emulator failed
            comparison.failed = str(exc)
            return comparison
    comparison.seconds = time.perf_counter() - started
    diff = np.abs(reference_outputs.astype(np.int64) - outputs.astype(np.int64)).reshape(
        len(inputs), -1
    )
    identical = np.all(diff == 0, axis=1)
    comparison.identical_share = float(np.mean(identical))
    comparison.max_diff_lsb = int(diff.max()) if diff.size else 0
    if not identical.all():
        first = int(np.flatnonzero(~identical)[0])
        if engine in INTERPRETERS:
            comparison.first_mismatch = _locate_mismatch(
                model, content, engine, convention, first, inputs[first]
            )
        else:  # the generated C exposes only its output
            element = int(np.flatnonzero(diff[first])[0])
            ours, theirs = reference_outputs[first].ravel(), outputs[first].ravel()
            comparison.first_mismatch = Mismatch(
                first,
                None,
                None,
                model.tensors[model.outputs[0]].name,
                element,
                int(ours[element]),
                int(theirs[element]),
            )
    return comparison


def verify(
    target: str | Path,
    *,
    images: int = 10_000,
    data_dir=None,
    engines: tuple[tuple[str, str], ...] = COMPARED,
    on_progress: Progress | None = None,
) -> VerifyReport:
    """Verify a .tflite file or a run directory (its model_int8.tflite and model.keras).
    Ctrl-C or a signal ends it early with the report so far (``report.interrupted``)."""
    target = resolve_target(target)
    model_path = int8_model_path(target)
    keras_model = load_trained_model(target) if float_model_path(target) else None
    if images < 1:
        raise TinycnnError(f"--images must be at least 1, got {images}")
    model = read_model(model_path)
    content = model_path.read_bytes()
    check_supported(model)
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise TinycnnError("verify handles single-input, single-output models")
    chosen = model_inputs(model, images, data_dir, model_path)
    inputs, labels, description = chosen.values, chosen.labels, chosen.description

    report = VerifyReport(
        model=str(model_path),
        sha256=model.sha256,
        samples=len(inputs),
        inputs=description,
        reference_seconds=0.0,
        versions=installed_versions(),
    )
    for problem in unverified_versions(report.versions):
        warnings.warn(problem, TinycnnWarning, stacklevel=2)
    try:
        data = (data_dir, model_path)
        _compare(report, model, content, keras_model, inputs, labels, engines, data, on_progress)
    except KeyboardInterrupt as exc:  # Ctrl-C or a signal: the report so far
        report.interrupt = exc
    return report


def _compare(report, model, content, keras_model, inputs, labels, engines, data, on_progress):
    """Fill ``report``: engines, then layers and accuracy (run directories). ``data``: the
    data folder and the model's path (whose run says which data set it was trained on)."""
    started = time.perf_counter()
    keep = keras_model is not None
    reference_run = run_model(
        model, inputs, convention=HOST_CONVENTION, keep_tensors=keep, on_progress=on_progress
    )
    report.reference_seconds = time.perf_counter() - started
    reference_outputs = {HOST_CONVENTION: reference_run.outputs[0]}
    for engine, convention in engines:
        if convention not in reference_outputs:
            reference_outputs[convention] = run_model(
                model, inputs, convention=convention, on_progress=on_progress
            ).outputs[0]
        report.engines.append(
            compare_engine(
                model,
                content,
                engine,
                convention,
                inputs,
                reference_outputs[convention],
                on_progress,
            )
        )

    if labels is not None:
        int8_predicted = np.argmax(reference_run.outputs[0].reshape(len(inputs), -1), axis=1)
        float_accuracy = agreement = None
        if keras_model is not None:
            report_progress(on_progress, "float model, layer by layer", 0, 1)
            data_dir, model_path = data
            dataset_images = float_test_images(model_path, len(inputs), data_dir)
            float_predicted = np.argmax(
                keras_model.predict(dataset_images, batch_size=500, verbose=0), axis=1
            )
            float_accuracy = float(np.mean(float_predicted == labels))
            agreement = float(np.mean(float_predicted == int8_predicted))
            report.layers = compare_layers(
                keras_model, model, reference_run.tensors, dataset_images, inputs
            )
            report_progress(on_progress, "float model, layer by layer", 1, 1)
        report.accuracy = AccuracyComparison(
            images=len(inputs),
            float_accuracy=float_accuracy,
            int8_accuracy=float(np.mean(int8_predicted == labels)),
            agreement=agreement,
        )
