"""The gradient pictures on real float models: Grad-CAM finds the one region a synthetic
task depends on, and gradient ascent finds inputs that excite a filter far more than noise."""

from __future__ import annotations

import numpy as np
import pytest

from tinycnn.insight.explain import ExplainError, deep_dream, find_layer, grad_cam, maximize_filters

pytestmark = pytest.mark.slow  # gradients on trained models

REGION = (slice(2, 12), slice(2, 12))  # top-left: the only place the class is decided


def _region_task(count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Noise images; class 1 has a bright 4x4 square somewhere inside the region, class 0
    has none: nothing outside the region tells the classes apart."""
    images = rng.uniform(0.0, 0.4, (count, 28, 28, 1)).astype(np.float32)
    labels = rng.integers(0, 2, count)
    for i in range(count):
        if labels[i]:
            y, x = rng.integers(2, 8, 2)
            images[i, y : y + 4, x : x + 4] = 1.0
    return images, labels


@pytest.fixture(scope="module")
def region_model():
    from tinycnn.tfenv import keras, tf

    tf.keras.utils.set_random_seed(3)
    layers = keras.layers
    model = keras.Sequential(
        [
            layers.Input((28, 28, 1)),
            layers.Conv2D(8, 3, activation="relu", padding="same", name="conv_a"),
            layers.MaxPooling2D(2),
            layers.Conv2D(16, 3, activation="relu", padding="same", name="conv_b"),
            layers.Flatten(),
            layers.Dense(2, activation="softmax", name="out"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    images, labels = _region_task(3000, np.random.default_rng(0))
    model.fit(images, labels, epochs=6, batch_size=64, verbose=0)
    test_images, test_labels = _region_task(300, np.random.default_rng(1))
    accuracy = model.evaluate(test_images, test_labels, verbose=0)[1]
    assert accuracy > 0.95, f"the synthetic task was not learned ({accuracy:.2f})"
    return model


def test_grad_cam_is_strongest_in_the_deciding_region(region_model):
    images, labels = _region_task(40, np.random.default_rng(2))
    inside = np.zeros((28, 28), bool)
    inside[REGION] = True
    checked = 0
    for image, label in zip(images, labels, strict=True):
        if label != 1:
            continue
        cam = grad_cam(region_model, image, class_index=1)
        assert cam.layer == "conv_b" and cam.score_kind == "logit" and cam.method == "hirescam"
        assert cam.upsampled.shape == (28, 28) and cam.heatmap.shape == (14, 14)
        peak = np.unravel_index(np.argmax(cam.upsampled), cam.upsampled.shape)
        assert inside[peak], f"Grad-CAM peaks at {peak}, outside the region"
        assert cam.upsampled[inside].mean() > 3 * cam.upsampled[~inside].mean()
        checked += 1
    assert checked >= 10


def test_grad_cam_methods_on_a_trained_cnn(seed_cnn_run, dataset):
    from tinycnn.training.data import to_float
    from tinycnn.training.models import load_trained_model

    model = load_trained_model(seed_cnn_run)
    image = to_float(dataset.test_images[:1])[0]
    for method in ("grad-cam", "hirescam"):
        cam = grad_cam(model, image, method=method)
        assert cam.method == method and cam.layer == "conv2" and cam.heatmap.shape == (11, 11)
        assert 0.0 <= cam.upsampled.min() and cam.upsampled.max() <= 1.0
    assert grad_cam(model, image).method == "hirescam"  # seed_cnn flattens after conv2
    with pytest.raises(ExplainError, match="unknown method 'cam'"):
        grad_cam(model, image, method="cam")


def test_gradient_ascent_excites_the_filter_far_above_noise(seed_cnn_run):
    from tinycnn.insight.explain import _pre_activation
    from tinycnn.training.models import load_trained_model

    model = load_trained_model(seed_cnn_run)
    filters = [0, 5, 17, 40, 63]
    patterns = maximize_filters(model, "conv2", filters, steps=60)
    assert patterns.images.shape == (5, 28, 28, 1)
    assert patterns.images.min() >= 0.0 and patterns.images.max() <= 1.0
    # What random inputs give, over 64 of them: the ascent must leave that far behind.
    noise = np.random.default_rng(7).uniform(0, 1, (64, 28, 28, 1)).astype(np.float32)
    responses = np.asarray(_pre_activation(model, find_layer(model, "conv2"))(noise))
    for i, f in enumerate(filters):
        baseline = responses[..., f].mean(axis=(1, 2))
        assert patterns.final_activation[i] > baseline.mean() + 5 * baseline.std(), f
        assert patterns.final_activation[i] > patterns.random_activation[i]


def test_deep_dream_changes_the_image_within_range(seed_cnn_run, dataset):
    from tinycnn.training.data import to_float
    from tinycnn.training.models import load_trained_model

    model = load_trained_model(seed_cnn_run)
    image = to_float(dataset.test_images[:1])[0]
    dreamed = deep_dream(model, image, "conv1", steps=10)
    assert dreamed.shape == image.shape
    assert 0.0 <= dreamed.min() and dreamed.max() <= 1.0
    assert np.abs(dreamed - image).mean() > 0.005


def test_unknown_layer_and_class_are_named(seed_cnn_run, dataset):
    from tinycnn.training.data import to_float
    from tinycnn.training.models import load_trained_model

    model = load_trained_model(seed_cnn_run)
    with pytest.raises(ExplainError, match="no image-shaped layer 'nope'; choose one of conv1"):
        find_layer(model, "nope")
    with pytest.raises(ExplainError, match="class 12 does not exist"):
        grad_cam(model, to_float(dataset.test_images[:1])[0], class_index=12)
