"""`tinycnn bench`: where a model's instructions, flash and RAM go on a Cortex-M4, measured
beside Arm's CMSIS-NN in the same run.

Three firmwares run on QEMU's mps2-an386 under ``-icount shift=0``, where one instruction takes
one virtual nanosecond, so the board timer (SysTick at 25 MHz) advances one tick per 40
instructions: every count here is instructions executed, not cycles (a real Cortex-M4 spends
more cycles than instructions on loads, branches and multiplies), at a resolution of 40.

- The model's firmware built with ``-DTC_PROFILE`` twice, with the DSP kernels and with the
  portable C (``-DTC_PORTABLE``): instructions per kernel call, the deepest stack an inference
  used (the stack is painted before it), and a map file for the flash split.
- CMSIS-NN's kernel for every layer it has one for, with the model's quantized weights, on the
  input the reference engine gave that layer; its output is compared with the reference's.
  CMSIS-NN is found through ``--cmsis-nn DIR``, ``$CMSIS_NN_DIR``, or ``../shared/third_party/
  cmsis-nn`` beside the project; its sources are compiled once into a cached library.

On the host, the generated C's time per inference against the TFLite Micro interpreter and
LiteRT (reference kernels, and its default optimized kernels), timed in interleaved rounds.
"""

from __future__ import annotations

import re
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinycnn.board import BENCH_SETTINGS
from tinycnn.board.bench_report import BenchReport, FlashSplit, Layer
from tinycnn.board.cmsis_nn import find_cmsis_nn, run_cmsis
from tinycnn.board.emulate import qemu_command, read_lines, write_runner
from tinycnn.boards import EMULATED_BOARD, emulated_board
from tinycnn.codegen.build import compile_object, firmware_cflags, link_firmware
from tinycnn.errors import TinycnnError
from tinycnn.model.engines import BOARD_CONVENTION
from tinycnn.model.ir import Model
from tinycnn.processes import work_dir
from tinycnn.ref.runner import run_model
from tinycnn.ref.stats import op_macs
from tinycnn.settings import check_settings

__all__ = ["BenchReport", "FlashSplit", "Layer", "bench", "bench_model", "find_cmsis_nn"]

STACK_PROBE_BYTES = 64 * 1024
QEMU_TIMEOUT_S = 600.0


class BenchError(TinycnnError):
    """A benchmark step failed (toolchain missing, firmware silent, CMSIS-NN unusable)."""


# A map file's input section: " .text.name  0xADDR  0xSIZE  file" (the name may wrap alone
# onto its own line when it is long).
_MAP_SECTION = re.compile(r"^ (\.\S+)?\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$")


def flash_split(map_text: str, prefix: str, excluded: set[str]) -> FlashSplit:
    """Flash bytes by owner from a GNU ld map: the ``tc_*`` runtime objects, the generated
    model (code, and its constant arrays as weights), and the rest; ``excluded`` objects (the
    benchmark's own main) are left out."""
    body = map_text.split("Linker script and memory map", 1)[-1]
    totals = {"runtime_code": 0, "model_code": 0, "weights": 0, "other": 0}
    section = None
    output_section = None
    for line in body.splitlines():
        if re.match(r"^\.\S+", line):  # an output section: .text, .data, .bss, ...
            output_section = line.split()[0]
            continue
        if output_section not in (".text", ".data", ".ARM.exidx"):
            continue
        stripped = line.strip()
        if re.fullmatch(r"\.\S+", stripped) and line.startswith(" ."):
            section = stripped  # the section name alone; its figures follow on the next line
            continue
        match = _MAP_SECTION.match(line)
        if not match or "*(" in line:
            section = None
            continue
        name = match.group(1) or section or ""
        section = None
        size, owner = int(match.group(3), 16), Path(match.group(4).split("(")[0]).name
        if size == 0 or not name or owner in excluded:
            continue
        if owner.startswith("tc_"):
            totals["runtime_code"] += size
        elif owner == f"{prefix}_model.o":
            kind = "model_code" if name.startswith(".text") else "weights"
            totals[kind] += size
        else:
            totals["other"] += size
    return FlashSplit(**totals)


