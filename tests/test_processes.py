"""No orphaned emulator: real `tinycnn` processes killed with SIGTERM, SIGHUP and SIGKILL while
QEMU runs, then a look at what is left (processes and work folders)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tinycnn.processes import WORK_PREFIX, spawn, stop, sweep_stale_work_dirs, work_dir

pytestmark = pytest.mark.slow  # real tinycnn processes running QEMU

QEMU_NAME = "qemu-system-arm"


def _children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def _descendants(pid: int) -> list[int]:
    result, queue = [], [pid]
    while queue:
        children = _children_of(queue.pop())
        result += children
        queue += children
    return result


def _name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting for its parent."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_for_qemu(process: subprocess.Popen, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        qemus = [pid for pid in _descendants(process.pid) if _name(pid).startswith(QEMU_NAME[:15])]
        if qemus:
            return qemus[0]
        time.sleep(0.1)
    raise AssertionError(f"no QEMU under tinycnn within {timeout_s} s")


def _gone_within(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


def _default_signals() -> None:
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)


def _tinycnn(args: list[str], tmp: Path) -> subprocess.Popen:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp / "cache"), "TMPDIR": str(tmp / "tmp")}
    (tmp / "tmp").mkdir(exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", "tinycnn.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        # The test checks tinycnn, not a parent that ignores SIGINT (a background job) or
        # SIGHUP (nohup): the child starts with the default dispositions.
        preexec_fn=_default_signals,
    )


@pytest.fixture(scope="module")
def small_model(tmp_path_factory) -> Path:
    from op_harness import convert_case

    path = tmp_path_factory.mktemp("model") / "small.tflite"
    path.write_bytes(
        convert_case(
            lambda k, L, x: L.Dense(10)(L.Flatten()(L.Conv2D(8, 3, activation="relu")(x))),
            (28, 28, 1),
        )
    )
    return path


@pytest.fixture(scope="module")
def small_firmware(small_model, tmp_path_factory) -> Path:
    from tinycnn.board.emulate import firmware_for

    return firmware_for(small_model, cache_dir=tmp_path_factory.mktemp("fw"))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_emulate_killed_leaves_no_qemu(small_firmware, tmp_path, signum):
    process = _tinycnn(["emulate", str(small_firmware)], tmp_path)
    qemu = _wait_for_qemu(process, 60)
    deadline = time.monotonic() + 30
    while "running in QEMU" not in (line := process.stdout.readline()):
        assert line and time.monotonic() < deadline, process.communicate()
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 128 + signum, stderr
    assert _gone_within(qemu, 10), f"QEMU {qemu} outlived tinycnn"
    assert stderr.strip().startswith("Error: interrupted by") and "Traceback" not in stderr
    assert not list((tmp_path / "tmp").glob(f"{WORK_PREFIX}*"))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_predict_m4_killed_leaves_no_qemu_and_no_work_folder(small_model, tmp_path, signum):
    np.save(tmp_path / "x.npy", np.zeros((3000, 28, 28, 1), np.int8))
    args = ["predict", str(small_model), "--input", str(tmp_path / "x.npy")]
    process = _tinycnn([*args, "--output", str(tmp_path / "y.npy"), "--engine", "m4"], tmp_path)
    qemu = _wait_for_qemu(process, 120)
    assert list((tmp_path / "tmp").glob(f"{WORK_PREFIX}{process.pid}-*")), "no work folder seen"
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 128 + signum, stderr
    assert _gone_within(qemu, 10), f"QEMU {qemu} outlived tinycnn"
    assert not list((tmp_path / "tmp").glob(f"{WORK_PREFIX}*"))
    assert not (tmp_path / "y.npy").exists() and not list(tmp_path.glob(".y.npy*"))


def test_a_crash_of_tinycnn_takes_qemu_with_it(small_firmware, tmp_path):
    """SIGKILL leaves Python no chance to clean up: the kernel kills QEMU (PR_SET_PDEATHSIG).
    (The work folders such a death leaves are swept by the next tinycnn: next test.)"""
    process = _tinycnn(["emulate", str(small_firmware)], tmp_path)
    qemu = _wait_for_qemu(process, 60)
    process.kill()
    process.communicate(timeout=30)
    assert _gone_within(qemu, 10), f"QEMU {qemu} outlived a killed tinycnn"


def test_work_folders_of_dead_processes_are_swept(tmp_path):
    finished = subprocess.Popen(["true"])
    finished.wait()
    stale = tmp_path / f"{WORK_PREFIX}{finished.pid}-abc"
    stale.mkdir()
    (stale / "firmware.elf").write_bytes(b"x")
    mine = tmp_path / f"{WORK_PREFIX}{os.getpid()}-def"
    mine.mkdir()
    unrelated = tmp_path / "tinycnn-cache-0"
    unrelated.mkdir()
    sweep_stale_work_dirs(tmp_path)
    assert not stale.exists() and mine.exists() and unrelated.exists()
    with work_dir(tmp_path) as work:
        assert work.name.startswith(f"{WORK_PREFIX}{os.getpid()}-")
    assert not work.exists()


def test_spawned_child_is_in_its_own_group_and_stopped(tmp_path):
    process = spawn(["sleep", "60"])
    try:
        assert os.getpgid(process.pid) == process.pid != os.getpgid(0)
    finally:
        status = stop(process)
    assert status == -signal.SIGKILL and not _alive(process.pid)


def test_junk_firmware_is_an_error_not_running(tmp_path):
    junk = tmp_path / "junk.elf"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    for extra in ([], ["--monitor"]):
        process = _tinycnn(["emulate", str(junk), *extra], tmp_path)
        stdout, stderr = process.communicate(timeout=60)
        assert process.returncode == 1, (stdout, stderr)
        assert "running in QEMU" not in stdout
        errors = [line for line in stderr.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1 and "QEMU stopped (aborted, SIGABRT)" in errors[0], stderr
        assert "Lockup" in errors[0] and "Traceback" not in stderr
        assert not list((tmp_path / "tmp").glob(f"{WORK_PREFIX}*"))


def test_emulate_duration_is_honoured(small_firmware, tmp_path):
    started = time.monotonic()
    process = _tinycnn(["emulate", str(small_firmware), "--duration", "2"], tmp_path)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "for 2 s" in stdout and 2 <= time.monotonic() - started < 30


def test_a_users_folder_is_never_swept(small_model, tmp_path):
    """An export stages its project beside --out without sweeping there: a user's folder that
    happens to look like a stale work folder stays."""
    from tinycnn.codegen.export import export

    finished = subprocess.Popen(["true"])
    finished.wait()
    lookalike = tmp_path / f"{WORK_PREFIX}{finished.pid}-notes"
    lookalike.mkdir()
    export(small_model, "nano33", tmp_path / "sketch")
    assert lookalike.is_dir() and (tmp_path / "sketch" / "sketch.ino").is_file()


def test_a_killed_workers_and_browsers_folders_are_swept(tmp_path, monkeypatch):
    """A SIGKILLed `report --screenshot` left its Chromium profile (tinycnn-browser-*) and a
    killed worker its scratch folder (tinycnn-worker-*) in the temporary folder for good; they
    are now named tinycnn-PID-* (the profile through `work_dir`, tested above), and the next
    one to make such a folder sweeps the dead's."""
    import tempfile

    from tinycnn.training.distribute import _scratch_dir

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    (tmp_path / f"{WORK_PREFIX}{dead}-worker-abc").mkdir()
    scratch = _scratch_dir()
    assert scratch.name.startswith(f"{WORK_PREFIX}{os.getpid()}-worker-")
    assert [p.name for p in tmp_path.iterdir()] == [scratch.name]
