"""The model registry: every architecture ``tinycnn train --model NAME`` knows.

Each family lives in its own module and is listed here explicitly; add a model by writing
its builder and adding one ``ModelSpec`` line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tinycnn.errors import TinycnnError
from tinycnn.models import mlp, seed_cnn

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    build: Callable  # (input_shape, num_classes) -> uncompiled tf_keras.Model
    default_epochs: int
    default_batch_size: int
    learning_rate: float = 1e-3


REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "dnn",
            "Flatten -> Dense 128 ReLU -> Dense 10 softmax (the course's first model)",
            mlp.build_dnn,
            default_epochs=20,
            default_batch_size=32,
        ),
        ModelSpec(
            "seed_cnn",
            "Conv 32 3x3 -> MaxPool -> Conv 64 3x3 -> MaxPool -> Dropout 0.5 -> Dense 10 softmax",
            seed_cnn.build_seed_cnn,
            default_epochs=15,
            default_batch_size=128,
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
