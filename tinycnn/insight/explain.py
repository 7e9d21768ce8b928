"""What a float Keras model sees, by its gradients: the input a filter responds to most
(gradient ascent, the idea behind DeepDream), a DeepDream picture, and Grad-CAM.

Every function takes images as the models do, float32 ``[N, H, W, C]`` in [0, 1], and works
on the top-level layers of a Sequential or functional model. Gradient steps are normalised
by the gradient's RMS per image, so the step size is in input units (a fraction of full
brightness) whatever the scale of the layer's activations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinycnn.errors import TinycnnError

CONVOLUTION_KINDS = ("Conv2D", "DepthwiseConv2D", "SeparableConv2D")


class ExplainError(TinycnnError):
    """A layer or class that the float model does not have."""


def convolution_layers(keras_model) -> list:
    """The model's top-level convolution layers, in order."""
    return [layer for layer in keras_model.layers if type(layer).__name__ in CONVOLUTION_KINDS]


def find_layer(keras_model, name: str | None, default: str = "last convolution"):
    """The layer called ``name``; the last convolution when None. ExplainError lists the
    layers that can be used."""
    convolutions = convolution_layers(keras_model)
    if name is None:
        if not convolutions:
            raise ExplainError(f"{keras_model.name} has no convolution layer ({default} asked)")
        return convolutions[-1]
    for layer in keras_model.layers:
        if layer.name == name and len(layer.output.shape) == 4:
            return layer
    usable = [layer.name for layer in keras_model.layers if len(layer.output.shape) == 4]
    raise ExplainError(f"no image-shaped layer {name!r}; choose one of {', '.join(usable)}")


def layer_outputs(keras_model, images: np.ndarray, layers: list) -> list[np.ndarray]:
    """The outputs of ``layers`` for ``images``, one array each."""
    from tinycnn.tfenv import keras

    if not layers:
        return []
    probe = keras.Model(keras_model.inputs, [layer.output for layer in layers])
    outputs = probe(images, training=False)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return [np.asarray(output) for output in outputs]


def _pre_activation(keras_model, layer):
    """A function images -> the layer's output before its activation function (its output
    when it has none), by calling the layer with its activation set to linear."""
    from tinycnn.tfenv import keras

    feed = keras.Model(keras_model.inputs, layer.input)
    activation = getattr(layer, "activation", None)

    def respond(batch):
        inputs = feed(batch, training=False)
        if activation is None:
            return layer(inputs, training=False)
        layer.activation = keras.activations.linear
        try:
            return layer(inputs, training=False)
        finally:
            layer.activation = activation

    return respond


def _normalised_step(gradient, step_size: float):
    from tinycnn.tfenv import tf

    rms = tf.sqrt(tf.reduce_mean(tf.square(gradient), axis=[1, 2, 3], keepdims=True))
    return step_size * gradient / (rms + 1e-8)


@dataclass
class FilterPatterns:
    layer: str
    filters: list[int]
    images: np.ndarray  # [F, H, W, C] in [0, 1]: what each filter responds to most
    random_activation: np.ndarray  # [F] mean activation of the filter on the random start
    final_activation: np.ndarray  # [F] mean activation on the image found


def maximize_filters(
    keras_model,
    layer_name: str | None = None,
    filters: list[int] | None = None,
    *,
    steps: int = 80,
    step_size: float = 0.05,
    seed: int = 0,
) -> FilterPatterns:
    """Gradient ascent from uniform random images: image i is changed to raise the mean
    activation of filter ``filters[i]`` of the layer, kept in [0, 1]. All filters at once.
    The activation is taken before the layer's own activation function, so that a ReLU
    that is off for the random start still passes a gradient."""
    from tinycnn.tfenv import tf

    layer = find_layer(keras_model, layer_name)
    channels = int(layer.output.shape[-1])
    filters = list(range(min(channels, 16))) if filters is None else list(filters)
    bad = [f for f in filters if not 0 <= f < channels]
    if bad or not filters:
        raise ExplainError(f"layer {layer.name} has filters 0..{channels - 1}; asked for {bad}")
    respond = _pre_activation(keras_model, layer)
    shape = (len(filters), *keras_model.input_shape[1:])
    start = np.random.default_rng(seed).uniform(0.0, 1.0, shape).astype(np.float32)
    images = tf.Variable(start)
    picks = tf.constant(filters)

    def activation(batch):
        maps = respond(batch)  # [F, h, w, channels]
        chosen = tf.gather(maps, picks, axis=3, batch_dims=1)  # [F, h, w]
        return tf.reduce_mean(chosen, axis=[1, 2])

    random_activation = activation(start).numpy()
    for _ in range(steps):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(activation(images))
        step = _normalised_step(tape.gradient(loss, images), step_size)
        images.assign(tf.clip_by_value(images + step, 0.0, 1.0))
    final = images.numpy()
    return FilterPatterns(layer.name, filters, final, random_activation, activation(final).numpy())


