"""Tracking: runs land in the configured store, with the package version, never with client rows."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.figure import Figure

from snr_models import __version__, tracking
from snr_models.data import Tables


def _tiny_tables() -> Tables:
    clients = pd.DataFrame({"client_id": ["c1", "c2"], "branch_id": ["b1", "b1"]})
    empty = pd.DataFrame({"x": pd.Series([], dtype="float64")})
    return Tables(clients, empty, empty, empty, empty, empty)


def test_run_logs_params_metrics_figure_and_profile(mlflow_store: str, tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    tables = _tiny_tables()
    with tracking.start_run("snr-test", run_name="demo") as run:
        run.log_params({"freq": "M", "spec": {"weights": {"S": 0.4}}})
        run.log_metrics({"net_rate": 0.81, "missing": float("nan")})
        fig = Figure()
        fig.add_subplot().plot([0, 1], [0, 1])
        run.log_figure(fig, "trend.png")
        run.log_frame(pd.DataFrame({"period": ["2024-01"], "net_rate": [0.8]}), "t/netrate.csv")
        run.log_data(tables)
        run_id = run.run_id

    client = MlflowClient(tracking_uri=mlflow_store)
    logged = client.get_run(run_id).data
    assert logged.params["freq"] == "M"
    assert logged.params["spec.weights.S"] == "0.4"  # nested params are flattened
    assert logged.metrics["net_rate"] == pytest.approx(0.81)
    assert "missing" not in logged.metrics  # NaN is skipped, not logged as a broken point
    assert logged.metrics["data.rows.clients"] == 2
    assert logged.tags["snr_models.version"] == __version__
    assert logged.tags["data.content_hash"] == tables.content_hash()
    files = {a.path for a in client.list_artifacts(run_id)}
    assert {"trend.png", "t", "data"} <= files
    schema = json.loads(Path(client.download_artifacts(run_id, "data/schema.json")).read_text())
    assert schema["schema"]["clients"] == {"client_id": "str", "branch_id": "str"}
    # artifacts live under the configured root, not the working directory
    assert str(tmp_path / "mlruns") in client.get_run(run_id).info.artifact_uri


def test_log_frame_refuses_client_identifiers(mlflow_store: str) -> None:
    with tracking.start_run("snr-test") as run, pytest.raises(ValueError, match="client_id"):
        run.log_frame(pd.DataFrame({"client_id": ["c1"], "p": [0.1]}), "scores.csv")


def test_content_hash_changes_with_any_value() -> None:
    a = _tiny_tables()
    clients = a.clients.copy()
    clients.loc[1, "branch_id"] = "b2"
    b = Tables(clients, a.client_months, a.tickets, a.surveys, a.interventions, a.market)
    assert a.content_hash() == _tiny_tables().content_hash()
    assert a.content_hash() != b.content_hash()


def test_failed_run_is_marked_failed(mlflow_store: str) -> None:
    from mlflow.tracking import MlflowClient

    with pytest.raises(RuntimeError), tracking.start_run("snr-test") as run:
        run_id = run.run_id
        raise RuntimeError("boom")
    assert MlflowClient(tracking_uri=mlflow_store).get_run(run_id).info.status == "FAILED"
