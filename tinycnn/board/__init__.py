"""The board side: the emulated Cortex-M, the benchmark against CMSIS-NN, the serial protocol and
the monitor.
"""

from tinycnn.settings import Setting, settings_table

# The numbers `tinycnn bench` is asked for, checked by `bench`.
BENCH_SETTINGS: dict[str, Setting] = settings_table(
    Setting(
        "images",
        "Test images (or inputs) profiled; instruction counts are their mean.",
        int,
        1,
        100,
        default=3,
    ),
    Setting(
        "host_rounds",
        "Interleaved rounds timing the C, TFLM and LiteRT on this machine (0: skip).",
        int,
        0,
        default=5,
    ),
)
