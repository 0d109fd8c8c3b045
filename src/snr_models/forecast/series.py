"""One series: choose its model on a rolling-origin backtest, refit, calibrated intervals.

:func:`forecast_series` is the plain-series entry point (any monthly series, no contract
tables): the same steps :func:`snr_models.forecast.forecast` takes for each of its series --
the candidates backtested (:func:`~snr_models.forecast.backtest.backtest_series`), the model
with the lowest MASE refitted on the whole history, its predictive standard deviation widened
by the root mean square of its honest (leave-one-origin-out) standardised backtest errors,
and a Student *t* interval with the backtest's distinct held-out months as degrees of freedom
(:mod:`snr_models.forecast.calibration`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from snr_models.errors import SnrInputError
from snr_models.forecast.backtest import POINT_COLUMNS, backtest_series
from snr_models.forecast.calibration import (
    effective_dof,
    scale_factor,
    selection_points,
    standardised_errors,
)
from snr_models.forecast.models import DEFAULT_MODELS, MODELS, make_model

logger = logging.getLogger(__name__)

__all__ = ["SeriesForecast", "fit_series", "forecast_series"]


def fit_series(
    y: pd.Series,
    exog: np.ndarray,
    horizon: int,
    models: Sequence[str],
    n_origins: int,
    season_length: int,
    alpha: float = 0.05,
) -> tuple[str, pd.DataFrame, np.ndarray, np.ndarray, np.ndarray, pd.DataFrame]:
    """Choose, refit and forecast one series.

    Returns the model's name, the backtest scores (``coverage`` of the ``1 - alpha`` interval),
    the model's own predictive mean and standard deviation, its in-sample residuals and the
    honest backtest points the calibration uses
    (:func:`~snr_models.forecast.calibration.selection_points`; empty without a backtest, or
    when the chosen model failed on the whole history and a fallback forecasts instead).
    """
    t = len(y)
    if len(models) > 1 and n_origins > 0:
        bt = backtest_series(
            y,
            exog[:t],
            models=models,
            horizon=horizon,
            n_origins=n_origins,
            season_length=season_length,
            alpha=alpha,
        )
        chosen, scores, warm = bt.chosen, bt.scores, bt.params
        points = selection_points(bt.points)
    else:
        chosen, scores, warm = models[0], pd.DataFrame(), {}
        points = pd.DataFrame(columns=POINT_COLUMNS)
    for name in dict.fromkeys([chosen, "ets", "snaive"]):
        try:
            model = make_model(name, season_length).fit(y, exog[:t], start_params=warm.get(name))
            mean, sd = model.predict(horizon, exog[t:])
            if np.all(np.isfinite(mean)) and np.all(np.isfinite(sd)):
                if name != chosen:
                    points = points.iloc[:0]
                return name, scores, mean, sd, model.residuals(), points
        except (np.linalg.LinAlgError, ValueError) as exc:
            logger.info("forecast: %s failed (%s); falling back", name, exc)
    raise SnrInputError("forecast: no model could be fitted to a series")  # pragma: no cover


@dataclass(frozen=True)
class SeriesForecast:
    """The forecast of one series.

    Attributes
    ----------
    table : DataFrame
        One row per month ahead: ``period, forecast, sd, lo, hi`` (``sd`` the calibrated
        predictive standard deviation; ``lo``/``hi`` the ``1 - alpha`` interval).
    model : str
        The model chosen (or the fallback that forecast).
    scores : DataFrame
        The backtest's scores per candidate (empty without a backtest).
    factor : float
        The calibration's widening of the model's standard deviation (1: none).
    dof : float
        Degrees of freedom of the interval (``inf``: Gaussian).
    alpha : float
    history : Series
    """

    table: pd.DataFrame
    model: str
    scores: pd.DataFrame
    factor: float
    dof: float
    alpha: float
    history: pd.Series

    def to_frame(self) -> pd.DataFrame:
        """The forecast table (a copy)."""
        return self.table.copy()

    def summary(self) -> str:
        """A printable report: the model, its calibration, the forecasts."""
        level = f"{100 * (1 - self.alpha):g}%"
        lines = [
            f"Forecast of {self.history.name or 'the series'}: model {self.model}, "
            f"{len(self.history)} months of history",
            f"{level} intervals: model sd x {self.factor:.2f} (backtest calibration), "
            f"Student t with {self.dof:g} degrees of freedom",
            "",
            self.table.to_string(index=False, float_format=lambda v: f"{v:.4f}"),
        ]
        return "\n".join(lines)

    def plot(self):  # noqa: ANN201 - a matplotlib Figure, imported lazily
        """History, forecast and interval (a Figure managed by pyplot)."""
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7.5, 3.5), layout="constrained")
        ax.plot(self.history.index, self.history.to_numpy(), color="black", lw=1, label="history")
        ax.plot(self.table["period"], self.table["forecast"], color="tab:blue", label=self.model)
        ax.fill_between(
            self.table["period"],
            self.table["lo"],
            self.table["hi"],
            color="tab:blue",
            alpha=0.2,
            label=f"{100 * (1 - self.alpha):g}% interval",
        )
        ax.legend(loc="upper left")
        return fig


def _monthly(y: pd.Series | np.ndarray) -> pd.Series:
    series = y if isinstance(y, pd.Series) else pd.Series(np.asarray(y, dtype=float))
    if not isinstance(series.index, pd.DatetimeIndex):
        series = series.set_axis(pd.date_range("2000-01-01", periods=len(series), freq="MS"))
    series = series.astype(float)
    bad = np.flatnonzero(~np.isfinite(series.to_numpy()))
    if bad.size:
        raise SnrInputError(
            f"forecast_series: the series has {bad.size} missing or infinite value(s), at "
            f"{[str(series.index[i].date()) for i in bad[:5]]}; fill or drop them first"
        )
    return series.set_axis(pd.DatetimeIndex(series.index, freq="MS"))


def forecast_series(
    y: pd.Series | np.ndarray,
    horizon: int,
    *,
    models: Sequence[str] = DEFAULT_MODELS,
    n_origins: int = 6,
    alpha: float = 0.05,
    season_length: int = 12,
) -> SeriesForecast:
    """Forecast one monthly series with its model chosen on a backtest and calibrated intervals.

    Parameters
    ----------
    y : Series or array
        Monthly values, oldest first, no gaps (a month-start ``DatetimeIndex``; an array gets
        one from 2000-01); at least 12 months.
    horizon : int
        Months ahead.
    models : sequence of str
        Candidates among ``snaive``, ``ets``, ``sarimax``, ``uc`` (default
        :data:`DEFAULT_MODELS`: all but ``sarimax``); one name skips the choice.
    n_origins : int
        Backtest origins for the choice and the calibration.
    alpha : float
        ``1 - alpha`` intervals.
    season_length : int
        Months per season.

    Returns
    -------
    SeriesForecast

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = 10 + np.sin(np.arange(48) * np.pi / 6) + rng.normal(0, 0.2, 48)
    >>> res = forecast_series(y, 6, models=("snaive", "ets"))
    >>> res.to_frame().columns.tolist()
    ['period', 'forecast', 'sd', 'lo', 'hi']
    >>> bool((res.table["lo"] < res.table["forecast"]).all())
    True
    """
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
        raise SnrInputError(f"horizon must be a positive integer, got {horizon!r}")
    if not 0 < alpha < 1:
        raise SnrInputError(f"alpha must be in (0, 1), got {alpha!r}")
    models = tuple(models)
    if not models or any(m not in MODELS for m in models):
        raise SnrInputError(f"models must be some of {list(MODELS)}, got {list(models)}")
    series = _monthly(y)
    if len(series) < 12:
        raise SnrInputError(f"forecast_series: need at least 12 months, got {len(series)}")
    exog = np.zeros((len(series) + horizon, 0))
    name, scores, mean, sd, _, points = fit_series(
        series, exog, horizon, models, n_origins, season_length, alpha
    )
    factor = scale_factor(standardised_errors(points))
    dof = effective_dof({"series": points})
    q = stats.t.ppf(1 - alpha / 2, dof) if np.isfinite(dof) else stats.norm.ppf(1 - alpha / 2)
    sd = sd * factor
    future = pd.date_range(series.index[-1] + pd.offsets.MonthBegin(1), periods=horizon, freq="MS")
    table = pd.DataFrame(
        {"period": future, "forecast": mean, "sd": sd, "lo": mean - q * sd, "hi": mean + q * sd}
    )
    return SeriesForecast(
        table=table,
        model=name,
        scores=scores,
        factor=factor,
        dof=dof,
        alpha=alpha,
        history=series,
    )
