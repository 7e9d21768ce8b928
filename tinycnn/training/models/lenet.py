"""LeNet-5 (LeCun et al. 1998) for 28x28 inputs: 5x5 convolutions, average pooling, three
dense layers."""

from __future__ import annotations

from tinycnn.training.models.blocks import channels


def build_lenet5(
    input_shape, num_classes, width: float = 1.0, depth: int | None = None, activation="relu"
):
    """Conv 6 5x5 same -> AvgPool 2 -> Conv 16 5x5 valid -> AvgPool 2 -> Dense 120 -> Dense 84
    -> Dense ``num_classes`` softmax, ``activation`` after every hidden layer (ReLU, or the
    1998 paper's tanh); ``width`` scales every layer (the classic sizes at 1)."""
    from tinycnn.tfenv import keras

    layers = keras.layers
    inputs = layers.Input(shape=input_shape, name="image")
    x = layers.Conv2D(channels(6, width, 1), 5, padding="same", activation=activation, name="c1")(
        inputs
    )
    x = layers.AveragePooling2D(2, name="s2")(x)
    x = layers.Conv2D(channels(16, width, 1), 5, activation=activation, name="c3")(x)
    x = layers.AveragePooling2D(2, name="s4")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(channels(120, width, 1), activation=activation, name="f5")(x)
    x = layers.Dense(channels(84, width, 1), activation=activation, name="f6")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="logits_softmax")(x)
    return keras.Model(inputs, outputs, name="lenet5" if activation == "relu" else "lenet5_tanh")


def build_lenet5_tanh(input_shape, num_classes, width: float = 1.0, depth: int | None = None):
    """LeNet-5 in its classic form: the same layers with tanh activations (int8 TANH ops)."""
    return build_lenet5(input_shape, num_classes, width, depth, activation="tanh")
