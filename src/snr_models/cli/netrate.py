"""``snr netrate``: the net rate and its components with intervals, for any period and group."""

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


def netrate_command(
    data: DataOption,
    output: Annotated[Path, typer.Option("--output", help="Output table, .csv or .parquet.")],
    by: Annotated[
        list[str] | None,
        typer.Option(
            "--by", help="Group by a clients column (repeatable), e.g. branch_id, segment."
        ),
    ] = None,
    freq: Annotated[
        Literal["M", "Q", "Y"], typer.Option("--freq", help="Period: M(onth), Q(uarter) or Y(ear).")
    ] = "M",
    spec: Annotated[
        Path | None,
        typer.Option("--spec", help="Metric specification YAML (default: DESIGN.md's)."),
    ] = None,
    n_boot: Annotated[
        int,
        typer.Option("--n-boot", help="Bootstrap replicates for the composite (0 = none).", min=0),
    ] = 1000,
    alpha: AlphaOption = 0.05,
    seed: SeedOption = 0,
    track: TrackOption = False,
    threads: ThreadsOption = None,
    log_format: LogFormatOption = LogFormat.text,
    verbose: VerboseOption = False,
) -> None:
    """Compute the net rate, S, R and E with confidence intervals and write them to a table.

    Stages: data, netrate (the bootstrap replicates as its steps), log (with --track), write.
    """
    from snr_models.jobs.netrate import run_netrate

    with reported(log_format, verbose=verbose, threads=threads):
        result = run_netrate(
            data=data,
            output=output,
            by=by or None,
            freq=freq,
            spec=spec,
            n_boot=n_boot,
            alpha=alpha,
            random_state=seed,
            track=track,
        )
    console.print(f"wrote {result.output} ({len(result.frame)} rows)")
    if result.run_id:
        console.print(f"MLflow run {result.run_id}")
