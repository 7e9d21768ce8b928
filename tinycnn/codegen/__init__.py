"""ir -> C: the memory planner, per-op lowering to kernel calls, template rendering, and the
firmware projects built from them.
"""

from tinycnn.settings import Setting, settings_table

RUNTIMES = ("native", "tflm")
# What `tinycnn export` is asked for beside the model and the board, checked by `export`.
EXPORT_SETTINGS: dict[str, Setting] = settings_table(
    Setting(
        "runtime",
        "tinycnn's generated C, or TensorFlow Lite Micro (Arduino and Mbed boards).",
        str,
        choices=RUNTIMES,
        default="native",
    ),
    Setting(
        "test_images",
        "Fashion-MNIST test images embedded in the firmware and classified at boot.",
        int,
        1,
        1000,
        default=10,
    ),
)
