"""Shared fixtures: a migrated MLflow store copied per test, and a small simulated world."""

from __future__ import annotations

import os

# pytest -n 2 runs two workers on two cores: one thread each. Without this, OpenMP
# (HistGradientBoosting) and BLAS start a thread per core in every worker and notebook kernel,
# and oversubscribed OpenMP spin-waits make fits tens of times slower.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import shutil
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")


@pytest.fixture(scope="session")
def _migrated_mlflow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Create one MLflow sqlite store (schema migrations cost ~10 s) for the whole session."""
    from mlflow.tracking import MlflowClient

    folder = tmp_path_factory.mktemp("mlflow-template")
    db = folder / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{db}").search_experiments()
    return db


@pytest.fixture
def mlflow_store(_migrated_mlflow_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point tracking at a fresh copy of the migrated store under ``tmp_path``; return its URI."""
    import mlflow

    db = tmp_path / "mlflow.db"
    shutil.copy(_migrated_mlflow_db, db)
    uri = f"sqlite:///{db}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("SNR_ARTIFACT_ROOT", str(tmp_path / "mlruns"))
    mlflow.set_tracking_uri(uri)
    yield uri
    while mlflow.active_run() is not None:
        mlflow.end_run()


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory):
    """A real PostgreSQL server for the session (Debian's, installed by apt-get if missing)."""
    from tests.postgres import ensure_postgres, start_server

    bin_dir = ensure_postgres(tmp_path_factory.getbasetemp().parent)
    server = start_server(bin_dir)
    try:
        yield server
    finally:
        server.stop()
