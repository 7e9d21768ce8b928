"""Training on your own data (`train --data DIR|FILE.npz`, tinycnn/training/user_data.py): the
folder and .npz layouts, every mistake as one line with nothing written, and two runs through
the whole chain: scikit-learn's real 8x8 digits written out as PNG class folders, and a
generated 32x32x3 data set in an .npz."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from tinycnn.cli import cli
from tinycnn.training.data import DataError
from tinycnn.training.user_data import load_dataset

DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def _write_pictures(folder, pictures, mode="L"):
    folder.mkdir(parents=True, exist_ok=True)
    for index, pixels in enumerate(pictures):
        Image.fromarray(pixels, mode).save(folder / f"{index:04d}.png")


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """scikit-learn's 1,797 8x8 digits (0..16) as PNG folders named after their digit."""
    from sklearn.datasets import load_digits

    data = load_digits()
    root = tmp_path_factory.mktemp("digits") / "digits"
    pixels = np.round(data.images * 255 / 16).astype(np.uint8)
    for digit, name in enumerate(DIGIT_NAMES):
        _write_pictures(root / name, pixels[data.target == digit])
    return root


def test_class_folders_become_a_data_set(digits):
    dataset = load_dataset(digits, input_size=(16, 16))
    assert dataset.class_names == tuple(sorted(DIGIT_NAMES)) and dataset.name == "digits"
    assert dataset.train_images.shape[1:] == (16, 16, 1) and dataset.train_images.dtype == np.uint8
    assert len(dataset.train_images) + len(dataset.test_images) == 1797
    assert 0.19 < len(dataset.test_images) / 1797 < 0.21  # every fifth picture of each class
    # shuffled once, seeded: the held-out last tenth and the first test images mix the classes
    assert len(set(dataset.train_labels[-180:])) == 10 and len(set(dataset.test_labels[:30])) > 5
    again = load_dataset(digits, input_size=(16, 16))
    assert np.array_equal(again.train_labels, dataset.train_labels)
    native = load_dataset(digits)  # no --input-size: the pictures' own size
    assert native.train_images.shape[1:] == (8, 8, 1)
    rgb = load_dataset(digits, channels=3)
    assert rgb.train_images.shape[1:] == (8, 8, 3)


def test_train_and_test_folders_and_an_npz(tmp_path):
    rng = np.random.default_rng(0)
    for split, count in (("train", 6), ("test", 2)):
        for name in ("cat", "dog"):
            _write_pictures(
                tmp_path / "pets" / split / name,
                rng.integers(0, 256, (count, 5, 7, 3), dtype=np.uint8),
                "RGB",
            )
    pets = load_dataset(tmp_path / "pets")
    assert pets.class_names == ("cat", "dog") and pets.train_images.shape == (12, 5, 7, 3)
    assert len(pets.test_images) == 4
    x = rng.uniform(0, 1, (20, 6, 6)).astype(np.float32)
    np.savez(
        tmp_path / "set.npz",
        x_train=x,
        y_train=np.arange(20) % 3,
        x_test=x[:5],
        y_test=np.arange(5) % 3,
        class_names=np.array(["a", "b", "c"]),
    )
    arrays = load_dataset(tmp_path / "set.npz")
    assert arrays.class_names == ("a", "b", "c") and arrays.train_images.shape == (20, 6, 6, 1)
    assert arrays.train_images.dtype == np.float32 and arrays.name == "set"


def _npz(path, **changes):
    arrays = {
        "x_train": np.zeros((8, 6, 6), np.uint8),
        "y_train": np.arange(8) % 2,
        "x_test": np.zeros((4, 6, 6), np.uint8),
        "y_test": np.arange(4) % 2,
    }
    arrays.update(changes)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: _npz(p / "a.npz", y_test=None), "no y_test array"),
        (lambda p: _npz(p / "a.npz", y_train=np.arange(7)), "y_train must be 8 integer"),
        (lambda p: _npz(p / "a.npz", x_train=np.full((8, 6, 6), 2.0)), "floats in [0, 1]"),
        (
            lambda p: _npz(p / "a.npz", x_test=np.zeros((4, 5, 6), np.uint8)),
            "x_train pictures are 6x6x1, x_test ones 5x6x1",
        ),
        (lambda p: (p / "a.npz").write_bytes(b"not a zip") and p / "a.npz", "not a readable .npz"),
        (lambda p: (p / "one" / "x").mkdir(parents=True) or p / "one", "class folder with no"),
        (lambda p: (p / "only").mkdir() or p / "only", "0 class folder(s)"),
        (  # one picture each: all held out, none left to train on
            lambda p: (
                [_write_pictures(p / "few" / c, [np.zeros((4, 4), np.uint8)]) for c in "ab"]
                and p / "few"
            ),
            "class 'a' has no training pictures left",
        ),
        (lambda p: p / "missing", "does not exist"),
    ],
)
def test_a_bad_data_set_is_one_line(tmp_path, make, message):
    with pytest.raises(DataError, match=re.escape(message)):
        load_dataset(make(tmp_path))


