"""What a training run is asked to do: its configuration (the registry's defaults filled in,
every field checked), the report of each epoch, the two ways a run ends early, and the
checks of a request against a run directory that happen before anything is loaded."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from tinycnn.errors import TinycnnError
from tinycnn.rundir import (
    BACKUP_DIR,
    CHECKPOINT_FILE,
    CONFIG_FILE,
    MODEL_FILE,
    RUN_ARTIFACTS,
    RunError,
    read_json,
    resume_command,
)
from tinycnn.settings import Setting, settings_table
from tinycnn.training.augment import Augmentation, AugmentError, augmentation
from tinycnn.training.distribute import Distribution
from tinycnn.training.models import get_model_spec
from tinycnn.training.recipe import OPTIMIZERS, SCHEDULES


class TrainingInterrupted(TinycnnError):
    """Ctrl-C or SIGTERM/SIGHUP during fitting; the checkpoint of the last finished epoch is
    kept. Its exit code is the shell's for that signal (130 for Ctrl-C, 143 for SIGTERM)."""

    def __init__(self, run_dir: Path, epochs_done: int, epochs: int, interrupt=None):
        from tinycnn.processes import exit_code_for, signal_name

        self.run_dir, self.epochs_done, self.epochs = run_dir, epochs_done, epochs
        self.exit_code = exit_code_for(interrupt or KeyboardInterrupt())
        where = (
            f"the last checkpoint ({epochs_done} epochs) is {run_dir / CHECKPOINT_FILE}; "
            f"continue with `{resume_command(run_dir)}`"
            if epochs_done
            else "no epoch had finished, so there is no checkpoint"
        )
        super().__init__(
            f"training interrupted by {signal_name(interrupt or KeyboardInterrupt())} after "
            f"{epochs_done} of {epochs} epochs; {where}"
        )


class TrainingDiverged(TinycnnError):
    """The loss became NaN or infinite: the weights are lost, the last good checkpoint is kept."""

    def __init__(self, run_dir: Path, epoch: int, step: int, loss: float, epochs_done: int):
        kept = (
            f"the last good checkpoint ({epochs_done} epochs) is kept in {run_dir / CHECKPOINT_FILE}"
            if epochs_done
            else "no epoch had finished, so there is no checkpoint"
        )
        super().__init__(
            f"training diverged: the loss became {loss} in epoch {epoch}, step {step}; {kept}; "
            "train again with a lower --learning-rate"
        )


_MODELS_OWN = "[default: the model's own]."

# The numbers and choices a run is given, with their ranges: TrainConfig.validate checks them
# and `tinycnn train` (and `sweep`) build their options from them.
TRAIN_SETTINGS: dict[str, Setting] = settings_table(
    Setting("epochs", f"Epochs to train {_MODELS_OWN}", int, low=1),
    Setting("batch_size", f"Batch size {_MODELS_OWN}", int, low=1),
    Setting(
        "validation_split",
        "Share of the training images held out for validation.",
        low=0,
        high=1,
        high_open=True,
        default=0.1,
    ),
    Setting("subset", "Train on the first N training images only (quick runs).", int, low=10),
    Setting("learning_rate", f"Peak learning rate {_MODELS_OWN}", low=0, low_open=True),
    Setting(
        "width",
        "Channel multiplier of a zoo architecture [default: 1].",
        low=0,
        high=8,
        low_open=True,
    ),
    Setting("depth", "Block repeats of a zoo architecture [default: its own].", int, 1, 8),
    Setting(
        "optimizer",
        f"adam, adamw (decoupled weight decay) or sgd (Nesterov momentum 0.9) {_MODELS_OWN}",
        str,
        choices=OPTIMIZERS,
    ),
    Setting(
        "weight_decay",
        f"Decoupled weight decay (adamw, sgd) {_MODELS_OWN}",
        low=0,
        high=1,
        high_open=True,
    ),
    Setting(
        "schedule",
        f"Learning-rate schedule: constant, cosine (after warm-up) or onecycle {_MODELS_OWN}",
        str,
        choices=SCHEDULES,
    ),
    Setting("warmup_epochs", f"Epochs of linear warm-up {_MODELS_OWN}", low=0),
    Setting("label_smoothing", f"Label smoothing {_MODELS_OWN}", low=0, high=1, high_open=True),
    Setting(
        "distill_weight",
        "The teacher's share of each training target, the true class having the rest "
        "[default: 0.5 with --teacher].",
        low=0,
        high=1,
    ),
    Setting(
        "early_stopping",
        "Stop after PATIENCE epochs without a better validation accuracy; keep the best epoch.",
        int,
        low=1,
        metavar="PATIENCE",
    ),
)
RECIPE_SETTINGS = ("learning_rate", "width", "depth", "optimizer", "weight_decay", "schedule")
RECIPE_SETTINGS += ("warmup_epochs", "label_smoothing", "distill_weight", "early_stopping")


