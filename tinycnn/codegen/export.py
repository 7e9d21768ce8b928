"""``tinycnn export``: a model as a firmware project for a board.

Arduino boards get an arduino-cli sketch folder, Mbed boards an Mbed CE application and
``qemu_m4`` a bare-metal firmware built into an ELF here. All of them share the generated
model, the C runtime and ``tc_app.c`` (banner, predictions, host protocol). Before anything
is written the model is checked against the board's flash and RAM.
"""

from __future__ import annotations

import os
import re
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tinycnn import __version__
from tinycnn.boards import Board, load_board
from tinycnn.codegen import EXPORT_SETTINGS
from tinycnn.codegen.identifiers import c_identifier
from tinycnn.codegen.lowering import CTYPES
from tinycnn.codegen.projects import PROJECT_WRITERS, ExportError
from tinycnn.codegen.render import render_model, template_environment, wide_weights_fit
from tinycnn.errors import TinycnnWarning
from tinycnn.model.engines import BOARD_CONVENTION
from tinycnn.model.folding import FOLDABLE_TFLM_RESOLVER
from tinycnn.model.interpreters import tflm_arena_bytes
from tinycnn.model.ir import Model
from tinycnn.model.metadata import CLASSES, class_names, output_kind
from tinycnn.model.tflite_io import read_model
from tinycnn.outputs import check_output_dir, holding, refuse_overwriting_inputs, write_error
from tinycnn.processes import run, work_dir
from tinycnn.quantization.inputs import demo_inputs
from tinycnn.ref.registry import BY_BUILTIN
from tinycnn.rundir import int8_model_path, resolve_target
from tinycnn.settings import check_settings

PROTOCOL_VERSION = 2  # the serial protocol the firmware speaks (board/serial/protocol.py)
MARKER_FILE = ".tinycnn-export"
STACK_BYTES_ESTIMATE = 2048  # deepest kernel call chain plus the line buffer, with headroom
RUNTIME_CODE_ESTIMATE = 8192  # used when arm-none-eabi-gcc is not there to measure it
TFLM_CODE_ESTIMATE = 65536  # TFLM interpreter and a handful of reference kernels, -Os
TFLM_MARGIN_FRACTION = 0.10


@dataclass
class Budget:
    """What one kind of memory holds, item by item, against what the board has."""

    available_bytes: int
    items: dict[str, int] = field(default_factory=dict)

    @property
    def total_bytes(self) -> int:
        return sum(self.items.values())

    @property
    def fits(self) -> bool:
        return self.total_bytes <= self.available_bytes

    def describe(self) -> str:
        parts = " + ".join(f"{name} {size}" for name, size in self.items.items())
        return f"{self.total_bytes} bytes ({parts}) of {self.available_bytes}"


@dataclass
class ExportResult:
    board: Board
    out_dir: Path
    runtime: str
    flash: Budget
    ram: Budget
    planned_arena_bytes: int
    lower_bound_bytes: int
    files: list[str]
    build_command: str
    elf_path: Path | None = None
    elf_sections: dict[str, int] | None = None  # arm-none-eabi-size: text, data, bss

    def describe(self) -> str:
        """What `tinycnn export` prints: what was written, flash, RAM, the arena, what next."""
        lines = [
            f"wrote {self.out_dir} for {self.board.description} ({len(self.files)} files, "
            f"{self.runtime} runtime)",
            f"flash {self.flash.describe()}",
            f"RAM   {self.ram.describe()}",
            f"activation arena: {self.planned_arena_bytes} bytes planned, lower bound "
            f"{self.lower_bound_bytes}",
        ]
        if self.elf_sections:
            sections = self.elf_sections
            lines.append(
                f"firmware.elf: text {sections['text']} data {sections['data']} "
                f"bss {sections['bss']} bytes"
            )
        return "\n".join([*lines, f"next: {self.build_command}"])


@dataclass
class ExportSource:
    model: Model
    content: bytes
    path: Path
    labels: list[str]
    images: np.ndarray
    image_labels: list[int]
    images_source: str


