"""Data augmentation: Keras preprocessing layers applied on the fly to training batches.

An ``Augmentation`` is a set of knobs (rotation, shift, zoom, horizontal flip, brightness,
contrast, Gaussian noise, random erasing); presets name the usual sets. Clothes are
left-right symmetric, so the presets flip horizontally and never vertically. The layers run
in a ``tf.data`` map over training batches only (validation and test images are never
touched), each epoch from a seed derived from (run seed, epoch), so a run and its resumed
twin see the same images. Images stay float32 in [0, 1] with their shape.

Shifts move whole pixels (nearest sampling), so the ``light`` and ``standard`` presets
never blur: test images are sharp, and a model trained on softened copies of them loses
accuracy. Rotation and zoom resample bilinearly (each softens the image a little), so
they are only in ``strong``.
"""

from __future__ import annotations

import io
import math
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

from tinycnn.errors import TinycnnError
from tinycnn.settings import Setting, check_settings, settings_table

if TYPE_CHECKING:
    import numpy as np

FLIPS = ("none", "horizontal")


class AugmentError(TinycnnError):
    """An augmentation knob or preset out of range."""


@dataclass(frozen=True)
class Augmentation:
    rotate: float = 0.0  # degrees, both ways
    shift: float = 0.0  # fraction of the side, both axes
    zoom: float = 0.0  # fraction, in and out
    flip: str = "none"  # "none" or "horizontal"
    brightness: float = 0.0  # added, fraction of the [0, 1] range
    contrast: float = 0.0  # factor in [1 - c, 1 + c]
    noise: float = 0.0  # Gaussian standard deviation, on [0, 1] pixels
    erase: float = 0.0  # probability of erasing one random rectangle (up to a quarter of the image)

    def validate(self) -> None:
        for setting in KNOBS.values():
            setting.check(getattr(self, setting.name), AugmentError, setting.flag)

    @property
    def active(self) -> bool:
        return self != Augmentation()

    def describe(self) -> str:
        if not self.active:
            return "none"
        parts = [
            f"{f.name} {getattr(self, f.name)}"
            for f in fields(self)
            if getattr(self, f.name) != getattr(Augmentation(), f.name)
        ]
        return ", ".join(parts)

    def as_dict(self) -> dict:
        return asdict(self)


def _knob(name: str, high: float, metavar: str, help: str) -> Setting:
    return Setting(name, help, low=0.0, high=high, metavar=metavar)


# The knobs, each replacing its preset's value when given (`tinycnn train --rotate 10`).
KNOBS: dict[str, Setting] = settings_table(
    _knob("rotate", 180, "DEG", "Random rotation, degrees both ways (replaces the preset's)."),
    _knob("shift", 0.5, "FRAC", "Random translation, fraction of the side."),
    _knob("zoom", 0.9, "FRAC", "Random zoom in and out, fraction."),
    Setting(
        "flip",
        "Random horizontal flips (clothes are left-right symmetric; no vertical flips).",
        str,
        choices=FLIPS,
    ),
    _knob("brightness", 1, "FRAC", "Random brightness shift, fraction of the range."),
    _knob("contrast", 1, "FRAC", "Random contrast factor in [1 - FRAC, 1 + FRAC]."),
    _knob("noise", 1, "STD", "Gaussian noise standard deviation on [0, 1] pixels."),
    _knob("erase", 1, "P", "Random erasing: probability of blanking one rectangle with noise."),
)

# What `tinycnn augment --preview` draws, checked by `write_preview`.
PREVIEW_SETTINGS: dict[str, Setting] = settings_table(
    Setting("images", "Rows (training images).", int, 1, 64, default=8),
    Setting("variants", "Augmented copies per image.", int, 1, 16, default=7),
    Setting("scale", "Pixels per pixel.", int, 1, 8, default=3),
)

PRESETS: dict[str, Augmentation] = {
    "none": Augmentation(),
    "light": Augmentation(shift=0.05, flip="horizontal"),
    "standard": Augmentation(shift=0.1, flip="horizontal"),
    "strong": Augmentation(
        rotate=12.0,
        shift=0.12,
        zoom=0.15,
        flip="horizontal",
        brightness=0.1,
        contrast=0.2,
        noise=0.02,
        erase=0.3,
    ),
}


