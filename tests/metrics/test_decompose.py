"""decompose(): by component and by group (symmetric shift-share), adding up exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from snr_models.data import Tables
from snr_models.errors import SnrInputError
from snr_models.metrics import Decomposition, MetricSpec, decompose, net_rate


def test_by_component_by_hand(hand: Tables) -> None:
    r = net_rate(hand, n_boot=0).to_frame()
    d = decompose(r, "2024-01", "2024-02")
    assert isinstance(d, Decomposition) and d.by_group is None
    # net rate 0.126667 (Jan) -> 0.44 (Feb), see test_netrate.test_monthly_components_by_hand
    assert_allclose([d.start_value, d.end_value], [0.4 / 6 + 0.06, 0.44], rtol=1e-12)
    # S 1/6 -> 3/4: 0.4 * 7/12; R -0.2 -> -0.2: 0; E 0.4 -> 2/3: 0.3 * 4/15 = 0.08
    assert_allclose(d.by_component["contribution"], [0.4 * 7 / 12, 0.0, 0.08], atol=1e-15)
    assert_allclose(d.by_component["contribution"].sum(), d.total, rtol=1e-12)
    assert d.start == pd.Timestamp("2024-01-01") and d.end == pd.Timestamp("2024-02-01")


def test_by_group_shift_share_by_hand(hand: Tables) -> None:
    r = net_rate(hand, by="branch_id", n_boot=0).to_frame()
    d = decompose(r, pd.Timestamp("2024-01-15"), pd.Period("2024-02", "M"))
    g = d.by_group.set_index(["component", "branch_id"])
    # S, B1: share of responses 4/6 -> 3/4, value 0.5 -> 2/3.
    #   rate = 0.4 * (2/3 - 1/2) * (4/6 + 3/4)/2 = 0.4 * 1/6 * 17/24 = 0.0472222...
    #   mix  = 0.4 * (3/4 - 4/6) * (1/2 + 2/3)/2 = 0.4 * 1/12 * 7/12 = 0.0194444...
    assert_allclose(g.loc[("S", "B1"), ["rate", "mix"]], [0.4 / 6 * 17 / 24, 0.4 / 12 * 7 / 12])
    # E, B2: no counted ticket in January (share 0), Feb share 1/3 with E = 1: pure mix,
    #   rate 0, mix = 0.3 * (1/3 - 0) * (1 + 1)/2 = 0.1
    assert_allclose(g.loc[("E", "B2"), ["rate", "mix"]], [0.0, 0.1], atol=1e-15)
    # groups partition the clients: firm values from groups equal the ungrouped net rate
    firm = net_rate(hand, n_boot=0).to_frame()
    assert_allclose([d.start_value, d.end_value], firm["net_rate"].iloc[:2], rtol=1e-12)
    parts = d.by_group["rate"].sum() + d.by_group["mix"].sum()
    assert abs(parts - d.total) < 1e-12
    assert abs(d.by_component["contribution"].sum() - d.total) < 1e-12
    assert_allclose(
        d.by_component["rate"] + d.by_component["mix"], d.by_component["contribution"], atol=1e-15
    )


def test_subset_of_group_columns_aggregates_exactly(make_random_tables) -> None:
    data = make_random_tables(n_clients=600, n_months=2, seed=3)
    fine = net_rate(data, by=["branch_id", "segment"], n_boot=0).to_frame()
    coarse = net_rate(data, by="branch_id", n_boot=0).to_frame()
    firm = net_rate(data, n_boot=0).to_frame()
    d_fine = decompose(fine, "2024-01", "2024-02", by="branch_id")
    d_coarse = decompose(coarse, "2024-01", "2024-02")
    # aggregating (branch, segment) cells to branches is exact: same parts as the branch run
    assert_allclose(
        d_fine.by_group[["rate", "mix"]], d_coarse.by_group[["rate", "mix"]], atol=1e-13
    )
    assert_allclose(d_fine.total, firm["net_rate"].iloc[1] - firm["net_rate"].iloc[0], atol=1e-13)
    d_all = decompose(fine, "2024-01", "2024-02")
    assert d_all.group_columns == ("branch_id", "segment")
    assert abs(d_all.by_group["total"].sum() - d_all.total) < 1e-12


def _frame(groups: list[dict], weights: tuple[float, float, float]) -> pd.DataFrame:
    rows = []
    for g in groups:
        for t, period in enumerate(("2024-01-01", "2024-02-01")):
            if not g["present"][t]:
                continue
            row = {"period": pd.Timestamp(period), "segment": g["name"]}
            for c, n_col in (("S", "n_responses"), ("R", "n_open"), ("E", "n_tickets")):
                n = g[f"n_{c}"][t]
                row[n_col] = n
                row[c] = g[c][t] if n > 0 else np.nan
            rows.append(row)
    frame = pd.DataFrame(rows)
    spec = MetricSpec.model_validate(
        {"components": {c: {"weight": w} for c, w in zip("SRE", weights, strict=True)}}
    )
    frame.attrs["spec"] = spec.model_dump()
    return frame


_value = st.floats(-1.0, 1.0, allow_nan=False)
_count = st.integers(0, 500)
_group = st.fixed_dictionaries(
    {
        "present": st.tuples(st.booleans(), st.booleans()),
        **{f"n_{c}": st.tuples(_count, _count) for c in "SRE"},
        **{c: st.tuples(_value, _value) for c in "SRE"},
    }
)


@settings(max_examples=150, deadline=None)
@given(
    groups=st.lists(_group, min_size=1, max_size=5),
    raw_weights=st.tuples(*(st.floats(0.0, 1.0) for _ in range(3))).filter(lambda w: sum(w) > 0.1),
)
def test_decomposition_adds_up_exactly(groups: list[dict], raw_weights: tuple) -> None:
    # Property: for any groups (present in one or both periods, any denominators, values)
    # and any weights, rate + mix over all groups and components equals the change in the
    # firm-level net rate computed directly as sum_c weight_c * (sum_g n r / sum_g n), to 1e-12,
    # and the by-component contributions add up to the same change.
    for i, g in enumerate(groups):
        g["name"] = f"g{i}"
    total_w = sum(raw_weights)
    weights = tuple(w / total_w for w in raw_weights)
    frame = _frame(groups, weights)
    firm = {}
    for t, period in enumerate(pd.to_datetime(["2024-01-01", "2024-02-01"])):
        value = 0.0
        for c, n_col, w in zip("SRE", ("n_responses", "n_open", "n_tickets"), weights, strict=True):
            rows = frame.loc[frame["period"] == period] if len(frame) else frame
            n = rows[n_col].to_numpy(dtype=float) if len(rows) else np.array([])
            if w > 0 and n.sum() == 0:
                value = np.nan
                continue
            if w > 0:
                value += w * float(np.sum(n[n > 0] * rows[c].to_numpy()[n > 0]) / n.sum())
        firm[t] = value
    if not (np.isfinite(firm[0]) and np.isfinite(firm[1])):
        if len(frame) and frame["period"].nunique() == 2:
            with pytest.raises(SnrInputError, match="undefined"):
                decompose(frame, "2024-01", "2024-02")
        return
    d = decompose(frame, "2024-01", "2024-02")
    assert abs(d.total - (firm[1] - firm[0])) < 1e-12
    assert abs(d.by_group["rate"].sum() + d.by_group["mix"].sum() - d.total) < 1e-12
    assert abs(d.by_component["contribution"].sum() - d.total) < 1e-12
    # a group absent in one period has no rate part
    for g in groups:
        if g["present"][0] != g["present"][1]:
            assert (d.by_group.loc[d.by_group["segment"] == g["name"], "rate"] == 0).all()


def test_summary_and_tidy_frame(hand: Tables) -> None:
    d = decompose(net_rate(hand, by="branch_id", n_boot=0).to_frame(), "2024-01", "2024-02")
    text = d.summary()
    assert "2024-01-01 -> 2024-02-01" in text and "By group" in text and "B2" in text
    assert f"{d.total:+.4f}" in text
    tidy = d.to_frame()
    assert list(tidy.columns) == ["level", "component", "group", "part", "value"]
    groups = tidy.loc[tidy["level"] == "group", "value"].sum()
    change = tidy.loc[(tidy["level"] == "total") & (tidy["part"] == "change"), "value"].item()
    assert abs(groups - change) < 1e-12
    components = tidy.loc[(tidy["level"] == "component") & (tidy["part"] == "contribution")]
    assert abs(components["value"].sum() - change) < 1e-12
    assert "change +" in repr(d) or "change -" in repr(d)


def test_errors(hand: Tables) -> None:
    r = net_rate(hand, n_boot=0).to_frame()
    with pytest.raises(SnrInputError, match=r"period '2025-01' is not in the result"):
        decompose(r, "2024-01", "2025-01")
    # March has no counted ticket: E, weighted 0.3, is undefined
    with pytest.raises(SnrInputError, match=r"\['E'\] undefined .* 2024-03-01"):
        decompose(r, "2024-01", "2024-03")
    bare = r.copy()
    bare.attrs = {}
    with pytest.raises(SnrInputError, match="pass spec"):
        decompose(bare, "2024-01", "2024-02")
    assert decompose(bare, "2024-01", "2024-02", spec=MetricSpec.default()).total == pytest.approx(
        0.44 - (0.4 / 6 + 0.06)
    )
    with pytest.raises(SnrInputError, match="not group columns"):
        decompose(r, "2024-01", "2024-02", by="segment")
    grouped = net_rate(hand, by="branch_id", n_boot=0).to_frame()
    grouped_no_cols = grouped.drop(columns="branch_id")
    with pytest.raises(SnrInputError, match="one row per period"):
        decompose(grouped_no_cols, "2024-01", "2024-02")
