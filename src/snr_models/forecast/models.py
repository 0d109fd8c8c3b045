"""One-series forecasters: seasonal naive, ETS, SARIMAX with exposure regressors, structural.

Every forecaster follows the estimator habit: ``__init__`` stores its arguments, :meth:`fit`
learns from a monthly series (a ``pandas.Series`` on a month-start index, no gaps) and optional
exogenous regressors (optionally warm-started from ``start_params``, e.g. the previous origin's
``params_`` in a backtest), sets attributes ending in ``_`` and returns ``self``; :meth:`predict`
returns the ``h``-step forecast mean and its standard deviation (Gaussian predictive
distribution) and never learns.

The statistical models are statsmodels'
:class:`~statsmodels.tsa.exponential_smoothing.ets.ETSModel`,
:class:`~statsmodels.tsa.statespace.sarimax.SARIMAX` and
:class:`~statsmodels.tsa.statespace.structural.UnobservedComponents`. Seasonal terms (period
``season_length``) are used only when the series holds at least three full seasons; shorter
series get the non-seasonal variant (a year and a half of months cannot identify twelve seasonal
states). Only SARIMAX and the structural model take the exogenous exposure regressors; a
regressor constant over the fitting window is dropped (it is not identified there).
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_MODELS",
    "ETSForecaster",
    "MODELS",
    "SARIMAXForecaster",
    "SeasonalNaive",
    "StructuralForecaster",
    "make_model",
]


def _as_series(y: pd.Series | np.ndarray) -> pd.Series:
    if isinstance(y, pd.Series):
        out = y.astype(float)
        if not isinstance(out.index, pd.DatetimeIndex):
            out.index = pd.date_range("2000-01-01", periods=len(out), freq="MS")
    else:
        out = pd.Series(
            np.asarray(y, dtype=float), index=pd.date_range("2000-01-01", periods=len(y), freq="MS")
        )
    if out.index.freq is None:
        out.index = pd.DatetimeIndex(out.index, freq="MS")
    return out


def _varying(exog: np.ndarray | None) -> np.ndarray:
    """Indices of the exogenous columns that vary over the fitting window."""
    if exog is None or exog.size == 0:
        return np.array([], dtype=int)
    spread = np.nanmax(exog, axis=0) - np.nanmin(exog, axis=0)
    return np.flatnonzero(spread > 1e-9)


def _start(start_params: np.ndarray | None, model: Any) -> np.ndarray | None:
    """Warm start: previous parameters when they fit this model's parameter vector."""
    if start_params is None or len(start_params) != len(model.param_names):
        return None
    return np.asarray(start_params, dtype=float) if np.isfinite(start_params).all() else None


def _standardise(series: pd.Series) -> tuple[pd.Series, float, float]:
    """``(series - centre) / scale``: the optimisers converge far faster on unit scale."""
    centre = float(series.mean())
    scale = float(series.std())
    if not np.isfinite(scale) or scale <= 1e-12:
        scale = 1.0
    return (series - centre) / scale, centre, scale


class _Base:
    """Common machinery: residuals for the innovation correlations, the seasonal switch."""

    name = "base"
    uses_exog = False

    season_length: int

    def _seasonal(self, n: int) -> bool:
        return self.season_length > 1 and n >= 3 * self.season_length

    def residuals(self) -> np.ndarray:
        """In-sample one-step errors (the first few, under diffuse start-up, are NaN)."""
        return np.asarray(self.resid_, dtype=float)


