"""Static memory plan: one activation arena, tensors sharing bytes when their lifetimes do not
overlap.

Every non-constant tensor lives from the operator that writes it (the model inputs from the
start) to the last operator that reads it (the model outputs to the end). The output of an
aliasing operator (RESHAPE: its definition says ``alias``) shares its input's bytes: no copy.
Buffers are placed one by one at the lowest 16-byte-aligned offset that does not collide with
any placed buffer alive at the same time: largest first (the greedy-by-size strategy of
TFLite Micro's GreedyMemoryPlanner) and in the order they are written, each from the arena's
bottom and from its top; the smallest of the four plans is kept. The lower bound is the
largest total size of buffers alive at one step: no plan can use less.

A kernel may also ask for scratch bytes that live only while its operator runs (the input
window a convolution gathers), placed like any other buffer (TFLite Micro's scratch buffers).

In place: where an operator's kernel reads an input in the order it writes its output (its
definition's ``in_place``: a 1x1 convolution, a depthwise convolution, an ADD) and that input
dies at the operator, the output may overlap it, starting at least the given distance before
it (the output then overwrites only input bytes already read). A depthwise-separable model's
peak, a depthwise output beside the wider 1x1 output, shrinks by most of the smaller one. The
lower bound counts such a pair as the least span the two can share.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tinycnn.model.engines import BOARD_CONVENTION
from tinycnn.model.ir import Model
from tinycnn.ref.context import OpContext
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
    # (output buffer, input buffer, d): positions in ``buffers`` allowed to overlap, the output
    # starting at least d bytes before the input
    in_place: list[tuple[int, int, int]] = field(default_factory=list)

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

    pairs = _in_place_pairs(model, buffers, owner)
    # Greedy from the bottom of the arena and from the top (an in-place output starts before
    # its input: from the top a chain of them grows downwards), largest first and in the
    # order they are written: the smallest of the four plans wins.
    plans = [
        _place(buffers, pairs, from_top, by_size)
        for from_top in (False, True)
        for by_size in (True, False)
    ]
    offsets = min(plans, key=lambda placed: _extent(buffers, placed))
    for buffer, offset in zip(buffers, offsets, strict=True):
        buffer.offset = offset

    plan = MemoryPlan(buffers=buffers, in_place=[(o, i, d) for (o, i), d in pairs.items()])
    for index, position in owner.items():
        plan.offsets[index] = buffers[position].offset
    for op_index, buffer in scratch_buffers.items():
        plan.scratch_offsets[op_index] = buffer.offset
    plan.arena_bytes = _align(max((b.offset + b.size_bytes for b in buffers), default=0))
    plan.lower_bound_bytes = _lower_bound(buffers, pairs, steps)
    return plan


def _lower_bound(buffers: list[Buffer], pairs: dict, steps: int) -> int:
    """The largest total size of buffers alive at one step, an in-place pair counted as the
    least span its two buffers can share: no plan can use less."""
    shared = {step: 0 for step in range(steps + 1)}  # bytes an in-place pair saves at its step
    for (out, source), distance in pairs.items():
        x, y = buffers[source], buffers[out]
        least = max(y.size_bytes, x.size_bytes + max(distance, 0))
        shared[y.first_step] += x.size_bytes + y.size_bytes - least
    return max(
        (
            sum(b.size_bytes for b in buffers if b.first_step <= step <= b.last_step) - shared[step]
            for step in range(steps + 1)
        ),
        default=0,
    )


def _in_place_pairs(model: Model, buffers: list[Buffer], owner: dict[int, int]) -> dict:
    """(output buffer, input buffer) -> d for the operators whose kernel may write over an
    input that dies there (its definition's ``in_place``)."""
    pairs: dict[tuple[int, int], int] = {}
    for step, op in enumerate(model.operators):
        definition = definition_for(op)
        if not definition.in_place or definition.alias or len(op.outputs) != 1:
            continue
        context = OpContext(op=op, model=model, values={}, convention=BOARD_CONVENTION)
        out = owner[op.outputs[0]]
        for position, distance in definition.in_place(context):
            index = op.inputs[position]
            if index < 0 or model.tensors[index].is_constant:
                continue
            source = owner[index]
            x, y = buffers[source], buffers[out]
            if source != out and x.last_step == step and y.first_step == step:
                pairs[(out, source)] = max(distance, pairs.get((out, source), distance))
    return pairs


def _extent(buffers: list[Buffer], offsets: list[int]) -> int:
    return max((o + b.size_bytes for b, o in zip(buffers, offsets, strict=True)), default=0)


def _place(buffers: list[Buffer], pairs: dict, from_top: bool, by_size: bool) -> list[int]:
    """Offsets for every buffer, largest first (``by_size``, TFLite Micro's order) or in the
    order they are written, each at the lowest aligned position free of the placed buffers
    alive with it (in-place partners as their pair allows). ``from_top``
    places in mirrored coordinates, the distance from the arena's top (sizes rounded up to the
    alignment, so that the offsets stay aligned), turned into offsets at the end: there the
    input of a pair must start at least size(input) - size(output) + d before its output."""
    size = [(_align(b.size_bytes) if from_top else b.size_bytes) for b in buffers]
    spans = [(b.first_step, b.last_step) for b in buffers]
    if from_top:
        pairs = {(i, o): size[i] - size[o] + d for (o, i), d in pairs.items()}
    offset_of: list[int] = [-1] * len(buffers)
    placed: list[int] = []

    def key(k: int) -> tuple:
        return (
            (-buffers[k].size_bytes, spans[k][0])
            if by_size
            else (spans[k][0], -buffers[k].size_bytes)
        )

    for k in sorted(range(len(buffers)), key=key):
        offset_of[k] = _lowest_offset(k, size, spans, offset_of, placed, pairs)
        placed.append(k)
    if not from_top:
        return offset_of
    top = _align(max((o + size[k] for k, o in enumerate(offset_of)), default=0))
    return [top - o - size[k] for k, o in enumerate(offset_of)]


def _lowest_offset(
    me: int, size: list[int], spans: list, offset_of: list[int], placed: list[int], pairs: dict
) -> int:
    """The lowest aligned offset for buffer ``me`` that collides with no placed buffer alive at
    the same time, except an in-place partner at the distance the pair allows: (first,
    second) -> d means the first starts at least d bytes before the second."""
    others = [k for k in placed if spans[k][0] <= spans[me][1] and spans[me][0] <= spans[k][1]]

    def allowed(offset: int, k: int) -> bool:
        if offset + size[me] <= offset_of[k] or offset_of[k] + size[k] <= offset:
            return True
        if (me, k) in pairs:
            return offset <= offset_of[k] - pairs[(me, k)]
        if (k, me) in pairs:
            return offset_of[k] <= offset - pairs[(k, me)]
        return False

    candidates = {0} | {_align(offset_of[k] + size[k]) for k in others}
    for k in others:
        if (me, k) in pairs:
            candidates.add((offset_of[k] - pairs[(me, k)]) // ALIGNMENT * ALIGNMENT)
        if (k, me) in pairs:
            candidates.add(_align(max(0, offset_of[k] + pairs[(k, me)])))
    return next(o for o in sorted(candidates) if o >= 0 and all(allowed(o, k) for k in others))
