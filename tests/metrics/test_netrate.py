"""net_rate() against numbers computed by hand on the example of conftest.hand_tables().

The hand arithmetic is written next to each expected value. Recap of the example (2024):

Surveys (csat): Jan c1 5, c1 4, c2 2, c3 3, c4 1, q1 5  -> n 6, pos 3, neg 2
                Feb c1 4, c4 5, q2 3, q3 4              -> n 4, pos 3, neg 0
                Mar c1 1                                -> n 1, pos 0, neg 1
At risk on the 1st: Jan c1 c2 c3 q1-q7 = 10 (c4 opens Jan 10, c5 closed 2023-12-31)
                    Feb c1 c3 c4 q1-q7 = 10 (c3 closes Feb 1: still open that day)
                    Mar c1 c4 q1-q7 = 9
Exits: c2 (2024-01-20) in Jan, c3 (2024-02-01) in Feb.
Tickets, evaluated at the period's exclusive end T (Jan: T = Feb 1 00:00):
  t1 met; t2 resolved late -> counted; t3 open past SLA -> counted; t4 open within SLA -> not
  counted; t5 resolved within SLA but after T -> not counted; t6 resolved exactly at the
  deadline -> met; t7 late, resolved after T but overdue at T -> counted.
  Jan: counted 5 (t1 t2 t3 t6 t7), met 2 (t1 t6).
  Feb (T = Mar 1): t8 met, t9 met, t10 open past SLA -> counted 3, met 2.
"""

from __future__ import annotations

from math import sqrt

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from snr_models.data import Tables
from snr_models.errors import SnrInputError
from snr_models.metrics import MetricSpec, net_rate
from snr_models.metrics.result import VALUE_COLUMNS

Z95 = 1.959963984540054  # scipy.stats.norm.ppf(0.975)
Z90 = 1.6448536269514722  # scipy.stats.norm.ppf(0.95)


