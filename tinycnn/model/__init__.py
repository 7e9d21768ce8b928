"""The int8 model: its in-memory form (ir), the one .tflite reader, and the official interpreters
that run it.
"""
