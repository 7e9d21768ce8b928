"""Training recipes: optimizer, learning-rate schedule, label smoothing, early stopping.

The schedule is a pure function of the global step, so a resumed run sets the same rate at
the same step as the uninterrupted one; train.py applies it before every batch.
"""

from __future__ import annotations

import math

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "cosine", "onecycle")


def learning_rate_at(
    schedule: str, base: float, step: int, total_steps: int, warmup_steps: int = 0
) -> float:
    """The learning rate before ``step`` (0-based) of ``total_steps``.

    - ``constant``: ``base``, after an optional linear warm-up;
    - ``cosine``: linear warm-up from ``base/100`` over ``warmup_steps``, then half a cosine
      from ``base`` down to ``base/1000`` at the last step (SGDR without restarts);
    - ``onecycle``: up from ``base/25`` to ``base`` over the first 30 % of the steps (or
      ``warmup_steps`` when given), then cosine down to ``base/10,000`` (Smith 2018).
    """
    total_steps = max(total_steps, 1)
    if schedule == "onecycle":
        rise = warmup_steps or max(1, round(0.3 * total_steps))
        if step < rise:
            return base / 25 + (base - base / 25) * step / rise
        return _cosine(base, base / 1e4, step - rise, total_steps - rise)
    if warmup_steps and step < warmup_steps:
        return base / 100 + (base - base / 100) * step / warmup_steps
    if schedule == "constant":
        return base
    if schedule == "cosine":
        return _cosine(base, base / 1e3, step - warmup_steps, total_steps - warmup_steps)
    raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")


def _cosine(start: float, end: float, step: int, steps: int) -> float:
    progress = min(max(step, 0) / max(steps - 1, 1), 1.0)
    return end + (start - end) * 0.5 * (1 + math.cos(math.pi * progress))


def make_optimizer(name: str, learning_rate: float, weight_decay: float):
    """Adam (weight decay must be 0), AdamW (decoupled decay), or SGD with Nesterov momentum
    0.9 (decay decoupled as well, Keras's ``weight_decay``)."""
    from tinycnn.tfenv import keras

    if name == "adam":
        return keras.optimizers.Adam(learning_rate)
    if name == "adamw":
        return keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay)
    if name == "sgd":
        return keras.optimizers.SGD(
            learning_rate, momentum=0.9, nesterov=True, weight_decay=weight_decay or None
        )
    raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {name!r}")
