"""The one place that imports TensorFlow.

tfmot only understands Keras 2 models, so ``TF_USE_LEGACY_KERAS=1`` must be set before
TensorFlow is first imported; every module that needs TensorFlow or Keras imports them
from here. TensorFlow's C++ logging is silenced too: the converter's chatter is not for
the user's terminal (``quiet_stderr`` catches what is written to the file descriptor).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

__all__ = ["tf", "keras", "quiet_stderr", "flatbuffer_utils", "tflite_schema"]


@contextlib.contextmanager
def quiet_stderr() -> Iterator[list[str]]:
    """Send what native code writes to fd 2 into a buffer; yield a list that holds it after.

    The MLIR converter prints straight to the file descriptor, below Python's ``sys.stderr``.
    Callers put the captured text into their error message when conversion fails.
    """
    captured: list[str] = []
    with tempfile.TemporaryFile(mode="w+b") as sink:
        saved_fd = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield captured
        finally:
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
            sink.seek(0)
            captured.append(sink.read().decode("utf-8", "replace"))


# TensorFlow's import logs a CUDA probe straight to fd 2 before its log level applies.
with quiet_stderr():
    import absl.logging
    import tensorflow as tf
    import tf_keras as keras
    from tensorflow.lite.python import schema_py_generated as tflite_schema
    from tensorflow.lite.tools import flatbuffer_utils

absl.logging.set_verbosity(absl.logging.ERROR)
tf.get_logger().setLevel("ERROR")
tf.autograph.set_verbosity(0)