def test_monthly_components_by_hand(hand: Tables) -> None:
    r = net_rate(hand, n_boot=0).to_frame()
    assert list(r.columns) == ["period", *VALUE_COLUMNS]
    assert list(r["period"]) == list(pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"]))
    assert r["period"].dtype == "datetime64[us]"
    jan, feb, mar = (r.iloc[i] for i in range(3))

    # S Jan: p = 3/6, d = 2/6, S = 1/6; SE = sqrt([1/2 + 1/3 - (1/6)^2] / 6) = sqrt(0.8055.../6)
    se_s = sqrt((1 / 2 + 1 / 3 - (1 / 6) ** 2) / 6)
    assert_allclose([jan.S, jan.S_se], [1 / 6, se_s], rtol=1e-12)
    assert_allclose([jan.S_lo, jan.S_hi], [1 / 6 - Z95 * se_s, 1 / 6 + Z95 * se_s], rtol=1e-12)
    # S Feb: p = 3/4, d = 0, S = 0.75, SE = sqrt([0.75 - 0.5625] / 4) = 0.216506...
    assert_allclose([feb.S, feb.S_se], [0.75, sqrt(0.1875 / 4)], rtol=1e-12)
    # R Jan: q = 1/10, R = 1 - 12 * 0.1 = -0.2, SE = 12 sqrt(0.1 * 0.9 / 10) = 1.13842...
    assert_allclose([jan.R, jan.R_se], [-0.2, 12 * sqrt(0.09 / 10)], rtol=1e-12)
    assert_allclose([feb.R, feb.R_se], [-0.2, 12 * sqrt(0.09 / 10)], rtol=1e-12)
    # R Mar: 9 at risk, no exit: R = 1, SE = 0
    assert (mar.R, mar.R_se, mar.n_open) == (1.0, 0.0, 9)
    # E Jan: 2 / 5 = 0.4, SE = sqrt(0.4 * 0.6 / 5); Feb: 2 / 3, SE = sqrt(2/9 / 3)
    assert_allclose([jan.E, jan.E_se], [0.4, sqrt(0.24 / 5)], rtol=1e-12)
    assert_allclose([feb.E, feb.E_se], [2 / 3, sqrt((2 / 9) / 3)], rtol=1e-12)
    assert_allclose([feb.E_lo, feb.E_hi], [2 / 3 - Z95 * sqrt(2 / 27), 2 / 3 + Z95 * sqrt(2 / 27)])
    # net rate Jan: 0.4/6 + 0.3 * -0.2 + 0.3 * 0.4 = 0.0666... - 0.06 + 0.12 = 0.12666...
    assert_allclose(jan.net_rate, 0.4 / 6 - 0.06 + 0.12, rtol=1e-12)
    # Feb: 0.4 * 0.75 - 0.06 + 0.3 * 2/3 = 0.3 - 0.06 + 0.2 = 0.44
    assert_allclose(feb.net_rate, 0.44, rtol=1e-12)
    # n_boot = 0: delta method, sqrt(0.16 SE_S^2 + 0.09 SE_R^2 + 0.09 SE_E^2)
    se_net = sqrt(0.16 * se_s**2 + 0.09 * 12**2 * 0.009 + 0.09 * 0.048)
    assert_allclose(jan.net_rate_se, se_net, rtol=1e-12)
    assert_allclose(jan.net_rate_hi - jan.net_rate, Z95 * se_net, rtol=1e-12)
    # March has no tickets: E and the composite are NaN, with n_tickets 0
    assert np.isnan(mar.E) and np.isnan(mar.E_se) and np.isnan(mar.net_rate)
    assert np.isnan(mar.net_rate_se) and mar.n_tickets == 0
    assert mar.S == -1.0  # one response, csat 1
    # counts and dormancy: Jan 2 of 10 client_months rows dormant, Feb 1 of 10, Mar 0 of 9
    assert r[["n_responses", "n_open", "n_tickets"]].to_numpy().tolist() == [
        [6, 10, 5],
        [4, 10, 3],
        [1, 9, 0],
    ]
    assert r["n_open"].dtype == np.int64
    assert_allclose(r["dormant_share"], [0.2, 0.1, 0.0])


def test_quarter_and_year(hand: Tables) -> None:
    q = net_rate(hand, freq="Q", n_boot=0).to_frame()
    y = net_rate(hand, freq="Y", n_boot=0).to_frame()
    assert len(q) == 1 and len(y) == 1
    assert q["period"].iloc[0] == pd.Timestamp("2024-01-01")
    q, y = q.iloc[0], y.iloc[0]
    # S Q1: n 11, pos 6, neg 3 -> 3/11
    assert_allclose([q.S, y.S], [3 / 11, 3 / 11], rtol=1e-12)
    # R, k = 3: at risk on Jan 1 = 10, exits c2 and c3 = 2: R = 1 - 4 * 0.2 = 0.2,
    # SE = 4 sqrt(0.2 * 0.8 / 10)
    assert_allclose([q.R, q.R_se], [0.2, 4 * sqrt(0.016)], rtol=1e-12)
    # R, k = 12: 1 - 0.2 = 0.8, SE = sqrt(0.016)
    assert_allclose([y.R, y.R_se], [0.8, sqrt(0.016)], rtol=1e-12)
    # E evaluated at Apr 1: t4 (deadline Feb 1 12:00) now overdue -> counted; t5 (resolved
    # Feb 1 02:00 <= deadline Feb 1 04:00, before Apr 1) now met. counted 10, met 5 (t1 t5 t6
    # t8 t9) -> 0.5
    assert (q.n_tickets, y.n_tickets) == (10, 10)
    assert_allclose([q.E, y.E], [0.5, 0.5], rtol=1e-12)
    # composites: 0.4 * 3/11 + 0.3 * 0.2 + 0.3 * 0.5 and 0.4 * 3/11 + 0.3 * 0.8 + 0.3 * 0.5
    assert_allclose(q.net_rate, 1.2 / 11 + 0.06 + 0.15, rtol=1e-12)
    assert_allclose(y.net_rate, 1.2 / 11 + 0.24 + 0.15, rtol=1e-12)
    # dormant share over the quarter's client_months rows: 3 of 29
    assert_allclose(q.dormant_share, 3 / 29)


def test_by_branch(hand: Tables) -> None:
    r = net_rate(hand, by="branch_id", n_boot=0, end="2024-02").to_frame()
    assert r[["period", "branch_id"]].astype(str).to_numpy().tolist() == [
        ["2024-01-01", "B1"],
        ["2024-01-01", "B2"],
        ["2024-02-01", "B1"],
        ["2024-02-01", "B2"],
    ]
    assert r["branch_id"].dtype == hand.clients["branch_id"].dtype
    b1_jan, b2_jan, b1_feb, b2_feb = (r.iloc[i] for i in range(4))
    # B1 = c1 c2 c5 q1-q4; B2 = c3 c4 q5-q7
    # S: B1 Jan csat 5 4 2 5 -> (3 - 1)/4 = 0.5; B2 Jan 3 1 -> (0 - 1)/2 = -0.5
    assert_allclose([b1_jan.S, b2_jan.S, b1_feb.S, b2_feb.S], [0.5, -0.5, 2 / 3, 1.0])
    # R: B1 Jan 6 at risk (c1 c2 q1-q4), 1 exit: 1 - 12/6 = -1; B2 Jan 4, 0 exits: 1
    #    B1 Feb 5, 0 exits: 1; B2 Feb 5 (c3 c4 q5-q7), 1 exit: 1 - 12/5 = -1.4
    assert_allclose([b1_jan.R, b2_jan.R, b1_feb.R, b2_feb.R], [-1.0, 1.0, 1.0, -1.4])
    assert r["n_open"].tolist() == [6, 4, 5, 5]
    # E: B1 Jan 2/5; B2 Jan nothing counted (t4, t5) -> NaN, and so the composite
    assert b2_jan.n_tickets == 0 and np.isnan(b2_jan.E) and np.isnan(b2_jan.net_rate)
    assert_allclose([b1_jan.E, b1_feb.E, b2_feb.E], [0.4, 0.5, 1.0])
    # B1 Feb: 0.4 * 2/3 + 0.3 * 1 + 0.3 * 0.5; B2 Feb: 0.4 - 0.42 + 0.3 = 0.28
    assert_allclose([b1_feb.net_rate, b2_feb.net_rate], [0.8 / 3 + 0.45, 0.28], rtol=1e-12)
    # dormancy: B2 Jan q5 q6 of 4 rows (c3 q5 q6 q7) = 0.5; B1 Jan 0 of 6
    assert_allclose(r["dormant_share"], [0.0, 0.5, 0.0, 0.2])
    # the groups partition the clients: their counts add up to the firm's
    firm = net_rate(hand, n_boot=0, end="2024-02").to_frame()
    summed = r.groupby("period")[["n_responses", "n_open", "n_tickets"]].sum()
    assert (
        summed.to_numpy().tolist()
        == firm[["n_responses", "n_open", "n_tickets"]].to_numpy().tolist()
    )


def test_two_group_columns(hand: Tables) -> None:
    r = net_rate(
        hand, by=["segment", "branch_id"], n_boot=0, start="2024-02", end="2024-02"
    ).to_frame()
    # combinations present in clients: (high_net_worth, B2), (retail, B1), sorted
    assert r[["segment", "branch_id"]].to_numpy().tolist() == [
        ["high_net_worth", "B2"],
        ["retail", "B1"],
    ]
    assert_allclose(r["S"], [1.0, 2 / 3])


def test_window_bounds(hand: Tables) -> None:
    with pytest.warns(UserWarning, match="after the extract's last month"):
        r = net_rate(hand, n_boot=0, start="2024-02-17", end=pd.Timestamp("2024-05-31")).to_frame()
    assert list(r["period"].dt.strftime("%Y-%m")) == ["2024-02", "2024-03", "2024-04", "2024-05"]
    # April and May: no responses or tickets -> NaN; after the extract (March) nobody is
    # observed, so R is unknown too (never a certain 1 with standard error 0)
    assert r["n_open"].tolist() == [10, 9, 9, 9]
    assert r["S"].isna().tolist() == [False, False, True, True]
    assert r["R"].isna().tolist() == [False, False, True, True]
    assert r["dormant_share"].isna().tolist() == [False, False, True, True]
    with pytest.raises(SnrInputError, match="after end"):
        net_rate(hand, n_boot=0, start="2024-03", end="2024-01").to_frame()


def test_alpha_sets_every_interval(hand: Tables) -> None:
    r = net_rate(hand, n_boot=0, alpha=0.10).to_frame().iloc[0]
    # 90%: z = 1.644854; S Jan SE as in the monthly test
    se_s = sqrt((1 / 2 + 1 / 3 - (1 / 6) ** 2) / 6)
    assert_allclose(r.S_lo, 1 / 6 - Z90 * se_s, rtol=1e-12)
    assert_allclose(r.R_hi, -0.2 + Z90 * 12 * sqrt(0.009), rtol=1e-12)
    assert_allclose(r.net_rate_hi - r.net_rate, Z90 * r.net_rate_se, rtol=1e-12)


def test_nps_adjusted_wald_by_hand(hand: Tables) -> None:
    spec = MetricSpec.model_validate({"components": {"S": {"definition": "nps"}}})
    r = net_rate(hand, spec, n_boot=0, end="2024-02").to_frame()
    jan, feb = r.iloc[0], r.iloc[1]
    # Jan nps: 10 9 3 7 0 8 -> promoters 2, detractors 2, n 6: NPS 0, SE sqrt((1/3 + 1/3)/6) = 1/3
    assert_allclose([jan.S, jan.S_se], [0.0, 1 / 3], atol=1e-15)
    # Rocks (2016) adjusted Wald: n~ = 9, p~ = d~ = 2.75/9 = 0.30556; centre 0;
    # SE~ = sqrt((0.30556 + 0.30556 - 0) / 9) = 0.2605787; z SE~ = 0.5107248
    assert_allclose([jan.S_lo, jan.S_hi], [-0.5107247756540553, 0.5107247756540553], rtol=1e-9)
    # Feb nps: 6 10 7 9 -> promoters 2, detractors 1, n 4: NPS 0.25
    # n~ = 7, p~ = 2.75/7, d~ = 1.75/7, centre 1/7 = 0.142857;
    # SE~ = sqrt((4.5/7 - (1/7)^2) / 7) = 0.2981967; interval 0.142857 -/+ 0.5844545
    assert_allclose(feb.S, 0.25)
    assert_allclose([feb.S_lo, feb.S_hi], [-0.44159768529899185, 0.7273119710132776], rtol=1e-9)
    assert_allclose(feb.S_se, sqrt((0.5 + 0.25 - 0.25**2) / 4), rtol=1e-12)


def test_csat_top2(hand: Tables) -> None:
    spec = MetricSpec.model_validate({"components": {"S": {"definition": "csat_top2"}}})
    jan = net_rate(hand, spec, n_boot=0).to_frame().iloc[0]
    # 3 of 6 responses with csat 4-5: 0.5, binomial SE sqrt(0.25 / 6)
    assert_allclose([jan.S, jan.S_se], [0.5, sqrt(0.25 / 6)], rtol=1e-12)


def test_sla_targets_by_category(hand: Tables) -> None:
    spec = MetricSpec.model_validate(
        {"components": {"E": {"sla_hours_by_category": {"complaint": 12}}}}
    )
    feb = net_rate(hand, spec, n_boot=0).to_frame().iloc[1]
    # t9 (complaint) took 24 h: with a 12 h target it is overdue at Mar 1 -> counted, not met.
    # Feb: counted 3 (t8 t9 t10), met 1 (t8) -> 1/3. Other categories keep their sla_hours.
    assert_allclose(feb.E, 1 / 3, rtol=1e-12)
    assert feb.n_tickets == 3


def test_zero_weight_component_does_not_void_the_composite(hand: Tables) -> None:
    spec = MetricSpec.model_validate(
        {"components": {"S": {"weight": 0.5}, "R": {"weight": 0.5}, "E": {"weight": 0.0}}}
    )
    mar = net_rate(hand, spec, n_boot=0).to_frame().iloc[2]
    # March has no tickets but E weighs 0: net = 0.5 * -1 + 0.5 * 1 = 0
    assert np.isnan(mar.E)
    assert mar.net_rate == 0.0


def _design_tables(build_tables) -> Tables:
    """Two years whose components are DESIGN's worked example (freq "Y", k = 12).

    2024: S = (15 - 1)/20 = 0.70; R = 1 - 2/20 = 0.90; E = 13/20 = 0.65.
    2025: S = 16/20 = 0.80; R = 1 - 1/20 = 0.95 (18 remaining + 2 opened mid-2024 = 20 at risk);
          E = 19/20 = 0.95.
    """
    clients = [(f"a{i}", "B1", "retail", "2020-01-01", None) for i in range(18)]
    clients += [
        ("a18", "B1", "retail", "2020-01-01", "2024-05-05"),
        ("a19", "B1", "retail", "2020-01-01", "2024-07-07"),
        ("n0", "B1", "retail", "2024-06-01", "2025-03-03"),
        ("n1", "B1", "retail", "2024-06-01", None),
    ]
    csat24 = [5] * 15 + [1] + [3] * 4
    csat25 = [4] * 16 + [3] * 4
    surveys = [(f"a{i}", "2024-03-01", c, 9) for i, c in enumerate(csat24)]
    surveys += [(f"a{i % 18}", "2025-03-01", c, 9) for i, c in enumerate(csat25)]
    tickets = [
        (f"a{i}", "2024-04-01", 24.0, "2024-04-01 10:00" if i < 13 else "2024-04-05")
        for i in range(20)
    ]
    tickets += [
        (f"a{i % 18}", "2025-04-01", 24.0, "2025-04-01 10:00" if i < 19 else None)
        for i in range(20)
    ]
    return build_tables(clients, surveys, tickets)


def test_design_worked_example(make_tables) -> None:
    data = _design_tables(make_tables)
    r = net_rate(data, freq="Y", n_boot=0).to_frame()
    assert_allclose(r[["S", "R", "E"]].to_numpy(), [[0.70, 0.90, 0.65], [0.80, 0.95, 0.95]])
    # With DESIGN's default weights 0.4/0.3/0.3:
    #   0.4*0.70 + 0.3*0.90 + 0.3*0.65 = 0.28 + 0.27 + 0.195 = 0.745
    #   0.4*0.80 + 0.3*0.95 + 0.3*0.95 = 0.32 + 0.285 + 0.285 = 0.89
    # DESIGN.md quotes .75 and .90, which are what equal weights (1/3 each) give:
    #   (0.70 + 0.90 + 0.65)/3 = 0.75, (0.80 + 0.95 + 0.95)/3 = 0.90.
    assert_allclose(r["net_rate"], [0.745, 0.89], rtol=1e-12)
    third = 1 / 3
    equal = MetricSpec.model_validate(
        {"components": {c: {"weight": third} for c in ("S", "R", "E")}}
    )
    assert_allclose(net_rate(data, equal, freq="Y", n_boot=0).to_frame()["net_rate"], [0.75, 0.90])


def test_attrs_and_caller_data_untouched(hand: Tables) -> None:
    before = {name: frame.copy() for name, frame in hand.items()}
    r = net_rate(hand, freq="Q", n_boot=20, random_state=3, by="segment").to_frame()
    for name, frame in hand.items():
        pd.testing.assert_frame_equal(frame, before[name])
    assert r.attrs["spec"] == MetricSpec.default().model_dump()
    assert r.attrs["freq"] == "Q" and r.attrs["by"] == ["segment"] and r.attrs["n_boot"] == 20


def test_spec_from_path(hand: Tables, tmp_path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("components:\n  S: {definition: csat_top2}\n")
    jan = net_rate(hand, path, n_boot=0).to_frame().iloc[0]
    assert jan.S == 0.5  # csat_top2 as in test_csat_top2
    assert net_rate(hand, str(path), n_boot=0).to_frame().attrs["spec"]["components"]["S"][
        "definition"
    ] == ("csat_top2")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"freq": "W"}, "freq must be one of"),
        ({"by": "region"}, r"by: \['region'\] not columns of clients"),
        ({"by": "client_id"}, "cannot group by"),
        ({"alpha": 1.5}, "alpha must be in"),
        ({"n_boot": -1}, "n_boot must be an integer"),
        ({"start": "not a date"}, "cannot read"),
    ],
)
def test_argument_errors(hand: Tables, kwargs: dict, message: str) -> None:
    with pytest.raises(SnrInputError, match=message):
        net_rate(hand, **kwargs).to_frame()


