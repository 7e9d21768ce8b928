"""Training on more than one process with TensorFlow's own engine, ``tf.distribute``.

- The strategy a run asks for: ``default`` (one process, TensorFlow's default device),
  ``mirrored`` (``MirroredStrategy`` over this machine's GPUs, or its CPU) or ``multiworker``
  (``MultiWorkerMirroredStrategy`` over a cluster of processes, one per machine or per core).
- The cluster of a multi-worker run, from ``TF_CONFIG`` or from ``--workers`` and
  ``--worker-index``. The first worker (or the ``chief`` task) is the chief: only it writes the
  run directory.
- ``Backup``: tf.distribute's own checkpointing (``tf.train.Checkpoint`` and
  ``CheckpointManager``, the mechanism of Keras's ``BackupAndRestore``) of the weights, the
  optimizer, the epochs done and the history, in ``RUN_DIR/backup``. Every worker saves at the
  end of every epoch (the chief into the run directory, the others into a scratch folder they
  delete) and every worker restores from the chief's: a worker started again continues at the
  first epoch the backup does not hold.
- ``supervise``: TensorFlow aborts the collectives of every surviving worker once a peer is
  lost, and the process must start again to recover. A multi-worker ``tinycnn train`` is
  therefore a small supervisor and the training process it starts: a training process that
  loses its cluster exits with ``CLUSTER_LOST_EXIT`` and is started again; it then waits up to
  the worker timeout for the whole cluster, and ends the run with a clear error if a worker
  never comes back.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import select
import shutil
import socket
import tempfile
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tinycnn.errors import TinycnnError
from tinycnn.rundir import BACKUP_DIR
from tinycnn.settings import Setting, settings_table

STRATEGIES = ("default", "mirrored", "multiworker")
DEFAULT_WORKER_TIMEOUT_S = 120.0
STRATEGY = Setting(
    "strategy",
    "tf.distribute strategy: default (one process), mirrored (this machine's GPUs, or its CPU) "
    "or multiworker (a cluster of processes; see --workers and TF_CONFIG).",
    str,
    choices=STRATEGIES,
    default="default",
)
WORKER_TIMEOUT = Setting(
    "worker_timeout",
    "How long a multiworker worker waits for the others, at start and after losing one.",
    low=0,
    high=86400,
    low_open=True,
    metavar="SECONDS",
    default=DEFAULT_WORKER_TIMEOUT_S,
)
WORKERS = Setting(
    "workers",
    "The multiworker cluster, the same list on every worker (else $TF_CONFIG); the first is the "
    "chief, the only one that writes --out.",
    str,
    metavar="HOST:PORT,...",
)
WORKER_INDEX = Setting("worker_index", "This process's place in --workers, from 0.", int, low=0)
DISTRIBUTION_SETTINGS = settings_table(STRATEGY, WORKERS, WORKER_INDEX, WORKER_TIMEOUT)
CLUSTER_LOST_EXIT = 75  # EX_TEMPFAIL: try again; the run continues from its backup
WORKER_PROCESS_ENV = "TINYCNN_WORKER_PROCESS"  # set in the training process a supervisor starts
READY_FD_ENV = "TINYCNN_READY_FD"  # where that process reports on its cluster
WAITING, READY = b"w", b"r"
STARTUP_TIMEOUT_S = 600.0  # from a training process's start until it waits for its cluster
MAX_RESTARTS = 20  # a cluster that keeps failing is not retried for ever
# How often a worker checks that its peers are alive, and how long one check may take (three
# failed checks in a row and the collectives are aborted). TensorFlow's defaults (30 s, 10 s)
# notice a lost worker only after a minute or more.
HEALTH_CHECK_INTERVAL_S = 5
HEALTH_CHECK_TIMEOUT_S = 5


class ClusterError(TinycnnError):
    """A cluster that cannot be used: a bad TF_CONFIG or --workers, or one that did not form."""


class ClusterLost(TinycnnError):
    """A worker of the cluster was lost during training; started again, this worker continues
    from the last backup."""

    exit_code = CLUSTER_LOST_EXIT


@dataclass(frozen=True)
class Cluster:
    """One process's view of a multi-worker cluster: every task's address, in TensorFlow's order
    (the chief first, then the workers), and which of them this process is."""

    jobs: dict  # {"chief": [address], "worker": [address, ...]}, as in TF_CONFIG
    task_type: str
    task_index: int

    @property
    def addresses(self) -> list[str]:
        return [*self.jobs.get("chief", []), *self.jobs.get("worker", [])]

    @property
    def position(self) -> int:
        """This task's place in ``addresses``."""
        return self.task_index + (
            len(self.jobs.get("chief", [])) if self.task_type == "worker" else 0
        )

    @property
    def is_chief(self) -> bool:
        return self.position == 0

    def tf_config(self) -> str:
        return json.dumps(
            {"cluster": self.jobs, "task": {"type": self.task_type, "index": self.task_index}}
        )

    def describe(self) -> str:
        role = "chief" if self.is_chief else "worker"
        return f"{role} {self.position} of {len(self.addresses)} ({self.addresses[self.position]})"


