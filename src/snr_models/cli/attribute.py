"""``snr attribute``: what each intervention did to the net rate; the waterfall of its change."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from snr_models.cli.console import console
from snr_models.cli.options import (
    AlphaOption,
    DataOption,
    LogFormatOption,
    ThreadsOption,
    TrackOption,
    VerboseOption,
)
from snr_models.cli.progress import LogFormat, reported


def attribute_command(
    data: DataOption,
    output: Annotated[
        Path,
        typer.Option("--output", help="Output directory (effects.csv, waterfall.csv, figures/)."),
    ],
    start: Annotated[
        str | None, typer.Option("--start", help="First month of the start window, YYYY-MM.")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--end", help="Last month of the end window, YYYY-MM.")
    ] = None,
    window: Annotated[int, typer.Option("--window", help="Months per window.", min=1)] = 3,
    alpha: AlphaOption = 0.05,
    track: TrackOption = False,
    weighting: Annotated[
        Literal["branch_month", "client"],
        typer.Option(
            "--weighting",
            help="branch_month: each branch-month counts once; client: client-level estimation "
            "(every response, client-month and ticket counts once).",
        ),
    ] = "branch_month",
    threads: ThreadsOption = None,
    log_format: LogFormatOption = LogFormat.text,
    verbose: VerboseOption = False,
) -> None:
    """Estimate each intervention's effect on S, R, E and the net rate, and split the change.

    Stages: data, effects, waterfall, diagnostics (per intervention, its pre-trend
    permutations as steps), write, log (with --track).
    """
    from snr_models.jobs.attribution import run_attribution

    with reported(log_format, verbose=verbose, threads=threads):
        result = run_attribution(
            data=data,
            output=output,
            start=start,
            end=end,
            window=window,
            alpha=alpha,
            track=track,
            weighting=weighting,
        )
    nr = result.waterfall[result.waterfall["component"] == "net_rate"]
    for row in nr.itertuples():
        console.print(f"{row.step:>24} {row.value:+.4f}")
    console.print(f"wrote {result.output} in {result.seconds:.1f}s")
    if result.run_id:
        console.print(f"MLflow run {result.run_id}")
