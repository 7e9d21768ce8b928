"""`tinycnn visualize` and `verify --plots`: the hand-made filters' arithmetic, int8 feature
maps that follow the float ones, and the PNGs each command writes on a real trained model."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from tinycnn.cli import cli
from tinycnn.insight.activations import (
    HANDMADE_FILTERS,
    convolve_valid,
    first_layer_filters,
    handmade_response,
    int8_feature_maps,
    max_pool_2x2,
)
from tinycnn.insight.visualize import model_subject

pytestmark = pytest.mark.slow  # pictures of a trained model


def _png_sizes(folder) -> dict[str, tuple[int, int]]:
    sizes = {}
    for path in sorted(folder.glob("*.png")):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
        with Image.open(path) as image:
            image.verify()
        with Image.open(path) as image:
            sizes[path.name] = image.size
    return sizes


def test_vertical_edge_filter_answers_a_vertical_edge_and_not_a_flat_image():
    edge = np.zeros((28, 28), np.float32)
    edge[:, 14:] = 1.0  # dark left half, bright right half
    flat = np.full((28, 28), 0.6, np.float32)
    kernel = HANDMADE_FILTERS["vertical edge"]
    convolved, pooled = handmade_response(edge, kernel)
    assert convolved.shape == (26, 26) and pooled.shape == (13, 13)
    # The step is seen where the window straddles it (output columns 12 and 13), 4 = 1+2+1.
    assert np.all(convolved[:, 12:14] == 4.0)
    assert np.all(np.delete(convolved, [12, 13], axis=1) == 0.0)
    assert np.all(pooled[:, 6] == 4.0)
    assert not np.any(handmade_response(flat, kernel)[0])  # a flat image: no response at all
    # The horizontal filter does not see a vertical edge.
    assert not np.any(handmade_response(edge, HANDMADE_FILTERS["horizontal edge"])[0])
    # Sharpen leaves a flat image as it was (its weights sum to 1).
    assert np.allclose(convolve_valid(flat, HANDMADE_FILTERS["sharpen"]), 0.6)


def test_max_pool_halves_and_keeps_the_largest():
    values = np.arange(36, dtype=np.float32).reshape(6, 6)
    pooled = max_pool_2x2(values)
    assert pooled.shape == (3, 3)
    assert pooled.tolist() == [[7, 9, 11], [19, 21, 23], [31, 33, 35]]
    assert max_pool_2x2(np.zeros((13, 13))).shape == (6, 6)  # the odd last row/column dropped


def test_int8_feature_maps_follow_the_float_ones(seed_cnn_run):
    from tinycnn.model.tflite_io import read_model
    from tinycnn.training.models import load_trained_model

    model = read_model(seed_cnn_run / "model_int8.tflite")
    subject = model_subject(model, None, 3)
    maps = int8_feature_maps(
        model, subject.quantized, load_trained_model(seed_cnn_run), subject.float_image
    )
    assert [(m.opcode, m.float_layer, m.int8.shape) for m in maps] == [
        ("CONV_2D", "conv1", (26, 26, 32)),
        ("MAX_POOL_2D", "pool1", (13, 13, 32)),
        ("CONV_2D", "conv2", (11, 11, 64)),
        ("MAX_POOL_2D", "pool2", (5, 5, 64)),
    ]
    for feature in maps:
        scale = model.tensors[
            model.operators[feature.op_index].outputs[0]
        ].quantization.single_scale
        error = np.abs(feature.float - feature.int8)
        assert error.mean() < scale, feature.name  # within an LSB on average
        assert np.corrcoef(feature.float.ravel(), feature.int8.ravel())[0, 1] > 0.99
    name, kernels = first_layer_filters(model)
    assert name == "conv1" and kernels.shape == (32, 3, 3)
    keras_kernels = load_trained_model(seed_cnn_run).get_layer("conv1").get_weights()[0]
    assert np.allclose(kernels, np.moveaxis(keras_kernels[:, :, 0, :], -1, 0), atol=0.02)


def test_visualize_writes_every_picture(seed_cnn_run, tmp_path):
    out = tmp_path / "pictures"
    result = CliRunner().invoke(
        cli, ["visualize", str(seed_cnn_run), "--image", "7", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    sizes = _png_sizes(out)
    assert sorted(sizes) == [
        "deep_dream_conv2.png",
        "feature_maps_01_conv1.png",
        "feature_maps_02_pool1.png",
        "feature_maps_03_conv2.png",
        "feature_maps_04_pool2.png",
        "filter_patterns_conv2.png",
        "filters.png",
        "grad_cam.png",
        "handmade_filters.png",
    ]
    for name, (width, height) in sizes.items():
        assert 300 <= width <= 2000 and 150 <= height <= 2000, (name, width, height)
    assert "not drawn" not in result.output


def test_visualize_a_tflite_alone_and_a_picture_file(seed_cnn_run, tmp_path, dataset):
    """No float model: the int8 pictures, and the reason for the others; a PNG as the image."""
    picture = tmp_path / "shirt.png"
    Image.fromarray(dataset.test_images[1]).resize((56, 56)).save(picture)
    model_path = tmp_path / "m.tflite"
    shutil.copy(seed_cnn_run / "model_int8.tflite", model_path)
    out = tmp_path / "pictures"
    result = CliRunner().invoke(
        cli,
        [
            "visualize",
            str(model_path),
            "--image",
            str(picture),
            "--out",
            str(out),
            "--layer",
            "conv1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert len(_png_sizes(out)) == 6  # filters, 4 feature maps, hand-made filters
    assert (
        "not drawn: Grad-CAM" in result.output and "gradients need a run directory" in result.output
    )


def test_visualize_before_quantizing_draws_the_float_model(seed_cnn_run, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    for name in ("model.keras", "config.json"):
        shutil.copy(seed_cnn_run / name, run / name)
    out = tmp_path / "pictures"
    result = CliRunner().invoke(cli, ["visualize", str(run), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert len(_png_sizes(out)) == 9
    assert "not drawn: int8 feature maps" in result.output and "tinycnn quantize" in result.output
    assert not (run / "model_int8.tflite").exists()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--image", "10000"], "--image 10000: the test set has images 0..9999"),
        (["--image", "nowhere.png"], "--image nowhere.png: no such file"),
        (["--layer", "dense"], "--layer: no image-shaped layer 'dense'; choose one of conv1"),
        (["--class", "10"], "--class: class 10 does not exist"),
    ],
)
def test_visualize_bad_requests_are_one_line_errors(seed_cnn_run, tmp_path, arguments, message):
    out = tmp_path / "pictures"
    result = CliRunner().invoke(
        cli, ["visualize", str(seed_cnn_run), "--out", str(out), *arguments]
    )
    assert result.exit_code == 1 and message in result.output, result.output
    assert "Traceback" not in result.output


def test_verify_plots(seed_cnn_run, tmp_path):
    out = tmp_path / "plots"
    result = CliRunner().invoke(
        cli, ["verify", str(seed_cnn_run), "--images", "60", "--plots", str(out)]
    )
    assert result.exit_code == 0, result.output
    sizes = _png_sizes(out)
    assert sorted(sizes) == ["sqnr_per_layer.png", "weight_ranges.png", "worst_layer_histogram.png"]
    assert all(width >= 400 and height >= 250 for width, height in sizes.values()), sizes


def test_verify_plots_without_a_float_model(tmp_path):
    from conftest import SHARED_MODELS

    model = SHARED_MODELS / "person_detect.tflite"
    if not model.is_file():
        pytest.skip(f"{model} not present")
    out = tmp_path / "plots"
    result = CliRunner().invoke(cli, ["verify", str(model), "--images", "2", "--plots", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(_png_sizes(out)) == ["weight_ranges.png"]
    assert "not drawn: SQNR chart and histogram" in result.output
