"""Debian packages the tests need, installed with apt-get when missing (a fresh CI machine).

:func:`ensure_installed` runs ``apt-get install`` once per machine (a file lock keeps
pytest-xdist workers from running apt-get at once), with ``apt-get update`` and a second try
when the package lists are stale, and checks that what was wanted is there afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from filelock import FileLock

T = TypeVar("T")


def ensure_installed(packages: list[str], lock_dir: Path, found: Callable[[], T | None]) -> T:
    """``found()`` after installing ``packages`` if it returned ``None`` before."""
    name = "-".join(packages)
    with FileLock(str(lock_dir / f"{name}-install.lock")):
        result = found()
        if result is not None:
            return result
        apt = shutil.which("apt-get")
        assert apt, f"the tests need Debian's {', '.join(packages)} and apt-get to install it"
        install = [apt, "install", "-y", "--no-install-recommends", *packages]
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        done = subprocess.run(install, capture_output=True, text=True, check=False, env=env)
        if done.returncode != 0:  # stale package lists on a fresh machine
            subprocess.run([apt, "update"], capture_output=True, check=False, env=env)
            done = subprocess.run(install, capture_output=True, text=True, check=False, env=env)
        assert done.returncode == 0, f"apt-get install {name} failed:\n{done.stderr[-2000:]}"
        result = found()
        assert result is not None, f"{name} installed, but not found where expected"
        return result
