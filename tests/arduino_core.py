"""Compile generated sketches and Mbed programs the way their real frameworks compile them.

``../shared/third_party/arduino-mbed-core`` holds ArduinoCore-mbed's ``cores/arduino`` (with the
Mbed OS 6 headers it ships), the variants of the Nano 33 BLE, Portenta H7 M7 and Nano RP2040
Connect, and the core's ``platform.txt`` and ``boards.txt``. A sketch is compiled as arduino-cli
would: the ``.ino`` becomes ``NAME.ino.cpp`` (``#include <Arduino.h>`` and a ``#line 1`` first),
and every command line is ``recipe.cpp.o.pattern`` or ``recipe.c.o.pattern`` from
``platform.txt`` with the board's properties from ``boards.txt`` (the first option of each of its
menus, as arduino-cli picks by default) filled in. Compile only (``-c``): the variants' ``libs/``
(libmbed.a) are not there, so nothing is linked.

Without ``../shared`` a sketch's ``.ino`` is compiled against ``tests/shims/Arduino.h``, a few
declarations standing in for the core, which says much less; ``compile_sketch`` warns when it
does that.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from conftest import REPO_ROOT

from tinycnn.boards import Board
from tinycnn.processes import run

ARDUINO_MBED_CORE = REPO_ROOT.parent / "shared" / "third_party" / "arduino-mbed-core"
SHIM_DIR = Path(__file__).parent / "shims"
ARDUINO_IDE_VERSION = "10607"  # {runtime.ide.version} of arduino-cli 1.x
COMPILE_TIMEOUT_S = 300

# Properties arduino-cli sets itself. The warning level is arduino-cli's `--warnings all`: its
# default, `none`, passes -w, which silences every warning, the sketch's own included. The
# Debian toolchain on PATH stands in for the core's arm-none-eabi-gcc 7-2017q4.
RUNTIME_PROPERTIES = {
    "runtime.ide.version": ARDUINO_IDE_VERSION,
    "compiler.path": "",
    "compiler.warning_flags": "{compiler.warning_flags.all}",
}

# -Werror on every file compiled here: all of them are tinycnn's (generated sources, the
# firmware runtime, the .ino, main.cpp). The core's headers are not system headers: includes.txt
# adds them with -iwithprefixbefore, which puts them on the -I chain (-iwithprefix would make
# them -idirafter, system ones), so a warning in one would fail these compiles too. None warns
# under -Wall -Wextra in what Arduino.h or mbed.h pulls in, so nothing needs silencing, and
# `test_a_warning_in_the_sketch_fails_the_compile` checks that a warning in tinycnn's own code
# still fails the compile.
WERROR = "-Werror"

# The umbrella header of the Arduino TensorFlow Lite library, which a `--runtime tflm` sketch
# includes so that arduino-cli finds the library; the library is not here, and the sketch uses
# nothing from the header itself, so an empty stand-in lets the rest of that sketch compile.
TFLM_LIBRARY_HEADER = "TensorFlowLite.h"
TFLM_HEADERS = '#include "tensorflow/lite/'


def have_core() -> bool:
    return (ARDUINO_MBED_CORE / "platform.txt").is_file()


def read_properties(path: Path) -> dict[str, str]:
    """A platform.txt or boards.txt as {key: value}, in file order."""
    properties = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            properties[key.strip()] = value.strip()
    return properties


def board_id(board: Board) -> str:
    """``arduino:mbed_nano:nano33ble`` -> ``nano33ble``: the board's prefix in boards.txt."""
    return board.fqbn.split(":")[2]


def board_properties(board: Board) -> dict[str, str]:
    """platform.txt, overridden by the board's boards.txt entries, overridden by the first option
    of each of its menus (Portenta: ``menu.target_core.cm7``, the M7 core), then arduino-cli's own
    (paths, versions): unexpanded, as arduino-cli holds them before composing a recipe."""
    prefix = board_id(board) + "."
    properties = read_properties(ARDUINO_MBED_CORE / "platform.txt")
    boards = read_properties(ARDUINO_MBED_CORE / "boards.txt")
    own = {k[len(prefix) :]: v for k, v in boards.items() if k.startswith(prefix)}
    properties.update({k: v for k, v in own.items() if not k.startswith("menu.")})
    defaults = {}  # menu -> its first option, in boards.txt order
    for key in own:
        parts = key.split(".")
        if parts[0] == "menu" and len(parts) == 3:
            defaults.setdefault(parts[1], parts[2])
    for menu, option in defaults.items():
        chosen = f"menu.{menu}.{option}."
        properties.update({k[len(chosen) :]: v for k, v in own.items() if k.startswith(chosen)})
    core = ARDUINO_MBED_CORE / "cores" / properties["build.core"]
    variant = ARDUINO_MBED_CORE / "variants" / expand(properties["build.variant"], properties)
    properties.update(RUNTIME_PROPERTIES)
    properties.update(
        {
            "build.arch": board.fqbn.split(":")[1].upper(),  # the FQBN's architecture
            "build.core.path": str(core),
            "build.variant.path": str(variant),
        }
    )
    return properties


def expand(value: str, properties: dict[str, str]) -> str:
    """Replace each ``{key}`` by its property until none is left (arduino-cli's expansion)."""
    for _ in range(10):
        expanded = re.sub(r"\{([^{}]+)\}", lambda m: properties.get(m[1], m[0]), value)
        if expanded == value:
            break
        value = expanded
    unknown = re.findall(r"\{[^{}]+\}", value)
    assert not unknown, f"properties not set: {unknown} in {value}"
    return value


