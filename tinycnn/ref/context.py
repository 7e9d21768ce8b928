"""What a kernel sees of the model: its operator, its tensors and their current values."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinycnn.model.engines import check_convention
from tinycnn.model.ir import Model, Operator, Quantization, Tensor, UnsupportedOperator
from tinycnn.quantization.affine import round_half_away
from tinycnn.ref.fixedpoint import rounding_for


@dataclass
class OpContext:
    op: Operator
    model: Model
    values: dict[int, np.ndarray]  # computed tensors, batch first
    convention: str  # "tflite" (LiteRT) or "tflm": whose rounding to reproduce
    # C lowering only: CONV_2D weights stored widened to int16 (twice the flash, a faster
    # inner loop); see tinycnn/codegen/render.py's wide_weights_fit
    wide_weights: bool = False

    def __post_init__(self):
        check_convention(self.convention)

    def rounding(self) -> str:
        """The requantization rounding this op uses under the chosen convention."""
        return rounding_for(self.convention, self.op.opcode)

    def has_input(self, position: int) -> bool:
        return position < len(self.op.inputs) and self.op.inputs[position] >= 0

    def input_tensor(self, position: int) -> Tensor:
        return self.model.tensors[self.op.inputs[position]]

    def output_tensor(self, position: int = 0) -> Tensor:
        return self.model.tensors[self.op.outputs[position]]

    def input(self, position: int) -> np.ndarray:
        tensor = self.input_tensor(position)
        return tensor.data if tensor.is_constant else self.values[tensor.index]

    def option(self, name: str, default=None):
        return self.op.options.get(name, default)

    def unsupported(self, missing: str) -> UnsupportedOperator:
        return UnsupportedOperator(self.op, missing)

    def quantization(self, tensor: Tensor) -> Quantization:
        if tensor.quantization is None:
            raise self.unsupported(f"tensor {tensor.name!r} has no quantization parameters")
        return tensor.quantization

    def require_dtype(self, tensor: Tensor, *dtypes) -> None:
        if tensor.dtype not in [np.dtype(d) for d in dtypes]:
            allowed = "/".join(np.dtype(d).name for d in dtypes)
            raise self.unsupported(
                f"tensor {tensor.name!r} is {tensor.dtype.name}, only {allowed} is implemented"
            )

    def activation_range(self, output: Tensor | None = None) -> tuple[int, int]:
        """Clamp bounds of the fused activation, as TFLite's CalculateActivationRangeQuantized.

        The real bounds 0, 6, -1 and 1 are quantized with the output scale: the division in
        float32 and rounding half away from zero, like ``TfLiteRound(f / scale)``.
        """
        output = output or self.output_tensor()
        info = np.iinfo(output.dtype)
        quant = self.quantization(output)
        scale, zero_point = np.float32(quant.single_scale), quant.single_zero_point

        def quantized(real: float) -> int:
            return zero_point + int(round_half_away(np.float32(real) / scale))

        activation = self.option("fused_activation_function", "NONE")
        bounds = {
            "NONE": (info.min, info.max),
            "RELU": (max(info.min, quantized(0.0)), info.max),
            "RELU6": (max(info.min, quantized(0.0)), min(info.max, quantized(6.0))),
            "RELU_N1_TO_1": (max(info.min, quantized(-1.0)), min(info.max, quantized(1.0))),
        }
        if activation not in bounds:
            raise self.unsupported(f"fused activation {activation} is not implemented")
        return bounds[activation]
