"""The model registry: every architecture ``tinycnn train --model NAME`` knows.

Each family lives in its own module and is listed here explicitly; add a model by writing
its builder and adding one ``ModelSpec`` line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tinycnn.errors import TinycnnError
from tinycnn.rundir import RunError, trained_model_path
from tinycnn.training.models import (
    densenet,
    efficientnet,
    inception,
    lenet,
    mlp,
    mobilenet,
    recurrent,
    resnet,
    seed_cnn,
    vgg,
)

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10


@dataclass(frozen=True)
class ModelSpec:
    """An architecture and how it trains by default. ``build(input_shape, num_classes,
    width, depth)`` returns an uncompiled tf_keras model; ``width`` scales channels, ``depth``
    repeats blocks (None: the architecture's own). ``recipe`` holds the training defaults
    (train.TrainConfig fields) that differ from plain Adam without augmentation."""

    name: str
    description: str
    build: Callable
    default_epochs: int
    default_batch_size: int
    learning_rate: float = 1e-3
    recipe: dict = field(default_factory=dict)
    scalable: bool = True  # accepts --width/--depth


# The zoo's recipe (chosen on the validation split): AdamW, cosine with 2 epochs of warm-up,
# label smoothing 0.1, standard augmentation.
ZOO_RECIPE = {
    "optimizer": "adamw",
    "weight_decay": 1e-4,
    "schedule": "cosine",
    "warmup_epochs": 2.0,
    "label_smoothing": 0.1,
    "augment": "standard",
}


def _zoo(name, description, build, epochs=40, batch_size=128, learning_rate=3e-3):
    return ModelSpec(name, description, build, epochs, batch_size, learning_rate, ZOO_RECIPE)


REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "dnn",
            "Flatten -> Dense 128 ReLU -> Dense 10 softmax (the course's first model)",
            mlp.build_dnn,
            default_epochs=20,
            default_batch_size=32,
            scalable=False,
        ),
        ModelSpec(
            "seed_cnn",
            "Conv 32 3x3 -> MaxPool -> Conv 64 3x3 -> MaxPool -> Dropout 0.5 -> Dense 10 softmax",
            seed_cnn.build_seed_cnn,
            default_epochs=15,
            default_batch_size=128,
            scalable=False,
        ),
        _zoo("lenet5", "LeNet-5: 5x5 convs, average pooling, dense 120-84-10", lenet.build_lenet5),
        _zoo(
            "lenet5_tanh",
            "LeNet-5 as published: the same layers with tanh activations",
            lenet.build_lenet5_tanh,
        ),
        _zoo("vgg_tiny", "VGG: stages of 3x3 conv + BN, max pooling", vgg.build_vgg_tiny),
        _zoo(
            "inception_tiny",
            "Inception: parallel 1x1 / 3x3 / two 3x3 / pool branches, concatenated",
            inception.build_inception_tiny,
        ),
        _zoo("resnet_tiny", "ResNet: residual blocks with BN", resnet.build_resnet_tiny),
        _zoo(
            "densenet_tiny",
            "DenseNet: dense concatenation, 1x1 + avg-pool transitions",
            densenet.build_densenet_tiny,
        ),
        _zoo(
            "mobilenet_tiny",
            "MobileNet: depthwise-separable blocks",
            mobilenet.build_mobilenet_tiny,
        ),
        _zoo(
            "efficientnet_tiny",
            "EfficientNet/MobileNetV3: inverted residuals, squeeze-excitation, hard-swish",
            efficientnet.build_efficientnet_tiny,
        ),
        ModelSpec(
            "lstm_rows",
            "Image rows as 28 time steps -> LSTM 32 units (x --width) -> Dense 10 softmax",
            recurrent.build_lstm_rows,
            default_epochs=15,
            default_batch_size=128,
            learning_rate=3e-3,
        ),
    )
}


class UnknownModel(TinycnnError):
    """A model name that is not in the registry."""


def get_model_spec(name: str) -> ModelSpec:
    """Look a model up by name; UnknownModel names the known ones."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownModel(f"unknown model {name!r}; known models: {', '.join(REGISTRY)}") from None


def load_trained_model(run_dir):
    """Load ``RUN_DIR/model.keras`` with the zoo's custom layers; RunError says why a folder
    is not a finished run or why its model cannot be read."""
    from tinycnn.tfenv import keras
    from tinycnn.training.models.blocks import custom_objects

    model_path = trained_model_path(run_dir)
    try:
        return keras.models.load_model(model_path, custom_objects=custom_objects())
    except Exception as exc:  # Keras raises many types for a damaged file
        raise RunError(f"{model_path} could not be loaded ({type(exc).__name__}: {exc})") from None


def models_table() -> str:
    """What `tinycnn models` prints: one line per architecture."""
    width = max(len(name) for name in REGISTRY)  # the longest name sets the column
    return "\n".join(
        f"{spec.name:<{width}}  {spec.description} "
        f"(default {spec.default_epochs} epochs, batch {spec.default_batch_size})"
        for spec in REGISTRY.values()
    )
