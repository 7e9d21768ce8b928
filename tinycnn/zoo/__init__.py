"""Choosing a model: the catalogue of architectures and shipped pretrained models, and the sweep
over a grid of them.
"""
