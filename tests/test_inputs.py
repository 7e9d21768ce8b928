"""A picture becomes a model's input one way (tinycnn/quantization/inputs.py): the model's
image shape, the value range it was trained on, then its scale and zero point. Checked on a
real converted model whose input takes pixels 0..255 (scale 1, zero point -128, as a CIFAR-10
ResNet has), through the library and `tinycnn predict`."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from tinycnn.cli import cli
from tinycnn.model.metadata import ModelMetadata, with_metadata
from tinycnn.model.tflite_io import read_model
from tinycnn.quantization.inputs import (
    InputError,
    input_range,
    picture_values,
    prepare_pictures,
)


def _convert(build, input_shape, low, high) -> bytes:
    from tinycnn.quantization.quantize import convert_int8
    from tinycnn.tfenv import keras

    keras.utils.set_random_seed(0)
    inputs = keras.layers.Input(input_shape)
    model = keras.Model(inputs, build(keras.layers, inputs))
    calibration = np.random.default_rng(0).uniform(low, high, (100, *input_shape))
    calibration[0], calibration[1] = low, high  # the whole range, exactly
    return convert_int8(model, calibration.astype(np.float32))


@pytest.fixture(scope="module")
def pixels_model(tmp_path_factory) -> tuple:
    """A 32x32x3 classifier with 10 outputs calibrated on 0..255, written without metadata."""
    content = _convert(
        lambda layers, x: layers.Dense(10)(layers.GlobalAveragePooling2D()(layers.Conv2D(4, 3)(x))),
        (32, 32, 3),
        0.0,
        255.0,
    )
    folder = tmp_path_factory.mktemp("pixels")
    (folder / "model.tflite").write_bytes(content)
    return folder / "model.tflite", content


@pytest.fixture(scope="module")
def pictures(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("pictures")
    paths = {}
    for name, colour in (("black", (0, 0, 0)), ("white", (255, 255, 255)), ("red", (255, 0, 0))):
        paths[name] = folder / f"{name}.png"
        Image.new("RGB", (17, 9), colour).save(paths[name])
    paths["grey"] = folder / "grey.png"
    Image.new("L", (5, 5), 128).save(paths["grey"])
    return paths


def test_the_input_quantization_is_the_models(pixels_model):
    quant = read_model(pixels_model[1]).input_tensors()[0].quantization
    assert quant.single_scale == pytest.approx(1.0) and quant.single_zero_point == -128


def test_pictures_take_the_models_range(pixels_model, pictures):
    """Black and white span the int8 range when mapped onto 0..255; mapped onto 0..1 (the old
    way) both would land on -128/-127 and the model would see an almost constant input."""
    model = read_model(pixels_model[1])
    black, white = prepare_pictures([pictures["black"], pictures["white"]], model, (0.0, 255.0))
    assert black.shape == (32, 32, 3) and black.dtype == np.int8
    assert np.all(black == -128) and np.all(white == 127)
    red = prepare_pictures([pictures["red"]], model, (0.0, 255.0))[0]
    assert np.all(red[..., 0] == 127) and np.all(red[..., 1:] == -128)


def test_resize_and_channels(pictures):
    grey_as_rgb = picture_values([pictures["grey"]], (4, 6, 3), (-1.0, 1.0))
    assert grey_as_rgb.shape == (1, 4, 6, 3)
    assert np.allclose(grey_as_rgb, -1 + 128 * 2 / 255, atol=1e-6)
    rgb_as_grey = picture_values([pictures["white"]], (28, 28, 1), (0.0, 1.0))
    assert rgb_as_grey.shape == (1, 28, 28, 1) and np.allclose(rgb_as_grey, 1.0)


def test_the_range_comes_from_the_model_or_its_run_or_is_asked_for(pixels_model, tmp_path):
    path, content = pixels_model
    with pytest.raises(InputError, match="does not say what value range .* --input-range"):
        input_range(path, read_model(content))
    assert input_range(path, read_model(content), "0,255") == (0.0, 255.0)
    said = with_metadata(content, ModelMetadata(input_range=(0.0, 255.0)))
    assert input_range(tmp_path / "x.tflite", read_model(said)) == (0.0, 255.0)
    (tmp_path / "config.json").write_text('{"input_range": [-1, 1]}')
    assert input_range(tmp_path / "x.tflite", read_model(content)) == (-1.0, 1.0)


def test_predict_on_a_model_that_says_nothing_asks_for_the_range(pixels_model, pictures, tmp_path):
    path, _ = pixels_model
    out = tmp_path / "y.npy"
    args = ["predict", str(path), "--input", str(pictures["white"]), "--output", str(out)]
    result = CliRunner().invoke(cli, args)
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert result.exit_code == 1 and len(errors) == 1 and "--input-range" in errors[0]
    assert not out.exists()
    result = CliRunner().invoke(cli, [*args, "--input-range", "0,255"])
    assert result.exit_code == 0, result.output
    # Ten outputs, no softmax, no names anywhere: a vector, never Fashion-MNIST's classes.
    assert f"{pictures['white']}: [" in result.output and "(10 values)" in result.output
    assert "T-shirt" not in result.output


def test_predict_names_classes_from_a_label_file(pixels_model, pictures, tmp_path):
    path, _ = pixels_model
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(f"thing{i}" for i in range(10)))
    out = tmp_path / "y.npy"
    args = ["predict", str(path), "--input", str(pictures["red"]), "--output", str(out)]
    result = CliRunner().invoke(cli, [*args, "--input-range", "0,255", "--labels", str(labels)])
    assert result.exit_code == 0 and f"{pictures['red']}: thing" in result.output, result.output
    labels.write_text("one\ntwo\n")
    out.unlink()
    result = CliRunner().invoke(cli, [*args, "--input-range", "0,255", "--labels", str(labels)])
    assert result.exit_code == 1 and "has 2 class names, the model has 10 outputs" in result.output
    assert "Traceback" not in result.output and not out.exists()


def test_a_picture_for_a_model_that_takes_no_image_is_refused(pictures, tmp_path):
    content = _convert(lambda layers, x: layers.Dense(3)(x), (40,), -1.0, 1.0)
    (tmp_path / "features.tflite").write_bytes(content)
    out = tmp_path / "y.npy"
    result = CliRunner().invoke(
        cli,
        ["predict", str(tmp_path / "features.tflite"), "--input", str(pictures["grey"])]
        + ["--output", str(out), "--input-range", "-1,1"],
    )
    assert result.exit_code == 1, result.output
    assert "pictures need a model whose input is an image" in result.output
    assert "[1, 40]" in result.output and not out.exists()


def test_a_bad_input_range_is_one_line(pixels_model, pictures, tmp_path):
    path, _ = pixels_model
    out = tmp_path / "y.npy"
    result = CliRunner().invoke(
        cli,
        ["predict", str(path), "--input", str(pictures["red"]), "--output", str(out)]
        + ["--input-range", "255,0"],
    )
    assert result.exit_code == 1 and "input range must be LOW,HIGH" in result.output
    assert not out.exists()


def test_a_quantized_run_says_its_range_and_classes(seed_cnn_run):
    model = read_model(seed_cnn_run / "model_int8.tflite")
    assert model.metadata.input_range == (0.0, 1.0)
    assert model.metadata.class_names[0] == "T-shirt/top" and len(model.metadata.class_names) == 10
    assert model.metadata.dataset == "fashion-mnist"


@pytest.mark.parametrize("given", ["0,1", "-1,1", "1000,2000"])
def test_an_input_range_the_model_cannot_take_is_refused(pixels_model, given):
    """The model's int8 input covers 0..255: 0..1 would put every picture on two int8 values."""
    path, content = pixels_model
    with pytest.raises(InputError, match="is not what this model's input takes: .*covers 0..255"):
        input_range(path, read_model(content), given)


