"""On a simulated world: the risk ranking's AUC against the oracle's, and the hazard signs.

The oracle ranks by the true log-hazard of exit next month, computed from truth.json's
coefficients by ``oracle.py`` (plain pandas, independent of snr_models.features). The issue's
requirement: the model's AUC comes within 0.02 of the oracle's on the same test rows. The
discrete-time hazard model must recover the signs of the true coefficients.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from snr_models.churn import ChurnBoost, HazardModel
from snr_models.churn.evaluation import roc_auc
from snr_models.features import build_features, feature_columns
from snr_models.simulate import simulate
from tests.churn.oracle import oracle_log_hazard


@pytest.fixture(scope="module")
def world():
    result = simulate(n_clients=20_000, n_branches=8, n_months=24, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = build_features(result.tables, horizon=1)
    return result, frame[frame["exit_next_month"].notna()]


def test_boosting_auc_within_002_of_the_oracle(world):
    """Train on as-of months up to 2024-05, test on 2024-06..2024-11 (labels observed)."""
    result, frame = world
    cut = pd.Timestamp("2024-05-01")
    train = frame[frame["as_of"] <= cut]
    test = frame[frame["as_of"] > cut]
    inputs = [*feature_columns(frame), "as_of"]
    model = ChurnBoost(max_iter=100, learning_rate=0.05, min_samples_leaf=200)
    model.fit(train[inputs], train["exit_next_month"])
    p = model.predict_proba(test[inputs])[:, 1]
    y = test["exit_next_month"].to_numpy()
    oracle = oracle_log_hazard(result.tables, result.truth, test)
    auc_model, auc_oracle = roc_auc(y, p), roc_auc(y, oracle)
    assert y.sum() > 300  # enough exits for a stable comparison
    assert auc_model >= auc_oracle - 0.02, (auc_model, auc_oracle)


def test_hazard_model_recovers_the_signs_of_the_true_coefficients(world):
    """Features matching truth.json's covariates (see its exit_hazard.description)."""
    result, frame = world
    truth = result.truth["exit_hazard"]["coefficients"]
    data = frame.assign(
        forced_liquidation_3m=(frame["forced_liquidations_3m"] > 0).astype(float),
        slow_ticket_3m=(frame["sla_misses_3m"] > 0).astype(float),
        failed_ticket_3m=(frame["failed_tickets_3m"] > 0).astype(float),
        surveyed_3m=(frame["surveys_3m"] > 0).astype(float),
        new_client_12m=(frame["tenure_months"] <= 12).astype(float),
    )
    data = data[data["forced_liquidations_3m"].notna() & data["rate_gap_market_pts"].notna()]
    mapping = {
        "rate_gap_pp": "rate_gap_market_pts",
        "forced_liquidation_3m": "forced_liquidation_3m",
        "slow_ticket_3m": "slow_ticket_3m",
        "failed_ticket_3m": "failed_ticket_3m",
        "surveyed_3m": "surveyed_3m",
        "dormant": "dormant",
        "new_client_12m": "new_client_12m",
    }
    model = HazardModel(C=100.0, features=[*mapping.values(), "segment"], duration_column="none")
    model.fit(data, data["exit_next_month"])
    table = model.inference_table()
    for true_name, ours in mapping.items():
        assert np.sign(table.loc[ours, "coef"]) == np.sign(truth[true_name]), true_name
    # segment intercepts: retail > high_net_worth > institutional in truth
    order = [truth[f"intercept_{s}"] for s in ("retail", "high_net_worth", "institutional")]
    assert order == sorted(order, reverse=True)
    assert table.loc["segment_retail", "coef"] > 0 > table.loc["segment_institutional", "coef"]
