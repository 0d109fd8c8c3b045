"""Atomic writes follow the umask and reach the disk; staging folders do not outlive their run.

Expected permissions are POSIX's: a new file is ``0666 & ~umask``, a folder ``0777 & ~umask``
(0644 / 0755 under umask 022), as ``open`` and ``mkdir`` would create them.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from snr_models.data import atomic
from snr_models.data.atomic import atomic_path, staging_dir, write_frame


@pytest.fixture
def umask():
    """``umask(mask)`` for the test; the original is restored."""
    original = os.umask(0o022)
    os.umask(original)
    yield os.umask
    os.umask(original)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o077])
def test_outputs_follow_the_umask(tmp_path, umask, mask):
    umask(mask)
    out = write_frame(pd.DataFrame({"a": [1]}), tmp_path / "calls.csv")
    assert _mode(out) == 0o666 & ~mask
    with atomic_path(tmp_path / "report", directory=True) as tmp:
        (tmp / "sub").mkdir()
        (tmp / "sub" / "index.html").write_text("x")
    assert _mode(tmp_path / "report") == 0o777 & ~mask
    assert _mode(tmp_path / "report" / "sub") == 0o777 & ~mask
    assert _mode(tmp_path / "report" / "sub" / "index.html") == 0o666 & ~mask


def test_file_and_folder_are_fsynced_before_the_rename(tmp_path, monkeypatch):
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append("fsync:" + os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    def replace(src, dst):
        events.append(f"replace:{dst}")
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    monkeypatch.setattr(atomic.os, "replace", replace)
    out = tmp_path / "x.txt"
    with atomic_path(out) as tmp:
        tmp.write_text("done")
        name = str(tmp)
    assert events == [f"fsync:{name}", f"replace:{out}", f"fsync:{tmp_path}"]


HOLD = """
import sys, time
from snr_models.data.atomic import staging_dir
with staging_dir(sys.argv[1]) as stage:
    print(stage, flush=True)
    time.sleep(600)
"""


def test_staging_folder_is_removed_by_the_next_run_once_its_owner_is_gone(tmp_path):
    out = tmp_path / "calls.parquet"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True
    )
    try:
        held = Path(proc.stdout.readline().strip())
        (held / "features.parquet").write_text("client ids")
        with staging_dir(out) as mine:  # the owner lives: its folder stays
            assert held.exists() and mine != held and mine.exists()
        assert not mine.exists() and held.exists()
        proc.kill()  # SIGKILL: no clean-up runs in the child
        proc.wait(timeout=30)
        assert held.exists()
        with staging_dir(out):  # the owner is gone: the next run removes its folder
            assert not held.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    assert [p.name for p in tmp_path.iterdir()] == []
