"""What a model file says about itself (tinycnn/model/metadata.py): the ``tinycnn`` entry
written into real converted models and read back, a TFLite Support label file zipped after
the model, class names from every source, and the input range a user may give."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from tinycnn.model.interpreters import run_interpreter
from tinycnn.model.metadata import (
    MetadataError,
    ModelMetadata,
    class_names,
    parse_input_range,
    read_metadata,
    with_metadata,
)
from tinycnn.model.tflite_io import read_model


@pytest.fixture(scope="module")
def classifier() -> bytes:
    """A real converted 8x8x3 classifier with 4 outputs and no metadata of tinycnn's."""
    from op_harness import convert_case

    return convert_case(
        lambda keras, layers, x: layers.Dense(4)(layers.Flatten()(layers.Conv2D(2, 3)(x))),
        (8, 8, 3),
    )


def test_a_model_without_metadata_says_nothing(classifier):
    assert read_metadata(classifier) == ModelMetadata()
    assert read_model(classifier).metadata == ModelMetadata()


def test_metadata_round_trips_and_leaves_the_graph_as_it_was(classifier):
    said = ModelMetadata((0.0, 255.0), ("cat", "dog", "bird", "fish"), "pets")
    content = with_metadata(classifier, said)
    assert read_metadata(content) == said and read_model(content).metadata == said
    before, after = read_model(classifier), read_model(content)
    assert [t.name for t in before.tensors] == [t.name for t in after.tensors]
    assert all(
        np.array_equal(a.data, b.data)
        for a, b in zip(before.tensors, after.tensors, strict=True)
        if a.is_constant
    )
    inputs = np.random.default_rng(0).integers(-128, 128, (8, 8, 8, 3)).astype(np.int8)
    for engine in ("litert", "tflm"):
        assert np.array_equal(
            run_interpreter(engine, classifier, inputs), run_interpreter(engine, content, inputs)
        )
    replaced = with_metadata(content, ModelMetadata(input_range=(-1.0, 1.0)))
    assert read_metadata(replaced) == ModelMetadata(input_range=(-1.0, 1.0))


def test_class_names_from_a_zipped_label_file(classifier, tmp_path):
    """A TFLite Support model carries its label file zipped after the flatbuffer."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("labels.txt", "north\nsouth\n\neast\nwest\n")
    content = classifier + archive.getvalue()
    assert read_metadata(content).class_names == ("north", "south", "east", "west")
    model_path = tmp_path / "model.tflite"
    model_path.write_bytes(content)
    assert class_names(model_path, read_model(content)) == ["north", "south", "east", "west"]


def test_class_names_from_every_source(classifier, tmp_path):
    model_path = tmp_path / "model.tflite"
    model_path.write_bytes(classifier)
    model = read_model(classifier)
    assert class_names(model_path, model) == ["class 0", "class 1", "class 2", "class 3"]
    (tmp_path / "config.json").write_text('{"class_names": ["a", "b", "c", "d"]}')
    assert class_names(model_path, model) == ["a", "b", "c", "d"]
    labels = tmp_path / "labels.txt"
    labels.write_text("w\nx\ny\nz\n")
    assert class_names(model_path, model, labels) == ["w", "x", "y", "z"]
    labels.write_text("w\nx\ny\n")
    with pytest.raises(MetadataError, match="has 3 class names, the model has 4 outputs"):
        class_names(model_path, model, labels)
    # Ten Fashion-MNIST names never name a model with another output count.
    (tmp_path / "config.json").write_text('{"class_names": ["T-shirt/top", "Trouser"]}')
    assert class_names(model_path, model)[0] == "class 0"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("0,1", (0.0, 1.0)),
        ("0,255", (0.0, 255.0)),
        ("-1,1", (-1.0, 1.0)),
        ("-0.5,2.5", (-0.5, 2.5)),
    ],
)
def test_input_ranges(text, expected):
    assert parse_input_range(text) == expected


@pytest.mark.parametrize("text", ["1,0", "0", "0,1,2", "a,b", "nan,1", "0,inf", "1,1", ""])
def test_bad_input_ranges_are_refused(text):
    with pytest.raises(MetadataError, match="input range must be LOW,HIGH"):
        parse_input_range(text)
