"""A small MobileNet (Howard et al. 2017): depthwise-separable convolutions."""

from __future__ import annotations

from tinycnn.training.models.blocks import channels, classifier, conv_bn, depthwise_bn

# (channels, stride, repeats at depth 1) per stage, on a 28x28 input
STAGES = ((32, 2, 2), (64, 2, 3), (128, 2, 1))


def separable_block(x, filters: int, strides: int, name: str):
    """Depthwise 3x3 -> BN -> ReLU -> pointwise 1x1 -> BN -> ReLU."""
    x = depthwise_bn(x, 3, name, strides=strides)
    return conv_bn(x, filters, 1, f"{name}_pw")


def build_mobilenet_tiny(input_shape, num_classes, width: float = 1.0, depth: int | None = None):
    """Stem conv 3x3 (16 x ``width``) at full resolution -> three stages of separable blocks
    (32, 64, 128 x ``width``; each halves the resolution; 2, 3, 1 blocks, x ``depth``,
    default 1) -> GAP -> dropout 0.1 -> Dense."""
    from tinycnn.tfenv import keras

    depth = depth or 1
    inputs = keras.layers.Input(shape=input_shape, name="image")
    x = conv_bn(inputs, channels(16, width), 3, "stem")
    for stage, (base, strides, repeats) in enumerate(STAGES, start=1):
        for i in range(repeats * depth):
            x = separable_block(
                x, channels(base, width), strides if i == 0 else 1, f"s{stage}_{i + 1}"
            )
    return keras.Model(inputs, classifier(x, num_classes, 0.1), name="mobilenet_tiny")
