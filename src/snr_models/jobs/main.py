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

from snr_models import progress, report, threads, tracking
from snr_models._version import __version__
from snr_models.churn.scoring import call_list
from snr_models.data import Tables, load
from snr_models.data.atomic import atomic_path
from snr_models.errors import SnrInputError
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
from snr_models.jobs.plan import PlanEstimates, estimate_plan, log_plan, read_costs
from snr_models.jobs.results import ChurnStageResult, DataStageResult, MainResult
from snr_models.jobs.uplift import RankingComparison, compare_rankings
from snr_models.metrics import MetricSpec
from snr_models.metrics.periods import months_per_period
from snr_models.plan.rollout import PlannedDesign
from snr_models.simulate import SimulationConfig, simulate, write_simulation

logger = logging.getLogger(__name__)

STAGES = ("data", "netrate", "drivers", "churn", "attribution", "forecast", "plan", "report")
#: What each stage's child run did (its description in the MLflow UI); the report is logged
#: to the parent run.
STAGE_DESCRIPTIONS = {
    "data": "Simulates or loads the data and checks them against the contract; logs their "
    "profile (content hash, row counts, schema), never rows.",
    "netrate": "The net rate and its components S, R and E with bootstrap intervals, by month, "
    "branch and segment, and the decomposition of its change by component.",
    "drivers": "What drives satisfaction: Shapley importance and relative weights with "
    "intervals, the ordinal logit, asymmetric drivers and the importance-performance map.",
    "churn": "The churn model: point-in-time features, rolling-origin backtest with bootstrap "
    "intervals, the final fit logged and registered, and the top of the call list.",
    "attribution": "Each intervention's effect on S, R, E and the net rate, estimated jointly, "
    "and the waterfall of the change.",
    "forecast": "Forecasts of the net rate and its components with intervals, per scenario, "
    "the model chosen on a rolling-origin backtest.",
    "plan": "What to do next: the power of the next roll-out by simulation on the history, "
    "per-branch and per-segment effects (empirical Bayes), and the allocation of the budget.",
}


def run_main(config: RunConfig) -> dict[str, Any]:
    """Run the main job and return its summary (also written as ``summary.json``).

    Its stages, in order: ``data`` (simulate or load, validate), ``netrate``, ``drivers``,
    ``churn``, ``attribution``, ``forecast``, ``report`` (the optional ones when enabled).
    Each reports its progress through :mod:`snr_models.progress` (silent unless a reporter is
    installed, as ``snr run`` does). OpenMP, BLAS and DuckDB use ``config.threads`` threads
    (:func:`snr_models.threads.limit`).

    The parent run is named for what it did, ``main <last month> <hash>`` (the hash of the
    data and the configuration), and described.

    Parameters
    ----------
    config : RunConfig
        The job's configuration.
    """
    optional = {
        "drivers": config.drivers.enabled,
        "churn": config.churn.enabled,
        "attribution": config.attribution.enabled,
        "forecast": config.forecast.enabled,
        "plan": config.plan.enabled,
    }
    stages_run = tuple(n for n in STAGES if optional.get(n, True))
    with (
        threads.limit(config.threads) as n_threads,
        progress.job("run", stages_run),
        tracking.start_run(
            config.experiment, run_name="main", tags={"job": "run", "config": config.name}
        ) as parent,
    ):
        parent.log_params({"config": config.model_dump(), "threads": n_threads})

        with progress.stage("data"), _child(config, "data") as run:
            data = _obtain_data(config)
            run.log_params(data.params)
            run.log_data(data.tables)
            parent.log_data(data.tables)
        tables = data.tables
        # what the analysis did, not where it wrote or how many threads it took
        settings = config.model_dump(exclude={"threads", "name", "data_dir", "output_dir"})
        parent.set_name(tracking.run_name("main", tables, config=settings))
        parent.set_description(_describe_run(config, data, stages_run))

        with progress.stage("netrate"), _child(config, "netrate") as run:
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
            with progress.stage("drivers"), _child(config, "drivers") as run:
                drivers = _drivers_stage(config, tables, run)

        churn = None
        if config.churn.enabled:
            with progress.stage("churn"), _child(config, "churn") as run:
                churn = _churn_stage(config, tables, run)

        attribution = None
        if config.attribution.enabled:
            with progress.stage("attribution"), _child(config, "attribution") as run:
                attribution = _attribution_stage(config, tables, run, netrate)

        outlook = None
        if config.forecast.enabled:
            with progress.stage("forecast"), _child(config, "forecast") as run:
                outlook = _forecast_stage(config, tables, run, attribution)

        plan = None
        if config.plan.enabled:
            with progress.stage("plan"), _child(config, "plan") as run:
                plan = _plan_stage(config, tables, run, outlook)

        with progress.stage("report"):
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
                plan=plan,
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


