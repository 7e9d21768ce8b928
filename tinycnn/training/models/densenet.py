"""A small DenseNet (Huang et al. 2016): every layer's output concatenated to its input,
transition layers (1x1 conv, average pooling) between dense blocks."""

from __future__ import annotations

from tinycnn.training.models.blocks import channels, classifier, conv_bn


def dense_block(x, layers_in_block: int, growth: int, name: str):
    from tinycnn.tfenv import keras

    for i in range(layers_in_block):
        y = conv_bn(x, growth, 3, f"{name}_{i + 1}")
        x = keras.layers.Concatenate(name=f"{name}_{i + 1}_concat")([x, y])
    return x


def transition(x, name: str, compression: float = 0.5):
    from tinycnn.tfenv import keras

    x = conv_bn(x, max(4, int(x.shape[-1] * compression) // 4 * 4), 1, name)
    return keras.layers.AveragePooling2D(2, name=f"{name}_pool")(x)


def build_densenet_tiny(input_shape, num_classes, width: float = 1.0, depth: int | None = None):
    """Stem conv 3x3 (16 x ``width``) -> three dense blocks of ``depth`` (default 3) layers
    with growth 12 x ``width``, transitions halving channels and resolution -> GAP -> Dense."""
    from tinycnn.tfenv import keras

    depth = depth or 3
    growth = channels(12, width)
    inputs = keras.layers.Input(shape=input_shape, name="image")
    x = conv_bn(inputs, channels(16, width), 3, "stem")
    for block in range(1, 4):
        x = dense_block(x, depth, growth, f"d{block}")
        if block < 3:
            x = transition(x, f"t{block}")
    return keras.Model(inputs, classifier(x, num_classes), name="densenet_tiny")
