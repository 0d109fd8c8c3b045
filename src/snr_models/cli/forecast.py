"""``snr forecast``: the net rate months ahead, per branch and firm-wide, under scenarios."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from snr_models.cli.console import console
from snr_models.cli.options import (
    DataOption,
    LogFormatOption,
    SeedOption,
    ThreadsOption,
    TrackOption,
    VerboseOption,
)
from snr_models.cli.progress import LogFormat, reported


def forecast_command(
    data: DataOption,
    output: Annotated[Path, typer.Option("--output", help="Output table, .csv or .parquet.")],
    horizon: Annotated[
        int, typer.Option("--horizon", help="Months ahead (1-12).", min=1, max=12)
    ] = 6,
    scenario: Annotated[
        Path | None,
        typer.Option("--scenario", help="Scenario YAML (examples in the experiments folder)."),
    ] = None,
    branches: Annotated[
        bool, typer.Option("--branches/--firm-only", help="Forecast and reconcile branches too.")
    ] = True,
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model", help="Candidate model (repeatable): snaive, ets, sarimax, uc. Default: all."
        ),
    ] = None,
    origins: Annotated[
        int, typer.Option("--origins", help="Backtest origins per series (model choice).", min=0)
    ] = 6,
    paths: Annotated[
        int, typer.Option("--paths", help="Simulated paths for the intervals.", min=200)
    ] = 2000,
    end: Annotated[
        str | None, typer.Option("--end", help="Last month of history to use, YYYY-MM.")
    ] = None,
    seed: SeedOption = 0,
    track: TrackOption = False,
    threads: ThreadsOption = None,
    log_format: LogFormatOption = LogFormat.text,
    verbose: VerboseOption = False,
) -> None:
    """Forecast the net rate, S, R and E with 95% intervals; compare scenarios.

    Stages: data (load and check), forecast (the backtest that chooses each series' model,
    firm-wide then branch by branch, and the simulated paths), write.
    """
    from snr_models.jobs.forecast import run_forecast

    with reported(log_format, verbose=verbose, threads=threads):
        job = run_forecast(
            data=data,
            output=output,
            horizon=horizon,
            scenario=scenario,
            branches=branches,
            models=tuple(model) if model else None,
            n_origins=origins,
            n_paths=paths,
            end=end,
            seed=seed,
            track=track,
        )
    cmp = job.result.compare()
    last = cmp.iloc[-1]
    for name in job.result.scenario_names:
        console.print(
            f"{name:>28} {last['period']:%Y-%m} net rate {last[name]:.4f} "
            f"[{last[f'{name}_lo']:.4f}, {last[f'{name}_hi']:.4f}]"
        )
    console.print(f"wrote {job.output} ({len(job.result.table)} rows)")
    if job.run_id:
        console.print(f"MLflow run {job.run_id}")