def augmentation(preset: str = "none", **knobs) -> Augmentation:
    """A preset with some knobs replaced (knobs given as None keep the preset's value)."""
    if preset not in PRESETS:
        raise AugmentError(f"unknown augmentation {preset!r}; known: {', '.join(PRESETS)}")
    chosen = replace(PRESETS[preset], **{k: v for k, v in knobs.items() if v is not None})
    chosen.validate()
    return chosen


def augmentation_layers(config: Augmentation, seed: int):
    """The Keras layers of ``config`` as one callable ``images -> images`` (training mode),
    seeded: the same seed and the same batches give the same outputs."""
    import numpy as np

    from tinycnn.tfenv import keras, tf

    layers = keras.layers
    seeds = np.random.SeedSequence([seed % 2**32, 7]).generate_state(8) % (2**31)
    steps = []
    if config.flip == "horizontal":
        steps.append(layers.RandomFlip("horizontal", seed=int(seeds[0])))
    if config.rotate:
        steps.append(
            layers.RandomRotation(config.rotate / 360.0, fill_mode="constant", seed=int(seeds[1]))
        )
    if config.zoom:
        steps.append(layers.RandomZoom(config.zoom, fill_mode="constant", seed=int(seeds[2])))
    if config.shift:
        steps.append(
            layers.RandomTranslation(  # nearest: whole-pixel shifts, no blur
                config.shift,
                config.shift,
                fill_mode="constant",
                interpolation="nearest",
                seed=int(seeds[3]),
            )
        )
    if config.brightness:
        steps.append(layers.RandomBrightness(config.brightness, (0.0, 1.0), seed=int(seeds[4])))
    if config.contrast:
        steps.append(layers.RandomContrast(config.contrast, seed=int(seeds[5])))
    if config.noise:
        steps.append(_gaussian_noise(config.noise, int(seeds[6])))
    if config.erase:
        steps.append(_random_erasing(config.erase, int(seeds[7])))
    model = keras.Sequential(steps, name="augmentation")

    def apply(images):
        return tf.clip_by_value(model(images, training=True), 0.0, 1.0) if steps else images

    return apply


def _gaussian_noise(stddev: float, seed: int):
    """Additive Gaussian noise from a seeded generator (Keras's GaussianNoise has no
    reproducible generator of its own in a tf.data map)."""
    from tinycnn.tfenv import keras, tf

    class GaussianNoise(keras.layers.Layer):
        def __init__(self):
            super().__init__(name="gaussian_noise")
            self.generator = tf.random.Generator.from_seed(seed)

        def call(self, images, training=None):
            return images + self.generator.normal(tf.shape(images), stddev=stddev)

    return GaussianNoise()


def _random_erasing(probability: float, seed: int):
    """Random erasing (Zhong et al. 2017): with ``probability``, one rectangle of 2 % to 25 %
    of the image, aspect 0.3 to 3.3, is filled with uniform noise."""
    from tinycnn.tfenv import keras, tf

    class RandomErasing(keras.layers.Layer):
        def __init__(self):
            super().__init__(name="random_erasing")
            self.generator = tf.random.Generator.from_seed(seed)

        def call(self, images, training=None):
            shape = tf.shape(images)
            batch, height, width = shape[0], shape[1], shape[2]
            h, w = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
            area = self.generator.uniform([batch], 0.02, 0.25) * h * w
            aspect = tf.exp(self.generator.uniform([batch], math.log(0.3), math.log(1 / 0.3)))
            eh = tf.clip_by_value(tf.round(tf.sqrt(area * aspect)), 1.0, h)
            ew = tf.clip_by_value(tf.round(tf.sqrt(area / aspect)), 1.0, w)
            top = tf.floor(self.generator.uniform([batch]) * (h - eh + 1))
            left = tf.floor(self.generator.uniform([batch]) * (w - ew + 1))
            erase = self.generator.uniform([batch]) < probability
            rows = tf.range(h)[tf.newaxis, :, tf.newaxis]
            cols = tf.range(w)[tf.newaxis, tf.newaxis, :]
            inside = (
                (rows >= top[:, None, None])
                & (rows < (top + eh)[:, None, None])
                & (cols >= left[:, None, None])
                & (cols < (left + ew)[:, None, None])
                & erase[:, None, None]
            )
            noise = self.generator.uniform(tf.shape(images))
            return tf.where(inside[..., tf.newaxis], noise, images)

    return RandomErasing()


