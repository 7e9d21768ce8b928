"""Augmentation (tinycnn/training/augment.py): every preset keeps shape, dtype and range and is
reproducible per seed, the flip mirrors left-right only, nothing of it is left in the trained
model, bad knobs are refused, and `tinycnn augment --preview` draws the grid."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from tinycnn.cli import cli
from tinycnn.training.augment import (
    PRESETS,
    AugmentError,
    augment_images,
    augmentation,
    training_batches,
)
from tinycnn.training.data import to_float
from tinycnn.training.models import load_trained_model
from tinycnn.training.train import train, train_config


@pytest.fixture(scope="module")
def images(dataset):
    return to_float(dataset.train_images[:32])


@pytest.mark.parametrize("preset", list(PRESETS))
def test_augmentation_keeps_shape_dtype_and_range(preset, images):
    out = augment_images(images, PRESETS[preset], seed=3)
    assert out.shape == images.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    if preset == "none":
        assert np.array_equal(out, images)
    else:
        assert not np.array_equal(out, images)
    assert PRESETS[preset].flip in ("none", "horizontal")  # clothes do not stand on their heads


def test_augmentation_is_reproducible_per_seed(images):
    strong = PRESETS["strong"]
    assert np.array_equal(augment_images(images, strong, 5), augment_images(images, strong, 5))
    assert not np.array_equal(augment_images(images, strong, 5), augment_images(images, strong, 6))
    labels = np.arange(len(images))
    first = [b for b in training_batches(images, labels, 8, strong, 9)]
    second = [b for b in training_batches(images, labels, 8, strong, 9)]
    for (xa, ya), (xb, yb) in zip(first, second, strict=True):
        assert np.array_equal(xa, xb) and np.array_equal(ya, yb)
    assert np.array_equal(np.concatenate([y for _, y in first]), labels)  # order and labels kept


def test_flip_alone_mirrors_left_right(images):
    out = augment_images(images, augmentation("none", flip="horizontal"), seed=1)
    for original, flipped in zip(images, out, strict=True):
        assert np.array_equal(flipped, original) or np.array_equal(flipped, original[:, ::-1])
    assert any(not np.array_equal(f, o) for f, o in zip(out, images, strict=True))


@pytest.mark.slow  # a real training run
def test_augmentation_is_off_at_evaluation(tmp_path, dataset):
    """Augmentation lives in the training pipeline, not in the model: the saved model has
    no augmentation layer and predicts the same image the same way every time."""
    run_dir = tmp_path / "run"
    train(train_config("lenet5", 1, 64, subset=200, augment="strong"), run_dir)
    model = load_trained_model(run_dir)
    assert not [layer for layer in model.layers if layer.name.startswith("random")]
    x = to_float(dataset.test_images[:8])
    assert np.array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))


def test_bad_augmentation_knobs():
    with pytest.raises(AugmentError, match="unknown augmentation 'wild'"):
        augmentation("wild")
    with pytest.raises(AugmentError, match="--rotate must be in"):
        augmentation("none", rotate=500.0)
    with pytest.raises(AugmentError, match="--flip must be one of"):
        augmentation("none", flip="vertical")


def test_augment_preview_cli(tmp_path):
    from PIL import Image

    out = tmp_path / "grid.png"
    runner = CliRunner()
    result = runner.invoke(
        cli,
        ["augment", "--preview", "--out", str(out), "--images", "3", "--variants", "4"]
        + ["--augment", "strong", "--scale", "2"],
    )
    assert result.exit_code == 0, result.output
    with Image.open(out) as picture:  # 3 rows, 5 tiles of 28 px with 2 px borders, x2
        assert picture.size == ((5 * 30 + 2) * 2, (3 * 30 + 2) * 2)
    result = runner.invoke(cli, ["augment", "--preview", "--out", str(out), "--flip", "vertical"])
    assert result.exit_code == 2 and "vertical" in result.output
    # its own earlier preview is replaced without --force; another picture needs it
    again = runner.invoke(cli, ["augment", "--preview", "--out", str(out), "--images", "1"])
    assert again.exit_code == 0, again.output
    with Image.open(out) as picture:
        assert picture.size[1] == (1 * 30 + 2) * 3
    Image.new("L", (4, 4)).save(tmp_path / "mine.png")
    refused = runner.invoke(cli, ["augment", "--preview", "--out", str(tmp_path / "mine.png")])
    assert refused.exit_code == 1 and "pass --force" in refused.output
    forced = [*["augment", "--preview", "--out", str(tmp_path / "mine.png")], "--force"]
    assert runner.invoke(cli, forced).exit_code == 0


def test_augment_help_says_what_augment_does():
    """Its help once promised "the model's own" preset and "test images": it takes the
    standard preset and training images."""
    from click.testing import CliRunner

    from tinycnn.cli import cli

    text = " ".join(CliRunner().invoke(cli, ["augment", "--help"]).output.split())
    assert "[default: standard]" in text and "Rows (training images)" in text
    assert "model's own" not in text and "test images" not in text
