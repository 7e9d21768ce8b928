"""Checks on where tinycnn writes, made before any work starts, and its cache folders.

A command that cannot write its result says so in one line before it trains, converts or
compiles anything; it never writes over a file it reads (``refuse_overwriting_inputs``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

from tinycnn.errors import TinycnnError, TinycnnWarning


class OutputError(TinycnnError):
    """An output path that cannot be written, or that would overwrite an input."""


def _name_max(folder: Path) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def _probe_writable(folder: Path, what: str) -> None:
    """Create and remove a file in ``folder``: the only check that also holds for root."""
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".tinycnn-probe-"):
            pass
    except OSError as exc:
        raise OutputError(
            f"cannot write {what}: {folder} is not writable ({exc.strerror})"
        ) from None


def _existing_ancestor(path: Path) -> tuple[Path, list[str]]:
    """The nearest existing ancestor of ``path`` and the names below it still to create."""
    missing: list[str] = []
    current = path
    while not current.exists() and current != current.parent:
        missing.insert(0, current.name)
        current = current.parent
    return current, missing


def _refuse_dangling(path: Path, what: str) -> None:
    """A link to nothing would pass every check and fail at the first write, late."""
    if path.is_symlink() and not path.exists():
        raise OutputError(
            f"cannot write {what}: {path} is a link to {os.readlink(path)}, which does not exist"
        )


def check_output_dir(path: str | Path, what: str = "the output") -> Path:
    """A folder tinycnn will create (with its parents) or write into: refuse one that cannot
    be, naming why. Returns the path."""
    path = Path(path)
    limit = _name_max(Path.cwd())  # before any lookup: a name too long fails every one
    for name in path.parts:
        if len(os.fsencode(name)) > limit:
            raise OutputError(
                f"cannot write {what}: the name {name[:40]}... is longer than the file system's "
                f"{limit} bytes"
            )
    _refuse_dangling(path, what)
    if path.exists() and not path.is_dir():
        raise OutputError(f"cannot write {what}: {path} exists and is not a folder")
    ancestor, missing = _existing_ancestor(path)
    if not ancestor.is_dir():
        raise OutputError(f"cannot write {what}: {ancestor} is not a folder")
    _probe_writable(path if not missing else ancestor, what)
    return path


def check_output_file(path: str | Path, what: str = "the output") -> Path:
    """A file tinycnn will write: its folder must exist and be writable, its name must fit."""
    path = Path(path)
    folder = path.parent
    if not folder.exists():
        raise OutputError(f"cannot write {what}: the folder {folder} does not exist")
    if not folder.is_dir():
        raise OutputError(f"cannot write {what}: {folder} is not a folder")
    limit = _name_max(folder)
    # Files are written to a temporary name beside the target first, a few bytes longer.
    if len(os.fsencode(path.name)) + 24 > limit:
        raise OutputError(
            f"cannot write {what}: the name {path.name[:40]}... is too long for the file system "
            f"({limit} bytes at most)"
        )
    if path.is_dir():
        raise OutputError(f"cannot write {what}: {path} is a folder")
    _refuse_dangling(path, what)  # after the name's length: a lookup of a too long one fails
    _probe_writable(folder, what)
    return path


def _within(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def refuse_overwriting_inputs(output: str | Path, inputs: list[str | Path], flag: str) -> None:
    """Refuse an output file or folder that is, or contains, one of the command's inputs."""
    target = Path(os.path.abspath(output))
    for source in inputs:
        if source is None:
            continue
        source_path = Path(os.path.abspath(source))
        with contextlib.suppress(OSError):  # links: compare where they lead
            target, source_path = target.resolve(), source_path.resolve()
        if source_path == target:
            raise OutputError(
                f"{flag} {output} would overwrite the input {source}; choose another {flag}"
            )
        if _within(source_path, target):
            raise OutputError(
                f"{flag} {output} is a folder that holds the input {source}, and writing it "
                f"would replace what is there; give {flag} a new folder"
            )


