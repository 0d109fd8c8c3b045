"""Callaway & Sant'Anna on ``mpdta`` against R's ``did`` and against ``moderndid``.

Expected numbers: R package ``did`` (Callaway & Sant'Anna), vignette "Getting Started with the
did Package" on ``mpdta`` with ``est_method="dr"``, never-treated controls, no covariates
(``att_gt(yname="lemp", tname="year", idname="countyreal", gname="first.treat")``), as quoted
in issue 5: simple ATT -0.0400 (s.e. 0.0120), group aggregation -0.0310 (0.0124), group
effects and event-time effects below; every ATT(g, t) to 4 decimals.
"""

from __future__ import annotations

import warnings

import moderndid
import numpy as np
import pandas as pd
import pytest

from snr_models.attribution import att_gt
from snr_models.errors import SnrInputError

# R did::att_gt(mpdta), ATT(g, t) in the order (g, t) = (2004, 2004..2007), (2006, ...), (2007, ...)
R_ATT_GT = [
    -0.0105, -0.0704, -0.1373, -0.1008,
    0.0065, -0.0028, -0.0046, -0.0412,
    0.0305, -0.0027, -0.0311, -0.0261,
]  # fmt: skip


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    from moderndid.core.data import load_mpdta

    return load_mpdta().to_pandas()


@pytest.fixture(scope="module")
def result(mpdta: pd.DataFrame):
    return att_gt(mpdta, outcome="lemp", unit="countyreal", time="year", group="first.treat")


def test_every_att_gt_matches_r_did_to_4_decimals(result) -> None:
    # source: R did, see module docstring; tolerance: half a unit in the 4th decimal
    np.testing.assert_allclose(result.table["estimate"], R_ATT_GT, atol=5e-5)


def test_simple_and_group_aggregations_match_r_did(result) -> None:
    # source: R did aggte(type="simple") -0.0400 (0.0120); aggte(type="group") -0.0310 (0.0124)
    simple = result.aggregate("simple")
    assert simple.overall == pytest.approx(-0.0400, abs=5e-5)
    assert simple.overall_se == pytest.approx(0.0120, abs=5e-5)
    group = result.aggregate("group")
    assert group.overall == pytest.approx(-0.0310, abs=5e-5)
    assert group.overall_se == pytest.approx(0.0124, abs=5e-5)
    # group effects 2004 -0.0797, 2006 -0.0229, 2007 -0.0261
    np.testing.assert_allclose(group.table["estimate"], [-0.0797, -0.0229, -0.0261], atol=5e-5)


def test_event_time_effects_match_r_did(result) -> None:
    # source: R did aggte(type="dynamic"): e = 0..3 -> -0.0199, -0.0510, -0.1373, -0.1008
    ev = result.aggregate("event").table.set_index("label")
    np.testing.assert_allclose(
        ev.loc[[0, 1, 2, 3], "estimate"], [-0.0199, -0.0510, -0.1373, -0.1008], atol=5e-5
    )


def test_calendar_aggregation_matches_hand_computation(result) -> None:
    # independent: calendar effect for 2004 is ATT(2004, 2004) alone (only cohort treated);
    # overall calendar is the mean of the per-year effects (definition in aggte)
    cal = result.aggregate("calendar")
    tab = cal.table.set_index("label")
    assert tab.loc[2004, "estimate"] == pytest.approx(R_ATT_GT[0], abs=5e-5)
    assert cal.overall == pytest.approx(tab["estimate"].mean(), abs=1e-12)


@pytest.mark.parametrize("method", ["reg", "ipw", "dr"])
def test_covariates_and_not_yet_treated_match_moderndid(mpdta: pd.DataFrame, method: str) -> None:
    # independent implementation: moderndid 0.2 (a port of R did / DRDID), analytic s.e.;
    # our "dr" is DRDID's traditional DR, moderndid's the improved one: equal to ~1e-4 here
    ref = moderndid.att_gt(
        data=moderndid.core.data.load_mpdta(),
        yname="lemp",
        tname="year",
        idname="countyreal",
        gname="first.treat",
        xformla="~ lpop",
        est_method=method,
        control_group="notyettreated",
        boot=False,
    )
    ours = att_gt(
        mpdta,
        outcome="lemp",
        unit="countyreal",
        time="year",
        group="first.treat",
        covariates=["lpop"],
        method=method,
        control_group="notyet",
    )
    tol = 1e-6 if method != "dr" else 2e-4
    np.testing.assert_allclose(ours.table["estimate"], np.asarray(ref.att_gt), atol=tol)
    np.testing.assert_allclose(ours.table["se"], np.asarray(ref.se_gt), atol=tol)


