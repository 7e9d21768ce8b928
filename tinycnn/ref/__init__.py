"""The int8 reference engine: numpy kernels that follow the TFLite reference kernels bit for bit.

One op per module (same stem as the C kernel in ``firmware/`` and the test in ``tests/``),
``fixedpoint.py`` for the shared arithmetic and ``runner.py`` to run an ``ir.Model``.
"""
