"""Asymmetric drivers, the importance-performance map, group differences, result objects.

Each test builds data whose answer is known by construction (stated beside it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from snr_models.drivers import (
    CollinearityWarning,
    asymmetric_drivers,
    drivers_by_group,
    importance_performance,
    key_drivers,
    ordinal_logit,
)
from snr_models.drivers.importance import IMPORTANCE_COLUMNS
from snr_models.drivers.ipa import ACTION_COLUMNS
from snr_models.errors import SnrInputError


def _ratings(n: int, cols: str, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.integers(1, 6, size=(n, len(cols))).astype(float), columns=list(cols))


def test_asymmetric_tells_dissatisfiers_from_delighters() -> None:
    # by construction: 'a' lowers the score only when rated below 3 (a dissatisfier), 'b' raises
    # it only when rated above 3 (a delighter), 'c' acts linearly over the whole scale (hybrid),
    # 'd' does nothing (minor)
    rng = np.random.default_rng(0)
    frame = _ratings(6000, "abcd", seed=1)
    latent = (
        3.0 * np.minimum(frame["a"] - 3, 0)
        + 3.0 * np.maximum(frame["b"] - 3, 0)
        + 0.8 * (frame["c"] - 3)
        + rng.normal(scale=1.2, size=len(frame))
    )
    frame["nps"] = np.clip(np.round(7.5 + latent), 0, 10)
    res = asymmetric_drivers(frame, "nps", list("abcd"))
    assert res.table["kind"].to_dict() == {
        "a": "dissatisfier",
        "b": "delighter",
        "c": "hybrid",
        "d": "minor",
    }
    assert res.table.loc["a", "asymmetry"] < 0.25 and res.table.loc["b", "asymmetry"] > 0.75
    # the shares of each model add up to one
    assert res.table["share_detractor"].sum() == pytest.approx(1.0)
    assert res.table["share_promoter"].sum() == pytest.approx(1.0)
    # a better rating of 'a' makes a detractor less likely: odds ratio below one
    assert res.table.loc["a", "odds_ratio_detractor"] < 1
    assert isinstance(res.plot(), Figure)
    assert "dissatisfier" in res.summary()


def test_importance_performance_quadrants_and_actions() -> None:
    # by construction: 'a' matters most and is rated low (fix first); 'b' matters and is rated
    # high (keep up); 'c' hardly matters and is rated high (possible overkill); 'd' hardly
    # matters and is rated low (low priority)
    rng = np.random.default_rng(2)
    frame = _ratings(4000, "abcd", seed=3)
    frame["a"] = np.minimum(frame["a"], 3)
    frame["b"] = np.maximum(frame["b"], 3)
    frame["c"] = np.maximum(frame["c"], 4)
    frame["d"] = np.minimum(frame["d"], 2)
    frame["y"] = 1.0 * frame["a"] + 0.8 * frame["b"] + 0.05 * frame["c"] + 0.05 * frame["d"]
    frame["y"] += rng.normal(size=len(frame))
    ipa = importance_performance(key_drivers(frame, "y", list("abcd"), n_boot=100))
    assert ipa.table["quadrant"].to_dict() == {
        "a": "fix first",
        "b": "keep up",
        "c": "possible overkill",
        "d": "low priority",
    }
    actions = ipa.actions()
    assert list(actions.columns) == ACTION_COLUMNS
    assert list(actions["driver"]) == ["a", "b", "d", "c"]  # quadrant order of action
    # cuts at the drivers' means: importance shares average 1/p
    assert ipa.importance_cut == pytest.approx(0.25)
    assert ipa.performance_cut == pytest.approx(frame[list("abcd")].mean().mean())
    # opportunity = share x room to the top of the scale
    a = ipa.table.loc["a"]
    assert a["opportunity"] == pytest.approx(a["importance"] * (5 - a["performance"]) / 4)
    assert isinstance(ipa.plot(), Figure)


def test_drivers_by_group_detect_a_different_driver() -> None:
    # by construction: 'a' matters in group x only, 'b' equally in both groups
    rng = np.random.default_rng(4)
    frame = _ratings(4000, "ab", seed=5)
    frame["segment"] = np.repeat(["x", "y"], 2000)
    slope = np.where(frame["segment"] == "x", 1.0, 0.0)
    frame["y"] = slope * frame["a"] + 0.7 * frame["b"] + rng.normal(size=len(frame))
    res = drivers_by_group(frame, "y", ["a", "b"], "segment", n_boot=100)
    tests = res.tests.set_index("driver")
    assert tests.loc["a", "importance_p_holm"] < 1e-3
    assert tests.loc["a", "slope_p_holm"] < 1e-3
    assert tests.loc["b", "slope_p"] > 0.01
    assert res.chow["p_value"] < 1e-3
    long = res.to_frame()
    assert set(long["segment"]) == {"x", "y"} and len(long) == 4
    assert isinstance(res.plot(), Figure)
    assert "Chow" in res.summary()


def test_small_groups_are_skipped_and_reported() -> None:
    rng = np.random.default_rng(6)
    frame = _ratings(1050, "ab", seed=7)
    frame["g"] = ["big1"] * 500 + ["big2"] * 500 + ["tiny"] * 50
    frame["y"] = frame["a"] + rng.normal(size=len(frame))
    res = drivers_by_group(frame, "y", ["a", "b"], "g", n_boot=20, min_rows=100)
    assert set(res.results) == {"big1", "big2"}
    assert res.skipped == {"tiny": 50}


def test_importance_result_object() -> None:
    rng = np.random.default_rng(8)
    frame = _ratings(1000, "abc", seed=9)
    frame["y"] = frame["a"] + 0.5 * frame["b"] + rng.normal(size=1000)
    res = key_drivers(frame, "y", list("abc"), n_boot=200, alpha=0.1)
    table = res.to_frame()
    assert list(table.columns) == IMPORTANCE_COLUMNS
    assert list(table["driver"]) == ["a", "b", "c"] and list(table["rank"]) == [1, 2, 3]
    # a percentile interval need not hold the estimate of a null driver ('c': R² increments
    # are biased upwards); it does for the real ones
    real = table.set_index("driver").loc[["a", "b"]]
    assert (
        (real["importance_lo"] <= real["importance"])
        & (real["importance"] <= real["importance_hi"])
    ).all()
    assert table["share"].sum() == pytest.approx(1.0)
    # the relative weights beside the Shapley values add up to the same R²
    assert table["alternative"].sum() == pytest.approx(res.r2)
    assert res.r2_lo < res.r2 < res.r2_hi
    assert "90% percentile intervals" in res.summary()
    assert isinstance(res.plot(), Figure)
    # performance: the mean rating of each driver over the rows used
    assert table.set_index("driver")["mean"]["a"] == pytest.approx(frame["a"].mean())


def test_bootstrap_interval_covers_the_truth() -> None:
    # with independent drivers the population Shapley value of 'a' is beta_a² var(a) / var(y):
    # 1 x 2 / (1 x 2 + 0.25 x 2 + 1) = 0.5714 (ratings 1-5 uniform: variance 2)
    rng = np.random.default_rng(10)
    frame = _ratings(20_000, "ab", seed=11)
    frame["y"] = frame["a"] + 0.5 * frame["b"] + rng.normal(size=len(frame))
    res = key_drivers(frame, "y", ["a", "b"], n_boot=300)
    lo, hi = res.table.loc["a", ["importance_lo", "importance_hi"]]
    assert lo < 2 / 3.5 < hi


def test_ordinal_logit_result_object_and_missing() -> None:
    rng = np.random.default_rng(12)
    frame = _ratings(1500, "ab", seed=13)
    latent = 0.8 * frame["a"] + 0.3 * frame["b"] + rng.logistic(size=1500)
    frame["csat"] = np.digitize(latent, [2.0, 3.0, 4.0, 5.0]) + 1
    frame.loc[:49, "b"] = np.nan
    res = ordinal_logit(frame, "csat", ["a", "b"])
    assert res.n_used == 1450 and res.n_dropped == 50
    assert res.coef.loc["a", "odds_ratio_lo"] < np.exp(0.8) < res.coef.loc["a", "odds_ratio_hi"]
    assert list(res.thresholds.index) == ["1|2", "2|3", "3|4", "4|5"]
    frame_out = res.to_frame()
    assert list(frame_out["kind"]) == ["coef"] * 2 + ["threshold"] * 4
    assert isinstance(res.plot(), Figure)
    assert "McFadden" in res.summary()


def test_ordinal_logit_warns_on_collinear_terms() -> None:
    # 'b2' is 'b' plus a little noise: VIF = 1 / (1 - corr(b, b2)²) far above 10
    rng = np.random.default_rng(14)
    frame = _ratings(1000, "ab", seed=15)
    frame["b2"] = frame["b"] + 0.1 * rng.normal(size=1000)
    latent = 0.8 * frame["a"] + 0.3 * frame["b"] + rng.logistic(size=1000)
    frame["csat"] = np.digitize(latent, [2.0, 3.0, 4.0, 5.0]) + 1
    with pytest.warns(CollinearityWarning, match="b2"):
        res = ordinal_logit(frame, "csat", ["a", "b", "b2"])
    assert res.coef.loc["b2", "vif"] > 10 and res.coef.loc["a", "vif"] < 1.1
    with pytest.raises(SnrInputError, match="exactly collinear"):
        ordinal_logit(frame.assign(b3=2 * frame["b"]), "csat", ["a", "b", "b3"])
