"""CMSIS-NN beside tinycnn on the same emulated core: Arm's kernel for every layer it has one
for, run with the model's quantized weights on the input the reference engine gave that layer,
its instructions counted and its output compared with the reference's. CMSIS-NN is found
through ``--cmsis-nn DIR``, ``$CMSIS_NN_DIR``, or ``../shared/third_party/cmsis-nn`` beside
the project; its sources are compiled once into a cached library."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import numpy as np

from tinycnn import __version__
from tinycnn.board.emulate import qemu_command, read_lines
from tinycnn.boards import EMULATED_BOARD, load_board
from tinycnn.codegen.build import arm_tool, compile_object, link_firmware
from tinycnn.codegen.projects import write_qemu_platform
from tinycnn.codegen.render import template_environment
from tinycnn.errors import TinycnnError
from tinycnn.model.ir import Model
from tinycnn.outputs import cache_dir
from tinycnn.processes import run, work_dir

QEMU_TIMEOUT_S = 600.0
CMSIS_SOURCE_DIRS = (
    "ActivationFunctions",
    "BasicMathFunctions",
    "ConvolutionFunctions",
    "FullyConnectedFunctions",
    "NNSupportFunctions",
    "PoolingFunctions",
    "SoftmaxFunctions",
)
SHARED_CMSIS_NN = Path(__file__).resolve().parents[3] / "shared" / "third_party" / "cmsis-nn"


class CmsisError(TinycnnError):
    """CMSIS-NN cannot be found, built or run."""


def find_cmsis_nn(option: str | Path | None) -> tuple[Path | None, str]:
    """CMSIS-NN's folder (holding Include/ and Source/) from the option, $CMSIS_NN_DIR or the
    shared copy; or None and why."""
    for where, candidate in (
        ("--cmsis-nn", option),
        ("CMSIS_NN_DIR", os.environ.get("CMSIS_NN_DIR")),
    ):
        if candidate:
            path = Path(candidate).expanduser().resolve()  # the builds run in other folders
            if not (path / "Include" / "arm_nnfunctions.h").is_file():
                raise CmsisError(f"{where} {path}: no Include/arm_nnfunctions.h there")
            return path, ""
    if (SHARED_CMSIS_NN / "Include" / "arm_nnfunctions.h").is_file():
        return SHARED_CMSIS_NN, ""
    return None, (
        "CMSIS-NN not found (give --cmsis-nn DIR or set CMSIS_NN_DIR to a checkout of "
        "ARM-software/CMSIS-NN): no CMSIS-NN figures"
    )


def _cmsis_library(cmsis_dir: Path, board_name: str) -> Path:
    """CMSIS-NN's int8 kernels compiled with the firmware's flags into a static library,
    cached by the sources' content."""
    sources = sorted(
        path
        for folder in CMSIS_SOURCE_DIRS
        for path in (cmsis_dir / "Source" / folder).glob("*.c")
        if not re.search(r"_(f16|f32)\b|_f16|_f32", path.stem)
    )
    if not sources:
        raise CmsisError(f"{cmsis_dir}/Source holds no CMSIS-NN kernels")
    flags = [
        *load_board(board_name).cflags,
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
            compile_object(work, source, flags, obj)
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
    """The data of one layer for cmsis_nn.c.j2, or None when CMSIS-NN has no kernel for it
    (the op's definition names the function, ``OpDefinition.cmsis_nn``)."""
    from tinycnn.codegen.lowering import ConstArray

    function = call.definition.cmsis_nn
    if function is None:
        return None
    op = call.op
    first, expected = values[op.inputs[0]], values[op.outputs[0]]
    layer = {
        "call": call_index,
        "op_index": op.index,
        "opcode": op.opcode,
        "kind": function,  # the macro of cmsis_nn_ops.c.j2 that calls it
        "function": function,
        "params": dict(call.params),
        "dims": {},
        "second_input": False,
        "arrays": [
            ConstArray("input", "int8_t", first.ravel().astype(int).tolist()),
            ConstArray("expected", "int8_t", expected.ravel().astype(int).tolist()),
        ],
    }
    skip = _ARGUMENTS.get(function, _no_arguments)(layer, model, call, values)
    if skip is None and layer["params"].get("rounding") == "TC_ROUNDING_SINGLE":
        skip = "single rounding: CMSIS-NN is built for TFLM's double rounding"
    if skip:
        return {**layer, "skip": skip}
    layer["input_bytes"] = int(first.size)
    layer["output_bytes"] = int(expected.size)
    layer["scratch_guess"] = 4 * int(np.prod(layer["dims"].get("filter", (1,)))) * 2 + 4096
    return layer


def _constant(model: Model, op, position: int, name: str, ctype: str):
    from tinycnn.codegen.lowering import ConstArray

    values = model.tensors[op.inputs[position]].data.ravel().astype(int).tolist()
    return ConstArray(name, ctype, values)


def _convolution_arguments(layer: dict, model: Model, call, values) -> str | None:
    """arm_convolve_wrapper_s8 and arm_depthwise_conv_wrapper_s8: filter, per-channel
    multipliers and shifts, bias, and the file's filter shape."""
    from tinycnn.codegen.lowering import ConstArray

    op, arrays = call.op, {a.name: a for a in call.arrays}
    out_c = call.dims["output"][3]
    layer["arrays"] += [
        _constant(model, op, 1, "filter", "int8_t"),
        arrays["multiplier"],
        arrays["shift"],
        _constant(model, op, 2, "bias", "int32_t")
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
    if layer["function"] == "arm_depthwise_conv_wrapper_s8":
        layer["params"]["depth_multiplier"] = out_c // call.dims["input"][3]
    return None


def _fully_connected_arguments(layer: dict, model: Model, call, values) -> str | None:
    from tinycnn.codegen.lowering import ConstArray

    op, p, arrays = call.op, layer["params"], {a.name: a for a in call.arrays}
    rows, depth, units = p["rows"], p["accum_depth"], p["out_units"]
    bias = (
        _constant(model, op, 2, "bias", "int32_t")
        if len(op.inputs) > 2 and op.inputs[2] >= 0
        else ConstArray("bias", "int32_t", [0] * units)
    )
    filters = _constant(model, op, 1, "filter", "int8_t")
    layer["arrays"] += [filters, arrays["multiplier"], arrays["shift"], bias]
    if p["per_channel"]:
        layer["function"] = "arm_fully_connected_per_channel_s8"
    layer["dims"] = {
        "input": (rows, 1, 1, depth),
        "filter": (depth, 1, 1, units),
        "bias": (1, 1, 1, units),
        "output": (rows, 1, 1, units),
    }
    return None


def _pool_arguments(layer: dict, model: Model, call, values) -> str | None:
    p = layer["params"]
    layer["dims"] = {
        "input": call.dims["input"],
        "output": call.dims["output"],
        "filter": (1, p["filter_h"], p["filter_w"], 1),
    }
    return None


def _elementwise_add_arguments(layer: dict, model: Model, call, values) -> str | None:
    from tinycnn.codegen.lowering import ConstArray
    from tinycnn.ref.add import LEFT_SHIFT

    first, second = values[call.op.inputs[0]], values[call.op.inputs[1]]
    if first.shape != second.shape:
        return "broadcasting ADD: CMSIS-NN's add needs equal shapes"
    if layer["params"]["rounding"] != "TC_ROUNDING_DOUBLE":
        return "single rounding: CMSIS-NN built for TFLM's double rounding"
    layer["arrays"].append(ConstArray("second", "int8_t", second.ravel().astype(int).tolist()))
    layer.update(second_input=True, left_shift=LEFT_SHIFT, size=int(first.size))
    return None


def _no_arguments(layer: dict, model: Model, call, values) -> str | None:
    return None


# What each CMSIS-NN function takes beyond the input, by the function (CMSIS-NN's API; which
# op maps to which function is the op's definition's business).
_ARGUMENTS = {
    "arm_convolve_wrapper_s8": _convolution_arguments,
    "arm_depthwise_conv_wrapper_s8": _convolution_arguments,
    "arm_fully_connected_s8": _fully_connected_arguments,
    "arm_max_pool_s8": _pool_arguments,
    "arm_avgpool_s8": _pool_arguments,
    "arm_elementwise_add_s8": _elementwise_add_arguments,
}


def run_cmsis(
    model: Model, calls, values: dict, cmsis_dir: Path, board_name: str = EMULATED_BOARD
) -> dict[int, tuple[int | None, str]]:
    """CMSIS-NN's timer ticks and a note per kernel call index, on the emulated board."""
    layers = [
        layer for i, call in enumerate(calls) if (layer := _cmsis_layer(model, i, call, values))
    ]
    results = {layer["call"]: (None, layer["skip"]) for layer in layers if "skip" in layer}
    layers = [layer for layer in layers if "skip" not in layer]
    if not layers:
        return results
    library = _cmsis_library(cmsis_dir, board_name)
    environment = template_environment()
    board = load_board(board_name)
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
            compile_object(work, source, flags, obj)
            objects.append(obj)
        elf = link_firmware(work, objects, board_name, libraries=[library])
        lines = read_lines(
            qemu_command(elf, serial="stdio", board=board_name),
            lambda got: "TC CMSIS END" in got,
            QEMU_TIMEOUT_S,
        )
    if "TC CMSIS END" not in lines:
        raise CmsisError(f"the CMSIS-NN firmware did not finish within {QEMU_TIMEOUT_S:.0f} s")
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
