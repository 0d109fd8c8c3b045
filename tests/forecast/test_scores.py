"""Scores and the one-series backtest.

Expected numbers come from closed forms computed here by hand (stated beside each check) or
from series constructed so that one model is exactly right.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import integrate, stats

from snr_models.forecast import SeasonalNaive, backtest_series
from snr_models.forecast.scores import crps_normal, mase_scale, pinball


def test_crps_normal_equals_its_integral_definition() -> None:
    # CRPS(F, y) = integral (F(x) - 1{x >= y})^2 dx, integrated numerically
    mean, sd, y = 0.3, 0.7, 1.1
    left, _ = integrate.quad(lambda x: stats.norm.cdf(x, mean, sd) ** 2, -np.inf, y)
    right, _ = integrate.quad(lambda x: (1 - stats.norm.cdf(x, mean, sd)) ** 2, y, np.inf)
    assert_allclose(crps_normal(np.array(y), np.array(mean), np.array(sd)), left + right, rtol=1e-7)


def test_pinball_by_hand() -> None:
    # y = 2, quantiles 1 (tau .1) and 3 (tau .9): losses .1 * 1 and (1 - .9) * 1 -> mean .1
    assert_allclose(pinball(np.array([2.0]), np.array([[1.0, 3.0]]), (0.1, 0.9)), 0.1)


def test_mase_scale_is_seasonal_naive_mae() -> None:
    y = np.r_[np.arange(12.0), np.arange(12.0) + 2.0]  # every seasonal difference is 2
    assert mase_scale(y, 12) == 2.0


def test_seasonal_naive_repeats_last_season() -> None:
    y = np.tile(np.arange(12.0), 3)
    mean, sd = SeasonalNaive(12).fit(y).predict(14)
    assert_allclose(mean, np.r_[np.arange(12.0), 0.0, 1.0])
    assert_allclose(sd, 0.0)  # a perfectly seasonal series has no seasonal differences


@pytest.fixture(scope="module")
def index() -> pd.DatetimeIndex:
    return pd.date_range("2022-01-01", periods=42, freq="MS")


def test_backtest_picks_sarimax_for_an_exposure_step(index: pd.DatetimeIndex) -> None:
    # y = 0.7 + 0.1 x + noise, x a roll-out that reaches 0, 1/3, 2/3, 1 of the volume: only the
    # models with the exposure regressor can foresee the steps that occur after the origins.
    rng = np.random.default_rng(5)
    x = np.repeat([0.0, 1 / 3, 2 / 3, 1.0], [24, 6, 6, 6])[:, None]
    y = pd.Series(0.7 + 0.1 * x[:, 0] + rng.normal(0, 0.005, 42), index=index)
    bt = backtest_series(y, x, models=("snaive", "ets", "sarimax"), horizon=6, n_origins=6)
    scores = bt.scores.set_index("model")
    assert bt.chosen == "sarimax"
    assert scores.loc["sarimax", "mase"] < scores.loc["ets", "mase"]
    assert scores.loc["sarimax", "rel_mae"] < 1
    assert set(bt.points["model"]) == {"snaive", "ets", "sarimax"}


def test_backtest_coverage_when_seasonal_naive_is_the_true_model(index: pd.DatetimeIndex) -> None:
    # y_t = y_(t-12) + e_t, e ~ N(0, 0.02^2): the seasonal naive is the data-generating model,
    # so its 95% intervals should cover about 95% of the 6 x 12 held-out points (a binomial
    # 95% range for 72 points at p = .95 is about 89% to 100%; the points are correlated, so
    # the check allows 85%)
    rng = np.random.default_rng(11)
    e = rng.normal(0, 0.02, 42)
    y = np.empty(42)
    y[:12] = 0.8 + e[:12]
    for t in range(12, 42):
        y[t] = y[t - 12] + e[t]
    bt = backtest_series(pd.Series(y, index=index), models=("snaive",), horizon=6, n_origins=12)
    snaive = bt.scores.set_index("model").loc["snaive"]
    assert snaive["n_points"] == 72
    assert 0.85 <= snaive["coverage"] <= 1.0
    assert snaive["rel_mae"] == 1.0
    assert bt.scores.attrs["alpha"] == 0.05


def test_backtest_coverage_follows_alpha(index: pd.DatetimeIndex) -> None:
    # the coverage column is that of the 1 - alpha interval: recomputed independently from the
    # point table (|error| <= z_(1 - alpha/2) sd), and the 80% interval covers no more points
    # than the 95% one on the same held-out points
    rng = np.random.default_rng(11)
    y = pd.Series(0.8 + rng.normal(0, 0.02, 42), index=index)
    wide = backtest_series(y, models=("snaive", "ets"), horizon=6, n_origins=8)
    narrow = backtest_series(y, models=("snaive", "ets"), horizon=6, n_origins=8, alpha=0.2)
    assert narrow.scores.attrs["alpha"] == 0.2
    p = narrow.points.dropna()
    inside = (p["actual"] - p["mean"]).abs() <= stats.norm.ppf(0.9) * p["sd"]
    expected = inside.groupby(p["model"]).mean()
    got = narrow.scores.set_index("model")["coverage"]
    assert_allclose(got.loc[expected.index], expected.to_numpy())
    assert (got <= wide.scores.set_index("model")["coverage"]).all()
    assert (got < wide.scores.set_index("model")["coverage"]).any()
    # everything else is untouched by alpha
    cols = ["mase", "rel_mae", "pinball", "crps"]
    assert_allclose(narrow.scores[cols].to_numpy(), wide.scores[cols].to_numpy())
