"""``snr run``: the main job, from data to outputs, tracked in MLflow."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from snr_models.cli.console import console
from snr_models.cli.options import LogFormatOption, ThreadsOption, VerboseOption
from snr_models.cli.progress import LogFormat, reported


def run_command(
    config: Annotated[
        Path,
        typer.Option("--config", help="Job configuration YAML, e.g. experiments/default.yaml."),
    ] = Path("experiments/default.yaml"),
    data: Annotated[
        Path | None,
        typer.Option(
            "--data", help="Parquet folder or DuckDB file; overrides the config (no simulation)."
        ),
    ] = None,
    lang: Annotated[
        list[str] | None,
        typer.Option(
            "--lang",
            help="Report language, zh-CN or en; repeat for both (the first is index.html). "
            "Overrides report.language of the config.",
        ),
    ] = None,
    threads: ThreadsOption = None,
    log_format: LogFormatOption = LogFormat.text,
    verbose: VerboseOption = False,
) -> None:
    """Run the main job, stage by stage, tracked in MLflow (one parent run, a child per stage).

    Stages: data (simulate, or load the given data, and check them against the contract),
    netrate (the net rate and S, R, E with intervals by month, branch and segment, and the
    decomposition of its change), drivers (what drives satisfaction), churn (backtest, final
    model registered as snr-churn, the top of the call list), attribution (each intervention's
    effect and the waterfall of the change), forecast (six months ahead, per scenario), plan
    (what to do next: the next roll-out's power, per-branch effects, the budget; off unless
    plan.enabled) and report (the HTML report and the outputs in reports/RUN_ID/). The config
    can switch drivers, churn, attribution and forecast off.
    """
    from snr_models.jobs.config import RunConfig
    from snr_models.jobs.main import run_main

    cfg = RunConfig.from_yaml(config)
    if data is not None:
        cfg = cfg.model_copy(update={"data": str(data)})
    if lang:
        cfg = cfg.model_validate(
            {**cfg.model_dump(), "report": {**cfg.report.model_dump(), "language": lang}}
        )
    with reported(log_format, verbose=verbose, threads=threads or cfg.threads) as n:
        summary = run_main(cfg.model_copy(update={"threads": n}))
    console.print(
        f"net rate {summary['latest_period']}: {summary['net_rate_latest']:.3f} "
        f"(change since {summary['compare'][0]}: {summary['net_rate_change']:+.3f})"
    )
    console.print(f"outputs: {summary['output_dir']}")
    console.print(f"MLflow run {summary['run_id']} in experiment '{cfg.experiment}'")
