"""Static memory plan: one activation arena, tensors sharing bytes when their lifetimes do not
overlap.

Every non-constant tensor lives from the operator that writes it (the model inputs from the
start) to the last operator that reads it (the model outputs to the end). The output of an
aliasing operator (RESHAPE: its definition says ``alias``) shares its input's bytes: no copy.
Buffers are placed largest first at the lowest 16-byte-aligned offset that does not collide
with any placed buffer alive at the same time (the greedy-by-size strategy of TFLite Micro's
GreedyMemoryPlanner). The lower bound is the
largest total size of buffers alive at one step: no plan can use less.

A kernel may also ask for scratch bytes that live only while its operator runs (the input
window a convolution gathers), placed like any other buffer (TFLite Micro's scratch buffers).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tinycnn.model.ir import Model
from tinycnn.ref.registry import definition_for

ALIGNMENT = 16


@dataclass
class Buffer:
    tensors: list[int]  # tensor indices sharing these bytes
    size_bytes: int
    first_step: int
    last_step: int
    offset: int = -1


@dataclass
class MemoryPlan:
    buffers: list[Buffer]
    offsets: dict[int, int] = field(default_factory=dict)  # tensor index -> arena offset
    scratch_offsets: dict[int, int] = field(default_factory=dict)  # operator index -> offset
    arena_bytes: int = 0
    lower_bound_bytes: int = 0

    def offset_of(self, tensor_index: int) -> int:
        return self.offsets[tensor_index]


def _align(value: int) -> int:
    return (value + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


def plan_memory(model: Model, scratch_bytes: dict[int, int] | None = None) -> MemoryPlan:
    """Place every computed tensor, and ``scratch_bytes`` (operator index -> bytes) for the
    operators that ask for scratch, in one arena."""
    steps = len(model.operators)
    owner: dict[int, int] = {}  # tensor -> buffer position
    buffers: list[Buffer] = []

    def buffer_for(index: int, step: int) -> Buffer:
        if index not in owner:
            owner[index] = len(buffers)
            buffers.append(Buffer([index], model.tensors[index].size_bytes, step, step))
        return buffers[owner[index]]

    for index in model.inputs:
        buffer_for(index, 0)
    for step, op in enumerate(model.operators):
        for index in op.inputs:
            if index >= 0 and not model.tensors[index].is_constant:
                buffer = buffer_for(index, step)
                buffer.last_step = max(buffer.last_step, step)
        for index in op.outputs:
            if definition_for(op).alias and index not in owner:
                source = buffers[owner[op.inputs[0]]]
                owner[index] = owner[op.inputs[0]]
                source.tensors.append(index)
                source.size_bytes = max(source.size_bytes, model.tensors[index].size_bytes)
                source.last_step = max(source.last_step, step)
            else:
                buffer_for(index, step)
    for index in model.outputs:
        buffers[owner[index]].last_step = steps
    scratch_buffers: dict[int, Buffer] = {}
    for step, op in enumerate(model.operators):
        if (scratch_bytes or {}).get(op.index):
            scratch_buffers[op.index] = Buffer([], scratch_bytes[op.index], step, step)
    buffers += scratch_buffers.values()

    placed: list[Buffer] = []
    for buffer in sorted(buffers, key=lambda b: (-b.size_bytes, b.first_step)):
        offset = 0
        collisions = sorted(
            (
                b
                for b in placed
                if b.first_step <= buffer.last_step and buffer.first_step <= b.last_step
            ),
            key=lambda b: b.offset,
        )
        for other in collisions:
            if offset + buffer.size_bytes <= other.offset:
                break
            offset = max(offset, _align(other.offset + other.size_bytes))
        buffer.offset = offset
        placed.append(buffer)

    plan = MemoryPlan(buffers=buffers)
    for index, position in owner.items():
        plan.offsets[index] = buffers[position].offset
    for op_index, buffer in scratch_buffers.items():
        plan.scratch_offsets[op_index] = buffer.offset
    plan.arena_bytes = _align(max((b.offset + b.size_bytes for b in buffers), default=0))
    plan.lower_bound_bytes = max(
        (
            sum(b.size_bytes for b in buffers if b.first_step <= step <= b.last_step)
            for step in range(steps + 1)
        ),
        default=0,
    )
    return plan