_ADDRESS = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$")


def _check_address(address: str, where: str) -> str:
    match = _ADDRESS.match(address.strip()) if isinstance(address, str) else None
    if not match or not 0 < int(match.group(2)) < 65536:
        raise ClusterError(f"{where}: {address!r} is not HOST:PORT (a port from 1 to 65535)")
    return address.strip()


def _checked_jobs(jobs: dict, where: str) -> dict:
    if not isinstance(jobs, dict) or not jobs:
        raise ClusterError(
            f'{where}: the cluster must name its workers, e.g. {{"worker": ["host:port", ...]}}'
        )
    unknown = sorted(set(jobs) - {"chief", "worker"})
    if unknown:
        raise ClusterError(
            f"{where}: multiworker training takes the jobs chief and worker, not {', '.join(unknown)}"
        )
    checked = {}
    for job, addresses in jobs.items():
        if not isinstance(addresses, list) or not addresses:
            raise ClusterError(f"{where}: the {job} job must be a list of HOST:PORT addresses")
        checked[job] = [_check_address(address, where) for address in addresses]
    if len(checked.get("chief", [])) > 1:
        raise ClusterError(f"{where}: a cluster has at most one chief")
    every = [*checked.get("chief", []), *checked.get("worker", [])]
    repeated = sorted({address for address in every if every.count(address) > 1})
    if repeated:
        raise ClusterError(
            f"{where}: {', '.join(repeated)} appears twice; every task needs its own port"
        )
    return checked


