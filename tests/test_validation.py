"""Validation against a board that speaks protocol 1 (class and score, no OUT line): boards
flashed by an earlier tinycnn keep validating. The board here is a stand-in on a real
pseudo-terminal, as the version-1 firmware cannot be generated any more: it parses the frames
and answers with the host reference engine's class and score, as that firmware did. Protocol-2
boards (whole output tensors) are validated on the emulated board in test_emulated_board.py."""

from __future__ import annotations

import os
import select
import struct
import threading

import numpy as np
import pytest

from tinycnn.board.serial.monitor import BoardLink
from tinycnn.board.serial.protocol import MAGIC, crc16_ccitt
from tinycnn.board.serial.validation import validate
from tinycnn.model.tflite_io import read_model
from tinycnn.ref.runner import run_model


class VersionOneBoard(threading.Thread):
    """Answers hello requests and type-1 frames as a protocol-1 board; ignores type 3, which
    that firmware did not know. ``wrong_score`` makes it misreport one input."""

    def __init__(self, model_path, wrong_score: int | None = None):
        super().__init__(daemon=True)
        self.model = read_model(model_path)
        self.master, slave = os.openpty()
        self.port = os.ttyname(slave)
        self.slave, self.wrong_score, self.stopping = slave, wrong_score, threading.Event()
        self.buffer, self.ignored = b"", 0

    def _send(self, line: str) -> None:
        os.write(self.master, (line + "\r\n").encode())

    def _frame(self):
        """The next complete frame (type, id, label, payload) from the buffer, or None."""
        start = self.buffer.find(MAGIC)
        if start < 0 or len(self.buffer) < start + 10:
            return None
        kind, sample_id, label, length = struct.unpack("<BIbH", self.buffer[start + 2 : start + 10])
        end = start + 10 + length + 2
        if len(self.buffer) < end:
            return None
        body, crc = self.buffer[start + 2 : end - 2], self.buffer[end - 2 : end]
        self.buffer = self.buffer[end:]
        if crc16_ccitt(body) != struct.unpack("<H", crc)[0]:
            return kind, sample_id, label, None  # a damaged frame: not answered
        return kind, sample_id, label, body[8:]

    def _answer(self, kind, sample_id, label, payload) -> None:
        (inp,) = self.model.input_tensors()
        if payload is None:
            self._send(f'TC1 ERR code=crc id={sample_id} msg="CRC mismatch, frame dropped"')
        elif kind == 2:
            shape = "x".join(map(str, inp.shape))
            self._send(
                f'TC1 HELLO model="{self.model.name}" sha256={self.model.sha256[:16]} '
                f"input={shape} classes=4 arena=100 board=nano33 rounding=tflm tests=0 why=request"
            )
        elif kind == 1:
            values = np.frombuffer(payload, np.int8).reshape(1, *inp.shape[1:])
            scores = run_model(self.model, values, convention="tflm").outputs[0].reshape(-1)
            best = int(np.argmax(scores))
            score = int(scores[best]) + (sample_id == self.wrong_score)
            self._send(
                f'TC1 PRED id={sample_id} class={best} label="c{best}" score={score} '
                f"true={label} us=100 src=host"
            )
        else:
            self.ignored += 1

    def run(self) -> None:
        while not self.stopping.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                self.buffer += os.read(self.master, 4096)
            while (frame := self._frame()) is not None:
                self._answer(*frame)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=5)
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    from op_harness import convert_case

    folder = tmp_path_factory.mktemp("v1")
    path = folder / "small.tflite"
    path.write_bytes(
        convert_case(
            lambda k, L, x: L.Dense(4, activation="softmax")(L.Flatten()(L.Conv2D(3, 3)(x))),
            (8, 8, 1),
        )
    )
    rng = np.random.default_rng(2)
    np.save(folder / "x.npy", rng.integers(-128, 128, (12, 8, 8, 1)).astype(np.int8))
    np.save(folder / "y.npy", rng.integers(0, 4, 12))
    return folder


@pytest.mark.parametrize("wrong_score", [None, 5])
def test_a_version_1_board_is_validated_by_class_and_score(classifier, wrong_score):
    board = VersionOneBoard(classifier / "small.tflite", wrong_score)
    board.start()
    try:
        with BoardLink(board.port) as link:
            report = validate(
                link,
                classifier / "small.tflite",
                12,
                inputs=classifier / "x.npy",
                labels_file=classifier / "y.npy",
                frame_timeout_s=5.0,
            )
    finally:
        board.stop()
    summary = report.summary()
    assert summary["compared"] == "class and score" and summary["answered"] == 12
    assert board.ignored == 0  # no frame the version-1 firmware would not know was sent
    if wrong_score is None:
        assert report.passed and summary["agreement"] == 1.0
        assert summary["board_accuracy"] == summary["host_int8_accuracy"]
    else:  # the one misreported score is caught
        assert not report.passed and [d["sample_id"] for d in summary["disagreements"]] == [5]