@dataclass
class _Profile:
    ticks: list[int]
    stack_bytes: int
    output: bytes
    flash: FlashSplit


def _profile(
    model: Model, inputs: np.ndarray, convention: str, portable: bool, board_name: str
) -> _Profile:
    """Build and run the profiling firmware; the timer ticks of each kernel call summed over
    ``inputs``, the stack high-water mark, the first output and the flash split."""
    with work_dir() as work:
        generated = write_runner(
            model,
            work,
            convention,
            inputs,
            ("qemu/profile.c.j2", "profile.c"),
            board_name,
            portable=portable,
            stack_probe_bytes=STACK_PROBE_BYTES,
        )
        flags = [*firmware_cflags(board_name, portable), "-DTC_PROFILE"]
        objects = []
        for source in sorted(work.glob("*.c")):
            compile_object(work, source, flags, source.with_suffix(".o"))
            objects.append(source.with_suffix(".o"))
        elf = link_firmware(work, objects, board_name, map_file=True)
        lines = read_lines(
            qemu_command(elf, serial="stdio", board=board_name),
            lambda got: "TC BENCH END" in got,
            QEMU_TIMEOUT_S,
        )
        if "TC BENCH END" not in lines:
            raise BenchError(
                f"the profiling firmware did not finish within {QEMU_TIMEOUT_S:.0f} s "
                f"({len(lines)} lines printed)"
            )
        split = flash_split((work / "firmware.map").read_text(), generated.prefix, {"profile.o"})
        return _read_profile(lines, len(generated.calls), split)


def _read_profile(lines: list[str], calls: int, split: FlashSplit) -> _Profile:
    ticks = [0] * calls
    stack, output = 0, b""
    for line in lines:
        if m := re.fullmatch(r"TC BENCH call=(\d+) ticks=(\d+)", line):
            ticks[int(m.group(1))] = int(m.group(2))
        elif m := re.fullmatch(r"TC BENCH stack=(\d+)", line):
            stack = int(m.group(1))
        elif m := re.fullmatch(r"TC BENCH OUT ([0-9a-f]*)", line):
            output = bytes.fromhex(m.group(1))
    return _Profile(ticks, stack, output, split)


def _host_times(
    model: Model, content: bytes, inputs: np.ndarray, convention: str, rounds: int
) -> tuple[dict[str, float], str]:
    """Median microseconds per inference on this machine: the generated C (compiled for the
    host), the TFLM interpreter and LiteRT (reference and default kernels), timed in
    interleaved rounds so that a busy machine slows them all alike."""
    import subprocess

    from tinycnn.codegen.host import build_host_runner
    from tinycnn.model.interpreters import litert_interpreter, tflm_interpreter

    runner = build_host_runner(model, convention)
    payload = np.ascontiguousarray(inputs).tobytes()
    count = len(inputs)

    def c_once() -> float:
        started = time.perf_counter()
        subprocess.run(
            [str(runner), str(count)], input=payload, capture_output=True, check=True, timeout=600
        )
        whole = time.perf_counter() - started
        started = time.perf_counter()
        subprocess.run([str(runner), "0"], input=b"", capture_output=True, check=True, timeout=60)
        return (whole - (time.perf_counter() - started)) / count

    engines = {"c": c_once}
    notes = []
    try:
        tflm = tflm_interpreter(content)

        def tflm_once() -> float:
            started = time.perf_counter()
            for x in inputs:
                tflm.set_input(x[None], 0)
                tflm.invoke()
            return (time.perf_counter() - started) / count

        engines["tflm"] = tflm_once
    except TinycnnError as exc:
        notes.append(str(exc))
    for key, reference in (("litert_ref", True), ("litert", False)):
        try:
            interpreter = litert_interpreter(content, reference=reference)
        except TinycnnError as exc:
            notes.append(str(exc))
            continue
        index = interpreter.get_input_details()[0]["index"]

        def litert_once(interpreter=interpreter, index=index) -> float:
            started = time.perf_counter()
            for x in inputs:
                interpreter.set_tensor(index, x[None])
                interpreter.invoke()
            return (time.perf_counter() - started) / count

        engines[key] = litert_once
    samples = {key: [] for key in engines}
    for _ in range(rounds):
        for key, once in engines.items():
            samples[key].append(once())
    return {key: statistics.median(s) * 1e6 for key, s in samples.items()}, "; ".join(notes)


