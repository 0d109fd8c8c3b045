"""Evaluation metrics: hand-computed cases and independent computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from snr_models.churn import (
    empc,
    evaluate,
    expected_retained_value,
    lift_table,
    plot_lift,
    plot_reliability,
    plot_roc,
)
from snr_models.churn.evaluation import (
    bootstrap_interval,
    brier,
    calibration_intercept_slope,
    pr_auc,
    reliability_curve,
    roc_auc,
)


def test_hand_computed_basic_metrics():
    """AUC: of the 4 (churner, stayer) pairs 3 are ordered right -> 0.75. Average precision:
    ranks 0.8 (hit, P=1), 0.4 (miss), 0.35 (hit, P=2/3) -> (1 + 2/3) / 2. Brier:
    (0.1^2 + 0.4^2 + 0.65^2 + 0.2^2) / 4."""
    y, p = [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]
    assert roc_auc(y, p) == pytest.approx(0.75)
    assert pr_auc(y, p) == pytest.approx((1 + 2 / 3) / 2)
    assert brier(y, p) == pytest.approx((0.01 + 0.16 + 0.4225 + 0.04) / 4)


def test_lift_and_capture_by_hand():
    """20 clients, 4 churners at score ranks 1, 2, 5, 15. Top 5% = 1 client (a churner):
    rate 1, lift 1 / 0.2 = 5, capture 1/4. Top 10%: 2 of 2 -> lift 5, capture 1/2. Top 20%:
    4 clients, 2 churners -> rate .5, lift 2.5, capture .5."""
    y = np.zeros(20)
    y[[0, 1, 4, 14]] = 1
    p = np.linspace(1, 0, 20)
    t = lift_table(y, p).set_index("fraction")
    assert t.loc[0.05, ["n_contacted", "lift", "capture"]].tolist() == [1, 5.0, 0.25]
    assert t.loc[0.10, ["lift", "capture"]].tolist() == [5.0, 0.5]
    assert t.loc[0.20, ["churn_rate", "lift", "capture"]].tolist() == [0.5, 2.5, 0.5]


def test_calibration_of_true_probabilities_and_of_overconfident_ones():
    """Outcomes drawn from p: intercept ~ 0, slope ~ 1. Scores twice as extreme on the logit
    scale: slope ~ 0.5 (logit(p') = 2 logit(p), so the refit slope is 1/2)."""
    rng = np.random.default_rng(0)
    p = rng.uniform(0.02, 0.6, 40_000)
    y = rng.random(40_000) < p
    a, b = calibration_intercept_slope(y, p)
    assert abs(a) < 0.03 and abs(b - 1) < 0.05
    extreme = 1 / (1 + np.exp(-2 * np.log(p / (1 - p))))
    assert calibration_intercept_slope(y, extreme)[1] == pytest.approx(0.5, abs=0.03)
    curve = reliability_curve(y, p, n_bins=10)
    np.testing.assert_allclose(curve["observed_rate"], curve["mean_predicted"], atol=0.02)


def _empc_numeric(y, p, clv=200.0, d=10.0, f=1.0, a=6.0, b=14.0):
    """Independent EMPC: for each acceptance rate gamma on a grid, the best profit over every
    cut-off of the sorted scores (no hull), integrated against the Beta(a, b) density."""
    y = np.asarray(y, float)
    order = np.argsort(-np.asarray(p), kind="stable")
    ys = y[order]
    n = len(y)
    pi0 = y.mean()
    tp = np.r_[0, np.cumsum(ys)] / max(ys.sum(), 1)
    fp = np.r_[0, np.cumsum(1 - ys)] / max((1 - ys).sum(), 1)
    delta, phi = d / clv, f / clv

    def best(g):
        prof = clv * ((g * (1 - delta) - phi) * pi0 * tp - (delta + phi) * (1 - pi0) * fp)
        return prof.max(), (pi0 * tp + (1 - pi0) * fp)[prof.argmax()]

    grid = np.linspace(0, 1, 20_001)
    vals = np.array([best(g) for g in grid])
    dens = stats.beta(a, b).pdf(grid)
    assert n > 0
    return (
        integrate.trapezoid(vals[:, 0] * dens, grid),
        integrate.trapezoid(vals[:, 1] * dens, grid),
    )


def test_empc_matches_numeric_integration():
    """Closed form on the ROC convex hull (Verbraken et al. 2013) = brute force over cut-offs
    and numerical integration over gamma."""
    rng = np.random.default_rng(3)
    y = (rng.random(400) < 0.15).astype(float)
    p = y * 0.8 + rng.normal(0, 0.5, 400)
    result = empc(y, p)
    val, frac = _empc_numeric(y, p)
    assert result.value == pytest.approx(val, rel=2e-3)
    assert result.fraction == pytest.approx(frac, abs=2e-3)
    # a perfect ranking contacts the churners and only them for almost every gamma
    perfect = empc(y, y)
    assert perfect.fraction == pytest.approx(y.mean(), abs=1e-3)


def test_expected_retained_value_by_hand():
    """Budget 2 -> clients scored .9 (churner, value 100) and .8 (stayer): 0.3 * 100 - 2 * 5."""
    got = expected_retained_value(
        [1, 0, 1], [0.9, 0.8, 0.1], 2, value=[100, 50, 70], acceptance=0.3, contact_cost=5
    )
    assert got == pytest.approx(20.0)


def test_bootstrap_interval_covers_and_evaluate_reports_every_metric():
    """The interval brackets the estimate; its width shrinks like 1/sqrt(n) (4x data, about
    half the width)."""
    rng = np.random.default_rng(0)

    def data(n):
        y = rng.random(n) < 0.2
        return y, 1 / (1 + np.exp(-(y * 0.7 + rng.normal(0, 1, n) - 1.5)))

    est, lo, hi = bootstrap_interval(roc_auc, *data(1000), n_boot=200)
    est4, lo4, hi4 = bootstrap_interval(roc_auc, *data(4000), n_boot=200)
    assert lo < est < hi
    assert 0.35 < (hi4 - lo4) / (hi - lo) < 0.75
    table = evaluate(*data(2000), n_boot=30)
    for m in (
        "roc_auc",
        "pr_auc",
        "brier",
        "calibration_intercept",
        "calibration_slope",
        "lift_5pct",
        "capture_10pct",
        "lift_20pct",
        "empc",
        "empc_fraction",
        "retained_value",
    ):
        row = table.loc[m]
        assert row["lo"] <= row["value"] <= row["hi"], m


def test_plots_return_figures():
    import matplotlib.pyplot as plt

    y = np.r_[np.zeros(50), np.ones(50)]
    p = np.r_[np.linspace(0, 0.6, 50), np.linspace(0.4, 1, 50)]
    for fig in (plot_roc(y, p), plot_lift(y, p), plot_reliability(y, p)):
        assert fig.axes and fig.axes[0].get_title()
        plt.close(fig)
    assert isinstance(reliability_curve(y, p), pd.DataFrame)


def test_calibration_fit_equals_statsmodels_glm() -> None:
    """The calibration intercept and slope are the binomial GLM's MLE: checked against
    statsmodels' GLM (an independent IRLS fit) on miscalibrated predictions."""
    import statsmodels.api as sm
    from scipy import special

    rng = np.random.default_rng(3)
    p = rng.uniform(0.01, 0.5, 20_000)
    lp = special.logit(p)
    y = (rng.random(20_000) < special.expit(0.3 + 1.4 * lp)).astype(int)
    slope = sm.GLM(y, sm.add_constant(lp), family=sm.families.Binomial()).fit().params[1]
    intercept = (
        sm.GLM(y, np.ones((len(y), 1)), family=sm.families.Binomial(), offset=lp).fit().params[0]
    )
    a, b = calibration_intercept_slope(y, p)
    assert a == pytest.approx(intercept, abs=1e-8)
    assert b == pytest.approx(slope, abs=1e-8)
    assert b > 1.2  # the predictions were made too flat on purpose


def test_evaluate_intervals_bracket_each_metric() -> None:
    """One shared resample per replicate: every interval contains its point estimate."""
    rng = np.random.default_rng(7)
    y = rng.random(5000) < 0.2
    table = evaluate(y, 1 / (1 + np.exp(-(y * 0.7 + rng.normal(0, 1, 5000) - 1.5))), n_boot=60)
    assert (table["lo"] <= table["value"]).all() and (table["value"] <= table["hi"]).all()
    assert list(table.index[:5]) == [
        "roc_auc",
        "pr_auc",
        "brier",
        "calibration_intercept",
        "calibration_slope",
    ]
