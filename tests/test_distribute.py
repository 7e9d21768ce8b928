"""Multi-worker training with tf.distribute: real worker processes on localhost, a worker killed
with SIGKILL and started again, a worker that never comes, and the cluster descriptions."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from tinycnn.cli import cli
from tinycnn.rundir import RunError
from tinycnn.training.distribute import ClusterError, cluster_from, free_localhost_ports

pytestmark = pytest.mark.slow  # real worker processes train a cluster

# A run small enough for a test and big enough to learn: 1,500 images, three epochs.
# Batches of 16: about 3 s per two-worker epoch, long enough to kill a worker in the middle.
RUN = ["--model", "seed_cnn", "--subset", "1500", "--batch-size", "16", "--seed", "3"]
EPOCHS = 3
WAIT_S = 240  # the longest any worker may take in these tests


def _tf_config(ports: list[int], index: int) -> str:
    return json.dumps(
        {
            "cluster": {"worker": [f"localhost:{port}" for port in ports]},
            "task": {"type": "worker", "index": index},
        }
    )


class Workers:
    """`tinycnn train --strategy multiworker` processes, each in its own session and killed
    with it at the end of the test."""

    def __init__(self, tmp_path: Path):
        self.tmp_path, self.processes = tmp_path, {}

    def start(self, name: str, args: list[str], env: dict | None = None) -> subprocess.Popen:
        log = open(self.tmp_path / f"{name}.log", "w")  # closed with the process
        process = subprocess.Popen(
            [sys.executable, "-m", "tinycnn", "train", "--strategy", "multiworker", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "TF_NUM_INTRAOP_THREADS": "1", **(env or {})},
            start_new_session=True,
        )
        process.log = log
        self.processes[name] = process
        return process

    def log(self, name: str) -> str:
        return (self.tmp_path / f"{name}.log").read_text()

    def wait(self, name: str) -> int:
        process = self.processes[name]
        status = process.wait(timeout=WAIT_S)
        process.log.close()
        return status

    def wait_for(self, name: str, text: str) -> None:
        deadline = time.monotonic() + WAIT_S
        while text not in self.log(name):
            assert self.processes[name].poll() is None, self.log(name)
            assert time.monotonic() < deadline, f"{text!r} not seen in {WAIT_S} s: {self.log(name)}"
            time.sleep(0.1)

    def kill(self, name: str) -> None:
        process = self.processes[name]
        os.killpg(process.pid, signal.SIGKILL)  # the supervisor and its training process
        process.wait(timeout=30)
        process.log.close()

    def close(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
            process.log.close()


@pytest.fixture
def workers(tmp_path):
    started = Workers(tmp_path)
    yield started
    started.close()


def _history(run_dir: Path) -> dict:
    return json.loads((run_dir / "history.json").read_text())


@pytest.fixture(scope="module")
def single_process_run(tmp_path_factory) -> Path:
    """The same request in one process: the yardstick of the two-worker runs."""
    run_dir = tmp_path_factory.mktemp("single") / "run"
    result = CliRunner().invoke(
        cli, ["train", *RUN, "--epochs", str(EPOCHS), "--out", str(run_dir)]
    )
    assert result.exit_code == 0, result.output
    return run_dir


@pytest.fixture(scope="module")
def two_worker_run(tmp_path_factory) -> Path:
    """Two worker processes on localhost, their cluster given by TF_CONFIG, one run directory."""
    tmp_path = tmp_path_factory.mktemp("two")
    run_dir, ports, started = tmp_path / "run", free_localhost_ports(2), Workers(tmp_path)
    try:
        for index in (0, 1):
            started.start(
                f"worker{index}",
                [*RUN, "--epochs", str(EPOCHS), "--out", str(run_dir)],
                env={"TF_CONFIG": _tf_config(ports, index)},
            )
        for index in (0, 1):
            assert started.wait(f"worker{index}") == 0, started.log(f"worker{index}")
        assert "worker 1 of 2" in started.log("worker1")
    finally:
        started.close()
    return run_dir


def test_two_workers_train_like_one_process(two_worker_run, single_process_run):
    """Same seed, same global batch: the two-worker run lands close to the single process, and
    only the chief wrote (one run directory, no scratch left behind)."""
    metrics = json.loads((two_worker_run / "metrics.json").read_text())
    single = json.loads((single_process_run / "metrics.json").read_text())
    assert (metrics["strategy"], metrics["workers"], metrics["replicas"]) == ("multiworker", 2, 2)
    assert metrics["epochs_run"] == EPOCHS
    assert single["test_accuracy"] > 0.6
    assert abs(metrics["test_accuracy"] - single["test_accuracy"]) < 0.05
    assert len(_history(two_worker_run)["loss"]) == EPOCHS
    config = json.loads((two_worker_run / "config.json").read_text())
    assert config["distribution"]["strategy"] == "multiworker"
    assert len(config["distribution"]["workers"]) == 2
    assert sorted(path.name for path in two_worker_run.iterdir()) == [
        "config.json",
        "history.json",
        "metrics.json",
        "model.keras",
    ]


def test_mirrored_on_a_cpu_is_the_default_strategy_exactly(tmp_path, single_process_run):
    """MirroredStrategy over this machine's one CPU: one replica, the same numbers."""
    run_dir = tmp_path / "mirrored"
    args = ["train", *RUN, "--epochs", str(EPOCHS), "--strategy", "mirrored", "--out", str(run_dir)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert (metrics["strategy"], metrics["workers"], metrics["replicas"]) == ("mirrored", 1, 1)
    assert _history(run_dir)["loss"] == _history(single_process_run)["loss"]


def test_a_killed_worker_started_again_continues_from_the_backup(workers, tmp_path, two_worker_run):
    """SIGKILL to worker 1 during its second epoch, then the same command again: the chief
    starts its training process again by itself, both continue from the backup of epoch 1, and
    the history is the uninterrupted run's, number for number: no epoch lost, none twice."""
    run_dir, ports = tmp_path / "run", free_localhost_ports(2)
    args = [
        *RUN,
        "--epochs",
        str(EPOCHS),
        "--out",
        str(run_dir),
        "--workers",
        ",".join(f"localhost:{port}" for port in ports),
        "--worker-timeout",
        "120",
        "--force",  # a worker started again with it continues its backup all the same
    ]
    workers.start("chief", [*args, "--worker-index", "0"])
    workers.start("worker", [*args, "--worker-index", "1"])
    workers.wait_for("worker", f"epoch   1/{EPOCHS}")
    time.sleep(1.0)  # into the second epoch
    workers.kill("worker")
    assert (run_dir / "backup").is_dir()
    workers.start("worker again", [*args, "--worker-index", "1"])
    assert workers.wait("chief") == 0, workers.log("chief")
    assert workers.wait("worker again") == 0, workers.log("worker again")

    chief_log = workers.log("chief")
    assert "the training process lost a worker; starting it again" in chief_log
    assert "Traceback" not in chief_log
    assert f"epoch   1/{EPOCHS}" not in workers.log("worker again")  # it started at epoch 2
    assert "continuing seed_cnn at epoch 2 of 3" in workers.log("worker again")
    history, whole = _history(run_dir), _history(two_worker_run)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert history[key] == whole[key], key
    assert not (run_dir / "backup").exists()


def test_a_worker_lost_in_the_first_epoch_restarts_the_run_from_epoch_1(workers, tmp_path):
    """SIGKILL to worker 1 before any backup exists, without --force: the chief's training
    process starts again by itself (its run folder holds its own unfinished run), the worker
    started again joins, and the run trains all its epochs."""
    run_dir, ports = tmp_path / "run", free_localhost_ports(2)
    args = [  # 6,000 images in batches of 16: epoch 1 lasts long enough to lose a worker in it
        *["--model", "seed_cnn", "--subset", "6000", "--batch-size", "16", "--seed", "3"],
        "--epochs",
        "2",
        "--out",
        str(run_dir),
        "--workers",
        ",".join(f"localhost:{port}" for port in ports),
        "--worker-timeout",
        "120",
    ]
    workers.start("chief", [*args, "--worker-index", "0"])
    workers.start("worker", [*args, "--worker-index", "1"])
    workers.wait_for("chief", "training seed_cnn")
    deadline = time.monotonic() + WAIT_S
    while not (run_dir / "config.json").is_file():  # the cluster formed, epoch 1 under way
        assert time.monotonic() < deadline, workers.log("chief")
        time.sleep(0.1)
    workers.kill("worker")
    assert not (run_dir / "backup" / "checkpoint").exists()
    workers.start("worker again", [*args, "--worker-index", "1"])
    assert workers.wait("chief") == 0, workers.log("chief")
    assert workers.wait("worker again") == 0, workers.log("worker again")
    assert "starting it again" in workers.log("chief")
    assert "already holds a run" not in workers.log("chief")
    assert len(_history(run_dir)["loss"]) == 2 and (run_dir / "model.keras").is_file()


def test_workers_started_with_different_settings_are_told_which(workers, tmp_path):
    """Worker 1 asks for another batch size and seed: both end with one line naming them,
    not a TensorFlow traceback."""
    run_dir, ports = tmp_path / "run", free_localhost_ports(2)
    cluster = ["--workers", ",".join(f"localhost:{port}" for port in ports)]
    common = ["--model", "seed_cnn", "--subset", "600", "--epochs", "1", "--out", str(run_dir)]
    workers.start("chief", [*common, *cluster, "--worker-index", "0", "--batch-size", "16"])
    workers.start(
        "worker",
        [*common, *cluster, "--worker-index", "1", "--batch-size", "32", "--seed", "5"],
    )
    for name in ("chief", "worker"):
        assert workers.wait(name) == 1, workers.log(name)
        log = workers.log(name)
        assert "Traceback" not in log, log
        errors = [line for line in log.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1 and "(batch_size, seed differ)" in errors[0], log
    assert not (run_dir / "model.keras").exists()


def test_a_missing_worker_ends_the_run_after_the_timeout(workers, tmp_path):
    run_dir, ports = tmp_path / "run", free_localhost_ports(2)
    workers.start(
        "chief",
        [*RUN, "--epochs", "1", "--out", str(run_dir), "--worker-timeout", "3"],
        env={"TF_CONFIG": _tf_config(ports, 0)},
    )
    assert workers.wait("chief") == 1
    lines = [line for line in workers.log("chief").splitlines() if line.strip()]
    assert lines[-1] == (
        f"Error: chief 0 of 2 (localhost:{ports[0]}): timed out after 3 s waiting for the "
        f"cluster (localhost:{ports[0]}, localhost:{ports[1]}): a worker is missing or cannot be "
        "reached (--worker-timeout sets the wait)"
    )
    assert not (run_dir / "model.keras").exists()


CLUSTERS = [  # (--workers, --worker-index, TF_CONFIG, the error or the (position, chief, count))
    ("a:1,b:2", 1, None, (1, False, 2)),
    ("a:1,b:2", 0, None, (0, True, 2)),
    (
        None,
        None,
        '{"cluster": {"worker": ["a:1", "b:2", "c:3"]}, "task": {"type": "worker", "index": 2}}',
        (2, False, 3),
    ),
    (
        None,
        None,
        '{"cluster": {"chief": ["a:1"], "worker": ["b:2"]}, "task": {"type": "worker", "index": 0}}',
        (1, False, 2),
    ),
    (
        None,
        None,
        '{"cluster": {"chief": ["a:1"], "worker": ["b:2"]}, "task": {"type": "chief"}}',
        (0, True, 2),
    ),
    ("a:1,b:2", None, None, "--workers needs --worker-index"),
    ("a:1,b:2", 2, None, "--worker-index must be from 0 to 1 for 2 workers, got 2"),
    ("a:1,a:1", 0, None, "a:1 appears twice"),
    ("a,b:2", 0, None, "'a' is not HOST:PORT"),
    ("a:70000", 0, None, "'a:70000' is not HOST:PORT"),
    (None, 1, None, "--worker-index goes with --workers"),
    (None, None, None, "set TF_CONFIG"),
    (None, None, "{not json", "TF_CONFIG is not valid JSON"),
    (None, None, '{"cluster": {"ps": ["a:1"]}, "task": {"type": "ps"}}', "not ps"),
    (
        None,
        None,
        '{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}',
        "index must be from 0 to 0",
    ),
    (None, None, '{"cluster": {"worker": ["a:1"]}}', '"task" must name'),
]


@pytest.mark.parametrize("workers_arg, index, tf_config, expected", CLUSTERS)
def test_cluster_descriptions(workers_arg, index, tf_config, expected):
    environ = {} if tf_config is None else {"TF_CONFIG": tf_config}
    if isinstance(expected, str):
        with pytest.raises(ClusterError) as error:
            cluster_from(workers_arg, index, environ)
        assert expected in str(error.value)
        return
    cluster = cluster_from(workers_arg, index, environ)
    assert (cluster.position, cluster.is_chief, len(cluster.addresses)) == expected
    handed_to_tensorflow = json.loads(cluster.tf_config())  # what TF_CONFIG becomes
    assert cluster_from(None, None, {"TF_CONFIG": json.dumps(handed_to_tensorflow)}) == cluster


A_CLUSTER = ["--strategy", "multiworker", "--workers", "a:1,b:2", "--worker-index", "0"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--strategy", "multiworker"], "needs the cluster: set TF_CONFIG"),
        (["--workers", "a:1,b:2", "--worker-index", "0"], "goes with --strategy multiworker"),
        ([*A_CLUSTER, "--resume"], "a multi-worker run continues from its backup"),
        (
            [*A_CLUSTER, "--early-stopping", "2"],
            "--early-stopping needs --strategy default or mirrored",
        ),
    ],
)
def test_bad_distribution_requests_get_one_line(tmp_path, args, message):
    result = CliRunner().invoke(
        cli,
        ["train", "--subset", "100", "--out", str(tmp_path / "run"), *args],
        env={"TF_CONFIG": ""},
    )
    assert result.exit_code in (1, 2), result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "run").exists()