def test_mixed_sizes_and_unreadable_pictures(tmp_path):
    _write_pictures(tmp_path / "mixed" / "a", [np.zeros((8, 8), np.uint8)] * 2)
    _write_pictures(tmp_path / "mixed" / "b", [np.zeros((9, 8), np.uint8)] * 2)
    with pytest.raises(DataError, match="mixed picture sizes: .* pass --input-size HxW"):
        load_dataset(tmp_path / "mixed")
    assert load_dataset(tmp_path / "mixed", input_size=(8, 8)).train_images.shape[1:] == (8, 8, 1)
    (tmp_path / "mixed" / "b" / "broken.png").write_bytes(b"\x89PNG nothing")
    with pytest.raises(DataError, match="broken.png: not a readable picture"):
        load_dataset(tmp_path / "mixed", input_size=(8, 8))


@pytest.mark.parametrize(
    "args, message",
    [
        (["--input-size", "16x16"], "--input-size and --channels are for your own --data"),
        (["--data", "{npz}", "--input-size", "16"], "'16' is not HEIGHTxWIDTH"),
        (["--data", "{npz}", "--input-size", "2x2"], "each side 4..1024"),
        (["--data", "{npz}", "--input-size", "8x8"], "not the --input-size asked"),
        (["--data", "{empty}"], "0 class folder(s)"),
    ],
)
def test_train_refuses_bad_data_requests_and_writes_nothing(tmp_path, args, message):
    npz = _npz(tmp_path / "a.npz")
    (tmp_path / "empty").mkdir()
    args = [a.format(npz=npz, empty=tmp_path / "empty") for a in args]
    result = CliRunner().invoke(cli, ["train", *args, "--out", str(tmp_path / "run")])
    assert result.exit_code != 0 and message in result.output, result.output
    assert "Traceback" not in result.output and not (tmp_path / "run").exists()


@pytest.mark.slow
def test_digits_run_through_the_whole_chain(digits, tmp_path):
    """Trains on the digit folders, quantizes, verifies bit-exact, exports for the Nano,
    validates on the emulated board (whole output tensors identical) and reports with the
    digits' class names."""
    run = tmp_path / "digits_run"
    runner = CliRunner()

    def ok(*args):
        result = runner.invoke(cli, [str(a) for a in args])
        assert result.exit_code == 0, result.output
        return result.output

    ok("train", "--data", digits, "--input-size", "16x16", "--epochs", "6", "--out", run)
    config = json.loads((run / "config.json").read_text())
    assert config["class_names"] == sorted(DIGIT_NAMES) and config["input_shape"] == [16, 16, 1]
    ok("quantize", run)
    evaluation = ok("evaluate", run)
    assert "seven" in evaluation and "test images      364" in evaluation
    verified = ok("verify", run, "--images", "100")
    assert "top-1 on 100 test images" in verified and "NOT" not in verified
    sketch = tmp_path / "digits_sketch"
    ok("export", run, "--board", "nano33", "--out", sketch)
    assert (sketch / "digits_sketch.ino").is_file()
    summary = json.loads(ok("emulate", run, "--validate", "30", "--json").splitlines()[-1])
    assert summary["answered"] == 30 and summary["agreement"] == 1.0
    assert summary["compared"] == "output tensor"
    assert summary["board_accuracy"] == summary["host_int8_accuracy"] > 0.5
    ok("report", run, "--no-emulate", "--images", "50")
    page = (run / "report.html").read_text()
    assert all(name in page for name in DIGIT_NAMES)


@pytest.mark.slow
def test_a_generated_rgb_npz_trains_and_validates(tmp_path):
    """32x32x3 pictures of three kinds (a red, a green or a blue square on noise) in an .npz:
    seed_cnn learns them, a zoo architecture adapts to the shape, and the board answers as the
    host."""
    rng = np.random.default_rng(1)

    def pictures(count):
        labels = rng.integers(0, 3, count)
        x = rng.integers(0, 80, (count, 32, 32, 3), dtype=np.uint8)
        for picture, label in zip(x, labels, strict=True):
            top, left = rng.integers(0, 20, 2)
            picture[top : top + 12, left : left + 12, label] = 255
        return x, labels

    (x_train, y_train), (x_test, y_test) = pictures(600), pictures(100)
    data = tmp_path / "squares.npz"
    np.savez(data, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    runner = CliRunner()

    def train(name, *args):
        run = tmp_path / name
        arguments = ["train", "--data", data, "--batch-size", "32", *args, "--out", run]
        result = runner.invoke(cli, [str(a) for a in arguments])
        assert result.exit_code == 0, result.output
        return run

    seed = train("seed_run", "--epochs", "6")
    assert json.loads((seed / "metrics.json").read_text())["test_accuracy"] > 0.9
    # A zoo architecture built for 32x32x3 and three classes, 57 steps in all: its batch
    # normalization's moving statistics, taken again for the final weights, are its own (the
    # ones Keras kept while fitting trailed the weights, and it answered at chance: 28 %).
    mobilenet = train(
        "mobilenet_run", "--model", "mobilenet_tiny", "--width", "0.5", "--epochs", "3"
    )
    assert json.loads((mobilenet / "metrics.json").read_text())["test_accuracy"] > 0.9
    assert runner.invoke(cli, ["quantize", str(mobilenet)]).exit_code == 0
    result = runner.invoke(cli, ["emulate", str(mobilenet), "--validate", "20", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.splitlines()[-1])
    assert summary["agreement"] == 1.0 and summary["outputs"] == 3
    config = json.loads((mobilenet / "config.json").read_text())
    assert config["input_shape"] == [32, 32, 3] and config["dataset"] == "squares"
