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

import hashlib
import os
import re
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from tinycnn import __version__
from tinycnn.board.emulate import qemu_command, read_lines, write_runner
from tinycnn.boards import load_board
from tinycnn.codegen.host import HOST_CFLAGS
from tinycnn.codegen.projects import (
    FIRMWARE_CFLAGS,
    QEMU_LDFLAGS,
    arm_tool,
    first_error,
    write_qemu_platform,
)
from tinycnn.codegen.render import template_environment
from tinycnn.errors import TinycnnError
from tinycnn.model.ir import Model
from tinycnn.outputs import cache_dir
from tinycnn.processes import run, work_dir
from tinycnn.ref.context import OpContext
from tinycnn.ref.registry import definition_for
from tinycnn.ref.runner import run_model

STACK_PROBE_BYTES = 64 * 1024
QEMU_TIMEOUT_S = 600.0
# tinycnn op -> the CMSIS-NN function TFLite Micro's CMSIS-NN kernels call for it.
CMSIS_FUNCTIONS = {
    "conv": "arm_convolve_wrapper_s8",
    "depthwise_conv": "arm_depthwise_conv_wrapper_s8",
    "fully_connected": "arm_fully_connected_s8",
    "max_pool": "arm_max_pool_s8",
    "average_pool": "arm_avgpool_s8",
    "softmax": "arm_softmax_s8",
    "add": "arm_elementwise_add_s8",
}
CMSIS_SOURCE_DIRS = (
    "ActivationFunctions",
    "BasicMathFunctions",
    "ConvolutionFunctions",
    "FullyConnectedFunctions",
    "NNSupportFunctions",
    "PoolingFunctions",
    "SoftmaxFunctions",
)
SHARED_CMSIS_NN = (
    Path(__file__).resolve().parents[3] / "shared" / "third_party" / "cmsis-nn"
)


class BenchError(TinycnnError):
    """A benchmark step failed (toolchain missing, firmware silent, CMSIS-NN unusable)."""


@dataclass
class Layer:
    call: int  # kernel call index in the generated model
    op_index: int
    opcode: str
    output: str  # the output tensor's name
    macs: int
    instructions: int  # DSP kernels
    portable_instructions: int  # plain C kernels
    cmsis_instructions: int | None = None
    cmsis_note: str = ""  # why there is no CMSIS-NN figure, or how its output differs

    @property
    def per_mac(self) -> float | None:
        return self.instructions / self.macs if self.macs else None


@dataclass
class FlashSplit:
    runtime_code: int  # the tc_* kernels this model uses, code and their constants
    model_code: int  # the generated invoke function and parameter structs
    weights: int  # the model's constant arrays: weights, biases, multipliers, shifts
    other: int  # startup, UART and timer, libc and libgcc helpers

    @property
    def total(self) -> int:
        return self.runtime_code + self.model_code + self.weights + self.other


@dataclass
class BenchReport:
    model: str
    macs: int
    images: int
    instructions_per_tick: int
    layers: list[Layer]
    instructions: int  # sum over the layers, DSP kernels
    portable_instructions: int
    flash: FlashSplit  # DSP build, at the firmware's flags
    portable_flash: FlashSplit
    cflags: list[str]
    arena_bytes: int  # the plan the firmware uses (fused)
    lower_bound_bytes: int  # the most bytes alive at once, fused
    unfused_arena_bytes: int  # the plan without fusion
    unfused_lower_bound_bytes: int
    naive_bytes: int  # every activation tensor in its own buffer
    tflm_arena_bytes: int | None
    stack_bytes: int
    cmsis_nn: str | None  # the folder used, or None
    cmsis_note: str  # why CMSIS-NN is missing, when it is
    cmsis_instructions: int | None  # sum over the layers CMSIS-NN has a kernel for
    tinycnn_instructions_on_cmsis_layers: int | None
    host: dict[str, float] = field(default_factory=dict)  # microseconds per inference
    host_note: str = ""

    @property
    def per_mac(self) -> float:
        return self.instructions / self.macs if self.macs else 0.0

    @property
    def portable_per_mac(self) -> float:
        return self.portable_instructions / self.macs if self.macs else 0.0

    def to_json(self) -> dict:
        data = asdict(self)
        data["per_mac"] = self.per_mac
        data["portable_per_mac"] = self.portable_per_mac
        data["flash"]["total"] = self.flash.total
        data["portable_flash"]["total"] = self.portable_flash.total
        for layer, row in zip(self.layers, data["layers"], strict=True):
            row["per_mac"] = layer.per_mac
        return data


