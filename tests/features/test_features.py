"""Point-in-time features and labels: hand-computed cases, no leakage, bad input.

Expected numbers are computed by hand from the tiny world built in ``_tiny`` (commented at
each assertion), or by comparison of two builds (leakage, Parquet vs in-memory).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from snr_models.data.tables import Tables
from snr_models.data.vocabulary import RATING_ATTRIBUTES
from snr_models.errors import SnrInputError
from snr_models.features import FeatureWarning, build_features, feature_columns, write_features
from snr_models.simulate import simulate


def _ts(*values):
    return pd.Series(pd.to_datetime(list(values))).astype("datetime64[us]")


def _tiny(drop_month: str | None = None) -> Tables:
    """Two clients, Jan-Jun 2024. c1 opened 2023-06 (before the data); c2 opened 2024-03 and
    closes 2024-06-15. c1 has forced liquidations in Feb (1) and Apr (2), margin calls 1 per
    month, one SLA-missing ticket in May (created May 10, sla 24 h, resolved May 20), one
    complaint in March resolved in 5 hours (sla 24 h), a survey in Feb (csat 2, nps 3)."""
    months = pd.date_range("2024-01-01", periods=6, freq="MS")
    c1 = pd.DataFrame({"client_id": "c1", "month": months})
    c2 = pd.DataFrame({"client_id": "c2", "month": months[2:5]})
    cm = pd.concat([c1, c2], ignore_index=True)
    n = len(cm)
    cm = cm.assign(
        financing_balance=100.0,
        short_balance=0.0,
        collateral_value=300.0,
        maintenance_ratio_min=[2.0, 1.5, 1.8, 1.3, 1.9, 2.1, np.nan, np.nan, np.nan],
        margin_calls=np.int64(1),
        forced_liquidations=np.array([0, 1, 0, 2, 0, 0, 0, 0, 0], dtype=np.int64),
        trades=np.int64(5),
        logins=np.int64(10),
        financing_rate=[0.06] * 6 + [0.08] * 3,
        dormant=False,
    )
    cm["client_id"] = cm["client_id"].astype("str")
    cm["month"] = cm["month"].astype("datetime64[us]")
    if drop_month is not None:
        cm = cm[~((cm["client_id"] == "c1") & (cm["month"] == pd.Timestamp(drop_month)))]
    assert len(cm) <= n
    clients = pd.DataFrame(
        {
            "client_id": pd.Series(["c1", "c2"], dtype="str"),
            "branch_id": pd.Series(["b1", "b1"], dtype="str"),
            "segment": pd.Series(["retail", "retail"], dtype="str"),
            "open_date": _ts("2023-06-10", "2024-03-05"),
            "close_date": _ts(None, "2024-06-15"),
            "close_reason": pd.Series([None, "closed"], dtype="str"),
            "birth_year": [1980.0, np.nan],
            "risk_level": pd.Series(["C3", "C2"], dtype="str"),
            "acquisition_channel": pd.Series(["online", "branch"], dtype="str"),
        }
    )
    tickets = pd.DataFrame(
        {
            "ticket_id": pd.Series(["t1", "t2"], dtype="str"),
            "client_id": pd.Series(["c1", "c1"], dtype="str"),
            "created_at": _ts("2024-03-03 09:00", "2024-05-10 09:00"),
            "first_response_at": _ts("2024-03-03 10:00", "2024-05-10 10:00"),
            "resolved_at": _ts("2024-03-03 14:00", "2024-05-20 09:00"),
            "category": pd.Series(["complaint", "app_issue"], dtype="str"),
            "channel": pd.Series(["app", "app"], dtype="str"),
            "sla_hours": [24.0, 24.0],
            "escalated": [False, True],
            "reopened": [False, False],
        }
    )
    surveys = pd.DataFrame(
        {
            "response_id": pd.Series(["r1"], dtype="str"),
            "client_id": pd.Series(["c1"], dtype="str"),
            "responded_at": _ts("2024-02-12 10:00"),
            "trigger": pd.Series(["periodic"], dtype="str"),
            "nps": np.array([3], dtype=np.int64),
            "csat": np.array([2], dtype=np.int64),
            "ces": [np.nan],
            **{a: [np.nan] for a in RATING_ATTRIBUTES},
        }
    )
    interventions = pd.DataFrame(
        {
            "intervention_id": pd.Series(["i1"], dtype="str"),
            "intervention": pd.Series(["staff_training"], dtype="str"),
            "unit_type": pd.Series(["branch"], dtype="str"),
            "unit_id": pd.Series(["b1"], dtype="str"),
            "start_date": _ts("2024-04-15"),
            "end_date": _ts(None),
            "intensity": [0.7],
        }
    )
    market = pd.DataFrame(
        {
            "month": months.astype("datetime64[us]"),
            "index_return": [0.01] * 6,
            "volatility": [0.2] * 6,
            "turnover": [1e12] * 6,
        }
    )
    return Tables(clients, cm, tickets, surveys, interventions, market)


def test_hand_computed_features_of_one_client():
    """Each expected value is counted by hand from _tiny's docstring."""
    f = build_features(_tiny(), as_of="2024-05", horizon=1).set_index("client_id")
    c1 = f.loc["c1"]
    assert c1["forced_liquidations_3m"] == 2  # Mar 0 + Apr 2 + May 0
    assert c1["forced_liquidations_1m"] == 0
    assert c1["margin_calls_3m"] == 3  # one per month
    assert np.isnan(c1["margin_calls_6m"])  # data start in Jan: only 5 months observed
    assert c1["months_since_forced_liquidation"] == 1  # last one in April
    assert c1["maintenance_ratio_min_3m"] == pytest.approx(1.3)  # min(1.8, 1.3, 1.9)
    assert c1["tickets_3m"] == 2 and c1["tickets_complaint_3m"] == 1
    assert c1["tickets_1m"] == 1 and c1["tickets_app_issue_1m"] == 1
    # t2: created May 10 09:00, SLA 24 h -> missed on May 11, known by the end of May
    assert c1["sla_misses_1m"] == 1 and c1["sla_misses_3m"] == 1
    assert c1["failed_tickets_3m"] == 1  # t2 escalated
    # resolved by the end of May: t1 (5 h) and t2 (240 h) -> median 122.5 h over 3 months
    assert c1["median_resolution_hours_3m"] == pytest.approx(122.5)
    assert c1["latest_csat"] == 2 and c1["latest_nps"] == 3
    assert c1["months_since_survey"] == 3  # Feb -> May
    assert c1["tenure_months"] == 12  # June 2023 .. May 2024
    assert c1["age"] == 44  # 2024 - 1980
    assert c1["exposure_staff_training"] == pytest.approx(0.7)  # started Apr 15, branch b1
    # branch mean rate in May: (0.06 + 0.08) / 2 = 0.07 -> c1 is 1 point below
    assert c1["rate_gap_branch_pts"] == pytest.approx(-1.0)
    c2 = f.loc["c2"]
    assert np.isnan(c2["tickets_6m"])  # opened in March: too new for 6 months
    assert c2["tickets_3m"] == 0  # Mar..May observed, no ticket
    assert np.isnan(c2["latest_csat"])  # never surveyed
    # labels: c2 closes 2024-06-15 -> exit within 1 month of May
    assert c2["exit_next_month"] == 1 and c2["months_to_exit"] == 1
    assert c1["exit_next_month"] == 0


