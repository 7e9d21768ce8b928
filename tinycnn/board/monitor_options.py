"""What `tinycnn monitor` (and `tinycnn emulate --monitor`) is asked to do, its numbers checked
against one table that the command line builds its options from. Light on purpose: the
command line imports it before any serial port or model is touched."""

from __future__ import annotations

from dataclasses import dataclass

from tinycnn.errors import TinycnnError
from tinycnn.settings import Setting, settings_table

MONITOR_SETTINGS: dict[str, Setting] = settings_table(
    Setting("baud", "Serial baud rate (tinycnn firmware uses 115200).", int, 1, default=115200),
    Setting(
        "validate_count",
        "Send this many test images and check the board's answers against the host.",
        int,
        1,
        10_000,
        option="--validate",
    ),
    Setting(
        "frame_timeout",
        "Seconds to wait for the answer to one frame before resending it.",
        low=0.1,
        default=10.0,
    ),
    Setting(
        "retries",
        "Resends of an unanswered frame before counting it lost.",
        int,
        0,
        10,
        default=3,
    ),
    Setting(
        "duration",
        "Listen mode: stop after this many seconds (default: until Ctrl-C).",
        low=0.1,
    ),
)


@dataclass(frozen=True)
class MonitorOptions:
    """The monitor's options, as `tinycnn monitor` and `tinycnn emulate` take them."""

    baud: int = 115200
    validate_count: int | None = None  # validate this many images; None: listen
    model: str | None = None  # MODEL.tflite, RUN_DIR or zoo:NAME the board runs
    as_json: bool = False
    csv_path: str | None = None
    frame_timeout: float = 10.0
    retries: int = 3
    duration: float | None = None  # listen mode: seconds, None: until Ctrl-C
    inputs: str | None = None  # what --validate sends to a model that is not Fashion-MNIST's
    labels_file: str | None = None  # their classes, a .npy
    data_dir: str | None = None

    def __post_init__(self):
        for setting in MONITOR_SETTINGS.values():
            setting.check(getattr(self, setting.name), TinycnnError, setting.flag)
