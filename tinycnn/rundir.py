"""The run directory, owned here: its file names, atomic writes of its JSON and models,
loading what it holds, and turning ``RUN_DIR|MODEL.tflite`` into the int8 model's path.

A run directory holds, once training has finished: ``config.json`` (what was asked, library
versions, data source, class names), ``history.json`` (per-epoch figures), ``model.keras``
(the float model, written last) and ``metrics.json``; after ``tinycnn quantize``,
``model_int8.tflite`` and ``quantize.json``; after ``tinycnn report``, ``report.html``.
While training runs, ``checkpoint.keras`` and ``checkpoint.json`` hold the last finished
epoch (``best.keras`` the best on validation with early stopping; ``backup/`` the same for a
multi-worker run, as a tf.distribute checkpoint); a folder without ``model.keras`` is not a
finished run. Every file is written to a temporary name and renamed: a reader never sees half.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from tinycnn.errors import TinycnnError
from tinycnn.outputs import (
    OutputError,
    check_output_file,
    refuse_overwriting_inputs,
    replacing,
    write_atomically,
)

MODEL_FILE = "model.keras"
CONFIG_FILE = "config.json"
HISTORY_FILE = "history.json"
METRICS_FILE = "metrics.json"
CHECKPOINT_FILE = "checkpoint.keras"
CHECKPOINT_STATE_FILE = "checkpoint.json"
BEST_FILE = "best.keras"  # the best epoch on validation so far, with --early-stopping
INT8_MODEL_FILE = "model_int8.tflite"
QUANTIZE_FILE = "quantize.json"
REPORT_FILE = "report.html"  # `tinycnn report`'s page, by default
BACKUP_DIR = "backup"  # a multi-worker run's tf.distribute checkpoint of its last epoch
# Everything tinycnn writes into a run directory; --force removes exactly these.
RUN_ARTIFACTS = (
    MODEL_FILE,
    CONFIG_FILE,
    HISTORY_FILE,
    METRICS_FILE,
    CHECKPOINT_FILE,
    CHECKPOINT_STATE_FILE,
    BEST_FILE,
    INT8_MODEL_FILE,
    QUANTIZE_FILE,
    REPORT_FILE,
)


class RunError(TinycnnError):
    """A run directory or training request that cannot be used, with the fix in the message."""


def write_json(path: Path, payload: dict) -> None:
    """Write JSON through a temporary file so a reader never sees half a file."""
    write_atomically(path, (json.dumps(payload, indent=2) + "\n").encode())


def save_model(model, path: Path) -> None:
    """Save a Keras model through a temporary name beside it (keeping the .keras suffix Keras
    needs), removed if saving fails."""
    with replacing(path, path.with_name(f".partial.{path.name}")) as partial:
        model.save(partial)


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise RunError(f"{path} not found") from None
    except json.JSONDecodeError as exc:
        raise RunError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None


def resume_command(run_dir: str | Path) -> str:
    """The command that continues an interrupted training in ``run_dir``."""
    return f"tinycnn train --resume --out {shlex.quote(str(run_dir))}"


def trained_model_path(run_dir: str | Path) -> Path:
    """``RUN_DIR/model.keras``; RunError says why a folder is not a finished run (the model
    is loaded by ``tinycnn.training.models.load_trained_model``, which knows its layers)."""
    if str(run_dir).startswith(ZOO_PREFIX) and not Path(run_dir).exists():
        raise RunError(
            f"{run_dir} is a shipped int8 model, already quantized, with no float model to "
            "start from; train your own run with `tinycnn train --out runs/NAME`"
        )
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunError(
            f"{run_dir} is not a directory; train one with `tinycnn train --out {run_dir}`"
        )
    model_path = run_dir / MODEL_FILE
    if not model_path.is_file():
        hint = (
            f"training was interrupted; continue with `{resume_command(run_dir)}`"
            if (run_dir / CHECKPOINT_STATE_FILE).is_file()
            else f"train one with `tinycnn train --out {run_dir}`"
        )
        raise RunError(f"{run_dir} holds no trained model ({MODEL_FILE} missing); {hint}")
    return model_path


ZOO_PREFIX = "zoo:"
PRETRAINED_DIR = Path(__file__).parent / "pretrained"  # one run-directory-like folder each
ZOO_FILE = "zoo.json"  # in a pretrained folder: how the model was trained, what it measured


def pretrained_names() -> list[str]:
    """The pretrained models shipped in the package, by name (``zoo:NAME``)."""
    if not PRETRAINED_DIR.is_dir():
        return []
    return sorted(p.name for p in PRETRAINED_DIR.iterdir() if (p / INT8_MODEL_FILE).is_file())


def resolve_target(target: str | Path) -> Path:
    """``zoo:NAME`` -> the shipped pretrained folder (it holds model_int8.tflite, config.json,
    metrics.json and zoo.json, so it reads like a quantized run directory), unless a file or
    folder of that very name exists; anything else is the path given. An unknown name is a
    RunError listing the known ones."""
    text = str(target)
    if not text.startswith(ZOO_PREFIX) or Path(target).exists():  # a folder of that name wins
        return Path(target)
    name = text[len(ZOO_PREFIX) :]
    known = pretrained_names()
    if name not in known:
        listed = ", ".join(ZOO_PREFIX + n for n in known) or "none are shipped in this install"
        raise RunError(f"unknown pretrained model {text!r}; known: {listed}")
    return PRETRAINED_DIR / name


def float_model_path(run_dir: str | Path) -> Path | None:
    """``RUN_DIR/model.keras`` when the target is a run directory that has one."""
    run_dir = resolve_target(run_dir)
    path = run_dir / MODEL_FILE
    return path if run_dir.is_dir() and path.is_file() else None


def int8_model_path(target: str | Path) -> Path:
    """The int8 model of ``RUN_DIR`` (its model_int8.tflite; RunError with the fix when it is
    missing) or the ``MODEL.tflite`` given, which its reader checks; ``zoo:NAME`` too."""
    target = resolve_target(target)
    if target.is_dir():
        path = target / INT8_MODEL_FILE
        if not path.is_file():
            raise RunError(f"{path} not found; create it with `tinycnn quantize {target}`")
        return path
    return target


def class_names(target: str | Path) -> list[str] | None:
    """The class names a run directory was trained with (config.json), or None."""
    path = resolve_target(target) / CONFIG_FILE
    if not path.is_file():
        return None
    try:
        names = json.loads(path.read_text()).get("class_names")
    except (OSError, ValueError):
        return None
    return [str(name) for name in names] if names else None


MODEL_SUFFIXES = (".tflite", ".keras", ".h5")


def check_named_output(
    path: str | Path, what: str, *, inputs=(), force: bool = False, ours=None
) -> Path:
    """The one check of an output file the user named (``what``: its option): writable with
    a name that fits (``check_output_file``); never one of the command's ``inputs`` nor
    inside them; never a model file nor a run folder's own file (the report excepted), with
    --force or not; any other existing file only with ``force``, or when ``ours(path)``
    recognizes this command's own earlier output (a tinycnn report, a validation CSV)."""
    path = check_output_file(path, what)
    refuse_overwriting_inputs(path, list(inputs), what)
    protected = set(RUN_ARTIFACTS) - {REPORT_FILE} | {ZOO_FILE}
    run_file = path.name in protected and (path.parent / CONFIG_FILE).is_file()
    if path.suffix.lower() in MODEL_SUFFIXES or run_file:
        kind = "a run folder's own file" if run_file else "a model file"
        raise OutputError(
            f"{what} {path} is {kind}, which tinycnn never writes over; choose another name"
        )
    if path.exists() and not force and not (ours is not None and ours(path)):
        raise OutputError(
            f"{what} {path} exists and was not written by this command; pass --force to "
            "replace it, or choose another name"
        )
    return path
