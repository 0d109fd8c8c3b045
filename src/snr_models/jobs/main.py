"""The main job behind ``snr run``, stage by stage.

Data → net rate → satisfaction drivers → churn → attribution → forecast → report.

One MLflow parent run, with a child run per stage. Outputs (tables, figures, a summary and
the HTML report ``index.html``) go to ``<output_dir>/<parent run id>/``, written atomically as
one folder, and are logged to the parent run as well. Each stage adds a section to the report.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from snr_models import __version__, tracking
from snr_models.data import Tables, load
from snr_models.data.atomic import atomic_path
from snr_models.forecast import ForecastResult, forecast, load_scenarios
from snr_models.jobs import report
from snr_models.jobs.attribution import (
    AttributionEstimates,
    estimate_attribution,
    log_attribution,
)
from snr_models.jobs.churn import fit_churn, log_churn
from snr_models.jobs.config import RunConfig
from snr_models.jobs.drivers import DriverAnalyses, analyse_drivers, analysis_metrics
from snr_models.jobs.forecast import log_forecast
from snr_models.jobs.score import call_list
from snr_models.metrics import MetricSpec, decompose, net_rate, plot_net_rate
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
        artifacts: dict[str, Any] = {}
        sections: list[report.Section] = []

        with stages.stage("data"), _child(config, "data") as run:
            tables, source = _obtain_data(config)
            run.log_params(source)
            run.log_data(tables)
            parent.log_data(tables)

        with stages.stage("netrate"), _child(config, "netrate") as run:
            summary, netrate_artifacts = _netrate_stage(config, tables, run)
            artifacts.update(netrate_artifacts)
            parent.log_metrics({k: v for k, v in summary.items() if isinstance(v, float)})

        drivers = None
        if config.drivers.enabled:
            with stages.stage("drivers"), _child(config, "drivers") as run:
                drivers = _drivers_stage(config, tables, run)
                artifacts.update({f"drivers_{k}": v for k, v in drivers.tables.items()})

        churn = None
        if config.churn.enabled:
            with stages.stage("churn"), _child(config, "churn") as run:
                churn = _churn_stage(config, tables, run)
                artifacts["churn_backtest.csv"] = churn.metrics
                artifacts.update(churn.figures)
                summary.update(churn.summary)

        attribution = None
        if config.attribution.enabled:
            with stages.stage("attribution"), _child(config, "attribution") as run:
                attribution = _attribution_stage(config, tables, run, summary)
                artifacts.update(
                    {
                        "attribution_effects.csv": attribution.effects,
                        "attribution_waterfall.csv": attribution.waterfall,
                        "attribution_diagnostics.csv": attribution.diagnostics,
                    }
                )

        outlook = None
        if config.forecast.enabled:
            with stages.stage("forecast"), _child(config, "forecast") as run:
                outlook = _forecast_stage(config, tables, run, attribution)
                artifacts["forecast.csv"] = outlook.to_frame()

        with stages.stage("report"):
            summary.update(
                run_id=parent.run_id,
                experiment=config.experiment,
                package_version=__version__,
                data_source=source["data.source"],
                data_hash=tables.content_hash(),
            )
            sections = _report_sections(
                config, tables, summary, artifacts, drivers, churn, attribution, outlook
            )
            page = report.render(
                "Client service net rate",
                f"Run {parent.run_id} of experiment {config.experiment}, snr_models {__version__}",
                sections,
            )
            out_dir = Path(config.output_dir) / parent.run_id
            _write_outputs(out_dir, artifacts, summary, page)
            parent.log_artifact(out_dir, artifact_path="outputs")
            summary["output_dir"] = str(out_dir)
            summary["report"] = str(out_dir / "index.html")
    return summary


def _obtain_data(config: RunConfig) -> tuple[Tables, dict[str, Any]]:
    """Load the configured data, or simulate a world into ``data_dir`` (reused if unchanged)."""
    if config.data is not None:
        return load(config.data), {"data.source": "given", "data.format": Path(config.data).suffix}
    sim = SimulationConfig.from_yaml(config.simulation) if config.simulation else SimulationConfig()
    data_dir = Path(config.data_dir)
    truth_file = data_dir / "truth.json"
    wanted = json.loads(sim.model_dump_json())
    if truth_file.is_file():
        try:
            stored = json.loads(truth_file.read_text()).get("config")
        except json.JSONDecodeError:
            stored = None
        if stored == wanted:
            logger.info("reusing the simulated world in %s", data_dir)
            return load(data_dir), {"data.source": "simulated", "data.reused": True}
    write_simulation(simulate(sim), data_dir)
    return load(data_dir), {"data.source": "simulated", "data.reused": False}


def _netrate_stage(
    config: RunConfig, tables: Tables, run: tracking.TrackedRun
) -> tuple[dict[str, Any], dict[str, Any]]:
    stage = config.netrate
    spec = MetricSpec.from_yaml(stage.spec) if stage.spec else MetricSpec.default()
    run.log_params({"netrate": stage.model_dump(), "spec": spec.model_dump()})
    common = dict(freq=stage.freq, alpha=stage.alpha, n_boot=stage.n_boot, random_state=config.seed)
    firm = net_rate(tables, spec, **common)
    periods = firm["period"]
    if stage.compare is None:
        start, end = periods.iloc[0], periods.iloc[-1]
    else:
        start, end = (pd.Timestamp(p) for p in stage.compare)
    artifacts: dict[str, Any] = {"netrate_firm.csv": firm}
    trend = plot_net_rate(firm)
    artifacts["netrate_trend.png"] = trend
    run.log_figure(trend, "netrate_trend.png")
    run.log_frame(firm, "netrate_firm.csv")

    change = decompose(firm, start, end, spec=spec)
    artifacts["change_by_component.csv"] = change.to_frame()
    for column in stage.by:
        grouped = net_rate(tables, spec, by=column, **common)
        by_change = decompose(grouped, start, end, by=column, spec=spec)
        artifacts[f"netrate_by_{column}.csv"] = grouped
        artifacts[f"change_by_{column}.csv"] = by_change.to_frame()
        artifacts[f"change_by_{column}.png"] = by_change.plot()
        run.log_frame(grouped, f"netrate_by_{column}.csv")
        run.log_frame(by_change.to_frame(), f"change_by_{column}.csv")
    waterfall = change.plot()
    artifacts["change_by_component.png"] = waterfall
    run.log_figure(waterfall, "change_by_component.png")

    latest = firm.iloc[-1]
    metrics = {
        "net_rate_latest": float(latest["net_rate"]),
        "net_rate_latest_lo": float(latest["net_rate_lo"]),
        "net_rate_latest_hi": float(latest["net_rate_hi"]),
        "S_latest": float(latest["S"]),
        "R_latest": float(latest["R"]),
        "E_latest": float(latest["E"]),
        "net_rate_change": float(change.total),
    }
    run.log_metrics(metrics)
    summary = {
        **metrics,
        "latest_period": f"{pd.Timestamp(end):%Y-%m}",
        "compare": [f"{pd.Timestamp(start):%Y-%m}", f"{pd.Timestamp(end):%Y-%m}"],
        "change_by_component": {
            str(k): float(v) for k, v in change.by_component["contribution"].items()
        }
        if "contribution" in change.by_component
        else {},
    }
    return summary, artifacts


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


@dataclass
class ChurnStageResult:
    """What the churn stage shows: backtest metrics, figures and the top of the call list.

    ``call_list`` holds pseudonyms, not client identifiers (keyed by a secret that is not
    kept), so the report and its artifacts name no client.
    """

    metrics: pd.DataFrame
    figures: dict[str, Any]
    call_list: pd.DataFrame | None
    summary: dict[str, Any]


def _churn_stage(config: RunConfig, tables: Tables, run: tracking.TrackedRun) -> ChurnStageResult:
    from snr_models.churn import plot_lift, plot_reliability
    from snr_models.tracking.models import load_registered_model

    stage = config.churn
    churn_config = stage.churn_config()
    fit = fit_churn(tables, churn_config)
    logged = log_churn(run, tables, fit)
    bt = fit.backtest
    figures = {
        "churn_lift.png": plot_lift(bt.predictions["y"], bt.predictions["p"]),
        "churn_calibration.png": plot_reliability(bt.predictions["y"], bt.predictions["p"]),
    }
    summary: dict[str, Any] = {
        "churn_model": logged.registered_uri or logged.model_uri,
        "churn_model_version": logged.version,
        "churn_backtest_auc": float(bt.metrics.loc["roc_auc", "value"]),
    }
    calls = None
    if logged.registered_uri is not None:
        # scored from the registry, through the same checks and code as ``snr score``
        loaded = load_registered_model(logged.registered_uri)
        latest = fit.features[fit.features["as_of"] == fit.features["as_of"].max()]
        calls = call_list(loaded, latest.reset_index(drop=True), n=stage.call_list)
        calls["client_id"] = report.pseudonymise(calls["client_id"], secrets.token_hex(16))
        calls = calls.rename(columns={"client_id": "client (pseudonym)"})
        summary["call_list_as_of"] = f"{pd.Timestamp(latest['as_of'].iloc[0]):%Y-%m}"
    metrics = bt.metrics.reset_index()
    return ChurnStageResult(metrics=metrics, figures=figures, call_list=calls, summary=summary)


def _forecast_stage(
    config: RunConfig,
    tables: Tables,
    run: tracking.TrackedRun,
    attribution: AttributionEstimates | None,
) -> ForecastResult:
    stage = config.forecast
    result = forecast(
        tables,
        horizon=stage.horizon,
        scenario=load_scenarios(stage.scenario) if stage.scenario else None,
        # the attribution stage's effects, with their standard errors, drive the scenarios
        effects=attribution.effects if attribution is not None else None,
        branches=stage.branches,
        n_origins=stage.n_origins,
        n_paths=stage.n_paths,
        random_state=config.seed,
    )
    log_forecast(result, run, tables)
    return result


def _attribution_stage(
    config: RunConfig, tables: Tables, run: tracking.TrackedRun, summary: dict[str, Any]
) -> AttributionEstimates:
    stage = config.attribution
    start, end = summary["compare"]
    # The waterfall's windows close at ``end`` and open at ``start``: the same change as above.
    end_month = pd.Timestamp(end)
    window_end = f"{end_month:%Y-%m}"
    t0 = time.perf_counter()
    est = estimate_attribution(
        tables, start=start, end=window_end, window=stage.window, alpha=stage.alpha
    )
    log_attribution(run, tables, est, time.perf_counter() - t0)
    return est


def _months(window: list[str]) -> str:
    """``2023-01 to 2023-03`` (or the one month)."""
    return window[0] if len(window) == 1 else f"{window[0]} to {window[-1]}"


def _report_sections(
    config: RunConfig,
    tables: Tables,
    summary: dict[str, Any],
    artifacts: dict[str, Any],
    drivers: DriverAnalyses | None,
    churn: ChurnStageResult | None,
    attribution: AttributionEstimates | None,
    outlook: ForecastResult | None,
) -> list[report.Section]:
    firm = artifacts["netrate_firm.csv"]
    latest = firm.iloc[-1]
    start, end = summary["compare"]
    headline = report.Section("headline", "Headline").kpis(
        {
            f"net rate, {summary['latest_period']}": f"{latest['net_rate']:.1%}",
            "95% interval": f"{latest['net_rate_lo']:.1%} – {latest['net_rate_hi']:.1%}",
            f"change since {start}": f"{100 * summary['net_rate_change']:+.1f} points",
        }
    )
    if attribution is not None:
        wf = attribution.waterfall
        nr = wf[wf["component"] == "net_rate"][["step", "value", "lo", "hi", "kind"]]
        level = nr.set_index("step")["value"]
        w0, w1 = attribution.design["start_window"], attribution.design["end_window"]
        headline.text(
            "What explains the change: each intervention's contribution, estimated jointly "
            "by staggered difference-in-differences across branches, and the remainder "
            "(market, trend and mix). The waterfall compares the averages of "
            f"{_months(w0)} and {_months(w1)}, steadier than single months: "
            f"{100 * (level['end'] - level['start']):+.1f} points."
        )
        headline.figure(attribution.figures["waterfall.png"], "Waterfall of the change")
        headline.table(nr, "Contributions to the change of the net rate, with 95% intervals")
    else:
        headline.figure(artifacts["change_by_component.png"], "Change by component")

    components = report.Section("components", "Components and branches")
    components.text(
        "Net rate = 0.4 × net satisfaction (S) + 0.3 × retention (R) + 0.3 × service "
        "efficiency (E) by default; each with its 95% confidence interval."
    )
    components.figure(artifacts["netrate_trend.png"], "Net rate and components by month")
    components.table(artifacts["change_by_component.csv"], "Change by component")
    for column in config.netrate.by:
        grouped = artifacts[f"netrate_by_{column}.csv"]
        last = grouped[grouped["period"] == grouped["period"].max()]
        cols = [column, "net_rate", "net_rate_lo", "net_rate_hi", "S", "R", "E", "n_open"]
        components.table(last[cols], f"Latest period by {column}")
        components.figure(artifacts[f"change_by_{column}.png"], f"Change by {column}: rate and mix")

    sections = [headline, components]
    if drivers is not None:
        target = config.drivers.target.upper()
        section = report.Section("drivers", f"What drives satisfaction ({target})")
        section.text(
            "Importance is each attribute's exact Shapley share of the explained variance "
            "(LMG), with bootstrap intervals; the map sets it against the mean rating. Fix "
            "first: important and rated low."
        )
        section.figure(drivers.figures["ipa.png"], "Importance-performance map")
        section.table(drivers.tables["actions.csv"], "Ranked actions")
        section.figure(drivers.figures["importance.png"], "Importance with 95% intervals")
        sections.append(section)
    if churn is not None:
        section = report.Section("churn", "Who may leave: the churn model and the call list")
        horizon = config.churn.churn_config().horizon
        section.text(
            f"Probability that a client closes the account within {horizon} months, from a "
            "model trained on point-in-time features and checked by a rolling-origin "
            "backtest (metrics pooled over origins, 95% bootstrap intervals). Lift: how many "
            "times the base rate the top of the list catches; calibration: predicted against "
            "observed exit rates."
        )
        section.table(churn.metrics, "Backtest metrics")
        section.figure(churn.figures["churn_lift.png"], "Lift by share of clients called")
        section.figure(churn.figures["churn_calibration.png"], "Calibration (reliability)")
        if churn.call_list is not None:
            section.table(
                churn.call_list,
                f"Top of the call list as of {summary['call_list_as_of']}, with the three "
                "reasons that raise each client's risk most (clients pseudonymised)",
            )
        sections.append(section)
    if attribution is not None:
        attr = report.Section("attribution", "Interventions: effects and event studies")
        attr.table(attribution.effects, "Effects on each component, estimated jointly")
        attr.figure(attribution.figures["effects.png"], "Effects with 95% intervals")
        for name, fig in attribution.figures.items():
            if name.startswith("event_"):
                label = name.removeprefix("event_").removesuffix(".png")
                attr.figure(fig, f"Event study of {label} on the net rate")
        attr.table(attribution.diagnostics, "Pre-trend tests and the TWFE weights diagnostic")
        sections.append(attr)

    if outlook is not None:
        ahead = report.Section("forecast", "Outlook: the net rate ahead, by scenario")
        ahead.text(
            "Monthly forecasts with 95% intervals; each scenario adds its roll-outs, "
            "with the estimated effects and their uncertainty carried into the intervals."
        )
        ahead.figure(outlook.plot(), "Fan chart per scenario")
        side_by_side = outlook.compare()
        side_by_side["period"] = pd.to_datetime(side_by_side["period"]).dt.strftime("%Y-%m")
        ahead.table(side_by_side, "Scenarios side by side: forecast and 95% interval")
        sections.append(ahead)

    provenance = report.Section("provenance", "Data, models and versions")
    counts = pd.DataFrame([{"table": k, "rows": v} for k, v in tables.row_counts().items()])
    provenance.text(
        f"Data: {summary['data_source']}; content hash {summary['data_hash']}. "
        f"Package snr_models {summary['package_version']}. MLflow run {summary['run_id']} "
        f"in experiment {summary['experiment']}."
        + (
            f" Churn model {summary['churn_model']} (version {summary['churn_model_version']})."
            if churn is not None
            else ""
        )
    )
    provenance.table(counts, "Rows per table")
    sections.append(provenance)
    return sections


def _write_outputs(
    out_dir: Path, artifacts: dict[str, Any], summary: dict[str, Any], page: str
) -> None:
    with atomic_path(out_dir, directory=True) as tmp:
        (tmp / "index.html").write_text(page, encoding="utf-8")
        for name, item in artifacts.items():
            if isinstance(item, pd.DataFrame):
                item.to_csv(tmp / name, index=False)
            else:
                item.savefig(tmp / name, dpi=110, bbox_inches="tight")
                plt.close(item)
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