def bench_model(
    model: Model,
    content: bytes,
    inputs: np.ndarray,
    *,
    convention: str = BOARD_CONVENTION,
    cmsis_nn: str | Path | None = None,
    host_rounds: int = 5,
    host_images: int = 100,
    compare_cmsis: bool = True,
    board: str = EMULATED_BOARD,
    on_step=None,
) -> BenchReport:
    """Every figure of the report for ``model`` (``inputs``: int8, batch first) on the
    emulated ``board``; ``compare_cmsis`` False leaves CMSIS-NN out."""
    from tinycnn.codegen.render import lower_for_c

    step = on_step or (lambda text: None)
    per_tick = 1_000_000_000 // emulated_board(board).clock_hz
    cmsis_dir, cmsis_note = find_cmsis_nn(cmsis_nn) if compare_cmsis else (None, "not asked for")
    runtime_model, plan, calls = lower_for_c(model, convention)
    unfused = lower_for_c(model, convention, fuse=False)

    step(f"profiling the DSP build on {_core_fields(board)['core']}")
    dsp = _profile(model, inputs, convention, portable=False, board_name=board)
    step("profiling the portable C build")
    portable = _profile(model, inputs, convention, portable=True, board_name=board)
    if dsp.output != portable.output:
        raise BenchError("the DSP and portable builds gave different outputs")
    expected = run_model(model, inputs[:1], convention=convention).outputs[0].tobytes()
    if dsp.output != expected:
        raise BenchError("the firmware's output differs from the reference engine's")
    cmsis = {}  # by operator index of the file
    if cmsis_dir:
        step(f"running CMSIS-NN's kernels ({cmsis_dir})")
        cmsis = _cmsis_counts(unfused[0], unfused[2], inputs, cmsis_dir, board)
    layers = [
        _layer(
            i,
            call,
            runtime_model,
            unfused[0],
            dsp,
            portable,
            cmsis,
            cmsis_dir,
            per_tick,
            len(inputs),
        )
        for i, call in enumerate(calls)
    ]
    host, host_note = {}, ""
    if host_rounds > 0:
        step("timing the host engines")
        timed = (
            inputs[:host_images]
            if len(inputs) >= host_images
            else inputs[:1].repeat(host_images, axis=0)
        )
        host, host_note = _host_times(model, content, timed, convention, host_rounds)
    return _report(
        model,
        content,
        inputs,
        layers,
        (plan, unfused),
        (dsp, portable),
        (cmsis_dir, cmsis_note),
        (host, host_note),
        per_tick,
        board,
    )


def _cmsis_counts(unfused_model, unfused_calls, inputs, cmsis_dir, board: str) -> dict:
    """CMSIS-NN's (ticks, note) by operator index of the file."""
    values = run_model(
        unfused_model, inputs[:1], convention=BOARD_CONVENTION, keep_tensors=True
    ).tensors
    by_call = run_cmsis(unfused_model, unfused_calls, values, cmsis_dir, board)
    return {unfused_calls[i].op.index: result for i, result in by_call.items()}


def _layer(
    i, call, runtime_model, unfused_model, dsp, portable, cmsis, cmsis_dir, per_tick, images
):
    """One kernel call's row: its MACs, instructions with each build, and CMSIS-NN's for the
    operators it runs (None unless CMSIS-NN has a kernel for each of them)."""
    from tinycnn.codegen.fusion import original_operators

    parts = original_operators(call.op)
    macs = sum(op_macs(unfused_model, op) for op in parts)
    counts = [
        cmsis.get(op.index, (None, "no CMSIS-NN kernel" if cmsis_dir else "")) for op in parts
    ]
    missing = [note for ticks, note in counts if ticks is None]
    return Layer(
        call=i,
        op_index=call.op.index,
        opcode="+".join(op.opcode for op in parts),
        output=runtime_model.tensors[call.op.outputs[0]].name,
        macs=int(macs),
        instructions=round(dsp.ticks[i] * per_tick / images),
        portable_instructions=round(portable.ticks[i] * per_tick / images),
        cmsis_instructions=None if missing else sum(t for t, _ in counts) * per_tick,
        cmsis_note="; ".join(note for _, note in counts if note),
    )