def free_localhost_ports(count: int) -> list[int]:
    """``count`` TCP ports free on localhost now, for a cluster of local worker processes (a
    test, a benchmark); another program may still take one before the workers start."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("localhost", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def cluster_from(
    workers: str | None, worker_index: int | None, environ: dict | None = None
) -> Cluster:
    """The cluster of a multi-worker run: ``--workers HOST:PORT,...`` with ``--worker-index``,
    or else the ``TF_CONFIG`` variable. ClusterError names what is wrong in either."""
    environ = os.environ if environ is None else environ
    if workers is not None:
        addresses = [address for address in workers.split(",")]
        jobs = _checked_jobs({"worker": addresses}, "--workers")
        if worker_index is None:
            raise ClusterError(
                "--workers needs --worker-index: this process's place in the list, from 0"
            )
        if not 0 <= worker_index < len(addresses):
            raise ClusterError(
                f"--worker-index must be from 0 to {len(addresses) - 1} for {len(addresses)} workers, "
                f"got {worker_index}"
            )
        return Cluster(jobs, "worker", worker_index)
    if worker_index is not None:
        raise ClusterError("--worker-index goes with --workers HOST:PORT,HOST:PORT,...")
    text = environ.get("TF_CONFIG")
    if not text:
        raise ClusterError(
            "--strategy multiworker needs the cluster: set TF_CONFIG (see docs/distributed.md) or pass "
            "--workers HOST:PORT,HOST:PORT --worker-index I"
        )
    try:
        tf_config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ClusterError(
            f"TF_CONFIG is not valid JSON ({exc.msg} at column {exc.colno})"
        ) from None
    if not isinstance(tf_config, dict):
        raise ClusterError('TF_CONFIG must be a JSON object with "cluster" and "task"')
    jobs = _checked_jobs(tf_config.get("cluster"), "TF_CONFIG")
    task = tf_config.get("task")
    if not isinstance(task, dict) or task.get("type") not in jobs:
        raise ClusterError(
            f'TF_CONFIG: "task" must name this process\'s job ({" or ".join(jobs)}) and index, '
            f"got {task!r}"
        )
    index = task.get("index", 0)
    if not isinstance(index, int) or not 0 <= index < len(jobs[task["type"]]):
        raise ClusterError(
            f"TF_CONFIG: the task index must be from 0 to {len(jobs[task['type']]) - 1}, got {index!r}"
        )
    return Cluster(jobs, task["type"], index)


def distribution_from(
    strategy: str = "default",
    workers: str | None = None,
    worker_index: int | None = None,
    worker_timeout: float = DEFAULT_WORKER_TIMEOUT_S,
) -> Distribution:
    """The distribution a command asks for: for ``multiworker``, the cluster of ``--workers``
    and ``--worker-index`` or else TF_CONFIG (see `cluster_from`); ClusterError when a cluster
    is given to another strategy."""
    if strategy != "multiworker" and (workers is not None or worker_index is not None):
        raise ClusterError("--workers goes with --strategy multiworker")
    cluster = cluster_from(workers, worker_index) if strategy == "multiworker" else None
    return Distribution(strategy, cluster, worker_timeout)


@dataclass(frozen=True)
class Distribution:
    """How a run is spread: the strategy, and for ``multiworker`` the cluster and how long a
    worker waits for the others (at start, and after losing one)."""

    strategy: str = "default"
    cluster: Cluster | None = None
    worker_timeout_s: float = DEFAULT_WORKER_TIMEOUT_S

    def __post_init__(self):
        STRATEGY.check(self.strategy, ClusterError)
        if (self.strategy == "multiworker") != (self.cluster is not None):
            raise ClusterError("a cluster goes with --strategy multiworker, and only with it")
        WORKER_TIMEOUT.check(self.worker_timeout_s, ClusterError)

    @property
    def multiworker(self) -> bool:
        return self.cluster is not None

    @property
    def is_chief(self) -> bool:
        """Whether this process writes the run directory."""
        return self.cluster is None or self.cluster.is_chief

    def as_dict(self) -> dict:
        return {
            "strategy": self.strategy,
            "workers": self.cluster.addresses if self.cluster else [],
            "worker_timeout_s": self.worker_timeout_s,
        }


def cluster_timeout_message(cluster: Cluster, timeout_s: float) -> str:
    return (
        f"{cluster.describe()}: timed out after {timeout_s:g} s waiting for the cluster "
        f"({', '.join(cluster.addresses)}): a worker is missing or cannot be reached "
        "(--worker-timeout sets the wait)"
    )


def make_strategy(distribution: Distribution):
    """The ``tf.distribute`` strategy; create it before any other TensorFlow work (a
    multi-worker strategy configures the runtime). Waits up to the worker timeout for the
    cluster; ClusterError when it does not form."""
    if distribution.multiworker:
        os.environ["TF_CONFIG"] = distribution.cluster.tf_config()
    from tinycnn.tfenv import tf

    if distribution.strategy == "default":
        return tf.distribute.get_strategy()
    if distribution.strategy == "mirrored":
        return tf.distribute.MirroredStrategy()
    # The health checks' settings are class attributes of TensorFlow's implementation, with
    # no public knob: the first check is the wait for the cluster to form.
    from tensorflow.python.distribute.collective_all_reduce_strategy import (
        CollectiveAllReduceExtended,
    )

    CollectiveAllReduceExtended._check_health_initial_timeout = math.ceil(
        distribution.worker_timeout_s
    )
    CollectiveAllReduceExtended._check_health_interval = HEALTH_CHECK_INTERVAL_S
    CollectiveAllReduceExtended._check_health_timeout = HEALTH_CHECK_TIMEOUT_S
    _tell_supervisor(WAITING)
    try:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    except RuntimeError as exc:
        if "Timeout waiting for the cluster" not in str(exc):
            raise
        raise ClusterError(
            cluster_timeout_message(distribution.cluster, distribution.worker_timeout_s)
        ) from None
    _tell_supervisor(READY)
    return strategy


def is_cluster_failure(exc: BaseException) -> bool:
    """Whether an exception from training means a worker of the cluster was lost (TensorFlow
    aborts the collectives of the survivors with one of these)."""
    from tinycnn.tfenv import tf

    lost = (
        tf.errors.UnavailableError,
        tf.errors.DeadlineExceededError,
        tf.errors.CancelledError,
        tf.errors.AbortedError,
        tf.errors.FailedPreconditionError,
    )
    # an aborted collective can also surface as an internal error naming it
    aborted = isinstance(exc, tf.errors.InternalError) and "ollective" in str(exc)
    return isinstance(exc, lost) or aborted


def agreed(strategy, value: int) -> bool:
    """Whether every worker holds the same ``value``."""
    return agreed_each(strategy, [value])[0]


def agreed_each(strategy, values: list[int]) -> list[bool]:
    """For each of ``values``, whether every worker holds the same one (one all-reduce of the
    values and their squares: the two sums match n values only when they are all equal). Each
    value must stay below 2^24, so that the sums of squares of up to 32 workers are exact in
    float64."""
    from tinycnn.tfenv import tf

    def local():
        return tf.constant([[v, v * v] for v in values], dtype=tf.float64)

    sums = strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(local), axis=None).numpy()
    replicas = strategy.num_replicas_in_sync
    return [
        bool(total**2 == replicas * squares and total == replicas * value)
        for (total, squares), value in zip(sums, values, strict=True)
    ]


def differing_settings(strategy, settings: dict) -> list[str]:
    """The names of ``settings`` (JSON-able values) whose values are not the same on every
    worker, compared through a 24-bit digest of each."""
    names = sorted(settings)
    digests = [
        zlib.crc32(json.dumps(settings[name], sort_keys=True).encode()) & 0xFFFFFF for name in names
    ]
    return [
        name for name, same in zip(names, agreed_each(strategy, digests), strict=True) if not same
    ]


def _scratch_dir() -> Path:
    """A worker's scratch folder, named as ``processes.work_dir`` names its folders, so that
    it is swept once its process is gone, however that process ended."""
    from tinycnn.processes import WORK_PREFIX, sweep_stale_work_dirs

    sweep_stale_work_dirs(Path(tempfile.gettempdir()))
    return Path(tempfile.mkdtemp(prefix=f"{WORK_PREFIX}{os.getpid()}-worker-"))


class WorkerOutput:
    """Where one worker writes. Saving a model or a checkpoint reads distributed variables,
    which takes every worker, so every worker saves what the chief saves: the chief into the
    run directory, the others into a scratch folder they empty after each save."""

    def __init__(self, run_dir: Path, chief: bool):
        self.run_dir, self.chief = run_dir, chief
        self._scratch = None if chief else _scratch_dir()

    def path(self, name: str) -> Path:
        return self.run_dir / name if self._scratch is None else self._scratch / name

    def discard(self) -> None:
        """Empty the scratch folder (a worker's copies are no use to anyone)."""
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch.mkdir()

    def close(self) -> None:
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)


