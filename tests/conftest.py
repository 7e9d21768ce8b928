"""Shared fixtures: the real dataset and one small real training run per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_MODELS = REPO_ROOT.parent / "shared" / "models"


@pytest.fixture(scope="session")
def dataset():
    from tinycnn.training.data import load_fashion_mnist

    return load_fashion_mnist(allow_download=False)


@pytest.fixture(scope="session")
def seed_cnn_run(tmp_path_factory) -> Path:
    """seed_cnn trained for 3 epochs on 20,000 images, then post-training quantized."""
    from tinycnn.quantization.quantize import quantize_run
    from tinycnn.training.train import TrainConfig, train

    run_dir = tmp_path_factory.mktemp("runs") / "seed_cnn"
    train(TrainConfig("seed_cnn", epochs=3, batch_size=128, subset=20_000, seed=1), run_dir)
    quantize_run(run_dir, calibration_samples=300)
    return run_dir
