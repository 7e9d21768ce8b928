"""Training: the data set, the model families, augmentation, recipes, the training loop and
distribution.
"""
