"""Choosing a model: the catalogue of architectures and shipped pretrained models, and the sweep
over a grid of them.
"""

from tinycnn.settings import Setting, settings_table
from tinycnn.training.augment import PRESETS

# The grid and the workers `tinycnn sweep` is asked for; `make_sweep` and `run_sweep` check them.
SWEEP_SETTINGS: dict[str, Setting] = settings_table(
    Setting(
        "models",
        "Architectures (see `tinycnn models`).",
        str,
        metavar="NAME,...",
        required=True,
    ),
    Setting(
        "widths",
        "Channel multipliers (a model of fixed size is trained once).",
        str,
        metavar="W,...",
        default="1",
    ),
    Setting(
        "augments",
        f"Augmentation presets ({', '.join(PRESETS)}).",
        str,
        metavar="PRESET,...",
        default="none",
        option="--augment",
    ),
    Setting(
        "workers",
        "Configurations trained at once on this machine (one core each when above 1).",
        int,
        1,
        64,
        default=1,
    ),
)
