"""Fashion-MNIST loading: IDX validation, the search order, the download fallback."""

from __future__ import annotations

import functools
import gzip
import http.server
import shutil
import threading

import numpy as np
import pytest

from tinycnn.training import data
from tinycnn.training.data import FILES, DataError, IdxFile, find_data_dir, read_idx


def _write_idx(path, magic, dims, payload: bytes, compress=True):
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)
    raw = header + payload
    if compress:
        path.write_bytes(gzip.compress(raw))
    else:
        path.write_bytes(raw)
    return path


SMALL_IMAGES = IdxFile("images.gz", data.IMAGES_MAGIC, 3)
SMALL_LABELS = IdxFile("labels.gz", data.LABELS_MAGIC, 3)


def test_reads_valid_idx(tmp_path):
    pixels = np.arange(3 * 28 * 28, dtype=np.uint32).astype(np.uint8)
    path = _write_idx(tmp_path / "images.gz", data.IMAGES_MAGIC, (3, 28, 28), pixels.tobytes())
    images = read_idx(path, SMALL_IMAGES)
    assert images.shape == (3, 28, 28) and images.dtype == np.uint8
    np.testing.assert_array_equal(images.ravel(), pixels)


@pytest.mark.parametrize(
    "magic, dims, payload, message",
    [
        (0x00000802, (3, 28, 28), bytes(3 * 784), "bad IDX magic 0x00000802"),
        (data.IMAGES_MAGIC, (4, 28, 28), bytes(4 * 784), "shape (4, 28, 28), expected (3, 28, 28)"),
        (data.IMAGES_MAGIC, (3, 28, 27), bytes(3 * 756), "expected (3, 28, 28)"),
        (data.IMAGES_MAGIC, (3, 28, 28), bytes(3 * 784 - 5), "data bytes, expected 2352"),
        (data.IMAGES_MAGIC, (3, 28, 28), bytes(3 * 784 + 1), "truncated or padded"),
    ],
)
def test_rejects_bad_headers_and_lengths(tmp_path, magic, dims, payload, message):
    path = _write_idx(tmp_path / "images.gz", magic, dims, payload)
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        read_idx(path, SMALL_IMAGES)
    assert str(path) in str(info.value) and "dataset-fashion-mnist" in str(info.value)


def test_rejects_out_of_range_label(tmp_path):
    path = _write_idx(tmp_path / "labels.gz", data.LABELS_MAGIC, (3,), bytes([1, 10, 2]))
    with pytest.raises(DataError, match="label 10 out of range"):
        read_idx(path, SMALL_LABELS)


def test_truncated_gzip_names_the_file(tmp_path):
    good = gzip.compress(data.IMAGES_MAGIC.to_bytes(4, "big") + bytes(12 + 3 * 784))
    path = tmp_path / "images.gz"
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError, match="truncated gzip stream") as info:
        read_idx(path, SMALL_IMAGES)
    assert str(path) in str(info.value)


def test_corrupt_gzip_names_the_file(tmp_path):
    path = tmp_path / "images.gz"
    path.write_bytes(b"this is not gzip at all" * 10)
    with pytest.raises(DataError, match="not a readable gzip file") as info:
        read_idx(path, SMALL_IMAGES)
    assert str(path) in str(info.value)


def test_real_dataset_loads(dataset):
    assert dataset.train_images.shape == (60_000, 28, 28)
    assert dataset.test_images.shape == (10_000, 28, 28)
    # The official split is balanced: 6,000 and 1,000 images per class.
    assert np.bincount(dataset.train_labels).tolist() == [6000] * 10
    assert np.bincount(dataset.test_labels).tolist() == [1000] * 10
    assert dataset.class_names[0] == "T-shirt/top" and dataset.class_names[9] == "Ankle boot"
    assert 60 < dataset.train_images.mean() < 90  # real clothing, not zeros


@pytest.fixture
def isolated_search(tmp_path, monkeypatch):
    """Point the default locations at empty temporary folders."""
    monkeypatch.delenv("TINYCNN_DATA", raising=False)
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "debian")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    return tmp_path


def _copy_dataset(source, target):
    target.mkdir(parents=True, exist_ok=True)
    for spec in FILES.values():
        shutil.copy(source / spec.name, target / spec.name)
    return target


def test_search_order(isolated_search, dataset, monkeypatch):
    real = dataset.source_dir
    debian = _copy_dataset(real, data.DEBIAN_DIR)
    keras_cache = _copy_dataset(real, data.keras_cache_dir())
    assert find_data_dir(allow_download=False) == debian
    shutil.rmtree(debian)
    assert find_data_dir(allow_download=False) == keras_cache
    env_dir = _copy_dataset(real, isolated_search / "env")
    monkeypatch.setenv("TINYCNN_DATA", str(env_dir))
    assert find_data_dir(allow_download=False) == env_dir
    explicit = _copy_dataset(real, isolated_search / "explicit")
    assert find_data_dir(explicit, allow_download=False) == explicit


def test_named_folder_without_files_is_an_error(isolated_search, monkeypatch):
    with pytest.raises(DataError, match=r"from --data-dir\): file not found"):
        find_data_dir(isolated_search / "nowhere", allow_download=False)
    monkeypatch.setenv("TINYCNN_DATA", str(isolated_search / "empty"))
    with pytest.raises(DataError, match=r"from TINYCNN_DATA\): file not found"):
        find_data_dir(allow_download=False)


def test_nothing_found_lists_where_it_looked(isolated_search):
    with pytest.raises(DataError) as info:
        find_data_dir(allow_download=False)
    message = str(info.value)
    assert str(data.DEBIAN_DIR) in message and str(data.keras_cache_dir()) in message
    assert "apt-get install dataset-fashion-mnist" in message


@pytest.fixture
def loopback_server(dataset):
    """An HTTP server on 127.0.0.1 serving the real files, standing in for the download host."""
    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(dataset.source_dir)
    )
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    thread.join(timeout=5)


def test_download_fills_the_keras_cache(isolated_search, loopback_server, monkeypatch, dataset):
    monkeypatch.setenv("TINYCNN_DATA_URL", loopback_server)
    loaded = data.load_fashion_mnist()
    assert loaded.source_dir == data.keras_cache_dir()
    for spec in FILES.values():
        assert (data.keras_cache_dir() / spec.name).read_bytes() == (
            dataset.source_dir / spec.name
        ).read_bytes()
    np.testing.assert_array_equal(loaded.test_labels, dataset.test_labels)


def test_failed_download_is_one_clear_error(isolated_search, monkeypatch):
    monkeypatch.setenv("TINYCNN_DATA_URL", "http://127.0.0.1:9/")  # discard port: refused
    with pytest.raises(DataError, match="download from http://127.0.0.1:9/ failed"):
        data.load_fashion_mnist()
    # Nothing half-downloaded is left where the next search would take it for the dataset.
    assert not list(data.keras_cache_dir().glob("*.gz"))
