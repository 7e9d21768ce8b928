"""End to end on the emulated board: the qemu_m4 firmware in QEMU, its UART on a real
pseudo-terminal (or loopback TCP for the reset test), driven through pyserial."""

from __future__ import annotations

import json
import socket
import threading
import time

import numpy as np
import pytest
from click.testing import CliRunner

from tinycnn.board.emulate import Emulator, firmware_for
from tinycnn.board.serial.monitor import BoardLink
from tinycnn.board.serial.protocol import BoardError, Hello, Prediction, encode_frame, image_frame
from tinycnn.board.serial.validation import validate
from tinycnn.cli import cli
from tinycnn.model.tflite_io import read_model
from tinycnn.quantization.affine import quantize
from tinycnn.ref.runner import run_model
from tinycnn.rundir import INT8_MODEL_FILE

pytestmark = pytest.mark.slow  # firmware booted in QEMU


@pytest.fixture(scope="module")
def firmware(seed_cnn_run, tmp_path_factory):
    return firmware_for(seed_cnn_run, cache_dir=tmp_path_factory.mktemp("fw"))


@pytest.fixture(scope="module")
def host_reference(seed_cnn_run, dataset):
    model = read_model(seed_cnn_run / INT8_MODEL_FILE)
    quant = model.input_tensors()[0].quantization
    images = quantize(
        dataset.test_images[:200, :, :, None] / 255.0, quant.single_scale, quant.single_zero_point
    )
    return images, run_model(model, images, convention="tflm").outputs[0]


def test_listen_sees_banner_and_predictions(firmware):
    with Emulator(firmware) as emulator, BoardLink(emulator.port) as link:
        assert emulator.port.startswith("/dev/pts/")
        hello = link.hello()
        assert (
            hello.model == "seed_cnn"
            and hello.input_shape == (1, 28, 28, 1)
            and hello.fields["why"] in ("boot", "request")
        )
        deadline = time.monotonic() + 90
        event = None
        while time.monotonic() < deadline and not isinstance(event, Prediction):
            event = link.read_event(deadline - time.monotonic())
        assert isinstance(event, Prediction) and event.source == "demo" and event.latency_us > 0