def resolve_source(
    target: str | Path, test_images: int, data_dir=None, test_inputs=None, input_range=None
) -> ExportSource:
    """The model, its class names and its demo inputs (``demo_inputs``: real ones or none),
    from a RUN_DIR, a .tflite or zoo:NAME."""
    target = resolve_target(target)
    path = int8_model_path(target)
    model = read_model(path, name=target.name if target.is_dir() else None)
    names = class_names(path, model)
    # A board names a classifier's answer; other models answer with their whole output tensor
    # and carry no class names (an output of thousands of values would fill the flash with them).
    labels = names if output_kind(model, names) == CLASSES else []
    content = path.read_bytes()
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ExportError("export handles single-input, single-output models")
    (inp,), (out,) = model.input_tensors(), model.output_tensors()
    if inp.dtype != np.int8 or out.dtype != np.int8:
        raise ExportError(
            f"export needs int8 input and output (the firmware exchanges int8 tensors over "
            f"serial); the model has {inp.dtype.name}/{out.dtype.name}: `tinycnn quantize` writes "
            f"int8 ones, and `tinycnn predict --engine c` runs this one on the host"
        )
    chosen = demo_inputs(model, path, test_images, test_inputs, input_range, data_dir)
    image_labels = (
        chosen.labels.astype(int).tolist()
        if chosen.labels is not None
        else [-1] * len(chosen.values)
    )
    return ExportSource(
        model, content, path, labels, chosen.values, image_labels, chosen.description
    )


def _runtime_code_bytes(board: Board, sources: list[Path]) -> int | None:
    """The runtime's code size for the board's CPU, measured with arm-none-eabi-gcc -Os;
    None when the toolchain is not there to measure it."""
    gcc, size = shutil.which("arm-none-eabi-gcc"), shutil.which("arm-none-eabi-size")
    if not (gcc and size):
        return None
    with work_dir() as work:
        objects = []
        for source in sources:
            obj = work / (source.stem + ".o")
            run(
                [gcc, *board.cflags, "-std=c99", "-Os", "-c", str(source), "-o", str(obj)],
                check=True,
                capture_output=True,
                timeout=120,
            )
            objects.append(str(obj))
        report = run(
            [size, "-t", *objects], check=True, capture_output=True, text=True, timeout=60
        ).stdout
    text, data, _bss = (int(v) for v in report.strip().splitlines()[-1].split()[:3])
    return text + data


def _check_out_dir(out_dir: Path, force: bool, inputs: list) -> None:
    """A folder export may write: writable, holding none of its inputs, and replaced only
    with --force when an earlier export wrote it."""
    check_output_dir(out_dir, "the firmware project")
    refuse_overwriting_inputs(out_dir, inputs, "--out")
    if out_dir.exists():
        if not force:
            raise ExportError(f"{out_dir} already exists; pass --force to replace it")
        if not (out_dir / MARKER_FILE).is_file():
            raise ExportError(
                f"{out_dir} exists and was not written by tinycnn export; remove it yourself"
            )


