"""`tinycnn bench` (tinycnn/board/bench.py, cmsis_nn.py, bench_report.py): every figure it
reports, measured on a trained model, checked against what produced it; and its errors."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tinycnn.board import bench as bench_module
from tinycnn.board import cmsis_nn
from tinycnn.board.bench import FlashSplit, flash_split
from tinycnn.board.cmsis_nn import find_cmsis_nn
from tinycnn.board.emulate import run_on_emulator
from tinycnn.boards import load_board
from tinycnn.cli import cli
from tinycnn.codegen.render import lower_for_c, wide_weights_fit
from tinycnn.model.tflite_io import read_model
from tinycnn.quantization.inputs import model_inputs
from tinycnn.ref.stats import model_stats
from tinycnn.rundir import INT8_MODEL_FILE

pytestmark = pytest.mark.slow  # measurements on the emulated Cortex-M4


@pytest.fixture(scope="module")
def seed_cnn_bench(seed_cnn_run):
    result = CliRunner().invoke(
        cli, ["bench", str(seed_cnn_run), "--json", "--images", "2", "--host-rounds", "2"]
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_layers_are_the_kernel_calls_with_their_macs(seed_cnn_run, seed_cnn_bench):
    model = read_model(seed_cnn_run / INT8_MODEL_FILE)
    layers = seed_cnn_bench["layers"]
    assert [layer["opcode"] for layer in layers] == [
        "CONV_2D+MAX_POOL_2D",
        "CONV_2D+MAX_POOL_2D",
        "FULLY_CONNECTED",
        "SOFTMAX",
    ]
    assert (
        sum(layer["macs"] for layer in layers) == model_stats(model).macs == seed_cnn_bench["macs"]
    )
    for layer in layers:
        assert layer["instructions"] > 0 and layer["portable_instructions"] > 0
    assert sum(layer["instructions"] for layer in layers) == seed_cnn_bench["instructions"]
    assert seed_cnn_bench["per_mac"] == pytest.approx(
        seed_cnn_bench["instructions"] / seed_cnn_bench["macs"]
    )


def test_layer_counts_add_up_to_the_whole_inference(seed_cnn_run, seed_cnn_bench):
    """The per-layer SysTick marks against the plain firmware's own timing of one whole
    inference (microseconds under icount: instructions / 1000)."""
    model = read_model(seed_cnn_run / INT8_MODEL_FILE)
    inputs = model_inputs(model, 2).values
    whole = sum(run_on_emulator(model, inputs).microseconds) * 1000 / len(inputs)
    assert seed_cnn_bench["instructions"] == pytest.approx(whole, rel=0.01, abs=2000)


def test_cmsis_nn_ran_every_layer_and_agreed(seed_cnn_bench):
    if seed_cnn_bench["cmsis_nn"] is None:
        pytest.skip(seed_cnn_bench["cmsis_note"])
    for layer in seed_cnn_bench["layers"]:
        assert layer["cmsis_instructions"] and layer["cmsis_instructions"] > 0, layer
        assert layer["cmsis_note"] == "", layer  # CMSIS-NN's outputs equal the reference's
    assert seed_cnn_bench["cmsis_instructions"] == sum(
        layer["cmsis_instructions"] for layer in seed_cnn_bench["layers"]
    )


def test_memory_figures(seed_cnn_run, seed_cnn_bench):
    model = read_model(seed_cnn_run / INT8_MODEL_FILE)
    wide = wide_weights_fit(model, load_board("qemu_m4").flash_bytes)
    assert wide  # 4 MB of flash: the conv weights are stored as int16
    _, plan, calls = lower_for_c(model, "tflm", wide_weights=wide)
    _, unfused, _ = lower_for_c(model, "tflm", fuse=False)
    assert seed_cnn_bench["arena_bytes"] == plan.arena_bytes
    assert seed_cnn_bench["unfused_arena_bytes"] == unfused.arena_bytes == 27_040
    assert seed_cnn_bench["naive_bytes"] > seed_cnn_bench["unfused_arena_bytes"]
    assert seed_cnn_bench["tflm_arena_bytes"] > seed_cnn_bench["arena_bytes"]
    assert 0 < seed_cnn_bench["stack_bytes"] < bench_module.STACK_PROBE_BYTES
    flash = seed_cnn_bench["flash"]
    weights = sum(array.size_bytes for call in calls for array in call.arrays)
    # the map counts the const arrays and the parameter structs, padded to alignment
    assert (
        weights
        <= flash["weights"]
        <= weights + 64 * len(calls) + 16 * sum(len(c.arrays) for c in calls)
    )
    assert flash["runtime_code"] > 1000 and flash["other"] > 0
    assert flash["total"] == sum(
        flash[k] for k in ("runtime_code", "model_code", "weights", "other")
    )


def test_host_timings(seed_cnn_bench):
    assert set(seed_cnn_bench["host"]) == {"c", "tflm", "litert_ref", "litert"}
    assert all(value > 0 for value in seed_cnn_bench["host"].values())


MAP = """
Discarded input sections
 .text.unused   0x00000000       0x40 tc_conv_s8.o