def test_ticket_open_at_as_of_is_not_yet_resolved():
    """In April t2 does not exist yet; at the end of March t1 is resolved (5 h, within SLA)."""
    f = build_features(_tiny(), as_of="2024-03").set_index("client_id")
    assert f.loc["c1", "sla_misses_1m"] == 0
    assert f.loc["c1", "median_resolution_hours_1m"] == pytest.approx(5.0)
    assert f.loc["c1", "open_tickets"] == 0


def test_closed_clients_are_not_scored_and_labels_are_censored():
    """c2 closes in June: absent at June; a June label needs July data, which is missing."""
    f = build_features(_tiny(), as_of="2024-06", horizon=1)
    assert f["client_id"].tolist() == ["c1"]
    assert np.isnan(f["exit_next_month"].iloc[0])


def test_no_leakage_altering_the_future_leaves_features_unchanged():
    """Change every table after the as-of month; the month's features stay identical."""
    tables = simulate(n_clients=600, n_branches=3, n_months=12, seed=5).tables
    as_of = pd.Timestamp("2023-08-01")
    end = as_of + pd.DateOffset(months=1)
    before = build_features(tables, as_of="2023-08")
    rng = np.random.default_rng(0)
    cm = tables.client_months.copy()
    late = cm["month"] >= end
    for col in ("financing_balance", "collateral_value", "financing_rate"):
        cm.loc[late, col] = cm.loc[late, col] * rng.uniform(0.1, 3, late.sum())
    cm.loc[late, "forced_liquidations"] = 5
    tk = tables.tickets.copy()
    tk.loc[tk["created_at"] >= end, "category"] = "complaint"
    tk.loc[tk["created_at"] >= end, "escalated"] = True
    tk.loc[tk["resolved_at"] >= end, "resolved_at"] = pd.NaT  # unresolved at as-of either way
    sv = tables.surveys.copy()
    sv.loc[sv["responded_at"] >= end, "csat"] = 1
    cl = tables.clients.copy()
    later = cl["close_date"] >= end
    cl.loc[later, "close_date"] = cl.loc[later, "close_date"] + pd.Timedelta(days=40)
    iv = tables.interventions.copy()
    iv.loc[iv["start_date"] >= end, "intensity"] = 0.01
    mk = tables.market.copy()
    mk.loc[mk["month"] >= end, "index_return"] = -0.5
    altered = Tables(cl, cm, tk, sv, iv, mk)
    after = build_features(altered, as_of="2023-08")
    assert len(before) > 400
    pd.testing.assert_frame_equal(before, after)
    # and the altered data really differ after the as-of month
    with pytest.warns(FeatureWarning):  # closes pushed past the data: missing snapshots
        later_f = build_features(altered, as_of="2023-10")
    assert not later_f.equals(build_features(tables, as_of="2023-10"))


