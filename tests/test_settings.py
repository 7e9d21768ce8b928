"""One table per setting: the library checks a value against it and the command line builds its
option from the same entry, so a range cannot differ between the two."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from tinycnn.board.monitor_options import MONITOR_SETTINGS, MonitorOptions
from tinycnn.cli import cli
from tinycnn.errors import TinycnnError
from tinycnn.rundir import RunError
from tinycnn.settings import Setting
from tinycnn.training.augment import KNOBS, AugmentError, augmentation
from tinycnn.training.config import TRAIN_SETTINGS, TrainConfig, train_config
from tinycnn.training.distribute import ClusterError, Distribution


@pytest.mark.parametrize(
    ("setting", "text"),
    [
        (Setting("a", "", low=0, low_open=True), "positive"),
        (Setting("a", "", int, low=1), "at least 1"),
        (Setting("a", "", low=0.1), "at least 0.1"),
        (Setting("a", "", low=0, high=1, high_open=True), "in [0, 1)"),
        (Setting("a", "", low=0, high=8, low_open=True), "in (0, 8]"),
        (Setting("a", "", high=2), "at most 2"),
    ],
)
def test_range_text(setting, text):
    assert setting.range_text() == text


def test_check_refuses_what_is_outside_and_passes_the_ends_inside():
    unit = Setting("share", "", low=0, high=1, high_open=True)
    for good in (0, 0.0, 0.5, 0.999, None):
        unit.check(good)
    for bad, why in [
        (1, r"share must be in \[0, 1\), got 1"),
        (-0.1, r"in \[0, 1\)"),
        (float("nan"), "finite"),
        (float("inf"), "finite"),
        ("0.5", "must be a number"),
        (True, "must be a number"),
    ]:
        with pytest.raises(TinycnnError, match=why):
            unit.check(bad)
    count = Setting("count", "", int, low=1)
    with pytest.raises(TinycnnError, match="whole number"):
        count.check(1.5)
    choice = Setting("kind", "", str, choices=("a", "b"))
    choice.check("a")
    with pytest.raises(ValueError, match="kind must be one of a, b, got 'c'"):
        choice.check("c", ValueError)
    text = Setting("name", "", str)
    text.check("anything")
    with pytest.raises(TinycnnError, match="name must be text, got 3"):
        text.check(3)


@pytest.mark.parametrize("name", sorted(TRAIN_SETTINGS))
def test_train_config_checks_every_setting_below_and_above_its_range(name):
    setting = TRAIN_SETTINGS[name]
    base = {"width": 1.0} if name == "depth" else {}
    outside = []
    if setting.choices:
        outside.append("nope")
    if setting.low is not None:
        outside.append(setting.low if setting.low_open else setting.low - 1)
    if setting.high is not None:
        outside.append(setting.high if setting.high_open else setting.high + 1)
    assert outside, f"{name} has no range to check"
    for value in outside:
        config = TrainConfig(**{"model": "mobilenet_tiny", "epochs": 10, "batch_size": 8, **base})
        config = TrainConfig(**{**config.__dict__, name: value})
        with pytest.raises(RunError, match=name.replace("_", " ")):
            config.validate()


def test_train_config_from_the_library_refuses_an_out_of_range_recipe():
    with pytest.raises(RunError, match="learning rate must be positive, got -0.1"):
        train_config("lenet5", learning_rate=-0.1).validate()
    with pytest.raises(RunError, match=r"label smoothing must be in \[0, 1\), got 1"):
        train_config("lenet5", label_smoothing=1.0).validate()


def test_augmentation_knobs_are_checked_with_their_option_names():
    for knob in KNOBS.values():
        if knob.choices:
            continue
        with pytest.raises(AugmentError, match=rf"^{knob.flag} must be in \[0, "):
            augmentation("none", **{knob.name: knob.high * 1.5})
        augmentation("none", **{knob.name: knob.high})  # the end is inside


def test_monitor_options_and_distribution_check_their_numbers():
    for name, value in [("frame_timeout", 0.05), ("retries", 11), ("baud", 0)]:
        with pytest.raises(TinycnnError, match=MONITOR_SETTINGS[name].flag):
            MonitorOptions(**{name: value})
    with pytest.raises(TinycnnError, match="--validate must be in"):
        MonitorOptions(validate_count=10_001)
    with pytest.raises(ClusterError, match=r"worker timeout must be in \(0, 86400\]"):
        Distribution(worker_timeout_s=0.0)
    with pytest.raises(ClusterError, match="strategy must be one of"):
        Distribution(strategy="ring")


def _bench(**given):
    from tinycnn.board.bench import bench

    bench("model.tflite", **given)


def _export(**given):
    from tinycnn.codegen.export import export

    export("model.tflite", "qemu_m4", "fw", **given)


def _preview(**given):
    from tinycnn.training.augment import augmentation, write_preview

    settings = {"images": 1, "variants": 1, "seed": 0, "scale": 1, **given}
    write_preview("p.png", augmentation("none"), **settings)


def _sweep(**given):
    from tinycnn.zoo.sweep import make_sweep, run_sweep

    run_sweep(make_sweep("lenet5", "1", "none"), "sweep", **given)


def _visualize(**given):
    from tinycnn.insight.visualize import visualize

    visualize("model.tflite", "pictures", **given)


def _predict(**given):
    from tinycnn.engines.predict import predict_file

    predict_file("model.tflite", ["x.npy"], "y.npy", **given)


def _distribution(**given):
    from tinycnn.training.distribute import distribution_from

    distribution_from(**given)


def _monitor(**given):
    from tinycnn.board.console import monitor_request

    monitor_request(None, **given)


@pytest.mark.parametrize(
    ("call", "given", "message"),
    [
        (_bench, {"images": 101}, r"--images must be in \[1, 100\], got 101"),
        (_bench, {"host_rounds": -1}, "--host-rounds must be at least 0, got -1"),
        (_export, {"test_images": 0}, r"--test-images must be in \[1, 1000\], got 0"),
        (_export, {"runtime": "cmsis"}, "--runtime must be one of native, tflm, got 'cmsis'"),
        (_preview, {"variants": 17}, r"--variants must be in \[1, 16\], got 17"),
        (_preview, {"scale": 0}, r"--scale must be in \[1, 8\], got 0"),
        (_sweep, {"workers": 0}, r"--workers must be in \[1, 64\], got 0"),
        (_visualize, {"other_class": -1}, "--class must be at least 0, got -1"),
        (_predict, {"engine": "gpu"}, "--engine must be one of reference, litert"),
        (_distribution, {"workers": "a:1,b:2"}, "--workers goes with --strategy multiworker"),
        (_monitor, {"validate_count": 3}, "--validate needs --model"),
        (_monitor, {"csv_path": "r.csv"}, "--csv writes validation results"),
    ],
)
def test_the_library_refuses_what_the_options_refuse(call, given, message, tmp_path, monkeypatch):
    """Called from Python, without the command line's checks: the same ranges and choices, in
    one line naming the option, before anything is read or written."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(TinycnnError, match=message):
        call(**given)
    assert not list(tmp_path.iterdir())