Linker script and memory map

.text           0x00000000     0x1000
 .text.tc_conv_s8
                0x00000100      0x200 tc_conv_s8.o
 .text.model_invoke
                0x00000300       0x30 model_model.o
 .rodata.model_op0_filter
                0x00000330      0x120 model_model.o
 .text.main     0x00000450       0x50 profile.o
 .text          0x000004a0       0x24 /usr/lib/arm-none-eabi/newlib/libc_nano.a(libc_a-memcpy.o)
 *fill*         0x000004c4        0x4
.data           0x20000000        0x8 load address 0x000004c8
 .data.model_op0_params
                0x20000000        0x8 model_model.o
.bss            0x20000008      0x100
 .bss.model_arena
                0x20000008      0x100 model_model.o
"""


def test_flash_split_reads_a_map():
    split = flash_split(MAP, "model", {"profile.o"})
    assert split == FlashSplit(runtime_code=0x200, model_code=0x30, weights=0x120 + 8, other=0x24)


def test_cmsis_nn_location(tmp_path, monkeypatch):
    monkeypatch.delenv("CMSIS_NN_DIR", raising=False)
    monkeypatch.setattr(cmsis_nn, "SHARED_CMSIS_NN", tmp_path / "absent")
    folder, note = find_cmsis_nn(None)
    assert folder is None and "CMSIS-NN not found" in note and "--cmsis-nn" in note
    (tmp_path / "mine" / "Include").mkdir(parents=True)
    (tmp_path / "mine" / "Include" / "arm_nnfunctions.h").write_text("")
    monkeypatch.setenv("CMSIS_NN_DIR", str(tmp_path / "mine"))
    assert find_cmsis_nn(None) == (tmp_path / "mine", "")
    # A relative folder is resolved first: the builds run elsewhere, and once failed on it
    # after both firmware builds.
    monkeypatch.chdir(tmp_path)
    assert find_cmsis_nn("mine") == (tmp_path.resolve() / "mine", "")


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["missing.tflite"], "not found"),
        (["zoo:nothing"], "unknown pretrained model"),
        (["{run}", "--cmsis-nn", "{tmp}"], "no Include/arm_nnfunctions.h"),
        (["{run}", "--images", "0"], "--images"),
        (["{run}", "--board", "esp32"], "esp32"),
    ],
)
def test_bad_input_is_one_line(seed_cnn_run, tmp_path, args, fragment):
    args = [a.format(run=seed_cnn_run, tmp=tmp_path) for a in args]
    result = CliRunner().invoke(cli, ["bench", *args])
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(lines) == 1 and fragment in lines[0], result.output
    assert "Traceback" not in result.output


def test_more_than_one_image_of_a_tiny_model():
    """TFLM's hello_world (one input value) with --images 2: its profiling firmware once failed
    to compile ('output[0]' may be used uninitialized, -Werror)."""
    from conftest import SHARED_MODELS

    model = SHARED_MODELS / "hello_world_int8.tflite"
    if not model.is_file():
        pytest.skip("../shared/models is absent")
    result = CliRunner().invoke(cli, ["bench", str(model), "--images", "2", "--host-rounds", "0"])
    assert result.exit_code == 0, result.output
    assert "stack high-water" in result.output


def test_layer_table_columns_hold_the_longest_opcode():
    """UNIDIRECTIONAL_SEQUENCE_LSTM (28 characters) keeps every column of its row aligned."""
    from tinycnn.board.bench_report import BenchReport, Layer, _layer_lines

    layers = [
        Layer(0, 0, "CONV_2D", "conv", 1000, 1500, 3000, 2000),
        Layer(1, 1, "UNIDIRECTIONAL_SEQUENCE_LSTM", "lstm", 123_456, 987_654, 1_234_567),
    ]
    split = FlashSplit(1, 1, 1, 1)
    report = BenchReport(
        "m",
        124_456,
        1,
        1,
        layers,
        989_154,
        1_237_567,
        split,
        split,
        [],
        0,
        0,
        0,
        0,
        0,
        None,
        0,
        None,
        "",
        None,
        None,
    )
    header, *rows = _layer_lines(report)[:4]
    for column in ("MACs", "DSP", "portable"):
        end = header.index(column) + len(column)
        assert all(row[end - 1].isdigit() and row[end : end + 1] in ("", " ") for row in rows), (
            column,
            [header, *rows],
        )