def test_gap_in_client_months_warns_and_gives_missing_windows():
    """c1 lacks its April snapshot: its 3-month windows at May are missing, not undercounted."""
    with pytest.warns(FeatureWarning, match="gaps in client months"):
        f = build_features(_tiny(drop_month="2024-04-01"), as_of="2024-05").set_index("client_id")
    assert np.isnan(f.loc["c1", "forced_liquidations_3m"])
    assert f.loc["c1", "forced_liquidations_1m"] == 0  # May itself is observed
    with pytest.raises(SnrInputError, match="gaps in client months"):
        build_features(_tiny(drop_month="2024-04-01"), as_of="2024-05", strict=True)


def test_clients_without_survey_are_reported(caplog):
    """c2 has never answered a survey: missing values and an info message with the count."""
    with caplog.at_level(logging.INFO, logger="snr_models.features.build"):
        f = build_features(_tiny(), as_of="2024-04")
    assert f.set_index("client_id")["latest_csat"].isna().to_dict() == {"c1": False, "c2": True}
    assert "1 of 2 client-months have no survey response" in caplog.text


@pytest.mark.parametrize("as_of", ["2023-12", "2024-07", "not-a-month"])
def test_as_of_outside_the_data_is_a_clear_error(as_of):
    """The data cover 2024-01..2024-06."""
    with pytest.raises(SnrInputError, match="outside the data|not a month"):
        build_features(_tiny(), as_of=as_of)


def test_parquet_source_equals_in_memory_source(tmp_path):
    """The same query over Parquet files and over frames gives the same frame."""
    from snr_models.simulate import write_simulation

    result = simulate(n_clients=300, n_branches=2, n_months=8, seed=3)
    folder = write_simulation(result, tmp_path / "world")
    from_frames = build_features(result.tables, as_of=["2023-05", "2023-07"], horizon=1)
    from_files = build_features(folder, as_of=["2023-05", "2023-07"], horizon=1)
    pd.testing.assert_frame_equal(from_frames, from_files)
    out = write_features(folder, tmp_path / "f.parquet", as_of=["2023-05", "2023-07"], horizon=1)
    written = pd.read_parquet(out).sort_values(["as_of", "client_id"], ignore_index=True)
    assert len(written) == len(from_frames)
    assert set(feature_columns(written)) == set(feature_columns(from_frames))


def test_chunked_write_equals_single_build(tmp_path):
    """Hash-bucketed chunks (the scale path) give exactly the rows of one in-memory build,
    branch and firm reference rates included (they use every client)."""
    tables = simulate(n_clients=1500, n_branches=3, n_months=8, seed=1).tables
    whole = build_features(tables, horizon=1)
    out = write_features(tables, tmp_path / "f", horizon=1, clients_per_chunk=300)
    parts = sorted(p.name for p in out.iterdir())
    assert parts[0] == "part-0000.parquet" and len(parts) == 5  # ceil(1500 / 300)
    chunked = pd.read_parquet(out).sort_values(["as_of", "client_id"], ignore_index=True)
    for col in ("client_id", "branch_id", "segment", "risk_level", "acquisition_channel"):
        chunked[col] = chunked[col].astype("str")
    chunked["as_of"] = chunked["as_of"].astype("datetime64[us]")
    pd.testing.assert_frame_equal(whole, chunked[whole.columns], check_dtype=False)
