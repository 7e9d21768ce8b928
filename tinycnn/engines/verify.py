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
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from tinycnn.errors import TinycnnError
from tinycnn.model.interpreters import (
    InterpreterError,
    litert_interpreter,
    litert_refusal,
    run_interpreter,
    tflm_interpreter,
)
from tinycnn.model.ir import Model, UnsupportedOperator
from tinycnn.model.tflite_io import read_model
from tinycnn.progress import Progress
from tinycnn.progress import report as report_progress
from tinycnn.quantization.affine import dequantize, quantize
from tinycnn.quantization.inputs import model_inputs
from tinycnn.ref.runner import check_supported, run_model, run_operators
from tinycnn.rundir import float_model_path, int8_model_path, resolve_target
from tinycnn.training.data import load_fashion_mnist, to_float
from tinycnn.training.models import load_trained_model

# Each engine with the rounding convention it reproduces: the two interpreters, then the
# generated C built for this machine ("c") and for an emulated Cortex-M4 ("m4").
ENGINE_CONVENTIONS = (("litert", "tflite"), ("tflm", "tflm"), ("c", "tflm"), ("m4", "tflm"))
INTERPRETERS = ("litert", "tflm")
M4_SAMPLES = 200  # QEMU runs a few million instructions per image: a sample, not all N
# The tools each generated-C engine needs, and how to get them.
C_TOOLCHAINS = {
    "c": (("cc",), "a C compiler (`apt-get install gcc`)"),
    "m4": (
        ("arm-none-eabi-gcc", "qemu-system-arm"),
        "`apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm`",
    ),
}


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


@dataclass
class LayerComparison:
    layer: str
    op_index: int
    opcode: str
    tensor: str
    sqnr_db: float  # the int8 model's output of this layer against the float model's
    local_sqnr_db: float  # this layer alone, fed the float model's input to it (quantized)
    max_abs_error_lsb: float
    mean_abs_error_lsb: float
    cosine: float
    worst: bool = False
    # The float and dequantized int8 outputs (a sample of them) of the layer that loses most,
    # for the histogram of `verify --plots`; not part of the JSON.
    values: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False, compare=False)


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
        tools, how = C_TOOLCHAINS[engine]
        missing = [tool for tool in tools if not shutil.which(tool)]
        if missing:
            comparison.unavailable = f"{', '.join(missing)} not found; install {how}"
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


HISTOGRAM_VALUES = 200_000  # activations kept for the worst layer's histogram


def _sqnr_db(reference: np.ndarray, approximation: np.ndarray) -> float:
    signal = float(np.sum(reference.astype(np.float64) ** 2))
    noise = float(np.sum((reference.astype(np.float64) - approximation) ** 2))
    if noise == 0.0:
        return float("inf")
    if signal == 0.0:
        return float("-inf")
    return 10.0 * np.log10(signal / noise)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    norms = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / norms) if norms else float(np.array_equal(a, b))


def keras_layer_ends(keras_model, model: Model) -> list[tuple[object, int]]:
    """(Keras layer, TFLite op index) pairs: each layer ends at the last op whose output
    tensor is named after it; the model output ends the last layer. A layer none of whose
    tensors keeps its name (the converter calls an LSTM's ``tfl.unidirectional_sequence_lstm``)
    ends just before the next named layer begins, when it is the only one in that gap and
    the gap holds ops."""
    layer_start: dict[str, int] = {}
    layer_end: dict[str, int] = {}
    names = [layer.name for layer in keras_model.layers]
    for op in model.operators:
        tensor_name = model.tensors[op.outputs[0]].name
        for name in names:
            if f"/{name}/" in tensor_name or tensor_name.startswith(f"{name}/"):
                layer_start.setdefault(name, op.index)
                layer_end[name] = op.index
    output_op = next(op.index for op in model.operators if op.outputs[0] == model.outputs[0])
    layer_end[names[-1]] = output_op
    layer_start.setdefault(names[-1], output_op)
    previous_end, unnamed = -1, []
    for name in names:
        if name not in layer_end:
            unnamed.append(name)
            continue
        gap_end = layer_start[name] - 1
        if len(unnamed) == 1 and gap_end > previous_end:
            layer_end[unnamed[0]] = gap_end
        previous_end, unnamed = layer_end[name], []
    ordered = [
        (layer, layer_end[layer.name]) for layer in keras_model.layers if layer.name in layer_end
    ]
    return sorted(ordered, key=lambda pair: pair[1])


