"""Lowering: each operator of an ``ir.Model`` becomes one call of a C kernel in firmware/.

What each operator lowers to is declared in its ``OpDefinition`` (``tinycnn/ref/<op>.py``,
listed in ``ref/registry.py``); this module walks the model, asks each definition for its
call's parameters and places the operands in the planned arena. The result is plain data for
the templates: constant arrays, parameter values and arena offsets, never C text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tinycnn.codegen.planner import MemoryPlan
from tinycnn.model.engines import BOARD_CONVENTION
from tinycnn.model.ir import Model, Operator, UnsupportedOperator
from tinycnn.ref.c_params import CTYPES, FUSED_DEPTHWISE, FUSED_DEPTHWISE_SOURCE, ConstArray
from tinycnn.ref.context import OpContext
from tinycnn.ref.definition import OpDefinition
from tinycnn.ref.registry import definition_for
from tinycnn.ref.runner import check_supported

__all__ = ["CTYPES", "ConstArray", "KernelCall", "lower_model", "scratch_requests"]


@dataclass
class KernelCall:
    definition: OpDefinition  # the operator: its call template and C sources
    op: Operator
    input_offsets: list[int | None]  # arena offset per input position; None for constants
    output_offset: int
    params: dict = field(default_factory=dict)
    dims: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)
    arrays: list[ConstArray] = field(default_factory=list)

    @property
    def c_sources(self) -> tuple[str, ...]:
        """The runtime files the call needs: its operator's; for a convolution streamed into a
        depthwise one, the depthwise kernel's (which include the convolution's) and the
        streaming loop."""
        streamed = self.op.options.get(FUSED_DEPTHWISE)
        if streamed:
            return (*definition_for(streamed["depthwise"]).c_sources, FUSED_DEPTHWISE_SOURCE)
        return self.definition.c_sources


def _context(
    model: Model, op: Operator, convention: str = BOARD_CONVENTION, wide_weights: bool = False
) -> OpContext:
    return OpContext(
        op=op, model=model, values={}, convention=convention, wide_weights=wide_weights
    )


def scratch_requests(model: Model) -> dict[int, int]:
    """Scratch bytes per operator index, for the kernels that ask for some (CONV_2D gathers
    the input windows of two output cells at a time)."""
    requests = {}
    for op in model.operators:
        definition = definition_for(op)
        if definition.scratch_bytes is not None:
            requests[op.index] = definition.scratch_bytes(_context(model, op))
    return requests


def lower_model(
    model: Model, plan: MemoryPlan, convention: str, wide_weights: bool = False
) -> list[KernelCall]:
    """One KernelCall per operator that computes; UnsupportedOperator for an unregistered one.

    Floats only appear at the edges of a model with a float interface (QUANTIZE, DEQUANTIZE);
    ``check_supported`` refuses any other operator computing in float.
    """
    check_supported(model)
    calls = []
    for op in model.operators:
        definition = definition_for(op)
        if definition.alias:
            continue  # no call: the planner made its output an alias of its input
        if definition.lower is None:
            raise UnsupportedOperator(op, f"no C kernel for {op.opcode} in the tinycnn runtime yet")
        params, dims, arrays = definition.lower(_context(model, op, convention, wide_weights))
        if op.index in plan.scratch_offsets:
            params["scratch_offset"] = plan.scratch_offsets[op.index]
        inputs = [
            None if i < 0 or model.tensors[i].is_constant else plan.offset_of(i) for i in op.inputs
        ]
        calls.append(
            KernelCall(definition, op, inputs, plan.offset_of(op.outputs[0]), params, dims, arrays)
        )
    return calls