def test_a_chief_continues_the_backup_of_its_own_run_even_with_force(tmp_path):
    """What a chief started again finds: its own unfinished run continues (--force or not: a
    scheduler restarts the original command), from the backup or, lost before the first one,
    from epoch 1; another run's backup is refused, or replaced with --force; a finished run
    or another run without a backup is for check_run_dir to refuse."""
    from dataclasses import asdict

    from tinycnn.training.config import TrainConfig
    from tinycnn.training.config import continues_run as _continues

    config = TrainConfig("seed_cnn", epochs=3, batch_size=16, subset=1500, seed=3)
    other = TrainConfig("seed_cnn", epochs=4, batch_size=16, subset=1500, seed=3)
    (tmp_path / "backup").mkdir()
    (tmp_path / "config.json").write_text(json.dumps({"train": asdict(config)}))
    assert _continues(config, tmp_path, force=False)  # no checkpoint in the backup yet
    assert not _continues(other, tmp_path, force=False)
    (tmp_path / "model.keras").write_text("finished")
    assert not _continues(config, tmp_path, force=False)
    (tmp_path / "model.keras").unlink()
    (tmp_path / "backup" / "checkpoint").write_text('model_checkpoint_path: "ckpt-1"\n')
    assert _continues(config, tmp_path, force=False)
    assert _continues(config, tmp_path, force=True)
    assert not _continues(other, tmp_path, force=True)
    with pytest.raises(
        RunError, match="holds the backup of another run \\(it differs in epochs\\)"
    ):
        _continues(other, tmp_path, force=False)
