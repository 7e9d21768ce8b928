"""A small VGG (Simonyan and Zisserman 2014): stacks of 3x3 convolutions, max pooling."""

from __future__ import annotations

from tinycnn.training.models.blocks import channels, classifier, conv_bn


def build_vgg_tiny(input_shape, num_classes, width: float = 1.0, depth: int | None = None):
    """Three stages (16, 32, 64 channels x ``width``) of ``depth`` (default 2) 3x3 conv +
    BatchNorm + ReLU, each followed by 2x2 max pooling; global average pooling; Dense."""
    from tinycnn.tfenv import keras

    layers = keras.layers
    depth = depth or 2
    inputs = layers.Input(shape=input_shape, name="image")
    x = inputs
    for stage, base in enumerate((16, 32, 64), start=1):
        for i in range(depth):
            x = conv_bn(x, channels(base, width), 3, f"s{stage}_{i + 1}")
        x = layers.MaxPooling2D(2, padding="same", name=f"s{stage}_pool")(x)
    return keras.Model(inputs, classifier(x, num_classes, 0.2), name="vgg_tiny")
