"""tinycnn: small Fashion-MNIST CNNs, int8 TFLite, and Cortex-M deployment."""

__version__ = "0.1.0"
