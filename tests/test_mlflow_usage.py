"""MLflow as its users expect: ``mlflow models predict`` on a CSV, MLflow's URI forms, names.

A small churn model (5 boosting iterations on a 300-client simulated world) is logged and
registered exactly as ``snr churn train`` does, then used the way an MLflow user would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from snr_models import __version__, tracking
from snr_models.errors import SnrInputError
from snr_models.features import build_features
from snr_models.jobs.churn_models import (
    label_column,
    labelled_rows,
    make_estimator,
    model_inputs,
)
from snr_models.jobs.config import ChurnConfig
from snr_models.simulate import simulate, write_simulation
from snr_models.tracking.models import (
    MODEL_DESCRIPTION,
    load_registered_model,
    log_churn_model,
)
from snr_models.tracking.runs import start_run


@pytest.fixture(scope="module")
def features(tmp_path_factory) -> pd.DataFrame:
    result = simulate(n_clients=300, n_branches=2, n_months=12, seed=3, truth=False)
    world = write_simulation(result, tmp_path_factory.mktemp("usage") / "world")
    return build_features(world, horizon=3)


@pytest.fixture
def registered(features, mlflow_store):
    cfg = ChurnConfig.model_validate({"model": "boost", "boost": {"max_iter": 5}})
    lab = labelled_rows(features, cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = make_estimator(cfg).fit(lab[model_inputs(lab)], lab[label_column(cfg)])
    with start_run("snr-churn-test", run_name="train") as run:
        logged = log_churn_model(run, est, lab[model_inputs(lab)])
    return est, lab[model_inputs(lab)], logged


def test_mlflow_models_predict_scores_a_csv_of_features(registered, mlflow_store, tmp_path):
    est, frame, _ = registered
    sample = frame.head(20)
    csv = tmp_path / "features.csv"
    sample.to_csv(csv, index=False)  # as_of becomes text, as in any CSV
    out = tmp_path / "pred.json"
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "models",
        "predict",
        "-m",
        "models:/snr-churn@champion",
        "-i",
        str(csv),
        "-t",
        "csv",
        "-o",
        str(out),
        "--env-manager",
        "local",
    ]
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_store}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    predicted = pd.DataFrame(json.loads(out.read_text())["predictions"])
    # the same probabilities as the fitted estimator on the in-memory (datetime) rows
    expected = est.predict_proba(sample)[:, 1]
    assert predicted["churn_probability"].to_numpy() == pytest.approx(expected, abs=1e-12)


def test_the_model_lists_snr_models_among_its_requirements(registered, mlflow_store):
    _, _, logged = registered
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=logged.registered_uri))
    requirements = (local / "requirements.txt").read_text().split()
    assert f"snr_models=={__version__}" in requirements
    # the environment is given whole (MLflow does not look for the uv environment's pip)
    conda = (local / "conda.yaml").read_text()
    assert "- pip\n" in conda and f"snr_models=={__version__}" in conda


def test_mlflow_uri_forms_name_the_registered_version(registered, mlflow_store):
    est, frame, logged = registered
    with start_run("snr-churn-test", run_name="train again") as run:  # a second version
        second = log_churn_model(run, est, frame)
    assert second.version == str(int(logged.version) + 1)
    assert load_registered_model("models:/snr-churn/latest").version == second.version
    assert load_registered_model("models:/snr-churn/1").version == "1"
    assert load_registered_model("models:/snr-churn@champion").version == "1"  # first stays
    assert load_registered_model(f"runs:/{second.run_id}/model").version == second.version
    with pytest.raises(SnrInputError, match="no registered model version"):
        with start_run("snr-churn-test") as bare:
            pass
        load_registered_model(f"runs:/{bare.run_id}/model")


def test_runs_versions_and_the_model_are_described(registered, mlflow_store):
    est, frame, logged = registered
    client = MlflowClient(tracking_uri=mlflow_store)
    assert client.get_registered_model("snr-churn").description == MODEL_DESCRIPTION
    text = client.get_model_version("snr-churn", logged.version).description
    assert type(est).__name__ in text and f"{len(frame):,} client-months" in text
    with start_run("snr-test", run_name="named", description="what it did") as run:
        pass
    assert client.get_run(run.run_id).data.tags["mlflow.note.content"] == "what it did"


def test_run_name_and_datasets_say_what_the_run_read(mlflow_store, tmp_path):
    result = simulate(n_clients=40, n_branches=1, n_months=5, seed=2, truth=False)
    tables = result.tables
    last = tables.client_months["month"].max()  # independent: the data's last month
    name = tracking.run_name("main", tables)
    assert name == f"main {last:%Y-%m} {tables.content_hash()[:6]}"
    with start_run("snr-test", run_name=name) as run:
        run.log_data(tables, source=str(tmp_path / "world"))
    logged = MlflowClient(tracking_uri=mlflow_store).get_run(run.run_id)
    assert logged.info.run_name == name
    datasets = {d.dataset.name: d.dataset for d in logged.inputs.dataset_inputs}
    assert set(datasets) == {f"data.{t}" for t in tables.names()}
    clients = datasets["data.clients"]
    assert json.loads(clients.source)["uri"] == str(tmp_path / "world")
    columns = {c["name"]: c["type"] for c in json.loads(clients.schema)["mlflow_colspec"]}
    assert columns["client_id"] == "string" and columns["open_date"] == "datetime"
    assert clients.profile in (None, "", "null") or "client_id" not in clients.profile
    assert len({d.digest for d in datasets.values()}) == len(datasets)  # one per table