def _npy_predict(content: bytes, inputs: np.ndarray, tmp_path) -> str:
    (tmp_path / "m.tflite").write_bytes(content)
    np.save(tmp_path / "x.npy", inputs)
    result = CliRunner().invoke(
        cli,
        ["predict", str(tmp_path / "m.tflite"), "--input", str(tmp_path / "x.npy")]
        + ["--output", str(tmp_path / "y.npy"), "--force"],  # another model's y.npy before
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_predict_shows_what_the_outputs_are(tmp_path):
    """A softmax classifier: its top classes; an autoencoder (output shaped like its input):
    the reconstruction error, computed here again from the saved outputs; anything else: the
    vector. Twelve .npy rows: ten described, the rest counted."""
    rng = np.random.default_rng(0)
    classifier = _convert(lambda layers, x: layers.Dense(4, activation="softmax")(x), (6,), -1, 1)
    x = rng.integers(-128, 128, (12, 6)).astype(np.int8)
    shown = _npy_predict(classifier, x, tmp_path).splitlines()
    assert shown[1].startswith("#0: class ") and len(shown) == 12
    assert shown[-1] == "... and 2 more in the output file"

    autoencoder = _convert(lambda layers, x: layers.Dense(16)(layers.Dense(4)(x)), (16,), -1, 1)
    x = rng.integers(-128, 128, (3, 16)).astype(np.int8)
    lines = _npy_predict(autoencoder, x, tmp_path).splitlines()[1:]
    model = read_model(autoencoder)
    (inp,), (out,) = model.input_tensors(), model.output_tensors()
    y = np.load(tmp_path / "y.npy")
    real_in = inp.quantization.single_scale * (
        x.astype(np.float64) - inp.quantization.single_zero_point
    )
    real_out = out.quantization.single_scale * (
        y.astype(np.float64) - out.quantization.single_zero_point
    )
    for row, line in enumerate(lines):
        mse = float(np.mean((real_in[row] - real_out[row]) ** 2))
        assert line == f"#{row}: reconstruction error {mse:.4g} (mean squared)"

    regression = _convert(lambda layers, x: layers.Dense(3)(x), (5,), -1, 1)
    lines = _npy_predict(regression, rng.integers(-128, 128, (2, 5)).astype(np.int8), tmp_path)
    assert lines.splitlines()[1].startswith("#0: [") and "(3 values)" in lines


def test_a_16_bit_picture_is_its_8_bit_self(tmp_path):
    """A 16-bit grey PNG was clipped to 255 by PIL's conversion (nearly all white, the wrong
    class); it is scaled to 8 bits, for predict and for `train --data` alike."""
    from PIL import Image

    from tinycnn.quantization.inputs import picture_values
    from tinycnn.training.user_data import load_dataset

    deep = np.linspace(0, 65535, 24 * 24).reshape(24, 24).astype(np.uint16)
    shallow = np.round(deep / 257).astype(np.uint8)
    for folder in ("a", "b"):
        (tmp_path / "deep" / folder).mkdir(parents=True)
        for index in range(5):  # the fifth is held out for the test set
            Image.fromarray(deep).save(tmp_path / "deep" / folder / f"p{index}.png")
    Image.fromarray(shallow).save(tmp_path / "shallow.png")
    assert Image.open(tmp_path / "deep" / "a" / "p0.png").mode == "I;16"
    values = picture_values([tmp_path / "deep" / "a" / "p0.png"], (12, 12, 1), (0.0, 1.0))
    expected = picture_values([tmp_path / "shallow.png"], (12, 12, 1), (0.0, 1.0))
    assert np.array_equal(values, expected) and 0.4 < values.mean() < 0.6
    pixels = load_dataset(tmp_path / "deep").train_images[0, ..., 0]
    assert np.array_equal(pixels, shallow)
