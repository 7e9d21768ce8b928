"""The registry: every operator tinycnn runs, listed once. Explicit: nothing is discovered.

Adding an operator: its module in ``tinycnn/ref/`` (kernel, lowering, ``OpDefinition``), its
C file in ``firmware/``, its call template in ``templates/ops/``, one line here, and its test
table. The runner, the code generator, export and the tests all read ``OPS``.
"""

from __future__ import annotations

from tinycnn.model.ir import Operator, UnsupportedOperator
from tinycnn.ref import (
    add,
    average_pool,
    concatenation,
    conv,
    depthwise_conv,
    dequantize,
    fully_connected,
    hard_swish,
    leaky_relu,
    logistic,
    lstm,
    max_pool,
    mean,
    mul,
    pad,
    quantize,
    relu,
    reshape,
    softmax,
    space_to_batch_nd,
    strided_slice,
    tanh,
)
from tinycnn.ref.definition import OpDefinition

OPS: tuple[OpDefinition, ...] = (
    conv.OP,
    depthwise_conv.OP,
    fully_connected.OP,
    max_pool.OP,
    average_pool.OP,
    mean.OP,
    reshape.OP,
    strided_slice.OP,
    add.OP,
    mul.OP,
    concatenation.OP,
    pad.OP,
    pad.PADV2_OP,
    relu.OP,
    leaky_relu.OP,
    logistic.OP,
    tanh.OP,
    hard_swish.OP,
    space_to_batch_nd.SPACE_TO_BATCH_OP,
    space_to_batch_nd.BATCH_TO_SPACE_OP,
    softmax.OP,
    lstm.OP,
    quantize.OP,
    dequantize.OP,
)


def _by_builtin() -> dict[str, OpDefinition]:
    table: dict[str, OpDefinition] = {}
    for definition in OPS:
        for builtin in definition.builtins:
            if builtin in table:
                raise RuntimeError(f"{builtin} is registered twice")
            table[builtin] = definition
    return table


BY_BUILTIN = _by_builtin()


def definition_for(op: Operator) -> OpDefinition:
    """The registered definition of ``op``; UnsupportedOperator names what is missing."""
    try:
        return BY_BUILTIN[op.opcode]
    except KeyError:
        raise UnsupportedOperator(op, f"no int8 kernel for {op.opcode}") from None