def _core_fields(board: str) -> dict:
    """The emulated core the counts come from, and the first real board with that core (its
    clock turns instructions into an estimate of milliseconds)."""
    from tinycnn.boards import all_boards

    core = emulated_board(board)
    real = next((b for b in all_boards() if b.emulator == core.name), core)
    return {
        "core": f"QEMU's {core.qemu_machine} ({core.cpu})",
        "estimate_board": real.name,
        "estimate_hz": real.clock_hz,
    }


def _report(model, content, inputs, layers, plans, builds, cmsis, host, per_tick, board):
    from tinycnn.model.interpreters import tflm_arena_bytes

    (plan, (unfused_model, unfused_plan, _)), (dsp, portable) = plans, builds
    compared = [layer for layer in layers if layer.cmsis_instructions is not None]
    try:
        tflm_bytes = tflm_arena_bytes(content)
    except TinycnnError:
        tflm_bytes = None
    return BenchReport(
        model=model.name,
        macs=sum(layer.macs for layer in layers),
        images=len(inputs),
        instructions_per_tick=per_tick,
        layers=layers,
        instructions=sum(layer.instructions for layer in layers),
        portable_instructions=sum(layer.portable_instructions for layer in layers),
        flash=dsp.flash,
        portable_flash=portable.flash,
        cflags=firmware_cflags(board),
        **_core_fields(board),
        arena_bytes=plan.arena_bytes,
        lower_bound_bytes=plan.lower_bound_bytes,
        unfused_arena_bytes=unfused_plan.arena_bytes,
        unfused_lower_bound_bytes=unfused_plan.lower_bound_bytes,
        naive_bytes=sum(t.size_bytes for t in unfused_model.tensors if not t.is_constant),
        tflm_arena_bytes=tflm_bytes,
        stack_bytes=dsp.stack_bytes,
        cmsis_nn=str(cmsis[0]) if cmsis[0] else None,
        cmsis_note=cmsis[1],
        cmsis_instructions=sum(c.cmsis_instructions for c in compared) if compared else None,
        tinycnn_instructions_on_cmsis_layers=(
            sum(c.instructions for c in compared) if compared else None
        ),
        host=host[0],
        host_note=host[1],
    )


def bench(
    target: str | Path,
    *,
    images: int = 3,
    cmsis_nn: str | Path | None = None,
    host_rounds: int = 5,
    board: str = EMULATED_BOARD,
    data_dir=None,
    on_step=None,
) -> BenchReport:
    """``bench_model`` for a .tflite file, a run directory or ``zoo:NAME`` on ``board``'s
    emulated core (UnknownBoard when it has none): the first ``images`` test images (or
    inputs chosen as ``verify`` chooses them) are profiled."""
    from tinycnn.model.tflite_io import read_model, read_tflite
    from tinycnn.quantization.inputs import model_inputs
    from tinycnn.ref.runner import check_supported
    from tinycnn.rundir import int8_model_path

    emulated = emulated_board(board).name  # a board without an emulated core: one line, first
    check_settings(BENCH_SETTINGS, images=images, host_rounds=host_rounds)
    path = int8_model_path(target)
    content = read_tflite(path)
    model = read_model(content, name=path.stem)
    check_supported(model)
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise TinycnnError("bench handles single-input, single-output models")
    inputs = model_inputs(model, images, data_dir, path).values
    report = bench_model(
        model,
        content,
        inputs,
        cmsis_nn=cmsis_nn,
        host_rounds=host_rounds,
        board=emulated,
        on_step=on_step,
    )
    report.model = str(target)
    return report