@dataclass(frozen=True)
class TrainConfig:
    model: str
    epochs: int
    batch_size: int
    validation_split: float = 0.1
    seed: int = 0
    subset: int | None = None
    learning_rate: float | None = None
    width: float | None = None  # channel multiplier (zoo architectures)
    depth: int | None = None  # block repeats (zoo architectures)
    optimizer: str = "adam"
    weight_decay: float = 0.0
    schedule: str = "constant"
    warmup_epochs: float = 0.0
    label_smoothing: float = 0.0
    augment: dict = field(default_factory=dict)  # augment.Augmentation fields; {} = none
    early_stopping: int | None = None  # patience in epochs on val_accuracy; best weights kept
    data: str | None = None  # the user's data set (absolute path); None: Fashion-MNIST
    input_size: list[int] | None = None  # [height, width] its pictures are resized to
    channels: int | None = None  # 1 or 3; None: the pictures' own
    teacher: str | None = None  # a finished run whose probabilities the model also fits
    distill_weight: float | None = None  # the teacher's share of the targets (distill.py)

    @property
    def categorical(self) -> bool:
        """Whether the loss takes probability targets (smoothed, or mixed with a teacher's)."""
        return bool(self.label_smoothing or self.teacher)

    @property
    def augmentation(self) -> Augmentation:
        return Augmentation(**self.augment)

    def validate(self) -> None:
        spec = get_model_spec(self.model)  # raises, naming the known models
        if not spec.scalable and (self.width is not None or self.depth is not None):
            raise RunError(f"{self.model} has a fixed size: --width and --depth are for the zoo")
        for setting in TRAIN_SETTINGS.values():
            setting.check(getattr(self, setting.name), RunError)
        if self.optimizer == "adam" and self.weight_decay:
            raise RunError("weight decay needs --optimizer adamw or sgd (Adam's is not decoupled)")
        if not self.warmup_epochs < self.epochs:
            raise RunError(f"warm-up must be in [0, epochs), got {self.warmup_epochs}")
        if self.early_stopping is not None and not self.validation_split:
            raise RunError("early stopping watches the validation split: it needs one above 0")
        try:
            self.augmentation.validate()
        except (TypeError, AugmentError) as exc:
            raise RunError(str(exc)) from None
        if self.input_size is not None and not (
            len(self.input_size) == 2 and all(4 <= side <= 1024 for side in self.input_size)
        ):
            raise RunError(f"input size must be HxW, each side 4..1024, got {self.input_size}")
        if self.channels not in (None, 1, 3):
            raise RunError(f"channels must be 1 or 3, got {self.channels}")
        if self.data is None and (self.input_size or self.channels):
            raise RunError("--input-size and --channels are for your own --data")
        if self.distill_weight is not None and not self.teacher:
            raise RunError("--distill-weight goes with --teacher RUN_DIR")


def train_config(
    model: str,
    epochs: int | None = None,
    batch_size: int | None = None,
    *,
    augment: str | None = None,
    augment_knobs: dict | None = None,
    **settings,
):
    """The configuration of a run of ``model``: its registry defaults (epochs, batch size and
    recipe) for what is not given (None). ``augment`` is a preset name, ``augment_knobs``
    replaces some of its knobs. UnknownModel names the known models; AugmentError a bad knob."""
    spec = get_model_spec(model)
    recipe = {k: v for k, v in spec.recipe.items() if k != "augment"}
    chosen = augmentation(augment or spec.recipe.get("augment", "none"), **(augment_knobs or {}))
    given = {k: v for k, v in settings.items() if v is not None}
    for path in ("data", "teacher"):  # later steps read them from the run, from any folder
        if path in given:
            given[path] = str(Path(given[path]).resolve())
    if "teacher" in given and "distill_weight" not in given:
        given["distill_weight"] = 0.5
    epochs = epochs or spec.default_epochs
    if "warmup_epochs" in recipe:  # the recipe's warm-up, at most a tenth of a short run
        recipe["warmup_epochs"] = min(recipe["warmup_epochs"], epochs / 10)
    if given.get("optimizer") == "adam" and "weight_decay" not in given:
        recipe["weight_decay"] = 0.0  # the recipe's decay was for its own optimizer
    return TrainConfig(
        model=model,
        epochs=epochs,
        batch_size=batch_size or spec.default_batch_size,
        augment=chosen.as_dict() if chosen.active else {},
        **{**recipe, **given},
    )


