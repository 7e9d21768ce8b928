"""Training data the user brings (``tinycnn train --data``): a folder of class folders of
pictures, or an ``.npz`` of arrays. Both become a ``Dataset`` like Fashion-MNIST's, so every
step after training (quantize, evaluate, verify, export, validation, report) reads it the same
way, from the run's config.

Folders: ``DIR/train/CLASS/*.png`` and ``DIR/test/CLASS/*.png`` (the test classes the train
ones), or ``DIR/CLASS/*.png`` with every fifth picture of each class held out for the test set.
Class names are the folder names, in sorted order; the pictures are put in one seeded order.
Pictures of any size are resized to ``input_size`` (height, width); without it they must all
have one size. ``channels`` is 1 (grayscale) or 3 (RGB); by default 1 when every picture is
grayscale, else 3.

``.npz``: ``x_train``, ``y_train``, ``x_test``, ``y_test``; x as uint8 pixels (0..255) or
floats in [0, 1], shaped [N, H, W] or [N, H, W, C]; y as class numbers 0..K-1; optionally
``class_names``; the training arrays are put in one seeded order (Keras holds out the last
``--validation-split`` of them). Either way the float input is pixel / 255, in [0, 1].
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinycnn.training.data import DataError, Dataset, load_fashion_mnist

PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
HELD_OUT_EVERY = 5  # DIR/CLASS/ layout: every fifth picture of a class is a test picture
SHUFFLE_SEED = 0  # the one order a user's pictures are put in
MAX_CLASSES = 127  # the serial protocol carries a true label as int8
NPZ_ARRAYS = ("x_train", "y_train", "x_test", "y_test")


def load_dataset(
    data: str | Path | None = None,
    data_dir=None,
    input_size: tuple[int, int] | list[int] | None = None,
    channels: int | None = None,
) -> Dataset:
    """Fashion-MNIST when ``data`` is None (from ``data_dir`` or the usual places), else the
    user's folder or .npz (see the module docstring). DataError names what is wrong."""
    if data is None:
        return load_fashion_mnist(data_dir)
    path = Path(data)
    size = tuple(input_size) if input_size else None
    if path.is_dir():
        return _from_folders(path, size, channels)
    if path.suffix.lower() == ".npz" and path.is_file():
        return _from_npz(path, size, channels)
    raise DataError(
        f"{path}: --data takes a folder of class folders of pictures, or an .npz file"
        + ("" if path.exists() else " (it does not exist)")
    )


def dataset_of_run(config: dict, data_dir=None) -> Dataset:
    """The data set a run (its config.json) was trained on."""
    train = config.get("train", {})
    return load_dataset(train.get("data"), data_dir, train.get("input_size"), train.get("channels"))