def test_unknown_client_and_nulls_are_errors(hand: Tables) -> None:
    surveys = hand.surveys.copy()
    surveys.loc[0, "client_id"] = "zz"
    bad = Tables(**{**dict(hand.items()), "surveys": surveys})
    with pytest.raises(SnrInputError, match=r"surveys\.client_id: 1 row\(s\) refer to clients"):
        net_rate(bad, n_boot=0).to_frame()
    tickets = hand.tickets.copy()
    tickets.loc[0, "sla_hours"] = np.nan
    with pytest.raises(SnrInputError, match=r"tickets\.sla_hours: 1 null"):
        net_rate(Tables(**{**dict(hand.items()), "tickets": tickets}), n_boot=0).to_frame()
    clients = hand.clients.drop(columns="open_date")
    with pytest.raises(
        SnrInputError, match=r"clients: missing required column\(s\) \['open_date'\]"
    ):
        net_rate(Tables(**{**dict(hand.items()), "clients": clients}), n_boot=0).to_frame()


def test_the_result_object(hand: Tables) -> None:
    """``net_rate`` returns a result with the statsmodels-like surface: to_frame, summary, plot."""
    from matplotlib.figure import Figure

    from snr_models.metrics import NetRateResult

    result = net_rate(hand, by="branch_id", n_boot=0, alpha=0.1)
    assert isinstance(result, NetRateResult)
    assert (result.freq, result.by, result.alpha, result.n_boot) == ("M", ("branch_id",), 0.1, 0)
    frame = result.to_frame()
    frame.loc[0, "net_rate"] = -9.0  # a copy: the result is not changed through it
    assert result.table.loc[0, "net_rate"] != -9.0
    assert list(result.periods) == list(pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"]))
    text = result.summary()
    # the definition comes from the spec's weights (DESIGN.md defaults 0.4 / 0.3 / 0.3) and the
    # interval level from alpha, not from fixed text
    assert "net rate = 0.4 x S + 0.3 x R + 0.3 x E" in text
    assert "90% (delta method)" in text
    assert "2024-01-01" in text and "2024-03-01" in text and "branch_id" in text
    assert isinstance(result.plot(group="branch_id"), Figure)
    assert "3 periods" in repr(result)
    assert "<table" in result._repr_html_()