@dataclass(frozen=True)
class EpochReport:
    epoch: int
    epochs: int
    seconds: float
    logs: dict[str, float]
    remaining_seconds: float = 0.0  # estimated from the epochs so far
    best_epoch: int | None = None  # with early stopping: the best on validation so far
    stopping: bool = False  # early stopping ends the run after this epoch


# Options of `train` that name a TrainConfig field under another name.
_FIELD_OF_OPTION = {"model_name": "model", "augment": "augment"}


def check_resume_request(run_dir: Path, config: TrainConfig, named: set[str]) -> TrainConfig:
    """The configuration ``--resume`` continues with: the run's own, with ``--epochs`` when
    given (``named``: the options on the command line). RunError when other options given
    differ from the run's: it continues the run as configured. Options equal to it are fine."""
    from dataclasses import fields as dataclass_fields

    knobs = {field.name for field in dataclass_fields(Augmentation)}
    config_file = run_dir / CONFIG_FILE
    if not config_file.is_file():
        return config  # no run to continue: train says so
    saved, asked = read_json(config_file)["train"], asdict(config)
    fields = {_FIELD_OF_OPTION.get(name, "augment" if name in knobs else name) for name in named}
    differing = sorted(
        field for field in fields & set(asked) - {"epochs"} if asked[field] != saved.get(field)
    )
    if differing:
        listed = ", ".join(
            f"--{field.replace('_', '-')} (the run has {saved.get(field)!r})" for field in differing
        )
        raise RunError(
            f"--resume continues {run_dir} as it was configured; {listed} would change it: only "
            "--epochs may; drop the others, or train a new run"
        )
    return TrainConfig(
        **{**saved, "epochs": asked["epochs"] if "epochs" in named else saved["epochs"]}
    )


def check_run_dir(run_dir: Path, force: bool) -> list[str]:
    """Refuse a folder that holds a run unless forced, or one that cannot be written; the
    run files (and the backup folder) that --force will replace."""
    from tinycnn.outputs import check_output_dir

    check_output_dir(run_dir, "the run directory")
    existing = [name for name in (*RUN_ARTIFACTS, BACKUP_DIR) if (run_dir / name).exists()]
    if existing and not force:
        raise RunError(
            f"{run_dir} already holds a run ({', '.join(existing)}); "
            "pass --force to replace it or --resume to continue it"
        )
    return existing


def check_distribution(config: TrainConfig, distribution: Distribution, resume: bool) -> None:
    """RunError for what a multi-worker run cannot do (checked before any worker starts)."""
    if not distribution.multiworker:
        return
    if resume:
        raise RunError(
            "--resume continues a run in one process; a multi-worker run continues from its "
            "backup when its workers are started again with the same command"
        )
    if config.early_stopping:
        raise RunError("--early-stopping needs --strategy default or mirrored (one process)")


def has_backup(run_dir: Path) -> bool:
    return (run_dir / BACKUP_DIR / "checkpoint").is_file()


def continues_run(config: TrainConfig, run_dir: Path, force: bool) -> bool:
    """Whether a multi-worker chief continues the run in ``run_dir``: the same configuration
    always does, --force or not, so that a worker started again with its original command (a
    scheduler's restart, or its supervisor's) continues: from its backup, or from epoch 1 when
    it was lost before the first backup. A finished run is not continued (check_run_dir
    decides); a backup of another configuration is replaced with --force, else refused."""
    if not (run_dir / CONFIG_FILE).is_file():
        return False
    backup = has_backup(run_dir)
    if not backup and (run_dir / MODEL_FILE).exists():
        return False
    saved = read_json(run_dir / CONFIG_FILE).get("train") or {}
    if saved == asdict(config):
        return True
    if force or not backup:
        return False
    changed = sorted(
        key for key in {*saved, *asdict(config)} if saved.get(key) != asdict(config).get(key)
    )
    raise RunError(
        f"{run_dir} holds the backup of another run (it differs in {', '.join(changed)}); "
        "run that run's command to continue it, or pass --force to replace it"
    )
