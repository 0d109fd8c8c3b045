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
  scenario rolls out where and when.
- :func:`backtest_series` (one series, every candidate model) and :func:`backtest_net_rate`
  (the whole forecast of the firm-wide net rate from several origins).
- The forecasters :class:`SeasonalNaive`, :class:`ETSForecaster`, :class:`SARIMAXForecaster`,
  :class:`StructuralForecaster`.

Building blocks stay in their modules: ``core.OUTPUT_COLUMNS``, ``models.DEFAULT_MODELS`` and
``models.MODELS``, ``scenario.effects_table``, ``exposure.Shape``.

Analytical layer: no MLflow, no CLI (logging is :mod:`snr_models.jobs.forecast`'s job).
"""

from snr_models.forecast.backtest import SeriesBacktest, backtest_series
from snr_models.forecast.core import forecast
from snr_models.forecast.evaluate import NetRateBacktest, backtest_net_rate
from snr_models.forecast.models import (
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
    load_scenarios,
)
from snr_models.forecast.series import SeriesForecast, forecast_series

__all__ = [
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
    "StructuralForecaster",
    "backtest_net_rate",
    "backtest_series",
    "forecast",
    "forecast_series",
    "load_scenarios",
]
