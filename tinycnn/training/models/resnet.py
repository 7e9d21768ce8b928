"""A small ResNet (He et al. 2015): basic residual blocks with batch normalization."""

from __future__ import annotations

from tinycnn.training.models.blocks import channels, classifier, conv_bn


def residual_block(x, filters: int, strides: int, name: str):
    """conv 3x3 -> BN -> ReLU -> conv 3x3 -> BN, added to the input (through a 1x1 conv
    projection when the shape changes), then ReLU."""
    from tinycnn.tfenv import keras

    layers = keras.layers
    shortcut = x
    if strides != 1 or x.shape[-1] != filters:
        shortcut = conv_bn(x, filters, 1, f"{name}_proj", strides=strides, activation=None)
    y = conv_bn(x, filters, 3, f"{name}_a", strides=strides)
    y = conv_bn(y, filters, 3, f"{name}_b", activation=None)
    y = layers.Add(name=f"{name}_add")([shortcut, y])
    return layers.ReLU(name=f"{name}_out")(y)


def build_resnet_tiny(input_shape, num_classes, width: float = 1.0, depth: int | None = None):
    """Stem conv 3x3 (16 x ``width``) -> three stages (16, 32, 64 x ``width``; the last two
    halve the resolution) of ``depth`` (default 1) residual blocks -> GAP -> Dense."""
    from tinycnn.tfenv import keras

    depth = depth or 1
    inputs = keras.layers.Input(shape=input_shape, name="image")
    x = conv_bn(inputs, channels(16, width), 3, "stem")
    for stage, base in enumerate((16, 32, 64), start=1):
        for i in range(depth):
            strides = 2 if stage > 1 and i == 0 else 1
            x = residual_block(x, channels(base, width), strides, f"s{stage}_{i + 1}")
    return keras.Model(inputs, classifier(x, num_classes), name="resnet_tiny")
