"""TWFE, its negative weights, the event study, and the fixed-effects regression."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from snr_models.attribution import event_study, twfe
from snr_models.attribution.regression import demean, fe_ols


def _staggered(effect_growth: float) -> pd.DataFrame:
    # 3 units x 4 periods: unit 0 treated from t=1, unit 1 from t=3, unit 2 never
    df = pd.DataFrame({"u": np.repeat(np.arange(3), 4), "t": np.tile(np.arange(4), 3)})
    g = df["u"].map({0: 1, 1: 3, 2: 99})
    df["d"] = (df["t"] >= g).astype(float)
    df["y"] = df["d"] * (1 + effect_growth * (df["t"] - g).clip(lower=0))
    return df


def test_negative_weights_appear_with_staggered_dynamic_effects() -> None:
    # hand computation (de Chaisemartin & D'Haultfoeuille 2020): the weight of treated cell
    # (i, t) is the residual of d on unit and time dummies over the sum of residuals on treated
    # cells; the early unit's late period (0, 3) gets a negative weight here
    df = _staggered(1.0)
    res = twfe(df, outcome="y", unit="u", time="t", treatment="d")
    w = res.weights.set_index(["unit", "time"])["weight"]
    assert w.sum() == pytest.approx(1.0)
    assert w.loc[(0, 3)] < 0
    # the TWFE coefficient equals the weighted sum of the cell effects (exact identity)
    eff = df.set_index(["u", "t"])["y"]
    assert res.estimate == pytest.approx(float((w * eff.loc[w.index].to_numpy()).sum()), rel=1e-9)
    assert res.negative_share > 0
    assert "negative weight" in res.summary()


def test_no_negative_weight_with_single_adoption_date() -> None:
    df = pd.DataFrame({"u": np.repeat(np.arange(4), 4), "t": np.tile(np.arange(4), 4)})
    df["d"] = ((df["u"] < 2) & (df["t"] >= 2)).astype(float)
    df["y"] = 2.0 * df["d"] + df["u"] + 0.5 * df["t"]
    res = twfe(df, outcome="y", unit="u", time="t", treatment="d")
    assert res.estimate == pytest.approx(2.0)  # noiseless: exact
    assert res.negative_share == 0.0


def test_demean_matches_dummy_regression() -> None:
    # independent computation: residuals from OLS on explicit unit and time dummies
    rng = np.random.default_rng(0)
    u = np.repeat(np.arange(6), 5)[:-3]  # unbalanced
    t = np.tile(np.arange(5), 6)[:-3]
    y = rng.normal(size=len(u))
    dummies = np.column_stack([np.eye(6)[u], np.eye(5)[t][:, 1:]])
    beta = np.linalg.lstsq(dummies, y, rcond=None)[0]
    np.testing.assert_allclose(demean(y, [u, t]), y - dummies @ beta, atol=1e-8)


def test_fe_ols_cluster_se_matches_dummy_ols_cr1() -> None:
    # independent: the same regression with explicit dummies and a hand-built CR1 sandwich,
    # small-sample factor G/(G-1) (n-1)/(n-K) with K = slope + time dummies (unit FE nested)
    rng = np.random.default_rng(1)
    n_u, n_t = 30, 6
    u = np.repeat(np.arange(n_u), n_t)
    t = np.tile(np.arange(n_t), n_u)
    x = rng.normal(size=n_u * n_t) + (u % 3)
    y = 0.7 * x + rng.normal(size=n_u)[u] + rng.normal(size=n_u * n_t)
    df = pd.DataFrame({"u": u, "t": t, "x": x, "y": y})
    fit = fe_ols(df, "y", ["x"], fixed_effects=["u", "t"], cluster="u")
    xd = np.column_stack([x, np.eye(n_u)[u], np.eye(n_t)[t][:, 1:]])
    b = np.linalg.lstsq(xd, y, rcond=None)[0]
    e = y - xd @ b
    bread = np.linalg.pinv(xd.T @ xd)
    meat = sum(np.outer(xd[u == g].T @ e[u == g], xd[u == g].T @ e[u == g]) for g in range(n_u))
    n, k = len(y), 1 + (n_t - 1)  # slope + time dummies (unit FE and intercept nested)
    v = n_u / (n_u - 1) * (n - 1) / (n - k) * (bread @ meat @ bread)
    assert float(fit.params["x"]) == pytest.approx(b[0], rel=1e-8)
    assert float(fit.se["x"]) == pytest.approx(np.sqrt(v[0, 0]), rel=1e-6)


def test_event_study_recovers_dynamic_effects_and_flat_pretrends() -> None:
    # simulation: effect e + 1 at event time e >= 0, none before; 200 units, half treated at 4
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"u": np.repeat(np.arange(200), 8), "t": np.tile(np.arange(8), 200)})
    df["g"] = np.where(df["u"] < 100, 4, 0)
    e = df["t"] - df["g"]
    df["y"] = rng.normal(scale=0.1, size=len(df)) + np.where((df["g"] > 0) & (e >= 0), e + 1.0, 0.0)
    res = event_study(df, outcome="y", unit="u", time="t", group="g")
    tab = res.table.set_index("label")
    np.testing.assert_allclose(tab.loc[[0, 1, 2, 3], "estimate"], [1, 2, 3, 4], atol=0.05)
    assert tab.loc[-1, "estimate"] == 0.0
    assert res.pretrend["df"] == 3
    assert res.pretrend["p_value"] > 0.01
    # a pre-trend is detected when there is one
    df2 = df.assign(y=df["y"] + np.where(df["g"] > 0, 0.05 * df["t"], 0.0))
    assert event_study(df2, outcome="y", unit="u", time="t", group="g").pretrend["p_value"] < 1e-3
    assert len(res.plot().axes) == 1


def test_coefficient_plot_legend_names_the_level() -> None:
    """The legend says which level the band and the intervals are (from alpha, not fixed)."""
    import pandas as pd

    from snr_models.attribution.plots import plot_coefficients

    table = pd.DataFrame(
        {
            "label": [-1, 0, 1],
            "estimate": [0.0, 1.0, 2.0],
            "lo": [-1.0, 0.0, 1.0],
            "hi": [1.0, 2.0, 3.0],
            "uniform_lo": [-2.0, -1.0, 0.0],
            "uniform_hi": [2.0, 3.0, 4.0],
        }
    )
    fig = plot_coefficients(table, alpha=0.1)
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert texts == ["90% uniform band", "estimate, 90% pointwise interval"]


def test_twfe_without_treated_cells_has_no_weights_and_no_warning():
    """An intervention absent from the window (a small world's): no treated cell, so no
    weights and an undefined (NaN) negative share, without numpy's "Mean of empty slice"."""
    import warnings

    df = pd.DataFrame({"u": np.repeat(np.arange(3), 4), "t": np.tile(np.arange(4), 3)})
    df["d"] = 0.0
    df["y"] = np.arange(12.0) % 5
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        res = twfe(df, outcome="y", unit="u", time="t", treatment="d")
    assert res.weights.empty
    assert np.isnan(res.negative_share) and res.negative_weight_sum == 0.0
