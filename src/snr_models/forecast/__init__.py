"""Forecasts of the net rate and its components, firm-wide and per branch, under scenarios.

Public API:

- :func:`forecast` -> :class:`ForecastResult` (``summary()``, ``to_frame()``, ``plot()``,
  ``compare()``): 1-12 months ahead, models chosen per series by rolling-origin backtest,
  branches reconciled with the firm, ``1 - alpha`` intervals (95% by default) by joint
  simulation calibrated on the backtest's out-of-sample errors
  (:mod:`snr_models.forecast.calibration`), a baseline and any number of roll-out scenarios.
- :func:`forecast_series` -> :class:`SeriesForecast`: any one monthly series, the same model
  choice and calibrated intervals, levels from ``alpha``.
- :class:`Scenario`, :class:`Rollout`, :class:`ScenarioFile`, :func:`load_scenarios`: what a
  scenario rolls out where and when; :func:`effects_table` the effects it uses.
- :func:`backtest_series` (one series, every candidate model) and :func:`backtest_net_rate`
  (the whole forecast of the firm-wide net rate from several origins).
- The forecasters :class:`SeasonalNaive`, :class:`ETSForecaster`, :class:`SARIMAXForecaster`,
  :class:`StructuralForecaster`; exposure shapes :class:`Shape`.

Analytical layer: no MLflow, no CLI (logging is :mod:`snr_models.jobs.forecast`'s job).
"""

from snr_models.forecast.backtest import SeriesBacktest, backtest_series
from snr_models.forecast.core import COMPONENTS, OUTPUT_COLUMNS, forecast
from snr_models.forecast.evaluate import NetRateBacktest, backtest_net_rate
from snr_models.forecast.exposure import Shape
from snr_models.forecast.models import (
    DEFAULT_MODELS,
    MODELS,
    ETSForecaster,
    SARIMAXForecaster,
    SeasonalNaive,
    StructuralForecaster,
)
from snr_models.forecast.result import ForecastResult
from snr_models.forecast.scenario import (
    Rollout,
    Scenario,
    ScenarioFile,
    effects_table,
    load_scenarios,
)
from snr_models.forecast.series import SeriesForecast, forecast_series

__all__ = [
    "COMPONENTS",
    "DEFAULT_MODELS",
    "MODELS",
    "OUTPUT_COLUMNS",
    "ETSForecaster",
    "ForecastResult",
    "NetRateBacktest",
    "Rollout",
    "SARIMAXForecaster",
    "Scenario",
    "ScenarioFile",
    "SeasonalNaive",
    "SeriesBacktest",
    "SeriesForecast",
    "Shape",
    "StructuralForecaster",
    "backtest_net_rate",
    "backtest_series",
    "effects_table",
    "forecast",
    "forecast_series",
    "load_scenarios",
]
