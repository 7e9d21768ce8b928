"""Protocol framing and line parsing, and the link over pyserial's loop:// (a real pyserial
port that echoes what is written)."""

import numpy as np
import pytest

from tinycnn.board.serial.monitor import BoardLink, LinkError, ListenStats
from tinycnn.board.serial.protocol import (
    MAGIC,
    PROTOCOL_VERSION,
    BoardError,
    Hello,
    Output,
    Prediction,
    crc16_ccitt,
    encode_frame,
    hello_request,
    image_frame,
    output_problem,
    parse_line,
    prediction_problem,
    tensor_frame,
)


def test_crc16_ccitt_false_check_value():
    assert crc16_ccitt(b"123456789") == 0x29B1  # the catalogue's check value for CRC-16/CCITT-FALSE


def test_image_frame_layout():
    image = np.arange(-5, 5, dtype=np.int8)
    frame = image_frame(0x01020304, image, true_label=7)
    assert frame[:2] == MAGIC and frame[2] == 1
    assert frame[3:7] == bytes([4, 3, 2, 1]) and frame[7] == 7 and frame[8:10] == bytes([10, 0])
    assert frame[10:20] == image.tobytes()
    assert int.from_bytes(frame[20:22], "little") == crc16_ccitt(frame[2:20])
    assert hello_request()[2] == 2 and len(hello_request()) == 12
    with pytest.raises(ValueError):
        encode_frame(1, 2**32)


@pytest.mark.parametrize(
    "line, expected",
    [
        (
            'TC1 PRED id=7 class=6 label="Shirt" score=117 true=6 us=26362 src=host',
            Prediction(7, 6, "Shirt", 117, 6, 26362, "host"),
        ),
        (
            'TC1 PRED id=0 class=9 label="Ankle boot" score=-3 true=-1 us=5 src=demo',
            Prediction(0, 9, "Ankle boot", -3, -1, 5, "demo"),
        ),
        (
            'TC1 ERR code=crc id=12 msg="CRC mismatch, frame dropped"',
            BoardError("crc", 12, "CRC mismatch, frame dropped"),
        ),
        ('TC1 PRED id=7 class=6 label="Shi', None),  # cut by a reset
        ("TC1 PRED id=x class=6", None),
        ("\x00\xff garbage", None),
        ("hello from the bootloader", None),
        ("TC2 PRED id=1", None),
        (  # version 2: the whole output tensor, hex
            "TC2 OUT id=3 true=-1 us=9 src=host data=7f80000a",
            Output(3, bytes([0x7F, 0x80, 0x00, 0x0A]), -1, 9, "host"),
        ),
        ("TC2 OUT id=3 true=-1 us=9 src=host data=7f8", None),  # an odd digit: cut short
        ("TC1 OUT id=3 true=-1 us=9 src=host data=7f80", None),  # no OUT in version 1
        (
            'TC2 PRED id=7 class=6 label="Shirt" score=117 true=6 us=26362 src=host',
            Prediction(7, 6, "Shirt", 117, 6, 26362, "host"),
        ),
    ],
)
def test_parse_line(line, expected):
    assert parse_line(line) == expected


def test_parse_hello():
    hello = parse_line(
        'TC1 HELLO model="seed cnn" sha256=791cc0978de9a0ca input=1x28x28x1 classes=10 '
        "arena=27040 weights=35992 board=qemu_m4 clock_hz=25000000 rounding=tflm tests=10 why=boot"
    )
    assert isinstance(hello, Hello)
    assert hello.model == "seed cnn" and hello.input_shape == (1, 28, 28, 1) and hello.classes == 10
    assert hello.fields["rounding"] == "tflm" and hello.fields["why"] == "boot"


def test_version_2_hello_says_what_the_board_answers_with():
    v2 = parse_line(
        'TC2 HELLO model="ae" sha256=3140fe5c2dd3cc69 input=1x64 classes=0 arena=80 '
        "weights=3008 board=qemu_m4 tests=5 output=1x64 reports=tensor why=boot"
    )
    v1 = parse_line('TC1 HELLO model="m" sha256=ab input=1x28x28x1 classes=10 arena=1')
    assert (v2.version, v2.output_shape, v2.reports_tensor) == (2, (1, 64), True)
    assert (v1.version, v1.output_shape, v1.reports_tensor) == (1, None, False)
    assert Output(0, b"\xff\x01", -1, 5, "demo").values().tolist() == [-1, 1]


def test_tensor_frame_and_output_checks():
    image = np.arange(-3, 3, dtype=np.int8)
    frame = tensor_frame(9, image)
    assert frame[2] == 3 and frame[:2] == MAGIC and frame[10:16] == image.tobytes()
    assert frame[2:16] == image_frame(9, image)[2:16].replace(b"\x01", b"\x03", 1)
    assert output_problem(Output(1, bytes(4), -1, 10, "host"), 4) is None
    assert (
        output_problem(Output(1, bytes(3), -1, 10, "host"), 4) == "3 output values, the model has 4"
    )
    assert "not a possible" in output_problem(Output(1, bytes(4), -1, 2**32 - 1, "host"), 4)


def test_firmware_and_host_speak_the_same_version():
    from tinycnn.codegen import export

    assert export.PROTOCOL_VERSION == PROTOCOL_VERSION == 2


def test_link_reads_partial_lines_over_loop():
    with BoardLink("loop://") as link:
        link.write(b'TC1 PRED id=1 class=2 label="Pullover" sc')
        assert link.read_line(0.2) is None  # incomplete: nothing yet
        link.write(b"ore=127 true=2 us=9 src=host\r\nnoise line\r\n")
        event = link.read_event(1.0)
        assert event == Prediction(1, 2, "Pullover", 127, 2, 9, "host")
        assert link.read_event(0.3) is None and link.stats.unparsed_lines == 1


