"""Train / evaluate / score end to end on a small simulated world, tracked in MLflow.

Expected facts come from the job's contract: a registered version 1 with the champion alias,
logged figures and metrics, a skops model that loads back to the same predictions, and a
scoring file with one row per open client.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from typer.testing import CliRunner

from snr_models.errors import SnrInputError
from snr_models.features import build_features
from snr_models.jobs.churn import ChurnConfig, evaluate_churn, train_churn
from snr_models.jobs.score import score
from snr_models.simulate import simulate, write_simulation
from snr_models.tracking.models import UntrustedModelError, load_churn_model, load_skops


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory) -> Path:
    result = simulate(n_clients=2500, n_branches=3, n_months=14, seed=2)
    return write_simulation(result, tmp_path_factory.mktemp("churn") / "world")


def _small_config(**kw) -> ChurnConfig:
    base = {
        "boost": {"max_iter": 20, "min_samples_leaf": 20},
        "n_boot": 10,
        "backtest": {"n_origins": 1, "n_repeats": 1, "min_train_months": 4},
    }
    return ChurnConfig.model_validate({**base, **kw})


def test_train_evaluate_score_round_trip(world_dir, mlflow_store, tmp_path):
    """One training through the CLI (as the lead registers it), then every check on what it
    logged, the model loaded back, scoring and evaluation (library and CLI)."""
    import typer
    from mlflow.tracking import MlflowClient

    from snr_models.cli.churn import churn_app, score_command

    app = typer.Typer()
    app.add_typer(churn_app, name="churn")
    app.command("score")(score_command)
    config = tmp_path / "churn.yaml"
    config.write_text(
        "boost: {max_iter: 20, min_samples_leaf: 20}\nn_boot: 5\n"
        "backtest: {n_origins: 1, n_repeats: 1, min_train_months: 4}\n"
    )
    runner = CliRunner()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = runner.invoke(
            app, ["churn", "train", "--data", str(world_dir), "--config", str(config)]
        )
    assert res.exit_code == 0, res.output
    assert "registered models:/snr-churn/1" in res.output
    # model: auto (the default): the choice and each candidate's backtest score are shown
    assert "model chosen on the backtest:" in res.output
    assert all(name in res.output for name in ("boost", "logit", "hazard"))
    client = MlflowClient(tracking_uri=mlflow_store)
    version = client.get_model_version_by_alias("snr-churn", "champion")
    assert str(version.version) == "1"
    run = client.get_run(version.run_id)
    assert "backtest.roc_auc" in run.data.metrics and "backtest.empc" in run.data.metrics
    assert 0.0 <= run.data.metrics["backtest.roc_auc"] <= 1.0
    assert run.data.tags.get("data.content_hash")
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "backtest")}
    for name in ("roc.png", "calibration.png", "lift.png", "importance.png"):
        assert f"backtest/{name}" in artifacts
    # the logged model: skops, explicit requirements, signature; no client identifiers
    local = Path(client.download_artifacts(run.info.run_id, "model"))
    assert (local / "artifacts" / "model.skops").exists()
    reqs = (local / "requirements.txt").read_text()
    assert "scikit-learn==" in reqs and "skops==" in reqs
    mlmodel = (local / "MLmodel").read_text()
    assert "signature" in mlmodel and "client_id" not in mlmodel
    example = (local / "input_example.json").read_text()
    assert "client_id" not in example and "C1000" not in example

    model = load_churn_model("models:/snr-churn@champion")
    frame = build_features(world_dir, as_of="2023-12")
    out = tmp_path / "scores.parquet"
    res = runner.invoke(
        app,
        [
            "score",
            "--model",
            "models:/snr-churn@champion",
            "--data",
            str(world_dir),
            "--as-of",
            "2023-12",
            "--output",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    written = pd.read_parquet(out)
    assert len(written) == len(frame)
    assert list(written.columns)[:4] == ["client_id", "branch_id", "as_of", "churn_probability"]
    cols = [c for c in map(str, model.feature_names_in_)]
    expected = model.predict_proba(frame[cols])[:, 1]
    got = written.set_index("client_id").loc[frame["client_id"], "churn_probability"]
    np.testing.assert_array_equal(got.to_numpy(), expected)
    ev = evaluate_churn(world_dir, "models:/snr-churn@champion", n_boot=5)
    assert ev.as_of == pd.Timestamp("2023-11-01")  # last month with 3 observed months after
    assert ev.run_id and "roc_auc" in ev.metrics.index
    res = runner.invoke(
        app,
        ["churn", "evaluate", "--data", str(world_dir), "--n-boot", "5", "--log-format", "json"],
    )
    assert res.exit_code == 0, res.output
    assert "roc_auc" in res.output
    # progress by stage (not a spinner): each announced stage starts and finishes
    events = [json.loads(line) for line in res.stderr.splitlines() if line.startswith("{")]
    finished = [e["stage"] for e in events if e["event"] == "stage finished"]
    assert finished == ["data", "features", "evaluate", "log"]
    res = runner.invoke(
        app,
        [
            "score",
            "--model",
            "models:/snr-churn@champion",
            "--data",
            str(world_dir),
            "--as-of",
            "2031-01",
            "--output",
            str(out),
        ],
    )
    assert res.exit_code != 0
    assert isinstance(res.exception, SnrInputError)
    assert "outside the data" in str(res.exception)


def test_train_job_library_api(world_dir, mlflow_store):
    """train_churn with the logistic model: registered, inference table logged."""
    from mlflow.tracking import MlflowClient

    cfg = _small_config(model="logit", register=True)
    cfg = cfg.model_copy(update={"backtest": cfg.backtest.model_copy(update={"importance": False})})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = train_churn(world_dir, cfg)
    assert result.registered_uri == "models:/snr-churn/1"
    client = MlflowClient(tracking_uri=mlflow_store)
    files = {a.path for a in client.list_artifacts(result.run_id, "model")}
    assert "model/inference_table.csv" in files and "model/summary.txt" in files


def test_score_rejects_bad_input(world_dir, mlflow_store, tmp_path):
    with pytest.raises(SnrInputError, match="parquet"):
        score("models:/snr-churn@champion", world_dir, "2023-12", tmp_path / "x.csv")
    with pytest.raises(SnrInputError, match="snr-churn"):
        score("models:/snr-churn@champion", world_dir, "2023-12", tmp_path / "x.parquet")


def test_skops_loader_refuses_untrusted_types(tmp_path):
    """A skops file holding a type outside the allow-list is refused before loading."""
    path = tmp_path / "evil.skops"
    sio.dump({"f": pd.Timestamp("2024-01-01")}, path)  # a pandas type: not allow-listed
    with pytest.raises(UntrustedModelError, match="outside the allow-list"):
        load_skops(path)


def test_config_file_is_valid():
    """experiments/churn.yaml parses with the job's schema."""
    path = Path(__file__).parents[2] / "experiments" / "churn.yaml"
    cfg = ChurnConfig.from_yaml(path)
    assert cfg.model == "auto" and cfg.horizon == 3


def test_the_feature_window_of_train_months_gives_the_rows_of_the_full_build(world_dir):
    """With ``train_months`` the job builds features for the months it uses only; the
    labelled rows and the latest month's rows equal those of the full build (reference:
    build_features over every month, then the same selection)."""
    from snr_models.data.io import load
    from snr_models.jobs.churn_models import feature_months, labelled_rows

    tables = load(world_dir)
    config = _small_config(train_months=4)
    months = feature_months(tables, config)
    assert len(months) == config.train_months + config.horizon  # 4 labelled + 3 after
    assert months[-1] == tables.client_months["month"].max()
    window = build_features(tables, as_of=months, horizon=config.horizon)
    full = build_features(tables, horizon=config.horizon)
    pd.testing.assert_frame_equal(
        labelled_rows(window, config).reset_index(drop=True),
        labelled_rows(full, config).reset_index(drop=True),
    )
    latest = full[full["as_of"] == full["as_of"].max()].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        window[window["as_of"] == window["as_of"].max()].reset_index(drop=True), latest
    )
    assert feature_months(tables, _small_config()) is None  # every labelled month: all