def compare_layers(
    keras_model,
    model: Model,
    tensors: dict[int, np.ndarray],
    float_inputs: np.ndarray,
    quantized_inputs: np.ndarray,
) -> list[LayerComparison]:
    from tinycnn.tfenv import keras

    pairs = keras_layer_ends(keras_model, model)
    probe = keras.Model(keras_model.inputs, [layer.output for layer, _ in pairs])
    float_outputs = probe.predict(float_inputs, batch_size=500, verbose=0)
    if len(pairs) == 1:
        float_outputs = [float_outputs]
    layers, samples = [], []
    previous_end, previous_float = -1, None
    for (layer, op_index), reference in zip(pairs, float_outputs, strict=True):
        op = model.operators[op_index]
        tensor = model.tensors[op.outputs[0]]
        quant = tensor.quantization
        approximation = dequantize(
            tensors[tensor.index], quant.single_scale, quant.single_zero_point
        )
        approximation = approximation.reshape(reference.shape)
        local = _run_layer_alone(
            model, previous_end, op_index, previous_float, quantized_inputs, tensors
        )
        local = dequantize(local, quant.single_scale, quant.single_zero_point).reshape(
            reference.shape
        )
        error_lsb = np.abs(reference.astype(np.float64) - approximation) / quant.single_scale
        layers.append(
            LayerComparison(
                layer=layer.name,
                op_index=op_index,
                opcode=op.opcode,
                tensor=tensor.name,
                sqnr_db=_sqnr_db(reference, approximation),
                local_sqnr_db=_sqnr_db(reference, local),
                max_abs_error_lsb=float(error_lsb.max()),
                mean_abs_error_lsb=float(error_lsb.mean()),
                cosine=_cosine(reference, approximation),
            )
        )
        samples.append((reference, approximation))
        previous_end, previous_float = op_index, reference
    if layers:
        worst = min(range(len(layers)), key=lambda i: layers[i].local_sqnr_db)
        layers[worst].worst = True
        reference, approximation = samples[worst]
        keep = np.random.default_rng(0).permutation(reference.size)[:HISTOGRAM_VALUES]
        layers[worst].values = (reference.ravel()[keep], approximation.ravel()[keep])
    return layers


def _run_layer_alone(
    model: Model,
    previous_end: int,
    end: int,
    previous_float: np.ndarray | None,
    quantized_inputs: np.ndarray,
    tensors: dict[int, np.ndarray],
) -> np.ndarray:
    """Run the ops of one layer (after ``previous_end`` up to ``end``) on the float model's
    output of the previous layer, quantized with the int8 tensor's own parameters."""
    operators = model.operators[previous_end + 1 : end + 1]
    values: dict[int, np.ndarray] = {model.inputs[0]: quantized_inputs}
    if previous_end >= 0:
        boundary = model.tensors[model.operators[previous_end].outputs[0]]
        quant = boundary.quantization
        values[boundary.index] = quantize(
            previous_float, quant.single_scale, quant.single_zero_point, boundary.dtype
        ).reshape(len(previous_float), *boundary.shape[1:])
    for op in operators:  # branches from earlier layers read the int8 engine's values
        for index in op.inputs:
            tensor = model.tensors[index] if index >= 0 else None
            if tensor and index not in values and not (tensor.is_constant or tensor.is_variable):
                values[index] = tensors[index]
    run_operators(model, operators, values, "tflite")
    return values[model.operators[end].outputs[0]]


def verify(
    target: str | Path,
    *,
    images: int = 10_000,
    data_dir=None,
    engines: tuple[tuple[str, str], ...] = ENGINE_CONVENTIONS,
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
    chosen = model_inputs(model, images, data_dir)
    inputs, labels, description = chosen.values, chosen.labels, chosen.description

    report = VerifyReport(
        model=str(model_path),
        sha256=model.sha256,
        samples=len(inputs),
        inputs=description,
        reference_seconds=0.0,
    )
    try:
        _compare(
            report, model, content, keras_model, inputs, labels, engines, data_dir, on_progress
        )
    except KeyboardInterrupt as exc:  # Ctrl-C or a signal: the report so far
        report.interrupt = exc
    return report


def _compare(report, model, content, keras_model, inputs, labels, engines, data_dir, on_progress):
    """Fill ``report``: engines, then layers and accuracy (run directories)."""
    started = time.perf_counter()
    keep = keras_model is not None
    reference_run = run_model(
        model, inputs, convention="tflite", keep_tensors=keep, on_progress=on_progress
    )
    report.reference_seconds = time.perf_counter() - started
    reference_outputs = {"tflite": reference_run.outputs[0]}
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
            dataset_images = to_float(load_fashion_mnist(data_dir).test_images[: len(inputs)])
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
