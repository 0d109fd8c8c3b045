"""Atomic writes: a file or directory appears complete under its name, or not at all.

Outputs get the permissions of an ordinary file or folder under the process's umask (0644 /
0755 under umask 022, not the 0600 / 0700 of a temporary file), and are flushed to disk
(``fsync`` of the file, or of every file of a folder, and of the folder) before the rename,
then the parent folder after it. :func:`staging_dir` gives a job one private folder per run
beside its output for temporary files; a later run removes it once its owner is gone.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

_UMASK_LOCK = threading.Lock()
_OWNER = "owner.lock"


def current_umask() -> int:
    """The process's umask (read by setting and restoring it)."""
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _publishable(tmp: Path) -> None:
    """Give ``tmp`` (and, for a folder, everything in it) the umask's permissions; fsync."""
    mask = current_umask()
    if tmp.is_dir():
        for root, dirs, files in os.walk(tmp):
            for name in files:
                os.chmod(Path(root) / name, 0o666 & ~mask)
                _fsync(Path(root) / name)
            for name in dirs:
                os.chmod(Path(root) / name, 0o777 & ~mask)
            _fsync(Path(root))
        os.chmod(tmp, 0o777 & ~mask)
    else:
        os.chmod(tmp, 0o666 & ~mask)
    _fsync(tmp)


@contextmanager
def atomic_path(
    path: str | Path, *, directory: bool = False, staging: str | Path | None = None
) -> Iterator[Path]:
    """Yield a temporary sibling of ``path``; on success rename it onto ``path``.

    The temporary sibling lives in the same directory (or in ``staging``, a folder beside it
    from :func:`staging_dir`), so the final ``os.replace`` is atomic on one file system. If
    the block raises (or the process is killed), ``path`` is left as it was: an existing file
    is never harmed and no partial output appears. Before the rename the result gets the
    umask's permissions and is fsynced; the parent folder is fsynced after it.

    Parameters
    ----------
    path : str or Path
        The final destination.
    directory : bool, default False
        Yield a temporary directory instead of a file path. An existing directory at
        ``path`` is replaced (moved aside first, then removed).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> with atomic_path(out) as tmp:
    ...     _ = tmp.write_text("done")
    >>> out.read_text()
    'done'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.name}.tmp-"
    where = Path(staging) if staging is not None else path.parent
    if directory:
        tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=where))
    else:
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=path.suffix, dir=where)
        os.close(fd)
        tmp = Path(name)
    try:
        yield tmp
        _publishable(tmp)
        if directory and path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=path.parent))
            os.replace(path, old / path.name)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
        _fsync(path.parent)
    finally:
        if tmp.exists():
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)


def _owner_gone(folder: Path) -> bool:
    """Whether no process holds ``folder``'s owner lock (the kernel drops it at exit)."""
    try:
        fd = os.open(folder / _OWNER, os.O_RDWR)
    except FileNotFoundError:  # half removed (stale), or just created by a starting run
        try:
            return time.time() - folder.stat().st_mtime > 60
        except FileNotFoundError:
            return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


@contextmanager
def staging_dir(output: str | Path) -> Iterator[Path]:
    """One private folder for a run's temporary files, beside ``output``; removed at the end.

    The folder, ``.<output name>.staging-<random>``, holds an ``owner.lock`` file that the run
    keeps locked (``flock``) while it lives; the kernel releases the lock when the process
    ends, even on ``kill -9``. Each new run first removes the staging folders of the same
    output whose lock nobody holds, so a killed run leaves nothing behind for long (its
    files, e.g. client ids, stay only until the next run). Folders of a run still alive are
    left alone.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "calls.parquet"
    >>> with staging_dir(out) as stage:
    ...     stage.parent == out.parent and stage.name.startswith(".calls.parquet.staging-")
    True
    >>> stage.exists()
    False
    """
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{output.name}.staging-"
    for old in output.parent.glob(f"{prefix}*"):
        if old.is_dir() and _owner_gone(old):
            shutil.rmtree(old, ignore_errors=True)
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=output.parent))
    fd = os.open(folder / _OWNER, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(OSError):
            os.close(fd)


def write_frame(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a table atomically as CSV or Parquet, chosen by the file's suffix.

    Raises
    ------
    ValueError
        If the suffix is neither ``.csv`` nor ``.parquet``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in {".csv", ".parquet"}:
        raise ValueError(f"output {path}: expected a .csv or .parquet file name, got {suffix!r}")
    with atomic_path(path) as tmp:
        if suffix == ".csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)
    return path
