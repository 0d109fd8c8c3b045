"""Against a real MLflow tracking server over HTTP, and against one that cannot be reached.

The server is ``mlflow server`` on a free port of 127.0.0.1, with a SQLite backend in the
test's folder, and once with a PostgreSQL backend store (a real server, the ``postgres``
fixture: how a team shares tracking in production); it is stopped in a ``finally``. The
unreachable server is a closed port, with MLflow's HTTP retries bounded by its environment
variables (``MLFLOW_HTTP_REQUEST_*``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from tests.lifecycle.cli import run_snr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"mlflow server exited: {proc.stderr.read()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError("mlflow server did not become healthy")


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_store(request, _migrated_mlflow_db, tmp_path) -> str:
    """The server's backend store URI: a copy of the migrated SQLite store, or a new
    database on the session's PostgreSQL server (the server migrates it on start)."""
    if request.param == "sqlite":
        db = tmp_path / "server.db"
        shutil.copy(_migrated_mlflow_db, db)  # migrated once per session: the server starts fast
        return f"sqlite:///{db}"
    return request.getfixturevalue("postgres").create_database("mlflow")


@pytest.mark.slow
def test_retrain_promote_score_over_http(
    backend_store, worlds, tmp_path, make_config, loose_gate, monkeypatch, capsys
):
    import mlflow

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    mlflow_cli = Path(sys.executable).with_name("mlflow")
    server = subprocess.Popen(
        [
            str(mlflow_cli),
            "server",
            "--backend-store-uri",
            backend_store,
            "--default-artifact-root",
            str(tmp_path / "server-artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_healthy(url, server, timeout=300 if backend_store.startswith("postgres") else 120)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
        monkeypatch.setenv("SNR_ARTIFACT_ROOT", str(tmp_path / "mlruns"))
        mlflow.set_tracking_uri(url)
        cfg = make_config(tmp_path / "churn.yaml", loose_gate)
        run = run_snr(["retrain", "--config", cfg, "--data", worlds["a"]], monkeypatch, capsys)
        code, lines, text = run.code, run.lines, run.text
        assert code == 0, text
        assert lines[-2]["step"] == "promote" and lines[-2]["champion"] == "1"
        run = run_snr(["models", "promote", "1"], monkeypatch, capsys)
        code, text = run.code, run.text
        assert code == 0, text
        run = run_snr(["models", "list"], monkeypatch, capsys)
        code, text = run.code, run.text
        assert code == 0 and "champion" in text
        out = tmp_path / "calls.parquet"
        run = run_snr(
            [
                "score",
                "--model",
                "models:/snr-churn@champion",
                "--data",
                worlds["a"],
                "--as-of",
                "2023-12",
                "--output",
                out,
                "--no-reasons",
            ],
            monkeypatch,
            capsys,
        )
        code, text = run.code, run.text
        assert code == 0, text
        assert len(pd.read_parquet(out)) > 0
        # the registry lives in the server's database, not in a local store
        assert not (tmp_path / "mlflow.db").exists()
        import sqlalchemy

        engine = sqlalchemy.create_engine(backend_store)
        try:
            with engine.connect() as con:
                names = con.execute(sqlalchemy.text("SELECT name FROM registered_models"))
                assert [row[0] for row in names] == ["snr-churn"]
        finally:
            engine.dispose()
    finally:
        mlflow.set_tracking_uri("")
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=20)


def test_unreachable_server_fails_fast_and_clearly(
    worlds, tmp_path, make_config, monkeypatch, capsys
):
    port = _free_port()  # nothing listens there
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    out = tmp_path / "calls.parquet"
    start = time.monotonic()
    run = run_snr(
        [
            "score",
            "--model",
            "models:/snr-churn@champion",
            "--data",
            worlds["a"],
            "--as-of",
            "2023-12",
            "--output",
            out,
        ],
        monkeypatch,
        capsys,
    )
    code, text = run.code, run.text
    assert code == 69 and "cannot be reached" in text and not out.exists()
    cfg = make_config(tmp_path / "churn.yaml")
    run = run_snr(["retrain", "--config", cfg, "--data", worlds["a"]], monkeypatch, capsys)
    code, text = run.code, run.text
    assert code == 69 and "cannot be reached" in text
    run = run_snr(["models", "list"], monkeypatch, capsys)
    code, text = run.code, run.text
    assert code == 69 and "cannot be reached" in text
    assert time.monotonic() - start < 120
