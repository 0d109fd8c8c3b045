"""``model: auto``: the churn model chosen on the rolling-origin backtest, honestly scored.

Where the expected numbers come from: an independent computation in this file. Every
candidate is refitted here at every origin (``sklearn.base.clone`` of the candidate, fitted
on the rows up to the origin with its own training label) and scored on the clients of the
test month with scikit-learn's ``roc_auc_score``, not with the package's backtest or metrics.
The choice must be the candidate with the best mean of those scores; the nested estimate at
each origin must use the model chosen on the earlier origins only.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from snr_models.churn import Candidate, ChurnLogit, select_model
from snr_models.features import build_features, feature_columns
from snr_models.jobs.churn import fit_churn, log_churn
from snr_models.jobs.churn_models import candidates, labelled_rows, model_names
from snr_models.jobs.config import ChurnConfig, RunConfig
from snr_models.simulate import simulate

HORIZON = 3
EXPERIMENTS = Path(__file__).parents[2] / "experiments"


def _config(**kw) -> ChurnConfig:
    base = {
        "boost": {"max_iter": 20, "min_samples_leaf": 20},
        "n_boot": 10,
        "backtest": {"n_origins": 3, "min_train_months": 4, "importance": False},
    }
    return ChurnConfig.model_validate(base | kw)


@pytest.fixture(scope="module")
def tables():
    return simulate(n_clients=1200, n_branches=3, n_months=14, seed=11, truth=False).tables


@pytest.fixture(scope="module")
def labelled(tables) -> pd.DataFrame:
    return labelled_rows(build_features(tables, horizon=HORIZON), _config())


@pytest.fixture(scope="module")
def choice(labelled):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return select_model(
            labelled,
            candidates(_config()),
            horizon=HORIZON,
            min_train_months=4,
            n_origins=3,
            n_boot=10,
        )


@pytest.fixture(scope="module")
def independent(labelled, choice) -> pd.DataFrame:
    """ROC-AUC of every candidate at every origin, computed here from scratch."""
    inputs = [*feature_columns(labelled), "as_of"]
    rows = []
    for cand in candidates(_config()):
        for t in sorted(choice.per_origin["origin"].unique()):
            train = labelled[labelled["as_of"] <= t]
            test = labelled[labelled["as_of"] == t + pd.DateOffset(months=HORIZON)]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = clone(cand.estimator).fit(train[inputs], train[cand.train_label])
            p = model.predict_proba(test[inputs])[:, 1]
            rows.append(
                {
                    "candidate": cand.name,
                    "origin": t,
                    "auc": roc_auc_score(test["churn"], p),
                    "y": test["churn"].to_numpy(),
                    "p": p,
                }
            )
    return pd.DataFrame(rows)


def test_auto_is_the_default():
    assert ChurnConfig().model == "auto"
    assert ChurnConfig.from_yaml(EXPERIMENTS / "churn.yaml").model == "auto"
    main = RunConfig.from_yaml(EXPERIMENTS / "default.yaml")
    cfg = main.churn.churn_config()
    assert cfg.model == "auto"
    assert set(model_names(cfg)) == {"boost", "logit", "hazard"}
    assert [c.train_label for c in candidates(cfg) if c.name == "hazard"] == ["exit_next_month"]


def test_auto_chooses_the_best_backtest_score(choice, independent):
    assert len(choice.per_origin["origin"].unique()) == 3
    means = independent.groupby("candidate")["auc"].mean()
    np.testing.assert_allclose(
        choice.scores["score"].to_numpy(), means[choice.scores.index].to_numpy(), rtol=1e-12
    )
    assert choice.chosen == means.idxmax()
    assert choice.scores.loc[choice.chosen, "chosen"]
    assert choice.scores["chosen"].sum() == 1
    assert choice.candidate.name == choice.chosen
    # the chosen candidate's backtest carries the bootstrap intervals, the others none
    assert np.isfinite(choice.backtest.metrics.loc["roc_auc", "lo"])


def test_backtest_predictions_are_the_independent_refits(choice, independent):
    """Every candidate's backtest predictions at every origin: the very numbers of the
    refit done here on the rows up to the origin, in the test rows' order."""
    for row in independent.itertuples():
        preds = choice.backtests[row.candidate].predictions
        at = preds[preds["origin"] == row.origin]
        np.testing.assert_array_equal(at["p"].to_numpy(), row.p)
        np.testing.assert_array_equal(at["y"].to_numpy(), row.y)


