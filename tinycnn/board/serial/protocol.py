"""The tinycnn serial protocol, version 2: text lines from the board, binary frames to it.

Board -> host, one ASCII line each (readable in any serial monitor):

    TC2 HELLO model="seed_cnn" sha256=791cc0978de9a0ca input=1x28x28x1 classes=10 arena=27040
        ... output=1x10 reports=classes
    TC2 PRED id=7 class=6 label="Shirt" score=117 true=6 us=26362 src=host
    TC2 OUT id=7 true=-1 us=26362 src=host data=f3807f...   (the raw int8 output tensor, hex)
    TC2 ERR code=crc id=7 msg="CRC mismatch, frame dropped"

Host -> board frames: ``A5 5A | type | id u32 LE | true label i8 | length u16 LE | payload |
CRC-16/CCITT-FALSE u16 LE`` over type..payload. Types: 1 an input (answered by PRED, or by OUT
for a board that ``reports=tensor``), 2 a hello request, 3 an input answered by OUT.

Version 2 adds the OUT line, frame type 3 and HELLO's ``output`` and ``reports`` (``classes``:
the board answers with the largest output's class; ``tensor``: with the whole output, for a
model whose outputs are not classes). Version 1 boards (TC1 lines, no OUT, no type 3) are still
read: the host validates them by class and score, as before.
"""

from __future__ import annotations

import shlex
import struct
from dataclasses import dataclass

PROTOCOL_VERSION = 2
VERSIONS = (1, 2)  # what the host reads
MAGIC = b"\xa5\x5a"
FRAME_IMAGE = 1
FRAME_HELLO = 2
FRAME_TENSOR = 3  # an input whose answer is the whole output tensor (version 2)
_HEADER = struct.Struct("<BIbH")  # type, id, true label, length


def crc16_ccitt(data: bytes, value: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE: polynomial 0x1021, initial 0xFFFF, no reflection, no final xor."""
    for byte in data:
        value ^= byte << 8
        for _ in range(8):
            value = ((value << 1) ^ 0x1021) & 0xFFFF if value & 0x8000 else (value << 1) & 0xFFFF
    return value


def encode_frame(
    frame_type: int, sample_id: int = 0, payload: bytes = b"", true_label: int = -1
) -> bytes:
    """One frame, ready to write to the port."""
    if not 0 <= sample_id < 2**32:
        raise ValueError("sample id must fit in 32 bits")
    if not -128 <= true_label <= 127:
        raise ValueError("true label must fit in int8")
    body = _HEADER.pack(frame_type, sample_id, true_label, len(payload)) + payload
    return MAGIC + body + struct.pack("<H", crc16_ccitt(body))


def image_frame(sample_id: int, image, true_label: int = -1) -> bytes:
    """An image frame: ``image`` is the already-quantized int8 input tensor."""
    return encode_frame(FRAME_IMAGE, sample_id, bytes(image.astype("int8").tobytes()), true_label)


def tensor_frame(sample_id: int, image, true_label: int = -1) -> bytes:
    """An input frame asking for the whole output tensor back (an OUT line; version 2)."""
    return encode_frame(FRAME_TENSOR, sample_id, bytes(image.astype("int8").tobytes()), true_label)


def hello_request() -> bytes:
    """Asks the board to repeat its banner (what it printed before the port was open is lost)."""
    return encode_frame(FRAME_HELLO)


@dataclass(frozen=True)
class Hello:
    model: str
    sha256: str  # the first 16 hex digits of the model file's SHA-256
    input_shape: tuple[int, ...]
    classes: int
    arena_bytes: int
    fields: dict
    version: int = 1

    @property
    def output_shape(self) -> tuple[int, ...] | None:
        """The output tensor's shape (version 2 boards say it)."""
        text = self.fields.get("output")
        return tuple(int(d) for d in text.split("x")) if text else None

    @property
    def reports_tensor(self) -> bool:
        """Whether the board answers every input with its whole output (an OUT line)."""
        return self.fields.get("reports") == "tensor"


@dataclass(frozen=True)
class Prediction:
    sample_id: int
    predicted: int
    label: str
    score: int
    true_label: int  # -1 when unknown
    latency_us: int
    source: str  # "host" for a frame the host sent, "demo" for an embedded test image


@dataclass(frozen=True)
class Output:
    """An OUT line: the board's whole output tensor for one input (version 2)."""

    sample_id: int
    data: bytes  # the raw int8 output tensor
    true_label: int  # -1 when unknown
    latency_us: int
    source: str  # "host" or "demo", as for Prediction

    def values(self):
        import numpy as np

        return np.frombuffer(self.data, dtype=np.int8)


# A board timer reading beyond this is a wrapped or garbled counter, not an inference time.
MAX_LATENCY_US = 600_000_000


def prediction_problem(event: Prediction, classes: int) -> str | None:
    """Why a well-formed PRED line cannot be true of a board with ``classes`` outputs, or None."""
    if not 0 <= event.predicted < classes:
        return f"class {event.predicted} outside 0..{classes - 1}"
    if not -128 <= event.score <= 127:
        return f"score {event.score} outside int8"
    if not -1 <= event.true_label < classes:
        return f"true label {event.true_label} outside -1..{classes - 1}"
    if not 0 <= event.latency_us <= MAX_LATENCY_US:
        return f"latency {event.latency_us} us is not a possible inference time"
    return None


@dataclass(frozen=True)
class BoardError:
    code: str
    sample_id: int
    message: str


def output_problem(event: Output, size: int) -> str | None:
    """Why a well-formed OUT line cannot be the answer of a model with ``size`` outputs."""
    if len(event.data) != size:
        return f"{len(event.data)} output values, the model has {size}"
    if not 0 <= event.latency_us <= MAX_LATENCY_US:
        return f"latency {event.latency_us} us is not a possible inference time"
    return None


Line = Hello | Prediction | Output | BoardError


def parse_line(text: str) -> Line | None:
    """Parse one line from the board; None for anything that is not a well-formed protocol line
    (boot noise, a line cut by a reset, garbage from a wrong baud rate)."""
    text = text.strip()
    version = next((v for v in VERSIONS if text.startswith(f"TC{v} ")), None)
    if version is None:
        return None
    try:
        words = shlex.split(text)
        kind, fields = words[1], dict(word.split("=", 1) for word in words[2:])
        if kind == "HELLO":
            return Hello(
                fields["model"],
                fields["sha256"],
                tuple(int(d) for d in fields["input"].split("x")),
                int(fields["classes"]),
                int(fields["arena"]),
                fields,
                version,
            )
        if kind == "OUT" and version >= 2:
            return Output(
                int(fields["id"]),
                bytes.fromhex(fields["data"]),
                int(fields["true"]),
                int(fields["us"]),
                fields.get("src", "host"),
            )
        if kind == "PRED":
            return Prediction(
                int(fields["id"]),
                int(fields["class"]),
                fields["label"],
                int(fields["score"]),
                int(fields["true"]),
                int(fields["us"]),
                fields.get("src", "host"),
            )
        if kind == "ERR":
            return BoardError(fields["code"], int(fields["id"]), fields.get("msg", ""))
    except (ValueError, KeyError, IndexError):
        return None
    return None
