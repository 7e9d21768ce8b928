"""A small EfficientNet / MobileNetV3 (Tan and Le 2019, Howard et al. 2019): inverted
residual blocks (expand 1x1, depthwise 3x3, squeeze-excitation, project 1x1) with hard-swish."""

from __future__ import annotations

from tinycnn.training.models.blocks import channels, classifier, conv_bn, depthwise_bn

# (output channels, stride, expansion, repeats at depth 1)
STAGES = ((16, 1, 1, 1), (24, 2, 4, 2), (40, 2, 4, 2), (64, 2, 4, 1))


def squeeze_excite(x, name: str, ratio: int = 4):
    """Global average pool -> 1x1 reduce (ReLU) -> 1x1 expand (sigmoid) -> scale the input."""
    from tinycnn.tfenv import keras

    layers = keras.layers
    c = x.shape[-1]
    s = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_se_pool")(x)
    s = layers.Conv2D(max(4, c // ratio), 1, activation="relu", name=f"{name}_se_reduce")(s)
    s = layers.Conv2D(c, 1, activation="sigmoid", name=f"{name}_se_expand")(s)
    return layers.Multiply(name=f"{name}_se_scale")([x, s])


def inverted_residual(x, filters: int, strides: int, expansion: int, name: str):
    from tinycnn.tfenv import keras

    shortcut = x
    y = x
    if expansion != 1:
        y = conv_bn(y, x.shape[-1] * expansion, 1, f"{name}_expand", activation="hard_swish")
    y = depthwise_bn(y, 3, name, strides=strides, activation="hard_swish")
    y = squeeze_excite(y, name)
    y = conv_bn(y, filters, 1, f"{name}_project", activation=None)
    if strides == 1 and shortcut.shape[-1] == filters:
        y = keras.layers.Add(name=f"{name}_add")([shortcut, y])
    return y


def build_efficientnet_tiny(input_shape, num_classes, width: float = 1.0, depth: int | None = None):
    """Stem conv 3x3 (16 x ``width``, hard-swish) -> inverted residual stages (16, 24, 40, 64
    x ``width``; repeats x ``depth``, default 1) -> 1x1 conv (128 x ``width``) -> GAP -> Dense."""
    from tinycnn.tfenv import keras

    depth = depth or 1
    inputs = keras.layers.Input(shape=input_shape, name="image")
    x = conv_bn(inputs, channels(16, width), 3, "stem", activation="hard_swish")
    for stage, (base, strides, expansion, repeats) in enumerate(STAGES, start=1):
        for i in range(repeats * depth):
            x = inverted_residual(
                x, channels(base, width), strides if i == 0 else 1, expansion, f"s{stage}_{i + 1}"
            )
    x = conv_bn(x, channels(128, width), 1, "head", activation="hard_swish")
    return keras.Model(inputs, classifier(x, num_classes, 0.2), name="efficientnet_tiny")