class SeasonalNaive(_Base):
    """Seasonal naive: the value one season ago (naive, last value, when shorter than a season).

    The predictive standard deviation at step ``h`` is ``sigma * sqrt(ceil(h / m))`` with
    ``sigma`` the root mean square of the in-sample seasonal differences (Hyndman &
    Athanasopoulos, *Forecasting: Principles and Practice*, 3rd ed., section 5.5).

    Parameters
    ----------
    season_length : int
        Months per season (12).

    Examples
    --------
    >>> import numpy as np
    >>> m = SeasonalNaive(season_length=4).fit(np.arange(8.0))
    >>> m.predict(2)[0].tolist()
    [4.0, 5.0]
    """

    name = "snaive"

    def __init__(self, season_length: int = 12) -> None:
        self.season_length = season_length

    def fit(
        self,
        y: pd.Series | np.ndarray,
        exog: np.ndarray | None = None,
        start_params: np.ndarray | None = None,
    ) -> SeasonalNaive:
        """Learn the last season and the spread of the seasonal differences."""
        values = _as_series(y).to_numpy()
        m = self.season_length if len(values) > self.season_length else 1
        diffs = values[m:] - values[:-m]
        self.m_ = m
        self.last_ = values[-m:]
        self.sigma_ = float(np.sqrt(np.nanmean(diffs**2))) if diffs.size else np.nan
        self.resid_ = np.r_[np.full(m, np.nan), diffs]
        self.params_ = np.array([])
        return self

    def predict(self, h: int, exog: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation of the ``h`` next months."""
        steps = np.arange(h)
        mean = self.last_[steps % self.m_]
        sd = self.sigma_ * np.sqrt(np.floor(steps / self.m_) + 1)
        return mean.astype(float), sd.astype(float)


class ETSForecaster(_Base):
    """Exponential smoothing state-space model (``ETSModel``), additive errors.

    Parameters
    ----------
    trend : {"add", None}
        Additive trend, damped when ``damped_trend``.
    damped_trend : bool
        Damp the trend (recommended for horizons of months).
    season_length : int
        Months per season; a seasonal (additive) term is added for series of three seasons or
        more.
    """

    name = "ets"

    def __init__(
        self, trend: str | None = "add", damped_trend: bool = True, season_length: int = 12
    ) -> None:
        self.trend = trend
        self.damped_trend = damped_trend
        self.season_length = season_length

    def fit(
        self,
        y: pd.Series | np.ndarray,
        exog: np.ndarray | None = None,
        start_params: np.ndarray | None = None,
    ) -> ETSForecaster:
        """Maximum likelihood fit (statsmodels) on the series as it is.

        ``start_params`` is accepted for the common interface and ignored: ETS's likelihood
        has local optima, and statsmodels' own start (from a heuristic decomposition of the
        series) reaches better ones than a warm start from another window or a rescaled
        series.
        """
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel

        series = _as_series(y)
        seasonal = self._seasonal(len(series))
        model = ETSModel(
            series,
            error="add",
            trend=self.trend,
            damped_trend=bool(self.trend) and self.damped_trend,
            seasonal="add" if seasonal else None,
            seasonal_periods=self.season_length if seasonal else None,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.result_ = model.fit(disp=False)
        self.params_ = np.asarray(self.result_.params, dtype=float)
        self.nobs_ = len(series)
        self.resid_ = np.array(self.result_.resid, dtype=float)
        return self

    def predict(self, h: int, exog: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation of the ``h`` next months (analytic, additive errors)."""
        pred = self.result_.get_prediction(start=self.nobs_, end=self.nobs_ + h - 1)
        mean = np.asarray(pred.predicted_mean, dtype=float)
        return mean, np.sqrt(np.asarray(pred.forecast_variance, dtype=float))


