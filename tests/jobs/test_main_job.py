"""The main job end to end on a small simulated world: outputs on disk and runs in MLflow."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from snr_models.jobs.config import RunConfig
from snr_models.jobs.main import run_main


def test_main_job_writes_outputs_and_tracks_parent_and_child_runs(small_run) -> None:
    from mlflow.tracking import MlflowClient

    _, summary, mlflow_store = small_run
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
    assert {c.data.tags["stage"] for c in children} == {
        "data",
        "netrate",
        "drivers",
        "churn",
        "attribution",
        "forecast",
        "plan",  # skipped on this short history (too few residual degrees of freedom)
    }
    # the churn stage registered the model it trained, and logged its backtest in its child run
    churn = next(c for c in children if c.data.tags["stage"] == "churn")
    assert 0.5 < churn.data.metrics["backtest.roc_auc"] <= 1
    # model: auto (the default): the choice and every candidate's backtest score are logged
    assert churn.data.params["model.chosen"] in {"boost", "logit", "hazard"}
    assert {f"choice.{m}.score" for m in ("boost", "logit", "hazard")} <= set(churn.data.metrics)
    assert summary["churn_backtest_auc"] == pytest.approx(churn.data.metrics["backtest.roc_auc"])
    # the summary and the report name the chosen model and its nested accuracy
    assert summary["churn_model_chosen"] == churn.data.params["model.chosen"]
    assert ",".join(summary["churn_candidates"]) == churn.data.params["model.candidates"]
    if "nested.roc_auc" in churn.data.metrics:
        assert summary["churn_nested_auc"] == pytest.approx(churn.data.metrics["nested.roc_auc"])
    english = (out / "index.en.html").read_text()
    chosen = {"logit": "logistic regression", "hazard": "discrete-time hazard model"}
    assert (
        f"The model is {chosen.get(summary['churn_model_chosen'], 'gradient boosting')}" in english
    )
    version = client.get_model_version("snr-churn", summary["churn_model_version"])
    assert version.run_id == churn.info.run_id
    assert "sha256" in version.tags
    attribution = next(c for c in children if c.data.tags["stage"] == "attribution")
    assert any(k.startswith("effect.process_reengineering.") for k in attribution.data.metrics)


STAGES = ("drivers", "churn", "attribution", "forecast", "plan")


def test_second_run_reuses_the_simulated_world(small_config: RunConfig, mlflow_store: str) -> None:
    # the world's reuse is decided before any analysis: the analyses are switched off
    off = {"enabled": False}
    config = small_config.model_copy(
        update={
            name: getattr(small_config, name).model_copy(update=off)
            for name in ("drivers", "churn", "attribution", "forecast", "plan")
        }
    )
    first = run_main(config)
    second = run_main(config)
    assert first["data_hash"] == second["data_hash"]
    assert first["run_id"] != second["run_id"]


def test_snr_run_on_given_duckdb_data(small_config: RunConfig, mlflow_store: str) -> None:
    """`snr run --data FILE.duckdb` on a broker's exports ingested by `snr ingest` (the path of
    the README's "Your own data"): the data are loaded, not simulated, and every stage runs."""
    from mlflow.tracking import MlflowClient
    from typer.testing import CliRunner

    from snr_models.cli import app
    from snr_models.jobs.ingest import ingest
    from snr_models.simulate import SimulationConfig, simulate
    from snr_models.simulate.exports import write_exports

    world = simulate(SimulationConfig.from_yaml(small_config.simulation)).tables
    config_file = Path(small_config.simulation).parent / "run.yaml"
    folder = Path(small_config.data_dir).parent
    exports = write_exports(world, folder / "exports", database="csv")
    database = ingest(exports / "sources.yaml", folder / "given.duckdb").out
    result = CliRunner().invoke(app, ["run", "--config", str(config_file), "--data", str(database)])
    assert result.exit_code == 0, result.output
    assert not Path(small_config.data_dir).exists()  # nothing simulated
    run_id = re.search(r"MLflow run ([0-9a-f]{32})", result.output).group(1)
    summary = json.loads((Path(small_config.output_dir) / run_id / "summary.json").read_text())
    assert summary["data_source"] == "given"
    assert summary["data_hash"] == world.content_hash()
    client = MlflowClient(tracking_uri=mlflow_store)
    parent = client.get_run(run_id)
    children = client.search_runs(
        [parent.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{run_id}'"
    )
    assert {c.data.tags["stage"] for c in children} == set(STAGES) | {"data", "netrate"}
