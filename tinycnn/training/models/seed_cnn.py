"""The seed notebook's CNN: two conv blocks and a dense classifier (about 35k parameters)."""

from __future__ import annotations


def build_seed_cnn(input_shape: tuple[int, ...], num_classes: int):
    """Conv2D 32 3x3 ReLU -> MaxPool 2 -> Conv2D 64 3x3 ReLU -> MaxPool 2 -> Flatten ->
    Dropout 0.5 -> Dense ``num_classes`` softmax."""
    from tinycnn.tfenv import keras

    layers = keras.layers
    return keras.Sequential(
        [
            layers.Input(shape=input_shape, name="image"),
            layers.Conv2D(32, 3, activation="relu", name="conv1"),
            layers.MaxPooling2D(2, name="pool1"),
            layers.Conv2D(64, 3, activation="relu", name="conv2"),
            layers.MaxPooling2D(2, name="pool2"),
            layers.Flatten(name="flatten"),
            layers.Dropout(0.5, name="dropout"),
            layers.Dense(num_classes, activation="softmax", name="logits_softmax"),
        ],
        name="seed_cnn",
    )
