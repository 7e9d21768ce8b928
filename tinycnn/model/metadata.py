"""What a model file says about itself beyond its graph: the value range its float input was
trained on, its class names and the data set it learned from.

tinycnn writes them into the int8 file it makes, as one metadata entry named ``tinycnn`` (a
JSON object), so that a ``.tflite`` carried away from its run directory still prepares its
inputs and names its classes right. A model made elsewhere may carry a label file the TFLite
Support way: zipped after the flatbuffer (``labels.txt``, one name per line); its class
names come from there. Nothing here guesses: what a model does not say stays None.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from dataclasses import asdict, dataclass

from tinycnn.errors import TinycnnError

METADATA_NAME = "tinycnn"
# The float ranges models are commonly trained on, for messages (any finite low < high works).
COMMON_RANGES = ((0.0, 1.0), (0.0, 255.0), (-1.0, 1.0))


class MetadataError(TinycnnError):
    """Metadata or a label file that cannot be used."""


@dataclass(frozen=True)
class ModelMetadata:
    input_range: tuple[float, float] | None = None  # float input values: (low, high)
    class_names: tuple[str, ...] | None = None
    dataset: str | None = None  # what it was trained on: "fashion-mnist", a folder's name...

    def as_json(self) -> bytes:
        values = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}
        return json.dumps({k: v for k, v in values.items() if v is not None}).encode()

    def merged(self, other: ModelMetadata) -> ModelMetadata:
        """This metadata, with what it lacks taken from ``other``."""
        return ModelMetadata(
            self.input_range or other.input_range,
            self.class_names or other.class_names,
            self.dataset or other.dataset,
        )


def parse_input_range(text: str) -> tuple[float, float]:
    """``"0,1"`` -> (0.0, 1.0); MetadataError unless two finite numbers, low < high."""
    parts = text.split(",")
    try:
        low, high = (float(part) for part in parts)
    except ValueError:
        low = high = math.nan
    if len(parts) != 2 or not (math.isfinite(low) and math.isfinite(high) and low < high):
        common = " or ".join(f"{lo:g},{hi:g}" for lo, hi in COMMON_RANGES)
        raise MetadataError(
            f"input range must be LOW,HIGH with LOW < HIGH (e.g. {common}), got {text!r}"
        )
    return low, high


def read_metadata(content: bytes) -> ModelMetadata:
    """The ``tinycnn`` entry of a .tflite file, with class names from a zipped label file when
    the entry has none; empty metadata when the file says nothing."""
    import tflite

    model = tflite.Model.GetRootAsModel(content, 0)
    found = ModelMetadata()
    for index in range(model.MetadataLength()):
        entry = model.Metadata(index)
        if entry.Name() == METADATA_NAME.encode():
            found = _from_json(bytes(model.Buffers(entry.Buffer()).DataAsNumpy()))
    return found.merged(ModelMetadata(class_names=_zipped_labels(content)))


def _from_json(data: bytes) -> ModelMetadata:
    try:
        values = json.loads(data.decode())
        low_high = values.get("input_range")
        names = values.get("class_names")
        return ModelMetadata(
            tuple(float(v) for v in low_high) if low_high else None,
            tuple(str(n) for n in names) if names else None,
            values.get("dataset"),
        )
    except (ValueError, TypeError, AttributeError) as exc:
        raise MetadataError(f"the model's tinycnn metadata is damaged ({exc})") from None


def _zipped_labels(content: bytes) -> tuple[str, ...] | None:
    """Class names from a TFLite Support label file zipped after the model, if there is one."""
    if not zipfile.is_zipfile(io.BytesIO(content)):
        return None
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        names = [
            n for n in archive.namelist() if n.lower().endswith(".txt") and "label" in n.lower()
        ]
        if not names:
            return None
        lines = archive.read(names[0]).decode("utf-8", "replace").splitlines()
    labels = tuple(line.strip() for line in lines if line.strip())
    return labels or None


def with_metadata(content: bytes, metadata: ModelMetadata) -> bytes:
    """``content`` with its ``tinycnn`` entry set to ``metadata`` (replaced if present); the
    graph, its tensors and buffers are untouched."""
    from tinycnn.tfenv import flatbuffer_utils, tflite_schema

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    entries = [m for m in (model.metadata or []) if m.name != METADATA_NAME.encode()]
    buffer = tflite_schema.BufferT()
    buffer.data = list(metadata.as_json())
    model.buffers.append(buffer)
    entry = tflite_schema.MetadataT()
    entry.name, entry.buffer = METADATA_NAME, len(model.buffers) - 1
    model.metadata = [*entries, entry]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def run_metadata(config: dict) -> ModelMetadata:
    """What a run's int8 file says about itself: its input range, class names and data set
    (a run from before tinycnn recorded them was trained on Fashion-MNIST pixels / 255)."""
    from tinycnn.training.data import CLASS_NAMES, FASHION_MNIST, FLOAT_RANGE

    low_high = config.get("input_range") or FLOAT_RANGE
    return ModelMetadata(
        input_range=(float(low_high[0]), float(low_high[1])),
        class_names=tuple(config.get("class_names") or CLASS_NAMES),
        dataset=config.get("dataset") or FASHION_MNIST,
    )


def read_labels(path) -> tuple[str, ...]:
    """A label file: one class name per line (blank lines skipped)."""
    from pathlib import Path

    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise MetadataError(f"{path}: not a readable label file ({exc})") from None
    names = tuple(line.strip() for line in lines if line.strip())
    if not names:
        raise MetadataError(f"{path}: no class names in it (one name per line)")
    return names


def class_names(model_path, model, labels_file=None) -> list[str]:
    """The names of a classifier's outputs: ``labels_file`` (``--labels``), else the model's
    metadata, else the config.json of its run (beside the .tflite, a run or zoo:NAME), else
    ``class 0`` ... ``class N-1``. Names that do not match the output count are refused
    (from a label file) or not used."""
    from pathlib import Path

    from tinycnn.rundir import CONFIG_FILE, read_json

    (out,) = model.output_tensors()
    count = int(math.prod(out.shape[1:]))
    if labels_file is not None:
        names = read_labels(labels_file)
        if len(names) != count:
            raise MetadataError(
                f"{labels_file} has {len(names)} class names, the model has {count} outputs"
            )
        return list(names)
    config = Path(model_path).parent / CONFIG_FILE
    candidates = [model.metadata.class_names]
    if config.is_file():
        candidates.append(run_metadata(read_json(config)).class_names)
    for names in candidates:
        if names and len(names) == count:
            return list(names)
    return [f"class {i}" for i in range(count)]


CLASSES, RECONSTRUCTION, VECTOR = "classes", "reconstruction", "vector"


def output_kind(model, names) -> str:
    """What a model's output is, for what to show and what a board reports: RECONSTRUCTION for
    an output shaped as the input (an autoencoder: its anomaly score is the reconstruction
    error), CLASSES for a classifier (its last op a SOFTMAX, or its classes named), else VECTOR."""
    (inp,), (out,) = model.input_tensors(), model.output_tensors()
    if tuple(inp.shape[1:]) == tuple(out.shape[1:]):
        return RECONSTRUCTION
    last = model.operators[-1].opcode if model.operators else ""
    named = any(not name.startswith("class ") for name in names)
    return CLASSES if len(names) > 1 and (last == "SOFTMAX" or named) else VECTOR
