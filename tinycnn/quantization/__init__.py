"""Quantization: float -> int8 conversion (PTQ, QAT), the affine mapping, a model's inputs, float-
vs-int8 evaluation.
"""