def test_options_that_do_not_go_together_exit_as_usage_mistakes():
    from tinycnn.board.console import monitor_request

    with pytest.raises(TinycnnError) as caught:
        monitor_request(None, csv_path="r.csv")
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["train", "--label-smoothing", "1", "--out", "r"], "0<=x<1"),
        (["train", "--rotate", "181", "--out", "r"], "0.0<=x<=180.0"),
        (["train", "--depth", "9", "--out", "r"], "1<=x<=8"),
        (["quantize", "run", "--calibration-samples", "0"], "x>=1"),
        (["monitor", "--port", "loop://", "--retries", "11"], "0<=x<=10"),
        (["train", "--worker-timeout", "0", "--out", "r"], "0<x<=86400"),
        (["export", "m.tflite", "--test-images", "0", "--out", "fw"], "1<=x<=1000"),
        (["bench", "m.tflite", "--images", "101"], "1<=x<=100"),
        (["sweep", "--models", "lenet5", "--workers", "65", "--out", "s"], "1<=x<=64"),
        (["visualize", "m.tflite", "--class", "-1", "--out", "p"], "x>=0"),
        (["augment", "--preview", "--out", "p.png", "--scale", "9"], "1<=x<=8"),
    ],
)
def test_the_options_carry_the_library_ranges(args, fragment, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and fragment in result.output, result.output
