"""Fully connected models."""

from __future__ import annotations


def build_dnn(input_shape: tuple[int, ...], num_classes: int):
    """Flatten -> Dense 128 ReLU -> Dense ``num_classes`` softmax."""
    from tinycnn.tfenv import keras

    layers = keras.layers
    return keras.Sequential(
        [
            layers.Input(shape=input_shape, name="image"),
            layers.Flatten(name="flatten"),
            layers.Dense(128, activation="relu", name="dense_128"),
            layers.Dense(num_classes, activation="softmax", name="logits_softmax"),
        ],
        name="dnn",
    )