def test_validate_200_through_the_cli(seed_cnn_run, tmp_path):
    result = CliRunner().invoke(
        cli,
        [
            "emulate",
            str(seed_cnn_run),
            "--monitor",
            "--validate",
            "200",
            "--json",
            "--csv",
            str(tmp_path / "results.csv"),
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["answered"] == 200 and summary["lost"] == 0
    assert (
        summary["agreement"] == 1.0 and summary["board_accuracy"] == summary["host_int8_accuracy"]
    )
    assert summary["latency"]["instructions_per_inference"] > 1_000_000
    assert len((tmp_path / "results.csv").read_text().splitlines()) == 201


def test_model_mismatch_is_refused(firmware, tmp_path):
    from op_harness import convert_case

    other = tmp_path / "other.tflite"
    other.write_bytes(convert_case(lambda k, L, x: L.Dense(10)(L.Flatten()(x)), (28, 28, 1)))
    with Emulator(firmware) as emulator:
        result = CliRunner().invoke(
            cli, ["monitor", "--port", emulator.port, "--validate", "5", "--model", str(other)]
        )
    assert result.exit_code == 1 and "the board runs model 'seed_cnn'" in result.output


def _collect(link: BoardLink, quiet_s: float, limit_s: float) -> list:
    """Answers to host frames (host predictions and errors) until none has come for ``quiet_s``
    (the board's idle demo lines do not count), bounded by ``limit_s``."""
    events, deadline = [], time.monotonic() + limit_s
    last_answer = time.monotonic()
    while time.monotonic() < min(deadline, last_answer + quiet_s):
        event = link.read_event(0.5)
        if isinstance(event, BoardError) or (
            isinstance(event, Prediction) and event.source == "host"
        ):
            events.append(event)
            last_answer = time.monotonic()
    return events


def test_fault_injection_leaves_the_board_answering(firmware, host_reference):
    images, expected = host_reference
    rng = np.random.default_rng(3)
    good = [image_frame(i, images[i], -1) for i in range(100)]
    bad_crc = bytearray(image_frame(1000, images[0]))
    bad_crc[-1] ^= 0xFF
    oversize = encode_frame(1, 1001, b"", -1)[:8] + (60_000).to_bytes(2, "little") + b"\x00" * 40
    truncated = image_frame(1002, images[1])[:300]
    garbage = bytes(rng.integers(0, 256, 500, dtype=np.uint8))

    with Emulator(firmware) as emulator, BoardLink(emulator.port) as link:
        link.hello()

        def send_all():  # writes block while the board computes: send from a second thread
            for chunk in (garbage, bytes(bad_crc), garbage[:50], oversize, truncated, *good):
                link.write(chunk)

        writer = threading.Thread(target=send_all, daemon=True)
        writer.start()
        events = _collect(link, quiet_s=10, limit_s=180)
        writer.join(timeout=30)
        answered = [e.sample_id for e in events if isinstance(e, Prediction) and e.source == "host"]
        errors = {(e.code, e.sample_id) for e in events if isinstance(e, BoardError)}
        assert ("crc", 1000) in errors and ("length", 1001) in errors
        assert any(code in ("crc", "timeout") and sample == 1002 for code, sample in errors), errors
        # The truncated frame swallowed the start of frame 0; send what went unanswered again.
        missing = sorted(set(range(100)) - set(answered))
        assert len(missing) <= 2, missing
        for index in missing:
            link.write(good[index])
        events += _collect(link, quiet_s=6, limit_s=60)
        predictions = [
            e
            for e in events
            if isinstance(e, Prediction) and e.source == "host" and e.sample_id < 100
        ]
        ids = [p.sample_id for p in predictions]
        assert sorted(ids) == list(range(100)), "lost or duplicated answers"
        for p in predictions:
            assert p.predicted == int(np.argmax(expected[p.sample_id])) and p.score == int(
                expected[p.sample_id].max()
            )
        assert isinstance(link.hello(), Hello)  # and it still answers afterwards


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_monitor_survives_port_loss_and_board_reset(firmware, seed_cnn_run):
    tcp_port = _free_port()
    emulators = [Emulator(firmware, tcp_port=tcp_port).start()]

    def reset_board_once(result):
        if result.sample_id == 10 and len(emulators) == 1:
            emulators[0].stop()  # the port vanishes mid-run
            threading.Timer(
                1.0, lambda: emulators.append(Emulator(firmware, tcp_port=tcp_port).start())
            ).start()

    try:
        with BoardLink(emulators[0].port, reconnect_s=20) as link:
            report = validate(link, seed_cnn_run, 30, frame_timeout_s=8, on_result=reset_board_once)
        summary = report.summary()
        assert summary["answered"] == 30 and summary["agreement"] == 1.0, summary
        assert summary["reconnects"] >= 1
    finally:
        for emulator in emulators:
            emulator.stop()


def test_port_gone_for_good_ends_with_the_summary(firmware, seed_cnn_run):
    tcp_port = _free_port()
    emulator = Emulator(firmware, tcp_port=tcp_port).start()
    try:
        with BoardLink(emulator.port, reconnect_s=2) as link:
            report = validate(
                link,
                seed_cnn_run,
                20,
                frame_timeout_s=3,
                on_result=lambda r: emulator.stop() if r.sample_id == 5 else None,
            )
    finally:
        emulator.stop()
    summary = report.summary()
    assert summary["port_lost"] and "did not come back" in summary["port_lost"]
    assert summary["answered"] == 6 and summary["agreement"] == 1.0


def test_mutated_frames_leave_the_board_answering(firmware, host_reference):
    """Three hundred damaged frames (bytes changed anywhere: magic, header, payload, CRC) into
    the real firmware parser: the board survives and then answers a good frame exactly."""
    images, expected = host_reference
    rng = np.random.default_rng(9)
    mutants = []
    for index in range(300):
        frame = bytearray(image_frame(index, images[index % len(images)], -1))
        for _ in range(int(rng.integers(1, 4))):
            frame[int(rng.integers(0, len(frame)))] = int(rng.integers(0, 256))
        mutants.append(bytes(frame))
    with Emulator(firmware) as emulator, BoardLink(emulator.port) as link:
        link.hello()
        writer = threading.Thread(target=lambda: [link.write(m) for m in mutants], daemon=True)
        writer.start()
        _collect(link, quiet_s=4, limit_s=240)  # errors and the odd lucky frame
        writer.join(timeout=60)
        time.sleep(2.5)  # a frame cut short is dropped after the board's 2 s timeout
        answer = None
        for _ in range(3):
            link.write(image_frame(9999, images[7], 3))
            events = _collect(link, quiet_s=3, limit_s=30)
            answer = next(
                (e for e in events if isinstance(e, Prediction) and e.sample_id == 9999), None
            )
            if answer:
                break
        assert answer is not None, "the board stopped answering after damaged frames"
        assert answer.predicted == int(np.argmax(expected[7])) and answer.score == int(
            expected[7].max()
        )
        assert isinstance(link.hello(), Hello)


def test_monitor_listens_for_the_duration_asked(firmware):
    with Emulator(firmware) as emulator:
        started = time.monotonic()
        result = CliRunner().invoke(cli, ["monitor", "--port", emulator.port, "--duration", "4"])
        elapsed = time.monotonic() - started
    assert result.exit_code == 0, result.output
    assert 3.5 < elapsed < 10, elapsed
    lines = result.output.splitlines()
    assert lines[0].startswith("board: seed_cnn") and "10 classes" in lines[0]
    assert lines[-1].endswith("predictions") or "predictions," in lines[-1], result.output


def test_validate_alone_implies_the_monitor(seed_cnn_run):
    """`emulate --validate N` without --monitor once booted the board and waited for Ctrl-C,
    the images asked for silently ignored; now it validates."""
    result = CliRunner().invoke(cli, ["emulate", str(seed_cnn_run), "--validate", "5", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["answered"] == 5 and summary["agreement"] == 1.0


def _converted(tmp_path, name: str, build, shape):
    from op_harness import convert_case

    path = tmp_path / f"{name}.tflite"
    path.write_bytes(convert_case(build, shape))
    return path


@pytest.mark.parametrize(
    "name, shape, classes, build",
    [
        (  # a CIFAR-sized classifier
            "rgb32",
            (32, 32, 3),
            7,
            lambda k, L, x: L.Dense(7, activation="softmax")(
                L.GlobalAveragePooling2D()(L.Conv2D(8, 3, strides=2, activation="relu")(x))
            ),
        ),
        (  # a keyword-spotting-shaped, non-square single-channel input
            "kws",
            (49, 10, 1),
            12,
            lambda k, L, x: L.Dense(12, activation="softmax")(
                L.Flatten()(L.DepthwiseConv2D((10, 4), strides=2)(x))
            ),
        ),
        (  # an anomaly-detection autoencoder on 640 features (the DCASE baseline's shape)
            "autoencoder",
            (640,),
            None,
            lambda k, L, x: L.Dense(640)(L.Dense(16, activation="relu")(L.Dense(64)(x))),
        ),
    ],
)
def test_validate_any_model_with_its_own_inputs(tmp_path, name, shape, classes, build):
    """A model that does not take Fashion-MNIST images validates on the emulated board with the
    user's inputs (a .npy batch) and classes (a .npy): the board sends its whole output tensor
    (protocol 2) and every one is byte for byte the host's; an autoencoder's reconstruction
    error (its anomaly score) is the host's too."""
    model = _converted(tmp_path, name, build, shape)
    rng = np.random.default_rng(5)
    np.save(tmp_path / "x.npy", rng.integers(-128, 128, (6, *shape)).astype(np.int8))
    args = ["emulate", str(model), "--validate", "6", "--json"]
    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code == 1 and "give its inputs with --inputs" in refused.output
    too_many = CliRunner().invoke(
        cli, ["emulate", str(model), "--validate", "7", "--inputs", str(tmp_path / "x.npy")]
    )
    assert too_many.exit_code == 1 and "asks for more inputs than" in too_many.output
    args += ["--inputs", str(tmp_path / "x.npy")]
    if classes:
        np.save(tmp_path / "y.npy", rng.integers(0, classes, 6))
        args += ["--labels-file", str(tmp_path / "y.npy")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["answered"] == 6 and summary["agreement"] == 1.0 and summary["lost"] == 0
    assert summary["compared"] == "output tensor" and summary["outputs"] == (classes or 640)
    if classes:
        assert summary["board_accuracy"] == summary["host_int8_accuracy"]
        assert len(summary["confusion"]) == classes
    else:
        errors = summary["reconstruction_error"]
        assert summary["output_kind"] == "reconstruction" and summary["board_accuracy"] is None
        assert errors["board_mean"] == errors["host_mean"] > 0
