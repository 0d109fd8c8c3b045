"""``snr score --rank uplift|value``: the call list ordered by the exits a call prevents.

The reference is what an analyst computes in a notebook: ``join_outreach`` on the data's
campaigns, ``TwoModelUplift`` fitted on the labelled ones, ``predict`` on the as-of features;
the call value from its definition (``uplift x (client_value + value_per_balance x
financing_balance) - call_cost``, the configuration's numbers).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from snr_models.churn.uplift import TwoModelUplift, assignment_propensity, join_outreach
from snr_models.features import build_features, feature_columns
from snr_models.jobs.config import UpliftSettings
from snr_models.jobs.score import OUTPUT_COLUMNS, score
from snr_models.simulate import simulate, write_simulation
from tests.lifecycle.cli import run_snr

AS_OF = "2023-12"
URI = "models:/snr-churn@champion"


@pytest.fixture(scope="module")
def campaign_world(tmp_path_factory):
    """World ``a``'s configuration with retention campaigns from its fourth month."""
    result = simulate(
        n_clients=1500,
        n_branches=3,
        n_months=14,
        seed=2,
        truth=False,
        campaigns={"enabled": True, "first_month": 3, "share": 0.3},
    )
    return write_simulation(result, tmp_path_factory.mktemp("campaigns") / "world"), result


def test_rank_uplift_and_value_equal_the_notebook(store, campaign_world, tmp_path):
    path, result = campaign_world
    settings = UpliftSettings(client_value=1500.0, value_per_balance=0.01, call_cost=25.0)
    risk = score(URI, path, AS_OF, tmp_path / "risk.parquet")
    by_uplift = score(URI, path, AS_OF, tmp_path / "u.parquet", rank="uplift", uplift=settings)
    by_value = score(URI, path, AS_OF, tmp_path / "v.parquet", rank="value", uplift=settings)
    plain = pd.read_parquet(risk.output)
    assert tuple(plain.columns) == OUTPUT_COLUMNS  # --rank risk: the call list as before
    u = pd.read_parquet(by_uplift.output)
    v = pd.read_parquet(by_value.output)
    assert tuple(u.columns) == (*OUTPUT_COLUMNS, "uplift", "call_value", "call_rank")
    # the risk columns and the three reasons are unchanged by the ranking (row order may
    # differ between runs: the features are written in client buckets)
    pd.testing.assert_frame_equal(
        u[list(OUTPUT_COLUMNS)].sort_values("client_id", ignore_index=True),
        plain.sort_values("client_id", ignore_index=True),
    )

    # the notebook: the same learner on the same campaigns, by hand
    tables = result.tables
    eves = sorted(
        {
            f"{m - pd.offsets.MonthBegin(1):%Y-%m}"
            for m in tables.outreach["contacted_at"].dt.to_period("M").dt.to_timestamp()
            if m <= pd.Timestamp(AS_OF)
        }
    )
    features = build_features(tables, as_of=eves, horizon=3)
    outreach = tables.outreach[tables.outreach["contacted_at"] < pd.Timestamp("2024-01-01")]
    rows, _ = join_outreach(features, outreach)
    # labels known by the as-of month: the eve plus the 3-month horizon is not after it
    rows = rows[
        rows["churn"].notna() & (rows["as_of"] <= pd.Timestamp(AS_OF) - pd.offsets.MonthBegin(3))
    ]
    cols = feature_columns(rows)
    model = TwoModelUplift().fit(
        rows[cols],
        rows["churn"],
        rows["_treatment"],
        propensity=assignment_propensity(rows["_treatment"], rows["_campaign_id"]),
    )
    now = build_features(tables, as_of=AS_OF).set_index("client_id").loc[u["client_id"]]
    expected = model.predict(now[cols])
    np.testing.assert_allclose(u["uplift"].to_numpy(), expected, rtol=1e-9, atol=1e-12)
    value = expected * (1500.0 + 0.01 * now["financing_balance"].fillna(0).to_numpy()) - 25.0
    got = v.set_index("client_id").loc[u["client_id"], "call_value"].to_numpy()
    np.testing.assert_allclose(got, value, rtol=1e-9)

    # call_rank: 1..n, the first call has the highest uplift (resp. value)
    for frame, column in ((u, "uplift"), (v, "call_value")):
        ordered = frame.sort_values("call_rank")
        assert ordered["call_rank"].tolist() == list(range(1, len(frame) + 1))
        assert ordered[column].is_monotonic_decreasing
    assert (u["uplift"] < 0).any() and (u["uplift"] > 0).any()  # sleeping dogs are ranked last


def test_rank_uplift_without_campaigns_exits_2(store, worlds, tmp_path, monkeypatch, capsys):
    out = tmp_path / "calls.parquet"
    run = run_snr(
        [
            "score",
            "--model",
            URI,
            "--data",
            worlds["a"],
            "--as-of",
            AS_OF,
            "--output",
            out,
            "--rank",
            "uplift",
        ],
        monkeypatch,
        capsys,
    )
    assert run.code == 2, run.text
    assert "outreach" in run.text and "Traceback" not in run.text
    assert not out.exists()
