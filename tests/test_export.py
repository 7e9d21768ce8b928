"""`tinycnn export`: the qemu_m4 firmware cross-compiled and booted in QEMU, Arduino and Mbed
projects generated, budgets enforced. Needs gcc-arm-none-eabi and qemu-system-arm, which the
README's set-up installs: these tests fail, not skip, when they are missing. Sketches are
compile-checked against the real Arduino core's headers when ``../shared`` has them
(``arduino_core.compile_sketch``), else against the header shim ``tests/shims/Arduino.h``, with
a warning in the test report."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest
from arduino_core import compile_sketch
from click.testing import CliRunner

from tinycnn.board.emulate import qemu_command, read_lines
from tinycnn.board.serial.protocol import Output, parse_line
from tinycnn.cli import cli
from tinycnn.codegen.export import ExportError, export
from tinycnn.model.tflite_io import read_model
from tinycnn.quantization.affine import quantize
from tinycnn.ref.runner import run_model
from tinycnn.rundir import INT8_MODEL_FILE

pytestmark = pytest.mark.slow  # cross-compiled firmware booted in QEMU

PRED = re.compile(
    r"TC2 PRED id=(\d+) class=(\d+) label=\"([^\"]*)\" score=(-?\d+) true=(-?\d+) us=(\d+) src=(demo|host)"
)


def test_toolchain_is_installed():
    for tool in ("arm-none-eabi-gcc", "arm-none-eabi-size", "qemu-system-arm"):
        assert shutil.which(tool), f"{tool} missing: run `make test` (scripts/setup.sh installs it)"


def _boot_lines(elf, count: int, timeout_s: float = 60.0) -> list[str]:
    """Boot the firmware with UART0 on a pipe and read ``count`` lines (bounded in time)."""
    lines = read_lines(qemu_command(elf, serial="stdio"), lambda got: len(got) >= count, timeout_s)
    return lines[:count]


def test_qemu_firmware_predicts_like_the_host(seed_cnn_run, tmp_path, dataset):
    result = export(seed_cnn_run, "qemu_m4", tmp_path / "fw", test_images=12)
    assert result.elf_path.is_file()
    assert result.elf_sections["text"] > result.flash.items["weights"]
    assert result.elf_sections["bss"] >= result.planned_arena_bytes
    lines = _boot_lines(result.elf_path, 13)
    assert lines[0].startswith('TC2 HELLO model="seed_cnn"'), lines[:1]
    assert f"arena={result.planned_arena_bytes}" in lines[0]
    predictions = [PRED.fullmatch(line) for line in lines[1:13]]
    assert all(predictions), lines

    model = read_model(seed_cnn_run / INT8_MODEL_FILE)
    quant = model.input_tensors()[0].quantization
    images = quantize(
        dataset.test_images[:12, :, :, None] / 255.0, quant.single_scale, quant.single_zero_point
    )
    host = run_model(model, images, convention="tflm").outputs[0]
    for index, match in enumerate(predictions):
        assert int(match[1]) == index
        assert int(match[2]) == int(np.argmax(host[index])) and int(match[4]) == int(
            host[index].max()
        )
        assert int(match[5]) == int(dataset.test_labels[index])
        assert int(match[6]) > 0  # the board's own timer measured something


def test_nano33_sketch(seed_cnn_run, tmp_path):
    out = tmp_path / "fashion_sketch"
    result = export(seed_cnn_run, "nano33", out)
    assert (out / "fashion_sketch.ino").is_file()
    assert (
        (out / "sketch.yaml")
        .read_text()
        .strip()
        .endswith("default_fqbn: arduino:mbed_nano:nano33ble")
    )
    assert (
        "arduino-cli compile --upload -p PORT --fqbn arduino:mbed_nano:nano33ble"
        in result.build_command
    )
    assert (
        out / "extras" / "seed_cnn_model_data.c"
    ).is_file()  # the .tflite as a C array, not compiled
    assert result.flash.fits and result.ram.fits
    compile_sketch(out, result.board, tmp_path / "build")


def test_a_model_whose_outputs_are_not_classes_answers_with_its_tensor(tmp_path):
    """An autoencoder's firmware carries no class names and answers every input with its whole
    output tensor (OUT lines); it builds for the Nano and on the emulated board."""
    from op_harness import convert_case

    model = tmp_path / "ae.tflite"
    build = lambda k, L, x: L.Dense(640)(L.Dense(8, activation="relu")(x))  # noqa: E731
    model.write_bytes(convert_case(build, (640,)))
    sketch = tmp_path / "ae_sketch"
    result = export(model, "nano33", sketch)
    app = (sketch / "tc_app.c").read_text()
    assert "reports=tensor" in app and "send_prediction" not in app
    assert "_labels[" not in (sketch / "ae_model.c").read_text()
    compile_sketch(sketch, result.board, tmp_path / "build")
    qemu = export(model, "qemu_m4", tmp_path / "ae_qemu")
    hello = _boot_lines(qemu.elf_path, 1)[0]
    assert hello.startswith('TC2 HELLO model="ae"') and "classes=0" in hello
    assert "output=1x640 reports=tensor" in hello


def test_tflm_runtime_sketch(seed_cnn_run, tmp_path):
    from tinycnn.model.interpreters import tflm_arena_bytes

    out = tmp_path / "tflm_sketch"
    result = export(seed_cnn_run, "nano33", out, runtime="tflm")
    source = (out / "seed_cnn_model.cpp").read_text()
    resolver = re.findall(r"resolver\.(\w+)\(\);", source)
    assert resolver == [
        "AddConv2D",
        "AddMaxPool2D",
        "AddReshape",
        "AddFullyConnected",
        "AddSoftmax",
    ]
    measured = tflm_arena_bytes((seed_cnn_run / INT8_MODEL_FILE).read_bytes())
    arena = int(re.search(r"kArenaBytes = (\d+);", source)[1])
    assert measured < arena <= measured + max(1024, measured // 10) + 16
    assert result.ram.items["arena"] == arena
    assert not (out / "tc_conv_s8.c").exists()  # the tinycnn runtime is not part of this sketch


def test_tflm_runtime_registers_the_folded_shape_ops(tmp_path):
    """A Keras Reshape converted with a dynamic batch leaves SHAPE -> STRIDED_SLICE -> PACK in
    the file; tinycnn folds them, TFLite Micro runs them: its resolver names every builtin."""
    import tflite
    from op_harness import convert_case
    from test_ref_reshape import CASES

    content = convert_case(CASES["squeeze_excitation_reshape"][0], (6, 6, 3))
    model_path = tmp_path / "se.tflite"
    model_path.write_bytes(content)
    out = tmp_path / "se_tflm"
    export(model_path, "nano33", out, runtime="tflm")
    resolver = re.findall(r"resolver\.(\w+)\(\);", (out / "se_model.cpp").read_text())
    assert {"AddShape", "AddStridedSlice", "AddPack", "AddReshape", "AddMul"} <= set(resolver)
    graph = tflite.Model.GetRootAsModel(content, 0)
    assert len(resolver) == len(set(resolver)) == graph.OperatorCodesLength()


@pytest.mark.parametrize("board", ["disco_l475vg", "nucleo_f746zg"])
def test_mbed_program(seed_cnn_run, tmp_path, board):
    out = tmp_path / board
    export(seed_cnn_run, board, out)
    for name in ("main.cpp", "mbed_app.json", "CMakeLists.txt", "seed_cnn_model.c", "tc_app.c"):
        assert (out / name).is_file(), name
    assert "add_executable(seed_cnn_app main.cpp" in (out / "CMakeLists.txt").read_text()


def test_model_too_big_for_the_board(tmp_path):
    from op_harness import convert_case

    # A 28x28x512 activation (401,408 bytes) cannot fit the Nano's 256 KB of RAM.
    content = convert_case(lambda k, L, x: L.Conv2D(512, 3, padding="same")(x), (28, 28, 1))
    (tmp_path / "wide.tflite").write_bytes(content)
    with pytest.raises(
        ExportError,
        match=r"does not fit nano33: .*RAM \d+ bytes \(arena \d+ \+ stack 2048 "
        r"\+ framework 48000\) of 262144",
    ):
        export(tmp_path / "wide.tflite", "nano33", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_existing_folder_needs_force(seed_cnn_run, tmp_path):
    runner = CliRunner()
    out = tmp_path / "sketch"
    args = ["export", str(seed_cnn_run), "--board", "nano33", "--out", str(out)]
    first = runner.invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert (
        "flash " in first.output
        and "RAM " in first.output
        and "arduino-cli compile --upload" in first.output
    )
    second = runner.invoke(cli, args)
    assert second.exit_code == 1 and "already exists; pass --force" in second.output
    assert runner.invoke(cli, [*args, "--force"]).exit_code == 0
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    third = runner.invoke(cli, ["export", str(seed_cnn_run), "--out", str(foreign), "--force"])
    assert third.exit_code == 1 and "was not written by tinycnn export" in third.output
    assert (foreign / "notes.txt").read_text() == "keep me"


def test_unknown_board_and_boards_listing():
    runner = CliRunner()
    result = runner.invoke(cli, ["export", "x.tflite", "--board", "uno", "--out", "/tmp/never"])
    assert result.exit_code == 1 and "unknown board 'uno'; known boards: nano33" in result.output
    listing = runner.invoke(cli, ["boards"])
    for name in (
        "nano33",
        "portenta_h7",
        "nano_rp2040",
        "disco_l475vg",
        "nucleo_f746zg",
        "qemu_m4",
    ):
        assert name in listing.output


M4 = ("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16")


@pytest.mark.parametrize(
    "compiler, flags",
    [
        ("cc", ()),
        ("arm-none-eabi-gcc", M4),
        # debug builds: the inline-asm loops need registers gcc only frees when optimizing
        ("arm-none-eabi-gcc", (*M4, "-O0")),
        ("arm-none-eabi-gcc", (*M4, "-Og", "-fno-omit-frame-pointer")),
        ("arm-none-eabi-gcc", (*M4, "-O2", "-DTC_PORTABLE")),
        ("arm-none-eabi-gcc", ("-mcpu=cortex-m0plus", "-mthumb")),
    ],
)
def test_every_runtime_kernel_compiles_without_warnings(compiler, flags, tmp_path):
    """All of firmware/, not only the kernels one model needs, for the host and Cortex-M0+/M4
    at the optimization levels users build with (-Os unless the flags say otherwise)."""
    from tinycnn.codegen.render import firmware_dir

    sources = sorted(firmware_dir().glob("*.c"))
    assert len(sources) >= 18
    for source in sources:
        result = subprocess.run(
            [compiler, "-std=c99", "-Os", "-Wall", "-Wextra", "-Werror", "-pedantic", *flags]
            + ["-c", str(source), "-o", str(tmp_path / f"{source.stem}.o")],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, f"{source.name}: {result.stderr}"


def test_float_interface_model_is_refused_with_the_fix(tmp_path):
    from op_harness import convert_case

    content = convert_case(lambda k, L, x: L.Dense(4)(L.Flatten()(x)), (4, 4, 1), int8_io=False)
    (tmp_path / "float_io.tflite").write_bytes(content)
    result = CliRunner().invoke(
        cli, ["export", str(tmp_path / "float_io.tflite"), "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 1
    assert "export needs int8 input and output" in result.output
    assert "float32/float32" in result.output and "predict --engine c" in result.output
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def pixels_model(tmp_path_factory):
    """A real converted 12x12x3 classifier (input calibrated on 0..255), with no metadata."""
    from tinycnn.quantization.quantize import convert_int8
    from tinycnn.tfenv import keras

    keras.utils.set_random_seed(0)
    inputs = keras.layers.Input((12, 12, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(5)(x))
    calibration = np.random.default_rng(0).uniform(0, 255, (50, 12, 12, 3)).astype(np.float32)
    folder = tmp_path_factory.mktemp("pixels")
    (folder / "model.tflite").write_bytes(convert_int8(model, calibration))
    return folder / "model.tflite"


def test_a_model_that_is_not_fashion_gets_no_noise_as_test_inputs(pixels_model, tmp_path):
    """Its firmware embeds no demo inputs (the budget says 0 B), builds with -Werror and boots;
    given a .npy batch, it embeds that and runs it at boot like the host."""
    bare = export(pixels_model, "qemu_m4", tmp_path / "bare")
    assert bare.flash.items["test images"] == 0 and "test images 0" in bare.flash.describe()
    assert "_TEST_IMAGES 0" in (tmp_path / "bare" / "model_test_data.h").read_text()
    assert _boot_lines(bare.elf_path, 1)[0].startswith('TC2 HELLO model="model"')

    inputs = np.random.default_rng(3).integers(-128, 128, (3, 12, 12, 3)).astype(np.int8)
    np.save(tmp_path / "x.npy", inputs)
    given = export(pixels_model, "qemu_m4", tmp_path / "given", test_inputs=tmp_path / "x.npy")
    assert given.flash.items["test images"] == inputs.size
    lines = _boot_lines(given.elf_path, 4)
    host = run_model(read_model(pixels_model), inputs, convention="tflm").outputs[0]
    # Its outputs are logits with no names (no SOFTMAX, no metadata): not known to be classes,
    # so the board sends the whole output tensor, the host's byte for byte.
    assert "reports=tensor" in lines[0]
    for index, line in enumerate(lines[1:]):
        event = parse_line(line)
        assert isinstance(event, Output) and (event.sample_id, event.true_label) == (index, -1)
        assert event.data == host[index].astype(np.int8).tobytes(), line


def test_pictures_as_test_inputs_need_the_models_range(pixels_model, tmp_path):
    from PIL import Image

    pictures = tmp_path / "pictures"
    pictures.mkdir()
    for name, colour in (("a", (0, 0, 0)), ("b", (255, 255, 255))):
        Image.new("RGB", (30, 20), colour).save(pictures / f"{name}.png")
    args = ["export", str(pixels_model), "--board", "qemu_m4", "--test-inputs", str(pictures)]
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "no_range")])
    assert result.exit_code == 1 and "--input-range" in result.output, result.output
    assert not (tmp_path / "no_range").exists()
    result = CliRunner().invoke(
        cli, [*args, "--out", str(tmp_path / "fw"), "--input-range", "0,255"]
    )
    assert result.exit_code == 0, result.output
    data = (tmp_path / "fw" / "model_test_data.c").read_text()
    assert "_TEST_IMAGES 2" in (tmp_path / "fw" / "model_test_data.h").read_text()
    assert "-128" in data and "127" in data  # black and white span the int8 range
