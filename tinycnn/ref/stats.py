"""Size and work of a model, read from its graph through the operator registry: parameters
(the constant operands of the ops marked ``weighted``: conv, depthwise and dense weights and
biases with batch normalization folded in, and the constant operands of element-wise ADD and
MUL) and multiply-accumulates per inference (each op's ``macs``: conv, depthwise and dense)."""

from __future__ import annotations

from dataclasses import dataclass

from tinycnn.model.engines import BOARD_CONVENTION
from tinycnn.model.ir import Model, Operator
from tinycnn.ref.context import OpContext
from tinycnn.ref.registry import definition_for


@dataclass(frozen=True)
class ModelStats:
    parameters: int
    macs: int
    weight_bytes: int  # every constant tensor's bytes (int8 weights, int32 biases, shapes)


def op_parameters(model: Model, op: Operator) -> int:
    """The parameters one operator holds: its constant operands, if its op is ``weighted``."""
    if not definition_for(op).weighted:
        return 0
    constants = [model.tensors[i] for i in op.inputs if i >= 0 and model.tensors[i].is_constant]
    return sum(int(tensor.data.size) for tensor in constants)


def op_macs(model: Model, op: Operator) -> int:
    """One operator's multiply-accumulates per inference (0 for an op that counts none)."""
    definition = definition_for(op)
    if not definition.macs:
        return 0
    return int(
        definition.macs(OpContext(op=op, model=model, values={}, convention=BOARD_CONVENTION))
    )


def widened_weight_bytes(model: Model) -> int:
    """The int8 bytes of the weights the generator can store widened to int16 (each op's
    ``widened_bytes``: CONV_2D, FULLY_CONNECTED and the LSTM), in the C layout."""
    total = 0
    for op in model.operators:
        definition = definition_for(op)
        if definition.widened_bytes:
            context = OpContext(op=op, model=model, values={}, convention=BOARD_CONVENTION)
            total += int(definition.widened_bytes(context))
    return total


def model_stats(model: Model) -> ModelStats:
    """Parameters and MACs summed over the operators, and the constants' bytes."""
    parameters = sum(op_parameters(model, op) for op in model.operators)
    macs = sum(op_macs(model, op) for op in model.operators)
    weight_bytes = sum(t.size_bytes for t in model.tensors if t.is_constant)
    return ModelStats(parameters, macs, weight_bytes)
