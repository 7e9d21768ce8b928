"""Data flows one way: dataset -> Keras -> .tflite -> ir -> reference | C -> firmware ->
serial -> monitor. No module imports one to its right (deferred imports inside functions
count too), so every stage can be used and tested without the stages after it."""

from __future__ import annotations

import ast
from pathlib import Path

import tinycnn

PACKAGE = Path(tinycnn.__file__).parent

# Each module's stage, left to right. Modules of one stage may import each other.
STAGES = [
    # foundations every stage may use
    [
        "tinycnn",
        "errors",
        "progress",
        "processes",
        "outputs",
        "tfenv",
        "boards",
        "figures",
        "browser",
    ],
    ["data", "affine", "augment"],  # the dataset, its augmentation, the affine int8 mapping
    ["models", "recipe", "distribute", "train", "rundir", "explain"],  # Keras
    ["ir", "tflite_io"],  # the .tflite format and its one reader
    ["convert", "interpreters", "inputs", "evaluate"],  # .tflite files made and run
    ["ref"],  # the reference engine and the operator registry
    ["codegen"],  # C
    ["export", "emulate"],  # firmware
    ["serial", "serial.protocol"],  # serial
    ["serial.monitor"],  # monitor
    # drivers over every engine, and the pictures and report drawn from them
    ["predict", "verify", "zoo", "bench", "quantization_plots", "visualize", "report", "sweep"],
    ["cli", "__main__"],
]


def _stage(module: str) -> int:
    """Stage of ``tinycnn.x.y`` by its longest listed prefix."""
    name = module.removeprefix("tinycnn.") if module != "tinycnn" else "tinycnn"
    parts = name.split(".")
    for length in range(len(parts), 0, -1):
        prefix = ".".join(parts[:length])
        for index, names in enumerate(STAGES):
            if prefix in names:
                return index
    raise AssertionError(f"{module} has no stage in tests/test_layering.py")


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] == "tinycnn":
                yield node.module
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.split(".")[0] == "tinycnn")


def test_no_module_imports_one_to_its_right():
    backward = [
        f"{module} (stage {_stage(module)}) imports {imported} (stage {_stage(imported)})"
        for module, path in _modules()
        for imported in _imports(path)
        if _stage(imported) > _stage(module)
    ]
    assert not backward, "\n".join(backward)


def test_every_module_has_a_stage():
    modules = [module for module, _ in _modules()]
    assert len(modules) > 40
    for module in modules:
        _stage(module)


def test_the_check_sees_a_backward_import(tmp_path):
    """The check itself can fail: a deferred import of the monitor from the reference engine."""
    fake = tmp_path / "kernel.py"
    fake.write_text("def f():\n    from tinycnn.serial.monitor import validate\n")
    assert [i for i in _imports(fake) if _stage(i) > _stage("tinycnn.ref.conv")]
