"""Interval calibration (:mod:`snr_models.forecast.calibration`) against independent computations.

- The calibration rule (root mean square of the standardised backtest errors as a scale factor,
  Student *t* quantiles with the held-out months as degrees of freedom) gives nominal coverage
  where theory says it is exact: one-step forecasts of a Gaussian random walk by a model whose
  standard deviation is half the truth. There ``z = 2 eps`` for the ``n`` held-out innovations,
  ``factor^2 = 4 chi2_n / n`` and the next error over ``factor x sd`` is ``t_n``-distributed, so
  the 95% (80%) interval covers with probability exactly 0.95 (0.80) (up to the factor's
  clipping to ``[1, 3]``, reached with probability about 0.02 at each end here, which
  shifts coverage by well under 0.005). Over 4,000 independent paths the binomial standard
  error is 0.0034 (0.0063); the test allows four of them. Uncalibrated, the same intervals
  cover 67% (95% nominal): the test fails if the factor or the degrees of freedom are wrong.
- The helpers equal hand computations (leave-one-origin-out choice, composite factor).
- ``forecast()`` applies what it records: the firm-wide intervals' half-widths equal the
  refitted model's standard deviation x the recorded factor x the Student *t* quantile, and the
  net rate's the composite factor x the standard deviation the recorded correlation implies.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from snr_models.forecast import forecast
from snr_models.forecast.calibration import (
    composite_factor,
    effective_dof,
    scale_factor,
    selection_points,
    standardised_errors,
)
from snr_models.forecast.core import COMPONENTS
from snr_models.forecast.models import make_model
from snr_models.simulate import simulate

POINT_COLUMNS = ["model", "origin", "step", "actual", "mean", "sd", "scale"]


def test_calibrated_random_walk_intervals_cover_nominally() -> None:
    rng = np.random.default_rng(2026)
    n_paths, n_origins, t = 4_000, 8, 20
    # one-step backtest from the last n_origins origins: held-out months t - 8 ... t - 1
    layout = pd.DataFrame({"origin": np.arange(t - n_origins, t), "step": 1})
    dof = effective_dof({"y": layout})
    assert dof == n_origins
    y = np.cumsum(rng.standard_normal((n_paths, t + 1)), axis=1)
    sd_model = 0.5  # the model's one-step sd; the truth is 1
    z = (y[:, t - n_origins : t] - y[:, t - n_origins - 1 : t - 1]) / sd_model
    factor = np.array([scale_factor(row) for row in z])
    err = np.abs(y[:, t] - y[:, t - 1])
    tol = {0.95: 4 * np.sqrt(0.95 * 0.05 / n_paths), 0.8: 4 * np.sqrt(0.8 * 0.2 / n_paths)}
    for level in (0.95, 0.8):
        half = stats.t.ppf(0.5 + level / 2, dof) * factor * sd_model
        assert abs(np.mean(err <= half) - level) < tol[level]
    raw = np.mean(err <= stats.norm.ppf(0.975) * sd_model)
    assert raw < 0.75  # what the calibration repairs


def test_scale_factor_is_the_rms_floored_at_one() -> None:
    z = np.array([1.0, -2.0, 3.0, -1.0, 2.0, -3.0, np.nan])
    assert scale_factor(z) == pytest.approx(np.sqrt((1 + 4 + 9 + 1 + 4 + 9) / 6))
    assert scale_factor(z / 10) == 1.0  # the model's interval is the floor
    assert scale_factor(z[:5]) == 1.0  # too few points: no calibration
    assert scale_factor(z * 10) == 3.0


def test_selection_points_leave_one_origin_out() -> None:
    # absolute errors (scale 1) per origin: ets 0, 0, 9; snaive 1, 1, 1. The overall winner is
    # snaive (mean 1 < 3), but at origins 1 and 2 the others choose snaive (1 < 4.5) and at
    # origin 3 they choose ets (0 < 1).
    errors = {"ets": [0.0, 0.0, 9.0], "snaive": [1.0, 1.0, 1.0]}
    rows = [
        (m, o + 1, 1, 0.0, e, 1.0, 1.0) for m, errs in errors.items() for o, e in enumerate(errs)
    ]
    points = pd.DataFrame(rows, columns=POINT_COLUMNS)
    got = selection_points(points).set_index("origin")["model"].to_dict()
    assert got == {1: "snaive", 2: "snaive", 3: "ets"}
    z = standardised_errors(selection_points(points))
    assert sorted(z.tolist()) == [-9.0, -1.0, -1.0]


def test_composite_factor_against_hand_computation() -> None:
    # identical errors +-1 in S, R, E with sd 1 and an identity correlation: the net rate's
    # error is +-1 (weights sum to 1), its implied sd sqrt(0.4^2 + 0.3^2 + 0.3^2)
    weights = {"S": 0.4, "R": 0.3, "E": 0.3}
    signs = np.tile([1.0, -1.0], 4)
    points = {
        c: pd.DataFrame(
            {
                "model": "ets",
                "origin": np.repeat([1, 2, 3, 4], 2),
                "step": np.tile([1, 2], 4),
                "actual": signs,
                "mean": 0.0,
                "sd": 1.0,
                "scale": 1.0,
            }
        )
        for c in weights
    }
    factor, n = composite_factor(points, {c: 1.0 for c in weights}, np.eye(3), weights)
    assert n == 8
    assert factor == pytest.approx(1 / np.sqrt(0.34))
    # with the perfect correlation the composite is already right
    factor, _ = composite_factor(points, {c: 1.0 for c in weights}, np.ones((3, 3)), weights)
    assert factor == pytest.approx(1.0)


@pytest.fixture(scope="module")
def calibration_tables():
    return simulate(n_clients=2_000, n_branches=5, n_months=30, seed=7, truth=False).tables


def _snaive_forecast(tables, alpha: float = 0.05):  # noqa: ANN001, ANN202
    return forecast(
        tables,
        horizon=3,
        models=("snaive", "snaive"),  # the seasonal naive only, yet backtested: deterministic
        n_origins=4,
        branches=False,
        n_paths=40_000,
        random_state=1,
        alpha=alpha,
    )


@pytest.fixture(scope="module")
def calibrated(calibration_tables):
    return _snaive_forecast(calibration_tables)


def test_forecast_applies_the_recorded_calibration(calibrated) -> None:
    res = calibrated
    cal = res.params["calibration"]
    # 4 origins x 3 steps hold out 6 distinct months; every factor was estimated
    assert cal["dof"] == 6.0
    assert cal["n_points"] == {c: 12 for c in COMPONENTS}
    assert cal["correlation_source"] == "backtest"
    t95 = stats.t.ppf(0.975, cal["dof"])
    hist = res.history[res.history["series"] == "firm"]
    table = res.to_frame()
    sds = {}
    for c in COMPONENTS:
        y = hist[hist["component"] == c]["value"].to_numpy()
        _, sd = make_model("snaive", 12).fit(y).predict(3)
        sds[c] = sd * cal["factors"][c]
        row = res.choice.set_index("component").loc[c]
        assert row["sd_inflation"] == pytest.approx(cal["factors"][c], abs=1e-4)
        sub = table[table["component"] == c]
        # 40,000 paths: the quantiles' Monte Carlo error is well under 2%
        assert_allclose((sub["hi"] - sub["lo"]) / 2, t95 * sds[c], rtol=0.03)
    names = list(COMPONENTS)
    r = np.eye(3)
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            if i < j:
                r[i, j] = r[j, i] = cal["correlation"][f"{a}-{b}"]
    w = np.array([res.params["weights"][c] for c in names])
    d = np.column_stack([sds[c] for c in names]) * w
    sd_net = np.sqrt(np.einsum("hi,ij,hj->h", d, r, d)) * cal["net_rate_factor"]
    net = table[table["component"] == "net_rate"]
    assert_allclose((net["hi"] - net["lo"]) / 2, t95 * sd_net, rtol=0.03)


def test_alpha_sets_the_interval_level(calibrated, calibration_tables) -> None:
    """alpha = 0.2: the same calibrated paths give the 80% interval, whose half width is the
    Student t quantile t(0.9, dof) over t(0.975, dof) times the 95% one (the paths are
    symmetric around the forecast; Monte Carlo error of 40,000 paths well under 2%)."""
    res = calibrated
    dof = res.params["calibration"]["dof"]
    narrow = _snaive_forecast(calibration_tables, alpha=0.2)
    assert narrow.params["alpha"] == 0.2
    wide = res.to_frame()
    ratio = (narrow.to_frame()["hi"] - narrow.to_frame()["lo"]) / (wide["hi"] - wide["lo"])
    expected = stats.t.ppf(0.9, dof) / stats.t.ppf(0.975, dof)
    assert_allclose(ratio, expected, rtol=0.03)
