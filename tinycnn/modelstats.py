"""Size and work of an int8 model, read from its graph: parameters (every weight and bias of
the convolutions, depthwise convolutions and dense layers, batch normalization folded in,
plus the constant operands of element-wise ADD and MUL) and multiply-accumulates per
inference (conv, depthwise and dense only: the usual count)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinycnn.ir import Model

WEIGHTED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
ELEMENTWISE_OPS = ("ADD", "MUL")


@dataclass(frozen=True)
class ModelStats:
    parameters: int
    macs: int
    weight_bytes: int  # the constant tensors' bytes (int8 weights, int32 biases, ...)


def model_stats(model: Model) -> ModelStats:
    parameters = macs = 0
    for op in model.operators:
        if op.opcode not in WEIGHTED_OPS + ELEMENTWISE_OPS:
            continue
        constants = [model.tensors[i] for i in op.inputs if i >= 0 and model.tensors[i].is_constant]
        parameters += sum(int(t.data.size) for t in constants)
        if op.opcode not in WEIGHTED_OPS:
            continue
        weights = model.tensors[op.inputs[1]]
        out_elements = int(np.prod(model.tensors[op.outputs[0]].shape))
        if op.opcode == "CONV_2D":  # weights [out_c, kh, kw, in_c / groups]
            macs += out_elements * int(np.prod(weights.shape[1:]))
        elif op.opcode == "DEPTHWISE_CONV_2D":  # weights [1, kh, kw, out_c]
            macs += out_elements * int(weights.shape[1] * weights.shape[2])
        else:  # weights [units, in_features]
            macs += out_elements * int(weights.shape[1])
    weight_bytes = sum(t.size_bytes for t in model.tensors if t.is_constant)
    return ModelStats(parameters, macs, weight_bytes)
