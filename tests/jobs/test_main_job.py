"""The main job end to end on a small simulated world: outputs on disk and runs in MLflow."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from snr_models.jobs.config import RunConfig
from snr_models.jobs.main import run_main


@pytest.fixture
def small_config(tmp_path: Path) -> RunConfig:
    sim = tmp_path / "sim.yaml"
    sim.write_text("n_clients: 3000\nn_branches: 6\nn_months: 12\nseed: 5\n")
    config = tmp_path / "run.yaml"
    config.write_text(
        "name: test\nexperiment: snr-test-main\nsimulation: sim.yaml\n"
        f"data_dir: {tmp_path / 'data'}\noutput_dir: {tmp_path / 'reports'}\n"
        "netrate:\n  n_boot: 100\n  by: [branch_id]\n"
    )
    return RunConfig.from_yaml(config)


def test_main_job_writes_outputs_and_tracks_parent_and_child_runs(
    small_config: RunConfig, mlflow_store: str
) -> None:
    from mlflow.tracking import MlflowClient

    summary = run_main(small_config)
    out = Path(summary["output_dir"])
    assert (out / "summary.json").is_file()
    firm = pd.read_csv(out / "netrate_firm.csv")
    assert len(firm) == 12
    # the summary's headline is the last month of the firm-wide table
    assert summary["net_rate_latest"] == pytest.approx(firm["net_rate"].iloc[-1])
    # the decomposition by component adds up to the change it explains
    assert sum(summary["change_by_component"].values()) == pytest.approx(
        summary["net_rate_change"], abs=1e-12
    )
    assert json.loads((out / "summary.json").read_text())["run_id"] == summary["run_id"]

    client = MlflowClient(tracking_uri=mlflow_store)
    parent = client.get_run(summary["run_id"])
    assert parent.info.status == "FINISHED"
    assert parent.data.metrics["net_rate_latest"] == pytest.approx(summary["net_rate_latest"])
    children = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{summary['run_id']}'",
    )
    assert {c.data.tags["stage"] for c in children} == {"data", "netrate"}


def test_second_run_reuses_the_simulated_world(small_config: RunConfig, mlflow_store: str) -> None:
    first = run_main(small_config)
    second = run_main(small_config)
    assert first["data_hash"] == second["data_hash"]
    assert first["run_id"] != second["run_id"]