class Backup:
    """tf.distribute's checkpoint of a run at the end of an epoch: weights, optimizer state,
    epochs done and the training state (history, best epoch) as JSON, in ``RUN_DIR/backup``.
    Every worker saves through its ``WorkerOutput`` and restores from the chief's backup.
    Created outside the strategy's scope: the two counters are each worker's own."""

    def __init__(self, model, output: WorkerOutput):
        from tinycnn.tfenv import tf

        self._output = output
        self._epochs_done = tf.Variable(0, dtype=tf.int64, trainable=False)
        self._state = tf.Variable("{}", dtype=tf.string, trainable=False)
        checkpoint = tf.train.Checkpoint(
            model=model, epochs_done=self._epochs_done, state=self._state
        )
        self._read = tf.train.CheckpointManager(
            checkpoint, str(output.run_dir / BACKUP_DIR), max_to_keep=1
        )
        self._write = (
            self._read
            if output.chief
            else tf.train.CheckpointManager(checkpoint, str(output.path(BACKUP_DIR)), max_to_keep=1)
        )

    def restore(self) -> tuple[int, dict]:
        """(epochs done, training state) of the chief's last backup; (0, {}) without one."""
        self._read.restore_or_initialize()
        return int(self._epochs_done.numpy()), json.loads(self._state.numpy().decode())

    def save(self, epochs_done: int, state: dict) -> None:
        self._epochs_done.assign(epochs_done)
        self._state.assign(json.dumps(state))
        self._write.save()
        self._output.discard()


