"""A setting a command takes, stated once: its name, its range or choices, and what it means.

The library checks the values it is given against the setting (`Setting.check`), and the
command line builds its option from the same setting, so the two cannot disagree on a range.
Light on purpose: `tinycnn --help` imports it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tinycnn.errors import TinycnnError


@dataclass(frozen=True)
class Setting:
    name: str  # the parameter's name, e.g. "learning_rate" (the option is --learning-rate)
    help: str
    kind: type = float  # float, int or str (free text, or one of its choices)
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # the range excludes ``low``
    high_open: bool = False  # the range excludes ``high``
    choices: tuple[str, ...] = ()
    metavar: str | None = None
    default: object = None
    option: str = ""  # the option's name when it is not --NAME (e.g. "--validate")
    required: bool = False

    @property
    def flag(self) -> str:
        return self.option or "--" + self.name.replace("_", "-")

    def range_text(self) -> str:
        """The range in words: "positive", "at least 1", "in [0, 1)"."""
        low, high = _number(self.low), _number(self.high)
        if self.high is None:
            if self.low_open:
                return "positive" if self.low == 0 else f"above {low}"
            return f"at least {low}"
        if self.low is None:
            return f"below {high}" if self.high_open else f"at most {high}"
        left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
        return f"in {left}{low}, {high}{right}"

    def check(self, value, error: type[Exception] = TinycnnError, label: str | None = None):
        """Raise ``error`` naming the setting (``label``, else its name in words) when ``value``
        is outside it; None (not given) passes."""
        label = label or self.name.replace("_", " ")
        if value is None:
            return
        if self.choices:
            if value not in self.choices:
                raise error(f"{label} must be one of {', '.join(self.choices)}, got {value!r}")
            return
        if self.kind is str:
            if not isinstance(value, str):
                raise error(f"{label} must be text, got {value!r}")
            return
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise error(f"{label} must be a number, got {value!r}")
        if self.kind is int and value != int(value):
            raise error(f"{label} must be a whole number, got {value}")
        if not math.isfinite(value):
            raise error(f"{label} must be a finite number, got {value}")
        below = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        above = self.high is not None and (
            value >= self.high if self.high_open else value > self.high
        )
        if below or above:
            raise error(f"{label} must be {self.range_text()}, got {value}")


def check_settings(table: dict[str, Setting], error: type[Exception] = TinycnnError, **values):
    """Check each named value against its setting in ``table``, naming its option."""
    for name, value in values.items():
        table[name].check(value, error, table[name].flag)


def settings_table(*settings: Setting) -> dict[str, Setting]:
    """Settings by name, in the order given (the order of their options on a help page)."""
    return {setting.name: setting for setting in settings}


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"
