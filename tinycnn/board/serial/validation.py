"""Validating a board image by image: each Fashion-MNIST test image sent as one frame, the
board's class and score compared with the host's int8 reference engine on the same image,
with bounded retries per frame; the report, its summary and its CSV."""

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
    Prediction,
    image_frame,
    prediction_problem,
)
from tinycnn.model.engines import BOARD_CONVENTION
from tinycnn.quantization.inputs import takes_fashion_images
from tinycnn.training.models import NUM_CLASSES


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

    @property
    def agrees(self) -> bool:
        return self.board_class == self.host_class and self.board_score == self.host_score


@dataclass
class ValidationReport:
    hello: Hello
    port: str
    requested: int
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
        return [r for r in self.results if r.board_class is not None]

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
        columns += ("host_score", "agrees", "latency_us", "attempts")
        stream = io.StringIO(newline="")
        writer = csv.writer(stream)
        writer.writerow(columns)
        for r in self.results:
            writer.writerow(
                [r.sample_id, r.true_label, r.board_class, r.board_score, r.host_class]
                + [r.host_score, int(r.agrees), r.latency_us, r.attempts]
            )
        write_atomically(path, stream.getvalue().encode())

    def summary(self) -> dict:
        answered = self.answered
        labels = np.array([r.true_label for r in answered], dtype=np.int64)
        board = np.array([r.board_class for r in answered], dtype=np.int64)
        host = np.array([r.host_class for r in self.results], dtype=np.int64)
        host_labels = np.array([r.true_label for r in self.results], dtype=np.int64)
        latencies = np.array([r.latency_us for r in answered], dtype=np.float64)
        classes = self.hello.classes
        confusion = np.zeros((classes, classes), dtype=np.int64)
        if answered:
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
            "board_accuracy": float(np.mean(board == labels)) if answered else None,
            "host_int8_accuracy": float(np.mean(host == host_labels)) if self.results else None,
            "agreement": float(np.mean([r.agrees for r in answered])) if answered else None,
            "disagreements": [r.__dict__ for r in answered if not r.agrees],
            "confusion": confusion.tolist(),
            "latency": latency,
            "retries": int(sum(r.attempts - 1 for r in self.results)),
            "board_errors": self.board_errors,
            "protocol_errors": self.protocol_errors,
            "reconnects": self.link.reconnects if self.link else 0,
            "seconds": self.seconds,
        }


def _host_reference(model, count: int, convention: str, data_dir, on_progress=None):
    """Test images quantized for the model, their labels, and the host int8 outputs."""
    from tinycnn.quantization.inputs import fashion_images
    from tinycnn.ref.runner import run_model

    images = fashion_images(model, count, data_dir)
    outputs = run_model(model, images.values, convention=convention, on_progress=on_progress)
    return images.values, images.labels.astype(int), outputs.outputs[0].reshape(count, -1)


def validation_model(target: str | Path):
    """The model a validation compares the board with, refused unless it takes what validation
    sends (one Fashion-MNIST image, 28x28x1 int8) and answers 10 classes."""
    from tinycnn.model.tflite_io import read_model
    from tinycnn.rundir import int8_model_path

    path = int8_model_path(target)
    model = read_model(path)
    inputs, outputs = model.input_tensors(), model.output_tensors()
    if len(inputs) == 1 and len(outputs) == 1:
        (inp,), (out,) = inputs, outputs
        fits = takes_fashion_images(model) and int(np.prod(out.shape)) == NUM_CLASSES
        if fits and inp.dtype == np.int8:
            return model
        takes = (
            f"takes {inp.dtype.name} {list(inp.shape)} and gives {int(np.prod(out.shape))} outputs"
        )
    else:
        takes = f"has {len(inputs)} inputs and {len(outputs)} outputs"
    raise LinkError(
        f"--validate sends Fashion-MNIST test images and needs a model with one 1x28x28x1 int8 "
        f"input and 10 class outputs; {path} {takes}"
    )


def validate(
    link: BoardLink,
    model_target: str | Path,
    count: int,
    *,
    data_dir=None,
    frame_timeout_s: float = 10.0,
    retries: int = 3,
    on_result: Callable[[SampleResult], None] | None = None,
    on_progress=None,
) -> ValidationReport:
    """Send ``count`` test images one frame at a time and compare the board's answers with the
    host's int8 reference, image by image. Ctrl-C ends early with the report so far.
    ``on_progress`` follows the host reference run (see ``tinycnn.progress``)."""
    started = time.monotonic()
    model = validation_model(model_target)
    hello = link.hello()
    if hello.sha256 != model.sha256[: len(hello.sha256)]:
        raise LinkError(
            f"the board runs model {hello.model!r} (sha256 {hello.sha256}), not "
            f"{model_target} (sha256 {model.sha256[:16]}): export and upload "
            "that model, or pass the right --model"
        )
    images, labels, outputs = _host_reference(
        model, count, hello.fields.get("rounding", BOARD_CONVENTION), data_dir, on_progress
    )
    report = ValidationReport(hello=hello, port=link.port, requested=count, link=link.stats)
    try:
        for index in range(count):
            best = outputs[index]
            result = SampleResult(
                index,
                int(labels[index]),
                None,
                None,
                int(np.argmax(best)),
                int(best.max()),
                None,
                0,
            )
            frame = image_frame(index, images[index], int(labels[index]))
            while result.board_class is None and result.attempts <= retries:
                result.attempts += 1
                try:
                    link.write(frame)
                except Reconnected:
                    continue  # send the frame again
                _await_answer(link, report, result, frame_timeout_s)
            report.results.append(result)
            if on_result:
                on_result(result)
    except KeyboardInterrupt as exc:
        report.interrupted, report.interrupt = True, exc
    except PortLost as exc:
        report.port_lost = str(exc)
    report.seconds = time.monotonic() - started
    return report


def _await_answer(link: BoardLink, report: ValidationReport, result: SampleResult, timeout_s):
    """Read events until the board answers ``result``'s frame (filling it in), reports a
    problem with it (the caller sends it again), or ``timeout_s`` passes."""
    index, classes = result.sample_id, report.hello.classes
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        event = link.read_event(deadline - time.monotonic())
        if isinstance(event, Prediction) and event.source == "host" and event.sample_id == index:
            problem = prediction_problem(event, classes)
            if problem:
                report.board_errors.append(f"protocol error id={index}: {problem}")
                report.protocol_errors += 1
                return  # an impossible answer: ask again
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


def _is_emulated(board_name: str | None) -> bool:
    """Whether the board that said hello is an emulated one (its timer counts instructions)."""
    from tinycnn.boards import BOARD_NAMES, load_board

    return board_name in BOARD_NAMES and load_board(board_name).qemu_machine is not None
