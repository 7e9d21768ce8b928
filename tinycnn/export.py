"""``tinycnn export``: a model as a firmware project for a board.

Arduino boards get an arduino-cli sketch folder, Mbed boards an Mbed CE application and
``qemu_m4`` a bare-metal firmware built into an ELF here. All of them share the generated
model, the C runtime and ``tc_app.c`` (banner, predictions, host protocol). Before anything
is written the model is checked against the board's flash and RAM.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tinycnn import __version__
from tinycnn.boards import Board, load_board
from tinycnn.codegen.identifiers import c_identifier
from tinycnn.codegen.lowering import CTYPES
from tinycnn.codegen.render import render_model, template_environment
from tinycnn.convert import INT8_MODEL_FILE
from tinycnn.errors import TinycnnError, TinycnnWarning
from tinycnn.interpreters import tflm_arena_bytes
from tinycnn.ir import Model
from tinycnn.outputs import check_output_dir, refuse_overwriting_inputs
from tinycnn.processes import run, work_dir
from tinycnn.ref.registry import BY_BUILTIN
from tinycnn.tflite_io import read_model
from tinycnn.train import CONFIG_FILE, read_json

PROTOCOL_VERSION = 1
MARKER_FILE = ".tinycnn-export"
RUNTIMES = ("native", "tflm")
STACK_BYTES_ESTIMATE = 2048  # deepest kernel call chain plus the line buffer, with headroom
RUNTIME_CODE_ESTIMATE = 8192  # used when arm-none-eabi-gcc is not there to measure it
TFLM_CODE_ESTIMATE = 65536  # TFLM interpreter and a handful of reference kernels, -Os
TFLM_MARGIN_FRACTION = 0.10
QEMU_LDFLAGS = (
    "-nostartfiles",
    "-T",
    "link.ld",
    "-Wl,--gc-sections",
    "--specs=nano.specs",
    "-lgcc",
)
# The bare-metal layer of the qemu_m4 board: reset handler, UART and timer, linker script.
QEMU_PLATFORM_FILES = (
    ("qemu/startup.c.j2", "startup.c"),
    ("qemu/platform.c.j2", "platform.c"),
    ("qemu/platform.h.j2", "platform.h"),
    ("qemu/link.ld.j2", "link.ld"),
)
FIRMWARE_CFLAGS = (
    "-std=c99",
    "-O2",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-ffunction-sections",
    "-fdata-sections",
)
class ExportError(TinycnnError):
    """The model cannot be exported as asked (does not fit, folder exists, toolchain missing)."""


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


@dataclass
class ExportSource:
    model: Model
    content: bytes
    path: Path
    labels: list[str]
    images: np.ndarray
    image_labels: list[int]
    images_source: str


def resolve_source(target: str | Path, test_images: int, data_dir=None) -> ExportSource:
    """The model, its class names and a few real test inputs, from a RUN_DIR or a .tflite."""
    target = Path(target)
    labels = None
    if target.is_dir():
        path = target / INT8_MODEL_FILE
        if not path.is_file():
            raise ExportError(f"{path} not found; create it with `tinycnn quantize {target}`")
        if (target / CONFIG_FILE).is_file():
            labels = read_json(target / CONFIG_FILE).get("class_names")
    else:
        path = target
    model = read_model(path, name=target.name if target.is_dir() else None)
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
    classes = int(np.prod(out.shape))
    if labels is None or len(labels) != classes:
        labels = [f"class_{i}" for i in range(classes)]
    if tuple(inp.shape[1:]) == (28, 28, 1):
        from tinycnn.affine import quantize
        from tinycnn.data import load_fashion_mnist, to_float

        dataset = load_fashion_mnist(data_dir)
        quant = inp.quantization
        images = quantize(
            to_float(dataset.test_images[:test_images]), quant.single_scale, quant.single_zero_point
        )
        image_labels = dataset.test_labels[:test_images].astype(int).tolist()
        images_source = f"Fashion-MNIST test images 0..{test_images - 1}"
    else:
        rng = np.random.default_rng(0)
        images = rng.integers(-128, 128, size=(test_images, *inp.shape[1:])).astype(np.int8)
        image_labels = [-1] * test_images
        images_source = "seeded random inputs"
    return ExportSource(model, content, path, labels, images, image_labels, images_source)


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


def build_qemu(work: Path, sources: list[str]) -> tuple[Path, dict[str, int]]:
    """Compile and link ``sources`` in ``work`` into work/firmware.elf; its section sizes."""
    gcc, size = shutil.which("arm-none-eabi-gcc"), shutil.which("arm-none-eabi-size")
    if not (gcc and size):
        raise ExportError(
            "arm-none-eabi-gcc not found; install it with "
            "`apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi`"
        )
    board = load_board("qemu_m4")
    result = run(
        [gcc, *board.cflags, *FIRMWARE_CFLAGS, *sources, *QEMU_LDFLAGS, "-o", "firmware.elf"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        first = next(
            (line for line in result.stderr.splitlines() if "error" in line), result.stderr[-300:]
        )
        raise ExportError(f"building the firmware failed: {first}")
    report = run(
        [size, "firmware.elf"], cwd=work, check=True, capture_output=True, text=True, timeout=60
    ).stdout
    text, data, bss = (int(v) for v in report.strip().splitlines()[-1].split()[:3])
    return work / "firmware.elf", {"text": text, "data": data, "bss": bss}


def _check_out_dir(out_dir: Path, force: bool) -> None:
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
    with work_dir(out_dir.parent) as staging:
        shutil.copytree(work, staging / "new")
        if out_dir.exists():
            os.replace(out_dir, staging / "old")
        os.replace(staging / "new", out_dir)


def export(
    target: str | Path,
    board_name: str,
    out_dir: str | Path,
    *,
    runtime: str = "native",
    force: bool = False,
    test_images: int = 10,
    convention: str = "tflm",
    data_dir=None,
) -> ExportResult:
    """Write the firmware project for ``board_name`` into ``out_dir`` (see the module docstring)."""
    out_dir = Path(out_dir)
    board = load_board(board_name)
    if runtime not in RUNTIMES:
        raise ExportError(f"runtime must be one of {RUNTIMES}")
    if runtime == "tflm" and board.framework == "baremetal":
        raise ExportError(
            "--runtime tflm needs the TFLite Micro library, which the bare-metal qemu_m4 build lacks"
        )
    if board.framework == "arduino" and not re.fullmatch(
        r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}", out_dir.name
    ):
        raise ExportError(
            f"{out_dir.name!r} is not a valid Arduino sketch name (letters, digits, _ . -)"
        )
    if not 1 <= test_images <= 1000:
        raise ExportError("--test-images must be between 1 and 1000")
    check_output_dir(out_dir, "the firmware project")
    refuse_overwriting_inputs(out_dir, [target, data_dir], "--out")
    _check_out_dir(out_dir, force)
    source = resolve_source(target, test_images, data_dir)
    prefix = c_identifier(source.model.name)

    with work_dir() as work_root:
        work = work_root / out_dir.name
        generated = render_model(
            source.model,
            work,
            convention=convention,
            prefix=prefix,
            labels=source.labels,
            source=source.path.name,
        )
        environment = template_environment()
        (inp,) = source.model.input_tensors()
        context = {
            "version": __version__,
            "source": source.path.name,
            "name": source.model.name,
            "sha256": source.model.sha256,
            "prefix": prefix,
            "board": board.name,
            "clock_hz": board.clock_hz,
            "protocol_version": PROTOCOL_VERSION,
            "convention": convention,
            "weight_bytes": generated.weight_bytes,
            "input_shape": list(inp.shape),
            "input_bytes": inp.size_bytes,
            "labels": source.labels,
            "images": source.images.reshape(len(source.images), -1).tolist(),
            "images_source": source.images_source,
            "content": source.content,
            "arena_bytes": generated.plan.arena_bytes,
        }
        renders = [
            ("common/app.h.j2", "tc_app.h"),
            ("common/app.c.j2", "tc_app.c"),
            ("common/test_data.h.j2", f"{prefix}_test_data.h"),
            ("common/test_data.c.j2", f"{prefix}_test_data.c"),
        ]
        test_data_context = {**context, "labels": source.image_labels}
        code_bytes = _runtime_code_bytes(
            board, [work / n for n in generated.runtime_sources if n.endswith(".c")]
        )
        measured_code = code_bytes is not None
        if code_bytes is None:
            code_bytes = RUNTIME_CODE_ESTIMATE
            warnings.warn(
                f"arm-none-eabi-gcc not found: the runtime code size is an estimate "
                f"({RUNTIME_CODE_ESTIMATE} bytes), not measured; install gcc-arm-none-eabi",
                TinycnnWarning,
                stacklevel=2,
            )
        flash_items = {
            "weights": generated.weight_bytes,
            "runtime code" if measured_code else "runtime code (estimate)": code_bytes,
            "test images": source.images.size,
            "framework": board.framework_flash_bytes,
        }
        arena_bytes = generated.plan.arena_bytes
        extras = {}
        if runtime == "tflm":
            unsupported = [
                op for op in source.model.opcodes() if op not in BY_BUILTIN[op].tflm_resolver
            ]
            if unsupported:
                raise ExportError(f"no TFLM resolver entry for {', '.join(unsupported)}")
            for name in generated.runtime_sources + [f"{prefix}_model.c"]:
                (work / name).unlink()
            measured = tflm_arena_bytes(source.content)
            margin = max(1024, int(measured * TFLM_MARGIN_FRACTION))
            arena_bytes = (measured + margin + 15) // 16 * 16
            extras = {
                "tflm_measured_bytes": measured,
                "tflm_margin_bytes": arena_bytes - measured,
                "resolver_calls": [
                    BY_BUILTIN[op].tflm_resolver[op] for op in source.model.opcodes()
                ],
            }
            renders += [
                ("common/model_tflm.cpp.j2", f"{prefix}_model.cpp"),
                ("common/model_data.h.j2", f"{prefix}_model_data.h"),
                ("common/model_data.c.j2", f"{prefix}_model_data.c"),
            ]
            flash_items = {
                "weights": len(source.content),
                "runtime code (estimate)": TFLM_CODE_ESTIMATE,
                "test images": source.images.size,
                "framework": board.framework_flash_bytes,
            }
        else:
            (work / "extras").mkdir()
            for template, name in (
                ("common/model_data.h.j2", f"{prefix}_model_data.h"),
                ("common/model_data.c.j2", f"{prefix}_model_data.c"),
            ):
                (work / "extras" / name).write_text(
                    environment.get_template(template).render(context)
                )
        context.update(extras, arena_bytes=arena_bytes)
        ram = Budget(
            board.ram_bytes,
            {
                "arena": arena_bytes,
                "stack": STACK_BYTES_ESTIMATE,
                "framework": board.framework_ram_bytes,
            },
        )
        flash = Budget(board.flash_bytes, flash_items)
        if not (flash.fits and ram.fits):
            raise ExportError(
                f"{source.model.name} does not fit {board.name}: flash {flash.describe()}; "
                f"RAM {ram.describe()}"
            )
        if runtime == "tflm":
            (work / f"{prefix}_model.h").write_text(
                environment.get_template("common/model.h.j2").render(
                    {
                        **context,
                        "plan": generated.plan,
                        "input_scale": inp.quantization.single_scale,
                        **_io_context(source.model),
                    }
                )
            )
        for template, name in renders:
            data = test_data_context if "test_data" in template else context
            (work / name).write_text(environment.get_template(template).render(data))
        sources = sorted(p.name for p in work.iterdir() if p.suffix in (".c", ".cpp"))
        board_context = {
            **context,
            "board": board,
            "sources": sources,
            "sketch_name": out_dir.name,
            "runtime": runtime,
        }
        elf_path = elf_sections = None
        if board.framework == "arduino":
            (work / f"{out_dir.name}.ino").write_text(
                environment.get_template("arduino/sketch.ino.j2").render(board_context)
            )
            (work / "sketch.yaml").write_text(
                environment.get_template("arduino/sketch.yaml.j2").render(board_context)
            )
            build_command = (
                f"arduino-cli compile --upload -p PORT --fqbn {board.fqbn} {shlex.quote(str(out_dir))}"
            )
        elif board.framework == "mbed":
            for template, name in (
                ("mbed/main.cpp.j2", "main.cpp"),
                ("mbed/mbed_app.json.j2", "mbed_app.json"),
                ("mbed/CMakeLists.txt.j2", "CMakeLists.txt"),
            ):
                (work / name).write_text(environment.get_template(template).render(board_context))
            build_command = (
                f"cd {shlex.quote(str(out_dir))} && git clone https://github.com/mbed-ce/mbed-os && cmake -B build "
                f"-GNinja -DMBED_TARGET={board.mbed_target} && ninja -C build  (then copy the .bin "
                "to the board's USB drive)"
            )
        else:
            for template, name in QEMU_PLATFORM_FILES + (("qemu/main.c.j2", "main.c"),):
                (work / name).write_text(environment.get_template(template).render(board_context))
            sources = sorted(p.name for p in work.iterdir() if p.suffix == ".c")
            (work / "Makefile").write_text(
                environment.get_template("qemu/Makefile.j2").render(
                    {
                        **board_context,
                        "sources": sources,
                        "cflags": [*board.cflags, *FIRMWARE_CFLAGS],
                        "ldflags": QEMU_LDFLAGS,
                    }
                )
            )
            elf_path, elf_sections = build_qemu(work, sources)
            build_command = (
                f"tinycnn emulate {shlex.quote(str(out_dir / 'firmware.elf'))} --board qemu_m4"
            )
        (work / MARKER_FILE).write_text(
            f"tinycnn {__version__} export of {source.path} for {board.name}\n"
        )
        files = sorted(str(p.relative_to(work)) for p in work.rglob("*") if p.is_file())
        _install(work, out_dir)
    return ExportResult(
        board,
        out_dir,
        runtime,
        flash,
        ram,
        generated.plan.arena_bytes,
        generated.plan.lower_bound_bytes,
        files,
        build_command,
        out_dir / "firmware.elf" if elf_path else None,
        elf_sections,
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
