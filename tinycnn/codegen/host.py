"""``--engine c``: the generated C compiled for this machine and run on a batch.

Builds are cached under ``$XDG_CACHE_HOME/tinycnn/c`` (default ``~/.cache``) by a hash of
the model, the rounding convention and the runtime and template sources, so a second run of
the same model starts at once.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from tinycnn import __version__
from tinycnn.codegen.build import first_error
from tinycnn.codegen.render import render_model, sources_digest, template_environment
from tinycnn.errors import TinycnnError
from tinycnn.model.engines import BOARD_CONVENTION
from tinycnn.model.ir import Model
from tinycnn.outputs import cache_dir
from tinycnn.processes import run, work_dir

HOST_CFLAGS = ("-std=c99", "-O3", "-Wall", "-Wextra", "-Werror", "-pedantic")


class CompileError(TinycnnError):
    """The C compiler is missing or refused the generated code."""


def compiler() -> str:
    found = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not found:
        raise CompileError("no C compiler found; install gcc (`apt-get install gcc`) or set CC")
    return found


def build_host_runner(
    model: Model, convention: str, fuse: bool = True, wide_weights: bool = False
) -> Path:
    """Generate and compile the model with a stdin/stdout harness; return the executable.
    ``fuse=False`` keeps every operator a kernel call of its own, ``wide_weights`` stores
    CONV_2D weights as int16 (for comparing)."""
    layout = f"{'fused' if fuse else 'unfused'}{'-w16' if wide_weights else ''}"
    key = f"{model.sha256[:16]}-{convention}-{layout}-{sources_digest()}"
    root = cache_dir("c")
    executable = root / key / "runner"
    if executable.is_file():
        return executable
    with work_dir(root) as work:
        generated = render_model(
            model, work, convention=convention, prefix="model", fuse=fuse, wide_weights=wide_weights
        )
        main = work / "main.c"
        main.write_text(
            template_environment()
            .get_template("host/main.c.j2")
            .render(version=__version__, prefix=generated.prefix)
        )
        sources = [str(p) for p in generated.files if p.suffix == ".c"] + [str(main)]
        result = run(
            [compiler(), *HOST_CFLAGS, "-o", str(work / "runner"), *sources],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode != 0:
            raise CompileError(f"compiling the generated C failed: {first_error(result.stderr)}")
        final_dir = executable.parent
        if not final_dir.exists():
            os.replace(work, final_dir)  # whole or not at all: a killed build leaves no entry
            work.mkdir()  # work_dir removes a folder of this name
    return executable


def run_c(
    model: Model,
    inputs: np.ndarray,
    convention: str = BOARD_CONVENTION,
    fuse: bool = True,
    wide_weights: bool = False,
) -> np.ndarray:
    """Raw outputs of the generated C for a batch of quantized inputs (single input/output)."""
    (out,) = model.output_tensors()
    executable = build_host_runner(model, convention, fuse, wide_weights)
    payload = np.ascontiguousarray(inputs).tobytes()
    result = run(
        [str(executable), str(len(inputs))], input=payload, capture_output=True, timeout=600
    )
    if result.returncode != 0:
        raise CompileError(
            f"the compiled model failed: {result.stderr.decode(errors='replace').strip()}"
        )
    return np.frombuffer(result.stdout, dtype=out.dtype).reshape(len(inputs), *out.shape[1:]).copy()
