"""The engines that run an int8 model, and the rounding conventions they reproduce: the one
table that `predict --engine`, `verify` and every ``--rounding`` option read.

Two interpreters define what is right: LiteRT (its reference kernels) and TFLite Micro. They
round a few kernels differently, so tinycnn's own engines (the numpy reference engine and the
generated C, on this machine or on an emulated Cortex-M4) reproduce either one: the
*convention* ``"tflite"`` (LiteRT's rounding) or ``"tflm"`` (TFLite Micro's). Light on
purpose: the command line reads it before anything heavy is imported.
"""

from __future__ import annotations

from dataclasses import dataclass

from tinycnn.settings import Setting

CONVENTIONS = ("tflite", "tflm")
# What an engine on this machine reproduces unless told otherwise (predict, visualize,
# the reference engine), and what firmware reproduces (export, the board's engines):
# a board runs TFLite Micro's arithmetic.
HOST_CONVENTION = "tflite"
BOARD_CONVENTION = "tflm"


@dataclass(frozen=True)
class Engine:
    name: str
    label: str  # how verify's table names it
    convention: str | None  # the convention it *is* (an interpreter), None: it follows one
    default_convention: str  # what verify compares it against / what it reproduces by default
    tools: tuple[str, ...] = ()  # programs it needs on this machine
    install: str = ""  # how to get them


ENGINES: dict[str, Engine] = {
    engine.name: engine
    for engine in (
        Engine("reference", "reference", None, HOST_CONVENTION),
        Engine("litert", "litert", "tflite", "tflite"),
        Engine("tflm", "tflm", "tflm", "tflm"),
        Engine(
            "c", "C (host)", None, BOARD_CONVENTION, ("cc",), "a C compiler (`apt-get install gcc`)"
        ),
        Engine(
            "m4",
            "C (Cortex-M4)",
            None,
            BOARD_CONVENTION,
            ("arm-none-eabi-gcc", "qemu-system-arm"),
            "`apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm`",
        ),
    )
}
ENGINE_NAMES = tuple(ENGINES)
ENGINE = Setting(
    "engine",
    "numpy reference kernels, LiteRT reference kernels, TFLite Micro, the generated C compiled "
    "for this machine (c), or for a Cortex-M4 and run in QEMU (m4).",
    str,
    choices=ENGINE_NAMES,
    default="reference",
)
INTERPRETERS = tuple(name for name, engine in ENGINES.items() if engine.convention)
# What verify compares the reference engine with: every engine but itself, each against
# the reference run in the convention that engine reproduces.
COMPARED = tuple(
    (name, engine.default_convention) for name, engine in ENGINES.items() if name != "reference"
)


def check_convention(convention: str) -> str:
    """``convention`` if it is one; ValueError naming the known ones otherwise."""
    if convention not in CONVENTIONS:
        raise ValueError(f"rounding convention must be one of {CONVENTIONS}, got {convention!r}")
    return convention
