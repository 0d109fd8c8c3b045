"""The forecast job behind ``snr forecast``: load, forecast under scenarios, write, track.

Writes one table (CSV or Parquet, atomically, after everything succeeded) with the columns
``period, series, component, scenario, forecast, lo, hi``. With ``track=True``
the run logs to MLflow (experiment ``snr-forecast``): the settings, the model chosen per
series, every candidate's backtest scores, the interval calibration applied (its factors and
degrees of freedom, also as metrics ``calibration.*``), the effects the scenarios used, the
forecast table and the figures (fan charts per scenario, the backtest). Only aggregates are
logged: series are the firm and branch ids, never clients.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from snr_models import progress
from snr_models.attribution import JointEffects, build_panel, estimate_joint
from snr_models.data.atomic import write_frame
from snr_models.data.io import load
from snr_models.data.tables import Tables
from snr_models.errors import SnrInputError
from snr_models.forecast import ForecastResult, forecast, load_scenarios
from snr_models.forecast.core import COMPONENTS
from snr_models.forecast.models import DEFAULT_MODELS
from snr_models.forecast.scenario import ScenarioFile

logger = logging.getLogger(__name__)

__all__ = ["ForecastJobResult", "log_forecast", "run_forecast", "scenario_effects"]


@dataclass(frozen=True)
class ForecastJobResult:
    """What :func:`run_forecast` produced."""

    result: ForecastResult
    output: Path
    run_id: str | None


def scenario_effects(
    tables: Tables, scenarios: ScenarioFile | None, end: str | None = None
) -> JointEffects | None:
    """The effects a scenario file asks the attribution for (``effects: attribution``).

    Every intervention in the design is estimated jointly (each holding the others fixed) on
    the history up to ``end``, with :func:`~snr_models.attribution.estimate_joint`. ``None``
    when there is no scenario or the file gives its effects itself.
    """
    if scenarios is None or scenarios.effects != "attribution":
        return None
    logger.info("forecast: estimating intervention effects (attribution) for the scenarios")
    wanted = sorted({r.intervention for s in scenarios.scenarios for r in s.rollouts})
    panel = build_panel(tables, end=end)
    missing = [w for w in wanted if w not in panel.interventions]
    if missing:
        raise SnrInputError(
            f"scenario: no past roll-out of {missing} to estimate effects from; give effects"
        )
    return estimate_joint(panel, components=COMPONENTS)


def log_forecast(result: ForecastResult, run: Any, tables: Tables | None = None) -> None:
    """Log a forecast into an open :class:`~snr_models.tracking.TrackedRun`."""
    params = dict(result.params)
    params["scenarios"] = [s.name for s in result.scenarios]
    params["scenario_definitions"] = [s.model_dump() for s in result.scenarios]
    run.log_params(params)
    if tables is not None:
        run.log_data(tables)
    choice = result.choice
    run.log_frame(choice, "forecast/model_choice.csv")
    counts = choice.groupby("model").size()
    run.log_metrics({f"choice.n_{m}": int(n) for m, n in counts.items()})
    for row in choice[choice["series"] == "firm"].itertuples():
        run.set_tags({f"model.firm.{row.component}": row.model})
    if len(result.backtest):
        run.log_frame(result.backtest, "forecast/backtest.csv")
        fb = result.firm_backtest()
        metrics = {}
        for row in fb.itertuples():
            for m in ("mase", "rel_mae", "coverage", "pinball", "crps"):
                metrics[f"backtest.firm.{row.component}.{row.model}.{m}"] = getattr(row, m)
        chosen = choice[choice["series"] != "firm"].merge(
            result.backtest, on=["series", "component", "model"]
        )
        if len(chosen):
            for m in ("mase", "rel_mae", "coverage"):
                metrics[f"backtest.branches.chosen.{m}"] = float(chosen[m].mean())
        run.log_metrics(metrics)
    cal = result.params.get("calibration")
    if cal:
        run.log_dict(cal, "forecast/calibration.json")
        run.log_metrics(
            {
                **{f"calibration.firm.{c}.sd_factor": f for c, f in cal["factors"].items()},
                "calibration.firm.net_rate.sd_factor": cal["net_rate_factor"],
                "calibration.dof": cal["dof"] if cal["dof"] != "inf" else None,
            }
        )
    if result.effects is not None:
        run.log_frame(result.effects, "forecast/effects.csv")
    table = result.to_frame()
    run.log_frame(table, "forecast/forecast.csv")
    last = table[
        (table["series"] == "firm")
        & (table["component"] == "net_rate")
        & (table["period"] == table["period"].max())
    ]
    run.log_metrics(
        {
            f"forecast.firm.net_rate.{r.scenario}.{k}": getattr(r, k)
            for r in last.itertuples()
            for k in ("forecast", "lo", "hi")
        }
    )
    run.log_figure(result.plot(), "forecast/fan_net_rate.png")
    run.log_figure(result.plot_backtest(), "forecast/backtest.png")
    run.log_text(result.summary(), "forecast/summary.txt")


@progress.job("forecast", ("data", "forecast", "write"))
def run_forecast(
    data: str | Path | Tables,
    output: str | Path,
    *,
    horizon: int = 6,
    scenario: str | Path | None = None,
    branches: bool = True,
    models: tuple[str, ...] | None = None,
    n_origins: int = 6,
    n_paths: int = 2000,
    end: str | None = None,
    seed: int = 0,
    track: bool = False,
) -> ForecastJobResult:
    """Forecast a dataset's net rate (and scenarios) and write the table to ``output``.

    Parameters
    ----------
    data : path or Tables
        Parquet folder / DuckDB file, or loaded tables.
    output : path
        ``.csv`` or ``.parquet``; written atomically once everything succeeded.
    horizon : int
        Months ahead (1 to 12).
    scenario : path, optional
        Scenario YAML (see :mod:`snr_models.forecast.scenario`).
    branches, models, n_origins, n_paths, end, seed
        See :func:`snr_models.forecast.forecast` (``models=None``: the default candidates).
    track : bool
        Log to MLflow (experiment ``snr-forecast``).
    """
    output = Path(output)
    if output.suffix.lower() not in {".csv", ".parquet"}:
        raise SnrInputError(f"--output {output}: expected a .csv or .parquet file name")
    scenarios = load_scenarios(scenario) if scenario is not None else None
    with progress.stage("data"):
        tables = data if isinstance(data, Tables) else load(data)
    with progress.stage("forecast"):
        result = forecast(
            tables,
            horizon=horizon,
            scenario=scenarios,
            effects=scenario_effects(tables, scenarios, end),
            branches=branches,
            models=models or DEFAULT_MODELS,
            n_origins=n_origins,
            n_paths=n_paths,
            end=end,
            random_state=seed,
        )
    run_id = None
    if track:
        from snr_models import tracking

        settings = {"horizon": horizon, "scenario": str(scenario), "end": end, "seed": seed}
        with tracking.start_run(
            "snr-forecast",
            run_name=tracking.run_name("forecast", tables, config=settings),
            tags={"job": "forecast"},
            description=(
                f"snr forecast: the net rate, S, R and E {horizon} months ahead with intervals, "
                f"per scenario ({', '.join(result.scenario_names)}), the model of each series "
                f"chosen on a rolling-origin backtest."
            ),
        ) as run:
            log_forecast(result, run, tables)
            run_id = run.run_id
    with progress.stage("write"):
        write_frame(result.to_frame(), output)
    return ForecastJobResult(result=result, output=output, run_id=run_id)