def find_cmsis_nn(option: str | Path | None) -> tuple[Path | None, str]:
    """CMSIS-NN's folder (holding Include/ and Source/) from the option, $CMSIS_NN_DIR or the
    shared copy; or None and why."""
    for where, candidate in (
        ("--cmsis-nn", option),
        ("CMSIS_NN_DIR", os.environ.get("CMSIS_NN_DIR")),
    ):
        if candidate:
            path = Path(candidate).expanduser()
            if not (path / "Include" / "arm_nnfunctions.h").is_file():
                raise BenchError(f"{where} {path}: no Include/arm_nnfunctions.h there")
            return path, ""
    if (SHARED_CMSIS_NN / "Include" / "arm_nnfunctions.h").is_file():
        return SHARED_CMSIS_NN, ""
    return None, (
        "CMSIS-NN not found (give --cmsis-nn DIR or set CMSIS_NN_DIR to a checkout of "
        "ARM-software/CMSIS-NN): no CMSIS-NN figures"
    )


def _compile(work: Path, source: Path, flags: list[str], obj: Path) -> None:
    result = run(
        [arm_tool(), *flags, "-c", str(source), "-o", str(obj)],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        raise BenchError(f"compiling {source.name} failed: {first_error(result.stderr)}")


def _link(work: Path, objects: list[Path], libraries: list[Path] = ()) -> Path:
    result = run(
        [
            arm_tool(),
            *load_board("qemu_m4").cflags,
            *map(str, objects),
            *map(str, libraries),
            *QEMU_LDFLAGS,
            "-Wl,-Map=firmware.map",
            "-o",
            "firmware.elf",
        ],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        raise BenchError(f"linking the benchmark firmware failed: {first_error(result.stderr)}")
    return work / "firmware.elf"


def firmware_cflags(portable: bool) -> list[str]:
    """The flags tinycnn builds its qemu_m4 firmware with (plus -DTC_PORTABLE for the plain C)."""
    return [
        *load_board("qemu_m4").cflags,
        *FIRMWARE_CFLAGS,
        *(["-DTC_PORTABLE"] if portable else []),
    ]


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


def _profile(model: Model, inputs: np.ndarray, convention: str, portable: bool) -> _Profile:
    """Build and run the profiling firmware; the timer ticks of each kernel call summed over
    ``inputs``, the stack high-water mark, the first output and the flash split."""
    with work_dir() as work:
        generated = write_runner(
            model,
            work,
            convention,
            inputs,
            ("qemu/profile.c.j2", "profile.c"),
            stack_probe_bytes=STACK_PROBE_BYTES,
        )
        flags = [*firmware_cflags(portable), "-DTC_PROFILE"]
        objects = []
        for source in sorted(work.glob("*.c")):
            obj = source.with_suffix(".o")
            _compile(work, source, flags, obj)
            objects.append(obj)
        elf = _link(work, objects)
        lines = read_lines(
            qemu_command(elf, serial="stdio"), lambda got: "TC BENCH END" in got, QEMU_TIMEOUT_S
        )
        if "TC BENCH END" not in lines:
            raise BenchError(
                f"the profiling firmware did not finish within {QEMU_TIMEOUT_S:.0f} s "
                f"({len(lines)} lines printed)"
            )
        ticks = [0] * len(generated.calls)
        stack, output = 0, b""
        for line in lines:
            if m := re.fullmatch(r"TC BENCH call=(\d+) ticks=(\d+)", line):
                ticks[int(m.group(1))] = int(m.group(2))
            elif m := re.fullmatch(r"TC BENCH stack=(\d+)", line):
                stack = int(m.group(1))
            elif m := re.fullmatch(r"TC BENCH OUT ([0-9a-f]*)", line):
                output = bytes.fromhex(m.group(1))
        split = flash_split((work / "firmware.map").read_text(), generated.prefix, {"profile.o"})
        return _Profile(ticks, stack, output, split)


def _cmsis_library(cmsis_dir: Path) -> Path:
    """CMSIS-NN's int8 kernels compiled with the firmware's flags into a static library,
    cached by the sources' content."""
    sources = sorted(
        path
        for folder in CMSIS_SOURCE_DIRS
        for path in (cmsis_dir / "Source" / folder).glob("*.c")
        if not re.search(r"_(f16|f32)\b|_f16|_f32", path.stem)
    )
    if not sources:
        raise BenchError(f"{cmsis_dir}/Source holds no CMSIS-NN kernels")
    flags = [
        *load_board("qemu_m4").cflags,
        "-O2",
        "-ffunction-sections",
        "-fdata-sections",
        "-I",
        str(cmsis_dir / "Include"),
    ]
    digest = hashlib.sha256(" ".join(flags[:-2]).encode())
    for path in sources:
        digest.update(path.name.encode() + path.read_bytes())
    root = cache_dir("cmsis-nn")
    library = root / f"libcmsisnn-{digest.hexdigest()[:16]}.a"
    if library.is_file():
        return library
    with work_dir(root) as work:
        objects = []
        for source in sources:
            obj = work / f"{source.stem}.o"
            _compile(work, source, flags, obj)
            objects.append(obj)
        ar = arm_tool("arm-none-eabi-ar")
        run(
            [ar, "rcs", str(work / library.name), *map(str, objects)],
            check=True,
            timeout=300,
            capture_output=True,
        )
        os.replace(work / library.name, library)
    return library


def _cmsis_layer(model: Model, call_index: int, call, values: dict) -> dict | None:
    """The data of one layer for cmsis_nn.c.j2, or None when CMSIS-NN has no kernel for it."""
    from tinycnn.codegen.lowering import ConstArray

    name = call.definition.name
    if name not in CMSIS_FUNCTIONS:
        return None
    op = call.op
    p = dict(call.params)
    arrays = {a.name: a for a in call.arrays}
    first = values[op.inputs[0]]
    expected = values[op.outputs[0]]
    layer = {
        "call": call_index,
        "op_index": op.index,
        "opcode": op.opcode,
        "kind": name,
        "function": CMSIS_FUNCTIONS[name],
        "params": p,
        "dims": {},
        "second_input": False,
    }
    out = [
        ConstArray("input", "int8_t", first.ravel().astype(int).tolist()),
        ConstArray("expected", "int8_t", expected.ravel().astype(int).tolist()),
    ]

    def tensor_array(position: int, array_name: str, ctype: str) -> ConstArray:
        return ConstArray(
            array_name, ctype, model.tensors[op.inputs[position]].data.ravel().astype(int).tolist()
        )

    if name in ("conv", "depthwise_conv"):
        out_c = call.dims["output"][3]
        out += [
            tensor_array(1, "filter", "int8_t"),
            arrays["multiplier"],
            arrays["shift"],
            tensor_array(2, "bias", "int32_t")
            if len(op.inputs) > 2 and op.inputs[2] >= 0
            else ConstArray("bias", "int32_t", [0] * out_c),
        ]
        # the file's filter shape and multiplier (the C may run a 1-channel depthwise as a conv)
        filter_shape = tuple(model.tensors[op.inputs[1]].shape)
        layer["dims"] = {
            **call.dims,
            "filter": (1,) * (4 - len(filter_shape)) + filter_shape,
            "bias": (1, 1, 1, out_c),
        }
        if name == "depthwise_conv":
            p["depth_multiplier"] = out_c // call.dims["input"][3]
    elif name == "fully_connected":
        rows, depth, units = p["rows"], p["accum_depth"], p["out_units"]
        bias = (
            tensor_array(2, "bias", "int32_t")
            if len(op.inputs) > 2 and op.inputs[2] >= 0
            else ConstArray("bias", "int32_t", [0] * units)
        )
        out += [tensor_array(1, "filter", "int8_t"), arrays["multiplier"], arrays["shift"], bias]
        if p["per_channel"]:
            layer["function"] = "arm_fully_connected_per_channel_s8"
        layer["dims"] = {
            "input": (rows, 1, 1, depth),
            "filter": (depth, 1, 1, units),
            "bias": (1, 1, 1, units),
            "output": (rows, 1, 1, units),
        }
    elif name in ("max_pool", "average_pool"):
        layer["dims"] = {
            "input": call.dims["input"],
            "output": call.dims["output"],
            "filter": (1, p["filter_h"], p["filter_w"], 1),
        }
    elif name == "add":
        second = values[op.inputs[1]]
        if first.shape != second.shape:
            return {**layer, "skip": "broadcasting ADD: CMSIS-NN's add needs equal shapes"}
        if p["rounding"] != "TC_ROUNDING_DOUBLE":
            return {**layer, "skip": "single rounding: CMSIS-NN built for TFLM's double rounding"}
        from tinycnn.ref.add import LEFT_SHIFT

        out.append(ConstArray("second", "int8_t", second.ravel().astype(int).tolist()))
        layer.update(second_input=True, left_shift=LEFT_SHIFT, size=int(first.size))
    if p.get("rounding") == "TC_ROUNDING_SINGLE":
        return {**layer, "skip": "single rounding: CMSIS-NN is built for TFLM's double rounding"}
    layer["arrays"] = out
    layer["input_bytes"] = int(first.size)
    layer["output_bytes"] = int(expected.size)
    layer["scratch_guess"] = 4 * int(np.prod(layer["dims"].get("filter", (1,)))) * 2 + 4096
    return layer


def _run_cmsis(
    model: Model, calls, values: dict, cmsis_dir: Path
) -> dict[int, tuple[int | None, str]]:
    """CMSIS-NN's ticks and a note per kernel call index."""
    layers = [
        layer for i, call in enumerate(calls) if (layer := _cmsis_layer(model, i, call, values))
    ]
    results = {layer["call"]: (None, layer["skip"]) for layer in layers if "skip" in layer}
    layers = [layer for layer in layers if "skip" not in layer]
    if not layers:
        return results
    library = _cmsis_library(cmsis_dir)
    environment = template_environment()
    board = load_board("qemu_m4")
    with work_dir() as work:
        context = {
            "version": __version__,
            "board": board,
            "name": model.name,
            "layers": layers,
            "input_capacity": max(layer["input_bytes"] for layer in layers),
            "second_capacity": max(
                [layer["input_bytes"] for layer in layers if layer["second_input"]] or [4]
            ),
            "output_capacity": max(layer["output_bytes"] for layer in layers),
            "scratch_capacity": max(layer["scratch_guess"] for layer in layers),
        }
        write_qemu_platform(environment, work, context, main=("qemu/cmsis_nn.c.j2", "cmsis_nn.c"))
        flags = [
            *board.cflags,
            "-std=gnu11",
            "-O2",
            "-Wall",
            "-ffunction-sections",
            "-fdata-sections",
            "-I",
            str(cmsis_dir / "Include"),
        ]
        objects = []
        for source in sorted(work.glob("*.c")):
            obj = source.with_suffix(".o")
            _compile(work, source, flags, obj)
            objects.append(obj)
        elf = _link(work, objects, [library])
        lines = read_lines(
            qemu_command(elf, serial="stdio"), lambda got: "TC CMSIS END" in got, QEMU_TIMEOUT_S
        )
    if "TC CMSIS END" not in lines:
        raise BenchError(f"the CMSIS-NN firmware did not finish within {QEMU_TIMEOUT_S:.0f} s")
    pattern = re.compile(
        r"TC CMSIS call=(\d+) ticks=(\d+) status=(-?\d+) differ=(\d+) maxdiff=(\d+)"
    )
    for line in lines:
        if m := pattern.fullmatch(line):
            call, ticks, status, differ, maxdiff = (int(g) for g in m.groups())
            if status == -100:
                results[call] = (None, "its buffer did not fit the benchmark's scratch")
            elif status != 0:
                results[call] = (None, f"CMSIS-NN refused the layer (status {status})")
            else:
                note = (
                    f"{differ} values differ from the reference (max {maxdiff})" if differ else ""
                )
                results[call] = (ticks, note)
    return results


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
    convention: str = "tflm",
    cmsis_nn: str | Path | None = None,
    host_rounds: int = 5,
    host_images: int = 100,
    compare_cmsis: bool = True,
    on_step=None,
) -> BenchReport:
    """Every figure of the report for ``model`` (``inputs``: int8, batch first);
    ``compare_cmsis`` False leaves CMSIS-NN out."""
    from tinycnn.codegen.fusion import original_operators
    from tinycnn.codegen.render import lower_for_c
    from tinycnn.model.interpreters import tflm_arena_bytes

    step = on_step or (lambda text: None)
    board = load_board("qemu_m4")
    per_tick = 1_000_000_000 // board.clock_hz
    cmsis_dir, cmsis_note = find_cmsis_nn(cmsis_nn) if compare_cmsis else (None, "not asked for")
    runtime_model, plan, calls = lower_for_c(model, convention)
    unfused_model, unfused_plan, unfused_calls = lower_for_c(model, convention, fuse=False)

    step("profiling the DSP build on the emulated Cortex-M4")
    dsp = _profile(model, inputs, convention, portable=False)
    step("profiling the portable C build")
    portable = _profile(model, inputs, convention, portable=True)
    if dsp.output != portable.output:
        raise BenchError("the DSP and portable builds gave different outputs")
    expected = run_model(model, inputs[:1], convention=convention).outputs[0].tobytes()
    if dsp.output != expected:
        raise BenchError("the firmware's output differs from the reference engine's")

    cmsis = {}  # by operator index of the file
    if cmsis_dir:
        step(f"running CMSIS-NN's kernels ({cmsis_dir})")
        values = run_model(unfused_model, inputs[:1], convention="tflm", keep_tensors=True).tensors
        by_call = _run_cmsis(unfused_model, unfused_calls, values, cmsis_dir)
        cmsis = {unfused_calls[i].op.index: result for i, result in by_call.items()}
    images = len(inputs)
    layers = []
    for i, call in enumerate(calls):
        parts = original_operators(call.op)
        macs = 0
        for op in parts:
            definition = definition_for(op)
            if definition.macs:
                macs += definition.macs(
                    OpContext(op=op, model=unfused_model, values={}, convention="tflm")
                )
        counts = [
            cmsis.get(op.index, (None, "no CMSIS-NN kernel" if cmsis_dir else "")) for op in parts
        ]
        missing = [note for ticks, note in counts if ticks is None]
        notes = [note for _, note in counts if note]
        layers.append(
            Layer(
                call=i,
                op_index=call.op.index,
                opcode="+".join(op.opcode for op in parts),
                output=runtime_model.tensors[call.op.outputs[0]].name,
                macs=int(macs),
                instructions=round(dsp.ticks[i] * per_tick / images),
                portable_instructions=round(portable.ticks[i] * per_tick / images),
                cmsis_instructions=None if missing else sum(t for t, _ in counts) * per_tick,
                cmsis_note="; ".join(notes),
            )
        )
    compared = [layer for layer in layers if layer.cmsis_instructions is not None]
    tflm_bytes = None
    try:
        tflm_bytes = tflm_arena_bytes(content)
    except TinycnnError:
        pass
    host, host_note = {}, ""
    if host_rounds > 0:
        step("timing the host engines")
        host, host_note = _host_times(
            model,
            content,
            inputs[:1].repeat(host_images, axis=0)
            if len(inputs) < host_images
            else inputs[:host_images],
            convention,
            host_rounds,
        )
    return BenchReport(
        model=model.name,
        macs=sum(layer.macs for layer in layers),
        images=images,
        instructions_per_tick=per_tick,
        layers=layers,
        instructions=sum(layer.instructions for layer in layers),
        portable_instructions=sum(layer.portable_instructions for layer in layers),
        flash=dsp.flash,
        portable_flash=portable.flash,
        cflags=firmware_cflags(False),
        arena_bytes=plan.arena_bytes,
        lower_bound_bytes=plan.lower_bound_bytes,
        unfused_arena_bytes=unfused_plan.arena_bytes,
        unfused_lower_bound_bytes=unfused_plan.lower_bound_bytes,
        naive_bytes=sum(t.size_bytes for t in unfused_model.tensors if not t.is_constant),
        tflm_arena_bytes=tflm_bytes,
        stack_bytes=dsp.stack_bytes,
        cmsis_nn=str(cmsis_dir) if cmsis_dir else None,
        cmsis_note=cmsis_note,
        cmsis_instructions=sum(layer.cmsis_instructions for layer in compared)
        if compared
        else None,
        tinycnn_instructions_on_cmsis_layers=sum(layer.instructions for layer in compared)
        if compared
        else None,
        host=host,
        host_note=host_note,
    )


def bench(
    target: str | Path,
    *,
    images: int = 3,
    cmsis_nn: str | Path | None = None,
    host_rounds: int = 5,
    data_dir=None,
    on_step=None,
) -> BenchReport:
    """``bench_model`` for a .tflite file, a run directory or ``zoo:NAME``: the first ``images``
    test images (or inputs chosen as ``verify`` chooses them) are profiled."""
    from tinycnn.model.tflite_io import read_model, read_tflite
    from tinycnn.quantization.inputs import model_inputs
    from tinycnn.ref.runner import check_supported
    from tinycnn.rundir import int8_model_path

    if images < 1:
        raise TinycnnError(f"--images must be at least 1, got {images}")
    path = int8_model_path(target)
    content = read_tflite(path)
    model = read_model(content, name=path.stem)
    check_supported(model)
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise TinycnnError("bench handles single-input, single-output models")
    inputs = model_inputs(model, images, data_dir).values
    report = bench_model(
        model, content, inputs, cmsis_nn=cmsis_nn, host_rounds=host_rounds, on_step=on_step
    )
    report.model = str(target)
    return report


NANO33_HZ = 64_000_000


def format_report(report: BenchReport) -> str:
    """The report as the terminal shows it."""
    lines = [
        f"{report.model}: {report.macs:,} MACs; mean of {report.images} input(s) on QEMU's "
        "mps2-an386 (Cortex-M4) under -icount shift=0",
        f"Counts are instructions executed, not cycles (resolution {report.instructions_per_tick}).",
        "",
        f"{'call':>4}  {'op':<18} {'MACs':>10} {'DSP':>11} {'/MAC':>6} {'portable':>11} "
        f"{'CMSIS-NN':>11} {'vs CMSIS':>8}",
    ]
    notes = []
    for layer in report.layers:
        per_mac = f"{layer.per_mac:.2f}" if layer.per_mac else "-"
        cmsis = f"{layer.cmsis_instructions:,}" if layer.cmsis_instructions is not None else "-"
        ratio = (
            f"{layer.instructions / layer.cmsis_instructions:.2f}x"
            if layer.cmsis_instructions
            else ""
        )
        if layer.cmsis_note:
            notes.append(f"call {layer.call} ({layer.opcode}): {layer.cmsis_note}")
        lines.append(
            f"{layer.call:>4}  {layer.opcode:<18} {layer.macs:>10,} {layer.instructions:>11,} "
            f"{per_mac:>6} {layer.portable_instructions:>11,} {cmsis:>11} {ratio:>8}"
        )
    lines.append(
        f"{'':>4}  {'total':<18} {report.macs:>10,} {report.instructions:>11,} "
        f"{report.per_mac:>6.2f} {report.portable_instructions:>11,}"
    )
    if report.cmsis_instructions:
        lines.append(
            f"On the {sum(1 for layer in report.layers if layer.cmsis_instructions is not None)} "
            f"layers CMSIS-NN has kernels for: tinycnn {report.tinycnn_instructions_on_cmsis_layers:,}, "
            f"CMSIS-NN {report.cmsis_instructions:,} "
            f"({report.tinycnn_instructions_on_cmsis_layers / report.cmsis_instructions:.2f}x)."
        )
    if report.cmsis_note:
        lines.append(report.cmsis_note)
    lines += [f"  {note}" for note in notes if note != "no CMSIS-NN kernel"]
    flash = report.flash
    lines += [
        "",
        f"Flash ({next(f for f in report.cflags if f.startswith('-O'))}, DSP build): "
        f"runtime code {flash.runtime_code:,} B, "
        f"model code {flash.model_code:,} B, weights {flash.weights:,} B, other {flash.other:,} B "
        f"= {flash.total:,} B (portable build: runtime code {report.portable_flash.runtime_code:,} B)",
    ]
    tflm = (
        f"; TFLM's arena {report.tflm_arena_bytes:,} B, "
        f"{report.arena_bytes / report.tflm_arena_bytes:.2f}x of it"
        if report.tflm_arena_bytes
        else ""
    )
    lines.append(
        f"RAM: planned arena {report.arena_bytes:,} B with fusion (its lower bound "
        f"{report.lower_bound_bytes:,} B{tflm}); without fusion {report.unfused_arena_bytes:,} B "
        f"(lower bound {report.unfused_lower_bound_bytes:,} B); every tensor apart "
        f"{report.naive_bytes:,} B; stack high-water {report.stack_bytes:,} B"
    )
    lines.append(
        f"Nano 33 BLE at 64 MHz, estimate (one instruction per cycle, a lower bound): "
        f"{report.instructions / NANO33_HZ * 1000:.1f} ms per inference"
    )
    if report.host:
        c = report.host.get("c")
        names = {
            "tflm": "TFLM interpreter",
            "litert_ref": "LiteRT reference kernels",
            "litert": "LiteRT default kernels",
        }
        others = ", ".join(
            f"{names[key]} {value:,.0f} us ({value / c:.2f}x the C's time)"
            for key, value in report.host.items()
            if key != "c"
        )
        lines.append(
            f"Host, this machine (median per inference, interleaved rounds): generated C "
            f"({' '.join(HOST_CFLAGS[:2])}) {c:,.0f} us; {others}"
        )
    if report.host_note:
        lines.append(f"  {report.host_note}")
    return "\n".join(lines)
