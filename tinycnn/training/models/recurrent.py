"""Recurrent models: a Fashion-MNIST image read row by row, 28 time steps of 28 pixels."""

from __future__ import annotations

BASE_UNITS = 32


def lstm_units(width: float) -> int:
    """The LSTM's units for ``--width``: 32 at 1; 0.5 gives 16, 4 gives 128."""
    return max(1, round(BASE_UNITS * width))


def build_lstm_rows(input_shape, num_classes, width: float = 1.0, depth: int | None = None):
    """Reshape the image [28, 28, 1] to 28 rows -> LSTM (32 x ``width`` units, the last
    hidden state) -> Dense ``num_classes`` softmax. ``depth`` stacks that many LSTMs (the
    ones before the last return their whole sequence)."""
    from tinycnn.tfenv import keras

    layers = keras.layers
    rows, columns = input_shape[0], input_shape[1] * input_shape[2]
    inputs = layers.Input(shape=input_shape, name="image")
    x = layers.Reshape((rows, columns), name="rows")(inputs)
    stacked = depth or 1
    for index in range(stacked):
        last = index == stacked - 1
        name = "lstm" if stacked == 1 else f"lstm{index + 1}"
        x = layers.LSTM(lstm_units(width), return_sequences=not last, name=name)(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="logits_softmax")(x)
    return keras.Model(inputs, outputs, name="lstm_rows")
