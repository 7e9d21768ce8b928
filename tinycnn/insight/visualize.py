"""Seeing inside a model: its first-layer filters, the feature maps of one image (float from
Keras beside int8 from tinycnn's reference engine), hand-made 3x3 filters with 2x2 max
pooling, what a filter responds to most, a DeepDream picture and Grad-CAM.

``visualize`` writes them as PNGs; ``activations.py`` computes the arrays, so that tests,
the report and a notebook use the same numbers the pictures show. The int8 parts need only
a .tflite file; the parts that follow gradients need the float model of a run directory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tinycnn.errors import TinycnnError
from tinycnn.insight import VISUALIZE_SETTINGS
from tinycnn.insight.activations import (
    HANDMADE_FILTERS,
    FeatureMap,
    first_layer_filters,
    float_feature_maps,
    handmade_response,
    int8_feature_maps,
    int8_layer_names,
    keras_first_filters,
)
from tinycnn.insight.figures import grid_shape, image_axis, pyplot, save_png, symmetric_limit
from tinycnn.model.engines import HOST_CONVENTION
from tinycnn.model.ir import Model
from tinycnn.model.tflite_io import read_model
from tinycnn.outputs import check_output_dir
from tinycnn.progress import Progress
from tinycnn.progress import report as report_progress
from tinycnn.quantization.affine import quantize
from tinycnn.quantization.inputs import model_dataset
from tinycnn.ref.runner import check_supported, run_model
from tinycnn.rundir import INT8_MODEL_FILE, float_model_path, int8_model_path, resolve_target
from tinycnn.training.data import FLOAT_RANGE, to_float
from tinycnn.training.models import load_trained_model

MAX_CHANNELS_SHOWN = 16


class VisualizeError(TinycnnError):
    """An image, layer or request that cannot be shown."""


@dataclass
class Picture:
    path: Path
    title: str


@dataclass
class VisualizeResult:
    pictures: list[Picture] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # what could not be drawn, and why
    predicted: int | None = None
    label: int | None = None

    def lines(self) -> list[str]:
        """What `tinycnn visualize` prints: each picture with its title, each one not drawn."""
        drawn = [f"{picture.path}  {picture.title}" for picture in self.pictures]
        return drawn + [f"not drawn: {reason}" for reason in self.skipped]


@dataclass
class Subject:
    """The image being looked at, as the float model and the int8 model take it."""

    float_image: np.ndarray  # [H, W, C] in [0, 1]
    quantized: np.ndarray | None  # [H, W, C] int8; None without an int8 model
    label: int | None
    description: str


def load_subject(
    image: str | int,
    input_shape: tuple[int, ...],
    input_tensor=None,
    data_dir=None,
    value_range: tuple[float, float] = FLOAT_RANGE,
    model_path=None,
) -> Subject:
    """``--image N`` (a test image of the model's data set: its run's ``--data``, else
    Fashion-MNIST) or ``--image PATH`` (a picture file, its pixels mapped onto
    ``value_range``), for a model taking ``input_shape`` [H, W, C]; quantized with
    ``input_tensor`` (the int8 model's input) when one is given."""
    from tinycnn.quantization.inputs import picture_values

    if len(input_shape) != 3 or input_shape[2] not in (1, 3):
        raise VisualizeError(
            f"visualize needs an image input [H, W, 1 or 3]; this model takes {list(input_shape)}"
        )
    text = str(image)
    if text.isdigit():
        index = int(text)
        dataset = model_dataset(model_path, data_dir)
        if index >= len(dataset.test_images):
            raise VisualizeError(
                f"--image {index}: the test set has images 0..{len(dataset.test_images) - 1}"
            )
        float_image = to_float(dataset.test_images[index : index + 1])[0]
        if float_image.shape != tuple(input_shape):
            raise VisualizeError(
                f"the model takes {list(input_shape)}, not the {dataset.name} test images' "
                f"{list(float_image.shape)}; give --image PATH"
            )
        label, description = int(dataset.test_labels[index]), f"test image {index}"
    else:
        path = Path(text)
        if not path.is_file():
            raise VisualizeError(
                f"--image {text}: no such file (give a test-image index or a file)"
            )
        float_image = picture_values([path], tuple(input_shape), value_range)[0]
        label, description = None, path.name
    quantized = None
    if input_tensor is not None:
        quant = input_tensor.quantization
        quantized = quantize(
            float_image, quant.single_scale, quant.single_zero_point, input_tensor.dtype
        )
    return Subject(float_image, quantized, label, description)


def model_subject(
    model: Model | None,
    keras_model,
    image: str | int,
    data_dir=None,
    value_range=FLOAT_RANGE,
    model_path=None,
) -> Subject:
    """The subject for the int8 model (its input quantization) or, without one, the float;
    a picture's pixels mapped onto ``value_range``."""
    if model is None:
        shape = tuple(keras_model.input_shape[1:])
        return load_subject(image, shape, None, data_dir, value_range, model_path)
    tensor = model.input_tensors()[0]
    if tensor.dtype != np.int8 or tensor.quantization is None or len(tensor.shape) != 4:
        raise VisualizeError(
            f"visualize needs an int8 image input [1, H, W, C]; this model takes "
            f"{list(tensor.shape)} {tensor.dtype.name}"
        )
    return load_subject(image, tuple(tensor.shape[1:]), tensor, data_dir, value_range, model_path)


def _class_label(names: list[str], index: int | None) -> str:
    if index is None:
        return "unknown"
    return f"{index} {names[index]}" if index < len(names) else str(index)


def draw_filters(name: str, kernels: np.ndarray, source: str, path: Path) -> Picture:
    plt = pyplot()
    rows, columns = grid_shape(len(kernels), 8)
    figure, axes = plt.subplots(rows, columns, figsize=(1.3 * columns, 1.4 * rows + 0.6))
    axes = np.atleast_1d(axes).ravel()
    limit = symmetric_limit(kernels)
    artist = None
    for i, axis in enumerate(axes):
        if i < len(kernels):
            artist = image_axis(
                axis, kernels[i], f"filter {i}", cmap="RdBu_r", vmin=-limit, vmax=limit
            )
        else:
            axis.axis("off")
    title = f"{name}: {len(kernels)} learned {kernels.shape[1]}x{kernels.shape[2]} filters"
    figure.suptitle(f"{title} ({source}; red +, blue -)", fontsize=10)
    figure.colorbar(artist, ax=list(axes), shrink=0.8, label="weight (real value)")
    return Picture(save_png(figure, path), title)


def channel_mosaic(values: np.ndarray, low: np.ndarray, high: np.ndarray, columns: int):
    """Channels ``[h, w, c]`` tiled ``columns`` wide, each scaled to [0, 1] by its own
    ``low``/``high``, one NaN pixel between tiles (drawn as the background)."""
    height, width, channels = values.shape
    rows = -(-channels // columns)
    mosaic = np.full((rows * (height + 1) - 1, columns * (width + 1) - 1), np.nan, np.float32)
    for c in range(channels):
        top, left = (c // columns) * (height + 1), (c % columns) * (width + 1)
        span = max(float(high[c] - low[c]), 1e-6)
        mosaic[top : top + height, left : left + width] = (values[..., c] - low[c]) / span
    return mosaic


def draw_feature_map(feature: FeatureMap, subject: Subject, path: Path) -> Picture:
    """Up to 16 channels, the float model's map beside the int8 one, each channel on one
    colour scale shared by the two (so that their difference shows)."""
    plt = pyplot()
    sides = [
        (label, values)
        for label, values in (
            (f"float (Keras layer {feature.float_layer})", feature.float),
            ("int8 (tinycnn reference engine)", feature.int8),
        )
        if values is not None
    ]
    height, width, channels = sides[0][1].shape
    shown = min(channels, MAX_CHANNELS_SHOWN)
    columns = min(4, shown)
    low = np.min([values[..., :shown].min(axis=(0, 1)) for _, values in sides], axis=0)
    high = np.max([values[..., :shown].max(axis=(0, 1)) for _, values in sides], axis=0)
    figure, axes = plt.subplots(1, len(sides), figsize=(4.6 * len(sides), 4.9), squeeze=False)
    for axis, (label, values) in zip(axes[0], sides, strict=True):
        mosaic = channel_mosaic(values[..., :shown], low, high, columns)
        image_axis(axis, mosaic, label, cmap="viridis", vmin=0, vmax=1)
        for c in range(shown):
            top, left = (c // columns) * (height + 1), (c % columns) * (width + 1)
            axis.text(left, top, f"ch {c}", color="white", fontsize=7, va="top", ha="left")
    title = f"{feature.name} ({feature.opcode}): {height}x{width}x{channels}" + (
        f", channels 0-{shown - 1} shown" if shown < channels else ""
    )
    figure.suptitle(
        f"{title}; {subject.description}\neach channel from its minimum (dark) to its maximum "
        "(yellow)",
        fontsize=10,
    )
    return Picture(save_png(figure, path), title)


def draw_handmade(subject: Subject, path: Path) -> Picture:
    plt = pyplot()
    image = subject.float_image[..., 0]
    figure, axes = plt.subplots(len(HANDMADE_FILTERS), 4, figsize=(9, 2.4 * len(HANDMADE_FILTERS)))
    for row, (name, kernel) in zip(axes, HANDMADE_FILTERS.items(), strict=True):
        convolved, pooled = handmade_response(image, kernel)
        image_axis(
            row[0], image, f"input {image.shape[0]}x{image.shape[1]}", cmap="gray", vmin=0, vmax=1
        )
        limit = symmetric_limit(kernel)
        image_axis(row[1], kernel, f"{name} 3x3 filter", cmap="RdBu_r", vmin=-limit, vmax=limit)
        for (y, x), value in np.ndenumerate(kernel):
            row[1].text(x, y, f"{value:g}", ha="center", va="center", fontsize=9)
        high = max(float(convolved.max()), 1e-6)
        image_axis(
            row[2],
            convolved,
            f"convolved + ReLU {convolved.shape[0]}x{convolved.shape[1]}",
            cmap="magma",
            vmin=0,
            vmax=high,
        )
        image_axis(
            row[3],
            pooled,
            f"2x2 max pool {pooled.shape[0]}x{pooled.shape[1]}",
            cmap="magma",
            vmin=0,
            vmax=high,
        )
    figure.suptitle(
        f"Hand-made filters on {subject.description}: convolution, then pooling", fontsize=10
    )
    return Picture(save_png(figure, path), "hand-made 3x3 filters with 2x2 max pooling")


def draw_patterns(patterns, path: Path) -> Picture:
    plt = pyplot()
    rows, columns = grid_shape(len(patterns.filters), 8)
    figure, axes = plt.subplots(rows, columns, figsize=(1.4 * columns, 1.6 * rows + 0.6))
    axes = np.atleast_1d(axes).ravel()
    for i, axis in enumerate(axes):
        if i >= len(patterns.filters):
            axis.axis("off")
            continue
        image_axis(
            axis,
            patterns.images[i][..., 0],
            f"filter {patterns.filters[i]}\n{patterns.random_activation[i]:.2f} -> {patterns.final_activation[i]:.2f}",
            cmap="gray",
            vmin=0,
            vmax=1,
        )
    title = f"What the filters of {patterns.layer} respond to most"
    figure.suptitle(
        f"{title} (gradient ascent from random noise; mean pre-activation noise -> found)",
        fontsize=10,
    )
    return Picture(save_png(figure, path), title)


def draw_dream(subject: Subject, dreamed: np.ndarray, layer: str, path: Path) -> Picture:
    plt = pyplot()
    figure, axes = plt.subplots(1, 3, figsize=(9, 3.4))
    image_axis(
        axes[0], subject.float_image[..., 0], subject.description, cmap="gray", vmin=0, vmax=1
    )
    image_axis(axes[1], dreamed[..., 0], f"DeepDream on {layer}", cmap="gray", vmin=0, vmax=1)
    change = dreamed[..., 0] - subject.float_image[..., 0]
    limit = symmetric_limit(change)
    artist = image_axis(axes[2], change, "what was added", cmap="RdBu_r", vmin=-limit, vmax=limit)
    figure.colorbar(artist, ax=axes[2], shrink=0.8, label="brightness change")
    title = f"DeepDream: {layer}'s features amplified"
    figure.suptitle(title, fontsize=10)
    return Picture(save_png(figure, path), title)


def draw_grad_cam(subject: Subject, cams: list, names: list[str], path: Path) -> Picture:
    plt = pyplot()
    figure, axes = plt.subplots(1, len(cams) + 1, figsize=(3.2 * (len(cams) + 1), 3.6))
    image_axis(
        axes[0],
        subject.float_image[..., 0],
        f"{subject.description}\ntrue: {_class_label(names, subject.label)}",
        cmap="gray",
        vmin=0,
        vmax=1,
    )
    artist = None
    for axis, (role, cam) in zip(axes[1:], cams, strict=True):
        image_axis(axis, subject.float_image[..., 0], "", cmap="gray", vmin=0, vmax=1)
        artist = axis.imshow(cam.upsampled, cmap="jet", alpha=0.5, vmin=0, vmax=1)
        axis.set_title(
            f"{role}: {_class_label(names, cam.class_index)}\np = {cam.probability:.2f}", fontsize=8
        )
    figure.colorbar(artist, ax=list(axes[1:]), shrink=0.8, label="Grad-CAM weight (0-1)")
    method = {
        "hirescam": "Grad-CAM (HiResCAM form, for a Flatten-Dense head)",
        "grad-cam": "Grad-CAM",
    }
    title = f"{method[cams[0][1].method]} on {cams[0][1].layer}: where the model looked"
    figure.suptitle(title, fontsize=10)
    return Picture(save_png(figure, path), title)


def visualize(
    target: str | Path,
    out_dir: str | Path,
    *,
    image: str | int = 0,
    layer: str | None = None,
    other_class: int | None = None,
    input_range: str | None = None,
    data_dir=None,
    on_progress: Progress | None = None,
) -> VisualizeResult:
    """Write the pictures for ``RUN_DIR|MODEL.tflite|zoo:NAME`` into ``out_dir``. A run
    directory not quantized yet gets the float pictures only. ``layer`` chooses the layer for
    the filter patterns and DeepDream (the last convolution when None); ``other_class`` the
    second Grad-CAM class (the runner-up when None). A picture ``image`` is mapped onto
    ``input_range`` (LOW,HIGH) or the range the model says it was trained on."""
    VISUALIZE_SETTINGS["other_class"].check(other_class, VisualizeError, "--class")
    target = resolve_target(target)
    keras_model = load_trained_model(target) if float_model_path(target) else None
    model = None
    if keras_model is None or (target / INT8_MODEL_FILE).is_file():
        model = read_model(int8_model_path(target))
        check_supported(model)
    value_range = _value_range(target, model, image, input_range)
    model_path = target / INT8_MODEL_FILE if target.is_dir() else target  # its run's data set
    subject = model_subject(model, keras_model, image, data_dir, value_range, model_path)
    out_dir = check_output_dir(out_dir, "--out")
    chosen = _check_gradient_request(model, keras_model, layer, other_class)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = VisualizeResult(label=subject.label)
    steps = 5
    report_progress(on_progress, "filters", 0, steps)
    if model is None:
        result.skipped.append(
            f"int8 feature maps: {target} is not quantized yet (`tinycnn quantize {target}`)"
        )
    _model_pictures(model, keras_model, subject, out_dir, result)
    report_progress(on_progress, "feature maps", 1, steps)
    if model is not None:
        output = run_model(
            model, subject.quantized[np.newaxis], convention=HOST_CONVENTION
        ).outputs[0]
    else:
        output = np.asarray(keras_model(subject.float_image[np.newaxis], training=False))
    result.predicted = int(np.argmax(output.reshape(-1)))

    if keras_model is None:
        why = f"{target} has no float model (model.keras): gradients need a run directory"
        result.skipped += [f"filter patterns and DeepDream: {why}", f"Grad-CAM: {why}"]
    elif chosen is None:
        result.skipped.append(
            "filter patterns, DeepDream and Grad-CAM: the float model has no convolution layer"
        )
    else:
        names = _class_names(target, model, keras_model)
        _gradient_pictures(
            keras_model, chosen, subject, other_class, names, out_dir, result, on_progress
        )
    report_progress(on_progress, "done", steps, steps)
    return result


def _model_pictures(model, keras_model, subject: Subject, out_dir: Path, result) -> None:
    """The pictures that need no gradient: first-layer filters, feature maps (int8 beside
    float, or the float model's alone) and the hand-made filters."""
    filters = first_layer_filters(model) if model else keras_first_filters(keras_model)
    if filters is None:
        result.skipped.append("filters: the model has no convolution")
    else:
        source = "int8 weights x scale" if model else "float weights"
        result.pictures.append(
            draw_filters(filters[0], filters[1], source, out_dir / "filters.png")
        )
    if model is not None:
        maps = int8_feature_maps(model, subject.quantized, keras_model, subject.float_image)
    else:
        maps = float_feature_maps(keras_model, subject.float_image)
    if not maps:
        result.skipped.append("feature maps: the model has no convolution or pooling layer")
    for number, feature in enumerate(maps, 1):
        path = out_dir / f"feature_maps_{number:02d}_{feature.name}.png"
        result.pictures.append(draw_feature_map(feature, subject, path))
    if subject.float_image.shape[-1] == 1:
        result.pictures.append(draw_handmade(subject, out_dir / "handmade_filters.png"))
    else:
        result.skipped.append("hand-made filters: shown for grey images only")


def _class_names(target: Path, model, keras_model) -> list[str]:
    """The classes' names: the int8 model's (``class_names``), or the run's for a float-only
    run (its config.json), else ``class 0`` ... ``class N-1``."""
    from tinycnn.model.metadata import class_names
    from tinycnn.rundir import class_names as run_class_names

    if model is not None:
        return class_names(int8_model_path(target), model)
    count = int(keras_model.output_shape[-1])
    names = run_class_names(target) or []
    return names if len(names) == count else [f"class {i}" for i in range(count)]


def _value_range(target: Path, model, image, given: str | None) -> tuple[float, float]:
    """What a picture's pixels map onto: the model's input range (``given``, its metadata or
    its run's config). Fashion-MNIST test images (``--image N``) for a model that says
    nothing keep pixel / 255, as the test images do everywhere."""
    from tinycnn.quantization.inputs import InputError, input_range

    where = target / INT8_MODEL_FILE if target.is_dir() else target  # config.json is beside it
    if str(image).isdigit() and given is None:
        try:
            return input_range(where, model)
        except InputError:
            return FLOAT_RANGE
    return input_range(where, model, given)


def _check_gradient_request(model: Model | None, keras_model, layer, other_class):
    """The layer the gradient pictures use (None when the float model has no convolution),
    checked with ``--class`` before any work."""
    if model is not None:
        classes = int(np.prod(model.output_tensors()[0].shape))
    else:
        classes = int(np.prod(keras_model.output_shape[1:]))
    if other_class is not None and other_class >= classes:
        raise VisualizeError(
            f"--class: class {other_class} does not exist; the model has 0..{classes - 1}"
        )
    if keras_model is None:
        if layer is not None:  # a typo here was once silently ignored
            names = int8_layer_names(model)
            if layer not in names:
                raise VisualizeError(
                    f"--layer {layer}: no layer of that name in this model (its layers: "
                    f"{', '.join(sorted(names)[:12]) or 'none named'})"
                )
        return None
    from tinycnn.insight.explain import ExplainError, find_layer

    try:
        return find_layer(keras_model, layer)
    except ExplainError as exc:
        if layer is not None:
            raise VisualizeError(f"--layer: {exc}") from None
        return None


def _gradient_pictures(
    keras_model, chosen, subject, other_class, names, out_dir, result, on_progress
):
    """Filter patterns and DeepDream on ``chosen``; Grad-CAM on the last convolution."""
    from tinycnn.insight import explain

    report_progress(on_progress, f"gradient ascent on {chosen.name}", 2, 5)
    patterns = explain.maximize_filters(keras_model, chosen.name)
    result.pictures.append(draw_patterns(patterns, out_dir / f"filter_patterns_{chosen.name}.png"))
    report_progress(on_progress, f"DeepDream on {chosen.name}", 3, 5)
    dreamed = explain.deep_dream(keras_model, subject.float_image, chosen.name)
    result.pictures.append(
        draw_dream(subject, dreamed, chosen.name, out_dir / f"deep_dream_{chosen.name}.png")
    )
    report_progress(on_progress, "Grad-CAM", 4, 5)
    predicted = explain.grad_cam(keras_model, subject.float_image)
    if other_class is None:
        probabilities = np.asarray(keras_model(subject.float_image[np.newaxis], training=False))[0]
        other_class = int(np.argsort(probabilities)[-2])
    other = explain.grad_cam(keras_model, subject.float_image, other_class)
    cams = [("predicted", predicted), ("other class", other)]
    result.pictures.append(draw_grad_cam(subject, cams, names, out_dir / "grad_cam.png"))
