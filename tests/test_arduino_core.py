"""Exported Arduino sketches and Mbed programs compiled against the real core's headers.

For every Arduino board in the registry (those with an ``fqbn``), a CNN (conv, pooling, dense,
softmax), a depthwise model and the shipped LSTM (``zoo:lstm80``) are exported with both
runtimes and compiled the way arduino-cli compiles them (``tests/arduino_core.py``: the
recipes of the core's ``platform.txt`` with the board's ``boards.txt`` properties, -Werror on
tinycnn's files). A ``--runtime tflm`` sketch is compiled without its model (``*_model.cpp``):
that file needs TensorFlow Lite Micro's C++ headers, and the Arduino TensorFlow Lite library is
not available here. Every Mbed board's ``main.cpp`` is compiled against the Mbed OS 6 headers
that the core ships. Nothing is linked (no libmbed.a, no arduino-cli): compile only.

Skipped when ``../shared/third_party/arduino-mbed-core`` is absent.
"""

from __future__ import annotations

import pytest
from arduino_core import (
    ARDUINO_MBED_CORE,
    compile_all,
    have_core,
    mbed_main_command,
    sketch_commands,
)

from tinycnn.boards import all_boards
from tinycnn.codegen import RUNTIMES
from tinycnn.codegen.export import export

pytestmark = [
    pytest.mark.slow,  # about a minute of cross-compiling
    pytest.mark.skipif(not have_core(), reason=f"{ARDUINO_MBED_CORE} is absent"),
]

ARDUINO_BOARDS = [board for board in all_boards() if board.fqbn]
MBED_BOARDS = [board for board in all_boards() if board.mbed_target]


def _cnn(keras, layers, x):
    x = layers.Conv2D(4, 3, activation="relu")(x)
    x = layers.Flatten()(layers.MaxPooling2D()(x))
    return layers.Dense(4, activation="softmax")(x)


def _depthwise(keras, layers, x):
    x = layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu")(x)
    return layers.Dense(3)(layers.GlobalAveragePooling2D()(x))


# name -> (Keras builder, input shape); the LSTM is the shipped one.
KERAS_MODELS = {"cnn": (_cnn, (10, 10, 1)), "depthwise": (_depthwise, (8, 8, 3))}
MODELS = [*KERAS_MODELS, "lstm"]


def _object(command: list[str]) -> str:
    return command[command.index("-o") + 1]


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, str]:
    """Each model's export target: a converted .tflite, or zoo:lstm80."""
    from op_harness import convert_case

    folder = tmp_path_factory.mktemp("models")
    targets = {"lstm": "zoo:lstm80"}
    for name, (build, shape) in KERAS_MODELS.items():
        (folder / f"{name}.tflite").write_bytes(convert_case(build, shape))
        targets[name] = str(folder / f"{name}.tflite")
    return targets


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("board", ARDUINO_BOARDS, ids=lambda board: board.name)
def test_sketch_compiles_against_the_real_core(models, board, model, runtime, tmp_path):
    sketch = tmp_path / f"{model}_{runtime}"
    export(models[model], board.name, sketch, runtime=runtime)
    commands = sketch_commands(sketch, board, tmp_path / "build")
    compiled = {_object(command) for command in commands}
    assert any(path.endswith(".ino.cpp.o") for path in compiled), compiled
    assert any(path.endswith("tc_app.c.o") for path in compiled), compiled
    compile_all(commands)


@pytest.mark.parametrize("board", MBED_BOARDS, ids=lambda board: board.name)
def test_mbed_main_compiles_against_mbed_os(models, board, tmp_path):
    program = tmp_path / "program"
    export(models["cnn"], board.name, program)
    compile_all([mbed_main_command(program, board, tmp_path)])


def test_a_warning_in_the_sketch_fails_the_compile(models, tmp_path):
    """-Werror is not defeated by the recipe (arduino-cli's default -w would silence it)."""
    board = ARDUINO_BOARDS[0]
    sketch = tmp_path / "warned"
    export(models["cnn"], board.name, sketch)
    ino = sketch / "warned.ino"
    ino.write_text(ino.read_text() + "\nstatic int tc_never_used;\n")
    commands = sketch_commands(sketch, board, tmp_path / "build")
    (ino_command,) = [c for c in commands if _object(c).endswith(".ino.cpp.o")]
    with pytest.raises(AssertionError, match=r"tc_never_used.*\[-Werror=unused-variable\]"):
        compile_all([ino_command])
