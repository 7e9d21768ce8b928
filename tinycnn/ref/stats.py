"""Size and work of a model, read from its graph through the operator registry: parameters
(the constant operands of the ops marked ``weighted``: conv, depthwise and dense weights and
biases with batch normalization folded in, and the constant operands of element-wise ADD and
MUL) and multiply-accumulates per inference (each op's ``macs``: conv, depthwise and dense)."""

from __future__ import annotations

from dataclasses import dataclass

from tinycnn.model.engines import BOARD_CONVENTION
from tinycnn.model.ir import Model
from tinycnn.ref.context import OpContext
from tinycnn.ref.registry import definition_for


@dataclass(frozen=True)
class ModelStats:
    parameters: int
    macs: int
    weight_bytes: int  # every constant tensor's bytes (int8 weights, int32 biases, shapes)


def model_stats(model: Model) -> ModelStats:
    parameters = macs = 0
    for op in model.operators:
        definition = definition_for(op)
        if definition.weighted:
            parameters += sum(
                int(model.tensors[i].data.size)
                for i in op.inputs
                if i >= 0 and model.tensors[i].is_constant
            )
        if definition.macs:
            macs += definition.macs(OpContext(op=op, model=model, values={}, convention=BOARD_CONVENTION))
    weight_bytes = sum(t.size_bytes for t in model.tensors if t.is_constant)
    return ModelStats(parameters, macs, weight_bytes)
