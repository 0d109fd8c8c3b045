"""One run at a time: a file lock with a note of who holds it (retrain, ingest).

A second run meanwhile fails at once with :class:`Locked`, naming the holder (pid, host,
start time) from the ``<lock>.holder.json`` written beside the lock; the CLI exits with
:data:`EXIT_LOCKED` (75, ``EX_TEMPFAIL``: try again later).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from pathlib import Path
from typing import Any

import filelock
import pandas as pd

from snr_models.data.atomic import atomic_path

__all__ = ["EXIT_LOCKED", "Locked", "RetrainLocked", "acquire", "acquire_lock"]

EXIT_LOCKED = 75


class Locked(RuntimeError):
    """Another run holds the lock; ``holder`` says which (pid, host, start time)."""

    what = "run"

    def __init__(self, lock: Path, holder: dict[str, Any]) -> None:
        self.lock = lock
        self.holder = holder
        who = (
            f"pid {holder.get('pid')} on {holder.get('host')} since {holder.get('started')}"
            if holder
            else "an unknown process"
        )
        super().__init__(f"another {self.what} holds the lock {lock}: {who}")


def _holder_path(lock: Path) -> Path:
    return lock.with_name(lock.name + ".holder.json")


def acquire(
    lock_path: Path, config_path: str | None, error: type[Locked] = Locked
) -> filelock.BaseFileLock:
    """Take the lock at ``lock_path`` without waiting, and note who holds it.

    Raises
    ------
    Locked
        (or the subclass ``error``) if another process holds it.
    """
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(lock_path), timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        holder: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            holder = json.loads(_holder_path(lock_path).read_text())
        raise error(lock_path, holder) from None
    info = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        "config": config_path,
    }
    with atomic_path(_holder_path(lock_path)) as tmp:
        tmp.write_text(json.dumps(info))
    return lock


class RetrainLocked(Locked):
    """Another retrain holds the lock; ``holder`` says which (pid, host, start time)."""

    what = "retrain"


def acquire_lock(lock_path: Path, config_path: str | None) -> filelock.BaseFileLock:
    """Take the retrain lock without waiting (:func:`acquire` raising :class:`RetrainLocked`)."""
    return acquire(lock_path, config_path, RetrainLocked)
