"""The main job behind ``snr run``, stage by stage.

Data → net rate → satisfaction drivers → churn → attribution → forecast → report.

One MLflow parent run, with a child run per stage. Outputs (tables, figures, a summary and
the HTML report per language, ``index.html`` and ``index.<language>.html``) go to
``<output_dir>/<parent run id>/``, written atomically as one folder, and are logged to the
parent run as well. The report (:mod:`snr_models.report`) reads every stage's typed result.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from snr_models import report, tracking
from snr_models._version import __version__
from snr_models.churn.scoring import call_list
from snr_models.data import Tables, load
from snr_models.data.atomic import atomic_path
from snr_models.forecast import ForecastResult, forecast, load_scenarios
from snr_models.jobs.attribution import (
    AttributionEstimates,
    estimate_attribution,
    log_attribution,
)
from snr_models.jobs.churn import fit_churn, log_churn
from snr_models.jobs.config import RunConfig
from snr_models.jobs.drivers import DriverAnalyses, analyse_drivers, analysis_metrics
from snr_models.jobs.forecast import log_forecast, scenario_effects
from snr_models.jobs.netrate import NetRateStageResult, analyse_net_rate, log_net_rate
from snr_models.jobs.results import ChurnStageResult, DataStageResult, MainResult
from snr_models.metrics import MetricSpec
from snr_models.metrics.periods import months_per_period
from snr_models.simulate import SimulationConfig, simulate, write_simulation

logger = logging.getLogger(__name__)

STAGES = ("data", "netrate", "drivers", "churn", "attribution", "forecast", "report")


def run_main(config: RunConfig, *, progress: bool = False) -> dict[str, Any]:
    """Run the main job and return its summary (also written as ``summary.json``).

    Parameters
    ----------
    config : RunConfig
        The job's configuration.
    progress : bool, default False
        Show a progress bar per stage on stderr.
    """
    optional = {
        "drivers": config.drivers.enabled,
        "churn": config.churn.enabled,
        "attribution": config.attribution.enabled,
        "forecast": config.forecast.enabled,
    }
    stages_run = tuple(n for n in STAGES if optional.get(n, True))
    with (
        _Stages(stages_run, enabled=progress) as stages,
        tracking.start_run(config.experiment, run_name=config.name, tags={"job": "run"}) as parent,
    ):
        parent.log_params({"config": config.model_dump()})

        with stages.stage("data"), _child(config, "data") as run:
            data = _obtain_data(config)
            run.log_params(data.params)
            run.log_data(data.tables)
            parent.log_data(data.tables)
        tables = data.tables

        with stages.stage("netrate"), _child(config, "netrate") as run:
            stage = config.netrate
            netrate = analyse_net_rate(
                tables,
                MetricSpec.from_yaml(stage.spec) if stage.spec else None,
                freq=stage.freq,
                by=stage.by,
                alpha=stage.alpha,
                n_boot=stage.n_boot,
                random_state=config.seed,
                compare=stage.compare,
                window=stage.window,
            )
            log_net_rate(run, netrate, {"netrate": stage.model_dump()})
            parent.log_metrics(netrate.metrics())

        drivers = None
        if config.drivers.enabled:
            with stages.stage("drivers"), _child(config, "drivers") as run:
                drivers = _drivers_stage(config, tables, run)

        churn = None
        if config.churn.enabled:
            with stages.stage("churn"), _child(config, "churn") as run:
                churn = _churn_stage(config, tables, run)

        attribution = None
        if config.attribution.enabled:
            with stages.stage("attribution"), _child(config, "attribution") as run:
                attribution = _attribution_stage(config, tables, run, netrate)

        outlook = None
        if config.forecast.enabled:
            with stages.stage("forecast"), _child(config, "forecast") as run:
                outlook = _forecast_stage(config, tables, run, attribution)

        with stages.stage("report"):
            result = MainResult(
                config=config,
                run_id=parent.run_id,
                package_version=__version__,
                data=data,
                netrate=netrate,
                drivers=drivers,
                churn=churn,
                attribution=attribution,
                forecast=outlook,
            )
            languages = config.report.language
            pages = {
                name: report.render(
                    result, lang, labels=config.report.labels.get(lang), languages=languages
                )
                for lang, name in report.file_names(languages).items()
            }
            out_dir = Path(config.output_dir) / parent.run_id
            summary = result.summary()
            _write_outputs(out_dir, result, summary, pages)
            parent.log_artifact(out_dir, artifact_path="outputs")
            summary["output_dir"] = str(out_dir)
            summary["report"] = str(out_dir / "index.html")
            summary["reports"] = {
                lang: str(out_dir / name) for lang, name in report.file_names(languages).items()
            }
    return summary


def _obtain_data(config: RunConfig) -> DataStageResult:
    """Load the configured data, or simulate a world into ``data_dir`` (reused if unchanged)."""
    if config.data is not None:
        params = {"data.source": "given", "data.format": Path(config.data).suffix}
        return DataStageResult(load(config.data), "given", params)
    sim = SimulationConfig.from_yaml(config.simulation) if config.simulation else SimulationConfig()
    data_dir = Path(config.data_dir)
    truth_file = data_dir / "truth.json"
    wanted = json.loads(sim.model_dump_json())
    reused = False
    if truth_file.is_file():
        try:
            stored = json.loads(truth_file.read_text()).get("config")
        except json.JSONDecodeError:
            stored = None
        reused = stored == wanted
    if reused:
        logger.info("reusing the simulated world in %s", data_dir)
    else:
        write_simulation(simulate(sim), data_dir)
    params = {"data.source": "simulated", "data.reused": reused}
    return DataStageResult(load(data_dir), "simulated", params)


def _drivers_stage(config: RunConfig, tables: Tables, run: tracking.TrackedRun) -> DriverAnalyses:
    stage = config.drivers
    result = analyse_drivers(
        tables,
        target=stage.target,
        n_boot=stage.n_boot,
        alpha=stage.alpha,
        random_state=config.seed,
    )
    run.log_params(stage.model_dump())
    for name, (analysis, _, _) in result.analyses.items():
        if analysis is not None:
            run.log_metrics({f"{name}.{k}": v for k, v in analysis_metrics(name, analysis).items()})
    for name, table in result.tables.items():
        run.log_frame(table, f"drivers/{name}")
    for name, fig in result.figures.items():
        run.log_figure(fig, f"drivers/{name}")
    return result


def _churn_stage(config: RunConfig, tables: Tables, run: tracking.TrackedRun) -> ChurnStageResult:
    from snr_models.churn import plot_lift, plot_reliability

    stage = config.churn
    fit = fit_churn(tables, stage.churn_config())
    logged = log_churn(run, tables, fit)
    bt = fit.backtest
    calls, as_of, span, reasons = None, None, None, {}
    if logged.registered_uri is not None:
        # the fitted estimator scores in memory with the code of ``snr score``: the registered
        # version is this very estimator, so it is not loaded back
        latest = fit.features[fit.features["as_of"] == fit.features["as_of"].max()]
        calls = call_list(fit.estimator, latest, n=stage.call_list, horizon=fit.config.horizon)
        horizon = fit.config.horizon
        reasons = {  # the same rows, with reasons in each language of the report
            lang: call_list(
                fit.estimator, latest, n=stage.call_list, horizon=horizon, language=lang
            ).filter(like="reason_")
            for lang in config.report.language
        }
        calls["model_version"] = str(logged.version)
        calls["client_id"] = report.pseudonymise(calls["client_id"], secrets.token_hex(16))
        calls = calls.rename(columns={"client_id": "client (pseudonym)"})
        as_of = pd.Timestamp(latest["as_of"].iloc[0])
        span = (float(calls["churn_probability"].min()), float(calls["churn_probability"].max()))
    return ChurnStageResult(
        metrics=bt.metrics.reset_index(),
        figures={
            "churn_lift.png": plot_lift(bt.predictions["y"], bt.predictions["p"]),
            # the axes cover the call list's probabilities, shaded
            "churn_calibration.png": plot_reliability(
                bt.predictions["y"], bt.predictions["p"], n_bins=20, highlight=span
            ),
        },
        horizon=fit.config.horizon,
        alpha=bt.alpha,
        model_uri=logged.registered_uri or logged.model_uri,
        model_version=logged.version,
        backtest_auc=float(bt.metrics.loc["roc_auc", "value"]),
        call_list=calls,
        call_list_as_of=as_of,
        reasons=reasons,
    )


def _forecast_stage(
    config: RunConfig,
    tables: Tables,
    run: tracking.TrackedRun,
    attribution: AttributionEstimates | None,
) -> ForecastResult:
    stage = config.forecast
    scenarios = load_scenarios(stage.scenario) if stage.scenario else None
    # the attribution stage's effects, with their standard errors, drive the scenarios
    effects = attribution.effects if attribution is not None else None
    if effects is None and scenarios is not None:
        effects = scenario_effects(tables, scenarios)
    result = forecast(
        tables,
        horizon=stage.horizon,
        scenario=scenarios,
        effects=effects,
        branches=stage.branches,
        n_origins=stage.n_origins,
        n_paths=stage.n_paths,
        random_state=config.seed,
    )
    log_forecast(result, run, tables)
    return result


def _attribution_stage(
    config: RunConfig, tables: Tables, run: tracking.TrackedRun, netrate: NetRateStageResult
) -> AttributionEstimates:
    stage = config.attribution
    # The waterfall pools the net-rate stage's windows: the same change as it decomposes (one
    # definition of "the change" in the report)
    k = months_per_period(config.netrate.freq)
    start = netrate.change.start_window[0]
    end = netrate.change.end_window[-1] + pd.DateOffset(months=k - 1)
    window = k * len(netrate.change.start_window)
    t0 = time.perf_counter()
    est = estimate_attribution(
        tables, start=f"{start:%Y-%m}", end=f"{end:%Y-%m}", window=window, alpha=stage.alpha
    )
    log_attribution(run, tables, est, time.perf_counter() - t0)
    return est


def _write_outputs(
    out_dir: Path, result: MainResult, summary: dict[str, Any], pages: dict[str, str]
) -> None:
    with atomic_path(out_dir, directory=True) as tmp:
        for name, page in pages.items():
            (tmp / name).write_text(page, encoding="utf-8")
        for name, frame in result.tables().items():
            frame.to_csv(tmp / name, index=False)
        for name, fig in result.figures().items():
            fig.savefig(tmp / name, dpi=110, bbox_inches="tight")
            plt.close(fig)
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2, default=str))


@contextmanager
def _child(config: RunConfig, stage: str) -> Iterator[tracking.TrackedRun]:
    with tracking.start_run(
        config.experiment, run_name=stage, nested=True, tags={"stage": stage}
    ) as run:
        yield run


class _Stages:
    """A progress bar that advances one step per stage (no-op when disabled)."""

    def __init__(self, names: tuple[str, ...], *, enabled: bool) -> None:
        self._names = names
        self._progress = (
            Progress(
                TextColumn("[bold]{task.description:<10}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total} stages"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            if enabled
            else None
        )
        self._task = None

    def __enter__(self) -> _Stages:
        if self._progress is not None:
            self._progress.start()
            self._task = self._progress.add_task(self._names[0], total=len(self._names))
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        if self._progress is not None:
            self._progress.update(self._task, description=name)
        yield
        if self._progress is not None:
            self._progress.advance(self._task)