def _describe_run(config: RunConfig, data: DataStageResult, stages: tuple[str, ...]) -> str:
    """The parent run's description: what was read and what the stages did."""
    rows = data.tables.row_counts()
    months = data.tables.client_months["month"]
    source = "a simulated world" if data.source == "simulated" else f"the data in {config.data}"
    return (
        f"The main job (configuration {config.name!r}) on {source}: "
        f"{rows.get('clients', 0):,} clients, months {months.min():%Y-%m} to {months.max():%Y-%m}. "
        f"Stages: {', '.join(stages)}. Each stage has a child run; the outputs and the report "
        f"are under outputs/."
    )


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
                fit.estimator,
                latest,
                n=stage.call_list,
                horizon=horizon,
                language=lang,
                names=report.Labels(lang, config.report.labels.get(lang)).phrases(),
            ).filter(like="reason_")
            for lang in config.report.language
        }
        calls["model_version"] = str(logged.version)
        calls["client_id"] = report.pseudonymise(calls["client_id"], secrets.token_hex(16))
        calls = calls.rename(columns={"client_id": "client (pseudonym)"})
        as_of = pd.Timestamp(latest["as_of"].iloc[0])
        span = (float(calls["churn_probability"].min()), float(calls["churn_probability"].max()))
    uplift = _uplift_comparison(tables, fit, run) if tables.outreach is not None else None
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
        uplift=uplift,
        model=fit.choice.chosen,
        candidates=list(fit.choice.scores.index),
        nested_auc=(
            float(nested.loc["roc_auc", "value"])
            if (nested := fit.choice.nested_metrics) is not None
            else float("nan")
        ),
    )


def _plan_stage(
    config: RunConfig, tables: Tables, run: tracking.TrackedRun, outlook: ForecastResult | None
) -> PlanEstimates | None:
    stage = config.plan
    costs, budget = read_costs(stage.costs) if stage.costs else (None, None)
    budget = stage.budget if stage.budget is not None else budget
    baseline = None
    if outlook is not None:  # the forecast's firm-wide baseline at its horizon
        fc = outlook.to_frame()
        firm = fc[
            (fc["series"] == "firm")
            & (fc["component"] == "net_rate")
            & (fc["scenario"] == "baseline")
        ]
        if len(firm):
            baseline = float(firm.sort_values("period")["forecast"].iloc[-1])
    t0 = time.perf_counter()
    n_months = int(tables.market["month"].nunique())
    try:
        design = PlannedDesign(
            design=stage.design,
            branches=stage.branches or int(tables.clients["branch_id"].nunique()),
            months=stage.months or min(12, n_months - 2),
            cohorts=stage.cohorts,
        )
        est = estimate_plan(
            tables,
            intervention=stage.intervention,
            effect=stage.effect,
            design=design,
            n_reps=stage.n_reps,
            n_reps_grid=stage.n_reps_grid,
            costs=costs,
            budget=budget,
            baseline=baseline,
            seed=config.seed,
        )
    except SnrInputError as exc:
        if stage.months is not None or stage.branches is not None:
            raise  # a design the configuration asked for
        # the default design on a history too short for the plan's regression
        logger.warning("plan: not made: %s", exc)
        run.set_tags({"plan.skipped": str(exc)[:250]})
        return None
    log_plan(run, None, est, time.perf_counter() - t0)
    return est


def _uplift_comparison(
    tables: Tables, fit: Any, run: tracking.TrackedRun
) -> RankingComparison | None:
    """Calls by risk (the churn model) against calls by uplift on the latest campaigns."""
    try:
        compared = compare_rankings(
            tables,
            fit.config.uplift,
            horizon=fit.config.horizon,
            risk_model=fit.estimator,
            n_boot=fit.config.n_boot,
            alpha=fit.config.alpha,
            seed=fit.config.seed,
        )
    except SnrInputError as exc:
        logger.warning("uplift: not evaluated: %s", exc)
        return None
    metrics = compared.evaluation.metrics
    run.log_metrics({f"uplift.{m}": float(metrics.loc[m, "estimate"]) for m in metrics.index})
    run.log_frame(compared.evaluation.calls, "churn/uplift_calls")
    return compared


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
        config.experiment,
        run_name=stage,
        nested=True,
        tags={"stage": stage},
        description=STAGE_DESCRIPTIONS[stage],
    ) as run:
        yield run
