"""Child processes and temporary folders that die with tinycnn.

Every program tinycnn starts (QEMU, the compilers, a compiled model) goes through ``spawn`` or
``run``: the child gets its own process group (a terminal's Ctrl-C reaches tinycnn, which
kills it, not the child half-way) and, on Linux, ``PR_SET_PDEATHSIG`` so that the kernel
kills it with SIGKILL when tinycnn dies, even by SIGKILL or a crash. ``install_signal_handlers``
turns SIGINT, SIGTERM and SIGHUP into an ``Interrupted`` exception (a KeyboardInterrupt, so
every Ctrl-C path handles the others too) after killing the children at once; ``finally``
blocks and context managers then clean up, and ``atexit`` reaps whatever is left.

Work folders come from ``work_dir``: named ``tinycnn-<pid>-...``, removed on every exit
path Python sees, and swept by the next tinycnn when the process that made them is gone.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

_PR_SET_PDEATHSIG = 1
WORK_PREFIX = "tinycnn-"
_children: set[subprocess.Popen] = set()
_children_lock = threading.Lock()


class Interrupted(KeyboardInterrupt):
    """A signal asked tinycnn to stop: SIGINT (Ctrl-C), SIGTERM (kill, schedulers, CI) or SIGHUP
    (a closed terminal)."""

    def __init__(self, signum: int = signal.SIGINT):
        self.signum = int(signum)
        super().__init__(signal.Signals(self.signum).name)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # what a shell reports for a process a signal ended


def exit_code_for(interrupt: BaseException) -> int:
    return getattr(interrupt, "exit_code", 128 + signal.SIGINT)


def signal_name(interrupt: BaseException) -> str:
    signum = getattr(interrupt, "signum", signal.SIGINT)
    return "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name


def _libc_prctl():
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux: rely on the handlers and atexit
        return None


_PRCTL = _libc_prctl()


def _child_setup(parent_pid: int, tie_to_parent: bool) -> None:
    """Runs in the child between fork and exec: own process group, killed with its parent."""
    os.setpgid(0, 0)
    if tie_to_parent and _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGKILL)


def _preexec():
    parent_pid = os.getpid()
    # PR_SET_PDEATHSIG fires when the *thread* that forked exits, so only children started
    # from the main thread are tied this way; the others rely on kill_children and atexit.
    tie = threading.current_thread() is threading.main_thread()
    return lambda: _child_setup(parent_pid, tie)


def spawn(command: list[str], **popen_kwargs) -> subprocess.Popen:
    """``subprocess.Popen`` for a child that dies with tinycnn; stop it with ``stop``."""
    process = subprocess.Popen(command, preexec_fn=_preexec(), **popen_kwargs)
    with _children_lock:
        _children.add(process)
    return process


def stop(process: subprocess.Popen, timeout_s: float = 10.0) -> int | None:
    """Kill a spawned child's whole process group and reap it; its exit status."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=timeout_s)
    with _children_lock:
        _children.discard(process)
    return process.returncode


def run(command: list[str], *, timeout: float, **kwargs) -> subprocess.CompletedProcess:
    """``subprocess.run`` for a child that dies with tinycnn (compilers, a compiled model)."""
    input_data = kwargs.pop("input", None)
    check = kwargs.pop("check", False)
    if kwargs.pop("capture_output", False):
        kwargs.update(stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    kwargs["stdin"] = subprocess.PIPE if input_data is not None else subprocess.DEVNULL
    process = spawn(command, **kwargs)
    try:
        stdout, stderr = process.communicate(input_data, timeout=timeout)
    finally:
        stop(process)  # a timeout or an interruption leaves no child behind
    result = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    if check:
        result.check_returncode()
    return result


def kill_children() -> None:
    """Kill every child still running (signal handlers, atexit)."""
    with _children_lock:
        children = list(_children)
    for process in children:
        stop(process, timeout_s=2.0)


atexit.register(kill_children)


def _raise_interrupted(signum, _frame):
    kill_children()
    raise Interrupted(signum)


def install_signal_handlers() -> None:
    """SIGINT, SIGTERM and SIGHUP raise ``Interrupted`` in the main thread, after killing the
    children. A signal the parent set to be ignored (``nohup``, a background job's SIGINT)
    stays ignored."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, _raise_interrupted)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_work_dirs(parent: Path) -> None:
    """Remove ``tinycnn-<pid>-*`` folders in ``parent`` whose process is gone (it was killed
    before it could clean up)."""
    with contextlib.suppress(OSError):
        for entry in os.scandir(parent):
            name = entry.name
            if not (name.startswith(WORK_PREFIX) and entry.is_dir(follow_symlinks=False)):
                continue
            pid_text = name[len(WORK_PREFIX) :].split("-", 1)[0]
            if (
                pid_text.isdigit()
                and int(pid_text) != os.getpid()
                and not _pid_alive(int(pid_text))
            ):
                shutil.rmtree(entry.path, ignore_errors=True)


@contextlib.contextmanager
def work_dir(parent: str | Path | None = None, sweep: bool = True) -> Iterator[Path]:
    """A temporary folder, removed on exit. With ``sweep`` the stale ones of dead tinycnn
    processes in ``parent`` go too: only in folders tinycnn owns (the temporary directory, its
    caches), never in a user's folder."""
    parent = Path(parent or tempfile.gettempdir())
    if sweep:
        sweep_stale_work_dirs(parent)
    path = Path(tempfile.mkdtemp(prefix=f"{WORK_PREFIX}{os.getpid()}-", dir=parent))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
