"""The board side: the emulated Cortex-M, the benchmark against CMSIS-NN, the serial protocol and
the monitor.
"""
