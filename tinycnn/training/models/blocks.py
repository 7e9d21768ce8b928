"""Building blocks shared by the zoo's architectures (functional Keras)."""

from __future__ import annotations


def channels(base: int, width: float, multiple: int = 4) -> int:
    """``base`` channels scaled by ``width``, rounded to a ``multiple`` (at least one): by
    default 4, so int8 kernels and their im2col buffers stay word-aligned."""
    return max(multiple, int(round(base * width / multiple)) * multiple)


def conv_bn(x, filters: int, kernel: int, name: str, strides: int = 1, activation="relu"):
    """Conv (no bias: batch normalization brings it) -> BatchNorm -> activation; the converter
    folds the normalization into the convolution's weights and bias."""
    from tinycnn.tfenv import keras

    layers = keras.layers
    x = layers.Conv2D(
        filters, kernel, strides=strides, padding="same", use_bias=False, name=f"{name}_conv"
    )(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return activate(x, activation, name)


def depthwise_bn(x, kernel: int, name: str, strides: int = 1, activation="relu"):
    from tinycnn.tfenv import keras

    layers = keras.layers
    x = layers.DepthwiseConv2D(
        kernel, strides=strides, padding="same", use_bias=False, name=f"{name}_dw"
    )(x)
    x = layers.BatchNormalization(name=f"{name}_dw_bn")(x)
    return activate(x, activation, f"{name}_dw")


def activate(x, activation, name: str):
    from tinycnn.tfenv import keras

    if activation is None:
        return x
    if activation == "hard_swish":
        return hard_swish_layer()(name=f"{name}_hswish")(x)
    return keras.layers.Activation(activation, name=f"{name}_{activation}")(x)


def classifier(x, num_classes: int, dropout: float = 0.0):
    """Global average pooling -> optional dropout -> Dense softmax."""
    from tinycnn.tfenv import keras

    layers = keras.layers
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    return layers.Dense(num_classes, activation="softmax", name="logits_softmax")(x)


_HARD_SWISH = []


def hard_swish_layer():
    """The HardSwish layer class, ``x * relu6(x + 3) / 6`` (the converter fuses the pattern
    into one HARD_SWISH op), defined on first use so that importing the zoo needs no TensorFlow."""
    if not _HARD_SWISH:
        from tinycnn.tfenv import keras, tf

        class HardSwish(keras.layers.Layer):
            def call(self, x):
                return x * tf.nn.relu6(x + 3.0) * (1.0 / 6.0)

        _HARD_SWISH.append(HardSwish)
    return _HARD_SWISH[0]


def custom_objects() -> dict:
    """What ``keras.models.load_model`` needs to read a zoo model back."""
    return {"HardSwish": hard_swish_layer()}
