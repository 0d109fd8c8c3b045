"""``snr drivers``: what moves CSAT or NPS, how surely, and where to act first."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from snr_models.cli.console import console
from snr_models.cli.options import (
    AlphaOption,
    DataOption,
    LogFormatOption,
    SeedOption,
    ThreadsOption,
    TrackOption,
    VerboseOption,
)
from snr_models.cli.progress import LogFormat, reported


def drivers_command(
    data: DataOption,
    output: Annotated[
        Path,
        typer.Option("--output", help="Output directory (CSV tables, summary.txt, figures/)."),
    ],
    target: Annotated[
        Literal["csat", "nps"], typer.Option("--target", help="The outcome: csat or nps.")
    ] = "csat",
    by: Annotated[
        str | None,
        typer.Option("--by", help="Compare the drivers between groups, e.g. segment, branch_id."),
    ] = None,
    n_boot: Annotated[
        int, typer.Option("--n-boot", help="Bootstrap replicates of the importances.", min=0)
    ] = 500,
    alpha: AlphaOption = 0.05,
    seed: SeedOption = 0,
    track: TrackOption = False,
    threads: ThreadsOption = None,
    log_format: LogFormatOption = LogFormat.text,
    verbose: VerboseOption = False,
) -> None:
    """Key drivers of CSAT or NPS: Shapley importance with intervals, the importance-performance
    map and actions, asymmetric drivers, the ordinal logit (CSAT) and group differences.

    Stages: data, importance, asymmetric (the logit subsets as its steps), ordinal (CSAT),
    groups (with --by; one step per group), write, log (with --track).
    """
    from snr_models.jobs.drivers import run_drivers

    with reported(log_format, verbose=verbose, threads=threads):
        result = run_drivers(
            data=data,
            output=output,
            target=target,
            by=by,
            n_boot=n_boot,
            alpha=alpha,
            random_state=seed,
            track=track,
        )
    imp = result.tables["importance.csv"]
    for row in imp.itertuples():
        console.print(
            f"{row.rank:>2} {row.driver:<20} share {row.share:6.1%} "
            f"[{row.share_lo:6.1%}, {row.share_hi:6.1%}]"
        )
    console.print(f"wrote {result.output} in {result.seconds:.1f}s")
    if result.run_id:
        console.print(f"MLflow run {result.run_id}")
