"""Shared set-up of the lifecycle tests: small simulated worlds, one BLAS/OpenMP thread,
configurations with the gate loosened or tightened, and a way to run ``snr`` for real."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import yaml
from threadpoolctl import threadpool_limits

from snr_models.simulate import simulate, write_simulation

SMALL_MODEL = {
    "model": "boost",
    "horizon": 3,
    "boost": {"max_iter": 15, "min_samples_leaf": 20},
}
#: A gate any challenger passes (to test promotion, not model quality).
LOOSE_GATE = {
    "gate": {"max_auc_drop": 1.0, "calibration_slope": [-100.0, 100.0], "max_empc_drop": 1.0e9},
    "floors": {
        "min_auc": 0.0,
        "calibration_slope": [-100.0, 100.0],
        "min_empc": -1.0e9,
        "min_holdout_rows": 1,
    },
}


@pytest.fixture(autouse=True)
def _one_thread():
    """Two shared cores: OpenMP spinning in HistGradientBoosting costs 50x under load."""
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="session")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two small worlds: ``a`` (14 months) and ``b`` (15 months, another seed)."""
    root = tmp_path_factory.mktemp("lifecycle-worlds")
    a = simulate(n_clients=1500, n_branches=3, n_months=14, seed=2, truth=False)
    b = simulate(n_clients=1500, n_branches=3, n_months=15, seed=5, truth=False)
    return {"a": write_simulation(a, root / "a"), "b": write_simulation(b, root / "b")}


def _write_config(path: Path, retrain: dict | None = None, **settings) -> Path:
    base = path.parent
    section = {"lock": str(base / "retrain.lock"), "summary": str(base / "summary.json")}
    section |= retrain or {}
    path.write_text(yaml.safe_dump(SMALL_MODEL | settings | {"retrain": section}))
    return path


@pytest.fixture(scope="session")
def make_config():
    """``make_config(path, retrain=None, **settings)``: a churn YAML with the small model,
    the lock and the summary beside it."""
    return _write_config


@pytest.fixture(scope="session")
def loose_gate() -> dict:
    """A retrain section whose gate and floors any challenger passes."""
    return {k: dict(v) for k, v in LOOSE_GATE.items()}


def _snr_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # cache bytecode: each start compiles mlflow
    env |= {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return env | (extra or {})


def _spawn(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def snr_process():
    """``snr_process(args, cwd, env=None)``: start ``python args`` with one thread and
    bytecode caching; every process still alive at the end of the test is killed."""
    started: list[subprocess.Popen] = []

    def start(args: list[str], cwd: Path, env: dict[str, str] | None = None):
        proc = _spawn(args, _snr_env(env), cwd)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


@pytest.fixture(scope="module")
def store(_migrated_mlflow_db, worlds, tmp_path_factory, make_config, loose_gate):
    """One tracking store for the module, with a champion trained by ``retrain`` on world
    ``a`` (``models:/snr-churn@champion``, version 1)."""
    import mlflow

    from snr_models.jobs.churn import ChurnConfig
    from snr_models.jobs.retrain import retrain

    root = tmp_path_factory.mktemp("score-store")
    db = root / "mlflow.db"
    shutil.copy(_migrated_mlflow_db, db)
    with pytest.MonkeyPatch.context() as mp, threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{db}")
        mp.setenv("SNR_ARTIFACT_ROOT", str(root / "mlruns"))
        mlflow.set_tracking_uri(f"sqlite:///{db}")
        cfg = ChurnConfig.from_yaml(make_config(root / "churn.yaml", loose_gate))
        assert retrain(cfg, data=worlds["a"]).status == "promoted"
        yield root
        while mlflow.active_run() is not None:
            mlflow.end_run()
