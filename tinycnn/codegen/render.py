"""Rendering an ``ir.Model`` to C source files from the Jinja2 templates in tinycnn/templates."""

from __future__ import annotations

import functools
import hashlib
import shutil
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

import jinja2
import numpy as np

from tinycnn import __version__
from tinycnn.codegen.fusion import fuse_operators, original_operators
from tinycnn.codegen.identifiers import c_comment, c_identifier, c_string
from tinycnn.codegen.lowering import CTYPES, KernelCall, lower_model, scratch_requests
from tinycnn.codegen.planner import MemoryPlan, plan_memory
from tinycnn.model.engines import BOARD_CONVENTION
from tinycnn.model.ir import Model
from tinycnn.ref.runner import run_model
from tinycnn.ref.stats import widened_weight_bytes

RUNTIME_COMMON = (
    "tc_runtime.h",
    "tc_types.h",
    "tc_nn_functions.h",
    "tc_fixedpoint.h",
    "tc_dsp_support.h",
    "tc_support_functions.h",
)


def c_array_body(values, per_line: int = 16) -> str:
    """Comma-separated values, ``per_line`` to a line, indented four spaces."""
    items = [str(int(v)) for v in values]
    return ",\n".join(
        "    " + ", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)
    )


def c_float(value: float) -> str:
    """A float32 value as a C float literal that parses back to exactly that value."""
    return f"{np.float32(value)!s}f"


def template_environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("tinycnn", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=False,
        autoescape=False,
    )
    environment.filters.update(
        c_comment=c_comment, c_string=c_string, c_array_body=c_array_body, c_float=c_float
    )
    return environment


def firmware_dir() -> Path:
    """The C runtime sources shipped inside the package (firmware/ in a checkout)."""
    return Path(str(resources.files("tinycnn.firmware")))


@functools.lru_cache(maxsize=1)
def sources_digest() -> str:
    """A hash of tinycnn's version, the C runtime, the templates and the Python that lowers
    operators to C parameters (ref/ and codegen/): part of the key of every cached build, so
    that a changed kernel, template or lowering never reuses an old binary."""
    digest = hashlib.sha256(__version__.encode())
    package = Path(__file__).resolve().parent.parent
    sources = [
        *firmware_dir().glob("*.[ch]"),
        *(package / "templates").rglob("*.j2"),
        *(package / "ref").glob("*.py"),
        *(package / "codegen").glob("*.py"),
    ]
    for path in sorted(sources):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


@dataclass
class GeneratedModel:
    prefix: str
    plan: MemoryPlan
    calls: list[KernelCall]
    weight_bytes: int  # const arrays the model code adds to flash
    files: list[Path] = field(default_factory=list)

    @property
    def runtime_sources(self) -> list[str]:
        sources = dict.fromkeys(RUNTIME_COMMON)
        for call in self.calls:
            sources.update(dict.fromkeys(call.c_sources))
        return list(sources)


def with_runtime_shapes(model: Model) -> Model:
    """The model with the shapes its tensors take when it runs.

    A dilated convolution folds the spatial grid into the batch (SPACE_TO_BATCH_ND), but the
    file records batch 1 for the folded tensors; one run of the reference engine on a zero
    input gives the real shapes, which the planner and the kernels need.
    """
    if "SPACE_TO_BATCH_ND" not in model.opcodes():
        return model
    inputs = [np.zeros((1, *t.shape[1:]), dtype=t.dtype) for t in model.input_tensors()]
    values = run_model(model, inputs, keep_tensors=True).tensors
    tensors = [
        replace(t, shape=tuple(values[t.index].shape)) if t.index in values else t
        for t in model.tensors
    ]
    return replace(model, tensors=tensors)


def lower_for_c(model: Model, convention: str, fuse: bool = True, wide_weights: bool = False):
    """The model as the C runs it (runtime shapes; CONV_2D + MAX_POOL_2D fused unless ``fuse``
    is False), its memory plan, and its kernel calls (CONV_2D weights as int16 when
    ``wide_weights``)."""
    model = with_runtime_shapes(model)
    if fuse:
        model = fuse_operators(model)
    plan = plan_memory(model, scratch_requests(model))
    return model, plan, lower_model(model, plan, convention, wide_weights)


