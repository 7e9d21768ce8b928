"""Full-integer int8 TFLite conversion: post-training (PTQ) or after quantization-aware
fine-tuning (QAT with tfmot).

The converted model has int8 input and output tensors, int8 weights (per output channel for
convolutions, the converter's default) and int32 biases. Calibration images come from the
training set, never from the test set that evaluation uses.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinycnn.errors import TinycnnError
from tinycnn.model.metadata import run_metadata, with_metadata
from tinycnn.outputs import check_output_dir, holding, write_atomically
from tinycnn.progress import Progress, report
from tinycnn.quantization import CALIBRATION, CALIBRATION_SAMPLES, QAT_EPOCHS
from tinycnn.rundir import (
    CONFIG_FILE,
    INT8_MODEL_FILE,
    QUANTIZE_FILE,
    RunError,
    read_json,
    write_json,
)
from tinycnn.training.config import TrainConfig
from tinycnn.training.data import to_float
from tinycnn.training.models import load_trained_model
from tinycnn.training.user_data import dataset_of_run


class ConversionError(TinycnnError):
    """The TFLite converter refused the model; the message carries its last log lines."""


@dataclass(frozen=True)
class QuantizeResult:
    path: Path
    model_bytes: int
    calibration_samples: int
    qat_epochs: int
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int

    def describe(self) -> str:
        """What `tinycnn quantize` prints."""
        method = f"QAT ({self.qat_epochs} epochs)" if self.qat_epochs else "post-training"
        return (
            f"wrote {self.path} ({self.model_bytes} bytes, {method}, "
            f"{self.calibration_samples} calibration images); input scale {self.input_scale:.6g} "
            f"zero point {self.input_zero_point}, output scale {self.output_scale:.6g} "
            f"zero point {self.output_zero_point}"
        )


def check_full_int8(content: bytes, *, int8_io: bool = True) -> None:
    """Refuse a converted model that is not fully integer: an operator left computing in
    float32 (the converter's fallback, e.g. for NaN weights), or float input/output when
    int8 ones were asked for. Names the first culprit."""
    from tinycnn.model.ir import FLOAT_EDGE_OPS
    from tinycnn.model.tflite_io import read_model

    model = read_model(content, name="the converted model")
    if int8_io:
        for role, tensor in (
            ("input", model.input_tensors()[0]),
            ("output", model.output_tensors()[0]),
        ):
            if tensor.dtype != np.int8:
                raise ConversionError(
                    f"the converted model's {role} is {tensor.dtype.name}, not int8; "
                    "nothing was written"
                )
    for op in model.operators:
        if not int8_io and op.opcode in FLOAT_EDGE_OPS:
            continue  # the float edges asked for
        for index in (*op.inputs, *op.outputs):
            if index >= 0 and model.tensors[index].dtype == np.float32:
                raise ConversionError(
                    f"the converter left operator #{op.index} {op.opcode} in float32 (tensor "
                    f"{model.tensors[index].name!r}), so the model is not full int8 and nothing "
                    "was written; this happens when the float model's weights or activations "
                    "are not finite"
                )


def check_finite_weights(model) -> None:
    """A float model with NaN or infinite weights cannot be quantized (training diverged)."""
    for layer in model.layers:
        for weight in layer.get_weights():
            if not np.all(np.isfinite(weight)):
                raise ConversionError(
                    f"layer {layer.name!r} has NaN or infinite weights: the training diverged; "
                    "train again with a lower --learning-rate"
                )


def convert_int8(
    model,
    calibration_images: np.ndarray,
    *,
    int8_io: bool = True,
    on_progress: Progress | None = None,
) -> bytes:
    """Convert a Keras model to full-integer int8 TFLite with the given float calibration set.

    With ``int8_io`` false the model keeps float input and output, so the converter adds
    QUANTIZE and DEQUANTIZE at its edges. The result is checked to be fully integer
    (``check_full_int8``); ``on_progress`` follows calibration image by image.
    """
    from tinycnn.tfenv import quiet_stderr, tf

    def representative_dataset():
        for done, image in enumerate(calibration_images, 1):
            yield [image[np.newaxis].astype(np.float32)]
            report(on_progress, "calibration", done, len(calibration_images))

    converter = tf.lite.TFLiteConverter.from_keras_model(_fixed_batch_if_recurrent(model))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative_dataset
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if int8_io:
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    with quiet_stderr() as log, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            content = converter.convert()
            failure = None
        except Exception as exc:  # the converter raises ConverterError and plain Exceptions
            failure = exc
    if failure is None:
        check_full_int8(content, int8_io=int8_io)
        return content
    tail = " | ".join(line for line in log[0].splitlines()[-3:] if line.strip())
    raise ConversionError(f"TFLite conversion failed: {failure}; {tail}".strip("; "))


RECURRENT_LAYERS = ("LSTM",)


def _is_recurrent(model) -> bool:
    return any(type(layer).__name__ in RECURRENT_LAYERS for layer in model.layers)


def _fixed_batch_if_recurrent(model):
    """A recurrent model called on a batch-1 input. The converter fuses a Keras LSTM into one
    integer UNIDIRECTIONAL_SEQUENCE_LSTM only when the batch is static; with the usual
    dynamic batch its TensorList ops fail to convert. (Keras 3 LSTMs never fuse: a WHILE
    loop; tinycnn uses tf-keras.) Convolutional models are converted as they are."""
    from tinycnn.tfenv import keras

    if not _is_recurrent(model):
        return model
    fixed = keras.layers.Input(
        shape=model.input_shape[1:], batch_size=1, name=model.inputs[0].name.split(":")[0]
    )
    return keras.Model(fixed, model(fixed), name=model.name)


def _output_quantize_config(quant):
    """A tfmot QuantizeConfig for a layer without weights: an 8-bit moving-average fake
    quantizer on its output (``quantize_output``), or none (the layer keeps its input's scale)."""

    class OutputQuantizeConfig(quant.QuantizeConfig):
        def __init__(self, quantize_output: bool = True):
            self.quantize_output = quantize_output

        def get_weights_and_quantizers(self, layer):
            return []

        def get_activations_and_quantizers(self, layer):
            return []

        def set_quantize_weights(self, layer, quantize_weights):
            pass

        def set_quantize_activations(self, layer, quantize_activations):
            pass

        def get_output_quantizers(self, layer):
            if not self.quantize_output:
                return []
            return [
                quant.quantizers.MovingAverageQuantizer(
                    num_bits=8, per_axis=False, symmetric=False, narrow_range=False
                )
            ]

        def get_config(self):
            return {"quantize_output": self.quantize_output}

    return OutputQuantizeConfig


def _quantize_aware(model, tfmot):
    """tfmot's quantize_model, taught what its registry lacks or gets wrong for the converter.
    The layers without weights it does not know (the zoo's HardSwish, the Multiply of
    squeeze-excitation) get an 8-bit moving-average fake quantizer on their output, like any
    activation. An AveragePooling2D gets none: TFLite's AVERAGE_POOL_2D must keep its input's
    scale, and a quantizer of its own (tfmot's default) makes the converter fail with "same
    scale constraint" wherever that scale meets another (a DenseNet's transition)."""
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_registry as registry,
    )

    from tinycnn.tfenv import keras
    from tinycnn.training.models.blocks import custom_objects

    quant = tfmot.quantization.keras
    supported = registry.Default8BitQuantizeRegistry().supports
    pooling = keras.layers.AveragePooling2D
    if all(
        (supported(layer) and not isinstance(layer, pooling)) or _is_input(layer)
        for layer in model.layers
    ):
        return quant.quantize_model(model)
    config = _output_quantize_config(quant)

    def annotate(layer):
        if isinstance(layer, pooling):
            return quant.quantize_annotate_layer(layer, config(False))
        if not supported(layer) and not layer.weights:  # HardSwish, Multiply (excitation)
            return quant.quantize_annotate_layer(layer, config())
        return layer.__class__.from_config(layer.get_config())

    with quant.quantize_scope({**custom_objects(), "OutputQuantizeConfig": config}):
        annotated = keras.models.clone_model(model, clone_function=annotate)
        annotated.set_weights(model.get_weights())
        return quant.quantize_apply(quant.quantize_annotate_model(annotated))


def _is_input(layer) -> bool:
    return type(layer).__name__ == "InputLayer"


def _qat_fine_tune(
    model,
    images: np.ndarray,
    labels: np.ndarray,
    config: TrainConfig,
    epochs: int,
    on_progress: Progress | None = None,
):
    from tinycnn.tfenv import keras, quiet_stderr

    steps = int(np.ceil(len(images) * (1 - config.validation_split) / config.batch_size))

    class Watch(keras.callbacks.Callback):
        """Progress per step; a loss that stops being finite ends the fine-tuning."""

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            loss = float((logs or {}).get("loss", 0.0))
            if not np.isfinite(loss):
                raise ConversionError(
                    f"QAT fine-tuning diverged (loss {loss} in epoch {self.epoch + 1}); nothing "
                    "was written"
                )
            report(
                on_progress,
                f"QAT epoch {self.epoch + 1}/{epochs}",
                batch + 1,
                steps,
                f"loss {loss:.4f}",
            )

    with quiet_stderr(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import tensorflow_model_optimization as tfmot

        qat_model = _quantize_aware(model, tfmot)
    qat_model.compile(
        optimizer=keras.optimizers.Adam(1e-4),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    qat_model.fit(
        images,
        labels,
        batch_size=config.batch_size,
        epochs=epochs,
        validation_split=config.validation_split,
        verbose=0,
        callbacks=[Watch()],
    )
    return qat_model


@holding("run_dir", "the int8 model")
def quantize_run(
    run_dir: str | Path,
    *,
    calibration_samples: int = CALIBRATION_SAMPLES,
    qat_epochs: int = 0,
    data_dir: str | Path | None = None,
    on_progress: Progress | None = None,
) -> QuantizeResult:
    """Write ``RUN_DIR/model_int8.tflite`` from the run's trained float model; only a model
    that is fully int8 is written."""
    from tinycnn.tfenv import keras

    CALIBRATION.check(calibration_samples, RunError)
    QAT_EPOCHS.check(qat_epochs, RunError, "QAT epochs")
    run_dir = Path(run_dir)
    check_output_dir(run_dir, "the int8 model")
    model = load_trained_model(run_dir)
    check_finite_weights(model)
    if qat_epochs and _is_recurrent(model):
        raise ConversionError(
            "quantization-aware training cannot handle an LSTM (tensorflow-model-optimization has "
            "no quantize config for it); quantize without --qat: post-training quantization "
            "gives the converter's integer LSTM"
        )
    run_config = read_json(run_dir / CONFIG_FILE)
    config = TrainConfig(**run_config["train"])
    dataset = dataset_of_run(run_config, data_dir)
    train_images = dataset.train_images
    train_labels = dataset.train_labels
    if config.subset is not None:
        train_images, train_labels = train_images[: config.subset], train_labels[: config.subset]
    if calibration_samples > len(train_images):
        raise RunError(
            f"{calibration_samples} calibration samples asked for, the run trained on "
            f"{len(train_images)} images"
        )
    # A seeded random draw covers every class; the first N images need not.
    rng = np.random.default_rng(config.seed)
    chosen = rng.choice(len(train_images), size=calibration_samples, replace=False)
    calibration = to_float(train_images[np.sort(chosen)])

    if qat_epochs:
        keras.utils.set_random_seed(config.seed)
        model = _qat_fine_tune(
            model,
            to_float(train_images),
            train_labels.astype(np.int32),
            config,
            qat_epochs,
            on_progress,
        )
    content = convert_int8(model, calibration, on_progress=on_progress)
    content = with_metadata(content, run_metadata(run_config))

    target = run_dir / INT8_MODEL_FILE
    write_atomically(target, content)
    input_q, output_q = _io_quantization(content)
    result = QuantizeResult(
        path=target,
        model_bytes=len(content),
        calibration_samples=calibration_samples,
        qat_epochs=qat_epochs,
        input_scale=input_q[0],
        input_zero_point=input_q[1],
        output_scale=output_q[0],
        output_zero_point=output_q[1],
    )
    write_json(
        run_dir / QUANTIZE_FILE,
        {k: (str(v) if isinstance(v, Path) else v) for k, v in result.__dict__.items()},
    )
    return result


def _io_quantization(content: bytes) -> tuple[tuple[float, int], tuple[float, int]]:
    from tinycnn.model.interpreters import litert_interpreter

    interpreter = litert_interpreter(content)
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    return (
        (float(inp["quantization"][0]), int(inp["quantization"][1])),
        (float(out["quantization"][0]), int(out["quantization"][1])),
    )