def test_bootstrap_se_close_to_analytic_and_band_wider(result, mpdta: pd.DataFrame) -> None:
    # the multiplier bootstrap estimates the same variance as the influence function
    # (asymptotically); the uniform band's critical value exceeds the pointwise 1.96
    boot = att_gt(
        mpdta, outcome="lemp", unit="countyreal", time="year", group="first.treat", n_boot=2000
    )
    np.testing.assert_allclose(boot.table["se"], result.table["se"], rtol=0.15)
    assert boot.crit > 1.96
    assert (
        boot.table["uniform_hi"] - boot.table["uniform_lo"] > boot.table["hi"] - boot.table["lo"]
    ).all()


def test_pretrend_test_is_chi2_of_pre_period_estimates(result) -> None:
    # independent computation of the Wald statistic from the event-time table and vcov
    ev = result.aggregate("event")
    pre = (ev.table["label"] < 0).to_numpy()
    est = ev.table.loc[pre, "estimate"].to_numpy()
    stat = est @ np.linalg.inv(ev.vcov[np.ix_(pre, pre)]) @ est
    test = ev.pretrend_test()
    assert test["df"] == 3
    assert test["statistic"] == pytest.approx(stat, rel=1e-9)
    assert 0 < test["p_value"] < 1


def test_result_objects_render(result) -> None:
    assert "simple ATT: -0.0400" in result.summary()
    assert len(result.plot().axes) == 1
    frame = result.aggregate("event").to_frame()
    assert frame["label"].iloc[-1] == "overall"


def test_unbalanced_panel_is_rejected(mpdta: pd.DataFrame) -> None:
    with pytest.raises(SnrInputError, match="unbalanced"):
        att_gt(mpdta.iloc[1:], outcome="lemp", unit="countyreal", time="year", group="first.treat")


def test_unit_shift_does_not_change_att(mpdta: pd.DataFrame, result) -> None:
    # invariance (DiD differences out unit levels): adding a unit-specific constant leaves ATT
    shifted = mpdta.assign(lemp=mpdta["lemp"] + mpdta["countyreal"] % 7)
    again = att_gt(shifted, outcome="lemp", unit="countyreal", time="year", group="first.treat")
    np.testing.assert_allclose(again.table["estimate"], result.table["estimate"], atol=1e-12)
    assert mpdta["lemp"].iloc[0] != shifted["lemp"].iloc[0] or mpdta["countyreal"].iloc[0] % 7 == 0


def test_cells_whose_propensity_model_separates_are_dropped_with_a_warning() -> None:
    """A cohort of one unit whose covariate lies beyond every control's: its propensity
    model separates perfectly, so its cells would get a spurious s.e. of 0 and feed the
    pre-trend test. R ``did`` drops such cells with a warning; so must we."""
    rng = np.random.default_rng(3)
    n, periods = 61, np.arange(1, 6)
    g = np.r_[np.full(30, 3), [4], np.zeros(30, dtype=int)]
    x = rng.normal(size=n)
    x[30] = 10.0  # the lone unit of cohort 4 lies beyond every other unit
    frame = pd.DataFrame(
        {
            "id": np.repeat(np.arange(n), len(periods)),
            "t": np.tile(periods, n),
            "g": np.repeat(g, len(periods)),
            "x": np.repeat(x, len(periods)),
        }
    )
    treated = (frame["g"] > 0) & (frame["t"] >= frame["g"])
    frame["y"] = 0.5 * frame["x"] + rng.normal(scale=0.1, size=len(frame)) + 1.0 * treated
    with pytest.warns(UserWarning, match="separates") as caught:
        res = att_gt(frame, outcome="y", unit="id", time="t", group="g", covariates=["x"])
    message = str(caught[0].message)
    assert "4 group-time cell(s)" in message  # cohort 4 against periods 2..5
    assert all(f"group 4 time {t}" in message for t in (2, 3, 4, 5))
    assert "group 3" not in message
    assert set(res.table["group"]) == {3}
    assert (res.table["se"] > 1e-3).all()
    # the same panel without the outlier: nothing dropped, both cohorts estimated
    frame.loc[frame["id"] == 30, "x"] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        full = att_gt(frame, outcome="y", unit="id", time="t", group="g", covariates=["x"])
    assert set(full.table["group"]) == {3, 4}


def test_a_panel_with_no_treated_unit_is_refused_clearly() -> None:
    """Every cohort value missing (nobody treated, as in a world without roll-outs): a clear
    input error, not an index error from the cohort lookup."""
    frame = pd.DataFrame(
        {"id": np.repeat([1, 2], 3), "t": np.tile([1, 2, 3], 2), "y": np.arange(6.0), "g": np.nan}
    )
    with pytest.raises(SnrInputError, match="no unit is treated"):
        att_gt(frame, outcome="y", unit="id", time="t", group="g")
