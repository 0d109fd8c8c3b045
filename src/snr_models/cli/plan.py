"""``snr plan``: will the next roll-out be measurable, where does it pay, what to fund."""

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


def plan_command(
    data: DataOption,
    intervention: Annotated[
        str, typer.Option("--intervention", help="The intervention to roll out next (a name).")
    ],
    effect: Annotated[
        float, typer.Option("--effect", help="Its true effect to detect, e.g. 0.01 on the rate.")
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            help="Output directory: power, effects per branch and segment, allocation, "
            "summary and figures.",
        ),
    ],
    component: Annotated[
        Literal["net_rate", "S", "R", "E"],
        typer.Option("--component", help="The component the effect is on."),
    ] = "net_rate",
    design: Annotated[
        Literal["staggered", "pilot", "firmwide"],
        typer.Option(
            "--design",
            help="staggered: waves of branches (a last wave after the window as controls); "
            "pilot: a quarter of the branches halfway; firmwide: a pilot, then every branch.",
        ),
    ] = "staggered",
    branches: Annotated[
        int | None,
        typer.Option("--branches", help="Branches in the roll-out (default: all).", min=2),
    ] = None,
    cohorts: Annotated[
        int, typer.Option("--cohorts", help="Waves of a staggered roll-out.", min=1)
    ] = 2,
    months: Annotated[
        int, typer.Option("--months", help="Months the roll-out is observed.", min=3)
    ] = 12,
    target: Annotated[
        float, typer.Option("--target", help="Power sought.", min=0.01, max=0.99)
    ] = 0.8,
    reps: Annotated[
        int, typer.Option("--reps", help="Replicates of the stated design.", min=10)
    ] = 200,
    reps_grid: Annotated[
        int, typer.Option("--reps-grid", help="Replicates of each design around it.", min=10)
    ] = 50,
    costs: Annotated[
        Path | None,
        typer.Option("--costs", help="YAML: cost per branch of each intervention (and budget)."),
    ] = None,
    budget: Annotated[
        float | None, typer.Option("--budget", help="Budget to allocate (overrides the file's).")
    ] = None,
    alpha: AlphaOption = 0.05,
    seed: SeedOption = 0,
    track: TrackOption = False,
    threads: ThreadsOption = None,
    log_format: LogFormatOption = LogFormat.text,
    verbose: VerboseOption = False,
) -> None:
    """Diagnose a planned roll-out (power, minimum detectable effect, interval width, bias,
    coverage, the smallest design reaching the target), estimate every intervention's effect
    per branch and per segment (empirical Bayes), and with --costs allocate the budget.

    Stages: data, plan (replicates of the stated design and of the designs around it, each
    estimated as snr attribute does), effects, allocation, write.
    """
    from snr_models.jobs.plan import run_plan

    with reported(log_format, verbose=verbose, threads=threads):
        job = run_plan(
            data=data,
            output=output,
            intervention=intervention,
            effect=effect,
            component=component,
            design=design,
            branches=branches,
            cohorts=cohorts,
            months=months,
            alpha=alpha,
            target=target,
            n_reps=reps,
            n_reps_grid=reps_grid,
            costs=costs,
            budget=budget,
            seed=seed,
            track=track,
        )
    plan = job.estimates.plan
    s = plan.stated
    console.print(
        f"{plan.design.label()}: power {s['power']:.2f} at {plan.effect:+.4f}, MDE "
        f"{s['mde']:.4f}, interval width {s['width']:.4f}, bias {s['bias']:+.4f}, coverage "
        f"{s['coverage']:.2f}"
    )
    best = plan.smallest
    console.print(
        f"smallest design reaching {plan.target:.0%}: "
        + (
            f"{int(best['branches'])} branches x {int(best['months'])} months"
            if best is not None
            else "none in the grid"
        )
    )
    alloc = job.estimates.allocation
    if alloc is not None:
        console.print(
            f"allocation: expected gain {alloc.expected_gain:+.4f} [{alloc.gain_lo:+.4f}, "
            f"{alloc.gain_hi:+.4f}], P(beats uniform) {alloc.p_beats_uniform:.2f}"
        )
    console.print(f"wrote {job.output} in {job.seconds:.1f}s")
    if job.run_id:
        console.print(f"MLflow run {job.run_id}")