def _class_folders(folder: Path) -> dict[str, list[Path]]:
    """Class name -> its pictures, sorted; DataError for an empty class or no class at all."""
    classes = {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        pictures = sorted(p for p in sub.iterdir() if p.suffix.lower() in PICTURE_SUFFIXES)
        if not pictures:
            raise DataError(
                f"{sub}: a class folder with no pictures ({', '.join(PICTURE_SUFFIXES)})"
            )
        classes[sub.name] = pictures
    if len(classes) < 2:
        raise DataError(
            f"{folder}: {len(classes)} class folder(s); --data DIR needs one sub-folder of "
            "pictures per class (at least two), or train/ and test/ folders holding them"
        )
    if len(classes) > MAX_CLASSES:
        raise DataError(f"{folder}: {len(classes)} classes, at most {MAX_CLASSES} are supported")
    return classes


def _from_folders(folder: Path, size, channels) -> Dataset:
    if (folder / "train").is_dir():
        train = _class_folders(folder / "train")
        if not (folder / "test").is_dir():
            raise DataError(f"{folder}: has train/ but no test/ folder of the same classes")
        test = _class_folders(folder / "test")
        if sorted(test) != sorted(train):
            raise DataError(
                f"{folder}: test/ has classes {sorted(test)}, train/ has {sorted(train)}"
            )
    else:
        classes = _class_folders(folder)
        train = {
            c: [p for i, p in enumerate(ps) if i % HELD_OUT_EVERY] for c, ps in classes.items()
        }
        test = {c: ps[::HELD_OUT_EVERY] for c, ps in classes.items()}
    names = sorted(train)
    if not all(train.values()):
        empty = next(name for name in names if not train[name])
        raise DataError(
            f"{folder}: class {empty!r} has no training pictures left (every fifth is held out "
            "for the test set, the first of them included); give it more pictures"
        )
    train_paths = [(p, i) for i, name in enumerate(names) for p in train[name]]
    test_paths = [(p, i) for i, name in enumerate(names) for p in test[name]]
    # Seeded shuffles: Keras holds out the *last* --validation-split of the training images,
    # and `--validate N` sends the first N test images; neither should be one class.
    order = np.random.default_rng(SHUFFLE_SEED)
    train_paths = [train_paths[i] for i in order.permutation(len(train_paths))]
    test_paths = [test_paths[i] for i in order.permutation(len(test_paths))]
    every = [p for p, _ in train_paths + test_paths]
    size, channels = _picture_format(every, size, channels)
    return Dataset(
        train_images=_pictures([p for p, _ in train_paths], size, channels),
        train_labels=np.array([i for _, i in train_paths], dtype=np.uint8),
        test_images=_pictures([p for p, _ in test_paths], size, channels),
        test_labels=np.array([i for _, i in test_paths], dtype=np.uint8),
        source_dir=folder.resolve(),
        class_names=tuple(names),
        name=folder.resolve().name,
    )


def _open(path: Path):
    from PIL import Image, UnidentifiedImageError

    try:
        picture = Image.open(path)
        picture.load()
        return picture
    except (OSError, UnidentifiedImageError) as exc:
        raise DataError(f"{path}: not a readable picture ({exc})") from None


def _picture_format(paths: list[Path], size, channels) -> tuple[tuple[int, int], int]:
    """(height, width) and channels for every picture: as asked, else the pictures' own
    (DataError when their sizes differ)."""
    sizes, gray = {}, True
    for path in paths:
        picture = _open(path)
        sizes.setdefault((picture.height, picture.width), path)
        gray = gray and picture.mode in ("1", "L", "I", "I;16", "F")
    if size is None and len(sizes) > 1:
        (first, a), (second, b) = list(sizes.items())[:2]
        raise DataError(
            f"mixed picture sizes: {a} is {first[0]}x{first[1]}, {b} is {second[0]}x{second[1]}; "
            "pass --input-size HxW to resize them all"
        )
    return size or next(iter(sizes)), channels or (1 if gray else 3)


def eight_bit(picture):
    """A picture with 8 bits per channel: a 16-bit grey one (PIL's modes I;16 and I) scaled by
    1/257, as PIL's own conversion would clip it to 255 and see white; others as they are."""
    from PIL import Image

    if picture.mode in ("I;16", "I;16L", "I;16B", "I"):
        values = np.asarray(picture, dtype=np.float64)
        return Image.fromarray(np.clip(np.round(values / 257.0), 0, 255).astype(np.uint8), "L")
    return picture


def _pictures(paths: list[Path], size, channels: int) -> np.ndarray:
    """uint8 [N, H, W, C] pixels."""
    from PIL import Image

    height, width = size
    out = np.empty((len(paths), height, width, channels), dtype=np.uint8)
    for index, path in enumerate(paths):
        picture = eight_bit(_open(path)).convert("L" if channels == 1 else "RGB")
        if picture.size != (width, height):
            picture = picture.resize((width, height), Image.BILINEAR)
        out[index] = np.asarray(picture, dtype=np.uint8).reshape(height, width, channels)
    return out


def _from_npz(path: Path, size, channels) -> Dataset:
    try:
        archive = np.load(path, allow_pickle=False)
        missing = [name for name in NPZ_ARRAYS if name not in archive.files]
        if missing:
            raise DataError(
                f"{path}: no {', '.join(missing)} array; an .npz needs {', '.join(NPZ_ARRAYS)}"
            )
        arrays = {name: archive[name] for name in NPZ_ARRAYS}
        names = archive["class_names"].tolist() if "class_names" in archive.files else None
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable .npz file ({exc})") from None
    x_train, x_test = (_npz_pixels(path, name, arrays[name]) for name in ("x_train", "x_test"))
    if x_train.shape[1:] != x_test.shape[1:]:
        shapes = ["x".join(map(str, x.shape[1:])) for x in (x_train, x_test)]
        raise DataError(f"{path}: x_train pictures are {shapes[0]}, x_test ones {shapes[1]}")
    if size and tuple(x_train.shape[1:3]) != size:
        raise DataError(
            f"{path}: the pictures are {x_train.shape[1]}x{x_train.shape[2]}, not the --input-size asked"
        )
    if channels and x_train.shape[3] != channels:
        raise DataError(f"{path}: the pictures have {x_train.shape[3]} channels, not {channels}")
    y_train, y_test = (
        _npz_labels(path, name, arrays[name], len(x))
        for name, x in (("y_train", x_train), ("y_test", x_test))
    )
    order = np.random.default_rng(SHUFFLE_SEED).permutation(len(x_train))  # see _from_folders
    x_train, y_train = x_train[order], y_train[order]
    classes = int(max(y_train.max(), y_test.max())) + 1
    if names is not None and len(names) != classes:
        raise DataError(f"{path}: {len(names)} class_names for {classes} classes")
    return Dataset(
        train_images=x_train,
        train_labels=y_train,
        test_images=x_test,
        test_labels=y_test,
        source_dir=path.resolve(),
        class_names=tuple(str(n) for n in names)
        if names
        else tuple(f"class {i}" for i in range(classes)),
        name=path.stem,
    )


def _npz_pixels(path: Path, name: str, x: np.ndarray) -> np.ndarray:
    """uint8 pixels, or float32 values in [0, 1], as [N, H, W, C] with C 1 or 3."""
    if x.ndim == 3:
        x = x[..., np.newaxis]
    if x.ndim != 4 or x.shape[3] not in (1, 3) or not len(x):
        raise DataError(f"{path}: {name} is {list(x.shape)}; give [N, H, W] or [N, H, W, 1 or 3]")
    if x.dtype == np.uint8:
        return x
    if x.dtype.kind == "f" and np.isfinite(x).all() and 0 <= x.min() and x.max() <= 1:
        return x.astype(np.float32)
    raise DataError(f"{path}: {name} must be uint8 pixels or floats in [0, 1], not {x.dtype.name}")


def _npz_labels(path: Path, name: str, y: np.ndarray, count: int) -> np.ndarray:
    y = y.reshape(-1) if y.ndim == 2 and y.shape[1] == 1 else y
    if y.ndim != 1 or len(y) != count or y.dtype.kind not in "iu":
        raise DataError(
            f"{path}: {name} must be {count} integer class numbers, is {y.dtype.name} {list(y.shape)}"
        )
    if y.min() < 0 or y.max() >= MAX_CLASSES:
        raise DataError(f"{path}: {name} holds classes outside 0..{MAX_CLASSES - 1}")
    return y.astype(np.uint8)
