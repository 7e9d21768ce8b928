"""Float vs int8 accuracy on the full Fashion-MNIST test set."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinycnn.model.interpreters import run_interpreter
from tinycnn.model.tflite_io import read_model, read_tflite
from tinycnn.quantization.affine import quantize
from tinycnn.quantization.inputs import has_test_images, run_test_images
from tinycnn.rundir import CONFIG_FILE, MODEL_FILE, RunError, int8_model_path, read_json
from tinycnn.training.data import CLASS_NAMES, to_float
from tinycnn.training.models import load_trained_model
from tinycnn.training.user_data import dataset_of_run, load_dataset


@dataclass(frozen=True)
class Evaluation:
    float_accuracy: float
    int8_accuracy: float
    test_images: int
    agreement: float  # share of images where float and int8 predict the same class
    float_per_class: list[float]
    int8_per_class: list[float]
    int8_confusion: list[list[int]]  # rows: true class, columns: predicted class
    float_model_bytes: int
    int8_model_bytes: int
    class_names: tuple[str, ...] = CLASS_NAMES

    @property
    def difference_points(self) -> float:
        """int8 minus float accuracy, in percentage points."""
        return 100.0 * (self.int8_accuracy - self.float_accuracy)

    def as_dict(self) -> dict:
        return {
            **{k: v for k, v in self.__dict__.items() if k != "class_names"},
            "class_names": list(self.class_names),
            "difference_points": self.difference_points,
        }

    def describe(self) -> str:
        """The text `tinycnn evaluate` prints: accuracies, per class, the confusion matrix."""
        lines = [
            f"test images      {self.test_images}",
            f"float accuracy   {100 * self.float_accuracy:.2f} %  ({self.float_model_bytes} bytes, Keras)",
            f"int8 accuracy    {100 * self.int8_accuracy:.2f} %  ({self.int8_model_bytes} bytes, TFLite)",
            f"difference       {self.difference_points:+.2f} points (int8 - float)",
            f"agreement        {100 * self.agreement:.2f} % of images get the same class",
            "",
            f"{'class':<12} {'float %':>8} {'int8 %':>8}",
        ]
        per_class = zip(self.class_names, self.float_per_class, self.int8_per_class, strict=True)
        for name, f_acc, q_acc in per_class:
            lines.append(f"{name:<12} {100 * f_acc:>8.2f} {100 * q_acc:>8.2f}")
        title = "int8 confusion matrix (rows: true class, columns: predicted)"
        lines += ["", *confusion_lines(title, self.int8_confusion, self.class_names)]
        return "\n".join(lines)


def confusion_lines(title: str, confusion, class_names) -> list[str]:
    """A confusion matrix as text: one row per true class, named, counts right-aligned."""
    names = [class_names[i] if i < len(class_names) else str(i) for i in range(len(confusion))]
    width = max(len(f"{i} {name}") for i, name in enumerate(names)) + 1
    lines = [title, " " * width + "".join(f"{i:>6}" for i in range(len(confusion)))]
    for i, row in enumerate(confusion):
        lines.append(f"{f'{i} {names[i]}':<{width}}" + "".join(f"{count:>6}" for count in row))
    return lines


def int8_predict(
    content: bytes, data_dir=None, on_progress=None, model_path=None
) -> tuple[np.ndarray, np.ndarray]:
    """The int8 model's outputs ``[N, C]`` on the test images (of its run's own data set when
    ``model_path`` sits in a run trained on ``--data``), and their labels.

    Images are quantized with the model's own input scale and zero point. LiteRT's optimized
    builtin kernels are used (no XNNPACK delegate); `tinycnn verify` checks them bit for bit.
    """
    model = read_model(content)
    (inp,), (out,) = model.input_tensors(), model.output_tensors()
    if inp.dtype != np.int8 or out.dtype != np.int8 or not has_test_images(model, model_path):
        raise RunError(
            f"the int8 model takes {inp.dtype.name} {list(inp.shape)} and gives {out.dtype.name}; "
            "evaluate needs int8 images of its data set in (28x28x1 Fashion-MNIST, or its run's "
            "--data) and int8 classes out: quantize it with `tinycnn quantize`"
        )
    images = run_test_images(model, model_path, None, data_dir)
    outputs = run_interpreter("litert", content, images.values, on_progress, fast=True)
    return outputs.reshape(len(outputs), -1), images.labels


def int8_validation_accuracy(content: bytes, train_config: dict, data_dir=None) -> float:
    """int8 accuracy (LiteRT) on a run's validation split: the last ``validation_split`` of its
    training images (``subset`` of them when set), which training never fitted. What choices
    between models are made on, so that the test set stays a fair measure."""
    dataset = load_dataset(
        train_config.get("data"),
        data_dir,
        train_config.get("input_size"),
        train_config.get("channels"),
    )
    count = train_config.get("subset") or len(dataset.train_images)
    held_out = int(count * train_config["validation_split"])
    if not held_out:
        raise RunError("the run has no validation split (--validation-split 0)")
    quant = read_model(content).input_tensors()[0].quantization
    images = quantize(
        to_float(dataset.train_images[count - held_out : count]),
        quant.single_scale,
        quant.single_zero_point,
        np.int8,
    )
    outputs = run_interpreter("litert", content, images, fast=True)
    labels = dataset.train_labels[count - held_out : count]
    return float(np.mean(outputs.reshape(held_out, -1).argmax(axis=1) == labels))


def _per_class(labels: np.ndarray, predicted: np.ndarray, classes: int) -> list[float]:
    return [
        float(np.mean(predicted[labels == c] == c)) if np.any(labels == c) else 0.0
        for c in range(classes)
    ]


def evaluate_run(run_dir: str | Path, data_dir: str | Path | None = None) -> Evaluation:
    """Float accuracy of ``model.keras`` and int8 accuracy of ``model_int8.tflite``."""
    run_dir = Path(run_dir)
    model = load_trained_model(run_dir)
    path = int8_model_path(run_dir)
    content = read_tflite(path)
    int8_outputs, labels = int8_predict(content, data_dir, model_path=path)
    dataset = dataset_of_run(read_json(run_dir / CONFIG_FILE), data_dir)
    classes = len(dataset.class_names)

    float_predicted = np.argmax(
        model.predict(to_float(dataset.test_images), batch_size=500, verbose=0), axis=1
    )
    int8_predicted = np.argmax(int8_outputs, axis=1)
    confusion = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(confusion, (labels, int8_predicted), 1)
    return Evaluation(
        float_accuracy=float(np.mean(float_predicted == labels)),
        int8_accuracy=float(np.mean(int8_predicted == labels)),
        test_images=int(len(labels)),
        agreement=float(np.mean(float_predicted == int8_predicted)),
        float_per_class=_per_class(labels, float_predicted, classes),
        int8_per_class=_per_class(labels, int8_predicted, classes),
        int8_confusion=confusion.tolist(),
        float_model_bytes=(run_dir / MODEL_FILE).stat().st_size,
        int8_model_bytes=len(content),
        class_names=tuple(dataset.class_names),
    )


def reconstruction_error(model, inputs: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    """Per input, the mean squared difference between the dequantized output and input (an
    autoencoder's anomaly score)."""
    (inp,), (out,) = model.input_tensors(), model.output_tensors()
    difference = dequantized(inp, inputs).reshape(len(inputs), -1) - dequantized(
        out, outputs
    ).reshape(len(outputs), -1)
    return np.mean(difference**2, axis=1)


def dequantized(tensor, values: np.ndarray) -> np.ndarray:
    """Real values of a tensor's integers (float values are returned as they are)."""
    if tensor.quantization is None or values.dtype == np.float32:
        return values.astype(np.float64)
    quant = tensor.quantization
    return quant.single_scale * (values.astype(np.float64) - quant.single_zero_point)
