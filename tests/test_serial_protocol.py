"""Protocol framing and line parsing, and the link over pyserial's loop:// (a real pyserial
port that echoes what is written)."""

import numpy as np
import pytest

from tinycnn.serial.monitor import BoardLink, LinkError
from tinycnn.serial.protocol import (
    MAGIC,
    BoardError,
    Hello,
    Prediction,
    crc16_ccitt,
    encode_frame,
    hello_request,
    image_frame,
    parse_line,
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
