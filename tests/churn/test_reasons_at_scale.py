"""The scoring explainer's three reasons, unchanged by the speed work of issue 16 §4.

``data/reasons_66ef5b1.csv`` holds the reasons and contributions that the implementation
of commit 66ef5b1 (TreeSHAP from per-leaf tables, decision patterns hashed per tree, one
value per design column summed per feature afterwards) gave on the fixed world below: 1,000
clients scored in chunks of 400 through one explainer (its cache shared between chunks).
The exactness of the values themselves is checked against brute-force Shapley values in
``test_estimators.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from snr_models.churn import ChurnBoost
from snr_models.churn.scoring import make_explainer, score_clients

EXPECTED = Path(__file__).parent / "data" / "reasons_66ef5b1.csv"


def _world(n: int = 4000, seed: int = 5) -> tuple[pd.DataFrame, np.ndarray]:
    """Features named as the package's (so that concepts and wording apply), with missing
    values and a categorical, and an outcome that depends on most of them."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "sla_misses_3m": rng.poisson(0.6, n).astype(float),
            "sla_misses_6m": rng.poisson(1.2, n).astype(float),
            "forced_liquidations_3m": rng.poisson(0.2, n).astype(float),
            "rate_gap_market_pts": rng.normal(0.3, 0.8, n).round(2),
            "tenure_months": rng.integers(1, 120, n).astype(float),
            "latest_csat": rng.integers(1, 6, n).astype(float),
            "logins_3m": rng.gamma(2.0, 3.0, n).round(1),
            "segment": pd.Series(rng.choice(["retail", "high_net_worth", "pro"], n), dtype="str"),
            "as_of": np.repeat(pd.date_range("2024-01-01", periods=4, freq="MS"), n // 4),
        }
    )
    X.loc[rng.random(n) < 0.3, "latest_csat"] = np.nan
    X.loc[rng.random(n) < 0.05, "rate_gap_market_pts"] = np.nan
    eta = (
        -2.0
        + 0.5 * X["sla_misses_3m"]
        + 0.2 * X["sla_misses_6m"]
        + 0.9 * X["forced_liquidations_3m"]
        + 0.6 * X["rate_gap_market_pts"].fillna(0)
        - 0.01 * X["tenure_months"]
        - 0.3 * (X["latest_csat"].fillna(3) - 3)
        - 0.05 * X["logins_3m"]
        + 0.4 * (X["segment"] == "retail")
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    return X, y


def _scored() -> pd.DataFrame:
    X, y = _world()
    model = ChurnBoost(max_iter=60, max_leaf_nodes=15, min_samples_leaf=20).fit(X, y)
    rows = X.drop(columns="as_of").iloc[:1000]
    explainer = make_explainer(model)
    parts = [
        score_clients(model, rows.iloc[start : start + 400], horizon=3, explainer=explainer)
        for start in range(0, len(rows), 400)
    ]
    _, values = explainer(rows)
    return pd.concat(parts).join(values.add_prefix("phi_"))


def test_reasons_and_values_match_the_implementation_before():
    """Same three reasons per client (every one of 1,000, including the empty cells of
    clients with fewer than three risk-raising concepts) and the same SHAP values to 1e-10."""
    out = _scored()
    expected = pd.read_csv(EXPECTED)
    reasons = ["reason_1", "reason_2", "reason_3"]
    assert expected[reasons].isna().any().any()  # some clients have fewer than three
    pd.testing.assert_frame_equal(
        out[reasons].fillna("").reset_index(drop=True),
        expected[reasons].fillna("").astype(object),
    )
    phi = [c for c in expected.columns if c.startswith("phi_")]
    np.testing.assert_allclose(out[phi].to_numpy(), expected[phi].to_numpy(), rtol=0, atol=1e-10)
