"""The operator registry is the only list of operators: every op in it has its three parts
(a reference kernel, a C kernel with its call template, a test case), and everything that
needs a list of operators reads it."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from test_codegen import CASES, LSTM_CASES

from tinycnn.codegen.render import firmware_dir, template_environment
from tinycnn.ref.definition import OpDefinition
from tinycnn.ref.registry import BY_BUILTIN, OPS

# RELU_N1_TO_1 shares RELU's kernel and lowering; no Keras layer converts to it.
NOT_PRODUCED_BY_KERAS = {"RELU_N1_TO_1"}
# The one known gap: PADV2 runs in the reference engine but has no C kernel yet.
WITHOUT_C_KERNEL = {"padv2"}


@pytest.mark.parametrize("definition", OPS, ids=[d.name for d in OPS])
def test_every_op_has_a_reference_kernel_and_a_c_kernel(definition: OpDefinition):
    module = inspect.getmodule(definition.kernel)
    assert module.__name__.startswith("tinycnn.ref.") and callable(definition.kernel)
    if not definition.has_c_kernel:
        assert definition.name in WITHOUT_C_KERNEL, f"{definition.name} has no C kernel"
        return
    if definition.alias:  # no call: the planner aliases the output (RESHAPE)
        assert definition.c_sources == () and definition.template is None
        return
    assert definition.name not in WITHOUT_C_KERNEL
    for source in definition.c_sources:
        assert (firmware_dir() / source).is_file(), source
    template = template_environment().get_template(definition.template)
    assert {"params", "invoke"} <= set(template.module.__dict__)
    api = (firmware_dir() / "tc_nn_functions.h").read_text()  # the public kernel API
    assert f"tc_{definition.name}_s8(" in api, f"tc_{definition.name}_s8 is not declared"


def test_every_builtin_has_a_test_case():
    covered = {op for case in CASES.values() for op in case.ops}
    if LSTM_CASES:  # the LSTM's C kernel has its own cases (one convention: TFLite Micro's)
        covered.add("UNIDIRECTIONAL_SEQUENCE_LSTM")
    lowered = {b for d in OPS if d.lower is not None for b in d.builtins}
    assert lowered - covered == NOT_PRODUCED_BY_KERAS


def test_the_registry_is_the_only_list_of_operators():
    """No other table of operator names is left in the code."""
    import tinycnn

    root = inspect.getfile(tinycnn).rsplit("/", 1)[0]

    names = [f'"{b}"' for b in BY_BUILTIN]
    for path in Path(root).rglob("*.py"):
        if path.parent.name == "ref" and path.name not in ("runner.py", "registry.py"):
            continue  # each op module names its own builtins
        text = path.read_text()
        listed = [name for name in names if name in text]
        assert len(listed) <= 3, f"{path} lists operators: {listed}"
    for template in Path(root, "templates").rglob("*.j2"):
        assert "call.kind" not in template.read_text(), template


def _operator_tables(path: Path) -> list[tuple[int, list[str]]]:
    """(line, names) of every literal table in a Python file that names two or more operators
    by their stem (``conv``) or builtin (``CONV_2D``): a dict keyed by them, or a tuple, list or
    set of them. Such a table is op knowledge that belongs on the OpDefinition."""
    import ast

    names = {d.name for d in OPS} | set(BY_BUILTIN)
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Dict):
            items = node.keys
        elif isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            items = node.elts
        else:
            continue
        named = [i.value for i in items if isinstance(i, ast.Constant) and i.value in names]
        if len(named) >= 2:
            found.append((node.lineno, named))
    return found


def test_no_side_table_of_operators_outside_the_registry():
    """Outside ref/ (each op module and the registry), no table keyed by op stems or builtins;
    no template outside ops/ with a macro per operator. Two named exceptions, facts of the file
    format rather than operators tinycnn runs: ``FLOAT_EDGE_OPS`` and model/folding.py's shape
    arithmetic, which is folded into constants when a model is read and never runs."""
    import tinycnn

    root = Path(inspect.getfile(tinycnn)).parent
    stems = {d.name for d in OPS}
    tables = {
        f"{path.relative_to(root)}:{line}": named
        for path in root.rglob("*.py")
        if path.parent.name != "ref"
        for line, named in _operator_tables(path)
        if (named != ["QUANTIZE", "DEQUANTIZE"] or path.name != "ir.py")
        and path.relative_to(root).as_posix() != "model/folding.py"
    }
    assert not tables, f"operator tables outside the registry: {tables}"
    for template in root.joinpath("templates").rglob("*.j2"):
        if template.parent.name == "ops":
            continue
        macros = set(re.findall(r"{%-?\s*macro\s+(\w+)", template.read_text()))
        assert not macros & stems, f"{template} has a macro per operator: {macros & stems}"


def test_the_side_table_check_fails_on_a_planted_table(tmp_path):
    """The check can fail: a CMSIS-NN mapping keyed by op stem, as bench.py once had."""
    planted = tmp_path / "bench_extra.py"
    planted.write_text(
        'CMSIS_FUNCTIONS = {"conv": "arm_convolve_wrapper_s8", "add": "arm_elementwise_add_s8"}\n'
        'KINDS = ("max_pool", "average_pool")\n'
    )
    assert _operator_tables(planted) == [(1, ["conv", "add"]), (2, ["max_pool", "average_pool"])]


def test_every_definition_is_registered_once():
    found = []
    for module_name in sorted({inspect.getmodule(d.kernel).__name__ for d in OPS}):
        module = __import__(module_name, fromlist=["*"])
        found += [v for v in vars(module).values() if isinstance(v, OpDefinition)]
    assert sorted(d.name for d in found) == sorted(d.name for d in OPS)
    assert len({d.name for d in OPS}) == len(OPS)
