"""A real headless browser for the report tests: Debian's Chromium, installed when missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from snr_models.jobs.config import RunConfig
from tests.apt import ensure_installed

CHROMIUM = Path("/usr/bin/chromium")
CHURN_CONFIG = Path(__file__).parents[2] / "experiments" / "churn.yaml"


@pytest.fixture(scope="session")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of Debian's Chromium; installed with apt-get on a fresh machine."""
    lock_dir = tmp_path_factory.getbasetemp().parent
    return ensure_installed(["chromium"], lock_dir, lambda: CHROMIUM if CHROMIUM.exists() else None)


@pytest.fixture
def small_config(tmp_path: Path) -> RunConfig:
    return _small_config(tmp_path)


@pytest.fixture(scope="session")
def small_run(tmp_path_factory: pytest.TempPathFactory, _migrated_mlflow_db: Path):
    """The main job run once on the small world, with every stage, into its own MLflow store:
    ``(config, summary, tracking URI)``, for the tests that only read its outputs.

    Once for the whole session, whichever xdist worker asks first (the others wait on a file
    lock, then read its summary): each run costs a minute or more of the suite.
    """
    import json
    import shutil

    from filelock import FileLock

    from snr_models.jobs.main import run_main

    # the session's own folder (under xdist, the parent of the workers' folders), never one
    # left by an earlier session, which ran other code
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    folder = root / "small-run"
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    with FileLock(str(folder) + ".lock"):
        done = folder / "summary.json"
        if done.is_file():
            return RunConfig.from_yaml(folder / "run.yaml"), json.loads(done.read_text()), uri
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        shutil.copy(_migrated_mlflow_db, folder / "mlflow.db")
        with pytest.MonkeyPatch.context() as env:
            env.setenv("MLFLOW_TRACKING_URI", uri)
            env.setenv("SNR_ARTIFACT_ROOT", str(folder / "mlruns"))
            config = _small_config(folder)
            summary = run_main(config)
        done.write_text(json.dumps(summary, default=str))
    return config, json.loads(done.read_text()), uri


def _small_config(tmp_path: Path) -> RunConfig:
    sim = tmp_path / "sim.yaml"
    sim.write_text("n_clients: 3000\nn_branches: 6\nn_months: 12\nseed: 5\n")
    # the 12-month world ends in 2023-12: train the remaining branches from 2024-02
    (tmp_path / "scenario.yaml").write_text(
        "scenarios:\n  - name: train_remaining\n    rollouts:\n"
        "      - {intervention: staff_training, branches: remaining, start: '2024-02'}\n"
    )
    config = tmp_path / "run.yaml"
    config.write_text(
        "name: test\nexperiment: snr-test-main\nsimulation: sim.yaml\n"
        f"data_dir: {tmp_path / 'data'}\noutput_dir: {tmp_path / 'reports'}\n"
        "netrate:\n  n_boot: 100\n  by: [branch_id]\n"
        "drivers:\n  n_boot: 50\n"
        f"churn:\n  config: {CHURN_CONFIG}\n  call_list: 15\n"
        "  overrides: {n_boot: 50, boost: {max_iter: 50},"
        " backtest: {n_origins: 1, min_train_months: 4, importance: false}}\n"
        "forecast:\n  scenario: scenario.yaml\n  n_origins: 2\n  n_paths: 300\n"
    )
    return RunConfig.from_yaml(config)
