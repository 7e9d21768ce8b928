"""Validating a board input by input: each input (a Fashion-MNIST test image, or the user's
own inputs for any other model) sent as one frame, the board's answer compared with the host's
int8 reference engine on the same input, with bounded retries per frame; the report, its
summary and its CSV. A protocol-2 board answers with its whole output tensor, compared byte
for byte; a protocol-1 board with its class and score, compared as such."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tinycnn.board.serial.monitor import BoardLink, LinkError, LinkStats, PortLost, Reconnected
from tinycnn.board.serial.protocol import (
    BoardError,
    Hello,
    Output,
    Prediction,
    image_frame,
    output_problem,
    prediction_problem,
    tensor_frame,
)
from tinycnn.model.engines import BOARD_CONVENTION
from tinycnn.model.metadata import CLASSES, RECONSTRUCTION, class_names, output_kind
from tinycnn.quantization.evaluate import reconstruction_error
from tinycnn.quantization.inputs import has_test_images
from tinycnn.rundir import int8_model_path


@dataclass
class SampleResult:
    sample_id: int
    true_label: int
    board_class: int | None
    board_score: int | None
    host_class: int
    host_score: int
    latency_us: int | None
    attempts: int
    host_output: bytes = b""  # the host's output tensor, when the board sends its own
    board_output: bytes | None = None
    board_error: float | None = None  # the board's reconstruction error (an autoencoder)
    host_error: float | None = None

    @property
    def answered(self) -> bool:
        return self.board_class is not None

    @property
    def agrees(self) -> bool:
        """The same output tensor, byte for byte (protocol 2), or the same class and score."""
        if self.host_output:
            return self.board_output == self.host_output
        return self.board_class == self.host_class and self.board_score == self.host_score

    @property
    def differing_values(self) -> int | None:
        if not self.host_output or self.board_output is None:
            return None
        return sum(a != b for a, b in zip(self.board_output, self.host_output, strict=True))

    def as_row(self) -> dict:
        """What JSON and the text summary say of one input (no raw tensors)."""
        row = {k: v for k, v in self.__dict__.items() if not k.endswith("_output")}
        return {**row, "agrees": self.agrees, "differing_values": self.differing_values}


@dataclass
class ValidationReport:
    hello: Hello
    port: str
    requested: int
    kind: str = CLASSES  # what the model's outputs are (output_kind)
    outputs: int = 0  # values in the output tensor
    results: list[SampleResult] = field(default_factory=list)
    board_errors: list[str] = field(default_factory=list)
    interrupted: bool = False
    port_lost: str | None = None  # why the run ended early, when the port went away for good
    seconds: float = 0.0
    link: LinkStats | None = None
    protocol_errors: int = 0  # PRED lines with impossible values, not counted as answers
    interrupt: BaseException | None = None  # the Ctrl-C or signal that ended the run

    @property
    def answered(self) -> list[SampleResult]:
        return [r for r in self.results if r.answered]

    @property
    def passed(self) -> bool:
        """Every image sent was answered, exactly as the host computed it, and the run ended
        neither early nor with the port gone."""
        answered = self.answered
        return (
            bool(answered)
            and len(answered) == len(self.results) == self.requested
            and all(r.agrees for r in answered)
            and not self.port_lost
            and not self.interrupted
        )

    def write_csv(self, path: Path) -> None:
        """One row per image sent: what the board and the host said, latency and attempts."""
        import csv
        import io

        from tinycnn.outputs import write_atomically

        columns = ("sample_id", "true_label", "board_class", "board_score", "host_class")
        columns += ("host_score", "agrees", "latency_us", "attempts", "differing_values")
        columns += ("board_reconstruction_error", "host_reconstruction_error")
        stream = io.StringIO(newline="")
        writer = csv.writer(stream)
        writer.writerow(columns)
        for r in self.results:
            writer.writerow(
                [r.sample_id, r.true_label, r.board_class, r.board_score, r.host_class]
                + [r.host_score, int(r.agrees), r.latency_us, r.attempts, r.differing_values]
                + [r.board_error, r.host_error]
            )
        write_atomically(path, stream.getvalue().encode())

    def summary(self) -> dict:
        answered = self.answered
        classified = self.kind != RECONSTRUCTION  # an autoencoder's outputs are no classes
        labelled = [r for r in answered if r.true_label >= 0 and classified]
        labels = np.array([r.true_label for r in labelled], dtype=np.int64)
        board = np.array([r.board_class for r in labelled], dtype=np.int64)
        known = [r for r in self.results if r.true_label >= 0 and classified]
        host = np.array([r.host_class for r in known], dtype=np.int64)
        host_labels = np.array([r.true_label for r in known], dtype=np.int64)
        latencies = np.array([r.latency_us for r in answered], dtype=np.float64)
        classes = min(self.outputs, 128) if labelled else 0
        confusion = np.zeros((classes, classes), dtype=np.int64)
        if labelled:
            np.add.at(confusion, (labels, board), 1)
        emulated = _is_emulated(self.hello.fields.get("board"))
        latency = {}
        if answered:
            latency = {
                "mean_us": float(latencies.mean()),
                "p50_us": float(np.percentile(latencies, 50)),
                "p95_us": float(np.percentile(latencies, 95)),
                "max_us": float(latencies.max()),
            }
            if emulated:  # -icount shift=0: one instruction per virtual nanosecond
                latency["instructions_per_inference"] = int(round(latencies.mean() * 1000))
        return {
            "port": self.port,
            "model": self.hello.model,
            "model_sha256": self.hello.sha256,
            "board": self.hello.fields.get("board"),
            "requested": self.requested,
            "sent": len(self.results),
            "answered": len(answered),
            "lost": len(self.results) - len(answered),
            "interrupted": self.interrupted,
            "port_lost": self.port_lost,
            "board_accuracy": float(np.mean(board == labels)) if labelled else None,
            "host_int8_accuracy": float(np.mean(host == host_labels)) if known else None,
            "compared": "output tensor" if self.hello.version >= 2 else "class and score",
            "output_kind": self.kind,
            "outputs": self.outputs,
            "agreement": float(np.mean([r.agrees for r in answered])) if answered else None,
            "disagreements": [r.as_row() for r in answered if not r.agrees],
            "reconstruction_error": _errors(answered) if self.kind == RECONSTRUCTION else None,
            "confusion": confusion.tolist(),
            "latency": latency,
            "retries": int(sum(r.attempts - 1 for r in self.results)),
            "board_errors": self.board_errors,
            "protocol_errors": self.protocol_errors,
            "reconnects": self.link.reconnects if self.link else 0,
            "seconds": self.seconds,
        }


CSV_HEADER = "sample_id,true_label,board_class,board_score,host_class"


def is_validation_csv(path: Path) -> bool:
    """Whether ``path`` is a CSV a validation wrote (its header), which a new one may replace."""
    with open(path, "rb") as stream:
        return stream.read(len(CSV_HEADER)).decode("ascii", "replace") == CSV_HEADER


def _errors(answered: list[SampleResult]) -> dict | None:
    """The reconstruction errors (mean squared, dequantized) of the board's and the host's
    outputs: the anomaly scores an autoencoder gives."""
    board = [r.board_error for r in answered if r.board_error is not None]
    if not board:
        return None
    host = [r.host_error for r in answered if r.board_error is not None]
    return {
        "board_mean": float(np.mean(board)),
        "board_max": float(np.max(board)),
        "host_mean": float(np.mean(host)),
        "host_max": float(np.max(host)),
    }


def _host_reference(
    model, model_path, count: int, convention: str, data_dir, given, on_progress=None
):
    """The inputs to send (``given``: a .npy batch or a folder of pictures, and optionally a
    .npy of their classes; else the test images of the model's data set), their
    labels (-1: unknown), and the host int8 outputs."""
    from tinycnn.quantization.inputs import given_inputs, run_test_images
    from tinycnn.ref.runner import run_model

    inputs, labels_file = given
    if inputs is None:
        if not has_test_images(model, model_path):
            raise LinkError(_no_test_images(model))
        chosen = run_test_images(model, model_path, count, data_dir)
        values, labels = chosen.values, chosen.labels.astype(int)
    else:
        values = given_inputs(model, model_path, Path(inputs))[0]
        if len(values) < count:
            raise LinkError(
                f"--validate {count} asks for more inputs than {inputs} holds ({len(values)})"
            )
        values = values[:count]
        labels = _given_labels(labels_file, len(values), model)
    outputs = run_model(model, values, convention=convention, on_progress=on_progress)
    return values, labels, outputs.outputs[0].reshape(len(values), -1)


def _given_labels(labels_file, count: int, model) -> np.ndarray:
    """The classes of the given inputs (-1 for each without a file)."""
    if labels_file is None:
        return np.full(count, -1, dtype=np.int64)
    try:
        labels = np.load(labels_file, allow_pickle=False).astype(np.int64).reshape(-1)
    except (OSError, ValueError) as exc:
        raise LinkError(f"{labels_file}: not a readable .npy of classes ({exc})") from None
    classes = int(np.prod(model.output_tensors()[0].shape))
    if (
        len(labels) < count
        or labels.min(initial=0) < 0
        or labels.max(initial=0) >= min(classes, 128)
    ):
        raise LinkError(
            f"{labels_file}: {len(labels)} classes for {count} inputs, each in 0..{min(classes, 128) - 1}"
        )
    return labels[:count]


def validation_model(target: str | Path):
    """The model a validation compares the board with: one int8 input and one int8 output
    (the board answers with the class, the output's largest element, and its score)."""
    from tinycnn.model.tflite_io import read_model
    from tinycnn.rundir import int8_model_path

    path = int8_model_path(target)
    model = read_model(path)
    inputs, outputs = model.input_tensors(), model.output_tensors()
    if len(inputs) == 1 and len(outputs) == 1:
        (inp,), (out,) = inputs, outputs
        if inp.dtype == np.int8 and out.dtype == np.int8:
            return model
        takes = f"takes {inp.dtype.name} and gives {out.dtype.name}"
    else:
        takes = f"has {len(inputs)} inputs and {len(outputs)} outputs"
    raise LinkError(
        f"--validate needs a model with one int8 input and one int8 output, as the firmware "
        f"runs it; {path} {takes}"
    )


def check_validation_request(model_target, inputs) -> None:
    """Before any port is opened: the model can be validated, with what will be sent."""
    model = validation_model(model_target)
    if inputs is None and not has_test_images(model, int8_model_path(model_target)):
        raise LinkError(_no_test_images(model))


def _no_test_images(model) -> str:
    return (
        f"--validate sends the test images of the model's data set (Fashion-MNIST's for a "
        f"28x28x1 model, its run's own for one trained with --data); this one takes "
        f"{list(model.input_tensors()[0].shape)}: give its inputs with --inputs X.npy|DIR"
    )


def validate(
    link: BoardLink,
    model_target: str | Path,
    count: int,
    *,
    data_dir=None,
    frame_timeout_s: float = 10.0,
    retries: int = 3,
    inputs: str | Path | None = None,
    labels_file: str | Path | None = None,
    on_result: Callable[[SampleResult], None] | None = None,
    on_progress=None,
) -> ValidationReport:
    """Send ``count`` inputs one frame at a time and compare the board's answers with the
    host's int8 reference, input by input: the test images of the model's data set
    (Fashion-MNIST's, or its run's ``--data``), else ``inputs`` (a .npy batch or a folder of
    pictures; ``labels_file`` a .npy of their classes). A protocol-2 board's whole output
    tensors are compared, a protocol-1 board's class and score. Ctrl-C ends early with the
    report so far. ``on_progress`` follows the host reference run (see ``tinycnn.progress``)."""
    started = time.monotonic()
    model = validation_model(model_target)
    hello = link.hello()
    if hello.sha256 != model.sha256[: len(hello.sha256)]:
        raise LinkError(
            f"the board runs model {hello.model!r} (sha256 {hello.sha256}), not "
            f"{model_target} (sha256 {model.sha256[:16]}): export and upload "
            "that model, or pass the right --model"
        )
    rounding = hello.fields.get("rounding", BOARD_CONVENTION)
    path = int8_model_path(model_target)
    given = (inputs, labels_file)
    images, labels, outputs = _host_reference(
        model, path, count, rounding, data_dir, given, on_progress
    )
    report = ValidationReport(
        hello=hello,
        port=link.port,
        requested=len(images),
        kind=output_kind(model, class_names(path, model)),
        outputs=outputs.shape[1],
        link=link.stats,
    )
    try:
        for index in range(len(images)):
            result = _expected(report, model, images[index], int(labels[index]), outputs[index])
            result.sample_id = index
            _exchange(link, report, result, images[index], (retries, frame_timeout_s))
            if report.kind == RECONSTRUCTION and result.board_output is not None:
                board = np.frombuffer(result.board_output, np.int8)[None]
                result.board_error = float(
                    reconstruction_error(model, images[None, index], board)[0]
                )
            report.results.append(result)
            if on_result:
                on_result(result)
    except KeyboardInterrupt as exc:
        report.interrupted, report.interrupt = True, exc
    except PortLost as exc:
        report.port_lost = str(exc)
    report.seconds = time.monotonic() - started
    return report


def _expected(report: ValidationReport, model, image, label: int, output) -> SampleResult:
    """What the host computed for one input, before the board is asked."""
    result = SampleResult(0, label, None, None, int(np.argmax(output)), int(output.max()), None, 0)
    if report.hello.version >= 2:  # the board sends its whole output: compare all of it
        result.host_output = output.astype(np.int8).tobytes()
    if report.kind == RECONSTRUCTION:
        result.host_error = float(reconstruction_error(model, image[None], output[None])[0])
    return result


def _exchange(link: BoardLink, report: ValidationReport, result: SampleResult, image, limits):
    """Send one input until the board answers it, at most ``retries`` + 1 times."""
    retries, timeout_s = limits
    encode = tensor_frame if result.host_output else image_frame
    frame = encode(result.sample_id, image, result.true_label)
    while result.board_class is None and result.attempts <= retries:
        result.attempts += 1
        try:
            link.write(frame)
        except Reconnected:
            continue  # send the frame again
        _await_answer(link, report, result, timeout_s)


def _await_answer(link: BoardLink, report: ValidationReport, result: SampleResult, timeout_s):
    """Read events until the board answers ``result``'s frame (filling it in), reports a
    problem with it (the caller sends it again), or ``timeout_s`` passes."""
    index = result.sample_id
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        event = link.read_event(deadline - time.monotonic())
        answer = isinstance(event, Output | Prediction) and event.source == "host"
        if answer and event.sample_id == index:
            problem = _answer_problem(event, report)
            if problem:
                report.board_errors.append(f"protocol error id={index}: {problem}")
                report.protocol_errors += 1
                return  # an impossible answer: ask again
            if isinstance(event, Output):
                values = event.values()
                result.board_output = event.data
                result.board_class, result.board_score = int(np.argmax(values)), int(values.max())
            else:
                result.board_class, result.board_score = event.predicted, event.score
            result.latency_us = event.latency_us
            return
        if isinstance(event, BoardError):
            report.board_errors.append(f"{event.code} id={event.sample_id}: {event.message}")
            if event.sample_id == index:
                return  # the board dropped this frame: resend it
        if isinstance(event, Hello) and event.fields.get("why") == "boot":
            report.board_errors.append("board reset (boot banner seen mid-run)")
            return  # what the board was computing is gone: resend


def _answer_problem(event, report: ValidationReport) -> str | None:
    if isinstance(event, Output):
        return output_problem(event, report.outputs)
    return prediction_problem(event, report.hello.classes)


def _is_emulated(board_name: str | None) -> bool:
    """Whether the board that said hello is an emulated one (its timer counts instructions)."""
    from tinycnn.boards import BOARD_NAMES, load_board

    return board_name in BOARD_NAMES and load_board(board_name).qemu_machine is not None