@contextlib.contextmanager
def writing(folder: str | Path, what: str):
    """Hold ``folder`` for this process while it writes there: a second tinycnn writer (two
    trainings into one --out, a --resume while the run still trains, two exports to one
    folder) gets one OutputError naming the holder instead of a folder mixed from both. The
    lock is an flock on a hidden file beside the folder, which the operating system releases
    when the process ends, however it ends; the file is removed on the way out."""
    folder = Path(os.path.abspath(folder))
    lock_path = folder.parent / f".{folder.name}.tinycnn-lock"
    handle = _locked(lock_path, folder, what)
    if handle is None:  # no lock can be put beside it: the folder's own checks refuse it
        yield
        return
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            lock_path.unlink()  # while still held: a waiting process then sees a new file
        handle.close()


def holding(argument: str, what: str):
    """Decorator: the function's folder ``argument`` is held (``writing``) while it runs."""
    import functools
    import inspect

    def decorate(function):
        signature = inspect.signature(function)

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            with writing(signature.bind(*args, **kwargs).arguments[argument], what):
                return function(*args, **kwargs)

        return wrapper

    return decorate


def _locked(lock_path: Path, folder: Path, what: str):
    """The open, flocked lock file (its text naming this process), or None when it cannot be
    created; OutputError when another process holds it."""
    import fcntl
    import sys
    import time

    for _ in range(5):  # the holder may remove the file between our open and our lock
        try:
            handle = open(lock_path, "a+")  # noqa: SIM115 (held until the block ends)
        except OSError:
            return None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another tinycnn process"
            handle.close()
            raise OutputError(
                f"{folder} is being written by {holder}; wait for it to finish, or choose "
                f"another folder for {what}"
            ) from None
        try:
            same = os.stat(lock_path).st_ino == os.fstat(handle.fileno()).st_ino
        except FileNotFoundError:
            same = False
        if same:
            handle.seek(0)
            handle.truncate()
            command = " ".join(["tinycnn", *sys.argv[1:2]])
            handle.write(f"process {os.getpid()} (`{command}`, since {time.strftime('%H:%M:%S')})")
            handle.flush()
            return handle
        handle.close()  # we locked a file its holder had just removed: try the new one
    return None


@contextlib.contextmanager
def replacing(path: Path, partial: Path) -> Iterator[Path]:
    """Write ``path`` through ``partial`` (the body writes it), renamed into place at the end:
    a reader never sees half a file; the temporary is removed if anything fails, and a refusal
    to write (a full disk) is one OutputError naming ``path``."""
    try:
        yield partial
        os.replace(partial, path)
    except OSError as exc:
        raise write_error(path, exc) from None
    finally:
        partial.unlink(missing_ok=True)


def write_atomically(path: str | Path, content: bytes) -> None:
    """Write a file through a temporary name beside it (``replacing``)."""
    path = Path(path)
    with replacing(path, path.with_name(f".{path.name}.partial")) as partial:
        partial.write_bytes(content)


def write_error(path: str | Path, exc: OSError) -> OutputError:
    """One line for a file that could not be written (a full disk, a read-only folder): the
    file, the reason, and that nothing half-written was left."""
    return OutputError(
        f"cannot write {path} ({exc.strerror or exc}); nothing half-written was left"
    )


def cache_dir(kind: str) -> Path:
    """``$XDG_CACHE_HOME/tinycnn/KIND`` (default ``~/.cache``), created; when it cannot be
    written, a per-user folder in the temporary directory, with a warning saying so."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    root = Path(base) / "tinycnn" / kind
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=root, prefix=".tinycnn-probe-"):
            pass
        return root
    except OSError as exc:
        reason = exc.strerror or str(exc)
    fallback = Path(tempfile.gettempdir()) / f"tinycnn-cache-{os.getuid()}" / kind
    try:
        fallback.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot write the cache {root} ({reason}) nor {fallback} ({exc.strerror}); "
            "set XDG_CACHE_HOME to a writable folder"
        ) from None
    warnings.warn(
        f"cannot write the cache {root} ({reason}); using {fallback} for now "
        "(set XDG_CACHE_HOME to keep builds between runs)",
        TinycnnWarning,
        stacklevel=2,
    )
    return fallback
