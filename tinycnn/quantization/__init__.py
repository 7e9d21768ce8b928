"""Quantization: float -> int8 conversion (PTQ, QAT), the affine mapping, a model's inputs, float-
vs-int8 evaluation.
"""

CALIBRATION_SAMPLES = 500  # training images that calibrate a post-training quantization by default
