"""Data flows one way: dataset -> Keras -> .tflite -> ir -> reference | C -> firmware ->
serial -> monitor -> pictures. The package's folders are those stages: no module imports a
folder to its right, and inside a folder no module imports one to its right (deferred imports
inside functions count too), so every stage can be used and tested without the stages after
it. No import cycles either, at any level."""

from __future__ import annotations

import ast
from pathlib import Path

import tinycnn

PACKAGE = Path(tinycnn.__file__).parent

# The folders (and the infrastructure modules at the top), left to right.
FOLDERS = [
    # infrastructure every stage may use
    ["tinycnn", "errors", "settings", "progress", "processes", "outputs", "tfenv", "boards"]
    + ["rundir"],
    ["training"],  # the data set, the Keras models, augmentation, recipes, training
    ["model"],  # the int8 model: ir, the one .tflite reader, the interpreters
    ["quantization"],  # float -> int8, the affine mapping, a model's inputs, evaluation
    ["ref"],  # the reference engine and the operator registry
    ["codegen"],  # C, and the firmware projects built from it
    ["board"],  # the emulated board, the benchmark, the serial protocol and monitor
    ["engines"],  # every engine side by side: predict, verify
    ["insight", "zoo"],  # pictures and the report; choosing a model
    ["cli", "__main__"],
]
# Inside a folder, where the order matters: its modules, left to right.
WITHIN = {
    "training": [
        ["data"],
        ["augment", "models", "recipe", "distribute", "user_data"],
        ["config", "distill"],
        ["watch"],
        ["train"],
        ["console"],
    ],
    "model": [["ir", "engines", "metadata"], ["folding"], ["tflite_io"], ["interpreters"]],
    "quantization": [["affine"], ["inputs"], ["quantize", "evaluate"]],
    "board": [
        ["emulate", "serial", "monitor_options"],
        ["cmsis_nn", "bench_report", "serial.protocol"],
        ["bench", "serial.monitor"],
        ["serial.validation"],
        ["console"],
    ],
    "engines": [["predict", "layers"], ["verify"]],
    "insight": [
        ["figures", "browser", "explain"],
        ["activations"],
        ["quantization_plots", "visualize"],
        ["report"],
    ],
    "zoo": [["catalogue"], ["sweep"]],
}


def _name(module: str) -> str:
    return module.removeprefix("tinycnn.") if module != "tinycnn" else "tinycnn"


def _index(parts: list[str], stages: list[list[str]], what: str) -> int:
    for length in range(len(parts), 0, -1):
        prefix = ".".join(parts[:length])
        for index, names in enumerate(stages):
            if prefix in names:
                return index
    raise AssertionError(f"{what} has no place in tests/test_layering.py")


def _stage(module: str) -> tuple[int, int]:
    """(folder, place inside the folder) of ``tinycnn.x.y``, by their longest listed prefix."""
    parts = _name(module).split(".")
    folder = _index(parts, FOLDERS, module)
    within = WITHIN.get(parts[0])
    if not within or len(parts) == 1:
        return folder, 0  # a folder's __init__ imports nothing
    return folder, _index(parts[1:], within, module)


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] == "tinycnn":
                yield node.module
                for alias in node.names:  # `from tinycnn.pkg import module`
                    if (PACKAGE.parent / node.module.replace(".", "/") / alias.name).exists() or (
                        PACKAGE.parent / node.module.replace(".", "/") / f"{alias.name}.py"
                    ).is_file():
                        yield f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.split(".")[0] == "tinycnn")


def _backward(module: str, imported: str) -> bool:
    (folder, place), (their_folder, their_place) = _stage(module), _stage(imported)
    if their_folder != folder:
        return their_folder > folder
    same_folder = _name(module).split(".")[0] == _name(imported).split(".")[0]
    return same_folder and their_place > place


def test_no_module_imports_one_to_its_right():
    backward = [
        f"{module} {_stage(module)} imports {imported} {_stage(imported)}"
        for module, path in _modules()
        for imported in _imports(path)
        if _backward(module, imported)
    ]
    assert not backward, "\n".join(backward)


def test_every_module_has_a_stage():
    modules = [module for module, _ in _modules()]
    assert len(modules) > 40
    for module in modules:
        _stage(module)


def _graph() -> dict[str, set[str]]:
    modules = dict(_modules())
    return {
        module: {i for i in _imports(path) if i in modules and i != module}
        for module, path in modules.items()
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import cycle found by a depth-first walk (each reported once, from its first node)."""
    found, state = [], {}

    def walk(node, trail):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                found.append([*trail[trail.index(nxt) :], nxt])
            elif nxt not in state:
                walk(nxt, [*trail, nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            walk(node, [node])
    return found


def test_no_import_cycles():
    """Package __init__ modules import nothing, so a cycle is a real one between modules."""
    assert not _cycles(_graph())


# What each command module may import besides the shared options and the infrastructure: the
# library folder of its own command family, and the few tables the options are built from.
CLI_FAMILIES = {
    "training": {"training"},
    "zoo": {"zoo", "training", "quantization"},  # the sweep trains and quantizes each model
    "quantization": {"quantization"},
    "engines": {"engines", "model", "insight"},  # the engine table; `verify --plots` draws
    "firmware": {"codegen", "model"},  # the conventions `--rounding` offers
    "board": {"board"},
    "insight": {"insight"},
    "options": {"model"},  # the conventions
}


def test_each_cli_module_imports_its_own_family():
    infrastructure = {name for name in FOLDERS[0] if name != "tinycnn"} | {"cli"}
    strays = []
    for module, path in _modules():
        parts = _name(module).split(".")
        if parts[0] != "cli" or len(parts) == 1 or parts[1] == "__main__":
            continue
        allowed = infrastructure | CLI_FAMILIES[parts[1]]
        strays += [
            f"{module} imports {imported}"
            for imported in _imports(path)
            if _name(imported).split(".")[0] not in allowed
        ]
    assert not strays, "\n".join(strays)


def test_the_checks_see_a_backward_import_and_a_cycle(tmp_path):
    """The checks themselves can fail: a deferred import of the monitor from the reference
    engine, an import from a folder's later module, and a planted cycle."""
    fake = tmp_path / "kernel.py"
    fake.write_text("def f():\n    from tinycnn.board.serial.monitor import validate\n")
    assert [i for i in _imports(fake) if _backward("tinycnn.ref.conv", i)]
    assert _backward("tinycnn.training.data", "tinycnn.training.train")
    assert not _backward("tinycnn.training.train", "tinycnn.training.data")
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
