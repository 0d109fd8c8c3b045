"""The lock that keeps two ``snr retrain`` runs from overlapping, and who holds it."""

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

__all__ = ["RetrainLocked", "acquire_lock"]


class RetrainLocked(RuntimeError):
    """Another retrain holds the lock; ``holder`` says which (pid, host, start time)."""

    def __init__(self, lock: Path, holder: dict[str, Any]) -> None:
        self.lock = lock
        self.holder = holder
        who = (
            f"pid {holder.get('pid')} on {holder.get('host')} since {holder.get('started')}"
            if holder
            else "an unknown process"
        )
        super().__init__(f"another retrain holds the lock {lock}: {who}")


def _holder_path(lock: Path) -> Path:
    return lock.with_name(lock.name + ".holder.json")


def acquire_lock(lock_path: Path, config_path: str | None) -> filelock.BaseFileLock:
    """Take the retrain lock without waiting, and record who holds it beside the lock file.

    Raises
    ------
    RetrainLocked
        If another process holds it (naming that process, when its record can be read).
    """
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(lock_path), timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        holder: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            holder = json.loads(_holder_path(lock_path).read_text())
        raise RetrainLocked(lock_path, holder) from None
    info = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        "config": config_path,
    }
    with atomic_path(_holder_path(lock_path)) as tmp:
        tmp.write_text(json.dumps(info))
    return lock
