"""Float vs int8 accuracy on the full Fashion-MNIST test set."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinycnn.affine import quantize
from tinycnn.convert import INT8_MODEL_FILE, check_tflite_file
from tinycnn.data import CLASS_NAMES, load_fashion_mnist, to_float
from tinycnn.interpreters import litert_interpreter
from tinycnn.train import MODEL_FILE, RunError, load_trained_model


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


def int8_predict(content: bytes, images: np.ndarray) -> np.ndarray:
    """Run uint8 images ``[N, 28, 28]`` through an int8 model; return the int8 outputs ``[N, C]``.

    Images are quantized with the model's own input scale and zero point. LiteRT's optimized
    builtin kernels are used (no XNNPACK delegate); `tinycnn verify` checks them bit for bit.
    """
    interpreter = litert_interpreter(content, reference=False)
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    if inp["dtype"] != np.int8 or out["dtype"] != np.int8:
        raise RunError(
            f"model input/output are {np.dtype(inp['dtype']).name}/{np.dtype(out['dtype']).name}, "
            "expected int8/int8; quantize it with `tinycnn quantize`"
        )
    scale, zero_point = inp["quantization"]
    quantized = quantize(to_float(images), scale, zero_point).reshape(-1, *inp["shape"][1:])
    outputs = np.empty((len(images), *out["shape"][1:]), dtype=np.int8)
    for index, image in enumerate(quantized):
        interpreter.set_tensor(inp["index"], image[np.newaxis])
        interpreter.invoke()
        outputs[index] = interpreter.get_tensor(out["index"])[0]
    return outputs


def _per_class(labels: np.ndarray, predicted: np.ndarray) -> list[float]:
    return [float(np.mean(predicted[labels == c] == c)) for c in range(len(CLASS_NAMES))]


def evaluate_run(run_dir: str | Path, data_dir: str | Path | None = None) -> Evaluation:
    """Float accuracy of ``model.keras`` and int8 accuracy of ``model_int8.tflite``."""
    run_dir = Path(run_dir)
    model = load_trained_model(run_dir)
    int8_path = run_dir / INT8_MODEL_FILE
    if not int8_path.is_file():
        raise RunError(f"{int8_path} not found; create it with `tinycnn quantize {run_dir}`")
    content = check_tflite_file(int8_path)
    dataset = load_fashion_mnist(data_dir)
    labels = dataset.test_labels.astype(np.int64)

    float_predicted = np.argmax(
        model.predict(to_float(dataset.test_images), batch_size=500, verbose=0), axis=1
    )
    int8_predicted = np.argmax(int8_predict(content, dataset.test_images), axis=1)
    confusion = np.zeros((len(CLASS_NAMES), len(CLASS_NAMES)), dtype=np.int64)
    np.add.at(confusion, (labels, int8_predicted), 1)
    return Evaluation(
        float_accuracy=float(np.mean(float_predicted == labels)),
        int8_accuracy=float(np.mean(int8_predicted == labels)),
        test_images=int(len(labels)),
        agreement=float(np.mean(float_predicted == int8_predicted)),
        float_per_class=_per_class(labels, float_predicted),
        int8_per_class=_per_class(labels, int8_predicted),
        int8_confusion=confusion.tolist(),
        float_model_bytes=(run_dir / MODEL_FILE).stat().st_size,
        int8_model_bytes=len(content),
    )