def test_wrong_baud_rate_is_named():
    """What a wrong baud rate looks like: bytes arrive but never a protocol line."""
    with BoardLink("loop://", baud=9600) as link:
        link.write(bytes(np.random.default_rng(0).integers(128, 256, 400, dtype=np.uint8)))
        with pytest.raises(LinkError, match="is the baud rate right"):
            link.hello(timeout_s=0.3, attempts=1)


def test_silent_port_is_one_clear_error():
    """A peer on loopback TCP (pyserial's socket://) that accepts and never answers."""
    import socket

    server = socket.create_server(("127.0.0.1", 0))
    try:
        port = server.getsockname()[1]
        with (
            BoardLink(f"socket://127.0.0.1:{port}") as link,
            pytest.raises(LinkError, match="no tinycnn board"),
        ):
            link.hello(timeout_s=0.2, attempts=2)
    finally:
        server.close()


def test_unopenable_port():
    with pytest.raises(LinkError, match="cannot open /dev/does-not-exist"):
        BoardLink("/dev/does-not-exist").open()


def test_mutated_and_random_board_lines_never_raise():
    """A few hundred damaged protocol lines and random byte strings: parse_line returns an event
    or None, nothing else."""
    rng = np.random.default_rng(5)
    good = [
        'TC1 PRED id=7 class=6 label="Shirt" score=117 true=6 us=26362 src=host',
        'TC1 HELLO model="seed cnn" sha256=791cc0978de9a0ca input=1x28x28x1 classes=10 arena=27040',
        'TC1 ERR code=crc id=12 msg="CRC mismatch, frame dropped"',
    ]
    parsed = 0
    for index in range(600):
        if index % 3 == 0:
            line = bytes(rng.integers(0, 256, int(rng.integers(0, 120)), dtype=np.uint8))
        else:
            line = bytearray(good[index % 3].encode())
            for _ in range(int(rng.integers(1, 4))):
                line[int(rng.integers(0, len(line)))] = int(rng.integers(0, 256))
        event = parse_line(bytes(line).decode("ascii", "replace"))
        assert event is None or isinstance(event, Hello | Prediction | BoardError)
        parsed += event is not None
    assert parsed > 50  # many mutants still parse: their values are what the checks below judge


@pytest.mark.parametrize(
    "event, problem",
    [
        (Prediction(1, 10, "x", 5, 3, 100, "host"), "class 10 outside 0..9"),
        (Prediction(1, -1, "x", 5, 3, 100, "host"), "class -1 outside 0..9"),
        (Prediction(1, 3, "x", 300, 3, 100, "host"), "score 300 outside int8"),
        (Prediction(1, 3, "x", 5, 12, 100, "host"), "true label 12 outside -1..9"),
        (Prediction(1, 3, "x", 5, 3, -4, "host"), "latency -4 us is not a possible"),
        (Prediction(1, 3, "x", 5, 3, 4_294_967_295, "host"), "is not a possible inference time"),
        (Prediction(1, 3, "x", -128, -1, 6_566, "host"), None),
    ],
)
def test_impossible_predictions_are_protocol_errors(event, problem):
    found = prediction_problem(event, classes=10)
    assert found == problem if problem is None else problem in found


def test_listen_statistics_count_labelled_predictions_only():
    stats = ListenStats(classes=3, labels={})
    stats.add(Prediction(0, 1, "cat", 100, 1, 10, "demo"))  # right
    stats.add(Prediction(1, 2, "dog", 90, 1, 20, "demo"))  # wrong
    stats.add(Prediction(2, 0, "bird", 80, -1, 30, "host"))  # unknown truth: not wrong
    assert stats.add(Prediction(3, 7, "?", 1, 1, 40, "host")) == "class 7 outside 0..2"
    assert (stats.predictions, stats.labelled, stats.correct) == (3, 2, 1)
    assert stats.accuracy == 0.5 and len(stats.protocol_errors) == 1
    assert stats.latency()["mean_us"] == 20.0  # the rejected line's latency is not counted
    # names come from what the board said (or the model), never Fashion-MNIST modulo 10
    assert stats.label(2) == "dog" and stats.label(1) == "cat" and stats.label(5) == "class 5"


def test_listen_mode_shows_a_tensor_boards_outputs():
    """A board that reports tensors (an autoencoder) shows each OUT line as its first values and
    size, counted apart from predictions."""
    from tinycnn.board.console import _listen_summary, _show_event

    shown, stats = [], ListenStats(classes=0)
    _show_event(Output(4, bytes([1, 255, 3]), -1, 120, "demo"), stats, shown.append)
    assert shown == ["demo #4     output [1, -1, 3] (3 int8 values)   latency 120 us"]
    assert _listen_summary(stats) == "1 output tensors, latency mean 120 us"


def test_an_out_line_of_a_large_output_is_read_whole():
    """A 96x96x3 output (27,648 values) is a 55 KB line, near the 64 KiB the link once took for
    noise; 100,000 values (a 200 KB line, from a board on a pseudo-terminal) pass too."""
    import os
    import threading

    values = np.random.default_rng(4).integers(-128, 128, 100_000).astype(np.int8)
    line = f"TC2 OUT id=1 true=-1 us=5 src=host data={values.tobytes().hex()}\r\n".encode()
    board, port = os.openpty()
    writer = threading.Thread(target=os.write, args=(board, line), daemon=True)
    try:
        with BoardLink(os.ttyname(port)) as link:
            writer.start()
            event = link.read_event(20.0)
        writer.join(timeout=20)
    finally:
        os.close(board)
        os.close(port)
    assert isinstance(event, Output) and np.array_equal(event.values(), values)