def constant_bytes(calls) -> int:
    """Flash the kernel calls' constant arrays take (weights, biases, multipliers, shifts)."""
    return sum(array.size_bytes for call in calls for array in call.arrays)


def int8_weight_bytes(model: Model) -> int:
    """Flash of a model's constants in tinycnn's int8 layout (TFLM conventions, int8 weights):
    what the size targets and the sweep's ranking count. A board with room stores CONV_2D
    weights as int16 for speed, doubling that part (see README)."""
    _, _, calls = lower_for_c(model, BOARD_CONVENTION, wide_weights=False)
    return constant_bytes(calls)


def wide_weights_fit(model: Model, flash_bytes: int, dsp: bool = True) -> bool:
    """The flash/speed trade-off: store CONV_2D, FULLY_CONNECTED and LSTM weights widened to
    int16 (the DSP loop then skips widening them: about a quarter fewer instructions per
    multiply-accumulate, a third in FULLY_CONNECTED) when the core has the DSP extension
    (``dsp``: without it the portable loops gain nothing) and the model's constants, with
    those weights doubled, take at most half of ``flash_bytes`` (what the board leaves the
    application)."""
    if not dsp:
        return False
    constants = sum(t.size_bytes for t in model.tensors if t.is_constant)
    return constants + widened_weight_bytes(model) <= flash_bytes // 2


def render_model(
    model: Model,
    out_dir: Path,
    *,
    convention: str = BOARD_CONVENTION,
    fuse: bool = True,
    wide_weights: bool = False,
    prefix: str | None = None,
    labels: list[str] | None = None,
    source: str | None = None,
) -> GeneratedModel:
    """Write ``{prefix}_model.h/.c`` and the runtime sources they need into ``out_dir``."""
    prefix = c_identifier(prefix or model.name)
    model, plan, calls = lower_for_c(model, convention, fuse=fuse, wide_weights=wide_weights)
    for call in calls:
        parts = original_operators(call.op)
        fused = "".join(f", {op.opcode} #{op.index} fused" for op in parts[1:])
        call.op_comment = c_comment(model.tensors[call.op.outputs[0]].name + fused)
    (inp,), (out,) = model.input_tensors(), model.output_tensors()
    classes = int(np.prod(out.shape))
    # No names given: class_0..; an empty list: none (a model whose outputs are not classes).
    labels = list(labels) if labels is not None else [f"class_{i}" for i in range(classes)]
    weight_bytes = constant_bytes(calls)
    context = {
        "version": __version__,
        "source": source or model.name,
        "name": model.name,
        "sha256": model.sha256,
        "prefix": prefix,
        "convention": convention,
        "plan": plan,
        "arena_bytes": plan.arena_bytes,
        "calls": calls,
        "labels": labels,
        "weight_bytes": weight_bytes,
        "wide_weights": any(call.params.get("wide_weights") for call in calls),
        "input_offset": plan.offset_of(inp.index),
        "output_offset": plan.offset_of(out.index),
        "input_ctype": CTYPES[inp.dtype],
        "output_ctype": CTYPES[out.dtype],
        "input_bytes": inp.size_bytes,
        "output_bytes": out.size_bytes,
        "input_shape": list(inp.shape),
        "output_shape": list(out.shape),
        # int8 interfaces only: a float input or output is quantized inside the model
        "input_scale": inp.quantization and inp.quantization.single_scale,
        "input_zero_point": inp.quantization and inp.quantization.single_zero_point,
        "output_scale": out.quantization and out.quantization.single_scale,
        "output_zero_point": out.quantization and out.quantization.single_zero_point,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    environment = template_environment()
    generated = GeneratedModel(prefix, plan, calls, weight_bytes)
    for template, filename in (
        ("common/model.h.j2", f"{prefix}_model.h"),
        ("common/model.c.j2", f"{prefix}_model.c"),
    ):
        path = out_dir / filename
        path.write_text(environment.get_template(template).render(context))
        generated.files.append(path)
    for name in generated.runtime_sources:
        target = out_dir / name
        shutil.copyfile(firmware_dir() / name, target)
        generated.files.append(target)
    return generated
