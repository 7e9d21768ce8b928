"""Third-party-shaped int8 models for benchmarks/cortex_m.py: the layer kinds that models
nobody here trained bring to a Cortex-M, as Keras definitions converted by the real converter.

- ``kws_dscnn``: keyword spotting, MLPerf Tiny's DS-CNN on 49x10x1 MFCCs: a 10x4 stride-2
  convolution, four depthwise-separable blocks of 64 channels on 25x5, a global average pool
  over 25x5x64, 12 classes.
- ``resnet8``: MLPerf Tiny's CIFAR-10 ResNet on 32x32x3: three stages (16, 32, 64 channels) of
  one residual block each with int8 ADDs, a global average pool over 8x8x64.
- ``mobilenet_96``: MLPerf Tiny's visual-wake-words MobileNet v1 (alpha 0.25) on 96x96x3:
  thirteen depthwise-separable blocks down to 3x3x256, a global average pool, 2 classes.
- ``temporal_dw``: a temporal depthwise network on 30x1x40 (time x 1 x features): Kx1
  depthwise kernels of 3, 5, 10 and 15 steps between 1x1 convolutions, 12 classes.
- ``fc_autoencoder``: MLPerf Tiny's anomaly-detection autoencoder on 640 inputs: dense 128 x4,
  an 8-unit bottleneck, dense 128 x4, 640 outputs, batch normalization folded.

Weights are seeded random (batch normalization statistics included) and the calibration
inputs uniform random: instruction counts, flash and RAM do not depend on the values. Each
model is written once into benchmarks/models/ (not in git) and reused.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

MODELS_DIR = Path(__file__).resolve().parent / "models"


def _bn_relu(layers, x):
    return layers.ReLU()(layers.BatchNormalization()(x))


def kws_dscnn(keras):
    layers = keras.layers
    inputs = layers.Input((49, 10, 1))
    x = _bn_relu(layers, layers.Conv2D(64, (10, 4), strides=2, padding="same")(inputs))
    for _ in range(4):
        x = _bn_relu(layers, layers.DepthwiseConv2D(3, padding="same")(x))
        x = _bn_relu(layers, layers.Conv2D(64, 1)(x))
    x = layers.AveragePooling2D(pool_size=(25, 5))(x)
    outputs = layers.Dense(12, activation="softmax")(layers.Flatten()(x))
    return keras.Model(inputs, outputs, name="kws_dscnn")


def resnet8(keras):
    layers = keras.layers
    inputs = layers.Input((32, 32, 3))
    x = _bn_relu(layers, layers.Conv2D(16, 3, padding="same")(inputs))
    for filters, stride in ((16, 1), (32, 2), (64, 2)):
        y = _bn_relu(layers, layers.Conv2D(filters, 3, strides=stride, padding="same")(x))
        y = layers.BatchNormalization()(layers.Conv2D(filters, 3, padding="same")(y))
        if stride != 1:
            x = layers.Conv2D(filters, 1, strides=stride)(x)
        x = layers.ReLU()(layers.Add()([x, y]))
    x = layers.AveragePooling2D(pool_size=8)(x)
    outputs = layers.Dense(10, activation="softmax")(layers.Flatten()(x))
    return keras.Model(inputs, outputs, name="resnet8")


def mobilenet_96(keras):
    layers = keras.layers
    inputs = layers.Input((96, 96, 3))
    x = _bn_relu(layers, layers.Conv2D(8, 3, strides=2, padding="same")(inputs))
    blocks = [(16, 1), (32, 2), (32, 1), (64, 2), (64, 1), (128, 2)]
    blocks += [(128, 1)] * 5 + [(256, 2), (256, 1)]
    for filters, stride in blocks:
        x = _bn_relu(layers, layers.DepthwiseConv2D(3, strides=stride, padding="same")(x))
        x = _bn_relu(layers, layers.Conv2D(filters, 1)(x))
    x = layers.AveragePooling2D(pool_size=3)(x)
    outputs = layers.Dense(2, activation="softmax")(layers.Flatten()(x))
    return keras.Model(inputs, outputs, name="mobilenet_96")


def temporal_dw(keras):
    layers = keras.layers
    inputs = layers.Input((30, 1, 40))
    x = _bn_relu(layers, layers.Conv2D(64, 1)(inputs))
    for steps in (3, 5, 10, 15):
        x = _bn_relu(layers, layers.DepthwiseConv2D((steps, 1), padding="same")(x))
        x = _bn_relu(layers, layers.Conv2D(64, 1)(x))
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(12, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="temporal_dw")


def fc_autoencoder(keras):
    layers = keras.layers
    inputs = layers.Input((640,))
    x = inputs
    for units in (128, 128, 128, 128, 8, 128, 128, 128, 128):
        x = _bn_relu(layers, layers.Dense(units)(x))
    outputs = layers.Dense(640)(x)
    return keras.Model(inputs, outputs, name="fc_autoencoder")


BUILDERS = {
    "kws_dscnn": (kws_dscnn, "keyword spotting DS-CNN, 49x10x1 (MLPerf Tiny's shape)"),
    "resnet8": (resnet8, "CIFAR-10 ResNet-8 with residual ADDs, 32x32x3 (MLPerf Tiny's shape)"),
    "mobilenet_96": (
        mobilenet_96,
        "MobileNet v1 0.25 on 96x96x3 (MLPerf Tiny's visual wake words)",
    ),
    "temporal_dw": (temporal_dw, "temporal depthwise network, Kx1 kernels on 30x1x40"),
    "fc_autoencoder": (fc_autoencoder, "FC autoencoder on 640 inputs (MLPerf Tiny's shape)"),
}


def model_path(name: str) -> Path:
    """benchmarks/models/NAME.tflite, converted on first use."""
    path = MODELS_DIR / f"{name}.tflite"
    if path.is_file():
        return path
    from tinycnn.quantization.quantize import convert_int8
    from tinycnn.tfenv import keras

    keras.utils.set_random_seed(0)
    model = BUILDERS[name][0](keras)
    rng = np.random.default_rng(0)
    for layer in model.layers:  # batch normalization as training would leave it, not identity
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, gamma.shape),
                    rng.uniform(-0.2, 0.2, beta.shape),
                    rng.uniform(-0.2, 0.2, mean.shape),
                    rng.uniform(0.5, 1.5, var.shape),
                ]
            )
    calibration = rng.uniform(0, 1, size=(64, *model.input_shape[1:])).astype(np.float32)
    MODELS_DIR.mkdir(exist_ok=True)
    partial = path.with_suffix(".tflite.partial")
    partial.write_bytes(convert_int8(model, calibration))
    partial.replace(path)
    return path
