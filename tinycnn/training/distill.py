"""Knowledge distillation: a trained run teaches the model being trained (`train --teacher`).

The student fits soft targets: ``(1 - w)`` times the true class plus ``w`` times the teacher's
probabilities for the same training image (Hinton, Vinyals and Dean 2015, at temperature 1),
``w`` being ``--distill-weight``. The teacher's probabilities are computed once before the
first epoch, on the training images as they are (the shifts and flips the augmentation adds
change a picture's class probabilities little); validation and test accuracy count the true
classes. A small model learns more from a larger one's probabilities than from the labels
alone: which wrong classes an image resembles is what a one-hot label cannot say.

The teacher is a run directory with its float model, trained on the same data set: the same
classes, in the same order, and the same input shape. Its run is read, never written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinycnn.rundir import CONFIG_FILE, RunError, read_json, trained_model_path


def check_teacher(teacher: str | None, dataset, input_shape, run_dir: Path) -> None:
    """RunError, before any training, when ``teacher`` (None: no teacher) is not a finished
    run of the same data set (the same class names and input shape as the student's
    ``dataset``) or is the run being written."""
    if teacher is None:
        return
    if Path(teacher).resolve() == Path(run_dir).resolve():
        raise RunError(f"--teacher {teacher} is the run being written (--out)")
    trained_model_path(teacher)  # says why a folder holds no model
    config_path = Path(teacher) / CONFIG_FILE
    if not config_path.is_file():
        raise RunError(f"--teacher {teacher}: no {CONFIG_FILE}, so not a tinycnn run directory")
    config = read_json(config_path)
    classes, shape = config.get("class_names") or [], config.get("input_shape") or []
    if list(classes) != list(dataset.class_names):
        raise RunError(
            f"--teacher {teacher} was trained on other classes ({', '.join(map(str, classes))})"
            f" than this run's ({', '.join(dataset.class_names)})"
        )
    if list(shape) != list(input_shape):
        raise RunError(
            f"--teacher {teacher} takes {'x'.join(map(str, shape)) or 'unknown'} inputs, "
            f"this run {'x'.join(map(str, input_shape))}"
        )


def teacher_probabilities(teacher: str, images: np.ndarray) -> np.ndarray:
    """The teacher's class probabilities for ``images`` (the models' float input), float32."""
    from tinycnn.training.models import load_trained_model

    model = load_trained_model(teacher)
    probabilities = model.predict(images, batch_size=500, verbose=0).astype(np.float32)
    if probabilities.ndim != 2 or np.any(np.abs(probabilities.sum(axis=1) - 1) > 1e-3):
        raise RunError(f"--teacher {teacher}: its model does not end in a softmax over classes")
    return probabilities


def soft_targets(labels: np.ndarray, classes: int, teacher: np.ndarray | None, weight: float):
    """One-hot ``labels`` ``[N, classes]``, mixed with the teacher's probabilities when given."""
    one_hot = np.eye(classes, dtype=np.float32)[labels]
    if teacher is None:
        return one_hot
    return ((1.0 - weight) * one_hot + weight * teacher).astype(np.float32)
