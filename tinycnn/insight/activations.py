"""What the pictures of ``visualize`` show, as arrays: the feature maps of one image (float
from Keras beside int8 from tinycnn's reference engine), the first layer's filters, and the
course's hand-made 3x3 filters with 2x2 max pooling."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from tinycnn.model.engines import HOST_CONVENTION
from tinycnn.model.ir import Model
from tinycnn.quantization.affine import dequantize
from tinycnn.ref import conv, depthwise_conv
from tinycnn.ref.registry import definition_for
from tinycnn.ref.runner import run_model

# The course's hand-made 3x3 filters. Like a Keras Conv2D they are correlated with the image
# (not flipped), so "vertical edge" (a Sobel kernel) answers dark-to-bright steps from left
# to right, and "horizontal edge" dark-to-bright steps from top to bottom.
HANDMADE_FILTERS = {
    "vertical edge": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float32),
    "horizontal edge": np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], np.float32),
    "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], np.float32),
}
MAP_LAYERS = (  # the Keras layers drawn when there is no int8 model yet
    "Conv2D",
    "DepthwiseConv2D",
    "SeparableConv2D",
    "MaxPooling2D",
    "AveragePooling2D",
)


def convolve_valid(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """2-D correlation of ``image [H, W]`` with ``kernel [k, k]``, no padding: [H-k+1, W-k+1]."""
    k_h, k_w = kernel.shape
    height, width = image.shape[0] - k_h + 1, image.shape[1] - k_w + 1
    out = np.zeros((height, width), np.float32)
    for dy in range(k_h):
        for dx in range(k_w):
            out += kernel[dy, dx] * image[dy : dy + height, dx : dx + width]
    return out


def max_pool_2x2(feature_map: np.ndarray) -> np.ndarray:
    """2x2 max pooling with stride 2 (VALID): an odd last row or column is dropped."""
    height, width = feature_map.shape[0] // 2, feature_map.shape[1] // 2
    blocks = feature_map[: 2 * height, : 2 * width].reshape(height, 2, width, 2)
    return blocks.max(axis=(1, 3))


def handmade_response(image: np.ndarray, kernel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The course's demonstration on ``image [H, W]``: convolve, ReLU (a conv layer's
    activation), then 2x2 max pooling. Returns (the ReLU'd map, the pooled map)."""
    convolved = np.maximum(convolve_valid(image, kernel), 0.0)
    return convolved, max_pool_2x2(convolved)


@dataclass
class FeatureMap:
    op_index: int
    opcode: str
    name: str  # the int8 tensor's name, shortened
    int8: np.ndarray | None  # [h, w, c], dequantized to real values; None before quantizing
    float: np.ndarray | None  # [h, w, c] from the Keras layer that ends at this op, if any
    float_layer: str | None


def _short_name(tensor_name: str) -> str:
    """``sequential/conv1/Relu;...`` -> ``conv1``: the TFLite tensor name without the model
    prefix and the fused-op suffixes, safe in a file name."""
    first = tensor_name.split(";")[0]
    parts = [p for p in first.split("/") if p]
    name = parts[1] if len(parts) > 1 else (parts[0] if parts else "tensor")
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:40] or "tensor"


def int8_feature_maps(
    model: Model, quantized_image: np.ndarray, keras_model=None, float_image=None
):
    """The dequantized output of every convolution and pooling op for one int8 image
    ``[H, W, C]``, each beside the float model's output of the Keras layer that ends at the
    same op (when a float model is given)."""
    run = run_model(
        model, quantized_image[np.newaxis], convention=HOST_CONVENTION, keep_tensors=True
    )
    float_by_op = {}
    if keras_model is not None:
        from tinycnn.engines.layers import keras_layer_ends
        from tinycnn.insight.explain import layer_outputs

        ends = keras_layer_ends(keras_model, model)
        shaped = [(layer, end) for layer, end in ends if len(layer.output.shape) == 4]
        outputs = layer_outputs(
            keras_model, float_image[np.newaxis], [layer for layer, _ in shaped]
        )
        float_by_op = {
            model.operators[position].index: (layer.name, out[0])
            for (layer, position), out in zip(shaped, outputs, strict=True)
        }
    maps = []
    for op in model.operators:
        tensor = model.tensors[op.outputs[0]]
        if not definition_for(op).feature_map or len(tensor.shape) != 4 or not tensor.quantization:
            continue
        quant = tensor.quantization
        values = dequantize(
            run.tensors[tensor.index][0], quant.single_scale, quant.single_zero_point
        )
        layer_name, float_map = float_by_op.get(op.index, (None, None))
        if float_map is not None and float_map.shape != values.shape:
            layer_name, float_map = None, None
        maps.append(
            FeatureMap(op.index, op.opcode, _short_name(tensor.name), values, float_map, layer_name)
        )
    return maps


def float_feature_maps(keras_model, float_image: np.ndarray) -> list[FeatureMap]:
    """The float model's convolution and pooling outputs for one image (no int8 model yet)."""
    from tinycnn.insight.explain import layer_outputs

    layers = [layer for layer in keras_model.layers if type(layer).__name__ in MAP_LAYERS]
    outputs = layer_outputs(keras_model, float_image[np.newaxis], layers)
    return [
        FeatureMap(-1, type(layer).__name__, layer.name, None, output[0], layer.name)
        for layer, output in zip(layers, outputs, strict=True)
    ]


def keras_first_filters(keras_model) -> tuple[str, np.ndarray] | None:
    """(layer name, kernels [filters, k_h, k_w]) of the float model's first Conv2D, input
    channel 0; None without one."""
    for layer in keras_model.layers:
        if type(layer).__name__ == "Conv2D":
            return layer.name, np.moveaxis(layer.get_weights()[0][:, :, 0, :], -1, 0)
    return None


def first_layer_filters(model: Model) -> tuple[str, np.ndarray] | None:
    """(tensor name, real-valued kernels [filters, k_h, k_w]) of the first convolution, its
    int8 weights times their per-channel scale, input channel 0; None without one."""
    for op in model.operators:
        definition = definition_for(op)
        if definition not in (conv.OP, depthwise_conv.OP):
            continue
        weights = model.tensors[op.inputs[1]]
        quant = weights.quantization
        data = weights.data.astype(np.float32)
        if definition is conv.OP:  # [out, k_h, k_w, in]
            kernels = data[..., 0]
        else:  # [1, k_h, k_w, channels]
            kernels = np.moveaxis(data[0], -1, 0)
        scales = np.broadcast_to(quant.scale.astype(np.float32), (kernels.shape[0],))
        return _short_name(model.tensors[op.outputs[0]].name), kernels * scales[:, None, None]
    return None


def int8_layer_names(model: Model) -> set[str]:
    """The Keras layer names an int8 model's tensor names carry ("model/conv1/Relu;...")."""
    names = set()
    for tensor in model.tensors:
        for part in tensor.name.split(";"):
            pieces = part.split("/")
            if len(pieces) >= 3:
                names.add(pieces[1])
    return names
