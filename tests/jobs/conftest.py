"""A real headless browser for the report test: Debian's Chromium, installed when missing."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from filelock import FileLock

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="session")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of Debian's Chromium; the test set-up installs it with apt-get on a fresh machine."""
    lock = tmp_path_factory.getbasetemp().parent / "chromium-install.lock"
    with FileLock(str(lock)):  # pytest-xdist workers must not run apt-get at once
        if not CHROMIUM.exists():
            apt = shutil.which("apt-get")
            assert apt, "the report test needs Debian's chromium and apt-get to install it"
            install = [apt, "install", "-y", "--no-install-recommends", "chromium"]
            done = subprocess.run(install, capture_output=True, text=True, check=False)
            if done.returncode != 0:  # stale package lists on a fresh machine
                subprocess.run([apt, "update"], capture_output=True, check=False)
                done = subprocess.run(install, capture_output=True, text=True, check=False)
            assert done.returncode == 0, f"apt-get install chromium failed:\n{done.stderr[-2000:]}"
    return CHROMIUM