def _tell_supervisor(news: bytes) -> None:
    """Tell the supervisor (see ``supervise``) that this training process is now waiting for its
    cluster (``WAITING``) or that the cluster has formed (``READY``)."""
    fd = os.environ.get(READY_FD_ENV)
    if fd is not None:
        with contextlib.suppress(OSError):
            os.write(int(fd), news)
            if news == READY:
                os.close(int(fd))
                os.environ.pop(READY_FD_ENV)


def _news(fd: int, timeout_s: float) -> bytes:
    """The next byte from the training process; b"" on timeout or when it has closed the pipe
    (it exited)."""
    readable, _, _ = select.select([fd], [], [], timeout_s)
    return os.read(fd, 1) if readable else b""


def supervise(
    command: list[str],
    cluster: Cluster,
    timeout_s: float,
    on_restart: Callable[[int, int], None] | None = None,
    note: Callable[[], str] = str,
) -> int:
    """Run a worker's training process, ``command``, and start it again while it ends because
    its cluster lost a worker (exit ``CLUSTER_LOST_EXIT``) or a signal killed it (not from this
    process); each new start continues from the backup. Returns the last exit status;
    ``on_restart(attempt, status)`` hears of each restart.

    A process waiting for its peers blocks inside TensorFlow, where no timeout reaches it, so
    the supervisor keeps the time: a training process that has waited ``timeout_s`` for its
    cluster is stopped, and ClusterError says which cluster did not form (``note()`` added)."""
    from tinycnn.processes import spawn, stop

    for attempt in range(MAX_RESTARTS + 1):
        ready_read, ready_write = os.pipe()
        environment = {**os.environ, WORKER_PROCESS_ENV: "1", READY_FD_ENV: str(ready_write)}
        try:
            process = spawn(command, env=environment, pass_fds=(ready_write,))
        finally:
            os.close(ready_write)
        try:
            news = _news(ready_read, STARTUP_TIMEOUT_S)  # TensorFlow's import, the dataset
            if news == WAITING:
                news = _news(ready_read, timeout_s)
                if news == b"" and process.poll() is None:
                    raise ClusterError(cluster_timeout_message(cluster, timeout_s) + note())
            status = process.wait()
        finally:
            stop(process)
            os.close(ready_read)
        if status != CLUSTER_LOST_EXIT and status >= 0:
            return status
        if attempt == MAX_RESTARTS:
            break
        if on_restart:
            on_restart(attempt + 1, status)
        time.sleep(1.0)  # a port just released, a peer that is restarting too
    return CLUSTER_LOST_EXIT
