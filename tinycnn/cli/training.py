"""`tinycnn models`, `tinycnn train` and `tinycnn augment`."""

from __future__ import annotations

import os
from pathlib import Path

import click

from tinycnn.cli import options
from tinycnn.training.augment import KNOBS, PRESETS, PREVIEW_SETTINGS
from tinycnn.training.config import RECIPE_SETTINGS, TRAIN_SETTINGS
from tinycnn.training.distribute import DISTRIBUTION_SETTINGS, WORKER_PROCESS_ENV


def _augment_options(default: str = "the model's own") -> list:
    """--augment PRESET and one option per augmentation knob (each replaces the preset's)."""
    preset_help = f"Augmentation preset (none, light, standard, strong) [default: {default}]."
    preset = options.opt("--augment", click.Choice(list(PRESETS)), preset_help)
    return [preset, *options.setting_options(KNOBS)]


def _augment_request(given: dict) -> dict:
    """--augment and the knob options -> {"preset": name or None, "knobs": {...}}."""
    return {"preset": given.pop("augment"), "knobs": {name: given.pop(name) for name in KNOBS}}


@click.command("models")
@options.user_errors
def models_command() -> None:
    """List the model architectures `train --model` accepts."""
    from tinycnn.training.models import models_table

    click.echo(models_table())


@click.command("train")
@options.opt(
    "--model model_name",
    None,
    "Architecture from the registry (see `tinycnn models`).",
    default="seed_cnn",
)
@options.opt(
    "--data",
    click.Path(exists=True),
    "Your own data set instead of Fashion-MNIST: a folder of class folders of pictures "
    "(or train/ and test/ folders of them), or an .npz of x_train, y_train, x_test, y_test.",
    metavar="DIR|FILE.npz",
)
@options.opt(
    "--input-size",
    options.SIZE,
    "Resize --data pictures to HEIGHTxWIDTH [default: their own size].",
    metavar="HxW",
)
@options.opt("--channels", click.Choice(["1", "3"]), "Grayscale (1) or RGB (3) --data pictures.")
@options.with_options(
    options.setting_options(TRAIN_SETTINGS, "epochs", "batch_size", "validation_split")
)
@options.seed_option("Random seed (training is deterministic per seed).")
@options.with_options(options.setting_options(TRAIN_SETTINGS, "subset", *RECIPE_SETTINGS))
@options.opt(
    "--teacher",
    click.Path(exists=True, file_okay=False),
    "A finished run of the same data set whose probabilities the model also learns from "
    "(knowledge distillation; its share: --distill-weight).",
    metavar="RUN_DIR",
)
@options.with_options(_augment_options())
@options.out_option("run_dir", "Run directory to write.")
@options.force_option(
    "Replace a run already in --out (a multiworker backup of this same run is continued)."
)
@options.opt(
    "--resume", None, "Continue the interrupted run in --out from its checkpoint.", is_flag=True
)
@options.with_options(options.setting_options(DISTRIBUTION_SETTINGS))
@options.data_dir_option
@options.user_errors
def train_command(strategy, workers, worker_index, worker_timeout, **given) -> None:
    """Train a model on Fashion-MNIST, or on your own --data, into a run directory.

    With --strategy multiworker, start the same command on every worker (each with its own
    --worker-index); a worker whose cluster loses a peer starts its training again and
    continues from the last epoch's backup in --out.
    """
    from tinycnn.training.config import check_resume_request, train_config
    from tinycnn.training.console import run_training, supervise_training
    from tinycnn.training.distribute import distribution_from
    from tinycnn.training.models import UnknownModel

    distribution = distribution_from(strategy, workers, worker_index, worker_timeout)
    run_dir, model = given.pop("run_dir"), given.pop("model_name")
    given["channels"] = int(given["channels"]) if given["channels"] else None
    settings = {name: given.pop(name) for name in ("data_dir", "force", "resume")}
    augment = _augment_request(given)
    try:
        config = train_config(
            model, augment=augment["preset"], augment_knobs=augment["knobs"], **given
        )
    except UnknownModel as exc:
        raise click.BadParameter(str(exc), param_hint="'--model'") from None
    if settings["resume"]:  # it continues the run as configured: only --epochs may change
        config = check_resume_request(Path(run_dir), config, options.named_options())
    if distribution.multiworker and not os.environ.get(WORKER_PROCESS_ENV):
        arguments = options.command_line(click.get_current_context())
        resume = settings["resume"]
        options.exit_with(
            supervise_training(config, distribution, resume, arguments, run_dir, options.echo_err)
        )
    else:
        options.exit_with(
            run_training(config, run_dir, distribution, click.echo, options.echo_err, **settings)
        )


@click.command("augment")
@options.opt("--preview", None, "Write a grid of original and augmented images.", is_flag=True)
@options.out_option(
    "out_path", "The PNG to write (each row: an original, then augmented copies).", folder=False
)
@options.with_options(options.setting_options(PREVIEW_SETTINGS))
@options.seed_option()
@options.with_options(_augment_options("standard"))
@options.data_dir_option
@options.force_option("Replace an existing file that is not an earlier preview.")
@options.user_errors
def augment_command(
    preview, out_path, images, variants, seed, scale, data_dir, force, **settings
) -> None:
    """See what a model sees: training images through the augmentation they would get."""
    from tinycnn.training.augment import augmentation, write_preview

    if not preview:
        raise click.UsageError("nothing to do: pass --preview (the one action augment has)")
    request = _augment_request(settings)
    chosen = augmentation(request["preset"] or "standard", **request["knobs"])
    write_preview(Path(out_path), chosen, images, variants, seed, scale, data_dir, force)
    click.echo(
        f"wrote {out_path}: {images} training images x {variants} variants ({chosen.describe()})"
    )
