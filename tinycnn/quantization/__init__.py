"""Quantization: float -> int8 conversion (PTQ, QAT), the affine mapping, a model's inputs, float-
vs-int8 evaluation.
"""

from tinycnn.settings import Setting

CALIBRATION_SAMPLES = 500  # training images that calibrate a post-training quantization by default
CALIBRATION = Setting(
    "calibration_samples",
    "Training images used to calibrate activation ranges.",
    int,
    low=1,
    default=CALIBRATION_SAMPLES,
)
QAT_EPOCHS = Setting(
    "qat_epochs",
    "Epochs of quantization-aware fine-tuning (tfmot) before converting; 0 = PTQ.",
    int,
    low=0,
    default=0,
    option="--qat",
)
