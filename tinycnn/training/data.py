"""Fashion-MNIST from the official IDX files, found offline first.

Search order for the directory holding the four ``*-idx?-ubyte.gz`` files:

1. ``data_dir`` (``--data-dir``), 2. ``$TINYCNN_DATA``: places the user named; if one is
   given and lacks a file, that is an error, not a reason to read some other copy;
3. Debian's ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``);
4. the Keras cache (``~/.keras/datasets/fashion-mnist``);
5. only then a download through ``keras.utils.get_file`` into that cache.
"""

from __future__ import annotations

import gzip
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinycnn.errors import TinycnnError

CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
IMAGE_SHAPE = (28, 28)
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
DOWNLOAD_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
INSTALL_HINT = (
    "install it with `apt-get install dataset-fashion-mnist`, or pass --data-dir / set "
    "TINYCNN_DATA to a folder holding the four *-ubyte.gz files"
)
FASHION_MNIST = "fashion-mnist"  # the data set's name in run configs and model metadata
FLOAT_RANGE = (0.0, 1.0)  # the models' float input: pixel / 255

# IDX magic: two zero bytes, the element type (0x08 = unsigned byte), the number of dims.
IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801


@dataclass(frozen=True)
class IdxFile:
    name: str
    magic: int
    count: int


FILES = {
    "train_images": IdxFile("train-images-idx3-ubyte.gz", IMAGES_MAGIC, 60_000),
    "train_labels": IdxFile("train-labels-idx1-ubyte.gz", LABELS_MAGIC, 60_000),
    "test_images": IdxFile("t10k-images-idx3-ubyte.gz", IMAGES_MAGIC, 10_000),
    "test_labels": IdxFile("t10k-labels-idx1-ubyte.gz", LABELS_MAGIC, 10_000),
}


class DataError(TinycnnError):
    """The dataset is missing, truncated or corrupt; the message says which file and the fix."""


@dataclass(frozen=True)
class Dataset:
    """A data set: uint8 images (Fashion-MNIST's ``[N, 28, 28]``, a user's ``[N, H, W, C]``, or
    float32 in [0, 1] from an .npz) and uint8 labels ``[N]``; see ``user_data``."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source_dir: Path
    class_names: tuple[str, ...] = CLASS_NAMES
    name: str = FASHION_MNIST
    input_range: tuple[float, float] = FLOAT_RANGE  # what ``to_float`` maps pixels to


def read_idx(path: Path, expected: IdxFile) -> np.ndarray:
    """Read one gzip-compressed IDX file, checking magic number, count, shape and length."""
    try:
        with gzip.open(path, "rb") as stream:
            raw = stream.read()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found; {INSTALL_HINT}") from None
    except EOFError:
        raise DataError(f"{path}: truncated gzip stream; {INSTALL_HINT}") from None
    except (OSError, zlib.error) as exc:
        raise DataError(f"{path}: not a readable gzip file ({exc}); {INSTALL_HINT}") from None

    if len(raw) < 8:
        raise DataError(f"{path}: too short for an IDX header; {INSTALL_HINT}")
    magic = int.from_bytes(raw[0:4], "big")
    if magic != expected.magic:
        raise DataError(
            f"{path}: bad IDX magic 0x{magic:08x}, expected 0x{expected.magic:08x}; {INSTALL_HINT}"
        )
    ndims = magic & 0xFF
    header_bytes = 4 + 4 * ndims
    if len(raw) < header_bytes:
        raise DataError(f"{path}: header cut short; {INSTALL_HINT}")
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndims))
    expected_dims = (expected.count, *IMAGE_SHAPE) if ndims == 3 else (expected.count,)
    if dims != expected_dims:
        raise DataError(f"{path}: shape {dims}, expected {expected_dims}; {INSTALL_HINT}")
    payload_bytes = int(np.prod(dims))
    if len(raw) != header_bytes + payload_bytes:
        raise DataError(
            f"{path}: {len(raw) - header_bytes} data bytes, expected {payload_bytes} "
            f"(truncated or padded); {INSTALL_HINT}"
        )
    array = np.frombuffer(raw, dtype=np.uint8, offset=header_bytes).reshape(dims)
    if ndims == 1 and array.max() >= len(CLASS_NAMES):
        raise DataError(f"{path}: label {array.max()} out of range 0..9; {INSTALL_HINT}")
    return array


def keras_cache_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets" / "fashion-mnist"


def _has_all_files(directory: Path) -> bool:
    return all((directory / spec.name).is_file() for spec in FILES.values())


def _download(cache_dir: Path) -> Path:
    """Fetch the four files with Keras's downloader into the Keras cache."""
    from tinycnn.tfenv import keras

    base_url = os.environ.get("TINYCNN_DATA_URL", DOWNLOAD_URL)
    # get_file falls back to /tmp/.keras when its cache folder does not exist yet.
    cache_dir.mkdir(parents=True, exist_ok=True)
    for spec in FILES.values():
        try:
            fetched = keras.utils.get_file(
                spec.name,
                origin=base_url + spec.name,
                cache_dir=str(cache_dir.parent.parent),
                cache_subdir=str(Path("datasets") / "fashion-mnist"),
            )
        except Exception as exc:  # get_file raises bare Exception subclasses of many kinds
            raise DataError(
                f"{cache_dir / spec.name}: not found and the download from {base_url} failed "
                f"({type(exc).__name__}); {INSTALL_HINT}"
            ) from None
        if Path(fetched).resolve() != (cache_dir / spec.name).resolve():
            raise DataError(
                f"{cache_dir}: not writable, the download went to {fetched}; {INSTALL_HINT}"
            )
    return cache_dir


def find_data_dir(data_dir: str | Path | None = None, allow_download: bool = True) -> Path:
    """Return the first folder in the search order that holds all four IDX files."""
    for label, named in (
        ("--data-dir", data_dir),
        ("TINYCNN_DATA", os.environ.get("TINYCNN_DATA")),
    ):
        if named:
            directory = Path(named).expanduser()
            missing = [s.name for s in FILES.values() if not (directory / s.name).is_file()]
            if missing:
                raise DataError(
                    f"{directory / missing[0]} (from {label}): file not found; {INSTALL_HINT}"
                )
            return directory
    searched = [DEBIAN_DIR, keras_cache_dir()]
    for directory in searched:
        if _has_all_files(directory):
            return directory
    if allow_download:
        return _download(keras_cache_dir())
    raise DataError(
        f"Fashion-MNIST not found in {', '.join(str(d) for d in searched)}; {INSTALL_HINT}"
    )


def load_fashion_mnist(data_dir: str | Path | None = None, allow_download: bool = True) -> Dataset:
    """Find and load the whole dataset (about 55 MB of uint8)."""
    directory = find_data_dir(data_dir, allow_download)
    arrays = {key: read_idx(directory / spec.name, spec) for key, spec in FILES.items()}
    return Dataset(source_dir=directory, **arrays)


def to_float(images: np.ndarray) -> np.ndarray:
    """Pixels -> the models' float32 input ``[N, H, W, C]`` in [0, 1]: uint8 ``[N, 28, 28]``
    (Fashion-MNIST) or ``[N, H, W, C]`` (a user's data set) / 255; float values (an .npz's,
    already in [0, 1]) as they are."""
    values = images.astype(np.float32)
    if images.dtype == np.uint8:
        values /= 255.0
    return values[..., np.newaxis] if values.ndim == 3 else values