def _install(work: Path, out_dir: Path) -> None:
    """Put the finished project in place whole: copied beside ``out_dir`` first, then renamed,
    so that an interrupted export leaves the earlier folder (or none), never half of one."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with work_dir(out_dir.parent, sweep=False) as staging:  # a user's folder: never swept
        for source in sorted(work.rglob("*")):
            target = staging / "new" / source.relative_to(work)
            try:
                if source.is_dir():
                    target.mkdir(parents=True)
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(source, target)
            except OSError as exc:  # a full disk: the staging folder goes, out_dir stays
                raise write_error(out_dir / source.relative_to(work), exc) from None
        if out_dir.exists():
            os.replace(out_dir, staging / "old")
        os.replace(staging / "new", out_dir)


def budget(board: Board, flash_items: dict[str, int], arena_bytes: int) -> tuple[Budget, Budget]:
    """Flash and RAM, item by item, against the board (pure: numbers in, verdict in ``fits``)."""
    ram = Budget(
        board.ram_bytes,
        {
            "arena": arena_bytes,
            "stack": STACK_BYTES_ESTIMATE,
            "framework": board.framework_ram_bytes,
        },
    )
    return Budget(board.flash_bytes, flash_items), ram


def _check_request(
    board: Board, runtime: str, out_dir: Path, test_images: int, convention: str
) -> None:
    check_settings(EXPORT_SETTINGS, ExportError, runtime=runtime, test_images=test_images)
    if runtime == "tflm" and convention != BOARD_CONVENTION:  # the banner would claim it
        raise ExportError(
            f"--runtime tflm rounds as TFLite Micro does ({BOARD_CONVENTION}); --rounding "
            f"{convention} is for the native runtime"
        )
    if runtime == "tflm" and board.framework == "baremetal":
        raise ExportError(
            f"--runtime tflm needs the TFLite Micro library, which the bare-metal {board.name} "
            "build lacks"
        )
    if board.framework == "arduino" and not re.fullmatch(
        r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}", out_dir.name
    ):
        raise ExportError(
            f"{out_dir.name!r} is not a valid Arduino sketch name (letters, digits, _ . -)"
        )


def _code_bytes(board: Board, generated) -> tuple[str, int]:
    """The runtime code's flash item: measured for the board's CPU, or an estimate (said)."""
    work = generated.files[0].parent
    measured = _runtime_code_bytes(
        board, [work / n for n in generated.runtime_sources if n.endswith(".c")]
    )
    if measured is not None:
        return "runtime code", measured
    warnings.warn(
        f"arm-none-eabi-gcc not found: the runtime code size is an estimate "
        f"({RUNTIME_CODE_ESTIMATE} bytes), not measured; install gcc-arm-none-eabi",
        TinycnnWarning,
        stacklevel=3,
    )
    return "runtime code (estimate)", RUNTIME_CODE_ESTIMATE


def tflm_resolver_calls(model: Model) -> list[str]:
    """The MicroMutableOpResolver calls for every builtin in the file: the graph's, and the
    shape arithmetic folded when it was read (TFLite Micro runs the file as it is)."""
    calls = {opcode: BY_BUILTIN[opcode].tflm_resolver.get(opcode) for opcode in model.opcodes()}
    for opcode in model.folded:
        calls.setdefault(opcode, FOLDABLE_TFLM_RESOLVER[opcode])
    missing = [opcode for opcode, call in calls.items() if call is None]
    if missing:
        raise ExportError(
            f"TFLite Micro has no kernel (resolver entry) for {', '.join(missing)}; export with "
            "--runtime native"
        )
    return list(calls.values())


def _write_model(
    environment, work: Path, source: ExportSource, board: Board, runtime: str, context
):
    """The model's files for the runtime asked: tinycnn's generated C (with the .tflite as an
    extra), or TFLite Micro's (the .tflite as an array, a resolver with the model's ops, an
    arena measured by tflite-micro). Returns (arena bytes, flash items)."""
    generated, prefix = context["generated"], context["prefix"]
    images = {"test images": source.images.size, "framework": board.framework_flash_bytes}
    data_files = (
        ("common/model_data.h.j2", f"{prefix}_model_data.h"),
        ("common/model_data.c.j2", f"{prefix}_model_data.c"),
    )
    if runtime == "native":
        (work / "extras").mkdir()
        for template, name in data_files:
            (work / "extras" / name).write_text(environment.get_template(template).render(context))
        name, code = _code_bytes(board, generated)
        return generated.plan.arena_bytes, {"weights": generated.weight_bytes, name: code, **images}
    resolver_calls = tflm_resolver_calls(source.model)
    for name in generated.runtime_sources + [f"{prefix}_model.c"]:
        (work / name).unlink()
    measured = tflm_arena_bytes(source.content)
    arena_bytes = (measured + max(1024, int(measured * TFLM_MARGIN_FRACTION)) + 15) // 16 * 16
    context.update(
        tflm_measured_bytes=measured,
        tflm_margin_bytes=arena_bytes - measured,
        resolver_calls=resolver_calls,
        arena_bytes=arena_bytes,
    )
    (inp,) = source.model.input_tensors()
    header = {**context, "plan": generated.plan, "input_scale": inp.quantization.single_scale}
    (work / f"{prefix}_model.h").write_text(
        environment.get_template("common/model.h.j2").render(
            {**header, **_io_context(source.model)}
        )
    )
    for template, name in (("common/model_tflm.cpp.j2", f"{prefix}_model.cpp"), *data_files):
        (work / name).write_text(environment.get_template(template).render(context))
    flash = {
        "weights": len(source.content),
        "runtime code (estimate)": TFLM_CODE_ESTIMATE,
        **images,
    }
    return arena_bytes, flash


def _context(source: ExportSource, board: Board, convention: str, generated) -> dict:
    (inp,) = source.model.input_tensors()
    return {
        "version": __version__,
        "source": source.path.name,
        "name": source.model.name,
        "sha256": source.model.sha256,
        "prefix": generated.prefix,
        "generated": generated,
        "board": board.name,
        "clock_hz": board.clock_hz,
        "protocol_version": PROTOCOL_VERSION,
        "convention": convention,
        "weight_bytes": generated.weight_bytes,
        "input_shape": list(inp.shape),
        "input_bytes": inp.size_bytes,
        "output_shape": list(source.model.output_tensors()[0].shape),
        "reports": "classes" if source.labels else "tensor",
        "labels": source.labels,
        "images": source.images.reshape(len(source.images), inp.size_bytes).tolist(),
        "images_source": source.images_source,
        "content": source.content,
        "arena_bytes": generated.plan.arena_bytes,
    }


def _write_app(environment, work: Path, context: dict, image_labels: list[int]) -> None:
    """``tc_app.c`` (banner, predictions, host protocol) and the embedded test images."""
    prefix = context["prefix"]
    for template, name in (("common/app.h.j2", "tc_app.h"), ("common/app.c.j2", "tc_app.c")):
        (work / name).write_text(environment.get_template(template).render(context))
    data = {**context, "labels": image_labels}
    for template, name in (
        ("common/test_data.h.j2", f"{prefix}_test_data.h"),
        ("common/test_data.c.j2", f"{prefix}_test_data.c"),
    ):
        (work / name).write_text(environment.get_template(template).render(data))


@holding("out_dir", "--out")
def export(
    target: str | Path,
    board_name: str,
    out_dir: str | Path,
    *,
    runtime: str = "native",
    force: bool = False,
    test_images: int = 10,
    test_inputs: str | Path | None = None,
    input_range: str | None = None,
    convention: str = BOARD_CONVENTION,
    data_dir=None,
) -> ExportResult:
    """Write the firmware project for ``board_name`` into ``out_dir`` (see the module docstring).
    The firmware's demo inputs: ``test_inputs`` (a .npy batch or a folder of pictures, mapped
    onto ``input_range`` or the model's own), else ``test_images`` Fashion test images for a
    Fashion-MNIST model, else none. Nothing is written when the model does not fit the board
    or the request is wrong."""
    out_dir, board = Path(out_dir), load_board(board_name)
    _check_request(board, runtime, out_dir, test_images, convention)
    _check_out_dir(out_dir, force, [target, data_dir, test_inputs])
    source = resolve_source(target, test_images, data_dir, test_inputs, input_range)
    environment = template_environment()
    with work_dir() as work_root:
        work = work_root / out_dir.name
        generated = render_model(
            source.model,
            work,
            convention=convention,
            prefix=c_identifier(source.model.name),
            labels=source.labels,
            source=source.path.name,
            wide_weights=wide_weights_fit(
                source.model, board.flash_bytes - board.framework_flash_bytes, board.dsp
            ),
        )
        context = _context(source, board, convention, generated)
        arena_bytes, flash_items = _write_model(environment, work, source, board, runtime, context)
        flash, ram = budget(board, flash_items, arena_bytes)
        if not (flash.fits and ram.fits):
            raise ExportError(
                f"{source.model.name} does not fit {board.name}: flash {flash.describe()}; "
                f"RAM {ram.describe()}"
            )
        _write_app(environment, work, context, source.image_labels)
        sources = sorted(p.name for p in work.iterdir() if p.suffix in (".c", ".cpp"))
        context.update(board=board, sources=sources, sketch_name=out_dir.name, runtime=runtime)
        build = PROJECT_WRITERS[board.framework](environment, work, out_dir, board, context)
        (work / MARKER_FILE).write_text(
            f"tinycnn {__version__} export of {source.path} for {board.name}\n"
        )
        files = sorted(str(p.relative_to(work)) for p in work.rglob("*") if p.is_file())
        _install(work, out_dir)
    plan, elf = generated.plan, out_dir / "firmware.elf" if build.elf_sections else None
    return ExportResult(
        *(board, out_dir, runtime, flash, ram, plan.arena_bytes, plan.lower_bound_bytes, files),
        *(build.build_command, elf, build.elf_sections),
    )


def _io_context(model: Model) -> dict:
    (inp,), (out,) = model.input_tensors(), model.output_tensors()
    return {
        "input_ctype": CTYPES[inp.dtype],
        "output_ctype": CTYPES[out.dtype],
        "input_bytes": inp.size_bytes,
        "output_bytes": out.size_bytes,
        "input_shape": list(inp.shape),
        "output_shape": list(out.shape),
        "input_zero_point": inp.quantization.single_zero_point,
        "output_scale": out.quantization.single_scale,
        "output_zero_point": out.quantization.single_zero_point,
    }
