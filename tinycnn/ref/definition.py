"""What tinycnn knows about one operator, in one object: its TFLite builtin codes, its numpy
reference kernel, its lowering to the parameters of a C call, the C runtime files and the call
template that implement it, the TFLite Micro resolver method that registers it, and what it
counts for a model's size and work (``ref/stats.py``), and the CMSIS-NN kernel that
`tinycnn bench` measures beside it.

Each op module in ``tinycnn/ref/`` ends with its ``OpDefinition``; ``ref/registry.py`` lists
them all, once. The runner, the code generator, export and the tests read only that list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from tinycnn.ref.context import OpContext

# A lowering returns (parameters, named 4-D dims, constant arrays): data, never C text.
Lowering = Callable[[OpContext], tuple[dict, dict, list]]


@dataclass(frozen=True)
class OpDefinition:
    name: str  # the stem everywhere: ref/<module>.py, firmware/tc_<name>_s8.c, templates/ops/<name>.c.j2
    builtins: tuple[str, ...]  # the TFLite builtin operators it implements
    kernel: Callable[[OpContext], np.ndarray]  # the numpy reference kernel
    lower: Lowering | None  # None: no C kernel (yet), unless ``alias``
    alias: bool = False  # no C call needed: the memory planner aliases output and input
    c_sources: tuple[str, ...] = ()  # the runtime files the C call needs, from firmware/
    tflm_resolver: dict[str, str] = field(default_factory=dict)  # builtin -> resolver method
    # Scratch bytes the C kernel needs in the arena, from the operator's context.
    scratch_bytes: Callable[[OpContext], int] | None = None
    # Multiply-accumulates per inference (conv, depthwise, dense: the usual count), if any.
    macs: Callable[[OpContext], int] | None = None
    weighted: bool = False  # its constant operands are the model's parameters (weights, biases)
    # The int8 bytes of its weights in the C layout that the generator stores widened to int16
    # when the board allows (codegen/render.py's wide_weights_fit), if any.
    widened_bytes: Callable[[OpContext], int] | None = None
    # The inputs whose bytes its C kernel lets the output overwrite, reading them in the order
    # it writes: (input position, d) where the output starts at least d bytes before that
    # input (d <= 0: it may start up to -d bytes after). The planner uses it when the input
    # dies at this operator (codegen/planner.py).
    in_place: Callable[[OpContext], list[tuple[int, int]]] | None = None
    # The CMSIS-NN function TFLite Micro's CMSIS-NN kernel calls for it: `tinycnn bench` runs
    # it beside tinycnn's kernel on the same layer (board/cmsis_nn.py).
    cmsis_nn: str | None = None
    feature_map: bool = False  # its output is what `visualize` draws (convolution, pooling)

    @property
    def template(self) -> str | None:
        """The Jinja2 template with this op's ``params`` and ``invoke`` macros."""
        return None if self.lower is None else f"ops/{self.name}.c.j2"

    @property
    def has_c_kernel(self) -> bool:
        return self.alias or self.lower is not None