def recipe_command(properties, recipe: str, source: Path, obj: Path, includes) -> list[str]:
    """``recipe.c.o.pattern`` or ``recipe.cpp.o.pattern`` for one file, split into arguments."""
    filled = {
        **properties,
        "includes": " ".join(shlex.quote(f"-I{folder}") for folder in includes),
        "source_file": str(source),
        "object_file": str(obj),
    }
    return shlex.split(expand(properties[recipe], filled))


def ino_to_cpp(sketch: Path, build: Path) -> Path:
    """``NAME.ino`` as arduino-cli's preprocessor writes it into the build folder (the sketch
    declares its functions before use, so no prototypes are added)."""
    (ino,) = sketch.glob("*.ino")
    cpp = build / f"{ino.name}.cpp"
    cpp.write_text(f'#include <Arduino.h>\n#line 1 "{ino}"\n{ino.read_text()}')
    return cpp


def _compile(command: list[str]) -> str | None:
    """None when the command succeeds, else its command line and diagnostics."""
    result = run(command, capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S)
    if result.returncode == 0:
        return None
    return f"$ {shlex.join(command)}\n{result.stderr}"


def compile_all(commands: list[list[str]]) -> None:
    """Run the compiles on all CPUs at once; fail with every failing command's output."""
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        failures = [f for f in pool.map(_compile, commands) if f]
    assert not failures, "\n".join(failures)


def sketch_commands(sketch: Path, board: Board, build: Path) -> list[list[str]]:
    """The compile commands of a sketch folder for ``board``: its .ino (as NAME.ino.cpp) and
    its .c files, in a copy of the sketch as arduino-cli makes one (``build/sketch``), with
    -Werror. A file that includes TensorFlow Lite Micro's headers (the ``--runtime tflm`` model,
    ``*_model.cpp``) is left out: the Arduino TensorFlow Lite library is not here."""
    properties = board_properties(board)
    copy = build / "sketch"
    shutil.copytree(sketch, copy, ignore=shutil.ignore_patterns("extras"))
    includes = [properties["build.core.path"], properties["build.variant.path"]]
    if f"#include <{TFLM_LIBRARY_HEADER}>" in ino_to_cpp(sketch, copy).read_text():
        library = build / "libraries" / "TensorFlowLite"
        library.mkdir(parents=True)
        (library / TFLM_LIBRARY_HEADER).write_text("/* stand-in: the library is not here */\n")
        includes.append(library)
    commands = []
    for source in sorted(copy.iterdir()):
        if source.suffix == ".c":
            recipe = "recipe.c.o.pattern"
        elif source.suffix == ".cpp" and TFLM_HEADERS not in source.read_text():
            recipe = "recipe.cpp.o.pattern"
        else:
            continue
        obj = build / f"{source.name}.o"
        commands.append([*recipe_command(properties, recipe, source, obj, includes), WERROR])
    return commands


def compile_sketch(sketch: Path, board: Board, build: Path) -> None:
    """Compile-check an exported sketch for ``board`` against the real core when ``../shared``
    has it, else the .c files with the board's flags and the .ino against the shim (warned)."""
    build.mkdir(parents=True, exist_ok=True)
    if have_core():
        compile_all(sketch_commands(sketch, board, build))
        return
    warnings.warn(
        f"{ARDUINO_MBED_CORE} is absent: {sketch.name}.ino compiled against the header shim "
        f"{SHIM_DIR / 'Arduino.h'}, not the real Arduino core",
        stacklevel=2,
    )
    flags = [*board.cflags, "-Os", "-Wall", "-Wextra", WERROR]
    commands = [
        ["arm-none-eabi-gcc", "-std=c99", *flags, "-c", str(source)]
        + ["-o", str(build / f"{source.name}.o")]
        for source in sorted(sketch.glob("*.c"))
    ]
    commands.append(
        ["arm-none-eabi-g++", "-x", "c++", "-std=gnu++17", *flags, f"-I{SHIM_DIR}"]
        + [f"-I{sketch}", "-c", str(next(sketch.glob("*.ino"))), "-o", str(build / "ino.o")]
    )
    compile_all(commands)


def mbed_main_command(program: Path, board: Board, build: Path) -> list[str]:
    """``main.cpp`` of an Mbed program against the Mbed OS 6 headers the Arduino core ships.
    They carry the Nano 33 BLE's Nordic target only, so its variant gives the defines, C++ flags
    and includes (main.cpp uses Mbed OS's portable API: BufferedSerial, Timer, USBTX/USBRX), and
    the board's own CPU flags override the variant's. The Arduino variant defines
    MBED_NO_GLOBAL_USING_DIRECTIVE; a plain Mbed OS build does not, so it is undefined again."""
    nano33 = ARDUINO_MBED_CORE / "variants" / "ARDUINO_NANO33BLE"
    core = ARDUINO_MBED_CORE / "cores" / "arduino"
    return [
        "arm-none-eabi-g++",
        f"@{nano33 / 'defines.txt'}",
        f"@{nano33 / 'cxxflags.txt'}",
        "-UMBED_NO_GLOBAL_USING_DIRECTIVE",
        *board.cflags,
        f"-iprefix{core}",
        f"@{nano33 / 'includes.txt'}",
        f"-I{nano33}",  # its mbed_config.h
        WERROR,
        "-c",
        str(program / "main.cpp"),
        "-o",
        str(build / "main.o"),
    ]