def test_nested_estimate_uses_origins_not_used_for_the_choice(choice, independent):
    origins = sorted(choice.per_origin["origin"].unique())
    assert list(choice.nested["origin"]) == origins[1:]  # min_select_origins = 1
    auc = independent.pivot(index="origin", columns="candidate", values="auc")
    pooled_y, pooled_p = [], []
    for row in choice.nested.itertuples():
        selected = {pd.Timestamp(m) for m in row.selected_on.split(";")}
        assert selected.isdisjoint({row.origin})
        assert selected == {o for o in origins if o < row.origin}
        expected_pick = auc.loc[sorted(selected)].mean().idxmax()
        assert row.chosen == expected_pick
        assert row.roc_auc == pytest.approx(auc.loc[row.origin, expected_pick], rel=1e-12)
        hit = independent[
            (independent["candidate"] == expected_pick) & (independent["origin"] == row.origin)
        ].iloc[0]
        pooled_y.append(hit["y"])
        pooled_p.append(hit["p"])
    assert choice.nested_score == pytest.approx(choice.nested["roc_auc"].mean(), rel=1e-12)
    nested_auc = roc_auc_score(np.concatenate(pooled_y), np.concatenate(pooled_p))
    assert choice.nested_metrics.loc["roc_auc", "value"] == pytest.approx(nested_auc, rel=1e-9)
    assert "Nested estimate" in choice.summary()


def test_ties_go_to_the_earlier_candidate_and_brier_is_minimised(labelled):
    same = ChurnLogit(features=["tenure_months"])
    noise = ChurnLogit(features=["age"])
    kw = {"horizon": HORIZON, "min_train_months": 4, "n_origins": 2, "n_boot": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tie = select_model(labelled, [Candidate("b", same), Candidate("a", clone(same))], **kw)
        brier = select_model(
            labelled,
            [Candidate("x", same), Candidate("y", noise)],
            metric="brier",
            **kw,
        )
    assert tie.chosen == "b"
    per = brier.per_origin.groupby("candidate")["brier"].mean()
    assert brier.chosen == per.idxmin()
    with pytest.raises(ValueError, match="repeat"):
        select_model(labelled, [Candidate("a", same), Candidate("a", same)], **kw)


def test_config_rejects_repeated_candidates():
    with pytest.raises(ValueError, match="repeat"):
        ChurnConfig.model_validate({"auto": {"candidates": ["logit", "logit"]}})


def test_job_fits_logs_and_registers_the_chosen_model(tables, mlflow_store):
    """fit_churn fits the chosen candidate on every labelled row; the choice is logged."""
    from mlflow.tracking import MlflowClient

    from snr_models import tracking

    cfg = _config()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_churn(tables, cfg)
        chosen = fit.choice.candidate
        refit = clone(chosen.estimator).fit(
            fit.labelled[fit.inputs], fit.labelled[chosen.train_label]
        )
        with tracking.start_run("snr-test-choice", run_name="choice") as run:
            logged = log_churn(run, tables, fit)
    assert type(fit.estimator) is type(chosen.estimator)
    X = fit.labelled[fit.inputs]
    np.testing.assert_array_equal(fit.estimator.predict_proba(X), refit.predict_proba(X))
    assert fit.backtest is fit.choice.backtests[fit.choice.chosen]

    client = MlflowClient(tracking_uri=mlflow_store)
    data = client.get_run(logged.run_id).data
    assert data.params["model.chosen"] == fit.choice.chosen
    assert data.params["estimator"] == type(chosen.estimator).__name__
    for name in ("boost", "logit", "hazard"):
        assert data.metrics[f"choice.{name}.score"] == pytest.approx(
            fit.choice.scores.loc[name, "score"]
        )
    assert data.metrics["nested.roc_auc"] == pytest.approx(
        fit.choice.nested_metrics.loc["roc_auc", "value"]
    )
    files = {a.path for a in client.list_artifacts(logged.run_id, "backtest")}
    assert {"backtest/candidates.csv", "backtest/nested.csv"} <= files
    for name in ("candidates.csv", "candidates_per_origin.csv", "nested.csv"):
        text = Path(client.download_artifacts(logged.run_id, f"backtest/{name}")).read_text()
        assert "client_id" not in text
        assert not any(cid in text for cid in tables.clients["client_id"].head(50))
