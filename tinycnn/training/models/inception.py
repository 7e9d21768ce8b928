"""A small GoogLeNet/Inception (Szegedy et al. 2014): parallel branches, concatenated."""

from __future__ import annotations

from tinycnn.training.models.blocks import channels, classifier, conv_bn


def inception_block(x, c: int, name: str):
    """1x1 | 1x1 -> 3x3 | 1x1 -> 3x3 -> 3x3 (a 5x5 as two 3x3) | 3x3 max pool -> 1x1,
    concatenated along channels."""
    from tinycnn.tfenv import keras

    layers = keras.layers
    b1 = conv_bn(x, c, 1, f"{name}_b1")
    b3 = conv_bn(conv_bn(x, c // 2, 1, f"{name}_b3r"), c, 3, f"{name}_b3")
    b5 = conv_bn(x, c // 4, 1, f"{name}_b5r")
    b5 = conv_bn(conv_bn(b5, c // 2, 3, f"{name}_b5a"), c // 2, 3, f"{name}_b5b")
    pool = layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    bp = conv_bn(pool, c // 2, 1, f"{name}_bp")
    return layers.Concatenate(name=f"{name}_concat")([b1, b3, b5, bp])


def build_inception_tiny(input_shape, num_classes, width: float = 1.0, depth: int | None = None):
    """Stem conv 3x3 (16 x ``width``) -> max pool -> ``depth`` (default 1) inception blocks
    (16 per branch) -> max pool -> ``depth`` blocks (32 per branch) -> GAP -> Dense."""
    from tinycnn.tfenv import keras

    layers = keras.layers
    depth = depth or 1
    inputs = layers.Input(shape=input_shape, name="image")
    x = conv_bn(inputs, channels(16, width), 3, "stem")
    x = layers.MaxPooling2D(2, name="stem_pool")(x)
    for i in range(depth):
        x = inception_block(x, channels(16, width), f"i1_{i + 1}")
    x = layers.MaxPooling2D(2, name="pool2")(x)
    for i in range(depth):
        x = inception_block(x, channels(32, width), f"i2_{i + 1}")
    return keras.Model(inputs, classifier(x, num_classes, 0.2), name="inception_tiny")
