"""The serial protocol between host and board, and the monitor."""
