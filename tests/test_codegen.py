"""The generated C, compiled for this machine with -Wall -Wextra -Werror, against the
reference engine: all 10,000 test images, the TFLM repository's models, and per-op cases."""

import numpy as np
import pytest
from conftest import SHARED_MODELS
from op_harness import convert_case, random_inputs

from tinycnn.codegen.host import run_c
from tinycnn.codegen.identifiers import IDENTIFIER, c_identifier
from tinycnn.codegen.render import render_model
from tinycnn.ir import UnsupportedOperator
from tinycnn.quantization import quantize
from tinycnn.quantize import INT8_MODEL_FILE
from tinycnn.ref.runner import run_model
from tinycnn.tflite_io import read_model


def test_seed_cnn_all_test_images_bit_exact(seed_cnn_run, dataset):
    model = read_model(seed_cnn_run / INT8_MODEL_FILE)
    quant = model.input_tensors()[0].quantization
    images = quantize(
        dataset.test_images[..., None] / 255.0, quant.single_scale, quant.single_zero_point
    )
    assert len(images) == 10_000
    for convention, count in (("tflm", 10_000), ("tflite", 1000)):
        c_outputs = run_c(model, images[:count], convention)
        reference = run_model(model, images[:count], rounding=convention).outputs[0]
        mismatches = np.flatnonzero(np.any(c_outputs != reference, axis=1))
        assert mismatches.size == 0, f"{convention}: first mismatching image {mismatches[:1]}"


@pytest.mark.parametrize(
    "name, samples",
    [
        ("hello_world_int8.tflite", 256),
        ("micro_speech_quantized.tflite", 100),
        ("person_detect.tflite", 5),
    ],
)
def test_shared_models_bit_exact(name, samples):
    path = SHARED_MODELS / name
    if not path.is_file():
        pytest.skip(f"{path} absent")
    model = read_model(path)
    inputs = random_inputs(model, samples)
    for convention in ("tflm", "tflite"):
        assert np.array_equal(
            run_c(model, inputs, convention),
            run_model(model, inputs, rounding=convention).outputs[0],
        )


CASES = {
    "conv_1x9x9x3_k3_s2_same_relu6": (
        lambda k, L, x: L.Conv2D(5, 3, strides=2, padding="same", activation="relu6")(x),
        (9, 9, 3),
    ),
    "conv_1x8x7x2_k2x3_valid_nobias": (
        lambda k, L, x: L.Conv2D(4, (2, 3), use_bias=False)(x),
        (8, 7, 2),
    ),
    "dw_1x9x9x3_k3_s2_same_m2": (
        lambda k, L, x: L.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2)(x),
        (9, 9, 3),
    ),
    "maxpool_1x9x9x3_p3_s2_same": (
        lambda k, L, x: L.MaxPooling2D(3, strides=2, padding="same")(x),
        (9, 9, 3),
    ),
    "avgpool_1x7x7x3_p3_s2_same": (
        lambda k, L, x: L.AveragePooling2D(3, strides=2, padding="same")(x),
        (7, 7, 3),
    ),
    "gap_mean_1x7x7x4": (lambda k, L, x: L.GlobalAveragePooling2D()(L.Conv2D(4, 1)(x)), (7, 7, 3)),
    "add_residual": (lambda k, L, x: L.Add()([L.Conv2D(3, 3, padding="same")(x), x]), (6, 6, 3)),
    "zero_padding": (
        lambda k, L, x: L.Conv2D(2, 1)(L.ZeroPadding2D(((1, 2), (0, 1)))(x)),
        (6, 6, 3),
    ),
    "relu_standalone": (lambda k, L, x: L.ReLU()(x), (6, 6, 3)),
    "dense_softmax": (lambda k, L, x: L.Dense(7, activation="softmax")(L.Flatten()(x)), (4, 4, 3)),
}


@pytest.mark.parametrize("name", CASES)
def test_op_cases_bit_exact(name):
    build, shape = CASES[name]
    model = read_model(convert_case(build, shape, calibration_range=2.0))
    inputs = random_inputs(model)
    for convention in ("tflm", "tflite"):
        assert np.array_equal(
            run_c(model, inputs, convention),
            run_model(model, inputs, rounding=convention).outputs[0],
        )


def test_unsupported_op_is_named():
    model = read_model(convert_case(lambda k, L, x: L.LeakyReLU(0.1)(x), (4, 4, 2)))
    with pytest.raises(UnsupportedOperator, match=r"operator #0 LEAKY_RELU: no C kernel"):
        run_c(model, random_inputs(model, 2))


@pytest.mark.parametrize(
    "name", ["seed_cnn", "2-bad name*/x", "int", "__reserved", "ünïcode", "a" * 100, "", "_Upper"]
)
def test_identifiers_are_valid_c(name):
    identifier = c_identifier(name)
    assert IDENTIFIER.fullmatch(identifier) and len(identifier) <= 42


def test_weird_model_and_layer_names_compile(tmp_path):
    """Layer names with slashes, dots and '>' end up in comments, the file name (with comment
    markers and spaces) in the prefix and banner: none may break the C."""

    def build(keras, layers, x):
        x = layers.Conv2D(3, 3, name="conv.1/x>y")(x)
        return layers.Dense(4, name="dense/weird-name")(layers.Flatten(name="flat-ten")(x))

    content = convert_case(build, (5, 5, 1))
    model = read_model(content, name='9 bad*/ "model" /* name\\')
    generated = render_model(model, tmp_path / "out")
    assert IDENTIFIER.fullmatch(generated.prefix)
    inputs = random_inputs(model, 8)
    assert np.array_equal(
        run_c(model, inputs), run_model(model, inputs, rounding="tflm").outputs[0]
    )


def test_generated_files_carry_the_banner(seed_cnn_run, tmp_path):
    model = read_model(seed_cnn_run / INT8_MODEL_FILE)
    generated = render_model(model, tmp_path, prefix="seed")
    text = (tmp_path / "seed_model.c").read_text()
    assert text.startswith("/* Generated by tinycnn") and model.sha256 in text
    assert "Do not edit" in (tmp_path / "seed_model.h").read_text()
    assert f"static int8_t seed_arena[{generated.plan.arena_bytes}]" in text
    assert generated.weight_bytes > 30_000