def deep_dream(
    keras_model,
    image: np.ndarray,
    layer_name: str | None = None,
    *,
    steps: int = 40,
    step_size: float = 0.01,
) -> np.ndarray:
    """DeepDream on one image ``[H, W, C]``: gradient ascent on the mean square of the layer's
    activations, so that what the layer already sees in the picture is amplified."""
    from tinycnn.tfenv import keras, tf

    layer = find_layer(keras_model, layer_name)
    probe = keras.Model(keras_model.inputs, layer.output)
    dreamed = tf.Variable(image[np.newaxis].astype(np.float32))
    for _ in range(steps):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(probe(dreamed, training=False)))
        step = _normalised_step(tape.gradient(loss, dreamed), step_size)
        dreamed.assign(tf.clip_by_value(dreamed + step, 0.0, 1.0))
    return dreamed.numpy()[0]


@dataclass
class GradCam:
    layer: str
    class_index: int
    probability: float
    heatmap: np.ndarray  # [h, w] at the layer's resolution, in [0, 1]
    upsampled: np.ndarray  # [H, W] at the input's resolution, in [0, 1]
    score_kind: str  # "logit" or "log probability": what was differentiated
    method: str  # "grad-cam" or "hirescam"


CAM_METHODS = ("auto", "grad-cam", "hirescam")


def _flattens_after(keras_model, layer) -> bool:
    """True when a Flatten lies between ``layer`` and the output: the head then weighs every
    position on its own, and averaging the gradient over positions (Grad-CAM) can cancel."""
    names = [item.name for item in keras_model.layers]
    after = keras_model.layers[names.index(layer.name) + 1 :]
    return any(type(item).__name__ == "Flatten" for item in after)


def _class_scores(keras_model):
    """The tensor Grad-CAM differentiates: the logits when the last layer is a softmax (or a
    Dense with a softmax), else the log of the outputs."""
    from tinycnn.tfenv import tf

    last = keras_model.layers[-1]
    kind = type(last).__name__
    activation = getattr(getattr(last, "activation", None), "__name__", "")
    if kind == "Softmax" or (kind == "Activation" and activation == "softmax"):
        return (lambda inputs, _: inputs), "logit", last.input
    if kind == "Dense" and activation == "softmax":
        return (
            lambda inputs, _: tf.matmul(inputs, last.kernel) + last.bias,
            "logit",
            last.input,
        )
    return (lambda _, outputs: tf.math.log(outputs + 1e-12)), "log probability", None


def grad_cam(
    keras_model,
    image: np.ndarray,
    class_index: int | None = None,
    layer_name: str | None = None,
    method: str = "auto",
) -> GradCam:
    """A class activation map for one image ``[H, W, C]``, ReLU'd and scaled to [0, 1];
    ``class_index`` None means the predicted class.

    ``grad-cam`` (Selvaraju et al. 2017) weighs each channel by the class score's gradient
    averaged over the positions. ``hirescam`` (Draelos and Carin 2020) multiplies gradient and
    activation position by position before summing the channels, which is exact for a
    Flatten-Dense head, where Grad-CAM's averaged weights can all turn negative and the map
    vanish; for a global-pooling head the two agree up to a factor. ``auto`` takes HiResCAM
    when a Flatten follows the layer, Grad-CAM otherwise."""
    from tinycnn.tfenv import keras, tf

    if method not in CAM_METHODS:
        raise ExplainError(f"unknown method {method!r}; choose one of {', '.join(CAM_METHODS)}")
    layer = find_layer(keras_model, layer_name)
    if method == "auto":
        method = "hirescam" if _flattens_after(keras_model, layer) else "grad-cam"
    score_of, score_kind, score_input = _class_scores(keras_model)
    extra = [score_input] if score_input is not None else []
    probe = keras.Model(keras_model.inputs, [layer.output, keras_model.output, *extra])
    batch = tf.constant(image[np.newaxis].astype(np.float32))
    with tf.GradientTape() as tape:
        maps, outputs, *rest = probe(batch, training=False)
        scores = score_of(rest[0] if rest else None, outputs)
        classes = int(scores.shape[-1])
        chosen = int(np.argmax(outputs[0])) if class_index is None else class_index
        if not 0 <= chosen < classes:
            raise ExplainError(f"class {chosen} does not exist; the model has 0..{classes - 1}")
        score = scores[0, chosen]
    gradient = tape.gradient(score, maps)[0].numpy()  # [h, w, channels]
    weights = gradient if method == "hirescam" else gradient.mean(axis=(0, 1))
    cam = np.maximum((maps[0].numpy() * weights).sum(axis=-1), 0.0)
    cam = cam / cam.max() if cam.max() > 0 else cam
    height, width = image.shape[:2]
    upsampled = tf.image.resize(cam[..., np.newaxis], (height, width), method="bilinear")
    upsampled = np.clip(upsampled.numpy()[..., 0], 0.0, 1.0)
    probability = float(np.asarray(outputs)[0, chosen])
    return GradCam(layer.name, chosen, probability, cam, upsampled, score_kind, method)
