"""The internal model: tensors with their quantization, operators in execution order.

``tflite_io.read_model`` is the only code that builds it from a file; the reference engine
runs it and the code generator renders C from it. Plain data, no behaviour beyond lookups.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tinycnn.errors import TinycnnError
from tinycnn.model.metadata import ModelMetadata

# The operators that may read or write float tensors in an int8 model: its edges, where a
# model with float input or output converts. A fact of the int8 format, not of one operator.
FLOAT_EDGE_OPS = frozenset({"QUANTIZE", "DEQUANTIZE"})


class ModelFormatError(TinycnnError):
    """The file is not a model tinycnn can read (corrupt, not TFLite, not int8...)."""


class UnsupportedOperator(TinycnnError):
    """An operator or option the int8 engine does not implement; names the op and its index."""

    def __init__(self, op: Operator, missing: str):
        self.op, self.missing = op, missing
        super().__init__(f"operator #{op.index} {op.opcode}: {missing}")


@dataclass(frozen=True)
class Quantization:
    """Affine quantization ``real = scale * (q - zero_point)``, per tensor or per channel."""

    scale: np.ndarray  # float32, shape [1] or [channels]
    zero_point: np.ndarray  # int64, same shape as scale
    axis: int  # the channel dimension when per channel (TFLite's quantized_dimension)

    @property
    def per_channel(self) -> bool:
        return self.scale.size > 1

    @property
    def single_scale(self) -> float:
        return float(self.scale[0])

    @property
    def single_zero_point(self) -> int:
        return int(self.zero_point[0])


@dataclass
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    quantization: Quantization | None
    data: np.ndarray | None = None  # constant contents (weights, biases, shapes); None if computed
    is_variable: bool = False  # state an op keeps between invocations (an LSTM's h and c)

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def size_bytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize


@dataclass
class Operator:
    index: int
    opcode: str  # TFLite builtin name, e.g. "CONV_2D"; "CUSTOM:<code>" for custom ops
    inputs: tuple[int, ...]  # tensor indices; -1 marks an omitted optional input
    outputs: tuple[int, ...]
    options: dict = field(default_factory=dict)  # snake_case builtin options
    version: int = 1
    intermediates: tuple[int, ...] = ()  # tensors carrying the converter's extra scales (LSTM)


@dataclass
class Model:
    name: str
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    sha256: str
    description: str = ""
    # What the file says about itself: input range, class names, data set (model/metadata.py).
    metadata: ModelMetadata = field(default_factory=ModelMetadata)
    # Builtins of shape arithmetic folded into constants when read (model/folding.py): gone
    # from ``operators``, still in the file that TFLite Micro runs.
    folded: tuple[str, ...] = ()

    def input_tensors(self) -> list[Tensor]:
        return [self.tensors[i] for i in self.inputs]

    def output_tensors(self) -> list[Tensor]:
        return [self.tensors[i] for i in self.outputs]

    def opcodes(self) -> list[str]:
        """Distinct operator names in order of first use."""
        return list(dict.fromkeys(op.opcode for op in self.operators))
