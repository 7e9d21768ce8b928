"""The operator registry is the only list of operators: every op in it has its three parts
(a reference kernel, a C kernel with its call template, a test case), and everything that
needs a list of operators reads it."""

from __future__ import annotations

import inspect

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
    from pathlib import Path

    names = [f'"{b}"' for b in BY_BUILTIN]
    for path in Path(root).rglob("*.py"):
        if path.parent.name == "ref" and path.name not in ("runner.py", "registry.py"):
            continue  # each op module names its own builtins
        text = path.read_text()
        listed = [name for name in names if name in text]
        assert len(listed) <= 3, f"{path} lists operators: {listed}"
    for template in Path(root, "templates").rglob("*.j2"):
        assert "call.kind" not in template.read_text(), template


def test_every_definition_is_registered_once():
    found = []
    for module_name in sorted({inspect.getmodule(d.kernel).__name__ for d in OPS}):
        module = __import__(module_name, fromlist=["*"])
        found += [v for v in vars(module).values() if isinstance(v, OpDefinition)]
    assert sorted(d.name for d in found) == sorted(d.name for d in OPS)
    assert len({d.name for d in OPS}) == len(OPS)