def training_batches(
    x: np.ndarray, y: np.ndarray, batch_size: int, config: Augmentation, seed: int
):
    """A ``tf.data`` pipeline of (augmented images, labels) batches in the given order."""
    from tinycnn.tfenv import tf

    apply = augmentation_layers(config, seed)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)
    return dataset.map(lambda images, labels: (apply(images), labels)).prefetch(2)


def augment_images(images: np.ndarray, config: Augmentation, seed: int) -> np.ndarray:
    """Augment float32 images ``[N, 28, 28, 1]`` in [0, 1] once (for a preview or a test)."""
    import numpy as np

    return np.asarray(augmentation_layers(config, seed)(images))


def preview_grid(
    images: np.ndarray, config: Augmentation, seed: int, variants: int = 7
) -> np.ndarray:
    """uint8 grid: each row one original image followed by ``variants`` augmented copies,
    separated by a 2-pixel gray border."""
    import numpy as np

    rows = []
    copies = [augment_images(images, config, seed + k) for k in range(variants)]
    for i, original in enumerate(images):
        tiles = [original] + [c[i] for c in copies]
        rows.append(tiles)
    side = images.shape[1]
    pad = 2
    grid = np.full(
        (len(rows) * (side + pad) + pad, (variants + 1) * (side + pad) + pad), 128, np.uint8
    )
    for r, tiles in enumerate(rows):
        for c, tile in enumerate(tiles):
            top, left = pad + r * (side + pad), pad + c * (side + pad)
            grid[top : top + side, left : left + side] = np.round(tile[..., 0] * 255).astype(
                np.uint8
            )
    return grid


PREVIEW_SOFTWARE = "tinycnn augment --preview"  # the PNG text chunk that marks our previews


def _is_preview(path: Path) -> bool:
    """Whether ``path`` is a preview this command wrote (it may be replaced without --force)."""
    from PIL import Image

    try:
        with Image.open(path) as picture:
            return picture.info.get("Software") == PREVIEW_SOFTWARE
    except (OSError, ValueError):
        return False


def write_preview(
    out_path,
    config: Augmentation,
    images: int,
    variants: int,
    seed: int,
    scale: int,
    data_dir=None,
    force: bool = False,
) -> None:
    """A PNG grid of the first ``images`` training images and ``variants`` augmented copies of
    each, every pixel drawn ``scale`` x ``scale``; written whole or not at all, over an
    existing file only when it is an earlier preview or with ``force``."""
    from PIL import Image, PngImagePlugin

    from tinycnn.outputs import write_atomically
    from tinycnn.rundir import check_named_output
    from tinycnn.training.data import load_fashion_mnist, to_float

    check_settings(PREVIEW_SETTINGS, AugmentError, images=images, variants=variants, scale=scale)
    if Path(out_path).suffix.lower() != ".png":
        raise AugmentError(f"--out {out_path}: the preview is a PNG picture; give a .png name")
    check_named_output(out_path, "--out", force=force, ours=_is_preview)
    dataset = load_fashion_mnist(data_dir)
    grid = preview_grid(to_float(dataset.train_images[:images]), config, seed, variants)
    picture = Image.fromarray(grid).resize((grid.shape[1] * scale, grid.shape[0] * scale), 0)
    png, text = io.BytesIO(), PngImagePlugin.PngInfo()
    text.add_text("Software", PREVIEW_SOFTWARE)
    picture.save(png, format="PNG", pnginfo=text)
    write_atomically(out_path, png.getvalue())
