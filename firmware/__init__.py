"""The C runtime sources, shipped as package data (see firmware/README.md)."""
