"""The int8 model against the float model, layer by layer (what `tinycnn verify` shows for
a run directory): every Keras layer's float output against the dequantized int8 tensor that
ends it (SQNR, max and mean absolute error in output LSBs, cosine similarity), and each layer
run alone on the float model's input to it, quantized: the layer with the lowest such local
SQNR is the one that loses most."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tinycnn.model.engines import HOST_CONVENTION
from tinycnn.model.ir import Model
from tinycnn.quantization.affine import dequantize, quantize
from tinycnn.ref.runner import run_operators


@dataclass
class LayerComparison:
    layer: str
    op_index: int
    opcode: str
    tensor: str
    sqnr_db: float  # the int8 model's output of this layer against the float model's
    local_sqnr_db: float  # this layer alone, fed the float model's input to it (quantized)
    max_abs_error_lsb: float
    mean_abs_error_lsb: float
    cosine: float
    worst: bool = False
    # The float and dequantized int8 outputs (a sample of them) of the layer that loses most,
    # for the histogram of `verify --plots`; not part of the JSON.
    values: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False, compare=False)


HISTOGRAM_VALUES = 200_000  # activations kept for the worst layer's histogram


def _sqnr_db(reference: np.ndarray, approximation: np.ndarray) -> float:
    signal = float(np.sum(reference.astype(np.float64) ** 2))
    noise = float(np.sum((reference.astype(np.float64) - approximation) ** 2))
    if noise == 0.0:
        return float("inf")
    if signal == 0.0:
        return float("-inf")
    return 10.0 * np.log10(signal / noise)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    norms = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / norms) if norms else float(np.array_equal(a, b))


def keras_layer_ends(keras_model, model: Model) -> list[tuple[object, int]]:
    """(Keras layer, position in ``model.operators``) pairs: each layer ends at the last op whose output
    tensor is named after it; the model output ends the last layer. A layer none of whose
    tensors keeps its name (the converter calls an LSTM's ``tfl.unidirectional_sequence_lstm``)
    ends just before the next named layer begins, when it is the only one in that gap and
    the gap holds ops."""
    layer_start: dict[str, int] = {}
    layer_end: dict[str, int] = {}
    names = [layer.name for layer in keras_model.layers]
    for position, op in enumerate(model.operators):
        tensor_name = model.tensors[op.outputs[0]].name
        for name in names:
            if f"/{name}/" in tensor_name or tensor_name.startswith(f"{name}/"):
                layer_start.setdefault(name, position)
                layer_end[name] = position
    output_op = next(i for i, op in enumerate(model.operators) if op.outputs[0] == model.outputs[0])
    layer_end[names[-1]] = output_op
    layer_start.setdefault(names[-1], output_op)
    previous_end, unnamed = -1, []
    for name in names:
        if name not in layer_end:
            unnamed.append(name)
            continue
        gap_end = layer_start[name] - 1
        if len(unnamed) == 1 and gap_end > previous_end:
            layer_end[unnamed[0]] = gap_end
        previous_end, unnamed = layer_end[name], []
    ordered = [
        (layer, layer_end[layer.name]) for layer in keras_model.layers if layer.name in layer_end
    ]
    return sorted(ordered, key=lambda pair: pair[1])


def compare_layers(
    keras_model,
    model: Model,
    tensors: dict[int, np.ndarray],
    float_inputs: np.ndarray,
    quantized_inputs: np.ndarray,
) -> list[LayerComparison]:
    from tinycnn.tfenv import keras

    pairs = keras_layer_ends(keras_model, model)
    probe = keras.Model(keras_model.inputs, [layer.output for layer, _ in pairs])
    float_outputs = probe.predict(float_inputs, batch_size=500, verbose=0)
    if len(pairs) == 1:
        float_outputs = [float_outputs]
    layers, samples = [], []
    previous_end, previous_float = -1, None
    for (layer, position), reference in zip(pairs, float_outputs, strict=True):
        op = model.operators[position]
        tensor = model.tensors[op.outputs[0]]
        quant = tensor.quantization
        approximation = dequantize(
            tensors[tensor.index], quant.single_scale, quant.single_zero_point
        )
        approximation = approximation.reshape(reference.shape)
        local = _run_layer_alone(
            model, previous_end, position, previous_float, quantized_inputs, tensors
        )
        local = dequantize(local, quant.single_scale, quant.single_zero_point).reshape(
            reference.shape
        )
        error_lsb = np.abs(reference.astype(np.float64) - approximation) / quant.single_scale
        layers.append(
            LayerComparison(
                layer=layer.name,
                op_index=op.index,
                opcode=op.opcode,
                tensor=tensor.name,
                sqnr_db=_sqnr_db(reference, approximation),
                local_sqnr_db=_sqnr_db(reference, local),
                max_abs_error_lsb=float(error_lsb.max()),
                mean_abs_error_lsb=float(error_lsb.mean()),
                cosine=_cosine(reference, approximation),
            )
        )
        samples.append((reference, approximation))
        previous_end, previous_float = position, reference
    if layers:
        worst = min(range(len(layers)), key=lambda i: layers[i].local_sqnr_db)
        layers[worst].worst = True
        reference, approximation = samples[worst]
        keep = np.random.default_rng(0).permutation(reference.size)[:HISTOGRAM_VALUES]
        layers[worst].values = (reference.ravel()[keep], approximation.ravel()[keep])
    return layers


def _run_layer_alone(
    model: Model,
    previous_end: int,
    end: int,
    previous_float: np.ndarray | None,
    quantized_inputs: np.ndarray,
    tensors: dict[int, np.ndarray],
) -> np.ndarray:
    """Run the ops of one layer (after position ``previous_end`` up to ``end``) on the float model's
    output of the previous layer, quantized with the int8 tensor's own parameters."""
    operators = model.operators[previous_end + 1 : end + 1]
    values: dict[int, np.ndarray] = {model.inputs[0]: quantized_inputs}
    if previous_end >= 0:
        boundary = model.tensors[model.operators[previous_end].outputs[0]]
        quant = boundary.quantization
        values[boundary.index] = quantize(
            previous_float, quant.single_scale, quant.single_zero_point, boundary.dtype
        ).reshape(len(previous_float), *boundary.shape[1:])
    for op in operators:  # branches from earlier layers read the int8 engine's values
        for index in op.inputs:
            tensor = model.tensors[index] if index >= 0 else None
            if tensor and index not in values and not (tensor.is_constant or tensor.is_variable):
                values[index] = tensors[index]
    run_operators(model, operators, values, HOST_CONVENTION)
    return values[model.operators[end].outputs[0]]