class _StateSpace(_Base):
    """Shared by the statsmodels state-space forecasters: fitting on the standardised series,
    and forecasts with the future exposures, back on the original scale."""

    uses_exog = True

    def _prepare(
        self, y: pd.Series | np.ndarray, exog: np.ndarray | None
    ) -> tuple[pd.Series, np.ndarray | None]:
        """The standardised series and the exposure columns that vary over the window."""
        series, self.centre_, self.scale_ = _standardise(_as_series(y))
        self.columns_ = _varying(exog)
        x = None if not self.columns_.size else np.asarray(exog)[:, self.columns_]
        return series, x

    def _fit_state_space(self, model: Any, start_params: np.ndarray | None) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.result_ = model.fit(
                disp=False, maxiter=100, cov_type="none", start_params=_start(start_params, model)
            )
        self.params_ = np.asarray(self.result_.params, dtype=float)
        self.resid_ = np.array(self.result_.resid, dtype=float) * self.scale_

    def predict(self, h: int, exog: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation given the future exposures ``exog`` (``h`` rows)."""
        x = None if not self.columns_.size else np.asarray(exog)[:h, self.columns_]
        fc = self.result_.get_forecast(h, exog=x)
        return (
            np.asarray(fc.predicted_mean, dtype=float) * self.scale_ + self.centre_,
            np.sqrt(np.asarray(fc.var_pred_mean, dtype=float)) * self.scale_,
        )


class SARIMAXForecaster(_StateSpace):
    """SARIMAX with intervention exposure regressors.

    ``y_t = c + beta' x_t + u_t``, ``u_t`` ARMA(p, q) (seasonal AR(1) added for three seasons
    or more); ``x_t`` the share of volume exposed to each intervention (step or ramp, see
    :mod:`snr_models.forecast.exposure`). The forecast uses the future exposure of the
    scenario.

    Parameters
    ----------
    order : tuple
        ``(p, d, q)``.
    season_length : int
        Months per season.
    """

    name = "sarimax"

    def __init__(self, order: tuple[int, int, int] = (1, 0, 0), season_length: int = 12) -> None:
        self.order = order
        self.season_length = season_length

    def fit(
        self,
        y: pd.Series | np.ndarray,
        exog: np.ndarray | None = None,
        start_params: np.ndarray | None = None,
    ) -> SARIMAXForecaster:
        """Maximum likelihood fit; exposure columns constant over the window are dropped."""
        from statsmodels.tsa.statespace.sarimax import SARIMAX

        series, x = self._prepare(y, exog)
        seasonal = (1, 0, 0, self.season_length) if self._seasonal(len(series)) else (0, 0, 0, 0)
        model = SARIMAX(
            series,
            exog=x,
            order=self.order,
            seasonal_order=seasonal,
            trend="c" if self.order[1] == 0 else "n",
        )
        self._fit_state_space(model, start_params)
        self.resid_[: max(1, self.order[0])] = np.nan
        return self


class StructuralForecaster(_StateSpace):
    """Structural time-series model (``UnobservedComponents``): local level (plus trend).

    Parameters
    ----------
    level : str
        statsmodels level specification (``"local level"``, ``"local linear trend"``...).
    season_length : int
        A stochastic seasonal (frequency domain, two harmonics) for three seasons or more.
    """

    name = "uc"

    def __init__(self, level: str = "local level", season_length: int = 12) -> None:
        self.level = level
        self.season_length = season_length

    def fit(
        self,
        y: pd.Series | np.ndarray,
        exog: np.ndarray | None = None,
        start_params: np.ndarray | None = None,
    ) -> StructuralForecaster:
        """Maximum likelihood fit (diffuse initial state)."""
        from statsmodels.tsa.statespace.structural import UnobservedComponents

        series, x = self._prepare(y, exog)
        kwargs: dict[str, Any] = {}
        if self._seasonal(len(series)):
            kwargs["freq_seasonal"] = [{"period": self.season_length, "harmonics": 2}]
        model = UnobservedComponents(series, level=self.level, exog=x, **kwargs)
        self._fit_state_space(model, start_params)
        self.resid_[: max(int(self.result_.loglikelihood_burn), 1)] = np.nan
        return self


#: The candidate models by name, in order of simplicity (ties in the backtest go to the first).
MODELS: dict[str, type[_Base]] = {
    "snaive": SeasonalNaive,
    "ets": ETSForecaster,
    "sarimax": SARIMAXForecaster,
    "uc": StructuralForecaster,
}

#: The default candidates. SARIMAX is not among them: its order is fixed, (1,0,0)(1,0,0)12, and
#: it forecast worse than the seasonal naive on two classic monthly series (issue 16);
#: the structural model takes the exposure regressors instead. Ask for it by name.
DEFAULT_MODELS: tuple[str, ...] = ("snaive", "ets", "uc")


def make_model(name: str, season_length: int = 12) -> Any:
    """A fresh forecaster by name (one of :data:`MODELS`)."""
    from snr_models.errors import SnrInputError

    if name not in MODELS:
        raise SnrInputError(f"unknown forecast model {name!r}; expected one of {list(MODELS)}")
    return MODELS[name](season_length=season_length)
